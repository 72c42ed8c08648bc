//! The state each stage's store carries, and the host imports the contract gives plugins.

use super::bindings::portcullis::plugin::{host, types};
use crate::clock::Clock;
use std::sync::Arc;
use wasmtime::StoreLimits;

/// Longest plugin log message kept; the rest is cut so a plugin cannot flood the log.
const MAX_LOG_BYTES: usize = 4096;

/// Per-stage store data.
pub struct StageState {
    pub stage: Arc<str>,
    pub clock: Arc<dyn Clock>,
    pub limits: StoreLimits,
}

impl types::Host for StageState {}

impl host::Host for StageState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        let mut end = message.len().min(MAX_LOG_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        // One log record per message: a plugin cannot forge extra log lines.
        let message: String = message[..end]
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let stage = &*self.stage;
        match level {
            types::LogLevel::Debug => tracing::debug!(stage, "{message}"),
            types::LogLevel::Info => tracing::info!(stage, "{message}"),
            types::LogLevel::Warn => tracing::warn!(stage, "{message}"),
            types::LogLevel::Error => tracing::error!(stage, "{message}"),
        }
    }

    fn now_ms(&mut self) -> i64 {
        self.clock.now_ms()
    }
}
