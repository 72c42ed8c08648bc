//! The sliding window: a ring of [`BUCKETS`] sub-window Space-Saving summaries in event
//! time, merged when asked for the window's top keys.
//!
//! An event at time `t` goes to bucket `t / width` (`width = window / BUCKETS`); the window
//! is the newest bucket and the `BUCKETS - 1` before it, so it slides in steps of a tenth
//! and spans between 90% and 100% of `window`. An event older than the newest bucket (a
//! line out of order) is counted in the newest bucket rather than lost.
//!
//! Merging sums each key's estimates over the buckets. A bucket over-counts a key it holds
//! by at most its error bound and under-counts a key it does not hold by at most the same
//! bound, so a merged count is within `Σ bound_b ≤ N_window / capacity` of the truth, in
//! either direction.

use crate::key::Key;
use crate::space_saving::{SavedSketch, SpaceSaving};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// Sub-windows per window.
pub const BUCKETS: i64 = 10;

/// The window's summaries, oldest first.
#[derive(Debug)]
pub struct Window {
    width_ms: i64,
    capacity: usize,
    buckets: VecDeque<(i64, SpaceSaving<Key>)>,
}

/// The window's top keys as merged from its buckets.
#[derive(Debug, PartialEq, Eq)]
pub struct WindowTop {
    /// (key, estimated count), largest first.
    pub top: Vec<(Key, u64)>,
    /// Events in the window.
    pub total: u64,
    /// How far any count may be from the truth, either way.
    pub error_bound: u64,
}

impl Window {
    /// An empty window of `window_ms` (at least [`BUCKETS`] ms) with `capacity` counters
    /// per bucket.
    pub fn new(window_ms: i64, capacity: usize) -> Self {
        Window {
            width_ms: (window_ms / BUCKETS).max(1),
            capacity,
            buckets: VecDeque::new(),
        }
    }

    /// Counts `key` at event time `at`.
    pub fn add(&mut self, key: Key, at: i64) {
        let index = at.div_euclid(self.width_ms);
        let newest = self.buckets.back().map(|b| b.0);
        if newest.is_none_or(|n| index > n) {
            self.buckets
                .push_back((index, SpaceSaving::new(self.capacity)));
            self.expire(index);
        }
        if let Some((_, s)) = self.buckets.back_mut() {
            s.add(key, 1);
        }
    }

    /// Drops the buckets that have left the window ending in bucket `newest`.
    fn expire(&mut self, newest: i64) {
        while self
            .buckets
            .front()
            .is_some_and(|b| b.0 <= newest - BUCKETS)
        {
            self.buckets.pop_front();
        }
    }

    /// The `n` largest merged counts in the window.
    pub fn top(&self, n: usize) -> WindowTop {
        let mut merged: HashMap<&Key, u64> = HashMap::new();
        let (mut total, mut error_bound) = (0u64, 0u64);
        for (_, s) in &self.buckets {
            total += s.total();
            error_bound += s.error_bound();
            for slot in s.slots() {
                *merged.entry(&slot.key).or_insert(0) += slot.count;
            }
        }
        let mut top: Vec<(Key, u64)> = merged.into_iter().map(|(k, c)| (k.clone(), c)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(n);
        WindowTop {
            top,
            total,
            error_bound,
        }
    }

    /// Events in the window.
    pub fn total(&self) -> u64 {
        self.buckets.iter().map(|(_, s)| s.total()).sum()
    }

    /// Counters in use over every bucket.
    pub fn counters(&self) -> usize {
        self.buckets.iter().map(|(_, s)| s.len()).sum()
    }

    /// Bytes of the buckets' tables (see [`SpaceSaving::table_bytes`]).
    pub fn table_bytes(&self) -> usize {
        self.buckets.iter().map(|(_, s)| s.table_bytes()).sum()
    }

    /// The saved form.
    pub fn save(&self) -> SavedWindow {
        SavedWindow {
            width_ms: self.width_ms,
            buckets: self.buckets.iter().map(|(i, s)| (*i, s.save())).collect(),
        }
    }

    /// Takes over a saved window if it was saved with the same width and capacity; false
    /// (and the window stays as it is) otherwise.
    pub fn load(&mut self, saved: SavedWindow) -> bool {
        if saved.width_ms != self.width_ms {
            return false;
        }
        let mut buckets = VecDeque::new();
        for (i, s) in saved.buckets {
            match SpaceSaving::load(s, self.capacity) {
                Some(s) => buckets.push_back((i, s)),
                None => return false,
            }
        }
        self.buckets = buckets;
        true
    }
}

/// A window as saved in a snapshot.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedWindow {
    width_ms: i64,
    buckets: Vec<(i64, SavedSketch<Key>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(k: u32) -> Key {
        Key::Num(k)
    }

    #[test]
    fn events_leave_the_window_in_event_time() {
        // 10s window: 1s buckets.
        let mut w = Window::new(10_000, 8);
        for at in [0, 500, 1_200, 9_900] {
            w.add(n(22), at);
        }
        w.add(n(443), 5_000);
        assert_eq!(w.top(5).top, [(n(22), 4), (n(443), 1)]);
        // At 10.0s the bucket [0s, 1s) leaves: the window is [1s, 11s).
        w.add(n(443), 10_000);
        let t = w.top(5);
        assert_eq!((t.top, t.total), (vec![(n(22), 2), (n(443), 2)], 4));
        // A late event is counted in the newest bucket, not lost.
        w.add(n(80), 3_000);
        assert_eq!(w.top(5).total, 5);
        // Long after, only the new event is in the window.
        w.add(n(80), 60_000);
        let t = w.top(5);
        assert_eq!((t.top, t.total, t.error_bound), (vec![(n(80), 1)], 1, 0));
        assert_eq!(w.buckets.len(), 1);
    }

    #[test]
    fn merged_counts_stay_within_the_bound() {
        // 4 counters per bucket, 50 distinct rare keys and one heavy key every third event.
        let key = |i: u32| if i.is_multiple_of(3) { 7 } else { 100 + i % 50 };
        let mut w = Window::new(10_000, 4);
        for i in 0..5_000u32 {
            w.add(n(key(i)), i64::from(i) * 2);
        }
        let first_ms = w.buckets.front().unwrap().0 * 1_000;
        let truth = (0..5_000u32)
            .filter(|i| i64::from(*i) * 2 >= first_ms && key(*i) == 7)
            .count() as u64;
        let t = w.top(1);
        assert_eq!(t.top[0].0, n(7));
        assert!(
            t.top[0].1.abs_diff(truth) <= t.error_bound,
            "{t:?} vs {truth}"
        );
        assert!(t.error_bound > 0 && t.error_bound <= t.total / 4);
    }
}
