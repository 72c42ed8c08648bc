//! The host's GeoIP/ASN service: opens the configured MaxMind DB files and answers what they
//! know about an address (country, city, autonomous system) for the plugins' batched import.

mod db;
mod service;
#[cfg(test)]
mod tests;

pub use service::{GeoService, Reload};

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

use db::Db;

/// Paths of the databases, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoPaths {
    /// A City database (GeoLite2-City, GeoIP2-City, DB-IP City); a Country one also works.
    pub city: Option<PathBuf>,
    /// A Country database; consulted for addresses the city database has no record for.
    pub country: Option<PathBuf>,
    /// An ASN database (GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN, any file of that schema).
    pub asn: Option<PathBuf>,
    /// Memory-map the files instead of reading them into memory: far less private memory
    /// (small appliances), but a file must then only ever be replaced by renaming a new one
    /// over it (as geoipupdate does), never rewritten in place.
    #[serde(default)]
    pub mmap: bool,
}

/// What the databases know about one address (owned strings; English names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 code of the country (`GB`).
    pub country: Option<String>,
    /// English name of the country (`United Kingdom`).
    pub country_name: Option<String>,
    /// English name of the city (`London`).
    pub city: Option<String>,
    /// Autonomous system number (`1221`).
    pub asn: Option<u32>,
    /// Organisation owning the autonomous system (`Telstra Pty Ltd`).
    pub org: Option<String>,
}

/// Which configured database a file was given as; displayed as its config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `city`
    City,
    /// `country`
    Country,
    /// `asn`
    Asn,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Slot::City => "city",
            Slot::Country => "country",
            Slot::Asn => "asn",
        })
    }
}

/// Why a configured database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file does not exist.
    #[error("GeoIP `{slot}` database {path}: no such file")]
    Missing {
        /// The config key it was given as.
        slot: Slot,
        /// The file.
        path: PathBuf,
    },
    /// The file exists but cannot be read (permissions, a directory, an IO error).
    #[error("GeoIP `{slot}` database {path}: cannot read it: {source}")]
    Unreadable {
        /// The config key it was given as.
        slot: Slot,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not a MaxMind DB, or is one whose structure is corrupt.
    #[error("GeoIP `{slot}` database {path}: not a MaxMind DB file, or a corrupt one: {source}")]
    Invalid {
        /// The config key it was given as.
        slot: Slot,
        /// The file.
        path: PathBuf,
        /// What the MaxMind DB reader said.
        source: maxminddb::MaxMindDbError,
    },
    /// The file is a sound MaxMind DB of a kind that cannot serve this slot (an ASN file as `city`).
    #[error(
        "GeoIP `{slot}` database {path}: is a {found:?} database, but `{slot}` needs {expected}"
    )]
    WrongType {
        /// The config key it was given as.
        slot: Slot,
        /// The file.
        path: PathBuf,
        /// The `database_type` its metadata declares.
        found: String,
        /// What the slot accepts.
        expected: &'static str,
    },
}

/// The opened databases. Cheap to share: `Send + Sync`, lookups take `&self`.
pub struct Geo {
    city: Option<Db>,
    country: Option<Db>,
    asn: Option<Db>,
}

impl Geo {
    /// Opens the configured databases; with no paths at all, a `Geo` that knows nothing.
    ///
    /// Each file is read whole, its header and search tree checked, and its `database_type`
    /// matched against the slot it was given as; the first failure is returned.
    pub fn open(paths: &GeoPaths) -> Result<Geo, GeoError> {
        let open = |slot, path: &Option<PathBuf>| {
            path.as_deref()
                .map(|p| Db::open(slot, p, paths.mmap))
                .transpose()
        };
        Ok(Geo {
            city: open(Slot::City, &paths.city)?,
            country: open(Slot::Country, &paths.country)?,
            asn: open(Slot::Asn, &paths.asn)?,
        })
    }

    /// Whether any database is loaded.
    pub fn is_empty(&self) -> bool {
        self.dbs().next().is_none()
    }

    /// What the databases say about `ip`: country and city from `city` (from `country` when
    /// there is no city database or it has no record for `ip`), ASN and org from `asn`.
    ///
    /// `None` when no database knows anything about it (private, reserved, unallocated). An
    /// IPv4-mapped IPv6 address is looked up as the IPv4 address. A corrupt record counts as
    /// no record: it is counted in [`Geo::corrupt_records`] and logged once per database.
    pub fn lookup(&self, ip: IpAddr) -> Option<GeoInfo> {
        let ip = ip.to_canonical();
        let mut info = GeoInfo::default();
        let located = self
            .city
            .as_ref()
            .is_some_and(|db| db.fill_location(ip, &mut info));
        if !located && let Some(db) = &self.country {
            db.fill_location(ip, &mut info);
        }
        if let Some(db) = &self.asn {
            db.fill_asn(ip, &mut info);
        }
        (info != GeoInfo::default()).then_some(info)
    }

    /// A one-line description of what is loaded, for logs and `config check`:
    /// `city: GeoLite2-City (2019-12-24), asn: GeoLite2-ASN (2026-11-25)`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.dbs().map(Db::describe).collect();
        if parts.is_empty() {
            "no GeoIP databases".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// How many lookups met a corrupt record since the databases were opened.
    pub fn corrupt_records(&self) -> u64 {
        self.dbs().map(Db::corrupt_records).sum()
    }

    /// Walks every loaded database in full and checks each record can be decoded, returning
    /// the first problem. Slow (about 0.6 s for a GeoLite2-City file in a release
    /// build): `open` checks only what every lookup relies on.
    pub fn verify(&self) -> Result<(), GeoError> {
        self.dbs().try_for_each(Db::verify)
    }

    /// What lookups cannot answer with the databases loaded, in words, e.g. `no ASN
    /// database ([geoip] asn): AS numbers and organisations stay unknown`; empty when both
    /// a location and an ASN database are loaded.
    pub fn gaps(&self) -> Vec<&'static str> {
        let mut gaps = Vec::new();
        if self.city.is_none() && self.country.is_none() {
            gaps.push("no city or country database ([geoip] city, country): countries and cities stay unknown");
        }
        if self.asn.is_none() {
            gaps.push("no ASN database ([geoip] asn): AS numbers and organisations stay unknown");
        }
        gaps
    }

    fn dbs(&self) -> impl Iterator<Item = &Db> {
        [&self.city, &self.country, &self.asn].into_iter().flatten()
    }
}

impl fmt::Debug for Geo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Geo")
            .field("loaded", &self.describe())
            .finish_non_exhaustive()
    }
}
