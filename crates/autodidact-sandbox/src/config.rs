//! `SandboxConfig`: the limits of one run and the isolation to use, read from TOML or JSON.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::SandboxError;

/// The limits every run of a [`Sandbox`](crate::Sandbox) gets, and how it is isolated.
///
/// Every field has a default, so `SandboxConfig::default()` or an empty TOML table is a
/// working configuration; unknown keys are an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// The Python 3 interpreter: a path, or a bare name looked up on `PATH` when the
    /// sandbox is built. Default: `/usr/bin/python3` if it exists, else `python3`.
    ///
    /// The sandbox runs the interpreter this one reports as `sys.executable`, so a shim
    /// (pyenv's, say) is resolved to the real binary once, outside the sandbox.
    pub python: PathBuf,
    /// Wall-clock limit of a run, in seconds (default 10). The whole run is killed then.
    pub wall_time_secs: u64,
    /// CPU-time limit of each process of the run, in seconds (default 5): `RLIMIT_CPU`,
    /// `SIGXCPU` at the limit, `SIGKILL` a second later.
    pub cpu_time_secs: u64,
    /// Address-space limit of each process, in MiB (default 512): `RLIMIT_AS`.
    pub memory_mb: u64,
    /// Bytes of stdout and of stderr kept, each (default 64 KiB). The rest is read and
    /// discarded, and the stream marked truncated.
    pub max_output_bytes: usize,
    /// Kill the run as soon as a stream exceeds `max_output_bytes` (status
    /// [`OutputLimit`](crate::Status::OutputLimit)) instead of draining it until the program
    /// ends or a time limit ends it (default `false`).
    pub kill_on_output_limit: bool,
    /// Processes and threads the run may have at once (default 32): `RLIMIT_NPROC`, counted
    /// for a user id of the run's own.
    pub max_processes: u64,
    /// Largest file the run may write, in MiB (default 16): `RLIMIT_FSIZE`.
    pub max_file_mb: u64,
    /// Size of the run's writable filesystem (its directory, `/tmp` and `/dev/shm`
    /// together), in MiB (default 64). A tmpfs under namespaces; not enforced by the fallback,
    /// whose directory is on the host's disk.
    pub scratch_mb: u64,
    /// Let Python import from the interpreter's site-packages (default `false`: the run
    /// gets `-S`, the standard library only, so a result does not depend on what happens
    /// to be installed on the machine). Without `site`, the `exit()` and `quit()` helpers
    /// do not exist: programs should call `sys.exit()`.
    pub site_packages: bool,
    /// Which isolation to use (default `auto`).
    pub isolation: IsolationMode,
    /// Confine fallback runs with Landlock where the kernel has it (default `true`). Off,
    /// the fallback keeps only what its uid, rlimits and seccomp filter give.
    pub landlock: bool,
}

/// How a run is isolated: see the crate documentation for what each path guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsolationMode {
    /// Namespaces when this machine permits them, else the fallback.
    #[default]
    Auto,
    /// Namespaces, or an error from [`Sandbox::new`](crate::Sandbox::new) if they are not
    /// permitted.
    Namespaces,
    /// Never namespaces: rlimits, a user id of the run's own, seccomp and Landlock.
    Fallback,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            python: default_python(),
            wall_time_secs: 10,
            cpu_time_secs: 5,
            memory_mb: 512,
            max_output_bytes: 64 * 1024,
            kill_on_output_limit: false,
            max_processes: 32,
            max_file_mb: 16,
            scratch_mb: 64,
            site_packages: false,
            isolation: IsolationMode::Auto,
            landlock: true,
        }
    }
}

fn default_python() -> PathBuf {
    let usr = PathBuf::from("/usr/bin/python3");
    if usr.exists() { usr } else { PathBuf::from("python3") }
}

impl SandboxConfig {
    /// Checks that every limit leaves a run room to start.
    pub fn validate(&self) -> Result<(), SandboxError> {
        let bad = |reason: String| Err(SandboxError::Config { reason });
        if self.wall_time_secs == 0 {
            return bad("`wall_time_secs` must be at least 1".into());
        }
        if self.cpu_time_secs == 0 {
            return bad("`cpu_time_secs` must be at least 1".into());
        }
        // Python 3 itself needs some 20 MiB of address space to start.
        if self.memory_mb < 32 {
            return bad(format!("`memory_mb` must be at least 32, not {}", self.memory_mb));
        }
        if self.max_processes == 0 {
            return bad("`max_processes` must be at least 1".into());
        }
        if self.max_file_mb == 0 {
            return bad("`max_file_mb` must be at least 1".into());
        }
        if self.scratch_mb == 0 {
            return bad("`scratch_mb` must be at least 1".into());
        }
        if self.python.as_os_str().is_empty() {
            return bad("`python` must not be empty".into());
        }
        Ok(())
    }
}
