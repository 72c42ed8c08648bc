//! The real attack, end to end: namespaces `victim` and `attacker` joined by veth, an
//! nftables LOG rule in the victim, `net.netfilter.nf_log_all_netns=1`, and a live
//! Portcullis in the victim reading /dev/kmsg with the nftables backend. The attacker opens
//! connections until it crosses the threshold; its next connection fails, the ban is in
//! the store with its reason, a restarted Portcullis keeps it, and it lifts at expiry.
//! And a running Portcullis heals after `nft flush ruleset` wipes its table.

use crate::live::{Live, wait_until};
use crate::site::{Site, sleep_past};
use crate::system::{log_all_netns, require_root, unique_id};

#[test]
fn an_attacker_crossing_the_threshold_is_banned_through_kmsg() {
    if !require_root("an_attacker_crossing_the_threshold_is_banned_through_kmsg") {
        return;
    }
    let _log = log_all_netns();
    // Only this test's LOG lines count: /dev/kmsg holds every namespace's.
    let prefix = format!("PCATK{}", unique_id());
    let pipeline = format!(
        r#"
[[sources]]
kind = "kmsg"

[[pipeline]]
name = "ours"
plugin = "cidr-filter"
[pipeline.config]
drop_prefixes = ["*"]
keep_prefixes = ["{prefix}"]

[[pipeline]]
name = "flood"
plugin = "threshold-ban"
[pipeline.config]
threshold = 5
window = "1m"
ban_for = "8s"
"#
    );
    let site = Site::new("nftables", &pipeline);
    // Log every new connection to the listener, before Portcullis's drop chain (-10).
    let rule = format!(
        "add table inet pctest
add chain inet pctest watch {{ type filter hook input priority -50; }}
add rule inet pctest watch tcp dport 8080 tcp flags syn log prefix \"{prefix} \""
    );
    site.victim_ok(&["nft", &rule]);
    let wrapper = ["ip", "netns", "exec", site.net.a.ns.as_str()];
    let live = Live::start(&site.config, &wrapper, None);

    // The attacker connects until a connection fails; the threshold is 5 connections.
    let mut connected = 0;
    while site.reachable_v4() {
        connected += 1;
        assert!(connected < 30, "never banned after {connected} connections");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(connected >= 5, "banned after only {connected} connections");
    let listed = site.listed();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["target"], "198.51.100.2/32");
    assert_eq!(listed[0]["origin"], "flood");
    assert!(
        listed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("events within 1m"),
        "{listed:?}"
    );
    let expires = listed[0]["expires_at"].as_i64().unwrap();

    // A restarted Portcullis keeps the ban (store + reconcile at start).
    live.stop();
    site.victim_ok(&["nft", "flush", "set", "inet", "portcullis", "ban4"]);
    let live = Live::start(&site.config, &wrapper, None);
    wait_until("the ban to be restored", 10, || !site.reachable_v4());
    assert_eq!(site.listed_targets(), ["198.51.100.2/32"]);

    // At expiry the kernel lifts it and the store records the lift.
    sleep_past(expires + 1);
    assert!(site.reachable_v4(), "the ban outlived its expiry");
    wait_until("the store to record the lift", 10, || {
        site.portcullis_ok(&["bans", "history", "--format", "json"])
            .contains("\"lift_reason\":\"expired\"")
    });
    live.stop();
}

/// `nft flush ruleset` (what reloading nftables.service does) wipes Portcullis's table
/// under a running service: the next ban it decides fails, and the service rebuilds its
/// table, puts back the bans it held, and applies the new one.
#[test]
fn a_flushed_ruleset_heals_itself() {
    if !require_root("a_flushed_ruleset_heals_itself") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fw.log");
    std::fs::write(&log, "").unwrap();
    let site = Site::new(
        "nftables",
        &format!(
            "[[sources]]\nkind = \"file\"\npath = \"{}\"\n\
             [[pipeline]]\nname = \"first\"\nplugin = \"threshold-ban\"\n[pipeline.config]\n\
             threshold = 1\nwindow = \"1h\"\nban_for = \"1h\"\n",
            log.display()
        ),
    );
    let wrapper = ["ip", "netns", "exec", site.net.a.ns.as_str()];
    let live = Live::start(&site.config, &wrapper, None);
    let append = |src: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(
            f,
            "Aug 30 10:00:00 fw kernel: DROP: IN=eth0 OUT= MAC= SRC={src} DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0 "
        )
        .unwrap();
    };
    let set = || {
        String::from_utf8_lossy(
            &site
                .net
                .a
                .run(&["nft", "list", "set", "inet", "portcullis", "ban4"])
                .stdout,
        )
        .into_owned()
    };
    append("198.51.100.2");
    wait_until("the first ban", 10, || set().contains("198.51.100.2"));
    assert!(!site.reachable_v4());
    site.victim_ok(&["nft", "flush", "ruleset"]);
    assert!(site.reachable_v4(), "the flush lifted the ban");
    append("203.0.113.50");
    wait_until("the table rebuilt with both bans", 20, || {
        let s = set();
        s.contains("198.51.100.2") && s.contains("203.0.113.50")
    });
    assert!(!site.reachable_v4(), "the restored ban does not block");
    live.stop();
}
