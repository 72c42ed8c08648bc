//! `portcullis replay`: old logs through the configured stages in their own time. The same
//! decisions whatever the machine's clock and however fast the log is read; windows count
//! in log time, so a source that offends only outside any window is not banned; an expiry
//! inside the replayed span is reported as such; nothing touches a firewall.

use crate::common::{portcullis, root, stderr, stdout, write_config};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const FLOOD: &str = r#"
[[pipeline]]
name = "private"
plugin = "cidr-filter"
[pipeline.config]
drop_sources = ["private"]

[[pipeline]]
name = "flood"
plugin = "threshold-ban"
[pipeline.config]
threshold = 100
window = "30m"
ban_for = "1h"
"#;

fn replay(cfg: &Path, file: &str) -> serde_json::Value {
    let out = portcullis(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "replay",
            file,
            "--format",
            "json",
        ],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(stdout(&out).trim()).expect("one JSON report")
}

#[test]
fn the_same_decisions_whatever_the_clock_and_the_reading_speed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), FLOOD);
    // gen-fwlog --lines 4000 --seed 11 --rate 0.3 --format rfc3339
    //   --start 2026-08-30T08:00:00 --noise 0.02: 3 h 40 min of log time.
    let log = root().join("tests/fixtures/gen-fwlog-hours.log");
    let first = replay(&cfg, log.to_str().unwrap());
    let bans = first["bans"].as_array().unwrap();
    assert!(bans.len() >= 2, "{first}");
    // Every time in the report is log time, within the log's span.
    let (start, end) = (1_788_076_800, 1_788_090_049); // 2026-08-30T08:00:00Z, T11:40:49Z
    for b in bans {
        let at = b["at"].as_i64().unwrap();
        assert!((start..=end).contains(&at), "{b}");
        assert_eq!(b["until"].as_i64().unwrap() - at, 3600);
    }
    assert_eq!(first["end"].as_i64().unwrap(), end);
    // A second later on the wall clock, the log read slowly through stdin: the same.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let text = std::fs::read(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "replay",
            "-",
            "--format",
            "json",
        ])
        .env("PORTCULLIS__STATE__DIR", dir.path().join("state"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for chunk in text.chunks(100_000) {
            stdin.write_all(chunk).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first, second);
}

/// An RFC 3339 kernel LOG line at `t` (unix seconds) from `src`.
fn line(t: i64, src: &str) -> String {
    let (days, rem) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // 2026-08-30 is day 20695 since the epoch; these tests stay within that day.
    assert_eq!(days, 20_695);
    format!(
        "2026-08-30T{:02}:{:02}:{:02}.000000+00:00 fw kernel: DROP: IN=eth0 OUT= MAC= SRC={src} DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0 \n",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn windows_count_in_log_time_and_expiries_inside_the_span_are_reported() {
    let day = 1_788_048_000; // 2026-08-30T00:00:00Z
    let mut events: Vec<(i64, String)> = Vec::new();
    // 150 events in three hours: more than 100 in all, never 100 within 30 minutes.
    for i in 0..150 {
        events.push((
            day + 8 * 3600 + i * 72,
            line(day + 8 * 3600 + i * 72, "198.51.100.7"),
        ));
    }
    // 120 events within ten minutes at 09:00: banned, for an hour that ends at 10:08.
    for i in 0..120 {
        events.push((
            day + 9 * 3600 + i * 5,
            line(day + 9 * 3600 + i * 5, "203.0.113.9"),
        ));
    }
    // 110 events within ten minutes at 10:45: banned past the log's end (11:00).
    for i in 0..110 {
        events.push((
            day + 10 * 3600 + 2700 + i * 5,
            line(day + 10 * 3600 + 2700 + i * 5, "192.0.2.77"),
        ));
    }
    events.push((day + 11 * 3600, line(day + 11 * 3600, "198.51.100.200")));
    events.sort();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("old.log");
    std::fs::write(
        &log,
        events.iter().map(|(_, l)| l.as_str()).collect::<String>(),
    )
    .unwrap();
    let cfg = write_config(dir.path(), FLOOD);
    let report = replay(&cfg, log.to_str().unwrap());
    let bans = report["bans"].as_array().unwrap();
    let targets: Vec<&str> = bans.iter().map(|b| b["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["203.0.113.9/32", "192.0.2.77/32"], "{report}");
    let early = &bans[0];
    // The 100th event inside the window came at 09:08:15 (the 100th, 5 s apart).
    assert_eq!(early["at"].as_i64().unwrap(), day + 9 * 3600 + 99 * 5);
    assert_eq!(early["stage"], "flood");
    assert!(
        early["reason"]
            .as_str()
            .unwrap()
            .contains("100 events within 30m")
    );
    assert_eq!(early["expired_in_log"], true);
    assert_eq!(bans[1]["expired_in_log"], false);
    // The table says the same in words.
    let out = portcullis(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "replay",
            log.to_str().unwrap(),
        ],
        &[],
        None,
    );
    let table = stdout(&out);
    assert!(table.contains("expired within the log"), "{table}");
    assert!(table.contains("still active at the log's end"), "{table}");
    assert!(!table.contains("198.51.100.7/32"), "{table}");
}
