//! Builds the standard plugins (`plugins/*`) as WebAssembly components and embeds them in
//! the `portcullis` binary, so `cargo run` needs nothing but cargo and the toolchain that
//! `rust-toolchain.toml` names (which includes the `wasm32-wasip2` target).
//!
//! The plugins are built by a nested `cargo build --target wasm32-wasip2 --profile plugin`
//! into their own target directory (`target/wasm-plugins`), so the nested cargo never waits
//! on the lock of the outer build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The standard plugins: (crate name, name operators use in `plugin = "..."`).
const STANDARD: &[(&str, &str)] = &[
    ("cidr-filter", "cidr-filter"),
    ("geoip-enrich", "geoip-enrich"),
    ("threshold-ban", "threshold-ban"),
    ("scan-detect", "scan-detect"),
    ("counter", "counter"),
];
/// Plugins built alongside but not embedded: test fixtures, found through
/// `PORTCULLIS_PLUGIN_DIR`.
const FIXTURES: &[&str] = &["hostile", "old-world", "bench", "hello"];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .parent()
        .expect("host/ sits in the workspace")
        .to_path_buf();
    for watched in ["plugins", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm-plugins");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "plugin",
            "--locked",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for krate in STANDARD
        .iter()
        .map(|(k, _)| *k)
        .chain(FIXTURES.iter().copied())
    {
        cmd.args(["-p", krate]);
    }
    // The outer build's flags and wrappers (clippy, coverage, native RUSTFLAGS) are for the
    // host target, not for the plugins.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the plugins: {e}"));
    if !status.success() {
        panic!(
            "building the standard plugins for wasm32-wasip2 failed ({status}); \
             if the target is missing, run: rustup target add wasm32-wasip2"
        );
    }

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let built = target_dir.join("wasm32-wasip2").join("plugin");
    let mut table =
        String::from("/// The standard plugins built into this binary: (name, component bytes).\n");
    table.push_str("pub const STANDARD_PLUGINS: &[(&str, &[u8])] = &[\n");
    for (krate, name) in STANDARD {
        let file = built.join(format!("{}.wasm", krate.replace('-', "_")));
        copy_checked(&file, &out_dir.join(format!("{name}.wasm")));
        table.push_str(&format!(
            "    ({name:?}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.wasm\"))),\n"
        ));
    }
    table.push_str("];\n");
    for &krate in FIXTURES {
        let file = built.join(format!("{}.wasm", krate.replace('-', "_")));
        copy_checked(&file, &out_dir.join(format!("{krate}.wasm")));
    }
    std::fs::write(out_dir.join("standard_plugins.rs"), table).expect("write plugin table");
    println!(
        "cargo:rustc-env=PORTCULLIS_PLUGIN_DIR={}",
        out_dir.display()
    );
}

fn copy_checked(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| {
        panic!(
            "plugin component {} missing after build: {e}",
            from.display()
        )
    });
}
