//! `portcullis parse [FILE...]`: read log files (or stdin), print one line per firewall
//! record (JSON by default), warn about malformed records, optionally print counts.
//!
//! With more than one thread (the default on a multi-core machine) each input is parsed in
//! chunks on worker threads (`chunks`); the output is the same, in the same order.

mod chunks;

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use portcullis::parse::{Event, ParseOptions, Parser, json, text};
use portcullis::source::lines::LineReader;

/// How many malformed-line warnings are printed before they are only counted.
const MAX_WARNINGS: u64 = 20;

/// Flush the output buffer when it grows past this.
const FLUSH_AT: usize = 256 * 1024;

/// Arguments of `portcullis parse`.
#[derive(clap::Args, Debug)]
pub struct ParseArgs {
    /// Log files to read; standard input when none is given or for `-`.
    pub files: Vec<PathBuf>,
    /// Output per firewall record.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Print `lines=N events=N skipped=N malformed=N` to stderr at the end.
    #[arg(long)]
    pub stats: bool,
    /// Parser threads per input (default: the number of CPUs, at most 4); 1 parses on the
    /// reading thread.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: Option<u16>,
    /// Offset from UTC of stamps that carry no zone (RFC 3164 syslog, journald short):
    /// `UTC`, `+02:00`, `-05:30`. A fixed offset: daylight saving is not followed.
    #[arg(long, value_name = "OFFSET", default_value = "UTC", allow_hyphen_values = true, value_parser = portcullis::utc_offset::parse)]
    pub utc_offset: i32,
}

/// Most parser threads used by default: beyond this, reading and writing are the limit.
const DEFAULT_MAX_THREADS: usize = 4;

/// Output format of `portcullis parse`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// A compact human-readable line.
    Text,
    /// Nothing (use with `--stats`).
    None,
}

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    lines: u64,
    events: u64,
    skipped: u64,
    malformed: u64,
}

/// Why a run stopped early.
enum Stop {
    /// stdout was closed (e.g. piped into `head`): not an error.
    BrokenPipe,
    /// Writing the output failed.
    Output(io::Error),
}

/// Runs the subcommand.
pub fn run(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    let opts = ParseOptions {
        reference_unix_secs: now_secs(),
        utc_offset_secs: args.utc_offset,
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
    let mut counts = Counts::default();
    let mut failed = false;
    let stdin_only = [PathBuf::from("-")];
    let files: &[PathBuf] = if args.files.is_empty() {
        &stdin_only
    } else {
        &args.files
    };

    let threads = args.threads.map_or_else(
        || {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(DEFAULT_MAX_THREADS)
        },
        usize::from,
    );
    let mut stop = None;
    for path in files {
        let (reader, name): (Box<dyn Read>, &Path) = if path.as_os_str() == "-" {
            (Box::new(io::stdin().lock()), Path::new("<stdin>"))
        } else {
            match File::open(path) {
                Ok(f) => (Box::new(f), path.as_path()),
                Err(e) => {
                    eprintln!("portcullis parse: cannot open {}: {e}", path.display());
                    failed = true;
                    continue;
                }
            }
        };
        let result = input(
            reader,
            name,
            args.format,
            opts,
            threads,
            &mut counts,
            &mut buf,
            &mut out,
        );
        match result {
            Ok(Ok(())) => {}
            Ok(Err(stopped)) => {
                stop = Some(stopped);
                break;
            }
            Err(e) => {
                eprintln!("portcullis parse: cannot read {}: {e}", path.display());
                failed = true;
            }
        }
    }
    if stop.is_none() {
        stop = flush(&mut out, &mut buf).err();
        if stop.is_none() {
            stop = out.flush().map_err(classify).err();
        }
    }
    if let Some(Stop::Output(e)) = &stop {
        eprintln!("portcullis parse: cannot write output: {e}");
        failed = true;
    }
    if counts.malformed > MAX_WARNINGS {
        eprintln!(
            "warning: {} more malformed lines not shown",
            counts.malformed - MAX_WARNINGS
        );
    }
    if args.stats {
        eprintln!(
            "lines={} events={} skipped={} malformed={}",
            counts.lines, counts.events, counts.skipped, counts.malformed
        );
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Parses one input on `threads` threads (output already buffered in `buf` is written
/// first, so the order is kept).
#[allow(clippy::too_many_arguments)]
fn input(
    input: impl Read,
    name: &Path,
    format: Format,
    opts: ParseOptions,
    threads: usize,
    counts: &mut Counts,
    buf: &mut Vec<u8>,
    out: &mut impl Write,
) -> io::Result<Result<(), Stop>> {
    if threads <= 1 {
        return one_input(input, name, format, opts, counts, buf, out);
    }
    if let Err(stop) = flush(out, buf) {
        return Ok(Err(stop));
    }
    chunks::one_input(input, name, format, opts, threads, counts, out)
}

/// Appends the output for one event.
fn format_event(ev: &Event<'_>, format: Format, buf: &mut Vec<u8>) {
    match format {
        Format::Json => {
            json::write_json(ev, buf);
            buf.push(b'\n');
        }
        Format::Text => {
            text::write_text(ev, buf);
            buf.push(b'\n');
        }
        Format::None => {}
    }
}

/// Parses one input. The outer error is a read error (this input is abandoned), the inner
/// one a reason to stop everything.
#[allow(clippy::too_many_arguments)]
fn one_input(
    input: impl Read,
    name: &Path,
    format: Format,
    opts: ParseOptions,
    counts: &mut Counts,
    buf: &mut Vec<u8>,
    out: &mut impl Write,
) -> io::Result<Result<(), Stop>> {
    let mut reader = LineReader::new(input);
    let mut parser = Parser::new(opts);
    let mut line_no = 0u64;
    while let Some(line) = reader.next_line()? {
        line_no += 1;
        counts.lines += 1;
        // Matched by reference: moving the large event out of the result costs a copy.
        match &parser.parse(line) {
            Ok(Some(ev)) => {
                counts.events += 1;
                format_event(ev, format, buf);
                if buf.len() >= FLUSH_AT
                    && let Err(stop) = flush(out, buf)
                {
                    return Ok(Err(stop));
                }
            }
            Ok(None) => counts.skipped += 1,
            Err(e) => {
                counts.malformed += 1;
                if counts.malformed <= MAX_WARNINGS {
                    eprintln!("warning: {}:{line_no}: {e}", name.display());
                }
            }
        }
    }
    Ok(Ok(()))
}

fn classify(e: io::Error) -> Stop {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Stop::BrokenPipe
    } else {
        Stop::Output(e)
    }
}

fn flush(out: &mut impl Write, buf: &mut Vec<u8>) -> Result<(), Stop> {
    let r = out.write_all(buf).map_err(classify);
    buf.clear();
    r
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
