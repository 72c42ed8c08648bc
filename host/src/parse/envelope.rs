//! Wrappers around the kernel text: syslog (RFC 3164, RFC 3339, RFC 5424, `<PRI>`),
//! dmesg (`[uptime]`, `-T`), `/dev/kmsg`, journald (JSON and export `MESSAGE=`), and the
//! Proxmox firewall logger's look-alike header (recognised and skipped).
//!
//! `split` finds where the record text starts and ends in the line and what the wrapper
//! says (time, host, uptime). It never fails outright: a line that starts like a known
//! wrapper but has a damaged stamp is reported as `damaged`, so the caller can call it
//! malformed if a record follows and skip it otherwise.

use super::ParseOptions;
use super::calendar::{YearTracker, days_from_civil};
use super::cursor::utf8;
use super::error::{ErrorKind, ParseError};
use super::journald;
use super::printk::uptime;

/// What wrapped the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvelopeKind {
    /// The record alone (maybe after a `<PRI>` or a `kernel:` tag).
    #[default]
    Bare,
    /// `Aug 30 16:28:09 host kernel: …` (also journalctl's zero-padded day).
    Rfc3164,
    /// `2026-08-30T16:28:09.123456+00:00 host kernel: …`.
    Rfc3339,
    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
    Rfc5424,
    /// `[ 1646.252033] …` or `dmesg -T` `[Sat Feb  9 12:34:56 2019] …`.
    Dmesg,
    /// `/dev/kmsg`: `6,1234,5678,-;…`.
    Kmsg,
    /// `journalctl -o json` object (`MESSAGE`, `__REALTIME_TIMESTAMP`).
    JournalJson,
    /// `journalctl -o export` `MESSAGE=` field line.
    JournalExport,
}

/// A wall-clock time with the zone it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Microseconds since the Unix epoch.
    pub unix_us: i64,
    /// Offset of the zone the stamp was written in, seconds east of UTC.
    pub offset_secs: i32,
    /// Digits of fractional seconds the stamp carried (0-6).
    pub frac_digits: u8,
}

/// Kernel uptime printed by printk (`[ 5739.482168]`) or `/dev/kmsg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uptime {
    /// Whole seconds.
    pub secs: u64,
    /// Microseconds.
    pub micros: u32,
}

/// What the wrapper around a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Envelope<'a> {
    /// Wrapper shape.
    pub kind: EnvelopeKind,
    /// Wall-clock time, when the wrapper has one.
    pub time: Option<Timestamp>,
    /// Host name, when the wrapper has one.
    pub host: Option<&'a str>,
    /// Kernel uptime, when printed.
    pub uptime: Option<Uptime>,
    /// Syslog `<PRI>` or `/dev/kmsg` priority value.
    pub priority: Option<u16>,
}

/// Where the record text sits in the line and what wraps it.
#[derive(Debug)]
pub(crate) struct Split<'a> {
    pub(crate) env: Envelope<'a>,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) damaged: Option<ParseError>,
}

/// The outcome of looking at a line's wrapper.
#[derive(Debug)]
pub(crate) enum Wrapped<'a> {
    /// Look for a record in `line[start..end]`.
    Record(Split<'a>),
    /// Not a kernel record (Proxmox logger, a journald entry without a usable message).
    Skip,
    /// A journald message uses JSON escapes and contains a record.
    Unsupported(ParseError),
}

pub(crate) fn split<'a>(
    line: &'a [u8],
    years: &mut YearTracker,
    opts: &ParseOptions,
) -> Wrapped<'a> {
    let mut s = Split {
        env: Envelope::default(),
        start: 0,
        end: line.len(),
        damaged: None,
    };
    match line.first() {
        Some(b'{') => return journald::object(line),
        Some(b' ' | b'\t') => {
            let lead = line
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            if line.get(lead) == Some(&b'"') {
                return journald::member(line, lead);
            }
            return Wrapped::Record(s);
        }
        Some(b'M') if line.starts_with(b"MESSAGE=") => {
            s.env.kind = EnvelopeKind::JournalExport;
            s.start = 8;
            return Wrapped::Record(s);
        }
        _ => {}
    }
    let mut pos = 0;
    if line.first() == Some(&b'<')
        && let Some((pri, n)) = pri(line)
    {
        s.env.priority = Some(pri);
        pos = n;
        if line.get(pos..pos + 2) == Some(b"1 ") {
            return rfc5424(line, pos + 2, s, opts);
        }
    }
    let Some(&first) = line.get(pos) else {
        return Wrapped::Record(s);
    };
    if first.is_ascii_uppercase() {
        if let Some(secs) = years.cached_stamp(line.get(pos..pos + STAMP)) {
            // The same stamp as the line before (several lines a second): same outcome.
            s.env.kind = EnvelopeKind::Rfc3164;
            s.env.time = Some(Timestamp {
                unix_us: secs * 1_000_000,
                offset_secs: opts.utc_offset_secs,
                frac_digits: 0,
            });
            pos = after_stamp(line, pos + STAMP, &mut s.env);
        } else if let Some(m) = line.get(pos..pos + 4).and_then(month_sp) {
            match rfc3164(line, pos, m) {
                Some((day, sod, next)) => {
                    let secs = years.resolve(m, day, sod, opts);
                    if next == pos + STAMP
                        && let Some(stamp) = line.get(pos..next)
                    {
                        years.remember_stamp(stamp, secs);
                    }
                    s.env.kind = EnvelopeKind::Rfc3164;
                    s.env.time = Some(Timestamp {
                        unix_us: secs * 1_000_000,
                        offset_secs: opts.utc_offset_secs,
                        frac_digits: 0,
                    });
                    pos = after_stamp(line, next, &mut s.env);
                }
                None => s.damaged = Some(ParseError::new(ErrorKind::BadTimestamp("RFC 3164"), pos)),
            }
        }
    } else if first.is_ascii_digit() {
        if line.get(pos + 4) == Some(&b'-') {
            match rfc3339(line, pos, opts.utc_offset_secs) {
                Some((ts, next)) => {
                    s.env.kind = EnvelopeKind::Rfc3339;
                    s.env.time = Some(ts);
                    pos = after_stamp(line, next, &mut s.env);
                }
                None => s.damaged = Some(ParseError::new(ErrorKind::BadTimestamp("RFC 3339"), pos)),
            }
        } else if let Some(next) = kmsg(line, pos, &mut s.env) {
            pos = next;
        } else if is_proxmox(line, pos) {
            return Wrapped::Skip;
        }
    } else if first == b'[' {
        if let Some((up, next)) = uptime(line, pos) {
            s.env.kind = EnvelopeKind::Dmesg;
            s.env.uptime = Some(up);
            pos = next;
        } else if let Some((ts, next)) = dmesg_t(line, pos, opts.utc_offset_secs) {
            s.env.kind = EnvelopeKind::Dmesg;
            s.env.time = Some(ts);
            pos = next;
        }
    } else if line.get(pos..).is_some_and(|r| r.starts_with(b"kernel: ")) {
        pos = after_tag(line, pos + 8, &mut s.env);
    } else if pos == 0
        && let Some(name_end) = grep_file_name(line)
        && let Wrapped::Record(mut inner) = split(line.get(name_end..).unwrap_or(&[]), years, opts)
        && inner.env.time.is_some()
    {
        // `grep -H` output: `file:Aug 30 16:28:09 host kernel: …`.
        inner.start += name_end;
        inner.end += name_end;
        if let Some(e) = &mut inner.damaged {
            e.offset += name_end;
        }
        return Wrapped::Record(inner);
    }
    s.start = pos;
    Wrapped::Record(s)
}

/// A `grep -H` file name: a leading space-free token ending in `:` and followed by a
/// digit or an uppercase letter (a stamp). Returns the offset after the `:`.
fn grep_file_name(line: &[u8]) -> Option<usize> {
    let colon = line
        .iter()
        .take(256)
        .position(|&b| b == b':' || b == b' ')?;
    let after = line.get(colon + 1)?;
    (line.get(colon) == Some(&b':')
        && colon > 0
        && (after.is_ascii_digit() || after.is_ascii_uppercase()))
    .then_some(colon + 1)
}

/// `<PRI>`: 1-3 digits up to 191.
fn pri(line: &[u8]) -> Option<(u16, usize)> {
    let close = line.iter().take(5).position(|&b| b == b'>')?;
    let digits = line.get(1..close)?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits
        .iter()
        .fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    (v <= 191).then_some((v, close + 1))
}

/// Length of a padded RFC 3164 stamp with its trailing space: `Aug 30 16:28:09 `.
const STAMP: usize = super::calendar::STAMP_LEN;

/// Month number of `Mmm ` (English abbreviation and a space).
fn month_sp(b: &[u8]) -> Option<u32> {
    let m = match b.get(..3)? {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    (b.get(3) == Some(&b' ')).then_some(m)
}

fn digit(b: &[u8], i: usize) -> Option<u32> {
    b.get(i)
        .filter(|c| c.is_ascii_digit())
        .map(|c| u32::from(c - b'0'))
}

fn two(b: &[u8], i: usize) -> Option<u32> {
    Some(digit(b, i)? * 10 + digit(b, i + 1)?)
}

/// `hh:mm:ss` at `i`: seconds of the day.
fn hms(b: &[u8], i: usize) -> Option<u32> {
    let (h, m, s) = (two(b, i)?, two(b, i + 3)?, two(b, i + 6)?);
    let ok =
        b.get(i + 2) == Some(&b':') && b.get(i + 5) == Some(&b':') && h < 24 && m < 60 && s <= 60;
    ok.then_some(h * 3600 + m * 60 + s)
}

/// `Mmm dd hh:mm:ss ` (day space- or zero-padded, or unpadded): (day, secs of day, next).
fn rfc3164(b: &[u8], pos: usize, _month: u32) -> Option<(u32, u32, usize)> {
    let d = pos + 4;
    let (day, t) = match (b.get(d), b.get(d + 1)) {
        (Some(b' '), _) => (digit(b, d + 1)?, d + 3),
        (Some(_), Some(b' ')) => (digit(b, d)?, d + 2),
        _ => (two(b, d)?, d + 3),
    };
    if !(1..=31).contains(&day) || b.get(t - 1) != Some(&b' ') {
        return None;
    }
    let sod = hms(b, t)?;
    match b.get(t + 8) {
        Some(b' ') => Some((day, sod, t + 9)),
        None => Some((day, sod, t + 8)),
        _ => None,
    }
}

/// `YYYY-MM-DDThh:mm:ss[.frac][Z|±hh:mm] `.
fn rfc3339(b: &[u8], pos: usize, default_offset: i32) -> Option<(Timestamp, usize)> {
    let y = i64::from(two(b, pos)? * 100 + two(b, pos + 2)?);
    let (mo, d) = (two(b, pos + 5)?, two(b, pos + 8)?);
    let ok = b.get(pos + 7) == Some(&b'-') && b.get(pos + 10) == Some(&b'T');
    if !ok || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let sod = hms(b, pos + 11)?;
    let mut i = pos + 19;
    let (mut frac_us, mut digits) = (0u32, 0u8);
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(v) = digit(b, i) {
            if digits < 6 {
                frac_us = frac_us * 10 + v;
                digits += 1;
            }
            i += 1;
        }
        if digits == 0 {
            return None;
        }
        frac_us *= 10u32.pow(6 - u32::from(digits));
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let h = two(b, i + 1)?;
            let colon = usize::from(b.get(i + 3) == Some(&b':'));
            let m = two(b, i + 3 + colon)?;
            i += 5 + colon;
            let off = (h * 3600 + m * 60) as i32;
            if sign == b'-' { -off } else { off }
        }
        _ => default_offset,
    };
    match b.get(i) {
        Some(b' ') => i += 1,
        None => {}
        _ => return None,
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + i64::from(sod) - i64::from(offset);
    let ts = Timestamp {
        unix_us: secs * 1_000_000 + i64::from(frac_us),
        offset_secs: offset,
        frac_digits: digits,
    };
    Some((ts, i))
}

/// `dmesg -T`: `[Sat Feb  9 12:34:56 2019] `.
fn dmesg_t(b: &[u8], pos: usize, offset: i32) -> Option<(Timestamp, usize)> {
    let m = month_sp(b.get(pos + 5..)?)?;
    let (day, sod, next) = rfc3164(b, pos + 5, m)?;
    let y = i64::from(two(b, next)? * 100 + two(b, next + 2)?);
    if b.get(next + 4..next + 6) != Some(b"] ") {
        return None;
    }
    let secs = days_from_civil(y, m, day) * 86_400 + i64::from(sod) - i64::from(offset);
    Some((
        Timestamp {
            unix_us: secs * 1_000_000,
            offset_secs: offset,
            frac_digits: 0,
        },
        next + 6,
    ))
}

/// `/dev/kmsg`: `pri,seq,usec,flags[,…];message`.
fn kmsg(b: &[u8], pos: usize, env: &mut Envelope<'_>) -> Option<usize> {
    let head = b.get(pos..)?;
    let semi = head.iter().take(80).position(|&c| c == b';')?;
    let mut fields = head.get(..semi)?.split(|&c| c == b',');
    let num = |f: &[u8]| -> Option<u64> {
        if f.is_empty() || f.len() > 19 || !f.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(f.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')))
    };
    let pri = num(fields.next()?)?;
    num(fields.next()?)?;
    let usec = num(fields.next()?)?;
    fields.next()?;
    env.kind = EnvelopeKind::Kmsg;
    env.priority = u16::try_from(pri).ok();
    env.uptime = Some(Uptime {
        secs: usec / 1_000_000,
        micros: (usec % 1_000_000) as u32,
    });
    Some(pos + semi + 1)
}

/// Proxmox pvefw-logger: `VMID CHAIN-NO CHAIN dd/Mon/yyyy:hh:mm:ss +zzzz ACTION: …`.
fn is_proxmox(b: &[u8], pos: usize) -> bool {
    let mut it = b.get(pos..).unwrap_or(&[]).splitn(4, |&c| c == b' ');
    let (Some(a), Some(c), Some(_), Some(rest)) = (it.next(), it.next(), it.next(), it.next())
    else {
        return false;
    };
    let digits = |f: &[u8]| !f.is_empty() && f.iter().all(u8::is_ascii_digit);
    digits(a)
        && digits(c)
        && rest.get(2) == Some(&b'/')
        && rest.get(6) == Some(&b'/')
        && rest.get(11) == Some(&b':')
}

/// RFC 5424 after `<PRI>1 `: TIMESTAMP HOST APP PROCID MSGID SD MSG.
fn rfc5424<'a>(b: &'a [u8], mut i: usize, mut s: Split<'a>, opts: &ParseOptions) -> Wrapped<'a> {
    s.env.kind = EnvelopeKind::Rfc5424;
    if b.get(i..i + 2) == Some(b"- ") {
        i += 2;
    } else if let Some((ts, next)) = rfc3339(b, i, opts.utc_offset_secs) {
        s.env.time = Some(ts);
        i = next;
    } else {
        s.damaged = Some(ParseError::new(ErrorKind::BadTimestamp("RFC 5424"), i));
        s.start = i;
        return Wrapped::Record(s);
    }
    for field in 0..4 {
        let tok_len = b
            .get(i..)
            .map_or(0, |r| r.iter().take_while(|&&c| c != b' ').count());
        if field == 0 && tok_len > 0 && b.get(i..i + 2) != Some(b"- ") {
            s.env.host = b.get(i..i + tok_len).and_then(|h| utf8(h).ok());
        }
        i += tok_len + 1;
    }
    // Structured data: `-` or one or more `[…]` elements (`\]` escapes a bracket).
    if b.get(i) == Some(&b'-') {
        i += 1;
    } else {
        while b.get(i) == Some(&b'[') {
            i += 1;
            while let Some(&c) = b.get(i) {
                i += if c == b'\\' { 2 } else { 1 };
                if c == b']' {
                    break;
                }
            }
        }
    }
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    if b.get(i..i + 3) == Some(b"\xEF\xBB\xBF") {
        i += 3;
    }
    s.start = i.min(b.len());
    Wrapped::Record(s)
}

fn is_kernel_tag(tok: &[u8]) -> bool {
    tok == b"kernel:" || tok == b"vmunix:"
}

/// After a `kernel:` tag: an optional `[uptime]`.
fn after_tag<'a>(b: &'a [u8], pos: usize, env: &mut Envelope<'a>) -> usize {
    if b.get(pos) == Some(&b'[')
        && let Some((up, next)) = uptime(b, pos)
    {
        env.uptime = Some(up);
        return next;
    }
    pos
}

/// `IN=` inside a token (one `=` test per byte first: host names hold none).
fn has_in(tok: &[u8]) -> bool {
    tok.contains(&b'=') && tok.windows(3).any(|w| w == b"IN=")
}

fn token_at(b: &[u8], pos: usize) -> &[u8] {
    let r = b.get(pos..).unwrap_or(&[]);
    let n = r.iter().position(|&c| c == b' ').unwrap_or(r.len());
    r.get(..n).unwrap_or(r)
}

/// After a syslog stamp: `[host ][kernel: ][[uptime] ]`. A token that ends in `:` (other
/// than the kernel tag) or holds `IN=` starts the record: `Jan  8 03:37:09 DENY: IN=…`.
fn after_stamp<'a>(b: &'a [u8], pos: usize, env: &mut Envelope<'a>) -> usize {
    let tok = token_at(b, pos);
    if tok.first() == Some(&b'[') {
        return after_tag(b, pos, env);
    }
    if is_kernel_tag(tok) {
        return after_tag(b, pos + tok.len() + 1, env);
    }
    if tok.is_empty() || tok.ends_with(b":") || has_in(tok) {
        return pos;
    }
    env.host = utf8(tok).ok();
    let pos = (pos + tok.len() + 1).min(b.len());
    let tok = token_at(b, pos);
    if is_kernel_tag(tok) {
        return after_tag(b, pos + tok.len() + 1, env);
    }
    after_tag(b, pos, env)
}
