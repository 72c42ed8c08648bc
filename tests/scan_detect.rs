//! `scan-detect` end to end: psad's recorded scans (`shared/corpus/psad`) are each detected
//! and classified; in a generated log, every port scanner is banned as a SYN scan and no
//! ordinary source is; bad config is refused at `init` naming the key. Windows run on the
//! lines' own time, so 2018 logs without a year decide as they did live.

use crate::common::*;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const PSAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/psad");

/// Runs `portcullis run --once` over `log` with `pipeline` (TOML `[[pipeline]]` blocks);
/// returns (target, reason) of each ban.
fn run_over(log: &Path, pipeline: &str) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!("[[sources]]\nkind = \"file\"\npath = {log:?}\n{pipeline}"),
    );
    let out = portcullis(
        &["run", "--config", cfg.to_str().unwrap(), "--once"],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    bans(&out)
        .into_iter()
        .map(|(t, v)| (t, v["reason"].as_str().unwrap_or_default().to_string()))
        .collect()
}

const SCAN_DETECT: &str = "[[pipeline]]\nname = \"scans\"\nplugin = \"scan-detect\"\n";

#[test]
fn each_psad_scanner_is_detected_and_classified() {
    let dir = PathBuf::from(PSAD);
    if !dir.is_dir() {
        eprintln!("skipped: the psad corpus is not at {}", dir.display());
        return;
    }
    for (file, kind) in [
        ("syn_scan_1000_1500", "SYN"),
        ("fin_scan_1000_1150", "FIN"),
        ("null_scan_1000_1150", "NULL"),
        ("xmas_scan_1000_1150", "XMAS"),
        ("ack_scan_1000_1150", "ACK"),
        ("udp_scan_1000_1150", "UDP"),
    ] {
        let log = dir.join(file);
        if !log.is_file() {
            eprintln!("skipped {file}: {} is missing", log.display());
            continue;
        }
        // Defaults: 20 distinct ports within 1m. Each file is one nmap run from
        // 192.168.10.55 against 151-501 ports (the null scan also holds one ICMP reply
        // from the target, which is no scan).
        let bans = run_over(&log, SCAN_DETECT);
        assert_eq!(
            bans,
            [(
                "192.168.10.55/32".to_string(),
                format!("{kind} scan: 20 ports within 1m")
            )],
            "{file}"
        );
    }
}

/// The generator's scanner networks (`SCANNER_V4` in shared/tools/gen-fwlog).
const SCANNER_NETS: [[u8; 3]; 4] = [
    [167, 94, 138],
    [162, 142, 125],
    [71, 6, 199],
    [193, 163, 125],
];

/// Per source: lines and distinct destination ports, read from the text, independently of
/// the parser and the plugin.
fn sources(log: &str) -> HashMap<IpAddr, (u64, HashSet<u16>)> {
    let mut out: HashMap<IpAddr, (u64, HashSet<u16>)> = HashMap::new();
    for line in log.lines() {
        let field = |name: &str| {
            line.find(name)
                .map(|at| &line[at + name.len()..])
                .and_then(|rest| rest.split(' ').next())
        };
        let Some(Ok(src)) = field(" SRC=").map(str::parse::<IpAddr>) else {
            continue;
        };
        let e = out.entry(src).or_default();
        e.0 += 1;
        if let Some(Ok(dpt)) = field(" DPT=").map(str::parse::<u16>) {
            e.1.insert(dpt);
        }
    }
    out
}

#[test]
fn every_generated_scanner_is_banned_and_no_ordinary_source_is() {
    let log = root().join("tests/fixtures/scans/gen-fwlog-scanners.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let seen = sources(&text);
    let scanners: HashSet<String> = seen
        .keys()
        .filter(|ip| match ip {
            IpAddr::V4(v4) => SCANNER_NETS.iter().any(|n| v4.octets()[..3] == n[..]),
            IpAddr::V6(_) => false,
        })
        .map(|ip| format!("{ip}/32"))
        .collect();
    assert_eq!(scanners.len(), 4, "one scanner per network: {scanners:?}");
    for s in &scanners {
        let ip: IpAddr = s.trim_end_matches("/32").parse().unwrap();
        assert!(seen[&ip].1.len() >= 80, "{s} sweeps many ports");
    }
    let (dominant, (lines, ports)) = seen.iter().max_by_key(|(_, (n, _))| *n).unwrap();
    assert!(*lines > 4000 && ports.len() == 1, "the HTTPS-443 source");

    // The generator's ordinary sources touch up to 42 distinct ports (its lists of common
    // TCP and UDP ports); its scanners sweep every port. 60 within 5m separates them.
    let bans = run_over(
        &log,
        &format!(
            "[[pipeline]]\nname = \"private\"\nplugin = \"cidr-filter\"\n\
             {SCAN_DETECT}[pipeline.config]\nwindow = \"5m\"\nports = 60\n"
        ),
    );
    let banned: HashSet<String> = bans.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(banned, scanners);
    assert_eq!(bans.len(), 4, "each banned once: {bans:?}");
    for (target, reason) in &bans {
        assert_eq!(reason, "SYN scan: 60 ports within 5m", "{target}");
    }
    assert!(!banned.contains(&format!("{dominant}/32")));
}

#[test]
fn bad_config_is_refused_at_init_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (config, key) in [
        ("ports = 1\n", "ports"),
        ("action = \"block\"\n", "action"),
        ("window = \"0s\"\n", "window"),
        ("hosts = 1\n", "hosts"),
    ] {
        let path = write_config(
            dir.path(),
            &format!("{SCAN_DETECT}[pipeline.config]\n{config}"),
        );
        let out = portcullis(&["config", "check", path.to_str().unwrap()], &[], None);
        assert_clear_error(&out, 2, &["scans", key]);
    }
}
