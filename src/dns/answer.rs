//! Pure: (snapshot, question, client address) -> the records, rcode and ECS scope of the
//! answer. No I/O, no clock; everything it returns is borrowed from the snapshot except a
//! steered CNAME whose TTL differs from the zone's (dynamic TTL).

use std::borrow::Cow;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, RData, Record, RecordType};

use super::table::{NodeKind, ZoneTable};
use crate::decide::Steering;
use crate::snapshot::Snapshot;

/// Longest CNAME chain followed inside our own zones.
const MAX_CHAIN: usize = 8;

/// Which steered name answered and how, for metrics and explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SteeredHit {
    /// Global index of the steered name.
    pub index: usize,
    /// The steering of this client.
    pub steering: Steering,
}

/// The answer to one question.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// Response code.
    pub rcode: ResponseCode,
    /// AA flag: set for every answer from our zones.
    pub authoritative: bool,
    /// Answer section: static records, then the steered CNAME if any.
    pub answers: Vec<Cow<'a, Record>>,
    /// Authority section (the SOA of negative answers).
    pub authority: Option<&'a Record>,
    /// ECS scope: `Some` when the answer depends on the client's location.
    pub scope: Option<u8>,
    /// Upper bound of the encoded size of the records (uncompressed).
    pub records_len: usize,
    /// Set when a steered name answered.
    pub steered: Option<SteeredHit>,
}

impl<'a> Answer<'a> {
    fn empty(rcode: ResponseCode, authoritative: bool) -> Self {
        Answer { rcode, authoritative, answers: Vec::new(), authority: None, scope: None, records_len: 0, steered: None }
    }

    fn negative(table: &'a ZoneTable, zone: usize, rcode: ResponseCode) -> Self {
        let mut a = Answer::empty(rcode, true);
        if let Some(z) = table.zones.get(zone) {
            a.authority = Some(&z.negative_soa);
            a.records_len += z.negative_soa_len;
        }
        a
    }
}

/// The zone whose apex is the closest enclosing name of `name`, if any.
fn enclosing_zone(table: &ZoneTable, name: &LowerName) -> Option<usize> {
    let mut cur = name.clone();
    loop {
        if let Some(z) = table.apexes.get(&cur) {
            return Some(*z);
        }
        if cur.is_root() {
            return None;
        }
        cur = cur.base_name();
    }
}

/// Answer one question. `client` is the (normalised) address the client is located by: the
/// ECS address when the resolver sent one, else the packet's source.
pub fn answer<'a>(snap: &'a Snapshot, qname: &LowerName, qtype: RecordType, qclass: DNSClass, client: IpAddr) -> Answer<'a> {
    if qclass != DNSClass::IN && qclass != DNSClass::ANY {
        return Answer::empty(ResponseCode::Refused, false);
    }
    if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        // No zone transfers: the zones live in YAML files, not in secondaries.
        return Answer::empty(ResponseCode::Refused, false);
    }
    if qtype == RecordType::OPT {
        return Answer::empty(ResponseCode::FormErr, false);
    }
    let table = &*snap.table;
    let mut name = Cow::Borrowed(qname);
    let mut out = Answer::empty(ResponseCode::NoError, true);
    for _ in 0..MAX_CHAIN {
        let Some(node) = table.names.get(name.as_ref()) else {
            return match enclosing_zone(table, &name) {
                // First name: outside our zones. Later in a chain: the target is elsewhere,
                // and the resolver follows it itself.
                None if out.answers.is_empty() => Answer::empty(ResponseCode::Refused, false),
                None => out,
                Some(zone) if out.answers.is_empty() => Answer::negative(table, zone, ResponseCode::NXDomain),
                Some(zone) => {
                    let neg = Answer::negative(table, zone, ResponseCode::NXDomain);
                    out.rcode = ResponseCode::NXDomain;
                    out.authority = neg.authority;
                    out.records_len += neg.records_len;
                    out
                }
            };
        };
        match &node.kind {
            NodeKind::EmptyNonTerminal => return finish_nodata(out, table, node.zone),
            NodeKind::Steered { index, cnames, wire_len } => {
                let Some(decisions) = snap.decisions.names.get(*index) else {
                    return Answer::empty(ResponseCode::ServFail, false);
                };
                let located = snap.geo.locate(client);
                let steering = decisions.steer(client, &located, snap.decisions.cells);
                let Some(record) = cnames.get(steering.cdn) else {
                    return Answer::empty(ResponseCode::ServFail, false);
                };
                let record = if record.ttl == steering.ttl {
                    Cow::Borrowed(record)
                } else {
                    let mut owned = record.clone();
                    owned.ttl = steering.ttl;
                    Cow::Owned(owned)
                };
                out.answers.push(record);
                out.records_len += wire_len;
                out.scope = Some(steering.scope);
                out.steered = Some(SteeredHit { index: *index, steering });
                return out;
            }
            NodeKind::Static(sets) => {
                let wanted = if qtype == RecordType::ANY {
                    sets.first()
                } else {
                    sets.iter().find(|s| s.rtype == qtype)
                };
                if let Some(set) = wanted {
                    out.answers.extend(set.records.iter().map(Cow::Borrowed));
                    out.records_len += set.wire_len;
                    return out;
                }
                let Some(cname) = sets.iter().find(|s| s.rtype == RecordType::CNAME) else {
                    return finish_nodata(out, table, node.zone);
                };
                let Some(record) = cname.records.first() else {
                    return finish_nodata(out, table, node.zone);
                };
                out.answers.push(Cow::Borrowed(record));
                out.records_len += cname.wire_len;
                let RData::CNAME(target) = &record.data else { return out };
                let target = LowerName::new(&target.0);
                // Follow the chain only inside the zone that answered (RFC 1034 4.3.2).
                if enclosing_zone(table, &target) != Some(node.zone) {
                    return out;
                }
                name = Cow::Owned(target);
            }
        }
    }
    out
}

fn finish_nodata<'a>(mut out: Answer<'a>, table: &'a ZoneTable, zone: usize) -> Answer<'a> {
    if out.answers.is_empty() {
        return Answer::negative(table, zone, ResponseCode::NoError);
    }
    // A chain that ends in NODATA: keep the chain, add the SOA.
    let neg = Answer::negative(table, zone, ResponseCode::NoError);
    out.authority = neg.authority;
    out.records_len += neg.records_len;
    out
}
