//! `geoip-enrich`: records what the host's GeoIP/ASN databases know about each event's
//! source (country, city, AS number, organisation) in the event, where every later stage
//! reads it (`Event::country()`, `asn()`, `org()`, `city()`) at no cost.
//!
//! One `geo-lookup` call per batch for the batch's distinct sources not already in a
//! bounded cache. Sources no database knows (private, reserved, unallocated) are left
//! without enrichment and counted as `unknown`.
//!
//! Config: `cache_entries` (default 65536, 0 disables the cache).

use portcullis_sdk::host::{self, GeoInfo};
use portcullis_sdk::{Batch, Config, ConfigError, ConfigKey, Description, Output, Plugin};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "default_cache")]
    cache_entries: usize,
}

fn default_cache() -> usize {
    65_536
}

/// The enricher: a bounded cache of answers by source.
pub struct GeoipEnrich {
    cache: HashMap<[u8; 16], Option<GeoInfo>>,
    cache_entries: usize,
}

impl GeoipEnrich {
    /// Fills the cache with answers for every source of `batch` it does not hold yet.
    fn look_up_missing(&mut self, batch: &Batch<'_>) -> HashMap<[u8; 16], Option<GeoInfo>> {
        let mut fresh: HashMap<[u8; 16], Option<GeoInfo>> = HashMap::new();
        let mut keys = Vec::new();
        let mut addrs = Vec::new();
        for ev in batch.events() {
            let (Some(src), key) = (ev.src(), ev.src_key()) else {
                continue;
            };
            if self.cache.contains_key(&key) || fresh.contains_key(&key) {
                continue;
            }
            fresh.insert(key, None);
            keys.push(key);
            addrs.push(src);
        }
        if !addrs.is_empty() {
            for (key, answer) in keys.into_iter().zip(host::geo_lookup(&addrs)) {
                fresh.insert(key, answer);
            }
        }
        if self.cache_entries > 0 {
            if self.cache.len() + fresh.len() > self.cache_entries {
                self.cache.clear();
            }
            if fresh.len() <= self.cache_entries {
                self.cache
                    .extend(fresh.iter().map(|(k, v)| (*k, v.clone())));
            }
        }
        fresh
    }
}

impl Plugin for GeoipEnrich {
    fn describe() -> Description {
        Description::new(
            "Records each source's country, city, AS number and organisation from the host's GeoIP/ASN databases.",
            vec![ConfigKey::new(
                "cache_entries",
                "integer",
                Some("65536"),
                "answers kept between batches (0: none)",
            )],
        )
    }

    fn init(config: Config) -> Result<Self, ConfigError> {
        let s: Settings = config.parse()?;
        Ok(GeoipEnrich {
            cache: HashMap::new(),
            cache_entries: s.cache_entries,
        })
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) {
        let fresh = self.look_up_missing(batch);
        let (mut known, mut unknown) = (0u64, 0u64);
        // One set of notes per distinct source; the host applies them to all its events.
        let mut noted: HashSet<[u8; 16]> = HashSet::new();
        for ev in batch.events() {
            let (Some(src), key) = (ev.src(), ev.src_key()) else {
                continue;
            };
            let Some(answer) = fresh.get(&key).or_else(|| self.cache.get(&key)) else {
                continue;
            };
            let Some(geo) = answer else {
                unknown += 1;
                continue;
            };
            known += 1;
            if !noted.insert(key) {
                continue;
            }
            if let Some(c) = &geo.country {
                out.annotate_source(src, "country", c.as_str());
            }
            if let Some(a) = geo.asn {
                out.annotate_source(src, "asn", a.to_string());
            }
            if let Some(o) = &geo.org {
                out.annotate_source(src, "org", o.as_str());
            }
            if let Some(c) = &geo.city {
                out.annotate_source(src, "city", c.as_str());
            }
        }
        host::counter_add("known", known);
        host::counter_add("unknown", unknown);
    }
}

portcullis_sdk::export_plugin!(GeoipEnrich);

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::testing::{BatchBuilder, TestEvent};

    #[test]
    fn annotates_known_sources_and_counts_unknown_ones() {
        host::set_test_geo(
            "81.2.69.142".parse().unwrap(),
            GeoInfo {
                country: Some("GB".into()),
                country_name: Some("United Kingdom".into()),
                city: Some("London".into()),
                asn: Some(20_712),
                org: Some("Andrews & Arnold Ltd".into()),
            },
        );
        let mut p = GeoipEnrich::init(Config::from_json("{}")).unwrap();
        let mut b = BatchBuilder::new();
        b.push(TestEvent::tcp("81.2.69.142", "192.0.2.1", 22));
        b.push(TestEvent::tcp("10.0.0.1", "192.0.2.1", 22));
        b.push(TestEvent::tcp("81.2.69.142", "192.0.2.1", 23));
        let batch = b.batch();
        let mut out = Output::for_batch(&batch);
        p.process(&batch, &mut out);
        let notes: Vec<(String, &str, &str)> = out
            .source_annotations()
            .iter()
            .map(|a| (a.src.to_string(), a.key.as_str(), a.value.as_str()))
            .collect();
        let london = "81.2.69.142".to_string();
        let expected = [
            (london.clone(), "country", "GB"),
            (london.clone(), "asn", "20712"),
            (london.clone(), "org", "Andrews & Arnold Ltd"),
            (london, "city", "London"),
        ];
        assert_eq!(
            notes, expected,
            "one set of notes for the source seen twice"
        );
        assert_eq!(host::test_metric("unknown"), Some(1.0));
        assert_eq!(p.cache.len(), 2);
    }

    #[test]
    fn refuses_unknown_keys() {
        let e = GeoipEnrich::init(Config::from_json(r#"{"cache": 5}"#))
            .err()
            .unwrap();
        assert!(e.to_string().contains("cache"), "{e}");
    }
}
