//! Output: a flood is capped and drained, never deadlocks, and optionally ends the run.

use autodidact_sandbox::{Program, SandboxConfig, Status};

use crate::support::{each_isolation, quick};

#[test]
fn an_output_flood_is_capped_and_the_run_ends_at_its_limit() {
    let cfg = SandboxConfig { max_output_bytes: 10_000, cpu_time_secs: 1, wall_time_secs: 3, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let o = sb.run_python(&Program::script("while True:\n    print('x' * 1000)\n")).unwrap();
        assert!(matches!(o.status, Status::CpuTimeout | Status::WallTimeout), "{iso:?}: {:?}", o.status);
        assert_eq!(o.stdout.len(), 10_000, "{iso:?}");
        assert!(o.stdout_truncated && !o.stderr_truncated, "{iso:?}");
        assert!(o.wall_ms < 3_000 + 1_500, "{iso:?}: {}", o.wall_ms);
    }
}

#[test]
fn flooding_both_streams_does_not_deadlock() {
    let cfg = SandboxConfig { max_output_bytes: 4096, wall_time_secs: 3, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let code = "import sys\nfor i in range(20000):\n    sys.stdout.write('o' * 100 + '\\n')\n    sys.stderr.write('e' * 100 + '\\n')\nprint('END', file=sys.stderr)\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {:?} {}", o.status, o.wall_ms);
        assert_eq!((o.stdout.len(), o.stderr.len()), (4096, 4096), "{iso:?}");
        assert!(o.stdout_truncated && o.stderr_truncated, "{iso:?}");
    }
}

#[test]
fn kill_on_output_limit_ends_the_run_at_once() {
    let cfg = SandboxConfig { max_output_bytes: 10_000, kill_on_output_limit: true, wall_time_secs: 5, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let o = sb.run_python(&Program::script("import sys\nwhile True:\n    sys.stderr.write('e' * 1000)\n")).unwrap();
        assert_eq!(o.status, Status::OutputLimit, "{iso:?}: {:?}", o.status);
        assert_eq!(o.stderr.len(), 10_000, "{iso:?}");
        assert!(o.stderr_truncated, "{iso:?}");
        assert!(o.wall_ms < 2_000, "{iso:?}: {}", o.wall_ms);
        // Under the cap, the same config passes.
        let o = sb.run_python(&Program::script("print('x' * 9000)")).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}");
    }
}

#[test]
fn invalid_utf8_is_replaced_not_an_error() {
    for (iso, sb) in each_isolation(quick()) {
        let o = sb.run_python(&Program::script("import sys\nsys.stdout.buffer.write(b'a\\xffb\\n')\n")).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}");
        assert_eq!(o.stdout, "a\u{fffd}b\n", "{iso:?}");
    }
}
