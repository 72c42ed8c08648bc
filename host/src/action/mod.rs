//! The action engine and what it stands on: turns the pipeline's and the CLI's ban and
//! unban requests into firewall state that survives restarts.
//!
//! - [`engine`]: guard → merge → one batch applied to the backend and recorded in the store;
//!   sweeping expired bans, reconciling, serving CLI requests.
//! - [`bans`]: the active bans and which of them the firewall holds (sans-IO).
//! - [`guard`]: what is never banned; [`own_addresses`]: the host's addresses.
//! - [`store`]: the SQLite store of bans and their history.
//! - [`reconcile`]: store vs firewall (sans-IO); [`import`]: adopting hand-made rules.
//! - [`backend`]: nftables, iptables, ipset, dry-run.
//! - [`lock`]: one process applies bans at a time; [`open`]: an engine from the config.

pub mod backend;
pub mod bans;
pub mod engine;
pub mod guard;
pub mod import;
pub mod lock;
pub mod open;
pub mod own_addresses;
pub mod reconcile;
pub mod store;

use portcullis_abi::net::IpNet;
use std::sync::Arc;

pub use backend::{Backend, BackendError, DryRun, Op};
pub use engine::{ActionEngine, ActionError, ActionStats, Outcome};
pub use guard::{Guard, GuardConfig, Refusal};
pub use store::{Store, StoreError};

/// A rule action asked for by a stage or the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ban a network for a time.
    Ban {
        /// The network.
        target: IpNet,
        /// Seconds from when it is applied.
        duration_secs: u64,
        /// Why.
        reason: String,
    },
    /// Lift every ban inside a network.
    Unban {
        /// The network.
        target: IpNet,
    },
}

/// An action together with who asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// The stage's name, or `cli`.
    pub stage: Arc<str>,
}
