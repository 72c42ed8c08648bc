//! The `[run]` and `[metrics]` sections: how a live run batches, how much it queues, and
//! where it serves Prometheus metrics.

use super::ConfigError;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRun {
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    batch_deadline: Option<Duration>,
    queue: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    listen: Option<String>,
}

/// How a live run (`portcullis run`) works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Longest time the first event of a batch waits for the batch to fill.
    pub batch_deadline: Duration,
    /// Chunks of lines the sources may queue ahead of the worker before they wait.
    pub queue: usize,
    /// Where to serve Prometheus metrics (`GET /metrics`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            batch_deadline: Duration::from_millis(10),
            queue: 64,
            metrics_listen: None,
        }
    }
}

pub(super) fn validate(
    run: &RawRun,
    metrics: &RawMetrics,
    key_err: &impl Fn(String, String) -> ConfigError,
) -> Result<ServiceConfig, ConfigError> {
    let mut out = ServiceConfig::default();
    if let Some(d) = run.batch_deadline {
        if d.is_zero() || d > Duration::from_secs(60) {
            return Err(key_err(
                "run.batch_deadline".into(),
                "must be 1ms to 60s".into(),
            ));
        }
        out.batch_deadline = d;
    }
    if let Some(q) = run.queue {
        if !(1..=65_536).contains(&q) {
            return Err(key_err("run.queue".into(), "must be 1 to 65536".into()));
        }
        out.queue = q;
    }
    if let Some(text) = &metrics.listen {
        let addr: SocketAddr = text.parse().map_err(|_| {
            key_err(
                "metrics.listen".into(),
                format!("{text:?} is not an address and port, e.g. \"127.0.0.1:9464\""),
            )
        })?;
        out.metrics_listen = Some(addr);
    }
    Ok(out)
}
