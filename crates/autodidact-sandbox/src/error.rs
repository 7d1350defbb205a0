//! `SandboxError`: the sandbox itself failed. What the program does is an
//! [`Outcome`](crate::Outcome), never an error.

use std::io;
use std::path::PathBuf;

/// The sandbox could not run a program: bad input, a missing interpreter, or a step of
/// setting up the isolation that failed. A hostile program cannot cause one of these by
/// misbehaving; its misbehaviour is recorded in its [`Outcome`](crate::Outcome).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Not Linux: the isolation is built from Linux namespaces, rlimits and seccomp.
    #[error("the sandbox needs Linux; this is {os}")]
    Unsupported {
        /// The operating system this was built for.
        os: &'static str,
    },
    /// A limit in the configuration leaves no room for a run.
    #[error("invalid sandbox config: {reason}")]
    Config {
        /// What is wrong, naming the key.
        reason: String,
    },
    /// The configured interpreter could not be found or started.
    #[error("Python interpreter `{path}` could not be run: {source}")]
    PythonMissing {
        /// The interpreter as configured.
        path: PathBuf,
        /// Why it could not be run.
        source: io::Error,
    },
    /// The configured interpreter ran but is not a usable Python 3.
    #[error("`{path}` is not a usable Python 3 interpreter: {detail}")]
    NotPython3 {
        /// The interpreter as configured.
        path: PathBuf,
        /// What it answered.
        detail: String,
    },
    /// The fallback runs Python as a user id of its own, which cannot reach the interpreter
    /// (it is under a directory closed to others, like `/root`).
    #[error(
        "the interpreter `{path}` is under `{blocked}`, which the sandbox's user cannot enter; use one under /usr, or namespaces"
    )]
    PythonNotReachable {
        /// The interpreter's real binary.
        path: PathBuf,
        /// Its ancestor (or itself) without search or execute permission for others.
        blocked: PathBuf,
    },
    /// `isolation = "namespaces"` was asked for and this machine does not permit them.
    #[error("isolation `namespaces` was requested but is not permitted here: {reason}")]
    NamespacesUnavailable {
        /// The step that failed, with the system's error.
        reason: String,
    },
    /// The fallback cannot keep the network out on this CPU architecture (no seccomp
    /// filter written for it).
    #[error("the fallback isolation has no seccomp filter for the {arch} architecture")]
    UnsupportedArch {
        /// The architecture this was built for.
        arch: &'static str,
    },
    /// A program file name that is not a plain relative path inside the run's directory.
    #[error("invalid program file name `{name}`: {reason}")]
    BadFileName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The program's `main` is not one of its files.
    #[error("the program's main file `{main}` is not among its files")]
    MissingMain {
        /// The main file as given.
        main: String,
    },
    /// The run's private directory could not be made.
    #[error("could not create the run's private directory under `{dir}`: {source}")]
    TempDir {
        /// The directory it was to be made in.
        dir: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// The run's private directory is under a directory the run's user cannot enter.
    #[error(
        "the run's private directory `{dir}` is under `{blocked}`, which the sandbox user cannot enter; set `TMPDIR` to a directory like `/tmp`"
    )]
    TempDirNotReachable {
        /// The private directory.
        dir: PathBuf,
        /// Its ancestor without search permission for others.
        blocked: PathBuf,
    },
    /// A system call of the parent side failed (pipes, `clone`, writing files).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        source: io::Error,
    },
    /// A step of setting up the isolation failed inside the new process, before the
    /// program started.
    #[error("sandbox setup failed: {step}: {source}")]
    Setup {
        /// The step, naming its path where it has one.
        step: String,
        /// The system's error.
        source: io::Error,
    },
}
