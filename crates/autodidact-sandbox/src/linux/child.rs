//! The code that runs in the new processes, between `clone` and `execve`.
//!
//! The parent is multi-threaded, so the child of its `clone` may only make system calls
//! (another thread may have held the allocator's lock at the moment of the clone): no
//! allocation, no `std` I/O, no panics. Everything the child needs — paths, argv, envp,
//! the mount steps, the seccomp filter — is built by the parent in a [`ChildPlan`] before
//! the clone; the child only reads that (copy-on-write) memory, and never returns or
//! drops anything: it `execve`s or `_exit`s.
//!
//! Two processes run this code:
//!
//! - the **keeper**, the child of the parent's `clone`: under namespaces it is PID 1 of
//!   the new PID namespace and builds the new root; in both paths it stays privileged
//!   (root, or the caller's own user), starts the main process, reaps every process of the
//!   run (it is PID 1, or a child subreaper), and when the main process ends — or the
//!   parent asks with `SIGUSR1` — kills every process of the run, reaps them, reports and
//!   exits;
//! - the **main process**, the keeper's child, which drops privileges, takes on the limits
//!   and the seccomp filter, and `execve`s Python.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::mem::{size_of, zeroed};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A message from the keeper or the main process to the parent, over the report pipe.
/// Fixed size, smaller than `PIPE_BUF`, so each write is atomic.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// One of the `REPORT_*` kinds.
    pub kind: u32,
    /// `REPORT_SETUP_FAILED`: the step that failed, an index into `ChildPlan::steps` or a
    /// `PHASE_*`.
    pub step: u32,
    /// `REPORT_SETUP_FAILED`: the `errno`.
    pub errno: i32,
    /// `REPORT_ENDED`: the main process's wait status, if `FLAG_MAIN_EXITED`.
    pub status: i32,
    /// `REPORT_ENDED`: the main process's CPU time with its reaped children, µs.
    pub cpu_us: u64,
    /// `REPORT_ENDED`: `FLAG_*` bits.
    pub flags: u32,
    _pad: u32,
}

/// A step of the setup failed; the run did not start.
pub(crate) const REPORT_SETUP_FAILED: u32 = 1;
/// The run ended: every process of it is gone.
pub(crate) const REPORT_ENDED: u32 = 2;
/// The namespace probe got through the whole setup.
pub(crate) const REPORT_PROBE_OK: u32 = 3;

/// The main process ended before any request to stop.
pub(crate) const FLAG_MAIN_EXITED: u32 = 1;

/// Steps outside `ChildPlan::steps` (those are numbered from 0).
pub(crate) const PHASE_SYNC: u32 = 1000;
pub(crate) const PHASE_PRIVATE: u32 = 1001;
pub(crate) const PHASE_PIVOT: u32 = 1002;
pub(crate) const PHASE_REMOUNT_ROOT: u32 = 1003;
pub(crate) const PHASE_HOSTNAME: u32 = 1004;
pub(crate) const PHASE_SETSID: u32 = 1005;
pub(crate) const PHASE_SUBREAPER: u32 = 1006;
pub(crate) const PHASE_SIGNALS: u32 = 1007;
pub(crate) const PHASE_FORK: u32 = 1008;
pub(crate) const PHASE_STDIO: u32 = 1009;
pub(crate) const PHASE_CHDIR: u32 = 1010;
pub(crate) const PHASE_RLIMIT: u32 = 1011;
pub(crate) const PHASE_SETGROUPS: u32 = 1012;
pub(crate) const PHASE_SETGID: u32 = 1013;
pub(crate) const PHASE_SETUID: u32 = 1014;
pub(crate) const PHASE_CAPS: u32 = 1015;
pub(crate) const PHASE_NO_NEW_PRIVS: u32 = 1016;
pub(crate) const PHASE_LANDLOCK: u32 = 1017;
pub(crate) const PHASE_SECCOMP: u32 = 1018;
pub(crate) const PHASE_EXEC: u32 = 1019;
pub(crate) const PHASE_PDEATHSIG: u32 = 1020;

/// The name of a `PHASE_*`, for errors.
pub(crate) fn phase_name(phase: u32) -> &'static str {
    match phase {
        PHASE_SYNC => "waiting for the parent",
        PHASE_PRIVATE => "making the mount tree private",
        PHASE_PIVOT => "pivot_root into the new root",
        PHASE_REMOUNT_ROOT => "remounting the new root read-only",
        PHASE_HOSTNAME => "sethostname",
        PHASE_SETSID => "setsid",
        PHASE_SUBREAPER => "PR_SET_CHILD_SUBREAPER",
        PHASE_SIGNALS => "installing the stop handler",
        PHASE_FORK => "starting the main process",
        PHASE_STDIO => "redirecting stdin, stdout and stderr",
        PHASE_CHDIR => "entering the run's directory",
        PHASE_RLIMIT => "setrlimit",
        PHASE_SETGROUPS => "setgroups",
        PHASE_SETGID => "setresgid",
        PHASE_SETUID => "setresuid",
        PHASE_CAPS => "dropping capabilities",
        PHASE_NO_NEW_PRIVS => "PR_SET_NO_NEW_PRIVS",
        PHASE_LANDLOCK => "landlock_restrict_self",
        PHASE_SECCOMP => "installing the seccomp filter",
        PHASE_EXEC => "execve of the interpreter",
        PHASE_PDEATHSIG => "PR_SET_PDEATHSIG",
        _ => "an unknown step",
    }
}

/// One step of building the new root under namespaces, run by the keeper in order.
/// Paths are absolute, already under the new root where they are inside it.
#[derive(Debug)]
pub(crate) enum Step {
    /// `mkdir`, with this exact mode (the keeper's umask is 0).
    Mkdir { path: CString, mode: u32 },
    /// Create an empty file, to bind a file onto.
    Touch { path: CString },
    /// `symlink(target, path)`.
    Symlink { target: CString, path: CString },
    /// Bind `src` at `dst` (recursively), then make the bind read-only, `nosuid`, `nodev`.
    BindRo { src: CString, dst: CString },
    /// Bind `src` at `dst` writable, `nosuid`, `nodev`.
    BindRw { src: CString, dst: CString },
    /// Bind a device node, writable, `nosuid`, `noexec`.
    BindDev { src: CString, dst: CString },
    /// Mount a fresh tmpfs with these options (`size=…,mode=…`), `nosuid`, `nodev`.
    Tmpfs { dst: CString, data: CString },
    /// Mount a fresh `/proc` of the new PID namespace; skipped if the kernel refuses.
    Proc { dst: CString },
    /// Make a mount read-only.
    RemountRo { path: CString },
    /// Write a file with this mode.
    Write { path: CString, content: Vec<u8>, mode: u32 },
    /// `lchown`.
    Chown { path: CString, uid: u32, gid: u32 },
    /// Lazy unmount.
    Detach { path: CString },
    /// `rmdir`.
    Rmdir { path: CString },
}

impl Step {
    /// The step in words, for errors.
    pub(crate) fn describe(&self) -> String {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            Step::Mkdir { path, .. } => format!("mkdir `{}`", s(path)),
            Step::Touch { path } => format!("creating `{}`", s(path)),
            Step::Symlink { target, path } => format!("symlink `{}` -> `{}`", s(path), s(target)),
            Step::BindRo { src, dst } => format!("bind-mounting `{}` read-only at `{}`", s(src), s(dst)),
            Step::BindRw { src, dst } => format!("bind-mounting `{}` at `{}`", s(src), s(dst)),
            Step::BindDev { src, dst } => format!("bind-mounting device `{}` at `{}`", s(src), s(dst)),
            Step::Tmpfs { dst, data } => format!("mounting tmpfs ({}) at `{}`", s(data), s(dst)),
            Step::Proc { dst } => format!("mounting proc at `{}`", s(dst)),
            Step::RemountRo { path } => format!("remounting `{}` read-only", s(path)),
            Step::Write { path, .. } => format!("writing `{}`", s(path)),
            Step::Chown { path, .. } => format!("chown `{}`", s(path)),
            Step::Detach { path } => format!("unmounting `{}`", s(path)),
            Step::Rmdir { path } => format!("rmdir `{}`", s(path)),
        }
    }
}

/// How the keeper kills what is left of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kill {
    /// PID 1 of the run's PID namespace: `kill(-1)` reaches exactly the run.
    PidNamespace,
    /// Every process of the run has this user id, which nothing else has: a helper with
    /// that uid sends `kill(-1)` a few times, stopping them all at once; then as `Children`.
    Uid(u32),
    /// Kill the main process group, then the keeper's children (found in `/proc`) until it
    /// has none; orphans come back to the keeper, a subreaper.
    Children,
}

/// The file descriptors the new processes use, all at 3 or above.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fds {
    pub sync_r: c_int,
    pub report_w: c_int,
    pub stdin: c_int,
    pub stdout_w: c_int,
    pub stderr_w: c_int,
    /// A Landlock ruleset for the main process to enforce, or -1.
    pub landlock: c_int,
}

/// Everything the keeper and the main process need, built by the parent before `clone`.
pub(crate) struct ChildPlan {
    /// Build a new root (namespaces) or not (fallback).
    pub namespaces: bool,
    /// A user namespace was created too (not root): drop capabilities instead of the uid.
    pub userns: bool,
    /// Only check that the setup works: report `REPORT_PROBE_OK` and exit.
    pub probe: bool,
    pub fds: Fds,
    pub new_root: CString,
    pub steps: Vec<Step>,
    /// Drop to this uid and gid (started as root), or keep the current user.
    pub run_uid: Option<u32>,
    pub kill: Kill,
    /// Highest capability number, for dropping the bounding set; -1 to skip.
    pub cap_last: c_int,
    pub workdir: CString,
    pub exe: CString,
    pub argv: Vec<*const c_char>,
    pub envp: Vec<*const c_char>,
    /// `(resource, soft, hard)`.
    pub rlimits: Vec<(Resource, u64, u64)>,
    pub seccomp: Vec<libc::sock_filter>,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) type Resource = c_int;

fn errno() -> i32 {
    // SAFETY: errno is thread-local and always valid to read.
    unsafe { *libc::__errno_location() }
}

/// Writes a report; a failed write (the parent is gone) changes nothing.
fn report(fd: c_int, r: &Report) {
    // SAFETY: `r` is a plain `repr(C)` value of `size_of::<Report>()` bytes.
    unsafe { libc::write(fd, r as *const Report as *const c_void, size_of::<Report>()) };
}

/// Reports that `step` failed with the current errno and exits.
fn fail(fd: c_int, step: u32) -> ! {
    let e = errno();
    report(fd, &Report { kind: REPORT_SETUP_FAILED, step, errno: e, ..Report::default() });
    // SAFETY: `_exit` is async-signal-safe and never returns.
    unsafe { libc::_exit(126) }
}

/// `fork` by the raw system call: glibc's `fork` runs atfork handlers, which may allocate.
pub(crate) fn raw_fork() -> libc::pid_t {
    // SAFETY: clone without CLONE_VM and without a new stack is fork: the child gets a
    // copy of this stack and continues from here.
    unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) as libc::pid_t }
}

/// Closes every descriptor from 3 up except those in `keep`.
fn close_except(keep: &[c_int]) {
    let mut sorted = [-1 as c_int; 8];
    let n = keep.len().min(sorted.len());
    sorted[..n].copy_from_slice(&keep[..n]);
    sorted[..n].sort_unstable(); // in place, no allocation
    let mut from: c_int = 3;
    for &k in &sorted[..n] {
        if k < from {
            continue;
        }
        if k > from {
            close_range(from, k - 1);
        }
        from = k + 1;
    }
    close_range(from, c_int::MAX);
}

fn close_range(first: c_int, last: c_int) {
    // SAFETY: closing descriptors this process owns; nothing else uses them.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first as libc::c_uint, last as libc::c_uint, 0 as libc::c_uint) };
    if r != 0 {
        // Before Linux 5.9: one by one, up to a bound.
        let last = last.min(65535);
        for fd in first..=last {
            // SAFETY: as above.
            unsafe { libc::close(fd) };
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// The keeper: the child of the parent's `clone`. Never returns.
///
/// # Safety
/// Only in the child of a `clone`/fork made with `plan` alive in the parent.
pub(crate) unsafe fn keeper(plan: &ChildPlan) -> ! {
    let fds = plan.fds;
    unsafe {
        // Nothing of a run may outlive the parent: the keeper dies with the parent's thread,
        // and under namespaces every process of the run dies with the keeper.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
            fail(fds.report_w, PHASE_PDEATHSIG);
        }
        let mut set: libc::sigset_t = zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, null_mut());
        // Descriptors of the parent's other runs and files would keep their pipes open.
        close_except(&[fds.sync_r, fds.report_w, fds.stdin, fds.stdout_w, fds.stderr_w, fds.landlock]);

        // The parent writes the uid map of a user namespace first; EOF means it is gone.
        let mut byte = 0u8;
        if libc::read(fds.sync_r, &mut byte as *mut u8 as *mut c_void, 1) != 1 {
            fail(fds.report_w, PHASE_SYNC);
        }
        libc::close(fds.sync_r);
        // The run's processes may share the keeper's user (fallback without root, or a user
        // namespace): not dumpable, so they cannot ptrace it. Only now: it also makes the
        // keeper's /proc files root's, and the parent had to write its uid map first.
        libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0);
        libc::umask(0);

        if plan.namespaces {
            build_root(plan);
        }
        if libc::setsid() < 0 {
            fail(fds.report_w, PHASE_SETSID);
        }
        if !plan.namespaces && libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) != 0 {
            fail(fds.report_w, PHASE_SUBREAPER);
        }
        if plan.probe {
            report(fds.report_w, &Report { kind: REPORT_PROBE_OK, ..Report::default() });
            libc::_exit(0);
        }

        let mut sa: libc::sigaction = zeroed();
        sa.sa_sigaction = on_stop as extern "C" fn(c_int) as libc::sighandler_t;
        sa.sa_flags = 0; // no SA_RESTART: the stop interrupts wait4
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGUSR1, &sa, null_mut()) != 0 {
            fail(fds.report_w, PHASE_SIGNALS);
        }

        let me = libc::getpid();
        let main = raw_fork();
        if main < 0 {
            fail(fds.report_w, PHASE_FORK);
        }
        if main == 0 {
            main_process(plan, me);
        }
        libc::close(fds.stdin);
        libc::close(fds.stdout_w);
        libc::close(fds.stderr_w);
        if fds.landlock >= 0 {
            libc::close(fds.landlock);
        }

        let mut ended = Report { kind: REPORT_ENDED, ..Report::default() };
        loop {
            let mut status = 0;
            let mut ru: libc::rusage = zeroed();
            let r = libc::wait4(-1, &mut status, 0, &mut ru);
            if r == main {
                ended.status = status;
                ended.cpu_us = cpu_us(&ru);
                if !STOP.load(Ordering::SeqCst) {
                    ended.flags |= FLAG_MAIN_EXITED;
                }
                break;
            }
            if r > 0 {
                continue; // an orphan of the run, reaped
            }
            if errno() == libc::EINTR {
                if STOP.load(Ordering::SeqCst) {
                    break;
                }
                continue;
            }
            break; // ECHILD: nothing left
        }

        kill_the_rest(plan, main);

        report(fds.report_w, &ended);
        libc::_exit(0);
    }
}

fn cpu_us(ru: &libc::rusage) -> u64 {
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

/// Kills every process of the run but the keeper and reaps them all.
unsafe fn kill_the_rest(plan: &ChildPlan, main: libc::pid_t) {
    unsafe {
        if plan.kill == Kill::PidNamespace {
            libc::kill(-1, libc::SIGKILL);
            reap_all(|| {
                libc::kill(-1, libc::SIGKILL);
            });
            return;
        }
        if let Kill::Uid(uid) = plan.kill {
            // Stop the whole uid at once, a fork bomb included, before the walk below.
            let helper = raw_fork();
            if helper == 0 {
                kill_uid(uid, 64);
            }
            if helper > 0 {
                let mut status = 0;
                libc::waitpid(helper, &mut status, 0);
            }
        }
        libc::kill(-main, libc::SIGKILL);
        // Every process of the run descends from the keeper, a subreaper: when it has no
        // children left, the run is gone. Its children's pids cannot be reused before it
        // reaps them, so killing them by pid is safe.
        let me = libc::getpid();
        reap_all(|| kill_children_of(me));
    }
}

/// Reaps children until there are none, calling `again` between rounds (to kill what
/// was forked in the meantime).
unsafe fn reap_all(mut again: impl FnMut()) {
    unsafe {
        loop {
            let mut status = 0;
            let r = libc::waitpid(-1, &mut status, libc::WNOHANG);
            if r > 0 {
                continue;
            }
            if r < 0 && errno() == libc::EINTR {
                continue;
            }
            if r < 0 {
                return; // ECHILD
            }
            // Children left, none dead yet: kill again, wait a little.
            again();
            let ts = libc::timespec { tv_sec: 0, tv_nsec: 1_000_000 };
            libc::nanosleep(&ts, null_mut());
        }
    }
}

/// In a fresh child: become `uid`, then send `kill(-1, SIGKILL)` — every process with that
/// uid — `rounds` times (its result cannot say when none is left: processes it may not
/// signal count as found). Exits.
///
/// # Safety
/// Only in a child process that may call `_exit`.
pub(crate) unsafe fn kill_uid(uid: u32, rounds: u32) -> ! {
    unsafe {
        if set_ids(uid) != 0 {
            libc::_exit(1);
        }
        for round in 0..rounds {
            libc::kill(-1, libc::SIGKILL);
            if round % 8 == 7 {
                let ts = libc::timespec { tv_sec: 0, tv_nsec: 200_000 };
                libc::nanosleep(&ts, null_mut());
            }
        }
        libc::_exit(0);
    }
}

/// Drops to `uid` (groups, gid, uid) by raw system calls: glibc's wrappers would try to
/// change every thread glibc believes this process has — the parent's threads, which this
/// child of a raw `clone` does not have. 0, or the `PHASE_*` that failed.
unsafe fn set_ids(uid: u32) -> u32 {
    unsafe {
        if libc::syscall(libc::SYS_setgroups, 0usize, null::<libc::gid_t>()) != 0 {
            return PHASE_SETGROUPS;
        }
        if libc::syscall(libc::SYS_setresgid, uid, uid, uid) != 0 {
            return PHASE_SETGID;
        }
        if libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0 {
            return PHASE_SETUID;
        }
        0
    }
}

/// SIGKILLs every process whose parent is `me`, found by reading `/proc` with raw system
/// calls (`opendir` allocates).
unsafe fn kill_children_of(me: libc::pid_t) {
    unsafe {
        let dir = libc::open(c"/proc".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC);
        if dir < 0 {
            return;
        }
        let mut buf = [0u8; 4096];
        loop {
            let n = libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len());
            if n <= 0 {
                break;
            }
            let mut off = 0usize;
            while off + 19 < n as usize {
                // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
                let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
                if reclen == 0 {
                    break;
                }
                let name = &buf[off + 19..(off + reclen).min(n as usize)];
                if let Some(pid) = parse_pid(name)
                    && parent_of(pid) == Some(me)
                {
                    libc::kill(pid, libc::SIGKILL);
                }
                off += reclen;
            }
        }
        libc::close(dir);
    }
}

/// A NUL-terminated decimal name as a pid.
fn parse_pid(name: &[u8]) -> Option<libc::pid_t> {
    let mut pid: i64 = 0;
    let mut digits = 0;
    for &b in name {
        if b == 0 {
            break;
        }
        if !b.is_ascii_digit() || digits > 9 {
            return None;
        }
        pid = pid * 10 + (b - b'0') as i64;
        digits += 1;
    }
    if digits == 0 { None } else { Some(pid as libc::pid_t) }
}

/// The parent pid in `/proc/PID/stat`: the fourth field, after the `)` that ends the name.
unsafe fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    let mut path = [0u8; 32];
    let prefix = b"/proc/";
    path[..prefix.len()].copy_from_slice(prefix);
    let mut at = prefix.len();
    let mut digits = [0u8; 12];
    let mut nd = 0;
    let mut p = pid as u32;
    loop {
        digits[nd] = b'0' + (p % 10) as u8;
        nd += 1;
        p /= 10;
        if p == 0 {
            break;
        }
    }
    for i in (0..nd).rev() {
        path[at] = digits[i];
        at += 1;
    }
    let suffix = b"/stat\0";
    path[at..at + suffix.len()].copy_from_slice(suffix);
    let mut buf = [0u8; 512];
    let n = unsafe {
        let fd = libc::open(path.as_ptr() as *const c_char, libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, buf.as_mut_ptr() as *mut c_void, buf.len());
        libc::close(fd);
        n
    };
    if n <= 0 {
        return None;
    }
    parse_stat_ppid(&buf[..n as usize])
}

/// The ppid field of a `/proc/PID/stat` line: `pid (name) S ppid …`.
pub(crate) fn parse_stat_ppid(stat: &[u8]) -> Option<libc::pid_t> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[close + 1..].split(|&b| b == b' ').filter(|f| !f.is_empty());
    let _state = fields.next()?;
    parse_pid(fields.next()?)
}

/// Builds the new root from `plan.steps`, pivots into it and makes it read-only.
unsafe fn build_root(plan: &ChildPlan) {
    let rw = plan.fds.report_w;
    unsafe {
        // Nothing mounted here may propagate back to the host.
        if libc::mount(null(), c"/".as_ptr(), null(), libc::MS_REC | libc::MS_PRIVATE, null()) != 0 {
            fail(rw, PHASE_PRIVATE);
        }
        for (i, step) in plan.steps.iter().enumerate() {
            if !run_step(step) {
                fail(rw, i as u32);
            }
        }
        if libc::chdir(plan.new_root.as_ptr()) != 0 {
            fail(rw, PHASE_PIVOT);
        }
        // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves the
        // new root alone, with no way back to the host's files.
        if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0 {
            fail(rw, PHASE_PIVOT);
        }
        if libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0 {
            fail(rw, PHASE_PIVOT);
        }
        if libc::chdir(c"/".as_ptr()) != 0 {
            fail(rw, PHASE_PIVOT);
        }
        let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
        if libc::mount(null(), c"/".as_ptr(), null(), flags, null()) != 0 {
            fail(rw, PHASE_REMOUNT_ROOT);
        }
        let name = b"sandbox";
        if libc::sethostname(name.as_ptr() as *const c_char, name.len()) != 0 {
            fail(rw, PHASE_HOSTNAME);
        }
    }
}

/// The flags a bind's remount must keep: in a user namespace the kernel refuses to clear
/// `nosuid`, `nodev`, `noexec` or the atime flags a mount had.
#[cfg(not(target_pointer_width = "64"))]
unsafe fn locked_flags(_path: &CStr) -> libc::c_ulong {
    0
}

/// The flags a bind's remount must keep (see above).
#[cfg(target_pointer_width = "64")]
unsafe fn locked_flags(path: &CStr) -> libc::c_ulong {
    unsafe {
        let mut st: KernelStatfs = zeroed();
        if libc::syscall(libc::SYS_statfs, path.as_ptr(), &mut st as *mut KernelStatfs) != 0 {
            return 0;
        }
        let f = st.f_flags as libc::c_ulong;
        let mut out = 0;
        // ST_* values of statfs(2)'s f_flags.
        for (st_flag, ms_flag) in [
            (2, libc::MS_NOSUID),
            (4, libc::MS_NODEV),
            (8, libc::MS_NOEXEC),
            (1024, libc::MS_NOATIME),
            (2048, libc::MS_NODIRATIME),
            (4096, libc::MS_RELATIME),
        ] {
            if f & st_flag != 0 {
                out |= ms_flag;
            }
        }
        out
    }
}

unsafe fn bind(src: &CStr, dst: &CStr, extra: libc::c_ulong, recursive: bool) -> bool {
    unsafe {
        let rec = if recursive { libc::MS_REC } else { 0 };
        if libc::mount(src.as_ptr(), dst.as_ptr(), null(), libc::MS_BIND | rec, null()) != 0 {
            return false;
        }
        let flags = libc::MS_REMOUNT | libc::MS_BIND | extra | locked_flags(src);
        libc::mount(null(), dst.as_ptr(), null(), flags, null()) == 0
    }
}

unsafe fn run_step(step: &Step) -> bool {
    unsafe {
        match step {
            Step::Mkdir { path, mode } => {
                libc::mkdir(path.as_ptr(), *mode) == 0 || errno() == libc::EEXIST && libc::chmod(path.as_ptr(), *mode) == 0
            }
            Step::Touch { path } => {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC, 0o644 as libc::c_uint);
                fd >= 0 && libc::close(fd) == 0
            }
            Step::Symlink { target, path } => libc::symlink(target.as_ptr(), path.as_ptr()) == 0,
            Step::BindRo { src, dst } => bind(src, dst, libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV, true),
            Step::BindRw { src, dst } => bind(src, dst, libc::MS_NOSUID | libc::MS_NODEV, false),
            Step::BindDev { src, dst } => bind(src, dst, libc::MS_NOSUID | libc::MS_NOEXEC, false),
            Step::Tmpfs { dst, data } => {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    dst.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    data.as_ptr() as *const c_void,
                ) == 0
            }
            Step::Proc { dst } => {
                let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
                // Refused in some containers (a masked /proc); the run then has no /proc.
                libc::mount(c"proc".as_ptr(), dst.as_ptr(), c"proc".as_ptr(), flags, null());
                true
            }
            Step::RemountRo { path } => {
                let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | locked_flags(path);
                libc::mount(null(), path.as_ptr(), null(), flags, null()) == 0
            }
            Step::Write { path, content, mode } => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    *mode as libc::c_uint,
                );
                if fd < 0 {
                    return false;
                }
                let mut rest: &[u8] = content;
                while !rest.is_empty() {
                    let n = libc::write(fd, rest.as_ptr() as *const c_void, rest.len());
                    if n < 0 && errno() == libc::EINTR {
                        continue;
                    }
                    if n <= 0 {
                        libc::close(fd);
                        return false;
                    }
                    rest = &rest[n as usize..];
                }
                libc::close(fd) == 0
            }
            Step::Chown { path, uid, gid } => libc::lchown(path.as_ptr(), *uid, *gid) == 0,
            Step::Detach { path } => libc::umount2(path.as_ptr(), libc::MNT_DETACH) == 0,
            Step::Rmdir { path } => libc::rmdir(path.as_ptr()) == 0,
        }
    }
}

/// The main process: limits, privileges dropped, filter installed, then Python.
unsafe fn main_process(plan: &ChildPlan, keeper: libc::pid_t) -> ! {
    let fds = plan.fds;
    let rw = fds.report_w;
    unsafe {
        // Back to default dispositions (the parent ignores SIGPIPE, the keeper handles
        // SIGUSR1) before they are inherited by the interpreter.
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        libc::umask(0o022);
        // Its own process group, so the keeper can kill it and its children at once.
        libc::setpgid(0, 0);
        if libc::dup2(fds.stdin, 0) < 0 || libc::dup2(fds.stdout_w, 1) < 0 || libc::dup2(fds.stderr_w, 2) < 0 {
            fail(rw, PHASE_STDIO);
        }
        close_except(&[rw, fds.landlock]);
        if libc::chdir(plan.workdir.as_ptr()) != 0 {
            fail(rw, PHASE_CHDIR);
        }
        for &(resource, soft, hard) in &plan.rlimits {
            let lim = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
            if libc::setrlimit(resource, &lim) != 0 {
                fail(rw, PHASE_RLIMIT);
            }
        }
        // Without capabilities in the bounding set, nothing exec'd later can gain any.
        if plan.cap_last >= 0 {
            for cap in 0..=plan.cap_last {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) != 0 && errno() != libc::EINVAL {
                    fail(rw, PHASE_CAPS);
                }
            }
        }
        if let Some(uid) = plan.run_uid {
            match set_ids(uid) {
                0 => {}
                PHASE_SETGROUPS => fail(rw, PHASE_SETGROUPS),
                PHASE_SETGID => fail(rw, PHASE_SETGID),
                _ => fail(rw, PHASE_SETUID),
            }
        }
        if plan.userns {
            // Root of its user namespace: give up every capability there too.
            libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0);
            let header = CapHeader { version: 0x2008_0522, pid: 0 };
            let data = [CapData::default(); 2];
            if libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) != 0 {
                fail(rw, PHASE_CAPS);
            }
        }
        // Changing credentials cleared any earlier parent-death signal: set it now.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
            fail(rw, PHASE_PDEATHSIG);
        }
        let expected_parent = if plan.namespaces { 1 } else { keeper };
        if libc::getppid() != expected_parent {
            libc::_exit(126);
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) != 0 {
            fail(rw, PHASE_NO_NEW_PRIVS);
        }
        if fds.landlock >= 0 {
            if libc::syscall(super::landlock::SYS_RESTRICT_SELF, fds.landlock, 0u32) != 0 {
                fail(rw, PHASE_LANDLOCK);
            }
            libc::close(fds.landlock);
        }
        if !plan.seccomp.is_empty() {
            let prog =
                libc::sock_fprog { len: plan.seccomp.len() as u16, filter: plan.seccomp.as_ptr() as *mut libc::sock_filter };
            if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER as libc::c_ulong, &prog as *const libc::sock_fprog)
                != 0
            {
                fail(rw, PHASE_SECCOMP);
            }
        }
        libc::execve(plan.exe.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
        fail(rw, PHASE_EXEC);
    }
}

/// `struct statfs` of the kernel on 64-bit architectures (libc's hides `f_flags`).
#[cfg(target_pointer_width = "64")]
#[repr(C)]
struct KernelStatfs {
    f_type: i64,
    f_bsize: i64,
    f_blocks: u64,
    f_bfree: u64,
    f_bavail: u64,
    f_files: u64,
    f_ffree: u64,
    f_fsid: [i32; 2],
    f_namelen: i64,
    f_frsize: i64,
    f_flags: i64,
    f_spare: [i64; 4],
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        assert_eq!(parse_stat_ppid(b"123 (python3) S 45 123 123 0 -1"), Some(45));
        assert_eq!(parse_stat_ppid(b"7 (a) b) c) R 1 7 7"), Some(1));
        assert_eq!(parse_stat_ppid(b"garbage"), None);
        assert_eq!(parse_pid(b"1234\0\0"), Some(1234));
        assert_eq!(parse_pid(b"self\0"), None);
        assert_eq!(parse_pid(b"\0"), None);
    }
}
