//! Space-Saving (Metwally, Agrawal and El Abbadi, 2005): the most frequent keys of a
//! stream in a fixed number of counters, whatever the number of distinct keys.
//!
//! With `capacity` counters `k` over `N` counted events:
//! - a key's reported count is never below its true count, and over it by at most the
//!   counter's `error`, which is at most the smallest count, which is at most `N / k`;
//! - a key whose true count exceeds `N / k` is always held (it cannot be the smallest).
//!
//! The counters form a binary min-heap on count with an index from key to heap slot, so
//! an update costs O(log k) and the structure never holds more than `k` keys. (The
//! bucket-list "stream summary" of the paper is O(1) per update, but needs a linked
//! structure per distinct count; at k ≈ 1000 the heap is as fast and far simpler.)

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::Hash;

/// One counter: a key, its estimated count and how much of that may be inherited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot<K> {
    /// The key.
    pub key: K,
    /// The estimate, never below the true count.
    pub count: u64,
    /// The count the key inherited when it took over the slot: the estimate's largest
    /// possible excess.
    pub error: u64,
}

/// A Space-Saving summary with a fixed number of counters.
#[derive(Debug, Clone)]
pub struct SpaceSaving<K> {
    capacity: usize,
    total: u64,
    heap: Vec<Slot<K>>,
    index: HashMap<K, usize>,
}

impl<K: Clone + Eq + Hash + Ord> SpaceSaving<K> {
    /// An empty summary of at most `capacity` (at least 1) counters.
    pub fn new(capacity: usize) -> Self {
        SpaceSaving {
            capacity: capacity.max(1),
            total: 0,
            heap: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Counts `n` events of `key`.
    pub fn add(&mut self, key: K, n: u64) {
        self.total = self.total.saturating_add(n);
        if let Some(&at) = self.index.get(&key) {
            self.heap[at].count = self.heap[at].count.saturating_add(n);
            self.sift_down(at);
            return;
        }
        if self.heap.len() < self.capacity {
            self.index.insert(key.clone(), self.heap.len());
            self.heap.push(Slot {
                key,
                count: n,
                error: 0,
            });
            self.sift_up(self.heap.len() - 1);
            return;
        }
        // Full: the key takes over the smallest counter and inherits its count as error.
        let min = self.heap[0].count;
        self.index.remove(&self.heap[0].key);
        self.index.insert(key.clone(), 0);
        self.heap[0] = Slot {
            key,
            count: min.saturating_add(n),
            error: min,
        };
        self.sift_down(0);
    }

    /// Events counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Keys held (at most the capacity).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The most counters held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The largest possible excess of any reported count, and the largest true count a key
    /// not held can have: 0 while every key seen is held, else the smallest count
    /// (at most `total / capacity`).
    pub fn error_bound(&self) -> u64 {
        // A key that took over a counter inherits a non-zero error, and its slot is only
        // ever taken over by another such key: no error anywhere means no eviction yet.
        if self.heap.iter().any(|s| s.error > 0) {
            self.heap.first().map_or(0, |s| s.count)
        } else {
            0
        }
    }

    /// The estimate for `key`, if held.
    pub fn get(&self, key: &K) -> Option<&Slot<K>> {
        self.index.get(key).map(|&at| &self.heap[at])
    }

    /// Every counter, in no particular order.
    pub fn slots(&self) -> &[Slot<K>] {
        &self.heap
    }

    /// The `n` largest counts, largest first (ties by key).
    pub fn top(&self, n: usize) -> Vec<&Slot<K>> {
        let mut all: Vec<&Slot<K>> = self.heap.iter().collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        all.truncate(n);
        all
    }

    /// Bytes the structure's own tables take: the heap's slots plus the index's buckets
    /// (key, slot number and one control byte each; `hashbrown` keeps a power of two of
    /// buckets, at most 7/8 full). Keys that own heap memory (organisation names,
    /// prefixes) add their text on top.
    pub fn table_bytes(&self) -> usize {
        let usable = self.index.capacity();
        let buckets = if usable == 0 {
            0
        } else {
            (usable * 8 / 7).next_power_of_two()
        };
        self.heap.capacity() * size_of::<Slot<K>>() + buckets * (size_of::<(K, usize)>() + 1)
    }

    /// The saved form.
    pub fn save(&self) -> SavedSketch<K> {
        SavedSketch {
            capacity: self.capacity,
            total: self.total,
            slots: self.heap.clone(),
        }
    }

    /// Rebuilds a summary from its saved form; `None` when it was saved with another
    /// capacity (its error bound would not hold for this one).
    pub fn load(saved: SavedSketch<K>, capacity: usize) -> Option<Self> {
        if saved.capacity != capacity || saved.slots.len() > capacity {
            return None;
        }
        let mut s = SpaceSaving::new(capacity);
        s.total = saved.total;
        for slot in saved.slots {
            if s.index.contains_key(&slot.key) {
                return None;
            }
            s.index.insert(slot.key.clone(), s.heap.len());
            s.heap.push(slot);
            s.sift_up(s.heap.len() - 1);
        }
        Some(s)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        for at in [a, b] {
            if let Some(i) = self.index.get_mut(&self.heap[at].key) {
                *i = at;
            }
        }
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if self.heap[parent].count <= self.heap[at].count {
                break;
            }
            self.swap(parent, at);
            at = parent;
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let (l, r) = (2 * at + 1, 2 * at + 2);
            let mut least = at;
            if l < self.heap.len() && self.heap[l].count < self.heap[least].count {
                least = l;
            }
            if r < self.heap.len() && self.heap[r].count < self.heap[least].count {
                least = r;
            }
            if least == at {
                break;
            }
            self.swap(at, least);
            at = least;
        }
    }
}

/// A summary as saved in a snapshot.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedSketch<K> {
    capacity: usize,
    total: u64,
    slots: Vec<Slot<K>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_exact_while_keys_fit() {
        let mut s = SpaceSaving::new(8);
        for (k, n) in [(1u32, 5), (2, 3), (3, 9), (1, 2)] {
            for _ in 0..n {
                s.add(k, 1);
            }
        }
        let top: Vec<(u32, u64, u64)> = s
            .top(10)
            .iter()
            .map(|x| (x.key, x.count, x.error))
            .collect();
        assert_eq!(top, [(3, 9, 0), (1, 7, 0), (2, 3, 0)]);
        assert_eq!((s.total(), s.error_bound()), (19, 0));
    }

    #[test]
    fn a_full_summary_evicts_the_smallest_and_records_the_inherited_error() {
        let mut s = SpaceSaving::new(2);
        s.add("a", 3);
        s.add("b", 1);
        s.add("c", 1);
        assert!(s.get(&"b").is_none());
        let c = s.get(&"c").unwrap();
        assert_eq!((c.count, c.error), (2, 1));
        assert_eq!(s.error_bound(), 2);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn the_heap_and_index_agree_after_many_updates() {
        let mut s = SpaceSaving::new(16);
        for i in 0..10_000u32 {
            s.add(i % 37 + (i % 5) * (i % 3), 1);
        }
        for (at, slot) in s.slots().iter().enumerate() {
            assert_eq!(s.index[&slot.key], at);
            if at > 0 {
                assert!(s.slots()[(at - 1) / 2].count <= slot.count);
            }
        }
        assert_eq!(s.slots().iter().map(|x| x.count).sum::<u64>(), 10_000);
    }

    /// The guarantee on a skewed stream of a million distinct sources: the heavy hitters are
    /// held, each within `N / k` of its true count, in exactly `k` counters.
    #[test]
    fn space_saving_guarantee_with_a_million_distinct_sources() {
        const K: usize = 1024;
        let heavy: [(u32, u64); 4] = [
            (u32::MAX, 120_000),
            (u32::MAX - 1, 60_000),
            (u32::MAX - 2, 15_000),
            (u32::MAX - 3, 3_000),
        ];
        // The plugin's own key type, so the memory figure is the plugin's.
        let mut s = SpaceSaving::<crate::key::Key>::new(K);
        let key = |n: u32| {
            let mut k = [0u8; 16];
            k[10] = 0xff;
            k[11] = 0xff;
            k[12..].copy_from_slice(&n.to_be_bytes());
            crate::key::Key::Addr(k)
        };
        let mut left: Vec<u64> = heavy.iter().map(|h| h.1).collect();
        let mut peak = 0;
        for i in 0..1_000_000u32 {
            s.add(key(i), 1);
            // Interleave the heavy hitters through the whole stream.
            for (h, n) in heavy.iter().zip(left.iter_mut()) {
                if *n > 0 && u64::from(i) % (1_000_000 / h.1).max(1) == 0 {
                    s.add(key(h.0), 1);
                    *n -= 1;
                }
            }
            peak = peak.max(s.len());
        }
        for (h, n) in heavy.iter().zip(left) {
            for _ in 0..n {
                s.add(key(h.0), 1);
            }
        }
        let total: u64 = 1_000_000 + heavy.iter().map(|h| h.1).sum::<u64>();
        assert_eq!(s.total(), total);
        assert_eq!((s.len(), peak), (K, K), "never more than capacity counters");
        let bound = total / K as u64;
        assert!(s.error_bound() <= bound);
        for (h, truth) in heavy {
            if truth <= bound {
                continue;
            }
            let slot = s.get(&key(h)).expect("a key above N/k is always held");
            assert!(
                slot.count >= truth && slot.count - truth <= bound,
                "{h}: {slot:?}"
            );
            assert!(slot.count - slot.error <= truth);
        }
        let top: Vec<crate::key::Key> = s.top(3).iter().map(|x| x.key.clone()).collect();
        assert_eq!(top, [key(u32::MAX), key(u32::MAX - 1), key(u32::MAX - 2)]);
        // The memory figure recorded in docs/standard-plugins/counter.md.
        let bytes = s.table_bytes();
        eprintln!(
            "space-saving, {K} counters of source keys: {bytes} bytes ({} per counter)",
            bytes / K
        );
        // 40-byte slots plus the index: evictions leave tombstones, so hashbrown settles at
        // 4096 buckets of 33 bytes for 1024 keys, and stays there.
        assert!(bytes <= K * 200, "{bytes} bytes");
    }
}
