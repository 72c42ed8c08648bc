//! The firewall backends through the library API, each inside the victim namespace of a
//! [`Site`]: a ban blocks the attacker over IPv4 and IPv6 and lifts at its expiry, expiries
//! move both ways, removing an absent entry is fine, foreign tables, rules and sets stay
//! exactly as they were, a rejected command reports the tool's stderr, and nftables takes
//! 10,000 bans in one batch. Needs root (see `system.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use portcullis::action::backend::ipset::Ipset;
use portcullis::action::backend::iptables::Iptables;
use portcullis::action::backend::nftables::Nftables;
use portcullis::action::backend::{Backend, BackendOptions, Hook, Listed, Op};
use portcullis_abi::net::IpNet;

use crate::site::{Site, sleep_past};
use crate::system::{Side, require_root};

fn now() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    i64::try_from(d.as_secs()).expect("seconds fit")
}

fn opts(ns: &str) -> BackendOptions {
    BackendOptions {
        name: "portcullis".into(),
        hooks: vec![Hook::Input],
        wrapper: ["ip", "netns", "exec", ns].map(String::from).to_vec(),
    }
}

fn add(target: IpNet, expires_at: i64) -> Op {
    Op::Add {
        target,
        expires_at,
        reason: Arc::from("test"),
        origin: Arc::from("backends"),
    }
}

fn remove(target: IpNet) -> Op {
    Op::Remove {
        target,
        why: Arc::from("test"),
    }
}

/// The attacker's addresses as hosts.
fn attacker(site: &Site) -> (IpNet, IpNet) {
    let b = &site.net.b;
    (IpNet::host(b.v4.into()), IpNet::host(b.v6.into()))
}

/// Asserts `fw` lists exactly `want` (target, expiry), expiries within 2 s (nft and ipset
/// report whole seconds left, rounded down).
fn assert_listed(fw: &mut dyn Backend, want: &[(IpNet, i64)]) {
    let got: Vec<Listed> = fw.list(now()).expect("list");
    let targets: Vec<IpNet> = got.iter().map(|l| l.target).collect();
    let mut want_targets: Vec<IpNet> = want.iter().map(|(t, _)| *t).collect();
    want_targets.sort();
    assert_eq!(targets, want_targets, "{}: {got:?}", fw.name());
    for (t, expires_at) in want {
        let l = got.iter().find(|l| l.target == *t).expect("listed");
        let e = l.expires_at.expect("an expiry");
        assert!(
            (e - expires_at).abs() <= 2,
            "{}: {t} expires {e}, want ≈{expires_at}",
            fw.name()
        );
    }
}

/// What a backend test does to the kernel and what it expects of it.
struct Case {
    backend: &'static str,
    make: fn(BackendOptions) -> Box<dyn Backend>,
    /// Puts foreign state in the victim before the backend starts.
    foreign: fn(&Side),
    /// Prints the foreign state (compared before, during and after).
    snapshot: fn(&Side) -> String,
    /// Whether the kernel lifts bans itself (otherwise a Remove does, as the sweeper).
    kernel_expiry: bool,
}

/// The whole life of one backend against the real kernel.
fn exercise(case: &Case) {
    let site = Site::new("dry-run", "");
    let victim = &site.net.a;
    (case.foreign)(victim);
    let before = (case.snapshot)(victim);
    let mut fw = (case.make)(opts(&victim.ns));
    fw.prepare().expect("prepare");
    fw.prepare().expect("prepare again");
    assert_eq!(
        (case.snapshot)(victim),
        before,
        "foreign state after prepare"
    );
    assert!(site.reachable_v4() && site.reachable_v6());
    assert_listed(&mut *fw, &[]);

    // A short ban on both families blocks at once and lifts at its expiry.
    let (t4, t6) = attacker(&site);
    let t0 = now();
    fw.apply(&[add(t4, t0 + 3), add(t6, t0 + 3)], t0)
        .expect("ban");
    assert!(
        !site.reachable_v4(),
        "{}: IPv4 ban does not block",
        case.backend
    );
    assert!(
        !site.reachable_v6(),
        "{}: IPv6 ban does not block",
        case.backend
    );
    assert_listed(&mut *fw, &[(t4, t0 + 3), (t6, t0 + 3)]);
    assert_eq!((case.snapshot)(victim), before, "foreign state after a ban");
    if case.kernel_expiry {
        // Timeouts are whole seconds from when the batch ran: up to 1 s past t0 + 3.
        sleep_past(t0 + 3);
        let deadline = Instant::now() + Duration::from_secs(2);
        while !(site.reachable_v4() && site.reachable_v6()) && Instant::now() < deadline {}
    } else {
        fw.apply(&[remove(t4), remove(t6)], now()).expect("unban");
    }
    assert!(
        site.reachable_v4(),
        "{}: IPv4 ban did not lift",
        case.backend
    );
    assert!(
        site.reachable_v6(),
        "{}: IPv6 ban did not lift",
        case.backend
    );
    assert_listed(&mut *fw, &[]);

    // Expiries move both ways; a network and a host side by side.
    let net4 = IpNet::parse("203.0.113.0/24").expect("net");
    let t = now();
    fw.apply(&[add(t4, t + 100), add(t6, t + 100), add(net4, t + 100)], t)
        .expect("ban");
    assert_listed(&mut *fw, &[(t4, t + 100), (t6, t + 100), (net4, t + 100)]);
    fw.apply(&[add(t4, t + 50), add(t6, t + 200)], now())
        .expect("move");
    assert_listed(&mut *fw, &[(t4, t + 50), (t6, t + 200), (net4, t + 100)]);
    fw.apply(&[add(t4, t + 300), add(t6, t + 20)], now())
        .expect("move back");
    assert_listed(&mut *fw, &[(t4, t + 300), (t6, t + 20), (net4, t + 100)]);

    // Removing what is not there is no error, also twice in one batch.
    let never = IpNet::parse("192.0.2.77/32").expect("net");
    let ops = [remove(net4), remove(never), remove(t4), remove(t4)];
    fw.apply(&ops, now()).expect("remove absent");
    assert_listed(&mut *fw, &[(t6, t + 20)]);
    assert!(site.reachable_v4() && !site.reachable_v6());

    fw.remove_all().expect("remove_all");
    fw.remove_all().expect("remove_all again");
    assert!(
        site.reachable_v6(),
        "{}: remove_all left a ban",
        case.backend
    );
    assert_eq!(
        (case.snapshot)(victim),
        before,
        "foreign state after remove_all"
    );
    assert_listed(&mut *fw, &[]);
}

fn out(side: &Side, argv: &[&str]) -> String {
    String::from_utf8_lossy(&side.run_ok(argv).stdout).into_owned()
}

#[test]
fn nftables_bans_expire_and_leave_foreign_tables_alone() {
    if !require_root("nftables_bans_expire_and_leave_foreign_tables_alone") {
        return;
    }
    exercise(&Case {
        backend: "nftables",
        make: |o| Box::new(Nftables::new(o)),
        foreign: |s| {
            s.run_ok(&["nft", "add", "table", "inet", "foreign"]);
            s.run_ok(&[
                "nft", "add", "chain", "inet", "foreign", "input", "{", "type", "filter", "hook",
                "input", "priority", "0", ";", "}",
            ]);
            s.run_ok(&[
                "nft",
                "add",
                "rule",
                "inet",
                "foreign",
                "input",
                "ip",
                "saddr",
                "203.0.113.9",
                "counter",
                "accept",
            ]);
        },
        snapshot: |s| out(s, &["nft", "list", "table", "inet", "foreign"]),
        kernel_expiry: true,
    });
}

#[test]
fn iptables_bans_lift_on_remove_and_leave_foreign_rules_alone() {
    if !require_root("iptables_bans_lift_on_remove_and_leave_foreign_rules_alone") {
        return;
    }
    exercise(&Case {
        backend: "iptables",
        make: |o| Box::new(Iptables::new(o)),
        foreign: iptables_foreign,
        snapshot: iptables_snapshot,
        kernel_expiry: false,
    });
}

#[test]
fn ipset_bans_expire_and_leave_foreign_sets_alone() {
    if !require_root("ipset_bans_expire_and_leave_foreign_sets_alone") {
        return;
    }
    exercise(&Case {
        backend: "ipset",
        make: |o| Box::new(Ipset::new(o)),
        foreign: |s| {
            iptables_foreign(s);
            s.run_ok(&["ipset", "create", "foreign", "hash:ip"]);
            s.run_ok(&["ipset", "add", "foreign", "203.0.113.9"]);
        },
        snapshot: |s| iptables_snapshot(s) + &out(s, &["ipset", "save", "foreign"]),
        kernel_expiry: true,
    });
}

fn iptables_foreign(s: &Side) {
    s.run_ok(&[
        "iptables",
        "-A",
        "INPUT",
        "-s",
        "203.0.113.9/32",
        "-m",
        "comment",
        "--comment",
        "not ours",
        "-j",
        "ACCEPT",
    ]);
    s.run_ok(&[
        "ip6tables",
        "-A",
        "INPUT",
        "-s",
        "2001:db8:ff::9/128",
        "-j",
        "ACCEPT",
    ]);
}

/// Every foreign rule, in order: the whole filter tables without our chain and jumps.
fn iptables_snapshot(s: &Side) -> String {
    let all = out(s, &["iptables", "-S"]) + &out(s, &["ip6tables", "-S"]);
    all.lines()
        .filter(|l| !l.contains("PORTCULLIS") && !l.contains("--match-set portcullis-"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn iptables_recovers_from_a_rule_changed_by_hand() {
    if !require_root("iptables_recovers_from_a_rule_changed_by_hand") {
        return;
    }
    let site = Site::new("dry-run", "");
    let victim = &site.net.a;
    let mut fw = Iptables::new(opts(&victim.ns));
    fw.prepare().expect("prepare");
    let (t4, _) = attacker(&site);
    fw.apply(&[add(t4, 2_000_000_000)], now()).expect("ban");
    // Someone swaps our rule for one with another comment: deleting by the old spec fails.
    let ours = [
        "-s",
        "198.51.100.2/32",
        "-m",
        "comment",
        "--comment",
        "2000000000",
        "-j",
        "DROP",
    ];
    let mut del = vec!["iptables", "-D", "PORTCULLIS"];
    del.extend(ours);
    victim.run_ok(&del);
    victim.run_ok(&[
        "iptables",
        "-A",
        "PORTCULLIS",
        "-s",
        "198.51.100.2/32",
        "-m",
        "comment",
        "--comment",
        "by hand",
        "-j",
        "DROP",
    ]);
    fw.apply(&[add(t4, 2_000_000_100)], now())
        .expect("retried after re-reading");
    assert_eq!(
        out(victim, &["iptables", "-S", "PORTCULLIS"]),
        "-N PORTCULLIS\n-A PORTCULLIS -s 198.51.100.2/32 -m comment --comment 2000000100 -j DROP\n"
    );
    fw.remove_all().expect("remove_all");
}

#[test]
fn rejected_commands_report_the_tools_stderr() {
    if !require_root("rejected_commands_report_the_tools_stderr") {
        return;
    }
    let mut fw = Nftables::new(opts("pc-no-such-netns"));
    let msg = fw.prepare().expect_err("missing netns").to_string();
    assert!(
        msg.contains("Cannot open network namespace \"pc-no-such-netns\""),
        "{msg}"
    );
    let site = Site::new("dry-run", "");
    let mut fw = Nftables::new(opts(&site.net.a.ns));
    let (t4, _) = attacker(&site);
    // No prepare: the table is missing, and nft says so about the script's first line.
    let msg = fw
        .apply(&[add(t4, now() + 60)], now())
        .expect_err("no table")
        .to_string();
    assert!(msg.contains("nft -f -` failed"), "{msg}");
    assert!(msg.contains("No such file or directory"), "{msg}");
    assert!(
        msg.contains("input line 1 of 3: add element inet portcullis ban4"),
        "{msg}"
    );
    let mut bad = opts(&site.net.a.ns);
    bad.name = "bad name".into();
    let msg = Nftables::new(bad)
        .prepare()
        .expect_err("bad name")
        .to_string();
    assert!(msg.contains("cannot name a firewall table"), "{msg}");
}

#[test]
fn nftables_takes_ten_thousand_bans_in_one_batch() {
    if !require_root("nftables_takes_ten_thousand_bans_in_one_batch") {
        return;
    }
    let site = Site::new("dry-run", "");
    let mut fw = Nftables::new(opts(&site.net.a.ns));
    fw.prepare().expect("prepare");
    let t = now();
    let ops: Vec<Op> = (0..10_000u32)
        .map(|i| add(IpNet::host((0x0A00_0000 + i).to_be_bytes().into()), t + 600))
        .collect();
    let started = Instant::now();
    fw.apply(&ops, t).expect("10,000 bans");
    eprintln!(
        "nftables: 10,000 bans in one apply took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let listed = fw.list(now()).expect("list");
    eprintln!("nftables: listing 10,000 bans took {:?}", started.elapsed());
    assert_eq!(listed.len(), 10_000);
    assert!(site.reachable_v4());
    fw.remove_all().expect("remove_all");
}
