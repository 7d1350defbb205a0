//! `Outcome`: what a run did, as data; `classify` turns how the run ended into a `Status`.

use serde::{Deserialize, Serialize};

/// What one run did. Whatever the program does — loop, fork, allocate, flood its output,
/// crash — ends up here; only the sandbox failing to start is a
/// [`SandboxError`](crate::SandboxError).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// How the run ended.
    pub status: Status,
    /// The program's stdout, up to `max_output_bytes`, decoded as UTF-8 (invalid bytes
    /// replaced).
    pub stdout: String,
    /// The program's stderr, likewise.
    pub stderr: String,
    /// Whether stdout had more than was kept.
    pub stdout_truncated: bool,
    /// Whether stderr had more than was kept.
    pub stderr_truncated: bool,
    /// Wall-clock time from starting the run to its last process being gone, in ms.
    pub wall_ms: u64,
    /// CPU time (user + system) of every process of the run, in ms.
    pub cpu_ms: u64,
    /// The isolation the run actually had.
    pub isolation: Isolation,
}

impl Outcome {
    /// Whether the program exited with status 0: its tests passed.
    pub fn passed(&self) -> bool {
        self.status == Status::Passed
    }
}

/// How a run ended. The run is the main Python process's lifetime: when it ends, every
/// process it started is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Status {
    /// Exit status 0.
    Passed,
    /// A non-zero exit status: a failed assertion, an exception, a syntax error.
    Failed {
        /// The exit status.
        exit_code: i32,
    },
    /// Killed by a signal that is not one of the limits below.
    Signaled {
        /// The signal number.
        signal: i32,
    },
    /// Still running at `wall_time_secs`; the whole run was killed.
    WallTimeout,
    /// The main process reached `cpu_time_secs` (`SIGXCPU`, or `SIGKILL` once past it).
    CpuTimeout,
    /// The program ran out of its address space (`memory_mb`). Best effort: recognised by
    /// Python's `MemoryError` ending stderr, or a crash (`SIGSEGV`, `SIGABRT`, `SIGBUS`,
    /// `SIGKILL`) with an out-of-memory message in stderr. A program that catches its
    /// `MemoryError` and fails some other way is `Failed`.
    MemoryLimit,
    /// A stream passed `max_output_bytes` and `kill_on_output_limit` is set; the run was
    /// killed.
    OutputLimit,
}

/// Which isolation a run had: see the crate documentation for what each guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Private mount, PID, network, IPC and UTS namespaces, a new root of read-only system
    /// directories, and the fallback's limits inside.
    Namespaces,
    /// No namespaces: rlimits, a user id of the run's own (when started as root), seccomp
    /// and, where the kernel has it, Landlock.
    Fallback,
}

/// How the main process ended, as `wait` reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Exited with this status.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// Why the sandbox stopped a run before its main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `wall_time_secs` passed.
    Wall,
    /// A stream passed `max_output_bytes` with `kill_on_output_limit`.
    Output,
}

const SIGKILL: i32 = 9;
const SIGSEGV: i32 = 11;
const SIGABRT: i32 = 6;
const SIGBUS: i32 = 7;
const SIGXCPU: i32 = 24;

/// The status of a run: `stop` is why the sandbox stopped it (if it did before the main
/// process ended), `exit` how the main process ended, `main_cpu_ms` the main process's
/// CPU time (with its reaped children), `stderr` what was kept of it.
pub(crate) fn classify(stop: Option<Stop>, exit: Option<Exit>, main_cpu_ms: u64, cpu_limit_secs: u64, stderr: &str) -> Status {
    match stop {
        Some(Stop::Wall) => return Status::WallTimeout,
        Some(Stop::Output) => return Status::OutputLimit,
        None => {}
    }
    let Some(exit) = exit else { return Status::WallTimeout };
    // RLIMIT_CPU counts whole ticks; a process killed at the hard limit has used at least
    // the soft one.
    let over_cpu = main_cpu_ms + 50 >= cpu_limit_secs * 1000;
    match exit {
        Exit::Signal(SIGXCPU) => Status::CpuTimeout,
        Exit::Signal(SIGKILL) if over_cpu => Status::CpuTimeout,
        Exit::Signal(s @ (SIGSEGV | SIGABRT | SIGBUS | SIGKILL)) => {
            if mentions_out_of_memory(stderr) {
                Status::MemoryLimit
            } else {
                Status::Signaled { signal: s }
            }
        }
        Exit::Signal(s) => Status::Signaled { signal: s },
        Exit::Code(0) => Status::Passed,
        Exit::Code(c) => {
            if ends_with_memory_error(stderr) {
                Status::MemoryLimit
            } else {
                Status::Failed { exit_code: c }
            }
        }
    }
}

/// Python's traceback ends with the exception: `MemoryError` (usually without a message).
fn ends_with_memory_error(stderr: &str) -> bool {
    stderr.lines().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.trim_start().starts_with("MemoryError"))
}

fn mentions_out_of_memory(stderr: &str) -> bool {
    ["MemoryError", "Cannot allocate memory", "out of memory", "Out of memory"].iter().any(|m| stderr.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(stop: Option<Stop>, exit: Option<Exit>, cpu_ms: u64, stderr: &str, expected: Status) {
        assert_eq!(classify(stop, exit, cpu_ms, 2, stderr), expected);
    }

    #[test]
    fn statuses() {
        use Exit::*;
        check(None, Some(Code(0)), 10, "", Status::Passed);
        check(None, Some(Code(0)), 10, "MemoryError\n", Status::Passed);
        check(None, Some(Code(1)), 10, "Traceback...\nAssertionError\n", Status::Failed { exit_code: 1 });
        check(None, Some(Code(3)), 10, "", Status::Failed { exit_code: 3 });
        check(
            None,
            Some(Code(1)),
            10,
            "Traceback (most recent call last):\n  File \"m.py\"\nMemoryError\n\n",
            Status::MemoryLimit,
        );
        check(None, Some(Code(1)), 10, "MemoryError: cannot allocate\n", Status::MemoryLimit);
        check(None, Some(Code(1)), 10, "MemoryError\nDuring handling...\nValueError: x\n", Status::Failed { exit_code: 1 });
        check(None, Some(Signal(SIGXCPU)), 10, "", Status::CpuTimeout);
        check(None, Some(Signal(SIGKILL)), 1990, "", Status::CpuTimeout);
        check(None, Some(Signal(SIGKILL)), 100, "", Status::Signaled { signal: 9 });
        check(None, Some(Signal(SIGSEGV)), 100, "", Status::Signaled { signal: 11 });
        check(None, Some(Signal(SIGABRT)), 100, "Fatal Python error: out of memory\n", Status::MemoryLimit);
        check(None, Some(Signal(15)), 100, "MemoryError", Status::Signaled { signal: 15 });
        check(Some(Stop::Wall), Some(Code(0)), 10, "", Status::WallTimeout);
        check(Some(Stop::Wall), None, 10, "", Status::WallTimeout);
        check(Some(Stop::Output), None, 10, "", Status::OutputLimit);
    }

    #[test]
    fn outcome_round_trips_through_json() {
        let o = Outcome {
            status: Status::Failed { exit_code: 2 },
            stdout: "a".into(),
            stderr: "b".into(),
            stdout_truncated: true,
            stderr_truncated: false,
            wall_ms: 12,
            cpu_ms: 3,
            isolation: Isolation::Namespaces,
        };
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains(r#""status":{"kind":"failed","exit_code":2}"#), "{json}");
        assert!(json.contains(r#""isolation":"namespaces""#), "{json}");
        assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), o);
    }
}
