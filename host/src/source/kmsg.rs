//! The kernel's log device, `/dev/kmsg`: one record per `read(2)`, never written by
//! anything but the kernel (local users can forge syslog lines with `logger`; not these).
//! Records carry a sequence number, so a reader that remembers the last one it handled
//! resumes exactly after it, and sees when records were overwritten before it read them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Largest record the kernel hands out (`CONSOLE_EXT_LOG_MAX` is 8 KiB).
const RECORD_MAX: usize = 16 * 1024;

/// Where to start reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsgStart {
    /// The oldest record still in the buffer.
    Beginning,
    /// Only records logged from now on.
    End,
    /// The first record after this sequence number (older ones are skipped).
    After(u64),
}

/// One record.
#[derive(Debug, PartialEq, Eq)]
pub struct KmsgRecord<'a> {
    /// The kernel's sequence number.
    pub seq: u64,
    /// The record's first line (`pri,seq,usec,flags;text`), without dictionary lines.
    pub line: &'a [u8],
}

/// A non-blocking reader of `/dev/kmsg`.
pub struct Kmsg {
    file: File,
    buf: Vec<u8>,
    skip_through: Option<u64>,
    /// Records lost because the kernel overwrote them before they were read.
    pub overwritten: u64,
}

impl Kmsg {
    /// Opens `path` (normally `/dev/kmsg`) positioned at `start`.
    pub fn open(path: &Path, start: KmsgStart) -> io::Result<Kmsg> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        match start {
            KmsgStart::End => {
                file.seek(SeekFrom::End(0))?;
            }
            KmsgStart::Beginning | KmsgStart::After(_) => {
                file.seek(SeekFrom::Start(0))?;
            }
        }
        Ok(Kmsg {
            file,
            buf: vec![0; RECORD_MAX],
            skip_through: match start {
                KmsgStart::After(seq) => Some(seq),
                _ => None,
            },
            overwritten: 0,
        })
    }

    /// The next record, or `None` when none is waiting.
    pub fn next_record(&mut self) -> io::Result<Option<KmsgRecord<'_>>> {
        loop {
            let n = match self.file.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                // The kernel overwrote records we had not read yet; reading goes on with
                // the oldest one left.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                    self.overwritten += 1;
                    tracing::warn!("kmsg: records were overwritten before they were read");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(None);
            }
            let record = &self.buf[..n];
            let first = match memchr::memchr(b'\n', record) {
                Some(i) => &record[..i],
                None => record,
            };
            let Some(seq) = sequence(first) else {
                continue;
            };
            if self.skip_through.is_some_and(|s| seq <= s) {
                continue;
            }
            self.skip_through = None;
            let end = first.len();
            return Ok(Some(KmsgRecord {
                seq,
                line: &self.buf[..end],
            }));
        }
    }
}

/// The sequence number of a `pri,seq,usec,flags[,…];text` record.
pub fn sequence(line: &[u8]) -> Option<u64> {
    let header = &line[..memchr::memchr(b';', line)?];
    let seq = header.split(|b| *b == b',').nth(1)?;
    std::str::from_utf8(seq).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sequence_number() {
        assert_eq!(sequence(b"4,1234,5678901,-;PC: IN=veth0"), Some(1234));
        assert_eq!(sequence(b"6,17,0,c,caller=T1;x"), Some(17));
        assert_eq!(sequence(b"no header"), None);
        assert_eq!(sequence(b"4,x,1,-;y"), None);
    }

    #[test]
    fn reads_this_machines_kernel_log_when_allowed() {
        // /dev/kmsg needs CAP_SYSLOG (or a permissive kernel.dmesg_restrict); the test
        // says which and stops when it cannot read it.
        let mut k = match Kmsg::open(Path::new("/dev/kmsg"), KmsgStart::Beginning) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("SKIPPED: cannot open /dev/kmsg: {e}");
                return;
            }
        };
        let first = k.next_record().unwrap().map(|r| r.seq);
        let Some(first) = first else {
            eprintln!("SKIPPED: the kernel log is empty");
            return;
        };
        let second = k.next_record().unwrap().map(|r| r.seq);
        if let Some(second) = second {
            assert!(second > first);
            let mut again = Kmsg::open(Path::new("/dev/kmsg"), KmsgStart::After(first)).unwrap();
            assert_eq!(again.next_record().unwrap().map(|r| r.seq), Some(second));
        }
    }
}
