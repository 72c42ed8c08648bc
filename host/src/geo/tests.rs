//! Unit tests of the GeoIP service against MaxMind's tiny test databases (in
//! `tests/fixtures/geoip/`) and, when present, the full-size ones in `../shared/geoip/full/`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::db::{Db, ymd};
use super::{Geo, GeoError, GeoInfo, GeoPaths, Slot};

/// A file in `tests/fixtures/geoip/`.
macro_rules! fixture {
    ($name:literal) => {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/geoip/",
            $name
        )
    };
}

const CITY: &str = fixture!("GeoLite2-City-Test.mmdb");
const COUNTRY: &str = fixture!("GeoLite2-Country-Test.mmdb");
const ASN: &str = fixture!("GeoLite2-ASN-Test.mmdb");
const INVALID_NODE_COUNT: &str = fixture!("GeoIP2-City-Test-Invalid-Node-Count.mmdb");
const BROKEN_POINTERS: &str = fixture!("MaxMind-DB-test-broken-pointers-24.mmdb");
const TEXT_FILE: &str = fixture!("LICENSE-MIT");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/geoip");
const FULL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/geoip/full");

fn paths(city: Option<&str>, country: Option<&str>, asn: Option<&str>) -> GeoPaths {
    GeoPaths {
        city: city.map(PathBuf::from),
        country: country.map(PathBuf::from),
        asn: asn.map(PathBuf::from),
        mmap: false,
    }
}

fn open(city: Option<&str>, country: Option<&str>, asn: Option<&str>) -> Geo {
    Geo::open(&paths(city, country, asn)).expect("fixture databases open")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address parses")
}

fn place(country: &str, country_name: &str, city: Option<&str>) -> GeoInfo {
    GeoInfo {
        country: Some(country.to_owned()),
        country_name: Some(country_name.to_owned()),
        city: city.map(str::to_owned),
        ..GeoInfo::default()
    }
}

fn network(asn: u32, org: &str) -> GeoInfo {
    GeoInfo {
        asn: Some(asn),
        org: Some(org.to_owned()),
        ..GeoInfo::default()
    }
}

fn open_err(city: Option<&str>, country: Option<&str>, asn: Option<&str>) -> GeoError {
    match Geo::open(&paths(city, country, asn)) {
        Ok(geo) => panic!("expected an error, opened {}", geo.describe()),
        Err(e) => e,
    }
}

#[test]
fn city_database_answers_known_ipv4_addresses() {
    let geo = open(Some(CITY), None, None);
    assert_eq!(
        geo.lookup(ip("81.2.69.142")),
        Some(place("GB", "United Kingdom", Some("London")))
    );
    assert_eq!(
        geo.lookup(ip("2.125.160.216")),
        Some(place("GB", "United Kingdom", Some("Boxford")))
    );
    assert_eq!(
        geo.lookup(ip("89.160.20.112")),
        Some(place("SE", "Sweden", Some("Linköping")))
    );
}

#[test]
fn city_database_answers_an_ipv6_address() {
    let geo = open(Some(CITY), None, None);
    assert_eq!(
        geo.lookup(ip("2001:480::1")),
        Some(place("US", "United States", Some("San Diego")))
    );
}

#[test]
fn ipv4_mapped_ipv6_address_is_looked_up_as_ipv4() {
    let geo = open(Some(CITY), None, Some(ASN));
    assert_eq!(
        geo.lookup(ip("::ffff:81.2.69.142")),
        geo.lookup(ip("81.2.69.142"))
    );
    assert_eq!(
        geo.lookup(ip("::ffff:1.128.0.1")).and_then(|i| i.asn),
        Some(1221)
    );
}

#[test]
fn asn_database_answers_known_addresses() {
    let geo = open(None, None, Some(ASN));
    assert_eq!(
        geo.lookup(ip("1.128.0.0")),
        Some(network(1221, "Telstra Pty Ltd"))
    );
    assert_eq!(
        geo.lookup(ip("1.159.255.255")),
        Some(network(1221, "Telstra Pty Ltd"))
    );
    assert_eq!(
        geo.lookup(ip("12.81.92.1")),
        Some(network(7018, "AT&T Services"))
    );
    assert_eq!(
        geo.lookup(ip("2600:7000::1")),
        Some(network(6939, "Hurricane Electric, Inc."))
    );
}

#[test]
fn city_and_asn_answers_are_merged() {
    let geo = open(Some(CITY), None, Some(ASN));
    // 2001:1700::/27 is in the ASN file only; 81.2.69.142 in the city file only.
    assert_eq!(
        geo.lookup(ip("2001:1700::1")),
        Some(network(6730, "Sunrise Communications AG"))
    );
    assert_eq!(
        geo.lookup(ip("81.2.69.142")),
        Some(place("GB", "United Kingdom", Some("London")))
    );
    let both = open(Some(CITY), None, Some(ASN));
    assert!(
        both.lookup(ip("1.128.0.0"))
            .is_some_and(|i| i.asn == Some(1221) && i.country.is_none())
    );
}

#[test]
fn country_database_answers_without_city() {
    let geo = open(None, Some(COUNTRY), None);
    assert_eq!(
        geo.lookup(ip("81.2.69.142")),
        Some(place("GB", "United Kingdom", None))
    );
}

#[test]
fn country_database_fills_in_where_city_database_has_no_record() {
    let geo = open(Some(CITY), Some(COUNTRY), None);
    // 217.65.48.0/29 is in the country test file but not the city one.
    assert_eq!(
        geo.lookup(ip("217.65.48.1")),
        Some(place("GI", "Gibraltar", None))
    );
    assert_eq!(
        geo.lookup(ip("81.2.69.142")),
        Some(place("GB", "United Kingdom", Some("London")))
    );
}

#[test]
fn addresses_no_database_knows_are_none() {
    let geo = open(Some(CITY), Some(COUNTRY), Some(ASN));
    for addr in [
        "192.0.2.1",
        "10.0.0.1",
        "127.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "::",
    ] {
        assert_eq!(geo.lookup(ip(addr)), None, "{addr}");
    }
    // A city-file record that holds only a continent tells nothing we report.
    assert_eq!(
        open(Some(CITY), None, None).lookup(ip("2a02:d500::1")),
        None
    );
    assert_eq!(geo.corrupt_records(), 0);
}

#[test]
fn no_paths_gives_a_geo_that_knows_nothing() {
    let geo = open(None, None, None);
    assert!(geo.is_empty());
    assert_eq!(geo.lookup(ip("81.2.69.142")), None);
    assert_eq!(geo.describe(), "no GeoIP databases");
    assert!(geo.verify().is_ok());
}

#[test]
fn describe_names_each_database_and_its_build_date() {
    let geo = open(Some(CITY), Some(COUNTRY), Some(ASN));
    assert!(!geo.is_empty());
    // The test files were all built 2026-02-04.
    assert_eq!(
        geo.describe(),
        "city: GeoLite2-City (2026-02-04), country: GeoLite2-Country (2026-02-04), asn: GeoLite2-ASN (2026-02-04)"
    );
    assert!(format!("{geo:?}").contains("GeoLite2-ASN"));
}

#[test]
fn build_dates_are_formatted_in_utc() {
    assert_eq!(ymd(0), "1970-01-01");
    assert_eq!(ymd(951_782_400), "2000-02-29");
    assert_eq!(ymd(1_577_209_301), "2019-12-24");
    assert_eq!(ymd(4_107_542_399), "2100-02-28");
}

#[test]
fn fixture_databases_verify() {
    assert!(open(Some(CITY), Some(COUNTRY), Some(ASN)).verify().is_ok());
}

#[test]
fn geo_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Geo>();
}

#[test]
fn geo_paths_deserialize_and_refuse_unknown_keys() {
    let parsed: GeoPaths =
        serde_json::from_str(r#"{"city": "c.mmdb", "asn": "a.mmdb"}"#).expect("parses");
    assert_eq!(parsed, paths(Some("c.mmdb"), None, Some("a.mmdb")));
    assert!(serde_json::from_str::<GeoPaths>(r#"{"citty": "c.mmdb"}"#).is_err());
}

#[test]
fn record_fields_fill_geo_info() {
    use super::db::{LocationRecord, RegisteredRecord};
    // The same serde structs decode JSON; the registration is only asked for when the
    // location record has no country (see `Db::fill_location`).
    let json = r#"{"city": {"names": {"de": "Köln", "en": "Cologne"}}, "continent": {"code": "EU"},
                   "registered_country": {"iso_code": "FR", "names": {"en": "France"}}}"#;
    let mut info = GeoInfo::default();
    serde_json::from_str::<LocationRecord>(json)
        .expect("parses")
        .fill(&mut info);
    assert_eq!(
        info,
        GeoInfo {
            city: Some("Cologne".to_owned()),
            ..GeoInfo::default()
        }
    );
    serde_json::from_str::<RegisteredRecord>(json)
        .expect("parses")
        .fill(&mut info);
    assert_eq!(info, place("FR", "France", Some("Cologne")));
}

// Bad input: every error names the file.

fn assert_names(error: &GeoError, path: &str) {
    let message = error.to_string();
    assert!(message.contains(path), "{message:?} does not name {path}");
}

#[test]
fn missing_file_is_refused_naming_it() {
    let missing = fixture!("no-such.mmdb");
    let error = open_err(Some(missing), None, None);
    assert!(
        matches!(
            error,
            GeoError::Missing {
                slot: Slot::City,
                ..
            }
        ),
        "{error:?}"
    );
    assert_names(&error, missing);
    assert!(error.to_string().contains("no such file"));
}

#[test]
fn directory_is_refused_as_unreadable() {
    let error = open_err(None, None, Some(FIXTURES));
    assert!(
        matches!(
            error,
            GeoError::Unreadable {
                slot: Slot::Asn,
                ..
            }
        ),
        "{error:?}"
    );
    assert_names(&error, FIXTURES);
}

#[test]
fn text_file_is_refused_as_not_a_maxmind_db() {
    let error = open_err(None, Some(TEXT_FILE), None);
    assert!(
        matches!(
            error,
            GeoError::Invalid {
                slot: Slot::Country,
                ..
            }
        ),
        "{error:?}"
    );
    assert_names(&error, TEXT_FILE);
    assert!(
        error
            .to_string()
            .contains("could not find MaxMind DB metadata"),
        "{error}"
    );
}

#[test]
fn corrupt_search_tree_is_refused_at_open() {
    let error = open_err(Some(INVALID_NODE_COUNT), None, None);
    assert!(matches!(error, GeoError::Invalid { .. }), "{error:?}");
    assert_names(&error, INVALID_NODE_COUNT);
    assert!(error.to_string().contains("search tree"), "{error}");
}

#[test]
fn asn_database_given_as_city_is_the_wrong_type() {
    let error = open_err(Some(ASN), None, None);
    assert!(
        matches!(&error, GeoError::WrongType { slot: Slot::City, found, .. } if found == "GeoLite2-ASN"),
        "{error:?}"
    );
    assert_names(&error, ASN);
}

#[test]
fn city_database_given_as_asn_is_the_wrong_type() {
    let error = open_err(None, None, Some(CITY));
    assert!(
        matches!(
            error,
            GeoError::WrongType {
                slot: Slot::Asn,
                ..
            }
        ),
        "{error:?}"
    );
    assert_names(&error, CITY);
}

#[test]
fn test_type_database_is_refused_for_every_slot() {
    // The broken-pointers file declares `database_type` "Test" and has no ASN records.
    assert!(matches!(
        open_err(Some(BROKEN_POINTERS), None, None),
        GeoError::WrongType { .. }
    ));
    assert!(matches!(
        open_err(None, Some(BROKEN_POINTERS), None),
        GeoError::WrongType { .. }
    ));
    let error = open_err(None, None, Some(BROKEN_POINTERS));
    assert_names(&error, BROKEN_POINTERS);
}

#[test]
fn corrupt_records_answer_nothing_and_are_counted() {
    // Bypass the type check to look records up in a file whose data pointers are broken
    // from 1.1.1.16/28 on.
    let db = Db::read(Slot::City, Path::new(BROKEN_POINTERS)).expect("header is sound");
    let geo = Geo {
        city: Some(db),
        country: None,
        asn: None,
    };
    for last in 0..=255u8 {
        let _ = geo.lookup(IpAddr::from([1, 1, 1, last]));
    }
    for addr in [
        "::1",
        "2001:db8::1",
        "::ffff:1.1.1.20",
        "0.0.0.0",
        "255.255.255.255",
    ] {
        let _ = geo.lookup(ip(addr));
    }
    assert_eq!(geo.lookup(ip("1.1.1.20")), None);
    assert!(geo.corrupt_records() >= 16, "{}", geo.corrupt_records());
    let error = geo
        .verify()
        .expect_err("broken pointers are found by verify");
    assert_names(&error, BROKEN_POINTERS);
}

// The full-size databases live outside the repository; skipped when absent.

fn full_database(name: &str) -> Option<PathBuf> {
    let path = Path::new(FULL).join(name);
    if path.is_file() {
        Some(path)
    } else {
        println!("skipped: {} is absent", path.display());
        None
    }
}

#[test]
fn full_databases_answer_known_addresses() {
    let (Some(city), Some(asn)) = (
        full_database("GeoLite2-City.mmdb"),
        full_database("ipl-asn.mmdb"),
    ) else {
        return;
    };
    // Mapped, as small appliances would run them.
    let geo = Geo::open(&GeoPaths {
        city: Some(city),
        country: None,
        asn: Some(asn),
        mmap: true,
    })
    .expect("full databases open");
    assert!(
        geo.describe()
            .starts_with("city: GeoLite2-City (2019-12-24), asn: GeoLite2-ASN (")
    );

    let zscaler = geo.lookup(ip("104.129.204.86")).expect("known address");
    assert_eq!(
        (zscaler.asn, zscaler.org.as_deref()),
        (Some(22616), Some("ZSCALER, INC."))
    );
    let google = geo.lookup(ip("8.8.8.8")).expect("known address");
    assert_eq!(
        (google.asn, google.org.as_deref()),
        (Some(15169), Some("Google LLC"))
    );
    assert_eq!(google.country.as_deref(), Some("US"));
    let cloudflare = geo
        .lookup(ip("2606:4700:4700::1111"))
        .expect("known address");
    assert_eq!(cloudflare.asn, Some(13335));
    assert_eq!(
        geo.lookup(ip("81.2.69.142")).and_then(|i| i.country),
        Some("GB".to_owned())
    );
    // 2.20.185.0/24 has no `country`, only a `registered_country`.
    assert_eq!(
        geo.lookup(ip("2.20.185.1")).and_then(|i| i.country),
        Some("ES".to_owned())
    );
    assert_eq!(geo.lookup(ip("192.168.1.1")), None);
    assert_eq!(geo.corrupt_records(), 0);
}

#[test]
fn damaged_bytes_anywhere_never_panic() {
    // Flip bytes all over a sound file: each damaged copy must either be refused at open or
    // answer lookups (rightly, wrongly or with nothing) without panicking.
    let sound = std::fs::read(CITY).expect("fixture reads");
    let addrs = [
        "81.2.69.142",
        "2.125.160.216",
        "89.160.20.112",
        "2001:480::1",
        "192.0.2.1",
        "::ffff:81.2.69.160",
    ];
    let (mut opened, mut refused) = (0, 0);
    for at in (0..sound.len()).step_by(5) {
        let mut bytes = sound.clone();
        bytes[at] ^= 0xA5;
        match Db::parse(Slot::City, Path::new(CITY), bytes) {
            Err(_) => refused += 1,
            Ok(db) => {
                opened += 1;
                let geo = Geo {
                    city: Some(db),
                    country: None,
                    asn: None,
                };
                for addr in addrs {
                    let _ = geo.lookup(ip(addr));
                }
            }
        }
    }
    assert!(
        opened > 0 && refused > 0,
        "opened {opened}, refused {refused}"
    );
}

#[test]
fn mapped_databases_answer_like_read_ones() {
    let mut paths = paths(Some(CITY), None, Some(ASN));
    let read = Geo::open(&paths).expect("read");
    paths.mmap = true;
    let mapped = Geo::open(&paths).expect("mapped");
    for ip in [
        "81.2.69.142",
        "2.125.160.216",
        "1.128.0.1",
        "12.81.92.1",
        "192.0.2.1",
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(mapped.lookup(ip), read.lookup(ip), "{ip}");
    }
    assert_eq!(
        mapped
            .lookup("81.2.69.142".parse().unwrap())
            .unwrap()
            .city
            .as_deref(),
        Some("London")
    );
}
