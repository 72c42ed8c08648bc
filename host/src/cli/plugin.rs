//! `portcullis plugin`: check a component against the contract; precompile plugins.

use anyhow::bail;
use portcullis::clock::SystemClock;
use portcullis::config::Config;
use portcullis::geo::{Geo, GeoService};
use portcullis::metrics::PluginMetrics;
use portcullis::plugin::{
    CONTRACT, HostServices, PluginSource, Runtime, RuntimeOptions, describe_plugin,
};
use portcullis::runner::runtime_for;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Subcommand, Debug)]
pub enum PluginCommand {
    /// Check that a component implements the plugin contract and print its description.
    Check {
        /// A `.wasm` component, or a standard plugin's name.
        plugin: String,
    },
    /// Compile every configured stage's plugin ahead of time into the state folder's cache,
    /// so that starting needs no compiler (for appliance images).
    Compile,
}

pub fn run(config_path: &Path, cmd: &PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Check { plugin } => check(plugin),
        PluginCommand::Compile => compile(config_path),
    }
}

fn check(plugin: &str) -> anyhow::Result<ExitCode> {
    let source = PluginSource::resolve(plugin, &PathBuf::from("."))?;
    let runtime = Runtime::new(RuntimeOptions::default())?;
    let loaded = runtime.load(&source)?;
    let services = HostServices {
        clock: Arc::new(SystemClock),
        geo: Arc::new(GeoService::fixed(Geo::open(&Default::default())?)),
        metrics: Arc::new(PluginMetrics::default()),
    };
    let d = describe_plugin(&runtime, &loaded, services)?;
    println!("{}: implements {CONTRACT}", loaded.origin());
    print!("{d}");
    Ok(ExitCode::SUCCESS)
}

fn compile(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    if config.stages.is_empty() {
        bail!(
            "config file {}: no [[pipeline]] stages to compile",
            config.path.display()
        );
    }
    let runtime = runtime_for(&config)?;
    let mut seen = Vec::new();
    for stage in &config.stages {
        if seen.contains(&stage.plugin) {
            continue;
        }
        seen.push(stage.plugin.clone());
        let fresh = runtime.precompile(&stage.plugin)?;
        println!(
            "{}: {} {}",
            stage.name,
            stage.plugin,
            if fresh {
                "compiled"
            } else {
                "already compiled"
            }
        );
    }
    println!("cache: {}", config.cache_dir().display());
    Ok(ExitCode::SUCCESS)
}
