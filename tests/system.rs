//! Helpers for tests that use the real kernel: the root check, installing missing Debian
//! tools, and a pair of network namespaces joined by a veth link.
//!
//! Every command runs through argv (`std::process::Command`), never through a shell.
//!
//! Without root these tests are skipped with a loud message, so `cargo test` passes for a
//! contributor without root; CI runs as root, and when the `CI` variable is set a missing
//! root is a failure instead, so the kernel tests can never be skipped there by accident.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// Effective uid 0, read from `/proc/self/status` (no libc dependency needed).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// True when the test may go on. Not root: fails under CI (`CI` set), otherwise prints why
/// the test is skipped and returns false.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    let msg = format!(
        "{test} needs root (network namespaces, iptables/nftables, /dev/kmsg); \
         run `sudo -E cargo test -p portcullis --test integration {test}`"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("\n*** SKIPPED: {msg} ***\n");
    false
}

/// Runs `argv`, returning its output; panics if it cannot be started.
pub fn run(argv: &[&str]) -> Output {
    let (prog, args) = argv.split_first().expect("a program");
    Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"))
}

/// Runs `argv` and panics with its stderr when it fails.
pub fn run_ok(argv: &[&str]) -> Output {
    let o = run(argv);
    assert!(
        o.status.success(),
        "{argv:?} failed ({}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .any(|dir| Path::new(dir).join(tool).is_file())
}

/// apt and dpkg take a lock: one install at a time within this test binary.
static INSTALL: Mutex<()> = Mutex::new(());

/// Makes sure every `(tool, debian package)` is installed. As root, installs the missing
/// packages with apt-get (running `apt-get update` first if the install fails); otherwise
/// panics with the exact command to run.
pub fn require_tools(tools: &[(&str, &str)]) {
    let _lock = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let mut missing: Vec<&str> = tools
        .iter()
        .filter(|(tool, _)| !on_path(tool))
        .map(|(_, pkg)| *pkg)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return;
    }
    let mut install = vec!["apt-get", "install", "-y", "--no-install-recommends"];
    install.extend(&missing);
    let command = install.join(" ");
    assert!(
        is_root(),
        "missing tools; install them with: sudo {command}"
    );
    eprintln!("installing missing test tools: {command}");
    let apt = |argv: &[&str]| {
        Command::new(argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !apt(&install) {
        let updated = apt(&["apt-get", "update"]);
        assert!(
            updated && apt(&install),
            "could not install test tools; run: apt-get update && {command}"
        );
    }
    for (tool, pkg) in tools {
        assert!(on_path(tool), "{tool} still missing after installing {pkg}");
    }
}

/// A short id unique to this process and call, for names the kernel limits to 15 bytes.
pub fn unique_id() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{n}", std::process::id() & 0xFFFF)
}

/// One side of a [`Netns`] pair.
pub struct Side {
    /// Namespace name (`pc-<id>-a`).
    pub ns: String,
    /// Its end of the veth link.
    pub dev: String,
    /// The veth's MAC address.
    pub mac: [u8; 6],
    /// IPv4 address (198.51.100.0/24, TEST-NET-2).
    pub v4: Ipv4Addr,
    /// IPv6 address (2001:db8::/64, documentation range).
    pub v6: Ipv6Addr,
}

impl Side {
    /// `ip netns exec NS argv…`.
    pub fn cmd(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).args(argv);
        c
    }

    /// Runs `argv` in this namespace; panics with stderr when it fails.
    pub fn run_ok(&self, argv: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", &self.ns];
        full.extend(argv);
        run_ok(&full)
    }

    /// Runs `argv` in this namespace, whatever its exit status.
    pub fn run(&self, argv: &[&str]) -> Output {
        self.cmd(argv)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {argv:?} in {}: {e}", self.ns))
    }
}

/// Two network namespaces `a` and `b` joined by a veth pair with addresses from the
/// documentation ranges. Everything is removed on drop, also when the test panics
/// (deleting a namespace deletes its end of the veth, and with it the pair).
pub struct Netns {
    /// The first namespace (`.1`, `::1`).
    pub a: Side,
    /// The second namespace (`.2`, `::2`).
    pub b: Side,
}

impl Netns {
    /// Creates the pair, both links up with `mtu_bytes`.
    pub fn pair(mtu_bytes: u32) -> Self {
        let id = unique_id();
        let side = |tag: &str, host: u8| Side {
            ns: format!("pc-{id}-{tag}"),
            dev: format!("pcv{id}{tag}"),
            mac: [0x02, 0x50, 0x43, 0x00, 0x00, host],
            v4: Ipv4Addr::new(198, 51, 100, host),
            v6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(host)),
        };
        let pair = Netns {
            a: side("a", 1),
            b: side("b", 2),
        };
        // Created before anything can fail, so Drop cleans up whatever exists.
        run_ok(&["ip", "netns", "add", &pair.a.ns]);
        run_ok(&["ip", "netns", "add", &pair.b.ns]);
        let mac = |s: &Side| {
            s.mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        let (mac_a, mac_b) = (mac(&pair.a), mac(&pair.b));
        run_ok(&[
            "ip",
            "link",
            "add",
            &pair.a.dev,
            "address",
            &mac_a,
            "netns",
            &pair.a.ns,
            "type",
            "veth",
            "peer",
            "name",
            &pair.b.dev,
            "address",
            &mac_b,
            "netns",
            &pair.b.ns,
        ]);
        let mtu = mtu_bytes.to_string();
        for (s, peer, peer_mac) in [(&pair.a, &pair.b, &mac_b), (&pair.b, &pair.a, &mac_a)] {
            let v4 = format!("{}/24", s.v4);
            let v6 = format!("{}/64", s.v6);
            s.run_ok(&["ip", "addr", "add", &v4, "dev", &s.dev]);
            s.run_ok(&["ip", "addr", "add", &v6, "dev", &s.dev, "nodad"]);
            s.run_ok(&["ip", "link", "set", "dev", &s.dev, "mtu", &mtu, "up"]);
            s.run_ok(&["ip", "link", "set", "dev", "lo", "up"]);
            // Static neighbours: no ARP/NDP round (nor link-local DAD) before the first
            // packet, which would otherwise get lost right after the link comes up.
            for addr in [peer.v4.to_string(), peer.v6.to_string()] {
                s.run_ok(&[
                    "ip",
                    "neigh",
                    "replace",
                    &addr,
                    "lladdr",
                    peer_mac,
                    "nud",
                    "permanent",
                    "dev",
                    &s.dev,
                ]);
            }
        }
        pair
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for s in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", &s.ns]).output();
        }
    }
}

/// Sets a sysctl (by its `/proc/sys` path) and restores the old value on drop.
pub struct Sysctl {
    path: String,
    old: String,
}

impl Sysctl {
    /// Writes `value` to `/proc/sys/<key with dots as slashes>`.
    pub fn set(key: &str, value: &str) -> Self {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let old = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {path}: {e}"))
            .trim()
            .to_string();
        std::fs::write(&path, value).unwrap_or_else(|e| panic!("write {path}: {e}"));
        Sysctl { path, old }
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, &self.old);
    }
}

/// Tests that need the kernel to log from every namespace hold this while they run, so one
/// restoring `nf_log_all_netns` cannot switch it off under another.
static LOG_ALL_NETNS: Mutex<()> = Mutex::new(());

/// `net.netfilter.nf_log_all_netns = 1` for as long as the guard lives (the old value is
/// restored after), one test at a time.
pub struct LogAllNetns {
    _sysctl: Sysctl,
    _lock: std::sync::MutexGuard<'static, ()>,
}

/// Takes [`LogAllNetns`].
pub fn log_all_netns() -> LogAllNetns {
    let lock = LOG_ALL_NETNS.lock().unwrap_or_else(|e| e.into_inner());
    LogAllNetns {
        _sysctl: Sysctl::set("net.netfilter.nf_log_all_netns", "1"),
        _lock: lock,
    }
}
