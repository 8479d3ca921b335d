//! Authoritative DNS semantics over real UDP and TCP against the bundled zones.

use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::harness::{Ask, start_bundled, tcp, tcp_raw, udp, udp_raw};

const WAIT: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rcodes_flags_and_authority() {
    let s = start_bundled().await;
    for transport in ["udp", "tcp"] {
        let ask = |a: Ask| {
            let addr = if transport == "udp" { s.udp } else { s.tcp };
            async move { if transport == "udp" { udp(addr, &a).await } else { tcp(addr, &a).await } }
        };
        // Positive static answer.
        let m = ask(Ask::new("example.com.", RecordType::A)).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{transport}");
        assert!(m.metadata.authoritative);
        assert!(!m.metadata.recursion_available);
        assert_eq!(m.answers.len(), 1);
        assert!(matches!(m.answers[0].data, RData::A(_)));

        // NXDOMAIN with the SOA in authority, TTL = min(SOA TTL, negative TTL).
        let m = ask(Ask::new("nope.example.com.", RecordType::A)).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.metadata.authoritative);
        assert!(m.answers.is_empty());
        assert_eq!(m.authorities.len(), 1);
        assert!(matches!(m.authorities[0].data, RData::SOA(_)));
        assert_eq!(m.authorities[0].ttl, 60);

        // NODATA: the name exists, the type does not.
        let m = ask(Ask::new("ns2.example.com.", RecordType::AAAA)).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert!(matches!(m.authorities[0].data, RData::SOA(_)));

        // REFUSED outside our zones, without AA.
        let m = ask(Ask::new("example.org.", RecordType::A)).await;
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(!m.metadata.authoritative);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_is_echoed_and_matching_is_case_insensitive() {
    let s = start_bundled().await;
    let ask = Ask::new("LiVe.ExAmPlE.cOm.", RecordType::A).ecs("211.234.10.0/24");
    let raw = udp_raw(s.udp, &ask.bytes(), WAIT).await.expect("reply");
    // The question section starts right after the 12-byte header, exactly as asked.
    assert_eq!(&raw[12..30], b"\x04LiVe\x07ExAmPlE\x03cOm\x00");
    let m = Message::from_vec(&raw).expect("parse");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(crate::harness::cname(&m).is_some());
    let raw = tcp_raw(s.tcp, &Ask::new("WWW.EXAMPLE.COM.", RecordType::A).bytes(), WAIT).await.expect("reply");
    assert_eq!(&raw[12..29], b"\x03WWW\x07EXAMPLE\x03COM\x00");
    let m = Message::from_vec(&raw).expect("parse");
    // www is a CNAME to the apex, followed inside the zone: CNAME then A.
    assert_eq!(m.answers.len(), 2);
    assert!(matches!(m.answers[0].data, RData::CNAME(_)));
    assert!(matches!(m.answers[1].data, RData::A(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_gets_one_rrset() {
    let s = start_bundled().await;
    let m = udp(s.udp, &Ask::new("example.com.", RecordType::ANY)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.answers.is_empty());
    let first = m.answers[0].record_type();
    assert!(m.answers.iter().all(|r| r.record_type() == first), "one RRset only");
    let m = udp(s.udp, &Ask::new("live.example.com.", RecordType::ANY)).await;
    assert_eq!(m.answers.len(), 1);
    assert!(matches!(m.answers[0].data, RData::CNAME(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steered_name_answers_cname_only_for_every_type() {
    let s = start_bundled().await;
    for qtype in [RecordType::A, RecordType::AAAA, RecordType::CNAME, RecordType::TXT] {
        let m = udp(s.udp, &Ask::new("live.example.com.", qtype)).await;
        assert_eq!(m.answers.len(), 1, "{qtype}");
        assert_eq!(m.answers[0].ttl, 20);
        assert!(matches!(m.answers[0].data, RData::CNAME(_)));
        assert!(m.authorities.is_empty() && m.additionals.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notimp_badvers_formerr_and_drops() {
    let s = start_bundled().await;
    // NOTIMP for a non-QUERY opcode (STATUS).
    let mut bytes = Ask::new("example.com.", RecordType::A).bytes();
    bytes[2] = (bytes[2] & !0x78) | (2 << 3);
    let m = Message::from_vec(&udp_raw(s.udp, &bytes, WAIT).await.expect("reply")).expect("parse");
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    assert_eq!(m.metadata.op_code, OpCode::Status);
    // ... whatever its question count: a header-only opcode 15 query, and a NOTIFY with two
    // questions, get NOTIMP with their id and opcode (not FORMERR).
    for (opcode, qdcount) in [(15u8, 0u8), (4, 2)] {
        let header = [0xbe, 0xef, opcode << 3, 0, 0, qdcount, 0, 0, 0, 0, 0, 0];
        let raw = udp_raw(s.udp, &header, WAIT).await.expect("reply");
        assert_eq!(raw.len(), 12, "a bare header");
        assert_eq!((&raw[..2], (raw[2] >> 3) & 0x0f, raw[2] & 0x80, raw[3] & 0x0f), (&[0xbe, 0xef][..], opcode, 0x80, 4), "opcode {opcode}, {qdcount} questions");
    }

    // BADVERS for EDNS version 1, with an OPT in the reply.
    let mut q = Message::new(7, MessageType::Query, OpCode::Query);
    q.add_query(hickory_proto::op::Query::query("example.com.".parse().expect("name"), RecordType::A));
    let mut e = hickory_proto::op::Edns::new();
    e.set_version(1);
    q.set_edns(e);
    let raw = udp_raw(s.udp, &q.to_vec().expect("encode"), WAIT).await.expect("reply");
    let m = Message::from_vec(&raw).expect("parse");
    // BADVERS and BADSIG share code 16; hickory decodes it as BADSIG.
    assert_eq!(u16::from(m.metadata.response_code), 16);
    assert!(m.edns.is_some());
    assert!(m.answers.is_empty());

    // FORMERR for junk after a valid header, same id.
    let mut junk = vec![0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    junk.extend_from_slice(&[0x3f, 0xff, 0xff, 0x01]);
    let raw = udp_raw(s.udp, &junk, WAIT).await.expect("FORMERR reply");
    let m = Message::from_vec(&raw).expect("parse");
    assert_eq!(m.metadata.id, 0xABCD);
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(m.metadata.message_type, MessageType::Response);

    // Two questions: FORMERR.
    let mut q = Message::new(9, MessageType::Query, OpCode::Query);
    q.add_query(hickory_proto::op::Query::query("example.com.".parse().expect("name"), RecordType::A));
    q.add_query(hickory_proto::op::Query::query("www.example.com.".parse().expect("name"), RecordType::A));
    let m = Message::from_vec(&udp_raw(s.udp, &q.to_vec().expect("encode"), WAIT).await.expect("reply")).expect("parse");
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);

    // QR=1 is dropped, valid or not; so is anything shorter than a header.
    let mut response_shaped = Ask::new("example.com.", RecordType::A).bytes();
    response_shaped[2] |= 0x80;
    assert!(udp_raw(s.udp, &response_shaped, Duration::from_millis(300)).await.is_none());
    let mut junk_response = junk.clone();
    junk_response[2] |= 0x80;
    assert!(udp_raw(s.udp, &junk_response, Duration::from_millis(300)).await.is_none());
    assert!(udp_raw(s.udp, &[1, 2, 3], Duration::from_millis(300)).await.is_none());

    // And the server still answers, on both transports.
    let m = udp(s.udp, &Ask::new("example.com.", RecordType::SOA)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let raw = tcp_raw(s.tcp, &junk, WAIT).await.expect("FORMERR over TCP");
    assert_eq!(Message::from_vec(&raw).expect("parse").metadata.response_code, ResponseCode::FormErr);
    let m = tcp(s.tcp, &Ask::new("example.com.", RecordType::SOA)).await;
    assert_eq!(m.answers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edns_is_advertised_and_ecs_malformed_is_formerr() {
    let s = start_bundled().await;
    let m = udp(s.udp, &Ask::new("example.com.", RecordType::A).payload(4096)).await;
    assert_eq!(m.edns.as_ref().map(|e| e.max_payload()), Some(1232));
    let m = udp(s.udp, &Ask::new("example.com.", RecordType::A).no_edns()).await;
    assert!(m.edns.is_none(), "no OPT in the reply to a query without one");
    // ECS with address bits set beyond the source prefix (10 = 0b1010 in a /20): FORMERR.
    let m = udp(s.udp, &Ask::new("live.example.com.", RecordType::A).ecs("211.234.10.0/20")).await;
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_bit_is_copied() {
    let s = start_bundled().await;
    let mut q = Message::new(11, MessageType::Query, OpCode::Query);
    q.add_query(hickory_proto::op::Query::query("example.com.".parse().expect("name"), RecordType::A));
    let mut e = hickory_proto::op::Edns::new();
    e.set_dnssec_ok(true);
    q.set_edns(e);
    for reply in [udp_raw(s.udp, &q.to_vec().expect("encode"), WAIT).await, tcp_raw(s.tcp, &q.to_vec().expect("encode"), WAIT).await] {
        let m = Message::from_vec(&reply.expect("reply")).expect("parse");
        assert!(m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok), "RFC 3225: DO copied");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_loops_are_answered_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("loop.test.yaml"),
        "version: 1\nzone: loop.test\nsoa: {primary: ns1.loop.test., contact: h.loop.test., serial: 1}\nrecords:\n  - {name: \"@\", type: NS, value: ns1.loop.test.}\n  - {name: c1, type: CNAME, value: c2}\n  - {name: c2, type: CNAME, value: c1}\n",
    )
    .expect("write");
    let s = crate::harness::start(dir.path(), &crate::harness::bundled_geoip()).await;
    let m = udp(s.udp, &Ask::new("c1.loop.test.", RecordType::A)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 2, "each record of the loop once: {:?}", m.answers);
}
