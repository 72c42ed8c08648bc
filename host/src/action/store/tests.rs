//! Store tests on real SQLite files.

use super::*;
use crate::action::Action;

fn net(s: &str) -> IpNet {
    IpNet::parse(s).unwrap()
}

fn ban(at: i64, until: i64) -> ActiveBan {
    ActiveBan {
        created_at: at,
        expires_at: until,
        reason: "flood".into(),
        origin: "stage".into(),
    }
}

#[test]
fn committed_records_survive_reopening_and_rolled_back_ones_vanish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").join(FILE_NAME);
    {
        let mut store = Store::open(&path).unwrap();
        let tx = store.transaction().unwrap();
        tx.write(&[
            Record::Insert {
                target: net("198.51.100.7"),
                ban: ban(10, 100),
            },
            Record::Insert {
                target: net("2001:db8::/64"),
                ban: ban(10, 50),
            },
            Record::Extend {
                target: net("198.51.100.7"),
                expires_at: 200,
            },
            Record::Lift {
                target: net("2001:db8::/64"),
                at: 20,
                why: "removed by cli".into(),
            },
        ])
        .unwrap();
        tx.commit().unwrap();
        let tx = store.transaction().unwrap();
        tx.write(&[Record::Insert {
            target: net("203.0.113.1"),
            ban: ban(30, 90),
        }])
        .unwrap();
        drop(tx);
    }
    let store = Store::open(&path).unwrap();
    let active = store.active().unwrap();
    assert_eq!(active, [(net("198.51.100.7"), ban(10, 200))]);
    let rows = store.rows(None, false, None).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].target, "2001:db8::/64");
    assert_eq!(rows[0].lift_reason.as_deref(), Some("removed by cli"));
    assert_eq!(rows[1].extended, 1);
    let within = store
        .rows(Some(&net("198.51.100.0/24")), false, None)
        .unwrap();
    assert_eq!(within.len(), 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn a_file_that_is_not_a_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = Store::open(&path).err().expect("refused").to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("not a database"), "{err}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version=99;")
        .unwrap();
    let err = Store::open(&path).err().expect("refused").to_string();
    assert!(err.contains("schema version 99"), "{err}");
}

#[test]
fn requests_queue_and_answer() {
    let store = Store::in_memory().unwrap();
    let a = store
        .push_request(
            &RequestKind::Act(Action::Ban {
                target: net("198.51.100.9"),
                duration_secs: 600,
                reason: "manual".into(),
            }),
            5,
        )
        .unwrap();
    let b = store.push_request(&RequestKind::Sweep, 6).unwrap();
    let pending = store.pending_requests(7).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].id, a);
    assert_eq!(pending[1].kind, RequestKind::Sweep);
    assert_eq!(store.request_result(a).unwrap(), None);
    store.finish_request(a, 8, "ok: banned").unwrap();
    assert_eq!(
        store.request_result(a).unwrap().as_deref(),
        Some("ok: banned")
    );
    assert_eq!(store.pending_requests(9).unwrap().len(), 1);
    assert_eq!(store.pending_requests(9).unwrap()[0].id, b);
}
