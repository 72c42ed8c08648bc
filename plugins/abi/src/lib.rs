//! The byte layout of Portcullis plugin batches, and the small syntaxes (durations, CIDR
//! networks) that the host and plugins must read identically.
//!
//! This crate is the single definition both sides compile: the host encodes batches with
//! [`record::encode`], the plugin SDK reads them with [`record::RecordView`]. It has no
//! dependencies and no `std`, so it costs a plugin nothing. Authors writing plugins in other
//! languages find the same layout documented byte by byte in `docs/plugins.md`.
#![no_std]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod duration;
pub mod net;
pub mod record;
pub mod tcp_flags;

/// Per-event verdict byte: the event continues to later stages.
pub const VERDICT_KEEP: u8 = 0;
/// Per-event verdict byte: the event stops here; later stages never see it.
pub const VERDICT_DROP: u8 = 1;
