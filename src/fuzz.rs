//! Fuzz target bodies. The cargo-fuzz crate in `fuzz/` wraps these, and `cargo test` replays
//! the committed seed corpus (`fuzz/corpus/*`) through them on stable Rust.

use std::path::Path;

use crate::dns::Handler;
use crate::geo::GeoDb;
use crate::publish::Publisher;
use crate::steer::CellPrefixes;
use crate::zone;

pub use crate::dns::fuzz::fuzz_packet;
pub use crate::zone::fuzz_zone_loader;

/// A handler over the bundled zones and GeoIP database of the repository at `root`.
pub fn bundled_handler(root: &Path) -> Result<(Publisher, Handler), String> {
    let zones = zone::load_dir(&root.join("zones")).map_err(|e| e.to_string())?;
    let geo = GeoDb::open(&root.join("geoip/iptoasn-country.mmdb")).map_err(|e| e.to_string())?;
    let publisher = Publisher::new(zones, geo, CellPrefixes::default());
    let handler = Handler::new(publisher.reader());
    Ok((publisher, handler))
}
