//! Calendar arithmetic for wrapper timestamps, and the year inference RFC 3164 stamps need.
//!
//! RFC 3164 (`Aug 30 16:28:09`) carries no year and no zone. The year comes from a
//! reference "now" for the first stamp of a file and is then carried forward, incremented
//! when the months wrap (December -> January), so a file spanning New Year stays monotonic.

use super::ParseOptions;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as `2026-11-25T11:35:55Z`.
pub fn format_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Inverse of [`days_from_civil`]: (year, month 1-12, day 1-31).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the epoch of a local wall-clock time, as if it were UTC.
pub(crate) fn local_secs(y: i64, m: u32, d: u32, secs_of_day: u32) -> i64 {
    days_from_civil(y, m, d) * 86_400 + i64::from(secs_of_day)
}

/// The year state carried across the lines of one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct YearTracker {
    year: Option<i64>,
    last_month: u32,
    /// Month of the first stamp resolved since this tracker was created or resumed.
    first_month: Option<u32>,
    /// The last date converted and its day number: consecutive lines share a date.
    last_date: Option<((i64, u32, u32), i64)>,
    /// The bytes of the last RFC 3164 stamp and its unix seconds, valid while no other
    /// stamp has been resolved since: resolving the same stamp twice in a row gives the
    /// same time and leaves the state as it was.
    last_stamp: Option<([u8; STAMP_LEN], i64)>,
}

/// Length of a padded RFC 3164 stamp with its trailing space (`Aug 30 16:28:09 `).
pub(crate) const STAMP_LEN: usize = 16;

/// Where year inference stands between two lines: the year and month of the last RFC 3164
/// stamp. Lets a file be parsed in chunks on several threads (see [`YearState::reads_like`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YearState {
    year: Option<i64>,
    last_month: u32,
}

impl YearState {
    /// Whether a parser resumed from `self` reads a run of lines exactly as one resumed from
    /// `actual` does, given the month of the run's first RFC 3164 stamp (`None`: the run has
    /// none, so the state is never consulted). True when both states give the first stamp
    /// the same year without a wrap or straggler decision: after it they are identical.
    pub fn reads_like(&self, actual: &YearState, first_month: Option<u32>) -> bool {
        let Some(m) = first_month else { return true };
        if self == actual {
            return true;
        }
        let plain = |last: u32| m + 6 > last && m < last + 6;
        self.year.is_some()
            && self.year == actual.year
            && plain(self.last_month)
            && plain(actual.last_month)
    }
}

/// How far in the future a first stamp may be before it is taken as last year's.
const FUTURE_SLACK_SECS: i64 = 31 * 86_400;

impl YearTracker {
    /// A tracker continuing from `state`.
    pub(crate) fn resume(state: YearState) -> Self {
        Self {
            year: state.year,
            last_month: state.last_month,
            ..Self::default()
        }
    }

    pub(crate) fn state(&self) -> YearState {
        YearState {
            year: self.year,
            last_month: self.last_month,
        }
    }

    pub(crate) fn first_month(&self) -> Option<u32> {
        self.first_month
    }

    /// Unix seconds of `stamp` if it is the stamp remembered by the last resolution.
    #[inline]
    pub(crate) fn cached_stamp(&self, stamp: Option<&[u8]>) -> Option<i64> {
        match (&self.last_stamp, stamp) {
            (Some((bytes, secs)), Some(s)) if s == bytes => Some(*secs),
            _ => None,
        }
    }

    /// Remembers the bytes of the stamp just resolved to `secs`.
    pub(crate) fn remember_stamp(&mut self, stamp: &[u8], secs: i64) {
        self.last_stamp = stamp.try_into().ok().map(|b| (b, secs));
    }

    /// Unix seconds of a year-less local stamp.
    pub(crate) fn resolve(&mut self, month: u32, day: u32, sod: u32, opts: &ParseOptions) -> i64 {
        self.last_stamp = None;
        self.first_month.get_or_insert(month);
        let y = match self.year {
            None => {
                let local_now = opts.reference_unix_secs + i64::from(opts.utc_offset_secs);
                let (ry, _, _) = civil_from_days(local_now.div_euclid(86_400));
                let y = if local_secs(ry, month, day, sod) - local_now > FUTURE_SLACK_SECS {
                    ry - 1
                } else {
                    ry
                };
                self.year = Some(y);
                self.last_month = month;
                y
            }
            Some(y) if month + 6 <= self.last_month => {
                // Months wrapped (Dec -> Jan): a new year.
                self.year = Some(y + 1);
                self.last_month = month;
                y + 1
            }
            // A straggler from before the wrap (Jan -> Dec): last year, state unchanged.
            Some(y) if month >= self.last_month + 6 => y - 1,
            Some(y) => {
                self.last_month = month;
                y
            }
        };
        let days = match self.last_date {
            Some((date, days)) if date == (y, month, day) => days,
            _ => {
                let days = days_from_civil(y, month, day);
                self.last_date = Some(((y, month, day), days));
                days
            }
        };
        days * 86_400 + i64::from(sod) - i64::from(opts.utc_offset_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(now: i64) -> ParseOptions {
        ParseOptions {
            reference_unix_secs: now,
            utc_offset_secs: 0,
        }
    }

    #[test]
    fn formats_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_795_606_555), "2026-11-25T11:35:55Z");
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for z in [-800_000i64, -1, 0, 59, 10_000, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn first_stamp_takes_reference_year_or_the_one_before() {
        let now = local_secs(2026, 9, 1, 0); // 2026-09-01
        let mut t = YearTracker::default();
        assert_eq!(
            t.resolve(8, 30, 3600, &opts(now)),
            local_secs(2026, 8, 30, 3600)
        );
        let mut t = YearTracker::default();
        // December seen in early September: more than a month ahead -> last year.
        assert_eq!(
            t.resolve(12, 24, 0, &opts(now)),
            local_secs(2025, 12, 24, 0)
        );
    }

    #[test]
    fn rollover_increments_and_stragglers_do_not() {
        let now = local_secs(2026, 1, 2, 0);
        let mut t = YearTracker::default();
        assert_eq!(
            t.resolve(12, 31, 0, &opts(now)),
            local_secs(2025, 12, 31, 0)
        );
        assert_eq!(t.resolve(1, 1, 0, &opts(now)), local_secs(2026, 1, 1, 0));
        assert_eq!(
            t.resolve(12, 31, 5, &opts(now)),
            local_secs(2025, 12, 31, 5)
        );
        assert_eq!(t.resolve(1, 1, 9, &opts(now)), local_secs(2026, 1, 1, 9));
    }

    #[test]
    fn resumed_states_read_alike_only_without_a_year_decision() {
        let o = opts(local_secs(2026, 9, 1, 0));
        let mut t = YearTracker::default();
        t.resolve(3, 1, 0, &o);
        let march = t.state();
        t.resolve(4, 1, 0, &o);
        let april = t.state();
        // Same year, the next stamp is a plain month step from either: same outcome.
        assert!(march.reads_like(&april, Some(5)));
        assert!(march.reads_like(&april, None));
        // From March, a January stamp is plain; from a state in October it is a wrap.
        t.resolve(7, 1, 0, &o);
        t.resolve(10, 1, 0, &o);
        let october = t.state();
        assert_eq!(october.last_month, 10);
        assert!(!march.reads_like(&october, Some(1)));
        assert!(!YearState::default().reads_like(&march, Some(3)));
        let mut r = YearTracker::resume(october);
        assert_eq!(r.first_month(), None);
        r.resolve(1, 2, 0, &o);
        assert_eq!((r.first_month(), r.state().year), (Some(1), Some(2027)));
    }

    #[test]
    fn offset_is_applied() {
        let o = ParseOptions {
            reference_unix_secs: local_secs(2026, 8, 30, 0),
            utc_offset_secs: 7200,
        };
        let mut t = YearTracker::default();
        assert_eq!(t.resolve(8, 30, 7200, &o), local_secs(2026, 8, 30, 0));
    }
}
