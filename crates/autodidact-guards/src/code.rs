//! Code answers taken apart for executable verification: the solution and its tests.
//!
//! A model asked for a Python solution (and, without given tests, tests of its own) answers
//! in prose with fenced blocks. [`split_answer`] finds the blocks (```` ```python ````,
//! ```` ```py ````, a bare ```` ``` ````; ```` ~~~ ```` fences too) and decides which is the
//! solution and which the tests: a block whose code is mostly `assert` lines (or
//! `unittest`/`pytest`-style test functions) is tests, the first other block is the solution.
//! Given tests (from the task) take the place of any the model wrote. Running them is the
//! sandbox's job (`autodidact-sandbox`); this module only reads text.
//!
//! ```
//! use autodidact_guards::code::split_answer;
//! let answer = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```\nTests:\n```python\nassert add(2, 3) == 5\n```\n";
//! let parts = split_answer(answer, None).unwrap();
//! assert_eq!(parts.solution, "def add(a, b):\n    return a + b\n");
//! assert_eq!(parts.tests, "assert add(2, 3) == 5\n");
//! assert!(!parts.tests_given);
//! ```

use serde::{Deserialize, Serialize};

/// One fenced block of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The info string after the opening fence, lowercased (`python`, `py`, ``).
    pub lang: String,
    /// The code, every line ending in `\n`.
    pub code: String,
}

/// The solution and the tests it is checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeParts {
    /// The solution's code.
    pub solution: String,
    /// The tests' code (plain asserts, or test functions).
    pub tests: String,
    /// Whether the tests were given by the task (`true`) or written by the model.
    pub tests_given: bool,
}

/// Languages a block may be tagged with and still be taken as Python.
const PYTHON_TAGS: &[&str] = &["", "python", "python3", "py", "py3"];

/// The fenced blocks of a text, in order. An unclosed last block runs to the end of the text
/// (a model cut off by its token limit still shows what it wrote).
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let Some(fence) = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f)) else { continue };
        let lang = trimmed[fence.len()..].trim().to_lowercase();
        let lang = lang.split_whitespace().next().unwrap_or("").to_string();
        let indent = line.len() - trimmed.len();
        let mut code = String::new();
        for body in lines.by_ref() {
            if body.trim_start().starts_with(fence) && body.trim() == fence {
                break;
            }
            // Lines of an indented fence lose the fence's indentation.
            let cut = body.len() - body.trim_start().len();
            code.push_str(&body[cut.min(indent)..]);
            code.push('\n');
        }
        out.push(Block { lang, code });
    }
    out
}

/// Whether a block of code is tests: most of its statements are `assert`s, or it defines
/// `test_` functions or a `unittest` case.
pub fn is_tests(code: &str) -> bool {
    let statements: Vec<&str> = code
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if statements.is_empty() {
        return false;
    }
    let defines_code = statements.iter().any(|l| (l.starts_with("def ") && !l.starts_with("def test")) || l.starts_with("class ") && !l.contains("TestCase"));
    if statements.iter().any(|l| l.starts_with("def test") || l.contains("unittest.TestCase")) && !defines_code {
        return true;
    }
    let asserts = statements.iter().filter(|l| l.starts_with("assert ") || l.starts_with("assert(")).count();
    !defines_code && asserts * 2 >= statements.len()
}

/// The solution and tests of an answer. `given_tests` (the task's own tests) replace any the
/// model wrote. Errors say what is missing, in words fit for a rejection reason.
pub fn split_answer(answer: &str, given_tests: Option<&str>) -> Result<CodeParts, String> {
    let python: Vec<Block> = blocks(answer).into_iter().filter(|b| PYTHON_TAGS.contains(&b.lang.as_str())).collect();
    if python.is_empty() {
        return Err("no Python code block in the answer".into());
    }
    let (test_blocks, code_blocks): (Vec<&Block>, Vec<&Block>) = python.iter().partition(|b| is_tests(&b.code));
    let Some(solution) = code_blocks.first() else {
        return Err("the answer has tests but no solution".into());
    };
    let given = given_tests.map(str::trim).filter(|t| !t.is_empty());
    let tests = match given {
        Some(t) => format!("{t}\n"),
        None => {
            // Asserts written inside the solution's block count as its tests when there is no
            // block of tests.
            let written: String = test_blocks.iter().map(|b| b.code.as_str()).collect();
            if written.trim().is_empty() {
                return Err("no tests: the answer has no block of asserts and the task gave none".into());
            }
            written
        }
    };
    Ok(CodeParts { solution: solution.code.clone(), tests, tests_given: given.is_some() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_tags() {
        let text = "intro\n```Python\nx = 1\n```\n~~~py\ny = 2\n~~~\n```js\nz = 3\n```\n```\nw = 4";
        let b = blocks(text);
        assert_eq!(b.len(), 4);
        assert_eq!((b[0].lang.as_str(), b[0].code.as_str()), ("python", "x = 1\n"));
        assert_eq!((b[1].lang.as_str(), b[1].code.as_str()), ("py", "y = 2\n"));
        assert_eq!(b[2].lang, "js");
        // Unclosed: runs to the end.
        assert_eq!((b[3].lang.as_str(), b[3].code.as_str()), ("", "w = 4\n"));
        // An indented fence (inside a list item) loses its indentation, not the code's.
        let b = blocks("1. Code:\n   ```python\n   def f():\n       return 1\n   ```\n");
        assert_eq!(b[0].code, "def f():\n    return 1\n");
        assert!(blocks("no code here").is_empty());
    }

    #[test]
    fn tests_are_told_from_solutions() {
        assert!(is_tests("assert f(1) == 2\nassert f(2) == 4\n"));
        assert!(is_tests("# checks\nassert f(1) == 2\nprint('ok')\n"));
        assert!(is_tests("def test_f():\n    assert f(1) == 2\n"));
        assert!(is_tests("import unittest\nclass T(unittest.TestCase):\n    def test_a(self):\n        self.assertEqual(f(1), 2)\n"));
        assert!(!is_tests("def f(x):\n    assert x > 0\n    return 2 * x\n"));
        assert!(!is_tests("x = 1\ny = 2\nassert x < y\n"));
        assert!(!is_tests(""));
    }

    #[test]
    fn answers_split_into_solution_and_tests() {
        let a = "```python\ndef f(x):\n    return 2 * x\n```\n```python\nassert f(2) == 4\n```";
        let p = split_answer(a, None).unwrap();
        assert_eq!(p.solution, "def f(x):\n    return 2 * x\n");
        assert_eq!(p.tests, "assert f(2) == 4\n");
        // Given tests win over the model's own.
        let p = split_answer(a, Some("assert f(3) == 6")).unwrap();
        assert_eq!((p.tests.as_str(), p.tests_given), ("assert f(3) == 6\n", true));
        // Tests first, then the solution: order does not matter.
        let p = split_answer("```\nassert g() == 1\n```\n```py\ndef g():\n    return 1\n```", None).unwrap();
        assert_eq!(p.solution, "def g():\n    return 1\n");
        // What is missing is said.
        assert_eq!(split_answer("def f(): pass", None).unwrap_err(), "no Python code block in the answer");
        assert!(split_answer("```python\ndef f():\n    return 1\n```", None).unwrap_err().starts_with("no tests"));
        assert!(split_answer("```python\ndef f():\n    return 1\n```", Some("assert f() == 1")).is_ok());
        assert_eq!(split_answer("```python\nassert 1\n```", None).unwrap_err(), "the answer has tests but no solution");
        // A block in another language is not taken for Python.
        assert!(split_answer("```rust\nfn main() {}\n```", Some("assert True")).is_err());
    }
}
