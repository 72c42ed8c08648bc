//! `portcullis run`: sources → parser → plugin chain → action engine.

use anyhow::bail;
use portcullis::action::DryRun;
use portcullis::clock::SystemClock;
use portcullis::config::{BackendKind, Config};
use portcullis::runner::{Runner, runtime_for, services_for};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Read every source to its end, apply the decisions, and exit.
    #[arg(long)]
    pub once: bool,
    /// Start each stage from the state a previous run saved in the state folder, and save
    /// it again at the end (counts carry over from one run to the next).
    #[arg(long)]
    pub keep_state: bool,
}

pub fn run(config_path: &Path, args: &RunArgs) -> anyhow::Result<ExitCode> {
    if !args.once {
        bail!(
            "following sources live is not available yet; use `portcullis run --once` to process them to their end"
        );
    }
    let config = Config::load(config_path)?;
    if config.sources.is_empty() {
        bail!(
            "config file {}: no [[sources]] to read",
            config.path.display()
        );
    }
    let runtime = runtime_for(&config)?;
    let services = services_for(&config, Arc::new(SystemClock))?;
    let backend = match config.backend {
        BackendKind::DryRun => Box::new(DryRun::new(std::io::stdout())),
    };
    let mut runner = Runner::build(&config, &runtime, services, backend, args.keep_state)?;
    for source in &config.sources {
        runner.run_source(source)?;
    }
    runner.finish()?;
    let s = runner.stats();
    let a = runner.engine().stats();
    eprintln!(
        "lines={} events={} skipped={} malformed={} bans={} merged={} unbans={} refused={}",
        s.lines, s.events, s.skipped, s.malformed, a.banned, a.merged, a.unbanned, a.refused
    );
    for (name, st) in runner.pipeline().stats() {
        if st.failures > 0 {
            eprintln!("stage {name:?}: {} failed calls", st.failures);
        }
    }
    Ok(ExitCode::SUCCESS)
}
