//! The plugin runtime: loads WebAssembly components and runs them as pipeline stages under
//! time and memory limits.
//!
//! One [`Runtime`] (one wasmtime engine) per process; each stage gets its own store and
//! instance ([`StageInstance`]). Plugins see only the contract's host imports: no
//! filesystem, no network, no clock but the host's.

mod bindings;
mod cache;
mod describe;
mod error;
mod host_impl;
mod runtime;
mod stage;

pub use describe::{ConfigKey, Description};
pub use error::PluginError;
pub use host_impl::HostServices;
pub use runtime::{CONTRACT, LoadedPlugin, PluginSource, Runtime, RuntimeOptions};
pub use stage::{StageInstance, StageLimits, StageOutput, describe_plugin};

/// The standard plugins compiled into this binary by `build.rs`.
pub mod standard {
    include!(concat!(env!("OUT_DIR"), "/standard_plugins.rs"));

    /// The component bytes of the standard plugin `name`.
    pub fn get(name: &str) -> Option<&'static [u8]> {
        STANDARD_PLUGINS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
    }

    /// The names of the standard plugins.
    pub fn names() -> impl Iterator<Item = &'static str> {
        STANDARD_PLUGINS.iter().map(|(n, _)| *n)
    }
}
