//! `hello`: the example plugin of `docs/plugins.md`. It bans every source that touches a
//! trap port (a port nothing legitimate uses, such as telnet), drops those events so later
//! stages do not count them again, and remembers how many sources it trapped across
//! restarts.
//!
//! Config: `port` (required), `ban_for` (default `1d`).

use portcullis_sdk::host::{self, Level};
use portcullis_sdk::{
    Batch, Config, ConfigError, ConfigKey, Description, Duration, IpNet, Output, Plugin, state,
};
use serde::{Deserialize, Serialize};

/// The config table, exactly as operators write it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    port: u16,
    #[serde(default = "one_day")]
    ban_for: Duration,
}

fn one_day() -> Duration {
    Duration(86_400)
}

/// What survives a restart.
#[derive(Serialize, Deserialize, Default)]
struct Saved {
    trapped: u64,
}

/// The plugin: its settings and its state.
pub struct Hello {
    port: u16,
    ban_for: u64,
    saved: Saved,
}

impl Plugin for Hello {
    fn describe() -> Description {
        Description::new(
            "Bans every source that touches a trap port.",
            vec![
                ConfigKey::new("port", "port number", None, "the trap port"),
                ConfigKey::new("ban_for", "duration", Some("1d"), "how long a ban lasts"),
            ],
        )
    }

    fn init(config: Config) -> Result<Self, ConfigError> {
        let s: Settings = config.parse()?;
        if s.port == 0 {
            return Err(ConfigError::key("port", "must be 1-65535"));
        }
        Ok(Hello {
            port: s.port,
            ban_for: s.ban_for.secs(),
            saved: Saved::default(),
        })
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) {
        for ev in batch.events() {
            if ev.dpt() != Some(self.port) {
                continue;
            }
            if let Some(src) = ev.src() {
                out.ban(
                    IpNet::host(src),
                    self.ban_for,
                    format!("touched trap port {}", self.port),
                );
                self.saved.trapped += 1;
            }
            out.drop_event(&ev);
        }
        host::gauge_set("trapped_total", self.saved.trapped as f64);
    }

    fn snapshot(&self) -> Vec<u8> {
        state::save(&self.saved)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.saved = state::load(bytes)?;
        host::log(
            Level::Info,
            &format!("restored: {} sources trapped so far", self.saved.trapped),
        );
        Ok(())
    }
}

portcullis_sdk::export_plugin!(Hello);

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::Action;
    use portcullis_sdk::testing::{BatchBuilder, TestEvent};

    fn hello() -> Hello {
        Hello::init(Config::from_json(r#"{"port": 23, "ban_for": "1h"}"#)).unwrap()
    }

    #[test]
    fn bans_and_drops_what_touches_the_trap() {
        let mut p = hello();
        let mut b = BatchBuilder::new();
        b.push(TestEvent::tcp("203.0.113.7", "192.0.2.1", 23));
        b.push(TestEvent::tcp("203.0.113.8", "192.0.2.1", 443));
        let batch = b.batch();
        let mut out = Output::for_batch(&batch);
        p.process(&batch, &mut out);
        let target = IpNet::parse("203.0.113.7").unwrap();
        assert_eq!(
            out.actions(),
            [Action::Ban {
                target,
                duration_secs: 3600,
                reason: "touched trap port 23".into()
            }]
        );
        assert_eq!(out.dropped_count(), 1);
        assert_eq!(host::test_metric("trapped_total"), Some(1.0));
    }

    #[test]
    fn remembers_across_a_snapshot() {
        let mut p = hello();
        p.saved.trapped = 41;
        let mut q = hello();
        q.restore(&p.snapshot()).unwrap();
        assert_eq!(q.saved.trapped, 41);
    }

    #[test]
    fn refuses_a_missing_or_zero_port() {
        let e = Hello::init(Config::from_json("{}")).err().unwrap();
        assert!(e.to_string().contains("port"), "{e}");
        let e = Hello::init(Config::from_json(r#"{"port": 0}"#))
            .err()
            .unwrap();
        assert_eq!(e.key.as_deref(), Some("port"));
    }
}
