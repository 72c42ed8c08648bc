//! Who applies bans: one process at a time holds an exclusive lock on
//! `<state>/actions.lock` (the daemon, or a CLI command when no daemon runs). The file
//! holds the holder's pid, for messages. The kernel drops the lock when the holder dies,
//! even by `kill -9`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the state folder.
pub const FILE_NAME: &str = "actions.lock";

/// Why the lock could not be taken or read.
#[derive(Debug, thiserror::Error)]
#[error("lock file {path}: {source}")]
pub struct LockError {
    /// The lock file.
    pub path: PathBuf,
    /// The IO error.
    pub source: std::io::Error,
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct ApplyLock {
    _file: File,
}

/// Whether the lock was taken, or who holds it.
#[derive(Debug)]
pub enum Acquired {
    /// This process now applies bans.
    Held(ApplyLock),
    /// Another process does (its pid, if it wrote one).
    Busy(Option<u32>),
}

/// Tries to take the lock in `state_dir` (which must exist).
pub fn try_acquire(state_dir: &Path) -> Result<Acquired, LockError> {
    let path = state_dir.join(FILE_NAME);
    let err = |source| LockError {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(err)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(err)?;
            file.rewind().map_err(err)?;
            write!(file, "{}", std::process::id()).map_err(err)?;
            Ok(Acquired::Held(ApplyLock { _file: file }))
        }
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            file.read_to_string(&mut text).map_err(err)?;
            Ok(Acquired::Busy(text.trim().parse().ok()))
        }
        Err(TryLockError::Error(e)) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let held = match try_acquire(dir.path()).unwrap() {
            Acquired::Held(l) => l,
            Acquired::Busy(_) => panic!("free lock reported busy"),
        };
        match try_acquire(dir.path()).unwrap() {
            Acquired::Busy(pid) => assert_eq!(pid, Some(std::process::id())),
            Acquired::Held(_) => panic!("lock taken twice"),
        }
        drop(held);
        assert!(matches!(
            try_acquire(dir.path()).unwrap(),
            Acquired::Held(_)
        ));
    }
}
