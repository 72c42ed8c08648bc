//! Where raw log lines come from: a line splitter for any reader, the kernel's log device,
//! followed files, and per-source reporting of damaged records.

pub mod cursors;
pub mod follow;
pub mod kmsg;
pub mod lines;
pub mod malformed;
