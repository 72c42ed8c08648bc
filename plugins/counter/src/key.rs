//! What events are counted by: the key kinds a config names in `by`, and the key value
//! each event gives for a kind.

use portcullis_sdk::{ConfigError, Event, IpNet};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The names `by` accepts, in the order the docs list them.
pub const KIND_NAMES: &[&str] = &[
    "src", "net", "asn", "org", "country", "dport", "prefix", "proto",
];

/// A way of grouping events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The source address.
    Src,
    /// The source network with these prefix lengths (IPv4, IPv6).
    Net(u8, u8),
    /// The source's AS number (needs an enrichment stage).
    Asn,
    /// The source's AS organisation (needs an enrichment stage).
    Org,
    /// The source's country (needs an enrichment stage).
    Country,
    /// The destination port.
    Dport,
    /// The log prefix.
    Prefix,
    /// The IP protocol.
    Proto,
}

impl Kind {
    /// Parses the `by` entry at `index`.
    pub fn parse(name: &str, index: usize, v4: u8, v6: u8) -> Result<Self, ConfigError> {
        Ok(match name {
            "src" => Kind::Src,
            "net" => Kind::Net(v4, v6),
            "asn" => Kind::Asn,
            "org" => Kind::Org,
            "country" => Kind::Country,
            "dport" => Kind::Dport,
            "prefix" => Kind::Prefix,
            "proto" => Kind::Proto,
            _ => {
                return Err(ConfigError::key(
                    format!("by[{index}]"),
                    format!("{name:?} is not a key (one of {})", KIND_NAMES.join(", ")),
                ));
            }
        })
    }

    /// The name used in metrics and logs (`src`, `net`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Src => "src",
            Kind::Net(..) => "net",
            Kind::Asn => "asn",
            Kind::Org => "org",
            Kind::Country => "country",
            Kind::Dport => "dport",
            Kind::Prefix => "prefix",
            Kind::Proto => "proto",
        }
    }

    /// The name with what changes its keys' meaning (`net/24/64`), so a snapshot taken
    /// under other settings is not mistaken for this one's.
    pub fn identity(self) -> String {
        match self {
            Kind::Net(v4, v6) => format!("net/{v4}/{v6}"),
            other => other.name().to_string(),
        }
    }

    /// `ev`'s key of this kind; [`Key::None`] when the event lacks it (no IP layer, no
    /// port, no enrichment, no prefix).
    pub fn key_of(self, ev: &Event<'_>) -> Key {
        let key = match self {
            Kind::Src => ev.src().map(|_| Key::Addr(ev.src_key())),
            Kind::Net(v4, v6) => ev.src().and_then(|a| {
                let prefix = if a.is_ipv4() { v4 } else { v6 };
                let net = IpNet::new(a, prefix).ok()?;
                Some(Key::Net(bytes(net.addr()), prefix))
            }),
            Kind::Asn => ev.asn().map(Key::Asn),
            Kind::Org => ev.org().map(|o| Key::Text(o.into())),
            Kind::Country => ev.country().map(Key::Country),
            Kind::Dport => ev.dpt().map(|p| Key::Num(u32::from(p))),
            Kind::Prefix => Some(ev.prefix().trim())
                .filter(|p| !p.is_empty())
                .map(|p| Key::Text(p.into())),
            Kind::Proto => ev.src().map(|_| Key::Proto(ev.proto())),
        };
        key.unwrap_or(Key::None)
    }
}

/// One key value. Small (24 bytes) so that a counter stays small.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Key {
    /// The event has no value for the kind.
    None,
    /// An address, 16 bytes (IPv4-mapped for IPv4).
    Addr([u8; 16]),
    /// A network address (16 bytes as for `Addr`) and prefix length.
    Net([u8; 16], u8),
    /// An AS number.
    Asn(u32),
    /// A country code.
    Country([u8; 2]),
    /// A port number.
    Num(u32),
    /// An IP protocol number.
    Proto(u8),
    /// An organisation or a log prefix.
    Text(Box<str>),
}

fn bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn addr(b: &[u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(*b);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::None => f.write_str("(none)"),
            Key::Addr(b) => write!(f, "{}", addr(b)),
            Key::Net(b, p) => write!(f, "{}/{p}", addr(b)),
            Key::Asn(a) => write!(f, "AS{a}"),
            Key::Country(c) => write!(f, "{}", String::from_utf8_lossy(c)),
            Key::Num(n) => write!(f, "{n}"),
            Key::Proto(6) => f.write_str("tcp"),
            Key::Proto(17) => f.write_str("udp"),
            Key::Proto(1) => f.write_str("icmp"),
            Key::Proto(58) => f.write_str("icmpv6"),
            Key::Proto(n) => write!(f, "proto-{n}"),
            // Names and prefixes hold spaces and commas: quote them.
            Key::Text(t) => write!(f, "{t:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::testing::{BatchBuilder, TestEvent};

    #[test]
    fn every_kind_reads_its_key_and_renders_it() {
        let mut b = BatchBuilder::new();
        b.push(
            TestEvent::tcp("203.0.113.77", "192.0.2.1", 22)
                .prefix("DROP: ")
                .geo("GB", 20_712, "Andrews & Arnold Ltd", "London"),
        );
        b.push(TestEvent::tcp("2001:db8:1:2:3::9", "2001:db8::1", 443));
        let batch = b.batch();
        let evs: Vec<_> = batch.events().collect();
        let render = |k: Kind, i: usize| k.key_of(&evs[i]).to_string();
        assert_eq!(render(Kind::Src, 0), "203.0.113.77");
        assert_eq!(render(Kind::Net(24, 64), 0), "203.0.113.0/24");
        assert_eq!(render(Kind::Net(24, 48), 1), "2001:db8:1::/48");
        assert_eq!(render(Kind::Asn, 0), "AS20712");
        assert_eq!(render(Kind::Org, 0), "\"Andrews & Arnold Ltd\"");
        assert_eq!(render(Kind::Country, 0), "GB");
        assert_eq!(render(Kind::Dport, 1), "443");
        assert_eq!(render(Kind::Prefix, 0), "\"DROP:\"");
        assert_eq!(render(Kind::Proto, 0), "tcp");
        assert_eq!(render(Kind::Asn, 1), "(none)");
        assert_eq!(render(Kind::Prefix, 1), "(none)");
        assert_eq!(size_of::<Key>(), 24);
    }

    #[test]
    fn unknown_kinds_are_refused_naming_the_entry() {
        let e = Kind::parse("city", 2, 24, 64).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("by[2]"));
        assert!(e.message.contains("src, net"), "{e}");
    }
}
