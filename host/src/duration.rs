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
