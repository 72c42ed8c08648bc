//! The stage chain: runs each batch through the configured stages in order, removing what a
//! stage drops before the next one sees it, carrying notes between stages, and collecting
//! the stages' decisions.
//!
//! A stage that fails (trap, timeout, memory or fuel limit, invalid result) does not stop
//! the chain: its `on_error` policy decides whether the batch passes on untouched (`pass`)
//! or stops there (`drop`), and the failure is counted and logged. A stage disabled after
//! too many failures in a row is treated as failing every batch.

pub mod batch;

use crate::action::Decision;
use crate::plugin::{PluginError, StageInstance};
use batch::EncodedBatch;
use std::sync::Arc;

/// What happens to a batch when its stage fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// The batch continues to the next stage as if this stage had kept everything.
    #[default]
    Pass,
    /// The batch stops at this stage.
    Drop,
}

/// Counters for one stage.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StageStats {
    /// Events handed to the stage.
    pub events_in: u64,
    /// Events the stage dropped (or that its failures dropped under `on_error = "drop"`).
    pub dropped: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Actions the stage asked for.
    pub actions: u64,
    /// Calls made (`process`).
    pub calls: u64,
    /// Time spent in those calls, in nanoseconds.
    pub nanos: u64,
}

struct Slot {
    stage: StageInstance,
    name: Arc<str>,
    on_error: OnError,
    stats: StageStats,
}

/// The ordered chain of stages.
#[derive(Default)]
pub struct Pipeline {
    slots: Vec<Slot>,
    snapshot_interval_ms: i64,
    last_snapshot_ms: Option<i64>,
}

impl Pipeline {
    /// An empty chain that snapshots its stages' state at most every `snapshot_interval_ms`
    /// (0: after every batch).
    pub fn new(snapshot_interval_ms: i64) -> Self {
        Pipeline {
            slots: Vec::new(),
            snapshot_interval_ms,
            last_snapshot_ms: None,
        }
    }

    /// Appends a stage.
    pub fn push(&mut self, stage: StageInstance, on_error: OnError) {
        let name = stage.name().into();
        self.slots.push(Slot {
            stage,
            name,
            on_error,
            stats: StageStats::default(),
        });
    }

    /// Takes over the counters of `old`'s stages of the same names (a reload), so they
    /// keep counting from where they were.
    pub fn carry_stats_from(&mut self, old: &Pipeline) {
        for slot in &mut self.slots {
            if let Some(o) = old.slots.iter().find(|o| o.name == slot.name) {
                slot.stats = o.stats;
            }
        }
    }

    /// Each stage's name and counters, in order.
    pub fn stats(&self) -> impl Iterator<Item = (&str, StageStats)> {
        self.slots.iter().map(|s| (&*s.name, s.stats))
    }

    /// The stages, in order.
    pub fn stages_mut(&mut self) -> impl Iterator<Item = &mut StageInstance> {
        self.slots.iter_mut().map(|s| &mut s.stage)
    }

    fn failure(slot: &mut Slot, e: &PluginError, batch: Option<&mut EncodedBatch>) {
        slot.stats.failures += 1;
        tracing::warn!(stage = %slot.name, policy = ?slot.on_error, "{e}");
        if let (OnError::Drop, Some(batch)) = (slot.on_error, batch) {
            slot.stats.dropped += batch.len() as u64;
            batch.clear();
        }
    }

    /// Runs `batch` through every stage. On return the batch holds the events that every
    /// stage kept; the result is every decision, in stage order. State snapshots are taken
    /// when due.
    pub fn run(&mut self, batch: &mut EncodedBatch) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for slot in &mut self.slots {
            if batch.is_empty() {
                break;
            }
            slot.stats.events_in += batch.len() as u64;
            if slot.stage.is_disabled() {
                if slot.on_error == OnError::Drop {
                    slot.stats.dropped += batch.len() as u64;
                    batch.clear();
                }
                continue;
            }
            let started = std::time::Instant::now();
            let result = slot.stage.process(batch);
            slot.stats.calls += 1;
            slot.stats.nanos += u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            match result {
                Ok(out) => {
                    // Notes use the indexes the stage saw: apply them before dropping.
                    batch.annotate(out.annotations);
                    batch.annotate_sources(out.source_annotations);
                    slot.stats.dropped += batch.retain(&out.verdicts) as u64;
                    slot.stats.actions += out.actions.len() as u64;
                    decisions.extend(out.actions.into_iter().map(|action| Decision {
                        action,
                        stage: slot.name.clone(),
                    }));
                }
                Err(e) => Self::failure(slot, &e, Some(batch)),
            }
        }
        self.snapshot_if_due(batch.now_ms);
        decisions
    }

    /// Lets every stage act on the passage of time.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for slot in &mut self.slots {
            if slot.stage.is_disabled() {
                continue;
            }
            match slot.stage.tick(now_ms) {
                Ok(actions) => {
                    slot.stats.actions += actions.len() as u64;
                    decisions.extend(actions.into_iter().map(|action| Decision {
                        action,
                        stage: slot.name.clone(),
                    }));
                }
                Err(e) => Self::failure(slot, &e, None),
            }
        }
        decisions
    }

    fn snapshot_if_due(&mut self, now_ms: i64) {
        let due = match self.last_snapshot_ms {
            None => true,
            Some(last) => now_ms.saturating_sub(last) >= self.snapshot_interval_ms,
        };
        if !due {
            return;
        }
        self.last_snapshot_ms = Some(now_ms);
        for slot in &mut self.slots {
            if slot.stage.is_disabled() {
                continue;
            }
            if let Err(e) = slot.stage.snapshot() {
                Self::failure(slot, &e, None);
            }
        }
    }

    /// Snapshots every stage now; returns (stage name, state bytes) for those that answered.
    pub fn snapshot_all(&mut self) -> Vec<(Arc<str>, Vec<u8>)> {
        let mut out = Vec::new();
        for slot in &mut self.slots {
            if slot.stage.is_disabled() {
                continue;
            }
            match slot.stage.snapshot() {
                Ok(bytes) => out.push((slot.name.clone(), bytes.to_vec())),
                Err(e) => Self::failure(slot, &e, None),
            }
        }
        out
    }
}
