//! Bans on the real firewall, per backend, inside a network namespace this bench creates
//! and removes: applying 10,000 bans in one batch (engine, store and backend together) and
//! restoring 10,000 bans at start-up (a fresh engine over a store holding them and an
//! empty firewall, as after a reboot). Median of 3 runs each; also the engine alone over a
//! dry-run backend, to separate Portcullis's own cost from the firewall's.
//!
//! `sudo cargo bench --bench firewall` (needs root for `ip netns`; about a minute).
//! The addresses are from 198.18.0.0/15, the range RFC 2544 reserves for benchmarks.
//! Figures and how to read them: `docs/benchmarks.md`.

use portcullis::action::backend::{
    Backend, BackendOptions, DryRun, Hook, ipset::Ipset, iptables::Iptables, nftables::Nftables,
};
use portcullis::action::{Action, ActionEngine, Decision, GuardConfig, Store};
use portcullis::clock::SystemClock;
use portcullis_abi::net::IpNet;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BANS: u32 = 10_000;
const RUNS: usize = 3;

fn decisions() -> Vec<Decision> {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
    (0..BANS)
        .map(|i| Decision {
            action: Action::Ban {
                target: IpNet::host(IpAddr::V4(Ipv4Addr::from(base + i))),
                duration_secs: 3600,
                reason: "bench".into(),
            },
            stage: "bench".into(),
        })
        .collect()
}

fn guard() -> GuardConfig {
    GuardConfig {
        max_active: 1_000_000,
        max_new_per_minute: 1_000_000,
        ..GuardConfig::default()
    }
}

fn backend(kind: &str, ns: &str) -> Box<dyn Backend> {
    let opts = BackendOptions {
        name: "portcullis".into(),
        hooks: vec![Hook::Input],
        wrapper: ["ip", "netns", "exec", ns].map(String::from).to_vec(),
    };
    match kind {
        "nftables" => Box::new(Nftables::new(opts)),
        "iptables" => Box::new(Iptables::new(opts)),
        "ipset" => Box::new(Ipset::new(opts)),
        _ => Box::new(DryRun::new(std::io::sink())),
    }
}

fn engine(kind: &str, ns: &str, store: Store) -> ActionEngine {
    ActionEngine::new(
        backend(kind, ns),
        store,
        Arc::new(SystemClock),
        guard(),
        Vec::new(),
    )
    .expect("engine")
}

/// One run: (apply, restore).
fn run(kind: &str, ns: &str) -> (Duration, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bans.db");
    let mut e = engine(kind, ns, Store::open(&path).expect("store"));
    e.start().expect("start");
    let batch = decisions();
    let t = Instant::now();
    let out = e.submit(batch).expect("apply 10,000 bans");
    let apply = t.elapsed();
    assert_eq!(out.len(), BANS as usize);
    assert_eq!(e.bans().len(), BANS as usize);
    drop(e);
    // As after a reboot: the firewall is empty, the store holds every ban.
    backend(kind, ns).remove_all().expect("empty the firewall");
    let t = Instant::now();
    let mut e = engine(kind, ns, Store::open(&path).expect("store"));
    let report = e.start().expect("restore");
    let restore = t.elapsed();
    if kind != "dry-run" {
        assert_eq!(report.restored, BANS as usize, "{kind}: restored");
    }
    backend(kind, ns).remove_all().expect("clean up");
    (apply, restore)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let ns = format!("pc-bench-{}", std::process::id());
    let made = Command::new("ip").args(["netns", "add", &ns]).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("firewall bench: needs root and iproute2 (`ip netns add` failed); skipped");
        return;
    }
    println!("{BANS} bans, median of {RUNS} runs");
    println!("{:<10} {:>12} {:>12}", "backend", "apply", "restore");
    for kind in ["dry-run", "nftables", "ipset", "iptables"] {
        let mut applies = Vec::new();
        let mut restores = Vec::new();
        for _ in 0..RUNS {
            let (a, r) = run(kind, &ns);
            applies.push(a);
            restores.push(r);
        }
        println!(
            "{kind:<10} {:>10.0}ms {:>10.0}ms",
            median(applies).as_secs_f64() * 1e3,
            median(restores).as_secs_f64() * 1e3
        );
    }
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
}
