//! The action engine's guard: allowlisted networks and overly broad targets are refused
//! whatever a plugin asks, and the refusal is logged and counted.

use crate::common::*;

fn flood(dir: &std::path::Path, log: &std::path::Path, stage_extra: &str, actions: &str) -> String {
    let cfg = write_config(
        dir,
        &format!(
            "[[sources]]\nkind = \"file\"\npath = {log:?}\n\
             [[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n\
             [pipeline.config]\nthreshold = 3\nwindow = \"1m\"\n{stage_extra}\n\
             [actions]\n{actions}\n"
        ),
    );
    cfg.to_str().unwrap().to_string()
}

#[test]
fn allowlisted_sources_are_never_banned() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fw.log");
    let srcs = ["198.51.100.7", "203.0.113.9"];
    std::fs::write(
        &log,
        synthetic_log(10, 0, |i| srcs[i % 2].to_string(), |_| 22),
    )
    .unwrap();
    let cfg = flood(dir.path(), &log, "", "allowlist = [\"198.51.100.0/24\"]");
    let out = portcullis(&["run", "--config", &cfg, "--once"], &[], None);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let targets: Vec<String> = bans(&out).into_iter().map(|(t, _)| t).collect();
    assert_eq!(targets, ["203.0.113.9/32"]);
    assert!(
        err.contains("refused to ban: 198.51.100.7/32 overlaps allowlisted 198.51.100.0/24"),
        "{err}"
    );
    assert!(err.contains(" refused=1"), "{err}");
}

#[test]
fn a_network_broader_than_allowed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fw.log");
    std::fs::write(
        &log,
        synthetic_log(5, 0, |_| "203.0.113.9".to_string(), |_| 22),
    )
    .unwrap();
    // The plugin counts by /8 network; the guard allows nothing broader than /16.
    let cfg = flood(dir.path(), &log, "key = \"net\"\nnet_prefix_v4 = 8", "");
    let out = portcullis(&["run", "--config", &cfg, "--once"], &[], None);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(bans(&out).is_empty(), "{}", stdout(&out));
    assert!(err.contains("203.0.0.0/8 is broader than /16"), "{err}");
    // Allowing /8 lets it through.
    let cfg = flood(
        dir.path(),
        &log,
        "key = \"net\"\nnet_prefix_v4 = 8",
        "min_prefix_v4 = 8",
    );
    let out = portcullis(&["run", "--config", &cfg, "--once"], &[], None);
    let targets: Vec<String> = bans(&out).into_iter().map(|(t, _)| t).collect();
    assert_eq!(targets, ["203.0.0.0/8"]);
}

#[test]
fn bad_guard_settings_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    for (actions, key) in [
        ("allowlist = [\"10.0.0.0/33\"]", "actions.allowlist[0]"),
        ("min_prefix_v4 = 40", "actions.min_prefix_v4"),
        ("max_actve = 3", "max_actve"),
    ] {
        let cfg = write_config(dir.path(), &format!("[actions]\n{actions}\n"));
        let out = portcullis(&["config", "check", cfg.to_str().unwrap()], &[], None);
        assert_clear_error(&out, 2, &[key]);
    }
}
