//! The duration syntax used everywhere in Portcullis: `90s`, `10m`, `7d`, `1h30m`.
//!
//! A duration is one or more `<digits><unit>` terms, units `ms`, `s`, `m`, `h`, `d`, `w`. A
//! bare number is refused so that a config never leaves the unit to guesswork.

use core::fmt;

/// Why a duration did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    /// The text was empty.
    Empty,
    /// A number had no unit after it (`90` instead of `90s`).
    MissingUnit,
    /// A unit letter was not one of `s m h d w`.
    UnknownUnit(char),
    /// A unit had no number before it, or a character was neither digit nor unit.
    Malformed,
    /// The total does not fit in 64 bits of milliseconds.
    Overflow,
    /// Whole seconds were required but the text has a millisecond part.
    SubSecond,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => write!(f, "empty duration"),
            DurationError::MissingUnit => {
                write!(
                    f,
                    "a duration needs a unit (ms, s, m, h, d, w), as in 90s or 10m"
                )
            }
            DurationError::UnknownUnit(c) => {
                write!(f, "unknown duration unit '{c}' (use ms, s, m, h, d or w)")
            }
            DurationError::Malformed => write!(f, "not a duration (expected e.g. 90s, 10m, 7d)"),
            DurationError::Overflow => write!(f, "duration too large"),
            DurationError::SubSecond => write!(f, "duration must be whole seconds here"),
        }
    }
}

/// Parses a duration into whole seconds; a millisecond part is refused.
pub fn parse_secs(text: &str) -> Result<u64, DurationError> {
    let ms = parse_millis(text)?;
    if ms % 1000 != 0 {
        return Err(DurationError::SubSecond);
    }
    Ok(ms / 1000)
}

/// Parses a duration into milliseconds.
pub fn parse_millis(text: &str) -> Result<u64, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let bytes = text.as_bytes();
    let mut total: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let mut n: u64 = 0;
        while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(DurationError::Overflow)?;
            i += 1;
        }
        if i == start {
            return Err(DurationError::Malformed);
        }
        let unit_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        let unit_ms: u64 = match &text[unit_start..i] {
            "" if i == bytes.len() => return Err(DurationError::MissingUnit),
            "" => return Err(DurationError::Malformed),
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            other => {
                return Err(DurationError::UnknownUnit(
                    other.chars().next().unwrap_or('?'),
                ));
            }
        };
        total = n
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .ok_or(DurationError::Overflow)?;
    }
    Ok(total)
}

/// Formats seconds in the largest exact units, as `parse_secs` reads them (`3600` → `1h`).
pub fn format_secs(secs: u64, out: &mut impl fmt::Write) -> fmt::Result {
    if secs == 0 {
        return out.write_str("0s");
    }
    let mut rest = secs;
    for (unit, letter) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if rest >= unit {
            write!(out, "{}{letter}", rest / unit)?;
            rest %= unit;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_secs("90s"), Ok(90));
        assert_eq!(parse_secs("10m"), Ok(600));
        assert_eq!(parse_secs("7d"), Ok(604_800));
        assert_eq!(parse_secs("1h30m"), Ok(5400));
        assert_eq!(parse_secs(" 2w "), Ok(1_209_600));
        assert_eq!(parse_secs("0s"), Ok(0));
        assert_eq!(parse_millis("250ms"), Ok(250));
        assert_eq!(parse_millis("1s500ms"), Ok(1500));
        assert_eq!(parse_secs("1500ms"), Err(DurationError::SubSecond));
        assert_eq!(parse_secs("2000ms"), Ok(2));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert_eq!(parse_secs(""), Err(DurationError::Empty));
        assert_eq!(parse_secs("90"), Err(DurationError::MissingUnit));
        assert_eq!(parse_secs("10y"), Err(DurationError::UnknownUnit('y')));
        assert_eq!(parse_secs("m"), Err(DurationError::Malformed));
        assert_eq!(parse_secs("1.5h"), Err(DurationError::Malformed));
        assert_eq!(parse_secs("-5s"), Err(DurationError::Malformed));
        assert_eq!(
            parse_secs("99999999999999999999s"),
            Err(DurationError::Overflow)
        );
        assert_eq!(
            parse_secs("9999999999999999999w"),
            Err(DurationError::Overflow)
        );
    }

    #[test]
    fn formats_back_to_the_same_value() {
        for secs in [0u64, 1, 59, 60, 90, 3600, 5400, 86_400, 694_861] {
            let mut s = String::new();
            format_secs(secs, &mut s).unwrap();
            assert_eq!(parse_secs(&s), Ok(secs), "{s}");
        }
    }
}
