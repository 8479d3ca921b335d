//! One round of the control loop, pure, with time passed in: take the observations that
//! arrived, drop the overrides that expired, tick the health engine for the zones that are
//! due, and plan again when anything the plan depends on changed. The daemon's engine task
//! runs this every round (then persists, publishes and records what it returns); the
//! simulator runs it every simulated tick. Both therefore make the same decision tables from
//! the same observations, which `tests/it/simulate.rs` checks tick by tick.

use super::decide::CellPrefixes;
use super::plan::{Plan, plan};
use crate::health::engine::TickReport;
use crate::health::{Engine, Observation};
use crate::overrides::{Override, OverrideSet};
use crate::timestamp::Millis;
use crate::zone::ZoneSet;

/// What one round did.
#[derive(Debug)]
#[must_use]
pub struct Round {
    /// Observations the engine refused (unknown CDN or region, too many vantages).
    pub dropped: usize,
    /// Overrides that expired this round (already removed from the set).
    pub expired: Vec<Override>,
    /// The engine's tick.
    pub report: TickReport,
    /// A new plan, when the engine's shares or the overrides changed.
    pub plan: Option<Plan>,
}

/// Run one round at `now` for `zones`. `observations` keeps only those the engine took.
pub fn round(engine: &mut Engine, overrides: &mut OverrideSet, zones: &ZoneSet, observations: &mut Vec<Observation>, now: Millis, cells: CellPrefixes) -> Round {
    let before = observations.len();
    observations.retain(|o| engine.ingest(o));
    let dropped = before - observations.len();
    let expired = if overrides.next_expiry().is_some_and(|t| t <= now) { overrides.expire(now) } else { Vec::new() };
    // An expiry changes the plan now, not at the zone's next tick.
    let report = if expired.is_empty() { engine.tick(zones, overrides, now) } else { engine.tick_now(zones, overrides, now) };
    let plan = (report.changed || !expired.is_empty()).then(|| plan(zones, engine, overrides, now, cells));
    Round { dropped, expired, report, plan }
}
