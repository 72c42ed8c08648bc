//! What the counting rules (threshold, share) count by, and so what they ban: the source
//! address, or the source's network.

use portcullis_sdk::{ConfigError, IpNet};
use std::net::IpAddr;

/// The `key` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountKey {
    /// Count and ban each source address.
    Src,
    /// Count and ban each source network of these prefix lengths (IPv4, IPv6).
    Net(u8, u8),
}

impl CountKey {
    /// Parses `key`; `v4`/`v6` are the validated network prefix lengths.
    pub fn parse(name: &str, v4: u8, v6: u8) -> Result<Self, ConfigError> {
        match name {
            "src" => Ok(CountKey::Src),
            "net" => Ok(CountKey::Net(v4, v6)),
            // A ban is a network in the firewall: an AS, organisation or country has no
            // such form here, so grouping by them would leave nothing well-defined to ban.
            "asn" | "org" | "country" => Err(ConfigError::key(
                "key",
                format!(
                    "{name:?} cannot be banned as a network; use ban_{name}s to ban its sources on \
                     sight, or the counter plugin to watch it"
                ),
            )),
            _ => Err(ConfigError::key(
                "key",
                format!("{name:?} is not \"src\" or \"net\""),
            )),
        }
    }

    /// The map key and the ban target of an event from `src` (`src_key` is its 16 bytes).
    pub fn of(self, src: IpAddr, src_key: [u8; 16]) -> ([u8; 16], IpNet) {
        match self {
            CountKey::Src => (src_key, IpNet::host(src)),
            CountKey::Net(v4, v6) => {
                let net = network_of(src, v4, v6);
                (bytes(net.addr()), net)
            }
        }
    }

    /// The setting with what changes its keys' meaning (`net/24/64`), saved in snapshots
    /// so that state counted by another key is not read as this one's.
    pub fn identity(self) -> String {
        match self {
            CountKey::Src => "src".to_string(),
            CountKey::Net(v4, v6) => format!("net/{v4}/{v6}"),
        }
    }
}

/// The network of `addr`: its /`v4` or /`v6`.
pub fn network_of(addr: IpAddr, v4: u8, v6: u8) -> IpNet {
    let prefix = if addr.is_ipv4() { v4 } else { v6 };
    // Prefix lengths are validated at init; a host ban is the harmless fallback.
    IpNet::new(addr, prefix).unwrap_or(IpNet::host(addr))
}

/// Whether `net` is a single address.
pub fn is_host(net: &IpNet) -> bool {
    net.prefix() == if net.is_ipv4() { 32 } else { 128 }
}

/// An address as 16 bytes (IPv4-mapped for IPv4), as `Event::src_key` gives it.
pub fn bytes(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// The address of 16 key bytes.
pub fn addr(bytes: [u8; 16]) -> IpAddr {
    let v6 = std::net::Ipv6Addr::from(bytes);
    v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_keys_group_addresses_of_one_network() {
        let a: IpAddr = "203.0.113.9".parse().unwrap();
        let b: IpAddr = "203.0.113.200".parse().unwrap();
        let key = CountKey::Net(24, 64);
        let (ka, na) = key.of(a, bytes(a));
        let (kb, nb) = key.of(b, bytes(b));
        assert_eq!((ka, na), (kb, nb));
        assert_eq!(na.to_string(), "203.0.113.0/24");
        let v6: IpAddr = "2001:db8:1:2:3::9".parse().unwrap();
        assert_eq!(key.of(v6, bytes(v6)).1.to_string(), "2001:db8:1:2::/64");
        assert_eq!(
            CountKey::Src.of(a, bytes(a)).1.to_string(),
            "203.0.113.9/32"
        );
        assert_eq!(addr(bytes(a)), a);
        assert!(is_host(&IpNet::host(v6)) && !is_host(&na));
    }

    #[test]
    fn group_keys_are_refused_with_the_reason() {
        let e = CountKey::parse("asn", 24, 64).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("key"));
        assert!(e.message.contains("ban_asns"), "{e}");
        assert!(CountKey::parse("dport", 24, 64).is_err());
    }
}
