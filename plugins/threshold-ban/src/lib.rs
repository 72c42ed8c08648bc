//! `threshold-ban`: bans a source address seen at least `threshold` times within `window`.
//!
//! Config (`[pipeline.config]`):
//! - `threshold`: events from one source that trigger a ban (default 20, at least 1);
//! - `window`: the span those events must fall within (default `1m`);
//! - `ban_for`: how long the ban lasts (default `1h`);
//! - `ban_countries`, `ban_asns`, `ban_orgs`: block lists. A source whose country
//!   (two-letter code), network (AS number) or organisation (case-insensitive substring,
//!   `"zscaler"` matches `ZSCALER, INC.`) is listed is banned on first sight. These need an
//!   enrichment stage before this one; events without enrichment never match.
//!
//! Time is the events' own log time (the batch's `now` for lines without one), so a
//! replayed log decides exactly as the live one did. A source is banned once; it can be
//! banned again only after its ban would have expired.

use portcullis_sdk::{
    Batch, Config, ConfigError, ConfigKey, Description, Duration, IpNet, Output, Plugin, host,
    state,
};
use serde::Deserialize;

mod blocklist;
mod window;

use blocklist::BlockList;
use window::Windows;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_threshold")]
    threshold: u32,
    #[serde(default = "default_window")]
    window: Duration,
    #[serde(default = "default_ban_for")]
    ban_for: Duration,
    #[serde(default)]
    ban_countries: Vec<String>,
    #[serde(default)]
    ban_asns: Vec<u32>,
    #[serde(default)]
    ban_orgs: Vec<String>,
}

fn default_threshold() -> u32 {
    20
}
fn default_window() -> Duration {
    Duration(60)
}
fn default_ban_for() -> Duration {
    Duration(3600)
}

/// The ban policy and its per-source state.
pub struct ThresholdBan {
    ban_for_secs: u64,
    reason: String,
    windows: Windows,
    blocked: BlockList,
}

impl Plugin for ThresholdBan {
    fn describe() -> Description {
        Description::new(
            "Bans a source address seen at least `threshold` times within `window` of log time.",
            vec![
                ConfigKey::new(
                    "threshold",
                    "integer",
                    Some("20"),
                    "events from one source that trigger a ban",
                ),
                ConfigKey::new(
                    "window",
                    "duration",
                    Some("1m"),
                    "the span those events must fall within",
                ),
                ConfigKey::new("ban_for", "duration", Some("1h"), "how long the ban lasts"),
                ConfigKey::new(
                    "ban_countries",
                    "list of country codes",
                    Some("[]"),
                    "ban sources from these countries on first sight",
                ),
                ConfigKey::new(
                    "ban_asns",
                    "list of AS numbers",
                    Some("[]"),
                    "ban sources from these networks on first sight",
                ),
                ConfigKey::new(
                    "ban_orgs",
                    "list of names",
                    Some("[]"),
                    "ban sources whose organisation contains one of these (any case)",
                ),
            ],
        )
    }

    fn snapshot(&self) -> Vec<u8> {
        state::save(&self.windows.save())
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.windows.load(state::load(bytes)?);
        Ok(())
    }

    fn init(config: Config) -> Result<Self, ConfigError> {
        let raw: RawConfig = config.parse()?;
        if raw.threshold == 0 {
            return Err(ConfigError::key("threshold", "must be at least 1"));
        }
        if raw.window.secs() == 0 {
            return Err(ConfigError::key("window", "must be longer than 0s"));
        }
        if raw.ban_for.secs() == 0 {
            return Err(ConfigError::key("ban_for", "must be longer than 0s"));
        }
        let mut window_text = String::new();
        let _ = portcullis_sdk::format_duration(raw.window.secs(), &mut window_text);
        Ok(ThresholdBan {
            ban_for_secs: raw.ban_for.secs(),
            reason: format!("{} events within {window_text}", raw.threshold),
            windows: Windows::new(raw.threshold, raw.window.secs().saturating_mul(1000)),
            blocked: BlockList::new(&raw.ban_countries, &raw.ban_asns, &raw.ban_orgs)?,
        })
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) {
        let ban_ms = self.ban_for_secs.saturating_mul(1000).min(i64::MAX as u64) as i64;
        for ev in batch.events() {
            let Some(src) = ev.src() else { continue };
            let at = ev.time_ms().unwrap_or(batch.now_ms());
            if !self.blocked.is_empty()
                && let Some(reason) = self.blocked.reason(&ev)
            {
                if self.windows.mark_banned(ev.src_key(), at, ban_ms) {
                    out.ban(IpNet::host(src), self.ban_for_secs, reason);
                }
                continue;
            }
            if self.windows.record(ev.src_key(), at, ban_ms) {
                out.ban(IpNet::host(src), self.ban_for_secs, self.reason.clone());
            }
        }
        self.windows
            .prune(batch.now_ms().max(self.windows.latest()));
        host::gauge_set("sources_tracked", self.windows.len() as f64);
    }
}

portcullis_sdk::export_plugin!(ThresholdBan);

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::Action;
    use portcullis_sdk::testing::{BatchBuilder, TestEvent};

    fn plugin(json: &str) -> ThresholdBan {
        ThresholdBan::init(Config::from_json(json)).unwrap()
    }

    fn run(p: &mut ThresholdBan, events: &[(&str, i64)]) -> Vec<String> {
        let mut b = BatchBuilder::new();
        for (src, at) in events {
            b.push(TestEvent::tcp(src, "192.0.2.1", 443).at_ms(*at));
        }
        let batch = b.batch();
        let mut out = Output::for_batch(&batch);
        p.process(&batch, &mut out);
        out.actions()
            .iter()
            .map(|a| match a {
                Action::Ban {
                    target,
                    duration_secs,
                    reason,
                } => {
                    format!("ban {target} {duration_secs} {reason}")
                }
                Action::Unban(n) => format!("unban {n}"),
            })
            .collect()
    }

    #[test]
    fn bans_at_the_threshold_within_the_window() {
        let mut p = plugin(r#"{"threshold": 3, "window": "10s", "ban_for": "1h"}"#);
        let evs = [
            ("203.0.113.9", 0),
            ("203.0.113.9", 4_000),
            ("198.51.100.1", 5_000),
        ];
        assert!(run(&mut p, &evs).is_empty());
        let bans = run(&mut p, &[("203.0.113.9", 9_000)]);
        assert_eq!(bans, ["ban 203.0.113.9/32 3600 3 events within 10s"]);
        // Banned once, not again on the next event.
        assert!(run(&mut p, &[("203.0.113.9", 9_500)]).is_empty());
    }

    #[test]
    fn events_spread_wider_than_the_window_do_not_ban() {
        let mut p = plugin(r#"{"threshold": 3, "window": "10s"}"#);
        let evs = [
            ("2001:db8::5", 0),
            ("2001:db8::5", 6_000),
            ("2001:db8::5", 12_000),
            ("2001:db8::5", 18_000),
        ];
        assert!(run(&mut p, &evs).is_empty());
        let bans = run(&mut p, &[("2001:db8::5", 19_000)]);
        assert_eq!(bans, ["ban 2001:db8::5/128 3600 3 events within 10s"]);
    }

    #[test]
    fn can_ban_again_after_the_ban_would_have_expired() {
        let mut p = plugin(r#"{"threshold": 2, "window": "1m", "ban_for": "90s"}"#);
        assert_eq!(
            run(&mut p, &[("203.0.113.1", 0), ("203.0.113.1", 1_000)]).len(),
            1
        );
        assert!(run(&mut p, &[("203.0.113.1", 50_000), ("203.0.113.1", 60_000)]).is_empty());
        assert_eq!(
            run(&mut p, &[("203.0.113.1", 95_000), ("203.0.113.1", 96_000)]).len(),
            1
        );
    }

    #[test]
    fn a_snapshot_carries_the_windows_into_a_new_instance() {
        let cfg = r#"{"threshold": 3, "window": "1m"}"#;
        let mut first = plugin(cfg);
        assert!(run(&mut first, &[("203.0.113.4", 0), ("203.0.113.4", 1_000)]).is_empty());
        let saved = first.snapshot();
        let mut second = plugin(cfg);
        second.restore(&saved).unwrap();
        assert_eq!(run(&mut second, &[("203.0.113.4", 2_000)]).len(), 1);
        // Without the snapshot the third event alone is not enough.
        assert!(run(&mut plugin(cfg), &[("203.0.113.4", 2_000)]).is_empty());
        assert!(plugin(cfg).restore(b"not msgpack").is_err());
    }

    #[test]
    fn block_listed_sources_are_banned_on_first_sight_once() {
        let mut p = plugin(
            r#"{"threshold": 100, "ban_countries": ["gb"], "ban_asns": [7018], "ban_orgs": ["zscaler"]}"#,
        );
        let mut b = BatchBuilder::new();
        b.push(
            TestEvent::tcp("81.2.69.142", "192.0.2.1", 22)
                .at_ms(0)
                .geo("GB", 0, "", "London"),
        );
        b.push(TestEvent::tcp("12.81.92.1", "192.0.2.1", 22).at_ms(1).geo(
            "US",
            7018,
            "AT&T Services",
            "",
        ));
        b.push(
            TestEvent::tcp("104.129.204.86", "192.0.2.1", 22)
                .at_ms(2)
                .geo("US", 22616, "ZSCALER, INC.", ""),
        );
        b.push(TestEvent::tcp("8.8.8.8", "192.0.2.1", 22).at_ms(3).geo(
            "US",
            15169,
            "Google LLC",
            "",
        ));
        b.push(
            TestEvent::tcp("81.2.69.142", "192.0.2.1", 22)
                .at_ms(4)
                .geo("GB", 0, "", "London"),
        );
        let batch = b.batch();
        let mut out = Output::for_batch(&batch);
        p.process(&batch, &mut out);
        let reasons: Vec<String> = out
            .actions()
            .iter()
            .map(|a| match a {
                Action::Ban { target, reason, .. } => format!("{target}: {reason}"),
                Action::Unban(n) => format!("unban {n}"),
            })
            .collect();
        assert_eq!(
            reasons,
            [
                "81.2.69.142/32: country GB is block-listed",
                "12.81.92.1/32: AS7018 is block-listed",
                "104.129.204.86/32: organisation \"ZSCALER, INC.\" matches block-listed \"ZSCALER\"",
            ]
        );
    }

    #[test]
    fn refuses_bad_config_naming_the_key() {
        for (json, key) in [
            (r#"{"threshold": 0}"#, "threshold"),
            (r#"{"window": "0s"}"#, "window"),
            (r#"{"ban_for": "soon"}"#, "ban_for"),
            (r#"{"threshold": -1}"#, "threshold"),
            (r#"{"ban_countries": ["GBR"]}"#, "ban_countries[0]"),
            (r#"{"ban_asns": [0]}"#, "ban_asns[0]"),
            (r#"{"ban_orgs": [" "]}"#, "ban_orgs[0]"),
        ] {
            let e = ThresholdBan::init(Config::from_json(json)).err().unwrap();
            assert_eq!(e.key.as_deref(), Some(key), "{json}: {e}");
        }
        let e = ThresholdBan::init(Config::from_json(r#"{"treshold": 3}"#))
            .err()
            .unwrap();
        assert!(e.to_string().contains("treshold"), "{e}");
    }
}
