//! The printk uptime stamp the kernel puts before a message (`[ 1646.252033] `, with an
//! optional caller id `[T123]`), as dmesg prints it and syslog daemons pass it on.

use super::envelope::Uptime;

/// `[   55.271535]` (optionally followed by a printk caller id `[T123]`) and a space.
pub(crate) fn uptime(b: &[u8], pos: usize) -> Option<(Uptime, usize)> {
    /// Scale of a fraction with 1-6 digits to microseconds.
    const SCALE: [u32; 7] = [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    let mut i = pos + 1;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let (mut secs, start) = (0u64, i);
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        // Up to 19 digits cannot overflow a u64.
        secs = if i - start < 19 {
            secs * 10 + u64::from(d)
        } else {
            secs.checked_mul(10)?.checked_add(u64::from(d))?
        };
        i += 1;
    }
    if i == start || b.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let frac = i;
    let mut micros = 0u32;
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if i - frac < 6 {
            micros = micros * 10 + u32::from(d);
        }
        i += 1;
    }
    let n = (i - frac).min(6);
    if n == 0 || b.get(i) != Some(&b']') {
        return None;
    }
    i += 1;
    if b.get(i) == Some(&b'[') && matches!(b.get(i + 1), Some(b'T' | b'C')) {
        let close = b.get(i..)?.iter().take(12).position(|&c| c == b']')?;
        i += close + 1;
    }
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    Some((
        Uptime {
            secs,
            micros: micros * SCALE.get(n).copied().unwrap_or(1),
        },
        i,
    ))
}
