//! The command line: one file per subcommand.

pub mod config_check;
pub mod parse;
pub mod run;

use portcullis::config::{ConfigError, DEFAULT_PATH};
use std::path::PathBuf;
use std::process::ExitCode;

/// Turns netfilter LOG lines into knowledge and bans, through a chain of WebAssembly plugins.
#[derive(clap::Parser, Debug)]
#[command(name = "portcullis", version, about)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, value_name = "FILE", default_value = DEFAULT_PATH)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Parse firewall log lines and print them as JSON (or text).
    Parse(parse::ParseArgs),
    /// Run the configured sources through the plugin chain and apply the decisions.
    Run(run::RunArgs),
    /// Inspect configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a configuration file: keys, values, and that every stage's plugin loads and
    /// accepts its config.
    Check(config_check::CheckArgs),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Parse(args) => parse::run(&args),
        Command::Run(args) => run::run(&cli.config, &args),
        Command::Config(ConfigCommand::Check(args)) => config_check::run(&cli.config, &args),
    }
}

/// 2 for a problem with what the operator gave (config, arguments), 1 for anything else.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.downcast_ref::<ConfigError>().is_some()) {
        return 2;
    }
    let stage_config = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<portcullis::runner::RunError>(),
            Some(portcullis::runner::RunError::Stage { .. })
        )
    });
    if stage_config { 2 } else { 1 }
}
