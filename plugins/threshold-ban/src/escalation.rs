//! Every ban this stage asks for goes through here: a target already banned is not banned
//! again, and a repeat offender's ban grows, `ban_for × escalate^(offence - 1)` capped at
//! `ban_max`. Offences are remembered across snapshots; with `forget_after`, an offence
//! that long after the previous one counts as a first again.
//!
//! Memory: a target is forgotten once its ban has run out and there is nothing to
//! remember (escalation off, or `forget_after` elapsed). Without `forget_after`, past
//! offenders are kept up to [`MAX_REMEMBERED`]; beyond that the longest-quiet ones go.

use portcullis_sdk::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Most offenders whose ban has run out that are remembered without `forget_after`.
pub const MAX_REMEMBERED: usize = 100_000;

/// How ban durations grow.
#[derive(Debug, Clone, Copy)]
pub struct Escalation {
    /// The first ban's length, seconds.
    pub base_secs: u64,
    /// The factor per repeat offence (1: off).
    pub factor: f64,
    /// The longest ban, seconds (at least `base_secs`).
    pub max_secs: u64,
    /// After this long without an offence, the next is a first again.
    pub forget_after_ms: Option<i64>,
}

impl Escalation {
    /// The ban length for the `offence`-th offence (1 = first).
    pub fn secs(&self, offence: u32) -> u64 {
        if self.factor <= 1.0 || offence <= 1 {
            return self.base_secs;
        }
        let exp = i32::try_from(offence - 1).unwrap_or(i32::MAX);
        let secs = self.base_secs as f64 * self.factor.powi(exp);
        if secs >= self.max_secs as f64 {
            self.max_secs
        } else {
            (secs.round() as u64).clamp(self.base_secs, self.max_secs)
        }
    }

    /// Whether repeat offences lengthen bans.
    pub fn is_on(&self) -> bool {
        self.factor > 1.0
    }
}

/// A ban granted by [`Offenders::ban`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ban {
    /// Its length, seconds.
    pub secs: u64,
    /// Which offence of the target this is (1 = first).
    pub offence: u32,
}

/// One target's record, as kept and as saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Offender {
    /// Until when (event time, ms) the target counts as banned.
    banned_until: i64,
    /// Offences so far.
    offences: u32,
    /// Event time of the last offence, ms.
    last_ms: i64,
}

/// A target's record as saved: (network as text, record).
pub type SavedOffenders = Vec<(String, i64, u32, i64)>;

/// The record of every target banned recently or remembered for escalation.
pub struct Offenders {
    policy: Escalation,
    targets: HashMap<IpNet, Offender>,
}

impl Offenders {
    pub fn new(policy: Escalation) -> Self {
        Offenders {
            policy,
            targets: HashMap::new(),
        }
    }

    /// Whether `target` is banned at `at`.
    pub fn is_banned(&self, target: &IpNet, at: i64) -> bool {
        self.targets
            .get(target)
            .is_some_and(|o| at < o.banned_until)
    }

    /// Bans `target` at event time `at` unless it is banned already: the ban's length and
    /// offence number.
    pub fn ban(&mut self, target: IpNet, at: i64) -> Option<Ban> {
        let o = self.targets.entry(target).or_insert(Offender {
            banned_until: i64::MIN,
            offences: 0,
            last_ms: at,
        });
        if at < o.banned_until {
            return None;
        }
        if self
            .policy
            .forget_after_ms
            .is_some_and(|f| at.saturating_sub(o.last_ms) >= f)
        {
            o.offences = 0;
        }
        o.offences = o.offences.saturating_add(1);
        o.last_ms = at;
        let secs = self.policy.secs(o.offences);
        let ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        o.banned_until = at.saturating_add(ms);
        Some(Ban {
            secs,
            offence: o.offences,
        })
    }

    /// Records a ban from a snapshot written before offences were saved: one offence,
    /// banned until `banned_until`.
    pub fn migrate(&mut self, target: IpNet, banned_until: i64) {
        let base_ms = i64::try_from(self.policy.base_secs.saturating_mul(1000)).unwrap_or(0);
        self.targets.insert(
            target,
            Offender {
                banned_until,
                offences: 1,
                last_ms: banned_until.saturating_sub(base_ms),
            },
        );
    }

    /// Targets on record.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Forgets what no longer matters at event time `now` (see the module comment).
    pub fn prune(&mut self, now: i64) {
        let policy = self.policy;
        self.targets.retain(|_, o| {
            o.banned_until > now
                || (policy.is_on()
                    && policy
                        .forget_after_ms
                        .is_none_or(|f| now.saturating_sub(o.last_ms) < f))
        });
        if self.targets.len() <= MAX_REMEMBERED {
            return;
        }
        let mut quiet: Vec<(i64, IpNet)> = self
            .targets
            .iter()
            .filter(|(_, o)| o.banned_until <= now)
            .map(|(t, o)| (o.last_ms, *t))
            .collect();
        quiet.sort_unstable();
        let excess = self.targets.len() - MAX_REMEMBERED;
        for (_, t) in quiet.into_iter().take(excess) {
            self.targets.remove(&t);
        }
    }

    /// The state to snapshot.
    pub fn save(&self) -> SavedOffenders {
        self.targets
            .iter()
            .map(|(t, o)| (t.to_string(), o.banned_until, o.offences, o.last_ms))
            .collect()
    }

    /// Replaces the state with a snapshot's (entries that do not parse are skipped).
    pub fn load(&mut self, saved: SavedOffenders) {
        self.targets = saved
            .into_iter()
            .filter_map(|(t, banned_until, offences, last_ms)| {
                let t = IpNet::parse(&t).ok()?;
                Some((
                    t,
                    Offender {
                        banned_until,
                        offences,
                        last_ms,
                    },
                ))
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(factor: f64, forget_after_ms: Option<i64>) -> Escalation {
        Escalation {
            base_secs: 3_600,
            factor,
            max_secs: 4 * 3_600 + 1,
            forget_after_ms,
        }
    }

    fn net(s: &str) -> IpNet {
        IpNet::parse(s).unwrap()
    }

    const H: i64 = 3_600_000;

    #[test]
    fn durations_double_up_to_the_cap() {
        let p = policy(2.0, None);
        let secs: Vec<u64> = (1..=5).map(|n| p.secs(n)).collect();
        assert_eq!(secs, [3_600, 7_200, 14_400, 14_401, 14_401]);
        assert_eq!(p.secs(u32::MAX), 14_401);
        assert_eq!(policy(1.0, None).secs(9), 3_600);
        assert_eq!(policy(1.5, None).secs(2), 5_400);
    }

    #[test]
    fn a_banned_target_is_not_banned_again_and_repeat_offences_grow() {
        let mut o = Offenders::new(policy(2.0, None));
        let t = net("203.0.113.9");
        assert_eq!(
            o.ban(t, 0),
            Some(Ban {
                secs: 3_600,
                offence: 1
            })
        );
        assert_eq!(o.ban(t, H - 1), None);
        assert!(o.is_banned(&t, H - 1) && !o.is_banned(&t, H));
        assert_eq!(
            o.ban(t, H),
            Some(Ban {
                secs: 7_200,
                offence: 2
            })
        );
        assert_eq!(
            o.ban(t, 3 * H),
            Some(Ban {
                secs: 14_400,
                offence: 3
            })
        );
        // Remembered after the ban ran out, across a snapshot.
        o.prune(100 * H);
        let mut again = Offenders::new(policy(2.0, None));
        again.load(o.save());
        assert_eq!(again.ban(t, 100 * H).map(|b| b.offence), Some(4));
    }

    #[test]
    fn forget_after_makes_an_old_offender_new_and_lets_it_be_pruned() {
        let mut o = Offenders::new(policy(2.0, Some(24 * H)));
        let t = net("2001:db8::7");
        o.ban(t, 0);
        assert_eq!(o.ban(t, 2 * H).map(|b| b.offence), Some(2));
        assert_eq!(o.ban(t, 30 * H).map(|b| b.offence), Some(1));
        o.prune(31 * H + 1);
        assert_eq!(o.len(), 1, "offence within forget_after is remembered");
        o.prune(30 * H + 24 * H);
        assert_eq!(o.len(), 0);
    }

    #[test]
    fn without_escalation_a_target_is_forgotten_when_its_ban_ends() {
        let mut o = Offenders::new(policy(1.0, None));
        o.ban(net("203.0.113.1"), 0);
        o.prune(H - 1);
        assert_eq!(o.len(), 1);
        o.prune(H);
        assert_eq!(o.len(), 0);
    }
}
