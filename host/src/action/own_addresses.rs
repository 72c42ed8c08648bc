//! The host's own addresses, which the guard never lets a ban cover: read from
//! `/proc/net/fib_trie` (IPv4 local routes) and `/proc/net/if_inet6`, in the network
//! namespace of the process. Parsing is sans-IO; [`read`] is the only IO.

use portcullis_abi::net::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The local addresses of this network namespace, loopback included. Missing files (no
/// IPv6, an unusual kernel) give fewer addresses, never an error.
pub fn read() -> Vec<IpNet> {
    let mut out = std::fs::read_to_string("/proc/net/fib_trie")
        .map(|t| parse_fib_trie(&t))
        .unwrap_or_default();
    out.extend(
        std::fs::read_to_string("/proc/net/if_inet6")
            .map(|t| parse_if_inet6(&t))
            .unwrap_or_default(),
    );
    out.sort();
    out.dedup();
    out
}

/// The addresses of `/32 host LOCAL` leaves in a `/proc/net/fib_trie` text.
pub fn parse_fib_trie(text: &str) -> Vec<IpNet> {
    let mut last: Option<Ipv4Addr> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("|-- ").or_else(|| t.strip_prefix("+-- ")) {
            last = rest
                .split_whitespace()
                .next()
                .and_then(|a| a.split('/').next())
                .and_then(|a| a.parse().ok());
        } else if let (true, Some(a)) = (t.starts_with("/32 host LOCAL"), last) {
            out.push(IpNet::host(IpAddr::V4(a)));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The addresses in a `/proc/net/if_inet6` text (32 hex digits first on each line).
pub fn parse_if_inet6(text: &str) -> Vec<IpNet> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|h| h.len() == 32)
        .filter_map(|h| u128::from_str_radix(h, 16).ok())
        .map(|v| IpNet::host(IpAddr::V6(Ipv6Addr::from(v))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_local_ipv4_leaves_only() {
        let text = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     |-- 198.51.100.1
        /32 host LOCAL
Local:
     |-- 198.51.100.1
        /32 host LOCAL
";
        let got: Vec<String> = parse_fib_trie(text)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["127.0.0.1/32", "198.51.100.1/32"]);
    }

    #[test]
    fn reads_ipv6_addresses() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo
20010db8000100000000000000000001 02 40 00 80    veth0
";
        let got: Vec<String> = parse_if_inet6(text)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["::1/128", "2001:db8:1::1/128"]);
    }

    #[test]
    fn this_machine_has_loopback() {
        // The test runs in a namespace whose `lo` is up, so 127.0.0.1 is local.
        let own = read();
        assert!(
            own.iter().any(|n| n.to_string() == "127.0.0.1/32"),
            "{own:?}"
        );
    }
}
