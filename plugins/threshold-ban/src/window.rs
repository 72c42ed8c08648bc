//! The threshold rule's per-key sliding windows of event times, bounded to `threshold`
//! entries per key. Whether a full window leads to a ban is the caller's decision (the
//! key may already be banned).

use std::collections::{HashMap, VecDeque};

/// A key's times as saved: (key, times oldest first).
pub type SavedTimes = Vec<([u8; 16], Vec<i64>)>;

/// The windows of every key seen recently.
pub struct Windows {
    threshold: usize,
    window_ms: i64,
    /// Times of each key's most recent events, oldest first, at most `threshold` of them.
    keys: HashMap<[u8; 16], VecDeque<i64>>,
}

impl Windows {
    pub fn new(threshold: u32, window_ms: u64) -> Self {
        Windows {
            threshold: threshold as usize,
            window_ms: window_ms.min(i64::MAX as u64) as i64,
            keys: HashMap::new(),
        }
    }

    /// The state to snapshot.
    pub fn save(&self) -> SavedTimes {
        self.keys
            .iter()
            .map(|(k, times)| (*k, times.iter().copied().collect()))
            .collect()
    }

    /// Replaces the state with a snapshot's. Times beyond `threshold` per key are cut (the
    /// threshold may have been lowered since).
    pub fn load(&mut self, saved: SavedTimes) {
        self.keys = saved
            .into_iter()
            .filter(|(_, times)| !times.is_empty())
            .map(|(k, times)| {
                let skip = times.len().saturating_sub(self.threshold);
                (k, times.into_iter().skip(skip).collect())
            })
            .collect();
    }

    /// Number of keys tracked.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Records an event of `key` at `at`; true when it completes `threshold` events within
    /// the window.
    pub fn record(&mut self, key: [u8; 16], at: i64) -> bool {
        let times = self.keys.entry(key).or_default();
        if times.len() == self.threshold {
            times.pop_front();
        }
        times.push_back(at);
        let oldest = times.front().copied().unwrap_or(at);
        times.len() == self.threshold && at.saturating_sub(oldest) <= self.window_ms
    }

    /// Starts `key`'s window afresh (after a ban).
    pub fn reset(&mut self, key: &[u8; 16]) {
        if let Some(times) = self.keys.get_mut(key) {
            times.clear();
        }
    }

    /// Forgets keys with no event inside the window ending at `now`, so memory follows the
    /// number of recently active keys.
    pub fn prune(&mut self, now: i64) {
        let horizon = now.saturating_sub(self.window_ms);
        self.keys
            .retain(|_, times| times.back().is_some_and(|t| *t >= horizon));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_window_within_the_span_triggers_and_reset_starts_afresh() {
        let k = [7u8; 16];
        let mut w = Windows::new(3, 10_000);
        assert!(!w.record(k, 0) && !w.record(k, 5_000));
        assert!(!w.record(k, 10_001), "3 events over 10.001s");
        assert!(w.record(k, 12_000), "5s, 10.001s, 12s");
        w.reset(&k);
        assert!(!w.record(k, 12_500));
        w.prune(12_500 + 10_000);
        assert_eq!(w.len(), 1);
        w.prune(12_501 + 10_000);
        assert_eq!(w.len(), 0);
    }
}
