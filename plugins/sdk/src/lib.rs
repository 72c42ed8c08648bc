//! The Portcullis plugin SDK: the only dependency a Rust plugin author needs.
//!
//! A plugin is a type implementing [`Plugin`], exported with [`export_plugin!`] and built
//! for `wasm32-wasip2` as a `cdylib`. The host hands it batches of firewall events; the
//! plugin keeps or drops each event and may ask for bans.
//!
//! ```
//! use portcullis_sdk::{Batch, Config, ConfigError, Output, Plugin};
//!
//! /// Drops every event whose destination port is 0.
//! struct DropPortZero;
//!
//! impl Plugin for DropPortZero {
//!     fn init(_config: Config) -> Result<Self, ConfigError> {
//!         Ok(DropPortZero)
//!     }
//!     fn process(&mut self, batch: &Batch<'_>, out: &mut Output) {
//!         for ev in batch.events() {
//!             if ev.dpt() == Some(0) {
//!                 out.drop_event(&ev);
//!             }
//!         }
//!     }
//! }
//! portcullis_sdk::export_plugin!(DropPortZero);
//! # fn main() {}
//! ```
//!
//! Everything here also compiles natively, so plugin logic is unit-tested with plain
//! `cargo test`: build a batch with [`testing::BatchBuilder`], call `process`, inspect the
//! [`Output`].
#![deny(missing_docs)]

mod batch;
mod config;
mod describe;
pub mod host;
mod output;
#[doc(hidden)]
pub mod runtime;
pub mod state;
pub mod testing;

pub use batch::{Batch, Event};
pub use config::{Config, ConfigError, Duration};
pub use describe::{ConfigKey, Description};
pub use output::{Action, Annotation, Output, SourceAnnotation};
pub use portcullis_abi::net::{IpNet, NetError};
pub use portcullis_abi::tcp_flags;

/// The generated bindings of the plugin contract (`wit/`). Authors do not need them; they
/// are public only so that [`export_plugin!`] can reach them.
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "stage",
        pub_export_macro: true,
        export_macro_name: "__export_stage",
        default_bindings_module: "portcullis_sdk::bindings",
    });
}

/// A pipeline stage: built once from its config, then handed every batch in order.
///
/// Only `init` and `process` are required; the defaults describe nothing, do nothing on
/// ticks and keep no state.
pub trait Plugin: Sized + 'static {
    /// What the plugin is and which config keys it takes (for `portcullis plugin check`).
    /// Name and version default to the crate's.
    fn describe() -> Description {
        Description::default()
    }

    /// Builds the plugin from the stage's `[pipeline.config]` table. Refuse unknown or
    /// invalid keys here ([`Config::parse`] does it for a `serde` struct with
    /// `#[serde(deny_unknown_fields)]`).
    fn init(config: Config) -> Result<Self, ConfigError>;

    /// Handles one batch: drop events with [`Output::drop_event`], ask for bans with
    /// [`Output::ban`]. Events not dropped continue to the next stage.
    fn process(&mut self, batch: &Batch<'_>, out: &mut Output);

    /// Time has moved on to `now_ms` without events; act on closed windows here. Actions
    /// go to `out` (verdicts and notes are ignored on ticks).
    fn tick(&mut self, now_ms: i64, out: &mut Output) {
        let _ = (now_ms, out);
    }

    /// The state to keep across restarts and reloads, e.g. `state::save(&self.counts)`.
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores what [`Plugin::snapshot`] returned (called after `init`). Refuse bytes you
    /// cannot read with a message; the stage then starts from `init`'s state.
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let _ = state;
        Ok(())
    }
}

/// Exports a [`Plugin`] type as the component's implementation of the contract.
///
/// Use it once per plugin crate, at the top level: `portcullis_sdk::export_plugin!(MyPlugin);`
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        // Only a wasm build exports the contract: the export names (`portcullis:plugin/...`)
        // are not valid native symbol names, and native builds exist for unit tests.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            ::std::thread_local! {
                static INSTANCE: ::std::cell::RefCell<::std::option::Option<$plugin>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            struct Guest;
            impl $crate::bindings::exports::portcullis::plugin::plugin::Guest for Guest {
                fn describe() -> $crate::bindings::portcullis::plugin::types::Description {
                    $crate::runtime::describe::<$plugin>(
                        ::core::env!("CARGO_PKG_NAME"),
                        ::core::env!("CARGO_PKG_VERSION"),
                    )
                }
                fn init(
                    config: ::std::string::String,
                ) -> ::std::result::Result<
                    (),
                    $crate::bindings::portcullis::plugin::types::ConfigError,
                > {
                    INSTANCE.with(|cell| $crate::runtime::init::<$plugin>(cell, config))
                }
                fn process(
                    batch: $crate::bindings::portcullis::plugin::types::Batch,
                ) -> $crate::bindings::portcullis::plugin::types::BatchResult {
                    INSTANCE.with(|cell| $crate::runtime::process::<$plugin>(cell, &batch))
                }
                fn tick(
                    now_ms: i64,
                ) -> ::std::vec::Vec<$crate::bindings::portcullis::plugin::types::Action> {
                    INSTANCE.with(|cell| $crate::runtime::tick::<$plugin>(cell, now_ms))
                }
                fn snapshot() -> ::std::vec::Vec<u8> {
                    INSTANCE.with(|cell| $crate::runtime::snapshot::<$plugin>(cell))
                }
                fn restore(
                    state: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    INSTANCE.with(|cell| $crate::runtime::restore::<$plugin>(cell, &state))
                }
            }
    $crate::bindings::__export_stage!(Guest with_types_in $crate::bindings);
        };
    };
}

/// Writes seconds in the duration syntax (`5400` → `1h30m`), e.g. for ban reasons.
pub fn format_duration(secs: u64, out: &mut impl core::fmt::Write) -> core::fmt::Result {
    portcullis_abi::duration::format_secs(secs, out)
}
