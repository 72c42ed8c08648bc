//! The stage chain: runs each batch through the configured stages in order, removing what a
//! stage drops before the next one sees it, and collects the stages' decisions.
//!
//! A stage that fails (trap, timeout, memory limit, invalid result) does not stop the
//! chain: its `on_error` policy decides whether the batch passes on untouched (`pass`) or
//! stops there (`drop`), and the failure is counted and logged.

pub mod batch;

use crate::action::Decision;
use crate::plugin::{PluginError, StageInstance, StageOutput};
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

/// Anything that can act as a stage; [`StageInstance`] in production.
pub trait StageRunner {
    /// The stage's name.
    fn name(&self) -> &str;
    /// Processes a batch.
    fn process(&mut self, batch: &mut EncodedBatch) -> Result<StageOutput, PluginError>;
}

impl StageRunner for StageInstance {
    fn name(&self) -> &str {
        StageInstance::name(self)
    }
    fn process(&mut self, batch: &mut EncodedBatch) -> Result<StageOutput, PluginError> {
        StageInstance::process(self, batch)
    }
}

/// Counters for one stage.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StageStats {
    /// Events handed to the stage.
    pub events_in: u64,
    /// Events the stage dropped.
    pub dropped: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Actions the stage asked for.
    pub actions: u64,
}

struct Slot<S> {
    stage: S,
    name: Arc<str>,
    on_error: OnError,
    stats: StageStats,
}

/// The ordered chain of stages.
pub struct Pipeline<S: StageRunner = StageInstance> {
    slots: Vec<Slot<S>>,
}

impl<S: StageRunner> Default for Pipeline<S> {
    fn default() -> Self {
        Pipeline { slots: Vec::new() }
    }
}

impl<S: StageRunner> Pipeline<S> {
    /// Appends a stage.
    pub fn push(&mut self, stage: S, on_error: OnError) {
        let name = stage.name().into();
        self.slots.push(Slot {
            stage,
            name,
            on_error,
            stats: StageStats::default(),
        });
    }

    /// Each stage's name and counters, in order.
    pub fn stats(&self) -> impl Iterator<Item = (&str, StageStats)> {
        self.slots.iter().map(|s| (&*s.name, s.stats))
    }

    /// Runs `batch` through every stage. On return the batch holds the events that every
    /// stage kept; the result is every decision, in stage order.
    pub fn run(&mut self, batch: &mut EncodedBatch) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for slot in &mut self.slots {
            if batch.is_empty() {
                break;
            }
            slot.stats.events_in += batch.len() as u64;
            match slot.stage.process(batch) {
                Ok(out) => {
                    slot.stats.dropped += batch.retain(&out.verdicts) as u64;
                    slot.stats.actions += out.actions.len() as u64;
                    for a in &out.annotations {
                        tracing::trace!(stage = %slot.name, event = a.event, key = %a.key, value = %a.value, "annotation");
                    }
                    decisions.extend(out.actions.into_iter().map(|action| Decision {
                        action,
                        stage: slot.name.clone(),
                    }));
                }
                Err(e) => {
                    slot.stats.failures += 1;
                    tracing::warn!(stage = %slot.name, policy = ?slot.on_error, "{e}");
                    if slot.on_error == OnError::Drop {
                        slot.stats.dropped += batch.len() as u64;
                        batch.clear();
                    }
                }
            }
        }
        decisions
    }
}
