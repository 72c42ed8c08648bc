//! The built-in `private` set: networks whose sources are never a remote attacker.

use portcullis_sdk::IpNet;

/// RFC 1918 private, loopback, link-local, CGNAT (RFC 6598), "this network", multicast and
/// broadcast for IPv4; unspecified, loopback, ULA (RFC 4193), link-local and multicast for IPv6.
/// Documentation ranges are deliberately absent: they stand in for public hosts in tests.
const RESERVED: [&str; 15] = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
    "::ffff:0:0/96",
];

/// The set, parsed.
pub fn networks() -> impl Iterator<Item = IpNet> {
    RESERVED.iter().filter_map(|s| IpNet::parse(s).ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_entry_parses() {
        assert_eq!(super::networks().count(), super::RESERVED.len());
    }
}
