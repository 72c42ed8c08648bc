//! The databases as the running host holds them: swapped for new copies when the files
//! are replaced (as `geoipupdate` does), while a replacement that fails to open leaves the
//! databases in use untouched.

use super::{Geo, GeoError, GeoInfo, GeoPaths};
use std::collections::HashMap;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// What identifies a file's version: inode, size and modification time. `geoipupdate`
/// writes a new file and renames it over the old one, which changes the inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        ino: m.ino(),
        len: m.len(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

/// What [`GeoService::reload_if_changed`] did.
#[derive(Debug)]
pub enum Reload {
    /// No file changed.
    Unchanged,
    /// The files changed and the new databases are in use.
    Reloaded,
    /// The files changed but did not open; the previous databases stay in use.
    Kept(GeoError),
}

struct Watch {
    stamps: Vec<Option<Stamp>>,
    last_check: Option<Instant>,
}

/// Shared, swappable databases.
pub struct GeoService {
    paths: GeoPaths,
    current: RwLock<Arc<Geo>>,
    watch: Mutex<Watch>,
    gaps_told: std::sync::Once,
    cache: Mutex<HashMap<IpAddr, Option<GeoInfo>>>,
}

/// Most answers the service keeps; the cache is emptied when it is full, and whenever the
/// databases are reloaded.
pub const CACHE_ENTRIES: usize = 65_536;

impl GeoService {
    /// Opens the configured databases; any failure is an error (a clear one, naming the
    /// file) at start.
    pub fn open(paths: &GeoPaths) -> Result<Self, GeoError> {
        let geo = Geo::open(paths)?;
        Ok(GeoService {
            paths: paths.clone(),
            current: RwLock::new(Arc::new(geo)),
            watch: Mutex::new(Watch {
                stamps: Self::stamps(paths),
                last_check: None,
            }),
            gaps_told: std::sync::Once::new(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A service over databases opened elsewhere, never reloaded (benchmarks, tools).
    pub fn fixed(geo: impl Into<Arc<Geo>>) -> Self {
        GeoService {
            paths: GeoPaths::default(),
            current: RwLock::new(geo.into()),
            watch: Mutex::new(Watch {
                stamps: Vec::new(),
                last_check: None,
            }),
            gaps_told: std::sync::Once::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn stamps(paths: &GeoPaths) -> Vec<Option<Stamp>> {
        [&paths.city, &paths.country, &paths.asn]
            .into_iter()
            .flatten()
            .map(|p| stamp(p))
            .collect()
    }

    /// The databases in use now.
    pub fn current(&self) -> Arc<Geo> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// What the databases say about `ip`, from a bounded cache of recent answers.
    pub fn lookup(&self, ip: IpAddr) -> Option<GeoInfo> {
        if let Ok(cache) = self.cache.lock()
            && let Some(answer) = cache.get(&ip)
        {
            return answer.clone();
        }
        let answer = self.current().lookup(ip);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(ip, answer.clone());
        }
        answer
    }

    /// Says once, the first time a plugin asks, what the loaded databases cannot answer.
    pub fn tell_gaps_once(&self) {
        self.gaps_told.call_once(|| {
            for gap in self.current().gaps() {
                tracing::warn!("geoip: {gap}");
            }
        });
    }

    /// Re-opens the databases if any configured file was replaced or changed since the last
    /// look. A replacement that does not open (missing, damaged, wrong type) is logged and
    /// the databases in use are kept; the next change is tried again.
    pub fn reload_if_changed(&self) -> Reload {
        let Ok(mut watch) = self.watch.lock() else {
            return Reload::Unchanged;
        };
        let now = Self::stamps(&self.paths);
        if now == watch.stamps {
            return Reload::Unchanged;
        }
        watch.stamps = now;
        match Geo::open(&self.paths) {
            Ok(geo) => {
                tracing::info!("geoip: reloaded: {}", geo.describe());
                if let Ok(mut cur) = self.current.write() {
                    *cur = Arc::new(geo);
                }
                if let Ok(mut cache) = self.cache.lock() {
                    cache.clear();
                }
                Reload::Reloaded
            }
            Err(e) => {
                tracing::warn!("geoip: keeping the databases in use: {e}");
                Reload::Kept(e)
            }
        }
    }

    /// [`GeoService::reload_if_changed`], at most once per `every`.
    pub fn maybe_reload(&self, every: Duration) {
        {
            let Ok(mut watch) = self.watch.lock() else {
                return;
            };
            if watch.last_check.is_some_and(|t| t.elapsed() < every) {
                return;
            }
            watch.last_check = Some(Instant::now());
        }
        let _ = self.reload_if_changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/geoip")
            .join(name)
    }

    fn country(s: &GeoService, ip: &str) -> Option<String> {
        s.lookup(ip.parse::<IpAddr>().unwrap())
            .and_then(|g| g.country)
    }

    #[test]
    fn a_replaced_file_is_picked_up_and_a_broken_replacement_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geo.mmdb");
        // Start with the Country database: it knows 81.2.69.142 as GB but has no city.
        // Lookups go through the service's cache, which a reload must empty.
        std::fs::copy(fixture("GeoLite2-Country-Test.mmdb"), &path).unwrap();
        let svc = GeoService::open(&GeoPaths {
            city: Some(path.clone()),
            ..GeoPaths::default()
        })
        .unwrap();
        assert_eq!(country(&svc, "81.2.69.142").as_deref(), Some("GB"));
        assert!(
            svc.lookup("81.2.69.142".parse().unwrap())
                .unwrap()
                .city
                .is_none()
        );
        assert!(matches!(svc.reload_if_changed(), Reload::Unchanged));

        // Replaced the way geoipupdate does it: a new file renamed over the old one.
        let tmp = dir.path().join("geo.mmdb.tmp");
        std::fs::copy(fixture("GeoLite2-City-Test.mmdb"), &tmp).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(matches!(svc.reload_if_changed(), Reload::Reloaded));
        let london = svc.lookup("81.2.69.142".parse().unwrap()).unwrap();
        assert_eq!(london.city.as_deref(), Some("London"));

        // A damaged replacement: refused, and the databases in use stay.
        std::fs::copy(fixture("GeoIP2-City-Test-Invalid-Node-Count.mmdb"), &tmp).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(matches!(svc.reload_if_changed(), Reload::Kept(_)));
        assert_eq!(country(&svc, "81.2.69.142").as_deref(), Some("GB"));
        assert!(
            svc.lookup("81.2.69.142".parse().unwrap())
                .unwrap()
                .city
                .is_some()
        );

        // A missing file too.
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            svc.reload_if_changed(),
            Reload::Kept(GeoError::Missing { .. })
        ));
        assert!(svc.lookup("81.2.69.142".parse().unwrap()).is_some());
    }
}
