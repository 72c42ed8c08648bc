//! One side of the filter (the `drop_*` keys or the `keep_*` keys): the conditions, parsed
//! and validated, and whether an event meets any of them.

use crate::netset::NetSet;
use crate::reserved;
use portcullis_sdk::{ConfigError, Event, IpNet};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// A list entry written as a number or a string (`drop_ports = [22, "6000-6063"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A bare number.
    Num(u64),
    /// Text.
    Text(String),
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Num(n) => write!(f, "{n}"),
            Item::Text(t) => write!(f, "{t:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Item;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Item, E> {
                Ok(Item::Num(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Item, E> {
                u64::try_from(n)
                    .map(Item::Num)
                    .map_err(|_| E::custom(format!("{n} is negative")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Item, E> {
                Ok(Item::Text(s.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The raw lists of one side, as configured.
#[derive(Debug, Default)]
pub struct RawRules<'a> {
    pub sources: &'a [String],
    pub destinations: &'a [String],
    pub prefixes: &'a [String],
    pub in_interfaces: &'a [String],
    pub out_interfaces: &'a [String],
    pub directions: &'a [String],
    pub protocols: &'a [Item],
    pub ports: &'a [Item],
}

/// A name matched exactly, or by what it starts with (`DROP*`, `eth*`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    StartsWith(String),
}

impl Pattern {
    fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(p) => s == p,
            Pattern::StartsWith(p) => s.starts_with(p.as_str()),
        }
    }
}

/// Traffic directions, as bits.
const INBOUND: u8 = 1;
const OUTBOUND: u8 = 2;
const FORWARD: u8 = 4;

/// A destination port range, optionally for one protocol (`53/udp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PortRange {
    proto: Option<u8>,
    lo: u16,
    hi: u16,
}

/// Protocol names accepted, with their numbers.
const PROTOCOLS: [(&str, u8); 7] = [
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("icmpv6", 58),
    ("ipv6-icmp", 58),
    ("sctp", 132),
    ("udplite", 136),
];
/// Protocols that carry ports (a port rule may name one of these).
const PORT_PROTOCOLS: [(&str, u8); 4] = [("tcp", 6), ("udp", 17), ("sctp", 132), ("udplite", 136)];

/// The conditions of one side. An event meets the side when it meets any one condition.
#[derive(Debug, Default)]
pub struct Rules {
    sources: NetSet,
    destinations: NetSet,
    prefixes: Vec<Pattern>,
    in_interfaces: Vec<Pattern>,
    out_interfaces: Vec<Pattern>,
    directions: u8,
    /// One bit per IP protocol number.
    protocols: [u64; 4],
    ports: Vec<PortRange>,
    empty: bool,
}

impl Rules {
    /// Validates the lists of one side; `side` is `drop` or `keep`, for key names in errors.
    pub fn new(side: &str, raw: &RawRules<'_>) -> Result<Self, ConfigError> {
        let key = |name: &str, i: usize| format!("{side}_{name}[{i}]");
        let mut r = Rules {
            sources: networks(&key, "sources", raw.sources)?,
            destinations: networks(&key, "destinations", raw.destinations)?,
            prefixes: patterns(&key, "prefixes", raw.prefixes, true)?,
            in_interfaces: patterns(&key, "in_interfaces", raw.in_interfaces, false)?,
            out_interfaces: patterns(&key, "out_interfaces", raw.out_interfaces, false)?,
            ..Rules::default()
        };
        for (i, d) in raw.directions.iter().enumerate() {
            r.directions |= match d.trim().to_ascii_lowercase().as_str() {
                "inbound" => INBOUND,
                "outbound" => OUTBOUND,
                "forward" => FORWARD,
                _ => {
                    return Err(ConfigError::key(
                        key("directions", i),
                        format!("{d:?} is not a direction (inbound, outbound or forward)"),
                    ));
                }
            };
        }
        for (i, p) in raw.protocols.iter().enumerate() {
            let n = protocol(p).ok_or_else(|| {
                ConfigError::key(
                    key("protocols", i),
                    format!(
                        "{p} is not a protocol (tcp, udp, icmp, icmpv6, udplite, sctp or a number 0-255)"
                    ),
                )
            })?;
            r.protocols[usize::from(n / 64)] |= 1 << (n % 64);
        }
        for (i, p) in raw.ports.iter().enumerate() {
            r.ports
                .push(port_range(p).map_err(|m| ConfigError::key(key("ports", i), m))?);
        }
        r.empty = r.sources.is_empty()
            && r.destinations.is_empty()
            && r.prefixes.is_empty()
            && r.in_interfaces.is_empty()
            && r.out_interfaces.is_empty()
            && r.directions == 0
            && r.protocols == [0; 4]
            && r.ports.is_empty();
        Ok(r)
    }

    /// Whether no condition is configured (then no event meets the side).
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// Whether `ev` meets at least one condition.
    pub fn matches(&self, ev: &Event<'_>) -> bool {
        if self.empty {
            return false;
        }
        let src = ev.src();
        if let Some(ip) = src
            && self.sources.contains(ip)
        {
            return true;
        }
        if let Some(ip) = ev.dst()
            && self.destinations.contains(ip)
        {
            return true;
        }
        if !self.prefixes.is_empty() {
            let prefix = ev.prefix().trim();
            if self.prefixes.iter().any(|p| p.matches(prefix)) {
                return true;
            }
        }
        let (inn, out) = (ev.in_iface(), ev.out_iface());
        // An empty name (no `IN=`/`OUT=` interface) matches no interface pattern.
        if (!inn.is_empty() && self.in_interfaces.iter().any(|p| p.matches(inn)))
            || (!out.is_empty() && self.out_interfaces.iter().any(|p| p.matches(out)))
        {
            return true;
        }
        if self.directions != 0 {
            let dir = match (inn.is_empty(), out.is_empty()) {
                (false, true) => INBOUND,
                (true, false) => OUTBOUND,
                (false, false) => FORWARD,
                (true, true) => 0,
            };
            if self.directions & dir != 0 {
                return true;
            }
        }
        // Records without an IP layer (ARP) carry no protocol number.
        let proto = ev.proto();
        if src.is_some() && self.protocols[usize::from(proto / 64)] & (1 << (proto % 64)) != 0 {
            return true;
        }
        if let Some(dpt) = ev.dpt() {
            return self
                .ports
                .iter()
                .any(|r| (r.lo..=r.hi).contains(&dpt) && r.proto.is_none_or(|p| p == proto));
        }
        false
    }
}

fn networks(
    key: &impl Fn(&str, usize) -> String,
    name: &str,
    items: &[String],
) -> Result<NetSet, ConfigError> {
    let mut nets = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if item.trim() == "private" {
            nets.extend(reserved::networks());
            continue;
        }
        let net = IpNet::parse(item).map_err(|e| {
            ConfigError::key(key(name, i), format!("{item:?}: {e} (or use \"private\")"))
        })?;
        nets.push(net);
    }
    Ok(NetSet::new(nets))
}

/// Parses names with an optional trailing `*` (iptables' `+` too, for interfaces).
/// Prefixes are compared trimmed, as the kernel logs them with trailing spaces.
fn patterns(
    key: &impl Fn(&str, usize) -> String,
    name: &str,
    items: &[String],
    is_prefix: bool,
) -> Result<Vec<Pattern>, ConfigError> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let text = if is_prefix {
            item.trim()
        } else {
            item.as_str()
        };
        let glob = text
            .strip_suffix('*')
            .or_else(|| text.strip_suffix('+').filter(|_| !is_prefix));
        let body = glob.unwrap_or(text);
        if body.contains('*') {
            return Err(ConfigError::key(
                key(name, i),
                format!("{item:?}: `*` is only allowed at the end"),
            ));
        }
        if !is_prefix && (text.is_empty() || body.contains(char::is_whitespace)) {
            return Err(ConfigError::key(
                key(name, i),
                format!("{item:?} is not an interface name"),
            ));
        }
        out.push(match glob {
            Some(p) => Pattern::StartsWith(p.to_string()),
            None => Pattern::Exact(text.to_string()),
        });
    }
    Ok(out)
}

fn protocol(item: &Item) -> Option<u8> {
    match item {
        Item::Num(n) => u8::try_from(*n).ok(),
        Item::Text(t) => {
            let t = t.trim().to_ascii_lowercase();
            PROTOCOLS
                .iter()
                .find(|(name, _)| *name == t)
                .map(|(_, n)| *n)
                .or_else(|| t.parse().ok())
        }
    }
}

fn port_range(item: &Item) -> Result<PortRange, String> {
    let not_a_port = || format!("{item} is not a port");
    let text = match item {
        Item::Num(n) => {
            let port = u16::try_from(*n).map_err(|_| not_a_port())?;
            return Ok(PortRange {
                proto: None,
                lo: port,
                hi: port,
            });
        }
        Item::Text(t) => t.trim(),
    };
    let (range, proto) = match text.split_once('/') {
        None => (text, None),
        Some((range, name)) => {
            let name = name.trim().to_ascii_lowercase();
            let n = PORT_PROTOCOLS
                .iter()
                .find(|(p, _)| *p == name)
                .map(|(_, n)| *n)
                .ok_or_else(|| {
                    format!(
                        "{item}: {name:?} is not a protocol with ports (tcp, udp, sctp or udplite)"
                    )
                })?;
            (range.trim(), Some(n))
        }
    };
    let port = |s: &str| -> Result<u16, String> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_a_port());
        }
        s.parse().map_err(|_| not_a_port())
    };
    let (lo, hi) = match range.split_once('-') {
        None => {
            let p = port(range)?;
            (p, p)
        }
        Some((a, b)) => (port(a)?, port(b)?),
    };
    if lo > hi {
        return Err(format!("{item}: the range runs backwards ({lo} > {hi})"));
    }
    Ok(PortRange { proto, lo, hi })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Item {
        Item::Text(s.into())
    }

    #[test]
    fn ports_parse_as_numbers_ranges_and_per_protocol() {
        let ok = |i: Item| port_range(&i).unwrap();
        let any = |lo, hi| PortRange {
            proto: None,
            lo,
            hi,
        };
        assert_eq!(ok(Item::Num(22)), any(22, 22));
        assert_eq!(ok(text("0")), any(0, 0));
        assert_eq!(ok(text(" 6000-6063 ")), any(6000, 6063));
        assert_eq!(ok(text("65535")), any(65535, 65535));
        assert_eq!(
            ok(text("53/UDP")),
            PortRange {
                proto: Some(17),
                lo: 53,
                hi: 53
            }
        );
        assert_eq!(ok(text("137-139/tcp")).proto, Some(6));
        for (bad, message) in [
            (text("70000"), "\"70000\" is not a port"),
            (Item::Num(70000), "70000 is not a port"),
            (text("http"), "\"http\" is not a port"),
            (text("-5"), "\"-5\" is not a port"),
            (text("1-"), "\"1-\" is not a port"),
            (text(""), "\"\" is not a port"),
            (text("+22"), "\"+22\" is not a port"),
            (text("6063-6000"), "runs backwards"),
            (text("53/icmp"), "not a protocol with ports"),
        ] {
            let e = port_range(&bad).unwrap_err();
            assert!(e.contains(message), "{bad}: {e}");
        }
    }

    #[test]
    fn protocols_by_name_or_number() {
        assert_eq!(protocol(&text("TCP")), Some(6));
        assert_eq!(protocol(&text("icmpv6")), Some(58));
        assert_eq!(protocol(&text("udplite")), Some(136));
        assert_eq!(protocol(&text("47")), Some(47));
        assert_eq!(protocol(&Item::Num(255)), Some(255));
        assert_eq!(protocol(&Item::Num(256)), None);
        assert_eq!(protocol(&text("tpc")), None);
        assert_eq!(protocol(&text("")), None);
    }

    #[test]
    fn patterns_are_exact_or_trailing_globs() {
        let key = |n: &str, i: usize| format!("drop_{n}[{i}]");
        let items = [
            "[UFW BLOCK] ".to_string(),
            "DROP*".to_string(),
            String::new(),
        ];
        let p = patterns(&key, "prefixes", &items, true).unwrap();
        assert_eq!(
            p,
            [
                Pattern::Exact("[UFW BLOCK]".into()),
                Pattern::StartsWith("DROP".into()),
                Pattern::Exact(String::new())
            ]
        );
        assert!(p[1].matches("DROP INVALID") && !p[1].matches("ACCEPT"));
        let p = patterns(&key, "in_interfaces", &["eth+".into(), "wg*".into()], false).unwrap();
        assert!(p[0].matches("eth0") && p[1].matches("wg1") && !p[0].matches("bond0"));
        for (bad, which) in [
            ("*DROP", "prefixes"),
            ("", "in_interfaces"),
            ("e th0", "in_interfaces"),
        ] {
            let e = patterns(&key, which, &[bad.to_string()], which == "prefixes").unwrap_err();
            assert_eq!(e.key.unwrap(), format!("drop_{which}[0]"));
        }
    }
}
