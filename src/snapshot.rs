//! The immutable state the query path reads: zones, GeoIP, the DNS record table and the
//! steering decisions, stamped with a generation number. A new one is built for every change
//! and swapped in whole by `publish`; nothing in it is ever mutated. Readers (the DNS path, the
//! admin API) hold a `SnapshotReader`, defined here so they never import the writer.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::steer::{DecisionTable, PlanExplain};
use crate::geo::GeoDb;
use crate::zone::ZoneSet;

/// One consistent view of everything an answer depends on. Generic over the wire table `W`
/// (the DNS room's `ZoneTable`) so this module sits below `dns` and the two never import each
/// other: `dns` names the concrete type (`dns::Served`).
#[derive(Debug)]
pub struct Snapshot<W> {
    /// Monotonic, starting at 1 for the first published snapshot.
    pub generation: u64,
    /// The validated zones.
    pub zones: Arc<ZoneSet>,
    /// The GeoIP database.
    pub geo: Arc<GeoDb>,
    /// Wire-ready records built from `zones` (shared between generations that keep the zones).
    pub table: Arc<W>,
    /// Steering decisions for every steered name.
    pub decisions: Arc<DecisionTable>,
    /// Why each region answers as it does (made by the same `steer::plan` call).
    pub explain: Arc<PlanExplain>,
}

/// Cheap, clonable read handle on the current snapshot.
#[derive(Debug)]
pub struct SnapshotReader<W> {
    current: Arc<ArcSwap<Snapshot<W>>>,
}

impl<W> Clone for SnapshotReader<W> {
    fn clone(&self) -> Self {
        SnapshotReader { current: Arc::clone(&self.current) }
    }
}

impl<W> SnapshotReader<W> {
    /// A handle on `current`; only `publish` creates one, from the swap it owns.
    pub(crate) fn new(current: Arc<ArcSwap<Snapshot<W>>>) -> SnapshotReader<W> {
        SnapshotReader { current }
    }

    /// The current snapshot (one atomic load; keep it for the whole request).
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot<W>>> {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc` (for long-lived readers such as the admin API).
    pub fn load_full(&self) -> Arc<Snapshot<W>> {
        self.current.load_full()
    }
}
