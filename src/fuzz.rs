//! Fuzz target bodies. The cargo-fuzz crate in `fuzz/` wraps these, and `cargo test` replays
//! the committed seed corpus (`fuzz/corpus/*`) through them on stable Rust.

use std::net::SocketAddr;
use std::path::Path;

use hickory_proto::op::Message;
use hickory_server::net::xfer::Protocol;

use crate::decide::CellPrefixes;
use crate::dns::Handler;
use crate::geo::GeoDb;
use crate::publish::Publisher;
use crate::zone;

pub use crate::zone::fuzz_zone_loader;

/// A handler over the bundled zones and GeoIP database of the repository at `root`.
pub fn bundled_handler(root: &Path) -> Result<(Publisher, Handler), String> {
    let zones = zone::load_dir(&root.join("zones")).map_err(|e| e.to_string())?;
    let geo = GeoDb::open(&root.join("geoip/iptoasn-country.mmdb")).map_err(|e| e.to_string())?;
    let publisher = Publisher::new(zones, geo, CellPrefixes::default());
    let handler = Handler::new(publisher.reader());
    Ok((publisher, handler))
}

/// Bytes -> handler -> response, over UDP and TCP. Any response must parse back as DNS, be a
/// response (QR=1) with the query's id, and fit the UDP limit. Panics (the fuzzer's signal)
/// otherwise.
pub fn fuzz_packet(handler: &Handler, data: &[u8]) {
    let src = SocketAddr::from(([192, 0, 2, 1], 5300));
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        let Some(reply) = handler.handle_packet(data, src, protocol) else {
            assert!(data.len() < 12 || data[2] & 0x80 != 0, "dropped a query-shaped packet");
            continue;
        };
        if protocol == Protocol::Udp {
            assert!(reply.len() <= 1232, "UDP reply of {} bytes", reply.len());
        }
        let message = match Message::from_vec(&reply) {
            Ok(m) => m,
            Err(e) => panic!("reply does not parse: {e}; reply {reply:02x?}"),
        };
        assert_eq!(message.metadata.id, u16::from_be_bytes([data[0], data[1]]));
        assert_eq!(message.metadata.message_type, hickory_proto::op::MessageType::Response);
    }
}
