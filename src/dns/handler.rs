//! The request handler: decoded query -> response over the current snapshot. Loads the
//! snapshot once, applies the protocol rules (opcode, EDNS version, ECS, question count),
//! calls `answer`, and encodes within the UDP size limit (TC=1 beyond it).
//!
//! `Handler::handle_bytes` is what the listeners (and the fuzz target) call: bytes in, bytes
//! out or drop. `Handler` also implements hickory's `RequestHandler`, so it can be embedded in
//! a hickory `Server` or driven in-process with a capturing response handler.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::ProtoError;
use hickory_proto::op::{Edns, EmitAndCount, Header, HeaderCounts, Metadata, OpCode, ResponseCode, emit_message_parts};
use hickory_proto::rr::Record;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::serialize::binary::{BinEncoder, NameEncoding};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::answer::{Answer, answer};
use crate::geo;
use crate::publish::SnapshotReader;
use crate::snapshot::Snapshot;

/// UDP payload size we advertise and never exceed (DNS flag day 2020).
pub const MAX_UDP_PAYLOAD: u16 = 1232;
/// UDP limit without EDNS (RFC 1035).
pub const CLASSIC_UDP_PAYLOAD: u16 = 512;

/// The client subnet a resolver sent, after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ecs {
    /// Address as sent (family preserved for the echo).
    pub addr: IpAddr,
    /// SOURCE PREFIX-LENGTH.
    pub source: u8,
}

/// A built response, before encoding.
#[derive(Debug)]
pub struct Response<'s> {
    /// Header fields.
    pub metadata: Metadata,
    /// Records.
    pub answer: Answer<'s>,
    /// OPT to send (when the query had one).
    pub edns: Option<Edns>,
    /// Largest UDP response this client accepts.
    pub udp_limit: u16,
}

/// Answers queries from the current snapshot.
#[derive(Clone, Debug)]
pub struct Handler {
    reader: SnapshotReader,
}

/// Why a query is answered with an error before looking at zones.
fn header_only<'s>(request: &Request, rcode: ResponseCode, edns: Option<Edns>, udp_limit: u16) -> Response<'s> {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = rcode;
    Response {
        metadata,
        answer: Answer {
            rcode,
            authoritative: false,
            answers: Vec::new(),
            authority: None,
            scope: None,
            records_len: 0,
            steered: None,
        },
        edns,
        udp_limit,
    }
}

/// Validate the ECS option of a query (RFC 7871 section 7.1.1): prefix within the family and
/// no address bits set beyond it. `Err` means FORMERR.
fn validate_ecs(subnet: &ClientSubnet) -> Result<Ecs, ()> {
    let source = subnet.source_prefix();
    let addr = subnet.addr();
    let (max, bits): (u8, u128) = match addr {
        IpAddr::V4(a) => (32, u128::from(u32::from(a)) << 96),
        IpAddr::V6(a) => (128, u128::from(a)),
    };
    if source > max {
        return Err(());
    }
    let beyond = if source == 0 { bits } else { bits & (u128::MAX >> source) };
    if beyond != 0 {
        return Err(());
    }
    Ok(Ecs { addr, source })
}

impl Handler {
    /// A handler over the snapshots `reader` sees.
    pub fn new(reader: SnapshotReader) -> Handler {
        Handler { reader }
    }

    /// Build the response to a decoded request.
    pub fn respond<'s>(&self, snap: &'s Snapshot, request: &Request) -> Response<'s> {
        let query_edns = request.edns.as_ref();
        let udp_limit = match query_edns {
            Some(e) => e.max_payload().clamp(CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
            None => CLASSIC_UDP_PAYLOAD,
        };
        let mut edns = query_edns.map(|_| {
            let mut e = Edns::new();
            e.set_max_payload(MAX_UDP_PAYLOAD);
            e.set_version(0);
            e
        });

        if request.metadata.op_code != OpCode::Query {
            return header_only(request, ResponseCode::NotImp, edns, udp_limit);
        }
        if query_edns.is_some_and(|e| e.version() > 0) {
            return header_only(request, ResponseCode::BADVERS, edns, udp_limit);
        }
        let queries = request.queries.queries();
        if queries.len() != 1 {
            return header_only(request, ResponseCode::FormErr, edns, udp_limit);
        }
        let ecs = match query_edns.and_then(|e| e.option(EdnsCode::Subnet)) {
            Some(EdnsOption::Subnet(subnet)) => match validate_ecs(subnet) {
                Ok(ecs) => Some(ecs),
                Err(()) => return header_only(request, ResponseCode::FormErr, edns, udp_limit),
            },
            _ => None,
        };

        // Locate by the ECS address when the resolver gave one with a non-zero prefix.
        let (client, mapped) = match ecs {
            Some(e) if e.source > 0 => match geo::normalize(e.addr) {
                v4 @ IpAddr::V4(_) if e.addr.is_ipv6() => (v4, true),
                other => (other, false),
            },
            _ => (geo::normalize(request.src().ip()), false),
        };
        let query = &queries[0];
        let answer = answer(snap, query.name(), query.query_type(), query.query_class(), client);

        if let (Some(e), Some(ecs)) = (edns.as_mut(), ecs) {
            // Scope 0 for answers that do not depend on location, and always for source 0.
            let scope = match answer.scope {
                Some(s) if ecs.source > 0 => if mapped { s.saturating_add(96).min(128) } else { s },
                _ => 0,
            };
            e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(ecs.addr, ecs.source, scope)));
        }

        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = answer.rcode;
        metadata.authoritative = answer.authoritative;
        Response { metadata, answer, edns, udp_limit }
    }

    /// Bytes in, bytes out. `None` means drop: shorter than a header, or QR=1 (never answer a
    /// response: reflection). A readable header with an unreadable body gets FORMERR.
    pub fn handle_packet(&self, raw: Vec<u8>, src: SocketAddr, protocol: Protocol) -> Option<Vec<u8>> {
        if raw.len() < 12 || raw[2] & 0x80 != 0 {
            return None;
        }
        let header: [u8; 4] = [raw[0], raw[1], raw[2], raw[3]];
        match Request::from_bytes(raw, src, protocol) {
            Ok(request) => {
                let snap = self.reader.load();
                let response = self.respond(&snap, &request);
                let limit = if protocol == Protocol::Udp { response.udp_limit } else { u16::MAX };
                encode_response(&request, &response, limit).ok()
            }
            Err(_) => Some(formerr_from_header(header)),
        }
    }
}

/// A bare FORMERR for a packet whose header is readable but whose body is not: same id and
/// opcode, QR=1, RD copied, no sections.
pub fn formerr_from_header(h: [u8; 4]) -> Vec<u8> {
    let flags1 = 0x80 | (h[2] & 0x78) | (h[2] & 0x01);
    let flags2 = ResponseCode::FormErr.low();
    vec![h[0], h[1], flags1, flags2, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// Emits the question exactly as the client sent it (case preserved) and lets later names
/// compress against it.
struct QuestionEcho<'q> {
    raw: &'q [u8],
    count: usize,
}

impl EmitAndCount for QuestionEcho<'_> {
    fn emit(&mut self, encoder: &mut BinEncoder<'_>) -> Result<usize, ProtoError> {
        let start = encoder.offset();
        encoder.emit_vec(self.raw)?;
        if matches!(encoder.name_encoding(), NameEncoding::Compressed) && self.count > 0 {
            encoder.store_label_pointer(start, start + self.raw.len());
        }
        Ok(self.count)
    }
}

fn emit(
    request: &Request,
    metadata: &Metadata,
    records: &[std::borrow::Cow<'_, Record>],
    authority: Option<&Record>,
    edns: Option<&Edns>,
    limit: u16,
) -> Result<(Vec<u8>, Header), ProtoError> {
    let mut buf = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut buf);
    encoder.set_max_size(limit);
    let mut question = QuestionEcho { raw: request.queries.as_bytes(), count: request.queries.len() };
    let header = emit_message_parts(
        metadata,
        &mut question,
        &mut records.iter().map(|r| r.as_ref()),
        &mut authority.into_iter(),
        &mut std::iter::empty::<&Record>(),
        edns,
        None,
        &mut encoder,
    )?;
    Ok((buf, header))
}

/// Encode within `limit` bytes. If the records do not fit, send TC=1 with the question and
/// the OPT only, so the client retries over TCP (RFC 7766).
pub fn encode_response(request: &Request, response: &Response<'_>, limit: u16) -> Result<Vec<u8>, ProtoError> {
    let answer = &response.answer;
    let opt_len = response.edns.as_ref().map_or(0, |_| 11 + 4 + 20);
    let bound = 12 + request.queries.as_bytes().len() + answer.records_len + opt_len;
    if bound > usize::from(limit) {
        let (bytes, header) = emit(request, &response.metadata, &answer.answers, answer.authority, response.edns.as_ref(), limit)?;
        if !header.metadata.truncation && header.counts.additionals as usize == usize::from(response.edns.is_some()) {
            return Ok(bytes);
        }
        let mut metadata = response.metadata;
        metadata.truncation = true;
        return emit(request, &metadata, &[], None, response.edns.as_ref(), limit).map(|(b, _)| b);
    }
    emit(request, &response.metadata, &answer.answers, answer.authority, response.edns.as_ref(), limit).map(|(b, _)| b)
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response_handle: R) -> ResponseInfo {
        let snap = self.reader.load();
        let mut response = self.respond(&snap, request);
        // hickory's encoder sizes UDP answers by the OPT's payload field; give it our limit.
        if let Some(e) = response.edns.as_mut() {
            e.set_max_payload(response.udp_limit);
        }
        let builder = MessageResponseBuilder::new(&request.queries, response.edns.as_ref());
        let message = builder.build(
            response.metadata,
            response.answer.answers.iter().map(|r| r.as_ref()),
            response.answer.authority,
            std::iter::empty::<&Record>(),
            std::iter::empty::<&Record>(),
        );
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
