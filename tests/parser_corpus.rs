//! The parser over real and generated netfilter LOG lines.
//!
//! - Every line of the held-out corpus (`../shared/corpus/`, described in its `SOURCES.md`)
//!   that holds a record matching the kernel grammar parses as a kernel record, and every
//!   line without a record is skipped. The lines that break the grammar (look-alike
//!   formats, hand-edited or synthetic fixtures) are listed in [`KNOWN`] with a reason and
//!   the verdict the parser gives them. The reference while writing this list was
//!   `shared/design/nflog_strict_check.py`; the test itself does not run it.
//! - The same records go through the `portcullis parse` binary: no malformed count.
//! - Fields agree with the expected outputs other projects' test suites ship (liblognorm,
//!   syslog-ng, mozilla lua_sandbox, crowdsec, filebeat) for every field both sides have
//!   (submodule `expected`).
//! - The committed `gen-fwlog` fixtures (`tests/fixtures/`) parse without `../shared`.
//!
//! A clone without `../shared` skips the corpus parts with a message naming the path.

use std::path::{Path, PathBuf};

use portcullis::parse::{Dialect, ParseOptions, Parser, json};
use serde_json::Value;

use crate::common::{portcullis, root, stderr, stdout, synthetic_log};

mod expected;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

/// What the parser makes of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// An event in the kernel's dialect.
    Kernel,
    /// An event recognised as ulogd/UniFi text (`TOS=00`, `MARK=0`, no `RES=`).
    Ulogd,
    /// Not a firewall record.
    Skipped,
    /// A damaged firewall record.
    Malformed,
}

/// Corpus lines that do not match the kernel grammar: file, first and last line (1-based),
/// the parser's verdict and why the line is not kernel output.
struct Known {
    file: &'static str,
    lines: (usize, usize),
    verdict: Verdict,
    why: &'static str,
}

const fn known(
    file: &'static str,
    lines: (usize, usize),
    verdict: Verdict,
    why: &'static str,
) -> Known {
    Known {
        file,
        lines,
        verdict,
        why,
    }
}

use Verdict::{Malformed, Skipped, Ulogd};

#[rustfmt::skip]
const KNOWN: &[Known] = &[
    known("crowdsec-hub/iptables-scan-multi-port--iptables-scan-multi-port.log", (18, 49), Malformed,
          "fabricated upstream: `PROTO=TCP` followed by the UDP field `LEN=84`"),
    known("crowdsec-hub/proxmox-iptables-logs--proxmox-iptables.log", (4, 7), Skipped,
          "Proxmox pvefw-logger format (NFLOG, userspace), recognised and skipped"),
    known("crowdsec-hub/proxmox-iptables-logs--proxmox-iptables.log", (9, 10), Skipped,
          "Proxmox pvefw-logger format (NFLOG, userspace), recognised and skipped"),
    known("crowdsec-hub/unifi-logs--unifi-logs.log", (1, 3), Ulogd,
          "UniFi ulogd-style text: `DESCR=`, `TOS=00`, `MARK=1a0000`"),
    known("elastic-beats/iptables.log", (11, 11), Ulogd,
          "hand-made Ubiquiti-style line: `TOS=00`, `MARK=0`"),
    known("elastic-beats/iptables.log", (12, 12), Malformed,
          "hand-made: ICMP echo `ID=98765` does not fit the 16-bit field"),
    known("elastic-integrations/test-iptables-raw.log", (15, 15), Verdict::Kernel,
          "hand-compressed IPv6 addresses (the kernel prints 8x4 hex); accepted"),
    known("elastic-integrations/test-iptables-raw.log", (23, 23), Ulogd,
          "hand-made Ubiquiti-style line: `TOS=00`, `MARK=0`"),
    known("elastic-integrations/test-iptables-raw.log", (24, 24), Malformed,
          "hand-made: ICMP echo `ID=98765` does not fit the 16-bit field"),
    known("parser-projects/espenotterstad-iptables-log-tui--parser_test.go.lines.log", (1, 3), Malformed,
          "synthetic test lines without TOS/PREC/ID"),
    known("parser-projects/gitpan-IPTables-Log--example-data_syslog", (1, 1), Malformed,
          "fabricated: `PROTO=TCP` with the UDP field `LEN=`"),
    known("parser-projects/gitpan-IPTables-Log--example-data_syslog", (5, 5), Malformed,
          "fabricated: `PROTO=TCP` with the UDP field `LEN=`"),
    known("parser-projects/gitpan-IPTables-Log--example-data_syslog", (7, 7), Malformed,
          "fabricated: `PROTO=TCP` with the UDP field `LEN=`"),
    known("parser-projects/liblognorm--field_v2-iptables.sh.inputs.log", (5, 6), Malformed,
          "fabricated key/value edge cases: `IN= OUT=` and no packet"),
    known("parser-projects/moznion-go-iptables-logs-parser--parser_test.go.lines.log", (5, 5), Malformed,
          "synthetic: `FRAG=123` (the kernel prints `FRAG:`), every flag at once"),
    known("wazuh/iptables.ini.lines.log", (1, 1), Malformed, "typo upstream: `URGn=0`"),
    known("web-snippets/nonconforming.log", (1, 6), Malformed,
          "human-edited or anonymised: bad octets, `xxx`, BBCode, 3-octet address, PHYSIN after MARK"),
    known("web-snippets/ulogd-and-vendor-format.log", (1, 2), Ulogd,
          "ulogd LOGEMU / ulogd 1.x text"),
    known("web-snippets/ulogd-and-vendor-format.log", (3, 3), Malformed,
          "UniFi line anonymised upstream: `MAC=6c:63:f8:xx:xx:xx…`"),
    known("web-snippets/ulogd-and-vendor-format.log", (4, 4), Ulogd, "UniFi ulogd-style text"),
];

/// Records in the files this walk reads that match the kernel grammar: the 12,383 lines the
/// strict checker accepts, plus the `"message"` member line of `test-journald.json` (the
/// checker reads it as raw text and trips over the JSON quote after the record).
const CONFORMANT_RECORDS: usize = 12_384;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(CORPUS);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("parser_corpus: {CORPUS} is missing; corpus checks skipped");
        None
    }
}

fn parser() -> Parser {
    Parser::new(ParseOptions {
        // 2026-09-01T00:00:00Z: fixed, so year inference does not depend on the clock.
        reference_unix_secs: 1_788_220_800,
        utc_offset_secs: 0,
    })
}

fn verdict(p: &mut Parser, line: &[u8]) -> (Verdict, String) {
    match p.parse(line) {
        Ok(Some(ev)) if ev.record.dialect == Dialect::Kernel => (Verdict::Kernel, String::new()),
        Ok(Some(_)) => (Ulogd, String::new()),
        Ok(None) => (Skipped, String::new()),
        Err(e) => (Malformed, e.to_string()),
    }
}

/// The strict checker's notion of "holds a record": an `IN=\S* OUT=\S* ` anchor (after
/// normalising the end of the line to one space).
fn has_anchor(line: &str) -> bool {
    let line = format!("{} ", line.trim_end_matches(' '));
    line.match_indices("IN=").any(|(i, _)| {
        let rest = &line[i + 3..];
        let Some(sp) = rest.find(char::is_whitespace) else {
            return false;
        };
        rest[sp..]
            .strip_prefix(" OUT=")
            .is_some_and(|r| r.contains(' '))
    })
}

/// Log-type files: everything except expected outputs, configs and notes.
fn log_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let skip = [".assert", ".yaml", ".tsv", ".md", ".jsonl", "expected.json"];
        if p.is_dir() {
            log_files(&p, out);
        } else if !skip.iter().any(|s| name.ends_with(s)) {
            out.push(p);
        }
    }
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

#[test]
fn every_conformant_corpus_record_parses() {
    let Some(dir) = corpus() else { return };
    let mut files = Vec::new();
    log_files(&dir, &mut files);
    let mut failures = Vec::new();
    let mut used = vec![0usize; KNOWN.len()];
    let mut conformant = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&dir).expect("under corpus");
        let rel = rel.to_string_lossy();
        let bytes = std::fs::read(path).expect("read corpus file");
        let mut p = parser();
        for (n, line) in lines(&bytes) {
            let k = KNOWN
                .iter()
                .position(|k| k.file == rel && (k.lines.0..=k.lines.1).contains(&n));
            let text = String::from_utf8_lossy(line);
            let want = match k {
                Some(i) => {
                    used[i] += 1;
                    KNOWN[i].verdict
                }
                None if has_anchor(&text) => Verdict::Kernel,
                None => Skipped,
            };
            let (got, err) = verdict(&mut p, line);
            if got != want {
                let why = k.map_or("", |i| KNOWN[i].why);
                failures.push(format!(
                    "{rel}:{n}: want {want:?}, got {got:?} {err} {why}\n  {text}"
                ));
            }
            if k.is_none() && want == Verdict::Kernel {
                conformant.extend_from_slice(line);
                conformant.push(b'\n');
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (k, n) in KNOWN.iter().zip(&used) {
        assert_eq!(
            *n,
            k.lines.1 - k.lines.0 + 1,
            "stale entry {}:{:?}",
            k.file,
            k.lines
        );
    }
    let records = conformant.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(
        records, CONFORMANT_RECORDS,
        "conformant records found in the corpus"
    );

    // The same records through the binary (`--format none`: common::portcullis writes all
    // of stdin before reading stdout, so a large output would fill the pipe).
    let o = portcullis(
        &["parse", "--format", "none", "--stats"],
        &[],
        Some(&conformant),
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let stats = format!("lines={records} events={records} skipped=0 malformed=0");
    assert!(err.contains(&stats), "want {stats}, got:\n{err}");
    // And each one's JSON is valid.
    let mut p = parser();
    let mut out = Vec::new();
    for (_, line) in lines(&conformant) {
        let Ok(Some(ev)) = p.parse(line) else {
            panic!("{}", String::from_utf8_lossy(line))
        };
        out.clear();
        json::write_json(&ev, &mut out);
        if let Err(e) = serde_json::from_slice::<Value>(&out) {
            panic!("invalid JSON {e}: {}", String::from_utf8_lossy(&out));
        }
    }
}

#[test]
fn generated_fixtures_parse() {
    for name in ["gen-fwlog-rfc3164.log", "gen-fwlog-rfc3339.log"] {
        let path = root().join("tests/fixtures").join(name);
        let bytes = std::fs::read(&path).expect("read fixture");
        let mut p = parser();
        let mut events = 0;
        for (n, line) in lines(&bytes) {
            let text = String::from_utf8_lossy(line);
            // Independent of the parser: the first ` SRC=` token.
            let src = text
                .find(" SRC=")
                .map(|at| text[at + 5..].split(' ').next().unwrap_or_default());
            match (p.parse(line), src) {
                (Ok(Some(ev)), Some(src)) => {
                    events += 1;
                    assert_eq!(ev.record.dialect, Dialect::Kernel, "{name}:{n}");
                    assert_eq!(ev.src(), src.parse().ok(), "{name}:{n}: {text}");
                    assert!(ev.envelope.time.is_some(), "{name}:{n}: no time");
                }
                (Ok(None), None) => {}
                (other, _) => panic!("{name}:{n}: {other:?}\n{text}"),
            }
        }
        assert!(events > 300, "{name}: only {events} events");
    }
}

#[test]
fn zone_less_stamps_take_the_configured_offset() {
    let line = synthetic_log(1, 0, |_| "203.0.113.9".into(), |_| 22);
    let ts = |args: &[&str]| {
        let out = portcullis(args, &[], Some(line.as_bytes()));
        assert!(out.status.success(), "{}", stderr(&out));
        let ev: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        ev["ts"].as_str().unwrap().to_string()
    };
    assert!(ts(&["parse"]).ends_with("T10:00:00Z"));
    assert!(ts(&["parse", "--utc-offset", "+02:00"]).ends_with("T10:00:00+02:00"));
    assert!(ts(&["parse", "--utc-offset=-0530"]).ends_with("T10:00:00-05:30"));
}
