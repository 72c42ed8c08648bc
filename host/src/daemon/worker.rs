//! The worker: one thread that owns the chain. It takes lines from the sources' channel,
//! parses them into the pending batch, and closes the batch when it is full, when nothing
//! more is queued (so a single line is acted on at once), or, while lines keep coming,
//! when its first event has waited `batch_deadline`. After a
//! batch went through the stages and the action engine, the sources' positions are saved.
//! Between batches it sweeps, reconciles, serves the CLI's requests, lets stages `tick`,
//! saves stage state, and publishes metrics.

use super::input::{Control, Input, Origin};
use super::metrics::{Board, SourceCounts};
use super::sources::SourceState;
use crate::config::Config;
use crate::plugin::Runtime;
use crate::runner::{LineKind, RunError, Runner, services_for};
use crate::source::cursors::{CursorError, Cursors};
use crate::source::malformed::MalformedReport;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{Receiver, UnboundedReceiver};

/// How often the periodic work runs.
const TICK: Duration = Duration::from_millis(200);
/// At shutdown, how long the queue must stay empty before the worker stops taking from it.
const DRAIN_GRACE: Duration = Duration::from_millis(50);
/// How often stages are asked to `tick`.
const STAGE_TICK: Duration = Duration::from_secs(1);

/// Why the worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The chain failed in a way that cannot be carried on from.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Positions could not be saved.
    #[error(transparent)]
    Cursor(#[from] CursorError),
}

/// The worker's parts.
pub struct Worker {
    /// The chain.
    pub runner: Runner,
    /// Where positions are saved.
    pub cursors: Cursors,
    /// Plugins for reloads.
    pub runtime: Runtime,
    /// Longest wait of a batch's first event.
    pub batch_deadline: Duration,
    /// How often stage state is saved.
    pub save_every: Duration,
    /// Where metrics are published.
    pub board: Arc<Board>,
    /// The sources' lag gauges.
    pub sources: Arc<SourceState>,
    /// A name per configured source.
    pub labels: Vec<String>,
}

struct Loop {
    w: Worker,
    counts: Vec<SourceCounts>,
    reports: Vec<MalformedReport>,
    /// Positions reached by the lines in the pending batch, saved once it went through.
    pending: BTreeMap<String, serde_json::Value>,
    deadline: Option<Instant>,
    last_tick: Instant,
    last_stage_tick: Instant,
    last_save: Instant,
    started: Instant,
}

impl Worker {
    /// Runs until the channel closes (every source ended) or a shutdown, then flushes,
    /// applies, saves and returns.
    pub fn run(
        self,
        handle: tokio::runtime::Handle,
        mut rx: Receiver<Input>,
        mut ctrl: UnboundedReceiver<Control>,
    ) -> Result<(), WorkerError> {
        let mut l = Loop::new(self);
        enum Msg {
            Input(Option<Input>),
            Control(Option<Control>),
            Timer,
        }
        loop {
            let wait = l
                .deadline
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(TICK)
                .min(TICK);
            let msg = handle.block_on(async {
                tokio::select! {
                    biased;
                    c = ctrl.recv() => Msg::Control(c),
                    i = rx.recv() => Msg::Input(i),
                    _ = tokio::time::sleep(wait) => Msg::Timer,
                }
            });
            match msg {
                Msg::Input(Some(input)) => {
                    let more_waiting = !rx.is_empty();
                    l.take(input, more_waiting)?
                }
                Msg::Input(None) => break,
                Msg::Control(Some(Control::Shutdown)) | Msg::Control(None) => {
                    l.drain(&mut rx)?;
                    break;
                }
                Msg::Control(Some(Control::Reload(config))) => l.reload(&config),
                Msg::Timer => {}
            }
            if l.deadline.is_some_and(|d| Instant::now() >= d) {
                l.flush()?;
            }
            if l.last_tick.elapsed() >= TICK {
                l.periodic()?;
            }
        }
        l.finish()
    }
}

impl Loop {
    fn new(w: Worker) -> Loop {
        let now = Instant::now();
        Loop {
            counts: w.labels.iter().map(|_| SourceCounts::default()).collect(),
            reports: w.labels.iter().map(MalformedReport::new).collect(),
            w,
            pending: BTreeMap::new(),
            deadline: None,
            last_tick: now,
            last_stage_tick: now,
            last_save: now,
            started: now,
        }
    }

    fn take(&mut self, input: Input, more_waiting: bool) -> Result<(), WorkerError> {
        let mut offset = match &input.origin {
            Origin::File { start, .. } => start.offset,
            _ => 0,
        };
        let src = input.source;
        let mut last = None;
        for (i, raw) in input.data.split_inclusive(|b| *b == b'\n').enumerate() {
            offset += raw.len() as u64;
            last = Some(i);
            let mut line = raw.strip_suffix(b"\n").unwrap_or(raw);
            line = line.strip_suffix(b"\r").unwrap_or(line);
            let kind = self.w.runner.push_line(line)?;
            let counts = &mut self.counts[src];
            counts.lines += 1;
            match kind {
                LineKind::Event => counts.events += 1,
                LineKind::Skipped => counts.skipped += 1,
                LineKind::Malformed(e) => {
                    counts.malformed += 1;
                    self.reports[src].note(None, &e);
                }
            }
            if self.w.runner.is_full() {
                // The lines up to this one go through now: their position with them.
                self.note_position(&input.origin, i, offset);
                self.flush()?;
            }
        }
        if let Some(i) = last {
            self.note_position(&input.origin, i, offset);
        }
        if self.w.runner.pending() > 0 {
            if !more_waiting {
                // Nothing else is queued: act now rather than wait for company.
                self.flush()?;
            } else if self.deadline.is_none() {
                self.deadline = Some(Instant::now() + self.w.batch_deadline);
            }
        }
        Ok(())
    }

    /// Notes where the source of `origin` stands after its line `i` (ending at `offset`
    /// for a file), to be saved once the lines before it went through.
    fn note_position(&mut self, origin: &Origin, i: usize, offset: u64) {
        let (key, pos) = match origin {
            Origin::File { key, start } => (
                key,
                serde_json::json!({"inode": start.inode, "offset": offset}),
            ),
            Origin::Kmsg { key, boot, seqs } => match seqs.get(i) {
                Some(seq) => (key, serde_json::json!({"boot": boot, "seq": seq})),
                None => return,
            },
            Origin::Journal { key, cursors } => match cursors.get(i) {
                Some(c) => (key, serde_json::json!({ "cursor": c })),
                None => return,
            },
            Origin::Unpositioned => return,
        };
        self.pending.insert(key.clone(), pos);
    }

    /// Hands the pending batch to the chain, then saves where the sources stand. A
    /// firewall that refuses the batch is logged and counted; the run goes on.
    fn flush(&mut self) -> Result<(), WorkerError> {
        self.deadline = None;
        match self.w.runner.flush() {
            Ok(()) => {}
            Err(RunError::Action(e)) => {
                self.w.board.action_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("applying a batch failed: {e}");
            }
            Err(e) => return Err(e.into()),
        }
        self.save_positions()?;
        self.publish();
        Ok(())
    }

    fn save_positions(&mut self) -> Result<(), WorkerError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let positions: Vec<(String, serde_json::Value)> =
            std::mem::take(&mut self.pending).into_iter().collect();
        self.w.cursors.save(&positions)?;
        Ok(())
    }

    fn periodic(&mut self) -> Result<(), WorkerError> {
        self.last_tick = Instant::now();
        // Positions of lines that made no event (nothing pending) are saved now.
        if self.w.runner.pending() == 0 {
            self.save_positions()?;
        }
        if self.last_stage_tick.elapsed() >= STAGE_TICK {
            self.last_stage_tick = Instant::now();
            self.carry_on(Runner::tick)?;
        }
        self.carry_on(Runner::maintain)?;
        if self.last_save.elapsed() >= self.w.save_every {
            self.last_save = Instant::now();
            self.w.runner.save_state()?;
        }
        self.publish();
        Ok(())
    }

    /// Runs `step`; a firewall error is logged and counted, anything else stops the run.
    fn carry_on(
        &mut self,
        step: fn(&mut Runner) -> Result<(), RunError>,
    ) -> Result<(), WorkerError> {
        match step(&mut self.w.runner) {
            Err(RunError::Action(e)) => {
                self.w.board.action_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("{e}");
                Ok(())
            }
            other => Ok(other?),
        }
    }

    fn reload(&mut self, config: &Config) {
        // The pending batch goes through the old stages, and its positions are saved.
        if let Err(e) = self.flush() {
            tracing::error!("before reloading: {e}");
        }
        let services = match services_for(config, self.w.runner.clock()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("reload refused, running on: {e}");
                return;
            }
        };
        match self.w.runner.reload(config, &self.w.runtime, services) {
            Ok(()) => {
                self.w.board.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!("reloaded {}", config.path.display());
            }
            Err(e) => tracing::error!("reload refused, running on: {e}"),
        }
        self.publish();
    }

    /// At shutdown: stops the sources and takes what they already queued (lines from
    /// stdin or a socket exist nowhere else), waiting briefly for one caught mid-send.
    fn drain(&mut self, rx: &mut Receiver<Input>) -> Result<(), WorkerError> {
        self.w.sources.stop.store(true, Ordering::Relaxed);
        let mut quiet_since = Instant::now();
        while quiet_since.elapsed() < DRAIN_GRACE {
            match rx.try_recv() {
                Ok(input) => {
                    self.take(input, true)?;
                    quiet_since = Instant::now();
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), WorkerError> {
        self.deadline = None;
        self.w.runner.finish()?;
        self.save_positions()?;
        self.publish();
        tracing::info!("stopped: pending batch applied, state and positions saved");
        Ok(())
    }

    fn publish(&mut self) {
        for (c, gauge) in self.counts.iter_mut().zip(&self.w.sources.lag) {
            c.lag = gauge.load(Ordering::Relaxed);
        }
        self.w.board.publish(
            &self.w.labels,
            &self.counts,
            &self.w.runner,
            self.started.elapsed(),
        );
    }
}

#[cfg(test)]
mod tests;
