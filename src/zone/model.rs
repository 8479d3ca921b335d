//! The validated zone model the rest of the program uses. Everything here has passed
//! `zone::check`: names are valid and inside their zone, CDNs referenced by regions exist,
//! weights are positive, TTLs are in bounds. Nothing here knows about the DNS wire format.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::IpNet;

pub use super::name::DomainName;
pub use crate::region::{Code2, RegionKey};

/// Index of a CDN within its steered name's `cdns`.
pub type CdnIndex = usize;

/// All zones served, as loaded from one directory.
#[derive(Debug, Clone, Default)]
pub struct ZoneSet {
    /// Zones sorted by apex.
    pub zones: Vec<Zone>,
    /// Which load this is (unique within the process; a clone keeps it).
    pub id: u64,
}

impl ZoneSet {
    /// Every steered name of every zone, in a stable order (zone order, then file order); the
    /// position in this iteration is the steered name's global index.
    pub fn steered(&self) -> impl Iterator<Item = &SteeredName> {
        self.zones.iter().flat_map(|z| z.steered.iter())
    }

    /// The zone whose apex is the longest suffix of `name`.
    pub fn zone_for(&self, name: &DomainName) -> Option<&Zone> {
        self.zones
            .iter()
            .filter(|z| name.is_in(&z.origin))
            .max_by_key(|z| z.origin.as_str().len())
    }
}

/// One zone.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The apex.
    pub origin: DomainName,
    /// The file it came from.
    pub file: PathBuf,
    /// Start of authority.
    pub soa: Soa,
    /// Static RRsets, one per (name, type).
    pub rrsets: Vec<RRset>,
    /// Steered names.
    pub steered: Vec<SteeredName>,
    /// Health measurement and share policy for this zone's steered names.
    pub health: super::health::HealthPolicy,
}

/// The SOA of a zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Soa {
    /// MNAME.
    pub primary: DomainName,
    /// RNAME.
    pub contact: DomainName,
    /// Serial.
    pub serial: u32,
    /// Refresh, seconds.
    pub refresh: u32,
    /// Retry, seconds.
    pub retry: u32,
    /// Expire, seconds.
    pub expire: u32,
    /// MINIMUM: the negative-caching TTL.
    pub negative_ttl: u32,
    /// TTL of the SOA record.
    pub ttl: u32,
}

/// Record types a zone file may hold (SOA has its own block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Alias.
    Cname,
    /// Name server.
    Ns,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Certification authority authorisation.
    Caa,
}

impl RecordKind {
    /// Parse the type name as written in a zone file (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "A" => Self::A,
            "AAAA" => Self::Aaaa,
            "CNAME" => Self::Cname,
            "NS" => Self::Ns,
            "MX" => Self::Mx,
            "TXT" => Self::Txt,
            "CAA" => Self::Caa,
            _ => return None,
        })
    }

    /// The presentation name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Cname => "CNAME",
            Self::Ns => "NS",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Caa => "CAA",
        }
    }
}

/// Record data.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordData {
    /// A.
    A(Ipv4Addr),
    /// AAAA.
    Aaaa(Ipv6Addr),
    /// CNAME target.
    Cname(DomainName),
    /// NS host.
    Ns(DomainName),
    /// MX.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// Mail host.
        exchange: DomainName,
    },
    /// TXT, as character-strings of at most 255 bytes each.
    Txt(Vec<Vec<u8>>),
    /// CAA (RFC 8659).
    Caa {
        /// Issuer-critical flag.
        critical: bool,
        /// issue, issuewild, iodef, ...
        tag: String,
        /// The property value.
        value: String,
    },
}

/// The records of one type at one name.
#[derive(Debug, Clone, PartialEq)]
pub struct RRset {
    /// Owner.
    pub name: DomainName,
    /// Type.
    pub kind: RecordKind,
    /// TTL, seconds.
    pub ttl: u32,
    /// One or more values.
    pub data: Vec<RecordData>,
}

/// A CDN a steered name can send viewers to.
#[derive(Debug, Clone, PartialEq)]
pub struct Cdn {
    /// Operator's name for it (`akamai`).
    pub name: String,
    /// The CNAME target at the CDN.
    pub target: DomainName,
}

/// A CDN and its configured weight within a region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Which CDN.
    pub cdn: CdnIndex,
    /// Relative weight, > 0.
    pub weight: f64,
}

/// One region of a steered name and its candidate CDNs.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Which clients.
    pub key: RegionKey,
    /// For network regions, the CIDRs of the list.
    pub nets: Vec<IpNet>,
    /// Candidate CDNs with their static weights.
    pub candidates: Vec<Candidate>,
}

/// A name answered with a CNAME to the CDN chosen for the client's region.
#[derive(Debug, Clone, PartialEq)]
pub struct SteeredName {
    /// Owner name.
    pub name: DomainName,
    /// TTL of the answers, seconds.
    pub ttl: u32,
    /// CDNs, in file order.
    pub cdns: Vec<Cdn>,
    /// CDN answered when a region has no usable candidate.
    pub last_resort: CdnIndex,
    /// Regions: networks first, then countries, continents, and `default` last.
    pub regions: Vec<Region>,
}

impl SteeredName {
    /// Index of the region with this key.
    pub fn region_index(&self, key: &RegionKey) -> Option<usize> {
        self.regions.iter().position(|r| &r.key == key)
    }

    /// Index of a CDN by name.
    pub fn cdn_index(&self, name: &str) -> Option<CdnIndex> {
        self.cdns.iter().position(|c| c.name == name)
    }
}
