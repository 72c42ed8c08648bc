//! `counter`: counts events by one or more keys, in total and in a sliding window of event
//! time, and reports the top keys of each. It keeps every event.
//!
//! Config (`[pipeline.config]`, see `docs/standard-plugins/counter.md`):
//! - `by`: key kinds, each one of `src`, `net`, `asn`, `org`, `country`, `dport`, `prefix`,
//!   `proto` (default `["src"]`);
//! - `net_prefix_v4` / `net_prefix_v6`: prefix lengths of `net` (default 24 / 64);
//! - `window`: the sliding window (default `10m`), kept as ten sub-window buckets;
//! - `top`: keys reported per kind (default 10);
//! - `capacity`: Space-Saving counters per kind and per bucket (default 1024).
//!
//! Memory is bounded whatever the number of distinct keys: each kind holds at most
//! `capacity` counters for the total and `capacity` per window bucket (see
//! [`space_saving`] for the error bound). Gauges are set after each batch; `tick` (the end
//! of `run --once`) logs the top keys at `info`.

use portcullis_sdk::host::{self, Level};
use portcullis_sdk::{
    Batch, Config, ConfigError, ConfigKey, Description, Duration, Output, Plugin, state,
};
use serde::{Deserialize, Serialize};

mod key;
mod report;
pub mod space_saving;
mod window;

use key::{Key, Kind};
use space_saving::{SavedSketch, SpaceSaving};
use window::{SavedWindow, Window};

/// Most counters per kind and bucket a config may ask for.
const MAX_CAPACITY: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_by")]
    by: Vec<String>,
    #[serde(default = "default_v4")]
    net_prefix_v4: u8,
    #[serde(default = "default_v6")]
    net_prefix_v6: u8,
    #[serde(default = "default_window")]
    window: Duration,
    #[serde(default = "default_top")]
    top: usize,
    #[serde(default = "default_capacity")]
    capacity: usize,
}

fn default_by() -> Vec<String> {
    vec!["src".to_string()]
}
fn default_v4() -> u8 {
    24
}
fn default_v6() -> u8 {
    64
}
fn default_window() -> Duration {
    Duration(600)
}
fn default_top() -> usize {
    10
}
fn default_capacity() -> usize {
    1024
}

/// The counts of one key kind.
struct Tally {
    kind: Kind,
    total: SpaceSaving<Key>,
    window: Window,
}

/// The counter: one tally per configured kind.
pub struct Counter {
    tallies: Vec<Tally>,
    top: usize,
    capacity: usize,
    window_text: String,
    events: u64,
}

/// The saved state.
#[derive(Serialize, Deserialize)]
struct Saved {
    events: u64,
    tallies: Vec<SavedTally>,
}

#[derive(Serialize, Deserialize)]
struct SavedTally {
    kind: String,
    total: SavedSketch<Key>,
    window: SavedWindow,
}

impl Plugin for Counter {
    fn describe() -> Description {
        Description::new(
            "Counts events by source, network, AS, organisation, country, port, prefix or protocol; reports the top keys in total and in a sliding window.",
            vec![
                ConfigKey::new(
                    "by",
                    "list of key kinds",
                    Some("[\"src\"]"),
                    "what to count by: src, net, asn, org, country, dport, prefix, proto",
                ),
                ConfigKey::new(
                    "net_prefix_v4",
                    "prefix length",
                    Some("24"),
                    "IPv4 network size for `net`",
                ),
                ConfigKey::new(
                    "net_prefix_v6",
                    "prefix length",
                    Some("64"),
                    "IPv6 network size for `net`",
                ),
                ConfigKey::new(
                    "window",
                    "duration",
                    Some("10m"),
                    "the sliding window of log time (slides in tenths)",
                ),
                ConfigKey::new("top", "integer", Some("10"), "keys reported per kind"),
                ConfigKey::new(
                    "capacity",
                    "integer",
                    Some("1024"),
                    "counters per kind (and per tenth of the window); counts are over by at most events/capacity",
                ),
            ],
        )
    }

    fn init(config: Config) -> Result<Self, ConfigError> {
        let raw: RawConfig = config.parse()?;
        if !(1..=32).contains(&raw.net_prefix_v4) {
            return Err(ConfigError::key("net_prefix_v4", "must be 1-32"));
        }
        if !(1..=128).contains(&raw.net_prefix_v6) {
            return Err(ConfigError::key("net_prefix_v6", "must be 1-128"));
        }
        if raw.window.secs() == 0 {
            return Err(ConfigError::key("window", "must be longer than 0s"));
        }
        if raw.top == 0 {
            return Err(ConfigError::key("top", "must be at least 1"));
        }
        if raw.capacity < raw.top || raw.capacity > MAX_CAPACITY {
            return Err(ConfigError::key(
                "capacity",
                format!("must be between `top` ({}) and {MAX_CAPACITY}", raw.top),
            ));
        }
        if raw.by.is_empty() {
            return Err(ConfigError::key("by", "names no key to count by"));
        }
        let window_ms = raw.window.secs().saturating_mul(1000).min(i64::MAX as u64) as i64;
        let mut tallies: Vec<Tally> = Vec::new();
        for (i, name) in raw.by.iter().enumerate() {
            let kind = Kind::parse(name, i, raw.net_prefix_v4, raw.net_prefix_v6)?;
            if tallies.iter().any(|t| t.kind == kind) {
                return Err(ConfigError::key(
                    format!("by[{i}]"),
                    format!("{name:?} is listed twice"),
                ));
            }
            tallies.push(Tally {
                kind,
                total: SpaceSaving::new(raw.capacity),
                window: Window::new(window_ms, raw.capacity),
            });
        }
        let mut window_text = String::new();
        let _ = portcullis_sdk::format_duration(raw.window.secs(), &mut window_text);
        Ok(Counter {
            tallies,
            top: raw.top,
            capacity: raw.capacity,
            window_text,
            events: 0,
        })
    }

    fn process(&mut self, batch: &Batch<'_>, _out: &mut Output) {
        for ev in batch.events() {
            let at = ev.time_ms().unwrap_or(batch.now_ms());
            self.events += 1;
            for t in &mut self.tallies {
                let key = t.kind.key_of(&ev);
                t.window.add(key.clone(), at);
                t.total.add(key, 1);
            }
        }
        host::gauge_set("events_total", self.events as f64);
        if let Some(t) = self.tallies.first() {
            host::gauge_set("events_window", t.window.total() as f64);
        }
        for t in &self.tallies {
            let name = format!("{}_counters", t.kind.name());
            host::gauge_set(&name, (t.total.len() + t.window.counters()) as f64);
        }
    }

    fn tick(&mut self, _now_ms: i64, _out: &mut Output) {
        for line in self.report() {
            host::log(Level::Info, &line);
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        state::save(&Saved {
            events: self.events,
            tallies: self
                .tallies
                .iter()
                .map(|t| SavedTally {
                    kind: t.kind.identity(),
                    total: t.total.save(),
                    window: t.window.save(),
                })
                .collect(),
        })
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let saved: Saved = state::load(bytes)?;
        self.events = saved.events;
        // Kinds saved under other settings (a capacity, window or prefix length changed
        // since) start afresh: their counts would not keep the documented bound.
        for s in saved.tallies {
            let Some(t) = self
                .tallies
                .iter_mut()
                .find(|t| t.kind.identity() == s.kind)
            else {
                continue;
            };
            if let Some(total) = SpaceSaving::load(s.total, self.capacity) {
                t.total = total;
                t.window.load(s.window);
            }
        }
        Ok(())
    }
}

impl Counter {
    /// The report lines, two per kind: in total, then in the window.
    pub fn report(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for t in &self.tallies {
            let top = t.total.top(self.top);
            lines.push(report::line(
                t.kind.name(),
                "in total",
                t.total.total(),
                &report::over_by(t.total.error_bound()),
                self.top,
                top.iter().map(|s| (&s.key, s.count)),
            ));
            let w = t.window.top(self.top);
            lines.push(report::line(
                t.kind.name(),
                &format!("in the last {}", self.window_text),
                w.total,
                &report::within(w.error_bound),
                self.top,
                w.top.iter().map(|(k, c)| (k, *c)),
            ));
        }
        lines
    }

    /// Bytes of every summary's tables (see [`SpaceSaving::table_bytes`]).
    pub fn table_bytes(&self) -> usize {
        self.tallies
            .iter()
            .map(|t| t.total.table_bytes() + t.window.table_bytes())
            .sum()
    }
}

portcullis_sdk::export_plugin!(Counter);

#[cfg(test)]
mod tests;
