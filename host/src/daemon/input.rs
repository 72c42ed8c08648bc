//! What flows from the sources to the worker, and from the main task to the worker.

use crate::config::Config;
use crate::source::follow::FilePos;

/// Where the lines of an [`Input`] come from, and how to tell where each one ends.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A followed file: its cursor key and where the first line starts; each line moves
    /// the position by its length.
    File {
        /// `file:<path>`.
        key: String,
        /// Where the data starts.
        start: FilePos,
    },
    /// The kernel log: one sequence number per line.
    Kmsg {
        /// `kmsg:<path>`.
        key: String,
        /// The boot the records belong to.
        boot: String,
        /// Each line's sequence number.
        seqs: Vec<u64>,
    },
    /// The systemd journal: one cursor per line.
    Journal {
        /// `journald`.
        key: String,
        /// Each line's `__CURSOR`.
        cursors: Vec<String>,
    },
    /// Standard input or a socket: no position.
    Unpositioned,
}

/// Complete lines from one source.
#[derive(Debug)]
pub struct Input {
    /// The source's index in the config.
    pub source: usize,
    /// Lines, each ending in `\n`.
    pub data: Vec<u8>,
    /// Where they come from.
    pub origin: Origin,
}

/// What the main task tells the worker.
#[derive(Debug)]
pub enum Control {
    /// Reload the stages, GeoIP databases and guard from this config, keeping state.
    Reload(Box<Config>),
    /// Flush, apply, save and stop.
    Shutdown,
}
