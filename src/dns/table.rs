//! Wire-ready records built once per zone load: every static RRset and every steered name's
//! CNAME per CDN as hickory `Record`s, keyed by lower-case name, so answering a query is a hash
//! lookup and a few borrows.

use rustc_hash::FxHashMap;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use crate::zone::model::{DomainName, RRset, RecordData, RecordKind, ZoneSet};

/// One RRset ready to send.
#[derive(Debug, Clone)]
pub struct WireRRset {
    /// Its type.
    pub rtype: RecordType,
    /// Its records.
    pub records: Vec<Record>,
    /// Upper bound of its encoded size (no compression), for the UDP size check.
    pub wire_len: usize,
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
        cnames: Vec<Record>,
        /// Upper bound of the encoded size of the largest CNAME.
        wire_len: usize,
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
    /// The apex.
    pub apex: LowerName,
    /// The SOA with TTL = min(SOA TTL, MINIMUM), for the authority section of negative
    /// answers (RFC 2308 section 3).
    pub negative_soa: Record,
    /// Its encoded size bound.
    pub negative_soa_len: usize,
}

/// All served names.
#[derive(Debug, Clone, Default)]
pub struct ZoneTable {
    /// Every owner name and empty non-terminal.
    pub names: FxHashMap<LowerName, Node>,
    /// Apex -> zone index.
    pub apexes: FxHashMap<LowerName, usize>,
    /// Zones, in `ZoneSet` order.
    pub zones: Vec<ZoneEntry>,
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

/// Encoded size bound of a record: owner + type/class/ttl/rdlength + rdata (names uncompressed).
fn record_len(r: &Record) -> usize {
    let rdata = match &r.data {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::CNAME(c) => c.0.len() + 1,
        RData::NS(n) => n.0.len() + 1,
        RData::MX(m) => 2 + m.exchange.len() + 1,
        RData::TXT(t) => t.txt_data.iter().map(|s| s.len() + 1).sum(),
        RData::SOA(s) => s.mname.len() + s.rname.len() + 2 + 20,
        _ => 512,
    };
    r.name.len() + 1 + 10 + rdata
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
    let records: Vec<Record> =
        set.data.iter().filter_map(rdata).map(|d| Record::from_rdata(owner.clone(), set.ttl, d)).collect();
    let wire_len = records.iter().map(record_len).sum();
    WireRRset { rtype: rtype(set.kind), records, wire_len }
}

impl ZoneTable {
    /// Build the table for a validated zone set.
    pub fn build(zones: &ZoneSet) -> ZoneTable {
        let mut table = ZoneTable::default();
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
            let soa_record = soa_rdata(soa.ttl);
            let negative_soa = soa_rdata(soa.ttl.min(soa.negative_ttl));
            let negative_soa_len = record_len(&negative_soa);
            table.zones.push(ZoneEntry { apex: LowerName::new(&apex), negative_soa, negative_soa_len });
            table.apexes.insert(LowerName::new(&apex), zi);

            // SOA first at the apex: ANY at the apex then answers with the SOA (RFC 8482 lets
            // us pick one RRset).
            let soa_set = WireRRset { rtype: RecordType::SOA, wire_len: record_len(&soa_record), records: vec![soa_record] };
            table.insert_static(zi, &zone.origin, &zone.origin, soa_set);
            for set in &zone.rrsets {
                table.insert_static(zi, &zone.origin, &set.name, wire_rrset(set));
            }
            for steered in &zone.steered {
                let owner = name(&steered.name);
                let cnames: Vec<Record> = steered
                    .cdns
                    .iter()
                    .map(|c| Record::from_rdata(owner.clone(), steered.ttl, RData::CNAME(CNAME(name(&c.target)))))
                    .collect();
                let wire_len = cnames.iter().map(record_len).max().unwrap_or(0);
                table.names.insert(
                    LowerName::new(&owner),
                    Node { zone: zi, kind: NodeKind::Steered { index: steered_index, cnames, wire_len } },
                );
                table.add_empty_non_terminals(zi, &steered.name, &zone.origin);
                steered_index += 1;
            }
        }
        table
    }

    fn insert_static(&mut self, zone: usize, origin: &DomainName, owner: &DomainName, set: WireRRset) {
        let key = LowerName::new(&name(owner));
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
            self.names.entry(LowerName::new(&name(&n))).or_insert(Node { zone, kind: NodeKind::EmptyNonTerminal });
            cur = n.parent();
        }
    }
}
