//! The `[[sources]]` tables: where log lines come from.

use super::ConfigError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    kind: SourceKind,
    path: Option<PathBuf>,
    start_at: Option<StartAt>,
    listen: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum SourceKind {
    File,
    Stdin,
    Kmsg,
    Syslog,
    Journald,
}

/// Where a followed file is first read from, when no position was saved for it.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Only lines written from now on (a daemon's first start on an old log).
    #[default]
    End,
    /// The whole file.
    Beginning,
}

/// Where log lines are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A log file, or every file matching a pattern whose file name holds `*` or `?`.
    File {
        /// The file or pattern.
        path: PathBuf,
        /// Where a live run starts in a file it has no saved position for (`run --once`
        /// always reads files whole).
        start_at: StartAt,
    },
    /// Standard input.
    Stdin,
    /// The kernel's log buffer (`/dev/kmsg`), which only the kernel writes.
    Kmsg {
        /// The device.
        path: PathBuf,
    },
    /// Syslog messages sent to a socket (RFC 3164 or RFC 5424), one per datagram.
    Syslog {
        /// Where to listen.
        listen: Listen,
    },
    /// The systemd journal's kernel messages, through `journalctl`.
    Journald,
}

/// A datagram socket to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// `udp:ADDRESS:PORT`.
    Udp(std::net::SocketAddr),
    /// `unix:PATH`.
    Unix(PathBuf),
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Udp(a) => write!(f, "udp:{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl Source {
    /// A short name for logs and metrics: `file:/var/log/kern.log`, `stdin`, `kmsg`.
    pub fn label(&self) -> String {
        match self {
            Source::File { path, .. } => format!("file:{}", path.display()),
            Source::Stdin => "stdin".into(),
            Source::Kmsg { .. } => "kmsg".into(),
            Source::Syslog { listen } => format!("syslog:{listen}"),
            Source::Journald => "journald".into(),
        }
    }

    /// Command-line file arguments as sources read whole, `-` being stdin.
    pub fn from_arguments(files: &[PathBuf]) -> Vec<Source> {
        files
            .iter()
            .map(|f| {
                if f.as_os_str() == "-" {
                    Source::Stdin
                } else {
                    Source::whole_file(f.clone())
                }
            })
            .collect()
    }

    /// A file source read whole (`analyze` and `parse` arguments).
    pub fn whole_file(path: PathBuf) -> Source {
        Source::File {
            path,
            start_at: StartAt::Beginning,
        }
    }
}

fn parse_listen(text: &str, base: &Path) -> Option<Listen> {
    if let Some(addr) = text.strip_prefix("udp:") {
        return addr.parse().ok().map(Listen::Udp);
    }
    let path = text.strip_prefix("unix:")?;
    (!path.is_empty()).then(|| Listen::Unix(base.join(path)))
}

/// The default kernel log device.
pub const KMSG: &str = "/dev/kmsg";

pub(super) fn validate(
    raw: Vec<RawSource>,
    base: &Path,
    key_err: &impl Fn(String, String) -> ConfigError,
) -> Result<Vec<Source>, ConfigError> {
    let mut sources = Vec::new();
    for (i, s) in raw.into_iter().enumerate() {
        let refuse = |key: &str, why: &str| Err(key_err(format!("sources[{i}].{key}"), why.into()));
        if s.start_at.is_some() && s.kind != SourceKind::File {
            return refuse("start_at", "only file sources take start_at");
        }
        if s.listen.is_some() && s.kind != SourceKind::Syslog {
            return refuse("listen", "only syslog sources take listen");
        }
        let no_path = matches!(s.kind, SourceKind::Syslog | SourceKind::Journald);
        if no_path && s.path.is_some() {
            return refuse("path", "this kind of source takes no path");
        }
        sources.push(match (s.kind, s.path) {
            (SourceKind::File, Some(p)) => Source::File {
                path: base.join(p),
                start_at: s.start_at.unwrap_or_default(),
            },
            (SourceKind::File, None) => return refuse("path", "a file source needs a path"),
            (SourceKind::Stdin, None) => Source::Stdin,
            (SourceKind::Stdin, Some(_)) => return refuse("path", "a stdin source takes no path"),
            (SourceKind::Kmsg, p) => Source::Kmsg {
                path: p.unwrap_or_else(|| PathBuf::from(KMSG)),
            },
            (SourceKind::Journald, _) => Source::Journald,
            (SourceKind::Syslog, _) => {
                let Some(text) = s.listen else {
                    return refuse(
                        "listen",
                        "a syslog source needs listen = \"udp:127.0.0.1:5514\" or \"unix:/run/portcullis/syslog.sock\"",
                    );
                };
                match parse_listen(&text, base) {
                    Some(listen) => Source::Syslog { listen },
                    None => {
                        return refuse(
                            "listen",
                            &format!("{text:?}: expected \"udp:ADDRESS:PORT\" or \"unix:PATH\""),
                        );
                    }
                }
            }
        });
    }
    Ok(sources)
}
