//! `portcullis bans import-iptables`: takes over the bans of the shell-script setup, the
//! `-j DROP` rules whose comment is their expiry epoch. Each live one becomes a Portcullis
//! ban (through the configured backend, with its expiry), then its original rule is deleted
//! so it is not enforced twice; an expired one is just deleted, as the cron sweep would
//! have done. Rules matching more than a source are reported and left alone.

use portcullis::action::backend::Command;
use portcullis::action::import::{Adoptable, scan};
use portcullis::action::lock::Acquired;
use portcullis::action::{Action, Decision, Outcome, open};
use portcullis::clock::{Clock, SystemClock};
use portcullis::config::{BackendKind, Config};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The built-in chain the rules are in.
    #[arg(long, default_value = "INPUT")]
    pub chain: String,
    /// Leave the original rules in place after adopting them.
    #[arg(long)]
    pub keep_originals: bool,
}

pub fn run(config: &Config, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    if config.actions.backend == BackendKind::DryRun {
        anyhow::bail!("import-iptables needs a firewall backend, not dry-run");
    }
    if !args
        .chain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        anyhow::bail!("--chain {:?} is not a chain name", args.chain);
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let lock = match open::try_lock(config)? {
        Acquired::Held(lock) => lock,
        Acquired::Busy(pid) => anyhow::bail!(
            "another portcullis{} is applying bans; stop it for the import",
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ),
    };
    let mut live = open::live_with(config, clock.clone(), lock)?;
    let now = clock.now_ms().div_euclid(1000);
    let mut failed = false;
    for tool in ["iptables", "ip6tables"] {
        let listing = Command::new(&[], tool).args(["-S", &args.chain]).run()?;
        let (found, refused) = scan(&listing, &args.chain);
        for r in refused {
            println!("{tool}: left alone: {} ({})", r.rule, r.why);
        }
        for rule in found {
            let delete = if rule.expires_at <= now {
                println!("{tool}: {}: expired, deleting its rule", rule.target);
                true
            } else {
                let outcome = live.engine.submit(vec![Decision {
                    action: Action::Ban {
                        target: rule.target,
                        duration_secs: (rule.expires_at - now) as u64,
                        reason: format!("imported from {tool} {}", args.chain),
                    },
                    stage: "import-iptables".into(),
                }])?;
                match &outcome[0] {
                    Outcome::Refused(why) => {
                        failed = true;
                        println!("{tool}: not adopted: {why}; its rule stays");
                        false
                    }
                    _ => {
                        println!("{tool}: adopted {} until {}", rule.target, rule.expires_at);
                        !args.keep_originals
                    }
                }
            };
            if delete {
                delete_rule(tool, &args.chain, &rule)?;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn delete_rule(tool: &str, chain: &str, rule: &Adoptable) -> anyhow::Result<()> {
    Command::new(&[], tool)
        .args(["-D", chain])
        .args(rule.spec.iter().cloned())
        .run()?;
    Ok(())
}
