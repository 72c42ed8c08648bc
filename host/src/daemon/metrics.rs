//! Prometheus metrics: the worker renders the text exposition after every batch and tick
//! (sans-IO [`render`]); a small HTTP server answers `GET /metrics` on the configured local
//! address with the latest text.

use crate::action::ActionStats;
use crate::pipeline::StageStats;
use crate::runner::Runner;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Counts per source.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SourceCounts {
    /// Lines read.
    pub lines: u64,
    /// Firewall events parsed.
    pub events: u64,
    /// Lines that were not firewall records.
    pub skipped: u64,
    /// Damaged firewall records.
    pub malformed: u64,
    /// Bytes written but not yet read (files).
    pub lag: u64,
}

/// What the worker publishes and the server serves.
#[derive(Debug, Default)]
pub struct Board {
    text: Mutex<String>,
    /// Batches the firewall refused.
    pub action_errors: AtomicU64,
    /// Successful reloads.
    pub reloads: AtomicU64,
}

/// Everything [`render`] shows.
pub struct Snapshot<'a> {
    /// Source names and counts.
    pub sources: Vec<(&'a str, SourceCounts)>,
    /// Stage names and counts.
    pub stages: Vec<(&'a str, StageStats)>,
    /// The action engine's counts.
    pub actions: ActionStats,
    /// Bans in force.
    pub active: usize,
    /// Refused decisions waiting for another try.
    pub retrying: usize,
    /// Batches the firewall refused.
    pub action_errors: u64,
    /// Reloads.
    pub reloads: u64,
    /// Time since start.
    pub uptime: Duration,
}

impl Board {
    /// Renders and stores the metrics of `runner` and the sources.
    pub fn publish(
        &self,
        labels: &[String],
        counts: &[SourceCounts],
        runner: &Runner,
        uptime: Duration,
    ) {
        let snap = Snapshot {
            sources: labels
                .iter()
                .map(String::as_str)
                .zip(counts.iter().copied())
                .collect(),
            stages: runner.pipeline().stats().collect(),
            actions: runner.engine().stats(),
            active: runner.engine().bans().len(),
            retrying: runner.engine().pending_retries(),
            action_errors: self.action_errors.load(Ordering::Relaxed),
            reloads: self.reloads.load(Ordering::Relaxed),
            uptime,
        };
        let text = render(&snap);
        if let Ok(mut t) = self.text.lock() {
            *t = text;
        }
    }

    /// The latest text.
    pub fn text(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// The Prometheus text exposition of `s`.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let per_source = |f: fn(&SourceCounts) -> u64| -> Vec<(String, String)> {
        s.sources
            .iter()
            .map(|(l, c)| (format!("{{source=\"{}\"}}", escape(l)), f(c).to_string()))
            .collect()
    };
    family(
        "portcullis_source_lines_total",
        "counter",
        "Lines read.",
        per_source(|c| c.lines),
    );
    family(
        "portcullis_source_events_total",
        "counter",
        "Firewall events parsed.",
        per_source(|c| c.events),
    );
    family(
        "portcullis_source_skipped_total",
        "counter",
        "Lines that were not firewall records.",
        per_source(|c| c.skipped),
    );
    family(
        "portcullis_source_malformed_total",
        "counter",
        "Damaged firewall records.",
        per_source(|c| c.malformed),
    );
    family(
        "portcullis_source_lag_bytes",
        "gauge",
        "Bytes written to a followed file but not read yet.",
        per_source(|c| c.lag),
    );
    let per_stage = |f: fn(&StageStats) -> String| -> Vec<(String, String)> {
        s.stages
            .iter()
            .map(|(n, st)| (format!("{{stage=\"{}\"}}", escape(n)), f(st)))
            .collect()
    };
    family(
        "portcullis_stage_events_total",
        "counter",
        "Events handed to the stage.",
        per_stage(|st| st.events_in.to_string()),
    );
    family(
        "portcullis_stage_dropped_total",
        "counter",
        "Events the stage dropped.",
        per_stage(|st| st.dropped.to_string()),
    );
    family(
        "portcullis_stage_calls_total",
        "counter",
        "Batches the stage processed.",
        per_stage(|st| st.calls.to_string()),
    );
    family(
        "portcullis_stage_seconds_total",
        "counter",
        "Time spent in the stage's calls.",
        per_stage(|st| format!("{:.6}", st.nanos as f64 / 1e9)),
    );
    family(
        "portcullis_plugin_failures_total",
        "counter",
        "Failed plugin calls.",
        per_stage(|st| st.failures.to_string()),
    );
    let one = |v: String| vec![(String::new(), v)];
    let a = &s.actions;
    family(
        "portcullis_bans_active",
        "gauge",
        "Bans in force.",
        one(s.active.to_string()),
    );
    family(
        "portcullis_bans_applied_total",
        "counter",
        "New bans applied.",
        one(a.banned.to_string()),
    );
    family(
        "portcullis_bans_extended_total",
        "counter",
        "Bans made to last longer.",
        one(a.extended.to_string()),
    );
    family(
        "portcullis_bans_refused_total",
        "counter",
        "Bans the guard refused.",
        one(a.refused.to_string()),
    );
    family(
        "portcullis_bans_expired_total",
        "counter",
        "Bans lifted at their expiry.",
        one(a.expired.to_string()),
    );
    family(
        "portcullis_unbans_total",
        "counter",
        "Unban requests applied.",
        one(a.unbanned.to_string()),
    );
    family(
        "portcullis_action_errors_total",
        "counter",
        "Batches the firewall refused.",
        one(s.action_errors.to_string()),
    );
    family(
        "portcullis_actions_retrying",
        "gauge",
        "Refused decisions waiting for another try.",
        one(s.retrying.to_string()),
    );
    family(
        "portcullis_actions_dropped_total",
        "counter",
        "Refused decisions dropped from a full retry queue.",
        one(a.dropped.to_string()),
    );
    family(
        "portcullis_reloads_total",
        "counter",
        "Successful reloads.",
        one(s.reloads.to_string()),
    );
    family(
        "portcullis_uptime_seconds",
        "gauge",
        "Time since start.",
        one(format!("{:.3}", s.uptime.as_secs_f64())),
    );
    out
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Answers HTTP requests on `listener` with the board's text: `GET /metrics` (or `/`) gets
/// it, anything else a 404.
pub async fn serve(listener: tokio::net::TcpListener, board: std::sync::Arc<Board>) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let board = board.clone();
        tokio::spawn(async move {
            // The request may come in pieces: read up to the blank line ending its head.
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                match tokio::time::timeout_at(deadline, conn.read(&mut chunk)).await {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                    Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let request = String::from_utf8_lossy(&buf);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, body) =
                if request.starts_with("GET ") && (path == "/metrics" || path == "/") {
                    ("200 OK", board.text())
                } else {
                    ("404 Not Found", "not found\n".to_string())
                };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_with_labels() {
        let snap = Snapshot {
            sources: vec![(
                "file:/var/log/a\"b",
                SourceCounts {
                    lines: 10,
                    events: 8,
                    skipped: 1,
                    malformed: 1,
                    lag: 0,
                },
            )],
            stages: vec![(
                "flood",
                StageStats {
                    events_in: 8,
                    calls: 1,
                    nanos: 1_500_000,
                    ..StageStats::default()
                },
            )],
            actions: ActionStats {
                banned: 2,
                ..ActionStats::default()
            },
            active: 2,
            retrying: 0,
            action_errors: 0,
            reloads: 1,
            uptime: Duration::from_millis(1500),
        };
        let text = render(&snap);
        assert!(
            text.contains("portcullis_source_lines_total{source=\"file:/var/log/a\\\"b\"} 10\n")
        );
        assert!(text.contains("# TYPE portcullis_source_lines_total counter\n"));
        assert!(text.contains("portcullis_stage_seconds_total{stage=\"flood\"} 0.001500\n"));
        assert!(text.contains("portcullis_bans_active 2\n"));
        assert!(text.contains("portcullis_bans_applied_total 2\n"));
        assert!(text.contains("portcullis_uptime_seconds 1.500\n"));
    }
}
