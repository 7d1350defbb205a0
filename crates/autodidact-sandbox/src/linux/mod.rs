//! The Linux sandbox: a plan built by the parent (`layout`, `seccomp`, `landlock`), one
//! `clone` into the keeper (`child`), and the parent reading the run until it is gone
//! (`capture`).

mod capture;
mod child;
mod landlock;
mod layout;
mod python;
mod seccomp;

use std::ffi::{CString, c_int};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::outcome::{Exit, Stop, classify};
use crate::{Isolation, IsolationMode, Outcome, Program, SandboxConfig, SandboxError, Status};
use capture::{Limits, Stream, capture};
use child::{ChildPlan, Fds, Kill, Report, Step};
use python::Python;

/// File descriptors a run may have open at once: plenty for a test script, few enough that
/// a descriptor leak ends quickly.
const MAX_OPEN_FILES: u64 = 64;

/// A wall-time limit too large for `Instant`.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// The `PATH` of a run.
const RUN_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A sandbox ready to run programs: the interpreter found, the isolation decided.
#[derive(Debug)]
pub(crate) struct Runner {
    cfg: SandboxConfig,
    python: Python,
    isolation: Isolation,
    /// Real root of the initial user namespace: can give each run a uid of its own.
    privileged: bool,
    cap_last: c_int,
    landlock_abi: Option<u32>,
    seccomp: Vec<libc::sock_filter>,
}

impl Runner {
    pub(crate) fn new(cfg: SandboxConfig) -> Result<Runner, SandboxError> {
        cfg.validate()?;
        let python = python::probe(&cfg.python)?;
        let isolation = match cfg.isolation {
            IsolationMode::Fallback => Isolation::Fallback,
            IsolationMode::Namespaces => {
                namespaces_permitted().map_err(|reason| SandboxError::NamespacesUnavailable { reason })?;
                Isolation::Namespaces
            }
            IsolationMode::Auto => match namespaces_permitted() {
                Ok(()) => Isolation::Namespaces,
                Err(reason) => {
                    tracing::info!(%reason, "namespaces not permitted; the sandbox uses its fallback isolation");
                    Isolation::Fallback
                }
            },
        };
        let seccomp = match (seccomp::filter(isolation == Isolation::Namespaces), isolation) {
            (Some(f), _) => f,
            // Under namespaces the network namespace alone keeps the network out.
            (None, Isolation::Namespaces) => Vec::new(),
            (None, Isolation::Fallback) => return Err(SandboxError::UnsupportedArch { arch: std::env::consts::ARCH }),
        };
        let privileged = privileged();
        if isolation == Isolation::Fallback
            && privileged
            && let Some(blocked) = layout::closed_to_others(&python.exe)
        {
            return Err(SandboxError::PythonNotReachable { path: python.exe.clone(), blocked });
        }
        let userns = isolation == Isolation::Namespaces && !privileged;
        let cap_last = if privileged || userns { cap_last() } else { -1 };
        let landlock_abi = if isolation == Isolation::Fallback && cfg.landlock { landlock::abi() } else { None };
        Ok(Runner { cfg, python, isolation, privileged, cap_last, landlock_abi, seccomp })
    }

    pub(crate) fn config(&self) -> &SandboxConfig {
        &self.cfg
    }

    pub(crate) fn isolation(&self) -> Isolation {
        self.isolation
    }

    pub(crate) fn landlock(&self) -> bool {
        self.landlock_abi.is_some()
    }

    pub(crate) fn run(&self, program: &Program) -> Result<Outcome, SandboxError> {
        let dirs = program.validate()?;
        let ns = self.isolation == Isolation::Namespaces;
        let userns = ns && !self.privileged;
        let tmp_parent = std::env::temp_dir();
        let dir = tempfile::Builder::new()
            .prefix("autodidact-sandbox-")
            .tempdir_in(&tmp_parent)
            .map_err(|source| SandboxError::TempDir { dir: tmp_parent.clone(), source })?
            .keep();
        let dir = RunDir(dir);
        let lease = if self.privileged { Some(UidLease::acquire()?) } else { None };
        let run_uid = lease.as_ref().map(|l| l.uid);

        let mut landlock_fd = None;
        let (steps, workdir) = if ns {
            let steps = layout::ns_steps(&dir.0, &self.python, program, &dirs, run_uid, self.cfg.scratch_mb);
            (steps, PathBuf::from(layout::SANDBOX_DIR))
        } else {
            layout::write_fallback(&dir.0, program, &dirs, run_uid).map_err(io_err("writing the program into its directory"))?;
            if run_uid.is_some()
                && let Some(blocked) = layout::closed_to_others(&dir.0).filter(|b| b != &dir.0)
            {
                return Err(SandboxError::TempDirNotReachable { dir: dir.0.clone(), blocked });
            }
            if let Some(abi) = self.landlock_abi {
                let read = layout::readable(&self.python);
                let devices = layout::devices();
                let access = landlock::Access { read: &read, devices: &devices, full: &dir.0 };
                landlock_fd = Some(landlock::ruleset(abi, &access).map_err(io_err("building the Landlock ruleset"))?);
            }
            (Vec::new(), dir.0.clone())
        };

        let stdin = stdin_fd(program.stdin.as_deref())?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (report_r, report_w) = pipe()?;
        let (sync_r, sync_w) = pipe()?;

        let mut argv = vec![cstr(self.python.exe.as_os_str().as_bytes()), cstr(b"-B"), cstr(b"-s"), cstr(b"-u")];
        if !self.cfg.site_packages {
            argv.push(cstr(b"-S"));
        }
        // A name like `-c` would be read as an option.
        let main = if program.main.starts_with('-') { format!("./{}", program.main) } else { program.main.clone() };
        argv.push(cstr(main.as_bytes()));
        let tmpdir = if ns { PathBuf::from("/tmp") } else { dir.0.clone() };
        let envp = [
            format!("PATH={RUN_PATH}"),
            format!("HOME={}", workdir.display()),
            format!("TMPDIR={}", tmpdir.display()),
            "LANG=C.UTF-8".into(),
            "PYTHONHASHSEED=0".into(),
            "PYTHONDONTWRITEBYTECODE=1".into(),
            "PYTHONUNBUFFERED=1".into(),
        ]
        .map(|e| cstr(e.as_bytes()));

        let nproc = if self.privileged {
            self.cfg.max_processes
        } else if userns {
            // The keeper is of the same (namespaced) user.
            self.cfg.max_processes + 1
        } else {
            // RLIMIT_NPROC counts every process of the caller's user.
            tasks_of_user(unsafe { libc::getuid() }) + self.cfg.max_processes
        };
        let cpu = self.cfg.cpu_time_secs;
        let mem = self.cfg.memory_mb.saturating_mul(1 << 20);
        let fsize = self.cfg.max_file_mb.saturating_mul(1 << 20);
        let rlimits = vec![
            (libc::RLIMIT_CPU, cpu, cpu.saturating_add(1)),
            (libc::RLIMIT_AS, mem, mem),
            (libc::RLIMIT_FSIZE, fsize, fsize),
            (libc::RLIMIT_NPROC, nproc, nproc),
            (libc::RLIMIT_NOFILE, MAX_OPEN_FILES, MAX_OPEN_FILES),
            (libc::RLIMIT_CORE, 0, 0),
            (libc::RLIMIT_MSGQUEUE, 0, 0),
        ];
        let kill = match (ns, run_uid) {
            (true, _) => Kill::PidNamespace,
            (false, Some(uid)) => Kill::Uid(uid),
            (false, None) => Kill::Children,
        };
        let plan = ChildPlan {
            namespaces: ns,
            userns,
            probe: false,
            fds: Fds {
                sync_r: sync_r.as_raw_fd(),
                report_w: report_w.as_raw_fd(),
                stdin: stdin.as_raw_fd(),
                stdout_w: out_w.as_raw_fd(),
                stderr_w: err_w.as_raw_fd(),
                landlock: landlock_fd.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
            },
            new_root: cstr(dir.0.as_os_str().as_bytes()),
            steps,
            run_uid,
            kill,
            cap_last: self.cap_last,
            workdir: cstr(workdir.as_os_str().as_bytes()),
            exe: cstr(self.python.exe.as_os_str().as_bytes()),
            argv: null_terminated(&argv),
            envp: null_terminated(&envp),
            rlimits,
            seccomp: self.seccomp.clone(),
        };

        let start = Instant::now();
        let keeper = launch(&plan, sync_w)?;
        drop((stdin, out_w, err_w, report_w, sync_r, landlock_fd));

        let limits = Limits {
            deadline: start.checked_add(Duration::from_secs(self.cfg.wall_time_secs)).unwrap_or(start + FOREVER),
            max_output: self.cfg.max_output_bytes,
            kill_on_output_limit: self.cfg.kill_on_output_limit,
        };
        let captured = capture(keeper.pid, Stream::new(out_r), Stream::new(err_r), report_r, &limits);
        let (keeper_status, usage) = keeper.wait();
        let wall_ms = start.elapsed().as_millis() as u64;

        let ended = captured.reports.iter().find(|r| r.kind == child::REPORT_ENDED).copied();
        if ended.is_none()
            && let Kill::Uid(uid) = kill
        {
            // The keeper died before cleaning up: do it from here.
            kill_uid_from_parent(uid);
        }
        if let Some(failed) = captured.reports.iter().find(|r| r.kind == child::REPORT_SETUP_FAILED) {
            return Err(setup_error(failed, &plan.steps));
        }

        let stdout = String::from_utf8_lossy(&captured.stdout.kept).into_owned();
        let stderr = String::from_utf8_lossy(&captured.stderr.kept).into_owned();
        let main_exited = ended.is_some_and(|r| r.flags & child::FLAG_MAIN_EXITED != 0);
        let output_over = self.cfg.kill_on_output_limit && (captured.stdout.truncated || captured.stderr.truncated);
        let stop = match captured.stop {
            _ if output_over => Some(Stop::Output),
            Some(Stop::Wall) if !main_exited => Some(Stop::Wall),
            _ => None,
        };
        let status = match ended {
            Some(r) => {
                let exit = main_exited.then(|| decode(r.status));
                classify(stop, exit, r.cpu_us / 1000, self.cfg.cpu_time_secs, &stderr)
            }
            None if stop.is_some() => classify(stop, None, 0, self.cfg.cpu_time_secs, &stderr),
            None => {
                // Only possible where the run shares the keeper's user (fallback, not
                // root, no Landlock signal scoping) and killed it.
                tracing::warn!(?keeper_status, "the sandbox's keeper process ended without a report");
                Status::Signaled { signal: if libc::WIFSIGNALED(keeper_status) { libc::WTERMSIG(keeper_status) } else { 0 } }
            }
        };
        drop(lease);
        Ok(Outcome {
            status,
            stdout,
            stderr,
            stdout_truncated: captured.stdout.truncated,
            stderr_truncated: captured.stderr.truncated,
            wall_ms,
            cpu_ms: usage / 1000,
            isolation: self.isolation,
        })
    }
}

fn decode(status: c_int) -> Exit {
    if libc::WIFSIGNALED(status) { Exit::Signal(libc::WTERMSIG(status)) } else { Exit::Code(libc::WEXITSTATUS(status)) }
}

fn setup_error(r: &Report, steps: &[Step]) -> SandboxError {
    let step = match steps.get(r.step as usize) {
        Some(s) => s.describe(),
        None => child::phase_name(r.step).to_string(),
    };
    SandboxError::Setup { step, source: io::Error::from_raw_os_error(r.errno) }
}

fn io_err(what: &'static str) -> impl Fn(io::Error) -> SandboxError {
    move |source| SandboxError::Io { what: what.to_string(), source }
}

fn cstr(bytes: &[u8]) -> CString {
    // Names are validated, paths come from the host, the environment is ours.
    CString::new(bytes).expect("no NUL in argv, envp or paths")
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}

/// The run's private directory, removed when the run is over.
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        layout::remove_dir(&self.0);
    }
}

/// A pipe, both ends close-on-exec and at 3 or above (0–2 are the child's stdio).
fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io_err("creating a pipe")(io::Error::last_os_error()));
    }
    // SAFETY: fresh descriptors owned by nothing else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((high(r)?, high(w)?))
}

fn high(fd: OwnedFd) -> Result<OwnedFd, SandboxError> {
    if fd.as_raw_fd() >= 3 {
        return Ok(fd);
    }
    // SAFETY: duplicating a descriptor we own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io_err("duplicating a descriptor")(io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// The run's stdin: an in-memory file holding `content`, or `/dev/null`. A file, not a
/// pipe: no thread to feed it, no blocking on a program that never reads.
fn stdin_fd(content: Option<&str>) -> Result<OwnedFd, SandboxError> {
    let fd = match content {
        None => std::fs::File::open("/dev/null").map_err(io_err("opening /dev/null"))?.into(),
        Some(text) => {
            // SAFETY: a NUL-terminated name; the flags are valid.
            let fd = unsafe { libc::memfd_create(c"sandbox-stdin".as_ptr(), libc::MFD_CLOEXEC) };
            if fd < 0 {
                return Err(io_err("creating the stdin file")(io::Error::last_os_error()));
            }
            // SAFETY: a fresh descriptor.
            let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
            file.write_all(text.as_bytes()).map_err(io_err("writing stdin"))?;
            use std::io::Seek;
            file.rewind().map_err(io_err("writing stdin"))?;
            file.into()
        }
    };
    high(fd)
}

/// The keeper process, not yet reaped.
struct Keeper {
    pid: libc::pid_t,
}

impl Keeper {
    /// Waits for the keeper: its wait status and the CPU time, in µs, of it and every
    /// process of the run (it reaped them all).
    fn wait(self) -> (c_int, u64) {
        loop {
            let mut status = 0;
            // SAFETY: zeroed rusage is valid; waiting for our own child.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut ru) };
            if r == self.pid {
                let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
                return (status, us(ru.ru_utime) + us(ru.ru_stime));
            }
            if r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return (0, 0);
            }
        }
    }
}

/// Clones the keeper (into new namespaces if the plan says so), writes a user namespace's
/// maps, and lets it go.
fn launch(plan: &ChildPlan, sync_w: OwnedFd) -> Result<Keeper, SandboxError> {
    let mut flags = libc::SIGCHLD as libc::c_ulong;
    if plan.namespaces {
        flags |= (libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWCGROUP) as libc::c_ulong;
        if plan.userns {
            flags |= libc::CLONE_NEWUSER as libc::c_ulong;
        }
    }
    // SAFETY: clone without CLONE_VM or a new stack is a fork; the child runs only
    // `keeper`, which makes system calls on memory `plan` already holds and never returns.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        return Err(io_err("clone")(io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: in the child of the clone, with `plan` alive.
        unsafe { child::keeper(plan) }
    }
    let keeper = Keeper { pid: pid as libc::pid_t };
    if plan.userns
        && let Err(e) = write_id_maps(keeper.pid)
    {
        // SAFETY: our unreaped child.
        unsafe { libc::kill(keeper.pid, libc::SIGKILL) };
        keeper.wait();
        return Err(io_err("writing the user namespace's id maps")(e));
    }
    let mut sync = std::fs::File::from(sync_w);
    // If the keeper is already gone, its report says why.
    let _ = sync.write_all(&[1]);
    Ok(keeper)
}

/// Maps root of the new user namespace to the caller's own user and group.
fn write_id_maps(pid: libc::pid_t) -> io::Result<()> {
    // SAFETY: trivial getters.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    std::fs::write(format!("/proc/{pid}/setgroups"), "deny")?;
    std::fs::write(format!("/proc/{pid}/uid_map"), format!("0 {uid} 1\n"))?;
    std::fs::write(format!("/proc/{pid}/gid_map"), format!("0 {gid} 1\n"))
}

/// Kills every process of `uid` from the parent, by a helper child (the keeper's job,
/// when the keeper could not do it).
fn kill_uid_from_parent(uid: u32) {
    let pid = child::raw_fork();
    if pid == 0 {
        // SAFETY: in the child of a fork; only system calls follow.
        unsafe { child::kill_uid(uid, 512) }
    }
    if pid > 0 {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
}

/// Whether this process is root of the initial user namespace (every uid is its to take).
fn privileged() -> bool {
    // SAFETY: a trivial getter.
    if unsafe { libc::geteuid() } != 0 {
        return false;
    }
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
}

fn cap_last() -> c_int {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

/// Tasks (threads included, as RLIMIT_NPROC counts them) whose real uid is `uid`.
fn tasks_of_user(uid: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let mut total = 0;
    for e in entries.flatten() {
        if !e.file_name().as_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else { continue };
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next());
        if field("Uid:").and_then(|v| v.parse::<u32>().ok()) == Some(uid) {
            total += field("Threads:").and_then(|v| v.parse::<u64>().ok()).unwrap_or(1);
        }
    }
    total
}

/// Runs get uids from `UID_BASE` up, unused by anything else: RLIMIT_NPROC then counts one
/// run's processes only, and `kill(-1)` by that uid reaches exactly them. 256 slots per
/// process, keyed by its pid, so two processes' runs never share a uid.
const UID_BASE: u32 = 0x4000_0000;
const UID_SLOTS: usize = 256;

static SLOTS: Mutex<[bool; UID_SLOTS]> = Mutex::new([false; UID_SLOTS]);

struct UidLease {
    slot: usize,
    uid: u32,
}

impl UidLease {
    fn acquire() -> Result<UidLease, SandboxError> {
        let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = slots.iter().position(|used| !used) else {
            let source = io::Error::other(format!("more than {UID_SLOTS} runs at once"));
            return Err(SandboxError::Io { what: "allocating the run's uid".into(), source });
        };
        slots[slot] = true;
        let uid = UID_BASE + ((std::process::id() & 0x3F_FFFF) << 8) + slot as u32;
        Ok(UidLease { slot, uid })
    }
}

impl Drop for UidLease {
    fn drop(&mut self) {
        SLOTS.lock().unwrap_or_else(|e| e.into_inner())[self.slot] = false;
    }
}

/// Whether namespaces work here, found once by running the whole setup of a run (new
/// namespaces, the new root, the pivot) without starting a program.
pub(crate) fn namespaces_permitted() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE.get_or_init(probe_namespaces).clone()
}

fn probe_namespaces() -> Result<(), String> {
    let tmp = std::env::temp_dir();
    let dir = tempfile::Builder::new()
        .prefix("autodidact-sandbox-probe-")
        .tempdir_in(&tmp)
        .map_err(|e| format!("temporary directory: {e}"))?;
    let python = Python { exe: PathBuf::new(), extra_dirs: Vec::new() };
    let program = Program { files: Vec::new(), main: String::new(), stdin: None };
    let steps = layout::ns_steps(dir.path(), &python, &program, &[], None, 1);
    let privileged = privileged();
    let (report_r, report_w) = pipe().map_err(|e| e.to_string())?;
    let (sync_r, sync_w) = pipe().map_err(|e| e.to_string())?;
    let plan = ChildPlan {
        namespaces: true,
        userns: !privileged,
        probe: true,
        fds: Fds {
            sync_r: sync_r.as_raw_fd(),
            report_w: report_w.as_raw_fd(),
            stdin: -1,
            stdout_w: -1,
            stderr_w: -1,
            landlock: -1,
        },
        new_root: cstr(dir.path().as_os_str().as_bytes()),
        steps,
        run_uid: None,
        kill: Kill::PidNamespace,
        cap_last: -1,
        workdir: cstr(b"/"),
        exe: cstr(b"/"),
        argv: vec![std::ptr::null()],
        envp: vec![std::ptr::null()],
        rlimits: Vec::new(),
        seccomp: Vec::new(),
    };
    let keeper = launch(&plan, sync_w).map_err(|e| e.to_string())?;
    drop((report_w, sync_r));
    let limits = Limits { deadline: Instant::now() + Duration::from_secs(10), max_output: 0, kill_on_output_limit: false };
    let captured = capture(keeper.pid, Stream::default(), Stream::default(), report_r, &limits);
    keeper.wait();
    match captured.reports.first() {
        Some(r) if r.kind == child::REPORT_PROBE_OK => Ok(()),
        Some(r) if r.kind == child::REPORT_SETUP_FAILED => Err(setup_error(r, &plan.steps).to_string()),
        _ => Err("the namespace probe ended without a report".into()),
    }
}
