//! Replaying old logs ("who would have been banned"): the configured stages run over
//! historical lines on event time (the clock is the latest log timestamp), with a backend
//! that only records what it is asked to do, and an in-memory store. Nothing touches the
//! firewall or the live store. Sans-IO: [`Recorder`] collects, [`bans`] turns what it
//! collected into the report's rows.

use crate::action::backend::{Backend, BackendError, Listed, Op};
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// One op the engine applied, with the (event) time it was applied at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Unix seconds, event time.
    pub at: i64,
    /// What was applied.
    pub op: Op,
}

/// A backend that records ops instead of applying them.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Recorded>>>);

impl Recorder {
    /// Everything recorded so far.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Backend for Recorder {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn prepare(&mut self) -> Result<(), BackendError> {
        Ok(())
    }

    fn apply(&mut self, ops: &[Op], now: i64) -> Result<(), BackendError> {
        if let Ok(mut v) = self.0.lock() {
            v.extend(ops.iter().map(|op| Recorded {
                at: now,
                op: op.clone(),
            }));
        }
        Ok(())
    }

    fn list(&mut self, _now: i64) -> Result<Vec<Listed>, BackendError> {
        Ok(Vec::new())
    }

    fn remove_all(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// A ban the replay would have made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayBan {
    /// When (unix seconds, log time).
    pub at: i64,
    /// The network.
    pub target: String,
    /// For how long, in seconds.
    pub secs: i64,
    /// Until when (unix seconds, log time).
    pub until: i64,
    /// The stage that decided it.
    pub stage: String,
    /// Why (the stage's rule, e.g. `200 events within 1m`).
    pub reason: String,
    /// Whether it made an active ban of the same network last longer.
    pub extends: bool,
    /// Whether it lifted before the log ends (its expiry lies inside the replayed span).
    pub expired_in_log: bool,
    /// When it was lifted early (an unban, or a broader ban superseding it), if it was.
    pub lifted_at: Option<i64>,
}

/// The bans in `recorded`, in order, with how each ended given that the log ends at
/// `end` (unix seconds).
pub fn bans(recorded: &[Recorded], end: i64) -> Vec<ReplayBan> {
    let mut out: Vec<ReplayBan> = Vec::new();
    for r in recorded {
        match &r.op {
            Op::Add {
                target,
                expires_at,
                reason,
                origin,
            } => out.push(ReplayBan {
                at: r.at,
                extends: out.iter().any(|b| {
                    b.target == target.to_string() && b.until > r.at && b.lifted_at.is_none()
                }),
                target: target.to_string(),
                secs: expires_at - r.at,
                until: *expires_at,
                stage: origin.to_string(),
                reason: reason.to_string(),
                expired_in_log: *expires_at <= end,
                lifted_at: None,
            }),
            Op::Remove { target, why } if &**why != "expired" => {
                let t = target.to_string();
                if let Some(b) = out
                    .iter_mut()
                    .rev()
                    .find(|b| b.target == t && b.lifted_at.is_none() && b.until > r.at)
                {
                    b.lifted_at = Some(r.at);
                }
            }
            Op::Remove { .. } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_abi::net::IpNet;

    #[test]
    fn reports_expiries_inside_and_beyond_the_log() {
        let add = |at: i64, t: &str, until: i64| Recorded {
            at,
            op: Op::Add {
                target: IpNet::parse(t).unwrap(),
                expires_at: until,
                reason: "r".into(),
                origin: "flood".into(),
            },
        };
        let recorded = [
            add(100, "198.51.100.1", 400),
            add(200, "198.51.100.2", 5000),
            Recorded {
                at: 300,
                op: Op::Remove {
                    target: IpNet::parse("198.51.100.2").unwrap(),
                    why: "removed by cleanup".into(),
                },
            },
        ];
        let b = bans(&recorded, 1000);
        assert_eq!(b.len(), 2);
        assert!(b[0].expired_in_log);
        assert_eq!(b[0].secs, 300);
        assert!(!b[1].expired_in_log);
        assert!(!b[1].extends);
        assert_eq!(b[1].lifted_at, Some(300));
    }
}
