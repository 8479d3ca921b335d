//! The request handler: a query -> a response over the current snapshot. Loads the snapshot
//! once, applies the protocol rules (opcode, EDNS version, ECS, question count), calls
//! `answer`, and encodes within the UDP size limit (TC=1 beyond it).
//!
//! Two front ends share `respond`: `Handler::handle_into` (the listeners' fast path over
//! `wire`, no allocation) and hickory's `RequestHandler` (for embedding in a hickory `Server`
//! or driving in-process with a capturing response handler).

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::answer::{Answer, answer};
use super::counters::{Answered, WorkerCounters};
use super::table::wire_name;
use super::wire::{self, EcsState, EdnsInfo, Parsed, Reply};
use crate::steer;
use super::{Served, ServedReader};

/// UDP payload size we advertise and never exceed (DNS flag day 2020).
pub const MAX_UDP_PAYLOAD: u16 = wire::ADVERTISED_PAYLOAD;
/// UDP limit without EDNS (RFC 1035).
pub const CLASSIC_UDP_PAYLOAD: u16 = 512;

/// What `respond` needs from a query, whichever parser read it.
#[derive(Debug, Clone, Copy)]
pub struct QueryView<'q> {
    /// Opcode (0 = QUERY).
    pub opcode: u8,
    /// Question name, lower-case wire form.
    pub qname: &'q [u8],
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// OPT of the query.
    pub edns: Option<EdnsInfo>,
    /// Packet source address.
    pub src: IpAddr,
}

/// The protocol-independent response: what to answer, before encoding.
#[derive(Debug)]
pub struct Outcome<'s> {
    /// Records and response code.
    pub answer: Answer<'s>,
    /// Send an OPT (the query had one).
    pub opt: bool,
    /// ECS to echo: (address as sent, source prefix, scope prefix).
    pub ecs: Option<(IpAddr, u8, u8)>,
    /// Largest UDP response this client accepts.
    pub udp_limit: u16,
}

/// Apply the protocol rules and answer.
pub fn respond<'s>(snap: &'s Served, q: &QueryView<'_>) -> Outcome<'s> {
    let udp_limit = match q.edns {
        Some(e) => e.payload.clamp(CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
        None => CLASSIC_UDP_PAYLOAD,
    };
    let early = |rcode| Outcome { answer: Answer::empty(rcode, false), opt: q.edns.is_some(), ecs: None, udp_limit };
    if q.opcode != u8::from(OpCode::Query) {
        return early(ResponseCode::NotImp);
    }
    if q.edns.is_some_and(|e| e.version > 0) {
        return early(ResponseCode::BADVERS);
    }
    let ecs = match q.edns.map(|e| e.ecs) {
        Some(EcsState::Malformed) => return early(ResponseCode::FormErr),
        Some(EcsState::Valid { addr, source }) => Some((addr, source)),
        _ => None,
    };
    let client = steer::client_addr(q.src, ecs);
    let answer = answer(snap, q.qname, RecordType::from(q.qtype), DNSClass::from(q.qclass), client.addr);
    let ecs = ecs.map(|(addr, source)| (addr, source, steer::ecs_scope(answer.scope, source, client.mapped)));
    Outcome { answer, opt: q.edns.is_some(), ecs, udp_limit }
}

/// How a query arrived: UDP answers are held to the client's size limit, TCP ones are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Datagram: the answer must fit `min(EDNS size, 1232)` or 512 bytes, else TC=1.
    Udp,
    /// Stream: up to 65,535 bytes.
    Tcp,
}

/// Answers queries from the current snapshot.
#[derive(Clone, Debug)]
pub struct Handler {
    reader: ServedReader,
}

impl Handler {
    /// A handler over the snapshots `reader` sees.
    pub fn new(reader: ServedReader) -> Handler {
        Handler { reader }
    }

    /// The fast path: bytes in, response written into `out`. Returns false when the packet is
    /// dropped (shorter than a header, or QR=1: never answer a response). A readable header
    /// with an unreadable body gets FORMERR.
    pub fn handle_into(&self, raw: &[u8], src: SocketAddr, transport: Transport, out: &mut Vec<u8>) -> bool {
        self.handle(raw, src, transport, out, None)
    }

    /// `handle_into`, counting the query (or the drop) in the caller's own counters.
    pub fn handle_counted(&self, raw: &[u8], src: SocketAddr, transport: Transport, out: &mut Vec<u8>, counters: &mut WorkerCounters) -> bool {
        self.handle(raw, src, transport, out, Some(counters))
    }

    /// The snapshot being served, for answering a batch of packets from one load
    /// (`handle_from`). Hold it only while answering: a reload waits for no reader, but the
    /// old snapshot lives as long as someone holds it.
    pub fn snapshot(&self) -> arc_swap::Guard<std::sync::Arc<Served>> {
        self.reader.load()
    }

    /// `handle_counted` from a snapshot the caller loaded (`snapshot`).
    pub fn handle_from(&self, snap: &Served, raw: &[u8], src: SocketAddr, transport: Transport, out: &mut Vec<u8>, counters: &mut WorkerCounters) -> bool {
        Self::handle_in(snap, raw, src, transport, out, Some(counters))
    }

    #[inline(always)]
    fn handle(&self, raw: &[u8], src: SocketAddr, transport: Transport, out: &mut Vec<u8>, counters: Option<&mut WorkerCounters>) -> bool {
        Self::handle_in(&self.reader.load(), raw, src, transport, out, counters)
    }

    #[inline(always)]
    fn handle_in(snap: &Served, raw: &[u8], src: SocketAddr, transport: Transport, out: &mut Vec<u8>, counters: Option<&mut WorkerCounters>) -> bool {
        let q = match wire::parse(raw) {
            Parsed::Drop(reason) => {
                if let Some(c) = counters {
                    c.dropped(reason);
                }
                return false;
            }
            Parsed::FormErr(h) => {
                // Another opcode is not implemented whatever its body holds (a header-only
                // NOTIFY or UPDATE is not malformed for its own opcode): NOTIMP, not FORMERR.
                let code = if h.opcode == u8::from(OpCode::Query) { ResponseCode::FormErr } else { ResponseCode::NotImp };
                wire::bare_reply(h, u16::from(code) as u8, out);
                if let Some(c) = counters {
                    let rcode = u16::from(code);
                    c.answered(&Answered { transport, qtype: 0, rcode, ecs: None, truncated: false });
                }
                return true;
            }
            Parsed::Query(q) => q,
        };
        let view = QueryView {
            opcode: q.opcode,
            qname: q.qname.as_slice(),
            qtype: q.qtype,
            qclass: q.qclass,
            edns: q.edns,
            src: src.ip(),
        };
        let d = respond(snap, &view);
        let reply = Reply { answer: &d.answer, opt: d.opt, dnssec_ok: q.edns.is_some_and(|e| e.dnssec_ok), ecs: d.ecs };
        let limit = if transport == Transport::Udp { usize::from(d.udp_limit) } else { usize::from(u16::MAX) };
        let truncated = wire::write_reply(out, &q, &reply, limit);
        if let Some(c) = counters {
            let ecs = q.edns.is_some_and(|e| e.ecs != EcsState::Absent);
            c.answered(&Answered { transport, qtype: q.qtype, rcode: u16::from(d.answer.rcode), ecs: Some(ecs), truncated });
            if let Some(hit) = &d.answer.steered {
                c.steered(snap, hit);
            }
        }
        true
    }

    /// `handle_into` with a fresh buffer: `None` means drop.
    pub fn handle_packet(&self, raw: &[u8], src: SocketAddr, transport: Transport) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        self.handle_into(raw, src, transport, &mut out).then_some(out)
    }
}

/// ECS of a hickory-decoded query (RFC 7871 section 7.1.1: prefix within the family, no
/// address bits beyond it).
fn ecs_of(edns: &Edns) -> EcsState {
    let Some(EdnsOption::Subnet(subnet)) = edns.option(EdnsCode::Subnet) else {
        return EcsState::Absent;
    };
    let source = subnet.source_prefix();
    let addr = subnet.addr();
    let (max, bits): (u8, u128) = match addr {
        IpAddr::V4(a) => (32, u128::from(u32::from(a)) << 96),
        IpAddr::V6(a) => (128, u128::from(a)),
    };
    if source > max {
        return EcsState::Malformed;
    }
    let beyond = if source == 0 { bits } else { bits & (u128::MAX >> source) };
    if beyond != 0 {
        return EcsState::Malformed;
    }
    EcsState::Valid { addr, source }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response_handle: R) -> ResponseInfo {
        let snap = self.reader.load();
        let queries = request.queries.queries();
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let decision = match queries {
            [query] => {
                let qname = wire_name(query.name());
                let view = QueryView {
                    opcode: u8::from(request.metadata.op_code),
                    qname: &qname,
                    qtype: u16::from(query.query_type()),
                    qclass: u16::from(query.query_class()),
                    edns: request.edns.as_ref().map(|e| EdnsInfo {
                        payload: e.max_payload(),
                        version: e.version(),
                        dnssec_ok: e.flags().dnssec_ok,
                        ecs: ecs_of(e),
                    }),
                    src: request.src().ip(),
                };
                Some(respond(&snap, &view))
            }
            _ => None,
        };
        let (records, authority, edns) = match &decision {
            Some(d) => {
                metadata.response_code = d.answer.rcode;
                metadata.authoritative = d.answer.authoritative;
                let records: Vec<Record> = d
                    .answer
                    .records()
                    .map(|(r, ttl)| {
                        let mut rec = r.record.clone();
                        rec.ttl = ttl;
                        rec
                    })
                    .collect();
                let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
                let edns = d.opt.then(|| {
                    let mut e = Edns::new();
                    e.set_dnssec_ok(dnssec_ok);
                    // hickory's encoder sizes UDP answers by this field; give it our limit.
                    e.set_max_payload(d.udp_limit);
                    if let Some((addr, source, scope)) = d.ecs {
                        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(addr, source, scope)));
                    }
                    e
                });
                (records, d.answer.authority.map(|a| a.record.clone()), edns)
            }
            None => {
                metadata.response_code = ResponseCode::FormErr;
                (Vec::new(), None, None)
            }
        };
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());
        let message = builder.build(metadata, records.iter(), authority.iter(), std::iter::empty::<&Record>(), std::iter::empty::<&Record>());
        match response_handle.send_response(message).await {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(%error, "failed to send response");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() })
            }
        }
    }
}
