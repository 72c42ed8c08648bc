//! The state each stage's store carries, and the host imports the contract gives plugins.

use super::bindings::portcullis::plugin::{host, types};
use crate::clock::Clock;
use crate::geo::GeoService;
use crate::metrics::PluginMetrics;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use wasmtime::StoreLimits;

/// Longest plugin log message kept; the rest is cut so a plugin cannot flood the log.
const MAX_LOG_BYTES: usize = 4096;
/// Most addresses answered by one `geo-lookup` call; the rest get `none`.
const MAX_GEO_BATCH: usize = 65_536;

/// What every stage's imports reach: the clock, the GeoIP databases, the metrics.
#[derive(Clone)]
pub struct HostServices {
    /// The host's clock.
    pub clock: Arc<dyn Clock>,
    /// The GeoIP/ASN databases (possibly none).
    pub geo: Arc<GeoService>,
    /// Where plugin metrics go.
    pub metrics: Arc<PluginMetrics>,
}

/// Per-stage store data.
pub struct StageState {
    pub stage: Arc<str>,
    pub services: HostServices,
    pub limits: StoreLimits,
}

impl types::Host for StageState {}

/// An address from its contract form.
pub(crate) fn ip_from_wit(a: &types::IpAddr) -> IpAddr {
    match *a {
        types::IpAddr::V4(v) => IpAddr::V4(Ipv4Addr::from(v)),
        types::IpAddr::V6((hi, lo)) => {
            IpAddr::V6(Ipv6Addr::from((u128::from(hi) << 64) | u128::from(lo)))
        }
    }
}

impl host::Host for StageState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        let mut end = message.len().min(MAX_LOG_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        // One log record per message: a plugin cannot forge extra log lines.
        let message: String = message[..end]
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let stage = &*self.stage;
        match level {
            types::LogLevel::Debug => tracing::debug!(stage, "{message}"),
            types::LogLevel::Info => tracing::info!(stage, "{message}"),
            types::LogLevel::Warn => tracing::warn!(stage, "{message}"),
            types::LogLevel::Error => tracing::error!(stage, "{message}"),
        }
    }

    fn now_ms(&mut self) -> i64 {
        self.services.clock.now_ms()
    }

    fn geo_lookup(&mut self, addrs: Vec<types::IpAddr>) -> Vec<Option<types::Geo>> {
        self.services.geo.tell_gaps_once();
        let geo = &self.services.geo;
        if geo.current().is_empty() {
            return vec![None; addrs.len()];
        }
        // A batch repeats its busiest sources many times: look each address up once.
        let mut seen: HashMap<IpAddr, Option<types::Geo>> = HashMap::new();
        addrs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i >= MAX_GEO_BATCH {
                    return None;
                }
                let ip = ip_from_wit(a);
                seen.entry(ip)
                    .or_insert_with(|| {
                        geo.lookup(ip).map(|g| types::Geo {
                            country: g.country,
                            country_name: g.country_name,
                            city: g.city,
                            asn: g.asn,
                            org: g.org,
                        })
                    })
                    .clone()
            })
            .collect()
    }

    fn counter_add(&mut self, name: String, delta: u64) {
        self.services.metrics.counter_add(&self.stage, &name, delta);
    }

    fn gauge_set(&mut self, name: String, value: f64) {
        self.services.metrics.gauge_set(&self.stage, &name, value);
    }
}
