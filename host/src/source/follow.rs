//! Following a log file as it grows, the way logs are really written: through rotation by
//! rename (logrotate's default: the file is renamed and a new one created), rotation by
//! truncation (`copytruncate`), and the file disappearing for a while. Only complete lines
//! are handed on; where the follower stands ([`FilePos`]: inode and offset) is what a
//! restart resumes from, so no line is lost or read twice.

use crate::config::StartAt;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An unterminated line longer than this is skipped to its end (only garbage gets there).
const MAX_PARTIAL: usize = crate::source::lines::MAX_LINE;
/// How often, at most, the path is checked for a rotation while the file is idle.
const ROTATION_CHECK: Duration = Duration::from_millis(100);
/// How long a file renamed away keeps being read after the new one appeared: writers
/// (rsyslog until its HUP) go on appending to the old one for a moment.
const ROTATION_GRACE: Duration = Duration::from_secs(1);

/// Which file, and how far into it the lines have been handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePos {
    /// The file's inode.
    pub inode: u64,
    /// Bytes of complete lines handed on.
    pub offset: u64,
}

/// Complete lines read from the file.
#[derive(Debug)]
pub struct Chunk {
    /// Lines, each ending in `\n`.
    pub data: Vec<u8>,
    /// Where the first line starts.
    pub start: FilePos,
}

/// Follows one path.
pub struct Follower {
    path: PathBuf,
    open: Option<Open>,
    start_at: StartAt,
    resume: Option<FilePos>,
    opened_before: bool,
    checked: Option<Instant>,
    buf: Vec<u8>,
}

struct Open {
    file: File,
    inode: u64,
    /// Bytes read from the file so far.
    read: u64,
    /// The tail after the last newline read, held back until its line is complete.
    partial: Vec<u8>,
    /// Skipping the rest of an over-long line.
    discarding: bool,
    /// When a new file was found at the path: this one is drained, then left.
    rotated: Option<Instant>,
}

impl Open {
    fn handed(&self) -> u64 {
        self.read - self.partial.len() as u64
    }
}

impl Follower {
    /// Follows `path`. With `resume`, a file with that inode is read from its offset;
    /// otherwise the first file found is read from `start_at`, and every later one (a
    /// rotation) from its beginning.
    pub fn new(path: PathBuf, start_at: StartAt, resume: Option<FilePos>) -> Self {
        Follower {
            path,
            open: None,
            start_at,
            resume,
            opened_before: false,
            checked: None,
            buf: vec![0; 256 * 1024],
        }
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the follower stands: lines up to here were handed on.
    pub fn position(&self) -> Option<FilePos> {
        self.open.as_ref().map(|o| FilePos {
            inode: o.inode,
            offset: o.handed(),
        })
    }

    /// Bytes written to the file that were not handed on yet (0 when it is not open).
    pub fn lag(&self) -> u64 {
        self.open
            .as_ref()
            .and_then(|o| {
                o.file
                    .metadata()
                    .ok()
                    .map(|m| m.len().saturating_sub(o.handed()))
            })
            .unwrap_or(0)
    }

    /// The complete lines appended since the last call; `None` when there are none (the
    /// file is idle, missing, or was just found rotated).
    pub fn poll(&mut self) -> io::Result<Option<Chunk>> {
        if self.open.is_none() && !self.try_open()? {
            return Ok(None);
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(None);
        };
        let n = open.file.read(&mut self.buf)?;
        if n > 0 {
            let read_before = open.read;
            open.read += n as u64;
            let mut got = &self.buf[..n];
            // Where the first line handed on starts: the held-back partial line's start.
            let mut start_offset = read_before - open.partial.len() as u64;
            if open.discarding {
                let Some(i) = memchr::memchr(b'\n', got) else {
                    return Ok(None);
                };
                got = &got[i + 1..];
                start_offset = read_before + i as u64 + 1;
                open.discarding = false;
            }
            let start = FilePos {
                inode: open.inode,
                offset: start_offset,
            };
            let Some(last_nl) = memchr::memrchr(b'\n', got) else {
                open.partial.extend_from_slice(got);
                if open.partial.len() > MAX_PARTIAL {
                    // Only garbage gets this long: dropped up to its end.
                    tracing::warn!(
                        path = %self.path.display(),
                        "skipping a line longer than {MAX_PARTIAL} bytes"
                    );
                    open.partial.clear();
                    open.discarding = true;
                }
                return Ok(None);
            };
            let mut data = std::mem::take(&mut open.partial);
            data.extend_from_slice(&got[..=last_nl]);
            open.partial.extend_from_slice(&got[last_nl + 1..]);
            return Ok(Some(Chunk { data, start }));
        }
        // At the end of the file. Renamed away and replaced earlier: once it has been idle
        // for the grace period, its unterminated last line is handed on and the new file
        // is read from its start.
        if let Some(since) = open.rotated {
            if since.elapsed() < ROTATION_GRACE {
                return Ok(None);
            }
            let tail = std::mem::take(&mut open.partial);
            let start = FilePos {
                inode: open.inode,
                offset: open.handed(),
            };
            tracing::info!(path = %self.path.display(), "rotated: following the new file");
            self.open = None;
            if !tail.is_empty() {
                let mut data = tail;
                data.push(b'\n');
                return Ok(Some(Chunk { data, start }));
            }
            return Ok(None);
        }
        // Has it been rotated or truncated?
        if self.checked.is_some_and(|t| t.elapsed() < ROTATION_CHECK) {
            return Ok(None);
        }
        self.checked = Some(Instant::now());
        match std::fs::metadata(&self.path) {
            Ok(meta) if meta.ino() != open.inode => {
                open.rotated = Some(Instant::now());
                Ok(None)
            }
            Ok(meta) if meta.len() < open.read => {
                tracing::info!(path = %self.path.display(), "truncated: reading it from the start");
                open.file.seek(SeekFrom::Start(0))?;
                open.read = 0;
                open.partial.clear();
                open.discarding = false;
                Ok(None)
            }
            // Same file, nothing new; or the path is gone for now (keep the old file,
            // which a writer may still hold, until a new one appears).
            _ => Ok(None),
        }
    }

    fn try_open(&mut self) -> io::Result<bool> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let inode = meta.ino();
        if let Some(pos) = self.resume.filter(|p| p.inode != inode) {
            // Rotated while nobody read it: finish the old file first, if it is still
            // beside the new one (`fw.log.1`), then the new one from its start.
            if let Some((mut old, _)) = self
                .rotated_sibling(pos.inode)?
                .filter(|(_, len)| pos.offset <= *len)
            {
                old.seek(SeekFrom::Start(pos.offset))?;
                self.resume = None;
                self.opened_before = true;
                self.open = Some(Open {
                    file: old,
                    inode: pos.inode,
                    read: pos.offset,
                    partial: Vec::new(),
                    discarding: false,
                    rotated: Some(
                        Instant::now()
                            .checked_sub(ROTATION_GRACE)
                            .unwrap_or_else(Instant::now),
                    ),
                });
                return Ok(true);
            }
        }
        let offset = match self.resume.take() {
            Some(pos) if pos.inode == inode && pos.offset <= meta.len() => pos.offset,
            // Saved for another file (rotated while nobody was reading): this one whole.
            Some(_) => 0,
            None if !self.opened_before && self.start_at == StartAt::End => meta.len(),
            None => 0,
        };
        file.seek(SeekFrom::Start(offset))?;
        self.opened_before = true;
        self.open = Some(Open {
            file,
            inode,
            read: offset,
            partial: Vec::new(),
            discarding: false,
            rotated: None,
        });
        Ok(true)
    }

    /// A file beside the followed one, named after it (`fw.log.1`, not compressed), with
    /// inode `inode`: where logrotate put it.
    fn rotated_sibling(&self, inode: u64) -> io::Result<Option<(File, u64)>> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Ok(None);
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let stem = format!("{}.", name.to_string_lossy());
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(None);
        };
        for entry in entries.filter_map(Result::ok) {
            let n = entry.file_name().to_string_lossy().into_owned();
            if !n.starts_with(&stem) || n.ends_with(".gz") || n.ends_with(".xz") {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.ino() == inode && meta.is_file() {
                return Ok(Some((File::open(entry.path())?, meta.len())));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
