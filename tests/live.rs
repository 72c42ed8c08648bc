//! A live `portcullis run` for tests: started in the background (optionally inside a
//! network namespace), its stdout and stderr collected line by line, its metrics scraped
//! over HTTP, stopped with a signal or killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free TCP port on loopback (bound and released: good enough for a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits (up to `secs`) until `cond` holds; panics naming `what` otherwise.
pub fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `portcullis run`.
pub struct Live {
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    metrics: Option<u16>,
}

fn collect(
    pipe: impl Read + Send + 'static,
) -> (Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    (lines, reader)
}

impl Live {
    /// Starts `portcullis --config <config> run` (behind `wrapper`, e.g. `ip netns exec
    /// NS`), serving metrics on `metrics` when given (the config must say so too).
    pub fn start(config: &Path, wrapper: &[&str], metrics: Option<u16>) -> Live {
        Self::start_with(config, wrapper, metrics, Stdio::null())
    }

    /// Like [`Live::start`], with the child's stdin.
    pub fn start_with(config: &Path, wrapper: &[&str], metrics: Option<u16>, stdin: Stdio) -> Live {
        let bin = env!("CARGO_BIN_EXE_portcullis");
        let mut cmd = match wrapper.split_first() {
            Some((prog, rest)) => {
                let mut c = Command::new(prog);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("--config")
            .arg(config)
            .arg("run")
            .env("PORTCULLIS_LOG", "info")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start portcullis run");
        let (stdout, out_reader) = collect(child.stdout.take().expect("stdout"));
        let (stderr, err_reader) = collect(child.stderr.take().expect("stderr"));
        let live = Live {
            child: Some(child),
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
            metrics,
        };
        live.wait_running();
        live
    }

    fn wait_running(&self) {
        wait_until("portcullis to start running", 60, || {
            let err = self.stderr_text();
            assert!(
                !err.contains("portcullis: error"),
                "portcullis failed to start:\n{err}"
            );
            err.contains("INFO running")
        });
    }

    /// The child's stdin, when it was started with a piped one.
    pub fn stdin(&mut self) -> std::process::ChildStdin {
        self.child
            .as_mut()
            .and_then(|c| c.stdin.take())
            .expect("piped stdin")
    }

    /// Lines printed on stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything printed on stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// The ban lines (dry-run) printed so far: their targets, in order.
    pub fn banned(&self) -> Vec<String> {
        self.stdout_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["action"] == "ban")
            .map(|v| v["target"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The metrics text.
    pub fn metrics_text(&self) -> String {
        let port = self.metrics.expect("started with a metrics port");
        let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to metrics");
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("request");
        let mut text = String::new();
        conn.read_to_string(&mut text).expect("response");
        text
    }

    /// The value of the sample `name` (with its labels, e.g.
    /// `portcullis_source_lines_total{source="stdin"}`), 0 if absent.
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.metrics_text();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Sends `signal` (`HUP`, `TERM`, `KILL`) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{signal} {pid} failed");
    }

    /// Sends SIGTERM and waits for the exit; panics unless it exits successfully.
    pub fn stop(mut self) -> Vec<String> {
        self.signal("TERM");
        let status = self.child.take().expect("running").wait().expect("wait");
        self.join_readers();
        assert!(
            status.success(),
            "portcullis exited with {status}:\n{}",
            self.stderr_text()
        );
        self.stdout_lines()
    }

    /// Kills the process at once (`kill -9`) and waits for it.
    pub fn kill9(mut self) -> Vec<String> {
        let mut child = self.child.take().expect("running");
        child.kill().expect("kill -9");
        let _ = child.wait();
        self.join_readers();
        self.stdout_lines()
    }
}

impl Live {
    /// Waits until everything the exited process printed has been collected.
    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
