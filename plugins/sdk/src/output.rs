//! What a plugin decides about a batch: per-event verdicts, notes and actions.

use crate::batch::{Batch, Event};
use core::net::IpAddr;
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

/// A note about a source address, attached by the host to every event of the batch from
/// that source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAnnotation {
    /// The source.
    pub src: IpAddr,
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
    source_annotations: Vec<SourceAnnotation>,
    actions: Vec<Action>,
}

/// An [`Output`] taken apart, for the export glue.
pub(crate) struct Parts {
    pub verdicts: Vec<u8>,
    pub annotations: Vec<Annotation>,
    pub source_annotations: Vec<SourceAnnotation>,
    pub actions: Vec<Action>,
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

    /// Attaches a note to every event of this batch from `src`: one note per distinct
    /// source instead of one per event (what an enrichment stage wants).
    pub fn annotate_source(
        &mut self,
        src: IpAddr,
        key: impl Into<String>,
        value: impl Into<String>,
    ) {
        self.source_annotations.push(SourceAnnotation {
            src,
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

    /// The source notes attached so far.
    pub fn source_annotations(&self) -> &[SourceAnnotation] {
        &self.source_annotations
    }

    /// Number of events dropped.
    pub fn dropped_count(&self) -> usize {
        self.verdicts.iter().filter(|v| **v == VERDICT_DROP).count()
    }

    pub(crate) fn into_parts(self) -> Parts {
        Parts {
            verdicts: self.verdicts,
            annotations: self.annotations,
            source_annotations: self.source_annotations,
            actions: self.actions,
        }
    }
}
