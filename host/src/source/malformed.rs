//! Reporting damaged firewall records per source: the first ones one by one with their
//! line number, then only a count, so a garbage file cannot flood the log.

use crate::parse::ParseError;

/// Malformed records reported one by one per source before only counting them.
pub const REPORTED: u64 = 20;

/// The malformed records of one source.
#[derive(Debug)]
pub struct MalformedReport {
    label: String,
    seen: u64,
}

impl MalformedReport {
    /// For the source named `label` (a path, `-`, `kmsg`).
    pub fn new(label: impl Into<String>) -> Self {
        MalformedReport {
            label: label.into(),
            seen: 0,
        }
    }

    /// Notes a malformed record at `lineno` (when the source has line numbers).
    pub fn note(&mut self, lineno: Option<u64>, error: &ParseError) {
        self.seen += 1;
        if self.seen <= REPORTED {
            match lineno {
                Some(n) => tracing::warn!("{}:{n}: malformed firewall record: {error}", self.label),
                None => tracing::warn!("{}: malformed firewall record: {error}", self.label),
            }
        } else if self.seen == REPORTED + 1 {
            tracing::warn!(
                "{}: more malformed records follow; only counting them now",
                self.label
            );
        }
    }

    /// How many were noted.
    pub fn count(&self) -> u64 {
        self.seen
    }

    /// At the end of a finite source: says how many were not shown.
    pub fn finish(&self) {
        if self.seen > REPORTED {
            tracing::warn!(
                "{}: {} more malformed records not shown",
                self.label,
                self.seen - REPORTED
            );
        }
    }
}
