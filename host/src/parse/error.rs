//! The reasons a firewall record is rejected as malformed.
//!
//! A line that is not a firewall record at all is `Ok(None)`, not an error; these errors
//! are for lines that *are* firewall records (they carry a valid `IN=… OUT=… ` anchor or a
//! damaged wrapper around one) but break the kernel's grammar somewhere.

use std::fmt;

/// Why a firewall record could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Byte offset in the line where the offending token starts.
    pub offset: usize,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.kind, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// The typed reason behind a [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The line stops where the grammar still requires a token (and the cut is not one the
    /// kernel's log buffer would make).
    #[error("record ends early: expected {0}")]
    UnexpectedEnd(&'static str),
    /// A different token stands where the grammar requires this one.
    #[error("expected {0}")]
    Expected(&'static str),
    /// A decimal or hexadecimal field holds no digits or a non-digit.
    #[error("invalid number in {0}")]
    BadNumber(&'static str),
    /// A number is larger than the field the kernel prints it from.
    #[error("{0} is out of range")]
    OutOfRange(&'static str),
    /// A dotted-quad address is malformed (wrong octet count, octet above 255, ...).
    #[error("invalid IPv4 address in {0}")]
    BadIpv4(&'static str),
    /// An IPv6 address is neither the kernel's 8x4-hex form nor a valid compressed form.
    #[error("invalid IPv6 address in {0}")]
    BadIpv6(&'static str),
    /// A hardware address is not colon-separated pairs of hex digits.
    #[error("invalid MAC address in {0}")]
    BadMac(&'static str),
    /// An interface name is longer than 15 bytes or holds `:` `/` `=`.
    #[error("invalid interface name in {0}")]
    BadInterface(&'static str),
    /// Text follows the last token the kernel can print.
    #[error("unexpected text after the end of the record")]
    TrailingGarbage,
    /// The prefix or an interface name is not valid UTF-8 (such records are rejected, not
    /// repaired, so that every accepted string is exactly what was logged).
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// The prefix is far longer than any logger allows (nftables: 127 bytes).
    #[error("prefix is {0} bytes long, longer than any netfilter logger writes")]
    PrefixTooLong(usize),
    /// The prefix contains a second syslog timestamp: two lines lost the newline between them.
    #[error("a second log header inside the prefix (two lines glued together)")]
    GluedLines,
    /// The line starts like a known wrapper (syslog, RFC 3339) but its timestamp is damaged.
    #[error("damaged {0} timestamp")]
    BadTimestamp(&'static str),
    /// A journald JSON `MESSAGE` with a firewall record uses JSON escapes (not supported:
    /// events borrow from the line and cannot hold unescaped copies).
    #[error("journald MESSAGE with JSON escapes is not supported")]
    JsonEscapes,
}
