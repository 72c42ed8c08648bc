//! Sans-IO parser of netfilter LOG lines (`iptables -j LOG`, nftables `log`) and the
//! wrappers they arrive in. See `docs`/`nflog-format.md` for the grammar.
//!
//! [`Parser::parse`] takes one line and returns:
//! * `Ok(Some(event))` for a firewall record ([`Event`], borrowing from the line);
//! * `Ok(None)` for anything else (sshd, cron, non-netfilter kernel lines, look-alikes we
//!   recognise but do not read: ebtables `--log`, Proxmox `pvefw-logger`);
//! * `Err(ParseError)` for a firewall record that breaks the grammar (truncated by a
//!   pipeline, garbled, two lines glued together). A record that stops exactly where the
//!   kernel's ~1 KiB log buffer cuts records is kept and marked [`Record::cut`].
//!
//! The parser does no IO and allocates nothing per line, except a `Box` for the packet
//! quoted by an ICMP error.

mod addr;
mod calendar;
mod cursor;
pub mod envelope;
mod error;
pub mod event;
mod fast;
mod ip;
mod journald;
pub mod json;
mod printk;
mod record;
pub mod text;
mod transport;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod render;
#[cfg(test)]
mod strategies;
#[cfg(test)]
mod tests;

pub use envelope::{Envelope, EnvelopeKind, Timestamp, Uptime};
pub use error::{ErrorKind, ParseError};
pub use event::{
    Arp, ArpPayload, Dialect, Event, Icmp, IpInfo, Ipv4Info, Ipv6Frag, Ipv6Info, L3, L4, Link,
    MacDecode, Packet, Proto, Record, Tcp, Udp,
};

use calendar::YearTracker;
pub use calendar::{YearState, format_utc};
use envelope::Wrapped;

/// How to read the times in wrappers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// "Now" as unix seconds: RFC 3164 stamps carry no year; it is inferred from this (a
    /// stamp more than ~1 month in the future belongs to the previous year) and kept
    /// monotonic across a file with rollover (Dec -> Jan increments the year).
    pub reference_unix_secs: i64,
    /// Offset of the zone that zone-less stamps (RFC 3164, journald short) were written in,
    /// seconds east of UTC.
    pub utc_offset_secs: i32,
}

/// A line parser. Holds the year inferred for RFC 3164 stamps, so use one per file.
#[derive(Debug, Clone)]
pub struct Parser {
    opts: ParseOptions,
    years: YearTracker,
}

impl Parser {
    /// A parser for one file or stream.
    pub fn new(opts: ParseOptions) -> Self {
        Self {
            opts,
            years: YearTracker::default(),
        }
    }

    /// A parser continuing a file from `state` (taken from [`Parser::year_state`] of the
    /// parser that read the lines before).
    pub fn resume(opts: ParseOptions, state: YearState) -> Self {
        Self {
            opts,
            years: YearTracker::resume(state),
        }
    }

    /// The year-inference state after the lines parsed so far.
    pub fn year_state(&self) -> YearState {
        self.years.state()
    }

    /// The month of the first RFC 3164 stamp read since this parser was created or resumed.
    pub fn first_stamp_month(&self) -> Option<u32> {
        self.years.first_month()
    }

    /// Parses one line (without its newline).
    ///
    /// `Ok(None)`: not a firewall record (counted as "skipped"). `Err`: a damaged firewall
    /// record (counted as "malformed"), with a reason.
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Result<Option<Event<'a>>, ParseError> {
        let line = match line {
            [rest @ .., b'\n'] => rest,
            _ => line,
        };
        let split = match envelope::split(line, &mut self.years, &self.opts) {
            Wrapped::Record(s) => s,
            Wrapped::Skip => return Ok(None),
            Wrapped::Unsupported(e) => return Err(e),
        };
        // The event is built in the value returned, and the record filled in place: it is
        // large, and moving it costs more than parsing some of its fields.
        let mut out = Ok(Some(Event {
            envelope: split.env,
            record: Record::default(),
        }));
        if let Ok(Some(ev)) = &mut out {
            match record::parse(line, split.start, split.end, &mut ev.record) {
                Ok(true) => {
                    if let Some(e) = split.damaged {
                        out = Err(e);
                    }
                }
                Ok(false) => out = Ok(None),
                Err(e) => out = Err(e),
            }
        }
        out
    }
}
