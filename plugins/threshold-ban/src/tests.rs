//! Unit tests of the rules together, with controlled event times.

use super::*;
use portcullis_sdk::Action;
use portcullis_sdk::testing::{BatchBuilder, TestEvent};

fn plugin(json: &str) -> ThresholdBan {
    ThresholdBan::init(Config::from_json(json)).unwrap()
}

fn run(p: &mut ThresholdBan, events: &[(&str, i64)]) -> Vec<String> {
    let mut b = BatchBuilder::new();
    for (src, at) in events {
        b.push(TestEvent::tcp(src, "192.0.2.1", 443).at_ms(*at));
    }
    let batch = b.batch();
    let mut out = Output::for_batch(&batch);
    p.process(&batch, &mut out);
    out.actions()
        .iter()
        .map(|a| match a {
            Action::Ban {
                target,
                duration_secs,
                reason,
            } => {
                format!("ban {target} {duration_secs} {reason}")
            }
            Action::Unban(n) => format!("unban {n}"),
        })
        .collect()
}

#[test]
fn bans_at_the_threshold_within_the_window() {
    let mut p = plugin(r#"{"threshold": 3, "window": "10s", "ban_for": "1h"}"#);
    let evs = [
        ("203.0.113.9", 0),
        ("203.0.113.9", 4_000),
        ("198.51.100.1", 5_000),
    ];
    assert!(run(&mut p, &evs).is_empty());
    let bans = run(&mut p, &[("203.0.113.9", 9_000)]);
    assert_eq!(bans, ["ban 203.0.113.9/32 3600 3 events within 10s"]);
    // Banned once, not again on the next event.
    assert!(run(&mut p, &[("203.0.113.9", 9_500)]).is_empty());
}

#[test]
fn events_spread_wider_than_the_window_do_not_ban() {
    let mut p = plugin(r#"{"threshold": 3, "window": "10s"}"#);
    let evs = [
        ("2001:db8::5", 0),
        ("2001:db8::5", 6_000),
        ("2001:db8::5", 12_000),
        ("2001:db8::5", 18_000),
    ];
    assert!(run(&mut p, &evs).is_empty());
    let bans = run(&mut p, &[("2001:db8::5", 19_000)]);
    assert_eq!(bans, ["ban 2001:db8::5/128 3600 3 events within 10s"]);
}

#[test]
fn can_ban_again_after_the_ban_would_have_expired() {
    let mut p = plugin(r#"{"threshold": 2, "window": "1m", "ban_for": "90s"}"#);
    assert_eq!(
        run(&mut p, &[("203.0.113.1", 0), ("203.0.113.1", 1_000)]).len(),
        1
    );
    assert!(run(&mut p, &[("203.0.113.1", 50_000), ("203.0.113.1", 60_000)]).is_empty());
    assert_eq!(
        run(&mut p, &[("203.0.113.1", 95_000), ("203.0.113.1", 96_000)]).len(),
        1
    );
}

#[test]
fn a_snapshot_carries_the_windows_into_a_new_instance() {
    let cfg = r#"{"threshold": 3, "window": "1m"}"#;
    let mut first = plugin(cfg);
    assert!(run(&mut first, &[("203.0.113.4", 0), ("203.0.113.4", 1_000)]).is_empty());
    let saved = first.snapshot();
    let mut second = plugin(cfg);
    second.restore(&saved).unwrap();
    assert_eq!(run(&mut second, &[("203.0.113.4", 2_000)]).len(), 1);
    // Without the snapshot the third event alone is not enough.
    assert!(run(&mut plugin(cfg), &[("203.0.113.4", 2_000)]).is_empty());
    assert!(plugin(cfg).restore(b"not msgpack").is_err());
}

#[test]
fn block_listed_sources_are_banned_on_first_sight_once() {
    let mut p = plugin(
        r#"{"threshold": 100, "ban_countries": ["gb"], "ban_asns": [7018], "ban_orgs": ["zscaler"]}"#,
    );
    let mut b = BatchBuilder::new();
    b.push(
        TestEvent::tcp("81.2.69.142", "192.0.2.1", 22)
            .at_ms(0)
            .geo("GB", 0, "", "London"),
    );
    b.push(TestEvent::tcp("12.81.92.1", "192.0.2.1", 22).at_ms(1).geo(
        "US",
        7018,
        "AT&T Services",
        "",
    ));
    b.push(
        TestEvent::tcp("104.129.204.86", "192.0.2.1", 22)
            .at_ms(2)
            .geo("US", 22616, "ZSCALER, INC.", ""),
    );
    b.push(
        TestEvent::tcp("8.8.8.8", "192.0.2.1", 22)
            .at_ms(3)
            .geo("US", 15169, "Google LLC", ""),
    );
    b.push(
        TestEvent::tcp("81.2.69.142", "192.0.2.1", 22)
            .at_ms(4)
            .geo("GB", 0, "", "London"),
    );
    let batch = b.batch();
    let mut out = Output::for_batch(&batch);
    p.process(&batch, &mut out);
    let reasons: Vec<String> = out
        .actions()
        .iter()
        .map(|a| match a {
            Action::Ban { target, reason, .. } => format!("{target}: {reason}"),
            Action::Unban(n) => format!("unban {n}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "81.2.69.142/32: country GB is block-listed",
            "12.81.92.1/32: AS7018 is block-listed",
            "104.129.204.86/32: organisation \"ZSCALER, INC.\" matches block-listed \"ZSCALER\"",
        ]
    );
}

#[test]
fn refuses_bad_config_naming_the_key() {
    for (json, key) in [
        (r#"{"threshold": 0}"#, "threshold"),
        (r#"{"window": "0s"}"#, "window"),
        (r#"{"ban_for": "soon"}"#, "ban_for"),
        (r#"{"threshold": -1}"#, "threshold"),
        (r#"{"ban_countries": ["GBR"]}"#, "ban_countries[0]"),
        (r#"{"ban_asns": [0]}"#, "ban_asns[0]"),
        (r#"{"ban_orgs": [" "]}"#, "ban_orgs[0]"),
    ] {
        let e = ThresholdBan::init(Config::from_json(json)).err().unwrap();
        assert_eq!(e.key.as_deref(), Some(key), "{json}: {e}");
    }
    let e = ThresholdBan::init(Config::from_json(r#"{"treshold": 3}"#))
        .err()
        .unwrap();
    assert!(e.to_string().contains("treshold"), "{e}");
}

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

#[test]
fn the_dominant_source_is_banned_by_the_share_rule() {
    let mut p =
        plugin(r#"{"threshold": 1000, "share": 0.4, "share_min_events": 10, "window": "10m"}"#);
    // 4 of the first 9 events are 203.0.113.9's: not enough events yet.
    let mut evs: Vec<(String, i64)> = (0..9)
        .map(|i| {
            let src = if i % 2 == 0 && i < 8 {
                "203.0.113.9".to_string()
            } else {
                format!("198.51.100.{i}")
            };
            (src, i * 1_000)
        })
        .collect();
    let refs: Vec<(&str, i64)> = evs.iter().map(|(s, t)| (s.as_str(), *t)).collect();
    assert!(run(&mut p, &refs).is_empty());
    // The 10th: 5 of 10 is above 40%.
    evs = vec![("203.0.113.9".into(), 9_000), ("203.0.113.9".into(), 9_500)];
    let refs: Vec<(&str, i64)> = evs.iter().map(|(s, t)| (s.as_str(), *t)).collect();
    assert_eq!(
        run(&mut p, &refs),
        ["ban 203.0.113.9/32 3600 50.0% of 10 events within 10m (share above 40.0%)"]
    );
}

#[test]
fn a_share_below_the_fraction_never_bans() {
    let mut p = plugin(r#"{"share": 0.5, "share_min_events": 4, "threshold": 1000}"#);
    // Three sources in turn: at most half of 4 events, then less.
    let srcs = ["203.0.113.1", "203.0.113.2", "203.0.113.3"];
    let evs: Vec<(&str, i64)> = (0..100).map(|i| (srcs[i % 3], i as i64 * 100)).collect();
    assert!(run(&mut p, &evs).is_empty());
}

#[test]
fn the_share_window_slides_in_event_time() {
    let mut p = plugin(
        r#"{"share": 0.4, "share_min_events": 3, "share_window": "10s", "threshold": 1000}"#,
    );
    // 203.0.113.1 dominates early, but those events have left the window when the
    // minimum is reached 20s later.
    let evs = [
        ("203.0.113.1", 0),
        ("203.0.113.1", 100),
        ("198.51.100.1", 20_000),
        ("198.51.100.2", 20_100),
        ("203.0.113.1", 20_200),
    ];
    assert!(run(&mut p, &evs).is_empty());
    let bans = run(&mut p, &[("203.0.113.1", 20_300)]);
    assert_eq!(
        bans,
        ["ban 203.0.113.1/32 3600 50.0% of 4 events within 10s (share above 40.0%)"]
    );
}

#[test]
fn threshold_and_share_ban_a_source_once() {
    let mut p = plugin(r#"{"threshold": 3, "share": 0.5, "share_min_events": 3}"#);
    let bans = run(
        &mut p,
        &[("203.0.113.1", 0), ("203.0.113.1", 1), ("203.0.113.1", 2)],
    );
    assert_eq!(bans, ["ban 203.0.113.1/32 3600 3 events within 1m"]);
}

#[test]
fn repeat_offenders_get_doubled_bans_up_to_ban_max() {
    let mut p = plugin(
        r#"{"threshold": 2, "window": "1m", "ban_for": "1h", "escalate": 2, "ban_max": "3h"}"#,
    );
    let ip = "203.0.113.5";
    let mut at = 0;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.extend(run(&mut p, &[(ip, at), (ip, at + 1_000)]));
        // The next offence right after this ban ends, whatever its length.
        at += 3 * HOUR + 1_000;
    }
    assert_eq!(
        got,
        [
            "ban 203.0.113.5/32 3600 2 events within 1m",
            "ban 203.0.113.5/32 7200 2 events within 1m; offence 2, banned 2h",
            "ban 203.0.113.5/32 10800 2 events within 1m; offence 3, banned 3h",
            "ban 203.0.113.5/32 10800 2 events within 1m; offence 4, banned 3h",
        ]
    );
}

#[test]
fn escalation_survives_a_snapshot_and_forget_after_resets_it() {
    let cfg = r#"{"threshold": 1, "ban_for": "1h", "escalate": 2, "forget_after": "1d"}"#;
    let mut first = plugin(cfg);
    assert_eq!(run(&mut first, &[("2001:db8::1", 0)]).len(), 1);
    let mut second = plugin(cfg);
    second.restore(&first.snapshot()).unwrap();
    assert_eq!(
        run(&mut second, &[("2001:db8::1", 2 * HOUR)]),
        ["ban 2001:db8::1/128 7200 1 events within 1m; offence 2, banned 2h"]
    );
    // More than a day after the last offence: a first offence again.
    assert_eq!(
        run(&mut second, &[("2001:db8::1", 27 * HOUR)]),
        ["ban 2001:db8::1/128 3600 1 events within 1m"]
    );
}

#[test]
fn key_net_counts_and_bans_the_network() {
    let mut p = plugin(r#"{"threshold": 3, "key": "net", "net_prefix_v4": 24}"#);
    let bans = run(
        &mut p,
        &[
            ("203.0.113.1", 0),
            ("203.0.113.2", 1),
            ("198.51.100.1", 2),
            ("203.0.113.3", 3),
        ],
    );
    assert_eq!(bans, ["ban 203.0.113.0/24 3600 3 events within 1m"]);
}

#[test]
fn k_banned_addresses_ban_their_network_once() {
    let mut p = plugin(
        r#"{"threshold": 2, "net_ban_after": 3, "net_ban_window": "10m", "net_prefix_v4": 24}"#,
    );
    let mut bans = Vec::new();
    for (i, ip) in ["203.0.113.1", "203.0.113.2", "198.51.100.7", "203.0.113.3"]
        .into_iter()
        .enumerate()
    {
        let at = i as i64 * MIN;
        bans.extend(run(&mut p, &[(ip, at), (ip, at + 1)]));
    }
    assert_eq!(
        bans,
        [
            "ban 203.0.113.1/32 3600 2 events within 1m",
            "ban 203.0.113.2/32 3600 2 events within 1m",
            "ban 198.51.100.7/32 3600 2 events within 1m",
            "ban 203.0.113.3/32 3600 2 events within 1m",
            "ban 203.0.113.0/24 3600 3 addresses of 203.0.113.0/24 banned within 10m",
        ]
    );
    // Inside the banned network, addresses are not banned one by one.
    assert!(
        run(
            &mut p,
            &[("203.0.113.4", 5 * MIN), ("203.0.113.4", 5 * MIN + 1)]
        )
        .is_empty()
    );
}

#[test]
fn offenders_too_far_apart_do_not_ban_the_network() {
    let mut p = plugin(r#"{"threshold": 1, "net_ban_after": 2, "net_ban_window": "10m"}"#);
    assert_eq!(run(&mut p, &[("203.0.113.1", 0)]).len(), 1);
    assert_eq!(run(&mut p, &[("203.0.113.2", 11 * MIN)]).len(), 1);
    assert_eq!(run(&mut p, &[("203.0.113.3", 12 * MIN)]).len(), 2);
}

#[test]
fn a_first_version_snapshot_still_restores() {
    // The first version saved only its windows, with each source's ban horizon.
    #[derive(Serialize)]
    struct FirstVersion {
        sources: Vec<([u8; 16], Vec<i64>, i64)>,
        latest: i64,
    }
    let banned = key::bytes("203.0.113.1".parse().unwrap());
    let counting = key::bytes("203.0.113.2".parse().unwrap());
    let bytes = state::save(&FirstVersion {
        sources: vec![(banned, vec![], HOUR), (counting, vec![0, 1], i64::MIN)],
        latest: 1,
    });
    let mut p = plugin(r#"{"threshold": 3}"#);
    p.restore(&bytes).unwrap();
    let bans = run(
        &mut p,
        &[
            ("203.0.113.1", 2),
            ("203.0.113.1", 3),
            ("203.0.113.1", 4),
            ("203.0.113.2", 5),
        ],
    );
    assert_eq!(bans, ["ban 203.0.113.2/32 3600 3 events within 1m"]);
}

#[test]
fn windows_kept_with_another_key_start_afresh() {
    let mut first = plugin(r#"{"threshold": 3}"#);
    run(&mut first, &[("203.0.113.1", 0), ("203.0.113.1", 1)]);
    let mut second = plugin(r#"{"threshold": 3, "key": "net"}"#);
    second.restore(&first.snapshot()).unwrap();
    assert!(run(&mut second, &[("203.0.113.1", 2)]).is_empty());
}

#[test]
fn idle_state_is_pruned_in_event_time_not_host_time() {
    let mut p = plugin(r#"{"threshold": 3, "window": "1h", "escalate": 2, "forget_after": "1d"}"#);
    let batch_at = |p: &mut ThresholdBan, src: &str, at: i64| {
        let mut b = BatchBuilder::new();
        // The host clock is years past the replayed log.
        b.now_ms(1_000 * 86_400_000);
        b.push(TestEvent::tcp(src, "192.0.2.1", 22).at_ms(at));
        let batch = b.batch();
        let mut out = Output::for_batch(&batch);
        p.process(&batch, &mut out);
        out.actions().len()
    };
    batch_at(&mut p, "203.0.113.1", 0);
    batch_at(&mut p, "203.0.113.1", 1);
    for i in 0..PRUNE_EVERY as i64 {
        batch_at(&mut p, &format!("198.51.100.{i}"), 2 + i);
    }
    assert_eq!(
        batch_at(&mut p, "203.0.113.1", 100),
        1,
        "the window was kept"
    );
    // Two days of log time later, the idle ones are gone.
    for i in 0..PRUNE_EVERY as i64 {
        batch_at(&mut p, &format!("192.0.2.{i}"), 2 * 86_400_000 + i);
    }
    // Only the last loop's sources are left.
    assert_eq!(
        (p.windows.len(), p.offenders.len()),
        (PRUNE_EVERY as usize, 0)
    );
}

#[test]
fn refuses_bad_new_config_naming_the_key() {
    for (json, key) in [
        (r#"{"key": "asn"}"#, "key"),
        (r#"{"key": "dst"}"#, "key"),
        (r#"{"net_prefix_v4": 0}"#, "net_prefix_v4"),
        (r#"{"net_prefix_v6": 129}"#, "net_prefix_v6"),
        (r#"{"share": 0}"#, "share"),
        (r#"{"share": 1.0}"#, "share"),
        (r#"{"share": 50}"#, "share"),
        (
            r#"{"share": 0.5, "share_min_events": 0}"#,
            "share_min_events",
        ),
        (r#"{"share": 0.5, "share_window": "0s"}"#, "share_window"),
        (r#"{"escalate": 0.5}"#, "escalate"),
        (r#"{"ban_for": "2h", "ban_max": "1h"}"#, "ban_max"),
        (r#"{"forget_after": "0s"}"#, "forget_after"),
        (r#"{"net_ban_after": 1}"#, "net_ban_after"),
        (
            r#"{"net_ban_after": 3, "net_ban_window": "0s"}"#,
            "net_ban_window",
        ),
        (r#"{"net_ban_after": -3}"#, "net_ban_after"),
    ] {
        let e = ThresholdBan::init(Config::from_json(json)).err().unwrap();
        assert_eq!(e.key.as_deref(), Some(key), "{json}: {e}");
    }
}
