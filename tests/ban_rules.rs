//! `threshold-ban`'s rules (share of traffic, escalation across runs, network bans) and the
//! `counter` stage's report, through the real binary.

use crate::common::*;
use portcullis_abi::net::IpNet;
use std::net::IpAddr;
use std::path::Path;

/// The private ranges the demo's sources come from (a subset of cidr-filter's `private`).
fn is_private(ip: IpAddr) -> bool {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
        "fe80::/10",
    ]
    .iter()
    .any(|n| IpNet::parse(n).unwrap().contains(ip))
}

/// A config reading `log` through `stages` (TOML of `[[pipeline]]` tables).
fn config(dir: &Path, log: &Path, stages: &str) -> String {
    write_config(
        dir,
        &format!("[[sources]]\nkind = \"file\"\npath = {log:?}\n{stages}"),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn the_share_rule_bans_exactly_the_dominant_source_and_no_private_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &root().join("config/demo/demo.log"),
        "[[pipeline]]\nname = \"private\"\nplugin = \"cidr-filter\"\n\
         [[pipeline]]\nname = \"share\"\nplugin = \"threshold-ban\"\n\
         [pipeline.config]\nthreshold = 1000000\nwindow = \"10m\"\n\
         share = 0.4\nshare_min_events = 500\n",
    );
    let out = portcullis(&["run", "--config", &cfg, "--once"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));

    // Independently of the parser and plugins: the dominant source's share of every line
    // with a source is above 40% (dropping private sources only raises it), and every
    // other source has at most 40% of the 500 events the rule waits for, so can never
    // hold more than 40% of the window once it applies.
    let counts = count_sources(&demo_log());
    let all: u64 = counts.values().sum();
    let (dominant, n) = counts.iter().max_by_key(|(_, n)| **n).unwrap();
    let share = *n as f64 / all as f64;
    assert!(share > 0.41, "the fixture's dominant source has {share:.3}");
    for (ip, n) in &counts {
        assert!(ip == dominant || *n <= 200, "{ip} has {n} events");
    }
    assert!(
        counts.iter().any(|(ip, _)| is_private(*ip)),
        "the fixture has private sources"
    );

    let bans = bans(&out);
    let targets: Vec<&str> = bans.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(targets, [format!("{dominant}/32")]);
    let reason = bans[0].1["reason"].as_str().unwrap();
    let (pct, rest) = reason.split_once("% of ").expect(reason);
    assert!(pct.parse::<f64>().unwrap() > 40.0, "{reason}");
    let total: u64 = rest.split(' ').next().unwrap().parse().unwrap();
    assert!(total >= 500, "{reason}");
    assert!(
        rest.ends_with("events within 10m (share above 40.0%)"),
        "{reason}"
    );
    for (t, _) in &bans {
        assert!(!is_private(IpNet::parse(t).unwrap().addr()), "{t} banned");
    }
}

/// A log where private 10.0.0.5 sends 60% of the events and public 203.0.113.7 30%.
fn private_majority_log(dir: &Path) -> std::path::PathBuf {
    let log = dir.join("fw.log");
    let src = |i: usize| match i % 10 {
        0..=5 => "10.0.0.5".to_string(),
        6..=8 => "203.0.113.7".to_string(),
        _ => format!("198.51.100.{}", i % 200),
    };
    std::fs::write(&log, synthetic_log(600, 0, src, |_| 22)).unwrap();
    log
}

fn share_stages(with_filter: bool) -> String {
    let filter = if with_filter {
        "[[pipeline]]\nname = \"private\"\nplugin = \"cidr-filter\"\n"
    } else {
        ""
    };
    format!(
        "{filter}[[pipeline]]\nname = \"share\"\nplugin = \"threshold-ban\"\n\
         [pipeline.config]\nthreshold = 1000000\nwindow = \"1h\"\n\
         share = 0.5\nshare_min_events = 100\n"
    )
}

#[test]
fn a_private_source_is_never_banned_by_the_share_rule() {
    let dir = tempfile::tempdir().unwrap();
    let log = private_majority_log(dir.path());
    let counts = count_sources(&std::fs::read_to_string(&log).unwrap());
    let all: u64 = counts.values().sum();
    let private: u64 = counts
        .iter()
        .filter(|(ip, _)| is_private(**ip))
        .map(|(_, n)| n)
        .sum();
    let public_top = counts[&"203.0.113.7".parse::<IpAddr>().unwrap()];
    // Among public events 203.0.113.7 has 3 in 4: more than half.
    assert!(public_top * 2 > all - private);

    let cfg = config(dir.path(), &log, &share_stages(true));
    let out = portcullis(&["run", "--config", &cfg, "--once"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let targets: Vec<String> = bans(&out).into_iter().map(|(t, _)| t).collect();
    assert_eq!(targets, ["203.0.113.7/32"]);

    // Shows the test can fail: without the filter the private source is the one banned.
    let cfg = config(dir.path(), &log, &share_stages(false));
    let out = portcullis(&["run", "--config", &cfg, "--once"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let targets: Vec<String> = bans(&out).into_iter().map(|(t, _)| t).collect();
    assert_eq!(targets, ["10.0.0.5/32"]);
}

#[test]
fn a_repeat_offender_gets_a_doubled_ban_in_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let log = dir.path().join("fw.log");
    let cfg = config(
        dir.path(),
        &log,
        "[[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n\
         [pipeline.config]\nthreshold = 5\nwindow = \"1m\"\nban_for = \"1h\"\nescalate = 2\n",
    );
    let env = [("PORTCULLIS__STATE__DIR", state.to_str().unwrap())];
    let mut lengths = Vec::new();
    // The second log starts two hours of log time after the first: the first ban is over.
    for start in [0, 7200] {
        std::fs::write(
            &log,
            synthetic_log(10, start, |_| "203.0.113.50".into(), |_| 22),
        )
        .unwrap();
        let before = now();
        let out = portcullis(
            &["run", "--config", &cfg, "--once", "--keep-state"],
            &env,
            None,
        );
        let after = now();
        assert!(out.status.success(), "{}", stderr(&out));
        let bans = bans(&out);
        assert_eq!(bans.len(), 1, "{}", stdout(&out));
        assert_eq!(bans[0].0, "203.0.113.50/32");
        let expires = bans[0].1["expires_at"].as_i64().unwrap();
        lengths.push((expires - after, expires - before));
        if start > 0 {
            assert_eq!(
                bans[0].1["reason"],
                "5 events within 1m; offence 2, banned 2h"
            );
        }
    }
    let (first, second) = (lengths[0], lengths[1]);
    assert!(first.0 <= 3600 && 3600 <= first.1, "{first:?}");
    assert!(second.0 <= 7200 && 7200 <= second.1, "{second:?}");
}

#[test]
fn k_offending_addresses_of_one_network_ban_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fw.log");
    // Four addresses of 198.51.100.0/24 in turn, three events each.
    std::fs::write(
        &log,
        synthetic_log(12, 0, |i| format!("198.51.100.{}", i % 4 + 1), |_| 22),
    )
    .unwrap();
    let cfg = config(
        dir.path(),
        &log,
        "[[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n\
         [pipeline.config]\nthreshold = 3\nwindow = \"1m\"\nnet_ban_after = 3\n",
    );
    let out = portcullis(&["run", "--config", &cfg, "--once"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let bans = bans(&out);
    let targets: Vec<&str> = bans.iter().map(|(t, _)| t.as_str()).collect();
    // The fourth address reaches the threshold inside the banned network: no ban of its own.
    assert_eq!(
        targets,
        [
            "198.51.100.1/32",
            "198.51.100.2/32",
            "198.51.100.3/32",
            "198.51.100.0/24"
        ]
    );
    assert_eq!(
        bans[3].1["reason"],
        "3 addresses of 198.51.100.0/24 banned within 1h"
    );
}

#[test]
fn the_counter_logs_the_top_sources_with_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    // A skewed log (the demo log has damaged lines that name a source but are not events,
    // which an independent count cannot tell apart).
    let log = dir.path().join("fw.log");
    let src = |i: usize| match i % 12 {
        0..=4 => "203.0.113.7".to_string(),
        5..=6 => "198.51.100.200".to_string(),
        7 => "198.51.100.3".to_string(),
        _ => format!("192.0.2.{}", i % 23),
    };
    let text = synthetic_log(2400, 0, src, |i| [22, 23, 443][i % 3]);
    std::fs::write(&log, &text).unwrap();
    let cfg = config(
        dir.path(),
        &log,
        "[[pipeline]]\nname = \"tally\"\nplugin = \"counter\"\n\
         [pipeline.config]\nby = [\"src\", \"dport\"]\ntop = 5\n",
    );
    let out = portcullis(
        &["run", "--config", &cfg, "--once"],
        &[("PORTCULLIS_LOG", "info")],
        None,
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(bans(&out).is_empty(), "the counter bans nobody");

    let line = err
        .lines()
        .find(|l| l.contains("top 5 src of ") && l.contains(" in total (exact): "))
        .unwrap_or_else(|| panic!("no report line:\n{err}"));
    let listed = line.split(" in total (exact): ").nth(1).unwrap();
    let listed = listed.split(" stage=").next().unwrap().trim_end();
    let listed: Vec<(IpAddr, u64)> = listed
        .split(", ")
        .map(|item| {
            let mut parts = item.split(' ');
            let ip = parts.next().unwrap().parse().expect(item);
            let n = parts.next().unwrap().parse().expect(item);
            (ip, n)
        })
        .collect();

    let counts = count_sources(&text);
    let mut expected: Vec<u64> = counts.values().copied().collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    expected.truncate(5);
    let got: Vec<u64> = listed.iter().map(|(_, n)| *n).collect();
    assert_eq!(got, expected, "{line}");
    for (ip, n) in &listed {
        assert_eq!(counts.get(ip), Some(n), "{ip} in {line}");
    }
    assert!(
        err.contains("plugin metric tally.events_total = "),
        "gauges are reported:\n{err}"
    );
    assert!(
        err.lines().any(|l| l.contains("top 5 dport of ")),
        "one report per key:\n{err}"
    );
}
