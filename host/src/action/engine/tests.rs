//! Engine tests over an in-memory firewall that can be told to refuse, and a real SQLite
//! store on disk. (The real firewalls are exercised in `tests/bans*.rs`.)

use super::*;
use crate::action::backend::Listed;
use crate::clock::ManualClock;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A firewall in memory: entries with expiries; refuses every apply while `fail` is set.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<(BTreeMap<IpNet, i64>, bool)>>);

impl Memory {
    fn entries(&self) -> Vec<(String, i64)> {
        let g = self.0.lock().unwrap();
        g.0.iter().map(|(n, e)| (n.to_string(), *e)).collect()
    }
    fn fail(&self, on: bool) {
        self.0.lock().unwrap().1 = on;
    }
    fn clear(&self) {
        self.0.lock().unwrap().0.clear();
    }
}

impl Backend for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn prepare(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
    fn apply(&mut self, ops: &[Op], _now: i64) -> Result<(), BackendError> {
        let mut g = self.0.lock().unwrap();
        if g.1 {
            return Err(BackendError::Output(std::io::Error::other("refused")));
        }
        for op in ops {
            match op {
                Op::Add {
                    target, expires_at, ..
                } => {
                    g.0.insert(*target, *expires_at);
                }
                Op::Remove { target, .. } => {
                    g.0.remove(target);
                }
            }
        }
        Ok(())
    }
    fn list(&mut self, _now: i64) -> Result<Vec<Listed>, BackendError> {
        let g = self.0.lock().unwrap();
        Ok(g.0
            .iter()
            .map(|(n, e)| Listed {
                target: *n,
                expires_at: Some(*e),
            })
            .collect())
    }
    fn remove_all(&mut self) -> Result<(), BackendError> {
        self.clear();
        Ok(())
    }
}

fn net(s: &str) -> IpNet {
    IpNet::parse(s).unwrap()
}

fn ban(target: &str, secs: u64) -> Decision {
    Decision {
        action: Action::Ban {
            target: net(target),
            duration_secs: secs,
            reason: "r".into(),
        },
        stage: "s".into(),
    }
}

fn engine(fw: &Memory, path: &std::path::Path, clock: Arc<ManualClock>) -> ActionEngine {
    ActionEngine::new(
        Box::new(fw.clone()),
        Store::open(path).unwrap(),
        clock,
        GuardConfig::default(),
        vec![net("192.0.2.1")],
    )
    .unwrap()
}

#[test]
fn applies_merges_and_refuses_then_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bans.db");
    let fw = Memory::default();
    let clock = ManualClock::at(1_000_000);
    let mut e = engine(&fw, &path, clock.clone());
    let out = e
        .submit(vec![
            ban("198.51.100.7", 60),
            ban("198.51.100.7", 30),
            ban("192.0.2.0/24", 60),
            ban("203.0.113.9", 600),
        ])
        .unwrap();
    assert!(matches!(
        out[0],
        Outcome::Banned {
            extended: false,
            ..
        }
    ));
    assert_eq!(
        out[1],
        Outcome::Merged {
            target: net("198.51.100.7")
        }
    );
    assert!(matches!(
        out[2],
        Outcome::Refused(Refusal::OwnAddress { .. })
    ));
    assert_eq!(
        fw.entries(),
        [
            ("198.51.100.7/32".to_string(), 1060),
            ("203.0.113.9/32".to_string(), 1600)
        ]
    );
    assert_eq!(e.stats().refused, 1);
    drop(e);

    // A restart after 100 s: the short ban expired while nothing ran, and the firewall
    // lost everything (a reboot). Start-up sweeps and restores what is left.
    clock.set(1_100_000);
    fw.clear();
    let mut e = engine(&fw, &path, clock.clone());
    assert_eq!(e.bans().len(), 2);
    let report = e.start().unwrap();
    assert_eq!(report.restored, 1);
    assert_eq!(fw.entries(), [("203.0.113.9/32".to_string(), 1600)]);
    let rows = e.store().rows(None, false, None).unwrap();
    let lifted = rows.iter().find(|r| r.target == "198.51.100.7/32").unwrap();
    assert_eq!(lifted.lift_reason.as_deref(), Some("expired"));
}

#[test]
fn a_refused_batch_is_not_recorded_and_is_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bans.db");
    let fw = Memory::default();
    let clock = ManualClock::at(5_000_000);
    let mut e = engine(&fw, &path, clock);
    e.submit(vec![ban("198.51.100.1", 60)]).unwrap();
    fw.fail(true);
    assert!(e.submit(vec![ban("198.51.100.2", 60)]).is_err());
    // Neither the store nor the engine believe in the ban the firewall refused.
    assert_eq!(e.bans().len(), 1);
    assert_eq!(e.store().active().unwrap().len(), 1);
    assert_eq!(e.pending_retries(), 1);
    assert_eq!(e.stats().banned, 1, "the refused ban is not counted");
    // Once the firewall takes changes again, maintain applies what it refused.
    fw.fail(false);
    e.maintain().unwrap();
    assert_eq!(e.pending_retries(), 0);
    assert_eq!(e.store().active().unwrap().len(), 2);
    assert_eq!(e.stats().banned, 2);
    assert!(fw.entries().iter().any(|(t, _)| t == "198.51.100.2/32"));
}

#[test]
fn serves_requests_left_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bans.db");
    let fw = Memory::default();
    let clock = ManualClock::at(7_000_000);
    let mut e = engine(&fw, &path, clock);
    // Another process (the CLI) opens the same file and leaves requests.
    let cli = Store::open(&path).unwrap();
    let add = cli
        .push_request(
            &RequestKind::Act(Action::Ban {
                target: net("198.51.100.9"),
                duration_secs: 600,
                reason: "by hand".into(),
            }),
            7000,
        )
        .unwrap();
    let own = cli
        .push_request(
            &RequestKind::Act(Action::Ban {
                target: net("192.0.2.1"),
                duration_secs: 600,
                reason: "oops".into(),
            }),
            7000,
        )
        .unwrap();
    let remove = cli
        .push_request(
            &RequestKind::Act(Action::Unban {
                target: net("198.51.100.0/24"),
            }),
            7000,
        )
        .unwrap();
    assert_eq!(e.serve_requests().unwrap(), 3);
    assert_eq!(
        cli.request_result(add).unwrap().as_deref(),
        Some("ok: banned 198.51.100.9/32 until 7600")
    );
    assert!(
        cli.request_result(own)
            .unwrap()
            .unwrap()
            .starts_with("refused: 192.0.2.1/32 covers 192.0.2.1/32")
    );
    assert_eq!(
        cli.request_result(remove).unwrap().as_deref(),
        Some("ok: 1 bans within 198.51.100.0/24 lifted: 198.51.100.9/32")
    );
    assert!(fw.entries().is_empty());
    assert_eq!(e.serve_requests().unwrap(), 0);
}

#[test]
fn maintain_sweeps_when_due_and_reconciles_on_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bans.db");
    let fw = Memory::default();
    let clock = ManualClock::at(9_000_000);
    let mut e = engine(&fw, &path, clock.clone());
    e.set_reconcile_interval(Some(60));
    e.start().unwrap();
    e.submit(vec![ban("198.51.100.1", 30), ban("198.51.100.2", 3600)])
        .unwrap();
    // Someone deletes a ban by hand; nothing is due yet, and the interval has not passed.
    fw.0.lock().unwrap().0.remove(&net("198.51.100.2"));
    clock.set(9_010_000);
    e.maintain().unwrap();
    assert_eq!(fw.entries(), [("198.51.100.1/32".to_string(), 9030)]);
    // 30 s later the first ban is due: swept, even with no batch to apply.
    clock.set(9_030_000);
    e.maintain().unwrap();
    assert!(fw.entries().is_empty());
    assert_eq!(e.stats().expired, 1);
    // Once the interval has passed, the reconciler restores the deleted ban.
    clock.set(9_061_000);
    e.maintain().unwrap();
    assert_eq!(fw.entries(), [("198.51.100.2/32".to_string(), 12600)]);
}
