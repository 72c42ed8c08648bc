//! Glue between the generated bindings and a [`Plugin`]: used by [`crate::export_plugin!`]
//! only.

use crate::bindings::portcullis::plugin::types as wit;
use crate::host::{self, Level};
use crate::{Annotation, Batch, Config, Output, Plugin};
use core::net::IpAddr;
use portcullis_abi::net::IpNet;
use std::cell::RefCell;
use std::sync::Once;

static PANIC_HOOK: Once = Once::new();

/// Routes a plugin panic's message to the host log before the trap, so an operator sees
/// why a stage failed instead of a bare "unreachable".
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            host::log(Level::Error, &format!("plugin panicked: {info}"));
        }));
    });
}

/// `describe` export: the plugin's description, name and version defaulted from its crate.
pub fn describe<P: Plugin>(crate_name: &str, crate_version: &str) -> wit::Description {
    let d = P::describe();
    let or = |s: String, dflt: &str| if s.is_empty() { dflt.to_string() } else { s };
    wit::Description {
        name: or(d.name, crate_name),
        version: or(d.version, crate_version),
        summary: d.summary,
        config: d
            .config
            .into_iter()
            .map(|k| wit::ConfigKey {
                name: k.name,
                kind: k.kind,
                default: k.default,
                doc: k.doc,
            })
            .collect(),
        reads: d.reads,
    }
}

/// `init` export: builds the plugin and stores it in `cell`.
pub fn init<P: Plugin>(cell: &RefCell<Option<P>>, config: String) -> Result<(), wit::ConfigError> {
    install_panic_hook();
    match P::init(Config::from_json(config)) {
        Ok(p) => {
            *cell.borrow_mut() = Some(p);
            Ok(())
        }
        Err(e) => Err(wit::ConfigError {
            key: e.key,
            message: e.message,
        }),
    }
}

/// `process` export: runs the stored plugin over the batch.
pub fn process<P: Plugin>(cell: &RefCell<Option<P>>, batch: &wit::Batch) -> wit::BatchResult {
    let annotations: Vec<Annotation> = batch
        .annotations
        .iter()
        .map(|a| Annotation {
            event: a.event,
            key: a.key.clone(),
            value: a.value.clone(),
        })
        .collect();
    let view = Batch::new(
        &batch.records,
        usize::from(batch.record_size),
        batch.count as usize,
        &batch.strings,
        &annotations,
        batch.now_ms,
    );
    let mut out = Output::for_batch(&view);
    match cell.borrow_mut().as_mut() {
        Some(plugin) => plugin.process(&view, &mut out),
        // The host never calls process before a successful init; if it did, keep everything.
        None => host::log(
            Level::Error,
            "process called before init; batch passed through",
        ),
    }
    let parts = out.into_parts();
    wit::BatchResult {
        verdicts: parts.verdicts,
        annotations: parts
            .annotations
            .into_iter()
            .map(|a| wit::Annotation {
                event: a.event,
                key: a.key,
                value: a.value,
            })
            .collect(),
        source_annotations: parts
            .source_annotations
            .into_iter()
            .map(|a| wit::SourceAnnotation {
                src: ip_to_wit(a.src),
                key: a.key,
                value: a.value,
            })
            .collect(),
        actions: parts.actions.into_iter().map(action_to_wit).collect(),
    }
}

/// `tick` export.
pub fn tick<P: Plugin>(cell: &RefCell<Option<P>>, now_ms: i64) -> Vec<wit::Action> {
    let mut out = Output::default();
    if let Some(plugin) = cell.borrow_mut().as_mut() {
        plugin.tick(now_ms, &mut out);
    }
    out.into_parts()
        .actions
        .into_iter()
        .map(action_to_wit)
        .collect()
}

/// `snapshot` export.
pub fn snapshot<P: Plugin>(cell: &RefCell<Option<P>>) -> Vec<u8> {
    cell.borrow()
        .as_ref()
        .map(Plugin::snapshot)
        .unwrap_or_default()
}

/// `restore` export.
pub fn restore<P: Plugin>(cell: &RefCell<Option<P>>, state: &[u8]) -> Result<(), String> {
    match cell.borrow_mut().as_mut() {
        Some(plugin) => plugin.restore(state),
        None => Err("restore called before init".to_string()),
    }
}

fn action_to_wit(a: crate::Action) -> wit::Action {
    match a {
        crate::Action::Ban {
            target,
            duration_secs,
            reason,
        } => wit::Action::Ban(wit::Ban {
            target: net_to_wit(target),
            duration_secs,
            reason,
        }),
        crate::Action::Unban(net) => wit::Action::Unban(net_to_wit(net)),
    }
}

fn ip_to_wit(ip: IpAddr) -> wit::IpAddr {
    match ip {
        IpAddr::V4(a) => wit::IpAddr::V4(u32::from(a)),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            wit::IpAddr::V6(((v >> 64) as u64, v as u64))
        }
    }
}

fn net_to_wit(net: IpNet) -> wit::IpNet {
    wit::IpNet {
        addr: ip_to_wit(net.addr()),
        prefix: net.prefix(),
    }
}
