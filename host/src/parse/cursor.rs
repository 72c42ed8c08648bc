//! A byte cursor over one record: literal matching, numbers and token boundaries.
//!
//! Every method is bounds-checked through slice `get`; none can panic on any input. A
//! failed match leaves the position unchanged, and errors carry the offset of the token
//! that failed so the caller can tell a cut line (error at the end) from a damaged one.

use super::error::{ErrorKind, ParseError};

/// Value of an ASCII hex digit, or 0xFF.
pub(crate) const HEX: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// `b` as text. Record text is nearly always ASCII, which a word-at-a-time check confirms
/// in a fraction of what `str::from_utf8`'s general validation costs on short spans.
#[inline]
pub(crate) fn utf8(b: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if b.is_ascii() {
        // SAFETY: every byte is ASCII (checked on the line above), and ASCII is valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        std::str::from_utf8(b)
    }
}

/// Position in a line plus the line itself.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }

    pub(crate) fn err(&self, kind: ErrorKind) -> ParseError {
        ParseError::new(kind, self.pos)
    }

    pub(crate) fn err_at(&self, kind: ErrorKind, pos: usize) -> ParseError {
        ParseError::new(kind, pos)
    }

    /// Consumes `lit` if the rest starts with it. (A fixed-size literal compiles to a few
    /// integer compares instead of a `memcmp` call.)
    #[inline(always)]
    pub(crate) fn eat<const N: usize>(&mut self, lit: &[u8; N]) -> bool {
        match self.rest().first_chunk::<N>() {
            Some(head) if head == lit => {
                self.pos += N;
                true
            }
            _ => false,
        }
    }

    /// Consumes the bare word `w` when it is followed by a space (consumed too) or the end.
    #[inline(always)]
    pub(crate) fn eat_word<const N: usize>(&mut self, w: &[u8; N]) -> bool {
        let r = self.rest();
        match r.first_chunk::<N>() {
            Some(head) if head == w => {}
            _ => return false,
        }
        match r.get(N) {
            None => {
                self.pos += N;
                true
            }
            Some(b' ') => {
                self.pos += N + 1;
                true
            }
            Some(_) => false,
        }
    }

    /// Consumes `lit` or fails: `UnexpectedEnd` when the line stops inside or before it.
    #[inline(always)]
    pub(crate) fn expect<const N: usize>(
        &mut self,
        lit: &[u8; N],
        what: &'static str,
    ) -> Result<(), ParseError> {
        if self.eat(lit) {
            return Ok(());
        }
        Err(self.mismatch(lit, what))
    }

    #[cold]
    fn mismatch(&self, lit: &[u8], what: &'static str) -> ParseError {
        let r = self.rest();
        if r.len() < lit.len() && lit.starts_with(r) {
            self.err(ErrorKind::UnexpectedEnd(what))
        } else {
            self.err(ErrorKind::Expected(what))
        }
    }

    /// The separator after a value: one space, or the end of the line (the kernel's trailing
    /// space is often stripped).
    #[inline]
    pub(crate) fn sep(&mut self, what: &'static str) -> Result<(), ParseError> {
        match self.peek() {
            Some(b' ') => {
                self.pos += 1;
                Ok(())
            }
            None => Ok(()),
            Some(_) => Err(self.err(ErrorKind::Expected(what))),
        }
    }

    /// The bytes up to the next space (or the end), not consumed. Tokens are short, so a
    /// plain loop beats `memchr`'s setup.
    #[inline]
    pub(crate) fn token(&self) -> &'a [u8] {
        let r = self.rest();
        let n = r.iter().position(|&b| b == b' ').unwrap_or(r.len());
        r.get(..n).unwrap_or(r)
    }

    #[cold]
    fn missing(&self, what: &'static str) -> ParseError {
        if self.at_end() {
            self.err(ErrorKind::UnexpectedEnd(what))
        } else {
            self.err(ErrorKind::BadNumber(what))
        }
    }

    /// A decimal number of at most `u32::MAX`.
    #[inline]
    pub(crate) fn dec(&mut self, what: &'static str) -> Result<u32, ParseError> {
        let r = self.rest();
        // Up to nine digits cannot overflow a u32: no checks in the loop.
        let mut v: u32 = 0;
        let mut n = 0;
        while let Some(&b) = r.get(n) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if n == 9 {
                return self.dec_long(what);
            }
            v = v * 10 + u32::from(d);
            n += 1;
        }
        if n == 0 {
            return Err(self.missing(what));
        }
        self.pos += n;
        Ok(v)
    }

    /// `dec` for ten digits or more.
    #[cold]
    fn dec_long(&mut self, what: &'static str) -> Result<u32, ParseError> {
        let r = self.rest();
        let mut v: u64 = 0;
        let mut n = 0;
        for &b in r {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v * 10 + u64::from(d);
            n += 1;
            if n > 10 {
                return Err(self.err(ErrorKind::OutOfRange(what)));
            }
        }
        let v = u32::try_from(v).map_err(|_| self.err(ErrorKind::OutOfRange(what)))?;
        self.pos += n;
        Ok(v)
    }

    #[inline]
    pub(crate) fn dec_u16(&mut self, what: &'static str) -> Result<u16, ParseError> {
        let at = self.pos;
        let v = self.dec(what)?;
        u16::try_from(v).map_err(|_| self.err_at(ErrorKind::OutOfRange(what), at))
    }

    #[inline]
    pub(crate) fn dec_u8(&mut self, what: &'static str) -> Result<u8, ParseError> {
        let at = self.pos;
        let v = self.dec(what)?;
        u8::try_from(v).map_err(|_| self.err_at(ErrorKind::OutOfRange(what), at))
    }

    /// Hexadecimal digits (either case), at most eight.
    #[inline]
    pub(crate) fn hex(&mut self, what: &'static str) -> Result<u32, ParseError> {
        let r = self.rest();
        let mut v: u32 = 0;
        let mut n = 0;
        for &b in r {
            let d = HEX[b as usize];
            if d == 0xFF {
                break;
            }
            if n == 8 {
                return Err(self.err(ErrorKind::OutOfRange(what)));
            }
            v = (v << 4) | u32::from(d);
            n += 1;
        }
        if n == 0 {
            return Err(self.missing(what));
        }
        self.pos += n;
        Ok(v)
    }

    /// Uppercase/lowercase hex digits up to `)`, returned as text (IP/TCP options).
    pub(crate) fn hex_run(&mut self, what: &'static str) -> Result<&'a str, ParseError> {
        let r = self.rest();
        let n = r.iter().take_while(|&&b| HEX[b as usize] != 0xFF).count();
        let s = r.get(..n).unwrap_or(&[]);
        self.pos += n;
        // Hex digits are ASCII, so this cannot fail; map defensively anyway.
        utf8(s).map_err(|_| self.err(ErrorKind::BadNumber(what)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_words() {
        let mut c = Cursor::new(b"123 0x1F abc", 0);
        assert_eq!(c.dec("n").unwrap(), 123);
        c.sep("sp").unwrap();
        assert!(c.eat(b"0x"));
        assert_eq!(c.hex("h").unwrap(), 0x1f);
        c.sep("sp").unwrap();
        assert!(!c.eat_word(b"ab"));
        assert!(c.eat_word(b"abc"));
        assert!(c.at_end());
    }

    #[test]
    fn overflow_and_end_are_errors() {
        let mut c = Cursor::new(b"99999999999", 0);
        assert!(matches!(
            c.dec("n").unwrap_err().kind,
            ErrorKind::OutOfRange(_)
        ));
        let mut c = Cursor::new(b"70000", 0);
        assert!(c.dec_u16("n").is_err());
        let mut c = Cursor::new(b"", 0);
        assert!(matches!(
            c.dec("n").unwrap_err().kind,
            ErrorKind::UnexpectedEnd(_)
        ));
        let mut c = Cursor::new(b"SR", 0);
        assert!(matches!(
            c.expect(b"SRC=", "SRC=").unwrap_err().kind,
            ErrorKind::UnexpectedEnd(_)
        ));
    }
}
