//! `portcullis run` without `--once`: the live service. Sources (one task each) feed a
//! bounded channel; one worker thread owns the chain and the action engine; signals and
//! the metrics server run on the same tokio runtime.
//!
//! - SIGHUP: reload the config, plugins and GeoIP files, keeping every stage's state.
//! - SIGTERM, SIGINT: stop reading, flush the pending batch, apply its decisions, save
//!   stage state and source positions, and exit.
//! - A `stdin` source ends the run at its end.

pub mod glob;
pub mod input;
pub mod listeners;
pub mod metrics;
pub mod sources;
pub mod worker;

use crate::action::open::{self, OpenError};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::runner::{RunError, Runner, runtime_for, services_for};
use crate::source::cursors::{self, CursorError, Cursors};
use input::Control;
use metrics::Board;
use sources::{SourceError, SourceState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use worker::{Worker, WorkerError};

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The config has no sources.
    #[error("config file {0}: no [[sources]] to read")]
    NoSources(PathBuf),
    /// The config could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The chain could not be built.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The action engine could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A source could not start.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Source positions could not be opened.
    #[error(transparent)]
    Cursor(#[from] CursorError),
    /// The worker stopped with an error.
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// The runtime or the metrics listener could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The IO error.
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
    let what = what.into();
    move |source| DaemonError::Io { what, source }
}

/// Runs the service for the config at `path` until a signal or the end of its sources.
pub fn run(path: &Path) -> Result<(), DaemonError> {
    let config = Config::load(path)?;
    if config.sources.is_empty() {
        return Err(DaemonError::NoSources(config.path.clone()));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io("starting the runtime"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let plugins = runtime_for(&config)?;
    let services = services_for(&config, clock.clone())?;
    let (engine, _lock) = open::for_run(&config, clock)?;
    let runner = Runner::build(&config, &plugins, services, engine, true)?;
    crate::private_dir::create(&config.state_dir)
        .map_err(io(format!("state folder {}", config.state_dir.display())))?;
    let cursor_path = config.state_dir.join(cursors::FILE_NAME);
    let cursors = Cursors::open(&cursor_path)?;
    let (tx, rx) = mpsc::channel(config.service.queue);
    let (ctrl_tx, ctrl_rx) = mpsc::unbounded_channel();
    let state = Arc::new(SourceState {
        lag: config.sources.iter().map(|_| AtomicU64::new(0)).collect(),
        ..SourceState::default()
    });
    let board = Arc::new(Board::default());
    let _enter = rt.enter();
    sources::spawn(&config.sources, &cursors, &tx, &state)?;
    drop(tx);
    if let Some(addr) = config.service.metrics_listen {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(io(format!("metrics.listen {addr}")))?;
        rt.spawn(metrics::serve(listener, board.clone()));
        tracing::info!("metrics on http://{addr}/metrics");
    }
    rt.spawn(signals(path.to_path_buf(), ctrl_tx));
    let worker = Worker {
        runner,
        cursors,
        runtime: plugins,
        batch_deadline: config.service.batch_deadline,
        save_every: config.snapshot_interval,
        board,
        sources: state.clone(),
        labels: config.sources.iter().map(|s| s.label()).collect(),
    };
    tracing::info!(
        sources = config.sources.len(),
        stages = config.stages.len(),
        backend = config.actions.backend.name(),
        "running"
    );
    let result = worker.run(rt.handle().clone(), rx, ctrl_rx);
    state.stop.store(true, Ordering::Relaxed);
    // A source blocked reading stdin cannot be interrupted; do not wait for it.
    rt.shutdown_timeout(Duration::from_millis(500));
    Ok(result?)
}

/// Turns signals into controls: SIGHUP reloads (a config that does not load is refused
/// and the service runs on), SIGTERM and SIGINT stop.
async fn signals(path: PathBuf, ctrl: mpsc::UnboundedSender<Control>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => match Config::load(&path) {
                Ok(config) => {
                    tracing::info!("SIGHUP: reloading {}", path.display());
                    let _ = ctrl.send(Control::Reload(Box::new(config)));
                }
                Err(e) => tracing::error!("SIGHUP: reload refused, running on: {e}"),
            },
            _ = term.recv() => {
                tracing::info!("SIGTERM: stopping");
                let _ = ctrl.send(Control::Shutdown);
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: stopping");
                let _ = ctrl.send(Control::Shutdown);
            }
        }
    }
}
