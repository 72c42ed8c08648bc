//! What crossing the plugin boundary costs, through the real runtime and real components:
//! per-event cost of one stage (the `bench` fixture plugin: noop, count, enrich) at batch 64
//! and 1024, events/s of the standard 4-stage chain, and the startup of a runtime with two
//! precompiled plugins. Figures and how to read them: `docs/benchmarks.md`.
//!
//! `cargo bench --bench boundary` (a few minutes on 2 cores); `-- stage/` etc. runs one group.
//! The enrich stage and the chain also run against the full-size GeoIP databases in
//! `../shared/geoip/full/` when they exist; otherwise those variants are skipped with a note.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use portcullis::clock::{Clock, SystemClock};
use portcullis::geo::{Geo, GeoPaths, GeoService};
use portcullis::metrics::PluginMetrics;
use portcullis::pipeline::batch::EncodedBatch;
use portcullis::pipeline::{OnError, Pipeline};
use portcullis::plugin::{
    HostServices, PluginSource, Runtime, RuntimeOptions, StageInstance, StageLimits,
};
use portcullis_abi::record::{GeoFields, RecordFields};
use portcullis_abi::tcp_flags;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The snapshot interval the runner uses by default (`[state] snapshot_interval = "10s"`).
const SNAPSHOT_INTERVAL_MS: i64 = 10_000;
/// Log time between two consecutive events: a busy firewall logging 1,000 events/s.
const EVENT_SPACING_MS: i64 = 1;

fn bench_plugin() -> PluginSource {
    PluginSource::File(Path::new(env!("PORTCULLIS_PLUGIN_DIR")).join("bench.wasm"))
}

fn fixture_db(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/geoip"
    ))
    .join(name)
}

fn full_db(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/geoip/full"
    ))
    .join(name)
}

/// The GeoIP variants to run enrichment against: the committed tiny test databases, and the
/// full-size ones when present.
fn geo_variants() -> Vec<(&'static str, Arc<Geo>)> {
    let open = |city: PathBuf, asn: PathBuf| {
        let paths = GeoPaths {
            city: Some(city),
            country: None,
            asn: Some(asn),
            mmap: false,
        };
        Arc::new(Geo::open(&paths).unwrap_or_else(|e| panic!("{e}")))
    };
    let mut variants = vec![(
        "testdb",
        open(
            fixture_db("GeoLite2-City-Test.mmdb"),
            fixture_db("GeoLite2-ASN-Test.mmdb"),
        ),
    )];
    let (city, asn) = (full_db("GeoLite2-City.mmdb"), full_db("ipl-asn.mmdb"));
    let missing = [&city, &asn].into_iter().find(|p| !p.is_file()).cloned();
    match missing {
        None => variants.push(("fulldb", open(city, asn))),
        Some(path) => println!(
            "skipping the full-size GeoIP variants: {} is missing",
            path.display()
        ),
    }
    variants
}

/// No databases: lookups answer `none`.
fn no_geo() -> Arc<Geo> {
    Arc::new(Geo::open(&GeoPaths::default()).expect("no databases to open"))
}

fn services(geo: Arc<Geo>) -> HostServices {
    HostServices {
        clock: Arc::new(SystemClock),
        geo: Arc::new(GeoService::fixed(geo)),
        metrics: Arc::new(PluginMetrics::default()),
    }
}

fn stage(
    runtime: &Runtime,
    source: &PluginSource,
    name: &str,
    config: &str,
    services: &HostServices,
) -> StageInstance {
    let loaded = runtime
        .load(source)
        .unwrap_or_else(|e| panic!("load {source:?}: {e}"));
    StageInstance::new(
        runtime,
        &loaded,
        name,
        config.to_string(),
        StageLimits::default(),
        services.clone(),
    )
    .unwrap_or_else(|e| panic!("stage {name}: {e}"))
}

/// xorshift64*: deterministic events without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Sources the databases know (from the test databases' source JSON, plus two that only the
/// full-size ones know).
const KNOWN: [&str; 12] = [
    "2.125.160.216",
    "89.160.20.112",
    "89.160.20.130",
    "1.128.0.1",
    "1.160.3.7",
    "12.81.92.1",
    "175.16.199.5",
    "216.160.83.57",
    "81.2.69.150",
    "104.129.204.86",
    "8.8.8.8",
    "2001:218::1",
];
/// The loudest source, as in real logs (a single address is 41% of the generated test log).
const TOP: &str = "81.2.69.142";
const PRIVATE: [&str; 5] = [
    "10.0.0.5",
    "10.1.2.3",
    "192.168.1.20",
    "172.16.5.4",
    "fe80::1",
];

/// The source population: 1,000 public IPv4 addresses no database knows (TEST-NET-1/2/3 and
/// 198.18.0.0/15), 24 documentation IPv6 addresses and an IPv6 one the test DB knows.
fn unknown_sources() -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = Vec::with_capacity(1_024);
    for net in [[192, 0, 2], [198, 51, 100], [203, 0, 113]] {
        for host in 0..=255u8 {
            v.push(Ipv4Addr::new(net[0], net[1], net[2], host).into());
        }
    }
    for host in 0..232u8 {
        v.push(Ipv4Addr::new(198, 18, host / 16, host).into());
    }
    for host in 1..=24u16 {
        v.push(format!("2001:db8::{host:x}").parse().expect("literal"));
    }
    v
}

/// Realistic events: 30% from one loud known source, 20% from other known sources, 45% from
/// 1,000 unknown public IPv4 and a few IPv6 addresses, 5% from private or link-local ones.
struct EventMix {
    rng: Rng,
    known: Vec<IpAddr>,
    unknown: Vec<IpAddr>,
    private: Vec<IpAddr>,
    top: IpAddr,
    next_ms: i64,
}

impl EventMix {
    fn new(start_ms: i64) -> Self {
        let parse = |s: &&str| s.parse::<IpAddr>().expect("literal");
        EventMix {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            known: KNOWN.iter().map(parse).collect(),
            unknown: unknown_sources(),
            private: PRIVATE.iter().map(parse).collect(),
            top: parse(&TOP),
            next_ms: start_ms,
        }
    }

    fn source(&mut self) -> IpAddr {
        match self.rng.next() % 100 {
            0..30 => self.top,
            30..50 => *self.rng.pick(&self.known),
            50..95 => *self.rng.pick(&self.unknown),
            _ => *self.rng.pick(&self.private),
        }
    }

    /// A batch of `len` events, handed over at `now_ms`.
    fn batch(&mut self, len: usize, now_ms: i64) -> EncodedBatch {
        let mut b = EncodedBatch::with_capacity(len);
        b.now_ms = now_ms;
        let prefixes = [b.intern("[UFW BLOCK] "), b.intern("HTTPS-443 inbound: ")];
        let eth0 = b.intern("eth0");
        let none = b.intern("");
        let dst_v4: IpAddr = Ipv4Addr::new(192, 0, 2, 10).into();
        let dst_v6: IpAddr = "2001:db8::10".parse().expect("literal");
        for _ in 0..len {
            let src = self.source();
            let dpt = *self.rng.pick(&[443u16, 443, 443, 22, 80, 3389, 8080]);
            let spt = 1024 + (self.rng.next() % 64_000) as u16;
            b.push_fields(&RecordFields {
                src: Some(src),
                dst: Some(if src.is_ipv4() { dst_v4 } else { dst_v6 }),
                time_ms: Some(self.next_ms),
                prefix: *self.rng.pick(&prefixes),
                in_iface: eth0,
                out_iface: none,
                ip_len: 60,
                ports: Some((spt, dpt)),
                tcp_flags: tcp_flags::SYN,
                proto: 6,
                ttl: 50,
                icmp: None,
                geo: GeoFields::default(),
            });
            self.next_ms += EVENT_SPACING_MS;
        }
        b
    }
}

/// (a) One `bench` stage, run the way the runner runs it (`Pipeline::run`: process, apply
/// notes, apply verdicts); the same batch every iteration. Then the two standard plugins of
/// the chain on their own.
fn stage_cost(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    let mut modes: Vec<(String, Arc<Geo>, &str)> = vec![
        ("noop".into(), no_geo(), "noop"),
        ("count".into(), no_geo(), "count"),
    ];
    for (db, geo) in geo_variants() {
        modes.push((format!("enrich_{db}"), geo, "enrich"));
    }
    let source = bench_plugin();
    let mut group = c.benchmark_group("stage");
    for (label, geo, mode) in &modes {
        for len in [64usize, 1024] {
            let services = services(geo.clone());
            let config = format!(r#"{{"mode": "{mode}"}}"#);
            let mut pipeline = Pipeline::new(SNAPSHOT_INTERVAL_MS);
            pipeline.push(
                stage(&runtime, &source, label, &config, &services),
                OnError::Pass,
            );
            let mut batch = EventMix::new(SystemClock.now_ms()).batch(len, SystemClock.now_ms());
            group.throughput(Throughput::Elements(len as u64));
            group.bench_function(format!("{label}/{len}"), |b| {
                b.iter(|| black_box(pipeline.run(&mut batch)))
            });
            assert_eq!(batch.len(), len, "a bench stage keeps every event");
            if *mode == "enrich" {
                let enriched = (0..len)
                    .filter_map(|i| batch.record(i))
                    .filter(|r| r.country().is_some() || r.asn().is_some())
                    .count();
                println!("{label}/{len}: {enriched} of {len} events enriched");
            }
        }
    }
    // The standard plugins alone, for the chain's breakdown: a fresh batch per iteration,
    // since the filter drops events and the ban policy needs time to move on.
    let none = services(no_geo());
    for (plugin, config) in [
        ("cidr-filter", "{}"),
        ("threshold-ban", r#"{"threshold": 20, "window": "1m"}"#),
    ] {
        const LEN: usize = 1024;
        let mut pipeline = Pipeline::new(SNAPSHOT_INTERVAL_MS);
        let source = PluginSource::Standard(plugin);
        pipeline.push(
            stage(&runtime, &source, plugin, config, &none),
            OnError::Pass,
        );
        let mut mix = EventMix::new(SystemClock.now_ms());
        group.throughput(Throughput::Elements(LEN as u64));
        group.bench_function(format!("{plugin}/{LEN}"), |b| {
            b.iter_batched_ref(
                || mix.batch(LEN, SystemClock.now_ms()),
                |batch| black_box(pipeline.run(batch)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// (b) The standard 4-stage chain, filter -> enrich -> count -> decide, at batch 1024: a
/// fresh batch per iteration (stages drop events), built outside the timing.
fn chain(c: &mut Criterion) {
    const LEN: usize = 1024;
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    let source = bench_plugin();
    let mut group = c.benchmark_group("chain");
    group.throughput(Throughput::Elements(LEN as u64));
    for (db, geo) in geo_variants() {
        let services = services(geo);
        let mut pipeline = Pipeline::new(SNAPSHOT_INTERVAL_MS);
        let stages = [
            (PluginSource::Standard("cidr-filter"), "filter", "{}"),
            (source.clone(), "enrich", r#"{"mode": "enrich"}"#),
            (source.clone(), "count", r#"{"mode": "count"}"#),
            (
                PluginSource::Standard("threshold-ban"),
                "decide",
                r#"{"threshold": 20, "window": "1m"}"#,
            ),
        ];
        for (plugin, name, config) in &stages {
            pipeline.push(
                stage(&runtime, plugin, name, config, &services),
                OnError::Pass,
            );
        }
        let mut mix = EventMix::new(SystemClock.now_ms());
        let mut bans = 0usize;
        group.bench_function(format!("4_stages_{db}/{LEN}"), |b| {
            b.iter_batched_ref(
                || mix.batch(LEN, SystemClock.now_ms()),
                |batch| bans += pipeline.run(batch).len(),
                BatchSize::SmallInput,
            )
        });
        let stats: Vec<String> = pipeline
            .stats()
            .map(|(name, s)| format!("{name}: in {} dropped {}", s.events_in, s.dropped))
            .collect();
        println!("chain {db}: {bans} decisions; {}", stats.join(", "));
    }
    group.finish();
}

/// (c) Startup: a runtime with a plugin cache, the two standard plugins loaded from it
/// (warm: precompiled on the first load) and instantiated with `init`. Tearing down stops
/// the epoch ticker (up to one 10 ms tick), so it happens off the clock, on another thread.
fn startup(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("temp dir");
    let options = RuntimeOptions {
        fuel: false,
        cache_dir: Some(cache.path().join("plugins")),
    };
    let services = services(no_geo());
    let plugins = [
        (PluginSource::Standard("cidr-filter"), "filter", "{}"),
        (
            PluginSource::Standard("threshold-ban"),
            "decide",
            r#"{"threshold": 20, "window": "1m"}"#,
        ),
    ];
    let start = |options: &RuntimeOptions| {
        let runtime = Runtime::new(options.clone()).expect("runtime");
        let stages: Vec<StageInstance> = plugins
            .iter()
            .map(|(p, name, config)| stage(&runtime, p, name, config, &services))
            .collect();
        (runtime, stages)
    };
    // Fill the cache.
    drop(start(&options));
    let timed = |b: &mut criterion::Bencher<'_>, options: &RuntimeOptions| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut teardown = Vec::new();
            for _ in 0..iters {
                let t = Instant::now();
                let started = black_box(start(options));
                total += t.elapsed();
                teardown.push(std::thread::spawn(move || drop(started)));
            }
            for t in teardown {
                t.join().expect("teardown");
            }
            total
        })
    };
    let mut group = c.benchmark_group("startup");
    group.bench_function("precompiled_2_plugins", |b| timed(b, &options));
    // For scale: the same without a cache, compiling both components with Cranelift.
    let no_cache = RuntimeOptions::default();
    group.sample_size(10);
    group.bench_function("compiled_2_plugins", |b| timed(b, &no_cache));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = boundary;
    config = config();
    targets = stage_cost, chain, startup
}
criterion_main!(boundary);
