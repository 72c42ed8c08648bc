//! The live service, measured from outside with the release binary:
//!
//! - **latency**: from a line being written (to a followed file, or to /dev/kmsg as the
//!   kernel's LOG target would) to its ban being in the nftables set, checked with
//!   `nft get element` in a tight loop, over many lines; p50, p99 and max. The service runs
//!   in a network namespace this bench creates, with a stage banning every source on its
//!   first event.
//! - **throughput**: a file grown at 500,000 lines/s (chunks every 10 ms) for 10 s, followed
//!   with the standard chain (cidr-filter, geoip-enrich, counter, threshold-ban; dry-run
//!   backend); whether it keeps up, the lag when the writer stops, and the service's peak
//!   RSS.
//!
//! `sudo cargo bench --bench live` (needs root; about a minute). Reads the log to replay from
//! `PORTCULLIS_BENCH_LOG` (default /tmp/fw-1m.log, made with `gen-fwlog --lines 1000000
//! --seed 1 --noise 0.05 --ipv6 0.03`); without it the throughput part is skipped. Source
//! addresses for the latency part are from 198.18.0.0/15 (RFC 2544's benchmark range).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SAMPLES: u32 = 200;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_portcullis")
}

fn line(prefix: &str, src: Ipv4Addr) -> String {
    format!(
        "{prefix} IN=eth0 OUT= MAC= SRC={src} DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0 "
    )
}

fn start(ns: Option<&str>, config: &Path) -> Child {
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, bin()]);
            c
        }
        None => Command::new(bin()),
    };
    let child = cmd
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start portcullis");
    // Plugins are compiled (or loaded from the cache) before it runs.
    std::thread::sleep(Duration::from_secs(2));
    child
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn latency(kind: &str, ns: &str, dir: &Path) {
    let log = dir.join(format!("{kind}.log"));
    std::fs::write(&log, "").unwrap();
    let prefix = format!("PCLAT{}", std::process::id());
    let source = match kind {
        "file" => format!(
            "[[sources]]\nkind = \"file\"\npath = \"{}\"\n",
            log.display()
        ),
        _ => format!(
            "[[sources]]\nkind = \"kmsg\"\n[[pipeline]]\nname = \"ours\"\nplugin = \"cidr-filter\"\n\
             [pipeline.config]\ndrop_prefixes = [\"*\"]\nkeep_prefixes = [\"{prefix}\"]\n"
        ),
    };
    let config = dir.join(format!("{kind}.toml"));
    std::fs::write(
        &config,
        format!(
            "{source}[[pipeline]]\nname = \"first\"\nplugin = \"threshold-ban\"\n[pipeline.config]\n\
             threshold = 1\nwindow = \"1h\"\nban_for = \"1h\"\n\
             [actions]\nbackend = \"nftables\"\nmax_new_per_minute = 1000000\n\
             [state]\ndir = \"{}\"\n",
            dir.join(format!("state-{kind}")).display()
        ),
    )
    .unwrap();
    let child = start(Some(ns), &config);
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    // The kernel rate-limits writes to /dev/kmsg per open file (10 per 5 s): one open per
    // line, as separate writers would.
    let kmsg_line = |text: &str| {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/kmsg")
            .and_then(|mut k| k.write_all(text.as_bytes()))
            .expect("write /dev/kmsg")
    };
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + if kind == "file" { 0 } else { 10_000 };
    let mut samples = Vec::new();
    for i in 0..SAMPLES {
        let src = Ipv4Addr::from(base + i);
        let t0 = Instant::now();
        match kind {
            "kmsg" => kmsg_line(&format!("<4>{}\n", line(&prefix, src))),
            _ => file
                .write_all(
                    format!("Aug 30 10:00:00 fw kernel: {}\n", line("DROP:", src)).as_bytes(),
                )
                .unwrap(),
        }
        let element = format!("{{ {src} }}");
        loop {
            let found = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    ns,
                    "nft",
                    "get",
                    "element",
                    "inet",
                    "portcullis",
                    "ban4",
                    &element,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if found {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{kind}: {src} never banned"
            );
        }
        samples.push(t0.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(child);
    samples.sort();
    println!(
        "latency {kind:<5} line written -> ban in nftables: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({SAMPLES} lines)",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn metric(port: u16, name: &str) -> f64 {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0.0;
    };
    let _ = conn.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
    let mut text = String::new();
    let _ = conn.read_to_string(&mut text);
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

fn throughput(dir: &Path, source_log: &Path) {
    let text = std::fs::read(source_log).unwrap();
    let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    let log = dir.join("grow.log");
    std::fs::write(&log, "").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let full = Path::new("/work/shared/geoip/full");
    let geo = if full.join("GeoLite2-City.mmdb").exists() {
        format!(
            "[geoip]\ncity = \"{}\"\nasn = \"{}\"\n",
            full.join("GeoLite2-City.mmdb").display(),
            full.join("ipl-asn.mmdb").display()
        )
    } else {
        let t = root.join("tests/fixtures/geoip");
        format!(
            "[geoip]\ncity = \"{}\"\nasn = \"{}\"\n",
            t.join("GeoLite2-City-Test.mmdb").display(),
            t.join("GeoLite2-ASN-Test.mmdb").display()
        )
    };
    let config = dir.join("grow.toml");
    std::fs::write(
        &config,
        format!(
            "[[sources]]\nkind = \"file\"\npath = \"{}\"\n\
             [[pipeline]]\nname = \"private\"\nplugin = \"cidr-filter\"\n[pipeline.config]\ndrop_sources = [\"private\"]\n\
             [[pipeline]]\nname = \"geo\"\nplugin = \"geoip-enrich\"\n\
             [[pipeline]]\nname = \"count\"\nplugin = \"counter\"\n\
             [[pipeline]]\nname = \"flood\"\nplugin = \"threshold-ban\"\n[pipeline.config]\nthreshold = 200\nwindow = \"1m\"\nban_for = \"1h\"\n\
             [actions]\nbackend = \"dry-run\"\n[state]\ndir = \"{}\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n{geo}",
            log.display(),
            dir.join("state-grow").display()
        ),
    )
    .unwrap();
    let child = start(None, &config);
    let pid = child.id();
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let per_tick = 5_000; // every 10 ms: 500,000 lines/s
    let seconds = 10;
    let started = Instant::now();
    let mut written = 0u64;
    let mut max_behind = 0f64;
    for tick in 0..(seconds * 100) {
        let from = (tick * per_tick) % lines.len();
        let chunk: Vec<u8> = lines[from..(from + per_tick).min(lines.len())].concat();
        file.write_all(&chunk).unwrap();
        written += (chunk.iter().filter(|b| **b == b'\n').count()) as u64;
        if tick % 50 == 0 {
            let read = metric(
                port,
                &format!(
                    "portcullis_source_lines_total{{source=\"file:{}\"}}",
                    log.display()
                ),
            );
            max_behind = max_behind.max(written as f64 - read);
        }
        let next = started + Duration::from_millis(10 * (tick as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let wrote_for = started.elapsed();
    let label = format!(
        "portcullis_source_lines_total{{source=\"file:{}\"}}",
        log.display()
    );
    let behind_at_stop = written as f64 - metric(port, &label);
    let caught = Instant::now();
    while metric(port, &label) < written as f64 {
        std::thread::sleep(Duration::from_millis(10));
        assert!(
            caught.elapsed() < Duration::from_secs(60),
            "never caught up"
        );
    }
    let catch_up = caught.elapsed();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    stop(child);
    println!(
        "throughput: wrote {written} lines in {:.2} s ({:.0} lines/s); behind at most {max_behind:.0} lines while writing, {behind_at_stop:.0} when the writer stopped, caught up {:.0} ms later; peak RSS {}",
        wrote_for.as_secs_f64(),
        written as f64 / wrote_for.as_secs_f64(),
        catch_up.as_secs_f64() * 1e3,
        hwm.trim_start_matches("VmHWM:").trim()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let ns = format!("pc-live-{}", std::process::id());
    if !Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("live bench: needs root (`ip netns add` failed); skipped");
        return;
    }
    let _ = Command::new("ip")
        .args(["netns", "exec", &ns, "ip", "link", "set", "lo", "up"])
        .status();
    let dir = tempfile::tempdir().unwrap();
    latency("file", &ns, dir.path());
    latency("kmsg", &ns, dir.path());
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    let log = std::env::var_os("PORTCULLIS_BENCH_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/fw-1m.log"));
    if log.exists() {
        throughput(dir.path(), &log);
    } else {
        eprintln!("throughput: {} is missing; skipped", log.display());
    }
}
