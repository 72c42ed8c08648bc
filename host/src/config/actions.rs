//! The `[actions]` section: which backend applies bans, what it names its table or chain,
//! where its rules hook in, and the guard's limits.

use super::ConfigError;
use crate::action::GuardConfig;
use crate::action::backend::{BackendOptions, Hook};
use portcullis_abi::net::IpNet;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawActions {
    #[serde(default)]
    backend: BackendKind,
    name: Option<String>,
    hooks: Option<Vec<Hook>>,
    #[serde(default)]
    allowlist: Vec<String>,
    protect_own_addresses: Option<bool>,
    min_prefix_v4: Option<u8>,
    min_prefix_v6: Option<u8>,
    max_active: Option<usize>,
    max_new_per_minute: Option<usize>,
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    reconcile_interval: Option<Duration>,
}

/// The firewall backend actions go to.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// An nftables table of our own with interval sets carrying kernel timeouts.
    #[default]
    Nftables,
    /// An iptables/ip6tables chain of our own, one DROP rule per ban.
    Iptables,
    /// ipset `hash:net` sets with timeouts and one iptables rule per family.
    Ipset,
    /// Print each decision as a JSON line; touch nothing.
    #[serde(rename = "dry-run")]
    DryRun,
}

impl BackendKind {
    /// The name used in config files.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Nftables => "nftables",
            BackendKind::Iptables => "iptables",
            BackendKind::Ipset => "ipset",
            BackendKind::DryRun => "dry-run",
        }
    }
}

/// The validated `[actions]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionsConfig {
    /// Where actions go.
    pub backend: BackendKind,
    /// What the backend names its table, chain or sets, and where it hooks in.
    pub options: BackendOptions,
    /// What the action engine refuses.
    pub guard: GuardConfig,
    /// How often a running Portcullis compares the firewall with the store.
    pub reconcile_interval: Duration,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        ActionsConfig {
            backend: BackendKind::default(),
            options: BackendOptions {
                name: "portcullis".into(),
                hooks: vec![Hook::Input],
                wrapper: Vec::new(),
            },
            guard: GuardConfig::default(),
            reconcile_interval: Duration::from_secs(300),
        }
    }
}

/// Longest name: an iptables chain name holds 28 characters; ipset adds `-v4`.
const MAX_NAME: usize = 24;

pub(super) fn validate(
    raw: &RawActions,
    key_err: &impl Fn(String, String) -> ConfigError,
) -> Result<ActionsConfig, ConfigError> {
    let mut out = ActionsConfig {
        backend: raw.backend,
        ..ActionsConfig::default()
    };
    if let Some(name) = &raw.name {
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(key_err(
                "actions.name".into(),
                format!(
                    "{name:?}: must start with a letter and hold at most {MAX_NAME} letters, digits, '_' or '-'"
                ),
            ));
        }
        out.options.name = name.clone();
    }
    if let Some(hooks) = &raw.hooks {
        if hooks.is_empty() {
            return Err(key_err(
                "actions.hooks".into(),
                "must name at least one of \"input\", \"forward\"".into(),
            ));
        }
        let mut hooks = hooks.clone();
        hooks.dedup();
        out.options.hooks = hooks;
    }
    let guard = &mut out.guard;
    for (i, entry) in raw.allowlist.iter().enumerate() {
        let net = IpNet::parse(entry)
            .map_err(|e| key_err(format!("actions.allowlist[{i}]"), format!("{entry:?}: {e}")))?;
        guard.allowlist.push(net);
    }
    if let Some(p) = raw.protect_own_addresses {
        guard.protect_own_addresses = p;
    }
    if let Some(p) = raw.min_prefix_v4 {
        if p > 32 {
            return Err(key_err(
                "actions.min_prefix_v4".into(),
                "must be 0 to 32".into(),
            ));
        }
        guard.min_prefix_v4 = p;
    }
    if let Some(p) = raw.min_prefix_v6 {
        if p > 128 {
            return Err(key_err(
                "actions.min_prefix_v6".into(),
                "must be 0 to 128".into(),
            ));
        }
        guard.min_prefix_v6 = p;
    }
    if let Some(m) = raw.max_active {
        guard.max_active = m;
    }
    if let Some(m) = raw.max_new_per_minute {
        guard.max_new_per_minute = m;
    }
    if let Some(d) = raw.reconcile_interval {
        if d < Duration::from_secs(1) {
            return Err(key_err(
                "actions.reconcile_interval".into(),
                "must be at least 1s".into(),
            ));
        }
        out.reconcile_interval = d;
    }
    Ok(out)
}
