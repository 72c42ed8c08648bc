//! A stage's configuration as the plugin receives it, and the error it returns to refuse it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// The stage's `[pipeline.config]` table.
#[derive(Debug, Clone)]
pub struct Config {
    json: String,
}

impl Config {
    /// Wraps the JSON text the host passes to `init`.
    pub fn from_json(json: impl Into<String>) -> Self {
        Config { json: json.into() }
    }

    /// The raw JSON object.
    pub fn as_json(&self) -> &str {
        &self.json
    }

    /// Deserialises the table into `T`. Errors name the offending key; give `T`
    /// `#[serde(deny_unknown_fields)]` so a misspelt key is refused rather than ignored.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(&self.json);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            // serde_json appends " at line L column C" of the host-made JSON: noise to an operator.
            let message = match message.rfind(" at line ") {
                Some(at) => message[..at].to_string(),
                None => message,
            };
            let key = (path != "." && !path.is_empty()).then_some(path);
            ConfigError { key, message }
        })
    }
}

/// Why a plugin refuses its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The offending key (dotted path), when one key is to blame.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about one key.
    pub fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: Some(key.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(k) => write!(f, "key `{k}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A duration written as Portcullis writes them everywhere (`90s`, `10m`, `7d`), in seconds.
/// Use it as a config field type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub u64);

impl Duration {
    /// The duration in seconds.
    pub fn secs(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        portcullis_abi::duration::parse_secs(&text)
            .map(Duration)
            .map_err(|e| serde::de::Error::custom(format!("{e}: {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        threshold: u64,
        window: Duration,
    }

    #[test]
    fn parses_a_good_table() {
        let c = Config::from_json(r#"{"threshold": 5, "window": "10m"}"#);
        let s: Sample = c.parse().unwrap();
        assert_eq!((s.threshold, s.window), (5, Duration(600)));
    }

    #[test]
    fn names_the_bad_key() {
        let c = Config::from_json(r#"{"threshold": 5, "window": "10 minutes"}"#);
        let e = c.parse::<Sample>().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("window"));
        assert!(e.message.contains("not a duration"), "{e}");
    }

    #[test]
    fn names_an_unknown_key() {
        let c = Config::from_json(r#"{"threshold": 5, "window": "1m", "treshold": 3}"#);
        let e = c.parse::<Sample>().unwrap_err();
        assert!(e.to_string().contains("treshold"), "{e}");
    }
}
