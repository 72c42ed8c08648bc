//! One pipeline stage: a plugin instance in its own store, called under a deadline and a
//! memory limit, re-created after a failure.

use super::PluginError;
use super::bindings::Stage;
use super::bindings::types as wit;
use super::host_impl::StageState;
use super::runtime::{EPOCH_TICK, LoadedPlugin, Runtime, root_cause};
use crate::action::Action;
use crate::clock::Clock;
use crate::pipeline::batch::EncodedBatch;
use portcullis_abi::net::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Store, StoreLimitsBuilder, Trap};

/// Longest ban reason kept from a plugin.
const MAX_REASON_BYTES: usize = 256;

/// Limits on each call into a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLimits {
    /// Wall time a single call may take before it is interrupted.
    pub timeout: Duration,
    /// Most linear memory the instance may grow to, bytes.
    pub memory_bytes: usize,
}

impl Default for StageLimits {
    fn default() -> Self {
        StageLimits {
            timeout: Duration::from_millis(250),
            memory_bytes: 64 << 20,
        }
    }
}

/// A note a plugin attached to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Index of the event in the batch the stage saw.
    pub event: u32,
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// What a stage decided about a batch, validated.
#[derive(Debug, Default)]
pub struct StageOutput {
    /// One byte per event (0 keep, 1 drop), or empty to keep all.
    pub verdicts: Vec<u8>,
    /// Notes on events.
    pub annotations: Vec<Annotation>,
    /// Bans and unbans asked for.
    pub actions: Vec<Action>,
}

/// A live stage.
pub struct StageInstance {
    name: Arc<str>,
    plugin: LoadedPlugin,
    config_json: String,
    limits: StageLimits,
    clock: Arc<dyn Clock>,
    live: Option<(Store<StageState>, Stage)>,
}

impl StageInstance {
    /// Instantiates `plugin` and calls its `init` with `config_json`.
    pub fn new(
        runtime: &Runtime,
        plugin: &LoadedPlugin,
        name: &str,
        config_json: String,
        limits: StageLimits,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, PluginError> {
        let mut stage = StageInstance {
            name: name.into(),
            plugin: plugin.clone(),
            config_json,
            limits,
            clock,
            live: None,
        };
        stage.live = Some(stage.instantiate(runtime.engine())?);
        Ok(stage)
    }

    /// The stage's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn trap(&self, call: &'static str, e: &wasmtime::Error) -> PluginError {
        let cause = root_cause(e);
        let reason = match e.downcast_ref::<Trap>() {
            _ if cause.contains("growing memory") => {
                format!(
                    "exceeded its memory limit of {} MiB",
                    self.limits.memory_bytes >> 20
                )
            }
            Some(Trap::Interrupt) => {
                format!(
                    "exceeded its time limit of {} ms",
                    self.limits.timeout.as_millis()
                )
            }
            // The trap code says what happened; the rest of the chain is an unsymbolised
            // wasm backtrace that helps nobody reading the log.
            Some(trap) => format!("trapped: {trap}"),
            None => cause,
        };
        PluginError::Trap {
            stage: self.name.to_string(),
            call,
            reason,
        }
    }

    fn set_deadline(&self, store: &mut Store<StageState>) {
        let ticks = self
            .limits
            .timeout
            .as_millis()
            .div_ceil(EPOCH_TICK.as_millis())
            .max(1);
        // +1: the current tick may be about to end.
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1));
    }

    fn instantiate(
        &self,
        engine: &wasmtime::Engine,
    ) -> Result<(Store<StageState>, Stage), PluginError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(32)
            .tables(32)
            .memories(8)
            .trap_on_grow_failure(true)
            .build();
        let state = StageState {
            stage: self.name.clone(),
            clock: self.clock.clone(),
            limits,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        self.set_deadline(&mut store);
        let stage = self
            .plugin
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.trap("instantiate", &e))?;
        self.set_deadline(&mut store);
        let init = stage
            .portcullis_plugin_plugin()
            .call_init(&mut store, &self.config_json);
        match init {
            Ok(Ok(())) => Ok((store, stage)),
            Ok(Err(wit::ConfigError { key, message })) => Err(PluginError::Config {
                stage: self.name.to_string(),
                key,
                message,
            }),
            Err(e) => Err(self.trap("init", &e)),
        }
    }

    /// Runs the plugin over `batch`. On a trap, timeout or memory exhaustion the instance is
    /// discarded and re-created (its `init` called again) before the error is returned, so
    /// the next batch meets a fresh instance.
    pub fn process(&mut self, batch: &mut EncodedBatch) -> Result<StageOutput, PluginError> {
        let Some((mut store, stage)) = self.live.take() else {
            let engine = self.plugin.pre.engine().clone();
            self.live = Some(self.instantiate(&engine)?);
            return self.process(batch);
        };
        self.set_deadline(&mut store);
        // Lend the batch's buffers to the call instead of copying them.
        let wit_batch = wit::Batch {
            layout: portcullis_abi::record::LAYOUT_VERSION,
            record_size: portcullis_abi::record::RECORD_SIZE as u16,
            count: batch.len() as u32,
            records: std::mem::take(&mut batch.records),
            strings: std::mem::take(&mut batch.strings),
            now_ms: batch.now_ms,
        };
        let result = stage
            .portcullis_plugin_plugin()
            .call_process(&mut store, &wit_batch);
        batch.records = wit_batch.records;
        batch.strings = wit_batch.strings;
        match result {
            Ok(r) => {
                self.live = Some((store, stage));
                self.validate(r, batch.len())
            }
            Err(e) => {
                let err = self.trap("process", &e);
                let engine = store.engine().clone();
                drop(store);
                // A failed re-instantiation leaves `live` empty; the next call retries it.
                self.live = self.instantiate(&engine).ok();
                Err(err)
            }
        }
    }

    fn validate(&self, r: wit::BatchResult, count: usize) -> Result<StageOutput, PluginError> {
        let bad = |reason: String| PluginError::BadResult {
            stage: self.name.to_string(),
            reason,
        };
        if !r.verdicts.is_empty() && r.verdicts.len() != count {
            return Err(bad(format!(
                "{} verdicts for a batch of {count} events",
                r.verdicts.len()
            )));
        }
        let mut actions = Vec::with_capacity(r.actions.len());
        for a in r.actions {
            actions.push(match a {
                wit::Action::Ban(b) => Action::Ban {
                    target: net_from_wit(&b.target).map_err(&bad)?,
                    duration_secs: b.duration_secs,
                    reason: clean_reason(&b.reason),
                },
                wit::Action::Unban(n) => Action::Unban {
                    target: net_from_wit(&n).map_err(&bad)?,
                },
            });
        }
        let annotations = r
            .annotations
            .into_iter()
            .filter(|a| (a.event as usize) < count)
            .map(|a| Annotation {
                event: a.event,
                key: a.key,
                value: a.value,
            })
            .collect();
        Ok(StageOutput {
            verdicts: r.verdicts,
            annotations,
            actions,
        })
    }
}

fn net_from_wit(n: &wit::IpNet) -> Result<IpNet, String> {
    let addr = match n.addr {
        wit::IpAddr::V4(v) => IpAddr::V4(Ipv4Addr::from(v)),
        wit::IpAddr::V6((hi, lo)) => {
            IpAddr::V6(Ipv6Addr::from((u128::from(hi) << 64) | u128::from(lo)))
        }
    };
    IpNet::new(addr, n.prefix).map_err(|e| format!("network {addr}/{}: {e}", n.prefix))
}

/// Keeps a reason printable and short: control characters become spaces.
fn clean_reason(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len().min(MAX_REASON_BYTES));
    for c in reason.chars() {
        if out.len() + c.len_utf8() > MAX_REASON_BYTES {
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}
