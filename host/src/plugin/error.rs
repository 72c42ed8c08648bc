//! Errors of the plugin runtime.

use std::path::PathBuf;

/// Why a plugin could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The wasmtime engine could not be created.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// A plugin file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A plugin name is neither a standard plugin nor a path to a file.
    #[error(
        "unknown plugin {name:?}: not a standard plugin ({known}) and not a path to a .wasm file"
    )]
    Unknown {
        /// The name as configured.
        name: String,
        /// The standard plugins' names.
        known: String,
    },
    /// The bytes are not a WebAssembly component (a core module, or not wasm at all).
    #[error("{origin} is not a WebAssembly component: {reason}")]
    NotComponent {
        /// Where the bytes came from.
        origin: String,
        /// What wasmtime said.
        reason: String,
    },
    /// The component does not implement the contract this host speaks.
    #[error("{origin} does not fit the plugin contract: {reason}")]
    WrongWorld {
        /// Where the bytes came from.
        origin: String,
        /// What is missing or mismatched.
        reason: String,
    },
    /// The plugin refused its configuration.
    #[error("stage {stage:?} refused its config: {}{message}", key.as_ref().map(|k| format!("key `{k}`: ")).unwrap_or_default())]
    Config {
        /// The stage's name.
        stage: String,
        /// The offending key, if the plugin named one.
        key: Option<String>,
        /// The plugin's explanation.
        message: String,
    },
    /// A call into the plugin trapped, ran out of time or memory.
    #[error("stage {stage:?} failed in {call}: {reason}")]
    Trap {
        /// The stage's name.
        stage: String,
        /// The export being called.
        call: &'static str,
        /// What happened (trap code, deadline, memory limit).
        reason: String,
    },
    /// The plugin returned something the host refuses (a bad network, too many verdicts).
    #[error("stage {stage:?} returned an invalid result: {reason}")]
    BadResult {
        /// The stage's name.
        stage: String,
        /// What was wrong.
        reason: String,
    },
}
