//! The action engine: turns the pipeline's ban and unban requests into applied firewall
//! changes, merging duplicates, through a backend.

mod dry_run;
mod guard;

use crate::clock::Clock;
use portcullis_abi::net::IpNet;
use std::collections::HashMap;
use std::sync::Arc;

pub use dry_run::DryRun;
pub use guard::{Guard, GuardConfig, Refusal};

/// A rule action asked for by a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ban a network for a time.
    Ban {
        /// The network.
        target: IpNet,
        /// Seconds from when it is applied.
        duration_secs: u64,
        /// Why.
        reason: String,
    },
    /// Lift every ban inside a network.
    Unban {
        /// The network.
        target: IpNet,
    },
}

/// An action together with the stage that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// The stage's name.
    pub stage: Arc<str>,
}

/// A change as the backend applies it: times resolved to unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Install or extend a ban until `expires_at`.
    Ban {
        /// The network.
        target: IpNet,
        /// Unix seconds when the ban lifts.
        expires_at: i64,
        /// Why.
        reason: String,
        /// The stage that decided it.
        stage: Arc<str>,
    },
    /// Lift the listed bans, all inside `target`.
    Unban {
        /// The network asked for.
        target: IpNet,
        /// The active bans inside it that are lifted.
        lifted: Vec<IpNet>,
        /// The stage that decided it.
        stage: Arc<str>,
    },
}

/// Why a backend failed to apply changes.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// Writing the dry-run output failed.
    #[error("dry-run output: {0}")]
    Output(#[from] std::io::Error),
}

/// Something that applies changes to a firewall (or pretends to).
pub trait Backend: Send {
    /// Applies `changes` in order, as one batch.
    fn apply(&mut self, changes: &[Change]) -> Result<(), ActionError>;
}

/// Counts of what the engine did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ActionStats {
    /// Bans applied (new or extended).
    pub banned: u64,
    /// Bans not applied because an active ban already lasts as long or longer.
    pub merged: u64,
    /// Unban requests applied.
    pub unbanned: u64,
    /// Bans the guard refused.
    pub refused: u64,
}

/// Merges decisions against the active bans and hands the changes to a backend.
pub struct ActionEngine {
    backend: Box<dyn Backend>,
    clock: Arc<dyn Clock>,
    active: HashMap<IpNet, i64>,
    guard: Guard,
    stats: ActionStats,
}

impl ActionEngine {
    /// An engine over `backend`, reading time from `clock`, refusing what `guard` refuses.
    pub fn new(backend: Box<dyn Backend>, clock: Arc<dyn Clock>, guard: GuardConfig) -> Self {
        ActionEngine {
            backend,
            clock,
            active: HashMap::new(),
            guard: Guard::new(guard),
            stats: ActionStats::default(),
        }
    }

    /// What the engine has done so far.
    pub fn stats(&self) -> ActionStats {
        self.stats
    }

    /// Applies `decisions` as one batch: a ban already covered by an active ban that lasts
    /// at least as long is merged away; a longer one extends it.
    pub fn submit(&mut self, decisions: Vec<Decision>) -> Result<(), ActionError> {
        if decisions.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms().div_euclid(1000);
        self.active.retain(|_, expires| *expires > now);
        let mut changes = Vec::with_capacity(decisions.len());
        for d in decisions {
            match d.action {
                Action::Ban {
                    target,
                    duration_secs,
                    reason,
                } => {
                    let secs = i64::try_from(duration_secs).unwrap_or(i64::MAX);
                    let expires_at = now.saturating_add(secs);
                    let current = self.active.get(&target).copied();
                    if current.is_some_and(|c| c >= expires_at) {
                        self.stats.merged += 1;
                        continue;
                    }
                    let is_new = current.is_none();
                    if let Err(refusal) = self.guard.check(&target, now, self.active.len(), is_new)
                    {
                        self.stats.refused += 1;
                        tracing::warn!(stage = %d.stage, "refused to ban: {refusal}");
                        continue;
                    }
                    match self.active.get(&target) {
                        Some(current) if *current >= expires_at => self.stats.merged += 1,
                        _ => {
                            self.active.insert(target, expires_at);
                            self.stats.banned += 1;
                            changes.push(Change::Ban {
                                target,
                                expires_at,
                                reason,
                                stage: d.stage,
                            });
                        }
                    }
                }
                Action::Unban { target } => {
                    let mut lifted: Vec<IpNet> = self
                        .active
                        .keys()
                        .filter(|n| target.contains_net(n))
                        .copied()
                        .collect();
                    lifted.sort();
                    for n in &lifted {
                        self.active.remove(n);
                    }
                    self.stats.unbanned += 1;
                    changes.push(Change::Unban {
                        target,
                        lifted,
                        stage: d.stage,
                    });
                }
            }
        }
        self.backend.apply(&changes)
    }
}
