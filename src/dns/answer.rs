//! Pure: (snapshot, question, client address) -> the records, rcode and ECS scope of the
//! answer. No I/O, no clock, no allocation: everything it returns is borrowed from the
//! snapshot.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RecordType};

use super::table::{NodeKind, WireRecord, ZoneTable, wire_parent};
use crate::steer::decide::Steering;
use super::Served;

/// Longest CNAME chain followed inside our own zones.
pub const MAX_CHAIN: usize = 8;

/// Which steered name answered and how, for metrics and explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SteeredHit {
    /// Global index of the steered name.
    pub index: usize,
    /// The steering of this client.
    pub steering: Steering,
}

/// A run of answer records, with the TTL to send when it differs from the zone's (a steered
/// answer with a dynamic TTL).
#[derive(Debug, Clone, Copy, Default)]
pub struct Part<'a> {
    /// Records, in order.
    pub records: &'a [WireRecord],
    /// TTL override.
    pub ttl: Option<u32>,
}

/// The answer to one question.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// Response code.
    pub rcode: ResponseCode,
    /// AA flag: set for every answer from our zones.
    pub authoritative: bool,
    parts: [Part<'a>; MAX_CHAIN + 1],
    n_parts: usize,
    /// Authority section (the SOA of negative answers).
    pub authority: Option<&'a WireRecord>,
    /// ECS scope: `Some` when the answer depends on the client's location.
    pub scope: Option<u8>,
    /// Set when a steered name answered.
    pub steered: Option<SteeredHit>,
}

impl<'a> Answer<'a> {
    /// An answer with no records.
    pub fn empty(rcode: ResponseCode, authoritative: bool) -> Self {
        Answer {
            rcode,
            authoritative,
            parts: [Part::default(); MAX_CHAIN + 1],
            n_parts: 0,
            authority: None,
            scope: None,
            steered: None,
        }
    }

    fn push(&mut self, part: Part<'a>) {
        if let Some(slot) = self.parts.get_mut(self.n_parts) {
            *slot = part;
            self.n_parts += 1;
        }
    }

    /// The answer section, as runs of records.
    pub fn parts(&self) -> &[Part<'a>] {
        &self.parts[..self.n_parts]
    }

    /// Every answer record with the TTL to send.
    pub fn records(&self) -> impl Iterator<Item = (&'a WireRecord, u32)> + '_ {
        self.parts().iter().flat_map(|p| p.records.iter().map(move |r| (r, p.ttl.unwrap_or(r.record.ttl))))
    }

    fn is_empty(&self) -> bool {
        self.n_parts == 0
    }
}

/// The zone whose apex is the closest enclosing name of `name`, if any.
fn enclosing_zone(table: &ZoneTable, name: &[u8]) -> Option<usize> {
    let mut cur = name;
    loop {
        if let Some(z) = table.apexes.get(cur) {
            return Some(*z);
        }
        cur = wire_parent(cur)?;
    }
}

/// Answer one question. `qname` is the lower-case wire form; `client` is the (normalised)
/// address the client is located by: the ECS address when the resolver sent one, else the
/// packet's source.
pub fn answer<'a>(snap: &'a Served, qname: &[u8], qtype: RecordType, qclass: DNSClass, client: IpAddr) -> Answer<'a> {
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
    let mut out = Answer::empty(ResponseCode::NoError, true);
    // The name being resolved: the question, then the targets of followed CNAMEs (borrowed
    // from the table: no allocation per query).
    let mut name: &[u8] = qname;
    for _ in 0..MAX_CHAIN {
        let Some(node) = table.names.get(name) else {
            return match enclosing_zone(table, name) {
                // First name: outside our zones. Later in a chain: the target is elsewhere,
                // and the resolver follows it itself.
                None if out.is_empty() => Answer::empty(ResponseCode::Refused, false),
                None => out,
                Some(zone) => {
                    out.rcode = ResponseCode::NXDomain;
                    out.authority = table.zones.get(zone).map(|z| &z.negative_soa);
                    out
                }
            };
        };
        match &node.kind {
            NodeKind::EmptyNonTerminal => return finish_nodata(out, table, node.zone),
            NodeKind::Steered { index, cnames } => {
                let Some(decisions) = snap.decisions.names.get(*index) else {
                    return Answer::empty(ResponseCode::ServFail, false);
                };
                let located = snap.geo.locate(client);
                let steering = decisions.steer(client, &located, snap.decisions.cells);
                let Some(record) = cnames.get(steering.cdn) else {
                    return Answer::empty(ResponseCode::ServFail, false);
                };
                out.push(Part { records: std::slice::from_ref(record), ttl: Some(steering.ttl) });
                out.scope = Some(steering.scope);
                out.steered = Some(SteeredHit { index: *index, steering });
                return out;
            }
            NodeKind::Static(sets) => {
                let wanted = if qtype == RecordType::ANY { sets.first() } else { sets.iter().find(|s| s.rtype == qtype) };
                if let Some(set) = wanted {
                    out.push(Part { records: &set.records, ttl: None });
                    return out;
                }
                let Some(cname) = sets.iter().find(|s| s.rtype == RecordType::CNAME) else {
                    return finish_nodata(out, table, node.zone);
                };
                let Some(record) = cname.records.first() else {
                    return finish_nodata(out, table, node.zone);
                };
                out.push(Part { records: &cname.records[..1], ttl: None });
                let Some(target) = record.cname_target.as_deref() else { return out };
                // Follow the chain only inside the zone that answered (RFC 1034 4.3.2), and
                // stop at a loop: the resolver gets each record of it once.
                let looped = *target == *qname || out.parts().iter().any(|p| p.records.iter().any(|r| *r.owner == *target));
                if looped || enclosing_zone(table, target) != Some(node.zone) {
                    return out;
                }
                name = target;
            }
        }
    }
    out
}

fn finish_nodata<'a>(mut out: Answer<'a>, table: &'a ZoneTable, zone: usize) -> Answer<'a> {
    // NODATA, or a chain that ends in NODATA: keep the chain, add the SOA.
    out.authority = table.zones.get(zone).map(|z| &z.negative_soa);
    out
}
