//! Running the binary and reading its output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_path_buf()
}

/// Where tests keep Portcullis state (the plugin cache) unless a test says otherwise:
/// under `target/`, never in the system's /var/lib/portcullis.
pub fn test_state_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("portcullis-state")
}

/// Runs `portcullis` with `args`, extra environment (an empty value removes the variable)
/// and optional stdin.
pub fn portcullis(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env("PORTCULLIS__STATE__DIR", test_state_dir());
    // Tests that do not say otherwise print decisions instead of changing this machine's
    // firewall (nftables is the default backend); firewall tests run in a namespace.
    cmd.env("PORTCULLIS__ACTIONS__BACKEND", "dry-run");
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().expect("spawn portcullis");
    let mut pipe = child.stdin.take().expect("stdin");
    // Feed stdin from its own thread while the output is read, so a child that writes a
    // lot before it has read everything cannot deadlock against us.
    let input = stdin.map(<[u8]>::to_vec);
    let feeder = std::thread::spawn(move || {
        if let Some(input) = input {
            // The child may exit without reading everything (an error); that is its answer.
            let _ = pipe.write_all(&input);
        }
    });
    let out = child.wait_with_output().expect("wait for portcullis");
    feeder.join().expect("stdin feeder");
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the run failed with `code` and one `portcullis: error:` line containing every
/// one of `needles`, and no panic.
pub fn assert_clear_error(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit status; stderr:\n{err}");
    assert!(!err.contains("panicked"), "panic:\n{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("portcullis: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one error line expected:\n{err}");
    for n in needles {
        assert!(lines[0].contains(n), "error line lacks {n:?}: {}", lines[0]);
    }
}

/// The ban decisions printed by a dry run: (target, full JSON object).
pub fn bans(o: &Output) -> Vec<(String, serde_json::Value)> {
    stdout(o)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("not JSON: {l}: {e}"))
        })
        .filter(|v| v["action"] == "ban")
        .map(|v| (v["target"].as_str().expect("target").to_string(), v))
        .collect()
}

/// Writes a config file into `dir` and returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("portcullis.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Counts events per source address in a log, independently of the parser under test:
/// the first ` SRC=` token of each line.
pub fn count_sources(log: &str) -> std::collections::HashMap<std::net::IpAddr, u64> {
    let mut counts = std::collections::HashMap::new();
    for line in log.lines() {
        let Some(at) = line.find(" SRC=") else {
            continue;
        };
        let rest = &line[at + 5..];
        let token = rest.split(' ').next().unwrap_or("");
        if let Ok(ip) = token.parse() {
            *counts.entry(ip).or_insert(0) += 1;
        }
    }
    counts
}

/// `n` kernel LOG lines in RFC 3164 syslog form, one second apart from `Aug 30 10:00:00`
/// plus `start_secs`, TCP SYNs from `src(i)` to 192.0.2.1 port `dpt(i)`.
pub fn synthetic_log(
    n: usize,
    start_secs: u64,
    src: impl Fn(usize) -> String,
    dpt: impl Fn(usize) -> u16,
) -> String {
    let mut out = String::new();
    for i in 0..n {
        let t = start_secs + i as u64;
        let (h, m, s) = (10 + t / 3600, (t / 60) % 60, t % 60);
        out.push_str(&format!(
            "Aug 30 {h:02}:{m:02}:{s:02} fw kernel: DROP: IN=eth0 OUT= MAC= SRC={} DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID={i} DF PROTO=TCP SPT=40000 DPT={} WINDOW=1024 RES=0x00 SYN URGP=0 \n",
            src(i),
            dpt(i)
        ));
    }
    out
}

/// Path of a fixture plugin built alongside the standard ones (`plugins/<name>`).
pub fn fixture_plugin(name: &str) -> String {
    format!("{}/{name}.wasm", env!("PORTCULLIS_PLUGIN_DIR"))
}

/// Now, unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// The bundled demo log.
pub fn demo_log() -> String {
    std::fs::read_to_string(root().join("config/demo/demo.log")).expect("demo log")
}
