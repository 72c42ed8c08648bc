//! Stage state saved between runs: one file per stage, holding the plugin's own snapshot
//! bytes behind a small header naming the plugin, so state is never handed to a different
//! plugin that happens to take over the stage's name.

use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"PORTCULLIS-STAGE-STATE 1\n";

/// Why saved state could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file or folder could not be written.
    #[error("cannot save stage state to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be read.
    #[error("cannot read stage state {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a state file (or is damaged).
    #[error("{path} is not a Portcullis stage state file")]
    Format {
        /// The file.
        path: PathBuf,
    },
}

/// The state files of a folder.
pub struct StateDir {
    dir: PathBuf,
}

/// State read back: which plugin wrote it, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    /// The plugin's name (from its description).
    pub plugin: String,
    /// The snapshot.
    pub bytes: Vec<u8>,
}

impl StateDir {
    /// State files in `dir` (created on first save).
    pub fn new(dir: PathBuf) -> Self {
        StateDir { dir }
    }

    fn path(&self, stage: &str) -> PathBuf {
        self.dir.join(format!("{stage}.state"))
    }

    /// Saves `bytes` for `stage`, written by `plugin`; atomic (temporary file + rename).
    pub fn save(&self, stage: &str, plugin: &str, bytes: &[u8]) -> Result<(), StateError> {
        let path = self.path(stage);
        let err = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        let tmp = path.with_extension("state.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(MAGIC).map_err(err)?;
        f.write_all(plugin.as_bytes()).map_err(err)?;
        f.write_all(b"\n").map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)
    }

    /// The saved state of `stage`, if any.
    pub fn load(&self, stage: &str) -> Result<Option<SavedState>, StateError> {
        let path = self.path(stage);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        parse(&data).ok_or(StateError::Format { path })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn parse(data: &[u8]) -> Option<Option<SavedState>> {
    let rest = data.strip_prefix(MAGIC)?;
    let nl = memchr::memchr(b'\n', rest)?;
    let plugin = std::str::from_utf8(&rest[..nl]).ok()?.to_string();
    Some(Some(SavedState {
        plugin,
        bytes: rest[nl + 1..].to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_and_refuses_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::new(dir.path().join("plugins"));
        assert_eq!(s.load("flood").unwrap(), None);
        s.save("flood", "threshold-ban", b"\x00\x01binary\n")
            .unwrap();
        let got = s.load("flood").unwrap().unwrap();
        assert_eq!(
            (got.plugin.as_str(), got.bytes.as_slice()),
            ("threshold-ban", &b"\x00\x01binary\n"[..])
        );
        std::fs::write(s.dir().join("other.state"), b"hello").unwrap();
        assert!(matches!(s.load("other"), Err(StateError::Format { .. })));
    }
}
