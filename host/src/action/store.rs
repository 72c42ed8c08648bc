//! The durable store of bans: every ban ever made, active or lifted, with its target,
//! reason, origin, times and why it lifted; and the queue of requests the CLI leaves for a
//! running Portcullis. SQLite (bundled) in WAL mode with `synchronous=FULL`: a change is
//! on disk when its transaction commits, and the CLI can read while the daemon writes.

use super::bans::{ActiveBan, Record};
use portcullis_abi::net::IpNet;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The store's file name inside the state folder.
pub const FILE_NAME: &str = "bans.db";
/// The schema this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bans (
    id          INTEGER PRIMARY KEY,
    target      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    origin      TEXT    NOT NULL,
    extended    INTEGER NOT NULL DEFAULT 0,
    lifted_at   INTEGER,
    lift_reason TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS bans_active ON bans(target) WHERE lifted_at IS NULL;
CREATE INDEX IF NOT EXISTS bans_created ON bans(created_at);
CREATE TABLE IF NOT EXISTS requests (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL,
    target        TEXT,
    duration_secs INTEGER,
    reason        TEXT,
    created_at    INTEGER NOT NULL,
    done_at       INTEGER,
    result        TEXT
);
CREATE INDEX IF NOT EXISTS requests_pending ON requests(id) WHERE done_at IS NULL;
";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened, created or read as a Portcullis store.
    #[error("ban store {path}: {source}")]
    Sql {
        /// The database file (`:memory:` for a dry run).
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The folder for the file could not be created.
    #[error("ban store {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A newer Portcullis wrote the file.
    #[error(
        "ban store {path}: schema version {found} is newer than this build's {SCHEMA_VERSION}; upgrade portcullis"
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
    /// A row holds something that is not a network.
    #[error("ban store {path}: row {id}: target {target:?} is not a network")]
    BadTarget {
        /// The file.
        path: PathBuf,
        /// The row.
        id: i64,
        /// What it holds.
        target: String,
    },
}

/// One ban as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BanRow {
    /// Row id.
    pub id: i64,
    /// The network, e.g. `198.51.100.7/32`.
    pub target: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub origin: String,
    /// How many times a longer ban extended it.
    pub extended: i64,
    /// When it lifted, if it has.
    pub lifted_at: Option<i64>,
    /// Why it lifted.
    pub lift_reason: Option<String>,
}

/// The open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path`; its folder is created 0700.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_dir::create(dir).map_err(|source| StoreError::Folder {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Sql {
            path: path.to_path_buf(),
            source,
        })?;
        Store::init(conn, path.to_path_buf())
    }

    /// A store that lives in memory only (dry runs).
    pub fn in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sql {
            path: path.clone(),
            source,
        })?;
        Store::init(conn, path)
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Store, StoreError> {
        let store = Store { conn, path };
        let found: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| store.err(e))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: store.path,
                found,
            });
        }
        store
            .conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| store.err(e))?;
        // journal_mode answers with a row; the others are silent.
        store
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .map_err(|e| store.err(e))?;
        store
            .conn
            .execute_batch(&format!(
                "PRAGMA synchronous=FULL; {SCHEMA} PRAGMA user_version={SCHEMA_VERSION};"
            ))
            .map_err(|e| store.err(e))?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// The file (`:memory:` for a dry run).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every active ban.
    pub fn active(&self) -> Result<Vec<(IpNet, ActiveBan)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, target, created_at, expires_at, reason, origin FROM bans
                 WHERE lifted_at IS NULL ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, target, created_at, expires_at, reason, origin) =
                row.map_err(|e| self.err(e))?;
            let net = IpNet::parse(&target).map_err(|_| StoreError::BadTarget {
                path: self.path.clone(),
                id,
                target: target.clone(),
            })?;
            out.push((
                net,
                ActiveBan {
                    created_at,
                    expires_at,
                    reason: Arc::from(reason),
                    origin: Arc::from(origin),
                },
            ));
        }
        Ok(out)
    }

    /// Bans newest first: all of them, or only the `limit` newest; only those inside
    /// `within` when given; only active ones with `active_only`.
    pub fn rows(
        &self,
        within: Option<&IpNet>,
        active_only: bool,
        limit: Option<usize>,
    ) -> Result<Vec<BanRow>, StoreError> {
        let sql = if active_only {
            "SELECT id, target, created_at, expires_at, reason, origin, extended, lifted_at, lift_reason
             FROM bans WHERE lifted_at IS NULL ORDER BY id DESC"
        } else {
            "SELECT id, target, created_at, expires_at, reason, origin, extended, lifted_at, lift_reason
             FROM bans ORDER BY id DESC"
        };
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(BanRow {
                    id: r.get(0)?,
                    target: r.get(1)?,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                    reason: r.get(4)?,
                    origin: r.get(5)?,
                    extended: r.get(6)?,
                    lifted_at: r.get(7)?,
                    lift_reason: r.get(8)?,
                })
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let row = row.map_err(|e| self.err(e))?;
            if let Some(within) = within {
                match IpNet::parse(&row.target) {
                    Ok(n) if within.contains_net(&n) => {}
                    _ => continue,
                }
            }
            out.push(row);
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    /// Starts a transaction: write records into it, then commit once the firewall took
    /// the matching ops. Dropped without commit, it rolls back.
    pub fn transaction(&mut self) -> Result<StoreTx<'_>, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Sql {
                path: path.clone(),
                source,
            })?;
        Ok(StoreTx { tx, path })
    }
}

/// An open write transaction.
pub struct StoreTx<'a> {
    tx: rusqlite::Transaction<'a>,
    path: PathBuf,
}

impl StoreTx<'_> {
    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes `records` in order.
    pub fn write(&self, records: &[Record]) -> Result<(), StoreError> {
        for r in records {
            match r {
                Record::Insert { target, ban } => {
                    let mut st = self
                        .tx
                        .prepare_cached(
                            "INSERT INTO bans (target, created_at, expires_at, reason, origin)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .map_err(|e| self.err(e))?;
                    st.execute(params![
                        target.to_string(),
                        ban.created_at,
                        ban.expires_at,
                        &*ban.reason,
                        &*ban.origin
                    ])
                    .map_err(|e| self.err(e))?;
                }
                Record::Extend { target, expires_at } => {
                    let mut st = self
                        .tx
                        .prepare_cached(
                            "UPDATE bans SET expires_at = ?2, extended = extended + 1
                             WHERE target = ?1 AND lifted_at IS NULL",
                        )
                        .map_err(|e| self.err(e))?;
                    st.execute(params![target.to_string(), expires_at])
                        .map_err(|e| self.err(e))?;
                }
                Record::Lift { target, at, why } => {
                    let mut st = self
                        .tx
                        .prepare_cached(
                            "UPDATE bans SET lifted_at = ?2, lift_reason = ?3
                             WHERE target = ?1 AND lifted_at IS NULL",
                        )
                        .map_err(|e| self.err(e))?;
                    st.execute(params![target.to_string(), at, &**why])
                        .map_err(|e| self.err(e))?;
                }
            }
        }
        Ok(())
    }

    /// Makes everything written durable.
    pub fn commit(self) -> Result<(), StoreError> {
        let path = self.path;
        self.tx
            .commit()
            .map_err(|source| StoreError::Sql { path, source })
    }
}

mod requests;
#[cfg(test)]
mod tests;

pub use requests::{Request, RequestKind};
