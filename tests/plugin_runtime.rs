//! The plugin runtime as an operator meets it: `plugin check`, ahead-of-time compilation
//! and the cache, state that survives restarts, failure limits.

use crate::common::*;
use std::path::Path;

#[test]
fn plugin_check_describes_a_plugin() {
    let out = portcullis(&["plugin", "check", "threshold-ban"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("implements portcullis:plugin@0.2.0"),
        "{text}"
    );
    assert!(text.contains("threshold-ban 0.1.0"), "{text}");
    assert!(text.contains("window (duration, default 1m)"), "{text}");

    let hello = fixture_plugin("hello");
    let out = portcullis(&["plugin", "check", &hello], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("port (port number, required): the trap port"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn plugin_check_refuses_an_older_contract_saying_so() {
    let old = fixture_plugin("old-world");
    let out = portcullis(&["plugin", "check", &old], &[], None);
    assert_clear_error(
        &out,
        2,
        &[
            "old-world.wasm",
            "built for portcullis:plugin@0.1.0",
            "portcullis:plugin@0.2.0",
            "rebuild",
        ],
    );
}

fn cache_files(state: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(state.join("cache")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn plugins_compile_ahead_of_time_and_a_damaged_cache_is_rebuilt() {
    let state = tempfile::tempdir().unwrap();
    let env = [("PORTCULLIS__STATE__DIR", state.path().to_str().unwrap())];
    let args = ["--config", "config/demo.toml", "plugin", "compile"];
    let first = portcullis(&args, &env, None);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        stdout(&first).matches(" compiled").count(),
        2,
        "{}",
        stdout(&first)
    );
    assert_eq!(cache_files(state.path()).len(), 2);
    let second = portcullis(&args, &env, None);
    assert_eq!(
        stdout(&second).matches("already compiled").count(),
        2,
        "{}",
        stdout(&second)
    );

    // A damaged cache file is not trusted: the run recompiles and decides the same.
    for f in cache_files(state.path()) {
        std::fs::write(&f, b"not a precompiled module").unwrap();
    }
    let run = portcullis(
        &["run", "--config", "config/demo.toml", "--once"],
        &env,
        None,
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(bans(&run).len(), 1);
    assert!(
        stderr(&run).contains("precompiled plugin unusable, recompiling"),
        "{}",
        stderr(&run)
    );
}

fn flood_config(dir: &Path, log: &Path) -> String {
    let cfg = write_config(
        dir,
        &format!(
            "[[sources]]\nkind = \"file\"\npath = {log:?}\n\
             [[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n\
             [pipeline.config]\nthreshold = 5\nwindow = \"10m\"\n"
        ),
    );
    cfg.to_str().unwrap().to_string()
}

#[test]
fn keep_state_carries_counts_into_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let env = [("PORTCULLIS__STATE__DIR", state.to_str().unwrap())];
    let first_log = dir.path().join("first.log");
    let second_log = dir.path().join("second.log");
    std::fs::write(
        &first_log,
        synthetic_log(3, 0, |_| "203.0.113.50".into(), |_| 22),
    )
    .unwrap();
    std::fs::write(
        &second_log,
        synthetic_log(3, 60, |_| "203.0.113.50".into(), |_| 22),
    )
    .unwrap();

    // Three events, then three more: only a run that remembers the first three bans.
    let cfg = flood_config(dir.path(), &first_log);
    let run1 = portcullis(
        &["run", "--config", &cfg, "--once", "--keep-state"],
        &env,
        None,
    );
    assert!(run1.status.success(), "{}", stderr(&run1));
    assert!(bans(&run1).is_empty());
    assert!(state.join("plugins/flood.state").is_file());

    let cfg = flood_config(dir.path(), &second_log);
    let forgetful = portcullis(&["run", "--config", &cfg, "--once"], &env, None);
    assert!(
        bans(&forgetful).is_empty(),
        "without --keep-state the count starts at zero"
    );
    let run2 = portcullis(
        &["run", "--config", &cfg, "--once", "--keep-state"],
        &env,
        None,
    );
    assert!(run2.status.success(), "{}", stderr(&run2));
    let targets: Vec<String> = bans(&run2).into_iter().map(|(t, _)| t).collect();
    assert_eq!(targets, ["203.0.113.50/32"]);
}

/// Three batches of 1024 events; the middle one holds one event to port 6666.
fn three_batches_with_poison(dir: &Path) -> std::path::PathBuf {
    let log = dir.join("poison.log");
    let text = synthetic_log(
        3 * 1024,
        0,
        |i| format!("198.51.100.{}", i % 200),
        |i| if i == 1500 { 6666 } else { 443 },
    );
    std::fs::write(&log, text).unwrap();
    log
}

fn hostile_then_flood(dir: &Path, log: &Path, hostile_extra: &str, state_extra: &str) -> String {
    let cfg = write_config(
        dir,
        &format!(
            "[[sources]]\nkind = \"file\"\npath = {log:?}\n\
             [[pipeline]]\nname = \"hostile\"\nplugin = {:?}\n{hostile_extra}\n\
             [[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n\
             [pipeline.config]\nthreshold = 1000\nwindow = \"1h\"\n{state_extra}",
            fixture_plugin("hostile")
        ),
    );
    cfg.to_str().unwrap().to_string()
}

#[test]
fn a_stage_that_traps_is_recreated_from_its_last_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let log = three_batches_with_poison(dir.path());
    let hostile = "[pipeline.config]\nmode = \"trap\"\npoison_port = 6666\n";
    let cfg = hostile_then_flood(
        dir.path(),
        &log,
        hostile,
        "[state]\nsnapshot_interval = \"0s\"\n",
    );
    let out = portcullis(
        &["run", "--config", &cfg, "--once"],
        &[("PORTCULLIS_LOG", "info")],
        None,
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("stage \"hostile\": 1 failed calls"), "{err}");
    // Batches 1 and 3 were counted: the instance re-created after batch 2 resumed from the
    // snapshot taken after batch 1, not from zero.
    assert!(
        err.contains("plugin metric hostile.events_seen = 2048"),
        "{err}"
    );
    // The next stage saw every batch (on_error = "pass").
    assert!(err.contains("events=3072 "), "{err}");
}

#[test]
fn a_stage_failing_too_often_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let log = three_batches_with_poison(dir.path());
    let hostile = "max_failures = 1\non_error = \"drop\"\n[pipeline.config]\nmode = \"trap\"\n";
    let cfg = hostile_then_flood(dir.path(), &log, hostile, "");
    let out = portcullis(&["run", "--config", &cfg, "--once"], &[], None);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("DISABLED after 1 failed calls in a row"),
        "{err}"
    );
    // Called once; the two later batches went straight to its on_error policy.
    assert!(err.contains("stage \"hostile\": 1 failed calls"), "{err}");
    assert!(
        bans(&out).is_empty(),
        "on_error = drop: nothing reached the next stage"
    );
}

#[test]
fn a_fuel_budget_stops_an_endless_loop() {
    let dir = tempfile::tempdir().unwrap();
    let log = three_batches_with_poison(dir.path());
    let hostile = "fuel = 5000000\ntimeout = \"30s\"\n[pipeline.config]\nmode = \"loop\"\npoison_port = 6666\n";
    let cfg = hostile_then_flood(dir.path(), &log, hostile, "");
    let out = portcullis(&["run", "--config", &cfg, "--once"], &[], None);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("exceeded its fuel budget of 5000000 per call"),
        "{err}"
    );
    assert!(err.contains("stage \"hostile\": 1 failed calls"), "{err}");
}
