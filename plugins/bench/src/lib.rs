//! `bench`: a benchmark fixture, not a shipped plugin. It does a fixed, known amount of work
//! per event so `host/benches/boundary.rs` can measure what crossing the plugin boundary
//! costs. Built with the standard plugins but not embedded in the binary.
//!
//! Config: `mode` is
//! - `"noop"`: keeps everything and does nothing (the boundary's floor);
//! - `"count"`: adds 1 per event to a per-source counter (`HashMap<[u8; 16], u64>`, std
//!   SipHash), the smallest piece of real per-event work;
//! - `"enrich"`: asks the host about every event's source in ONE batched `geo-lookup` call
//!   and annotates each event with the well-known keys `country` and `asn` where known.
//!   Sources are not deduplicated within a batch, so the figure is the per-event cost
//!   of a lookup, not the cost on a log dominated by a few sources.

use portcullis_sdk::{Batch, Config, ConfigError, ConfigKey, Description, Output, Plugin, host};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Noop,
    Count,
    Enrich,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    mode: Mode,
}

/// The fixture stage.
pub struct Bench {
    mode: Mode,
    counts: HashMap<[u8; 16], u64>,
}

impl Bench {
    /// Events counted so far from the source with key `src_key` (count mode).
    pub fn count_of(&self, src_key: &[u8; 16]) -> u64 {
        self.counts.get(src_key).copied().unwrap_or(0)
    }

    fn enrich(batch: &Batch<'_>, out: &mut Output) {
        let events: Vec<_> = batch
            .events()
            .filter_map(|ev| ev.src().map(|ip| (ev, ip)))
            .collect();
        let addrs: Vec<IpAddr> = events.iter().map(|(_, ip)| *ip).collect();
        let answers = host::geo_lookup(&addrs);
        for ((ev, _), geo) in events.iter().zip(answers) {
            let Some(geo) = geo else { continue };
            if let Some(country) = geo.country {
                out.annotate(ev, "country", country);
            }
            if let Some(asn) = geo.asn {
                out.annotate(ev, "asn", asn.to_string());
            }
        }
    }
}

impl Plugin for Bench {
    fn describe() -> Description {
        Description::new(
            "Benchmark fixture: does nothing, counts per source, or enriches with one batched lookup.",
            vec![ConfigKey::new(
                "mode",
                "\"noop\", \"count\" or \"enrich\"",
                None,
                "the fixed work done per event",
            )],
        )
    }

    fn init(config: Config) -> Result<Self, ConfigError> {
        let s: Settings = config.parse()?;
        Ok(Bench {
            mode: s.mode,
            counts: HashMap::new(),
        })
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) {
        match self.mode {
            Mode::Noop => {}
            Mode::Count => {
                for ev in batch.events() {
                    *self.counts.entry(ev.src_key()).or_insert(0) += 1;
                }
            }
            Mode::Enrich => Self::enrich(batch, out),
        }
    }
}

portcullis_sdk::export_plugin!(Bench);

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::host::{GeoInfo, set_test_geo};
    use portcullis_sdk::testing::{BatchBuilder, TestEvent};

    fn bench(mode: &str) -> Bench {
        Bench::init(Config::from_json(format!(r#"{{"mode": "{mode}"}}"#))).unwrap()
    }

    fn batch_of(sources: &[&str]) -> BatchBuilder {
        let mut b = BatchBuilder::new();
        for src in sources {
            b.push(TestEvent::tcp(src, "192.0.2.1", 443));
        }
        b
    }

    #[test]
    fn noop_keeps_everything_and_says_nothing() {
        let b = batch_of(&["198.51.100.1", "10.0.0.1"]);
        let batch = b.batch();
        let mut out = Output::for_batch(&batch);
        bench("noop").process(&batch, &mut out);
        assert_eq!(out.dropped_count(), 0);
        assert!(out.annotations().is_empty() && out.actions().is_empty());
    }

    #[test]
    fn count_counts_per_source() {
        let b = batch_of(&["198.51.100.1", "198.51.100.1", "2001:db8::1"]);
        let batch = b.batch();
        let mut p = bench("count");
        for _ in 0..2 {
            p.process(&batch, &mut Output::for_batch(&batch));
        }
        let keys: Vec<[u8; 16]> = batch.events().map(|e| e.src_key()).collect();
        assert_eq!((p.count_of(&keys[0]), p.count_of(&keys[2])), (4, 2));
    }

    #[test]
    fn enrich_annotates_known_sources_only() {
        set_test_geo(
            "81.2.69.142".parse().unwrap(),
            GeoInfo {
                country: Some("GB".into()),
                asn: Some(20712),
                ..GeoInfo::default()
            },
        );
        let b = batch_of(&["198.51.100.1", "81.2.69.142"]);
        let batch = b.batch();
        let mut out = Output::for_batch(&batch);
        bench("enrich").process(&batch, &mut out);
        let notes: Vec<(u32, &str, &str)> = out
            .annotations()
            .iter()
            .map(|a| (a.event, a.key.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(notes, [(1, "country", "GB"), (1, "asn", "20712")]);
    }

    #[test]
    fn refuses_an_unknown_mode() {
        let e = Bench::init(Config::from_json(r#"{"mode": "fast"}"#))
            .err()
            .unwrap();
        assert_eq!(e.key.as_deref(), Some("mode"));
    }
}
