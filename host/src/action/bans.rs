//! The active bans and which of them the firewall holds. Sans-IO: every change comes with
//! the time, and returns the firewall [`Op`]s and the store [`Record`]s it implies.
//!
//! Bans may nest (`198.51.100.7/32` inside `198.51.100.0/24`), but an nftables interval
//! set refuses overlapping entries, so the firewall holds only the *enforced* bans: those
//! not inside another active ban. A ban inside a broader one waits in the store and enters
//! the firewall, with its remaining time, when the broader one lifts first.
//!
//! - A ban equal to or inside an active one that lasts at least as long is merged away.
//! - A longer ban of the same network extends it; a shorter one never shortens it.
//! - A new ban lifts the bans inside it that end no later ("superseded"), and takes the
//!   ones that outlast it out of the firewall until it lifts.
//! - An unban lifts every active ban inside its network, like `grepcidr` then `-D`.

use super::backend::Op;
use portcullis_abi::net::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One active ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveBan {
    /// Unix seconds when it was made.
    pub created_at: i64,
    /// Unix seconds when it lifts.
    pub expires_at: i64,
    /// Why.
    pub reason: Arc<str>,
    /// Who asked: a stage's name, `cli`, `import-iptables`.
    pub origin: Arc<str>,
}

/// What the store must record for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A new active ban.
    Insert {
        /// The network.
        target: IpNet,
        /// The ban.
        ban: ActiveBan,
    },
    /// An active ban now lasts longer.
    Extend {
        /// The network.
        target: IpNet,
        /// The new expiry.
        expires_at: i64,
    },
    /// An active ban was lifted.
    Lift {
        /// The network.
        target: IpNet,
        /// Unix seconds.
        at: i64,
        /// Why: `expired`, `removed by cli (within 198.51.100.0/24)`, `superseded by …`.
        why: Arc<str>,
    },
}

/// The firewall ops and store records one or more changes imply, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// For the backend.
    pub ops: Vec<Op>,
    /// For the store.
    pub records: Vec<Record>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.records.is_empty()
    }
}

/// What became of a ban request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanOutcome {
    /// A new ban.
    Banned,
    /// An active ban of the same network now lasts longer.
    Extended,
    /// Already covered, as long or longer, by an active ban (equal or broader).
    Merged,
}

/// The active bans, indexed by network and by expiry.
#[derive(Debug, Default, Clone)]
pub struct ActiveBans {
    bans: BTreeMap<IpNet, ActiveBan>,
    by_expiry: BTreeSet<(i64, IpNet)>,
    /// How many active bans have each prefix length, per family: containment checks
    /// look only at the lengths present.
    prefixes_v4: Vec<u32>,
    prefixes_v6: Vec<u32>,
}

impl ActiveBans {
    /// No bans.
    pub fn new() -> Self {
        ActiveBans {
            bans: BTreeMap::new(),
            by_expiry: BTreeSet::new(),
            prefixes_v4: vec![0; 33],
            prefixes_v6: vec![0; 129],
        }
    }

    /// How many bans are active.
    pub fn len(&self) -> usize {
        self.bans.len()
    }

    /// Whether no ban is active.
    pub fn is_empty(&self) -> bool {
        self.bans.is_empty()
    }

    /// The active ban of exactly `target`.
    pub fn get(&self, target: &IpNet) -> Option<&ActiveBan> {
        self.bans.get(target)
    }

    /// Every active ban, in network order.
    pub fn iter(&self) -> impl Iterator<Item = (&IpNet, &ActiveBan)> {
        self.bans.iter()
    }

    /// The bans the firewall should hold: those inside no other active ban.
    pub fn enforced(&self) -> impl Iterator<Item = (&IpNet, &ActiveBan)> {
        self.bans.iter().filter(|(n, _)| self.is_enforced(n))
    }

    /// Whether `target` (active or not) lies inside no other active ban.
    pub fn is_enforced(&self, target: &IpNet) -> bool {
        self.containers(target).next().is_none()
    }

    /// Adds a ban as it was stored (loading at start-up); no ops, no records.
    pub fn load(&mut self, target: IpNet, ban: ActiveBan) {
        self.insert(target, ban);
    }

    /// Whether a ban of `target` until `expires_at` would change nothing: an equal or
    /// broader active ban lasts at least as long.
    pub fn covers(&self, target: &IpNet, expires_at: i64) -> bool {
        self.bans
            .get(target)
            .is_some_and(|b| b.expires_at >= expires_at)
            || self
                .containers(target)
                .any(|(_, b)| b.expires_at >= expires_at)
    }

    /// Bans `target` until `ban.expires_at`, adding what that implies to `plan`.
    pub fn ban(&mut self, target: IpNet, ban: ActiveBan, plan: &mut Plan) -> BanOutcome {
        if self.covers(&target, ban.expires_at) {
            return BanOutcome::Merged;
        }
        let now = ban.created_at;
        let enforced = self.is_enforced(&target);
        let outcome = if self.bans.contains_key(&target) {
            let expires_at = ban.expires_at;
            self.set_expiry(&target, expires_at);
            plan.records.push(Record::Extend { target, expires_at });
            BanOutcome::Extended
        } else {
            // The bans inside the new one: those ending no later are superseded; those
            // outlasting it leave the firewall while it holds.
            let inside: Vec<(IpNet, i64, bool)> = self
                .inside(&target)
                .map(|(n, b)| (*n, b.expires_at, self.is_enforced(n)))
                .collect();
            let why: Arc<str> = format!("superseded by {target}").into();
            for (n, expires_at, was_enforced) in inside {
                if expires_at <= ban.expires_at {
                    self.remove(&n);
                    plan.records.push(Record::Lift {
                        target: n,
                        at: now,
                        why: why.clone(),
                    });
                }
                if was_enforced && enforced {
                    plan.ops.push(Op::Remove {
                        target: n,
                        why: why.clone(),
                    });
                }
            }
            plan.records.push(Record::Insert {
                target,
                ban: ban.clone(),
            });
            self.insert(target, ban.clone());
            BanOutcome::Banned
        };
        if enforced {
            plan.ops.push(Op::Add {
                target,
                expires_at: ban.expires_at,
                reason: ban.reason,
                origin: ban.origin,
            });
        }
        outcome
    }

    /// Lifts every active ban inside `within` (equal included) at `now`; returns them.
    pub fn unban(&mut self, within: &IpNet, now: i64, why: &str, plan: &mut Plan) -> Vec<IpNet> {
        let lifted: Vec<(IpNet, bool)> = self
            .inside(within)
            .map(|(n, _)| (*n, self.is_enforced(n)))
            .collect();
        let why: Arc<str> = why.into();
        for (n, was_enforced) in &lifted {
            self.remove(n);
            plan.records.push(Record::Lift {
                target: *n,
                at: now,
                why: why.clone(),
            });
            if *was_enforced {
                plan.ops.push(Op::Remove {
                    target: *n,
                    why: why.clone(),
                });
            }
        }
        lifted.into_iter().map(|(n, _)| n).collect()
    }

    /// Lifts the bans whose time has come (`expires_at <= now`); the bans they held out of
    /// the firewall go in with their remaining time. Returns how many lifted.
    pub fn sweep(&mut self, now: i64, plan: &mut Plan) -> usize {
        let due: Vec<IpNet> = self
            .by_expiry
            .iter()
            .take_while(|(e, _)| *e <= now)
            .map(|(_, n)| *n)
            .collect();
        if due.is_empty() {
            return 0;
        }
        let was_enforced: Vec<bool> = due.iter().map(|n| self.is_enforced(n)).collect();
        let why: Arc<str> = "expired".into();
        for n in &due {
            self.remove(n);
            plan.records.push(Record::Lift {
                target: *n,
                at: now,
                why: why.clone(),
            });
        }
        let mut uncovered = BTreeSet::new();
        for (n, enforced) in due.iter().zip(was_enforced) {
            if enforced {
                plan.ops.push(Op::Remove {
                    target: *n,
                    why: why.clone(),
                });
            }
            for (inner, _) in self.inside(n) {
                if self.is_enforced(inner) {
                    uncovered.insert(*inner);
                }
            }
        }
        for n in uncovered {
            let b = &self.bans[&n];
            plan.ops.push(Op::Add {
                target: n,
                expires_at: b.expires_at,
                reason: b.reason.clone(),
                origin: b.origin.clone(),
            });
        }
        due.len()
    }

    /// The earliest expiry among the active bans.
    pub fn next_expiry(&self) -> Option<i64> {
        self.by_expiry.first().map(|(e, _)| *e)
    }

    /// Active bans strictly containing `target`, narrowest last.
    fn containers<'a>(&'a self, target: &IpNet) -> impl Iterator<Item = (IpNet, &'a ActiveBan)> {
        let counts = if target.is_ipv4() {
            &self.prefixes_v4
        } else {
            &self.prefixes_v6
        };
        let addr = target.addr();
        (0..target.prefix())
            .filter(move |p| counts[usize::from(*p)] > 0)
            .filter_map(move |p| {
                let outer = IpNet::new(addr, p).ok()?;
                self.bans.get(&outer).map(|b| (outer, b))
            })
    }

    /// Active bans inside `outer`, `outer` itself included.
    fn inside<'a>(&'a self, outer: &IpNet) -> impl Iterator<Item = (&'a IpNet, &'a ActiveBan)> {
        let outer = *outer;
        self.bans
            .range(outer..=IpNet::host(outer.last()))
            .filter(move |(n, _)| outer.contains_net(n))
    }

    fn insert(&mut self, target: IpNet, ban: ActiveBan) {
        self.by_expiry.insert((ban.expires_at, target));
        if let Some(old) = self.bans.insert(target, ban) {
            self.by_expiry.remove(&(old.expires_at, target));
        } else {
            self.count_prefix(&target, true);
        }
    }

    fn remove(&mut self, target: &IpNet) {
        if let Some(old) = self.bans.remove(target) {
            self.by_expiry.remove(&(old.expires_at, *target));
            self.count_prefix(target, false);
        }
    }

    fn set_expiry(&mut self, target: &IpNet, expires_at: i64) {
        if let Some(b) = self.bans.get_mut(target) {
            self.by_expiry.remove(&(b.expires_at, *target));
            b.expires_at = expires_at;
            self.by_expiry.insert((expires_at, *target));
        }
    }

    fn count_prefix(&mut self, target: &IpNet, add: bool) {
        let counts = if target.is_ipv4() {
            &mut self.prefixes_v4
        } else {
            &mut self.prefixes_v6
        };
        let c = &mut counts[usize::from(target.prefix())];
        if add {
            *c += 1;
        } else {
            *c = c.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests;
