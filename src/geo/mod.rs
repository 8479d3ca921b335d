//! GeoIP: client address -> country, continent and the prefix length of the database network
//! that matched. The only user of `maxminddb`.
//!
//! The database is read into memory (never mmap'd: operators replace the file in place) and
//! checked before use. Both the GeoIP2/GeoLite2 layout (`country.iso_code`, `continent.code`)
//! and flat layouts (`country_code`, as in the bundled iptoasn database) are read; flat ones get
//! their continent from the built-in table in `crate::region`. Every distinct record is decoded once
//! at load time, so a query costs one tree walk and one small map lookup.

use rustc_hash::FxHashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use maxminddb::{Reader, WithinOptions};
use serde::Deserialize;

use crate::region::{self, Code2};

/// Largest database accepted (the full GeoIP2 City is ~70 MB; a country database ~10 MB).
pub const MAX_DB_BYTES: u64 = 512 * 1024 * 1024;

/// Why a GeoIP database was refused.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read.
    #[error("{path}: cannot read GeoIP database: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes are not a MaxMind DB.
    #[error("{path}: not a valid MaxMind DB file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// A readable database that holds no usable country data.
    #[error("{path}: GeoIP database has no country data ({detail}); expected records with country.iso_code or country_code")]
    NoCountryData {
        /// The file.
        path: PathBuf,
        /// What was looked at.
        detail: String,
    },
    /// The file is unreasonably large.
    #[error("{path}: GeoIP database is {size} bytes; at most {MAX_DB_BYTES} are read")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
}

/// Where an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Place {
    /// ISO country code, if known.
    pub country: Option<Code2>,
    /// Continent code, if known.
    pub continent: Option<Code2>,
}

/// The answer for one address: where it is, and over which prefix (in the address's own family)
/// the database says the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// The place.
    pub place: Place,
    /// Prefix length of the matched database network.
    pub prefix_len: u8,
}

/// Facts about a loaded database, for logs and the status API.
#[derive(Debug, Clone)]
pub struct GeoInfo {
    /// The file it came from.
    pub path: PathBuf,
    /// `database_type` from the metadata.
    pub database_type: String,
    /// Build time, Unix seconds.
    pub build_epoch: u64,
    /// Networks that carry data.
    pub networks: usize,
    /// Distinct records.
    pub records: usize,
    /// Size in bytes.
    pub bytes: usize,
}

/// A loaded, checked GeoIP database.
pub struct GeoDb {
    reader: Reader<Vec<u8>>,
    /// Data-section offset -> decoded place; filled for every record at load time.
    places: FxHashMap<usize, Place>,
    ipv6: bool,
    info: GeoInfo,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("info", &self.info).finish()
    }
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct ContinentCode<'a> {
    #[serde(borrow, default)]
    code: Option<&'a str>,
}

/// The union of the layouts we read; unknown keys (names, geoname ids...) are skipped.
#[derive(Deserialize)]
struct RawRecord<'a> {
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    continent_code: Option<&'a str>,
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    continent: Option<ContinentCode<'a>>,
}

impl RawRecord<'_> {
    fn place(&self) -> Place {
        let country_text = self
            .country
            .as_ref()
            .and_then(|c| c.iso_code)
            .or(self.country_code)
            .or(self.registered_country.as_ref().and_then(|c| c.iso_code));
        let mut place = Place::default();
        if let Some(text) = country_text {
            match text {
                // Regional registry pseudo-codes some flat databases use.
                "AP" => place.continent = Some(*b"AS"),
                "EU" => place.continent = Some(*b"EU"),
                _ => place.country = region::country_code(text),
            }
        }
        let continent_text = self.continent.as_ref().and_then(|c| c.code).or(self.continent_code);
        place.continent = continent_text
            .and_then(region::continent_code)
            .or(place.continent)
            .or_else(|| place.country.and_then(region::continent_of));
        place
    }
}

impl GeoDb {
    /// Read and check a database file.
    pub fn open(path: &Path) -> Result<GeoDb, GeoError> {
        let size = std::fs::metadata(path)
            .map_err(|source| GeoError::Io { path: path.to_path_buf(), source })?
            .len();
        if size > MAX_DB_BYTES {
            return Err(GeoError::TooLarge { path: path.to_path_buf(), size });
        }
        let bytes = std::fs::read(path).map_err(|source| GeoError::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(bytes, path)
    }

    /// Check a database held in memory; `path` names it in messages.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<GeoDb, GeoError> {
        let corrupt = |e: maxminddb::MaxMindDbError| GeoError::Corrupt { path: path.to_path_buf(), message: e.to_string() };
        let len = bytes.len();
        let reader = Reader::from_source(bytes).map_err(corrupt)?;
        let meta = reader.metadata();
        let ipv6 = meta.ip_version == 6;
        let database_type = meta.database_type.clone();
        let build_epoch = meta.build_epoch;

        // Decode every record once. This walks the whole search tree, so it doubles as the
        // integrity check: a corrupt tree or data section fails here, before any swap.
        let mut places = FxHashMap::default();
        let mut networks = 0usize;
        let mut with_country = 0usize;
        for item in reader.networks(WithinOptions::default()).map_err(corrupt)? {
            let result = item.map_err(corrupt)?;
            let Some(offset) = result.offset() else { continue };
            networks += 1;
            if let std::collections::hash_map::Entry::Vacant(slot) = places.entry(offset) {
                let raw: Option<RawRecord<'_>> = result.decode().map_err(corrupt)?;
                let place = raw.map(|r| r.place()).unwrap_or_default();
                slot.insert(place);
            }
            if places.get(&offset).is_some_and(|p| p.country.is_some() || p.continent.is_some()) {
                with_country += 1;
            }
        }
        if with_country == 0 {
            return Err(GeoError::NoCountryData {
                path: path.to_path_buf(),
                detail: format!("{networks} networks, type `{database_type}`"),
            });
        }
        let info = GeoInfo {
            path: path.to_path_buf(),
            database_type,
            build_epoch,
            networks,
            records: places.len(),
            bytes: len,
        };
        let db = GeoDb { reader, places, ipv6, info };
        // Sample lookups through the query-path function: none may fail, whatever they find.
        for sample in [
            IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
            IpAddr::V4(Ipv4Addr::new(211, 234, 0, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0x4860, 0, 0, 0, 0, 0, 0x8888)),
        ] {
            let _ = db.locate(sample);
        }
        Ok(db)
    }

    /// Facts about the database.
    pub fn info(&self) -> &GeoInfo {
        &self.info
    }

    /// Locate an address. IPv4-mapped IPv6 addresses are looked up as IPv4 (the prefix is then
    /// an IPv4 prefix). Unknown addresses get an empty place, with the prefix of the empty
    /// network that matched (0 when nothing could be looked up).
    pub fn locate(&self, ip: IpAddr) -> Located {
        let ip = normalize(ip);
        if ip.is_ipv6() && !self.ipv6 {
            return Located { place: Place::default(), prefix_len: 0 };
        }
        let Ok(result) = self.reader.lookup(ip) else {
            return Located { place: Place::default(), prefix_len: 0 };
        };
        let prefix_len = match result.network() {
            // An IPv4 address that matched above the IPv4 subtree has a v6 network: the
            // database holds no IPv4 data at all, so nothing narrower than /0 is known.
            Ok(net) if net.is_ipv4() == ip.is_ipv4() => net.prefix(),
            _ => 0,
        };
        let place = result.offset().and_then(|o| self.places.get(&o).copied()).unwrap_or_default();
        Located { place, prefix_len }
    }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes plain IPv4; everything else is unchanged.
pub fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}
