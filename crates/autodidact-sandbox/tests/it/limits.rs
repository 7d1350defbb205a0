//! Time and memory: an infinite loop meets the CPU limit, a sleep the wall-clock limit,
//! a memory bomb the address-space limit.

use std::time::Instant;

use autodidact_sandbox::{Program, SandboxConfig, Status};

use crate::support::{each_isolation, quick};

#[test]
fn an_infinite_loop_is_a_cpu_timeout() {
    let cfg = SandboxConfig { cpu_time_secs: 1, wall_time_secs: 10, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let o = sb.run_python(&Program::script("print('started')\nwhile True:\n    pass\n")).unwrap();
        assert_eq!(o.status, Status::CpuTimeout, "{iso:?}: {o:#?}");
        assert_eq!(o.stdout, "started\n", "{iso:?}: unbuffered output survives the kill");
        assert!(o.cpu_ms >= 900, "{iso:?}: {o:?}");
        assert!(o.wall_ms < 9_000, "{iso:?}: {o:?}");
    }
}

#[test]
fn ignoring_sigxcpu_still_ends_at_the_hard_cpu_limit() {
    let cfg = SandboxConfig { cpu_time_secs: 1, wall_time_secs: 10, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::CpuTimeout, "{iso:?}: {o:#?}");
        assert!(o.cpu_ms >= 1_500, "{iso:?}: killed at the hard limit, about a second later: {o:?}");
    }
}

#[test]
fn a_sleep_is_a_wall_timeout_and_the_run_returns_on_time() {
    let cfg = SandboxConfig { wall_time_secs: 2, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let start = Instant::now();
        let o = sb.run_python(&Program::script("import time\nprint('sleeping')\ntime.sleep(100)\n")).unwrap();
        let took = start.elapsed();
        assert_eq!(o.status, Status::WallTimeout, "{iso:?}: {o:#?}");
        assert_eq!(o.stdout, "sleeping\n", "{iso:?}");
        assert!(took.as_millis() >= 2_000 && took.as_millis() < 3_000, "{iso:?}: took {took:?}");
        assert!(o.cpu_ms < 1_000, "{iso:?}: {o:?}");
    }
}

#[test]
fn a_program_ignoring_sigterm_is_still_stopped() {
    let cfg = SandboxConfig { wall_time_secs: 1, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let code = "import signal, time\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):\n    signal.signal(s, signal.SIG_IGN)\ntime.sleep(100)\n";
        let start = Instant::now();
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::WallTimeout, "{iso:?}: {o:#?}");
        assert!(start.elapsed().as_millis() < 2_000, "{iso:?}: {:?}", start.elapsed());
    }
}

#[test]
fn a_huge_allocation_is_a_memory_limit() {
    let cfg = SandboxConfig { memory_mb: 256, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let o = sb.run_python(&Program::script("x = bytearray(4 * 1024**3)\nprint('allocated')\n")).unwrap();
        assert_eq!(o.status, Status::MemoryLimit, "{iso:?}: {o:#?}");
        assert!(o.stderr.contains("MemoryError"), "{iso:?}: {}", o.stderr);
        assert!(!o.stdout.contains("allocated"), "{iso:?}");
    }
}

#[test]
fn a_growing_list_is_a_memory_limit() {
    let cfg = SandboxConfig { memory_mb: 256, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        // Touch every page, so the memory is really used up to the limit, not just reserved.
        let code = "x = []\nwhile True:\n    x.append(b'\\x01' * 1_000_000)\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert!(matches!(o.status, Status::MemoryLimit), "{iso:?}: {o:#?}");
        assert!(o.wall_ms < 4_000, "{iso:?}: {o:?}");
    }
}

#[test]
fn a_memory_bomb_caught_by_the_program_is_just_a_failure() {
    for (iso, sb) in each_isolation(quick()) {
        let code = "try:\n    x = bytearray(4 * 1024**3)\nexcept MemoryError:\n    raise SystemExit('no memory')\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::Failed { exit_code: 1 }, "{iso:?}: {o:#?}");
        assert_eq!(o.stderr, "no memory\n", "{iso:?}");
    }
}

#[test]
fn a_file_larger_than_max_file_mb_is_refused() {
    let cfg = SandboxConfig { max_file_mb: 1, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let code = "import errno\ntry:\n    with open('big', 'wb') as f:\n        f.write(b'x' * 2_000_000)\nexcept OSError as e:\n    assert e.errno == errno.EFBIG, e\n    print('EFBIG')\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        assert_eq!(o.stdout, "EFBIG\n", "{iso:?}");
    }
}

#[test]
fn the_scratch_space_is_bounded_under_namespaces() {
    let cfg = SandboxConfig { scratch_mb: 8, max_file_mb: 4, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        if iso != autodidact_sandbox::Isolation::Namespaces {
            continue; // documented: the fallback's directory is on the host's disk
        }
        let code = "import errno\ntry:\n    for i in range(100):\n        with open(f'f{i}', 'wb') as f:\n            f.write(b'x' * 3_000_000)\nexcept OSError as e:\n    assert e.errno == errno.ENOSPC, e\n    print('ENOSPC', i)\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        assert!(o.stdout.starts_with("ENOSPC"), "{iso:?}: {o:?}");
    }
}
