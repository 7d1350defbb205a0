//! The seccomp-BPF filter of the main process: no sockets but `AF_UNIX` (under
//! namespaces) or none at all (fallback), no io_uring (which can open sockets itself), and
//! nothing from a foreign system-call ABI.

use libc::sock_filter;

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
#[cfg(target_arch = "x86_64")]
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;

// Offsets in struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; }.
const NR: u32 = 0;
const ARCH: u32 = 4;
/// The low 32 bits of `args[0]` (little-endian): `socket`'s `int domain`.
const ARG0_LOW: u32 = 16;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// io_uring_setup, io_uring_enter, io_uring_register: the same numbers on every arch.
const IO_URING: [u32; 3] = [425, 426, 427];

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The filter, or `None` on an architecture it is not written for. `allow_unix` lets
/// `socket(AF_UNIX, …)` through; `socketpair` is always allowed (it reaches nothing).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn filter(allow_unix: bool) -> Option<Vec<sock_filter>> {
    let eperm = RET_ERRNO | libc::EPERM as u32;
    let mut p = vec![
        stmt(LD_W_ABS, ARCH),
        // A foreign ABI (i386 on x86_64, arm32 on aarch64) has its own numbers: kill.
        jump(JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, NR),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        // The x32 ABI: the same arch, numbers with bit 30 set.
        p.push(jump(JGE_K, 0x4000_0000, 0, 1));
        p.push(stmt(RET_K, RET_KILL_PROCESS));
    }
    for nr in IO_URING {
        p.push(jump(JEQ_K, nr, 0, 1));
        p.push(stmt(RET_K, eperm));
    }
    p.push(jump(JEQ_K, libc::SYS_socket as u32, 1, 0));
    p.push(stmt(RET_K, RET_ALLOW));
    p.push(stmt(LD_W_ABS, ARG0_LOW));
    if allow_unix {
        p.push(jump(JEQ_K, libc::AF_UNIX as u32, 0, 1));
        p.push(stmt(RET_K, RET_ALLOW));
    }
    p.push(stmt(RET_K, eperm));
    Some(p)
}

/// No filter for this architecture.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn filter(_allow_unix: bool) -> Option<Vec<sock_filter>> {
    None
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;

    /// A tiny interpreter of the instructions the filter uses, to check its jumps.
    fn run(prog: &[sock_filter], nr: u32, arch: u32, arg0: u32) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            match i.code {
                LD_W_ABS => {
                    acc = match i.k {
                        NR => nr,
                        ARCH => arch,
                        ARG0_LOW => arg0,
                        k => panic!("load at {k}"),
                    };
                    pc += 1;
                }
                RET_K => return i.k,
                code => {
                    let taken = match code {
                        JEQ_K => acc == i.k,
                        0x35 => acc >= i.k,
                        c => panic!("opcode {c:#x}"),
                    };
                    pc += 1 + if taken { i.jt as usize } else { i.jf as usize };
                }
            }
        }
    }

    #[test]
    fn decisions() {
        let socket = libc::SYS_socket as u32;
        let eperm = RET_ERRNO | libc::EPERM as u32;
        for allow_unix in [false, true] {
            let f = filter(allow_unix).unwrap();
            assert_eq!(run(&f, socket, AUDIT_ARCH, libc::AF_INET as u32), eperm);
            assert_eq!(run(&f, socket, AUDIT_ARCH, libc::AF_INET6 as u32), eperm);
            assert_eq!(run(&f, socket, AUDIT_ARCH, libc::AF_NETLINK as u32), eperm);
            let unix = if allow_unix { RET_ALLOW } else { eperm };
            assert_eq!(run(&f, socket, AUDIT_ARCH, libc::AF_UNIX as u32), unix);
            assert_eq!(run(&f, libc::SYS_read as u32, AUDIT_ARCH, 0), RET_ALLOW);
            assert_eq!(run(&f, libc::SYS_socketpair as u32, AUDIT_ARCH, libc::AF_UNIX as u32), RET_ALLOW);
            assert_eq!(run(&f, 425, AUDIT_ARCH, 0), eperm);
            assert_eq!(run(&f, socket, 0x4000_0003, libc::AF_INET as u32), RET_KILL_PROCESS);
            #[cfg(target_arch = "x86_64")]
            assert_eq!(run(&f, 0x4000_0000 | socket, AUDIT_ARCH, 0), RET_KILL_PROCESS);
        }
    }
}
