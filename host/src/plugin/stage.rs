//! One pipeline stage: a plugin instance in its own store, called under a deadline, a
//! memory limit and optionally a fuel budget; re-created from its last snapshot after a
//! failure, and disabled after too many failures in a row.

use super::PluginError;
use super::bindings::Stage;
use super::bindings::types as wit;
use super::describe::Description;
use super::host_impl::{HostServices, StageState, ip_from_wit};
use super::runtime::{EPOCH_TICK, LoadedPlugin, Runtime, root_cause};
use crate::action::Action;
use crate::pipeline::batch::{Annotation, EncodedBatch, SourceAnnotation};
use portcullis_abi::net::IpNet;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Engine, Store, StoreLimitsBuilder, Trap};

/// Longest ban reason kept from a plugin.
const MAX_REASON_BYTES: usize = 256;

/// Limits on each call into a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLimits {
    /// Wall time a single call may take before it is interrupted.
    pub timeout: Duration,
    /// Most linear memory the instance may grow to, bytes.
    pub memory_bytes: usize,
    /// WebAssembly instructions (roughly) one call may execute; `None`: unmetered.
    pub fuel: Option<u64>,
    /// Failed calls in a row after which the stage is disabled.
    pub max_failures: u32,
}

impl Default for StageLimits {
    fn default() -> Self {
        StageLimits {
            timeout: Duration::from_millis(250),
            memory_bytes: 64 << 20,
            fuel: None,
            max_failures: 5,
        }
    }
}

/// What a stage decided about a batch, validated.
#[derive(Debug, Default)]
pub struct StageOutput {
    /// One byte per event (0 keep, 1 drop), or empty to keep all.
    pub verdicts: Vec<u8>,
    /// Notes on events.
    pub annotations: Vec<Annotation>,
    /// Notes on every event from a source.
    pub source_annotations: Vec<SourceAnnotation>,
    /// Bans and unbans asked for.
    pub actions: Vec<Action>,
}

/// A live stage.
pub struct StageInstance {
    name: Arc<str>,
    plugin: LoadedPlugin,
    engine: Engine,
    config_json: String,
    limits: StageLimits,
    services: HostServices,
    description: Description,
    live: Option<(Store<StageState>, Stage)>,
    last_snapshot: Option<Vec<u8>>,
    failures_in_a_row: u32,
    disabled: bool,
}

impl StageInstance {
    /// Instantiates `plugin`, asks for its description and calls its `init`.
    pub fn new(
        runtime: &Runtime,
        plugin: &LoadedPlugin,
        name: &str,
        config_json: String,
        limits: StageLimits,
        services: HostServices,
    ) -> Result<Self, PluginError> {
        let mut stage =
            StageInstance::unstarted(runtime, plugin, name, config_json, limits, services);
        let (mut store, instance) = stage.instantiate()?;
        stage.description = stage.describe(&mut store, &instance)?;
        stage.init(&mut store, &instance)?;
        stage.live = Some((store, instance));
        Ok(stage)
    }

    /// A stage with no instance yet.
    fn unstarted(
        runtime: &Runtime,
        plugin: &LoadedPlugin,
        name: &str,
        config_json: String,
        limits: StageLimits,
        services: HostServices,
    ) -> Self {
        StageInstance {
            name: name.into(),
            plugin: plugin.clone(),
            engine: runtime.engine().clone(),
            config_json,
            limits,
            services,
            description: Description::default(),
            live: None,
            last_snapshot: None,
            failures_in_a_row: 0,
            disabled: false,
        }
    }

    /// Calls `describe`.
    fn describe(
        &self,
        store: &mut Store<StageState>,
        instance: &Stage,
    ) -> Result<Description, PluginError> {
        self.arm(store);
        let d = instance
            .portcullis_plugin_plugin()
            .call_describe(&mut *store)
            .map_err(|e| self.trap("describe", &e))?;
        Ok(Description::from_wit(d))
    }

    /// The stage's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the plugin said about itself.
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// Whether the stage was disabled after too many failures in a row.
    pub fn is_disabled(&self) -> bool {
        self.disabled
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
            Some(Trap::OutOfFuel) => format!(
                "exceeded its fuel budget of {} per call",
                self.limits.fuel.unwrap_or_default()
            ),
            // The trap code says what happened; the rest of the chain is an unsymbolised
            // wasm backtrace that helps nobody reading the log.
            Some(trap) => format!("trapped: {trap}"),
            // The innermost error says what happened (e.g. a refused WASI import); the outer
            // ones carry the backtrace.
            None => {
                let inner = e.chain().last().map(|c| c.to_string()).unwrap_or(cause);
                match inner
                    .split('`')
                    .nth(1)
                    .filter(|_| inner.starts_with("unknown import"))
                {
                    Some(import) => format!(
                        "called {import}, which plugins are denied (no filesystem, network, system clock or environment)"
                    ),
                    None => inner,
                }
            }
        };
        PluginError::Trap {
            stage: self.name.to_string(),
            call,
            reason,
        }
    }

    fn arm(&self, store: &mut Store<StageState>) {
        arm(&self.limits, store);
    }

    fn instantiate(&self) -> Result<(Store<StageState>, Stage), PluginError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(32)
            .tables(32)
            .memories(8)
            .trap_on_grow_failure(true)
            .build();
        let state = StageState {
            stage: self.name.clone(),
            services: self.services.clone(),
            limits,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        self.arm(&mut store);
        let stage = self
            .plugin
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.trap("instantiate", &e))?;
        Ok((store, stage))
    }

    /// Calls `init`, then `restore` with the last snapshot if there is one.
    fn init(&self, store: &mut Store<StageState>, stage: &Stage) -> Result<(), PluginError> {
        self.arm(store);
        match stage
            .portcullis_plugin_plugin()
            .call_init(&mut *store, &self.config_json)
        {
            Ok(Ok(())) => {}
            Ok(Err(wit::ConfigError { key, message })) => {
                return Err(PluginError::Config {
                    stage: self.name.to_string(),
                    key,
                    message,
                });
            }
            Err(e) => return Err(self.trap("init", &e)),
        }
        if let Some(state) = &self.last_snapshot {
            self.arm(store);
            match stage
                .portcullis_plugin_plugin()
                .call_restore(&mut *store, state)
            {
                Ok(Ok(())) => {}
                Ok(Err(message)) => {
                    tracing::warn!(stage = %self.name, "refused its saved state, starting afresh: {message}");
                }
                Err(e) => return Err(self.trap("restore", &e)),
            }
        }
        Ok(())
    }

    /// The live instance, re-created (init + last snapshot) if the previous one failed.
    fn live(&mut self) -> Result<&mut (Store<StageState>, Stage), PluginError> {
        if self.live.is_none() {
            let (mut store, stage) = self.instantiate()?;
            self.init(&mut store, &stage)?;
            self.live = Some((store, stage));
        }
        Ok(self.live.as_mut().expect("just set"))
    }

    /// The live instance (re-created if needed) with its per-call budgets reset. Failing to
    /// re-create it counts as a failed call.
    fn armed(&mut self) -> Result<&mut (Store<StageState>, Stage), PluginError> {
        if let Err(e) = self.live() {
            return Err(self.failed(e));
        }
        let limits = self.limits;
        let live = self.live.as_mut().expect("live() just made it");
        arm(&limits, &mut live.0);
        Ok(live)
    }

    /// Counts a failure; disables the stage when there have been too many in a row.
    fn failed(&mut self, err: PluginError) -> PluginError {
        self.live = None;
        self.failures_in_a_row += 1;
        if self.failures_in_a_row >= self.limits.max_failures && !self.disabled {
            self.disabled = true;
            tracing::error!(
                stage = %self.name,
                "DISABLED after {} failed calls in a row; its batches now follow on_error until restart. Last failure: {err}",
                self.failures_in_a_row
            );
        }
        err
    }

    /// Runs the plugin over `batch`. On a trap, timeout, memory or fuel exhaustion the
    /// instance is discarded; the next call meets a fresh one, restored from the last
    /// snapshot.
    pub fn process(&mut self, batch: &mut EncodedBatch) -> Result<StageOutput, PluginError> {
        let annotations: Vec<wit::Annotation> = if self.description.reads.is_empty() {
            Vec::new()
        } else {
            let mut v: Vec<wit::Annotation> = batch
                .annotations
                .iter()
                .filter(|a| self.description.reads.contains(&a.key))
                .map(|a| wit::Annotation {
                    event: a.event,
                    key: a.key.clone(),
                    value: a.value.clone(),
                })
                .collect();
            v.sort_by_key(|a| a.event);
            v
        };
        let (store, stage) = self.armed()?;
        // Lend the batch's buffers to the call instead of copying them.
        let wit_batch = wit::Batch {
            layout: portcullis_abi::record::LAYOUT_VERSION,
            record_size: portcullis_abi::record::RECORD_SIZE as u16,
            count: batch.len() as u32,
            records: std::mem::take(&mut batch.records),
            strings: std::mem::take(&mut batch.strings),
            now_ms: batch.now_ms,
            annotations,
        };
        let result = stage
            .portcullis_plugin_plugin()
            .call_process(&mut *store, &wit_batch);
        batch.records = wit_batch.records;
        batch.strings = wit_batch.strings;
        match result {
            Ok(r) => match self.validate(r, batch.len()) {
                Ok(out) => {
                    self.failures_in_a_row = 0;
                    Ok(out)
                }
                Err(e) => Err(self.failed(e)),
            },
            Err(e) => {
                let err = self.trap("process", &e);
                Err(self.failed(err))
            }
        }
    }

    /// Lets time-driven decisions happen: calls `tick(now_ms)`.
    pub fn tick(&mut self, now_ms: i64) -> Result<Vec<Action>, PluginError> {
        let (store, stage) = self.armed()?;
        match stage
            .portcullis_plugin_plugin()
            .call_tick(&mut *store, now_ms)
        {
            Ok(actions) => {
                let out = self.validate(
                    wit::BatchResult {
                        verdicts: Vec::new(),
                        annotations: Vec::new(),
                        source_annotations: Vec::new(),
                        actions,
                    },
                    0,
                );
                out.map(|o| o.actions).map_err(|e| self.failed(e))
            }
            Err(e) => {
                let err = self.trap("tick", &e);
                Err(self.failed(err))
            }
        }
    }

    /// Takes a snapshot of the plugin's state and keeps it for re-creating the instance
    /// after a failure. Returns the bytes.
    pub fn snapshot(&mut self) -> Result<&[u8], PluginError> {
        let (store, stage) = self.armed()?;
        match stage.portcullis_plugin_plugin().call_snapshot(&mut *store) {
            Ok(bytes) => {
                self.last_snapshot = Some(bytes);
                Ok(self.last_snapshot.as_deref().unwrap_or_default())
            }
            Err(e) => {
                let err = self.trap("snapshot", &e);
                Err(self.failed(err))
            }
        }
    }

    /// Restores saved state (from an earlier run) into the live instance; it is also what
    /// the instance is re-created from after a failure, until the next snapshot.
    pub fn restore(&mut self, state: Vec<u8>) -> Result<(), PluginError> {
        self.last_snapshot = Some(state);
        // Re-create the instance: init, then restore from `last_snapshot`.
        self.live = None;
        self.live().map(|_| ())
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
        let source_annotations = r
            .source_annotations
            .into_iter()
            .map(|a| SourceAnnotation {
                src: ip_from_wit(&a.src),
                key: a.key,
                value: a.value,
            })
            .collect();
        Ok(StageOutput {
            verdicts: r.verdicts,
            annotations,
            source_annotations,
            actions,
        })
    }
}

/// Instantiates `plugin` on its own and asks for its description, without `init` (for
/// `portcullis plugin check`).
pub fn describe_plugin(
    runtime: &Runtime,
    plugin: &LoadedPlugin,
    services: HostServices,
) -> Result<Description, PluginError> {
    let probe = StageInstance::unstarted(
        runtime,
        plugin,
        "check",
        String::new(),
        StageLimits::default(),
        services,
    );
    let (mut store, instance) = probe.instantiate()?;
    probe.describe(&mut store, &instance)
}

/// Resets the per-call budgets of a store: deadline and fuel.
fn arm(limits: &StageLimits, store: &mut Store<StageState>) {
    let ticks = limits
        .timeout
        .as_millis()
        .div_ceil(EPOCH_TICK.as_millis())
        .max(1);
    // +1: the current tick may be about to end.
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1));
    // `get_fuel` answers only when the engine meters fuel (some stage has a budget); then
    // stages without a budget get an unlimited one.
    if store.get_fuel().is_ok() {
        let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
    }
}

fn net_from_wit(n: &wit::IpNet) -> Result<IpNet, String> {
    let addr = ip_from_wit(&n.addr);
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
