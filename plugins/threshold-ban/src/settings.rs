//! The stage's config keys: parsing, defaults, validation (errors name the key), and the
//! list `portcullis plugin check` shows.

use crate::blocklist::BlockList;
use crate::escalation::Escalation;
use crate::key::CountKey;
use crate::network::NetworkSettings;
use portcullis_sdk::{Config, ConfigError, ConfigKey, Duration};
use serde::Deserialize;

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
    #[serde(default = "default_key")]
    key: String,
    #[serde(default = "default_v4")]
    net_prefix_v4: u8,
    #[serde(default = "default_v6")]
    net_prefix_v6: u8,
    share: Option<f64>,
    #[serde(default = "default_share_min_events")]
    share_min_events: u64,
    share_window: Option<Duration>,
    #[serde(default = "default_escalate")]
    escalate: f64,
    ban_max: Option<Duration>,
    forget_after: Option<Duration>,
    #[serde(default)]
    net_ban_after: u32,
    #[serde(default = "default_net_ban_window")]
    net_ban_window: Duration,
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
fn default_key() -> String {
    "src".into()
}
fn default_v4() -> u8 {
    24
}
fn default_v6() -> u8 {
    64
}
fn default_share_min_events() -> u64 {
    100
}
fn default_escalate() -> f64 {
    1.0
}
fn default_net_ban_window() -> Duration {
    Duration(3600)
}

/// `ban_max` when not set: 30 days, or `ban_for` if longer.
const DEFAULT_BAN_MAX_SECS: u64 = 30 * 86_400;

/// The share rule's settings.
pub struct ShareSettings {
    /// The fraction a key must exceed (0 < share < 1).
    pub share: f64,
    /// Events the window must hold before the rule applies.
    pub min_events: u64,
    /// The window, ms.
    pub window_ms: i64,
    /// The window as written in reasons.
    pub window_text: String,
}

/// The validated settings.
pub struct Settings {
    pub threshold: u32,
    pub window_ms: u64,
    pub window_text: String,
    pub key: CountKey,
    pub blocked: BlockList,
    pub share: Option<ShareSettings>,
    pub escalation: Escalation,
    pub network: Option<NetworkSettings>,
}

fn text(secs: u64) -> String {
    let mut s = String::new();
    let _ = portcullis_sdk::format_duration(secs, &mut s);
    s
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.secs().saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn positive(key: &str, d: Duration) -> Result<Duration, ConfigError> {
    if d.secs() == 0 {
        return Err(ConfigError::key(key, "must be longer than 0s"));
    }
    Ok(d)
}

impl Settings {
    /// Parses and validates the stage's config.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let raw: RawConfig = config.parse()?;
        if raw.threshold == 0 {
            return Err(ConfigError::key("threshold", "must be at least 1"));
        }
        let window = positive("window", raw.window)?;
        let ban_for = positive("ban_for", raw.ban_for)?;
        if !(1..=32).contains(&raw.net_prefix_v4) {
            return Err(ConfigError::key("net_prefix_v4", "must be 1-32"));
        }
        if !(1..=128).contains(&raw.net_prefix_v6) {
            return Err(ConfigError::key("net_prefix_v6", "must be 1-128"));
        }
        let key = CountKey::parse(&raw.key, raw.net_prefix_v4, raw.net_prefix_v6)?;

        let share = match raw.share {
            None => None,
            Some(s) if !(s > 0.0 && s < 1.0) => {
                return Err(ConfigError::key(
                    "share",
                    format!("{s} is not a fraction between 0 and 1 (0.5 is half)"),
                ));
            }
            Some(share) => {
                if raw.share_min_events == 0 {
                    return Err(ConfigError::key("share_min_events", "must be at least 1"));
                }
                let w = positive("share_window", raw.share_window.unwrap_or(window))?;
                Some(ShareSettings {
                    share,
                    min_events: raw.share_min_events,
                    window_ms: ms(w),
                    window_text: text(w.secs()),
                })
            }
        };

        if !(raw.escalate.is_finite() && raw.escalate >= 1.0) {
            return Err(ConfigError::key(
                "escalate",
                format!(
                    "{} is not a factor of at least 1 (1: off, 2: doubling)",
                    raw.escalate
                ),
            ));
        }
        let max_secs = match raw.ban_max {
            None => DEFAULT_BAN_MAX_SECS.max(ban_for.secs()),
            Some(m) if m < ban_for => {
                return Err(ConfigError::key(
                    "ban_max",
                    format!("must be at least ban_for ({})", text(ban_for.secs())),
                ));
            }
            Some(m) => m.secs(),
        };
        let forget_after_ms = match raw.forget_after {
            None => None,
            Some(f) => Some(ms(positive("forget_after", f)?)),
        };

        let network = match raw.net_ban_after {
            0 => None,
            1 => {
                return Err(ConfigError::key(
                    "net_ban_after",
                    "must be at least 2 (to count and ban networks directly, use key = \"net\")",
                ));
            }
            after => {
                let w = positive("net_ban_window", raw.net_ban_window)?;
                Some(NetworkSettings {
                    after: after as usize,
                    window_ms: ms(w),
                    window_text: text(w.secs()),
                    v4: raw.net_prefix_v4,
                    v6: raw.net_prefix_v6,
                })
            }
        };

        Ok(Settings {
            threshold: raw.threshold,
            window_ms: window.secs().saturating_mul(1000),
            window_text: text(window.secs()),
            key,
            blocked: BlockList::new(&raw.ban_countries, &raw.ban_asns, &raw.ban_orgs)?,
            share,
            escalation: Escalation {
                base_secs: ban_for.secs(),
                factor: raw.escalate,
                max_secs,
                forget_after_ms,
            },
            network,
        })
    }
}

/// Every key, as `portcullis plugin check` lists them.
pub fn keys() -> Vec<ConfigKey> {
    let k = ConfigKey::new;
    vec![
        k(
            "threshold",
            "integer",
            Some("20"),
            "events from one key that trigger a ban",
        ),
        k(
            "window",
            "duration",
            Some("1m"),
            "the span those events must fall within",
        ),
        k(
            "ban_for",
            "duration",
            Some("1h"),
            "how long a (first) ban lasts",
        ),
        k(
            "key",
            "\"src\" or \"net\"",
            Some("\"src\""),
            "what threshold and share count and ban: the source address or its network",
        ),
        k(
            "net_prefix_v4",
            "prefix length",
            Some("24"),
            "IPv4 network size for key = \"net\" and net_ban_after",
        ),
        k(
            "net_prefix_v6",
            "prefix length",
            Some("64"),
            "IPv6 network size for key = \"net\" and net_ban_after",
        ),
        k(
            "share",
            "fraction",
            Some("off"),
            "optional: ban a key with more than this share of the events in share_window",
        ),
        k(
            "share_min_events",
            "integer",
            Some("100"),
            "events share_window must hold before the share rule applies",
        ),
        k(
            "share_window",
            "duration",
            Some("= window"),
            "the share rule's window",
        ),
        k(
            "escalate",
            "factor",
            Some("1"),
            "repeat offenders get ban_for × escalate^(offence-1) (1: off, 2: doubling)",
        ),
        k(
            "ban_max",
            "duration",
            Some("30d"),
            "longest escalated ban (at least ban_for)",
        ),
        k(
            "forget_after",
            "duration",
            Some("never"),
            "optional: an offence this long after the previous one counts as a first",
        ),
        k(
            "net_ban_after",
            "integer",
            Some("0"),
            "ban the network once this many of its addresses were banned (0: off)",
        ),
        k(
            "net_ban_window",
            "duration",
            Some("1h"),
            "the span those bans must fall within",
        ),
        k(
            "ban_countries",
            "list of country codes",
            Some("[]"),
            "ban sources from these countries on first sight",
        ),
        k(
            "ban_asns",
            "list of AS numbers",
            Some("[]"),
            "ban sources from these networks on first sight",
        ),
        k(
            "ban_orgs",
            "list of names",
            Some("[]"),
            "ban sources whose organisation contains one of these (any case)",
        ),
    ]
}
