//! CIDR networks: parsing, validation, containment.
//!
//! Every address that reaches a firewall command passes through [`IpNet::new`] or
//! [`IpNet::parse`], which refuse a prefix length longer than the family allows and
//! normalise host bits away (`198.51.100.7/24` becomes `198.51.100.0/24`).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

/// An IPv4 or IPv6 network: an address with its host bits cleared, and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a network did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetError {
    /// The address part is not an IPv4 or IPv6 address.
    BadAddress,
    /// The prefix length is not a number.
    BadPrefix,
    /// The prefix length exceeds 32 (IPv4) or 128 (IPv6).
    PrefixTooLong {
        /// The prefix length given.
        prefix: u8,
        /// The family's maximum.
        max: u8,
    },
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::BadAddress => write!(f, "not an IPv4 or IPv6 address"),
            NetError::BadPrefix => write!(f, "prefix length is not a number"),
            NetError::PrefixTooLong { prefix, max } => {
                write!(f, "prefix length /{prefix} is longer than /{max}")
            }
        }
    }
}

impl IpNet {
    /// The network of `addr` with `prefix` bits; host bits are cleared.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, NetError> {
        let max = max_prefix(addr);
        if prefix > max {
            return Err(NetError::PrefixTooLong { prefix, max });
        }
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(prefix))),
        };
        Ok(IpNet { addr, prefix })
    }

    /// A single address as a /32 or /128.
    pub fn host(addr: IpAddr) -> Self {
        IpNet {
            addr,
            prefix: max_prefix(addr),
        }
    }

    /// Parses `a.b.c.d`, `a.b.c.d/n`, `x:y::z` or `x:y::z/n`.
    pub fn parse(text: &str) -> Result<Self, NetError> {
        let text = text.trim();
        match text.split_once('/') {
            None => IpAddr::from_str(text)
                .map(IpNet::host)
                .map_err(|_| NetError::BadAddress),
            Some((a, p)) => {
                let addr = IpAddr::from_str(a).map_err(|_| NetError::BadAddress)?;
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NetError::BadPrefix);
                }
                let prefix: u8 = p.parse().map_err(|_| NetError::BadPrefix)?;
                IpNet::new(addr, prefix)
            }
        }
    }

    /// The network address (host bits zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether this is an IPv4 network.
    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// Whether `ip` lies inside this network (an IPv4 address never lies in an IPv6 net).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u32::from(a) & mask32(self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => u128::from(a) & mask128(self.prefix) == u128::from(n),
            _ => false,
        }
    }

    /// The network's last address (all host bits set).
    pub fn last(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(n) => IpAddr::V4(Ipv4Addr::from(u32::from(n) | !mask32(self.prefix))),
            IpAddr::V6(n) => IpAddr::V6(Ipv6Addr::from(u128::from(n) | !mask128(self.prefix))),
        }
    }

    /// Whether `other` lies entirely inside this network.
    pub fn contains_net(&self, other: &IpNet) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpNet {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IpNet::parse(s)
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn parses_and_normalises() {
        let n = IpNet::parse("198.51.100.7/24").unwrap();
        assert_eq!(n.to_string(), "198.51.100.0/24");
        assert_eq!(
            IpNet::parse("203.0.113.5").unwrap().to_string(),
            "203.0.113.5/32"
        );
        assert_eq!(
            IpNet::parse("2001:db8::1/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert_eq!(IpNet::parse("2001:db8::1").unwrap().prefix(), 128);
        assert_eq!(IpNet::parse("0.0.0.0/0").unwrap().prefix(), 0);
    }

    #[test]
    fn refuses_bad_networks() {
        assert_eq!(
            IpNet::parse("198.51.100.0/33"),
            Err(NetError::PrefixTooLong {
                prefix: 33,
                max: 32
            })
        );
        assert_eq!(
            IpNet::parse("2001:db8::/129"),
            Err(NetError::PrefixTooLong {
                prefix: 129,
                max: 128
            })
        );
        assert_eq!(IpNet::parse("198.51.100.0/"), Err(NetError::BadPrefix));
        assert_eq!(IpNet::parse("198.51.100.0/+8"), Err(NetError::BadPrefix));
        assert_eq!(IpNet::parse("198.51.100.0/2a"), Err(NetError::BadPrefix));
        assert_eq!(IpNet::parse("198.51.100/24"), Err(NetError::BadAddress));
        assert_eq!(IpNet::parse("-j ACCEPT"), Err(NetError::BadAddress));
        assert_eq!(IpNet::parse("1.2.3.4; rm -rf /"), Err(NetError::BadAddress));
    }

    #[test]
    fn containment() {
        let n = IpNet::parse("198.51.100.0/24").unwrap();
        assert!(n.contains("198.51.100.255".parse().unwrap()));
        assert!(!n.contains("198.51.101.0".parse().unwrap()));
        assert!(!n.contains("::ffff:198.51.100.1".parse().unwrap()));
        assert!(n.contains_net(&IpNet::parse("198.51.100.128/25").unwrap()));
        assert_eq!(n.last().to_string(), "198.51.100.255");
        assert_eq!(
            IpNet::parse("2001:db8::/112").unwrap().last().to_string(),
            "2001:db8::ffff"
        );
        assert_eq!(
            IpNet::parse("0.0.0.0/0").unwrap().last().to_string(),
            "255.255.255.255"
        );
        assert!(!n.contains_net(&IpNet::parse("198.51.0.0/16").unwrap()));
        let all = IpNet::parse("::/0").unwrap();
        assert!(all.contains("2001:db8::1".parse().unwrap()));
    }
}
