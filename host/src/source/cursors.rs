//! Where each source stands, kept across restarts: a followed file's inode and offset, the
//! kernel log's boot and sequence number. An SQLite file (`<state>/sources.db`) in WAL mode;
//! a position is written right after the lines before it went through the chain, so a
//! restart loses no line, and after a clean stop repeats none (a process killed between a
//! batch's bans and its position reads that batch again; its bans merge in the store).
//! Commits are not fsynced one by one (`synchronous = NORMAL`): they survive the process
//! being killed, and only a power loss can take back the last ones, which are then read
//! again.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// The file's name inside the state folder.
pub const FILE_NAME: &str = "sources.db";

/// Why the positions could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("source positions {path}: {source}")]
pub struct CursorError {
    /// The file.
    pub path: PathBuf,
    /// What SQLite said.
    pub source: rusqlite::Error,
}

/// The saved positions.
pub struct Cursors {
    conn: Connection,
    path: PathBuf,
}

impl Cursors {
    /// Opens (creating) the file at `path`.
    pub fn open(path: &Path) -> Result<Cursors, CursorError> {
        let err = |source| CursorError {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .map_err(err)?;
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .map_err(err)?;
        Ok(Cursors {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> CursorError {
        CursorError {
            path: self.path.clone(),
            source,
        }
    }

    /// The position saved for `source`, as JSON.
    pub fn get(&self, source: &str) -> Result<Option<serde_json::Value>, CursorError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM cursors WHERE source = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Saves every `(source, position)` in one transaction.
    pub fn save(&mut self, positions: &[(String, serde_json::Value)]) -> Result<(), CursorError> {
        if positions.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |source| CursorError {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        for (source, value) in positions {
            tx.execute(
                "INSERT INTO cursors (source, value) VALUES (?1, ?2)
                 ON CONFLICT(source) DO UPDATE SET value = excluded.value",
                params![source, value.to_string()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut c = Cursors::open(&path).unwrap();
        assert_eq!(c.get("file:/x").unwrap(), None);
        c.save(&[(
            "file:/x".into(),
            serde_json::json!({"inode": 5, "offset": 10}),
        )])
        .unwrap();
        c.save(&[(
            "file:/x".into(),
            serde_json::json!({"inode": 5, "offset": 20}),
        )])
        .unwrap();
        drop(c);
        let c = Cursors::open(&path).unwrap();
        assert_eq!(
            c.get("file:/x").unwrap(),
            Some(serde_json::json!({"inode": 5, "offset": 20}))
        );
    }
}
