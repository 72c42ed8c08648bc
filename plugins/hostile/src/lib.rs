//! `hostile`: a plugin that misbehaves on purpose, so tests can show the host survives it.
//! Built with the standard plugins but not embedded in the binary.
//!
//! Config: `mode` is `"trap"` (panics), `"loop"` (never returns), `"grow"` (allocates
//! until memory runs out), or one of `"file"`, `"net"`, `"clock"`, `"env"` (tries to read
//! a file, open a connection, read the system clock, read an environment variable: what a
//! plugin must not be able to do). It misbehaves on every `every`th batch (default 1: every batch),
//! or, when `poison_port` is set, on each batch holding an event to that port. It counts
//! the events of the batches it survives (state kept in snapshots, reported as the gauge
//! `events_seen`), so tests can tell whether a re-created instance got its state back.

use portcullis_sdk::{Batch, Config, ConfigError, Output, Plugin, host, state};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Trap,
    Loop,
    Grow,
    File,
    Net,
    Clock,
    Env,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    mode: Mode,
    #[serde(default = "one")]
    every: u64,
    #[serde(default)]
    poison_port: Option<u16>,
}

fn one() -> u64 {
    1
}

#[derive(Serialize, Deserialize, Default)]
struct Saved {
    batches: u64,
    events_seen: u64,
}

/// The misbehaving stage.
pub struct Hostile {
    mode: Mode,
    every: u64,
    poison_port: Option<u16>,
    saved: Saved,
}

impl Hostile {
    fn misbehaves_on(&self, batch: &Batch<'_>) -> bool {
        match self.poison_port {
            Some(port) => batch.events().any(|ev| ev.dpt() == Some(port)),
            None => self.saved.batches.is_multiple_of(self.every),
        }
    }
}

impl Plugin for Hostile {
    fn init(config: Config) -> Result<Self, ConfigError> {
        let s: Settings = config.parse()?;
        if s.every == 0 {
            return Err(ConfigError::key("every", "must be at least 1"));
        }
        Ok(Hostile {
            mode: s.mode,
            every: s.every,
            poison_port: s.poison_port,
            saved: Saved::default(),
        })
    }

    fn process(&mut self, batch: &Batch<'_>, _out: &mut Output) {
        self.saved.batches += 1;
        if self.misbehaves_on(batch) {
            match self.mode {
                Mode::Trap => panic!(
                    "hostile plugin trapping on batch {} of {} events",
                    self.saved.batches,
                    batch.len()
                ),
                Mode::Loop => loop {
                    std::hint::black_box(&self.saved);
                },
                Mode::File => {
                    let text = std::fs::read_to_string("/etc/hostname");
                    panic!("hostile plugin read a file: {text:?}");
                }
                Mode::Net => {
                    let conn = std::net::TcpStream::connect("192.0.2.1:80");
                    panic!("hostile plugin opened a connection: {conn:?}");
                }
                Mode::Clock => {
                    let now = std::time::SystemTime::now();
                    panic!("hostile plugin read the system clock: {now:?}");
                }
                Mode::Env => {
                    let home = std::env::var("HOME");
                    panic!("hostile plugin read the environment: {home:?}");
                }
                Mode::Grow => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![0xA5; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
            }
        }
        self.saved.events_seen += batch.len() as u64;
        host::gauge_set("events_seen", self.saved.events_seen as f64);
    }

    fn snapshot(&self) -> Vec<u8> {
        state::save(&self.saved)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.saved = state::load(bytes)?;
        Ok(())
    }
}

portcullis_sdk::export_plugin!(Hostile);
