//! The live service (`portcullis run` without `--once`) reading files and stdin: rotation
//! by rename and by truncation, SIGTERM with a batch pending and `kill -9`, each followed
//! by a restart, a file that goes away and comes back, a burst larger than the queue,
//! patterns, reloads, a lone line and the batch deadline, a stdin source, and the metrics.
//!
//! How "no line lost or read twice" is observed: line `i` comes from its own address
//! 2001:db8::`i`, and `threshold-ban` with `threshold = 1` bans every source on its first
//! event, printed by the dry run. The ban targets printed then name the lines processed.
//! Within one run a line read twice is not banned twice (the stage remembers its
//! offenders), so there the line counter of the metrics must equal the lines written;
//! across restarts the stage's saved state is removed, so a line read again is banned
//! (printed) again.

use crate::common::write_config;
use crate::live::{Live, free_port, wait_until};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{Ipv6Addr, TcpStream};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Longest wait for anything the service should do at once.
const PATIENCE: u64 = 20;

/// Bans every source on its first event.
const BAN_EACH: &str = r#"
[[pipeline]]
name = "ban"
plugin = "threshold-ban"
[pipeline.config]
threshold = 1
window = "1h"
ban_for = "1h"
"#;

/// The source of line `i`: 2001:db8::`i`.
fn src(i: u32) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16)
}

/// A kernel LOG line of a dropped IPv6 SYN from `src`, the address written out in full as
/// the kernel does (so every line has the same length).
fn event(src: Ipv6Addr) -> String {
    let full = |a: Ipv6Addr| {
        a.segments()
            .iter()
            .map(|s| format!("{s:04x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    format!(
        "Aug 30 10:00:00 fw kernel: DROP: IN=eth0 OUT= MAC= SRC={} DST={} LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0 \n",
        full(src),
        full(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1))
    )
}

/// Lines `ids`, each from its own source.
fn lines(ids: Range<u32>) -> String {
    ids.map(|i| event(src(i))).collect()
}

/// Length of every line [`lines`] writes.
fn line_len() -> u64 {
    event(src(0)).len() as u64
}

/// The ban target of line `i`.
fn target(i: u32) -> String {
    format!("{}/128", src(i))
}

/// Appends `text` to `path` in one write, creating the file.
fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log");
    f.write_all(text.as_bytes()).expect("append to log");
}

/// The ban targets among dry-run output lines.
fn ban_targets(stdout: &[String]) -> Vec<String> {
    stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["action"] == "ban")
        .map(|v| v["target"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Asserts `banned` names every line of `ids` exactly once, and nothing else.
fn assert_once(banned: &[String], ids: Range<u32>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in banned {
        *counts.entry(t).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(10).collect();
    assert!(twice.is_empty(), "lines processed twice: {twice:?}");
    let expected: BTreeSet<String> = ids.map(target).collect();
    let lost: Vec<_> = expected
        .iter()
        .filter(|t| !counts.contains_key(t.as_str()))
        .take(10)
        .collect();
    let stray: Vec<_> = counts
        .keys()
        .filter(|t| !expected.contains(**t))
        .take(10)
        .collect();
    assert!(
        lost.is_empty() && stray.is_empty(),
        "{} bans for {} lines; lost: {lost:?}; unexpected: {stray:?}",
        banned.len(),
        expected.len()
    );
}

/// Waits until as many bans as `ids` were printed, then asserts they are exactly `ids`'s;
/// on a timeout, says which are missing.
fn wait_bans(live: &Live, ids: Range<u32>) {
    wait_more_bans(live, &[], ids);
}

/// Like [`wait_bans`], counting the bans `before` printed by an earlier run.
fn wait_more_bans(live: &Live, before: &[String], ids: Range<u32>) {
    let start = Instant::now();
    loop {
        let banned = [before, &live.banned()].concat();
        if banned.len() >= ids.len() || start.elapsed() > Duration::from_secs(PATIENCE) {
            assert_once(&banned, ids);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The line counter of the file source `path`.
fn lines_metric(path: &Path) -> String {
    format!(
        "portcullis_source_lines_total{{source=\"file:{}\"}}",
        path.display()
    )
}

/// Waits until `metric` reaches `want`, then asserts it is exactly `want` (a line read
/// twice would count twice).
fn wait_metric(live: &Live, metric: &str, want: f64) {
    wait_metric_within(live, metric, want, PATIENCE);
}

/// Like [`wait_metric`], waiting up to `secs`.
fn wait_metric_within(live: &Live, metric: &str, want: f64, secs: u64) {
    wait_until(&format!("{metric} to reach {want}"), secs, || {
        live.metric(metric) >= want
    });
    assert_eq!(live.metric(metric), want, "{metric}");
}

/// A test's folder (config, logs, state) and metrics port.
struct Case {
    dir: tempfile::TempDir,
    port: u16,
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the config: `body` (sources, stages, `[run]`), then a dry run that refuses
    /// no ban, the state folder and the metrics address.
    fn config(&self, body: &str) -> PathBuf {
        let text = format!(
            "{body}\n[actions]\nbackend = \"dry-run\"\nmax_new_per_minute = 1000000\nmax_active = 1000000\n\n[state]\ndir = {:?}\n\n[metrics]\nlisten = \"127.0.0.1:{}\"\n",
            self.path("state").display().to_string(),
            self.port
        );
        write_config(self.dir.path(), &text)
    }

    fn start(&self, config: &Path) -> Live {
        Live::start(config, &[], Some(self.port))
    }

    /// Forgets the stages' saved state, so a line read again after a restart is banned
    /// (printed) again; source positions are kept.
    fn forget_stage_state(&self) {
        match std::fs::remove_dir_all(self.path("state/plugins")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("{e}"),
            _ => {}
        }
    }

    /// Lines of the file source `path` behind its saved position (0 if none was saved).
    fn saved_lines(&self, path: &Path) -> u32 {
        let db = rusqlite::Connection::open(self.path("state/sources.db")).expect("sources.db");
        let key = format!("file:{}", path.display());
        let offset = db
            .query_row("SELECT value FROM cursors WHERE source = ?1", [key], |r| {
                r.get::<_, String>(0)
            })
            .map_or(0, |v| {
                let v: serde_json::Value = serde_json::from_str(&v).expect("position JSON");
                v["offset"].as_u64().expect("offset")
            });
        assert_eq!(
            offset % line_len(),
            0,
            "saved position {offset} is mid-line"
        );
        (offset / line_len()) as u32
    }
}

/// A file source.
fn file_source(path: &Path, start_at: &str) -> String {
    format!(
        "[[sources]]\nkind = \"file\"\npath = {:?}\nstart_at = \"{start_at}\"\n",
        path.display().to_string()
    )
}

#[test]
fn rotation_by_rename_and_create_loses_and_repeats_nothing() {
    let case = Case::new();
    let log = case.path("fw.log");
    append(&log, &lines(0..300));
    let live = case.start(&case.config(&(file_source(&log, "beginning") + BAN_EACH)));
    wait_bans(&live, 0..300);

    let rotated = case.path("fw.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    // The writer still holds the renamed file until it reopens the path.
    append(&rotated, &lines(300..350));
    append(&log, &lines(350..600));
    wait_bans(&live, 0..600);
    wait_metric(&live, &lines_metric(&log), 600.0);
    assert_once(&ban_targets(&live.stop()), 0..600);
}

#[test]
fn copytruncate_rotation_loses_and_repeats_nothing() {
    let case = Case::new();
    let log = case.path("fw.log");
    append(&log, &lines(0..300));
    let live = case.start(&case.config(&(file_source(&log, "beginning") + BAN_EACH)));
    wait_bans(&live, 0..300);

    // logrotate's copytruncate: the file is cut in place and the writer goes on writing
    // from its start, here fewer bytes than the file held.
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    f.write_all(lines(300..350).as_bytes()).unwrap();
    drop(f);
    wait_bans(&live, 0..350);
    wait_metric(&live, &lines_metric(&log), 350.0);
    assert_once(&ban_targets(&live.stop()), 0..350);
}

#[test]
fn sigterm_applies_what_was_taken_and_a_restart_resumes_there() {
    const N: u32 = 20_000;
    let case = Case::new();
    let log = case.path("fw.log");
    append(&log, &lines(0..N));
    let body = file_source(&log, "beginning")
        + BAN_EACH
        + "\n[run]\nbatch_deadline = \"60s\"\nqueue = 2\n";
    let config = case.config(&body);
    let live = case.start(&config);
    // While lines keep coming a batch waits for more (up to the deadline). SIGTERM comes
    // mid-file (the short queue keeps the file from being read ahead whole), with chunks
    // queued and a batch pending: all that was taken is applied, its position saved.
    wait_until("the first bans", PATIENCE, || !live.banned().is_empty());
    let first = ban_targets(&live.stop());
    let saved = case.saved_lines(&log);
    assert_once(&first, 0..saved);

    append(&log, &lines(N..N + 1000));
    case.forget_stage_state();
    let live = case.start(&config);
    wait_bans(&live, saved..N + 1000);
    wait_metric(&live, &lines_metric(&log), f64::from(N + 1000 - saved));
    let second = ban_targets(&live.stop());
    assert_once(&[first, second].concat(), 0..N + 1000);
}

#[test]
fn kill9_and_restart_lose_nothing_and_repeat_only_the_batch_in_flight() {
    let case = Case::new();
    let log = case.path("fw.log");
    append(&log, &lines(0..3000));
    let config = case.config(&(file_source(&log, "beginning") + BAN_EACH));
    let live = case.start(&config);
    wait_until("the first bans", PATIENCE, || !live.banned().is_empty());
    let first = ban_targets(&live.kill9());
    let saved = case.saved_lines(&log);
    // A batch's position is saved right after its bans are applied: a kill between the
    // two leaves that one batch (at most 1,024 lines) past the saved position, to be read
    // again. Nothing before the saved position is missing, nothing else is past it.
    let in_flight: BTreeSet<String> = (saved..(saved + 1024).min(3000)).map(target).collect();
    let behind: BTreeSet<String> = (0..saved).map(target).collect();
    let past: Vec<&String> = first.iter().filter(|t| !behind.contains(*t)).collect();
    assert!(
        past.iter().all(|t| in_flight.contains(*t)),
        "bans past the saved position (line {saved}) beyond the batch in flight"
    );
    let before: Vec<String> = first
        .iter()
        .filter(|t| behind.contains(*t))
        .cloned()
        .collect();
    assert_once(&before, 0..saved);

    append(&log, &lines(3000..4000));
    case.forget_stage_state();
    let live = case.start(&config);
    wait_bans(&live, saved..4000);
    wait_metric(&live, &lines_metric(&log), f64::from(4000 - saved));
    let second = ban_targets(&live.stop());
    // Everything once, apart from the batch in flight, which may appear twice.
    let all: Vec<String> = [before, second].concat();
    assert_once(&all, 0..4000);
}

#[test]
fn a_file_that_disappears_and_returns_is_read_again() {
    let case = Case::new();
    let log = case.path("fw.log");
    append(&log, &lines(0..100));
    let live = case.start(&case.config(&(file_source(&log, "beginning") + BAN_EACH)));
    wait_bans(&live, 0..100);

    std::fs::remove_file(&log).unwrap();
    // Let the service look at the missing path a few times (its rotation check runs at
    // most every 100 ms); nothing it reads changes meanwhile.
    let mut same = 0;
    wait_until("the line count to stay put", PATIENCE, || {
        same = if live.metric(&lines_metric(&log)) == 100.0 {
            same + 1
        } else {
            0
        };
        same >= 20
    });
    append(&log, &lines(100..200));
    wait_bans(&live, 0..200);
    wait_metric(&live, &lines_metric(&log), 200.0);
    assert_once(&ban_targets(&live.stop()), 0..200);
}

#[test]
fn a_burst_larger_than_the_queue_is_read_whole() {
    const N: u32 = 200_000;
    let case = Case::new();
    let log = case.path("fw.log");
    append(&log, "");
    let body = file_source(&log, "beginning") + BAN_EACH + "\n[run]\nqueue = 1\n";
    let live = case.start(&case.config(&body));
    append(&log, &lines(0..N));
    // A debug build takes seconds over 200,000 events: more patience than usual, and
    // the cheap counters polled rather than every ban line parsed again and again.
    wait_metric_within(&live, &lines_metric(&log), f64::from(N), 90);
    wait_metric_within(&live, "portcullis_bans_applied_total", f64::from(N), 90);
    assert_once(&ban_targets(&live.stop()), 0..N);
}

#[test]
fn a_pattern_follows_its_files_and_reads_new_ones_whole() {
    let case = Case::new();
    let (a, b, c) = (
        case.path("fw-a.log"),
        case.path("fw-b.log"),
        case.path("fw-c.log"),
    );
    // Before the start: skipped (start_at = "end"), or not matching the pattern.
    append(&a, &lines(0..50));
    append(&b, &lines(50..100));
    append(&case.path("other.log"), &lines(100..150));
    append(&case.path("fw-a.log.1"), &lines(150..200));
    let pattern = case.path("fw-*.log");
    let live = case.start(&case.config(&(file_source(&pattern, "end") + BAN_EACH)));

    // A line appended before the service has opened a file is skipped with the old ones:
    // append probes (file n gets PROBES + 2k + n) until one of each file is read.
    const PROBES: u32 = 1_000_000;
    let (mut k, mut seen) = (0, [false, false]);
    wait_until("a probe line of each file to be read", PATIENCE, || {
        let banned: BTreeSet<String> = live.banned().into_iter().collect();
        for (n, file) in [&a, &b].into_iter().enumerate() {
            let n = n as u32;
            seen[n as usize] |= (0..k).any(|j| banned.contains(&target(PROBES + 2 * j + n)));
            if !seen[n as usize] {
                let i = PROBES + 2 * k + n;
                append(file, &lines(i..i + 1));
            }
        }
        k += 1;
        seen == [true, true]
    });

    // A file that appears later is read from its start; the others go on.
    append(&c, &lines(200..300));
    append(&a, &lines(300..350));
    append(&b, &lines(350..400));
    let is_probe = |t: &String| (PROBES..PROBES + 2 * k).any(|i| target(i) == *t);
    wait_until("the new lines to be banned", PATIENCE, || {
        live.banned().iter().filter(|t| !is_probe(t)).count() >= 200
    });
    let probes = live.banned().iter().filter(|t| is_probe(t)).count();
    wait_metric(&live, &lines_metric(&pattern), 200.0 + probes as f64);
    let banned = ban_targets(&live.stop());
    let (probes, lines): (Vec<String>, Vec<String>) = banned.into_iter().partition(is_probe);
    assert_eq!(
        probes.len(),
        probes.iter().collect::<BTreeSet<_>>().len(),
        "a probe was read twice"
    );
    assert_once(&lines, 200..400);
}

/// A config whose threshold-ban needs 10 events of one source within `window`; `extra` is
/// added to its `[pipeline.config]`, then `rest`.
fn counting_config(case: &Case, log: &Path, window: &str, extra: &str, rest: &str) -> PathBuf {
    case.config(&format!(
        "{}\n[[pipeline]]\nname = \"ban\"\nplugin = \"threshold-ban\"\n[pipeline.config]\nthreshold = 10\nwindow = \"{window}\"\nban_for = \"1h\"\n{extra}\n{rest}",
        file_source(log, "beginning")
    ))
}

/// `n` lines from source `i`.
fn repeat(i: u32, n: usize) -> String {
    event(src(i)).repeat(n)
}

#[test]
fn sighup_reloads_the_config_keeping_counts_and_refuses_a_broken_one() {
    let case = Case::new();
    let log = case.path("fw.log");
    append(&log, "");
    let config = counting_config(&case, &log, "1h", "", "");
    let live = case.start(&config);
    let stage_events = "portcullis_stage_events_total{stage=\"ban\"}";
    let reloads = "portcullis_reloads_total";

    // 6 of the 10 events before the reload, 6 after: banned only if the 6 were kept.
    append(&log, &repeat(7, 6));
    wait_metric(&live, stage_events, 6.0);
    assert!(live.banned().is_empty(), "6 events are not 10");
    counting_config(&case, &log, "2h", "", "");
    live.signal("HUP");
    wait_metric(&live, reloads, 1.0);
    append(&log, &repeat(7, 6));
    wait_until("the source to be banned", PATIENCE, || {
        live.banned() == [target(7)]
    });
    let ban = live.stdout_lines().concat();
    assert!(
        ban.contains("10 events within 2h"),
        "new config in use: {ban}"
    );

    // A file that does not load is refused; the service runs on with the old config.
    counting_config(&case, &log, "3h", "", "[run]\nbatch_deadlin = \"1s\"\n");
    live.signal("HUP");
    wait_until("the reload to be refused", PATIENCE, || {
        let err = live.stderr_text();
        err.contains("reload refused") && err.contains("run.batch_deadlin")
    });
    append(&log, &repeat(8, 10));
    wait_until("the next source to be banned", PATIENCE, || {
        live.banned() == [target(7), target(8)]
    });

    // A plugin config the plugin refuses: refused too, and the counts still kept. (The
    // reload takes the lines read so far through the chain first.)
    append(&log, &repeat(9, 5));
    wait_metric(&live, &lines_metric(&log), 27.0);
    counting_config(&case, &log, "3h", "thresold = 5", "");
    live.signal("HUP");
    wait_until("the stage config to be refused", PATIENCE, || {
        live.stderr_text().matches("reload refused").count() == 2
    });
    let err = live.stderr_text();
    assert!(err.contains("thresold"), "the error names the key:\n{err}");
    append(&log, &repeat(9, 5));
    wait_until("the third source to be banned", PATIENCE, || {
        live.banned() == [target(7), target(8), target(9)]
    });
    assert_eq!(live.metric(reloads), 1.0);
    let out = live.stop();
    assert!(
        out.concat().matches("10 events within 2h").count() == 3,
        "the refused configs were never used: {out:?}"
    );
}

#[test]
fn a_lone_line_does_not_wait_for_the_batch_deadline() {
    let case = Case::new();
    let log = case.path("fw.log");
    append(&log, "");
    let body = file_source(&log, "beginning") + BAN_EACH + "\n[run]\nbatch_deadline = \"60s\"\n";
    let live = case.start(&case.config(&body));
    // Nothing else is queued: the batch closes at once (well within the wait below,
    // which is a third of the deadline).
    append(&log, &lines(0..1));
    wait_bans(&live, 0..1);
    assert_once(&ban_targets(&live.stop()), 0..1);
}

#[test]
fn a_stdin_source_ends_the_run_at_its_end() {
    let case = Case::new();
    let config = case.config(&(String::from("[[sources]]\nkind = \"stdin\"\n") + BAN_EACH));
    let mut live = Live::start_with(&config, &[], Some(case.port), Stdio::piped());
    let mut stdin = live.stdin();
    // The last line has no newline: it is complete only at the end of the input.
    let text = lines(0..100);
    stdin.write_all(&text.as_bytes()[..text.len() - 1]).unwrap();
    stdin.flush().unwrap();
    wait_bans(&live, 0..99);
    drop(stdin);
    wait_until("the run to end by itself", PATIENCE, || {
        TcpStream::connect(("127.0.0.1", case.port)).is_err()
    });
    let err = live.stderr_text();
    assert!(
        err.contains("stopped: pending batch applied") && !err.contains("SIGTERM"),
        "{err}"
    );
    assert_once(&ban_targets(&live.stop()), 0..100);
}

/// The answer to a raw HTTP request for `path` on `port`.
fn http_get(port: u16, path: &str) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to metrics");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    // One write: the server reads the request with a single read.
    conn.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn metrics_count_lines_events_stages_and_bans() {
    let case = Case::new();
    let log = case.path("fw.log");
    append(&log, "");
    let body = file_source(&log, "beginning")
        + "[[pipeline]]\nname = \"filter\"\nplugin = \"cidr-filter\"\n[pipeline.config]\ndrop_sources = [\"2001:db8::/120\"]\n"
        + BAN_EACH;
    let live = case.start(&case.config(&body));
    // 10 lines dropped by the filter, 30 banned, one not a firewall record, one damaged.
    let mut text = lines(0..10) + &lines(256..286);
    text += "Aug 30 10:00:01 fw sshd[42]: Accepted publickey for root\n";
    text += &event(src(1)).replacen("SRC=2001", "SRC=zz01", 1);
    append(&log, &text);
    let source = format!("{{source=\"file:{}\"}}", log.display());
    wait_until("every line and ban to be counted", PATIENCE, || {
        let m = live.metrics_text();
        m.contains(&format!("portcullis_source_lines_total{source} 42\n"))
            && m.contains("portcullis_bans_applied_total 30\n")
    });
    for (metric, want) in [
        (format!("portcullis_source_lines_total{source}"), 42.0),
        (format!("portcullis_source_events_total{source}"), 40.0),
        (format!("portcullis_source_skipped_total{source}"), 1.0),
        (format!("portcullis_source_malformed_total{source}"), 1.0),
        (
            "portcullis_stage_events_total{stage=\"filter\"}".into(),
            40.0,
        ),
        (
            "portcullis_stage_dropped_total{stage=\"filter\"}".into(),
            10.0,
        ),
        ("portcullis_stage_events_total{stage=\"ban\"}".into(), 30.0),
        ("portcullis_bans_applied_total".into(), 30.0),
        ("portcullis_bans_active".into(), 30.0),
    ] {
        assert_eq!(live.metric(&metric), want, "{metric}");
    }
    assert!(
        live.metrics_text()
            .contains("# TYPE portcullis_source_lines_total counter\n")
    );
    let other = http_get(case.port, "/other");
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    assert!(http_get(case.port, "/metrics").starts_with("HTTP/1.1 200"));
    assert_once(&ban_targets(&live.stop()), 256..286);
}
