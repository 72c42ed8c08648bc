//! `portcullis replay [FILE...]`: what the configured pipeline would have done to old logs,
//! in the logs' own time: which bans, when, for how long, by which stage and rule, whether
//! each lifted before the log ends; and the top sources. Touches no firewall and no store.

use anyhow::{Context, bail};
use portcullis::action::{ActionEngine, Store};
use portcullis::analyze::{By, Tally};
use portcullis::clock::{Clock, ManualClock, SystemClock};
use portcullis::config::{Config, Source};
use portcullis::duration::format_secs;
use portcullis::parse::format_utc;
use portcullis::replay::{Recorder, ReplayBan, bans};
use portcullis::runner::{Runner, runtime_for, services_for};
use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Log files to replay (`-` for stdin) [default: the config's file sources].
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// How many top sources to show.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

pub fn run(config_path: &Path, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let sources: Vec<Source> = if args.files.is_empty() {
        config
            .sources
            .iter()
            .filter_map(|s| match s {
                Source::File { path, .. } => Some(Source::whole_file(path.clone())),
                _ => None,
            })
            .collect()
    } else {
        Source::from_arguments(&args.files)
    };
    if sources.is_empty() {
        bail!("nothing to replay: give log files, or a config with file [[sources]]");
    }
    // Event time: the clock starts at the wall clock (the parser infers a missing year from
    // it) and is set to the latest log time before each batch.
    let clock = ManualClock::at(SystemClock.now_ms());
    let runtime = runtime_for(&config)?;
    let services = services_for(&config, clock.clone())?;
    let recorder = Recorder::default();
    let engine = ActionEngine::new(
        Box::new(recorder.clone()),
        Store::in_memory()?,
        clock.clone(),
        config.actions.guard.clone(),
        Vec::new(),
    )?;
    let mut runner = Runner::build(&config, &runtime, services, engine, false)?;
    runner.use_event_time(clock.clone());
    let tally = Rc::new(RefCell::new(Tally::new(By::Src)));
    let t = tally.clone();
    runner.observe(false, Box::new(move |batch, _| t.borrow_mut().add(batch)));
    for s in &sources {
        runner.run_source(s)?;
    }
    runner.finish()?;
    let Some(end_ms) = runner.latest_event_ms() else {
        bail!("no firewall event with a time in the replayed logs");
    };
    let end = end_ms.div_euclid(1000);
    let rows = bans(&recorder.recorded(), end);
    let stats = runner.stats();
    let top = tally.borrow().top(args.top);
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        Format::Json => {
            let report = serde_json::json!({
                "lines": stats.lines,
                "events": stats.events,
                "end": end,
                "bans": rows,
                "top": top,
            });
            serde_json::to_writer(&mut w, &report)?;
            writeln!(w)?;
        }
        Format::Table => table(&mut w, &rows, &top, stats.lines, stats.events, end)?,
    }
    w.flush().context("writing output")?;
    Ok(ExitCode::SUCCESS)
}

fn table(
    w: &mut impl Write,
    rows: &[ReplayBan],
    top: &[portcullis::analyze::Row],
    lines: u64,
    events: u64,
    end: i64,
) -> anyhow::Result<()> {
    writeln!(
        w,
        "replayed {lines} lines, {events} firewall events, up to {} (log time)\n",
        format_utc(end)
    )?;
    if rows.is_empty() {
        writeln!(w, "no bans")?;
    } else {
        writeln!(
            w,
            "{:<20}  {:<39}  {:>7}  {:<20}  {:<12}  {:<28}  ENDS",
            "WHEN (UTC)", "TARGET", "FOR", "UNTIL (UTC)", "STAGE", "REASON"
        )?;
        for b in rows {
            let ends = match (b.lifted_at, b.expired_in_log) {
                _ if b.extends && b.lifted_at.is_none() && b.expired_in_log => {
                    "extends the ban before; expired within the log".to_string()
                }
                _ if b.extends && b.lifted_at.is_none() => {
                    "extends the ban before; still active at the log's end".to_string()
                }
                (Some(at), _) => format!("lifted {}", format_utc(at)),
                (None, true) => "expired within the log".to_string(),
                (None, false) => "still active at the log's end".to_string(),
            };
            writeln!(
                w,
                "{:<20}  {:<39}  {:>7}  {:<20}  {:<12}  {:<28}  {ends}",
                format_utc(b.at),
                b.target,
                format_secs(b.secs),
                format_utc(b.until),
                b.stage,
                b.reason
            )?;
        }
    }
    writeln!(w, "\ntop sources (after the stages):")?;
    for r in top {
        writeln!(w, "{:>9}  {:>6.2}%  {}", r.count, r.share * 100.0, r.key)?;
    }
    Ok(())
}
