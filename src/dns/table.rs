//! Wire-ready records built once per zone load: every static RRset and every steered name's
//! CNAME per CDN, both as hickory `Record`s (for the `RequestHandler` path) and pre-encoded
//! (for the listeners' fast path), keyed by the lower-case wire form of the owner name, so
//! answering a query is one hash lookup on the bytes of the question and a few copies.

use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict};

use crate::zone::model::{DomainName, RRset, RecordData, RecordKind, ZoneSet};

/// One record, in both forms.
#[derive(Debug, Clone)]
pub struct WireRecord {
    /// For the hickory encoder.
    pub record: Record,
    /// Owner name, lower-case wire form.
    pub owner: Box<[u8]>,
    /// TYPE, CLASS, TTL, RDLENGTH and RDATA as encoded (names uncompressed); the TTL sits at
    /// bytes 4..8 and is rewritten when a steered answer carries a dynamic TTL.
    pub rest: Box<[u8]>,
    /// For a CNAME, its target in lower-case wire form (chains are followed without
    /// encoding a name per query).
    pub cname_target: Option<Box<[u8]>>,
}

impl WireRecord {
    fn new(record: Record) -> WireRecord {
        let mut buf = Vec::with_capacity(64);
        let mut encoder = BinEncoder::new(&mut buf);
        encoder.set_name_encoding(NameEncoding::Uncompressed);
        let owner_len = wire_name(&record.name).len();
        if let Err(e) = record.emit(&mut encoder) {
            tracing::error!(error = %e, "record cannot be encoded");
            buf.clear();
        }
        let owner_len = owner_len.min(buf.len());
        let rest = buf.split_off(owner_len);
        let cname_target = match &record.data {
            RData::CNAME(target) => Some(wire_name(&target.0)),
            _ => None,
        };
        WireRecord { record, owner: buf.into_boxed_slice(), rest: rest.into_boxed_slice(), cname_target }
    }

    /// Encoded size with an uncompressed owner.
    pub fn len(&self) -> usize {
        self.owner.len() + self.rest.len()
    }

    /// Never true for a record that encoded; kept for the `len` convention.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// One RRset ready to send.
#[derive(Debug, Clone)]
pub struct WireRRset {
    /// Its type.
    pub rtype: RecordType,
    /// Its records.
    pub records: Vec<WireRecord>,
}

/// What lives at one name.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// Static RRsets (the apex also holds SOA and NS here).
    Static(Vec<WireRRset>),
    /// A steered name: one CNAME record per CDN, in the steered name's CDN order.
    Steered {
        /// Global index of the steered name (as in `ZoneSet::steered()`).
        index: usize,
        /// CNAME per CDN.
        cnames: Vec<WireRecord>,
    },
    /// A name with nothing of its own but names below it (RFC 8020: NODATA, not NXDOMAIN).
    EmptyNonTerminal,
}

/// A name in a zone.
#[derive(Debug, Clone)]
pub struct Node {
    /// Index of its zone in `ZoneTable::zones`.
    pub zone: usize,
    /// Its data.
    pub kind: NodeKind,
}

/// Per-zone records used in negative answers.
#[derive(Debug, Clone)]
pub struct ZoneEntry {
    /// The SOA with TTL = min(SOA TTL, MINIMUM), for the authority section of negative
    /// answers (RFC 2308 section 3).
    pub negative_soa: WireRecord,
}

/// All served names, keyed by lower-case wire form.
#[derive(Debug, Clone, Default)]
pub struct ZoneTable {
    /// Every owner name and empty non-terminal.
    pub names: FxHashMap<Box<[u8]>, Node>,
    /// Apex -> zone index.
    pub apexes: FxHashMap<Box<[u8]>, usize>,
    /// Zones, in `ZoneSet` order.
    pub zones: Vec<ZoneEntry>,
    /// Distinct for every `build` in this process (0 for the empty default table): the DNS
    /// counters see from it, with one comparison, that the steered names, regions and CDNs
    /// may have changed and their dense layout must be derived again.
    pub id: u64,
}

/// Source of `ZoneTable::id`.
static NEXT_TABLE_ID: AtomicU64 = AtomicU64::new(1);

/// Lower-case wire form of a name (`live.example.com.` -> `\x04live\x07example\x03com\x00`).
pub fn wire_name(name: &Name) -> Box<[u8]> {
    let mut out = Vec::with_capacity(name.len() + 1);
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out.into_boxed_slice()
}

/// The parent of a wire name (drop the first label); `None` at the root.
#[inline]
pub fn wire_parent(name: &[u8]) -> Option<&[u8]> {
    let len = usize::from(*name.first()?);
    if len == 0 {
        return None;
    }
    name.get(1 + len..)
}

fn name(n: &DomainName) -> Name {
    match Name::from_ascii(n.as_str()) {
        Ok(name) => name,
        // Names were validated by zone::check with the same rules; this cannot happen.
        Err(e) => {
            tracing::error!(name = %n, error = %e, "validated name refused by the DNS encoder");
            Name::root()
        }
    }
}

/// CAA RDATA as hickory reads it off the wire, so the zone checker and the table agree on what
/// is valid.
pub fn caa_rdata(critical: bool, tag: &str, value: &str) -> Result<RData, String> {
    if tag.len() > 255 {
        return Err("CAA tag longer than 255 bytes".to_string());
    }
    let mut raw = vec![if critical { 0x80 } else { 0 }, tag.len() as u8];
    raw.extend_from_slice(tag.as_bytes());
    raw.extend_from_slice(value.as_bytes());
    let len = u16::try_from(raw.len()).map_err(|_| "CAA value too long".to_string())?;
    let mut decoder = BinDecoder::new(&raw);
    RData::read(&mut decoder, RecordType::CAA, Restrict::new(len))
        .map_err(|e| format!("CAA `{tag}` value `{value}` is not valid: {e}"))
}

fn rdata(d: &RecordData) -> Option<RData> {
    Some(match d {
        RecordData::A(a) => RData::A(A(*a)),
        RecordData::Aaaa(a) => RData::AAAA(AAAA(*a)),
        RecordData::Cname(n) => RData::CNAME(CNAME(name(n))),
        RecordData::Ns(n) => RData::NS(NS(name(n))),
        RecordData::Mx { preference, exchange } => RData::MX(MX::new(*preference, name(exchange))),
        RecordData::Txt(chunks) => RData::TXT(TXT::from_bytes(chunks.iter().map(Vec::as_slice).collect())),
        RecordData::Caa { critical, tag, value } => match caa_rdata(*critical, tag, value) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "CAA record skipped");
                return None;
            }
        },
    })
}

fn rtype(k: RecordKind) -> RecordType {
    match k {
        RecordKind::A => RecordType::A,
        RecordKind::Aaaa => RecordType::AAAA,
        RecordKind::Cname => RecordType::CNAME,
        RecordKind::Ns => RecordType::NS,
        RecordKind::Mx => RecordType::MX,
        RecordKind::Txt => RecordType::TXT,
        RecordKind::Caa => RecordType::CAA,
    }
}

fn wire_rrset(set: &RRset) -> WireRRset {
    let owner = name(&set.name);
    let records = set
        .data
        .iter()
        .filter_map(rdata)
        .map(|d| WireRecord::new(Record::from_rdata(owner.clone(), set.ttl, d)))
        .collect();
    WireRRset { rtype: rtype(set.kind), records }
}

impl ZoneTable {
    /// Build the table for a validated zone set.
    pub fn build(zones: &ZoneSet) -> ZoneTable {
        let mut table = ZoneTable { id: NEXT_TABLE_ID.fetch_add(1, Ordering::Relaxed), ..ZoneTable::default() };
        let mut steered_index = 0usize;
        for (zi, zone) in zones.zones.iter().enumerate() {
            let apex = name(&zone.origin);
            let soa = &zone.soa;
            let soa_rdata = |ttl: u32| {
                Record::from_rdata(
                    apex.clone(),
                    ttl,
                    RData::SOA(SOA::new(
                        name(&soa.primary),
                        name(&soa.contact),
                        soa.serial,
                        soa.refresh as i32,
                        soa.retry as i32,
                        soa.expire as i32,
                        soa.negative_ttl,
                    )),
                )
            };
            let soa_record = WireRecord::new(soa_rdata(soa.ttl));
            let negative_soa = WireRecord::new(soa_rdata(soa.ttl.min(soa.negative_ttl)));
            table.zones.push(ZoneEntry { negative_soa });
            table.apexes.insert(wire_name(&apex), zi);

            // SOA first at the apex: ANY at the apex then answers with the SOA (RFC 8482 lets
            // us pick one RRset).
            let soa_set = WireRRset { rtype: RecordType::SOA, records: vec![soa_record] };
            table.insert_static(zi, &zone.origin, &zone.origin, soa_set);
            for set in &zone.rrsets {
                table.insert_static(zi, &zone.origin, &set.name, wire_rrset(set));
            }
            for steered in &zone.steered {
                let owner = name(&steered.name);
                let cnames = steered
                    .cdns
                    .iter()
                    .map(|c| WireRecord::new(Record::from_rdata(owner.clone(), steered.ttl, RData::CNAME(CNAME(name(&c.target))))))
                    .collect();
                table.names.insert(wire_name(&owner), Node { zone: zi, kind: NodeKind::Steered { index: steered_index, cnames } });
                table.add_empty_non_terminals(zi, &steered.name, &zone.origin);
                steered_index += 1;
            }
        }
        table
    }

    fn insert_static(&mut self, zone: usize, origin: &DomainName, owner: &DomainName, set: WireRRset) {
        let key = wire_name(&name(owner));
        let node = self.names.entry(key).or_insert(Node { zone, kind: NodeKind::Static(Vec::new()) });
        match &mut node.kind {
            NodeKind::Static(sets) => sets.push(set),
            other @ NodeKind::EmptyNonTerminal => *other = NodeKind::Static(vec![set]),
            NodeKind::Steered { .. } => {}
        }
        self.add_empty_non_terminals(zone, owner, origin);
    }

    /// Mark every name between `owner` and the apex that has no data of its own.
    fn add_empty_non_terminals(&mut self, zone: usize, owner: &DomainName, origin: &DomainName) {
        let mut cur = owner.parent();
        while let Some(n) = cur {
            if !n.is_in(origin) || &n == origin {
                break;
            }
            self.names.entry(wire_name(&name(&n))).or_insert(Node { zone, kind: NodeKind::EmptyNonTerminal });
            cur = n.parent();
        }
    }
}
