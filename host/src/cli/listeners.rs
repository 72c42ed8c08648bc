//! `portcullis listeners`: the listening TCP and UDP sockets of this host (of the network
//! namespace it runs in), with the process holding each, as a table or JSON lines.

use portcullis::listeners::{self, render};
use std::io::{self, Write};
use std::process::ExitCode;

/// Arguments of `portcullis listeners`.
#[derive(clap::Args, Debug)]
pub struct ListenersArgs {
    /// Output: an aligned table, or one JSON object per listener and line.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Output format of `portcullis listeners`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PROTO, ADDRESS, PORT, PID, PROCESS columns under a header.
    Table,
    /// One JSON object per line: proto, address, port, family, pid, process, inode.
    Json,
}

/// Runs the subcommand.
pub fn run(args: &ListenersArgs) -> anyhow::Result<ExitCode> {
    let found = listeners::scan();
    let text = match args.format {
        Format::Table => render::table(&found),
        Format::Json => render::json_lines(&found),
    };
    match io::stdout().lock().write_all(text.as_bytes()) {
        // stdout closed early (piped into `head`): not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other?,
    }
    let unowned = found.iter().filter(|l| l.pid.is_none()).count();
    if args.format == Format::Table && unowned > 0 && !effective_root() {
        eprintln!(
            "portcullis: note: {unowned} listener(s) without a visible process: \
             other users' processes can only be seen as root"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Effective uid 0, from `/proc/self/status` (`Uid: real effective saved fs`).
fn effective_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}
