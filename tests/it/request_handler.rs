//! The hickory `RequestHandler` implementation, driven in-process with a capturing response
//! handler, must answer exactly like the listeners' fast path (same `decide`, two encoders).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use cdnsteer::dns::Handler;
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;

use crate::harness::{Ask, repo};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut buf = Vec::new();
        let mut encoder = BinEncoder::new(&mut buf);
        let info = response.destructive_emit(&mut encoder)?;
        *self.0.lock().expect("lock") = buf;
        Ok(info)
    }
}

/// The parts of a response both encoders must agree on.
fn essence(m: &Message) -> String {
    let ecs = m.edns.as_ref().and_then(|e| match e.option(EdnsCode::Subnet) {
        Some(EdnsOption::Subnet(s)) => Some((s.addr(), s.source_prefix(), s.scope_prefix())),
        _ => None,
    });
    format!(
        "rcode={} aa={} tc={} answers={:?} authority={:?} opt={} version={:?} ecs={:?}",
        u16::from(m.metadata.response_code),
        m.metadata.authoritative,
        m.metadata.truncation,
        m.answers.iter().map(|r| format!("{} {} {} {}", r.name.to_lowercase(), r.ttl, r.record_type(), r.data)).collect::<Vec<_>>(),
        m.authorities.iter().map(|r| format!("{} {} {}", r.name.to_lowercase(), r.ttl, r.record_type())).collect::<Vec<_>>(),
        m.edns.is_some(),
        m.edns.as_ref().map(|e| e.version()),
        ecs,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_handler_matches_fast_path() {
    let (_publisher, handler): (_, Handler) = cdnsteer::fuzz::bundled_handler(&repo()).expect("bundled");
    let src = SocketAddr::from(([192, 0, 2, 7], 5300));
    let asks = [
        Ask::new("live.example.com.", RecordType::A).ecs("211.234.10.0/24"),
        Ask::new("LIVE.example.com.", RecordType::AAAA).ecs("2001:2d8:1:2300::/56"),
        Ask::new("live.example.com.", RecordType::A).ecs("::ffff:133.242.0.0/120"),
        Ask::new("live.example.com.", RecordType::A).ecs("168.126.63.0/24"),
        Ask::new("live.example.com.", RecordType::A).ecs("8.8.8.0/24"),
        Ask::new("live.example.com.", RecordType::A).ecs("0.0.0.0/0"),
        Ask::new("live.example.com.", RecordType::A).no_edns(),
        Ask::new("example.com.", RecordType::A).ecs("211.234.10.0/24"),
        Ask::new("example.com.", RecordType::ANY),
        Ask::new("example.com.", RecordType::MX),
        Ask::new("example.com.", RecordType::CAA),
        Ask::new("example.com.", RecordType::NS),
        Ask::new("www.example.com.", RecordType::A),
        Ask::new("www.example.com.", RecordType::AAAA),
        Ask::new("nope.example.com.", RecordType::A).ecs("211.234.10.0/24"),
        Ask::new("ns1.example.com.", RecordType::AAAA),
        Ask::new("example.org.", RecordType::A),
        Ask::new("live.example.com.", RecordType::AXFR),
    ];
    let mut compared = 0;
    for ask in &asks {
        let bytes = ask.bytes();
        let fast = handler.handle_packet(&bytes, src, cdnsteer::dns::Transport::Udp).expect("fast path reply");
        let fast = Message::from_vec(&fast).expect("fast path parses");

        let request = Request::from_bytes(bytes.clone(), src, Protocol::Udp).expect("request decodes");
        let capture = Capture::default();
        handler.handle_request::<_, TokioTime>(&request, capture.clone()).await;
        let slow = capture.0.lock().expect("lock").clone();
        let slow = Message::from_vec(&slow).expect("RequestHandler reply parses");

        assert_eq!(essence(&fast), essence(&slow), "{ask:?}");
        assert_eq!(fast.metadata.id, slow.metadata.id);
        compared += 1;
    }
    assert_eq!(compared, asks.len());
}
