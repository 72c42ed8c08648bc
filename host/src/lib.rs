//! Portcullis: turns netfilter LOG lines into knowledge and bans through a chain of
//! WebAssembly plugins.
//!
//! The binary (`main.rs`) is a thin CLI over this library. The pieces, in the order an
//! event meets them: [`source`] yields raw lines, [`parse`] turns them into typed events,
//! [`pipeline`] batches them through the configured [`plugin`] stages, and [`action`]
//! applies the resulting bans; [`daemon`] runs it all as a live service.

pub mod action;
pub mod analyze;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod duration;
pub mod geo;
pub mod listeners;
pub mod logrules;
pub mod metrics;
pub mod parse;
pub mod pipeline;
pub mod plugin;
pub mod plugin_state;
pub mod private_dir;
pub mod replay;
pub mod runner;
pub mod source;
pub mod utc_offset;
