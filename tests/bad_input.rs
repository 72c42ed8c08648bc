//! Bad input of every kind: a clear one-line error naming where and why, or a counted skip
//! for bad lines; never a panic.

use crate::common::*;

fn check(config: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), config);
    // Keep the directory alive until the command has run. The file's own backend is
    // checked (the harness otherwise forces dry-run); checking touches no firewall.
    let out = portcullis(
        &["config", "check", path.to_str().unwrap()],
        &[("PORTCULLIS__ACTIONS__BACKEND", "")],
        None,
    );
    drop(dir);
    out
}

#[test]
fn missing_config_file() {
    let out = portcullis(
        &["run", "--config", "/nonexistent/portcullis.toml", "--once"],
        &[],
        None,
    );
    assert_clear_error(&out, 2, &["/nonexistent/portcullis.toml", "does not exist"]);
}

#[test]
fn unknown_top_level_and_section_keys() {
    assert_clear_error(
        &check("[actoins]\nbackend = \"dry-run\"\n"),
        2,
        &["actoins"],
    );
    assert_clear_error(
        &check("[actions]\nbackend = \"dry-run\"\nbakend = 1\n"),
        2,
        &["actions", "bakend"],
    );
    assert_clear_error(
        &check("[[pipeline]]\nname = \"a\"\nplugin = \"cidr-filter\"\nonerror = \"drop\"\n"),
        2,
        &["pipeline[0]", "onerror"],
    );
}

#[test]
fn bad_values_name_their_key() {
    assert_clear_error(
        &check("[actions]\nbackend = \"nft\"\n"),
        2,
        &["actions.backend", "nft"],
    );
    assert_clear_error(
        &check("[[pipeline]]\nname = \"a\"\nplugin = \"cidr-filter\"\ntimeout = \"5\"\n"),
        2,
        &["pipeline[0].timeout", "unit"],
    );
    assert_clear_error(
        &check("[[pipeline]]\nname = \"a b\"\nplugin = \"cidr-filter\"\n"),
        2,
        &["pipeline[0].name"],
    );
    assert_clear_error(
        &check(
            "[[pipeline]]\nname = \"a\"\nplugin = \"cidr-filter\"\n[[pipeline]]\nname = \"a\"\nplugin = \"threshold-ban\"\n",
        ),
        2,
        &["pipeline[1].name", "earlier stage"],
    );
    assert_clear_error(
        &check("[[sources]]\nkind = \"file\"\n"),
        2,
        &["sources[0].path"],
    );
    assert_clear_error(
        &check("[[sources]]\nkind = \"carrier-pigeon\"\n"),
        2,
        &["sources[0].kind", "carrier-pigeon"],
    );
    assert_clear_error(&check("[actions\nbackend = 1\n"), 2, &["portcullis.toml"]);
    for (text, needles) in [
        (
            "[[sources]]\nkind = \"syslog\"\n",
            &["sources[0].listen", "udp:"][..],
        ),
        (
            "[[sources]]\nkind = \"syslog\"\nlisten = \"tcp:1.2.3.4:5\"\n",
            &["sources[0].listen", "tcp:1.2.3.4:5"],
        ),
        (
            "[[sources]]\nkind = \"kmsg\"\nstart_at = \"end\"\n",
            &["sources[0].start_at", "only file"],
        ),
        (
            "[run]\nbatch_deadline = \"0s\"\n",
            &["run.batch_deadline", "1ms to 60s"],
        ),
        ("[run]\nqueue = 0\n", &["run.queue"]),
        (
            "[metrics]\nlisten = \"localhost\"\n",
            &["metrics.listen", "localhost"],
        ),
        (
            "[actions]\nname = \"has space\"\n",
            &["actions.name", "has space"],
        ),
        (
            "[actions]\nhooks = [\"output\"]\n",
            &["actions.hooks", "output"],
        ),
        (
            "[actions]\nreconcile_interval = \"10ms\"\n",
            &["actions.reconcile_interval"],
        ),
    ] {
        assert_clear_error(&check(text), 2, needles);
    }
}

#[test]
fn a_plugin_refusing_its_config_names_stage_and_key() {
    let out = check(
        "[[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n[pipeline.config]\ntreshold = 5\n",
    );
    assert_clear_error(&out, 2, &["flood", "treshold"]);
    let out = check(
        "[[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n[pipeline.config]\nwindow = \"soon\"\n",
    );
    assert_clear_error(&out, 2, &["flood", "window", "soon"]);
    let out = check(
        "[[pipeline]]\nname = \"nets\"\nplugin = \"cidr-filter\"\n[pipeline.config]\ndrop_sources = [\"10.0.0.0/33\"]\n",
    );
    assert_clear_error(&out, 2, &["nets", "drop_sources[0]", "/33"]);
}

#[test]
fn unknown_plugin_name() {
    let out = check("[[pipeline]]\nname = \"a\"\nplugin = \"geoip\"\n");
    assert_clear_error(&out, 2, &["pipeline[0].plugin", "\"geoip\"", "cidr-filter"]);
}

#[test]
fn plugin_files_that_are_not_components() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("garbage.wasm"),
        b"this is not webassembly at all",
    )
    .unwrap();
    // A valid core module (magic + version, no sections) is still not a component.
    std::fs::write(dir.path().join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    for file in ["garbage.wasm", "core.wasm"] {
        let cfg = write_config(
            dir.path(),
            &format!("[[pipeline]]\nname = \"x\"\nplugin = \"./{file}\"\n"),
        );
        let out = portcullis(&["config", "check", cfg.to_str().unwrap()], &[], None);
        assert_clear_error(&out, 2, &["\"x\"", file, "is not a WebAssembly component"]);
    }
    let cfg = write_config(
        dir.path(),
        "[[pipeline]]\nname = \"x\"\nplugin = \"./missing.wasm\"\n",
    );
    let out = portcullis(&["config", "check", cfg.to_str().unwrap()], &[], None);
    assert_clear_error(&out, 2, &["missing.wasm", "cannot read plugin"]);
}

fn garbage_log() -> Vec<u8> {
    let mut log = Vec::new();
    log.extend_from_slice(b"Aug 30 16:28:09 host kernel: [1.0] DROP: IN=eth0 OUT= MAC= SRC=203.0.113.9 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=1234 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0 \n");
    log.extend_from_slice(b"\xff\xfe\x00garbage \x01\x02 IN=\n");
    log.extend_from_slice(
        b"Aug 30 16:28:09 host kernel: DROP: IN=eth0 OUT= SRC=999.1.1.1 DST=192.0.2.1 LEN=60\n",
    );
    log.extend_from_slice(b"Aug 30 16:28:10 host sshd[1]: Accepted publickey for root\n");
    log.extend_from_slice(&vec![b'A'; 200_000]);
    log.extend_from_slice(b"\n\n");
    log.extend_from_slice(b"Aug 30 16:28:11 host kernel: [2.0] DROP: IN=eth0 OUT= MAC= SRC=203.0.113.9 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=2 DF PROTO=TCP SPT=1235 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0\n");
    log
}

#[test]
fn with_log_format_json_each_warning_is_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("garbage.log");
    std::fs::write(&log, garbage_log()).unwrap();
    let cfg = write_config(
        dir.path(),
        &format!("[[sources]]\nkind = \"file\"\npath = {log:?}\n"),
    );
    let out = portcullis(
        &[
            "--log-format",
            "json",
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--once",
        ],
        &[],
        None,
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let warnings: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert_eq!(warnings[0]["level"], "WARN");
    assert!(
        warnings[0]["fields"]["message"]
            .as_str()
            .unwrap()
            .contains(":2: malformed firewall record"),
        "{err}"
    );
}

#[test]
fn garbage_lines_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("garbage.log");
    std::fs::write(&log, garbage_log()).unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[sources]]\nkind = \"file\"\npath = {log:?}\n[[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n[pipeline.config]\nthreshold = 2\n"
        ),
    );
    let out = portcullis(
        &["run", "--config", cfg.to_str().unwrap(), "--once"],
        &[],
        None,
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("lines=7 events=2 "), "{err}");
    // Line 2 is a record cut right after `IN=`, line 3 has an impossible address.
    assert!(err.contains("skipped=3 malformed=2"), "{err}");
    assert!(
        err.contains(":2: malformed") && err.contains(":3: malformed"),
        "bad records are reported with their line number: {err}"
    );
    let targets: Vec<String> = bans(&out).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        targets,
        ["203.0.113.9/32"],
        "the good lines around the garbage still count"
    );
}

#[test]
fn parse_counts_garbage_on_stdin() {
    let out = portcullis(&["parse", "--stats"], &[], Some(&garbage_log()));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("lines=7 events=2 skipped=3 malformed=2"),
        "{err}"
    );
    assert_eq!(stdout(&out).lines().count(), 2);
}

#[test]
fn missing_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[[sources]]\nkind = \"file\"\npath = \"nope.log\"\n",
    );
    let out = portcullis(
        &["run", "--config", cfg.to_str().unwrap(), "--once"],
        &[],
        None,
    );
    assert_clear_error(&out, 1, &["nope.log", "No such file"]);
    let out = portcullis(&["parse", "/nonexistent/fw.log"], &[], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/fw.log"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_utc_offset_names_its_key() {
    assert_clear_error(
        &check("[parser]\nutc_offset = \"CET\"\n"),
        2,
        &["parser.utc_offset", "CET"],
    );
    let out = check("[parser]\nutc_offset = \"+02:00\"\n");
    assert!(out.status.success(), "{}", stderr(&out));
}
