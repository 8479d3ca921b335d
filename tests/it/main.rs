//! The one integration-test binary: real server, real sockets.

mod harness;
mod dns_behaviour;
