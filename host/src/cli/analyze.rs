//! `portcullis analyze`: top keys with counts and shares, or enriched log lines.

use anyhow::{Context, bail};
use portcullis::analyze::{By, Tally};
use portcullis::clock::SystemClock;
use portcullis::config::{Config, DEFAULT_PATH, Source};
use portcullis::geo::Geo;
use portcullis::runner::{BatchLines, Runner, runtime_for, services_for};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// Log files (`-` for stdin); default: the config's sources.
    pub files: Vec<PathBuf>,
    /// What to count by.
    #[arg(long, value_enum, required_unless_present = "enriched")]
    pub by: Option<By>,
    /// How many keys to show.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Instead of counting, print each firewall line the stages kept with its source's
    /// origin inserted after `SRC=<ip>` (`US, United States, Atlanta, AS22616 ZSCALER, INC.`
    /// or `IP origin unknown`), from the `[geoip]` databases.
    #[arg(long, conflicts_with_all = ["by", "format"])]
    pub enriched: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns: count, share, key.
    Table,
    /// A JSON array of `{"key": ..., "count": N, "share": 0.41}`.
    Json,
}

/// The config to use: the one named, else the default file if it exists, else none (no
/// stages: plain counts).
fn load_config(explicit: Option<&Path>) -> anyhow::Result<Option<Config>> {
    match explicit {
        Some(p) => Ok(Some(Config::load(p)?)),
        None if Path::new(DEFAULT_PATH).exists() => {
            Ok(Some(Config::load(Path::new(DEFAULT_PATH))?))
        }
        None => Ok(None),
    }
}

pub fn run(explicit_config: Option<&Path>, args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(explicit_config)? {
        Some(c) => c,
        None => Config::empty(),
    };
    let sources: Vec<Source> = if args.files.is_empty() {
        config.sources.clone()
    } else {
        Source::from_arguments(&args.files)
    };
    if sources.is_empty() {
        bail!("nothing to analyze: give log files, or a config with [[sources]]");
    }
    let runtime = runtime_for(&config)?;
    let services = services_for(&config, Arc::new(SystemClock))?;
    let geo = services.geo.current();
    let sink = portcullis::action::open::dry_run(&config, services.clock.clone(), std::io::sink())?;
    let mut runner = Runner::build(&config, &runtime, services, sink, false)?;

    let stdout = std::io::stdout();
    if args.enriched {
        let out = Rc::new(RefCell::new(std::io::BufWriter::new(stdout.lock())));
        let sink = out.clone();
        let mut origins: HashMap<IpAddr, String> = HashMap::new();
        runner.observe(
            true,
            Box::new(move |batch, lines: &BatchLines| {
                let mut w = sink.borrow_mut();
                for (i, tag) in batch.tags.iter().enumerate() {
                    let (Some(line), Some(src)) =
                        (lines.get(*tag), batch.record(i).and_then(|r| r.src()))
                    else {
                        continue;
                    };
                    let origin = origins.entry(src).or_insert_with(|| describe(&geo, src));
                    let _ = write_enriched(&mut *w, line, origin);
                }
            }),
        );
        for s in &sources {
            runner.run_source(s)?;
        }
        runner.finish()?;
        out.borrow_mut().flush().context("writing output")?;
        return Ok(ExitCode::SUCCESS);
    }

    let by = args.by.unwrap_or(By::Src);
    let tally = Rc::new(RefCell::new(Tally::new(by)));
    let t = tally.clone();
    runner.observe(false, Box::new(move |batch, _| t.borrow_mut().add(batch)));
    for s in &sources {
        runner.run_source(s)?;
    }
    runner.finish()?;
    let tally = tally.borrow();
    let rows = tally.top(args.top);
    let mut w = std::io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => {
            serde_json::to_writer(&mut w, &rows).context("writing output")?;
            writeln!(w)?;
        }
        Format::Table => {
            let width = rows
                .iter()
                .map(|r| r.count.to_string().len())
                .max()
                .unwrap_or(5)
                .max(5);
            writeln!(w, "{:>width$}  {:>6}  {by:?}", "count", "share")?;
            for r in &rows {
                writeln!(
                    w,
                    "{:>width$}  {:>5.1}%  {}",
                    r.count,
                    r.share * 100.0,
                    r.key
                )?;
            }
        }
    }
    w.flush()?;
    let s = runner.stats();
    eprintln!(
        "lines={} events={} skipped={} malformed={} counted={} distinct={}",
        s.lines,
        s.events,
        s.skipped,
        s.malformed,
        tally.total(),
        tally.distinct()
    );
    Ok(ExitCode::SUCCESS)
}

/// `US, United States, Atlanta, AS22616 ZSCALER, INC.`, or `IP origin unknown`.
fn describe(geo: &Geo, ip: IpAddr) -> String {
    let Some(g) = geo.lookup(ip) else {
        return "IP origin unknown".to_string();
    };
    let asn = match (g.asn, &g.org) {
        (Some(a), Some(o)) => Some(format!("AS{a} {o}")),
        (Some(a), None) => Some(format!("AS{a}")),
        (None, Some(o)) => Some(o.clone()),
        (None, None) => None,
    };
    let parts: Vec<String> = [g.country, g.country_name, g.city, asn]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        "IP origin unknown".to_string()
    } else {
        parts.join(", ")
    }
}

/// Writes `line` with ` <origin>` inserted after its outer `SRC=<ip>` token.
fn write_enriched(w: &mut impl Write, line: &[u8], origin: &str) -> std::io::Result<()> {
    let at = memchr::memmem::find(line, b" SRC=").map(|i| i + 5);
    match at {
        Some(start) => {
            let end = memchr::memchr(b' ', &line[start..])
                .map(|e| start + e)
                .unwrap_or(line.len());
            w.write_all(&line[..end])?;
            w.write_all(b" ")?;
            w.write_all(origin.as_bytes())?;
            w.write_all(&line[end..])?;
        }
        None => w.write_all(line)?,
    }
    w.write_all(b"\n")
}
