//! `bans list` and `bans history`: read the store (safe while a daemon writes it) and
//! print a table or JSON.

use portcullis::action::store::{BanRow, Store};
use portcullis::config::Config;
use portcullis::duration::format_secs;
use portcullis::parse::format_utc;
use portcullis_abi::net::IpNet;
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only bans inside this network.
    #[arg(long, value_name = "CIDR", value_parser = super::parse_net)]
    pub within: Option<IpNet>,
}

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only bans inside this network.
    #[arg(long, value_name = "CIDR", value_parser = super::parse_net)]
    pub within: Option<IpNet>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

fn open(config: &Config) -> anyhow::Result<Option<Store>> {
    let path = config.store_path();
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(Store::open(&path)?))
}

fn now() -> i64 {
    use portcullis::clock::{Clock, SystemClock};
    SystemClock.now_ms().div_euclid(1000)
}

pub fn list(config: &Config, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let within = args.within;
    let now = now();
    let rows: Vec<BanRow> = match open(config)? {
        // Bans past their expiry that no sweep has lifted yet are not in force.
        Some(store) => store
            .rows(within.as_ref(), true, None)?
            .into_iter()
            .filter(|r| r.expires_at > now)
            .collect(),
        None => Vec::new(),
    };
    match args.format {
        Format::Json => print_json(&rows)?,
        Format::Table => {
            if rows.is_empty() {
                println!("no active bans");
            } else {
                println!(
                    "{:<43} {:<20} {:>9}  {:<16} REASON",
                    "TARGET", "EXPIRES (UTC)", "LEFT", "ORIGIN"
                );
                for r in &rows {
                    println!(
                        "{:<43} {:<20} {:>9}  {:<16} {}",
                        r.target,
                        format_utc(r.expires_at),
                        format_secs(r.expires_at - now),
                        r.origin,
                        r.reason
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn history(config: &Config, args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let within = args.within;
    let rows = match open(config)? {
        Some(store) => store.rows(within.as_ref(), false, Some(args.limit))?,
        None => Vec::new(),
    };
    match args.format {
        Format::Json => print_json(&rows)?,
        Format::Table => {
            if rows.is_empty() {
                println!("no bans recorded");
            } else {
                println!(
                    "{:<43} {:<20} {:<20} {:<16} {:<30} LIFTED",
                    "TARGET", "CREATED (UTC)", "EXPIRES (UTC)", "ORIGIN", "REASON"
                );
                for r in &rows {
                    let lifted = match (r.lifted_at, &r.lift_reason) {
                        (Some(at), Some(why)) => format!("{} ({why})", format_utc(at)),
                        (Some(at), None) => format_utc(at),
                        _ => "active".to_string(),
                    };
                    println!(
                        "{:<43} {:<20} {:<20} {:<16} {:<30} {lifted}",
                        r.target,
                        format_utc(r.created_at),
                        format_utc(r.expires_at),
                        r.origin,
                        r.reason
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(rows: &[BanRow]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for r in rows {
        serde_json::to_writer(&mut out, r)?;
        std::io::Write::write_all(&mut out, b"\n")?;
    }
    Ok(())
}
