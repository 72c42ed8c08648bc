//! LOG rules in nftables: table `inet <name>-log` with one base chain `input` at priority
//! -100 (before Portcullis's drop chain at -10, so a banned source stays visible), one rule
//! per service. Sans-IO: renders `nft -f -` scripts and reads `nft -j list table` output.

use super::{Diff, Rule};
use crate::listeners::Proto;
use std::fmt::Write;

/// The table for `name` (the `[actions] name`, `portcullis` by default).
pub fn table(name: &str) -> String {
    format!("{name}-log")
}

fn rule_text(rule: &Rule) -> String {
    let l4 = match rule.service.proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    format!(
        "{l4} dport {} ct state new limit rate {}/{} burst {} packets log prefix \"{}\" comment \"{}\"",
        rule.service.port,
        rule.limit.rate,
        rule.limit.per.name(),
        rule.limit.burst,
        rule.prefix,
        rule.fingerprint()
    )
}

/// The `nft -f -` script that makes the table hold `diff` applied: the table and chain
/// created if missing, unwanted rules deleted by handle, missing ones added. `handles`
/// maps each present fingerprint to its rule handle.
pub fn script(table: &str, diff: &Diff, handles: &[(String, u64)]) -> String {
    let mut s = format!(
        "add table inet {table}\nadd chain inet {table} input {{ type filter hook input priority -100; policy accept; }}\n"
    );
    for fp in &diff.remove {
        if let Some((_, h)) = handles.iter().find(|(f, _)| f == fp) {
            let _ = writeln!(s, "delete rule inet {table} input handle {h}");
        }
    }
    for rule in &diff.add {
        let _ = writeln!(s, "add rule inet {table} input {}", rule_text(rule));
    }
    s
}

/// The fingerprints (or `handle N` for a rule without one) and handles of the rules in the
/// table's `input` chain, from `nft -j list table inet <table>`.
pub fn present(json: &str) -> Result<Vec<(String, u64)>, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = v["nftables"].as_array().ok_or("no \"nftables\" array")?;
    Ok(items
        .iter()
        .filter_map(|i| i.get("rule"))
        .filter(|r| r["chain"] == "input")
        .filter_map(|r| {
            let handle = r["handle"].as_u64()?;
            let fp = r["comment"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| format!("handle {handle}"));
            Some((fp, handle))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::{Limit, Rule, diff, parse_port};
    use super::*;

    #[test]
    fn renders_the_diff_as_one_script() {
        let ssh = Rule::new(
            parse_port("22").unwrap(),
            Limit::parse("20/second", 50).unwrap(),
        );
        let d = diff(std::slice::from_ref(&ssh), &["old".to_string()]);
        let s = script("portcullis-log", &d, &[("old".into(), 7)]);
        assert_eq!(
            s,
            "add table inet portcullis-log
add chain inet portcullis-log input { type filter hook input priority -100; policy accept; }
delete rule inet portcullis-log input handle 7
add rule inet portcullis-log input tcp dport 22 ct state new limit rate 20/second burst 50 packets log prefix \"SSH-22 inbound: \" comment \"pc tcp/22 SSH-22 inbound: 20/second 50\"
"
        );
    }

    #[test]
    fn reads_fingerprints_and_handles() {
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "inet", "name": "portcullis-log", "handle": 1}},
            {"chain": {"family": "inet", "table": "portcullis-log", "name": "input", "handle": 1}},
            {"rule": {"family": "inet", "table": "portcullis-log", "chain": "input", "handle": 2, "comment": "pc tcp/443 HTTPS-443 inbound: 20/second 50", "expr": []}},
            {"rule": {"family": "inet", "table": "portcullis-log", "chain": "input", "handle": 3, "expr": []}}]}"#;
        assert_eq!(
            present(json).unwrap(),
            [
                ("pc tcp/443 HTTPS-443 inbound: 20/second 50".to_string(), 2),
                ("handle 3".to_string(), 3)
            ]
        );
        assert!(present("not json").is_err());
    }
}
