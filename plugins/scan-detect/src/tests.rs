//! Unit tests of the detector: each scanner is detected and classified, windows slide
//! with event time, actions, state across restarts, and refused config.

use super::*;
use portcullis_abi::record::{RECORD_SIZE, RecordFields, encode};
use portcullis_sdk::tcp_flags::{ACK, FIN, PSH, RST, SYN, URG};
use portcullis_sdk::{Action, Annotation};

fn plugin(json: &str) -> ScanDetect {
    ScanDetect::init(Config::from_json(json)).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// A probe: source, destination, protocol, destination port, TCP flags, log time.
#[derive(Clone, Copy)]
struct Probe {
    src: &'static str,
    dst: &'static str,
    proto: u8,
    dpt: Option<u16>,
    flags: u16,
    at: Option<i64>,
}

fn tcp(src: &'static str, dpt: u16, flags: u16, at: i64) -> Probe {
    Probe {
        src,
        dst: "192.0.2.1",
        proto: 6,
        dpt: Some(dpt),
        flags,
        at: Some(at),
    }
}

fn udp(src: &'static str, dpt: u16, at: i64) -> Probe {
    Probe {
        proto: 17,
        flags: 0,
        ..tcp(src, dpt, 0, at)
    }
}

/// What one batch produced: the actions as text, and the notes.
struct Outcome {
    actions: Vec<String>,
    notes: Vec<Annotation>,
}

fn run(p: &mut ScanDetect, probes: &[Probe]) -> Outcome {
    run_at(p, probes, 0)
}

fn run_at(p: &mut ScanDetect, probes: &[Probe], now_ms: i64) -> Outcome {
    let mut bytes = Vec::new();
    for pr in probes {
        let fields = RecordFields {
            src: Some(pr.src.parse().unwrap()),
            dst: Some(pr.dst.parse().unwrap()),
            time_ms: pr.at,
            proto: pr.proto,
            ports: pr.dpt.map(|d| (40_000, d)),
            icmp: pr.dpt.is_none().then_some((8, 0)),
            tcp_flags: pr.flags,
            ..RecordFields::default()
        };
        let mut rec = [0u8; RECORD_SIZE];
        encode(&fields, &mut rec);
        bytes.extend_from_slice(&rec);
    }
    let batch = Batch::new(&bytes, RECORD_SIZE, probes.len(), &[], &[], now_ms);
    let mut out = Output::for_batch(&batch);
    p.process(&batch, &mut out);
    Outcome {
        actions: out
            .actions()
            .iter()
            .map(|a| match a {
                Action::Ban {
                    target,
                    duration_secs,
                    reason,
                } => format!("ban {target} {duration_secs} {reason}"),
                Action::Unban(n) => format!("unban {n}"),
            })
            .collect(),
        notes: out.annotations().to_vec(),
    }
}

/// `n` probes from `src` to distinct ports from 1000, one every `step` ms from `start`.
fn sweep(
    src: &'static str,
    n: u16,
    start: i64,
    step: i64,
    probe: impl Fn(&'static str, u16, i64) -> Probe,
) -> Vec<Probe> {
    (0..n)
        .map(|i| probe(src, 1000 + i, start + step * i64::from(i)))
        .collect()
}

#[test]
fn each_scanner_is_detected_and_classified() {
    for (flags, kind) in [
        (SYN, "SYN"),
        (FIN, "FIN"),
        (0, "NULL"),
        (URG | PSH | FIN, "XMAS"),
        (ACK, "ACK"),
        (SYN | ACK, "TCP"),
        (RST, "TCP"),
    ] {
        let mut p = plugin("{}");
        let probes = sweep("203.0.113.7", 25, 0, 100, |s, d, t| tcp(s, d, flags, t));
        let r = run(&mut p, &probes);
        assert_eq!(
            r.actions,
            [format!(
                "ban 203.0.113.7/32 3600 {kind} scan: 20 ports within 1m"
            )],
            "flags {flags:#x}"
        );
    }
    let mut p = plugin("{}");
    let r = run(&mut p, &sweep("2001:db8::9", 20, 0, 100, udp));
    assert_eq!(
        r.actions,
        ["ban 2001:db8::9/128 3600 UDP scan: 20 ports within 1m"]
    );
}

#[test]
fn a_blend_of_kinds_is_mixed() {
    let mut p = plugin(r#"{"ports": 10}"#);
    let mut probes = sweep("203.0.113.7", 5, 0, 100, |s, d, t| tcp(s, d, SYN, t));
    probes.extend((0..5).map(|i| udp("203.0.113.7", 2000 + i, 1000)));
    assert_eq!(
        run(&mut p, &probes).actions,
        ["ban 203.0.113.7/32 3600 mixed scan: 10 ports within 1m"]
    );
}

#[test]
fn the_window_slides_with_event_time() {
    let mut p = plugin(r#"{"ports": 5, "window": "10s"}"#);
    // One new port every 3 s: at most 4 fall within any 10 s.
    let slow = sweep("203.0.113.7", 30, 0, 3_000, |s, d, t| tcp(s, d, SYN, t));
    assert!(run(&mut p, &slow).actions.is_empty());
    // A fifth port 1 s after the last four lands them all within 10 s.
    let last = slow.last().unwrap().at.unwrap();
    let r = run(&mut p, &[tcp("203.0.113.7", 9, SYN, last + 1_000)]);
    assert_eq!(
        r.actions,
        ["ban 203.0.113.7/32 3600 SYN scan: 5 ports within 10s"]
    );
}

#[test]
fn an_earlier_port_seen_again_counts_once_and_from_its_latest_time() {
    let mut p = plugin(r#"{"ports": 3, "window": "10s"}"#);
    let r = run(
        &mut p,
        &[
            tcp("203.0.113.7", 22, SYN, 0),
            tcp("203.0.113.7", 22, SYN, 1_000),
            tcp("203.0.113.7", 22, SYN, 2_000),
            tcp("203.0.113.7", 80, SYN, 3_000),
            // 22 was seen at 2 s, so it is still in the window at 12 s.
            tcp("203.0.113.7", 443, SYN, 12_000),
        ],
    );
    assert_eq!(
        r.actions,
        ["ban 203.0.113.7/32 3600 SYN scan: 3 ports within 10s"]
    );
}

#[test]
fn the_same_number_over_tcp_and_udp_is_two_ports() {
    let mut p = plugin(r#"{"ports": 2}"#);
    let r = run(
        &mut p,
        &[tcp("203.0.113.7", 53, SYN, 0), udp("203.0.113.7", 53, 1)],
    );
    assert_eq!(
        r.actions,
        ["ban 203.0.113.7/32 3600 mixed scan: 2 ports within 1m"]
    );
}

#[test]
fn sources_are_counted_apart() {
    let mut p = plugin(r#"{"ports": 4}"#);
    let mut probes = Vec::new();
    for i in 0..3u16 {
        for src in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
            probes.push(tcp(src, 100 + i, SYN, i64::from(i)));
        }
    }
    assert!(run(&mut p, &probes).actions.is_empty());
}

#[test]
fn host_sweeps_are_detected_when_enabled() {
    let dsts = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];
    let probes: Vec<Probe> = dsts
        .iter()
        .enumerate()
        .map(|(i, dst)| Probe {
            dst,
            ..tcp("198.51.100.9", 445, SYN, i as i64)
        })
        .collect();
    assert!(run(&mut plugin("{}"), &probes).actions.is_empty());
    let r = run(&mut plugin(r#"{"hosts": 4, "window": "5m"}"#), &probes);
    assert_eq!(
        r.actions,
        ["ban 198.51.100.9/32 3600 SYN sweep: 4 hosts within 5m"]
    );
    // Pings have no port but count as hosts.
    let pings: Vec<Probe> = dsts
        .iter()
        .map(|dst| Probe {
            dst,
            proto: 1,
            dpt: None,
            ..tcp("198.51.100.9", 0, 0, 0)
        })
        .collect();
    let r = run(&mut plugin(r#"{"hosts": 4}"#), &pings);
    assert_eq!(
        r.actions,
        ["ban 198.51.100.9/32 3600 ICMP sweep: 4 hosts within 1m"]
    );
    assert!(run(&mut plugin("{}"), &pings).actions.is_empty());
}

#[test]
fn annotate_notes_the_kind_on_the_sources_events_from_the_detection_on() {
    let mut p = plugin(r#"{"ports": 3, "action": "annotate", "ban_for": "1m"}"#);
    let mut probes = sweep("203.0.113.7", 4, 0, 10, |s, d, t| tcp(s, d, FIN, t));
    probes.push(tcp("198.51.100.1", 80, SYN, 50));
    let r = run(&mut p, &probes);
    assert!(r.actions.is_empty());
    let noted: Vec<(u32, &str, &str)> = r
        .notes
        .iter()
        .map(|a| (a.event, a.key.as_str(), a.value.as_str()))
        .collect();
    assert_eq!(noted, [(2, "scan", "FIN"), (3, "scan", "FIN")]);
    // Still flagged in the next batch; no longer once `ban_for` has passed.
    let r = run(&mut p, &[tcp("203.0.113.7", 22, SYN, 59_000)]);
    assert_eq!(r.notes.len(), 1);
    let r = run(&mut p, &[tcp("203.0.113.7", 22, SYN, 61_000)]);
    assert!(r.notes.is_empty());
}

#[test]
fn both_bans_and_annotates() {
    let mut p = plugin(r#"{"ports": 3, "action": "both"}"#);
    let r = run(
        &mut p,
        &sweep("203.0.113.7", 3, 0, 10, |s, d, t| tcp(s, d, 0, t)),
    );
    assert_eq!(
        r.actions,
        ["ban 203.0.113.7/32 3600 NULL scan: 3 ports within 1m"]
    );
    assert_eq!(r.notes.len(), 1);
    assert_eq!((r.notes[0].event, r.notes[0].value.as_str()), (2, "NULL"));
}

#[test]
fn a_source_is_banned_once_until_its_ban_runs_out() {
    let mut p = plugin(r#"{"ports": 3, "ban_for": "90s"}"#);
    let step = |start| sweep("203.0.113.7", 6, start, 10, |s, d, t| tcp(s, d, SYN, t));
    assert_eq!(run(&mut p, &step(0)).actions.len(), 1);
    assert!(run(&mut p, &step(60_000)).actions.is_empty());
    assert_eq!(run(&mut p, &step(95_000)).actions.len(), 1);
}

#[test]
fn lines_without_a_time_use_the_batch_clock() {
    let mut p = plugin(r#"{"ports": 3, "window": "10s"}"#);
    let untimed = |d| Probe {
        at: None,
        ..tcp("203.0.113.7", d, SYN, 0)
    };
    assert!(
        run_at(&mut p, &[untimed(1), untimed(2)], 0)
            .actions
            .is_empty()
    );
    assert!(run_at(&mut p, &[untimed(3)], 20_000).actions.is_empty());
    assert_eq!(
        run_at(&mut p, &[untimed(4), untimed(5)], 21_000)
            .actions
            .len(),
        1
    );
}

#[test]
fn a_snapshot_carries_the_windows_and_flags_into_a_new_instance() {
    let cfg = r#"{"ports": 4, "action": "both"}"#;
    let mut first = plugin(cfg);
    let mut probes = sweep("203.0.113.4", 3, 0, 10, |s, d, t| tcp(s, d, SYN, t));
    probes.extend(sweep("203.0.113.5", 4, 0, 10, |s, d, t| tcp(s, d, ACK, t)));
    assert_eq!(run(&mut first, &probes).actions.len(), 1);
    let saved = first.snapshot();

    let mut second = plugin(cfg);
    second.restore(&saved).unwrap();
    let r = run(
        &mut second,
        &[
            tcp("203.0.113.4", 9, SYN, 100),
            tcp("203.0.113.5", 9, SYN, 100),
        ],
    );
    assert_eq!(
        r.actions,
        ["ban 203.0.113.4/32 3600 SYN scan: 4 ports within 1m"]
    );
    // The already-detected source is still flagged, with its kind.
    assert_eq!(r.notes.last().map(|n| n.value.as_str()), Some("ACK"));

    // Without the snapshot the fourth port alone is not enough.
    assert!(
        run(&mut plugin(cfg), &[tcp("203.0.113.4", 9, SYN, 100)])
            .actions
            .is_empty()
    );
    assert!(plugin(cfg).restore(b"not msgpack").is_err());
    // A snapshot taken under a higher threshold is cut to the new one, not misread.
    let mut lower = plugin(r#"{"ports": 2}"#);
    lower.restore(&saved).unwrap();
    assert_eq!(
        run(&mut lower, &[tcp("203.0.113.4", 9, SYN, 100)]).actions,
        ["ban 203.0.113.4/32 3600 SYN scan: 2 ports within 1m"]
    );
}

#[test]
fn memory_stays_bounded_under_many_sources() {
    let mut p = plugin(r#"{"max_sources": 100}"#);
    for batch in 0..50i64 {
        let probes: Vec<Probe> = (0..100)
            .map(|i| {
                let src: &'static str = Box::leak(format!("10.{}.{}.1", batch, i).into_boxed_str());
                tcp(src, 80, SYN, batch)
            })
            .collect();
        run(&mut p, &probes);
        assert!(p.tracker.len() <= 100, "{}", p.tracker.len());
    }
}

#[test]
fn refuses_bad_config_naming_the_key() {
    for (json, key, needle) in [
        (r#"{"window": "0s"}"#, "window", "longer than 0s"),
        (r#"{"window": "soon"}"#, "window", "soon"),
        (r#"{"ports": 1}"#, "ports", "out of range"),
        (r#"{"ports": 10001}"#, "ports", "out of range"),
        (r#"{"ports": -3}"#, "ports", ""),
        (r#"{"hosts": 1}"#, "hosts", "0 (not tracked)"),
        (r#"{"action": "block"}"#, "action", "block"),
        (r#"{"ban_for": "0s"}"#, "ban_for", "longer than 0s"),
        (r#"{"max_sources": 10}"#, "max_sources", "at least 100"),
    ] {
        let e = match ScanDetect::init(Config::from_json(json)) {
            Ok(_) => panic!("{json} accepted"),
            Err(e) => e,
        };
        assert_eq!(e.key.as_deref(), Some(key), "{json}: {e}");
        assert!(e.to_string().contains(needle), "{json}: {e}");
    }
    let e = ScanDetect::init(Config::from_json(r#"{"port": 20}"#))
        .err()
        .unwrap();
    assert!(e.to_string().contains("port"), "{e}");
}

#[test]
fn describe_lists_every_key_init_accepts() {
    let d = ScanDetect::describe();
    let names: Vec<&str> = d.config.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "window",
            "ports",
            "hosts",
            "action",
            "ban_for",
            "max_sources"
        ]
    );
    let json = r#"{"window": "1m", "ports": 20, "hosts": 0, "action": "ban", "ban_for": "1h", "max_sources": 50000}"#;
    plugin(json);
}
