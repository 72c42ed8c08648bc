//! The network rule: when `net_ban_after` distinct addresses of one network (its
//! /`net_prefix_v4` or /`net_prefix_v6`) have been banned within `net_ban_window` of event
//! time, the network itself is banned.
//!
//! Memory: per network, the addresses banned within the window (fewer than
//! `net_ban_after`: the list is emptied when the network is banned); networks with no ban
//! inside the window are pruned.

use crate::key::network_of;
use portcullis_sdk::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;

/// The rule's settings.
#[derive(Debug, Clone)]
pub struct NetworkSettings {
    /// Distinct banned addresses that ban their network (at least 2).
    pub after: usize,
    /// The span those bans must fall within, ms.
    pub window_ms: i64,
    /// `net_ban_window` as written in reasons.
    pub window_text: String,
    /// IPv4 network prefix length.
    pub v4: u8,
    /// IPv6 network prefix length.
    pub v6: u8,
}

/// The saved form: (network, [(address, event time ms)]).
#[derive(Serialize, Deserialize)]
pub struct SavedNetwork(String, Vec<(String, i64)>);

/// Banned addresses by network.
pub struct NetworkRule {
    settings: NetworkSettings,
    nets: HashMap<IpNet, Vec<(IpAddr, i64)>>,
}

impl NetworkRule {
    pub fn new(settings: NetworkSettings) -> Self {
        NetworkRule {
            settings,
            nets: HashMap::new(),
        }
    }

    /// The network `addr` belongs to.
    pub fn network_of(&self, addr: IpAddr) -> IpNet {
        network_of(addr, self.settings.v4, self.settings.v6)
    }

    /// Records that `addr` was banned at `at`; the network and its count of banned
    /// addresses when that reaches `after`.
    pub fn address_banned(&mut self, addr: IpAddr, at: i64) -> Option<(IpNet, usize)> {
        let net = self.network_of(addr);
        let horizon = at.saturating_sub(self.settings.window_ms);
        let list = self.nets.entry(net).or_default();
        list.retain(|(a, t)| *t >= horizon && *a != addr);
        list.push((addr, at));
        if list.len() < self.settings.after {
            return None;
        }
        let n = list.len();
        self.nets.remove(&net);
        Some((net, n))
    }

    /// The reason of a network ban for `n` addresses.
    pub fn reason(&self, net: &IpNet, n: usize) -> String {
        format!(
            "{n} addresses of {net} banned within {}",
            self.settings.window_text
        )
    }

    /// Networks on record.
    pub fn len(&self) -> usize {
        self.nets.len()
    }

    /// Forgets bans older than the window ending at `now`, and networks left without any.
    pub fn prune(&mut self, now: i64) {
        let horizon = now.saturating_sub(self.settings.window_ms);
        self.nets.retain(|_, list| {
            list.retain(|(_, t)| *t >= horizon);
            !list.is_empty()
        });
    }

    /// The state to snapshot.
    pub fn save(&self) -> Vec<SavedNetwork> {
        self.nets
            .iter()
            .map(|(n, list)| {
                SavedNetwork(
                    n.to_string(),
                    list.iter().map(|(a, t)| (a.to_string(), *t)).collect(),
                )
            })
            .collect()
    }

    /// Replaces the state with a snapshot's; entries of another prefix length (the setting
    /// changed) or that do not parse are skipped.
    pub fn load(&mut self, saved: Vec<SavedNetwork>) {
        self.nets.clear();
        for SavedNetwork(net, list) in saved {
            let list: Vec<(IpAddr, i64)> = list
                .into_iter()
                .filter_map(|(a, t)| Some((a.parse().ok()?, t)))
                .collect();
            let Some((first, _)) = list.first() else {
                continue;
            };
            let mine = self.network_of(*first);
            if IpNet::parse(&net).ok() == Some(mine) && list.iter().all(|(a, _)| mine.contains(*a))
            {
                self.nets.insert(mine, list);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(after: usize) -> NetworkRule {
        NetworkRule::new(NetworkSettings {
            after,
            window_ms: 60_000,
            window_text: "1m".into(),
            v4: 24,
            v6: 48,
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_kth_distinct_address_within_the_window_bans_the_network() {
        let mut r = rule(3);
        assert_eq!(r.address_banned(ip("203.0.113.1"), 0), None);
        assert_eq!(
            r.address_banned(ip("203.0.113.1"), 1_000),
            None,
            "same address"
        );
        assert_eq!(
            r.address_banned(ip("198.51.100.2"), 2_000),
            None,
            "other network"
        );
        assert_eq!(r.address_banned(ip("203.0.113.2"), 3_000), None);
        let (net, n) = r.address_banned(ip("203.0.113.3"), 4_000).unwrap();
        assert_eq!((net.to_string(), n), ("203.0.113.0/24".to_string(), 3));
        assert_eq!(
            r.reason(&net, n),
            "3 addresses of 203.0.113.0/24 banned within 1m"
        );
        assert_eq!(r.len(), 1, "the banned network's list is emptied");
    }

    #[test]
    fn bans_outside_the_window_do_not_count() {
        let mut r = rule(2);
        r.address_banned(ip("2001:db8:1::1"), 0);
        assert_eq!(r.address_banned(ip("2001:db8:1:ff::2"), 60_001), None);
        assert!(r.address_banned(ip("2001:db8:1::3"), 60_002).is_some());
        r.address_banned(ip("203.0.113.1"), 0);
        r.prune(60_001);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn a_snapshot_keeps_the_lists_of_the_same_prefix_length() {
        let mut r = rule(3);
        r.address_banned(ip("203.0.113.1"), 0);
        r.address_banned(ip("203.0.113.2"), 1);
        let mut again = rule(3);
        again.load(r.save());
        assert!(again.address_banned(ip("203.0.113.3"), 2).is_some());
        let mut other = NetworkRule::new(NetworkSettings {
            v4: 16,
            ..rule(3).settings
        });
        other.load(r.save());
        assert_eq!(other.len(), 0);
    }
}
