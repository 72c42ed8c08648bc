//! The action engine: takes ban and unban requests (from the pipeline and the CLI), lets
//! the [`Guard`] refuse what must never happen, merges them against the active bans, and
//! applies each batch to the backend and the store together: the store's transaction
//! commits only after the firewall took the batch, so a ban reported as applied is on disk.

use super::backend::{Backend, BackendError, Op};
use super::bans::{ActiveBan, ActiveBans, BanOutcome, Plan};
use super::guard::{Guard, GuardConfig, Refusal};
use super::reconcile::{self, ReconcileReport};
use super::store::{RequestKind, Store, StoreError};
use super::{Action, Decision};
use crate::clock::Clock;
use portcullis_abi::net::IpNet;
use std::sync::Arc;

/// Why the engine failed to apply a batch. The batch is then not recorded either.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The firewall refused or could not be reached.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts of what the engine did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ActionStats {
    /// New bans applied.
    pub banned: u64,
    /// Bans made to last longer.
    pub extended: u64,
    /// Bans not applied because an equal or broader ban already lasts as long.
    pub merged: u64,
    /// Unban requests applied.
    pub unbanned: u64,
    /// Bans the guard refused.
    pub refused: u64,
    /// Bans lifted because their time ran out.
    pub expired: u64,
    /// Decisions dropped after the firewall kept refusing them (beyond the retry queue).
    pub dropped: u64,
}

/// What became of one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Banned (new or extended) until `expires_at`.
    Banned {
        /// The network.
        target: IpNet,
        /// Unix seconds.
        expires_at: i64,
        /// Whether an active ban was extended rather than a new one made.
        extended: bool,
    },
    /// Already covered as long or longer.
    Merged {
        /// The network.
        target: IpNet,
    },
    /// Refused by the guard.
    Refused(Refusal),
    /// These active bans were lifted.
    Unbanned {
        /// The network asked for.
        target: IpNet,
        /// The bans inside it that lifted.
        lifted: Vec<IpNet>,
    },
}

/// The engine over one backend and one store.
pub struct ActionEngine {
    backend: Box<dyn Backend>,
    store: Store,
    bans: ActiveBans,
    guard: Guard,
    clock: Arc<dyn Clock>,
    stats: ActionStats,
    reconcile_every: Option<i64>,
    last_reconcile: i64,
    /// Decisions of batches the firewall refused, tried again by `maintain`.
    retry: Vec<Decision>,
    last_retry: i64,
}

/// Most refused decisions kept for another try; the oldest go beyond it.
const MAX_RETRY: usize = 100_000;
/// Seconds between tries of refused decisions.
const RETRY_EVERY: i64 = 5;

impl ActionEngine {
    /// An engine applying to `backend`, recording in `store` (whose active bans it loads),
    /// reading time from `clock`, refusing what `guard` refuses; `own` are the host's
    /// addresses.
    pub fn new(
        backend: Box<dyn Backend>,
        store: Store,
        clock: Arc<dyn Clock>,
        guard: GuardConfig,
        own: Vec<IpNet>,
    ) -> Result<Self, ActionError> {
        let mut bans = ActiveBans::new();
        for (net, ban) in store.active()? {
            bans.load(net, ban);
        }
        Ok(ActionEngine {
            backend,
            store,
            bans,
            guard: Guard::new(guard, own),
            clock,
            stats: ActionStats::default(),
            reconcile_every: None,
            last_reconcile: 0,
            retry: Vec::new(),
            last_retry: 0,
        })
    }

    /// Replaces the guard's limits (a reload); the host's addresses are read again.
    pub fn set_guard(&mut self, guard: GuardConfig) {
        self.guard = Guard::new(guard, super::own_addresses::read());
    }

    /// Makes [`ActionEngine::maintain`] reconcile every `secs` seconds (never by default).
    pub fn set_reconcile_interval(&mut self, secs: Option<i64>) {
        self.reconcile_every = secs.filter(|s| *s > 0);
    }

    /// The periodic work, cheap to call often: tries refused decisions again (every 5 s),
    /// sweeps when a ban is due, reconciles when the reconcile interval has passed.
    pub fn maintain(&mut self) -> Result<(), ActionError> {
        let now = self.now();
        if !self.retry.is_empty() && now - self.last_retry >= RETRY_EVERY {
            self.last_retry = now;
            let decisions = std::mem::take(&mut self.retry);
            tracing::info!("trying {} refused decisions again", decisions.len());
            // What the backend owns may be gone (`nft flush ruleset`): the reconcile
            // rebuilds it and puts back the bans it held.
            if let Err(e) = self.reconcile() {
                self.keep_for_retry(decisions);
                return Err(e);
            }
            self.submit(decisions)?;
        }
        if self.bans.next_expiry().is_some_and(|e| e <= now) {
            self.sweep()?;
        }
        let last = self.last_reconcile;
        if self
            .reconcile_every
            .is_some_and(|every| now - last >= every)
        {
            self.reconcile()?;
        }
        Ok(())
    }

    /// Gets the firewall ready: creates what the backend owns, lifts what expired while
    /// nobody was running, and reconciles the firewall with the store.
    pub fn start(&mut self) -> Result<ReconcileReport, ActionError> {
        self.backend.prepare()?;
        self.sweep()?;
        self.compare_and_repair()
    }

    /// What the engine has done so far.
    pub fn stats(&self) -> ActionStats {
        self.stats
    }

    /// The active bans.
    pub fn bans(&self) -> &ActiveBans {
        &self.bans
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn now(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }

    /// Applies `decisions` as one batch, after lifting what is due. Returns what became of
    /// each decision, in order.
    /// If the firewall refuses the batch, nothing of it is recorded, the error is
    /// returned, and its decisions are kept and tried again by [`ActionEngine::maintain`].
    pub fn submit(&mut self, decisions: Vec<Decision>) -> Result<Vec<Outcome>, ActionError> {
        if decisions.is_empty() {
            return Ok(Vec::new());
        }
        let kept = decisions.clone();
        let stats = self.stats;
        let now = self.now();
        let mut plan = Plan::default();
        self.stats.expired += self.bans.sweep(now, &mut plan) as u64;
        let mut outcomes = Vec::with_capacity(decisions.len());
        for d in decisions {
            outcomes.push(self.decide(d, now, &mut plan));
        }
        if let Err(e) = self.commit(plan, now) {
            self.stats = stats;
            self.keep_for_retry(kept);
            return Err(e);
        }
        Ok(outcomes)
    }

    /// Decisions waiting for another try after the firewall refused them.
    pub fn pending_retries(&self) -> usize {
        self.retry.len()
    }

    fn keep_for_retry(&mut self, decisions: Vec<Decision>) {
        self.retry.extend(decisions);
        if self.retry.len() > MAX_RETRY {
            let excess = self.retry.len() - MAX_RETRY;
            self.retry.drain(..excess);
            self.stats.dropped += excess as u64;
            tracing::error!("dropped {excess} refused decisions: the retry queue is full");
        }
    }

    fn decide(&mut self, d: Decision, now: i64, plan: &mut Plan) -> Outcome {
        match d.action {
            Action::Ban {
                target,
                duration_secs,
                reason,
            } => {
                let secs = i64::try_from(duration_secs).unwrap_or(i64::MAX);
                let expires_at = now.saturating_add(secs);
                if self.bans.covers(&target, expires_at) {
                    self.stats.merged += 1;
                    return Outcome::Merged { target };
                }
                let is_new = self.bans.get(&target).is_none();
                if let Err(refusal) = self.guard.check(&target, now, self.bans.len(), is_new) {
                    self.stats.refused += 1;
                    tracing::warn!(origin = %d.stage, "refused to ban: {refusal}");
                    return Outcome::Refused(refusal);
                }
                let ban = ActiveBan {
                    created_at: now,
                    expires_at,
                    reason: reason.into(),
                    origin: d.stage,
                };
                match self.bans.ban(target, ban, plan) {
                    BanOutcome::Merged => {
                        self.stats.merged += 1;
                        Outcome::Merged { target }
                    }
                    outcome => {
                        let extended = outcome == BanOutcome::Extended;
                        if extended {
                            self.stats.extended += 1;
                        } else {
                            self.stats.banned += 1;
                        }
                        Outcome::Banned {
                            target,
                            expires_at,
                            extended,
                        }
                    }
                }
            }
            Action::Unban { target } => {
                let why = format!("removed by {} (within {target})", d.stage);
                let lifted = self.bans.unban(&target, now, &why, plan);
                self.stats.unbanned += 1;
                Outcome::Unbanned { target, lifted }
            }
        }
    }

    /// Lifts every ban whose time has come; returns how many.
    pub fn sweep(&mut self) -> Result<usize, ActionError> {
        let now = self.now();
        let mut plan = Plan::default();
        let n = self.bans.sweep(now, &mut plan);
        self.commit(plan, now)?;
        self.stats.expired += n as u64;
        Ok(n)
    }

    /// Compares the firewall with the store and repairs the firewall: recreates what the
    /// backend owns if it is gone, restores missing bans with their remaining time,
    /// removes entries the store does not hold as active.
    pub fn reconcile(&mut self) -> Result<ReconcileReport, ActionError> {
        self.backend.prepare()?;
        self.compare_and_repair()
    }

    /// The reconcile proper, on a prepared backend.
    fn compare_and_repair(&mut self) -> Result<ReconcileReport, ActionError> {
        let now = self.now();
        self.last_reconcile = now;
        let listed = self.backend.list(now)?;
        let (ops, report) = reconcile::diff(
            self.bans.enforced(),
            &listed,
            now,
            self.backend.max_timeout(),
        );
        if !ops.is_empty() {
            tracing::warn!(
                restored = report.restored,
                removed = report.removed,
                corrected = report.corrected,
                "{}: the firewall disagreed with the store; repaired",
                self.backend.name()
            );
            self.backend.apply(&ops, now)?;
        }
        Ok(report)
    }

    /// Carries out the requests the CLI left in the store, answering each; returns how
    /// many.
    pub fn serve_requests(&mut self) -> Result<usize, ActionError> {
        let now = self.now();
        let pending = self.store.pending_requests(now)?;
        let n = pending.len();
        for req in pending {
            let text = self
                .carry_out(req.kind)
                .unwrap_or_else(|e| format!("error: {e}"));
            self.store.finish_request(req.id, now, &text)?;
        }
        Ok(n)
    }

    /// Carries out one operator request; its one-line answer (`ok: …`, `refused: …`).
    pub fn carry_out(&mut self, kind: RequestKind) -> Result<String, ActionError> {
        match kind {
            RequestKind::Sweep => Ok(format!("ok: {} expired bans lifted", self.sweep()?)),
            RequestKind::Act(action) => {
                let outcomes = self.submit(vec![Decision {
                    action,
                    stage: "cli".into(),
                }])?;
                Ok(outcomes.first().map(describe).unwrap_or_default())
            }
        }
    }

    /// Applies `plan` to the firewall and records it, atomically as far as the store goes:
    /// the transaction commits after the firewall took the ops. On failure nothing is
    /// recorded and the active bans are reloaded from the store.
    fn commit(&mut self, plan: Plan, now: i64) -> Result<(), ActionError> {
        if plan.is_empty() {
            return Ok(());
        }
        let result = (|| {
            let tx = self.store.transaction()?;
            tx.write(&plan.records)?;
            if !plan.ops.is_empty() {
                self.backend.apply(&plan.ops, now)?;
            }
            tx.commit()?;
            Ok::<(), ActionError>(())
        })();
        if let Err(e) = result {
            let mut bans = ActiveBans::new();
            for (net, ban) in self.store.active()? {
                bans.load(net, ban);
            }
            self.bans = bans;
            return Err(e);
        }
        for op in &plan.ops {
            if let Op::Remove { target, why } = op {
                tracing::debug!("{}: {target} out ({why})", self.backend.name());
            }
        }
        Ok(())
    }
}

/// A one-line account of an outcome, for the CLI: `ok: …` or `refused: …`.
pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Banned {
            target,
            expires_at,
            extended,
        } => format!(
            "ok: {} {target} until {expires_at}",
            if *extended { "extended" } else { "banned" }
        ),
        Outcome::Merged { target } => {
            format!("ok: {target} is already banned for at least as long")
        }
        Outcome::Refused(r) => format!("refused: {r}"),
        Outcome::Unbanned { target, lifted } => {
            let list: Vec<String> = lifted.iter().map(ToString::to_string).collect();
            format!(
                "ok: {} bans within {target} lifted{}{}",
                lifted.len(),
                if list.is_empty() { "" } else { ": " },
                list.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests;
