//! Sets of networks as sorted, merged address ranges. Membership is one binary search, so
//! a list of thousands of networks costs a dozen comparisons per event, not a scan.

use portcullis_sdk::IpNet;
use std::net::IpAddr;

/// A set of IPv4 and IPv6 networks.
#[derive(Debug, Default, Clone)]
pub struct NetSet {
    /// Inclusive ranges, sorted by start, disjoint and not adjacent.
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl NetSet {
    /// The union of `nets`.
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for net in nets {
            let bits = u32::from(net.prefix());
            match net.addr() {
                IpAddr::V4(a) => {
                    let start = u32::from(a);
                    v4.push((start, start | u32::MAX.checked_shr(bits).unwrap_or(0)));
                }
                IpAddr::V6(a) => {
                    let start = u128::from(a);
                    v6.push((start, start | u128::MAX.checked_shr(bits).unwrap_or(0)));
                }
            }
        }
        NetSet {
            v4: merge(v4),
            v6: merge(v6),
        }
    }

    /// Whether the set holds no network.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Number of disjoint ranges the networks merged into.
    #[cfg(test)]
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether `ip` lies in one of the networks. An IPv4 address never lies in an IPv6
    /// network (IPv4-mapped `::ffff:a.b.c.d` included), as with [`IpNet::contains`].
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        }
    }
}

/// An unsigned address as a number, with its successor.
trait Addr: Copy + Ord {
    fn succ(self) -> Option<Self>;
}
impl Addr for u32 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}
impl Addr for u128 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Sorts ranges and merges those that overlap or touch.
fn merge<T: Addr>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        if let Some(last) = out.last_mut() {
            // `None`: the last range runs to the top of the space and covers this one.
            if last.1.succ().is_none_or(|next| start <= next) {
                last.1 = last.1.max(end);
                continue;
            }
        }
        out.push((start, end));
    }
    out
}

fn find<T: Addr>(ranges: &[(T, T)], x: T) -> bool {
    let after = ranges.partition_point(|r| r.0 <= x);
    after > 0 && x <= ranges[after - 1].1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(nets: &[&str]) -> NetSet {
        NetSet::new(nets.iter().map(|n| IpNet::parse(n).unwrap()))
    }

    fn has(s: &NetSet, ip: &str) -> bool {
        s.contains(ip.parse().unwrap())
    }

    #[test]
    fn membership_at_the_edges() {
        let s = set(&["198.51.100.0/24", "203.0.113.7", "2001:db8::/32"]);
        assert!(has(&s, "198.51.100.0") && has(&s, "198.51.100.255"));
        assert!(!has(&s, "198.51.99.255") && !has(&s, "198.51.101.0"));
        assert!(has(&s, "203.0.113.7") && !has(&s, "203.0.113.8"));
        assert!(has(&s, "2001:db8:ffff::1") && !has(&s, "2001:db9::"));
        assert!(!has(&s, "::ffff:198.51.100.1"), "IPv4-mapped is IPv6");
    }

    #[test]
    fn overlapping_and_adjacent_networks_merge() {
        let s = set(&[
            "10.0.0.0/24",
            "10.0.1.0/24",
            "10.0.0.128/25",
            "10.0.3.0/24",
            "0.0.0.0/0",
        ]);
        assert_eq!(s.ranges(), 1);
        let s = set(&["10.0.0.0/24", "10.0.1.0/24", "10.0.3.0/24", "::/0", "::1"]);
        assert_eq!(s.ranges(), 3);
        assert!(has(&s, "10.0.1.255") && !has(&s, "10.0.2.0") && has(&s, "ff02::1"));
        assert!(
            set(&["255.255.255.255", "255.255.255.254"])
                .contains("255.255.255.254".parse().unwrap())
        );
        assert!(set(&[]).is_empty());
    }

    #[test]
    fn agrees_with_a_linear_scan_over_thousands_of_networks() {
        // Deterministic pseudo-random networks and probes.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let nets: Vec<IpNet> = (0..5000)
            .map(|_| {
                let r = next();
                let addr = IpAddr::from((r as u32).to_be_bytes());
                IpNet::new(addr, 8 + (r >> 32) as u8 % 25).unwrap()
            })
            .collect();
        let s = NetSet::new(nets.iter().copied());
        for _ in 0..20_000 {
            let ip = IpAddr::from((next() as u32).to_be_bytes());
            assert_eq!(s.contains(ip), nets.iter().any(|n| n.contains(ip)), "{ip}");
        }
    }
}
