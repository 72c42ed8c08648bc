//! The listening TCP and UDP sockets of this host, with the process holding each: what
//! `ss -ltunp` shows, read straight from /proc.
//!
//! [`proc_net`] parses the kernel's socket tables (sans-IO), `owners` maps socket inodes
//! to processes through `/proc/<pid>/fd`, [`render`] prints the result; [`scan`] reads
//! /proc and puts them together.
//!
//! `/proc/net` shows the network namespace of the process reading it, so
//! `ip netns exec NS portcullis listeners` lists the sockets of NS. Owners are looked for
//! in every process visible in /proc; without root, other users' processes cannot be read
//! and their sockets are listed without an owner.

mod owners;
pub mod proc_net;
pub mod render;

pub use proc_net::{Socket, parse_proc_net};

use owners::Owner;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// A transport protocol with listening sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP: sockets in `LISTEN`.
    Tcp,
    /// UDP: sockets bound and not connected to a peer.
    Udp,
}

impl Proto {
    /// `tcp` or `udp`.
    pub fn name(&self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An address family: which socket table (`tcp` or `tcp6`) a socket is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    V4,
    /// IPv6 (`AF_INET6`), including sockets bound to IPv4-mapped addresses.
    V6,
}

impl Family {
    /// 4 or 6.
    pub fn number(&self) -> u8 {
        match self {
            Family::V4 => 4,
            Family::V6 => 6,
        }
    }
}

/// A listening socket and the process holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// TCP or UDP.
    pub proto: Proto,
    /// The bound address: `0.0.0.0` or `::` for every address (`::` often also takes
    /// IPv4, as dual-stack; it is still one row).
    pub address: IpAddr,
    /// The bound port.
    pub port: u16,
    /// The process holding the socket (the lowest pid if several do); `None` if no
    /// readable process does (another user's without root, or a kernel socket).
    pub pid: Option<u32>,
    /// That process's name (`/proc/<pid>/comm`, at most 15 bytes); `None` if unknown.
    pub process: Option<String>,
    /// The socket's inode.
    pub inode: u64,
}

impl Listener {
    /// The socket's address family (the table it was read from).
    pub fn family(&self) -> Family {
        match self.address {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// The socket tables under /proc, and what each holds.
const TABLES: [(&str, Proto, Family); 4] = [
    ("net/tcp", Proto::Tcp, Family::V4),
    ("net/tcp6", Proto::Tcp, Family::V6),
    ("net/udp", Proto::Udp, Family::V4),
    ("net/udp6", Proto::Udp, Family::V6),
];

/// The listening sockets of the current network namespace with their owners, sorted by
/// protocol, port and address, one row per distinct (protocol, address, port, pid).
///
/// Never fails: a table that cannot be read (`tcp6` without IPv6) contributes nothing, and
/// processes that cannot be read leave their sockets without an owner.
pub fn scan() -> Vec<Listener> {
    scan_at(Path::new("/proc"))
}

/// [`scan`] of the proc filesystem at `proc_root`.
fn scan_at(proc_root: &Path) -> Vec<Listener> {
    let mut sockets = Vec::new();
    for (file, proto, family) in TABLES {
        let path = proc_root.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => sockets.extend(parse_proc_net(&text, proto, family)),
            // No IPv6 in this kernel or namespace: nothing listens on it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(path = %path.display(), "no socket table");
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read socket table")
            }
        }
    }
    let wanted: HashSet<u64> = sockets.iter().map(|s| s.inode).collect();
    let owners = owners::owners(proc_root, &wanted);
    assemble(sockets, &owners)
}

/// Gives each socket its owner, sorts by protocol, port, address (then pid and inode, so
/// the order is stable) and keeps one row per (protocol, address, port, pid): sockets
/// sharing a port through `SO_REUSEPORT` in one process are one service.
fn assemble(sockets: Vec<Socket>, owners: &HashMap<u64, Owner>) -> Vec<Listener> {
    let mut listeners: Vec<Listener> = sockets
        .into_iter()
        .map(|s| {
            let owner = owners.get(&s.inode);
            Listener {
                proto: s.proto,
                address: s.address,
                port: s.port,
                pid: owner.map(|o| o.pid),
                process: owner.and_then(|o| o.process.clone()),
                inode: s.inode,
            }
        })
        .collect();
    listeners.sort_by(|a, b| {
        (a.proto, a.port, a.address, a.pid, a.inode)
            .cmp(&(b.proto, b.port, b.address, b.pid, b.inode))
    });
    listeners.dedup_by(|b, a| {
        (a.proto, a.address, a.port, a.pid) == (b.proto, b.address, b.port, b.pid)
    });
    listeners
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn socket(proto: Proto, address: &str, port: u16, inode: u64) -> Socket {
        Socket {
            proto,
            address: address.parse().unwrap(),
            port,
            inode,
        }
    }

    fn owner(pid: u32, name: &str) -> Owner {
        Owner {
            pid,
            process: Some(name.to_string()),
        }
    }

    /// `(proto, address, port, pid, inode)` of each row.
    fn rows(listeners: &[Listener]) -> Vec<(&'static str, String, u16, Option<u32>, u64)> {
        listeners
            .iter()
            .map(|l| {
                (
                    l.proto.name(),
                    l.address.to_string(),
                    l.port,
                    l.pid,
                    l.inode,
                )
            })
            .collect()
    }

    #[test]
    fn sorted_by_protocol_port_address_and_reuseport_twins_merged() {
        let sockets = vec![
            socket(Proto::Udp, "0.0.0.0", 53, 1),
            socket(Proto::Tcp, "::", 443, 2),
            socket(Proto::Tcp, "0.0.0.0", 443, 3),
            // Two SO_REUSEPORT sockets of one process, and one of another process.
            socket(Proto::Tcp, "0.0.0.0", 8080, 7),
            socket(Proto::Tcp, "0.0.0.0", 8080, 5),
            socket(Proto::Tcp, "0.0.0.0", 8080, 6),
            socket(Proto::Tcp, "127.0.0.1", 22, 4),
            // Same port on both protocols: two services.
            socket(Proto::Udp, "0.0.0.0", 443, 8),
        ];
        let owners = HashMap::from([
            (2, owner(10, "nginx")),
            (3, owner(10, "nginx")),
            (5, owner(20, "app")),
            (6, owner(21, "app")),
            (7, owner(20, "app")),
            (8, owner(10, "nginx")),
        ]);
        let listeners = assemble(sockets, &owners);
        assert_eq!(
            rows(&listeners),
            [
                ("tcp", "127.0.0.1".to_string(), 22, None, 4),
                ("tcp", "0.0.0.0".to_string(), 443, Some(10), 3),
                ("tcp", "::".to_string(), 443, Some(10), 2),
                ("tcp", "0.0.0.0".to_string(), 8080, Some(20), 5),
                ("tcp", "0.0.0.0".to_string(), 8080, Some(21), 6),
                ("udp", "0.0.0.0".to_string(), 53, None, 1),
                ("udp", "0.0.0.0".to_string(), 443, Some(10), 8),
            ]
        );
        assert_eq!(listeners[1].process.as_deref(), Some("nginx"));
        assert_eq!(listeners[0].process, None);
        assert_eq!(listeners[2].family(), Family::V6);
        assert_eq!(listeners[1].family(), Family::V4);
    }

    #[test]
    fn scan_reads_the_tables_and_fds_under_a_proc_root() {
        let proc = tempfile::tempdir().unwrap();
        let root = proc.path();
        std::fs::create_dir_all(root.join("net")).unwrap();
        std::fs::write(
            root.join("net/tcp"),
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
             0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 539222 1 00000000c3975086 100 0 0 10 0\n",
        )
        .unwrap();
        std::fs::write(
            root.join("net/udp"),
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n \
             2683: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 539300 2 0000000017fd9d2d 0\n",
        )
        .unwrap();
        // No tcp6 nor udp6: a kernel without IPv6.
        std::fs::create_dir_all(root.join("4711/fd")).unwrap();
        std::fs::write(root.join("4711/comm"), "nc\n").unwrap();
        symlink("socket:[539222]", root.join("4711/fd/3")).unwrap();
        let listeners = scan_at(root);
        assert_eq!(
            rows(&listeners),
            [
                ("tcp", "0.0.0.0".to_string(), 8080, Some(4711), 539222),
                ("udp", "0.0.0.0".to_string(), 5353, None, 539300),
            ]
        );
        assert_eq!(listeners[0].process.as_deref(), Some("nc"));
    }

    #[test]
    fn scan_finds_a_socket_this_process_listens_on() {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let found: Vec<Listener> = scan()
            .into_iter()
            .filter(|l| l.proto == Proto::Tcp && l.port == port)
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].address, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(found[0].pid, Some(std::process::id()));
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(found[0].process.as_deref(), Some(comm.trim_end()));
    }
}
