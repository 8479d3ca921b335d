//! Semantic checks: turn a parsed `spec::ZoneFile` into a validated `model::Zone`, reporting
//! every problem (not just the first) with its location, YAML path and named code.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnet::IpNet;

use super::model::{
    Candidate, Cdn, DomainName, RRset, RecordData, RecordKind, Region, RegionKey, Soa,
    SteeredName, Zone,
};
use super::spec::{self, CandidatesSpec, OrderedMap, Spanned, ZoneFile, pos};
use crate::diag::{Code, Diagnostics, Pos};
use crate::region;

/// Bounds for TTLs, seconds.
pub mod ttl_bounds {
    /// Static records and the SOA: up to one week.
    pub const STATIC_MAX: u32 = 604_800;
    /// Steered answers: at least 1 s (0 would defeat resolver caching entirely), at most one
    /// hour (longer would make steering pointless).
    pub const STEERED_MIN: u32 = 1;
    /// See `STEERED_MIN`.
    pub const STEERED_MAX: u32 = 3_600;
    /// Negative caching: up to one day (RFC 2308 suggests 1-3 hours).
    pub const NEGATIVE_MAX: u32 = 86_400;
    /// Default TTL of steered names.
    pub const STEERED_DEFAULT: u32 = 20;
    /// Default TTL of static records when the zone sets none.
    pub const STATIC_DEFAULT: u32 = 3_600;
}

/// Largest RRset accepted, bytes on the wire (approximate): what fits a TCP message.
pub const MAX_RRSET_BYTES: usize = 60_000;

/// Check one parsed file; returns the zone when it has no problems.
pub fn check_zone(file: &Path, spec: ZoneFile, diags: &mut Diagnostics) -> Option<Zone> {
    let before = diags.items().len();
    let mut cx = Cx { file, diags };

    if spec.version.value != spec::SCHEMA_VERSION {
        cx.err(
            pos(&spec.version),
            "version",
            Code::UnsupportedVersion,
            format!("version {} is not supported; expected {}", spec.version.value, spec::SCHEMA_VERSION),
        );
        return None;
    }
    let origin = match DomainName::absolute(&spec.zone.value) {
        Ok(n) if !n.is_root() => n,
        Ok(_) => {
            cx.err(pos(&spec.zone), "zone", Code::InvalidName, "the root zone cannot be served");
            return None;
        }
        Err(e) => {
            cx.err(pos(&spec.zone), "zone", Code::InvalidName, e);
            return None;
        }
    };
    let default_ttl = match &spec.ttl {
        Some(t) => cx.ttl(t, "ttl", 0, ttl_bounds::STATIC_MAX),
        None => ttl_bounds::STATIC_DEFAULT,
    };

    let soa = match &spec.soa {
        Some(s) => cx.soa(s, &origin, default_ttl),
        None => {
            cx.err(
                Pos { line: 1, col: 1 },
                "soa",
                Code::MissingSoa,
                "the zone has no `soa` block; expected primary, contact and serial",
            );
            None
        }
    };

    let networks = cx.networks(&spec.networks);
    let rrsets = cx.records(&spec.records, &origin, default_ttl);
    let static_names: HashMap<&DomainName, Pos> =
        rrsets.iter().map(|(r, p)| (&r.name, *p)).collect();
    if !rrsets.iter().any(|(r, _)| r.kind == RecordKind::Ns && r.name == origin) {
        cx.err(
            pos(&spec.zone),
            "records",
            Code::MissingNs,
            format!("no NS records at the apex {origin}; expected at least one `type: NS` with `name: \"@\"`"),
        );
    }

    let mut steered = cx.steered_names(&spec, &origin, &static_names, &networks);
    let mut seen_steered = HashSet::new();
    steered.retain(|s: &SteeredName| seen_steered.insert(s.name.clone()));

    let facts = zone_facts(&spec);
    let health = super::health::check_health(file, spec.health.as_ref(), &facts, cx.diags);

    if diags_len(&cx) > before {
        return None;
    }
    Some(Zone {
        origin,
        file: file.to_path_buf(),
        soa: soa?,
        rrsets: rrsets.into_iter().map(|(r, _)| r).collect(),
        steered,
        health,
    })
}

/// What the health checks need to know about the rest of the file.
fn zone_facts(spec: &ZoneFile) -> super::health::ZoneFacts {
    let mut facts = super::health::ZoneFacts {
        cdns: spec.steered.0.iter().flat_map(|(_, s)| s.value.cdns.value.0.iter().map(|(k, _)| k.value.clone())).collect(),
        networks: spec.networks.0.iter().map(|(k, _)| k.value.clone()).collect(),
        regions: Vec::new(),
    };
    for (key, s) in &spec.steered.0 {
        let r = &s.value.regions.value;
        let base = format!("steered.{}.regions", key.value);
        for (kind, map) in [("networks", &r.networks), ("countries", &r.countries), ("continents", &r.continents)] {
            facts.regions.extend(map.0.iter().map(|(k, c)| (format!("{base}.{kind}.{}", k.value), c.value.0.len())));
        }
        facts.regions.push((format!("{base}.default"), r.default.value.0.len()));
    }
    facts
}

fn diags_len(cx: &Cx<'_>) -> usize {
    cx.diags.items().len()
}

struct Cx<'a> {
    file: &'a Path,
    diags: &'a mut Diagnostics,
}

impl Cx<'_> {
    /// Every steered name of the file: a valid name inside the zone, not the apex, not also
    /// a static name, then its own checks.
    fn steered_names(&mut self, spec: &ZoneFile, origin: &DomainName, static_names: &HashMap<&DomainName, Pos>, networks: &HashMap<String, Vec<IpNet>>) -> Vec<SteeredName> {
        let mut steered = Vec::new();
        for (key, s) in &spec.steered.0 {
            let path = format!("steered.{}", key.value);
            let name = match DomainName::in_zone(&key.value, &origin) {
                Ok(n) => n,
                Err(e) => {
                    self.err(pos(key), &path, Code::InvalidName, e);
                    continue;
                }
            };
            if !name.is_in(&origin) {
                self.err(pos(key), &path, Code::NameOutsideZone, format!("{name} is outside the zone {origin}"));
                continue;
            }
            if name == *origin {
                self.err(pos(key), &path, Code::CnameAtApex, "the apex cannot be steered: it would need a CNAME beside SOA and NS");
                continue;
            }
            if let Some(p) = static_names.get(&name) {
                self.err(
                    pos(key),
                    &path,
                    Code::SteeredClash,
                    format!("{name} also has static records (line {}); a steered name answers with a CNAME only", p.line),
                );
                continue;
            }
            if let Some(n) = self.steered(name, s, &networks, &path) {
                steered.push(n);
            }
        }
        steered
    }

    fn err(&mut self, at: Pos, path: &str, code: Code, message: impl Into<String>) {
        self.diags.push(self.file, at, path, code, message);
    }

    fn ttl(&mut self, t: &Spanned<u32>, path: &str, min: u32, max: u32) -> u32 {
        if t.value < min || t.value > max {
            self.err(
                pos(t),
                path,
                Code::TtlOutOfBounds,
                format!("TTL {} is out of bounds; expected {min} to {max} seconds", t.value),
            );
        }
        t.value.clamp(min, max)
    }

    fn name_in_zone(&mut self, s: &Spanned<String>, origin: &DomainName, path: &str) -> Option<DomainName> {
        match DomainName::in_zone(&s.value, origin) {
            Ok(n) => Some(n),
            Err(e) => {
                self.err(pos(s), path, Code::InvalidName, e);
                None
            }
        }
    }

    fn soa(&mut self, s: &Spanned<spec::SoaSpec>, origin: &DomainName, default_ttl: u32) -> Option<Soa> {
        let s = &s.value;
        let primary = self.name_in_zone(&s.primary, origin, "soa.primary");
        let contact = self.name_in_zone(&s.contact, origin, "soa.contact");
        let negative_ttl = self.ttl(&s.negative_ttl, "soa.negative_ttl", 0, ttl_bounds::NEGATIVE_MAX);
        let ttl = match &s.ttl {
            Some(t) => self.ttl(t, "soa.ttl", 0, ttl_bounds::STATIC_MAX),
            None => default_ttl,
        };
        Some(Soa {
            primary: primary?,
            contact: contact?,
            serial: s.serial,
            refresh: s.refresh,
            retry: s.retry,
            expire: s.expire,
            negative_ttl,
            ttl,
        })
    }

    fn networks(&mut self, spec: &OrderedMap<Vec<Spanned<String>>>) -> HashMap<String, Vec<IpNet>> {
        let mut out = HashMap::new();
        for (name, cidrs) in &spec.0 {
            let mut nets = Vec::new();
            for (i, c) in cidrs.iter().enumerate() {
                let path = format!("networks.{}[{i}]", name.value);
                match parse_cidr(&c.value) {
                    Ok(n) => nets.push(n),
                    Err(e) => self.err(pos(c), &path, Code::InvalidCidr, e),
                }
            }
            out.insert(name.value.clone(), nets);
        }
        out
    }

    /// Every static RRset, then the CNAME-and-other-data rule across them.
    fn records(&mut self, specs: &[Spanned<spec::RecordSpec>], origin: &DomainName, default_ttl: u32) -> Vec<(RRset, Pos)> {
        let mut out: Vec<(RRset, Pos)> = Vec::new();
        let mut seen: HashMap<(DomainName, RecordKind), Pos> = HashMap::new();
        for (i, r) in specs.iter().enumerate() {
            let Some(rrset) = self.record(i, r, origin, default_ttl) else { continue };
            let at = pos(r);
            if let Some(first) = seen.get(&(rrset.name.clone(), rrset.kind)) {
                let msg = format!("{} {} is already defined at line {}; list all values in one entry", rrset.name, rrset.kind.as_str(), first.line);
                self.err(at, &format!("records[{i}]"), Code::DuplicateRrset, msg);
                continue;
            }
            seen.insert((rrset.name.clone(), rrset.kind), at);
            out.push((rrset, at));
        }
        self.cname_alone(&out);
        out
    }

    /// One `records[i]` entry: name, type, TTL, values, and the rules of its own type.
    fn record(&mut self, i: usize, spanned: &Spanned<spec::RecordSpec>, origin: &DomainName, default_ttl: u32) -> Option<RRset> {
        let at = pos(spanned);
        let r = &spanned.value;
        let path = format!("records[{i}]");
        let name = self.name_in_zone(&r.name, origin, &format!("{path}.name"))?;
        if !name.is_in(origin) {
            self.err(pos(&r.name), &format!("{path}.name"), Code::NameOutsideZone, format!("{name} is outside the zone {origin}"));
            return None;
        }
        let Some(kind) = RecordKind::parse(&r.rtype.value) else {
            let hint = if r.rtype.value.eq_ignore_ascii_case("SOA") { "; the SOA is written in the zone's `soa` block" } else { "" };
            let msg = format!("type `{}` is not served; expected one of A, AAAA, CNAME, NS, MX, TXT, CAA{hint}", r.rtype.value);
            self.err(pos(&r.rtype), &format!("{path}.type"), Code::UnsupportedType, msg);
            return None;
        };
        let ttl = match &r.ttl {
            Some(t) => self.ttl(t, &format!("{path}.ttl"), 0, ttl_bounds::STATIC_MAX),
            None => default_ttl,
        };
        let values: Vec<&Spanned<String>> = match (&r.value, &r.values) {
            (Some(v), None) => vec![v],
            (None, Some(vs)) if !vs.is_empty() => vs.iter().collect(),
            (Some(_), Some(_)) => {
                self.err(at, &path, Code::InvalidRdata, "both `value` and `values`; expected one of them");
                return None;
            }
            _ => {
                self.err(at, &path, Code::MissingKey, "no data; expected `value: ...` or `values: [...]`");
                return None;
            }
        };
        let mut data = Vec::new();
        for (j, v) in values.iter().enumerate() {
            let vpath = if r.value.is_some() { format!("{path}.value") } else { format!("{path}.values[{j}]") };
            match parse_rdata(kind, &v.value, origin) {
                Ok(d) => data.push(d),
                Err(e) => self.err(pos(v), &vpath, Code::InvalidRdata, e),
            }
        }
        if data.len() != values.len() {
            return None;
        }
        // Even over TCP a message holds 65,535 bytes; an RRset near that can never be sent.
        let size: usize = values.iter().map(|v| v.value.len() + 16 + name.as_str().len()).sum();
        let problem = if size > MAX_RRSET_BYTES {
            Some((Code::InvalidRdata, format!("{name} {} is about {size} bytes; at most {MAX_RRSET_BYTES} fit in one DNS message", kind.as_str())))
        } else if kind == RecordKind::Cname && data.len() > 1 {
            Some((Code::CnameAndOther, "a CNAME RRset holds exactly one target".to_string()))
        } else if kind == RecordKind::Cname && name == *origin {
            Some((Code::CnameAtApex, "CNAME at the zone apex; it would hide SOA and NS (RFC 1912 2.4)".to_string()))
        } else if kind == RecordKind::Ns && name != *origin {
            Some((Code::Delegation, format!("NS records at {name}: delegations to child zones are not served; only apex NS records are")))
        } else {
            None
        };
        if let Some((code, msg)) = problem {
            self.err(at, &path, code, msg);
            return None;
        }
        Some(RRset { name, kind, ttl, data })
    }

    /// A CNAME must be the only data at its name (RFC 1034 3.6.2).
    fn cname_alone(&mut self, rrsets: &[(RRset, Pos)]) {
        let mut by_name: BTreeMap<&DomainName, Vec<(RecordKind, Pos)>> = BTreeMap::new();
        for (r, p) in rrsets {
            by_name.entry(&r.name).or_default().push((r.kind, *p));
        }
        for (name, kinds) in &by_name {
            let Some((_, p)) = kinds.iter().find(|(k, _)| *k == RecordKind::Cname).copied() else { continue };
            if kinds.len() > 1 {
                let others: Vec<&str> = kinds.iter().filter(|(k, _)| *k != RecordKind::Cname).map(|(k, _)| k.as_str()).collect();
                self.err(p, "records", Code::CnameAndOther, format!("{name} has a CNAME and also {}; a CNAME must be the only data at its name", others.join(", ")));
            }
        }
    }

    /// One steered name: TTL, CDNs, last resort, regions.
    fn steered(&mut self, name: DomainName, s: &Spanned<spec::SteeredSpec>, networks: &HashMap<String, Vec<IpNet>>, path: &str) -> Option<SteeredName> {
        let before = self.diags.items().len();
        let s = &s.value;
        let ttl = match &s.ttl {
            Some(t) => self.ttl(t, &format!("{path}.ttl"), ttl_bounds::STEERED_MIN, ttl_bounds::STEERED_MAX),
            None => ttl_bounds::STEERED_DEFAULT,
        };
        let cdns = self.cdns(s, path);
        let cdn_names: Vec<&str> = s.cdns.value.0.iter().map(|(k, _)| k.value.as_str()).collect();
        let last_resort = match cdns.iter().position(|c| c.name == s.last_resort.value) {
            Some(i) => i,
            None => {
                if !cdn_names.contains(&s.last_resort.value.as_str()) {
                    let msg = format!("last-resort CDN `{}` is not defined; expected one of: {}", s.last_resort.value, cdn_names.join(", "));
                    self.err(pos(&s.last_resort), &format!("{path}.last_resort"), Code::UnknownLastResort, msg);
                }
                0
            }
        };
        let regions = self.regions(&s.regions.value, &cdn_names, networks, &format!("{path}.regions"));
        if self.diags.items().len() > before {
            return None;
        }
        Some(SteeredName { name, ttl, cdns, last_resort, regions })
    }

    /// The CDNs of a steered name and their CNAME targets.
    fn cdns(&mut self, s: &spec::SteeredSpec, path: &str) -> Vec<Cdn> {
        let mut cdns = Vec::new();
        for (cname, c) in &s.cdns.value.0 {
            let cpath = format!("{path}.cdns.{}", cname.value);
            if !valid_cdn_name(&cname.value) {
                self.err(pos(cname), &cpath, Code::InvalidName, format!("CDN name `{}`; expected lower-case letters, digits, '-' or '_'", cname.value));
                continue;
            }
            match DomainName::absolute(&c.value.target.value) {
                Ok(target) if target.is_root() => self.err(pos(&c.value.target), &format!("{cpath}.target"), Code::InvalidName, "the target cannot be the root"),
                Ok(target) => cdns.push(Cdn { name: cname.value.clone(), target }),
                Err(e) => self.err(pos(&c.value.target), &format!("{cpath}.target"), Code::InvalidName, e),
            }
        }
        if s.cdns.value.0.is_empty() {
            self.err(pos(&s.cdns), &format!("{path}.cdns"), Code::NoCdns, "no CDNs; expected at least one `name: {target: ...}`");
        }
        cdns
    }

    /// The region table, most specific first: networks, countries, continents, default.
    fn regions(&mut self, spec: &spec::RegionsSpec, cdn_names: &[&str], networks: &HashMap<String, Vec<IpNet>>, rpath: &str) -> Vec<Region> {
        let mut regions = Vec::new();
        for (key, cands) in &spec.networks.0 {
            let p = format!("{rpath}.networks.{}", key.value);
            let Some(nets) = networks.get(&key.value) else {
                let mut known: Vec<&str> = networks.keys().map(String::as_str).collect();
                known.sort_unstable();
                let known = if known.is_empty() { "(none defined)".to_string() } else { known.join(", ") };
                self.err(pos(key), &p, Code::UnknownNetwork, format!("network list `{}` is not defined in `networks`; expected one of: {known}", key.value));
                continue;
            };
            if let Some(c) = self.candidates(cands, cdn_names, &p) {
                regions.push(Region { key: RegionKey::Network(key.value.clone()), nets: nets.clone(), candidates: c });
            }
        }
        for (key, cands) in &spec.countries.0 {
            let p = format!("{rpath}.countries.{}", key.value);
            let Some(code) = region::country_code(&key.value) else {
                self.err(pos(key), &p, Code::UnknownCountry, format!("`{}` is not an ISO 3166-1 alpha-2 country code (e.g. KR, JP, US)", key.value));
                continue;
            };
            if let Some(c) = self.candidates(cands, cdn_names, &p) {
                regions.push(Region { key: RegionKey::Country(code), nets: Vec::new(), candidates: c });
            }
        }
        for (key, cands) in &spec.continents.0 {
            let p = format!("{rpath}.continents.{}", key.value);
            let Some(code) = region::continent_code(&key.value) else {
                self.err(pos(key), &p, Code::UnknownContinent, format!("`{}` is not a continent code; expected one of AF, AN, AS, EU, NA, OC, SA", key.value));
                continue;
            };
            if let Some(c) = self.candidates(cands, cdn_names, &p) {
                regions.push(Region { key: RegionKey::Continent(code), nets: Vec::new(), candidates: c });
            }
        }
        if let Some(c) = self.candidates(&spec.default, cdn_names, &format!("{rpath}.default")) {
            regions.push(Region { key: RegionKey::Default, nets: Vec::new(), candidates: c });
        }
        regions
    }

    fn candidates(&mut self, spec: &Spanned<CandidatesSpec>, cdns: &[&str], path: &str) -> Option<Vec<Candidate>> {
        let before = self.diags.items().len();
        if spec.value.0.is_empty() {
            self.err(pos(spec), path, Code::EmptyRegion, "no candidate CDNs; expected at least one `cdn: weight`");
            return None;
        }
        let mut out = Vec::new();
        for (cdn, weight) in &spec.value.0 {
            let p = format!("{path}.{}", cdn.value);
            let Some(index) = cdns.iter().position(|c| *c == cdn.value) else {
                self.err(pos(cdn), &p, Code::UnknownCdn, format!("CDN `{}` is not defined in `cdns`; expected one of: {}", cdn.value, cdns.join(", ")));
                continue;
            };
            if !(weight.value.is_finite() && weight.value > 0.0) {
                self.err(pos(weight), &p, Code::InvalidWeight, format!("weight {} ; expected a positive number", weight.value));
                continue;
            }
            out.push(Candidate { cdn: index, weight: weight.value });
        }
        (self.diags.items().len() == before).then_some(out)
    }
}

fn valid_cdn_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Parse a CIDR such as `211.234.0.0/16` or `2001:e60::/32`; host bits must be zero.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let net: IpNet = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a CIDR; expected address/prefix such as 203.0.113.0/24 or 2001:db8::/32"))?;
    if net.trunc() != net {
        return Err(format!("`{text}` has host bits set; did you mean {}?", net.trunc()));
    }
    Ok(net)
}

/// Parse one value in zone-file presentation form.
pub fn parse_rdata(kind: RecordKind, text: &str, origin: &DomainName) -> Result<RecordData, String> {
    let t = text.trim();
    match kind {
        RecordKind::A => t
            .parse::<Ipv4Addr>()
            .map(RecordData::A)
            .map_err(|_| format!("`{t}` is not an IPv4 address")),
        RecordKind::Aaaa => match t.parse::<IpAddr>() {
            Ok(IpAddr::V6(a)) if a.to_ipv4_mapped().is_none() => Ok(RecordData::Aaaa(a)),
            _ => t
                .parse::<Ipv6Addr>()
                .map(RecordData::Aaaa)
                .map_err(|_| format!("`{t}` is not an IPv6 address")),
        },
        RecordKind::Cname => DomainName::in_zone(t, origin).map(RecordData::Cname),
        RecordKind::Ns => DomainName::in_zone(t, origin).map(RecordData::Ns),
        RecordKind::Mx => {
            let (pref, host) = t
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("`{t}`; expected `preference host`, e.g. `10 mail.example.com.`"))?;
            let preference = pref
                .parse::<u16>()
                .map_err(|_| format!("MX preference `{pref}`; expected 0 to 65535"))?;
            Ok(RecordData::Mx { preference, exchange: DomainName::in_zone(host.trim(), origin)? })
        }
        RecordKind::Txt => {
            if t.len() > 4000 {
                return Err("TXT value longer than 4000 bytes".to_string());
            }
            let bytes = text.as_bytes();
            let chunks = if bytes.is_empty() { vec![Vec::new()] } else { bytes.chunks(255).map(<[u8]>::to_vec).collect() };
            Ok(RecordData::Txt(chunks))
        }
        RecordKind::Caa => {
            let mut parts = t.splitn(3, char::is_whitespace);
            let flags = parts.next().unwrap_or("");
            let tag = parts.next().unwrap_or("");
            let value = parts.next().unwrap_or("").trim();
            let flags: u8 = flags
                .parse()
                .map_err(|_| format!("CAA `{t}`; expected `flags tag \"value\"`, e.g. `0 issue \"letsencrypt.org\"`"))?;
            if tag.is_empty() || !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("CAA tag `{tag}`; expected letters and digits (issue, issuewild, iodef)"));
            }
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            if value.is_empty() && tag != "issue" && tag != "issuewild" {
                return Err(format!("CAA `{t}` has no value"));
            }
            Ok(RecordData::Caa { critical: flags & 0x80 != 0, tag: tag.to_ascii_lowercase(), value: value.to_string() })
        }
    }
}
