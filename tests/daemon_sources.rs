//! The live run's socket and journal sources: syslog datagrams over UDP and a unix socket
//! (RFC 3164 and RFC 5424, as rsyslog or a router forwards them), and the systemd journal's
//! kernel messages, resumed after the saved cursor across a restart.

use crate::live::{Live, free_port, wait_until};
use crate::system::{require_root, unique_id};
use std::io::Write;
use std::path::Path;

/// A kernel LOG record body from `src` (IPv4 documentation range).
fn record(prefix: &str, src: &str) -> String {
    format!(
        "{prefix} IN=eth0 OUT= MAC= SRC={src} DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0 "
    )
}

/// A dry-run config banning every source on its first event.
fn config(dir: &Path, sources: &str, metrics: u16) -> std::path::PathBuf {
    let text = format!(
        r#"{sources}
[[pipeline]]
name = "first"
plugin = "threshold-ban"
[pipeline.config]
threshold = 1
window = "1h"
ban_for = "1h"

[actions]
backend = "dry-run"

[state]
dir = "{}"

[metrics]
listen = "127.0.0.1:{metrics}"
"#,
        dir.join("state").display()
    );
    let path = dir.join("portcullis.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn syslog_datagrams_over_udp_and_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let udp_port = free_port();
    let sock = dir.path().join("syslog.sock");
    let metrics = free_port();
    let cfg = config(
        dir.path(),
        &format!(
            "[[sources]]\nkind = \"syslog\"\nlisten = \"udp:127.0.0.1:{udp_port}\"\n\
             [[sources]]\nkind = \"syslog\"\nlisten = \"unix:{}\"\n",
            sock.display()
        ),
        metrics,
    );
    let live = Live::start(&cfg, &[], Some(metrics));
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // RFC 3164 as rsyslog forwards it, and RFC 5424.
    let bsd = format!(
        "<4>Aug 30 10:00:00 fw kernel: {}",
        record("DROP:", "198.51.100.10")
    );
    udp.send_to(bsd.as_bytes(), ("127.0.0.1", udp_port))
        .unwrap();
    let ietf = format!(
        "<4>1 2026-08-30T10:00:01.000000+00:00 fw kernel - - - {}",
        record("DROP:", "198.51.100.11")
    );
    udp.send_to(ietf.as_bytes(), ("127.0.0.1", udp_port))
        .unwrap();
    let unix = std::os::unix::net::UnixDatagram::unbound().unwrap();
    let bsd = format!(
        "<4>Aug 30 10:00:02 fw kernel: {}\n",
        record("DROP:", "203.0.113.12")
    );
    unix.send_to(bsd.as_bytes(), &sock).unwrap();
    wait_until("three bans", 10, || live.banned().len() == 3);
    let mut banned = live.banned();
    banned.sort();
    assert_eq!(
        banned,
        ["198.51.100.10/32", "198.51.100.11/32", "203.0.113.12/32"]
    );
    let udp_label =
        format!("portcullis_source_events_total{{source=\"syslog:udp:127.0.0.1:{udp_port}\"}}");
    assert_eq!(live.metric(&udp_label), 2.0);
    live.stop();
}

/// systemd-journald, started for the test when none runs (and stopped after).
struct Journald(Option<std::process::Child>);

impl Journald {
    fn ensure() -> Journald {
        if Path::new("/run/systemd/journal/socket").exists()
            && std::process::Command::new("journalctl")
                .args(["-n", "0", "--no-pager"])
                .status()
                .is_ok_and(|s| s.success())
            && std::process::Command::new("pgrep")
                .arg("systemd-journal")
                .status()
                .is_ok_and(|s| s.success())
        {
            return Journald(None);
        }
        let child = std::process::Command::new("/lib/systemd/systemd-journald")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start systemd-journald (Debian package systemd)");
        wait_until("journald's socket", 10, || {
            Path::new("/run/systemd/journal/socket").exists()
        });
        Journald(Some(child))
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Writes a kernel-log record as root (it reaches the journal with the kernel transport).
fn kmsg(line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .expect("open /dev/kmsg for writing");
    f.write_all(format!("<4>{line}\n").as_bytes())
        .expect("write /dev/kmsg");
}

/// The journald source, keeping only this test's records.
fn journald_config(dir: &Path, prefix: &str, metrics: u16) -> std::path::PathBuf {
    config(
        dir,
        &format!(
            "[[sources]]\nkind = \"journald\"\n\
             [[pipeline]]\nname = \"ours\"\nplugin = \"cidr-filter\"\n[pipeline.config]\n\
             drop_prefixes = [\"*\"]\nkeep_prefixes = [\"{prefix}\"]\n"
        ),
        metrics,
    )
}

#[test]
fn journald_kernel_messages_resume_after_the_saved_cursor() {
    if !require_root("journald_kernel_messages_resume_after_the_saved_cursor") {
        return;
    }
    let _journald = Journald::ensure();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("PCJ{}", unique_id());
    let metrics = free_port();
    let cfg = journald_config(dir.path(), &prefix, metrics);
    let live = Live::start(&cfg, &[], Some(metrics));
    // journalctl starts from the end of the journal: wait until it is following.
    std::thread::sleep(std::time::Duration::from_millis(500));
    kmsg(&record(&prefix, "198.51.100.20"));
    wait_until("the first ban", 15, || live.banned().len() == 1);
    let first = live.stop();
    // Written while nothing runs: read after the saved cursor, and nothing twice.
    kmsg(&record(&prefix, "198.51.100.21"));
    let metrics = free_port();
    let cfg = journald_config(dir.path(), &prefix, metrics);
    let live = Live::start(&cfg, &[], Some(metrics));
    wait_until("the second ban", 15, || live.banned().len() == 1);
    kmsg(&record(&prefix, "198.51.100.22"));
    wait_until("the third ban", 15, || live.banned().len() == 2);
    let second = live.stop();
    let bans = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["target"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(bans(&first), ["198.51.100.20/32"]);
    assert_eq!(bans(&second), ["198.51.100.21/32", "198.51.100.22/32"]);
}
