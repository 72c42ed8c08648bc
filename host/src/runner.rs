//! Drives a finite input through the whole chain: lines → parser → batches → stages →
//! action engine. This is `portcullis run --once`; the daemon will reuse the same pieces.

use crate::action::{ActionEngine, ActionError, Backend};
use crate::clock::Clock;
use crate::config::{Config, Source};
use crate::parse::{ParseOptions, Parser};
use crate::pipeline::Pipeline;
use crate::pipeline::batch::EncodedBatch;
use crate::plugin::{LoadedPlugin, PluginError, Runtime, StageInstance};
use crate::source::lines::LineReader;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Events per batch handed to the stages.
pub const BATCH_EVENTS: usize = 1024;
/// Malformed lines reported one by one per source before only counting them.
const MALFORMED_REPORTED: u64 = 20;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A stage's plugin could not be loaded or initialised.
    #[error("stage {stage:?}: {source}")]
    Stage {
        /// The stage.
        stage: String,
        /// Why.
        source: PluginError,
    },
    /// A source could not be opened or read.
    #[error("source {path}: {source}")]
    Source {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The backend failed to apply actions.
    #[error(transparent)]
    Action(#[from] ActionError),
}

/// Counts over a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunStats {
    /// Lines read.
    pub lines: u64,
    /// Firewall events parsed.
    pub events: u64,
    /// Lines that were not firewall records.
    pub skipped: u64,
    /// Damaged firewall records.
    pub malformed: u64,
}

/// The assembled chain.
pub struct Runner {
    parser: Parser,
    pipeline: Pipeline,
    engine: ActionEngine,
    batch: EncodedBatch,
    clock: Arc<dyn Clock>,
    stats: RunStats,
}

impl Runner {
    /// Loads every stage of `config` into `runtime` and wires the chain to `backend`.
    pub fn build(
        config: &Config,
        runtime: &Runtime,
        clock: Arc<dyn Clock>,
        backend: Box<dyn Backend>,
    ) -> Result<Self, RunError> {
        let mut loaded: HashMap<String, LoadedPlugin> = HashMap::new();
        let mut pipeline = Pipeline::default();
        for stage in &config.stages {
            let err = |source| RunError::Stage {
                stage: stage.name.clone(),
                source,
            };
            let key = format!("{:?}", stage.plugin);
            let plugin = match loaded.get(&key) {
                Some(p) => p.clone(),
                None => {
                    let p = runtime.load(&stage.plugin).map_err(err)?;
                    loaded.insert(key, p.clone());
                    p
                }
            };
            let instance = StageInstance::new(
                runtime,
                &plugin,
                &stage.name,
                stage.config_json.clone(),
                stage.limits,
                clock.clone(),
            )
            .map_err(err)?;
            pipeline.push(instance, stage.on_error);
        }
        let reference = clock.now_ms().div_euclid(1000);
        Ok(Runner {
            parser: Parser::new(ParseOptions {
                reference_unix_secs: reference,
                utc_offset_secs: 0,
            }),
            pipeline,
            engine: ActionEngine::new(backend, clock.clone()),
            batch: EncodedBatch::with_capacity(BATCH_EVENTS),
            clock,
            stats: RunStats::default(),
        })
    }

    /// Counts so far.
    pub fn stats(&self) -> RunStats {
        self.stats
    }

    /// The stage chain (for its counters).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The action engine (for its counters).
    pub fn engine(&self) -> &ActionEngine {
        &self.engine
    }

    /// Reads one source to its end.
    pub fn run_source(&mut self, source: &Source) -> Result<(), RunError> {
        match source {
            Source::File(path) => {
                let file = std::fs::File::open(path).map_err(|source| RunError::Source {
                    path: path.clone(),
                    source,
                })?;
                self.read_all(file, path)
            }
            Source::Stdin => self.read_all(std::io::stdin().lock(), Path::new("-")),
        }
    }

    fn read_all(&mut self, input: impl Read, path: &Path) -> Result<(), RunError> {
        let mut reader = LineReader::new(input);
        let mut lineno = 0u64;
        let mut malformed_here = 0u64;
        loop {
            let line = match reader.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(source) => {
                    return Err(RunError::Source {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            };
            lineno += 1;
            self.stats.lines += 1;
            match self.parser.parse(line) {
                Ok(Some(ev)) => {
                    self.stats.events += 1;
                    self.batch.push(&ev);
                }
                Ok(None) => self.stats.skipped += 1,
                Err(e) => {
                    self.stats.malformed += 1;
                    malformed_here += 1;
                    if malformed_here <= MALFORMED_REPORTED {
                        tracing::warn!(
                            "{}:{lineno}: malformed firewall record: {e}",
                            path.display()
                        );
                    }
                }
            }
            if self.batch.len() >= BATCH_EVENTS {
                self.flush()?;
            }
        }
        if malformed_here > MALFORMED_REPORTED {
            tracing::warn!(
                "{}: {} more malformed records not shown",
                path.display(),
                malformed_here - MALFORMED_REPORTED
            );
        }
        Ok(())
    }

    /// Hands the pending batch to the stages and applies their decisions.
    pub fn flush(&mut self) -> Result<(), RunError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batch.now_ms = self.clock.now_ms();
        let decisions = self.pipeline.run(&mut self.batch);
        self.batch.clear();
        self.engine.submit(decisions)?;
        Ok(())
    }
}
