//! The reconciler's core, sans-IO: compares the bans the firewall should hold with what
//! the backend lists, and returns the ops that make them agree. Removals come first, so
//! an interval set never sees an overlap.

use super::backend::{Listed, Op};
use super::bans::ActiveBan;
use portcullis_abi::net::IpNet;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Expiries closer than this are taken as equal (firewalls round; the clock moves).
pub const TOLERANCE_SECS: i64 = 5;

/// What the reconciler found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileReport {
    /// Bans the firewall lacked, put back with their remaining time.
    pub restored: usize,
    /// Entries the store does not hold (expired, or unknown), removed.
    pub removed: usize,
    /// Entries whose expiry disagreed with the store, corrected.
    pub corrected: usize,
}

/// The ops that turn `listed` into `expected`. `max_timeout` is the longest timeout the
/// backend can hold: an expiry beyond it is expected to be listed as `now + max_timeout`.
pub fn diff<'a>(
    expected: impl Iterator<Item = (&'a IpNet, &'a ActiveBan)>,
    listed: &[Listed],
    now: i64,
    max_timeout: Option<i64>,
) -> (Vec<Op>, ReconcileReport) {
    let mut report = ReconcileReport::default();
    let mut have: BTreeMap<IpNet, Option<i64>> = BTreeMap::new();
    for l in listed {
        have.insert(l.target, l.expires_at);
    }
    let mut removes = Vec::new();
    let mut adds = Vec::new();
    let mut wanted: BTreeMap<IpNet, ()> = BTreeMap::new();
    for (net, ban) in expected {
        wanted.insert(*net, ());
        let due = match max_timeout {
            Some(max) => ban.expires_at.min(now.saturating_add(max)),
            None => ban.expires_at,
        };
        let add = Op::Add {
            target: *net,
            expires_at: ban.expires_at,
            reason: ban.reason.clone(),
            origin: ban.origin.clone(),
        };
        match have.get(net) {
            None => {
                report.restored += 1;
                adds.push(add);
            }
            Some(Some(at)) if (at - due).abs() <= TOLERANCE_SECS => {}
            Some(_) => {
                report.corrected += 1;
                adds.push(add);
            }
        }
    }
    let why: Arc<str> = "not an active ban in the store".into();
    for net in have.keys() {
        if !wanted.contains_key(net) {
            report.removed += 1;
            removes.push(Op::Remove {
                target: *net,
                why: why.clone(),
            });
        }
    }
    removes.extend(adds);
    (removes, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        IpNet::parse(s).unwrap()
    }

    fn ban(until: i64) -> ActiveBan {
        ActiveBan {
            created_at: 0,
            expires_at: until,
            reason: "r".into(),
            origin: "o".into(),
        }
    }

    #[test]
    fn restores_missing_removes_unknown_corrects_expiry() {
        let expected = [
            (net("198.51.100.1"), ban(1000)),
            (net("198.51.100.2"), ban(1000)),
            (net("198.51.100.3"), ban(1000)),
        ];
        let listed = [
            Listed {
                target: net("198.51.100.2"),
                expires_at: Some(998),
            },
            Listed {
                target: net("198.51.100.3"),
                expires_at: Some(400),
            },
            Listed {
                target: net("203.0.113.9"),
                expires_at: None,
            },
        ];
        let (ops, report) = diff(expected.iter().map(|(n, b)| (n, b)), &listed, 100, None);
        assert_eq!(
            report,
            ReconcileReport {
                restored: 1,
                removed: 1,
                corrected: 1
            }
        );
        let targets: Vec<String> = ops.iter().map(|o| o.target().to_string()).collect();
        assert_eq!(
            targets,
            ["203.0.113.9/32", "198.51.100.1/32", "198.51.100.3/32"]
        );
        assert!(matches!(ops[0], Op::Remove { .. }));
    }

    #[test]
    fn an_expiry_beyond_the_backends_limit_is_not_a_disagreement() {
        let expected = [(net("198.51.100.1"), ban(10_000_000))];
        let listed = [Listed {
            target: net("198.51.100.1"),
            expires_at: Some(100 + 2_147_483),
        }];
        let (ops, _) = diff(
            expected.iter().map(|(n, b)| (n, b)),
            &listed,
            100,
            Some(2_147_483),
        );
        assert!(ops.is_empty());
    }
}
