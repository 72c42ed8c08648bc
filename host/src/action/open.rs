//! Building an engine from the configuration: the backend it names, the store in the
//! state folder, the lock that makes this process the one applying bans, and the host's
//! addresses for the guard. Dry runs get an in-memory store and take no lock, so they
//! never touch the firewall or the saved bans.

use super::backend::{Backend, DryRun, ipset::Ipset, iptables::Iptables, nftables::Nftables};
use super::engine::{ActionEngine, ActionError};
use super::lock::{self, Acquired, ApplyLock, LockError};
use super::reconcile::ReconcileReport;
use super::store::{Store, StoreError};
use crate::clock::Clock;
use crate::config::{BackendKind, Config};
use std::io::Write;
use std::sync::Arc;

/// Why an engine could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process applies bans.
    #[error("another portcullis{} is applying bans with this state folder ({dir}); stop it first, or use `portcullis bans …`, which hands changes to it", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Busy {
        /// Its pid, if known.
        pid: Option<u32>,
        /// The state folder.
        dir: std::path::PathBuf,
    },
    /// The lock file failed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Preparing or reconciling the firewall failed.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// The state folder could not be created.
    #[error("state folder {dir}: {source}")]
    StateDir {
        /// The folder.
        dir: std::path::PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
}

/// An engine that applies to the real firewall, with the lock that lets it.
pub struct LiveEngine {
    /// The engine.
    pub engine: ActionEngine,
    /// What the start-up reconcile did.
    pub reconciled: ReconcileReport,
    _lock: ApplyLock,
}

impl LiveEngine {
    /// The engine and the lock, to keep together for as long as the engine is used.
    pub fn into_parts(self) -> (ActionEngine, ApplyLock) {
        (self.engine, self._lock)
    }
}

/// The engine a run uses: a dry run printing to stdout, or a live engine holding the lock
/// (keep the lock for as long as the engine is used).
pub fn for_run(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<(ActionEngine, Option<ApplyLock>), OpenError> {
    Ok(match config.actions.backend {
        BackendKind::DryRun => (dry_run(config, clock, std::io::stdout())?, None),
        _ => {
            let (engine, lock) = live(config, clock)?.into_parts();
            (engine, Some(lock))
        }
    })
}

/// The firewall backend `config` names (never the dry run).
pub fn backend_for(config: &Config) -> Box<dyn Backend> {
    let opts = config.actions.options.clone();
    match config.actions.backend {
        BackendKind::Iptables => Box::new(Iptables::new(opts)),
        BackendKind::Ipset => Box::new(Ipset::new(opts)),
        BackendKind::Nftables | BackendKind::DryRun => Box::new(Nftables::new(opts)),
    }
}

/// A dry-run engine printing to `out`, with a store in memory.
pub fn dry_run(
    config: &Config,
    clock: Arc<dyn Clock>,
    out: impl Write + Send + 'static,
) -> Result<ActionEngine, OpenError> {
    Ok(ActionEngine::new(
        Box::new(DryRun::new(out)),
        Store::in_memory()?,
        clock,
        config.actions.guard.clone(),
        super::own_addresses::read(),
    )?)
}

/// Takes the lock (or says who holds it), then opens the store and the backend and
/// starts the engine: prepare, sweep, reconcile.
pub fn live(config: &Config, clock: Arc<dyn Clock>) -> Result<LiveEngine, OpenError> {
    match try_lock(config)? {
        Acquired::Held(lock) => live_with(config, clock, lock),
        Acquired::Busy(pid) => Err(OpenError::Busy {
            pid,
            dir: config.state_dir.clone(),
        }),
    }
}

/// Tries to take the lock of `config`'s state folder, creating the folder.
pub fn try_lock(config: &Config) -> Result<Acquired, OpenError> {
    crate::private_dir::create(&config.state_dir).map_err(|source| OpenError::StateDir {
        dir: config.state_dir.clone(),
        source,
    })?;
    Ok(lock::try_acquire(&config.state_dir)?)
}

/// Like [`live`], with the lock already held.
pub fn live_with(
    config: &Config,
    clock: Arc<dyn Clock>,
    lock: ApplyLock,
) -> Result<LiveEngine, OpenError> {
    let store = Store::open(&config.store_path())?;
    let mut engine = ActionEngine::new(
        backend_for(config),
        store,
        clock,
        config.actions.guard.clone(),
        super::own_addresses::read(),
    )?;
    let reconciled = engine.start()?;
    let every = i64::try_from(config.actions.reconcile_interval.as_secs()).unwrap_or(i64::MAX);
    engine.set_reconcile_interval(Some(every));
    Ok(LiveEngine {
        engine,
        reconciled,
        _lock: lock,
    })
}
