//! The `portcullis` command: parses arguments, sets up logging, runs the subcommand and
//! turns its outcome into an exit status.

mod cli;

use clap::Parser as _;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_tracing(args.log_format);
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("portcullis: error: {}", message(&e));
            ExitCode::from(cli::exit_code(&e))
        }
    }
}

/// Logs go to stderr, as text or one JSON object per line; `PORTCULLIS_LOG` sets the
/// filter (`warn` by default, e.g. `info`, `portcullis=debug`).
fn init_tracing(format: cli::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        cli::LogFormat::Json => builder.json().init(),
        cli::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// The error and its causes on one line. Typed errors already quote their cause in their
/// own message, so a cause that is already in the line is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let m = cause.to_string();
        if line.contains(&m) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&m);
    }
    line
}
