//! What a plugin decides about a batch: per-event verdicts, notes and actions.

use crate::batch::{Batch, Event};
use portcullis_abi::net::IpNet;
use portcullis_abi::{VERDICT_DROP, VERDICT_KEEP};

/// A rule action the plugin asks the host to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ban `target` for `duration_secs` seconds from when the host applies it.
    Ban {
        /// The network to ban (a single address is a /32 or /128).
        target: IpNet,
        /// How long, in seconds.
        duration_secs: u64,
        /// Why, for the operator.
        reason: String,
    },
    /// Lift every ban inside `target`.
    Unban(IpNet),
}

/// A note attached to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Index of the event in its batch.
    pub event: u32,
    /// The note's name.
    pub key: String,
    /// The note's value.
    pub value: String,
}

/// The plugin's answer to one batch. Every event is kept unless dropped.
#[derive(Debug, Default)]
pub struct Output {
    len: usize,
    verdicts: Vec<u8>,
    annotations: Vec<Annotation>,
    actions: Vec<Action>,
}

impl Output {
    /// An empty answer for `batch`: keep everything, no actions.
    pub fn for_batch(batch: &Batch<'_>) -> Self {
        Output {
            len: batch.len(),
            ..Output::default()
        }
    }

    /// Drops `ev`: later stages will not see it.
    pub fn drop_event(&mut self, ev: &Event<'_>) {
        let i = ev.index() as usize;
        if i >= self.len {
            return;
        }
        if self.verdicts.is_empty() {
            self.verdicts = vec![VERDICT_KEEP; self.len];
        }
        self.verdicts[i] = VERDICT_DROP;
    }

    /// Whether `ev` has been dropped.
    pub fn is_dropped(&self, ev: &Event<'_>) -> bool {
        self.verdicts.get(ev.index() as usize) == Some(&VERDICT_DROP)
    }

    /// Attaches a note to `ev`.
    pub fn annotate(&mut self, ev: &Event<'_>, key: impl Into<String>, value: impl Into<String>) {
        self.annotations.push(Annotation {
            event: ev.index(),
            key: key.into(),
            value: value.into(),
        });
    }

    /// Asks for a ban of `target` for `duration_secs` seconds.
    pub fn ban(&mut self, target: IpNet, duration_secs: u64, reason: impl Into<String>) {
        self.actions.push(Action::Ban {
            target,
            duration_secs,
            reason: reason.into(),
        });
    }

    /// Asks for every ban inside `target` to be lifted.
    pub fn unban(&mut self, target: IpNet) {
        self.actions.push(Action::Unban(target));
    }

    /// The actions asked for so far.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// The notes attached so far.
    pub fn annotations(&self) -> &[Annotation] {
        &self.annotations
    }

    /// Number of events dropped.
    pub fn dropped_count(&self) -> usize {
        self.verdicts.iter().filter(|v| **v == VERDICT_DROP).count()
    }

    pub(crate) fn into_parts(self) -> (Vec<u8>, Vec<Annotation>, Vec<Action>) {
        (self.verdicts, self.annotations, self.actions)
    }
}
