//! The listeners' fast path on the wire format: a strict, allocation-free query parser and a
//! response writer over pre-encoded records. hickory's general message codec costs ~12k
//! instructions per query (allocation-heavy decode, compression bookkeeping on encode); an
//! authoritative server sees one question, at most one OPT, and answers from a fixed table,
//! so both directions reduce to bounds-checked byte copies.
//!
//! Every read is bounds-checked; malformed input yields `Parsed::FormErr` (header readable)
//! or `Parsed::Drop` with the reason, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::answer::Answer;
use super::table::WireRecord;

/// DNS header length.
pub const HEADER_LEN: usize = 12;
/// Longest name on the wire.
pub const MAX_NAME: usize = 255;
const TYPE_OPT: u16 = 41;
const OPTION_ECS: u16 = 8;

/// A lower-case question name in wire form, on the stack.
#[derive(Clone, Copy)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME],
    len: usize,
}

impl NameBuf {
    /// The wire bytes (ending with the root label).
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NameBuf({:?})", String::from_utf8_lossy(self.as_slice()))
    }
}

/// The ECS option of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcsState {
    /// No ECS option.
    Absent,
    /// A valid option.
    Valid {
        /// Address as sent (zero-padded), family preserved.
        addr: IpAddr,
        /// SOURCE PREFIX-LENGTH.
        source: u8,
    },
    /// Present but malformed (RFC 7871 section 7.1.1: FORMERR).
    Malformed,
}

/// The OPT record of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdnsInfo {
    /// Requestor's UDP payload size.
    pub payload: u16,
    /// EDNS version.
    pub version: u8,
    /// DO bit.
    pub dnssec_ok: bool,
    /// Client subnet.
    pub ecs: EcsState,
}

/// A parsed query.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Id.
    pub id: u16,
    /// Opcode (0 = QUERY).
    pub opcode: u8,
    /// RD flag, copied to the response.
    pub rd: bool,
    /// CD flag, copied to the response.
    pub cd: bool,
    /// The question section exactly as sent (name, type, class).
    pub question: &'a [u8],
    /// The question name, lower-cased.
    pub qname: NameBuf,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// OPT, if any.
    pub edns: Option<EdnsInfo>,
}

/// Header fields needed to answer a query whose body is unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BareHeader {
    /// Id.
    pub id: u16,
    /// Opcode.
    pub opcode: u8,
    /// RD.
    pub rd: bool,
    /// CD.
    pub cd: bool,
}

/// Why a packet gets no answer at all (counted by reason in the DNS metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than a DNS header.
    Short,
    /// A response (QR=1): answering responses invites reflection loops.
    Response,
    /// UDP from source port 0, which cannot be answered (dropped by the listener).
    SourcePortZero,
    /// A UDP datagram longer than a receive slot (4,096 bytes): no query is that long, and
    /// its end is lost (dropped by the listener).
    Oversized,
    /// Answered, but the kernel refused to send the reply (counted by the listener).
    SendFailed,
}

/// Outcome of parsing.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// Not answered: shorter than a header, or a response (QR=1).
    Drop(DropReason),
    /// Answer FORMERR with the header only.
    FormErr(BareHeader),
    /// A query with exactly one question.
    Query(Query<'a>),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    #[inline]
    fn u16(&mut self) -> Option<u16> {
        let b = self.buf.get(self.pos..self.pos + 2)?;
        self.pos += 2;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    #[inline]
    fn u32(&mut self) -> Option<u32> {
        let b = self.buf.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    #[inline]
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(b)
    }
    /// Skip a possibly compressed name (records after the question).
    fn skip_name(&mut self) -> Option<()> {
        let mut total = 0usize;
        loop {
            let len = self.u8()?;
            match len & 0xC0 {
                0x00 if len == 0 => return Some(()),
                0x00 => {
                    total += usize::from(len) + 1;
                    if total > MAX_NAME {
                        return None;
                    }
                    self.take(usize::from(len))?;
                }
                0xC0 => {
                    self.u8()?;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Parse a query. Compression pointers are refused in the question (nothing precedes it to
/// point at); other sections are skipped except the OPT record.
pub fn parse(raw: &[u8]) -> Parsed<'_> {
    if raw.len() < HEADER_LEN {
        return Parsed::Drop(DropReason::Short);
    }
    if raw[2] & 0x80 != 0 {
        return Parsed::Drop(DropReason::Response);
    }
    let header = BareHeader {
        id: u16::from_be_bytes([raw[0], raw[1]]),
        opcode: (raw[2] >> 3) & 0x0F,
        rd: raw[2] & 0x01 != 0,
        cd: raw[3] & 0x10 != 0,
    };
    match parse_body(raw, header) {
        Some(q) => Parsed::Query(q),
        None => Parsed::FormErr(header),
    }
}

fn parse_body(raw: &[u8], h: BareHeader) -> Option<Query<'_>> {
    let count = |i: usize| u16::from_be_bytes([raw[i], raw[i + 1]]);
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    if qd != 1 {
        return None;
    }
    let mut r = Reader { buf: raw, pos: HEADER_LEN };
    let mut qname = NameBuf { bytes: [0; MAX_NAME], len: 0 };
    loop {
        let len = usize::from(r.u8()?);
        if len & 0xC0 != 0 {
            return None;
        }
        if qname.len + len + 1 > MAX_NAME {
            return None;
        }
        qname.bytes[qname.len] = len as u8;
        qname.len += 1;
        if len == 0 {
            break;
        }
        let label = r.take(len)?;
        for (dst, src) in qname.bytes[qname.len..qname.len + len].iter_mut().zip(label) {
            *dst = src.to_ascii_lowercase();
        }
        qname.len += len;
    }
    let qtype = r.u16()?;
    let qclass = r.u16()?;
    let question = raw.get(HEADER_LEN..r.pos)?;

    for _ in 0..u32::from(an) + u32::from(ns) {
        r.skip_name()?;
        r.take(8)?;
        let rdlen = r.u16()?;
        r.take(usize::from(rdlen))?;
    }
    let mut edns = None;
    for _ in 0..ar {
        let name_start = r.pos;
        r.skip_name()?;
        let rtype = r.u16()?;
        if rtype != TYPE_OPT {
            r.take(6)?;
            let rdlen = r.u16()?;
            r.take(usize::from(rdlen))?;
            continue;
        }
        // RFC 6891 6.1.1: the OPT owner is the root, and there is at most one OPT.
        if r.pos - name_start != 3 || raw[name_start] != 0 || edns.is_some() {
            return None;
        }
        let payload = r.u16()?;
        let ttl = r.u32()?;
        let rdlen = usize::from(r.u16()?);
        let options = r.take(rdlen)?;
        edns = Some(EdnsInfo {
            payload,
            version: (ttl >> 16) as u8,
            dnssec_ok: ttl & 0x8000 != 0,
            ecs: parse_options(options)?,
        });
    }
    Some(Query { id: h.id, opcode: h.opcode, rd: h.rd, cd: h.cd, question, qname, qtype, qclass, edns })
}

/// Walk the OPT options; a truncated option list is a FORMERR (`None`), a bad ECS is reported
/// as `Malformed` so the caller can still echo the OPT.
fn parse_options(options: &[u8]) -> Option<EcsState> {
    let mut r = Reader { buf: options, pos: 0 };
    let mut ecs = EcsState::Absent;
    while r.pos < options.len() {
        let code = r.u16()?;
        let len = usize::from(r.u16()?);
        let data = r.take(len)?;
        if code == OPTION_ECS {
            ecs = if ecs == EcsState::Absent { parse_ecs(data) } else { EcsState::Malformed };
        }
    }
    Some(ecs)
}

fn parse_ecs(data: &[u8]) -> EcsState {
    let [f0, f1, source, _scope, addr @ ..] = data else {
        return EcsState::Malformed;
    };
    let family = u16::from_be_bytes([*f0, *f1]);
    let source = *source;
    let max = match family {
        1 => 32,
        2 => 128,
        _ => return EcsState::Malformed,
    };
    let needed = usize::from(source).div_ceil(8);
    if source > max || addr.len() != needed {
        return EcsState::Malformed;
    }
    // Bits beyond SOURCE PREFIX-LENGTH must be zero.
    if source % 8 != 0 {
        if let Some(last) = addr.last() {
            if last & (0xFFu8 >> (source % 8)) != 0 {
                return EcsState::Malformed;
            }
        }
    }
    let addr = if family == 1 {
        let mut o = [0u8; 4];
        o[..needed].copy_from_slice(addr);
        IpAddr::V4(Ipv4Addr::from(o))
    } else {
        let mut o = [0u8; 16];
        o[..needed].copy_from_slice(addr);
        IpAddr::V6(Ipv6Addr::from(o))
    };
    EcsState::Valid { addr, source }
}

/// What the writer needs to build a response.
#[derive(Debug)]
pub struct Reply<'r, 's> {
    /// Records, rcode and AA.
    pub answer: &'r Answer<'s>,
    /// Include an OPT (the query had one).
    pub opt: bool,
    /// Copy the DO bit (RFC 3225 section 3), though we do not sign.
    pub dnssec_ok: bool,
    /// ECS to echo: (address as sent, source prefix, scope prefix).
    pub ecs: Option<(IpAddr, u8, u8)>,
}

/// Our advertised UDP payload size.
pub const ADVERTISED_PAYLOAD: u16 = 1232;

/// Offset of a compression pointer to `name` if it is a suffix of the question name at a label
/// boundary (the question starts right after the header).
#[inline]
fn pointer_into_question(qname: &[u8], name: &[u8]) -> Option<u16> {
    let mut i = 0usize;
    while i < qname.len() {
        if qname.len() - i == name.len() && &qname[i..] == name {
            return u16::try_from(HEADER_LEN + i).ok().map(|o| 0xC000 | o);
        }
        let len = usize::from(qname[i]);
        if len == 0 {
            break;
        }
        i += len + 1;
    }
    None
}

fn record_len(qname: &[u8], rec: &WireRecord) -> usize {
    let owner = if pointer_into_question(qname, &rec.owner).is_some() { 2 } else { rec.owner.len() };
    owner + rec.rest.len()
}

fn ecs_len(ecs: Option<(IpAddr, u8, u8)>) -> usize {
    ecs.map_or(0, |(_, source, _)| 4 + 4 + usize::from(source).div_ceil(8))
}

fn push_record(out: &mut Vec<u8>, qname: &[u8], rec: &WireRecord, ttl: u32) {
    match pointer_into_question(qname, &rec.owner) {
        Some(p) => out.extend_from_slice(&p.to_be_bytes()),
        None => out.extend_from_slice(&rec.owner),
    }
    let start = out.len();
    out.extend_from_slice(&rec.rest);
    if let Some(t) = out.get_mut(start + 4..start + 8) {
        t.copy_from_slice(&ttl.to_be_bytes());
    }
}

/// Write the response into `out` (cleared first) within `limit` bytes; if the records do not
/// fit, write TC=1 with the question and OPT only. Returns true when it truncated.
pub fn write_reply(out: &mut Vec<u8>, q: &Query<'_>, reply: &Reply<'_, '_>, limit: usize) -> bool {
    let qname = q.qname.as_slice();
    let answer = reply.answer;
    let rcode = u16::from(answer.rcode);
    let opt_len = if reply.opt { 11 + ecs_len(reply.ecs) } else { 0 };
    let mut n_answers = 0usize;
    let mut records = answer.authority.map_or(0, |r| record_len(qname, r));
    for (r, _) in answer.records() {
        n_answers += 1;
        records += record_len(qname, r);
    }
    let fits = HEADER_LEN + q.question.len() + records + opt_len <= limit;

    out.clear();
    let mut flags: u16 = 0x8000 | (u16::from(q.opcode & 0x0F) << 11) | (rcode & 0x0F);
    if answer.authoritative {
        flags |= 0x0400;
    }
    if !fits {
        flags |= 0x0200;
    }
    if q.rd {
        flags |= 0x0100;
    }
    if q.cd {
        flags |= 0x0010;
    }
    let (an, ns) = if fits { (n_answers, usize::from(answer.authority.is_some())) } else { (0, 0) };
    out.extend_from_slice(&q.id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(an as u16).to_be_bytes());
    out.extend_from_slice(&(ns as u16).to_be_bytes());
    out.extend_from_slice(&u16::from(reply.opt).to_be_bytes());
    out.extend_from_slice(q.question);
    if fits {
        for (rec, ttl) in answer.records() {
            push_record(out, qname, rec, ttl);
        }
        if let Some(soa) = answer.authority {
            push_record(out, qname, soa, soa.record.ttl);
        }
    }
    if reply.opt {
        write_opt(out, rcode, reply.dnssec_ok, reply.ecs);
    }
    !fits
}

fn write_opt(out: &mut Vec<u8>, rcode: u16, dnssec_ok: bool, ecs: Option<(IpAddr, u8, u8)>) {
    out.push(0); // root owner
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&ADVERTISED_PAYLOAD.to_be_bytes());
    // TTL field: extended rcode (upper 8 bits of the 12-bit rcode), version 0, no flags.
    out.push((rcode >> 4) as u8);
    out.push(0);
    out.extend_from_slice(&[if dnssec_ok { 0x80 } else { 0 }, 0]);
    let rdlen = ecs_len(ecs) as u16;
    out.extend_from_slice(&rdlen.to_be_bytes());
    if let Some((addr, source, scope)) = ecs {
        let n = usize::from(source).div_ceil(8);
        out.extend_from_slice(&OPTION_ECS.to_be_bytes());
        out.extend_from_slice(&((4 + n) as u16).to_be_bytes());
        match addr {
            IpAddr::V4(a) => {
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&[source, scope]);
                out.extend_from_slice(&a.octets()[..n.min(4)]);
            }
            IpAddr::V6(a) => {
                out.extend_from_slice(&2u16.to_be_bytes());
                out.extend_from_slice(&[source, scope]);
                out.extend_from_slice(&a.octets()[..n.min(16)]);
            }
        }
    }
}

/// A bare FORMERR for an unreadable body: same id, opcode, RD and CD; QR=1; no sections.
pub fn formerr(h: BareHeader, out: &mut Vec<u8>) {
    bare_reply(h, 1, out);
}

/// A bare reply with `rcode` (FORMERR 1, NOTIMP 4): same id, opcode, RD and CD; QR=1; no
/// sections.
pub fn bare_reply(h: BareHeader, rcode: u8, out: &mut Vec<u8>) {
    let mut flags: u16 = 0x8000 | (u16::from(h.opcode & 0x0F) << 11) | u16::from(rcode & 0x0F);
    if h.rd {
        flags |= 0x0100;
    }
    if h.cd {
        flags |= 0x0010;
    }
    // Into the worker's own buffer: a flood of malformed packets costs no allocation.
    out.clear();
    out.extend_from_slice(&h.id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], extra_ar: &[u8], arcount: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        q.extend_from_slice(&arcount.to_be_bytes());
        q.extend_from_slice(name);
        q.extend_from_slice(&[0, 1, 0, 1]);
        q.extend_from_slice(extra_ar);
        q
    }

    fn opt(options: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0];
        o.extend_from_slice(&(options.len() as u16).to_be_bytes());
        o.extend_from_slice(options);
        o
    }

    #[test]
    fn parses_question_case_and_ecs() {
        let ecs = [0, 8, 0, 7, 0, 1, 24, 0, 211, 234, 10];
        let raw = query(b"\x04LiVe\x07example\x03com\x00", &opt(&ecs), 1);
        let Parsed::Query(q) = parse(&raw) else { panic!("not a query") };
        assert_eq!(q.qname.as_slice(), b"\x04live\x07example\x03com\x00");
        assert_eq!(&q.question[1..5], b"LiVe");
        let e = q.edns.expect("edns");
        assert_eq!(e.payload, 1232);
        assert_eq!(e.ecs, EcsState::Valid { addr: "211.234.10.0".parse().unwrap(), source: 24 });
    }

    #[test]
    fn rejects_what_it_must() {
        assert!(matches!(parse(&[0; 11]), Parsed::Drop(DropReason::Short)));
        let mut qr = query(b"\x00", &[], 0);
        qr[2] |= 0x80;
        assert!(matches!(parse(&qr), Parsed::Drop(DropReason::Response)));
        // Pointer in the question.
        assert!(matches!(parse(&query(b"\xc0\x0c", &[], 0)), Parsed::FormErr(_)));
        // Two OPTs.
        let two = [opt(&[]), opt(&[])].concat();
        assert!(matches!(parse(&query(b"\x00", &two, 2)), Parsed::FormErr(_)));
        // Truncated OPT.
        assert!(matches!(parse(&query(b"\x00", &opt(&[])[..5], 1)), Parsed::FormErr(_)));
        // ECS bits beyond the prefix, bad family, wrong address length.
        for bad in [&[0, 8, 0, 7, 0, 1, 20, 0, 211, 234, 10][..], &[0, 8, 0, 4, 0, 3, 0, 0], &[0, 8, 0, 8, 0, 1, 24, 0, 1, 2, 3, 4]] {
            let raw = query(b"\x00", &opt(bad), 1);
            let Parsed::Query(q) = parse(&raw) else { panic!("should parse") };
            assert_eq!(q.edns.map(|e| e.ecs), Some(EcsState::Malformed), "{bad:?}");
        }
        // A 256-byte name.
        let mut long = Vec::new();
        for _ in 0..4 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert!(matches!(parse(&query(&long, &[], 0)), Parsed::FormErr(_)));
    }

    #[test]
    fn pointer_only_at_label_boundaries() {
        let q = b"\x04live\x07example\x03com\x00";
        assert_eq!(pointer_into_question(q, q), Some(0xC00C));
        assert_eq!(pointer_into_question(q, b"\x07example\x03com\x00"), Some(0xC000 | 17));
        assert_eq!(pointer_into_question(q, b"\x03com\x00"), Some(0xC000 | 25));
        assert_eq!(pointer_into_question(q, b"\x02om\x00"), None);
    }
}
