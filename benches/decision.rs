//! Per-query cost on the bundled zones and GeoIP database:
//! - `decision`: GeoIP lookup + region + rendezvous pick (what a steered answer adds);
//! - `handle_packet`: the whole handler, bytes in -> bytes out, for a static name and for the
//!   steered name with ECS.

use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use cdnsteer::dns::handler::Handler;
use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use cdnsteer::dns::Transport;

fn query(name: &str, ecs: Option<(&str, u8)>) -> Vec<u8> {
    let mut m = Message::new(1, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name.parse::<Name>().expect("name"), RecordType::A));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    if let Some((addr, prefix)) = ecs {
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(addr.parse().expect("addr"), prefix, 0)));
    }
    m.set_edns(e);
    m.to_vec().expect("encode")
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (publisher, handler): (_, Handler) = cdnsteer::fuzz::bundled_handler(root).expect("bundled data");
    let snap = publisher.current();
    let decisions = &snap.decisions.names[0];
    let cells = snap.decisions.cells;
    let clients: Vec<IpAddr> = (0..1024u32).map(|i| IpAddr::from([211, 234, (i % 256) as u8, 0])).collect();

    c.bench_function("decision: geo + region + pick (KR /24s)", |b| {
        let mut i = 0usize;
        b.iter(|| {
            let ip = clients[i & 1023];
            i += 1;
            let located = snap.geo.locate(ip);
            black_box(decisions.steer(ip, &located, cells))
        })
    });

    let src = SocketAddr::from(([127, 0, 0, 1], 5300));
    let static_q = query("example.com.", None);
    let steered_q = query("live.example.com.", Some(("211.234.10.0", 24)));
    c.bench_function("handle_packet: static A", |b| {
        b.iter(|| black_box(handler.handle_packet(&static_q, src, Transport::Udp)))
    });
    c.bench_function("handle_packet: steered + ECS", |b| {
        b.iter(|| black_box(handler.handle_packet(&steered_q, src, Transport::Udp)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
