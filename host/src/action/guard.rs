//! The guard: what the action engine refuses to ban, whatever a plugin asks. Sans-IO: it
//! is told the time and the number of active bans.
//!
//! - a target overlapping an allowlisted network (either contains the other);
//! - a target containing one of the host's own addresses (read at start-up; see
//!   [`super::own_addresses`]), so Portcullis never locks the host out of itself;
//! - a network broader than the smallest prefix allowed (`/16` for IPv4 and `/48` for IPv6
//!   by default), so a plugin cannot ban the Internet;
//! - a new ban when as many bans as allowed are already active;
//! - more new bans within a minute than allowed.

use portcullis_abi::net::IpNet;
use std::collections::VecDeque;

/// The guard's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// Networks never banned.
    pub allowlist: Vec<IpNet>,
    /// Whether to refuse bans covering the host's own addresses.
    pub protect_own_addresses: bool,
    /// Smallest IPv4 prefix length a ban may have.
    pub min_prefix_v4: u8,
    /// Smallest IPv6 prefix length a ban may have.
    pub min_prefix_v6: u8,
    /// Most bans active at once.
    pub max_active: usize,
    /// Most new bans within any minute.
    pub max_new_per_minute: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            allowlist: Vec::new(),
            protect_own_addresses: true,
            min_prefix_v4: 16,
            min_prefix_v6: 48,
            max_active: 100_000,
            max_new_per_minute: 1_000,
        }
    }
}

/// Why a ban was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The target overlaps an allowlisted network.
    #[error("{target} overlaps allowlisted {allowed}")]
    Allowlisted {
        /// The ban's target.
        target: IpNet,
        /// The allowlist entry.
        allowed: IpNet,
    },
    /// The target covers one of the host's own addresses.
    #[error("{target} covers {own}, an address of this host")]
    OwnAddress {
        /// The ban's target.
        target: IpNet,
        /// The host's address.
        own: IpNet,
    },
    /// The target is broader than allowed.
    #[error("{target} is broader than /{min}, the smallest prefix allowed")]
    TooBroad {
        /// The ban's target.
        target: IpNet,
        /// The smallest prefix length allowed for its family.
        min: u8,
    },
    /// As many bans as allowed are active.
    #[error("{max} bans are already active (max_active)")]
    TooManyActive {
        /// The limit.
        max: usize,
    },
    /// Too many new bans this minute.
    #[error("more than {max} new bans within a minute (max_new_per_minute)")]
    RateLimited {
        /// The limit.
        max: usize,
    },
}

/// The guard and the times of the recent bans it let through.
#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    own: Vec<IpNet>,
    recent: VecDeque<i64>,
}

impl Guard {
    /// A guard with these limits, protecting `own` (the host's addresses) when the config
    /// says so.
    pub fn new(config: GuardConfig, own: Vec<IpNet>) -> Self {
        let own = if config.protect_own_addresses {
            own
        } else {
            Vec::new()
        };
        Guard {
            config,
            own,
            recent: VecDeque::new(),
        }
    }

    /// Whether `target` may be banned now (`now_secs`), with `active` bans in force and
    /// `is_new` telling whether it would add a ban rather than extend one. A ban let
    /// through counts towards the per-minute limit.
    pub fn check(
        &mut self,
        target: &IpNet,
        now_secs: i64,
        active: usize,
        is_new: bool,
    ) -> Result<(), Refusal> {
        if let Some(allowed) = self
            .config
            .allowlist
            .iter()
            .find(|a| a.contains_net(target) || target.contains_net(a))
        {
            return Err(Refusal::Allowlisted {
                target: *target,
                allowed: *allowed,
            });
        }
        if let Some(own) = self.own.iter().find(|a| target.contains_net(a)) {
            return Err(Refusal::OwnAddress {
                target: *target,
                own: *own,
            });
        }
        let min = if target.is_ipv4() {
            self.config.min_prefix_v4
        } else {
            self.config.min_prefix_v6
        };
        if target.prefix() < min {
            return Err(Refusal::TooBroad {
                target: *target,
                min,
            });
        }
        if !is_new {
            return Ok(());
        }
        if active >= self.config.max_active {
            return Err(Refusal::TooManyActive {
                max: self.config.max_active,
            });
        }
        while self.recent.front().is_some_and(|t| now_secs - *t >= 60) {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.config.max_new_per_minute {
            return Err(Refusal::RateLimited {
                max: self.config.max_new_per_minute,
            });
        }
        self.recent.push_back(now_secs);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        IpNet::parse(s).unwrap()
    }

    #[test]
    fn refuses_allowlisted_and_too_broad_targets() {
        let mut g = Guard::new(
            GuardConfig {
                allowlist: vec![net("192.0.2.0/24"), net("2001:db8::/64")],
                ..GuardConfig::default()
            },
            vec![net("203.0.113.1"), net("2001:db8:9::1")],
        );
        assert_eq!(
            g.check(&net("203.0.113.0/24"), 0, 0, true),
            Err(Refusal::OwnAddress {
                target: net("203.0.113.0/24"),
                own: net("203.0.113.1")
            })
        );
        assert!(matches!(
            g.check(&net("2001:db8:9::1"), 0, 0, true),
            Err(Refusal::OwnAddress { .. })
        ));
        let mut off = Guard::new(
            GuardConfig {
                protect_own_addresses: false,
                ..GuardConfig::default()
            },
            vec![net("203.0.113.1")],
        );
        assert_eq!(off.check(&net("203.0.113.1"), 0, 0, true), Ok(()));
        assert!(matches!(
            g.check(&net("192.0.2.7"), 0, 0, true),
            Err(Refusal::Allowlisted { .. })
        ));
        // A network that contains an allowlisted one is refused too.
        assert!(matches!(
            g.check(&net("192.0.0.0/16"), 0, 0, true),
            Err(Refusal::Allowlisted { .. })
        ));
        assert!(matches!(
            g.check(&net("2001:db8::5"), 0, 0, true),
            Err(Refusal::Allowlisted { .. })
        ));
        assert_eq!(
            g.check(&net("198.0.0.0/8"), 0, 0, true),
            Err(Refusal::TooBroad {
                target: net("198.0.0.0/8"),
                min: 16
            })
        );
        assert!(matches!(
            g.check(&net("2001:db9::/32"), 0, 0, true),
            Err(Refusal::TooBroad { min: 48, .. })
        ));
        assert_eq!(g.check(&net("198.51.100.0/24"), 0, 0, true), Ok(()));
        assert_eq!(g.check(&net("2001:db9::/64"), 0, 0, true), Ok(()));
    }

    #[test]
    fn limits_active_bans_and_new_bans_per_minute() {
        let mut g = Guard::new(
            GuardConfig {
                max_active: 10,
                max_new_per_minute: 3,
                ..GuardConfig::default()
            },
            Vec::new(),
        );
        assert_eq!(
            g.check(&net("203.0.113.1"), 0, 10, true),
            Err(Refusal::TooManyActive { max: 10 })
        );
        // Extending an existing ban is never limited.
        assert_eq!(g.check(&net("203.0.113.1"), 0, 10, false), Ok(()));
        for i in 0..3 {
            assert_eq!(
                g.check(&net(&format!("203.0.113.{i}")), 10, 0, true),
                Ok(())
            );
        }
        assert_eq!(
            g.check(&net("203.0.113.9"), 30, 0, true),
            Err(Refusal::RateLimited { max: 3 })
        );
        // A minute after the first three, there is room again.
        assert_eq!(g.check(&net("203.0.113.9"), 70, 0, true), Ok(()));
    }
}
