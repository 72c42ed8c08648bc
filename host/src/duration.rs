//! Durations in config files and flags (`90s`, `10m`, `7d`, `250ms`): serde and clap glue
//! over the one parser in `portcullis_abi::duration`.

use portcullis_abi::duration::{parse_millis, parse_secs};
use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Parses a duration for a command-line flag.
pub fn parse_flag(text: &str) -> Result<Duration, String> {
    parse_millis(text)
        .map(Duration::from_millis)
        .map_err(|e| e.to_string())
}

/// Deserialises an optional duration string into a [`Duration`].
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    parse_millis(&text)
        .map(|ms| Some(Duration::from_millis(ms)))
        .map_err(|e| serde::de::Error::custom(format!("{e}: {text:?}")))
}

/// Whole seconds of a duration string.
pub fn secs(text: &str) -> Result<u64, String> {
    parse_secs(text).map_err(|e| e.to_string())
}

/// Seconds as a short human duration: `45s`, `12m 5s`, `3h 20m`, `6d 4h`.
pub fn format_secs(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_short_durations() {
        assert_eq!(format_secs(-3), "0s");
        assert_eq!(format_secs(45), "45s");
        assert_eq!(format_secs(725), "12m 5s");
        assert_eq!(format_secs(12_000), "3h 20m");
        assert_eq!(format_secs(6 * 86_400 + 4 * 3600 + 59), "6d 4h");
    }
}
