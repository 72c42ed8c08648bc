//! `portcullis bans`: list, add, remove, expire, reconcile, history, import-iptables.
//!
//! A change goes to whichever process applies bans: this one, when none runs (it takes
//! the lock, applies to the firewall and records in the store itself), or the running one,
//! through a request left in the store, whose answer this command waits for.

mod import;
mod show;

use anyhow::bail;
use portcullis::action::lock::Acquired;
use portcullis::action::store::{RequestKind, Store};
use portcullis::action::{Action, ActionEngine, open};
use portcullis::clock::{Clock, SystemClock};
use portcullis::config::{BackendKind, Config};
use portcullis_abi::net::IpNet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a command waits for a running portcullis to answer its request.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

#[derive(clap::Subcommand, Debug)]
pub enum BansCommand {
    /// The active bans.
    List(show::ListArgs),
    /// Every ban, active or lifted, newest first, with why it lifted.
    History(show::HistoryArgs),
    /// Ban a network (or address) for a time.
    Add(AddArgs),
    /// Lift every ban inside a network (an address lifts just its own ban).
    Remove(RemoveArgs),
    /// Lift the bans whose time has come, now.
    Expire,
    /// Compare the firewall with the store and repair the firewall.
    Reconcile,
    /// Adopt `-j DROP` rules whose comment is an expiry epoch (the shell-script setup).
    ImportIptables(import::ImportArgs),
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// The network, e.g. 198.51.100.7 or 198.51.100.0/24 or 2001:db8::/64.
    #[arg(value_parser = parse_net)]
    pub target: IpNet,
    /// How long: 600s, 10m, 12h, 7d, 2w.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: u64,
    /// Why (kept in the store and shown by `bans list`).
    #[arg(long, default_value = "banned by hand")]
    pub reason: String,
}

#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// The network whose bans lift.
    #[arg(value_parser = parse_net)]
    pub target: IpNet,
}

pub fn run(config_path: &Path, cmd: &BansCommand) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    match cmd {
        BansCommand::List(args) => show::list(&config, args),
        BansCommand::History(args) => show::history(&config, args),
        BansCommand::Add(args) => change(
            &config,
            RequestKind::Act(Action::Ban {
                target: args.target,
                duration_secs: args.duration,
                reason: args.reason.clone(),
            }),
        ),
        BansCommand::Remove(args) => change(
            &config,
            RequestKind::Act(Action::Unban {
                target: args.target,
            }),
        ),
        BansCommand::Expire => change(&config, RequestKind::Sweep),
        BansCommand::Reconcile => reconcile(&config),
        BansCommand::ImportIptables(args) => import::run(&config, args),
    }
}

/// An address or network argument, validated before anything else happens.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    IpNet::parse(text).map_err(|e| format!("{text:?} is not an address or network: {e}"))
}

fn parse_duration(text: &str) -> Result<u64, String> {
    match portcullis::duration::secs(text)? {
        0 => Err("a ban must last at least a second".into()),
        s => Ok(s),
    }
}

/// Applies one change here, or hands it to the process that holds the lock.
fn change(config: &Config, kind: RequestKind) -> anyhow::Result<ExitCode> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if config.actions.backend == BackendKind::DryRun {
        let mut engine = open::dry_run(config, clock, std::io::stdout())?;
        return Ok(report(&apply(&mut engine, kind)?));
    }
    match open::try_lock(config)? {
        Acquired::Held(lock) => {
            let mut live = open::live_with(config, clock, lock)?;
            Ok(report(&apply(&mut live.engine, kind)?))
        }
        Acquired::Busy(pid) => {
            let store = Store::open(&config.store_path())?;
            let now = clock.now_ms().div_euclid(1000);
            let id = store.push_request(&kind, now)?;
            let who = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            let start = Instant::now();
            while start.elapsed() < ANSWER_WAIT {
                if let Some(answer) = store.request_result(id)? {
                    return Ok(report(&answer));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            println!(
                "queued for the running portcullis{who}, which has not answered within {}s; \
                 `portcullis bans list` shows when it is applied",
                ANSWER_WAIT.as_secs()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Carries out `kind` on an engine this process holds; the one-line answer.
fn apply(engine: &mut ActionEngine, kind: RequestKind) -> anyhow::Result<String> {
    let sweep = kind == RequestKind::Sweep;
    let answer = engine.carry_out(kind)?;
    // Opening the engine swept already: `expire` reports everything it lifted.
    if sweep {
        return Ok(format!(
            "ok: {} expired bans lifted",
            engine.stats().expired
        ));
    }
    Ok(answer)
}

/// Prints an answer; `refused: …` and `error: …` answers fail the command.
fn report(answer: &str) -> ExitCode {
    if let Some(rest) = answer.strip_prefix("ok: ") {
        println!("{rest}");
        ExitCode::SUCCESS
    } else {
        eprintln!("portcullis: error: {answer}");
        ExitCode::from(1)
    }
}

fn reconcile(config: &Config) -> anyhow::Result<ExitCode> {
    if config.actions.backend == BackendKind::DryRun {
        bail!("the dry-run backend has no firewall to reconcile");
    }
    // Opening a live engine reconciles; a running daemon reconciles on its own.
    let live = open::live(config, Arc::new(SystemClock))?;
    let r = live.reconciled;
    println!(
        "{}: {} restored, {} removed, {} corrected; {} bans active",
        live.engine.backend_name(),
        r.restored,
        r.removed,
        r.corrected,
        live.engine.bans().len()
    );
    Ok(ExitCode::SUCCESS)
}
