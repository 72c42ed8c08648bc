//! `portcullis logrules plan|apply|remove`: LOG rules for the host's listening services,
//! rate-limited, in a table or chain Portcullis owns. `plan` prints exactly what `apply`
//! would change (and the script it would run); `apply` changes only what differs, so a
//! second one changes nothing; `remove` takes away only what Portcullis added.

use anyhow::Context;
use portcullis::action::backend::Command;
use portcullis::config::{BackendKind, Config};
use portcullis::logrules::{self, Diff, Limit, Rule, Service, iptables, nftables};
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum LogrulesCommand {
    /// Print what `apply` would change, and the commands it would run.
    Plan(RuleArgs),
    /// Add the missing LOG rules and remove the stale ones.
    Apply(RuleArgs),
    /// Remove every LOG rule Portcullis added (its table or chain).
    Remove(BackendArg),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleBackend {
    Nftables,
    Iptables,
}

#[derive(clap::Args, Debug)]
pub struct BackendArg {
    /// Where the rules go [default: from the config's `[actions] backend`: iptables for
    /// iptables and ipset, nftables otherwise].
    #[arg(long, value_enum)]
    pub backend: Option<RuleBackend>,
}

#[derive(clap::Args, Debug)]
pub struct RuleArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Log these ports instead of the listening services: 22, 443/tcp, 53/udp.
    #[arg(long, value_delimiter = ',', value_parser = logrules::parse_port)]
    pub ports: Vec<Service>,
    /// Most lines each rule logs: N/second, N/minute or N/hour.
    #[arg(long, default_value = "20/second")]
    pub limit: String,
    /// Lines a rule may log in a burst before the limit applies.
    #[arg(long, default_value_t = 50)]
    pub burst: u32,
}

/// The config when there is one: `--config` given, or the default file present.
fn config(explicit: Option<&Path>) -> anyhow::Result<Config> {
    match explicit {
        Some(p) => Ok(Config::load(p)?),
        None if Path::new(portcullis::config::DEFAULT_PATH).exists() => {
            Ok(Config::load(Path::new(portcullis::config::DEFAULT_PATH))?)
        }
        None => Ok(Config::empty()),
    }
}

fn backend(arg: &BackendArg, config: &Config) -> RuleBackend {
    arg.backend.unwrap_or(match config.actions.backend {
        BackendKind::Iptables | BackendKind::Ipset => RuleBackend::Iptables,
        _ => RuleBackend::Nftables,
    })
}

pub fn run(explicit: Option<&Path>, cmd: &LogrulesCommand) -> anyhow::Result<ExitCode> {
    let config = config(explicit)?;
    let name = config.actions.options.name.clone();
    match cmd {
        LogrulesCommand::Remove(arg) => {
            remove(backend(arg, &config), &name)?;
            Ok(ExitCode::SUCCESS)
        }
        LogrulesCommand::Plan(args) | LogrulesCommand::Apply(args) => {
            let apply = matches!(cmd, LogrulesCommand::Apply(_));
            let limit = Limit::parse(&args.limit, args.burst)
                .map_err(|e| anyhow::anyhow!("--limit/--burst: {e}"))?;
            let services = if args.ports.is_empty() {
                logrules::services(&portcullis::listeners::scan())
            } else {
                args.ports.clone()
            };
            let wanted: Vec<Rule> = services.into_iter().map(|s| Rule::new(s, limit)).collect();
            match backend(&args.backend, &config) {
                RuleBackend::Nftables => nft(&name, &wanted, apply),
                RuleBackend::Iptables => ipt(&name, &wanted, apply),
            }?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn describe(diff: &Diff) {
    for r in &diff.add {
        println!(
            "+ {}/{:<5} {:<30} {}/{}, burst {}",
            r.service.proto.name(),
            r.service.port,
            format!("{:?}", r.prefix),
            r.limit.rate,
            r.limit.per.name(),
            r.limit.burst
        );
    }
    for fp in &diff.remove {
        println!("- {fp}");
    }
}

fn nft(name: &str, wanted: &[Rule], apply: bool) -> anyhow::Result<()> {
    let table = nftables::table(name);
    let listing = Command::new(&[], "nft").args(["-j", "list", "table", "inet", &table]);
    let present = match listing.output()? {
        out if out.status.success() => {
            nftables::present(&out.stdout).map_err(|e| anyhow::anyhow!("nft -j output: {e}"))?
        }
        // No table yet.
        _ => Vec::new(),
    };
    let fps: Vec<String> = present.iter().map(|(f, _)| f.clone()).collect();
    let diff = logrules::diff(wanted, &fps);
    println!("nftables: table inet {table}, chain input");
    if diff.is_empty() {
        println!("nothing to change ({} rules in place)", fps.len());
        return Ok(());
    }
    describe(&diff);
    let script = nftables::script(&table, &diff, &present);
    if apply {
        Command::new(&[], "nft")
            .args(["-f", "-"])
            .stdin(script)
            .run()?;
        println!(
            "applied: {} added, {} removed",
            diff.add.len(),
            diff.remove.len()
        );
    } else {
        println!("`apply` would run `nft -f -` with:\n{script}");
    }
    Ok(())
}

fn ipt(name: &str, wanted: &[Rule], apply: bool) -> anyhow::Result<()> {
    let chain = iptables::chain(name);
    for tool in ["iptables", "ip6tables"] {
        let listing = Command::new(&[], tool).args(["-S", &chain]).output()?;
        let exists = listing.status.success();
        let present = if exists {
            iptables::present(&listing.stdout, &chain)
        } else {
            Vec::new()
        };
        let fps: Vec<String> = present.iter().map(|(f, _)| f.clone()).collect();
        let diff = logrules::diff(wanted, &fps);
        let jumped = Command::new(&[], tool)
            .args(["-C", "INPUT", "-j", &chain])
            .output()?
            .status
            .success();
        println!("{tool}: chain {chain}, jumped from INPUT");
        if diff.is_empty() && exists && jumped {
            println!("nothing to change ({} rules in place)", fps.len());
            continue;
        }
        describe(&diff);
        let script = iptables::script(&chain, &diff, &present);
        if !apply {
            if !exists {
                println!("`apply` would run `{tool} -N {chain}`");
            }
            if !jumped {
                println!("`apply` would run `{tool} -I INPUT 1 -j {chain}`");
            }
            println!("`apply` would run `{tool}-restore --noflush` with:\n{script}");
            continue;
        }
        if !exists {
            Command::new(&[], tool).args(["-N", &chain]).run()?;
        }
        let restore = format!("{tool}-restore");
        Command::new(&[], &restore)
            .args(["--noflush"])
            .stdin(script)
            .run()
            .with_context(|| format!("{tool}: applying the LOG rules"))?;
        if !jumped {
            Command::new(&[], tool)
                .args(["-I", "INPUT", "1", "-j", &chain])
                .run()?;
        }
        println!(
            "applied: {} added, {} removed",
            diff.add.len(),
            diff.remove.len()
        );
    }
    Ok(())
}

fn remove(backend: RuleBackend, name: &str) -> anyhow::Result<()> {
    match backend {
        RuleBackend::Nftables => {
            let table = nftables::table(name);
            let exists = Command::new(&[], "nft")
                .args(["list", "table", "inet", &table])
                .output()?
                .status
                .success();
            if exists {
                Command::new(&[], "nft")
                    .args(["delete", "table", "inet", &table])
                    .run()?;
                println!("nftables: removed table inet {table}");
            } else {
                println!("nftables: no table inet {table}; nothing to remove");
            }
        }
        RuleBackend::Iptables => {
            let chain = iptables::chain(name);
            for tool in ["iptables", "ip6tables"] {
                while Command::new(&[], tool)
                    .args(["-C", "INPUT", "-j", &chain])
                    .output()?
                    .status
                    .success()
                {
                    Command::new(&[], tool)
                        .args(["-D", "INPUT", "-j", &chain])
                        .run()?;
                }
                if Command::new(&[], tool)
                    .args(["-S", &chain])
                    .output()?
                    .status
                    .success()
                {
                    Command::new(&[], tool).args(["-F", &chain]).run()?;
                    Command::new(&[], tool).args(["-X", &chain]).run()?;
                    println!("{tool}: removed chain {chain}");
                } else {
                    println!("{tool}: no chain {chain}; nothing to remove");
                }
            }
        }
    }
    Ok(())
}
