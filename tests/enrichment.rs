//! Enrichment reaches later stages: a stage asks the host's GeoIP/ASN databases (the
//! batched `geo-lookup` import) and annotates events; the host stores the well-known keys
//! in the records, where a later stage reads them. Uses the committed test databases.

use crate::common::*;

fn fixture_db(name: &str) -> String {
    root()
        .join("tests/fixtures/geoip")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_block_list_acts_on_what_an_earlier_stage_looked_up() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fw.log");
    // 81.2.69.142 is GB/London in the City test database; 1.128.0.1 lies in AS1221
    // "Telstra Pty Ltd" in the ASN test database; 203.0.113.9 is in neither.
    let sources = ["81.2.69.142", "1.128.0.1", "203.0.113.9"];
    std::fs::write(
        &log,
        synthetic_log(9, 0, |i| sources[i % 3].to_string(), |_| 22),
    )
    .unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[geoip]\ncity = {:?}\nasn = {:?}\n\
             [[sources]]\nkind = \"file\"\npath = {log:?}\n\
             [[pipeline]]\nname = \"enrich\"\nplugin = \"geoip-enrich\"\n\
             [[pipeline]]\nname = \"blocklist\"\nplugin = \"threshold-ban\"\n\
             [pipeline.config]\nthreshold = 1000\nban_countries = [\"GB\"]\nban_orgs = [\"telstra\"]\n",
            fixture_db("GeoLite2-City-Test.mmdb"),
            fixture_db("GeoLite2-ASN-Test.mmdb"),
        ),
    );
    let out = portcullis(
        &["run", "--config", cfg.to_str().unwrap(), "--once"],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let bans: Vec<(String, String)> = bans(&out)
        .into_iter()
        .map(|(t, v)| (t, v["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        bans,
        [
            (
                "81.2.69.142/32".to_string(),
                "country GB is block-listed".to_string()
            ),
            (
                "1.128.0.1/32".to_string(),
                "organisation \"Telstra Pty Ltd\" matches block-listed \"TELSTRA\"".to_string()
            ),
        ]
    );
}

#[test]
fn without_the_enrichment_stage_the_block_list_sees_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fw.log");
    std::fs::write(&log, synthetic_log(3, 0, |_| "81.2.69.142".into(), |_| 22)).unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[geoip]\ncity = {:?}\n[[sources]]\nkind = \"file\"\npath = {log:?}\n\
             [[pipeline]]\nname = \"blocklist\"\nplugin = \"threshold-ban\"\n\
             [pipeline.config]\nthreshold = 1000\nban_countries = [\"GB\"]\n",
            fixture_db("GeoLite2-City-Test.mmdb"),
        ),
    );
    let out = portcullis(
        &["run", "--config", cfg.to_str().unwrap(), "--once"],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(bans(&out).is_empty());
}

#[test]
fn a_corrupt_database_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[geoip]\ncity = {:?}\n",
            fixture_db("GeoIP2-City-Test-Invalid-Node-Count.mmdb")
        ),
    );
    let out = portcullis(&["config", "check", cfg.to_str().unwrap()], &[], None);
    assert_clear_error(
        &out,
        2,
        &["city", "GeoIP2-City-Test-Invalid-Node-Count.mmdb"],
    );
}

#[test]
fn what_the_databases_cannot_answer_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fw.log");
    // Three batches of new sources, so the enrichment stage asks the host three times.
    std::fs::write(
        &log,
        synthetic_log(2500, 0, |i| format!("81.2.{}.{}", i / 250, i % 250), |_| 22),
    )
    .unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[geoip]\ncity = {:?}\n[[sources]]\nkind = \"file\"\npath = {log:?}\n\
             [[pipeline]]\nname = \"enrich\"\nplugin = \"geoip-enrich\"\n",
            fixture_db("GeoLite2-City-Test.mmdb"),
        ),
    );
    let out = portcullis(
        &["run", "--config", cfg.to_str().unwrap(), "--once"],
        &[],
        None,
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("no ASN database ([geoip] asn)").count(),
        1,
        "{err}"
    );
    assert!(!err.contains("no city or country database"), "{err}");
}
