//! Runs untrusted generated Python code against its tests — the code half of the
//! executable verifier: a record passes only if its tests pass here.
//!
//! ```
//! use autodidact_sandbox::{Program, Sandbox, SandboxConfig, Status};
//!
//! let sandbox = Sandbox::new(SandboxConfig::default())?;
//! let outcome = sandbox.run_python(&Program::script("print(1 + 1)"))?;
//! assert_eq!(outcome.status, Status::Passed);
//! assert_eq!(outcome.stdout, "2\n");
//!
//! let outcome = sandbox.run_tests("def add(a, b):\n    return a - b\n", "from solution import add\nassert add(2, 2) == 4\n")?;
//! assert_eq!(outcome.status, Status::Failed { exit_code: 1 });
//! assert!(outcome.stderr.contains("AssertionError"));
//! # Ok::<(), autodidact_sandbox::SandboxError>(())
//! ```
//!
//! The code is hostile by assumption. Whatever it does — loop forever, fork without end,
//! allocate without end, flood its output, write or read outside its directory, open a
//! socket — is recorded in its [`Outcome`]; only the sandbox failing to start is a
//! [`SandboxError`].
//!
//! # A run
//!
//! Each run gets a fresh private directory (removed afterwards) holding the program's
//! files, which is its working directory and `HOME`; an environment of only `PATH`,
//! `HOME`, `TMPDIR`, `LANG=C.UTF-8`, `PYTHONHASHSEED=0`, `PYTHONDONTWRITEBYTECODE=1` and
//! `PYTHONUNBUFFERED=1`; stdin from the given text or `/dev/null`. Python runs as
//! `python -B -s -u -S MAIN`:
//!
//! - not `-I`: isolated mode also leaves the script's directory off `sys.path`, so
//!   `from solution import …` would fail, and it ignores `PYTHONHASHSEED`; the environment
//!   is the sandbox's own anyway, so `-I`'s `-E` protects nothing;
//! - `-S` (unless `site_packages`): the standard library only, so a result does not depend
//!   on what is installed on the machine (and `exit()`/`quit()` do not exist: use
//!   `sys.exit()`);
//! - `-u`: output is unbuffered, so what a program printed before a time limit killed it
//!   is kept.
//!
//! Every process of a run has `RLIMIT_CPU` (`cpu_time_secs`; `SIGXCPU`, then `SIGKILL` a
//! second later), `RLIMIT_AS` (`memory_mb`), `RLIMIT_FSIZE` (`max_file_mb`),
//! `RLIMIT_NPROC` (`max_processes`), 64 open files and no core dumps; `PR_SET_NO_NEW_PRIVS`
//! (no setuid binary gains anything) and `PR_SET_PDEATHSIG`. The parent kills the whole run
//! at `wall_time_secs`. Stdout and stderr are read together, so a program flooding one
//! cannot block; each keeps `max_output_bytes` and the rest is read and thrown away.
//!
//! A *keeper* process, the parent's child, stays outside the program's limits and
//! privileges: it starts the main Python process, reaps every process of the run, and,
//! when the main process ends or the parent asks, kills every process of the run. A run
//! is the main process's lifetime: nothing it started survives it. When the sandbox is
//! started as root, each run has a user id of its own (`0x40000000` and up, in no
//! `/etc/passwd`), not `nobody`: `RLIMIT_NPROC` counts processes per user id, so a shared
//! one would let two runs, or anything else running as `nobody`, starve each other — and
//! root with `CAP_SYS_RESOURCE` would not be limited at all.
//!
//! # Namespaces
//!
//! Where the machine permits it (root, or unprivileged user namespaces; see
//! [`Sandbox::namespaces_permitted`]), the keeper is PID 1 of new PID, mount, network,
//! IPC, UTS and cgroup namespaces (and a user namespace when not root). It builds a new
//! root and `pivot_root`s into it, detaching the host's:
//!
//! - read-only: `/usr`, `/bin`, `/sbin`, `/lib*` (symlinks kept as symlinks), nine files of
//!   `/etc` (the loader's cache, `passwd`, `group`, `nsswitch.conf`, `localtime`, `hosts`,
//!   `os-release`, `ld.so.conf*`), and the interpreter's installation if it is elsewhere;
//! - `/dev/{null,zero,full,random,urandom}` and a fresh `/proc` of the run's PID namespace;
//! - writable: `/sandbox` (the run's directory), `/tmp` and `/dev/shm`, all on one tmpfs of
//!   `scratch_mb`.
//!
//! **Guaranteed**: nothing else of the host's file system exists for the program —
//! `/root`, `/home`, `/work`, the host's `/tmp`, the caller's directory, other users'
//! files; it writes nothing outside its tmpfs; the network namespace has only a loopback
//! device that is down, and the seccomp filter refuses every socket but `AF_UNIX` (and
//! io_uring) besides; it sees and signals only its own processes; every process of the
//! run dies with the keeper, which dies with the caller's thread. Started as root, the
//! program runs as its own uid with no capabilities (the bounding set emptied too).
//!
//! **Not guaranteed**: the total memory of a run is bounded only by `max_processes ×
//! memory_mb` (rlimits are per process; no cgroup is used), and its CPU by the wall time ×
//! the cores; the kernel is shared, so a kernel exploit is out of scope; what the system
//! directories hold is readable.
//!
//! # Fallback
//!
//! Without namespaces (`isolation = "fallback"`, or `"auto"` on a machine that refuses
//! them), the run gets the same limits, the same private directory (on the host's disk, in
//! `TMPDIR`), the same clean environment, and:
//!
//! - started as root, the run's own uid: it can write only where anyone may, and read only
//!   what anyone may; root's files of mode `0600`, `/root` and the like are closed to it;
//! - the seccomp filter refusing every `socket` call, `AF_UNIX` included (the host's
//!   abstract Unix sockets are reachable without a network namespace), and io_uring;
//!   `socketpair` still works;
//! - where the kernel has Landlock (5.13 and later) and `landlock` is on, the default (see
//!   [`Sandbox::landlock`]): reads only of the directories the namespaces path shows (no
//!   `/proc`, no `/tmp`), writes only in its own directory, no TCP `bind` or `connect`
//!   (ABI 4), and no abstract Unix socket or signal outside the run (ABI 6);
//! - the keeper a child subreaper, so orphans come back to it; its own session; killing by
//!   uid (root) or by walking its children (not root).
//!
//! **Weaker than namespaces**: the program sees the host's PIDs and shares its System V
//! IPC; without Landlock it can read every world-readable file (a user's `0644` source
//! files among them) and write every world-writable directory (`/tmp`, `/dev/shm`) — and,
//! not started as root, everything the caller may read or write; `scratch_mb` is not enforced (only
//! `max_file_mb` per file); not started as root, it runs as the caller's own user, so
//! `RLIMIT_NPROC` is set to the caller's process count plus `max_processes`, and — without
//! Landlock's signal scoping — it could signal the caller's other processes and kill the
//! keeper, after which its own orphans are not reaped by the sandbox. If the caller is
//! killed with `SIGKILL` mid-run, the fallback's processes are not all killed with it
//! (under namespaces they are).

#![deny(missing_docs)]

mod config;
mod error;
mod outcome;
mod program;

#[cfg(target_os = "linux")]
mod linux;

pub use config::{IsolationMode, SandboxConfig};
pub use error::SandboxError;
pub use outcome::{Isolation, Outcome, Status};
pub use program::{Program, SOLUTION_FILE, TESTS_FILE, validate_name};

/// Runs programs, one at a time per call; a `Sandbox` may be shared between threads and
/// used from several at once.
#[derive(Debug)]
pub struct Sandbox {
    #[cfg(target_os = "linux")]
    runner: linux::Runner,
    #[cfg(not(target_os = "linux"))]
    cfg: SandboxConfig,
}

impl Sandbox {
    /// Checks the configuration, finds the interpreter (running it once, outside the
    /// sandbox, to read its real path), and decides the isolation.
    ///
    /// Errors: an invalid limit, a missing or non-Python-3 interpreter, `namespaces`
    /// requested where they are not permitted, not Linux.
    pub fn new(cfg: SandboxConfig) -> Result<Sandbox, SandboxError> {
        #[cfg(target_os = "linux")]
        {
            Ok(Sandbox { runner: linux::Runner::new(cfg)? })
        }
        #[cfg(not(target_os = "linux"))]
        {
            cfg.validate()?;
            let _ = cfg;
            Err(SandboxError::Unsupported { os: std::env::consts::OS })
        }
    }

    /// Runs `program` in a fresh private directory. The program's misbehaviour is in the
    /// `Outcome`; an error means the sandbox could not run it (a bad file name — nothing is
    /// written then —, or a setup step that failed).
    pub fn run_python(&self, program: &Program) -> Result<Outcome, SandboxError> {
        #[cfg(target_os = "linux")]
        {
            self.runner.run(program)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = program;
            Err(SandboxError::Unsupported { os: std::env::consts::OS })
        }
    }

    /// Runs `tests` (which import from `solution`) against `code`: `solution.py` and
    /// `test_solution.py`, the tests run, exit status 0 is a pass. See [`Program::tests`].
    pub fn run_tests(&self, code: &str, tests: &str) -> Result<Outcome, SandboxError> {
        self.run_python(&Program::tests(code, tests))
    }

    /// The configuration runs use.
    pub fn config(&self) -> &SandboxConfig {
        #[cfg(target_os = "linux")]
        {
            self.runner.config()
        }
        #[cfg(not(target_os = "linux"))]
        {
            &self.cfg
        }
    }

    /// The isolation runs get.
    pub fn isolation(&self) -> Isolation {
        #[cfg(target_os = "linux")]
        {
            self.runner.isolation()
        }
        #[cfg(not(target_os = "linux"))]
        {
            Isolation::Fallback
        }
    }

    /// Whether runs are confined by Landlock: the isolation is the fallback, the kernel has
    /// Landlock and `landlock` is on. Reads only of the system directories, writes only in
    /// the run's directory. Always `false` under namespaces, which need it not.
    pub fn landlock(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.runner.landlock()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// Whether this machine permits the namespaces path, found once per process by going
    /// through a run's whole setup — new namespaces, the new root, the pivot — without
    /// starting a program. `Err` says which step failed and why.
    pub fn namespaces_permitted() -> Result<(), String> {
        #[cfg(target_os = "linux")]
        {
            linux::namespaces_permitted()
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(format!("not Linux ({})", std::env::consts::OS))
        }
    }
}
