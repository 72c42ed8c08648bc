//! `portcullis logrules` on the real firewall: in a namespace with TCP and UDP listeners
//! (IPv4 and IPv6), `plan` shows one rule per service and changes nothing, `apply` installs
//! them, real traffic from a second namespace produces kernel LOG lines with the planned
//! prefixes (read from /dev/kmsg and parsed back by `portcullis parse`), a second `apply`
//! changes nothing, the rate limit holds under a burst, and `remove` leaves foreign rules
//! untouched. Once for nftables, once for iptables.

use crate::live::wait_until;
use crate::system::{Netns, Side, log_all_netns, require_root, require_tools};
use portcullis::source::kmsg::{Kmsg, KmsgStart};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::Instant;

struct Listeners(Vec<Child>);

impl Drop for Listeners {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn portcullis(side: &Side, args: &[&str]) -> Output {
    let mut argv = vec![env!("CARGO_BIN_EXE_portcullis")];
    argv.extend(args);
    side.run(&argv)
}

fn ok(side: &Side, args: &[&str]) -> String {
    let o = portcullis(side, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "portcullis {args:?}: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The kernel lines logged for the victim's interface since `kmsg` was opened.
fn logged(kmsg: &mut Kmsg, dev: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(r) = kmsg.next_record().expect("read /dev/kmsg") {
        let line = String::from_utf8_lossy(r.line).into_owned();
        if line.contains(&format!("IN={dev} ")) {
            out.push(line);
        }
    }
    out
}

fn foreign(side: &Side, backend: &str) -> String {
    match backend {
        "nftables" => String::from_utf8_lossy(
            &side
                .run_ok(&["nft", "list", "table", "inet", "foreign"])
                .stdout,
        )
        .into_owned(),
        _ => String::from_utf8_lossy(&side.run_ok(&["iptables", "-S", "INPUT"]).stdout)
            .lines()
            .filter(|l| l.contains("203.0.113.9"))
            .collect(),
    }
}

fn cycle(backend: &str) {
    require_tools(&[
        ("nc", "netcat-openbsd"),
        ("nft", "nftables"),
        ("iptables", "iptables"),
    ]);
    let _log = log_all_netns();
    let net = Netns::pair(1500);
    let (victim, attacker) = (&net.a, &net.b);
    let spawn = |argv: &[&str]| {
        victim
            .cmd(argv)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nc")
    };
    let _listeners = Listeners(vec![
        spawn(&["nc", "-4", "-lk", "8080"]),
        spawn(&["nc", "-6", "-lk", "8443"]),
        spawn(&["nc", "-4", "-u", "-lk", "5353"]),
    ]);
    wait_until("the listeners", 10, || {
        let out = ok(victim, &["listeners", "--format", "json"]);
        ["8080", "8443", "5353"]
            .iter()
            .all(|p| out.contains(&format!("\"port\":{p}")))
    });
    match backend {
        "nftables" => {
            victim.run_ok(&[
                "nft",
                "add table inet foreign; add chain inet foreign c { type filter hook input priority 0; }; add rule inet foreign c ip saddr 203.0.113.9 counter accept",
            ]);
        }
        _ => {
            victim.run_ok(&[
                "iptables",
                "-A",
                "INPUT",
                "-s",
                "203.0.113.9/32",
                "-j",
                "ACCEPT",
            ]);
        }
    }
    let before = foreign(victim, backend);
    let b = ["--backend", backend];

    // plan shows one rule per service and changes nothing.
    let plan = ok(victim, &[&["logrules", "plan"][..], &b].concat());
    for p in [
        "\"HTTP-ALT-8080 inbound: \"",
        "\"NC-8443 inbound: \"",
        "\"NC-5353 inbound: \"",
    ] {
        assert!(plan.contains(p), "{p} missing from the plan:\n{plan}");
    }
    assert!(plan.contains("would run"), "{plan}");
    let again = ok(victim, &[&["logrules", "plan"][..], &b].concat());
    assert_eq!(plan, again, "plan changed something");

    // apply, then apply again: nothing to change.
    let applied = ok(victim, &[&["logrules", "apply"][..], &b].concat());
    assert!(applied.contains("applied: 3 added, 0 removed"), "{applied}");
    let second = ok(victim, &[&["logrules", "apply"][..], &b].concat());
    assert!(
        second.contains("nothing to change (3 rules in place)"),
        "{second}"
    );
    assert!(!second.contains("applied"), "{second}");

    // Real traffic is logged with the planned prefixes.
    let mut kmsg = Kmsg::open(Path::new("/dev/kmsg"), KmsgStart::End).expect("open /dev/kmsg");
    attacker.run(&["nc", "-z", "-w", "1", &victim.v4.to_string(), "8080"]);
    attacker.run(&["nc", "-z", "-w", "1", &victim.v6.to_string(), "8443"]);
    let mut udp = attacker
        .cmd(&["nc", "-u", "-w", "1", &victim.v4.to_string(), "5353"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("nc -u");
    udp.stdin.take().unwrap().write_all(b"ping\n").unwrap();
    let _ = udp.wait();
    let mut lines = Vec::new();
    wait_until("three LOG lines", 10, || {
        lines.extend(logged(&mut kmsg, &victim.dev));
        lines.len() >= 3
    });
    let text = lines.join("\n") + "\n";
    let mut parse = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["parse", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("portcullis parse");
    parse
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = parse.wait_with_output().unwrap();
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let seen: Vec<(String, u64)> = events
        .iter()
        .map(|e| {
            (
                e["prefix"].as_str().unwrap().to_string(),
                e["dpt"].as_u64().unwrap(),
            )
        })
        .collect();
    for want in [
        ("HTTP-ALT-8080 inbound: ", 8080),
        ("NC-8443 inbound: ", 8443),
        ("NC-5353 inbound: ", 5353),
    ] {
        assert!(
            seen.contains(&(want.0.to_string(), want.1)),
            "{want:?} not logged: {seen:?}"
        );
    }

    // A slower limit replaces the rules; a burst of 30 connections logs at most the burst
    // plus the rate over the time it took.
    let slower = ok(
        victim,
        &[
            &["logrules", "apply", "--limit", "2/second", "--burst", "3"][..],
            &b,
        ]
        .concat(),
    );
    assert!(slower.contains("applied: 3 added, 3 removed"), "{slower}");
    let mut kmsg = Kmsg::open(Path::new("/dev/kmsg"), KmsgStart::End).expect("open /dev/kmsg");
    let start = Instant::now();
    for _ in 0..30 {
        attacker.run(&["nc", "-z", "-w", "1", &victim.v4.to_string(), "8080"]);
    }
    let secs = start.elapsed().as_secs_f64();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let burst = logged(&mut kmsg, &victim.dev)
        .iter()
        .filter(|l| l.contains("HTTP-ALT-8080 inbound: "))
        .count();
    let allowed = 3 + (2.0 * secs).ceil() as usize + 1;
    assert!(burst >= 3, "the burst was not logged: {burst}");
    assert!(
        burst <= allowed,
        "{burst} lines for 30 connections in {secs:.2}s (limit allows {allowed})"
    );

    // remove takes away only ours.
    let removed = ok(victim, &[&["logrules", "remove"][..], &b].concat());
    assert!(removed.contains("removed"), "{removed}");
    assert_eq!(foreign(victim, backend), before, "foreign rules changed");
    let after = ok(victim, &[&["logrules", "plan"][..], &b].concat());
    assert!(after.contains("+ tcp/8080"), "{after}");
}

#[test]
fn nftables_logrules_log_real_traffic_idempotently_and_rate_limited() {
    if require_root("nftables_logrules_log_real_traffic_idempotently_and_rate_limited") {
        cycle("nftables");
    }
}

#[test]
fn iptables_logrules_log_real_traffic_idempotently_and_rate_limited() {
    if require_root("iptables_logrules_log_real_traffic_idempotently_and_rate_limited") {
        cycle("iptables");
    }
}
