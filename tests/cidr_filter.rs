//! `cidr-filter` end to end: prefix, port, protocol and private-source rules drop events
//! before a later `threshold-ban` stage counts them, and a `keep_*` rule makes an exception.

use crate::common::*;

/// Ten lines from `src`, one second apart, with `prefix` and `tail` (the protocol part).
fn lines(src: &str, prefix: &str, tail: &str, start: u64) -> String {
    (0..10)
        .map(|i| {
            let t = start + i;
            format!(
                "Aug 30 10:{:02}:{:02} fw kernel: {prefix}IN=eth0 OUT= MAC= SRC={src} DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID={i} DF {tail}\n",
                t / 60,
                t % 60
            )
        })
        .collect()
}

fn tcp(dpt: u16) -> String {
    format!("PROTO=TCP SPT=40000 DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0 ")
}

const PING: &str = "PROTO=ICMP TYPE=8 CODE=0 ID=7 SEQ=1 ";

#[test]
fn filtered_events_never_reach_a_later_ban_stage() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fw.log");
    let text = [
        lines("203.0.113.1", "ALLOW-22: ", &tcp(22), 0), // dropped: prefix
        lines("203.0.113.2", "DROP: ", &tcp(6001), 10),  // dropped: port range
        lines("203.0.113.3", "DROP: ", PING, 20),        // dropped: protocol
        lines("10.0.0.5", "DROP: ", &tcp(22), 30),       // dropped: private (the default)
        lines("203.0.113.6", "AUDIT: ", &tcp(6001), 40), // port range, but kept: AUDIT*
        lines("203.0.113.4", "DROP: ", &tcp(22), 50),    // nothing matches
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let ban_stage = "[[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n\
                     [pipeline.config]\nthreshold = 5\nwindow = \"1m\"\n";
    let run = |pipeline: &str| {
        let cfg = write_config(
            dir.path(),
            &format!("[[sources]]\nkind = \"file\"\npath = {log:?}\n{pipeline}{ban_stage}"),
        );
        let out = portcullis(
            &["run", "--config", cfg.to_str().unwrap(), "--once"],
            &[],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let mut targets: Vec<String> = bans(&out).into_iter().map(|(t, _)| t).collect();
        targets.sort();
        targets
    };

    let filter = "[[pipeline]]\nname = \"filter\"\nplugin = \"cidr-filter\"\n\
                  [pipeline.config]\ndrop_prefixes = [\"ALLOW*\"]\n\
                  drop_ports = [\"6000-6063\"]\ndrop_protocols = [\"icmp\"]\n\
                  keep_prefixes = [\"AUDIT*\"]\n";
    assert_eq!(run(filter), ["203.0.113.4/32", "203.0.113.6/32"]);
    // Without the filter every source crosses the threshold: the filter did the dropping.
    assert_eq!(run("").len(), 6);
}

#[test]
fn a_bad_rule_is_refused_at_init_naming_the_key_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[[pipeline]]\nname = \"filter\"\nplugin = \"cidr-filter\"\n\
         [pipeline.config]\ndrop_ports = [22, \"80\", \"70000\"]\n",
    );
    let out = portcullis(&["config", "check", cfg.to_str().unwrap()], &[], None);
    assert_clear_error(
        &out,
        2,
        &["filter", "drop_ports[2]", "\"70000\" is not a port"],
    );
}
