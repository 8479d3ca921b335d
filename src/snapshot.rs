//! The immutable state the query path reads: zones, GeoIP, the DNS record table and the
//! steering decisions, stamped with a generation number. A new one is built for every change
//! and swapped in whole by `publish`; nothing in it is ever mutated.

use std::sync::Arc;

use crate::decide::DecisionTable;
use crate::dns::ZoneTable;
use crate::geo::GeoDb;
use crate::zone::ZoneSet;

/// One consistent view of everything an answer depends on.
#[derive(Debug)]
pub struct Snapshot {
    /// Monotonic, starting at 1 for the first published snapshot.
    pub generation: u64,
    /// The validated zones.
    pub zones: Arc<ZoneSet>,
    /// The GeoIP database.
    pub geo: Arc<GeoDb>,
    /// Wire-ready records built from `zones` (shared between generations that keep the zones).
    pub table: Arc<ZoneTable>,
    /// Steering decisions for every steered name.
    pub decisions: Arc<DecisionTable>,
}
