//! Finding the interpreter once, outside the sandbox: the real binary behind the configured
//! name and the directories it needs to see.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::SandboxError;
use crate::linux::layout::under_system_dirs;

/// The interpreter runs read it from its `sys.executable`, and the directories outside the
/// system ones it must see (its installation, if not under `/usr`).
#[derive(Debug, Clone)]
pub(crate) struct Python {
    /// The real interpreter binary, symlinks resolved.
    pub exe: PathBuf,
    /// Directories to show read-only, outermost only.
    pub extra_dirs: Vec<PathBuf>,
}

const PROBE: &str = "import os, sys\nprint(os.path.realpath(sys.executable))\nprint(sys.base_prefix)\nprint(sys.base_exec_prefix)\nprint(sys.version_info[0])";

/// Runs the configured interpreter once (unsandboxed: it is the caller's own, trusted
/// interpreter; only the code it will run is not) and reads where it lives.
pub(crate) fn probe(configured: &Path) -> Result<Python, SandboxError> {
    let missing = |source: io::Error| SandboxError::PythonMissing { path: configured.to_path_buf(), source };
    let resolved = resolve(configured).map_err(missing)?;
    let out = Command::new(&resolved).args(["-E", "-s", "-S", "-c", PROBE]).output().map_err(missing)?;
    let not3 = |detail: String| SandboxError::NotPython3 { path: configured.to_path_buf(), detail };
    if !out.status.success() {
        return Err(not3(format!("{} ({})", out.status, String::from_utf8_lossy(&out.stderr).trim())));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let [exe, prefix, exec_prefix, major] = lines[..] else {
        return Err(not3(format!("unexpected answer {text:?}")));
    };
    if major != "3" {
        return Err(not3(format!("Python {major}")));
    }
    let exe = PathBuf::from(exe);
    if !exe.is_absolute() {
        return Err(not3(format!("`sys.executable` is {exe:?}")));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    let candidates = [exe.parent().map(Path::to_path_buf), Some(prefix.into()), Some(exec_prefix.into())];
    for dir in candidates.into_iter().flatten() {
        let Ok(dir) = dir.canonicalize() else { continue };
        if dir == Path::new("/") || under_system_dirs(&dir) {
            continue;
        }
        dirs.push(dir);
    }
    dirs.sort();
    dirs.dedup();
    // Keep the outermost: a bind of /opt/py covers /opt/py/bin.
    let outer: Vec<PathBuf> = dirs.iter().filter(|d| !dirs.iter().any(|o| o != *d && d.starts_with(o))).cloned().collect();
    Ok(Python { exe, extra_dirs: outer })
}

/// A bare name looked up on `PATH`, as a shell would; a path as it is.
fn resolve(configured: &Path) -> io::Result<PathBuf> {
    if configured.components().count() > 1 || configured.is_absolute() {
        return Ok(configured.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(configured);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(io::Error::new(io::ErrorKind::NotFound, "not found on PATH"))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
