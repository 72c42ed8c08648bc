//! Every file in `config/` is a valid configuration, and environment overrides apply.

use crate::common::*;

#[test]
fn every_config_file_checks() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("config")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = portcullis(&["config", "check", path.to_str().unwrap()], &[], None);
            assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
            assert!(stdout(&out).contains(": ok ("), "{}", stdout(&out));
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "config/demo.toml and config/portcullis.toml at least"
    );
}

#[test]
fn environment_overrides_a_key() {
    let args = ["config", "check", "config/demo.toml"];
    let plain = portcullis(&args, &[], None);
    let default = format!("state dir {}", test_state_dir().display());
    assert!(stdout(&plain).contains(&default), "{}", stdout(&plain));
    let out = portcullis(
        &args,
        &[("PORTCULLIS__STATE__DIR", "/srv/portcullis-state")],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("state dir /srv/portcullis-state"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_environment_override_is_validated_like_the_file() {
    let out = portcullis(
        &["config", "check", "config/demo.toml"],
        &[("PORTCULLIS__ACTIONS__BACKEND", "firewalld")],
        None,
    );
    assert_clear_error(&out, 2, &["actions.backend", "firewalld"]);
    let out = portcullis(
        &["config", "check", "config/demo.toml"],
        &[("PORTCULLIS__ACTIONS__BACKNED", "dry-run")],
        None,
    );
    assert_clear_error(&out, 2, &["backned"]);
}

/// The systemd unit passes `systemd-analyze verify` without a warning, with its binary
/// path pointed at the binary under test.
#[test]
fn the_systemd_unit_verifies() {
    let analyze = std::path::Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("SKIPPED: /usr/bin/systemd-analyze is missing (Debian package systemd)");
        return;
    }
    let unit = std::fs::read_to_string(root().join("config/portcullis.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/portcullis "),
        "{unit}"
    );
    let unit = unit.replace(
        "/usr/local/bin/portcullis",
        env!("CARGO_BIN_EXE_portcullis"),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.service");
    std::fs::write(&path, unit).unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}
