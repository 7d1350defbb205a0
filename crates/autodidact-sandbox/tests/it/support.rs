//! Shared helpers: sandboxes for each isolation path, and looking for a run's processes.

use autodidact_sandbox::{Isolation, IsolationMode, Sandbox, SandboxConfig};

/// Short limits, so hostile cases end fast.
pub fn quick() -> SandboxConfig {
    SandboxConfig { wall_time_secs: 5, cpu_time_secs: 2, memory_mb: 256, max_processes: 16, ..SandboxConfig::default() }
}

/// A sandbox for `cfg` under each isolation path this machine permits: the fallback
/// always, namespaces unless `Sandbox::namespaces_permitted` says no (printed).
pub fn each_isolation(cfg: SandboxConfig) -> Vec<(Isolation, Sandbox)> {
    let mut out = Vec::new();
    match Sandbox::namespaces_permitted() {
        Ok(()) => {
            let sb = Sandbox::new(SandboxConfig { isolation: IsolationMode::Namespaces, ..cfg.clone() })
                .expect("a namespaces sandbox");
            assert_eq!(sb.isolation(), Isolation::Namespaces);
            out.push((Isolation::Namespaces, sb));
        }
        Err(why) => eprintln!("skipping the namespaces variant: namespaces are not permitted here: {why}"),
    }
    let sb = Sandbox::new(SandboxConfig { isolation: IsolationMode::Fallback, ..cfg }).expect("a fallback sandbox");
    assert_eq!(sb.isolation(), Isolation::Fallback);
    out.push((Isolation::Fallback, sb));
    out
}

/// Like `each_isolation`, plus the fallback without Landlock (where the kernel has it),
/// for the cases where Landlock changes what holds.
pub fn each_isolation_and_no_landlock(cfg: SandboxConfig) -> Vec<(Isolation, Sandbox)> {
    let mut out = each_isolation(cfg.clone());
    if out.last().is_some_and(|(_, sb)| sb.landlock()) {
        let sb = Sandbox::new(SandboxConfig { isolation: IsolationMode::Fallback, landlock: false, ..cfg }).unwrap();
        assert!(!sb.landlock());
        out.push((Isolation::Fallback, sb));
    }
    out
}

/// The pids of live (not zombie) processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else { continue };
        if !String::from_utf8_lossy(&cmdline).contains(marker) {
            continue;
        }
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = state.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
        if !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// A unique marker for one test's run, to find its processes by command line.
pub fn marker(name: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{name}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// Whether the sandbox user of a fallback run is another user than ours (we are root).
pub fn root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// A directory outside any sandbox, like the user's own.
pub fn outside_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("sandbox-test-outside-").tempdir().unwrap();
    assert!(dir.path().is_absolute());
    dir
}
