//! Where raw log lines come from.

pub mod lines;
