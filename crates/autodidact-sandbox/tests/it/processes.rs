//! Processes: a fork bomb ends and leaves nothing behind, a detached child dies with the
//! run, the process limit holds.

use autodidact_sandbox::{Program, SandboxConfig, Status};

use crate::support::{each_isolation, marker, processes_with, quick};

/// A program whose main file's name is `marker`, so its processes — forks keep the
/// command line — can be found afterwards.
fn marked(marker: &str, code: &str) -> Program {
    let main = format!("{marker}.py");
    Program { files: vec![(main.clone(), code.into())], main, stdin: None }
}

#[test]
fn a_fork_bomb_ends_and_leaves_no_process() {
    let cfg = SandboxConfig { wall_time_secs: 3, cpu_time_secs: 2, max_processes: 16, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let m = marker("forkbomb");
        let code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
        let o = sb.run_python(&marked(&m, code)).unwrap();
        assert!(matches!(o.status, Status::WallTimeout | Status::CpuTimeout | Status::Failed { .. }), "{iso:?}: {o:#?}");
        assert!(o.wall_ms < 3_000 + 1_500, "{iso:?}: {o:?}");
        let left = processes_with(&m);
        assert!(left.is_empty(), "{iso:?}: processes of the run left: {left:?}");
        // The machine is fine: the next run passes.
        let o = sb.run_tests("x = 1\n", "from solution import x\nassert x == 1\n").unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
    }
}

#[test]
fn a_detached_child_dies_with_the_run() {
    for (iso, sb) in each_isolation(quick()) {
        let m = marker("detached");
        // Double fork and a new session: the classic daemon, escaping its parent's group.
        let code = "import os, time\n\
                    if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(100)\n    os._exit(0)\n\
                    time.sleep(0.3)\n\
                    print('main done')\n";
        let o = sb.run_python(&marked(&m, code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        assert_eq!(o.stdout, "main done\n", "{iso:?}");
        assert!(o.wall_ms < 2_000, "{iso:?}: the run ends with its main process: {o:?}");
        let left = processes_with(&m);
        assert!(left.is_empty(), "{iso:?}: processes of the run left: {left:?}");
    }
}

#[test]
fn the_process_limit_holds() {
    let cfg = SandboxConfig { max_processes: 8, ..quick() };
    for (iso, sb) in each_isolation(cfg) {
        let code = "import os, time\n\
                    kids = 0\n\
                    for _ in range(40):\n    try:\n        pid = os.fork()\n    except OSError:\n        continue\n    if pid == 0:\n        time.sleep(5)\n        os._exit(0)\n    kids += 1\n\
                    print(kids)\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        let kids: u32 = o.stdout.trim().parse().unwrap();
        // Eight processes in all (the main one included) under the run's own uid.
        assert!((1..=7).contains(&kids), "{iso:?}: {kids} children");
        assert!(o.wall_ms < 3_000, "{iso:?}: the sleeping children were killed: {o:?}");
    }
}

#[test]
fn the_run_sees_only_its_own_processes_under_namespaces() {
    for (iso, sb) in each_isolation(quick()) {
        let code = "import os\nprint(os.getpid())\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) if os.path.isdir('/proc/self') else 'no /proc')\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        if iso == autodidact_sandbox::Isolation::Namespaces {
            assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
            assert_eq!(o.stdout, "2\n[1, 2]\n", "{iso:?}: the keeper is PID 1, the main process PID 2");
        }
    }
}
