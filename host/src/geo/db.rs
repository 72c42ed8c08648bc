//! One opened MaxMind DB file: reading it, checking it can serve its slot, and decoding the
//! few fields we use from a record without ever failing a lookup.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use maxminddb::{LookupResult, MaxMindDbError, Reader};
use serde::Deserialize;

use super::{GeoError, GeoInfo, Slot};

/// How many records the ASN probe looks at before deciding a file of an unfamiliar
/// `database_type` has no `autonomous_system_number` data.
const ASN_PROBE_RECORDS: usize = 64;

/// A database file's bytes: read into memory, or memory-mapped.
pub(super) enum Bytes {
    /// Read whole.
    Heap(Vec<u8>),
    /// Mapped read-only.
    Mapped(memmap2::Mmap),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Heap(v) => v,
            Bytes::Mapped(m) => m,
        }
    }
}

/// One database file, ready for lookups.
pub(super) struct Db {
    slot: Slot,
    path: PathBuf,
    // By default the file is read whole into memory. Mapping it instead (`[geoip] mmap`)
    // saves the private memory (~60 MB for GeoLite2-City) but is only sound while nobody
    // rewrites the file in place: a truncation under a mapping is SIGBUS. geoipupdate
    // renames a new file over the old one, which leaves our mapping of the old inode valid.
    // Lookups are the same speed either way, since both walk a byte slice.
    reader: Reader<Bytes>,
    /// Lookups that met a corrupt record; the first one is logged.
    corrupt: AtomicU64,
}

impl Db {
    /// Reads (or with `mmap`, maps) `path` and checks its `database_type` suits `slot`.
    pub(super) fn open(slot: Slot, path: &Path, mmap: bool) -> Result<Db, GeoError> {
        let db = if mmap {
            Db::map(slot, path)?
        } else {
            Db::read(slot, path)?
        };
        db.check_type()?;
        Ok(db)
    }

    fn io_error(slot: Slot, path: &Path, source: std::io::Error) -> GeoError {
        match source.kind() {
            std::io::ErrorKind::NotFound => GeoError::Missing {
                slot,
                path: path.to_owned(),
            },
            _ => GeoError::Unreadable {
                slot,
                path: path.to_owned(),
                source,
            },
        }
    }

    /// Maps `path` read-only and parses its metadata and search-tree layout.
    fn map(slot: Slot, path: &Path) -> Result<Db, GeoError> {
        let file = std::fs::File::open(path).map_err(|e| Db::io_error(slot, path, e))?;
        // SAFETY: the mapping is read-only and private to this process; it stays valid as
        // long as the file is not truncated or rewritten in place. Replacing the file by
        // renaming a new one over it (what geoipupdate does, and what the documentation of
        // `[geoip] mmap` requires) leaves the mapped inode untouched.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Db::io_error(slot, path, e))?;
        Db::parse_bytes(slot, path, Bytes::Mapped(map))
    }

    /// Reads `path` and parses its metadata and search-tree layout, whatever its type.
    pub(super) fn read(slot: Slot, path: &Path) -> Result<Db, GeoError> {
        let bytes = std::fs::read(path).map_err(|e| Db::io_error(slot, path, e))?;
        Db::parse(slot, path, bytes)
    }

    /// Parses the bytes read from `path`.
    pub(super) fn parse(slot: Slot, path: &Path, bytes: Vec<u8>) -> Result<Db, GeoError> {
        Db::parse_bytes(slot, path, Bytes::Heap(bytes))
    }

    fn parse_bytes(slot: Slot, path: &Path, bytes: Bytes) -> Result<Db, GeoError> {
        let reader = Reader::from_source(bytes).map_err(|source| GeoError::Invalid {
            slot,
            path: path.to_owned(),
            source,
        })?;
        Ok(Db {
            slot,
            path: path.to_owned(),
            reader,
            corrupt: AtomicU64::new(0),
        })
    }

    fn check_type(&self) -> Result<(), GeoError> {
        let found = self.database_type();
        let (fits, expected) = match self.slot {
            Slot::City | Slot::Country => (
                is_location_type(found),
                "a City or Country database (GeoLite2, GeoIP2 or DB-IP)",
            ),
            Slot::Asn => (
                is_asn_type(found) || (!is_location_type(found) && self.has_asn_records()?),
                "an ASN database (GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN, or any file whose \
                 records carry autonomous_system_number)",
            ),
        };
        if fits {
            Ok(())
        } else {
            Err(GeoError::WrongType {
                slot: self.slot,
                path: self.path.clone(),
                found: found.to_owned(),
                expected,
            })
        }
    }

    /// Whether the first few records of a file of unfamiliar type have ASN data.
    fn has_asn_records(&self) -> Result<bool, GeoError> {
        let invalid = |source| GeoError::Invalid {
            slot: self.slot,
            path: self.path.clone(),
            source,
        };
        for network in self
            .reader
            .networks(Default::default())
            .map_err(invalid)?
            .take(ASN_PROBE_RECORDS)
        {
            let record = network
                .and_then(|n| n.decode::<AsnRecord>())
                .map_err(invalid)?;
            if record.is_some_and(|r| r.autonomous_system_number.is_some()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Fills country and city from this City or Country database; false when it has no
    /// (sound) record for `ip`.
    pub(super) fn fill_location(&self, ip: IpAddr, info: &mut GeoInfo) -> bool {
        let Some(found) = self.find(ip) else {
            return false;
        };
        let Some(record) = self.decode::<LocationRecord>(&found, ip) else {
            return false;
        };
        record.fill(info);
        if info.country.is_none() {
            // `country` is where the address is used, `registered_country` where its block is
            // registered. MaxMind leaves `country` out for some blocks (0.4% of GeoLite2-City
            // records: anycast, satellite), and the registration is then the best answer
            // there is. It is decoded apart because it is rarely needed, and decoding it every
            // time costs ~10% of a lookup.
            if let Some(registered) = self.decode::<RegisteredRecord>(&found, ip) {
                registered.fill(info);
            }
        }
        true
    }

    /// Fills ASN and org from this ASN database.
    pub(super) fn fill_asn(&self, ip: IpAddr, info: &mut GeoInfo) {
        if let Some(record) = self
            .find(ip)
            .and_then(|found| self.decode::<AsnRecord>(&found, ip))
        {
            record.fill(info);
        }
    }

    /// Where the record for `ip` is; `None` when there is none or the tree points nowhere.
    fn find(&self, ip: IpAddr) -> Option<LookupResult<'_, Bytes>> {
        // The reader refuses IPv6 lookups in an IPv4-only file; such an address simply has
        // no record there.
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return None;
        }
        match self.reader.lookup(ip) {
            Ok(found) => found.has_data().then_some(found),
            Err(error) => self.corrupt(ip, &error),
        }
    }

    /// The record `found` decoded as `T`; `None` when it is corrupt.
    fn decode<'a, T: Deserialize<'a>>(
        &self,
        found: &LookupResult<'a, Bytes>,
        ip: IpAddr,
    ) -> Option<T> {
        found
            .decode()
            .unwrap_or_else(|error| self.corrupt(ip, &error))
    }

    /// Counts a corrupt record, logs the first one, and answers "no record".
    fn corrupt<T>(&self, ip: IpAddr, error: &MaxMindDbError) -> Option<T> {
        if self.corrupt.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!(
                db = %self.path.display(),
                slot = %self.slot,
                ip = %ip,
                %error,
                "corrupt record in GeoIP database, answering nothing for it; \
                 later ones are only counted"
            );
        }
        None
    }

    pub(super) fn corrupt_records(&self) -> u64 {
        self.corrupt.load(Ordering::Relaxed)
    }

    /// `city: GeoLite2-City (2019-12-24)`.
    pub(super) fn describe(&self) -> String {
        let built = ymd(self.reader.metadata().build_epoch);
        format!("{}: {} ({built})", self.slot, self.database_type())
    }

    pub(super) fn verify(&self) -> Result<(), GeoError> {
        self.reader.verify().map_err(|source| GeoError::Invalid {
            slot: self.slot,
            path: self.path.clone(),
            source,
        })
    }

    fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }
}

/// GeoIP2/GeoLite2 City and Country, DB-IP City/Country/Location, and other files named so.
fn is_location_type(database_type: &str) -> bool {
    !is_asn_type(database_type)
        && (database_type.starts_with("DBIP-")
            || database_type.contains("City")
            || database_type.contains("Country"))
}

/// GeoLite2-ASN, GeoIP2-ISP, DBIP-ASN-Lite and the like.
fn is_asn_type(database_type: &str) -> bool {
    database_type.contains("ASN") || database_type.contains("ISP")
}

/// The fields of a City or Country record we use, borrowed from the database buffer so a
/// lookup allocates only the strings it returns. Unknown fields are skipped without being
/// decoded.
#[derive(Debug, Deserialize)]
pub(super) struct LocationRecord<'a> {
    #[serde(borrow)]
    country: Option<CountryRecord<'a>>,
    #[serde(borrow)]
    city: Option<CityRecord<'a>>,
}

/// The fallback for a record without `country`.
#[derive(Debug, Deserialize)]
pub(super) struct RegisteredRecord<'a> {
    #[serde(borrow)]
    registered_country: Option<CountryRecord<'a>>,
}

#[derive(Debug, Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    names: Names<'a>,
}

#[derive(Debug, Deserialize)]
struct CityRecord<'a> {
    #[serde(borrow, default)]
    names: Names<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

impl CountryRecord<'_> {
    fn fill(&self, info: &mut GeoInfo) {
        if self.iso_code.is_some() {
            info.country = self.iso_code.map(str::to_owned);
            info.country_name = self.names.en.map(str::to_owned);
        }
    }
}

impl LocationRecord<'_> {
    pub(super) fn fill(&self, info: &mut GeoInfo) {
        if let Some(country) = &self.country {
            country.fill(info);
        }
        info.city = self
            .city
            .as_ref()
            .and_then(|c| c.names.en)
            .map(str::to_owned);
    }
}

impl RegisteredRecord<'_> {
    pub(super) fn fill(&self, info: &mut GeoInfo) {
        if let Some(country) = &self.registered_country {
            country.fill(info);
        }
    }
}

/// The fields of an ASN record (GeoLite2-ASN schema, shared by GeoIP2-ISP and DB-IP ASN).
#[derive(Debug, Deserialize)]
pub(super) struct AsnRecord<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

impl AsnRecord<'_> {
    fn fill(&self, info: &mut GeoInfo) {
        info.asn = self.autonomous_system_number;
        info.org = self.autonomous_system_organization.map(str::to_owned);
    }
}

/// `YYYY-MM-DD` (UTC) of a unix timestamp, by Howard Hinnant's `civil_from_days`; the host
/// has no date library and needs none beyond this.
pub(super) fn ymd(epoch_secs: u64) -> String {
    let days = i64::try_from(epoch_secs / 86_400).unwrap_or(0);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
