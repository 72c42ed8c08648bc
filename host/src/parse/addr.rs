//! Fast readers for the address notations the kernel prints: `%pI4` dotted quads, `%pI6`
//! (uncompressed 8x4 hex, with a fallback for compressed forms) and `%pM` MAC addresses.
//!
//! `str::parse::<IpAddr>` needs a UTF-8 `&str` and handles many notations the kernel never
//! prints; these byte-level readers cover the kernel's forms in a few dozen instructions.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::cursor::{Cursor, HEX};
use super::error::{ErrorKind, ParseError};

/// A dotted quad at the start of `b`: four decimal octets of 1-3 digits, each at most 255.
/// Returns the address and the bytes consumed. The caller checks what follows.
#[inline]
pub(crate) fn ipv4_prefix(b: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let digit = |i: usize| {
        b.get(i)
            .map(|c| c.wrapping_sub(b'0'))
            .filter(|&d| d <= 9)
            .map(u16::from)
    };
    let mut oct = [0u8; 4];
    let mut i = 0;
    for (k, o) in oct.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let mut v = digit(i)?;
        i += 1;
        if let Some(d) = digit(i) {
            v = v * 10 + d;
            i += 1;
            if let Some(d) = digit(i) {
                v = v * 10 + d;
                i += 1;
            }
        }
        *o = u8::try_from(v).ok()?;
    }
    Some((Ipv4Addr::from(oct), i))
}

/// An IPv6 address filling all of `tok`: the kernel's 39-byte uncompressed form on the
/// fast path, any RFC 4291 text form (compressed, embedded IPv4) otherwise.
pub(crate) fn ipv6_token(tok: &[u8]) -> Option<Ipv6Addr> {
    if tok.len() == 39 {
        let mut groups = [0u16; 8];
        let mut ok = true;
        for (g, out) in groups.iter_mut().enumerate() {
            let base = g * 5;
            let mut v: u16 = 0;
            for k in 0..4 {
                let d = HEX[usize::from(tok.get(base + k).copied().unwrap_or(b'g'))];
                ok &= d != 0xFF;
                v = (v << 4) | u16::from(d & 0x0F);
            }
            if g < 7 {
                ok &= tok.get(base + 4) == Some(&b':');
            }
            *out = v;
        }
        if ok {
            return Some(Ipv6Addr::from(groups));
        }
    }
    std::str::from_utf8(tok).ok()?.parse().ok()
}

/// A MAC address `aa:bb:cc:dd:ee:ff` filling all of `tok`.
pub(crate) fn mac6(tok: &[u8]) -> Option<[u8; 6]> {
    if tok.len() != 17 {
        return None;
    }
    let mut out = [0u8; 6];
    for (k, o) in out.iter_mut().enumerate() {
        let hi = HEX[usize::from(*tok.get(k * 3)?)];
        let lo = HEX[usize::from(*tok.get(k * 3 + 1)?)];
        if hi == 0xFF || lo == 0xFF || (k < 5 && tok.get(k * 3 + 2) != Some(&b':')) {
            return None;
        }
        *o = (hi << 4) | lo;
    }
    Some(out)
}

/// Length of a `xx(:xx)*` hex-pair run at the start of `b` (0 when there is none).
pub(crate) fn mac_run(b: &[u8]) -> usize {
    // Both digits valid <=> the OR of their table values is below 16 (invalid is 0xFF).
    let pair = |h: u8, l: u8| HEX[usize::from(h)] | HEX[usize::from(l)] < 16;
    let mut i = 0;
    // Whole `xx:` triples, three bytes per step (a MAC header is 14 of them).
    while let Some(&[h, l, c]) = b.get(i..).and_then(<[u8]>::first_chunk::<3>) {
        if !pair(h, l) {
            break;
        }
        if c != b':' {
            return i + 2;
        }
        i += 3;
    }
    match b.get(i..) {
        Some(&[h, l]) if pair(h, l) => i + 2,
        // A dangling ':' belongs to no pair; give it back.
        _ => i.saturating_sub(1),
    }
}

impl<'a> Cursor<'a> {
    /// A dotted quad followed by a space, `]`, `-` or the end.
    #[inline]
    pub(crate) fn ipv4(&mut self, what: &'static str) -> Result<Ipv4Addr, ParseError> {
        let at = self.pos();
        match ipv4_prefix(self.rest()) {
            Some((a, n)) => {
                let after = self.rest().get(n).copied();
                if matches!(after, None | Some(b' ' | b']' | b'-')) {
                    self.advance(n);
                    Ok(a)
                } else {
                    Err(self.err_at(ErrorKind::BadIpv4(what), at))
                }
            }
            None if self.at_end() => Err(self.err(ErrorKind::UnexpectedEnd(what))),
            None => Err(self.err_at(ErrorKind::BadIpv4(what), at)),
        }
    }

    /// An IPv4 or IPv6 address token, then the separator.
    #[inline]
    pub(crate) fn ip(&mut self, what: &'static str) -> Result<IpAddr, ParseError> {
        let r = self.rest();
        if let Some((a, n)) = ipv4_prefix(r)
            && matches!(r.get(n), None | Some(b' '))
        {
            self.advance(n);
            self.sep(what)?;
            return Ok(IpAddr::V4(a));
        }
        let tok = self.token();
        if tok.is_empty() && self.at_end() {
            return Err(self.err(ErrorKind::UnexpectedEnd(what)));
        }
        if tok.contains(&b':') {
            let a = ipv6_token(tok).ok_or_else(|| self.err(ErrorKind::BadIpv6(what)))?;
            self.advance(tok.len());
            self.sep(what)?;
            Ok(IpAddr::V6(a))
        } else {
            Err(self.err(ErrorKind::BadIpv4(what)))
        }
    }

    /// A `%pM` MAC address token, then the separator.
    pub(crate) fn mac(&mut self, what: &'static str) -> Result<[u8; 6], ParseError> {
        let tok = self.token();
        if tok.is_empty() && self.at_end() {
            return Err(self.err(ErrorKind::UnexpectedEnd(what)));
        }
        let m = mac6(tok).ok_or_else(|| self.err(ErrorKind::BadMac(what)))?;
        self.advance(tok.len());
        self.sep(what)?;
        Ok(m)
    }
}

/// Appends `a` in dotted-quad form.
#[inline]
pub(crate) fn push_ipv4(out: &mut Vec<u8>, a: Ipv4Addr) {
    for (k, o) in a.octets().iter().enumerate() {
        if k > 0 {
            out.push(b'.');
        }
        let o = *o;
        if o >= 100 {
            out.push(b'0' + o / 100);
        }
        if o >= 10 {
            out.push(b'0' + (o / 10) % 10);
        }
        out.push(b'0' + o % 10);
    }
}

/// Appends `mac` as lowercase `aa:bb:cc:dd:ee:ff`.
pub(crate) fn push_mac(out: &mut Vec<u8>, mac: &[u8; 6]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (k, b) in mac.iter().enumerate() {
        if k > 0 {
            out.push(b':');
        }
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0F)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_forms() {
        assert_eq!(
            ipv4_prefix(b"192.168.1.2 "),
            Some((Ipv4Addr::new(192, 168, 1, 2), 11))
        );
        assert_eq!(ipv4_prefix(b"0.0.0.0"), Some((Ipv4Addr::UNSPECIFIED, 7)));
        assert_eq!(ipv4_prefix(b"256.1.2.3"), None);
        assert_eq!(ipv4_prefix(b"1.2.3"), None);
        assert_eq!(ipv4_prefix(b"1982.168.255.255"), None);
        assert_eq!(ipv4_prefix(b"216.xxx.56.87"), None);
        let mut c = Cursor::new(b"1.2.3.4x", 0);
        assert!(c.ipv4("SRC").is_err());
        let mut v = Vec::new();
        push_ipv4(&mut v, Ipv4Addr::new(10, 200, 3, 255));
        assert_eq!(v, b"10.200.3.255");
    }

    #[test]
    fn ipv6_forms() {
        let full = b"2a01:04f8:843f:f9b6:d7c6:1ef7:444b:93d7";
        let a = ipv6_token(full).unwrap();
        assert_eq!(a.to_string(), "2a01:4f8:843f:f9b6:d7c6:1ef7:444b:93d7");
        assert_eq!(
            ipv6_token(b"2a0a:1580::a").unwrap().to_string(),
            "2a0a:1580::a"
        );
        assert_eq!(
            ipv6_token(b"0000:0000:0000:0000:0000:0000:0000:0000").unwrap(),
            Ipv6Addr::UNSPECIFIED
        );
        assert!(ipv6_token(b"::zz").is_none());
        assert!(ipv6_token(b"2a03:b0c0:8924:b94c:b615:36c0:e[]\xc3\xa9 #Z").is_none());
    }

    #[test]
    fn macs() {
        assert_eq!(
            mac6(b"00:50:79:66:68:00"),
            Some([0, 0x50, 0x79, 0x66, 0x68, 0])
        );
        assert_eq!(mac6(b"6c:63:f8:xx:xx:xx"), None);
        assert_eq!(mac_run(b"aa:bb:08:00 SRC"), 11);
        assert_eq!(mac_run(b"aa:b"), 2);
        assert_eq!(mac_run(b" SRC"), 0);
        assert_eq!(mac_run(b"aa:"), 2);
    }
}
