//! The command line: one file per subcommand.

pub mod analyze;
pub mod bans;
pub mod config_check;
pub mod listeners;
pub mod logrules;
pub mod parse;
pub mod plugin;
pub mod replay;
pub mod run;

use portcullis::config::{ConfigError, DEFAULT_PATH};
use std::path::PathBuf;
use std::process::ExitCode;

/// Turns netfilter LOG lines into knowledge and bans, through a chain of WebAssembly plugins.
#[derive(clap::Parser, Debug)]
#[command(name = "portcullis", version, about)]
pub struct Cli {
    /// Configuration file [default: /etc/portcullis/portcullis.toml].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for journald or a log shipper).
    Json,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Parse firewall log lines and print them as JSON (or text).
    Parse(parse::ParseArgs),
    /// Count events by source, organisation, ASN, country, port, prefix or protocol, after
    /// the configured filter and enrichment stages; or print lines with their origin.
    Analyze(analyze::AnalyzeArgs),
    /// Follow the configured sources through the plugin chain and apply the decisions
    /// (`--once`: read them to their end and exit).
    Run(run::RunArgs),
    /// List, add and remove bans; their history; reconcile the firewall with the store.
    #[command(subcommand)]
    Bans(bans::BansCommand),
    /// The listening TCP and UDP sockets of this host, with their processes.
    Listeners(listeners::ListenersArgs),
    /// Run the configured stages over old logs in their own time and report who would
    /// have been banned, when, for how long and why. Touches no firewall.
    Replay(replay::ReplayArgs),
    /// LOG rules for the listening services: plan, apply, remove.
    #[command(subcommand)]
    Logrules(logrules::LogrulesCommand),
    /// Inspect configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check plugins against the contract; compile them ahead of time.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a configuration file: keys, values, and that every stage's plugin loads and
    /// accepts its config.
    Check(config_check::CheckArgs),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let explicit = cli.config.clone();
    let config = cli.config.unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
    match cli.command {
        Command::Parse(args) => parse::run(&args),
        Command::Analyze(args) => analyze::run(explicit.as_deref(), &args),
        Command::Run(args) => run::run(&config, &args),
        Command::Bans(cmd) => bans::run(&config, &cmd),
        Command::Listeners(args) => listeners::run(&args),
        Command::Replay(args) => replay::run(&config, &args),
        Command::Logrules(cmd) => logrules::run(explicit.as_deref(), &cmd),
        Command::Config(ConfigCommand::Check(args)) => config_check::run(&config, &args),
        Command::Plugin(cmd) => plugin::run(&config, &cmd),
    }
}

/// 2 for a problem with what the operator gave (config, arguments), 1 for anything else.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    use portcullis::daemon::DaemonError;
    if e.chain().any(|c| {
        c.downcast_ref::<ConfigError>().is_some()
            || matches!(
                c.downcast_ref::<DaemonError>(),
                Some(DaemonError::Config(_) | DaemonError::NoSources(_))
            )
    }) {
        return 2;
    }
    use portcullis::plugin::PluginError;
    use portcullis::runner::RunError;
    let operator_input = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<RunError>(),
            Some(RunError::Stage { .. } | RunError::Geo(_))
        ) || c.downcast_ref::<portcullis::geo::GeoError>().is_some()
            || matches!(
                c.downcast_ref::<PluginError>(),
                Some(
                    PluginError::Unknown { .. }
                        | PluginError::NotComponent { .. }
                        | PluginError::WrongWorld { .. }
                        | PluginError::Read { .. }
                )
            )
    });
    if operator_input { 2 } else { 1 }
}
