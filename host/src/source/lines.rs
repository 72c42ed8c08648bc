//! A fast line splitter over any `std::io::Read`, in constant memory.
//!
//! Lines are returned as slices of an internal buffer (no allocation per line). A line
//! longer than [`MAX_LINE`] is returned cut at that length and the rest of it is skipped;
//! a kernel record is under 1 KiB, so only garbage gets cut.

use std::io::{self, Read};

/// Longest line returned whole.
pub const MAX_LINE: usize = 64 * 1024;

/// Buffer size: room for a maximal line plus a large read.
const BUF_SIZE: usize = 2 * MAX_LINE;

/// Reads `\n`-terminated lines from `R`.
pub struct LineReader<R: Read> {
    inner: R,
    buf: Box<[u8]>,
    /// Start of unconsumed data.
    start: usize,
    /// End of valid data.
    end: usize,
    /// Skipping the rest of an over-long line.
    discarding: bool,
    eof: bool,
}

impl<R: Read> LineReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0u8; BUF_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            discarding: false,
            eof: false,
        }
    }

    /// Next line without its `\n` (and without a `\r` before it); None at EOF. Constant
    /// memory: a line longer than 64 KiB is returned cut at 64 KiB and the rest of it
    /// discarded (a kernel record is < 1 KiB).
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        let mut scanned = 0; // bytes after `start` known to hold no newline
        let (s, e) = loop {
            let avail = self.buf.get(self.start..self.end).unwrap_or(&[]);
            if let Some(i) = avail.get(scanned..).and_then(|r| memchr::memchr(b'\n', r)) {
                let nl = self.start + scanned + i;
                let line_start = self.start;
                self.start = nl + 1;
                if self.discarding {
                    self.discarding = false;
                    scanned = 0;
                    continue;
                }
                // A long line found whole in the buffer is cut like one that is not.
                break (line_start, nl.min(line_start + MAX_LINE));
            }
            scanned = avail.len();
            if self.discarding {
                self.start = self.end;
                scanned = 0;
            } else if avail.len() >= MAX_LINE {
                let line_start = self.start;
                self.start += MAX_LINE;
                self.discarding = true;
                break (line_start, line_start + MAX_LINE);
            }
            if self.eof {
                if self.start < self.end && !self.discarding {
                    let line_start = self.start;
                    self.start = self.end;
                    break (line_start, self.end);
                }
                return Ok(None);
            }
            self.fill()?;
        };
        let mut line = self.buf.get(s..e).unwrap_or(&[]);
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        Ok(Some(line))
    }

    /// Moves pending data to the front and reads more; sets `eof` on a zero read.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            let room = self.buf.get_mut(self.end..).unwrap_or(&mut []);
            if room.is_empty() {
                return Ok(());
            }
            match self.inner.read(room) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(data: &[u8]) -> Vec<Vec<u8>> {
        let mut r = LineReader::new(data);
        let mut v = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            v.push(l.to_vec());
        }
        v
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        assert_eq!(
            collect(b"a\nbb\r\n\nlast"),
            vec![b"a".to_vec(), b"bb".to_vec(), vec![], b"last".to_vec()]
        );
        assert_eq!(collect(b""), Vec::<Vec<u8>>::new());
        assert_eq!(collect(b"x\n"), vec![b"x".to_vec()]);
    }

    #[test]
    fn long_lines_are_cut_and_the_rest_skipped() {
        let mut data = vec![b'a'; MAX_LINE * 3 + 5];
        data.extend_from_slice(b"\nnext\n");
        let lines = collect(&data);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1], b"next");
        // Longer than MAX_LINE but with its newline already in the buffer: cut the same.
        let mut data = vec![b'b'; MAX_LINE + 10];
        data.extend_from_slice(b"\nnext\n");
        let lines = collect(&data);
        assert_eq!((lines[0].len(), &lines[1][..]), (MAX_LINE, &b"next"[..]));
    }

    /// A reader that hands out one byte at a time, to exercise refills.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn works_with_short_reads() {
        let data = b"one\ntwo\r\nthree";
        let mut r = LineReader::new(Trickle(data));
        let mut v = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            v.push(String::from_utf8(l.to_vec()).unwrap());
        }
        assert_eq!(v, ["one", "two", "three"]);
    }
}
