//! A protected site for firewall tests: a victim namespace running Portcullis with a real
//! backend and TCP listeners on port 8080 (IPv4 and IPv6), and an attacker namespace
//! joined to it by veth, whose connections show whether a ban holds.

use crate::system::{Netns, require_tools};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// The victim's listening port.
pub const PORT: &str = "8080";

/// The packages firewall tests need.
pub const TOOLS: &[(&str, &str)] = &[
    ("nc", "netcat-openbsd"),
    ("nft", "nftables"),
    ("iptables", "iptables"),
    ("ipset", "ipset"),
];

/// Victim (`net.a`, 198.51.100.1 and 2001:db8::1) and attacker (`net.b`, .2 and ::2).
pub struct Site {
    /// The namespaces.
    pub net: Netns,
    /// The victim's config file.
    pub config: PathBuf,
    /// Holds the config and the state folder (removed on drop).
    _dir: tempfile::TempDir,
    listeners: Vec<Child>,
}

impl Site {
    /// A site whose Portcullis uses `backend`, with `extra` TOML appended to the config
    /// (after an `[actions]` table holding the backend, so `extra` may add keys to it
    /// until its own first table).
    pub fn new(backend: &str, extra: &str) -> Site {
        require_tools(TOOLS);
        let net = Netns::pair(1500);
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("portcullis.toml");
        let text = format!(
            "[actions]\nbackend = \"{backend}\"\n{extra}\n[state]\ndir = \"{}\"\n",
            dir.path().join("state").display()
        );
        std::fs::write(&config, text).expect("write config");
        let mut listeners = Vec::new();
        for family in ["-4", "-6"] {
            let child = net
                .a
                .cmd(&["nc", family, "-lk", PORT])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nc listener");
            listeners.push(child);
        }
        let site = Site {
            net,
            config,
            _dir: dir,
            listeners,
        };
        // Wait until both listeners accept.
        for _ in 0..50 {
            if site.reachable_v4() && site.reachable_v6() {
                return site;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the victim's listeners never accepted connections");
    }

    /// `portcullis --config <config> args…` inside the victim namespace.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = self.net.a.cmd(&[env!("CARGO_BIN_EXE_portcullis")]);
        c.arg("--config").arg(&self.config).args(args);
        c
    }

    /// Runs Portcullis in the victim namespace to its end.
    pub fn portcullis(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run portcullis")
    }

    /// Runs Portcullis and panics with its stderr unless it succeeds; returns stdout.
    pub fn portcullis_ok(&self, args: &[&str]) -> String {
        let o = self.portcullis(args);
        assert!(
            o.status.success(),
            "portcullis {args:?} failed ({}):\n{}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The active bans as `bans list --format json` prints them.
    pub fn listed(&self) -> Vec<serde_json::Value> {
        self.portcullis_ok(&["bans", "list", "--format", "json"])
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }

    /// The targets of the active bans, sorted.
    pub fn listed_targets(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .listed()
            .iter()
            .map(|v| v["target"].as_str().expect("target").to_string())
            .collect();
        t.sort();
        t
    }

    /// Whether the attacker can open a TCP connection to the victim over IPv4.
    pub fn reachable_v4(&self) -> bool {
        self.connect(&self.net.a.v4.to_string())
    }

    /// The same over IPv6.
    pub fn reachable_v6(&self) -> bool {
        self.connect(&self.net.a.v6.to_string())
    }

    fn connect(&self, addr: &str) -> bool {
        self.net
            .b
            .run(&["nc", "-z", "-w", "1", addr, PORT])
            .status
            .success()
    }

    /// Runs `argv` in the victim namespace and returns its stdout; panics on failure.
    pub fn victim_ok(&self, argv: &[&str]) -> String {
        String::from_utf8_lossy(&self.net.a.run_ok(argv).stdout).into_owned()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        for l in &mut self.listeners {
            let _ = l.kill();
            let _ = l.wait();
        }
    }
}

/// Sleeps until the wall clock has passed `epoch` (unix seconds).
pub fn sleep_past(epoch: i64) {
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        if now > epoch as f64 + 0.2 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(
            (epoch as f64 + 0.25 - now).max(0.05),
        ));
    }
}
