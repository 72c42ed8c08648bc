//! `cidr-filter`: drops events by source or destination network, log prefix, interface,
//! direction, protocol or destination port, with `keep_*` exceptions.
//!
//! Config (`[pipeline.config]`), every key a list, every list optional:
//! - `drop_sources`, `drop_destinations`: networks (`198.51.100.0/24`, `2001:db8::/32`, a
//!   bare address) or `"private"` (the built-in private and reserved set); `drop_sources`
//!   defaults to `["private"]`, everything else to `[]`;
//! - `drop_prefixes`: log prefixes, exact (compared without surrounding spaces) or ending in
//!   `*` (`"DROP*"`);
//! - `drop_in_interfaces`, `drop_out_interfaces`: interface names, exact or ending in `*`
//!   or `+` (`"eth*"`, `"eth+"`);
//! - `drop_directions`: `inbound` (IN set, OUT empty), `outbound` (IN empty, OUT set),
//!   `forward` (both set);
//! - `drop_protocols`: `tcp`, `udp`, `icmp`, `icmpv6`, `udplite`, `sctp` or numbers 0-255;
//! - `drop_ports`: destination ports, ranges (`"6000-6063"`), optionally for one protocol
//!   (`"53/udp"`);
//! - `keep_*`: the same eight keys, as exceptions.
//!
//! An event is dropped when it meets at least one `drop_*` condition and no `keep_*`
//! condition. Each entry is one condition; nothing is ANDed except a port with its
//! protocol in `"53/udp"`. Network lists are merged into sorted ranges at `init`, so each
//! lookup is a binary search however long the list.

use portcullis_sdk::{Batch, Config, ConfigError, ConfigKey, Description, Output, Plugin, host};
use serde::Deserialize;

mod netset;
mod reserved;
mod rules;

use rules::{Item, RawRules, Rules};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_drop_sources")]
    drop_sources: Vec<String>,
    #[serde(default)]
    drop_destinations: Vec<String>,
    #[serde(default)]
    drop_prefixes: Vec<String>,
    #[serde(default)]
    drop_in_interfaces: Vec<String>,
    #[serde(default)]
    drop_out_interfaces: Vec<String>,
    #[serde(default)]
    drop_directions: Vec<String>,
    #[serde(default)]
    drop_protocols: Vec<Item>,
    #[serde(default)]
    drop_ports: Vec<Item>,
    #[serde(default)]
    keep_sources: Vec<String>,
    #[serde(default)]
    keep_destinations: Vec<String>,
    #[serde(default)]
    keep_prefixes: Vec<String>,
    #[serde(default)]
    keep_in_interfaces: Vec<String>,
    #[serde(default)]
    keep_out_interfaces: Vec<String>,
    #[serde(default)]
    keep_directions: Vec<String>,
    #[serde(default)]
    keep_protocols: Vec<Item>,
    #[serde(default)]
    keep_ports: Vec<Item>,
}

fn default_drop_sources() -> Vec<String> {
    vec!["private".to_string()]
}

/// The filter: what to drop, and the exceptions.
pub struct CidrFilter {
    drop: Rules,
    keep: Rules,
}

/// (key without `drop_`/`keep_`, kind, which events), for `describe`.
const KEYS: [(&str, &str, &str); 8] = [
    (
        "sources",
        "list of networks, or \"private\"",
        "events from these networks (\"private\": private and reserved ranges)",
    ),
    (
        "destinations",
        "list of networks, or \"private\"",
        "events to these networks",
    ),
    (
        "prefixes",
        "list of log prefixes",
        "events with these log prefixes, exact (surrounding spaces ignored) or ending in `*`",
    ),
    (
        "in_interfaces",
        "list of interface names",
        "events in on these interfaces (IN=), exact or ending in `*` or `+`",
    ),
    (
        "out_interfaces",
        "list of interface names",
        "events out on these interfaces (OUT=), exact or ending in `*` or `+`",
    ),
    (
        "directions",
        "list of inbound|outbound|forward",
        "events going this way: inbound (IN set, OUT empty), outbound (IN empty, OUT set), forward (both set)",
    ),
    (
        "protocols",
        "list of protocol names or numbers",
        "events of these IP protocols: tcp, udp, icmp, icmpv6, udplite, sctp, or 0-255",
    ),
    (
        "ports",
        "list of ports or ranges",
        "events to these destination ports: 22, \"6000-6063\", \"53/udp\"",
    ),
];

impl Plugin for CidrFilter {
    fn describe() -> Description {
        let mut keys = Vec::new();
        for side in ["drop", "keep"] {
            for (name, kind, doc) in KEYS {
                let default = if (side, name) == ("drop", "sources") {
                    r#"["private"]"#
                } else {
                    "[]"
                };
                let doc = match side {
                    "drop" => format!("drop {doc}"),
                    _ => format!("keep {doc}, whatever the drop_* keys say"),
                };
                keys.push(ConfigKey::new(
                    &format!("{side}_{name}"),
                    kind,
                    Some(default),
                    &doc,
                ));
            }
        }
        Description::new(
            "Drops events by network, log prefix, interface, direction, protocol or port, with keep_* exceptions.",
            keys,
        )
    }

    fn init(config: Config) -> Result<Self, ConfigError> {
        let raw: RawConfig = config.parse()?;
        let drop = Rules::new(
            "drop",
            &RawRules {
                sources: &raw.drop_sources,
                destinations: &raw.drop_destinations,
                prefixes: &raw.drop_prefixes,
                in_interfaces: &raw.drop_in_interfaces,
                out_interfaces: &raw.drop_out_interfaces,
                directions: &raw.drop_directions,
                protocols: &raw.drop_protocols,
                ports: &raw.drop_ports,
            },
        )?;
        let keep = Rules::new(
            "keep",
            &RawRules {
                sources: &raw.keep_sources,
                destinations: &raw.keep_destinations,
                prefixes: &raw.keep_prefixes,
                in_interfaces: &raw.keep_in_interfaces,
                out_interfaces: &raw.keep_out_interfaces,
                directions: &raw.keep_directions,
                protocols: &raw.keep_protocols,
                ports: &raw.keep_ports,
            },
        )?;
        Ok(CidrFilter { drop, keep })
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) {
        if self.drop.is_empty() {
            return;
        }
        let mut excepted = 0u64;
        for ev in batch.events() {
            if self.drop.matches(&ev) {
                if self.keep.matches(&ev) {
                    excepted += 1;
                } else {
                    out.drop_event(&ev);
                }
            }
        }
        host::counter_add("dropped", out.dropped_count() as u64);
        if excepted > 0 {
            host::counter_add("kept_by_exception", excepted);
        }
    }
}

portcullis_sdk::export_plugin!(CidrFilter);

#[cfg(test)]
mod tests;
