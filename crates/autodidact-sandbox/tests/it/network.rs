//! The network: no connection reaches a listener on the host, whatever the socket.

use std::io::ErrorKind;
use std::net::TcpListener;

use autodidact_sandbox::{Isolation, Program, Status};

use crate::support::{each_isolation_and_no_landlock, quick};

#[test]
fn a_socket_cannot_reach_the_host() {
    for (iso, sb) in each_isolation_and_no_landlock(quick()) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let code = format!(
            "import socket\n\
             try:\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('CONNECTED')\nexcept OSError as e:\n    print('REFUSED', type(e).__name__, e.errno)\n\
             try:\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    s.sendto(b'x', ('127.0.0.1', {port}))\n    print('SENT')\nexcept OSError as e:\n    print('REFUSED UDP', e.errno)\n\
             try:\n    s = socket.socket(socket.AF_INET6)\n    s.connect(('::1', {port}))\n    print('CONNECTED6')\nexcept OSError as e:\n    print('REFUSED6', e.errno)\n"
        );
        let o = sb.run_python(&Program::script(&code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        assert!(!o.stdout.contains("CONNECTED"), "{iso:?}: {}", o.stdout);
        assert!(!o.stdout.contains("SENT"), "{iso:?}: {}", o.stdout);
        assert!(o.stdout.contains("REFUSED PermissionError 1"), "{iso:?}: the seccomp filter refuses the socket: {}", o.stdout);
        match listener.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("{iso:?}: the listener got {other:?}"),
        }
    }
}

#[test]
fn unix_sockets_only_under_namespaces_socketpairs_everywhere() {
    for (iso, sb) in each_isolation_and_no_landlock(quick()) {
        let code = "import socket\n\
                    a, b = socket.socketpair()\na.sendall(b'ping')\nassert b.recv(4) == b'ping'\n\
                    try:\n    socket.socket(socket.AF_UNIX)\n    print('UNIX')\nexcept PermissionError:\n    print('NO UNIX')\n\
                    try:\n    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)\n    print('NETLINK')\nexcept PermissionError:\n    print('NO NETLINK')\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        let unix = if iso == Isolation::Namespaces { "UNIX\n" } else { "NO UNIX\n" };
        assert_eq!(o.stdout, format!("{unix}NO NETLINK\n"), "{iso:?}");
    }
}

#[test]
fn the_network_namespace_alone_has_no_route_out() {
    // Without the filter's help: a socket created before the filter cannot exist, so check
    // the namespace itself through what it shows.
    for (iso, sb) in each_isolation_and_no_landlock(quick()) {
        if iso != Isolation::Namespaces {
            continue;
        }
        let code = "import os\nprint(sorted(os.listdir('/proc/self/net/dev_snmp6')) if os.path.isdir('/proc/self/net/dev_snmp6') else open('/proc/self/net/dev').read().count(':'))\n";
        let o = sb.run_python(&Program::script(code)).unwrap();
        assert_eq!(o.status, Status::Passed, "{iso:?}: {o:#?}");
        // Only `lo`: one interface.
        let out = o.stdout.trim();
        assert!(out == "['lo']" || out == "1", "{iso:?}: {out}");
    }
}
