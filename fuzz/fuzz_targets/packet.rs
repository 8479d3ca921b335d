//! Raw DNS packets -> `Handler::handle_packet` (UDP and TCP) over the bundled zones and
//! GeoIP database. The body lives in `cdnsteer::fuzz::fuzz_packet`, so `cargo test` replays
//! the committed corpus through exactly the same checks.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use cdnsteer::dns::Handler;
use cdnsteer::publish::Publisher;
use libfuzzer_sys::fuzz_target;

/// Built once per process: loading zones and the GeoIP database is far slower than a query.
static HANDLER: OnceLock<(Publisher, Handler)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let (_publisher, handler) = HANDLER.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("fuzz/ has a parent");
        cdnsteer::fuzz::bundled_handler(root).expect("bundled zones and GeoIP database load")
    });
    cdnsteer::fuzz::fuzz_packet(handler, data);
});
