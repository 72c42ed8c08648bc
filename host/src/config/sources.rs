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
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum SourceKind {
    File,
    Stdin,
    Kmsg,
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
}

impl Source {
    /// A short name for logs and metrics: `file:/var/log/kern.log`, `stdin`, `kmsg`.
    pub fn label(&self) -> String {
        match self {
            Source::File { path, .. } => format!("file:{}", path.display()),
            Source::Stdin => "stdin".into(),
            Source::Kmsg { .. } => "kmsg".into(),
        }
    }

    /// A file source read whole (`analyze` and `parse` arguments).
    pub fn whole_file(path: PathBuf) -> Source {
        Source::File {
            path,
            start_at: StartAt::Beginning,
        }
    }
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
        });
    }
    Ok(sources)
}
