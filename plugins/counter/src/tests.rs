//! Unit tests of the plugin as a whole: config, exact counts, window expiry, reports,
//! gauges, snapshots, bounded memory.

use super::*;
use portcullis_sdk::testing::{BatchBuilder, TestEvent};

fn plugin(json: &str) -> Counter {
    Counter::init(Config::from_json(json)).unwrap()
}

fn feed(p: &mut Counter, events: impl IntoIterator<Item = TestEvent>) {
    let mut b = BatchBuilder::new();
    for ev in events {
        b.push(ev);
    }
    let batch = b.batch();
    let mut out = Output::for_batch(&batch);
    p.process(&batch, &mut out);
    assert_eq!(out.dropped_count(), 0, "the counter keeps every event");
}

fn syn(src: &str, dpt: u16, at: i64) -> TestEvent {
    TestEvent::tcp(src, "192.0.2.1", dpt).at_ms(at)
}

#[test]
fn counts_exactly_while_keys_fit() {
    let mut p = plugin(r#"{"by": ["src", "net", "dport", "org"], "top": 2}"#);
    feed(
        &mut p,
        [
            syn("203.0.113.9", 22, 0).geo("US", 64_500, "Example, Inc.", ""),
            syn("203.0.113.9", 22, 1),
            syn("203.0.113.7", 23, 2),
            syn("198.51.100.1", 22, 3),
            syn("203.0.113.9", 443, 4),
        ],
    );
    assert_eq!(
        p.report(),
        [
            "top 2 src of 5 events in total (exact): 203.0.113.9 3 (60.0%), 198.51.100.1 1 (20.0%)",
            "top 2 src of 5 events in the last 10m (exact): 203.0.113.9 3 (60.0%), 198.51.100.1 1 (20.0%)",
            "top 2 net of 5 events in total (exact): 203.0.113.0/24 4 (80.0%), 198.51.100.0/24 1 (20.0%)",
            "top 2 net of 5 events in the last 10m (exact): 203.0.113.0/24 4 (80.0%), 198.51.100.0/24 1 (20.0%)",
            "top 2 dport of 5 events in total (exact): 22 3 (60.0%), 23 1 (20.0%)",
            "top 2 dport of 5 events in the last 10m (exact): 22 3 (60.0%), 23 1 (20.0%)",
            "top 2 org of 5 events in total (exact): (none) 4 (80.0%), \"Example, Inc.\" 1 (20.0%)",
            "top 2 org of 5 events in the last 10m (exact): (none) 4 (80.0%), \"Example, Inc.\" 1 (20.0%)",
        ]
    );
    assert_eq!(host::test_metric("events_total"), Some(5.0));
    assert_eq!(host::test_metric("events_window"), Some(5.0));
    // src: 3 keys in total + 3 in the one bucket.
    assert_eq!(host::test_metric("src_counters"), Some(6.0));
}

#[test]
fn the_window_forgets_what_the_total_keeps() {
    let mut p = plugin(r#"{"by": ["src"], "window": "10s", "top": 3}"#);
    feed(&mut p, (0..6).map(|i| syn("203.0.113.1", 22, i * 1_000)));
    feed(&mut p, [syn("198.51.100.2", 22, 15_500)]);
    // At 15.5s the window holds [6s, 16s): nothing of 203.0.113.1 any more.
    let lines = p.report();
    assert_eq!(
        lines[0],
        "top 3 src of 7 events in total (exact): 203.0.113.1 6 (85.7%), 198.51.100.2 1 (14.3%)"
    );
    assert_eq!(
        lines[1],
        "top 3 src of 1 events in the last 10s (exact): 198.51.100.2 1 (100.0%)"
    );
}

#[test]
fn a_snapshot_carries_the_counts_into_a_new_instance() {
    let cfg = r#"{"by": ["src", "dport"], "top": 1}"#;
    let mut first = plugin(cfg);
    feed(
        &mut first,
        [syn("203.0.113.4", 22, 0), syn("203.0.113.4", 22, 1)],
    );
    let saved = first.snapshot();
    let mut second = plugin(cfg);
    second.restore(&saved).unwrap();
    feed(&mut second, [syn("203.0.113.4", 80, 2)]);
    assert_eq!(
        second.report()[0],
        "top 1 src of 3 events in total (exact): 203.0.113.4 3 (100.0%)"
    );
    // Another capacity starts afresh rather than break the bound.
    let mut other = plugin(r#"{"by": ["src"], "top": 1, "capacity": 8}"#);
    other.restore(&saved).unwrap();
    assert!(
        other.report()[0].contains("of 0 events"),
        "{:?}",
        other.report()
    );
    assert!(plugin(cfg).restore(b"not msgpack").is_err());
}

#[test]
fn memory_stays_at_capacity_with_many_distinct_sources() {
    let mut p = plugin(r#"{"by": ["src"], "capacity": 64, "top": 2}"#);
    for chunk in 0..20u32 {
        feed(
            &mut p,
            (0..1_000u32).map(|i| {
                let n = chunk * 1_000 + i;
                let src = format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255);
                // 203.0.113.1 is one event in ten.
                let src = if n % 10 == 0 {
                    "203.0.113.1".to_string()
                } else {
                    src
                };
                syn(&src, 22, i64::from(n))
            }),
        );
    }
    let t = &p.tallies[0];
    assert_eq!(t.total.len(), 64);
    assert!(t.window.counters() <= 64 * BUCKETS_USIZE);
    let lines = p.report();
    assert!(
        lines[0].starts_with("top 2 src of 20000 events in total (each count at most"),
        "{}",
        lines[0]
    );
    let count: u64 = lines[0]
        .split(": 203.0.113.1 ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|c| c.parse().ok())
        .expect("the heavy source is listed first");
    assert!((2_000..=2_000 + 20_000 / 64).contains(&count), "{count}");
}

const BUCKETS_USIZE: usize = window::BUCKETS as usize;

#[test]
fn refuses_bad_config_naming_the_key() {
    for (json, key) in [
        (r#"{"by": []}"#, "by"),
        (r#"{"by": ["src", "city"]}"#, "by[1]"),
        (r#"{"by": ["src", "src"]}"#, "by[1]"),
        (r#"{"net_prefix_v4": 0}"#, "net_prefix_v4"),
        (r#"{"net_prefix_v4": 33}"#, "net_prefix_v4"),
        (r#"{"net_prefix_v6": 129}"#, "net_prefix_v6"),
        (r#"{"window": "0s"}"#, "window"),
        (r#"{"window": "10"}"#, "window"),
        (r#"{"top": 0}"#, "top"),
        (r#"{"top": 20, "capacity": 10}"#, "capacity"),
        (r#"{"capacity": 100000000}"#, "capacity"),
    ] {
        let e = Counter::init(Config::from_json(json)).err().unwrap();
        assert_eq!(e.key.as_deref(), Some(key), "{json}: {e}");
    }
    let e = Counter::init(Config::from_json(r#"{"bye": ["src"]}"#))
        .err()
        .unwrap();
    assert!(e.to_string().contains("bye"), "{e}");
}
