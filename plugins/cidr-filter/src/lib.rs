//! `cidr-filter`: drops events whose source or destination lies in configured networks.
//!
//! Config (`[pipeline.config]`):
//! - `drop_sources`: networks (`198.51.100.0/24`, `2001:db8::/32`, a bare address) or the
//!   name `private` for the built-in set of private and reserved ranges; default `["private"]`.
//! - `drop_destinations`: the same, matched against the destination; default `[]`.

use portcullis_sdk::{
    Batch, Config, ConfigError, ConfigKey, Description, IpNet, Output, Plugin, host,
};
use serde::Deserialize;
use std::net::IpAddr;

mod reserved;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_drop_sources")]
    drop_sources: Vec<String>,
    #[serde(default)]
    drop_destinations: Vec<String>,
}

fn default_drop_sources() -> Vec<String> {
    vec!["private".to_string()]
}

/// The filter: two lists of networks.
pub struct CidrFilter {
    sources: Vec<IpNet>,
    destinations: Vec<IpNet>,
}

fn networks(key: &str, items: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    let mut nets = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if item == "private" {
            nets.extend(reserved::networks());
            continue;
        }
        let net = IpNet::parse(item).map_err(|e| {
            ConfigError::key(
                format!("{key}[{i}]"),
                format!("{item:?}: {e} (or use \"private\")"),
            )
        })?;
        nets.push(net);
    }
    Ok(nets)
}

fn matches(nets: &[IpNet], ip: Option<IpAddr>) -> bool {
    ip.is_some_and(|ip| nets.iter().any(|n| n.contains(ip)))
}

impl Plugin for CidrFilter {
    fn describe() -> Description {
        Description::new(
            "Drops events whose source or destination lies in the listed networks.",
            vec![
                ConfigKey::new(
                    "drop_sources",
                    "list of networks, or \"private\"",
                    Some(r#"["private"]"#),
                    "drop events from these sources (\"private\": private and reserved ranges)",
                ),
                ConfigKey::new(
                    "drop_destinations",
                    "list of networks, or \"private\"",
                    Some("[]"),
                    "drop events to these destinations",
                ),
            ],
        )
    }

    fn init(config: Config) -> Result<Self, ConfigError> {
        let raw: RawConfig = config.parse()?;
        Ok(CidrFilter {
            sources: networks("drop_sources", &raw.drop_sources)?,
            destinations: networks("drop_destinations", &raw.drop_destinations)?,
        })
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) {
        for ev in batch.events() {
            if matches(&self.sources, ev.src()) || matches(&self.destinations, ev.dst()) {
                out.drop_event(&ev);
            }
        }
        host::counter_add("dropped", out.dropped_count() as u64);
    }
}

portcullis_sdk::export_plugin!(CidrFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::testing::{BatchBuilder, TestEvent};

    fn filter(json: &str) -> CidrFilter {
        CidrFilter::init(Config::from_json(json)).unwrap()
    }

    #[test]
    fn default_drops_private_sources_only() {
        let mut f = filter("{}");
        let mut b = BatchBuilder::new();
        for src in [
            "10.1.2.3",
            "192.168.0.9",
            "172.20.0.1",
            "203.0.113.5",
            "fe80::1",
            "2001:db8::7",
            "100.64.1.1",
            "127.0.0.1",
        ] {
            b.push(TestEvent::tcp(src, "192.0.2.1", 22));
        }
        let batch = b.batch();
        let mut out = Output::for_batch(&batch);
        f.process(&batch, &mut out);
        let kept: Vec<String> = batch
            .events()
            .filter(|e| !out.is_dropped(e))
            .map(|e| e.src().unwrap().to_string())
            .collect();
        assert_eq!(kept, ["203.0.113.5", "2001:db8::7"]);
    }

    #[test]
    fn drops_by_destination_and_custom_sources() {
        let mut f =
            filter(r#"{"drop_sources": ["198.51.100.0/24"], "drop_destinations": ["192.0.2.99"]}"#);
        let mut b = BatchBuilder::new();
        b.push(TestEvent::tcp("198.51.100.20", "192.0.2.1", 22));
        b.push(TestEvent::tcp("203.0.113.5", "192.0.2.99", 22));
        b.push(TestEvent::tcp("10.0.0.1", "192.0.2.1", 22));
        let batch = b.batch();
        let mut out = Output::for_batch(&batch);
        f.process(&batch, &mut out);
        let dropped: Vec<bool> = batch.events().map(|e| out.is_dropped(&e)).collect();
        assert_eq!(dropped, [true, true, false]);
    }

    #[test]
    fn names_the_bad_entry() {
        let e = CidrFilter::init(Config::from_json(
            r#"{"drop_sources": ["private", "10.0.0.0/40"]}"#,
        ))
        .err()
        .unwrap();
        assert_eq!(e.key.as_deref(), Some("drop_sources[1]"));
        assert!(e.message.contains("/40"), "{e}");
        let e = CidrFilter::init(Config::from_json(r#"{"drop_source": []}"#))
            .err()
            .unwrap();
        assert!(e.to_string().contains("drop_source"), "{e}");
    }
}
