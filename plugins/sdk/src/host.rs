//! The host's services to a plugin: its log and its clock.
//!
//! In a native build (unit tests) there is no host: messages go to stderr and the clock is
//! whatever [`set_test_now_ms`] set, so plugin logic is testable with `cargo test`.

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fine detail for debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something is off.
    Warn,
    /// Something failed.
    Error,
}

/// What the host's GeoIP and ASN databases know about an address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Country name in English.
    pub country_name: Option<String>,
    /// City name in English.
    pub city: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// The autonomous system's organisation.
    pub org: Option<String>,
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{GeoInfo, Level};
    use crate::bindings::portcullis::plugin::host;
    use crate::bindings::portcullis::plugin::types::{IpAddr as WitIp, LogLevel};
    use core::net::IpAddr;

    pub fn geo_lookup(addrs: &[IpAddr]) -> Vec<Option<GeoInfo>> {
        let wit: Vec<WitIp> = addrs
            .iter()
            .map(|a| match a {
                IpAddr::V4(v) => WitIp::V4(u32::from(*v)),
                IpAddr::V6(v) => {
                    let n = u128::from(*v);
                    WitIp::V6(((n >> 64) as u64, n as u64))
                }
            })
            .collect();
        host::geo_lookup(&wit)
            .into_iter()
            .map(|g| {
                g.map(|g| GeoInfo {
                    country: g.country,
                    country_name: g.country_name,
                    city: g.city,
                    asn: g.asn,
                    org: g.org,
                })
            })
            .collect()
    }

    pub fn counter_add(name: &str, delta: u64) {
        host::counter_add(name, delta);
    }

    pub fn gauge_set(name: &str, value: f64) {
        host::gauge_set(name, value);
    }

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        host::log(level, message);
    }

    pub fn now_ms() -> i64 {
        host::now_ms()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{GeoInfo, Level};
    use core::net::IpAddr;
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    thread_local! {
        pub static TEST_NOW: Cell<i64> = const { Cell::new(0) };
        pub static TEST_GEO: RefCell<HashMap<IpAddr, GeoInfo>> = RefCell::new(HashMap::new());
        pub static TEST_METRICS: RefCell<HashMap<String, f64>> = RefCell::new(HashMap::new());
    }

    pub fn geo_lookup(addrs: &[IpAddr]) -> Vec<Option<GeoInfo>> {
        TEST_GEO.with(|g| addrs.iter().map(|a| g.borrow().get(a).cloned()).collect())
    }

    pub fn counter_add(name: &str, delta: u64) {
        TEST_METRICS
            .with(|m| *m.borrow_mut().entry(name.to_string()).or_insert(0.0) += delta as f64);
    }

    pub fn gauge_set(name: &str, value: f64) {
        TEST_METRICS.with(|m| m.borrow_mut().insert(name.to_string(), value));
    }

    pub fn log(level: Level, message: &str) {
        eprintln!("[plugin {level:?}] {message}");
    }

    pub fn now_ms() -> i64 {
        TEST_NOW.with(Cell::get)
    }
}

/// Writes a message to the host's log, tagged with the stage name.
pub fn log(level: Level, message: &str) {
    imp::log(level, message);
}

/// The host's clock, unix milliseconds. Plugins have no other clock.
pub fn now_ms() -> i64 {
    imp::now_ms()
}

/// Asks the host's GeoIP/ASN databases about many addresses at once; one answer per
/// address, `None` where no database knows it. One call per batch, not per event.
pub fn geo_lookup(addrs: &[core::net::IpAddr]) -> Vec<Option<GeoInfo>> {
    imp::geo_lookup(addrs)
}

/// Adds to the plugin's counter `name` (`[a-z0-9_]`, 1-64 characters), a metric the host
/// labels with the stage.
pub fn counter_add(name: &str, delta: u64) {
    imp::counter_add(name, delta);
}

/// Sets the plugin's gauge `name`.
pub fn gauge_set(name: &str, value: f64) {
    imp::gauge_set(name, value);
}

/// In native builds (tests), makes [`geo_lookup`] answer `info` for `addr`. Does nothing
/// in a plugin.
pub fn set_test_geo(addr: core::net::IpAddr, info: GeoInfo) {
    #[cfg(not(target_arch = "wasm32"))]
    imp::TEST_GEO.with(|g| g.borrow_mut().insert(addr, info));
    #[cfg(target_arch = "wasm32")]
    let _ = (addr, info);
}

/// In native builds (tests), the value of counter or gauge `name` so far. Always `None`
/// in a plugin.
pub fn test_metric(name: &str) -> Option<f64> {
    #[cfg(not(target_arch = "wasm32"))]
    return imp::TEST_METRICS.with(|m| m.borrow().get(name).copied());
    #[cfg(target_arch = "wasm32")]
    {
        let _ = name;
        None
    }
}

/// Sets the clock [`now_ms`] returns in native builds (tests). Does nothing in a plugin.
pub fn set_test_now_ms(ms: i64) {
    #[cfg(not(target_arch = "wasm32"))]
    imp::TEST_NOW.with(|c| c.set(ms));
    #[cfg(target_arch = "wasm32")]
    let _ = ms;
}
