//! Landlock for the fallback: the main process may read the system directories and the
//! interpreter, write only its own directory, connect and bind no TCP port, and (ABI 6)
//! reach no abstract Unix socket and signal no process outside the run.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const SYS_CREATE_RULESET: libc::c_long = 444;
const SYS_ADD_RULE: libc::c_long = 445;
/// `landlock_restrict_self`, called by the main process.
pub(crate) const SYS_RESTRICT_SELF: libc::c_long = 446;

const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: u32 = 1;

const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const REFER: u64 = 1 << 13;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;

const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;

const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneath {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version the kernel offers, if any.
pub(crate) fn abi() -> Option<u32> {
    // SAFETY: the documented version query: no attribute, size 0.
    let v = unsafe { libc::syscall(SYS_CREATE_RULESET, std::ptr::null::<RulesetAttr>(), 0usize, CREATE_RULESET_VERSION) };
    if v > 0 { Some(v as u32) } else { None }
}

/// Every file-system right the kernel of `abi` knows.
fn fs_rights(abi: u32) -> u64 {
    let mut all = (1 << 13) - 1; // ABI 1: execute … make_sym
    if abi >= 2 {
        all |= REFER;
    }
    if abi >= 3 {
        all |= TRUNCATE;
    }
    if abi >= 5 {
        all |= IOCTL_DEV;
    }
    all
}

/// What the main process may touch, as paths.
pub(crate) struct Access<'a> {
    /// Read and execute (directories: everything beneath).
    pub read: &'a [PathBuf],
    /// Read and write, files only (devices like `/dev/null`).
    pub devices: &'a [PathBuf],
    /// Everything (the run's directory).
    pub full: &'a Path,
}

/// A ruleset for `abi` allowing `access`; the main process enforces it on itself.
pub(crate) fn ruleset(abi: u32, access: &Access) -> io::Result<OwnedFd> {
    let all = fs_rights(abi);
    let attr = RulesetAttr {
        handled_access_fs: all,
        handled_access_net: if abi >= 4 { NET_BIND_TCP | NET_CONNECT_TCP } else { 0 },
        scoped: if abi >= 6 { SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL } else { 0 },
    };
    let size = match abi {
        1..=3 => 8,
        4 | 5 => 16,
        _ => 24,
    };
    // SAFETY: `attr` outlives the call and `size` does not exceed it.
    let fd = unsafe { libc::syscall(SYS_CREATE_RULESET, &attr as *const RulesetAttr, size as usize, 0u32) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let file_read = EXECUTE | READ_FILE;
    for p in access.read {
        let Ok(f) = open_path(p) else { continue }; // absent on this system
        let dir = f.metadata()?.is_dir();
        add(&ruleset, &f, if dir { file_read | READ_DIR } else { file_read })?;
    }
    let dev = READ_FILE | WRITE_FILE | (all & (TRUNCATE | IOCTL_DEV));
    for p in access.devices {
        let Ok(f) = open_path(p) else { continue };
        add(&ruleset, &f, dev)?;
    }
    add(&ruleset, &open_path(access.full)?, all)?;
    Ok(ruleset)
}

fn open_path(p: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_PATH | libc::O_CLOEXEC).open(p)
}

fn add(ruleset: &OwnedFd, f: &File, allowed: u64) -> io::Result<()> {
    let rule = PathBeneath { allowed_access: allowed, parent_fd: f.as_raw_fd() };
    // SAFETY: `rule` outlives the call; both descriptors are open.
    let r = unsafe { libc::syscall(SYS_ADD_RULE, ruleset.as_raw_fd(), RULE_PATH_BENEATH, &rule as *const PathBeneath, 0u32) };
    if r != 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}
