//! Configuration: the TOML file (plus `PORTCULLIS__SECTION__KEY` environment overrides)
//! read into raw serde types that refuse unknown keys, then validated into [`Config`].
//!
//! ```toml
//! [[sources]]
//! kind = "file"
//! path = "/var/log/kern.log"
//! [[pipeline]]
//! name = "private"
//! plugin = "cidr-filter"
//! [pipeline.config]
//! drop_sources = ["private"]
//! [actions]
//! backend = "dry-run"
//! [state]
//! dir = "/var/lib/portcullis"
//! ```

mod actions;
mod service;
mod sources;

pub use actions::{ActionsConfig, BackendKind};
pub use service::ServiceConfig;
pub use sources::{KMSG, Listen, Source, StartAt};

use crate::geo::GeoPaths;
use crate::pipeline::OnError;
use crate::plugin::{PluginError, PluginSource, StageLimits};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the CLI looks for its config when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/portcullis/portcullis.toml";
/// Prefix of environment variables that override config keys (`PORTCULLIS__ACTIONS__BACKEND`).
pub const ENV_PREFIX: &str = "PORTCULLIS";

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist.
    #[error("config file {0} does not exist")]
    NotFound(PathBuf),
    /// The file or the environment could not be read as TOML.
    #[error("config file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// A key is unknown or has a bad value.
    #[error("config file {path}: key `{key}`: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Dotted path of the key (`pipeline[1].plugin`).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A stage's plugin cannot be resolved.
    #[error("config file {path}: key `{key}`: {source}")]
    Plugin {
        /// The file.
        path: PathBuf,
        /// Dotted path of the key.
        key: String,
        /// Why.
        source: PluginError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    sources: Vec<sources::RawSource>,
    #[serde(default)]
    pipeline: Vec<RawStage>,
    #[serde(default)]
    actions: actions::RawActions,
    #[serde(default)]
    state: RawState,
    #[serde(default)]
    geoip: GeoPaths,
    #[serde(default)]
    parser: RawParser,
    #[serde(default)]
    run: service::RawRun,
    #[serde(default)]
    metrics: service::RawMetrics,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawParser {
    utc_offset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: String,
    plugin: String,
    #[serde(default)]
    config: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    on_error: OnError,
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    timeout: Option<Duration>,
    #[serde(default)]
    memory_mib: Option<u32>,
    #[serde(default)]
    fuel: Option<u64>,
    #[serde(default)]
    max_failures: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawState {
    dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    snapshot_interval: Option<Duration>,
}

/// One configured stage.
#[derive(Debug, Clone)]
pub struct StageConfig {
    /// The stage's name (unique).
    pub name: String,
    /// Its component.
    pub plugin: PluginSource,
    /// The `[pipeline.config]` table as a JSON object, handed to the plugin's `init`.
    pub config_json: String,
    /// What happens to a batch when the stage fails.
    pub on_error: OnError,
    /// Time and memory limits per call.
    pub limits: StageLimits,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Log sources.
    pub sources: Vec<Source>,
    /// Stages, in order.
    pub stages: Vec<StageConfig>,
    /// Where actions go, and what they never touch.
    pub actions: ActionsConfig,
    /// How a live run batches, queues and serves metrics.
    pub service: ServiceConfig,
    /// Where state is kept.
    pub state_dir: PathBuf,
    /// How often stages' state is snapshotted while running.
    pub snapshot_interval: Duration,
    /// GeoIP/ASN database files.
    pub geoip: GeoPaths,
    /// Seconds east of UTC of log stamps that carry no zone.
    pub utc_offset_secs: i32,
}

impl Config {
    /// Whether any stage has a fuel budget (the engine then meters fuel).
    pub fn uses_fuel(&self) -> bool {
        self.stages.iter().any(|s| s.limits.fuel.is_some())
    }

    /// Where precompiled plugins are cached.
    pub fn cache_dir(&self) -> PathBuf {
        self.state_dir.join("cache")
    }

    /// The store of bans.
    pub fn store_path(&self) -> PathBuf {
        self.state_dir.join(crate::action::store::FILE_NAME)
    }

    /// Where stage state is saved between runs.
    pub fn plugin_state_dir(&self) -> PathBuf {
        self.state_dir.join("plugins")
    }
}

impl Config {
    /// A configuration with nothing in it: no sources, no stages, no GeoIP databases.
    pub fn empty() -> Config {
        Config {
            path: PathBuf::new(),
            sources: Vec::new(),
            stages: Vec::new(),
            actions: ActionsConfig {
                backend: BackendKind::DryRun,
                ..ActionsConfig::default()
            },
            service: ServiceConfig::default(),
            state_dir: PathBuf::from("/var/lib/portcullis"),
            snapshot_interval: Duration::from_secs(10),
            geoip: GeoPaths::default(),
            utc_offset_secs: 0,
        }
    }

    /// Reads and validates `path`, with environment overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, None)
    }

    /// Like [`Config::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        path: &Path,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Config, ConfigError> {
        if !path.exists() {
            return Err(ConfigError::NotFound(path.to_path_buf()));
        }
        let syntax = |e: config::ConfigError| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut env_source = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true);
        if let Some(vars) = env {
            env_source = env_source.source(Some(vars));
        }
        let built = config::Config::builder()
            .add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            )
            .add_source(env_source)
            .build()
            .map_err(syntax)?;
        let raw: RawConfig =
            serde_path_to_error::deserialize(built).map_err(|e| ConfigError::Key {
                path: path.to_path_buf(),
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        validate(raw, path)
    }
}

fn validate(raw: RawConfig, path: &Path) -> Result<Config, ConfigError> {
    let key_err = |key: String, message: String| ConfigError::Key {
        path: path.to_path_buf(),
        key,
        message,
    };
    // Absolute, so that a path names the same file (and the same saved position) however
    // the config file itself was named on the command line.
    let base = path.parent().unwrap_or(Path::new("."));
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let sources = sources::validate(raw.sources, &base, &key_err)?;
    let mut names = HashSet::new();
    let mut stages = Vec::new();
    for (i, s) in raw.pipeline.into_iter().enumerate() {
        let valid_name = !s.name.is_empty()
            && s.name.len() <= 64
            && s.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_name {
            return Err(key_err(
                format!("pipeline[{i}].name"),
                format!("{:?}: use 1 to 64 letters, digits, '-' or '_'", s.name),
            ));
        }
        if !names.insert(s.name.clone()) {
            return Err(key_err(
                format!("pipeline[{i}].name"),
                format!("{:?} is used by an earlier stage", s.name),
            ));
        }
        let plugin =
            PluginSource::resolve(&s.plugin, &base).map_err(|source| ConfigError::Plugin {
                path: path.to_path_buf(),
                key: format!("pipeline[{i}].plugin"),
                source,
            })?;
        let mut limits = StageLimits::default();
        if let Some(t) = s.timeout {
            if t.is_zero() || t > Duration::from_secs(60) {
                return Err(key_err(
                    format!("pipeline[{i}].timeout"),
                    "must be between 1ms and 60s".into(),
                ));
            }
            limits.timeout = t;
        }
        if let Some(m) = s.memory_mib {
            if !(1..=4096).contains(&m) {
                return Err(key_err(
                    format!("pipeline[{i}].memory_mib"),
                    "must be between 1 and 4096".into(),
                ));
            }
            limits.memory_bytes = (m as usize) << 20;
        }
        if let Some(f) = s.fuel {
            if f == 0 {
                return Err(key_err(
                    format!("pipeline[{i}].fuel"),
                    "must be at least 1".into(),
                ));
            }
            limits.fuel = Some(f);
        }
        if let Some(m) = s.max_failures {
            if m == 0 {
                return Err(key_err(
                    format!("pipeline[{i}].max_failures"),
                    "must be at least 1".into(),
                ));
            }
            limits.max_failures = m;
        }
        let config_json = serde_json::Value::Object(s.config.unwrap_or_default()).to_string();
        stages.push(StageConfig {
            name: s.name,
            plugin,
            config_json,
            on_error: s.on_error,
            limits,
        });
    }
    Ok(Config {
        path: path.to_path_buf(),
        sources,
        stages,
        actions: actions::validate(&raw.actions, &key_err)?,
        service: service::validate(&raw.run, &raw.metrics, &key_err)?,
        state_dir: raw
            .state
            .dir
            .map(|d| base.join(d))
            .unwrap_or_else(|| PathBuf::from("/var/lib/portcullis")),
        snapshot_interval: raw
            .state
            .snapshot_interval
            .unwrap_or(Duration::from_secs(10)),
        geoip: GeoPaths {
            city: raw.geoip.city.map(|p| base.join(p)),
            country: raw.geoip.country.map(|p| base.join(p)),
            asn: raw.geoip.asn.map(|p| base.join(p)),
            mmap: raw.geoip.mmap,
        },
        utc_offset_secs: match raw.parser.utc_offset {
            Some(text) => crate::utc_offset::parse(&text)
                .map_err(|m| key_err("parser.utc_offset".into(), m))?,
            None => 0,
        },
    })
}
