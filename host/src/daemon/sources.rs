//! One task per configured source, each reading on a blocking thread of the runtime and
//! sending complete lines to the worker through the bounded channel: when the worker falls
//! behind, `send` waits (backpressure), so nothing is dropped. Files are polled (every
//! 5 ms when idle, at once while they grow) and checked for rotation; the kernel log is
//! read non-blocking; stdin ends the run at its end.

use super::glob;
use super::input::{Input, Origin};
use crate::config::{Source, StartAt};
use crate::source::cursors::Cursors;
use crate::source::follow::{FilePos, Follower};
use crate::source::kmsg::{Kmsg, KmsgStart};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Sender;

/// Sleep between polls of an idle file or kernel log.
const IDLE: Duration = Duration::from_millis(5);
/// How often a pattern is expanded again to find new files.
const RESCAN: Duration = Duration::from_secs(1);
/// Most kernel records per message to the worker.
const KMSG_BATCH: usize = 512;

/// Why a source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The kernel log could not be opened.
    #[error("source {path}: {source} (reading /dev/kmsg needs root or CAP_SYSLOG)")]
    Kmsg {
        /// The device.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A saved position could not be read.
    #[error(transparent)]
    Cursor(#[from] crate::source::cursors::CursorError),
    /// A syslog socket could not be opened.
    #[error("source syslog {listen}: {source}")]
    Bind {
        /// Where.
        listen: String,
        /// The IO error.
        source: std::io::Error,
    },
}

/// What the sources share with the daemon: the stop flag and each source's lag in bytes.
#[derive(Debug, Default)]
pub struct SourceState {
    /// Set to stop every source.
    pub stop: AtomicBool,
    /// Bytes written but not yet read, per source (files only).
    pub lag: Vec<AtomicU64>,
}

/// Starts a task for every source; they stop when `state.stop` is set or the worker is
/// gone.
pub fn spawn(
    sources: &[Source],
    cursors: &Cursors,
    tx: &Sender<Input>,
    state: &Arc<SourceState>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, SourceError> {
    let mut tasks = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let (tx, state) = (tx.clone(), state.clone());
        let task = match source {
            Source::File { path, start_at } => {
                let mut saved = BTreeMap::new();
                let paths = if glob::is_pattern(path) {
                    glob::expand(path)
                } else {
                    vec![path.clone()]
                };
                for p in &paths {
                    let pos = cursors
                        .get(&file_key(p))?
                        .and_then(|v| serde_json::from_value::<FilePos>(v).ok());
                    if let Some(pos) = pos {
                        saved.insert(p.clone(), pos);
                    }
                }
                let (pattern, start_at) = (path.clone(), *start_at);
                tokio::task::spawn_blocking(move || {
                    follow_files(i, pattern, start_at, saved, tx, state)
                })
            }
            Source::Kmsg { path } => {
                let key = format!("kmsg:{}", path.display());
                let boot = boot_id();
                let start = match cursors.get(&key)? {
                    Some(v) if v["boot"].as_str() == Some(boot.as_str()) => {
                        KmsgStart::After(v["seq"].as_u64().unwrap_or(0))
                    }
                    // Saved during another boot: this boot's records are all new.
                    Some(_) => KmsgStart::Beginning,
                    None => KmsgStart::End,
                };
                let kmsg = Kmsg::open(path, start).map_err(|source| SourceError::Kmsg {
                    path: path.clone(),
                    source,
                })?;
                tokio::task::spawn_blocking(move || read_kmsg(i, key, boot, kmsg, tx, state))
            }
            Source::Stdin => tokio::task::spawn_blocking(move || read_stdin(i, tx, state)),
            Source::Syslog { listen } => super::listeners::spawn_syslog(i, listen, tx, state)?,
            Source::Journald => {
                let cursor = cursors
                    .get("journald")?
                    .and_then(|v| v["cursor"].as_str().map(String::from));
                super::listeners::spawn_journald(i, cursor, tx, state)
            }
        };
        tasks.push(task);
    }
    Ok(tasks)
}

/// The cursor key of a followed file.
pub fn file_key(path: &std::path::Path) -> String {
    format!("file:{}", path.display())
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn follow_files(
    source: usize,
    pattern: PathBuf,
    start_at: StartAt,
    mut saved: BTreeMap<PathBuf, FilePos>,
    tx: Sender<Input>,
    state: Arc<SourceState>,
) {
    let is_pattern = glob::is_pattern(&pattern);
    let mut followers: BTreeMap<PathBuf, Follower> = BTreeMap::new();
    let mut first_scan = true;
    let mut scanned: Option<Instant> = None;
    while !state.stop.load(Ordering::Relaxed) {
        if scanned.is_none_or(|t| t.elapsed() >= RESCAN) {
            scanned = Some(Instant::now());
            let paths = if is_pattern {
                glob::expand(&pattern)
            } else {
                vec![pattern.clone()]
            };
            for p in paths {
                followers.entry(p.clone()).or_insert_with(|| {
                    // Files that appear after the start are new: read whole.
                    let start = if first_scan {
                        start_at
                    } else {
                        StartAt::Beginning
                    };
                    let resume = saved.remove(&p);
                    Follower::new(p, start, resume)
                });
            }
            first_scan = false;
        }
        let mut busy = false;
        let mut lag = 0;
        for f in followers.values_mut() {
            match f.poll() {
                Ok(Some(chunk)) => {
                    busy = true;
                    let input = Input {
                        source,
                        data: chunk.data,
                        origin: Origin::File {
                            key: file_key(f.path()),
                            start: chunk.start,
                        },
                    };
                    if tx.blocking_send(input).is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(path = %f.path().display(), "cannot read: {e}"),
            }
            lag += f.lag();
        }
        if let Some(l) = state.lag.get(source) {
            l.store(lag, Ordering::Relaxed);
        }
        if !busy {
            std::thread::sleep(IDLE);
        }
    }
}

fn read_kmsg(
    source: usize,
    key: String,
    boot: String,
    mut kmsg: Kmsg,
    tx: Sender<Input>,
    state: Arc<SourceState>,
) {
    while !state.stop.load(Ordering::Relaxed) {
        let mut data = Vec::new();
        let mut seqs = Vec::new();
        while seqs.len() < KMSG_BATCH {
            match kmsg.next_record() {
                Ok(Some(r)) => {
                    data.extend_from_slice(r.line);
                    data.push(b'\n');
                    seqs.push(r.seq);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("kmsg: {e}");
                    break;
                }
            }
        }
        if seqs.is_empty() {
            std::thread::sleep(IDLE);
            continue;
        }
        let origin = Origin::Kmsg {
            key: key.clone(),
            boot: boot.clone(),
            seqs,
        };
        if tx
            .blocking_send(Input {
                source,
                data,
                origin,
            })
            .is_err()
        {
            return;
        }
    }
}

fn read_stdin(source: usize, tx: Sender<Input>, state: Arc<SourceState>) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; 256 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    while !state.stop.load(Ordering::Relaxed) {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!("stdin: {e}");
                break;
            }
        };
        let got = &buf[..n];
        let Some(nl) = memchr::memrchr(b'\n', got) else {
            partial.extend_from_slice(got);
            continue;
        };
        let mut data = std::mem::take(&mut partial);
        data.extend_from_slice(&got[..=nl]);
        partial.extend_from_slice(&got[nl + 1..]);
        let input = Input {
            source,
            data,
            origin: Origin::Unpositioned,
        };
        if tx.blocking_send(input).is_err() {
            return;
        }
    }
    if !partial.is_empty() {
        partial.push(b'\n');
        let _ = tx.blocking_send(Input {
            source,
            data: partial,
            origin: Origin::Unpositioned,
        });
    }
}
