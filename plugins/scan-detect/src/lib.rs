//! `scan-detect`: finds sources probing many distinct destination ports (or hosts) within a
//! sliding window of log time, classifies the scan by protocol and TCP flags as psad does
//! (SYN, FIN, NULL, XMAS, ACK, UDP; other TCP flag sets are `TCP`, a blend is `mixed`),
//! and bans the source, notes the kind on its events, or both.
//!
//! Config (`[pipeline.config]`):
//! - `window`: the sliding window, log time (default `1m`);
//! - `ports`: distinct destination ports within the window that make a scan (default 20;
//!   a port is a protocol and a number: 53/tcp and 53/udp are two);
//! - `hosts`: distinct destination addresses within the window that make a sweep
//!   (default 0: not tracked);
//! - `action`: `"ban"`, `"annotate"` (note `scan` = the kind, on the source's events from
//!   the detection on, while it is flagged) or `"both"` (default `"ban"`);
//! - `ban_for`: how long the ban lasts, and how long a detected source stays flagged
//!   (default `1h`);
//! - `max_sources`: most sources tracked at once (default 50000).
//!
//! Time is each event's log time (the batch's `now` for lines without one), so a replayed
//! log decides as the live one did, and tests control time through the events.

use portcullis_sdk::host::{self, Level};
use portcullis_sdk::{
    Batch, Config, ConfigError, ConfigKey, Description, Duration, IpNet, Output, Plugin, state,
};
use serde::Deserialize;
use std::net::IpAddr;

mod kind;
mod tracker;

use kind::{Kind, label};
use tracker::{Crossed, Limits, Seen, Tracker, port_key};

/// The note written on a flagged source's events.
pub const NOTE: &str = "scan";
/// Largest `ports` and `hosts`: a source's sets hold up to this many entries.
const MAX_THRESHOLD: u32 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_window")]
    window: Duration,
    #[serde(default = "default_ports")]
    ports: u32,
    #[serde(default)]
    hosts: u32,
    #[serde(default)]
    action: ActionKind,
    #[serde(default = "default_ban_for")]
    ban_for: Duration,
    #[serde(default = "default_max_sources")]
    max_sources: u32,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ActionKind {
    #[default]
    Ban,
    Annotate,
    Both,
}

fn default_window() -> Duration {
    Duration(60)
}
fn default_ports() -> u32 {
    20
}
fn default_ban_for() -> Duration {
    Duration(3600)
}
fn default_max_sources() -> u32 {
    50_000
}

/// The detector and its per-source state.
pub struct ScanDetect {
    ban: bool,
    annotate: bool,
    ban_for_secs: u64,
    /// The window as written (`1m`), for reasons.
    window_text: String,
    tracker: Tracker,
}

impl Plugin for ScanDetect {
    fn describe() -> Description {
        Description::new(
            "Detects sources probing many distinct ports (or hosts) within a window, classifies the scan (SYN, FIN, NULL, XMAS, ACK, UDP) and bans or annotates them.",
            vec![
                ConfigKey::new(
                    "window",
                    "duration",
                    Some("1m"),
                    "the sliding window of log time the probes must fall within",
                ),
                ConfigKey::new(
                    "ports",
                    "integer, 2-10000",
                    Some("20"),
                    "distinct destination ports (protocol and number) from one source that make a scan",
                ),
                ConfigKey::new(
                    "hosts",
                    "integer, 0 or 2-10000",
                    Some("0"),
                    "distinct destination addresses from one source that make a sweep; 0: not tracked",
                ),
                ConfigKey::new(
                    "action",
                    "\"ban\", \"annotate\" or \"both\"",
                    Some("\"ban\""),
                    "ban the source, note `scan` = its kind on its events, or both",
                ),
                ConfigKey::new(
                    "ban_for",
                    "duration",
                    Some("1h"),
                    "how long the ban lasts and the source stays flagged (no new detection, notes on its events)",
                ),
                ConfigKey::new(
                    "max_sources",
                    "integer, at least 100",
                    Some("50000"),
                    "most sources tracked at once; beyond it the least recently active are forgotten",
                ),
            ],
        )
    }

    fn init(config: Config) -> Result<Self, ConfigError> {
        let raw: RawConfig = config.parse()?;
        if raw.window.secs() == 0 {
            return Err(ConfigError::key("window", "must be longer than 0s"));
        }
        if !(2..=MAX_THRESHOLD).contains(&raw.ports) {
            return Err(ConfigError::key(
                "ports",
                format!("{} is out of range: 2-{MAX_THRESHOLD}", raw.ports),
            ));
        }
        if raw.hosts == 1 || raw.hosts > MAX_THRESHOLD {
            return Err(ConfigError::key(
                "hosts",
                format!(
                    "{} is out of range: 0 (not tracked) or 2-{MAX_THRESHOLD}",
                    raw.hosts
                ),
            ));
        }
        if raw.ban_for.secs() == 0 {
            return Err(ConfigError::key("ban_for", "must be longer than 0s"));
        }
        if raw.max_sources < 100 {
            return Err(ConfigError::key("max_sources", "must be at least 100"));
        }
        let mut window_text = String::new();
        let _ = portcullis_sdk::format_duration(raw.window.secs(), &mut window_text);
        Ok(ScanDetect {
            ban: raw.action != ActionKind::Annotate,
            annotate: raw.action != ActionKind::Ban,
            ban_for_secs: raw.ban_for.secs(),
            window_text,
            tracker: Tracker::new(Limits {
                ports: raw.ports as usize,
                hosts: raw.hosts as usize,
                window_ms: raw.window.secs().saturating_mul(1000).min(i64::MAX as u64) as i64,
                max_sources: raw.max_sources as usize,
            }),
        })
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) {
        let flag_ms = self.ban_for_secs.saturating_mul(1000).min(i64::MAX as u64) as i64;
        let mut detected = 0u64;
        for ev in batch.events() {
            let (Some(src), Some(dst)) = (ev.src(), ev.dst()) else {
                continue;
            };
            let at = ev.time_ms().unwrap_or(batch.now_ms());
            let proto = ev.proto();
            let port = ev.dpt().map(|p| port_key(proto, p));
            let kind = Kind::of(proto, ev.tcp_flags());
            match self
                .tracker
                .record(ev.src_key(), key(dst), port, kind, at, flag_ms)
            {
                Seen::Nothing => {}
                Seen::Flagged(class) => {
                    if self.annotate {
                        out.annotate(&ev, NOTE, label(class));
                    }
                }
                Seen::Detected(class, crossed) => {
                    detected += 1;
                    let reason = self.reason(class, crossed);
                    host::log(Level::Info, &format!("{src}: {reason}"));
                    if self.ban {
                        out.ban(IpNet::host(src), self.ban_for_secs, reason);
                    }
                    if self.annotate {
                        out.annotate(&ev, NOTE, label(class));
                    }
                }
            }
        }
        self.tracker.prune();
        if detected > 0 {
            host::counter_add("scans_detected", detected);
        }
        host::gauge_set("sources_tracked", self.tracker.len() as f64);
    }

    fn snapshot(&self) -> Vec<u8> {
        state::save(&self.tracker.save())
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.tracker.load(state::load(bytes)?);
        Ok(())
    }
}

impl ScanDetect {
    /// `SYN scan: 20 ports within 1m`, `UDP sweep: 10 hosts within 5m`.
    fn reason(&self, class: Option<Kind>, crossed: Crossed) -> String {
        let w = &self.window_text;
        match crossed {
            Crossed::Ports(n) => format!("{} scan: {n} ports within {w}", label(class)),
            Crossed::Hosts(n) => format!("{} sweep: {n} hosts within {w}", label(class)),
        }
    }
}

/// An address as 16 bytes, IPv4 mapped, as the batch records carry them.
fn key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

portcullis_sdk::export_plugin!(ScanDetect);

#[cfg(test)]
mod tests;
