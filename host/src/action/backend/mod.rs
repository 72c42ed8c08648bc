//! Firewall backends: what turns the engine's [`Op`]s into kernel state, and lists what
//! is there for the reconciler. Every backend runs its tools through argv (never a shell)
//! and only ever touches the table, chain or sets it owns.
//!
//! - [`nftables`]: table `inet portcullis` with interval sets `ban4`/`ban6` carrying
//!   kernel timeouts and one drop rule per family; each batch is one `nft -f -`.
//! - [`iptables`]: chain `PORTCULLIS` (iptables and ip6tables) jumped from the configured
//!   hooks, one `-j DROP` rule per ban with its expiry epoch as the rule comment; each
//!   batch is one `iptables-restore --noflush`.
//! - [`ipset`]: `hash:net` sets with timeouts and one matching iptables rule per family.
//! - [`dry_run`]: prints each op as a JSON line.

pub mod command;
pub mod dry_run;
pub mod ipset;
pub mod iptables;
pub mod nftables;
#[cfg(test)]
mod test_ops;

use portcullis_abi::net::IpNet;
use std::sync::Arc;

pub use command::{Command, CommandError};
pub use dry_run::DryRun;

/// One change to the firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Make `target` banned until `expires_at` (unix seconds): add it, or change the
    /// expiry of the entry already there (longer or shorter).
    Add {
        /// The network; never overlapping another entry the engine keeps in the firewall.
        target: IpNet,
        /// Unix seconds when the ban lifts.
        expires_at: i64,
        /// Why (for the dry-run output and logs).
        reason: Arc<str>,
        /// Who asked: a stage's name, `cli`, ...
        origin: Arc<str>,
    },
    /// Take `target` out of the firewall. It may already be gone (a kernel timeout ran
    /// out, someone deleted it by hand): that is not an error.
    Remove {
        /// The network.
        target: IpNet,
        /// Why (for the dry-run output and logs).
        why: Arc<str>,
    },
}

impl Op {
    /// The network the op is about.
    pub fn target(&self) -> &IpNet {
        match self {
            Op::Add { target, .. } | Op::Remove { target, .. } => target,
        }
    }
}

/// An entry found in the firewall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listed {
    /// The network.
    pub target: IpNet,
    /// When it lifts (unix seconds), if the firewall knows.
    pub expires_at: Option<i64>,
}

/// Where the drop rules hook in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    /// Traffic to this host.
    Input,
    /// Traffic routed through this host.
    Forward,
}

impl Hook {
    /// The lowercase name (`input`), as nftables spells it.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Input => "input",
            Hook::Forward => "forward",
        }
    }
}

/// What a firewall backend needs to know, from the `[actions]` config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendOptions {
    /// Name of the table (nftables), chain (iptables) or set prefix (ipset) we own.
    pub name: String,
    /// Hooks the drop rules attach to.
    pub hooks: Vec<Hook>,
    /// Run every command through this argv prefix (e.g. `["ip", "netns", "exec", "x"]`);
    /// empty in production, used by tests to act inside a network namespace.
    pub wrapper: Vec<String>,
}

/// Why a backend failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A command could not be run or was rejected.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A command's output could not be understood.
    #[error("{backend}: cannot read the output of `{command}`: {message}")]
    Listing {
        /// The backend.
        backend: &'static str,
        /// The command line.
        command: String,
        /// What was wrong.
        message: String,
    },
    /// Writing the dry-run output failed.
    #[error("dry-run output: {0}")]
    Output(#[from] std::io::Error),
}

/// Something that applies ops to a firewall (or pretends to).
pub trait Backend: Send {
    /// The backend's name as configs spell it (`nftables`).
    fn name(&self) -> &'static str;

    /// Creates what the backend owns (table, chain, sets, jump rules) if missing. Idempotent;
    /// never touches anything else.
    fn prepare(&mut self) -> Result<(), BackendError>;

    /// Applies `ops` in order as one batch (one transaction where the firewall has them);
    /// `now` is the current unix time, for turning expiries into timeouts.
    fn apply(&mut self, ops: &[Op], now: i64) -> Result<(), BackendError>;

    /// Every ban entry currently in what the backend owns.
    fn list(&mut self, now: i64) -> Result<Vec<Listed>, BackendError>;

    /// Removes everything the backend owns (table, chain, sets, jump rules).
    fn remove_all(&mut self) -> Result<(), BackendError>;

    /// The longest timeout, in seconds, an entry can carry (ipset's kernel limit); a
    /// longer ban is listed as lifting after this long, and the reconciler refreshes it.
    fn max_timeout(&self) -> Option<i64> {
        None
    }
}
