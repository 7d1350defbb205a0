//! The parent's side of a run: read stdout, stderr and the report pipe together (one
//! `poll` loop, so a program flooding one stream cannot block on the other), keep at most
//! the cap of each stream, and stop the run at its wall-time limit.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::linux::child::Report;
use crate::outcome::Stop;

/// How long the keeper gets to kill and reap the run after being asked to stop, before
/// it is killed itself.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long stdout and stderr may stay open once the keeper has exited (only a process
/// that escaped the keeper could hold them).
const LINGER: Duration = Duration::from_millis(500);

/// One output stream.
#[derive(Default)]
pub(crate) struct Stream {
    fd: Option<OwnedFd>,
    /// What was kept, at most the cap.
    pub kept: Vec<u8>,
    /// Whether more than the cap arrived.
    pub truncated: bool,
}

impl Stream {
    pub(crate) fn new(fd: OwnedFd) -> Stream {
        Stream { fd: Some(fd), ..Stream::default() }
    }
}

/// What the parent saw of a run.
pub(crate) struct Captured {
    pub stdout: Stream,
    pub stderr: Stream,
    pub reports: Vec<Report>,
    /// Why the parent stopped the run, if it did.
    pub stop: Option<Stop>,
}

/// The limits the loop enforces.
pub(crate) struct Limits {
    pub deadline: Instant,
    pub max_output: usize,
    pub kill_on_output_limit: bool,
}

fn signal(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: `pid` is our unreaped child, so the pid cannot have been reused.
    unsafe { libc::kill(pid, sig) };
}

/// Reads until the keeper `keeper` has exited and the streams are closed.
pub(crate) fn capture(keeper: libc::pid_t, stdout: Stream, stderr: Stream, report: OwnedFd, limits: &Limits) -> Captured {
    let mut streams = [stdout, stderr];
    let mut report = Some(report);
    let mut report_bytes: Vec<u8> = Vec::new();
    let mut stop = None;
    let mut asked_at: Option<Instant> = None;
    let mut killed_at: Option<Instant> = None;
    let mut keeper_gone_at: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let now = Instant::now();
        if stop.is_none() && report.is_some() && now >= limits.deadline {
            stop = Some(Stop::Wall);
        }
        if stop.is_some() && asked_at.is_none() && report.is_some() {
            signal(keeper, libc::SIGUSR1);
            asked_at = Some(now);
        }
        if let Some(t) = asked_at
            && killed_at.is_none()
            && now >= t + STOP_GRACE
        {
            signal(keeper, libc::SIGKILL);
            killed_at = Some(now);
        }
        let streams_open = streams.iter().any(|s| s.fd.is_some());
        if report.is_none() {
            let gone = *keeper_gone_at.get_or_insert(now);
            if !streams_open || now >= gone + LINGER {
                break;
            }
        }
        if killed_at.is_some_and(|t| now >= t + STOP_GRACE) {
            break; // the keeper is dead; whatever still holds a pipe is abandoned
        }

        let mut next = limits.deadline;
        if let Some(t) = asked_at {
            next = t + STOP_GRACE;
        }
        if let Some(t) = killed_at {
            next = t + STOP_GRACE;
        }
        if let Some(t) = keeper_gone_at {
            next = next.min(t + LINGER);
        }
        let timeout = next.saturating_duration_since(now).as_millis().clamp(1, i32::MAX as u128) as i32;

        let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(3);
        let mut who: Vec<usize> = Vec::with_capacity(3);
        for (i, s) in streams.iter().enumerate() {
            if let Some(fd) = &s.fd {
                pfds.push(libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
                who.push(i);
            }
        }
        if let Some(fd) = &report {
            pfds.push(libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            who.push(2);
        }
        // SAFETY: `pfds` is a valid array of `pfds.len()` entries.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
        if n <= 0 {
            continue; // timeout or EINTR: the checks above decide
        }
        for (pfd, &i) in pfds.iter().zip(&who) {
            if pfd.revents == 0 {
                continue;
            }
            // SAFETY: reading into our own buffer from a descriptor we own.
            let got = unsafe { libc::read(pfd.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if got < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
            }
            if got <= 0 {
                if i == 2 {
                    report = None;
                } else {
                    streams[i].fd = None;
                }
                continue;
            }
            let data = &buf[..got as usize];
            if i == 2 {
                report_bytes.extend_from_slice(data);
                continue;
            }
            let s = &mut streams[i];
            let room = limits.max_output.saturating_sub(s.kept.len());
            s.kept.extend_from_slice(&data[..data.len().min(room)]);
            if data.len() > room {
                s.truncated = true;
                if limits.kill_on_output_limit && stop.is_none() {
                    stop = Some(Stop::Output);
                }
            }
        }
    }
    let [stdout, stderr] = streams;
    Captured { stdout, stderr, reports: parse_reports(&report_bytes), stop }
}

fn parse_reports(bytes: &[u8]) -> Vec<Report> {
    bytes
        .chunks_exact(size_of::<Report>())
        .map(|chunk| {
            // SAFETY: `Report` is plain old data of exactly this size; any bytes are valid.
            unsafe { std::ptr::read_unaligned(chunk.as_ptr() as *const Report) }
        })
        .collect()
}
