//! LOG rules in iptables and ip6tables: chain `<NAME>-LOG` jumped from the top of INPUT,
//! one rule per service. Sans-IO: renders `iptables-restore --noflush` input and reads
//! `iptables -S <chain>` output.

use super::{Diff, Rule};
use crate::listeners::Proto;
use std::fmt::Write;

/// The chain for `name` (the `[actions] name`, upper-cased: `PORTCULLIS-LOG`).
pub fn chain(name: &str) -> String {
    format!("{}-LOG", name.to_ascii_uppercase())
}

/// The arguments of `rule` after `-A <chain>`.
pub fn rule_args(rule: &Rule) -> Vec<String> {
    let p = match rule.service.proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    [
        "-p",
        p,
        "--dport",
        &rule.service.port.to_string(),
        "-m",
        "conntrack",
        "--ctstate",
        "NEW",
        "-m",
        "limit",
        "--limit",
        &format!("{}/{}", rule.limit.rate, rule.limit.per.name()),
        "--limit-burst",
        &rule.limit.burst.to_string(),
        "-m",
        "comment",
        "--comment",
        &rule.fingerprint(),
        "-j",
        "LOG",
        "--log-prefix",
        &rule.prefix,
    ]
    .map(String::from)
    .to_vec()
}

fn quote(arg: &str) -> String {
    if arg.contains(' ') {
        format!("\"{arg}\"")
    } else {
        arg.to_string()
    }
}

/// The `iptables-restore --noflush` input applying `diff` to `chain`: unwanted rules
/// deleted by their listed spec, missing ones appended. `specs` maps each present
/// fingerprint to its `-A …` line as `iptables -S` printed it.
pub fn script(chain: &str, diff: &Diff, specs: &[(String, String)]) -> String {
    let mut s = String::from("*filter\n");
    for fp in &diff.remove {
        if let Some((_, spec)) = specs.iter().find(|(f, _)| f == fp) {
            let _ = writeln!(s, "-D{}", &spec[2..]);
        }
    }
    for rule in &diff.add {
        let args: Vec<String> = rule_args(rule).iter().map(|a| quote(a)).collect();
        let _ = writeln!(s, "-A {chain} {}", args.join(" "));
    }
    s.push_str("COMMIT\n");
    s
}

/// The fingerprints (or the rule text for a rule without one) and `-A` lines of `chain`'s
/// rules, from `iptables -S <chain>`.
pub fn present(listing: &str, chain: &str) -> Vec<(String, String)> {
    let head = format!("-A {chain} ");
    listing
        .lines()
        .filter(|l| l.starts_with(&head))
        .map(|l| {
            let fp = l
                .split_once("--comment \"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(c, _)| c.to_string())
                .unwrap_or_else(|| l.to_string());
            (fp, l.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{Limit, Rule, diff, parse_port};
    use super::*;

    #[test]
    fn renders_and_reads_back() {
        let dns = Rule::new(
            parse_port("53/udp").unwrap(),
            Limit::parse("5/minute", 10).unwrap(),
        );
        let listed = "-N PORTCULLIS-LOG
-A PORTCULLIS-LOG -p tcp -m tcp --dport 80 -m conntrack --ctstate NEW -m limit --limit 20/sec --limit-burst 50 -m comment --comment \"pc tcp/80 HTTP-80 inbound: 20/second 50\" -j LOG --log-prefix \"HTTP-80 inbound: \"
-A PORTCULLIS-LOG -p tcp -j LOG";
        let specs = present(listed, "PORTCULLIS-LOG");
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].0, "pc tcp/80 HTTP-80 inbound: 20/second 50");
        assert_eq!(specs[1].0, "-A PORTCULLIS-LOG -p tcp -j LOG");
        let fps: Vec<String> = specs.iter().map(|(f, _)| f.clone()).collect();
        let d = diff(&[dns], &fps);
        assert_eq!(
            script("PORTCULLIS-LOG", &d, &specs),
            "*filter
-D PORTCULLIS-LOG -p tcp -m tcp --dport 80 -m conntrack --ctstate NEW -m limit --limit 20/sec --limit-burst 50 -m comment --comment \"pc tcp/80 HTTP-80 inbound: 20/second 50\" -j LOG --log-prefix \"HTTP-80 inbound: \"
-D PORTCULLIS-LOG -p tcp -j LOG
-A PORTCULLIS-LOG -p udp --dport 53 -m conntrack --ctstate NEW -m limit --limit 5/minute --limit-burst 10 -m comment --comment \"pc udp/53 DNS-53 inbound: 5/minute 10\" -j LOG --log-prefix \"DNS-53 inbound: \"
COMMIT
"
        );
    }
}
