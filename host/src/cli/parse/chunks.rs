//! One input parsed on worker threads: the reading thread cuts the input into chunks of
//! whole lines, workers parse and format them, and the reading thread writes the results
//! in input order. Memory stays constant: a fixed number of chunks is in flight.
//!
//! Lines are cut exactly as [`LineReader`](portcullis::source::lines::LineReader) cuts
//! them (`\r\n` accepted, lines over `MAX_LINE` cut). The one state carried from line to
//! line, the year of RFC 3164 stamps, is handled speculatively: a chunk is parsed from the
//! latest state known when it is sent out, and parsed again on the writing thread if its
//! start state turns out to read it differently (only around a year wrap in the file).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use portcullis::parse::{ParseOptions, Parser, YearState};
use portcullis::source::lines::MAX_LINE;

use super::{Counts, Format, MAX_WARNINGS, Stop, classify, format_event};

/// Input bytes per chunk: large enough that handing chunks between threads costs little
/// (each hand-off wakes a thread), small enough that the chunks and their JSON output in
/// flight stay a few MiB. Tests use smaller chunks, to cross many chunk ends with little
/// data.
const CHUNK: usize = if cfg!(test) { 1 << 17 } else { 1 << 19 };

struct Job {
    index: u64,
    /// A `CHUNK`-sized buffer; the chunk is `input[..len]`.
    input: Vec<u8>,
    len: usize,
    assumed: YearState,
}

/// A parsed chunk.
struct Done {
    index: u64,
    input: Vec<u8>,
    len: usize,
    output: Vec<u8>,
    counts: Counts,
    /// (line number in the chunk, message) of the first malformed lines.
    warnings: Vec<(u64, String)>,
    assumed: YearState,
    first_month: Option<u32>,
    end: YearState,
}

/// Parses `input` with `threads` workers; same contract as the sequential `one_input`.
#[allow(clippy::too_many_arguments)]
pub(super) fn one_input(
    input: impl Read,
    name: &Path,
    format: Format,
    opts: ParseOptions,
    threads: usize,
    counts: &mut Counts,
    out: &mut impl Write,
) -> io::Result<Result<(), Stop>> {
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (rx, tx) = (Arc::clone(&job_rx), done_tx.clone());
            s.spawn(move || worker(&rx, &tx, format, opts));
        }
        drop(done_tx);
        let mut w = Writer {
            name,
            format,
            opts,
            counts,
            out,
            actual: YearState::default(),
            next: 0,
            pending: BTreeMap::new(),
            free: Vec::new(),
        };
        let r = w.run(input, &job_tx, &done_rx, threads as u64 * 2 + 1);
        drop(job_tx); // workers finish what they hold and exit; the scope joins them
        r
    })
}

fn worker(
    rx: &Mutex<mpsc::Receiver<Job>>,
    tx: &mpsc::Sender<Done>,
    format: Format,
    opts: ParseOptions,
) {
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let mut output = Vec::with_capacity(if format == Format::None {
            0
        } else {
            2 * job.len
        });
        let done = parse_chunk(job, opts, format, &mut output);
        if tx.send(Done { output, ..done }).is_err() {
            return;
        }
    }
}

/// Parses the lines of one chunk from `job.assumed`.
fn parse_chunk(job: Job, opts: ParseOptions, format: Format, output: &mut Vec<u8>) -> Done {
    let mut parser = Parser::resume(opts, job.assumed);
    let mut counts = Counts::default();
    let mut warnings = Vec::new();
    for line in lines(job.input.get(..job.len).unwrap_or_default()) {
        counts.lines += 1;
        // Matched by reference: moving the large event out of the result costs a copy.
        match &parser.parse(line) {
            Ok(Some(ev)) => {
                counts.events += 1;
                format_event(ev, format, output);
            }
            Ok(None) => counts.skipped += 1,
            Err(e) => {
                counts.malformed += 1;
                if counts.malformed <= MAX_WARNINGS {
                    warnings.push((counts.lines, e.to_string()));
                }
            }
        }
    }
    Done {
        index: job.index,
        output: Vec::new(),
        counts,
        warnings,
        assumed: job.assumed,
        first_month: parser.first_stamp_month(),
        end: parser.year_state(),
        input: job.input,
        len: job.len,
    }
}

/// The lines of a chunk, cut like `LineReader` cuts them. (`memchr`, not `slice::split`:
/// the latter tests one byte at a time and cost a fifth of the parse.)
fn lines(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = chunk;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut l = match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let l = rest.get(..i).unwrap_or_default();
                rest = rest.get(i + 1..).unwrap_or_default();
                l
            }
            None => std::mem::take(&mut rest),
        };
        l = l.get(..MAX_LINE).unwrap_or(l);
        Some(l.strip_suffix(b"\r").unwrap_or(l))
    })
}

/// The reading and writing side.
struct Writer<'a, W: Write> {
    name: &'a Path,
    format: Format,
    opts: ParseOptions,
    counts: &'a mut Counts,
    out: &'a mut W,
    /// Year state at the start of chunk `next`.
    actual: YearState,
    next: u64,
    pending: BTreeMap<u64, Done>,
    free: Vec<Vec<u8>>,
}

impl<W: Write> Writer<'_, W> {
    fn run(
        &mut self,
        input: impl Read,
        jobs: &mpsc::SyncSender<Job>,
        done: &mpsc::Receiver<Done>,
        max_in_flight: u64,
    ) -> io::Result<Result<(), Stop>> {
        let mut chunks = Chunker::new(input);
        let mut sent = 0u64;
        let mut input_done = false;
        loop {
            while !input_done && sent - self.next < max_in_flight {
                let buf = self.free.pop().unwrap_or_default();
                match chunks.next(buf)? {
                    Some((input, len)) => {
                        let job = Job {
                            index: sent,
                            input,
                            len,
                            assumed: self.actual,
                        };
                        sent += 1;
                        if jobs.send(job).is_err() {
                            return Err(io::Error::other("parser threads stopped"));
                        }
                    }
                    None => input_done = true,
                }
            }
            if sent == self.next {
                return Ok(Ok(()));
            }
            let Ok(d) = done.recv() else {
                return Err(io::Error::other("parser threads stopped"));
            };
            self.pending.insert(d.index, d);
            while let Some(d) = self.pending.remove(&self.next) {
                self.next += 1;
                if let Err(stop) = self.write(d) {
                    return Ok(Err(stop));
                }
            }
        }
    }

    /// Writes a chunk's results, after parsing it again if its assumed year state was wrong.
    fn write(&mut self, mut d: Done) -> Result<(), Stop> {
        if !d.assumed.reads_like(&self.actual, d.first_month) {
            let job = Job {
                index: d.index,
                input: std::mem::take(&mut d.input),
                len: d.len,
                assumed: self.actual,
            };
            let mut output = std::mem::take(&mut d.output);
            output.clear();
            d = parse_chunk(job, self.opts, self.format, &mut output);
            d.output = output;
        }
        if d.first_month.is_some() {
            self.actual = d.end;
        }
        let c = &mut *self.counts;
        for (k, (line, msg)) in d.warnings.iter().enumerate() {
            if c.malformed + (k as u64) < MAX_WARNINGS {
                eprintln!("warning: {}:{}: {msg}", self.name.display(), c.lines + line);
            }
        }
        c.lines += d.counts.lines;
        c.events += d.counts.events;
        c.skipped += d.counts.skipped;
        c.malformed += d.counts.malformed;
        let r = self.out.write_all(&d.output).map_err(classify);
        self.free.push(d.input);
        r
    }
}

/// Cuts a reader into chunks that end at a line end.
struct Chunker<R: Read> {
    inner: R,
    /// The start of a line that did not fit the previous chunk.
    carry: Vec<u8>,
    eof: bool,
}

impl<R: Read> Chunker<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            carry: Vec::new(),
            eof: false,
        }
    }

    /// One read into `buf`; sets `eof` on a zero read.
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.eof |= n == 0;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next chunk, in `buf` (reused: its length stays `CHUNK`, so it is zeroed only
    /// once) with the number of valid bytes; None at the end of the input.
    fn next(&mut self, mut buf: Vec<u8>) -> io::Result<Option<(Vec<u8>, usize)>> {
        if buf.len() < CHUNK {
            buf.resize(CHUNK, 0);
        }
        let mut len = self.carry.len();
        buf[..len].copy_from_slice(&self.carry);
        self.carry.clear();
        // Fill the chunk; a short read (a pipe) with a whole line in hand sends it early.
        while !self.eof && len < CHUNK {
            let n = self.read_some(&mut buf[len..])?;
            len += n;
            if n > 0 && len < CHUNK && memchr::memchr(b'\n', &buf[len - n..len]).is_some() {
                break;
            }
        }
        if self.eof {
            return Ok((len > 0).then_some((buf, len)));
        }
        if let Some(nl) = memchr::memrchr(b'\n', &buf[..len]) {
            self.carry.extend_from_slice(&buf[nl + 1..len]);
            return Ok(Some((buf, nl + 1)));
        }
        // One line longer than a chunk: keep its first MAX_LINE bytes, skip the rest.
        buf[MAX_LINE] = b'\n';
        let mut scratch = vec![0u8; 64 * 1024];
        while !self.eof {
            let n = self.read_some(&mut scratch)?;
            if let Some(nl) = memchr::memchr(b'\n', &scratch[..n]) {
                self.carry.extend_from_slice(&scratch[nl + 1..n]);
                break;
            }
        }
        Ok(Some((buf, MAX_LINE + 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(data: &[u8]) -> Vec<Vec<u8>> {
        let mut c = Chunker::new(data);
        let mut all = Vec::new();
        while let Some((chunk, len)) = c.next(Vec::new()).unwrap() {
            all.extend(lines(&chunk[..len]).map(<[u8]>::to_vec));
        }
        all
    }

    /// Sequential and chunked parsing print the same bytes and counts, also across a year
    /// wrap (a chunk parsed from a stale year state is parsed again) and with malformed
    /// lines, CRLF and a missing final newline.
    #[test]
    fn chunked_output_equals_sequential() {
        let rec = "kernel: DROP: IN=eth0 OUT= MAC=1a:95:8d:9a:88:a3:96:12:6a:f7:8a:da:08:00 \
                   SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP \
                   SPT=1234 DPT=22 WINDOW=512 RES=0x00 SYN URGP=0 ";
        let mut data = String::new();
        for (i, stamp) in ["Nov 30 23:59:59", "Dec 31 23:59:59", "Jan  1 00:00:01"]
            .iter()
            .enumerate()
        {
            for k in 0..1500 {
                data.push_str(&format!("{stamp} host{i} {rec}\n"));
                if k % 97 == 0 {
                    data.push_str("Jan  1 00:00:01 h kernel: IN=eth0 OUT= SRC=1.2.3\r\n");
                }
            }
        }
        data.push_str("sshd[1]: no newline at the end");
        // "Now" is 2026-12-31: a chunk parsed from no state would put the January lines in
        // 2026; only the state carried from the December lines says 2027.
        let opts = ParseOptions {
            reference_unix_secs: 1_798_718_400,
            utc_offset_secs: 0,
        };
        let run = |threads: usize| {
            let (mut counts, mut out) = (Counts::default(), Vec::new());
            let r = if threads == 1 {
                let mut buf = Vec::new();
                let r = super::super::one_input(
                    data.as_bytes(),
                    Path::new("t"),
                    Format::Json,
                    opts,
                    &mut counts,
                    &mut buf,
                    &mut out,
                );
                out.extend_from_slice(&buf);
                r
            } else {
                one_input(
                    data.as_bytes(),
                    Path::new("t"),
                    Format::Json,
                    opts,
                    threads,
                    &mut counts,
                    &mut out,
                )
            };
            assert!(matches!(r, Ok(Ok(()))));
            (counts, out)
        };
        let (c1, o1) = run(1);
        assert!(data.len() > 4 * CHUNK, "several chunks");
        assert_eq!(c1.malformed, 48);
        assert!(String::from_utf8_lossy(&o1).contains("\"ts\":\"2027-01-01T00:00:01Z\""));
        for threads in [2, 3] {
            let (c, o) = run(threads);
            assert_eq!(c, c1);
            assert!(o == o1, "output differs with {threads} threads");
        }
    }

    /// The same lines as `LineReader`, on the cases its own tests use.
    #[test]
    fn lines_match_the_line_reader() {
        use portcullis::source::lines::LineReader;
        let mut long = vec![b'a'; CHUNK * 2 + 5];
        long.extend_from_slice(b"\r\nnext\n\nlast\r");
        for data in [&b"a\nbb\r\n\nlast"[..], b"", b"x\n", b"\n\n", &long] {
            let mut r = LineReader::new(data);
            let mut want = Vec::new();
            while let Some(l) = r.next_line().unwrap() {
                want.push(l.to_vec());
            }
            assert_eq!(cut(data), want);
        }
    }
}
