//! Per-source sliding windows of distinct destination ports and hosts, bounded twice: a
//! source's sets never hold more than their thresholds (reaching one is a detection and
//! empties them), and idle sources are forgotten, the least recently active first when
//! more than `max_sources` are active at once.

use crate::kind::{Kind, classify};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::HashMap;

/// The thresholds and bounds the tracker works with.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Distinct ports that make a scan.
    pub ports: usize,
    /// Distinct hosts that make a sweep; 0 when not tracked.
    pub hosts: usize,
    /// The window, milliseconds.
    pub window_ms: i64,
    /// Most sources tracked at once.
    pub max_sources: usize,
}

/// One distinct key (a port or a host) and its latest probe.
#[derive(Debug, Clone, Copy)]
struct Probe<K> {
    key: K,
    at: i64,
    kind: Kind,
}

/// Distinct keys probed within the window, sorted by key.
#[derive(Debug)]
struct Distinct<K> {
    probes: Vec<Probe<K>>,
    /// No probe is older than this (it may be lower than the true oldest).
    oldest: i64,
}

impl<K: Ord + Copy> Distinct<K> {
    fn new() -> Self {
        Distinct {
            probes: Vec::new(),
            oldest: i64::MAX,
        }
    }

    /// Forgets probes older than `horizon`, then records `key` probed at `at`; returns how
    /// many distinct keys are in the window. The set's memory never outgrows `limit`
    /// entries (the caller empties it on reaching `limit`).
    fn touch(&mut self, key: K, at: i64, kind: Kind, horizon: i64, limit: usize) -> usize {
        if self.oldest < horizon {
            self.probes.retain(|p| p.at >= horizon);
            self.oldest = self.probes.iter().map(|p| p.at).min().unwrap_or(i64::MAX);
        }
        match self.probes.binary_search_by(|p| p.key.cmp(&key)) {
            Ok(i) => {
                let p = &mut self.probes[i];
                p.at = p.at.max(at);
                p.kind = kind;
            }
            Err(i) => {
                let len = self.probes.len();
                if len == self.probes.capacity() {
                    // Double, from 4, but never past `limit` entries.
                    let room = limit.saturating_sub(len).max(1);
                    self.probes.reserve_exact(len.max(4).min(room));
                }
                self.probes.insert(i, Probe { key, at, kind });
            }
        }
        self.oldest = self.oldest.min(at);
        self.probes.len()
    }

    /// Empties the set and gives its memory back.
    fn clear(&mut self) {
        self.probes = Vec::new();
        self.oldest = i64::MAX;
    }

    fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        self.probes.iter().map(|p| p.kind)
    }

    fn save(&self) -> Vec<(K, i64, u8)> {
        self.probes
            .iter()
            .map(|p| (p.key, p.at, p.kind as u8))
            .collect()
    }

    /// Rebuilds from saved probes, keeping at most the newest `limit`.
    fn load(saved: Vec<(K, i64, u8)>, limit: usize) -> Self {
        let mut probes: Vec<Probe<K>> = saved
            .into_iter()
            .filter_map(|(key, at, k)| {
                Some(Probe {
                    key,
                    at,
                    kind: Kind::from_u8(k)?,
                })
            })
            .collect();
        // One probe per key (its newest), then the newest `limit`, sorted by key.
        probes.sort_by_key(|p| (p.key, Reverse(p.at)));
        probes.dedup_by_key(|p| p.key);
        probes.sort_by_key(|p| Reverse(p.at));
        probes.truncate(limit);
        probes.sort_by_key(|p| p.key);
        probes.shrink_to_fit();
        let oldest = probes.iter().map(|p| p.at).min().unwrap_or(i64::MAX);
        Distinct { probes, oldest }
    }
}

/// A port as tracked: protocol and number (53/tcp and 53/udp are two ports).
pub fn port_key(proto: u8, port: u16) -> u32 {
    (u32::from(proto) << 16) | u32::from(port)
}

#[derive(Debug)]
struct Source {
    ports: Distinct<u32>,
    hosts: Distinct<[u8; 16]>,
    /// Until when (ms) the source counts as detected: no new detection, notes on its events.
    flagged_until: i64,
    /// The detected scan's kind, `None` for mixed.
    class: Option<Kind>,
    last_seen: i64,
}

impl Source {
    fn new() -> Self {
        Source {
            ports: Distinct::new(),
            hosts: Distinct::new(),
            flagged_until: i64::MIN,
            class: None,
            last_seen: i64::MIN,
        }
    }
}

/// What was crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossed {
    /// `ports` distinct destination ports.
    Ports(usize),
    /// `hosts` distinct destination hosts.
    Hosts(usize),
}

/// What one probe meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Nothing yet.
    Nothing,
    /// The source was already detected as a scan of this kind (`None`: mixed).
    Flagged(Option<Kind>),
    /// This probe completed a scan.
    Detected(Option<Kind>, Crossed),
}

/// The saved form of a [`Tracker`].
#[derive(Serialize, Deserialize, Default)]
pub struct Saved {
    #[serde(default)]
    sources: Vec<SavedSource>,
    #[serde(default)]
    latest: i64,
}

#[derive(Serialize, Deserialize)]
struct SavedSource {
    src: [u8; 16],
    #[serde(default)]
    ports: Vec<(u32, i64, u8)>,
    #[serde(default)]
    hosts: Vec<([u8; 16], i64, u8)>,
    #[serde(default)]
    flagged_until: i64,
    /// The kind's byte; 255 for mixed.
    #[serde(default)]
    class: u8,
    #[serde(default)]
    last_seen: i64,
}

/// Every recently active source.
pub struct Tracker {
    limits: Limits,
    sources: HashMap<[u8; 16], Source>,
    latest: i64,
    since_prune: usize,
}

impl Tracker {
    pub fn new(limits: Limits) -> Self {
        Tracker {
            limits,
            sources: HashMap::new(),
            latest: i64::MIN,
            since_prune: 0,
        }
    }

    /// Number of sources tracked.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Records a probe from `src` to host `dst` and (for protocols with ports) `port` (see
    /// [`port_key`]) at `at`. A detection flags the source for `flag_ms`.
    pub fn record(
        &mut self,
        src: [u8; 16],
        dst: [u8; 16],
        port: Option<u32>,
        kind: Kind,
        at: i64,
        flag_ms: i64,
    ) -> Seen {
        let limits = self.limits;
        self.latest = self.latest.max(at);
        if port.is_none() && limits.hosts == 0 && !self.sources.contains_key(&src) {
            return Seen::Nothing;
        }
        let s = self.sources.entry(src).or_insert_with(Source::new);
        s.last_seen = s.last_seen.max(at);
        if at < s.flagged_until {
            return Seen::Flagged(s.class);
        }
        let horizon = at.saturating_sub(limits.window_ms);
        let mut crossed = None;
        if let Some(p) = port
            && s.ports.touch(p, at, kind, horizon, limits.ports) >= limits.ports
        {
            crossed = Some((classify(s.ports.kinds()), Crossed::Ports(limits.ports)));
        }
        if crossed.is_none()
            && limits.hosts > 0
            && s.hosts.touch(dst, at, kind, horizon, limits.hosts) >= limits.hosts
        {
            crossed = Some((classify(s.hosts.kinds()), Crossed::Hosts(limits.hosts)));
        }
        let Some((class, what)) = crossed else {
            return Seen::Nothing;
        };
        s.flagged_until = at.saturating_add(flag_ms);
        s.class = class;
        s.ports.clear();
        s.hosts.clear();
        Seen::Detected(class, what)
    }

    /// Forgets sources idle for a window and not flagged, every 64 batches or at once when
    /// more than `max_sources` are tracked; then, if still too many, the least recently
    /// active. Time is the latest event time seen, so a replayed old log is not pruned
    /// against today's clock.
    pub fn prune(&mut self) {
        self.since_prune += 1;
        if self.since_prune < 64 && self.sources.len() <= self.limits.max_sources {
            return;
        }
        self.prune_now();
    }

    fn prune_now(&mut self) {
        self.since_prune = 0;
        let now = self.latest;
        let horizon = now.saturating_sub(self.limits.window_ms);
        self.sources
            .retain(|_, s| s.flagged_until > now || s.last_seen >= horizon);
        let excess = self.sources.len().saturating_sub(self.limits.max_sources);
        if excess > 0 {
            let mut seen: Vec<i64> = self.sources.values().map(|s| s.last_seen).collect();
            let (_, cutoff, _) = seen.select_nth_unstable(excess - 1);
            let cutoff = *cutoff;
            let mut left = excess;
            self.sources.retain(|_, s| {
                if left > 0 && s.last_seen <= cutoff {
                    left -= 1;
                    return false;
                }
                true
            });
        }
    }

    /// The state to snapshot.
    pub fn save(&self) -> Saved {
        Saved {
            sources: self
                .sources
                .iter()
                .map(|(src, s)| SavedSource {
                    src: *src,
                    ports: s.ports.save(),
                    hosts: s.hosts.save(),
                    flagged_until: s.flagged_until,
                    class: s.class.map_or(u8::MAX, |k| k as u8),
                    last_seen: s.last_seen,
                })
                .collect(),
            latest: self.latest,
        }
    }

    /// Replaces the state with a snapshot's, cut to the current limits (they may have been
    /// lowered since): sets keep their newest probes below the thresholds, host sets are
    /// dropped when hosts are no longer tracked, and at most `max_sources` sources are kept.
    pub fn load(&mut self, saved: Saved) {
        let l = self.limits;
        self.latest = saved.latest;
        self.sources = saved
            .sources
            .into_iter()
            .map(|s| {
                let source = Source {
                    ports: Distinct::load(s.ports, l.ports.saturating_sub(1)),
                    hosts: Distinct::load(s.hosts, l.hosts.saturating_sub(1)),
                    flagged_until: s.flagged_until,
                    class: Kind::from_u8(s.class),
                    last_seen: s.last_seen,
                };
                (s.src, source)
            })
            .collect();
        self.prune_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(ports: usize, hosts: usize) -> Limits {
        Limits {
            ports,
            hosts,
            window_ms: 10_000,
            max_sources: 1000,
        }
    }

    fn src(n: u8) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[15] = n;
        k
    }

    #[test]
    fn sets_never_outgrow_their_threshold() {
        let mut t = Tracker::new(limits(5, 3));
        for i in 0..1000u16 {
            let dst = src((i % 7) as u8);
            t.record(
                src(1),
                dst,
                Some(port_key(6, i)),
                Kind::Syn,
                i64::from(i),
                60_000,
            );
            let s = &t.sources[&src(1)];
            assert!(s.ports.probes.len() < 5 && s.hosts.probes.len() < 3);
            assert!(s.ports.probes.capacity() <= 5 && s.hosts.probes.capacity() <= 4);
        }
    }

    #[test]
    fn the_least_recently_active_sources_go_first_beyond_the_cap() {
        let mut t = Tracker::new(Limits {
            max_sources: 10,
            ..limits(20, 0)
        });
        for n in 0..25u8 {
            t.record(src(n), src(0), Some(1), Kind::Syn, i64::from(n), 1);
        }
        t.prune();
        assert_eq!(t.len(), 10);
        assert!((15..25).all(|n| t.sources.contains_key(&src(n))));
    }

    #[test]
    fn idle_sources_are_forgotten_by_event_time() {
        let mut t = Tracker::new(limits(20, 0));
        t.record(src(1), src(0), Some(1), Kind::Syn, 0, 1);
        t.record(src(2), src(0), Some(1), Kind::Syn, 5_000, 1);
        t.record(src(3), src(0), Some(1), Kind::Syn, 14_000, 1);
        for _ in 0..64 {
            t.prune();
        }
        assert_eq!(
            t.len(),
            2,
            "only the source idle longer than the window goes"
        );
    }
}
