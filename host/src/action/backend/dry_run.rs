//! The `dry-run` backend: prints each op as one JSON line instead of touching a firewall.
//!
//! `{"action":"ban","target":"198.51.100.7/32","expires_at":1767225600,"reason":"…","plugin":"flood"}`
//! and `{"action":"unban","target":"198.51.100.7/32","reason":"removed by cli"}`.

use super::{Backend, BackendError, Listed, Op};
use serde::Serialize;
use std::io::Write;

/// Writes ops as JSON lines to any writer (stdout for the CLI).
pub struct DryRun<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> DryRun<W> {
    /// A dry-run backend writing to `out`.
    pub fn new(out: W) -> Self {
        DryRun { out }
    }
}

#[derive(Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
enum Line<'a> {
    Ban {
        target: String,
        expires_at: i64,
        reason: &'a str,
        plugin: &'a str,
    },
    Unban {
        target: String,
        reason: &'a str,
    },
}

impl<W: Write + Send> Backend for DryRun<W> {
    fn name(&self) -> &'static str {
        "dry-run"
    }

    fn prepare(&mut self) -> Result<(), BackendError> {
        Ok(())
    }

    fn apply(&mut self, ops: &[Op], _now: i64) -> Result<(), BackendError> {
        for op in ops {
            let line = match op {
                Op::Add {
                    target,
                    expires_at,
                    reason,
                    origin,
                } => Line::Ban {
                    target: target.to_string(),
                    expires_at: *expires_at,
                    reason,
                    plugin: origin,
                },
                Op::Remove { target, why } => Line::Unban {
                    target: target.to_string(),
                    reason: why,
                },
            };
            serde_json::to_writer(&mut self.out, &line).map_err(std::io::Error::from)?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn list(&mut self, _now: i64) -> Result<Vec<Listed>, BackendError> {
        Ok(Vec::new())
    }

    fn remove_all(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}
