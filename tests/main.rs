//! Integration tests. Each module runs the real `portcullis` binary with the real
//! standard plugins (the `.wasm` components built from `plugins/` and embedded in it).
//!
//! - `demo`: the bundled demo end to end: who is banned, who is not, and why.
//! - `bad_input`: every kind of bad input gets a clear one-line error, never a panic.
//! - `config_files`: every file in `config/` is valid.
//! - `plugin_faults`: plugins that trap, loop or eat memory never take the host down.

mod common;

mod bad_input;
mod config_files;
mod demo;
mod plugin_faults;
