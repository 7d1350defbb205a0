//! `Program`: the files of one run, which one to run, and its stdin; file names checked
//! before anything is written.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::SandboxError;

/// The solution's file name in [`Program::tests`].
pub const SOLUTION_FILE: &str = "solution.py";
/// The tests' file name in [`Program::tests`]: the file that runs.
pub const TESTS_FILE: &str = "test_solution.py";

/// Longest file name (one path component) accepted, as on Linux file systems.
const MAX_COMPONENT: usize = 255;
/// Longest relative path accepted.
const MAX_PATH: usize = 1024;

/// A program to run: its files, written into the run's private directory, the one of
/// them to run, and what its stdin reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// `(relative name, content)`: a name may have directories (`pkg/util.py`), never
    /// `..`, `.` or a leading `/`.
    pub files: Vec<(String, String)>,
    /// The file Python runs, one of `files`; its directory is first on `sys.path`.
    pub main: String,
    /// What stdin reads; `None` reads `/dev/null`.
    pub stdin: Option<String>,
}

impl Program {
    /// A program of one file, `main.py`.
    pub fn script(code: &str) -> Program {
        Program { files: vec![("main.py".into(), code.into())], main: "main.py".into(), stdin: None }
    }

    /// A solution and its tests: `solution.py` holds `code`, `test_solution.py` holds
    /// `tests` (which import from `solution`, plain `assert`s) and runs. Exit status 0 is a
    /// pass.
    pub fn tests(code: &str, tests: &str) -> Program {
        Program {
            files: vec![(SOLUTION_FILE.into(), code.into()), (TESTS_FILE.into(), tests.into())],
            main: TESTS_FILE.into(),
            stdin: None,
        }
    }

    /// The same program with one more file.
    pub fn with_file(mut self, name: &str, content: &str) -> Program {
        self.files.push((name.into(), content.into()));
        self
    }

    /// The same program reading `stdin`.
    pub fn with_stdin(mut self, stdin: &str) -> Program {
        self.stdin = Some(stdin.into());
        self
    }

    /// Checks every file name and that `main` is one of them; returns the directories to
    /// create before the files, parents first.
    pub fn validate(&self) -> Result<Vec<String>, SandboxError> {
        let mut files = BTreeSet::new();
        let mut dirs = BTreeSet::new();
        for (name, _) in &self.files {
            validate_name(name)?;
            if !files.insert(name.as_str()) {
                return Err(bad(name, "the name is given twice"));
            }
            let mut parent = Path::new(name).parent();
            while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
                dirs.insert(p.to_str().expect("validated as UTF-8").to_string());
                parent = p.parent();
            }
        }
        for name in &files {
            if dirs.contains(*name) {
                return Err(bad(name, "the name is both a file and a directory"));
            }
        }
        if !files.contains(self.main.as_str()) {
            return Err(SandboxError::MissingMain { main: self.main.clone() });
        }
        // Sorted order puts `a` before `a/b`: parents first.
        Ok(dirs.into_iter().collect())
    }
}

fn bad(name: &str, reason: &'static str) -> SandboxError {
    SandboxError::BadFileName { name: name.into(), reason }
}

/// Checks one relative file name: what it names must stay inside the run's directory
/// whatever the directory is, so only plain components are accepted.
pub fn validate_name(name: &str) -> Result<(), SandboxError> {
    if name.is_empty() {
        return Err(bad(name, "the name is empty"));
    }
    if name.len() > MAX_PATH {
        return Err(bad(name, "the name is longer than 1024 bytes"));
    }
    if name.contains('\0') {
        return Err(bad(name, "the name contains a NUL byte"));
    }
    if name.starts_with('/') {
        return Err(bad(name, "the name is an absolute path"));
    }
    if name.ends_with('/') {
        return Err(bad(name, "the name ends with `/`"));
    }
    // `Path::components` silently drops `.` and repeated slashes: look at the raw parts.
    for part in name.split('/') {
        match part {
            "" => return Err(bad(name, "the name has an empty component (`//`)")),
            "." => return Err(bad(name, "the name has a `.` component")),
            ".." => return Err(bad(name, "the name has a `..` component")),
            p if p.len() > MAX_COMPONENT => return Err(bad(name, "a component is longer than 255 bytes")),
            _ => {}
        }
    }
    debug_assert!(Path::new(name).components().all(|c| matches!(c, Component::Normal(_))));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(name: &str, ok: bool) {
        let got = validate_name(name);
        assert_eq!(got.is_ok(), ok, "{name:?}: {got:?}");
    }

    #[test]
    fn file_names() {
        check("solution.py", true);
        check("pkg/__init__.py", true);
        check("a b/c-d.py", true);
        check("..py", true);
        check("...", true);
        check("", false);
        check("../x.py", false);
        check("a/../../x.py", false);
        check("a/..", false);
        check("..", false);
        check(".", false);
        check("./x.py", false);
        check("/etc/passwd", false);
        check("a//b.py", false);
        check("a/", false);
        check("a\0b", false);
        check(&"x".repeat(256), false);
        check(&"x".repeat(255), true);
    }

    #[test]
    fn programs() {
        let p = Program::tests("x = 1", "from solution import x");
        assert_eq!(p.validate().unwrap(), Vec::<String>::new());
        let p = Program::script("").with_file("a/b/c.py", "").with_file("a/d.py", "");
        assert_eq!(p.validate().unwrap(), vec!["a".to_string(), "a/b".to_string()]);
        let p = Program::script("").with_file("main.py", "");
        assert!(matches!(p.validate(), Err(SandboxError::BadFileName { .. })));
        let p = Program::script("").with_file("a", "").with_file("a/b.py", "");
        assert!(matches!(p.validate(), Err(SandboxError::BadFileName { .. })));
        let p = Program { main: "other.py".into(), ..Program::script("") };
        assert!(matches!(p.validate(), Err(SandboxError::MissingMain { .. })));
    }
}
