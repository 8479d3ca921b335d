//! The single writer of the one `ArcSwap<Snapshot>`. Every change (zone reload, GeoIP reload,
//! new shares from the health engine) goes through `Publisher`, which builds a whole Snapshot
//! with the next generation number and stores it in one atomic swap. Readers hold a
//! `snapshot::SnapshotReader` and do one `load()` per query: no lock, no clock.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::steer::{CellPrefixes, Plan, plan};
use crate::dns::ZoneTable;
use crate::geo::GeoDb;
use crate::dns::{Served, ServedReader};
use crate::snapshot::Snapshot;
use crate::zone::ZoneSet;

/// Owns the swap. Not `Clone`: having a `&mut Publisher` is what makes a caller the writer.
#[derive(Debug)]
pub struct Publisher {
    current: Arc<ArcSwap<Served>>,
    cells: CellPrefixes,
}

impl Publisher {
    /// Publish generation 1 from zones and GeoIP at the configured weights.
    pub fn new(zones: ZoneSet, geo: GeoDb, cells: CellPrefixes) -> Publisher {
        let plan = plan::configured(&zones, cells);
        Self::with_plan(zones, geo, plan, cells)
    }

    /// Publish generation 1 with a given plan (made for `zones`, e.g. with overrides that
    /// survived a restart).
    pub fn with_plan(zones: ZoneSet, geo: GeoDb, plan: Plan, cells: CellPrefixes) -> Publisher {
        let zones = Arc::new(zones);
        let snapshot = Snapshot {
            generation: 1,
            table: Arc::new(ZoneTable::build(&zones)),
            decisions: Arc::new(plan.table),
            explain: Arc::new(plan.explain),
            zones,
            geo: Arc::new(geo),
        };
        Publisher { current: Arc::new(ArcSwap::from_pointee(snapshot)), cells }
    }

    /// A read handle.
    pub fn reader(&self) -> ServedReader {
        ServedReader::new(Arc::clone(&self.current))
    }

    /// The snapshot now being served.
    pub fn current(&self) -> Arc<Served> {
        self.current.load_full()
    }

    /// Swap in new zones (and a new GeoIP database, if given) with a plan made for them: one
    /// reload, one generation, no moment where the new zones serve stale decisions.
    pub fn publish_reload(&mut self, zones: Arc<ZoneSet>, geo: Option<GeoDb>, build: impl FnOnce(&ZoneSet, CellPrefixes) -> Plan) -> u64 {
        let old = self.current();
        let plan = build(&zones, self.cells);
        self.store(Snapshot {
            generation: old.generation + 1,
            table: Arc::new(ZoneTable::build(&zones)),
            decisions: Arc::new(plan.table),
            explain: Arc::new(plan.explain),
            zones,
            geo: geo.map_or_else(|| Arc::clone(&old.geo), Arc::new),
        })
    }

    /// Swap in a new plan for the current zones. `build` gets the zones being served, so a
    /// plan can never be paired with zones it was not made for.
    pub fn publish_plan(&mut self, build: impl FnOnce(&ZoneSet, CellPrefixes) -> Plan) -> u64 {
        let old = self.current();
        let plan = build(&old.zones, self.cells);
        self.store(Snapshot {
            generation: old.generation + 1,
            zones: Arc::clone(&old.zones),
            table: Arc::clone(&old.table),
            decisions: Arc::new(plan.table),
            explain: Arc::new(plan.explain),
            geo: Arc::clone(&old.geo),
        })
    }

    fn store(&mut self, snapshot: Served) -> u64 {
        let generation = snapshot.generation;
        self.current.store(Arc::new(snapshot));
        tracing::debug!(generation, "published snapshot");
        generation
    }
}
