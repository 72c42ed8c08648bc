//! `threshold-ban`: bans sources (or their networks) by rules over event time.
//!
//! Rules (keys in `docs/standard-plugins/threshold-ban.md`), each asking for a ban through
//! one record of offenders (a target already banned is not banned again):
//! - block lists (`ban_countries`, `ban_asns`, `ban_orgs`, `blocklist.rs`): a listed
//!   source is banned on first sight and not counted further;
//! - threshold (`threshold` events of one key within `window`, `window.rs`);
//! - share (`share` of at least `share_min_events` events within `share_window`, `share.rs`);
//! - escalation (`escalate`, `ban_max`, `forget_after`, `escalation.rs`): repeat offenders
//!   get longer bans;
//! - network (`net_ban_after` addresses of one network banned within `net_ban_window`,
//!   `network.rs`): the network is banned too.
//!
//! `key` chooses what threshold and share count and ban: the address (`src`) or its
//! network (`net`). Time is the events' own log time (the batch's `now` for lines without
//! one), so a replayed log decides exactly as the live one did.

use portcullis_sdk::{Batch, Config, ConfigError, Description, IpNet, Output, Plugin, host, state};
use serde::{Deserialize, Serialize};

mod blocklist;
mod escalation;
mod key;
mod network;
mod settings;
mod share;
mod window;

use blocklist::BlockList;
use escalation::{Ban, Offenders, SavedOffenders};
use key::CountKey;
use network::{NetworkRule, SavedNetwork};
use settings::Settings;
use share::{SavedShare, ShareRule};
use window::Windows;

/// Batches between two prunes of idle state (sooner when the windows hold this many keys).
const PRUNE_EVERY: u32 = 64;
const PRUNE_AT_KEYS: usize = 100_000;

/// The ban policy and its state.
pub struct ThresholdBan {
    key: CountKey,
    reason: String,
    windows: Windows,
    blocked: BlockList,
    share: Option<(ShareRule, f64, String)>,
    offenders: Offenders,
    escalate: bool,
    network: Option<NetworkRule>,
    latest: i64,
    since_prune: u32,
}

/// The snapshot. The first two fields are the format of the first version (threshold
/// windows only), so its snapshots still restore; later fields default when absent.
#[derive(Serialize, Deserialize)]
struct Saved {
    /// Threshold windows: (key, times, ban horizon). The horizon is written as `i64::MIN`
    /// and only read from first-version snapshots, which kept bans here.
    sources: Vec<([u8; 16], Vec<i64>, i64)>,
    latest: i64,
    /// `CountKey::identity` of the windows' keys; absent: `src`.
    #[serde(default)]
    key: Option<String>,
    /// Absent in first-version snapshots.
    #[serde(default)]
    offenders: Option<SavedOffenders>,
    #[serde(default)]
    share: Option<SavedShare>,
    #[serde(default)]
    networks: Vec<SavedNetwork>,
}

impl Plugin for ThresholdBan {
    fn describe() -> Description {
        Description::new(
            "Bans sources or networks by count, share of traffic, block list and repeat offence, in log time.",
            settings::keys(),
        )
    }

    fn init(config: Config) -> Result<Self, ConfigError> {
        let s = Settings::from_config(&config)?;
        Ok(ThresholdBan {
            key: s.key,
            reason: format!("{} events within {}", s.threshold, s.window_text),
            windows: Windows::new(s.threshold, s.window_ms),
            blocked: s.blocked,
            share: s.share.map(|sh| {
                (
                    ShareRule::new(sh.share, sh.min_events, sh.window_ms),
                    sh.share,
                    sh.window_text,
                )
            }),
            escalate: s.escalation.is_on(),
            offenders: Offenders::new(s.escalation),
            network: s.network.map(NetworkRule::new),
            latest: i64::MIN,
            since_prune: 0,
        })
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) {
        for ev in batch.events() {
            let Some(src) = ev.src() else { continue };
            let at = ev.time_ms().unwrap_or(batch.now_ms());
            self.latest = self.latest.max(at);
            if !self.blocked.is_empty()
                && let Some(reason) = self.blocked.reason(&ev)
            {
                self.ban(IpNet::host(src), at, reason, out);
                continue;
            }
            let (key, target) = self.key.of(src, ev.src_key());
            if self.windows.record(key, at) && self.ban(target, at, self.reason.clone(), out) {
                self.windows.reset(&key);
            }
            if let Some((rule, share, window)) = &mut self.share
                && let Some((n, total)) = rule.record(key, at)
                && !self.offenders.is_banned(&target, at)
            {
                let pct = n as f64 * 100.0 / total as f64;
                let reason = format!(
                    "{pct:.1}% of {total} events within {window} (share above {:.1}%)",
                    *share * 100.0
                );
                self.ban(target, at, reason, out);
            }
        }
        self.since_prune += 1;
        if self.since_prune >= PRUNE_EVERY || self.windows.len() >= PRUNE_AT_KEYS {
            self.prune();
        }
        host::gauge_set("sources_tracked", self.windows.len() as f64);
        host::gauge_set("offenders_tracked", self.offenders.len() as f64);
        if let Some((rule, ..)) = &self.share {
            host::gauge_set("share_keys_tracked", rule.len() as f64);
        }
        if let Some(net) = &self.network {
            host::gauge_set("networks_tracked", net.len() as f64);
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        state::save(&Saved {
            sources: self
                .windows
                .save()
                .into_iter()
                .map(|(k, times)| (k, times, i64::MIN))
                .collect(),
            latest: self.latest,
            key: Some(self.key.identity()),
            offenders: Some(self.offenders.save()),
            share: self.share.as_ref().map(|(rule, ..)| rule.save()),
            networks: self
                .network
                .as_ref()
                .map(NetworkRule::save)
                .unwrap_or_default(),
        })
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let saved: Saved = state::load(bytes)?;
        self.latest = saved.latest;
        match saved.offenders {
            Some(list) => self.offenders.load(list),
            // A first-version snapshot: its keys are addresses, its bans in the windows.
            None => {
                for (k, _, until) in &saved.sources {
                    if *until > i64::MIN {
                        self.offenders.migrate(IpNet::host(key::addr(*k)), *until);
                    }
                }
            }
        }
        // Counts made by another key (src vs net, another prefix length) do not carry over.
        if saved.key.as_deref().unwrap_or("src") == self.key.identity() {
            self.windows
                .load(saved.sources.into_iter().map(|(k, t, _)| (k, t)).collect());
            if let (Some((rule, ..)), Some(s)) = (&mut self.share, saved.share) {
                rule.load(s);
            }
        }
        if let Some(net) = &mut self.network {
            net.load(saved.networks);
        }
        Ok(())
    }
}

impl ThresholdBan {
    /// Asks for a ban of `target` at event time `at` unless it (or, for an address, its
    /// network) is banned already; an address ban may complete a network ban. True when a
    /// ban was asked for.
    fn ban(&mut self, target: IpNet, at: i64, reason: String, out: &mut Output) -> bool {
        let host = key::is_host(&target);
        if host
            && let Some(net) = &self.network
            && self.offenders.is_banned(&net.network_of(target.addr()), at)
        {
            return false;
        }
        let Some(ban) = self.offenders.ban(target, at) else {
            return false;
        };
        out.ban(target, ban.secs, self.with_offence(reason, ban));
        if host
            && let Some(net) = &mut self.network
            && let Some((network, n)) = net.address_banned(target.addr(), at)
        {
            let reason = net.reason(&network, n);
            if let Some(ban) = self.offenders.ban(network, at) {
                out.ban(network, ban.secs, self.with_offence(reason, ban));
            }
        }
        true
    }

    /// `reason`, with the offence count when escalation lengthened the ban.
    fn with_offence(&self, reason: String, ban: Ban) -> String {
        if !self.escalate || ban.offence <= 1 {
            return reason;
        }
        let mut dur = String::new();
        let _ = portcullis_sdk::format_duration(ban.secs, &mut dur);
        format!("{reason}; offence {}, banned {dur}", ban.offence)
    }

    /// Forgets idle state as of the latest event time (never the host clock: a replayed
    /// old log must not look long finished).
    fn prune(&mut self) {
        self.since_prune = 0;
        let now = self.latest;
        self.windows.prune(now);
        self.offenders.prune(now);
        if let Some(net) = &mut self.network {
            net.prune(now);
        }
    }
}

portcullis_sdk::export_plugin!(ThresholdBan);

#[cfg(test)]
mod tests;
