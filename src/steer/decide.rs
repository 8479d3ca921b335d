//! Pure: (zones, current shares) -> `DecisionTable`, the structure the query path reads to steer
//! one client. It also holds the region index (CIDR overrides, countries, continents, default)
//! and the ECS scope rule, so the answer code only asks "which CDN for this client, with which
//! TTL and scope".

use std::net::IpAddr;

use ipnet::IpNet;

use crate::geo::{self, Located};
use crate::steer::select::{self, Cell};
use crate::zone::model::{CdnIndex, Code2, RegionKey, SteeredName};

/// Settings of the selection that are not per zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellPrefixes {
    /// IPv4 client cell, bits (default 24, the ECS privacy length).
    pub v4: u8,
    /// IPv6 client cell, bits (default 56).
    pub v6: u8,
}

impl Default for CellPrefixes {
    fn default() -> Self {
        CellPrefixes { v4: 24, v6: 56 }
    }
}

/// One CDN's current share within a region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    /// Which CDN of the steered name.
    pub cdn: CdnIndex,
    /// Relative weight (need not sum to 1); 0 means drained.
    pub weight: f64,
    /// Rendezvous salt of the CDN (from its name).
    pub salt: u64,
}

/// What one region of one steered name answers right now.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionDecision {
    /// Which clients.
    pub key: RegionKey,
    /// Candidate shares.
    pub shares: Vec<Share>,
    /// TTL of answers.
    pub ttl: u32,
    /// True when no candidate is usable and the last-resort CDN answers.
    pub fail_open: bool,
}

impl RegionDecision {
    fn usable(&self) -> usize {
        self.shares.iter().filter(|s| s.weight > 0.0).count()
    }
}

/// The steering of one client for one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steering {
    /// Index of the region that matched.
    pub region: usize,
    /// The chosen CDN.
    pub cdn: CdnIndex,
    /// TTL of the answer.
    pub ttl: u32,
    /// ECS scope prefix: the prefix over which this answer is constant.
    pub scope: u8,
}

/// Decisions for one steered name.
#[derive(Debug, Clone)]
pub struct NameDecisions {
    /// Salt of the name for the rendezvous hash.
    pub name_salt: u64,
    /// Last-resort CDN.
    pub last_resort: CdnIndex,
    /// Per region, in the steered name's region order.
    pub regions: Vec<RegionDecision>,
    /// Override networks, longest prefix first.
    nets: Vec<OverrideNet>,
    /// Region index per country, dense over AA..ZZ (676 slots), `NONE` when absent.
    countries: Box<[u16; 676]>,
    /// Region index per continent, same layout.
    continents: Box<[u16; 676]>,
    default: usize,
}

impl NameDecisions {
    /// Build with the configured static weights (tests; the daemon plans with `plan`).
    #[cfg(test)]
    pub fn from_static(name: &SteeredName) -> NameDecisions {
        let regions = name
            .regions
            .iter()
            .map(|r| RegionDecision {
                key: r.key.clone(),
                shares: r
                    .candidates
                    .iter()
                    .map(|c| Share { cdn: c.cdn, weight: c.weight, salt: select::salt(&name.cdns[c.cdn].name) })
                    .collect(),
                ttl: name.ttl,
                fail_open: false,
            })
            .collect();
        Self::with_regions(name, regions)
    }

    /// Build with given region decisions (same order as `name.regions`).
    pub fn with_regions(name: &SteeredName, regions: Vec<RegionDecision>) -> NameDecisions {
        let mut nets = Vec::new();
        let mut countries = Box::new([NONE; 676]);
        let mut continents = Box::new([NONE; 676]);
        let mut default = regions.len().saturating_sub(1);
        for (i, r) in name.regions.iter().enumerate() {
            match &r.key {
                RegionKey::Network(_) => nets.extend(r.nets.iter().map(|n| OverrideNet::new(*n, i))),
                RegionKey::Country(c) => set_first(&mut countries, *c, i),
                RegionKey::Continent(c) => set_first(&mut continents, *c, i),
                RegionKey::Default => default = i,
            }
        }
        nets.sort_by(|a: &OverrideNet, b: &OverrideNet| b.prefix.cmp(&a.prefix));
        NameDecisions {
            name_salt: select::salt(name.name.as_str()),
            last_resort: name.last_resort,
            regions,
            nets,
            countries,
            continents,
            default,
        }
    }

    /// Region index and the prefix over which that region is constant around `ip`.
    pub fn region_of(&self, ip: IpAddr, located: &Located) -> (usize, u8) {
        let (v6, bits) = left_aligned(ip);
        let (region, mut scope) = match self.nets.iter().find(|n| n.contains(v6, bits)) {
            Some(net) => (net.region, net.prefix),
            None => {
                let region = located
                    .place
                    .country
                    .and_then(|c| lookup(&self.countries, c))
                    .or_else(|| located.place.continent.and_then(|c| lookup(&self.continents, c)))
                    .unwrap_or(self.default);
                (region, located.prefix_len)
            }
        };
        // Narrow the scope until it excludes every override network that does not hold the
        // client but lies inside the client's /scope block: within such a block the answer is
        // not constant. Scope only grows, so one pass suffices.
        for net in &self.nets {
            if net.v6 != v6 || net.contains(v6, bits) {
                continue;
            }
            let common = (bits ^ net.bits).leading_zeros() as u8;
            if common >= scope && net.prefix > scope {
                scope = scope.max(common + 1);
            }
        }
        (region, scope)
    }

    /// Steer one client: region, CDN, TTL and ECS scope.
    pub fn steer(&self, ip: IpAddr, located: &Located, cells: CellPrefixes) -> Steering {
        let (region_index, region_scope) = self.region_of(ip, located);
        let Some(region) = self.regions.get(region_index) else {
            return Steering { region: region_index, cdn: self.last_resort, ttl: 0, scope: region_scope };
        };
        let usable = region.usable();
        if region.fail_open || usable == 0 {
            return Steering { region: region_index, cdn: self.last_resort, ttl: region.ttl, scope: region_scope };
        }
        if usable == 1 {
            let cdn = region.shares.iter().find(|s| s.weight > 0.0).map_or(self.last_resort, |s| s.cdn);
            return Steering { region: region_index, cdn, ttl: region.ttl, scope: region_scope };
        }
        let base = if ip.is_ipv4() { cells.v4 } else { cells.v6 };
        let cell_prefix = base.max(region_scope);
        let cell = Cell::of(ip, cell_prefix);
        let key = select::cell_key(cell, self.name_salt);
        let winner = select::pick(key, region.shares.iter().map(|s| (s.salt, s.weight)));
        let cdn = winner.and_then(|i| region.shares.get(i)).map_or(self.last_resort, |s| s.cdn);
        Steering { region: region_index, cdn, ttl: region.ttl, scope: cell_prefix }
    }
}

/// The address a query is steered by, and how it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The (normalised) address located: the ECS address, else the packet's source.
    pub addr: IpAddr,
    /// Located by the EDNS Client Subnet option.
    pub by_ecs: bool,
    /// The ECS address was IPv4-mapped IPv6 (scopes are then reported in IPv6 bits).
    pub mapped: bool,
}

/// Locate by the ECS address when the resolver sent one with a non-zero source prefix, else
/// by the packet's source. IPv4-mapped addresses are located as IPv4. The DNS path and explain
/// both call this, so they cannot disagree.
pub fn client_addr(src: IpAddr, ecs: Option<(IpAddr, u8)>) -> ClientAddr {
    match ecs {
        Some((addr, source)) if source > 0 => match geo::normalize(addr) {
            v4 @ IpAddr::V4(_) if addr.is_ipv6() => ClientAddr { addr: v4, by_ecs: true, mapped: true },
            other => ClientAddr { addr: other, by_ecs: true, mapped: false },
        },
        _ => ClientAddr { addr: geo::normalize(src), by_ecs: false, mapped: false },
    }
}

/// The ECS scope to echo: the answer's scope (in the located family) for a location-dependent
/// answer, 0 for one that is not or when the source prefix was 0.
pub fn ecs_scope(answer_scope: Option<u8>, source: u8, mapped: bool) -> u8 {
    match answer_scope {
        Some(s) if source > 0 => {
            if mapped { s.saturating_add(96).min(128) } else { s }
        }
        _ => 0,
    }
}

/// Marks an empty slot in the dense code tables.
const NONE: u16 = u16::MAX;

/// Slot of a two-letter upper-case code in a dense 26x26 table.
#[inline]
fn slot(code: Code2) -> Option<usize> {
    let (a, b) = (code[0].wrapping_sub(b'A'), code[1].wrapping_sub(b'A'));
    (a < 26 && b < 26).then_some(usize::from(a) * 26 + usize::from(b))
}

fn set_first(table: &mut [u16; 676], code: Code2, region: usize) {
    if let (Some(s), Ok(r)) = (slot(code), u16::try_from(region)) {
        if table[s] == NONE {
            table[s] = r;
        }
    }
}

#[inline]
fn lookup(table: &[u16; 676], code: Code2) -> Option<usize> {
    slot(code).map(|s| table[s]).filter(|r| *r != NONE).map(usize::from)
}

/// An address as 128 bits, IPv4 in the top 32, so prefix arithmetic is the same for both
/// families.
#[inline]
fn left_aligned(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a)) << 96),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

/// An override CIDR in integer form (the query path compares masks, not `IpNet`s).
#[derive(Debug, Clone, Copy)]
struct OverrideNet {
    bits: u128,
    mask: u128,
    prefix: u8,
    v6: bool,
    region: usize,
}

impl OverrideNet {
    fn new(net: IpNet, region: usize) -> OverrideNet {
        let (v6, bits) = left_aligned(net.addr());
        let prefix = net.prefix_len();
        let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
        OverrideNet { bits: bits & mask, mask, prefix, v6, region }
    }

    #[inline]
    fn contains(&self, v6: bool, bits: u128) -> bool {
        self.v6 == v6 && bits & self.mask == self.bits
    }
}

/// Decisions for every steered name, indexed like `ZoneSet::steered()`.
#[derive(Debug, Clone, Default)]
pub struct DecisionTable {
    /// Per steered name.
    pub names: Vec<NameDecisions>,
    /// Client cell prefixes.
    pub cells: CellPrefixes,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::Place;
    use crate::zone::model::{Candidate, Cdn, DomainName, Region};

    fn name() -> SteeredName {
        let cdn = |n: &str| Cdn { name: n.to_string(), target: DomainName::absolute(&format!("{n}.cdn.test")).unwrap() };
        SteeredName {
            name: DomainName::absolute("live.example.com").unwrap(),
            ttl: 20,
            cdns: vec![cdn("a"), cdn("b")],
            last_resort: 1,
            regions: vec![
                Region {
                    key: RegionKey::Network("isp".into()),
                    nets: vec!["10.1.0.0/16".parse().unwrap()],
                    candidates: vec![Candidate { cdn: 1, weight: 1.0 }],
                },
                Region {
                    key: RegionKey::Country(*b"KR"),
                    nets: vec![],
                    candidates: vec![Candidate { cdn: 0, weight: 1.0 }, Candidate { cdn: 1, weight: 1.0 }],
                },
                Region { key: RegionKey::Default, nets: vec![], candidates: vec![Candidate { cdn: 0, weight: 1.0 }] },
            ],
        }
    }

    fn at(country: Option<&[u8; 2]>, prefix_len: u8) -> Located {
        Located { place: Place { country: country.copied(), continent: None }, prefix_len }
    }

    #[test]
    fn override_beats_country_and_scope_excludes_nested_override() {
        let d = NameDecisions::from_static(&name());
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let s = d.steer(ip, &at(Some(b"KR"), 8), CellPrefixes::default());
        assert_eq!((s.region, s.cdn, s.scope), (0, 1, 16));
        // 10.2.0.1 is KR in a /8 that also holds the /16 override: scope must exclude it.
        let ip: IpAddr = "10.2.0.1".parse().unwrap();
        let (region, scope) = d.region_of(ip, &at(Some(b"KR"), 8));
        assert_eq!(region, 1);
        assert_eq!(scope, 15, "10.2/15 is the widest block around the client without 10.1/16");
        // Unknown country, one candidate: scope is the database network.
        let s = d.steer("192.0.2.1".parse().unwrap(), &at(None, 20), CellPrefixes::default());
        assert_eq!((s.region, s.cdn, s.scope), (2, 0, 20));
        // Two candidates: scope is the cell.
        let s = d.steer("211.234.5.6".parse().unwrap(), &at(Some(b"KR"), 16), CellPrefixes::default());
        assert_eq!(s.scope, 24);
        let s = d.steer("211.234.5.6".parse().unwrap(), &at(Some(b"KR"), 26), CellPrefixes::default());
        assert_eq!(s.scope, 26, "a narrower database network is the cell");
    }

    #[test]
    fn all_drained_fails_open_to_last_resort() {
        let mut d = NameDecisions::from_static(&name());
        for s in &mut d.regions[1].shares {
            s.weight = 0.0;
        }
        let s = d.steer("211.234.5.6".parse().unwrap(), &at(Some(b"KR"), 16), CellPrefixes::default());
        assert_eq!((s.cdn, s.scope), (1, 16));
    }
}
