//! Per-source sliding windows of event times, bounded to `threshold` entries per source.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

struct Source {
    /// Times of the most recent events, oldest first, at most `threshold` of them.
    times: VecDeque<i64>,
    /// Until when (ms) the source counts as banned; no new ban before then.
    banned_until: i64,
}

/// The saved form of [`Windows`]: every source with its recent times and ban horizon.
#[derive(Serialize, Deserialize)]
pub struct SavedWindows {
    sources: Vec<([u8; 16], Vec<i64>, i64)>,
    latest: i64,
}

/// The windows of every source seen recently.
pub struct Windows {
    threshold: usize,
    window_ms: i64,
    sources: HashMap<[u8; 16], Source>,
    latest: i64,
    since_prune: usize,
}

impl Windows {
    pub fn new(threshold: u32, window_ms: u64) -> Self {
        Windows {
            threshold: threshold as usize,
            window_ms: window_ms.min(i64::MAX as u64) as i64,
            sources: HashMap::new(),
            latest: i64::MIN,
            since_prune: 0,
        }
    }

    /// The state to snapshot.
    pub fn save(&self) -> SavedWindows {
        SavedWindows {
            sources: self
                .sources
                .iter()
                .map(|(k, s)| (*k, s.times.iter().copied().collect(), s.banned_until))
                .collect(),
            latest: self.latest,
        }
    }

    /// Replaces the state with a snapshot's. Times beyond `threshold` per source are cut
    /// (the threshold may have been lowered since).
    pub fn load(&mut self, saved: SavedWindows) {
        self.latest = saved.latest;
        self.sources = saved
            .sources
            .into_iter()
            .map(|(k, times, banned_until)| {
                let skip = times.len().saturating_sub(self.threshold);
                let times = times.into_iter().skip(skip).collect();
                (
                    k,
                    Source {
                        times,
                        banned_until,
                    },
                )
            })
            .collect();
    }

    /// Number of sources tracked.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// The latest event time recorded.
    pub fn latest(&self) -> i64 {
        self.latest
    }

    /// Records an event of `src` at `at`; true when it completes `threshold` events within
    /// the window and the source is not already banned (it then counts as banned for `ban_ms`).
    pub fn record(&mut self, src: [u8; 16], at: i64, ban_ms: i64) -> bool {
        self.latest = self.latest.max(at);
        let s = self.sources.entry(src).or_insert_with(|| Source {
            times: VecDeque::new(),
            banned_until: i64::MIN,
        });
        if s.times.len() == self.threshold {
            s.times.pop_front();
        }
        s.times.push_back(at);
        let full = s.times.len() == self.threshold;
        let oldest = s.times.front().copied().unwrap_or(at);
        if full && at.saturating_sub(oldest) <= self.window_ms && at >= s.banned_until {
            s.banned_until = at.saturating_add(ban_ms);
            s.times.clear();
            return true;
        }
        false
    }

    /// Marks `src` banned at `at` for `ban_ms` unless it already is; true when newly banned.
    pub fn mark_banned(&mut self, src: [u8; 16], at: i64, ban_ms: i64) -> bool {
        self.latest = self.latest.max(at);
        let s = self.sources.entry(src).or_insert_with(|| Source {
            times: VecDeque::new(),
            banned_until: i64::MIN,
        });
        if at < s.banned_until {
            return false;
        }
        s.banned_until = at.saturating_add(ban_ms);
        s.times.clear();
        true
    }

    /// Forgets sources with no event inside the window and no running ban, every so often,
    /// so memory follows the number of recently active sources.
    pub fn prune(&mut self, now: i64) {
        self.since_prune += 1;
        if self.since_prune < 64 && self.sources.len() < 100_000 {
            return;
        }
        self.since_prune = 0;
        let horizon = now.saturating_sub(self.window_ms);
        self.sources
            .retain(|_, s| s.banned_until > now || s.times.back().is_some_and(|t| *t >= horizon));
    }
}
