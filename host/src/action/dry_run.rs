//! The `dry-run` backend: prints each change as one JSON line instead of touching a firewall.

use super::{ActionError, Backend, Change};
use serde::Serialize;
use std::io::Write;

/// Writes changes as JSON lines to any writer (stdout for the CLI).
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
        lifted: Vec<String>,
        plugin: &'a str,
    },
}

impl<W: Write + Send> Backend for DryRun<W> {
    fn apply(&mut self, changes: &[Change]) -> Result<(), ActionError> {
        for c in changes {
            let line = match c {
                Change::Ban {
                    target,
                    expires_at,
                    reason,
                    stage,
                } => Line::Ban {
                    target: target.to_string(),
                    expires_at: *expires_at,
                    reason,
                    plugin: stage,
                },
                Change::Unban {
                    target,
                    lifted,
                    stage,
                } => Line::Unban {
                    target: target.to_string(),
                    lifted: lifted.iter().map(ToString::to_string).collect(),
                    plugin: stage,
                },
            };
            serde_json::to_writer(&mut self.out, &line).map_err(std::io::Error::from)?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Action, ActionEngine, Decision};
    use super::*;
    use crate::clock::ManualClock;
    use portcullis_abi::net::IpNet;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn ban(target: &str, secs: u64) -> Decision {
        Decision {
            action: Action::Ban {
                target: IpNet::parse(target).unwrap(),
                duration_secs: secs,
                reason: "r".into(),
            },
            stage: "s".into(),
        }
    }

    #[test]
    fn prints_bans_merges_duplicates_and_unbans_by_cidr() {
        let out = Shared::default();
        let clock = ManualClock::at(1_000_000);
        let mut engine = ActionEngine::new(
            Box::new(DryRun::new(out.clone())),
            clock.clone(),
            crate::action::GuardConfig::default(),
        );
        engine
            .submit(vec![
                ban("198.51.100.7", 60),
                ban("198.51.100.7", 30),
                ban("203.0.113.9", 60),
            ])
            .unwrap();
        engine.submit(vec![ban("198.51.100.7", 120)]).unwrap();
        engine
            .submit(vec![Decision {
                action: Action::Unban {
                    target: IpNet::parse("198.51.100.0/24").unwrap(),
                },
                stage: "cli".into(),
            }])
            .unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"action":"ban","target":"198.51.100.7/32","expires_at":1060,"reason":"r","plugin":"s"}"#,
                r#"{"action":"ban","target":"203.0.113.9/32","expires_at":1060,"reason":"r","plugin":"s"}"#,
                r#"{"action":"ban","target":"198.51.100.7/32","expires_at":1120,"reason":"r","plugin":"s"}"#,
                r#"{"action":"unban","target":"198.51.100.0/24","lifted":["198.51.100.7/32"],"plugin":"cli"}"#,
            ]
        );
        assert_eq!(engine.stats().merged, 1);
        assert_eq!(engine.stats().banned, 3);
    }
}
