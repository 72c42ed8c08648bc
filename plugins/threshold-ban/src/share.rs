//! The share rule: once at least `min_events` events fell within the share window, a key
//! with more than `share` of them is banned ("an address with more than half of all
//! events").
//!
//! The window is a ring of [`BUCKETS`] sub-window buckets of event time, each holding
//! exact counts per key, plus a running sum over the ring: the newest bucket and the
//! `BUCKETS - 1` before it, so it slides in tenths and spans 90-100% of the window. An
//! event older than the newest bucket (a line out of order) counts in the newest bucket.
//! Memory follows the keys active within the window: an expired bucket takes its keys
//! with it.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// Sub-windows per window.
pub const BUCKETS: i64 = 10;

struct Bucket {
    index: i64,
    counts: HashMap<[u8; 16], u32>,
}

/// The share rule's window.
pub struct ShareRule {
    share: f64,
    min_events: u64,
    width_ms: i64,
    buckets: VecDeque<Bucket>,
    /// Per-key sum over the buckets.
    counts: HashMap<[u8; 16], u64>,
    total: u64,
}

/// A bucket as saved: (index, [(key, count)]).
type SavedBucket = (i64, Vec<([u8; 16], u32)>);

/// The saved form: the bucket width and each bucket.
#[derive(Serialize, Deserialize)]
pub struct SavedShare {
    width_ms: i64,
    buckets: Vec<SavedBucket>,
}

impl ShareRule {
    /// A rule banning keys above `share` (0 < share < 1) of at least `min_events` events in
    /// `window_ms`.
    pub fn new(share: f64, min_events: u64, window_ms: i64) -> Self {
        ShareRule {
            share,
            min_events,
            width_ms: (window_ms / BUCKETS).max(1),
            buckets: VecDeque::new(),
            counts: HashMap::new(),
            total: 0,
        }
    }

    /// Counts an event of `key` at `at`; `Some((key's events, all events))` in the window
    /// when the key now holds more than the share of at least `min_events`.
    pub fn record(&mut self, key: [u8; 16], at: i64) -> Option<(u64, u64)> {
        let index = at.div_euclid(self.width_ms);
        if self.buckets.back().is_none_or(|b| index > b.index) {
            self.expire(index);
            self.buckets.push_back(Bucket {
                index,
                counts: HashMap::new(),
            });
        }
        let bucket = self.buckets.back_mut()?;
        let c = bucket.counts.entry(key).or_insert(0);
        *c = c.saturating_add(1);
        let n = self.counts.entry(key).or_insert(0);
        *n += 1;
        self.total += 1;
        let n = *n;
        (self.total >= self.min_events && n as f64 > self.share * self.total as f64)
            .then_some((n, self.total))
    }

    /// Drops the buckets that leave the window when bucket `newest` opens.
    fn expire(&mut self, newest: i64) {
        while self
            .buckets
            .front()
            .is_some_and(|b| b.index <= newest - BUCKETS)
        {
            let Some(b) = self.buckets.pop_front() else {
                break;
            };
            for (key, c) in b.counts {
                let c = u64::from(c);
                self.total -= c.min(self.total);
                if let Some(n) = self.counts.get_mut(&key) {
                    *n -= c.min(*n);
                    if *n == 0 {
                        self.counts.remove(&key);
                    }
                }
            }
        }
    }

    /// Keys counted in the window.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// The state to snapshot.
    pub fn save(&self) -> SavedShare {
        SavedShare {
            width_ms: self.width_ms,
            buckets: self
                .buckets
                .iter()
                .map(|b| (b.index, b.counts.iter().map(|(k, c)| (*k, *c)).collect()))
                .collect(),
        }
    }

    /// Takes over a snapshot's window if it has the same bucket width (else starts afresh:
    /// a changed window would mix spans).
    pub fn load(&mut self, saved: SavedShare) {
        if saved.width_ms != self.width_ms {
            return;
        }
        self.buckets.clear();
        self.counts.clear();
        self.total = 0;
        for (index, counts) in saved.buckets {
            for (key, c) in &counts {
                *self.counts.entry(*key).or_insert(0) += u64::from(*c);
                self.total += u64::from(*c);
            }
            self.buckets.push_back(Bucket {
                index,
                counts: counts.into_iter().collect(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 16] = [1; 16];
    const B: [u8; 16] = [2; 16];

    #[test]
    fn fires_only_above_the_share_once_enough_events_were_seen() {
        let mut s = ShareRule::new(0.5, 4, 10_000);
        assert_eq!(s.record(A, 0), None, "1 of 1, but fewer than 4 events");
        assert_eq!(s.record(A, 1), None);
        assert_eq!(s.record(B, 2), None);
        assert_eq!(s.record(B, 3), None, "2 of 4 is not more than half");
        assert_eq!(s.record(A, 4), Some((3, 5)));
        assert_eq!(s.record(B, 5), None);
    }

    #[test]
    fn old_buckets_leave_the_window() {
        // 10s window of 1s buckets.
        let mut s = ShareRule::new(0.5, 3, 10_000);
        for at in [0, 100, 200] {
            s.record(B, at);
        }
        s.record(A, 9_000);
        // At 10s the bucket [0s, 1s) leaves, with B's three events.
        assert_eq!(s.record(A, 10_000), None, "2 events are fewer than 3");
        assert_eq!(s.record(B, 10_100), None, "1 of 3");
        assert_eq!(s.record(A, 10_200), Some((3, 4)));
        assert_eq!((s.total, s.len()), (4, 2));
        s.record(B, 100_000);
        assert_eq!((s.total, s.len(), s.buckets.len()), (1, 1, 1));
    }

    #[test]
    fn a_snapshot_restores_the_counts() {
        let mut s = ShareRule::new(0.5, 3, 60_000);
        s.record(A, 0);
        s.record(A, 1);
        s.record(B, 7_000);
        let mut t = ShareRule::new(0.5, 3, 60_000);
        t.load(s.save());
        assert_eq!(t.record(A, 8_000), Some((3, 4)));
        let mut other = ShareRule::new(0.5, 3, 30_000);
        other.load(s.save());
        assert_eq!(other.len(), 0, "another window starts afresh");
    }
}
