//! The engine every stage shares, and loading components into it.

use super::PluginError;
use super::bindings::{Stage, StagePre};
use super::host_impl::StageState;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

/// How often the epoch advances; a stage's deadline is a whole number of ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Where a stage's component comes from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    /// A standard plugin built into the binary.
    Standard(&'static str),
    /// A component file.
    File(PathBuf),
}

impl PluginSource {
    /// Resolves a `plugin = "..."` value: a standard plugin's name, or else a path to a
    /// `.wasm` file, relative paths taken from `base_dir` (the config file's folder).
    pub fn resolve(name: &str, base_dir: &Path) -> Result<Self, PluginError> {
        if let Some((n, _)) = super::standard::STANDARD_PLUGINS
            .iter()
            .find(|(n, _)| *n == name)
        {
            return Ok(PluginSource::Standard(n));
        }
        if name.ends_with(".wasm") || name.contains('/') {
            return Ok(PluginSource::File(base_dir.join(name)));
        }
        Err(PluginError::Unknown {
            name: name.to_string(),
            known: super::standard::names().collect::<Vec<_>>().join(", "),
        })
    }

    fn describe(&self) -> String {
        match self {
            PluginSource::Standard(n) => format!("standard plugin {n:?}"),
            PluginSource::File(p) => format!("plugin file {}", p.display()),
        }
    }
}

/// A component compiled and checked against the contract, ready to instantiate.
#[derive(Clone)]
pub struct LoadedPlugin {
    pub(crate) origin: Arc<str>,
    pub(crate) pre: StagePre<StageState>,
}

impl LoadedPlugin {
    /// Where the component came from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// One wasmtime engine with an epoch ticker; drop it to stop the ticker.
pub struct Runtime {
    engine: Engine,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
    seeds: RandomState,
}

impl Runtime {
    /// Creates the engine: Cranelift, epoch interruption for deadlines, a small wasm stack.
    pub fn new() -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(512 * 1024);
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("portcullis-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| PluginError::Engine(format!("cannot start the epoch ticker: {e}")))?
        };
        Ok(Runtime {
            engine,
            stop,
            ticker: Some(ticker),
            seeds: RandomState::new(),
        })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a component and checks it against the contract.
    pub fn load(&self, source: &PluginSource) -> Result<LoadedPlugin, PluginError> {
        let origin = source.describe();
        let component = match source {
            PluginSource::Standard(name) => {
                let bytes = super::standard::get(name).unwrap_or_default();
                Component::new(&self.engine, bytes)
            }
            PluginSource::File(path) => {
                let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
                    path: path.clone(),
                    source,
                })?;
                Component::new(&self.engine, bytes)
            }
        }
        .map_err(|e| PluginError::NotComponent {
            origin: origin.clone(),
            reason: root_cause(&e),
        })?;
        let linker = self.linker_for(&component, &origin)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::WrongWorld {
                origin: origin.clone(),
                reason: root_cause(&e),
            })?;
        let pre = StagePre::new(pre).map_err(|e| PluginError::WrongWorld {
            origin: origin.clone(),
            reason: root_cause(&e),
        })?;
        Ok(LoadedPlugin {
            origin: origin.into(),
            pre,
        })
    }

    /// A linker with the contract's imports, and every WASI import a Rust `std` guest
    /// carries turned into a trap, except the hash-map seed that `std` needs to start.
    /// Imports that are neither the contract nor WASI make the component a wrong world.
    fn linker_for(
        &self,
        component: &Component,
        origin: &str,
    ) -> Result<Linker<StageState>, PluginError> {
        let wrong = |reason: String| PluginError::WrongWorld {
            origin: origin.to_string(),
            reason,
        };
        let mut linker = Linker::new(&self.engine);
        Stage::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| wrong(root_cause(&e)))?;
        let ty = component.component_type();
        for (name, _) in ty.imports(&self.engine) {
            if name.starts_with("portcullis:plugin/") {
                continue;
            }
            if !name.starts_with("wasi:") {
                return Err(wrong(format!(
                    "it imports {name:?}, which the host does not provide"
                )));
            }
            if name.starts_with("wasi:random/insecure-seed@") {
                let seeds = self.seeds.clone();
                let mut inst = linker.instance(name).map_err(|e| wrong(root_cause(&e)))?;
                inst.func_wrap("insecure-seed", move |_store, (): ()| {
                    Ok(((seeds.hash_one(1u8), seeds.hash_one(2u8)),))
                })
                .map_err(|e| wrong(root_cause(&e)))?;
            }
        }
        linker
            .define_unknown_imports_as_traps(component)
            .map_err(|e| wrong(root_cause(&e)))?;
        Ok(linker)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// The innermost message of a wasmtime error chain, which is the one that says what is wrong.
pub(crate) fn root_cause(e: &wasmtime::Error) -> String {
    let mut msgs: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    msgs.dedup();
    msgs.join(": ")
}
