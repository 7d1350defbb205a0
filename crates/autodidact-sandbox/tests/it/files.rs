//! Files: the program writes only its own directory, and cannot read the user's files
//! (under namespaces they are not there; the fallback's guarantees are weaker, and tested
//! as documented). A bad file name is an error, and nothing is written.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use autodidact_sandbox::{Isolation, Program, SandboxError, Status};

use crate::support::{each_isolation_and_no_landlock, outside_dir, quick, root};

/// Python that tries to create `path` and prints `WROTE path` or `REFUSED path: error`.
fn try_write(path: &str) -> String {
    format!(
        "try:\n    with open(os.path.expanduser({path:?}), 'w') as f:\n        f.write('pwned')\n    print('WROTE', {path:?})\nexcept OSError as e:\n    print('REFUSED', {path:?}, e)\n"
    )
}

#[test]
fn writing_outside_the_run_directory_fails() {
    let outside = outside_dir();
    // Like a user's project directory: the user's own, not writable by others.
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let open_dir = outside_dir();
    // And a world-writable one, like /tmp: only namespaces or Landlock keep it closed.
    std::fs::set_permissions(open_dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let targets = [
        outside.path().join("pwned.txt"),
        open_dir.path().join("pwned.txt"),
        Path::new("/etc/autodidact-sandbox-test").to_path_buf(),
    ];
    for (iso, sb) in each_isolation_and_no_landlock(quick()) {
        let mut code = String::from("import os\n");
        for t in &targets {
            code += &try_write(t.to_str().unwrap());
        }
        code += &try_write("~root/autodidact-sandbox-test");
        code += "with open('own.txt', 'w') as f:\n    f.write('mine')\nos.mkdir('sub')\nwith open('sub/x', 'w') as f:\n    f.write('x')\nwith open(os.path.join(os.environ['TMPDIR'], 't'), 'w') as f:\n    f.write('t')\nprint('OWN OK', open('own.txt').read())\n";
        let o = sb.run_python(&Program::script(&code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        assert!(o.stdout.contains("OWN OK mine"), "{iso:?}: {}", o.stdout);
        let bare_fallback = iso == Isolation::Fallback && !sb.landlock();
        for t in &targets {
            let wrote = o.stdout.lines().any(|l| l == format!("WROTE {}", t.display()));
            let ours = !t.starts_with("/etc");
            if bare_fallback && ours && (t.starts_with(open_dir.path()) || !root()) {
                // The documented weakness of the fallback without Landlock: the run's uid may
                // write where anyone may — and, not started as root, where the caller may.
                assert!(wrote && t.exists(), "{iso:?}: {}", o.stdout);
                std::fs::remove_file(t).unwrap();
                continue;
            }
            assert!(!wrote && !t.exists(), "{iso:?}: {} was written; stdout: {}", t.display(), o.stdout);
        }
        assert!(!Path::new("/root/autodidact-sandbox-test").exists(), "{iso:?}");
        assert!(!o.stdout.contains("WROTE ~root"), "{iso:?}: {}", o.stdout);
    }
}

#[test]
fn the_users_files_are_hidden_under_namespaces_and_closed_in_the_fallback() {
    let outside = outside_dir();
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let public = outside.path().join("source.rs");
    std::fs::write(&public, "fn secret() {}").unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();
    let private = outside.path().join("key");
    std::fs::write(&private, "hunter2").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let paths = [&public, &private, &manifest];
    for (iso, sb) in each_isolation_and_no_landlock(quick()) {
        let mut code = String::from("import os\n");
        for p in paths {
            let p = p.to_str().unwrap();
            code += &format!(
                "try:\n    print('READ', {p:?}, len(open({p:?}).read()))\nexcept OSError as e:\n    print('REFUSED', {p:?}, e.errno)\nprint('EXISTS' if os.path.exists({p:?}) else 'ABSENT', {p:?})\n"
            );
        }
        let o = sb.run_python(&Program::script(&code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        let line = |what: &str, p: &Path| o.stdout.lines().any(|l| l.starts_with(what) && l.contains(p.to_str().unwrap()));
        match iso {
            Isolation::Namespaces => {
                for p in paths {
                    assert!(line("ABSENT", p), "{iso:?}: {} is visible: {}", p.display(), o.stdout);
                    assert!(!line("READ", p), "{iso:?}: {}", o.stdout);
                }
            }
            Isolation::Fallback => {
                if root() {
                    // The run's own uid: root's 0600 file is closed to it.
                    assert!(!line("READ", &private), "{iso:?}: {}", o.stdout);
                }
                // World-readable files: closed by Landlock where the kernel has it,
                // readable otherwise (documented).
                for p in [&public, &manifest] {
                    assert_eq!(line("READ", p), !sb.landlock(), "{iso:?} landlock={}: {}", sb.landlock(), o.stdout);
                }
            }
        }
    }
}

#[test]
fn a_bad_file_name_is_an_error_and_nothing_is_written() {
    let outside = outside_dir();
    let escape = format!("../{}/x.py", outside.path().file_name().unwrap().to_str().unwrap());
    for (iso, sb) in each_isolation_and_no_landlock(quick()) {
        for name in ["../x.py", escape.as_str(), "/tmp/x.py", "a/../../x.py", "./x.py", ""] {
            let p = Program::script("print(1)").with_file(name, "print('escaped')");
            let err = sb.run_python(&p).unwrap_err();
            assert!(matches!(err, SandboxError::BadFileName { .. }), "{iso:?} {name:?}: {err}");
            let msg = err.to_string();
            assert!(msg.contains("invalid program file name"), "{msg}");
        }
        let p = Program { main: "../main.py".into(), ..Program::script("print(1)") };
        assert!(matches!(sb.run_python(&p), Err(SandboxError::MissingMain { .. })), "{iso:?}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "{iso:?}");
        assert!(!std::env::temp_dir().join("x.py").exists(), "{iso:?}");
    }
}

#[test]
fn the_run_directory_is_removed_afterwards() {
    for (iso, sb) in each_isolation_and_no_landlock(quick()) {
        // Even a directory the program locked itself out of.
        let code = "import os\nos.makedirs('locked/inner')\nopen('locked/inner/f', 'w').close()\nos.chmod('locked/inner', 0)\nos.chmod('locked', 0)\nprint(os.getcwd())\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        if iso == Isolation::Fallback {
            let dir = Path::new(o.stdout.trim());
            assert!(dir.starts_with(std::env::temp_dir()), "{}", dir.display());
            assert!(!dir.exists(), "{iso:?}: {} is left", dir.display());
        } else {
            assert_eq!(o.stdout.trim(), "/sandbox");
        }
    }
}
