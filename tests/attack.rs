//! The real attack, end to end: namespaces `victim` and `attacker` joined by veth, an
//! nftables LOG rule in the victim, `net.netfilter.nf_log_all_netns=1`, and a live
//! Portcullis in the victim reading /dev/kmsg with the nftables backend. The attacker opens
//! connections until it crosses the threshold; its next connection fails, the ban is in
//! the store with its reason, a restarted Portcullis keeps it, and it lifts at expiry.

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
