//! The engine every stage shares, and loading components into it: compiled once, cached
//! precompiled on disk, checked against the contract.

use super::PluginError;
use super::bindings::{Stage, StagePre};
use super::cache::CompiledCache;
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
/// The contract this host speaks.
pub const CONTRACT: &str = "portcullis:plugin@0.2.0";
const CONTRACT_PACKAGE: &str = "portcullis:plugin/";
const CONTRACT_VERSION: &str = "0.2.0";

/// Where a stage's component comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl PluginSource {
    fn bytes(&self) -> Result<std::borrow::Cow<'static, [u8]>, PluginError> {
        match self {
            PluginSource::Standard(name) => {
                Ok(super::standard::get(name).unwrap_or_default().into())
            }
            PluginSource::File(path) => {
                std::fs::read(path)
                    .map(Into::into)
                    .map_err(|source| PluginError::Read {
                        path: path.clone(),
                        source,
                    })
            }
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

/// How the engine is set up.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Meter fuel, so stages can have a fuel budget (costs 10-30% of plugin compute).
    pub fuel: bool,
    /// Where precompiled components are kept; `None`: compile in memory every time.
    pub cache_dir: Option<PathBuf>,
}

/// One wasmtime engine with an epoch ticker; drop it to stop the ticker.
pub struct Runtime {
    engine: Engine,
    fuel: bool,
    cache: Option<CompiledCache>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
    seeds: RandomState,
}

impl Runtime {
    /// Creates the engine: Cranelift, epoch interruption for deadlines, a small wasm stack,
    /// fuel metering if asked for.
    pub fn new(options: RuntimeOptions) -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(512 * 1024);
        config.consume_fuel(options.fuel);
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
        let cache = options
            .cache_dir
            .map(|dir| CompiledCache::new(dir, &engine));
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
            fuel: options.fuel,
            cache,
            stop,
            ticker: Some(ticker),
            seeds: RandomState::new(),
        })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether the engine meters fuel.
    pub fn meters_fuel(&self) -> bool {
        self.fuel
    }

    /// Compiles (or loads precompiled from the cache) a component and checks it against
    /// the contract.
    pub fn load(&self, source: &PluginSource) -> Result<LoadedPlugin, PluginError> {
        let origin = source.describe();
        let bytes = source.bytes()?;
        let not_component = |e: wasmtime::Error| PluginError::NotComponent {
            origin: origin.clone(),
            reason: root_cause(&e),
        };
        let component = match &self.cache {
            Some(cache) => cache.load_or_compile(&bytes).map_err(not_component)?,
            None => Component::new(&self.engine, &bytes).map_err(not_component)?,
        };
        self.check_world(&component, &origin)?;
        let linker = self.linker_for(&component, &origin)?;
        let wrong = |e: wasmtime::Error| PluginError::WrongWorld {
            origin: origin.clone(),
            reason: root_cause(&e),
        };
        let pre = linker.instantiate_pre(&component).map_err(wrong)?;
        let pre = StagePre::new(pre).map_err(wrong)?;
        Ok(LoadedPlugin {
            origin: origin.into(),
            pre,
        })
    }

    /// Compiles a component into the cache without loading it further (ahead-of-time
    /// compilation for `portcullis plugin compile`). Returns whether it was compiled now
    /// (false: it was already cached).
    pub fn precompile(&self, source: &PluginSource) -> Result<bool, PluginError> {
        let origin = source.describe();
        let bytes = source.bytes()?;
        let Some(cache) = &self.cache else {
            return Err(PluginError::Engine(
                "no cache directory to precompile into".into(),
            ));
        };
        let fresh = !cache.contains(&bytes);
        let component = cache
            .load_or_compile(&bytes)
            .map_err(|e| PluginError::NotComponent {
                origin: origin.clone(),
                reason: root_cause(&e),
            })?;
        self.check_world(&component, &origin)?;
        Ok(fresh)
    }

    /// Says what is wrong when a component was built for another contract version or
    /// implements something else entirely.
    fn check_world(&self, component: &Component, origin: &str) -> Result<(), PluginError> {
        let wrong = |reason: String| PluginError::WrongWorld {
            origin: origin.to_string(),
            reason,
        };
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let imports: Vec<String> = ty
            .imports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let ours = exports
            .iter()
            .chain(&imports)
            .filter(|n| n.starts_with(CONTRACT_PACKAGE));
        for name in ours {
            let version = name.rsplit_once('@').map(|(_, v)| v).unwrap_or("(none)");
            if version != CONTRACT_VERSION {
                return Err(wrong(format!(
                    "it was built for portcullis:plugin@{version} ({name}); this host speaks {CONTRACT}: rebuild it against the current SDK"
                )));
            }
        }
        let wanted = format!("{CONTRACT_PACKAGE}plugin@{CONTRACT_VERSION}");
        if !exports.contains(&wanted) {
            let have = if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            };
            return Err(wrong(format!(
                "it does not export {wanted} (it exports {have})"
            )));
        }
        Ok(())
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
            if name.starts_with(CONTRACT_PACKAGE) {
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

/// The messages of a wasmtime error chain, joined; the innermost says what is wrong.
pub(crate) fn root_cause(e: &wasmtime::Error) -> String {
    let mut msgs: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    msgs.dedup();
    msgs.join(": ")
}
