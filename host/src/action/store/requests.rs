//! The queue of requests the CLI leaves for the process that applies bans (`bans add`,
//! `remove`, `expire` while a `portcullis run` holds the lock), and their answers.

use super::{Store, StoreError};
use crate::action::Action;
use portcullis_abi::net::IpNet;
use rusqlite::{OptionalExtension, params};

/// A request the CLI left for the process that applies bans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Row id.
    pub id: i64,
    /// What to do.
    pub kind: RequestKind,
}

/// What a request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// `bans add` or `bans remove`.
    Act(Action),
    /// `bans expire`.
    Sweep,
}

impl Store {
    /// Leaves a request for the process that applies bans; returns its id.
    pub fn push_request(&self, kind: &RequestKind, now: i64) -> Result<i64, StoreError> {
        let (name, target, secs, reason) = match kind {
            RequestKind::Act(Action::Ban {
                target,
                duration_secs,
                reason,
            }) => (
                "ban",
                Some(target.to_string()),
                Some(i64::try_from(*duration_secs).unwrap_or(i64::MAX)),
                Some(reason.as_str()),
            ),
            RequestKind::Act(Action::Unban { target }) => {
                ("unban", Some(target.to_string()), None, None)
            }
            RequestKind::Sweep => ("sweep", None, None, None),
        };
        self.conn
            .execute(
                "INSERT INTO requests (kind, target, duration_secs, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, target, secs, reason, now],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Requests not yet done, oldest first. A request whose target no longer parses is
    /// answered with an error at once.
    pub fn pending_requests(&self, now: i64) -> Result<Vec<Request>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, kind, target, duration_secs, reason FROM requests
                 WHERE done_at IS NULL ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        type Raw = (i64, String, Option<String>, Option<i64>, Option<String>);
        let raw: Vec<Raw> = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for (id, kind, target, secs, reason) in raw {
            let target = target.as_deref().map(IpNet::parse);
            let kind = match (kind.as_str(), target) {
                ("ban", Some(Ok(target))) => RequestKind::Act(Action::Ban {
                    target,
                    duration_secs: u64::try_from(secs.unwrap_or(0)).unwrap_or(0),
                    reason: reason.unwrap_or_default(),
                }),
                ("unban", Some(Ok(target))) => RequestKind::Act(Action::Unban { target }),
                ("sweep", _) => RequestKind::Sweep,
                _ => {
                    self.finish_request(id, now, "error: not a valid request")?;
                    continue;
                }
            };
            out.push(Request { id, kind });
        }
        Ok(out)
    }

    /// Marks a request done with its result (`ok: …` or `error: …`).
    pub fn finish_request(&self, id: i64, now: i64, result: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE requests SET done_at = ?2, result = ?3 WHERE id = ?1",
                params![id, now, result],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A request's result, once done.
    pub fn request_result(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT result FROM requests WHERE id = ?1 AND done_at IS NOT NULL",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
