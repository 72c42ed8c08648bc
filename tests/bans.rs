//! `portcullis bans` on the real firewall, once per backend, in namespaces the tests
//! create: a ban blocks the attacker's TCP connections (IPv4 and IPv6) and its expiry
//! lets them through again; `bans remove CIDR` lifts every ban inside; the guard refuses
//! allowlisted, overly broad and own addresses; rules Portcullis does not own are left
//! exactly as they were.

use crate::site::{Site, sleep_past};
use crate::system::require_root;

fn ban_cycle(backend: &str) {
    let site = Site::new(
        backend,
        "allowlist = [\"198.51.100.77/32\"]\nmin_prefix_v4 = 24\n",
    );
    let foreign = add_foreign_rules(&site);

    // A ban blocks, over both families.
    let out = site.portcullis_ok(&[
        "bans",
        "add",
        "198.51.100.2",
        "--for",
        "3s",
        "--reason",
        "test ban",
    ]);
    assert!(out.contains("banned 198.51.100.2/32 until "), "{out}");
    site.portcullis_ok(&["bans", "add", "2001:db8::2", "--for", "3s"]);
    assert!(!site.reachable_v4(), "{backend}: IPv4 ban did not block");
    assert!(!site.reachable_v6(), "{backend}: IPv6 ban did not block");
    let listed = site.listed();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let v4 = listed
        .iter()
        .find(|v| v["target"] == "198.51.100.2/32")
        .expect("IPv4 ban listed");
    assert_eq!(v4["reason"], "test ban");
    assert_eq!(v4["origin"], "cli");
    let expires = v4["expires_at"].as_i64().expect("expires_at");

    // At expiry the kernel's timeout lifts nftables and ipset entries by itself (expiries
    // are whole seconds, the kernel's timeout started within the second before); the
    // iptables chain needs the sweep. Either way `bans expire` records the lift.
    sleep_past(expires + 1);
    if backend != "iptables" {
        assert!(
            site.reachable_v4(),
            "{backend}: kernel timeout did not lift"
        );
    }
    let out = site.portcullis_ok(&["bans", "expire"]);
    assert!(out.contains("2 expired bans lifted"), "{out}");
    assert!(
        site.reachable_v4(),
        "{backend}: IPv4 ban outlived its expiry"
    );
    assert!(
        site.reachable_v6(),
        "{backend}: IPv6 ban outlived its expiry"
    );
    let history = site.portcullis_ok(&["bans", "history", "--format", "json"]);
    assert_eq!(
        history.matches("\"lift_reason\":\"expired\"").count(),
        2,
        "{history}"
    );

    // `bans remove CIDR` lifts every ban inside it, and only those.
    for t in ["198.51.100.2", "198.51.100.3", "203.0.113.5"] {
        site.portcullis_ok(&["bans", "add", t, "--for", "1h"]);
    }
    assert!(!site.reachable_v4());
    let out = site.portcullis_ok(&["bans", "remove", "198.51.100.0/24"]);
    assert!(
        out.contains("2 bans within 198.51.100.0/24 lifted: 198.51.100.2/32, 198.51.100.3/32"),
        "{out}"
    );
    assert_eq!(site.listed_targets(), ["203.0.113.5/32"]);
    assert!(site.reachable_v4(), "{backend}: removed ban still blocks");

    // The guard refuses, naming why, and the firewall is unchanged.
    for (target, why) in [
        ("198.51.100.77", "allowlisted"),
        ("203.0.0.0/16", "broader than /24"),
        ("198.51.100.1", "an address of this host"),
        ("2001:db8::1", "an address of this host"),
    ] {
        let o = site.portcullis(&["bans", "add", target, "--for", "1h"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{target}: {err}");
        assert!(
            err.contains("refused") && err.contains(why),
            "{target}: {err}"
        );
    }
    assert_eq!(site.listed_targets(), ["203.0.113.5/32"]);

    // Nothing Portcullis does not own has changed.
    assert_eq!(add_foreign_rules_snapshot(&site), foreign);
}

/// Adds a foreign nftables table and foreign iptables rules (one even looks like ours:
/// an epoch comment on a DROP rule in INPUT); returns their listing.
fn add_foreign_rules(site: &Site) -> String {
    site.victim_ok(&[
        "nft",
        "add table inet foreign; add chain inet foreign c { type filter hook input priority 0; }; add rule inet foreign c ip saddr 203.0.113.9 counter accept",
    ]);
    site.victim_ok(&[
        "iptables",
        "-A",
        "INPUT",
        "-s",
        "203.0.113.9/32",
        "-m",
        "comment",
        "--comment",
        "keep me",
        "-j",
        "ACCEPT",
    ]);
    site.victim_ok(&[
        "iptables",
        "-A",
        "INPUT",
        "-s",
        "192.0.2.55/32",
        "-m",
        "comment",
        "--comment",
        "1",
        "-j",
        "DROP",
    ]);
    add_foreign_rules_snapshot(site)
}

fn add_foreign_rules_snapshot(site: &Site) -> String {
    let nft = site.victim_ok(&["nft", "list", "table", "inet", "foreign"]);
    let ipt: String = site
        .victim_ok(&["iptables", "-S", "INPUT"])
        .lines()
        .filter(|l| l.contains("203.0.113.9") || l.contains("192.0.2.55"))
        .map(|l| format!("{l}\n"))
        .collect();
    format!("{nft}{ipt}")
}

#[test]
fn nftables_ban_blocks_expires_removes_and_refuses() {
    if require_root("nftables_ban_blocks_expires_removes_and_refuses") {
        ban_cycle("nftables");
    }
}

#[test]
fn iptables_ban_blocks_expires_removes_and_refuses() {
    if require_root("iptables_ban_blocks_expires_removes_and_refuses") {
        ban_cycle("iptables");
    }
}

#[test]
fn ipset_ban_blocks_expires_removes_and_refuses() {
    if require_root("ipset_ban_blocks_expires_removes_and_refuses") {
        ban_cycle("ipset");
    }
}
