//! The host's services to a plugin: its log and its clock.
//!
//! In a native build (unit tests) there is no host: messages go to stderr and the clock is
//! whatever [`set_test_now_ms`] set, so plugin logic is testable with `cargo test`.

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fine detail for debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something is off.
    Warn,
    /// Something failed.
    Error,
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::bindings::portcullis::plugin::host;
    use crate::bindings::portcullis::plugin::types::LogLevel;

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        host::log(level, message);
    }

    pub fn now_ms() -> i64 {
        host::now_ms()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;
    use std::cell::Cell;

    thread_local! {
        pub static TEST_NOW: Cell<i64> = const { Cell::new(0) };
    }

    pub fn log(level: Level, message: &str) {
        eprintln!("[plugin {level:?}] {message}");
    }

    pub fn now_ms() -> i64 {
        TEST_NOW.with(Cell::get)
    }
}

/// Writes a message to the host's log, tagged with the stage name.
pub fn log(level: Level, message: &str) {
    imp::log(level, message);
}

/// The host's clock, unix milliseconds. Plugins have no other clock.
pub fn now_ms() -> i64 {
    imp::now_ms()
}

/// Sets the clock [`now_ms`] returns in native builds (tests). Does nothing in a plugin.
pub fn set_test_now_ms(ms: i64) {
    #[cfg(not(target_arch = "wasm32"))]
    imp::TEST_NOW.with(|c| c.set(ms));
    #[cfg(target_arch = "wasm32")]
    let _ = ms;
}
