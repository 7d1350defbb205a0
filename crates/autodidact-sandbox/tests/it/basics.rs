//! Ordinary programs: a right solution passes, a wrong one fails with its assertion, a
//! syntax error fails; stdin, several files, the environment.

use autodidact_sandbox::{Program, Status};

use crate::support::{each_isolation, quick};

const CODE: &str = "def add(a, b):\n    return a + b\n";
const TESTS: &str = "from solution import add\n\nassert add(2, 3) == 5\nassert add(-1, 1) == 0\nprint('ok')\n";

#[test]
fn a_correct_solution_passes_its_tests() {
    for (iso, sb) in each_isolation(quick()) {
        let o = sb.run_tests(CODE, TESTS).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        assert_eq!(o.stdout, "ok\n", "{iso:?}");
        assert_eq!(o.isolation, iso);
        assert!(o.wall_ms < 5000, "{iso:?}: {o:?}");
    }
}

#[test]
fn a_wrong_solution_fails_with_its_assertion() {
    for (iso, sb) in each_isolation(quick()) {
        let o = sb.run_tests("def add(a, b):\n    return a - b\n", TESTS).unwrap();
        assert_eq!(o.status, Status::Failed { exit_code: 1 }, "{iso:?}: {o:#?}");
        assert!(o.stderr.contains("AssertionError"), "{iso:?}: {}", o.stderr);
        assert!(o.stderr.contains("assert add(2, 3) == 5"), "{iso:?}: {}", o.stderr);
    }
}

#[test]
fn a_syntax_error_fails() {
    for (iso, sb) in each_isolation(quick()) {
        let o = sb.run_tests("def add(a, b)\n    return a + b\n", TESTS).unwrap();
        assert_eq!(o.status, Status::Failed { exit_code: 1 }, "{iso:?}: {o:#?}");
        assert!(o.stderr.contains("SyntaxError"), "{iso:?}: {}", o.stderr);
    }
}

#[test]
fn stdin_packages_and_exit_codes() {
    for (iso, sb) in each_isolation(quick()) {
        let p = Program::script("import sys\nfrom pkg.util import double\nprint(double(int(sys.stdin.read())))\nsys.exit(3)\n")
            .with_file("pkg/__init__.py", "")
            .with_file("pkg/util.py", "def double(x):\n    return 2 * x\n")
            .with_stdin("21\n");
        let o = sb.run_python(&p).unwrap();
        assert_eq!(o.status, Status::Failed { exit_code: 3 }, "{iso:?}: {o:#?}");
        assert_eq!(o.stdout, "42\n", "{iso:?}");
        // No stdin given: /dev/null.
        let o = sb.run_python(&Program::script("import sys\nassert sys.stdin.read() == ''\n")).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
    }
}

#[test]
fn the_environment_is_the_sandboxs_own() {
    for (iso, sb) in each_isolation(quick()) {
        let code = "import os, sys\n\
                    env = dict(os.environ)\n\
                    assert os.getcwd() == env['HOME'], (os.getcwd(), env)\n\
                    assert set(env) <= {'PATH', 'HOME', 'TMPDIR', 'LANG', 'PYTHONHASHSEED', 'PYTHONDONTWRITEBYTECODE', 'PYTHONUNBUFFERED', 'LC_CTYPE'}, env\n\
                    assert hash('abc') == hash('abc') and sys.flags.hash_randomization == 0\n\
                    assert sys.flags.no_site == 1\n\
                    import json, re, collections, itertools, math, tempfile, unittest, subprocess\n\
                    with tempfile.TemporaryFile() as f:\n    f.write(b'x')\n\
                    print(subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True).stdout, end='')\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        assert_eq!(o.stdout, "42\n", "{iso:?}");
    }
}

#[test]
fn crashes_are_signals() {
    for (iso, sb) in each_isolation(quick()) {
        let o = sb.run_python(&Program::script("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n")).unwrap();
        assert_eq!(o.status, Status::Signaled { signal: 15 }, "{iso:?}: {o:#?}");
        let o = sb.run_python(&Program::script("import os\nos.abort()\n")).unwrap();
        assert_eq!(o.status, Status::Signaled { signal: 6 }, "{iso:?}: {o:#?}");
    }
}

#[test]
fn a_main_file_named_like_an_option_is_still_a_file() {
    for (iso, sb) in each_isolation(quick()) {
        let p = Program { files: vec![("-c".into(), "print('file')".into())], main: "-c".into(), stdin: None };
        let o = sb.run_python(&p).unwrap();
        assert_eq!((o.status, o.stdout.as_str()), (Status::Passed, "file\n"), "{iso:?}: {o:#?}");
    }
}

#[test]
fn one_sandbox_runs_programs_from_several_threads_at_once() {
    fn shared<T: Send + Sync>(_: &T) {}
    for (iso, sb) in each_isolation(quick()) {
        shared(&sb);
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..4)
                .map(|i| {
                    let sb = &sb;
                    s.spawn(move || {
                        sb.run_python(&Program::script(&format!("import time\ntime.sleep(0.2)\nprint({i})"))).unwrap()
                    })
                })
                .collect();
            for (i, r) in runs.into_iter().enumerate() {
                let o = r.join().unwrap();
                assert_eq!((o.status, o.stdout), (Status::Passed, format!("{i}\n")), "{iso:?}");
            }
        });
    }
}

#[test]
fn files_the_program_creates_get_an_ordinary_umask() {
    for (iso, sb) in each_isolation(quick()) {
        let o = sb.run_python(&Program::script("import os\nopen('f', 'w').close()\nos.mkdir('d')\nprint(oct(os.stat('f').st_mode & 0o777), oct(os.stat('d').st_mode & 0o777))")).unwrap();
        assert_eq!(o.stdout, "0o644 0o755\n", "{iso:?}: {o:#?}");
    }
}
