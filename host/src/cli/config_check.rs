//! `portcullis config check`: validates a config as `run` would, without reading sources.

use portcullis::clock::SystemClock;
use portcullis::config::Config;
use portcullis::runner::{Runner, runtime_for, services_for};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The file to check (default: the --config file).
    pub file: Option<PathBuf>,
}

pub fn run(config_path: &Path, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let path = args.file.as_deref().unwrap_or(config_path);
    let config = Config::load(path)?;
    // Build the chain for real: this opens the GeoIP databases, compiles each plugin and
    // runs its init on its config.
    let runtime = runtime_for(&config)?;
    let services = services_for(&config, Arc::new(SystemClock))?;
    let geo = services.geo.current().describe();
    let sink = portcullis::action::open::dry_run(&config, services.clock.clone(), std::io::sink())?;
    Runner::build(&config, &runtime, services, sink, false)?;
    let chain: Vec<&str> = config.stages.iter().map(|s| s.name.as_str()).collect();
    println!(
        "{}: ok ({} sources, {} stages: {}; backend {}; state dir {}; geoip: {})",
        path.display(),
        config.sources.len(),
        config.stages.len(),
        if chain.is_empty() {
            "none".to_string()
        } else {
            chain.join(" -> ")
        },
        config.actions.backend.name(),
        config.state_dir.display(),
        if geo.is_empty() { "none" } else { &geo },
    );
    Ok(ExitCode::SUCCESS)
}
