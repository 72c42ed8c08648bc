//! The sources that are sockets or a child process: syslog datagrams (UDP or a unix
//! socket; one message per datagram, as rsyslog and routers forward them) and the systemd
//! journal's kernel messages (`journalctl -k -f -o json`, resumed after the last cursor).
//! Unlike /dev/kmsg, anyone who can reach a syslog socket can write to it: put it on
//! loopback or a socket only the log forwarder may open.

use super::input::{Input, Origin};
use super::sources::{SourceError, SourceState};
use crate::config::Listen;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc::Sender;

/// Most datagrams gathered into one message to the worker.
const DATAGRAMS: usize = 256;
/// Wait before starting `journalctl` again after it ended.
const JOURNAL_RETRY: Duration = Duration::from_secs(5);

enum Socket {
    Udp(tokio::net::UdpSocket),
    Unix(tokio::net::UnixDatagram),
}

impl Socket {
    async fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Socket::Udp(s) => s.recv(buf).await,
            Socket::Unix(s) => s.recv(buf).await,
        }
    }

    fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Socket::Udp(s) => s.try_recv(buf),
            Socket::Unix(s) => s.try_recv(buf),
        }
    }
}

/// Binds `listen` (within the runtime) and starts the task reading it.
pub fn spawn_syslog(
    source: usize,
    listen: &Listen,
    tx: Sender<Input>,
    state: Arc<SourceState>,
) -> Result<tokio::task::JoinHandle<()>, SourceError> {
    let err = |source| SourceError::Bind {
        listen: listen.to_string(),
        source,
    };
    let socket = match listen {
        Listen::Udp(addr) => {
            let s = std::net::UdpSocket::bind(addr).map_err(err)?;
            s.set_nonblocking(true).map_err(err)?;
            Socket::Udp(tokio::net::UdpSocket::from_std(s).map_err(err)?)
        }
        Listen::Unix(path) => {
            // A socket file left by an earlier run is replaced; anything else is refused.
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                use std::os::unix::fs::FileTypeExt;
                if meta.file_type().is_socket() {
                    let _ = std::fs::remove_file(path);
                }
            }
            Socket::Unix(tokio::net::UnixDatagram::bind(path).map_err(err)?)
        }
    };
    Ok(tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while !state.stop.load(Ordering::Relaxed) {
            let Ok(n) = socket.recv(&mut buf).await else {
                continue;
            };
            let mut data = Vec::new();
            push_message(&mut data, &buf[..n]);
            // Whatever else is already waiting goes in the same message.
            for _ in 1..DATAGRAMS {
                match socket.try_recv(&mut buf) {
                    Ok(n) => push_message(&mut data, &buf[..n]),
                    Err(_) => break,
                }
            }
            let input = Input {
                source,
                data,
                origin: Origin::Unpositioned,
            };
            if tx.send(input).await.is_err() {
                return;
            }
        }
    }))
}

/// Appends one syslog message as one line: trailing newlines and NULs are dropped, inner
/// newlines become spaces (a datagram is one message).
fn push_message(data: &mut Vec<u8>, msg: &[u8]) {
    let end = msg
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | 0))
        .map_or(0, |i| i + 1);
    data.extend(
        msg[..end]
            .iter()
            .map(|b| if *b == b'\n' { b' ' } else { *b }),
    );
    data.push(b'\n');
}

/// Starts the task following the journal's kernel messages after `cursor` (from the end
/// when there is none).
pub fn spawn_journald(
    source: usize,
    mut cursor: Option<String>,
    tx: Sender<Input>,
    state: Arc<SourceState>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !state.stop.load(Ordering::Relaxed) {
            let mut cmd = tokio::process::Command::new("journalctl");
            cmd.args(["-k", "-f", "-o", "json", "--no-pager"]);
            match &cursor {
                Some(c) => cmd.arg(format!("--after-cursor={c}")),
                None => cmd.args(["-n", "0"]),
            };
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true);
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!("journald: cannot run journalctl: {e}");
                    tokio::time::sleep(JOURNAL_RETRY).await;
                    continue;
                }
            };
            let Some(out) = child.stdout.take() else {
                return;
            };
            let mut lines = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Some(c) = journal_cursor(&line) else {
                    continue;
                };
                cursor = Some(c.to_string());
                let input = Input {
                    source,
                    data: format!("{line}\n").into_bytes(),
                    origin: Origin::Journal {
                        key: "journald".into(),
                        cursors: vec![c.to_string()],
                    },
                };
                if tx.send(input).await.is_err() {
                    return;
                }
            }
            let _ = child.kill().await;
            if !state.stop.load(Ordering::Relaxed) {
                tracing::warn!("journald: journalctl ended; starting it again");
                tokio::time::sleep(JOURNAL_RETRY).await;
            }
        }
    })
}

/// The `__CURSOR` of a `journalctl -o json` line.
pub fn journal_cursor(line: &str) -> Option<&str> {
    let rest = &line[line.find("\"__CURSOR\":\"")? + 12..];
    Some(&rest[..rest.find('"')?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_datagram() {
        let mut data = Vec::new();
        push_message(&mut data, b"<4>Aug 30 10:00:00 fw kernel: a\nb\n\0");
        push_message(&mut data, b"\n");
        assert_eq!(data, b"<4>Aug 30 10:00:00 fw kernel: a b\n\n");
    }

    #[test]
    fn finds_the_journal_cursor() {
        let line = r#"{"__CURSOR":"s=0b35;i=1e1;b=9c47","MESSAGE":"x"}"#;
        assert_eq!(journal_cursor(line), Some("s=0b35;i=1e1;b=9c47"));
        assert_eq!(journal_cursor(r#"{"MESSAGE":"x"}"#), None);
    }
}
