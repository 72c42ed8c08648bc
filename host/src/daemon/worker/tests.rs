//! The worker's batching at its edges, driven directly with the real `threshold-ban`
//! plugin and a dry-run engine whose output is captured.

use super::*;
use crate::action::open;
use crate::clock::SystemClock;
use crate::daemon::sources::SourceState;
use crate::runner::runtime_for;
use std::io::Write;
use std::sync::Mutex;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn worker(dir: &std::path::Path, out: Captured) -> Worker {
    let path = dir.join("portcullis.toml");
    std::fs::write(
        &path,
        format!(
            "[[sources]]\nkind = \"stdin\"\n[[pipeline]]\nname = \"first\"\nplugin = \"threshold-ban\"\n\
             [pipeline.config]\nthreshold = 1\nwindow = \"1h\"\nban_for = \"1h\"\n\
             [actions]\nbackend = \"dry-run\"\n[state]\ndir = \"{}\"\n",
            dir.join("state").display()
        ),
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    let clock: Arc<dyn crate::clock::Clock> = Arc::new(SystemClock);
    let runtime = runtime_for(&config).unwrap();
    let services = services_for(&config, clock.clone()).unwrap();
    let engine = open::dry_run(&config, clock, out).unwrap();
    let runner = Runner::build(&config, &runtime, services, engine, true).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    Worker {
        runner,
        cursors: Cursors::open(&dir.join("state").join("sources.db")).unwrap(),
        runtime,
        batch_deadline: Duration::from_secs(60),
        save_every: Duration::from_secs(60),
        board: Arc::new(Board::default()),
        sources: Arc::new(SourceState::default()),
        labels: vec!["stdin".into()],
    }
}

fn input(src: &str) -> Input {
    Input {
        source: 0,
        data: format!(
            "Aug 30 10:00:00 fw kernel: DROP: IN=eth0 OUT= MAC= SRC={src} DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0 \n"
        )
        .into_bytes(),
        origin: Origin::Unpositioned,
    }
}

#[test]
fn a_lone_line_is_acted_on_at_once_and_a_pending_batch_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let out = Captured::default();
    let mut l = Loop::new(worker(dir.path(), out.clone()));
    // Nothing else queued: the batch closes at once.
    l.take(input("198.51.100.1"), false).unwrap();
    assert!(out.text().contains("198.51.100.1/32"), "{}", out.text());
    // More queued: the batch waits for company (up to the 60 s deadline here)...
    l.take(input("198.51.100.2"), true).unwrap();
    assert!(!out.text().contains("198.51.100.2/32"));
    assert!(l.deadline.is_some());
    // ...and a shutdown applies it.
    l.finish().unwrap();
    assert!(out.text().contains("198.51.100.2/32"), "{}", out.text());
}

#[test]
fn shutdown_takes_what_the_sources_already_queued() {
    let dir = tempfile::tempdir().unwrap();
    let out = Captured::default();
    let mut l = Loop::new(worker(dir.path(), out.clone()));
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    tx.try_send(input("203.0.113.1")).unwrap();
    tx.try_send(input("203.0.113.2")).unwrap();
    l.drain(&mut rx).unwrap();
    assert!(l.w.sources.stop.load(Ordering::Relaxed));
    l.finish().unwrap();
    let text = out.text();
    assert!(
        text.contains("203.0.113.1/32") && text.contains("203.0.113.2/32"),
        "{text}"
    );
}
