//! The bundled demo (`config/demo.toml`) through the real plugins.

use crate::common::*;
use portcullis_abi::net::IpNet;
use std::net::IpAddr;

fn private() -> Vec<IpNet> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "127.0.0.0/8",
    ]
    .iter()
    .map(|n| IpNet::parse(n).unwrap())
    .collect()
}

fn is_private(ip: IpAddr) -> bool {
    private().iter().any(|n| n.contains(ip))
}

#[test]
fn demo_bans_the_dominant_source_and_nobody_below_the_threshold() {
    let before = now();
    let out = portcullis(
        &["run", "--config", "config/demo.toml", "--once"],
        &[],
        None,
    );
    let after = now();
    assert!(out.status.success(), "{}", stderr(&out));
    let counts = count_sources(&demo_log());
    let (dominant, n) = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(ip, n)| (*ip, *n))
        .unwrap();
    assert!(
        n >= 200,
        "the fixture's dominant source should cross the demo threshold"
    );

    let bans = bans(&out);
    let targets: Vec<&str> = bans.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        targets,
        [format!("{dominant}/32")],
        "exactly the dominant source is banned"
    );
    let ban = &bans[0].1;
    assert_eq!(ban["plugin"], "flood");
    assert_eq!(ban["reason"], "200 events within 1m");
    let expires = ban["expires_at"].as_i64().unwrap();
    assert!(
        (before + 3600..=after + 3600).contains(&expires),
        "expires_at {expires} is an hour from now"
    );

    // The runner-up is a real, frequent source that stays below the threshold.
    let runner_up = counts
        .iter()
        .filter(|(ip, _)| **ip != dominant)
        .map(|(_, n)| *n)
        .max()
        .unwrap();
    assert!(
        (100..200).contains(&runner_up),
        "runner-up seen {runner_up} times"
    );
    let err = stderr(&out);
    assert!(err.contains("lines=2000 "), "{err}");
    assert!(err.contains("bans=1 "), "{err}");
}

fn low_threshold_config(dir: &std::path::Path, with_filter: bool) -> std::path::PathBuf {
    let log = root().join("config/demo/demo.log");
    let filter = if with_filter {
        "[[pipeline]]\nname = \"private\"\nplugin = \"cidr-filter\"\n"
    } else {
        ""
    };
    write_config(
        dir,
        &format!(
            "[[sources]]\nkind = \"file\"\npath = {log:?}\n{filter}\
             [[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n\
             [pipeline.config]\nthreshold = 4\nwindow = \"1m\"\nban_for = \"10m\"\n"
        ),
    )
}

#[test]
fn private_sources_are_never_banned() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = low_threshold_config(dir.path(), true);
    let out = portcullis(
        &["run", "--config", cfg.to_str().unwrap(), "--once"],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let counts = count_sources(&demo_log());
    let busy_private = counts
        .iter()
        .filter(|(ip, n)| is_private(**ip) && **n >= 4)
        .count();
    assert!(
        busy_private > 0,
        "the fixture needs private sources above the threshold"
    );

    let banned: Vec<IpNet> = bans(&out)
        .iter()
        .map(|(t, _)| IpNet::parse(t).unwrap())
        .collect();
    assert!(
        banned.len() > 10,
        "a low threshold bans many public sources: {}",
        banned.len()
    );
    for net in &banned {
        assert!(!is_private(net.addr()), "private source {net} was banned");
        let seen = counts.get(&net.addr()).copied().unwrap_or(0);
        assert!(seen >= 4, "{net} banned after only {seen} events");
    }
}

#[test]
fn without_the_filter_private_sources_would_be_banned() {
    // Shows the previous test can fail: the same run minus the cidr-filter stage.
    let dir = tempfile::tempdir().unwrap();
    let cfg = low_threshold_config(dir.path(), false);
    let out = portcullis(
        &["run", "--config", cfg.to_str().unwrap(), "--once"],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let private_bans = bans(&out)
        .iter()
        .filter(|(t, _)| is_private(IpNet::parse(t).unwrap().addr()))
        .count();
    assert!(private_bans > 0);
}
