//! What a run sees: the new root under namespaces (as `Step`s for the keeper), the
//! private directory of the fallback (written here, by the parent), and the paths both
//! allow.
//!
//! The new root is an allowlist: a read-only tmpfs holding read-only binds of the system
//! directories, a few files of `/etc`, the interpreter's installation, five devices, a
//! fresh `/proc`, and one size-limited tmpfs that backs the only writable places —
//! `/sandbox` (the run's directory, its `HOME` and working directory), `/tmp` and
//! `/dev/shm`. Everything else of the host — `/root`, `/home`, `/work`, `/tmp`, the
//! caller's directory — is simply not there.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::Program;
use crate::linux::child::Step;
use crate::linux::python::Python;

/// The top-level system directories shown read-only (or recreated as the symlinks they
/// are on merged-/usr systems).
const SYSTEM_DIRS: [&str; 7] = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// The files of `/etc` a Python program needs: the dynamic loader's cache, user and
/// group names, name-service switch, time zone, OS release. Nothing else of `/etc`.
const ETC_FILES: [&str; 9] =
    ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime", "hosts", "os-release"];

/// The devices of `/dev`.
const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

/// The run's directory, working directory and `HOME` under namespaces.
pub(crate) const SANDBOX_DIR: &str = "/sandbox";

/// Whether `p` is inside a system directory every run sees anyway.
pub(crate) fn under_system_dirs(p: &Path) -> bool {
    SYSTEM_DIRS.iter().any(|d| p.starts_with(Path::new("/").join(d)))
}

/// Everything the fallback lets the main process read: system directories, the `/etc`
/// files, the interpreter's installation.
pub(crate) fn readable(python: &Python) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = SYSTEM_DIRS.iter().map(|d| Path::new("/").join(d)).collect();
    out.extend(ETC_FILES.iter().map(|f| Path::new("/etc").join(f)));
    out.extend(python.extra_dirs.iter().cloned());
    out
}

/// The devices, for the fallback's Landlock rules.
pub(crate) fn devices() -> Vec<PathBuf> {
    DEVICES.iter().map(|d| Path::new("/dev").join(d)).collect()
}

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("paths from validated names and the host have no NUL")
}

fn inside(root: &Path, abs: &Path) -> PathBuf {
    root.join(abs.strip_prefix("/").unwrap_or(abs))
}

/// The steps that build the new root at `root` for `program`. `run_uid` owns the run's
/// directory and files.
pub(crate) fn ns_steps(
    root: &Path,
    python: &Python,
    program: &Program,
    dirs: &[String],
    run_uid: Option<u32>,
    scratch_mb: u64,
) -> Vec<Step> {
    let mut s = Vec::new();
    let mkdir = |s: &mut Vec<Step>, p: &Path, mode: u32| s.push(Step::Mkdir { path: c(p), mode });
    s.push(Step::Tmpfs { dst: c(root), data: CString::new("size=1m,nr_inodes=4096,mode=0755").unwrap() });

    for d in SYSTEM_DIRS {
        let host = Path::new("/").join(d);
        let Ok(meta) = fs::symlink_metadata(&host) else { continue };
        let dst = root.join(d);
        if meta.file_type().is_symlink() {
            if let Ok(target) = fs::read_link(&host) {
                s.push(Step::Symlink { target: c(&target), path: c(&dst) });
            }
        } else if meta.is_dir() {
            mkdir(&mut s, &dst, 0o755);
            s.push(Step::BindRo { src: c(&host), dst: c(&dst) });
        }
    }

    let mut made: Vec<PathBuf> = Vec::new();
    for dir in &python.extra_dirs {
        let mut ancestors: Vec<&Path> = dir.ancestors().filter(|a| *a != Path::new("/")).collect();
        ancestors.reverse();
        for a in ancestors {
            if !made.iter().any(|m| m == a) {
                mkdir(&mut s, &inside(root, a), 0o755);
                made.push(a.to_path_buf());
            }
        }
        s.push(Step::BindRo { src: c(dir), dst: c(&inside(root, dir)) });
    }

    let etc = root.join("etc");
    mkdir(&mut s, &etc, 0o755);
    for f in ETC_FILES {
        let host = Path::new("/etc").join(f);
        let Ok(meta) = fs::symlink_metadata(&host) else { continue };
        let dst = etc.join(f);
        if meta.file_type().is_symlink() {
            if let Ok(target) = fs::read_link(&host) {
                s.push(Step::Symlink { target: c(&target), path: c(&dst) });
            }
        } else if meta.is_dir() {
            mkdir(&mut s, &dst, 0o755);
            s.push(Step::BindRo { src: c(&host), dst: c(&dst) });
        } else {
            s.push(Step::Touch { path: c(&dst) });
            s.push(Step::BindRo { src: c(&host), dst: c(&dst) });
        }
    }

    let dev = root.join("dev");
    mkdir(&mut s, &dev, 0o755);
    s.push(Step::Tmpfs { dst: c(&dev), data: CString::new("size=64k,nr_inodes=64,mode=0755").unwrap() });
    for d in DEVICES {
        let host = Path::new("/dev").join(d);
        if host.exists() {
            s.push(Step::Touch { path: c(&dev.join(d)) });
            s.push(Step::BindDev { src: c(&host), dst: c(&dev.join(d)) });
        }
    }
    for (name, target) in
        [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]
    {
        s.push(Step::Symlink { target: CString::new(target).unwrap(), path: c(&dev.join(name)) });
    }
    mkdir(&mut s, &dev.join("shm"), 0o755);

    let proc_dir = root.join("proc");
    mkdir(&mut s, &proc_dir, 0o555);
    s.push(Step::Proc { dst: c(&proc_dir) });

    // One tmpfs for everything writable, so `scratch_mb` bounds them together.
    let scratch = root.join(".scratch");
    mkdir(&mut s, &scratch, 0o700);
    let data = format!("size={scratch_mb}m,nr_inodes=16384,mode=0755");
    s.push(Step::Tmpfs { dst: c(&scratch), data: CString::new(data).unwrap() });
    let work = scratch.join("work");
    mkdir(&mut s, &work, 0o755);
    mkdir(&mut s, &scratch.join("tmp"), 0o1777);
    mkdir(&mut s, &scratch.join("shm"), 0o1777);
    let mut owned = vec![work.clone()];
    for d in dirs {
        mkdir(&mut s, &work.join(d), 0o755);
        owned.push(work.join(d));
    }
    for (name, content) in &program.files {
        s.push(Step::Write { path: c(&work.join(name)), content: content.as_bytes().to_vec(), mode: 0o644 });
        owned.push(work.join(name));
    }
    if let Some(uid) = run_uid {
        for p in owned {
            s.push(Step::Chown { path: c(&p), uid, gid: uid });
        }
    }
    let sandbox = inside(root, Path::new(SANDBOX_DIR));
    mkdir(&mut s, &sandbox, 0o755);
    s.push(Step::BindRw { src: c(&work), dst: c(&sandbox) });
    mkdir(&mut s, &root.join("tmp"), 0o755);
    s.push(Step::BindRw { src: c(&scratch.join("tmp")), dst: c(&root.join("tmp")) });
    s.push(Step::BindRw { src: c(&scratch.join("shm")), dst: c(&dev.join("shm")) });
    s.push(Step::RemountRo { path: c(&dev) });
    s.push(Step::Detach { path: c(&scratch) });
    s.push(Step::Rmdir { path: c(&scratch) });
    s
}

/// Writes the program into the fallback's private directory `dir`, owned by `run_uid`.
pub(crate) fn write_fallback(dir: &Path, program: &Program, dirs: &[String], run_uid: Option<u32>) -> io::Result<()> {
    let chown = |p: &Path| match run_uid {
        Some(uid) => std::os::unix::fs::lchown(p, Some(uid), Some(uid)),
        None => Ok(()),
    };
    for d in dirs {
        let p = dir.join(d);
        fs::DirBuilder::new().mode(0o755).create(&p)?;
        chown(&p)?;
    }
    for (name, content) in &program.files {
        let p = dir.join(name);
        fs::write(&p, content)?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644))?;
        chown(&p)?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    chown(dir)
}

/// The first of `path`'s ancestors, or `path` itself, that others cannot enter or execute
/// (no `o+x`): a run with a uid of its own could not reach `path`.
pub(crate) fn closed_to_others(path: &Path) -> Option<PathBuf> {
    let mut chain: Vec<&Path> = path.ancestors().collect();
    chain.reverse();
    chain.into_iter().find(|a| fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 == 0)).map(Path::to_path_buf)
}

/// Removes a run's directory even if the program took its own permissions away.
pub(crate) fn remove_dir(dir: &Path) {
    if fs::remove_dir_all(dir).is_ok() || !dir.exists() {
        return;
    }
    fn open_up(p: &Path) {
        let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
        if let Ok(entries) = fs::read_dir(p) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    open_up(&e.path());
                }
            }
        }
    }
    open_up(dir);
    if let Err(e) = fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove a sandbox run's directory");
    }
}
