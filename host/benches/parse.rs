//! Parser throughput on `gen-fwlog` data: lines split by `LineReader`, parsed, and parsed
//! and written as JSON, on one thread. The data (20,000 lines, the options of the 1 M-line
//! baseline file) is generated into the target directory on first use by
//! `../shared/tools/gen-fwlog`; without it, the committed `tests/fixtures/gen-fwlog-*.log`
//! are used. The end-to-end figure (reading, all threads) is
//! `portcullis parse --format none --stats FILE` on the 1 M-line file.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis::parse::{ParseOptions, Parser, json};
use portcullis::source::lines::LineReader;

const OPTS: ParseOptions = ParseOptions {
    reference_unix_secs: 1_788_220_800,
    utc_offset_secs: 0,
};

fn data() -> Vec<u8> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gen-fwlog-20k-seed1.log");
    if !out.exists() {
        let gen_fwlog = manifest.join("../../shared/tools/gen-fwlog");
        let made = Command::new(&gen_fwlog)
            .args([
                "--lines", "20000", "--seed", "1", "--noise", "0.05", "--ipv6", "0.03",
            ])
            .arg("-o")
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            eprintln!(
                "{} not available: using the committed fixtures",
                gen_fwlog.display()
            );
            let mut v = Vec::new();
            for f in ["gen-fwlog-rfc3164.log", "gen-fwlog-rfc3339.log"] {
                let p = manifest.join("../tests/fixtures").join(f);
                v.extend(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
            }
            return v;
        }
    }
    std::fs::read(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()))
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = data();
    let lines = lines(&data);
    let mut g = c.benchmark_group("gen-fwlog");
    g.throughput(Throughput::Elements(lines.len() as u64));

    g.bench_function("split lines (LineReader)", |b| {
        b.iter(|| {
            let mut r = LineReader::new(black_box(&data[..]));
            let mut n = 0u64;
            while let Ok(Some(l)) = r.next_line() {
                n += l.len() as u64;
            }
            n
        });
    });
    g.bench_function("parse", |b| {
        b.iter(|| {
            let mut p = Parser::new(OPTS);
            let mut events = 0u32;
            for l in &lines {
                if let Ok(Some(ev)) = p.parse(black_box(l)) {
                    events += u32::from(ev.record.in_iface.len() < 16);
                }
            }
            events
        });
    });
    g.bench_function("parse + JSON", |b| {
        let mut out = Vec::with_capacity(data.len() * 2);
        b.iter(|| {
            out.clear();
            let mut p = Parser::new(OPTS);
            for l in &lines {
                if let Ok(Some(ev)) = p.parse(black_box(l)) {
                    json::write_json(&ev, &mut out);
                    out.push(b'\n');
                }
            }
            out.len()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
