//! `portcullis run`: sources → parser → plugin chain → action engine; live (following the
//! sources until a signal) or `--once` (each source to its end).

use anyhow::bail;
use portcullis::action::open;
use portcullis::clock::{Clock, SystemClock};
use portcullis::config::Config;
use portcullis::runner::{Runner, runtime_for, services_for};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Read every source to its end, apply the decisions, and exit (without it: follow the
    /// sources until SIGTERM; SIGHUP reloads).
    #[arg(long)]
    pub once: bool,
    /// Start each stage from the state a previous run saved in the state folder, and save
    /// it again at the end (counts carry over from one run to the next).
    #[arg(long)]
    pub keep_state: bool,
}

pub fn run(config_path: &Path, args: &RunArgs) -> anyhow::Result<ExitCode> {
    if !args.once {
        if args.keep_state {
            bail!("--keep-state is for --once; a live run always keeps stage state");
        }
        portcullis::daemon::run(config_path)?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::load(config_path)?;
    if config.sources.is_empty() {
        bail!(
            "config file {}: no [[sources]] to read",
            config.path.display()
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let runtime = runtime_for(&config)?;
    let services = services_for(&config, clock.clone())?;
    // A live engine holds the lock for the whole run; it lives inside the runner.
    let (engine, _lock) = open::for_run(&config, clock)?;
    let mut runner = Runner::build(&config, &runtime, services, engine, args.keep_state)?;
    for source in &config.sources {
        runner.run_source(source)?;
    }
    runner.finish()?;
    let s = runner.stats();
    let a = runner.engine().stats();
    eprintln!(
        "lines={} events={} skipped={} malformed={} bans={} extended={} merged={} unbans={} refused={} expired={}",
        s.lines,
        s.events,
        s.skipped,
        s.malformed,
        a.banned,
        a.extended,
        a.merged,
        a.unbanned,
        a.refused,
        a.expired
    );
    for (name, st) in runner.pipeline().stats() {
        if st.failures > 0 {
            eprintln!("stage {name:?}: {} failed calls", st.failures);
        }
    }
    Ok(ExitCode::SUCCESS)
}
