//! Instruction count per query for `valgrind --tool=callgrind`: answers `N` queries of one kind
//! through the real handler (bytes in, bytes out) on the bundled zones and GeoIP database,
//! counted in a worker's own DNS counters as the UDP listener does.
//!
//! ```text
//! cargo build --release --example query_cost
//! valgrind --tool=callgrind target/release/examples/query_cost steered 0
//! valgrind --tool=callgrind target/release/examples/query_cost steered 20000
//! # instructions per query = (total(20000) - total(0)) / 20000
//! ```
//!
//! Start-up (loading the GeoIP database into hash maps with random seeds) varies by up to ~1M
//! instructions between runs, about 50 per query at 20,000 queries. For finer comparisons take
//! the loop's cost inside each run: `callgrind_annotate --inclusive=yes` of `query_cost::main`
//! minus that of `cdnsteer::fuzz::bundled_handler`, then the same difference of the two runs.

use std::net::SocketAddr;
use std::path::Path;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use cdnsteer::dns::counters::{DEFAULT_MAX_NAMES, DnsCounters};
use cdnsteer::dns::Transport;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "steered".to_string());
    let n: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (_publisher, handler) = match cdnsteer::fuzz::bundled_handler(root) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut m = Message::new(1, MessageType::Query, OpCode::Query);
    let name = if kind == "static" { "example.com." } else { "live.example.com." };
    m.add_query(Query::query(name.parse::<Name>().unwrap_or_else(|_| Name::root()), RecordType::A));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    if kind != "static" {
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new([211, 234, 10, 0].into(), 24, 0)));
    }
    m.set_edns(e);
    let Ok(bytes) = m.to_vec() else { std::process::exit(1) };
    let src = SocketAddr::from(([127, 0, 0, 1], 5300));
    let registry = DnsCounters::new(DEFAULT_MAX_NAMES);
    let mut counters = registry.worker();
    let mut total = 0usize;
    for i in 0..n {
        let mut q = bytes.clone();
        q[0] = (i >> 8) as u8;
        q[1] = i as u8;
        // A fresh buffer per query, like `Handler::handle_packet`.
        let mut out = Vec::with_capacity(512);
        if handler.handle_counted(&q, src, Transport::Udp, &mut out, &mut counters) {
            total += out.len();
        }
    }
    println!("{kind}: {n} queries, {total} response bytes");
}
