//! Bans survive what happens to the process and to the firewall: `kill -9` of a running
//! Portcullis right after a ban batch loses nothing it acknowledged, and what expired
//! meanwhile is gone after the restart; the reconciler puts back a ban deleted by hand
//! and removes an entry the store does not hold; `bans import-iptables` adopts the rules
//! of the shell-script setup. Once per backend where the firewall differs.

use crate::common::synthetic_log;
use crate::site::{Site, sleep_past};
use crate::system::require_root;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

const PIPELINE: &str = r#"
[[sources]]
kind = "stdin"

[[pipeline]]
name = "flood"
plugin = "threshold-ban"
[pipeline.config]
threshold = 50
window = "1h"
ban_for = "1h"
"#;

/// Waits (up to 20 s) until `cond` holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Entries the backend holds, as its own tool lists them.
fn firewall(site: &Site, backend: &str) -> String {
    match backend {
        "nftables" => site.victim_ok(&["nft", "list", "table", "inet", "portcullis"]),
        _ => site.victim_ok(&["iptables", "-S", "PORTCULLIS"]),
    }
}

fn kill_and_restart(backend: &str) {
    // `actions` keys first (the [actions] table is open), then the pipeline.
    let site = Site::new(backend, PIPELINE);
    let mut run = site
        .command(&["run", "--once"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start portcullis run");
    let mut stdin = run.stdin.take().expect("stdin");
    // One full batch: the attacker crosses the threshold and is banned.
    let flood = synthetic_log(1100, 0, |_| "198.51.100.2".into(), |_| 22);
    stdin.write_all(flood.as_bytes()).expect("feed run");
    stdin.flush().expect("flush");
    wait_for("the flood ban is acknowledged", || {
        site.listed_targets() == ["198.51.100.2/32"]
    });
    assert!(
        !site.reachable_v4(),
        "{backend}: the pipeline's ban does not block"
    );

    // The CLI hands a change to the running process through the store; the process
    // carries it out with its next batch.
    let cli = site
        .command(&["bans", "add", "203.0.113.7", "--for", "2s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bans add");
    std::thread::sleep(Duration::from_millis(300));
    let quiet = synthetic_log(1100, 2000, |i| format!("192.0.2.{}", i % 200), |_| 80);
    stdin.write_all(quiet.as_bytes()).expect("feed run");
    stdin.flush().expect("flush");
    let answer = cli.wait_with_output().expect("bans add");
    let text = String::from_utf8_lossy(&answer.stdout);
    assert!(
        answer.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&answer.stderr)
    );
    assert!(text.contains("banned 203.0.113.7/32"), "{text}");
    let short = site
        .listed()
        .into_iter()
        .find(|v| v["target"] == "203.0.113.7/32")
        .expect("CLI ban listed");
    let short_expiry = short["expires_at"].as_i64().expect("expires_at");

    // kill -9 right after the batch: both acknowledged bans are on disk and in force.
    run.kill().expect("kill -9");
    let _ = run.wait();
    drop(stdin);
    let fw = firewall(&site, backend);
    assert!(
        fw.contains("198.51.100.2") && fw.contains("203.0.113.7"),
        "{fw}"
    );

    // While nothing runs: the short ban's time runs out, someone deletes the attacker's
    // entry by hand, and an entry the store never made appears in what we own.
    sleep_past(short_expiry);
    match backend {
        "nftables" => {
            site.victim_ok(&[
                "nft",
                "delete element inet portcullis ban4 { 198.51.100.2 }; add element inet portcullis ban4 { 192.0.2.99 timeout 1h }",
            ]);
        }
        _ => {
            let rule = site
                .victim_ok(&["iptables", "-S", "PORTCULLIS"])
                .lines()
                .find(|l| l.contains("198.51.100.2"))
                .expect("attacker's rule")
                .to_string();
            let mut argv = vec!["iptables".to_string(), "-D".to_string()];
            argv.extend(rule.split_whitespace().skip(1).map(String::from));
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            site.victim_ok(&argv);
            site.victim_ok(&[
                "iptables",
                "-A",
                "PORTCULLIS",
                "-s",
                "192.0.2.99/32",
                "-j",
                "DROP",
            ]);
        }
    }
    assert!(
        site.reachable_v4(),
        "the hand deletion did not open the door"
    );

    // The restart reconciles: the attacker is banned again, the stray entry is gone, the
    // expired ban is lifted in the store and absent from the firewall.
    let out = site.portcullis_ok(&["bans", "reconcile"]);
    assert!(out.contains("1 restored, 1 removed"), "{out}");
    assert!(
        !site.reachable_v4(),
        "{backend}: the reconciler did not restore the ban"
    );
    assert_eq!(site.listed_targets(), ["198.51.100.2/32"]);
    let fw = firewall(&site, backend);
    assert!(
        !fw.contains("192.0.2.99") && !fw.contains("203.0.113.7"),
        "{fw}"
    );
    let history = site.portcullis_ok(&["bans", "history", "--format", "json"]);
    let lifted: serde_json::Value = history
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .find(|v| v["target"] == "203.0.113.7/32")
        .expect("short ban in history");
    assert_eq!(lifted["lift_reason"], "expired");
    let flood = history
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .find(|v| v["target"] == "198.51.100.2/32")
        .expect("flood ban in history");
    assert_eq!(flood["origin"], "flood");
    assert!(flood["lifted_at"].is_null());
}

#[test]
fn nftables_kill_9_loses_no_acknowledged_ban_and_reconciles() {
    if require_root("nftables_kill_9_loses_no_acknowledged_ban_and_reconciles") {
        kill_and_restart("nftables");
    }
}

#[test]
fn iptables_kill_9_loses_no_acknowledged_ban_and_reconciles() {
    if require_root("iptables_kill_9_loses_no_acknowledged_ban_and_reconciles") {
        kill_and_restart("iptables");
    }
}

#[test]
fn import_iptables_adopts_the_shell_script_bans() {
    if !require_root("import_iptables_adopts_the_shell_script_bans") {
        return;
    }
    let site = Site::new("nftables", "");
    let now = crate::common::now();
    let live = (now + 3600).to_string();
    let expired = (now - 60).to_string();
    for (src, comment) in [
        ("198.51.100.2/32", live.as_str()),
        ("203.0.113.8/32", expired.as_str()),
    ] {
        site.victim_ok(&[
            "iptables",
            "-A",
            "INPUT",
            "-s",
            src,
            "-m",
            "comment",
            "--comment",
            comment,
            "-j",
            "DROP",
        ]);
    }
    site.victim_ok(&[
        "iptables",
        "-A",
        "INPUT",
        "-s",
        "203.0.113.9/32",
        "-p",
        "tcp",
        "--dport",
        "22",
        "-m",
        "comment",
        "--comment",
        &live,
        "-j",
        "DROP",
    ]);
    let out = site.portcullis_ok(&["bans", "import-iptables"]);
    assert!(out.contains("adopted 198.51.100.2/32"), "{out}");
    assert!(
        out.contains("203.0.113.8/32") && out.contains("expired"),
        "{out}"
    );
    assert!(
        out.contains("--dport"),
        "the port-limited rule is reported: {out}"
    );
    let listed = site.listed();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["target"], "198.51.100.2/32");
    assert_eq!(listed[0]["expires_at"].as_i64(), Some(now + 3600));
    assert_eq!(listed[0]["origin"], "import-iptables");
    // The adopted and the expired rules left INPUT; the one it could not adopt stayed.
    let input = site.victim_ok(&["iptables", "-S", "INPUT"]);
    assert!(
        !input.contains("198.51.100.2") && !input.contains("203.0.113.8"),
        "{input}"
    );
    assert!(input.contains("203.0.113.9"), "{input}");
    // The ban holds through the nftables set now.
    assert!(!site.reachable_v4());
    let set = site.victim_ok(&["nft", "list", "set", "inet", "portcullis", "ban4"]);
    assert!(set.contains("198.51.100.2"), "{set}");
}
