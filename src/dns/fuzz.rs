//! The packet fuzz target's body: any bytes through the real handler, with the reply checked
//! by hickory's decoder (so it lives in the hickory room).

use std::net::SocketAddr;

use hickory_proto::op::{Message, MessageType};

use super::handler::{Handler, Transport};

/// Bytes -> handler -> response, over UDP and TCP. Any response must parse back as DNS, be a
/// response (QR=1) with the query's id, and fit the UDP limit. Panics (the fuzzer's signal)
/// otherwise.
pub fn fuzz_packet(handler: &Handler, data: &[u8]) {
    let src = SocketAddr::from(([192, 0, 2, 1], 5300));
    for transport in [Transport::Udp, Transport::Tcp] {
        let Some(reply) = handler.handle_packet(data, src, transport) else {
            assert!(data.len() < 12 || data[2] & 0x80 != 0, "dropped a query-shaped packet");
            continue;
        };
        if transport == Transport::Udp {
            assert!(reply.len() <= 1232, "UDP reply of {} bytes", reply.len());
        }
        let message = match Message::from_vec(&reply) {
            Ok(m) => m,
            Err(e) => panic!("reply does not parse: {e}; reply {reply:02x?}"),
        };
        assert_eq!(message.metadata.id, u16::from_be_bytes([data[0], data[1]]));
        assert_eq!(message.metadata.message_type, MessageType::Response);
    }
}
