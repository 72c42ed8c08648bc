//! `hostile`: a plugin that misbehaves on purpose, so tests can show the host survives it.
//! Built with the standard plugins but not embedded in the binary.
//!
//! Config: `mode` is `"trap"` (panics), `"loop"` (never returns) or `"grow"` (allocates
//! until memory runs out); it misbehaves on every `every`th batch (default 1: every batch)
//! and otherwise keeps everything.

use portcullis_sdk::{Batch, Config, ConfigError, Output, Plugin};
use serde::Deserialize;

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Trap,
    Loop,
    Grow,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    mode: Mode,
    #[serde(default = "one")]
    every: u64,
}

fn one() -> u64 {
    1
}

/// The misbehaving stage.
pub struct Hostile {
    mode: Mode,
    every: u64,
    batches: u64,
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
            batches: 0,
        })
    }

    fn process(&mut self, batch: &Batch<'_>, _out: &mut Output) {
        self.batches += 1;
        if !self.batches.is_multiple_of(self.every) {
            return;
        }
        match self.mode {
            Mode::Trap => panic!(
                "hostile plugin trapping on batch {} of {} events",
                self.batches,
                batch.len()
            ),
            Mode::Loop => loop {
                std::hint::black_box(&self.batches);
            },
            Mode::Grow => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0xA5; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
        }
    }
}

portcullis_sdk::export_plugin!(Hostile);
