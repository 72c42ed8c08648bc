//! journald JSON: one `journalctl -o json` object per line (`MESSAGE`,
//! `__REALTIME_TIMESTAMP`, `_HOSTNAME`), or a `"message": "…"` member line of a
//! pretty-printed shipper document.
//!
//! Only flat string values are read, found by their quoted key. The record is borrowed
//! from inside the JSON string, so a `MESSAGE` that uses escapes cannot be returned
//! verbatim: it is skipped when it holds no record and rejected when it does.

use memchr::memmem;

use super::envelope::{Envelope, EnvelopeKind, Split, Timestamp, Wrapped};
use super::error::{ErrorKind, ParseError};

/// A string value: its byte range, or `Err(end_of_scan)` when it contains escapes.
fn string_value(line: &[u8], key: &[u8]) -> Option<Result<(usize, usize), usize>> {
    let k = memmem::find(line, key)?;
    let mut i = k + key.len();
    while matches!(line.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if line.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while matches!(line.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if line.get(i) != Some(&b'"') {
        return None; // null, a byte array, a number...
    }
    let start = i + 1;
    let rest = line.get(start..)?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    match rest.get(end) {
        Some(b'"') => Some(Ok((start, start + end))),
        _ => Some(Err(start)),
    }
}

fn has_record(b: &[u8]) -> bool {
    memmem::find(b, b"IN=").is_some() && memmem::find(b, b" OUT=").is_some()
}

fn message<'a>(line: &'a [u8], key: &[u8], mut env: Envelope<'a>) -> Wrapped<'a> {
    match string_value(line, key) {
        None => Wrapped::Skip,
        Some(Err(start)) => {
            if has_record(line.get(start..).unwrap_or(&[])) {
                Wrapped::Unsupported(ParseError::new(ErrorKind::JsonEscapes, start))
            } else {
                Wrapped::Skip
            }
        }
        Some(Ok((start, end))) => {
            env.kind = EnvelopeKind::JournalJson;
            Wrapped::Record(Split {
                env,
                start,
                end,
                damaged: None,
            })
        }
    }
}

/// A whole `journalctl -o json` object on one line.
pub(crate) fn object(line: &[u8]) -> Wrapped<'_> {
    let mut env = Envelope::default();
    if let Some(Ok((s, e))) = string_value(line, b"\"__REALTIME_TIMESTAMP\"")
        && let Some(us) = line.get(s..e).and_then(decimal)
    {
        env.time = Some(Timestamp {
            unix_us: us,
            offset_secs: 0,
            frac_digits: 6,
        });
    }
    if let Some(Ok((s, e))) = string_value(line, b"\"_HOSTNAME\"") {
        env.host = line.get(s..e).and_then(|h| std::str::from_utf8(h).ok());
    }
    message(line, b"\"MESSAGE\"", env)
}

/// A `"message": "…"` member on its own line (pretty-printed JSON).
pub(crate) fn member(line: &[u8], lead: usize) -> Wrapped<'_> {
    let rest = line.get(lead..).unwrap_or(&[]);
    let key: &[u8] = if rest.starts_with(b"\"message\"") {
        b"\"message\""
    } else if rest.starts_with(b"\"MESSAGE\"") {
        b"\"MESSAGE\""
    } else {
        return Wrapped::Skip;
    };
    message(line, key, Envelope::default())
}

fn decimal(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 18 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_message_and_time() {
        let line = br#"{ "__REALTIME_TIMESTAMP" : "1642033008518660", "_HOSTNAME" : "h1", "MESSAGE" : "x IN=eth0 OUT= " }"#;
        let Wrapped::Record(s) = object(line) else {
            panic!("no record")
        };
        assert_eq!(&line[s.start..s.end], b"x IN=eth0 OUT= ");
        assert_eq!(s.env.time.unwrap().unix_us, 1_642_033_008_518_660);
        assert_eq!(s.env.host, Some("h1"));
    }

    #[test]
    fn escapes_are_rejected_only_for_records() {
        let line = br#"{"MESSAGE":"say \"hi\" IN=eth0 OUT= SRC=1.2.3.4"}"#;
        assert!(matches!(object(line), Wrapped::Unsupported(_)));
        let line = br#"{"MESSAGE":"say \"hi\""}"#;
        assert!(matches!(object(line), Wrapped::Skip));
        let line = br#"{"MESSAGE":[1,2,3]}"#;
        assert!(matches!(object(line), Wrapped::Skip));
    }
}
