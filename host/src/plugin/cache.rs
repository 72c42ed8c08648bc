//! Precompiled components on disk, so a start does not pay Cranelift (tens to hundreds of
//! milliseconds per plugin) and no compiler memory is spent at boot.
//!
//! A file is named by the SHA-256 of the component bytes and a hash of the engine's
//! compatibility key (wasmtime version and every setting that changes generated code), so
//! a changed plugin, a new wasmtime or different engine settings never load a stale file.
//! Loading precompiled code is trusting it: the folder is created private (0700) and only
//! files this host wrote are read. A file that fails to load is recompiled and replaced.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The cache folder and the engine key its files are valid for.
pub struct CompiledCache {
    dir: PathBuf,
    engine: Engine,
    engine_key: String,
}

impl CompiledCache {
    /// A cache in `dir` (created on first write) for `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        CompiledCache {
            dir,
            engine: engine.clone(),
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    fn path_for(&self, bytes: &[u8]) -> PathBuf {
        let digest = Sha256::digest(bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}-{}.cwasm", self.engine_key))
    }

    /// Whether a precompiled file for `bytes` exists.
    pub fn contains(&self, bytes: &[u8]) -> bool {
        self.path_for(bytes).is_file()
    }

    /// The component for `bytes`, from the cache when present, else compiled and stored.
    /// Failing to write the cache is not an error: the compiled component is still returned.
    pub fn load_or_compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        let path = self.path_for(bytes);
        if path.is_file() {
            // SAFETY: the file name binds it to these exact component bytes and this
            // engine's settings, and the folder holds only files this host wrote (it is
            // created 0700). wasmtime additionally checks the header and version.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "precompiled plugin unusable, recompiling: {e}")
                }
            }
        }
        let component = Component::new(&self.engine, bytes)?;
        if let Err(e) = self.store(&path, &component) {
            tracing::info!(dir = %self.dir.display(), "cannot write the plugin cache ({e}); compiling in memory");
        }
        Ok(component)
    }

    fn store(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        crate::private_dir::create(&self.dir)?;
        let data = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}
