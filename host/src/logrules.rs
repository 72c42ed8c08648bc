//! LOG rules for the services a host runs: one rate-limited rule per listening service (or
//! per given port) logging its new inbound connections with a prefix naming service and
//! port (`HTTPS-443 inbound: `), in a table or chain Portcullis owns. Sans-IO: this module
//! decides the rules and their fingerprints; [`nftables`] and [`iptables`] render, list and
//! diff them; the CLI runs the commands.
//!
//! Every rule carries a comment fingerprinting everything about it (`pc tcp/443
//! HTTPS-443 20/second 50`), so `apply` changes only what differs and a second `apply`
//! changes nothing.

pub mod iptables;
pub mod nftables;

use crate::listeners::{Listener, Proto};
use std::collections::BTreeSet;

/// The kernel's limit on a LOG prefix (iptables: 29 characters).
pub const MAX_PREFIX: usize = 29;

/// One service to log: a protocol and a destination port, and what to call it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Service {
    /// TCP or UDP.
    pub proto: Proto,
    /// Destination port.
    pub port: u16,
    /// The name in the prefix (`HTTPS`, `SSH`, or the process's name).
    pub name: String,
}

/// How fast a rule may log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Lines per `per`.
    pub rate: u32,
    /// `second`, `minute`, `hour`.
    pub per: Per,
    /// Lines allowed in a burst before the rate applies.
    pub burst: u32,
}

/// The rate's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Per second.
    Second,
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
}

impl Per {
    /// As nftables and iptables spell it.
    pub fn name(self) -> &'static str {
        match self {
            Per::Second => "second",
            Per::Minute => "minute",
            Per::Hour => "hour",
        }
    }
}

impl Limit {
    /// Parses `20/second` (also `/s`, `/minute`, `/min`, `/m`, `/hour`, `/h`).
    pub fn parse(text: &str, burst: u32) -> Result<Limit, String> {
        let (n, unit) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?}: expected RATE/UNIT, e.g. 20/second"))?;
        let rate: u32 = n
            .parse()
            .ok()
            .filter(|r| *r > 0)
            .ok_or_else(|| format!("{text:?}: the rate must be a whole number above 0"))?;
        let per = match unit {
            "s" | "sec" | "second" => Per::Second,
            "m" | "min" | "minute" => Per::Minute,
            "h" | "hour" => Per::Hour,
            _ => return Err(format!("{text:?}: the unit must be second, minute or hour")),
        };
        if burst == 0 {
            return Err("the burst must be at least 1".into());
        }
        Ok(Limit { rate, per, burst })
    }
}

/// A rule to have: a service with its prefix and limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// What it logs.
    pub service: Service,
    /// The LOG prefix, ending in `: ` (at most [`MAX_PREFIX`] characters).
    pub prefix: String,
    /// How fast.
    pub limit: Limit,
}

impl Rule {
    /// The rule for `service` limited by `limit`.
    pub fn new(service: Service, limit: Limit) -> Rule {
        let prefix = prefix_for(&service);
        Rule {
            service,
            prefix,
            limit,
        }
    }

    /// The comment that fingerprints the rule (no quotes or backslashes in it).
    pub fn fingerprint(&self) -> String {
        format!(
            "pc {}/{} {} {}/{} {}",
            self.service.proto.name(),
            self.service.port,
            self.prefix.trim_end(),
            self.limit.rate,
            self.limit.per.name(),
            self.limit.burst
        )
    }
}

/// Well-known services by port, for prefixes.
fn well_known(proto: Proto, port: u16) -> Option<&'static str> {
    Some(match (proto, port) {
        (Proto::Tcp, 21) => "FTP",
        (Proto::Tcp, 22) => "SSH",
        (Proto::Tcp, 23) => "TELNET",
        (Proto::Tcp, 25) => "SMTP",
        (_, 53) => "DNS",
        (Proto::Tcp, 80) => "HTTP",
        (Proto::Tcp, 110) => "POP3",
        (Proto::Udp, 123) => "NTP",
        (Proto::Tcp, 143) => "IMAP",
        (Proto::Udp, 161) => "SNMP",
        (Proto::Tcp, 443) | (Proto::Udp, 443) => "HTTPS",
        (Proto::Tcp, 465) => "SMTPS",
        (Proto::Tcp, 587) => "SUBMISSION",
        (Proto::Tcp, 993) => "IMAPS",
        (Proto::Tcp, 995) => "POP3S",
        (Proto::Tcp, 3306) => "MYSQL",
        (Proto::Tcp, 3389) => "RDP",
        (Proto::Tcp, 5432) => "POSTGRES",
        (Proto::Tcp, 6379) => "REDIS",
        (Proto::Tcp, 8080) => "HTTP-ALT",
        _ => return None,
    })
}

/// `NAME-PORT inbound: ` within the kernel's limit: the well-known name of the port, else
/// the process's name (letters, digits, `-`, `_`, upper-cased), else the protocol.
pub fn prefix_for(service: &Service) -> String {
    let tail = format!("-{} inbound: ", service.port);
    let room = MAX_PREFIX - tail.len();
    let mut name: String = service
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .map(|c| c.to_ascii_uppercase())
        .take(room)
        .collect();
    if name.is_empty() {
        name = service.proto.name().to_ascii_uppercase();
    }
    format!("{name}{tail}")
}

/// The services to log for `listeners`: one per protocol and port (whatever the bound
/// addresses), named after the port when well known, else after the process. Loopback-only
/// listeners are left out: nothing from outside reaches them.
pub fn services(listeners: &[Listener]) -> Vec<Service> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for l in listeners {
        if l.address.is_loopback() || !seen.insert((l.proto, l.port)) {
            continue;
        }
        let name = well_known(l.proto, l.port)
            .map(String::from)
            .or_else(|| l.process.clone())
            .unwrap_or_default();
        out.push(Service {
            proto: l.proto,
            port: l.port,
            name,
        });
    }
    out.sort();
    out
}

/// Parses `--ports`: `22`, `443/tcp`, `53/udp` (TCP when no protocol is given).
pub fn parse_port(text: &str) -> Result<Service, String> {
    let (port, proto) = match text.split_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some((_, other)) => return Err(format!("{text:?}: protocol {other:?} is not tcp or udp")),
        None => (text, Proto::Tcp),
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{text:?}: not a port (1 to 65535)"))?;
    Ok(Service {
        proto,
        port,
        name: well_known(proto, port).unwrap_or_default().to_string(),
    })
}

/// What an `apply` would do: rules to add (in order) and fingerprints of rules to remove.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Rules missing.
    pub add: Vec<Rule>,
    /// Rules present that are not wanted (their fingerprints, or the rule text when a
    /// rule carries none).
    pub remove: Vec<String>,
}

impl Diff {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// The difference between the `wanted` rules and the fingerprints `present`.
pub fn diff(wanted: &[Rule], present: &[String]) -> Diff {
    let want: BTreeSet<String> = wanted.iter().map(Rule::fingerprint).collect();
    let have: BTreeSet<&String> = present.iter().collect();
    Diff {
        add: wanted
            .iter()
            .filter(|r| !have.contains(&r.fingerprint()))
            .cloned()
            .collect(),
        remove: present
            .iter()
            .filter(|p| !want.contains(*p))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests;
