//! Drives log lines through the whole chain: lines → parser → batches → stages →
//! action engine. `portcullis run --once` drives it over finite sources; the live service
//! (`crate::daemon`) feeds it line by line from its worker.

use crate::action::{ActionEngine, ActionError};
use crate::clock::{Clock, ManualClock};
use crate::config::{Config, Source};
use crate::geo::GeoError;
use crate::parse::ParseError;
use crate::parse::{ParseOptions, Parser};
use crate::pipeline::Pipeline;
use crate::pipeline::batch::EncodedBatch;
use crate::plugin::{HostServices, PluginError, Runtime};
use crate::plugin_state::{SavedState, StateDir, StateError};
use crate::source::kmsg::{Kmsg, KmsgStart};
use crate::source::lines::LineReader;
use crate::source::malformed::MalformedReport;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How often, at most, the GeoIP files are checked for replacement.
pub const GEO_RELOAD_CHECK: std::time::Duration = std::time::Duration::from_secs(10);
/// On event time, the most log time one batch spans.
pub const EVENT_TIME_SPAN_MS: i64 = 1000;
/// Events per batch handed to the stages.
pub const BATCH_EVENTS: usize = 1024;

mod assemble;

use assemble::build_pipeline;
pub use assemble::{runtime_for, services_for};

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A stage's plugin could not be loaded or initialised.
    #[error("{}", name_stage(stage, source))]
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
    /// A GeoIP/ASN database could not be opened.
    #[error(transparent)]
    Geo(#[from] GeoError),
    /// Saved stage state could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The plugin engine could not be created.
    #[error(transparent)]
    Engine(PluginError),
    /// A source that never ends was given to a finite run.
    #[error("source {0} has no end: follow it with `portcullis run` (without --once)")]
    Endless(String),
}

/// `source`'s message, preceded by the stage's name unless it already starts with it.
fn name_stage(stage: &str, source: &PluginError) -> String {
    let message = source.to_string();
    let named = format!("stage {stage:?}");
    if message.starts_with(&named) {
        message
    } else {
        format!("{named}: {message}")
    }
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

/// What one line turned out to be.
#[derive(Debug)]
pub enum LineKind {
    /// A firewall event, now in the pending batch.
    Event,
    /// Not a firewall record.
    Skipped,
    /// A damaged firewall record.
    Malformed(ParseError),
}

/// The log lines of the batch being assembled, kept when an observer asks for them;
/// an event's `tag` (see [`EncodedBatch::tags`]) finds its line.
#[derive(Debug, Default)]
pub struct BatchLines {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl BatchLines {
    fn push(&mut self, line: &[u8]) {
        self.buf.extend_from_slice(line);
        self.ends.push(self.buf.len());
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// The line of the event tagged `tag`.
    pub fn get(&self, tag: u32) -> Option<&[u8]> {
        let i = tag as usize;
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.buf.get(start..end)
    }
}

/// Sees each batch after the stages ran: the events every stage kept, and their lines
/// when asked for.
pub type Observer = Box<dyn FnMut(&EncodedBatch, &BatchLines)>;

/// The assembled chain.
pub struct Runner {
    parser: Parser,
    pipeline: Pipeline,
    engine: ActionEngine,
    batch: EncodedBatch,
    services: HostServices,
    state: Option<StateDir>,
    stats: RunStats,
    observer: Option<Observer>,
    lines: Option<BatchLines>,
    event_clock: Option<Arc<ManualClock>>,
    latest_event_ms: Option<i64>,
    batch_first_ms: Option<i64>,
}

impl Runner {
    /// Loads every stage of `config` into `runtime` and wires the chain to `engine`. With
    /// `keep_state`, each stage starts from the state a previous run saved (and
    /// [`Runner::finish`] saves it again).
    pub fn build(
        config: &Config,
        runtime: &Runtime,
        services: HostServices,
        engine: ActionEngine,
        keep_state: bool,
    ) -> Result<Self, RunError> {
        let state = keep_state.then(|| StateDir::new(config.plugin_state_dir()));
        let mut saved = HashMap::new();
        if let Some(dir) = &state {
            for stage in &config.stages {
                if let Some(s) = dir.load(&stage.name)? {
                    saved.insert(stage.name.clone(), s);
                }
            }
        }
        let pipeline = build_pipeline(config, runtime, &services, saved)?;
        let reference = services.clock.now_ms().div_euclid(1000);
        Ok(Runner {
            parser: Parser::new(ParseOptions {
                reference_unix_secs: reference,
                utc_offset_secs: config.utc_offset_secs,
            }),
            pipeline,
            engine,
            batch: EncodedBatch::with_capacity(BATCH_EVENTS),
            services,
            state,
            stats: RunStats::default(),
            observer: None,
            lines: None,
            event_clock: None,
            latest_event_ms: None,
            batch_first_ms: None,
        })
    }

    /// Hands every batch, after the stages, to `observer`; with `keep_lines` the batch's
    /// log lines come along.
    pub fn observe(&mut self, keep_lines: bool, observer: Observer) {
        self.observer = Some(observer);
        self.lines = keep_lines.then(BatchLines::default);
    }

    /// The clock the chain reads.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.services.clock.clone()
    }

    /// Runs on event time: before each batch, `clock` (which the stages and the action
    /// engine must read) is set to the latest event time seen so far (so it never goes
    /// back, even when lines are out of order).
    pub fn use_event_time(&mut self, clock: Arc<ManualClock>) {
        self.event_clock = Some(clock);
    }

    /// The time of the latest event seen (unix ms), if any carried one.
    pub fn latest_event_ms(&self) -> Option<i64> {
        self.latest_event_ms
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

    /// The action engine, to act on.
    pub fn engine_mut(&mut self) -> &mut ActionEngine {
        &mut self.engine
    }

    /// Reads one source to its end (a kmsg source: the records waiting in the buffer).
    pub fn run_source(&mut self, source: &Source) -> Result<(), RunError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Source { path, source }
        };
        match source {
            Source::File { path, .. } => {
                let file = std::fs::File::open(path).map_err(err(path))?;
                self.read_all(file, path)
            }
            Source::Stdin => self.read_all(std::io::stdin().lock(), Path::new("-")),
            Source::Kmsg { path } => {
                let mut kmsg = Kmsg::open(path, KmsgStart::Beginning).map_err(err(path))?;
                let mut report = MalformedReport::new(path.display().to_string());
                while let Some(record) = kmsg.next_record().map_err(err(path))? {
                    if let LineKind::Malformed(e) = self.push_line(record.line)? {
                        report.note(None, &e);
                    }
                    if self.is_full() {
                        self.flush()?;
                    }
                }
                report.finish();
                Ok(())
            }
            Source::Journald => {
                let out = crate::action::backend::Command::new(&[], "journalctl")
                    .args(["-k", "-o", "json", "--no-pager"])
                    .run()
                    .map_err(|e| RunError::Source {
                        path: "journald".into(),
                        source: std::io::Error::other(e.to_string()),
                    })?;
                self.read_all(out.as_bytes(), Path::new("journald"))
            }
            Source::Syslog { listen } => Err(RunError::Endless(format!("syslog:{listen}"))),
        }
    }

    fn read_all(&mut self, input: impl Read, path: &Path) -> Result<(), RunError> {
        let mut reader = LineReader::new(input);
        let mut lineno = 0u64;
        let mut report = MalformedReport::new(path.display().to_string());
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
            if let LineKind::Malformed(e) = self.push_line(line)? {
                report.note(Some(lineno), &e);
            }
            if self.is_full() {
                self.flush()?;
            }
        }
        report.finish();
        Ok(())
    }

    /// Parses one line into the pending batch and says what it was. The caller flushes
    /// when [`Runner::is_full`]. On event time, a batch spans at most [`EVENT_TIME_SPAN_MS`]
    /// of log time: an event later than that is put in a new batch (the pending one goes
    /// through first), so decisions are timed to the second.
    pub fn push_line(&mut self, line: &[u8]) -> Result<LineKind, RunError> {
        self.stats.lines += 1;
        let parsed = self.parser.parse(line);
        let t = match &parsed {
            Ok(Some(ev)) => ev.time_unix_ms(),
            _ => None,
        };
        let cut = match (&self.event_clock, t, self.batch_first_ms) {
            (Some(_), Some(t), Some(first)) => t > first + EVENT_TIME_SPAN_MS,
            _ => false,
        };
        if cut {
            self.flush()?;
        }
        Ok(match parsed {
            Ok(Some(ev)) => {
                self.stats.events += 1;
                if let Some(t) = ev.time_unix_ms() {
                    self.latest_event_ms = Some(self.latest_event_ms.map_or(t, |l| l.max(t)));
                    self.batch_first_ms.get_or_insert(t);
                }
                self.batch.push(&ev);
                if let Some(lines) = &mut self.lines {
                    lines.push(line);
                }
                LineKind::Event
            }
            Ok(None) => {
                self.stats.skipped += 1;
                LineKind::Skipped
            }
            Err(e) => {
                self.stats.malformed += 1;
                LineKind::Malformed(e)
            }
        })
    }

    /// Whether the pending batch is full.
    pub fn is_full(&self) -> bool {
        self.batch.len() >= BATCH_EVENTS
    }

    /// Events waiting in the pending batch.
    pub fn pending(&self) -> usize {
        self.batch.len()
    }

    /// Hands the pending batch to the stages and applies their decisions.
    pub fn flush(&mut self) -> Result<(), RunError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        if let (Some(clock), Some(t)) = (&self.event_clock, self.latest_event_ms) {
            clock.set(t);
        }
        self.batch.now_ms = self.services.clock.now_ms();
        self.services.geo.maybe_reload(GEO_RELOAD_CHECK);
        let decisions = self.pipeline.run(&mut self.batch);
        if let Some(observe) = &mut self.observer {
            let no_lines = BatchLines::default();
            observe(&self.batch, self.lines.as_ref().unwrap_or(&no_lines));
        }
        self.batch.clear();
        self.batch_first_ms = None;
        if let Some(lines) = &mut self.lines {
            lines.clear();
        }
        self.engine.submit(decisions)?;
        self.engine.maintain()?;
        self.engine.serve_requests()?;
        Ok(())
    }

    /// Every stage's state as it is now, with the name of the plugin that wrote it.
    fn snapshots(&mut self) -> HashMap<String, SavedState> {
        let names: HashMap<String, String> = self
            .pipeline
            .stages_mut()
            .map(|s| (s.name().to_string(), s.description().name.clone()))
            .collect();
        self.pipeline
            .snapshot_all()
            .into_iter()
            .map(|(stage, bytes)| {
                let plugin = names.get(&*stage).cloned().unwrap_or_default();
                (stage.to_string(), SavedState { plugin, bytes })
            })
            .collect()
    }

    /// Saves every stage's state in the state folder, when keeping state.
    pub fn save_state(&mut self) -> Result<(), RunError> {
        if self.state.is_none() {
            return Ok(());
        }
        let snapshots = self.snapshots();
        if let Some(state) = &self.state {
            for (stage, saved) in snapshots {
                state.save(&stage, &saved.plugin, &saved.bytes)?;
            }
        }
        Ok(())
    }

    /// Lets the stages act on the passage of time and applies what they decide.
    pub fn tick(&mut self) -> Result<(), RunError> {
        let decisions = self.pipeline.tick(self.services.clock.now_ms());
        self.engine.submit(decisions)?;
        Ok(())
    }

    /// The periodic work of a long run: sweeps and reconciles when due, serves the
    /// CLI's requests.
    pub fn maintain(&mut self) -> Result<(), RunError> {
        self.engine.maintain()?;
        self.engine.serve_requests()?;
        Ok(())
    }

    /// Rebuilds the stages from `config` (new plugins, new configs, new GeoIP databases
    /// through `services`), each starting from the current state of the stage of the same
    /// name when the same plugin wrote it; the guard takes `config`'s limits. On error the
    /// running stages are kept.
    pub fn reload(
        &mut self,
        config: &Config,
        runtime: &Runtime,
        services: HostServices,
    ) -> Result<(), RunError> {
        self.flush()?;
        let saved = self.snapshots();
        let mut pipeline = build_pipeline(config, runtime, &services, saved)?;
        pipeline.carry_stats_from(&self.pipeline);
        self.pipeline = pipeline;
        self.services = services;
        self.engine.set_guard(config.actions.guard.clone());
        self.state = self
            .state
            .as_ref()
            .map(|_| StateDir::new(config.plugin_state_dir()));
        Ok(())
    }

    /// Ends a finite run: flushes the last batch, lets stages act on the passage of time
    /// (`tick`), applies what they decide, and saves their state when keeping it.
    pub fn finish(&mut self) -> Result<(), RunError> {
        self.flush()?;
        let decisions = self.pipeline.tick(self.services.clock.now_ms());
        self.engine.submit(decisions)?;
        self.engine.serve_requests()?;
        self.save_state()?;
        for (stage, name, value) in self.services.metrics.snapshot() {
            tracing::info!("plugin metric {stage}.{name} = {value}");
        }
        Ok(())
    }
}
