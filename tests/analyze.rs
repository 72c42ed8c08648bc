//! `portcullis analyze`: counts equal what the parsed events say, shares add up, the
//! configured stages (filter, enrichment) apply, and `--enriched` inserts origins.

use crate::common::*;
use std::collections::HashMap;

fn json_rows(out: &std::process::Output) -> Vec<(String, u64, f64)> {
    let v: serde_json::Value = serde_json::from_str(stdout(out).trim()).expect("JSON array");
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
                r["share"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Counts by `field` over the JSON events `portcullis parse` prints.
fn parsed_counts(log: &str, field: &str) -> (HashMap<String, u64>, u64) {
    let out = portcullis(&["parse", log], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut counts = HashMap::new();
    let mut total = 0;
    for line in stdout(&out).lines() {
        let ev: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = match &ev[field] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => "(none)".to_string(),
        };
        *counts.entry(key).or_insert(0) += 1;
        total += 1;
    }
    (counts, total)
}

#[test]
fn counts_by_source_and_port_match_the_parsed_events() {
    let log = "config/demo/demo.log";
    for (by, field) in [("src", "src"), ("dport", "dpt")] {
        let out = portcullis(
            &[
                "analyze", log, "--by", by, "--top", "15", "--format", "json",
            ],
            &[],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let (expected, total) = parsed_counts(log, field);
        let rows = json_rows(&out);
        assert_eq!(rows.len(), 15);
        for (key, count, share) in &rows {
            assert_eq!(expected.get(key), Some(count), "{by} {key}");
            assert!((share - *count as f64 / total as f64).abs() < 1e-9);
        }
        let mut best: Vec<u64> = expected.values().copied().collect();
        best.sort_unstable_by(|a, b| b.cmp(a));
        let got: Vec<u64> = rows.iter().map(|r| r.1).collect();
        assert_eq!(got, best[..15], "{by}: the top 15, in order");
    }
}

fn geo_config(dir: &std::path::Path, filter: bool) -> String {
    let db = |n: &str| root().join("tests/fixtures/geoip").join(n);
    let filter = if filter {
        "[[pipeline]]\nname = \"private\"\nplugin = \"cidr-filter\"\n"
    } else {
        ""
    };
    let cfg = write_config(
        dir,
        &format!(
            "[geoip]\ncity = {:?}\nasn = {:?}\n{filter}[[pipeline]]\nname = \"geo\"\nplugin = \"geoip-enrich\"\n",
            db("GeoLite2-City-Test.mmdb"),
            db("GeoLite2-ASN-Test.mmdb")
        ),
    );
    cfg.to_str().unwrap().to_string()
}

/// 81.2.69.142: GB/London; 89.160.20.112: SE/Linköping, AS29518 Bredband2 AB (in the
/// test databases' JSON sources); 1.128.0.1: AS1221 Telstra;
/// 12.81.92.1: AS7018 AT&T; 10.1.2.3: private; 203.0.113.9: in no database.
const SOURCES: [(&str, usize); 6] = [
    ("81.2.69.142", 5),
    ("89.160.20.112", 3),
    ("1.128.0.1", 4),
    ("12.81.92.1", 2),
    ("10.1.2.3", 6),
    ("203.0.113.9", 1),
];

fn known_log(dir: &std::path::Path) -> String {
    let mut srcs = Vec::new();
    for (s, n) in SOURCES {
        srcs.extend(std::iter::repeat_n(s, n));
    }
    let path = dir.join("fw.log");
    std::fs::write(
        &path,
        synthetic_log(srcs.len(), 0, |i| srcs[i].to_string(), |_| 22),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn counts_by_country_and_org_after_the_configured_stages() {
    let dir = tempfile::tempdir().unwrap();
    let log = known_log(dir.path());
    let cfg = geo_config(dir.path(), true);
    let run = |by: &str| {
        let out = portcullis(
            &[
                "--config", &cfg, "analyze", &log, "--by", by, "--format", "json",
            ],
            &[],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        json_rows(&out)
            .into_iter()
            .map(|(k, c, _)| (k, c))
            .collect::<Vec<_>>()
    };
    let s = |k: &str, c: u64| (k.to_string(), c);
    // The private source (6 events) is dropped by cidr-filter: 15 events remain.
    assert_eq!(run("country"), [s("(unknown)", 7), s("GB", 5), s("SE", 3)]);
    assert_eq!(
        run("org"),
        [
            s("(unknown)", 6),
            s("Telstra Pty Ltd", 4),
            s("Bredband2 AB", 3),
            s("AT&T Services", 2)
        ]
    );
    assert_eq!(
        run("asn"),
        [
            s("(unknown)", 6),
            s("AS1221", 4),
            s("AS29518", 3),
            s("AS7018", 2)
        ]
    );
}

#[test]
fn enriched_lines_carry_their_origin_after_src() {
    let dir = tempfile::tempdir().unwrap();
    let log = known_log(dir.path());
    let cfg = geo_config(dir.path(), false);
    let out = portcullis(
        &["--config", &cfg, "analyze", &log, "--enriched"],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.lines().count(),
        21,
        "every firewall line, private ones included without a filter"
    );
    assert!(
        text.contains(" SRC=81.2.69.142 GB, United Kingdom, London DST=192.0.2.1 "),
        "{text}"
    );
    assert!(
        text.contains(" SRC=1.128.0.1 AS1221 Telstra Pty Ltd DST="),
        "{text}"
    );
    assert!(
        text.contains(" SRC=10.1.2.3 IP origin unknown DST="),
        "{text}"
    );
    assert!(
        text.contains(" SRC=203.0.113.9 IP origin unknown DST="),
        "{text}"
    );
}

/// Reads the full-size databases in `../shared/geoip/full/`; skipped (with a message naming
/// the missing file) in a clone without them.
#[test]
fn org_and_country_counts_match_direct_lookups_on_the_full_databases() {
    let full = root().join("../shared/geoip/full");
    let (city, asn) = (full.join("GeoLite2-City.mmdb"), full.join("ipl-asn.mmdb"));
    for p in [&city, &asn] {
        if !p.is_file() {
            eprintln!("skipped: {} is missing", p.display());
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[geoip]\ncity = {city:?}\nasn = {asn:?}\nmmap = true\n\
             [[pipeline]]\nname = \"private\"\nplugin = \"cidr-filter\"\n\
             [[pipeline]]\nname = \"geo\"\nplugin = \"geoip-enrich\"\n"
        ),
    );
    let cfg = cfg.to_str().unwrap();
    let log = "config/demo/demo.log";

    // Independently: the parsed events' sources, minus private ones, looked up directly
    // (read into memory here; the configuration above maps the files).
    let geo = portcullis::geo::Geo::open(&portcullis::geo::GeoPaths {
        city: Some(city.clone()),
        asn: Some(asn.clone()),
        country: None,
        mmap: false,
    })
    .unwrap();
    let private: Vec<portcullis_abi::net::IpNet> = [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
        "::1/128",
    ]
    .iter()
    .map(|n| portcullis_abi::net::IpNet::parse(n).unwrap())
    .collect();
    let (srcs, _) = parsed_counts(log, "src");
    let mut orgs: HashMap<String, u64> = HashMap::new();
    let mut countries: HashMap<String, u64> = HashMap::new();
    for (src, n) in srcs {
        let ip: std::net::IpAddr = src.parse().unwrap();
        if private.iter().any(|p| p.contains(ip)) {
            continue;
        }
        let g = geo.lookup(ip).unwrap_or_default();
        *orgs
            .entry(g.org.unwrap_or_else(|| "(unknown)".into()))
            .or_insert(0) += n;
        *countries
            .entry(g.country.unwrap_or_else(|| "(unknown)".into()))
            .or_insert(0) += n;
    }
    for (by, expected) in [("org", orgs), ("country", countries)] {
        let out = portcullis(
            &[
                "--config", cfg, "analyze", log, "--by", by, "--top", "8", "--format", "json",
            ],
            &[],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let rows = json_rows(&out);
        assert_eq!(rows.len(), 8);
        for (key, count, _) in rows {
            assert_eq!(expected.get(&key), Some(&count), "{by} {key}");
        }
    }
}
