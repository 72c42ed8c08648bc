//! The fixed offset from UTC of log stamps that carry no zone (RFC 3164 syslog, journald's
//! short format): `UTC`, `Z`, `+02:00`, `-0530`, `+9`.

/// Parses an offset into seconds east of UTC; at most 18 hours either way.
pub fn parse(text: &str) -> Result<i32, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
        return Ok(0);
    }
    let bad = || format!("{text:?} is not a UTC offset (use UTC, +02:00, -05:30)");
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return Err(bad());
    }
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 18 || m > 59 || (h == 18 && m > 0) {
        return Err(format!("{text:?} is more than 18 hours from UTC"));
    }
    Ok(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_the_usual_forms() {
        assert_eq!(parse("UTC"), Ok(0));
        assert_eq!(parse("z"), Ok(0));
        assert_eq!(parse("+02:00"), Ok(7200));
        assert_eq!(parse("-05:30"), Ok(-19_800));
        assert_eq!(parse("+0545"), Ok(20_700));
        assert_eq!(parse("+9"), Ok(32_400));
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "", "CET", "02:00", "+25:00", "+02:60", "+1:2:3", "+abc", "+123",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
