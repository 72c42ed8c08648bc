//! A plugin that traps, loops forever or eats memory never takes the host down: its stage's
//! `on_error` policy decides the batch, the instance is re-created, the others carry on.
//! The misbehaving component is `plugins/hostile`, built with the standard plugins.

use crate::common::*;
use std::path::Path;

fn hostile_wasm() -> String {
    format!("{}/hostile.wasm", env!("PORTCULLIS_PLUGIN_DIR"))
}

/// The demo log through [hostile] -> flood (threshold 50), hostile configured by `stage`.
fn config(dir: &Path, hostile_stage: &str) -> String {
    let log = root().join("config/demo/demo.log");
    let cfg = write_config(
        dir,
        &format!(
            "[[sources]]\nkind = \"file\"\npath = {log:?}\n{hostile_stage}\n\
             [[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n\
             [pipeline.config]\nthreshold = 50\nwindow = \"1m\"\n"
        ),
    );
    cfg.to_str().unwrap().to_string()
}

fn hostile(mode: &str, every: u32, extra: &str) -> String {
    format!(
        "[[pipeline]]\nname = \"hostile\"\nplugin = {:?}\n{extra}\n[pipeline.config]\nmode = \"{mode}\"\nevery = {every}\n",
        hostile_wasm()
    )
}

fn banned(cfg: &str) -> (Vec<String>, String) {
    let out = portcullis(
        &["run", "--config", cfg, "--once"],
        &[("PORTCULLIS_LOG", "warn")],
        None,
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("thread 'main' panicked"),
        "the host panicked:\n{err}"
    );
    let mut targets: Vec<String> = bans(&out).into_iter().map(|(t, _)| t).collect();
    targets.sort();
    (targets, err)
}

#[test]
fn a_trapping_stage_with_pass_leaves_the_chain_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (baseline, _) = banned(&config(dir.path(), ""));
    assert!(baseline.len() >= 2, "baseline bans: {baseline:?}");
    let (with_trap, err) = banned(&config(
        dir.path(),
        &hostile("trap", 1, "on_error = \"pass\""),
    ));
    assert_eq!(
        with_trap, baseline,
        "every batch passed through the failing stage"
    );
    assert!(err.contains("stage \"hostile\" failed in process"), "{err}");
    assert!(
        err.contains("hostile plugin trapping on batch"),
        "the panic message reaches the log: {err}"
    );
    assert!(err.contains("stage \"hostile\": 2 failed calls"), "{err}");
}

#[test]
fn a_trapping_stage_with_drop_stops_its_batches_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // The demo's 1,9xx events make two batches; the stage traps on the second only. The
    // instance is re-created after the first trap would have poisoned it, so "every 2"
    // means batch 2 fails and batch 1 passes.
    let (dropped_half, err) = banned(&config(
        dir.path(),
        &hostile("trap", 2, "on_error = \"drop\""),
    ));
    let (all_dropped, _) = banned(&config(
        dir.path(),
        &hostile("trap", 1, "on_error = \"drop\""),
    ));
    let (baseline, _) = banned(&config(dir.path(), ""));
    assert!(
        all_dropped.is_empty(),
        "nothing reaches flood: {all_dropped:?}"
    );
    assert!(
        !dropped_half.is_empty() && dropped_half.len() < baseline.len(),
        "{dropped_half:?} vs {baseline:?}\n{err}"
    );
    assert!(err.contains("stage \"hostile\": 1 failed calls"), "{err}");
}

#[test]
fn an_endless_loop_is_interrupted_at_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let (baseline, _) = banned(&config(dir.path(), ""));
    let (looped, err) = banned(&config(
        dir.path(),
        &hostile("loop", 1, "timeout = \"50ms\""),
    ));
    assert_eq!(looped, baseline);
    assert!(err.contains("exceeded its time limit of 50 ms"), "{err}");
}

#[test]
fn a_memory_bomb_is_stopped_at_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (baseline, _) = banned(&config(dir.path(), ""));
    let (bombed, err) = banned(&config(dir.path(), &hostile("grow", 1, "memory_mib = 16")));
    assert_eq!(bombed, baseline);
    assert!(err.contains("exceeded its memory limit of 16 MiB"), "{err}");
}

#[test]
fn a_plugin_cannot_reach_files_network_clock_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["file", "net", "clock", "env"] {
        let out = portcullis(
            &[
                "run",
                "--config",
                &config(dir.path(), &hostile(mode, 1, "")),
                "--once",
            ],
            &[],
            None,
        );
        let err = stderr(&out);
        assert!(out.status.success(), "{mode}: {err}");
        // The WASI call itself traps: the plugin never gets to report what it read.
        assert!(!err.contains("hostile plugin read"), "{mode}: {err}");
        assert!(!err.contains("hostile plugin opened"), "{mode}: {err}");
        assert!(
            err.contains("stage \"hostile\" failed in process"),
            "{mode}: {err}"
        );
        assert!(
            err.contains("called wasi:") && err.contains("which plugins are denied"),
            "{mode}: the error names the refused interface: {err}"
        );
    }
}
