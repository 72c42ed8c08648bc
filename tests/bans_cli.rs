//! `portcullis bans` without a firewall: arguments are validated before anything runs, a
//! damaged store or a missing firewall tool is a clear error, and an empty store lists
//! nothing. (The firewall itself is exercised in `bans` and `bans_restart`.)

use crate::common::{assert_clear_error, portcullis, stderr, stdout, write_config};

fn config(dir: &std::path::Path, backend: &str) -> String {
    let state = dir.join("state");
    write_config(
        dir,
        &format!(
            "[actions]\nbackend = \"{backend}\"\n[state]\ndir = \"{}\"\n",
            state.display()
        ),
    )
    .display()
    .to_string()
}

/// The backend a config written by [`config`] names.
fn backend_of(cfg: &str) -> &'static str {
    let text = std::fs::read_to_string(cfg).unwrap();
    ["nftables", "iptables", "ipset", "dry-run"]
        .into_iter()
        .find(|b| text.contains(&format!("\"{b}\"")))
        .unwrap()
}

/// Runs with the config's own backend and state folder (the harness otherwise forces
/// dry-run and a shared state folder).
fn bans(cfg: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut full = vec!["--config", cfg, "bans"];
    full.extend(args);
    let state = std::path::Path::new(cfg).with_file_name("state");
    let state = state.to_str().unwrap();
    let mut all = vec![
        ("PORTCULLIS__ACTIONS__BACKEND", backend_of(cfg)),
        ("PORTCULLIS__STATE__DIR", state),
    ];
    all.extend(env);
    portcullis(&full, &all, None)
}

#[test]
fn bad_targets_and_durations_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "dry-run");
    for (args, needle) in [
        (
            vec!["add", "198.51.100.300", "--for", "1h"],
            "198.51.100.300",
        ),
        (vec!["add", "198.51.100.0/33", "--for", "1h"], "/33"),
        (
            vec!["add", "1.2.3.4; rm -rf /", "--for", "1h"],
            "not an address",
        ),
        (vec!["add", "198.51.100.7", "--for", "7"], "7"),
        (
            vec!["add", "198.51.100.7", "--for", "0s"],
            "at least a second",
        ),
        (vec!["remove", "-j ACCEPT"], "'-j'"),
    ] {
        let o = bans(&cfg, &args, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!dir.path().join("state").exists(), "nothing was created");
}

#[test]
fn dry_run_prints_what_it_would_do_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "dry-run");
    let o = bans(
        &cfg,
        &["add", "198.51.100.7", "--for", "10m", "--reason", "x"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let line: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(line["action"], "ban");
    assert_eq!(line["target"], "198.51.100.7/32");
    assert_eq!(line["reason"], "x");
    assert_eq!(line["plugin"], "cli");
    let o = bans(&cfg, &["list"], &[]);
    assert_eq!(stdout(&o).trim(), "no active bans");
}

#[test]
fn a_damaged_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "nftables");
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    let store = dir.path().join("state").join("bans.db");
    std::fs::write(&store, vec![0x5a; 8192]).unwrap();
    let o = bans(&cfg, &["list"], &[]);
    assert_clear_error(&o, 1, &[store.to_str().unwrap(), "not a database"]);
}

#[test]
fn a_missing_firewall_tool_names_itself_and_its_package() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, tool, package) in [
        ("nftables", "`nft` not found", "nftables"),
        ("iptables", "`iptables", "iptables"),
        ("ipset", "`ipset` not found", "ipset"),
    ] {
        let cfg = config(dir.path(), backend);
        let o = bans(
            &cfg,
            &["add", "198.51.100.7", "--for", "1h"],
            &[("PATH", "/nonexistent")],
        );
        assert_clear_error(&o, 1, &[tool, package]);
    }
}
