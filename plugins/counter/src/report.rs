//! The log lines `tick` writes: one line per key kind for all events counted, one for the
//! window, each listing the top keys with count and share.
//!
//! ```text
//! top 3 src of 1886 events in total (exact): 218.92.222.240 802 (42.5%), 2.6.103.27 170 (9.0%), ...
//! top 3 src of 1886 events in the last 10m (each count within 12): ...
//! ```

use crate::key::Key;
use std::fmt::Write;

/// One line: `top <n> <kind> of <total> events <span> (<accuracy>): <key> <count> (<share>%), ...`.
pub fn line<'a>(
    kind: &str,
    span: &str,
    total: u64,
    accuracy: &str,
    n: usize,
    top: impl Iterator<Item = (&'a Key, u64)>,
) -> String {
    let mut s = format!("top {n} {kind} of {total} events {span} ({accuracy}):");
    let mut first = true;
    for (key, count) in top {
        let share = if total == 0 {
            0.0
        } else {
            count as f64 * 100.0 / total as f64
        };
        let sep = if first { " " } else { ", " };
        first = false;
        let _ = write!(s, "{sep}{key} {count} ({share:.1}%)");
    }
    if first {
        s.push_str(" none");
    }
    s
}

/// The accuracy note of a summary whose counts may be over by at most `over`.
pub fn over_by(over: u64) -> String {
    if over == 0 {
        "exact".to_string()
    } else {
        format!("each count at most {over} over")
    }
}

/// The accuracy note of merged window counts, within `bound` either way.
pub fn within(bound: u64) -> String {
    if bound == 0 {
        "exact".to_string()
    } else {
        format!("each count within {bound}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_list_keys_with_count_and_share() {
        let keys = [Key::Num(22), Key::Num(443)];
        let l = line(
            "dport",
            "in total",
            8,
            &over_by(0),
            2,
            [(&keys[0], 6), (&keys[1], 2)].into_iter(),
        );
        assert_eq!(
            l,
            "top 2 dport of 8 events in total (exact): 22 6 (75.0%), 443 2 (25.0%)"
        );
        let empty = line(
            "src",
            "in the last 10m",
            0,
            &within(3),
            10,
            std::iter::empty(),
        );
        assert_eq!(
            empty,
            "top 10 src of 0 events in the last 10m (each count within 3): none"
        );
    }
}
