//! The configuration: defaults round-trip, unknown keys and bad limits are errors, a
//! missing interpreter is an error, not an outcome.

use std::path::PathBuf;

use autodidact_sandbox::{IsolationMode, Sandbox, SandboxConfig, SandboxError};

#[test]
fn the_default_config_round_trips_through_toml_and_json() {
    let cfg = SandboxConfig::default();
    let text = toml::to_string(&cfg).unwrap();
    assert_eq!(toml::from_str::<SandboxConfig>(&text).unwrap(), cfg, "{text}");
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<SandboxConfig>(&json).unwrap(), cfg);
    assert_eq!(toml::from_str::<SandboxConfig>("").unwrap(), cfg);
    assert_eq!(cfg.wall_time_secs, 10);
    assert_eq!(cfg.cpu_time_secs, 5);
    assert_eq!(cfg.memory_mb, 512);
    assert_eq!(cfg.max_output_bytes, 64 * 1024);
    assert_eq!(cfg.max_processes, 32);
    assert_eq!(cfg.max_file_mb, 16);
    assert_eq!(cfg.isolation, IsolationMode::Auto);
}

#[test]
fn keys_and_values() {
    let cfg: SandboxConfig = toml::from_str("isolation = \"fallback\"\nwall_time_secs = 3\npython = \"python3\"").unwrap();
    assert_eq!(cfg.isolation, IsolationMode::Fallback);
    assert_eq!(cfg.wall_time_secs, 3);
    assert_eq!(cfg.python, PathBuf::from("python3"));
    let err = toml::from_str::<SandboxConfig>("wall_time = 3").unwrap_err().to_string();
    assert!(err.contains("unknown field `wall_time`"), "{err}");
    let err = toml::from_str::<SandboxConfig>("isolation = \"chroot\"").unwrap_err().to_string();
    assert!(err.contains("unknown variant `chroot`"), "{err}");
}

#[test]
fn bad_limits_are_errors() {
    for cfg in [
        SandboxConfig { wall_time_secs: 0, ..SandboxConfig::default() },
        SandboxConfig { cpu_time_secs: 0, ..SandboxConfig::default() },
        SandboxConfig { memory_mb: 8, ..SandboxConfig::default() },
        SandboxConfig { max_processes: 0, ..SandboxConfig::default() },
    ] {
        let err = Sandbox::new(cfg).unwrap_err();
        assert!(matches!(err, SandboxError::Config { .. }), "{err}");
    }
}

#[test]
fn a_missing_interpreter_is_an_error() {
    let cfg = SandboxConfig { python: "/nonexistent/python3".into(), ..SandboxConfig::default() };
    let err = Sandbox::new(cfg).unwrap_err();
    assert!(matches!(err, SandboxError::PythonMissing { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/python3"), "{err}");
    let cfg = SandboxConfig { python: "no-such-python-anywhere".into(), ..SandboxConfig::default() };
    assert!(matches!(Sandbox::new(cfg), Err(SandboxError::PythonMissing { .. })));
    let cfg = SandboxConfig { python: "/bin/false".into(), ..SandboxConfig::default() };
    let err = Sandbox::new(cfg).unwrap_err();
    assert!(matches!(err, SandboxError::NotPython3 { .. }), "{err}");
}

#[test]
fn auto_picks_namespaces_where_permitted() {
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    let expected = if Sandbox::namespaces_permitted().is_ok() {
        autodidact_sandbox::Isolation::Namespaces
    } else {
        autodidact_sandbox::Isolation::Fallback
    };
    assert_eq!(sb.isolation(), expected);
}

#[test]
fn a_python_on_path_is_resolved_to_its_real_binary() {
    // `python3` on PATH (here possibly a pyenv shim under /root) is run once, outside the
    // sandbox, to find the real binary, which namespaces then show read-only.
    let cfg = SandboxConfig { python: "python3".into(), ..crate::support::quick() };
    let script = autodidact_sandbox::Program::script("import sys\nprint(sys.version_info[0])");
    if Sandbox::namespaces_permitted().is_ok() {
        let sb = Sandbox::new(SandboxConfig { isolation: IsolationMode::Namespaces, ..cfg.clone() }).unwrap();
        let o = sb.run_python(&script).unwrap();
        assert_eq!(o.status, autodidact_sandbox::Status::Passed, "{o:#?}");
        assert_eq!(o.stdout, "3\n");
    }
    // The fallback's own uid may not reach it: then a clear error, up front.
    match Sandbox::new(SandboxConfig { isolation: IsolationMode::Fallback, ..cfg }) {
        Ok(sb) => assert!(sb.run_python(&script).unwrap().passed()),
        Err(SandboxError::PythonNotReachable { path, blocked }) => {
            assert!(path.starts_with(&blocked), "{} {}", path.display(), blocked.display());
        }
        Err(e) => panic!("{e}"),
    }
}
