//! The one planning function: zones + what the health engine knows + operator overrides +
//! `now` -> the `DecisionTable` the query path reads, and beside it the explain data that
//! says why each region answers as it does. Pure and allocation-bounded; the daemon calls it
//! whenever health or overrides change, `cdnsteer explain --offline` and the simulator call
//! it too, with `NoHealth` or a simulated engine.
//!
//! Per region, in order: shares from the health engine (when it has ticked the region's
//! current candidate list; else the configured weights, with override weights, minus CDNs the
//! engine knows to be down); operator drains take their CDN out; a pin sends everything to
//! its CDN (regardless of score, `max_share` and capacity); no usable candidate left fails
//! open to the steered name's last resort. TTL: the fail-open TTL when failing open, the fast
//! TTL while shares move or a CDN nears a threshold, else the name's TTL.

use serde::Serialize;

use super::decide::{CellPrefixes, DecisionTable, NameDecisions, RegionDecision, Share};
use super::select;
use crate::health::share::Status;
use crate::health::signal::SignalValues;
use crate::health::{HealthView, RegionHealth};
use crate::overrides::{OverrideSet, RegionOverrides};
use crate::region::RegionKey;
use crate::timestamp::Millis;
use crate::zone::health::HealthPolicy;
use crate::zone::model::{CdnIndex, Region, SteeredName, ZoneSet};

/// The decision table and its explanation, built together so they cannot disagree.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// What the query path reads.
    pub table: DecisionTable,
    /// Why, per steered name (same order as `table.names`) and region.
    pub explain: PlanExplain,
}

/// Explain data for every steered name.
#[derive(Debug, Clone, Default)]
pub struct PlanExplain {
    /// Per steered name, in `ZoneSet::steered()` order.
    pub names: Vec<Vec<RegionExplain>>,
    /// When the plan was made.
    pub at: Millis,
    /// The overrides in force when it was made (for explain and status).
    pub overrides: Vec<crate::overrides::Override>,
}

/// Where a region's shares came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SharesFrom {
    /// The health engine's state.
    Health,
    /// The configured weights (no health data yet, offline, or a candidate list the engine
    /// has not ticked since a reload).
    Configured,
}

/// Why one region answers as it does.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionExplain {
    /// Candidates in the region's order, then a pinned CDN that is not a candidate.
    pub candidates: Vec<CandidateExplain>,
    /// Ids of the overrides that apply, pin first.
    pub overrides: Vec<String>,
    /// The pin in force, if any (override id).
    pub pinned_by: Option<String>,
    /// No usable candidate: the last resort answers.
    pub fail_open: bool,
    /// Where the shares came from.
    pub shares_from: SharesFrom,
    /// Demand the engine used, Gbps.
    pub demand_gbps: Option<f64>,
}

/// One CDN of a region.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateExplain {
    /// Which CDN of the steered name.
    pub cdn: CdnIndex,
    /// Configured weight in the zone (`None` for a pinned CDN that is not a candidate).
    pub configured_weight: Option<f64>,
    /// The weight in force (an override's, else the configured one; 0 when drained).
    pub weight: f64,
    /// Share of the region's answers, 0..1, as served.
    pub share: f64,
    /// Health state, when the engine knows it.
    pub status: Option<Status>,
    /// Smoothed score, when known.
    pub score: Option<f64>,
    /// Signal values behind the score (reasons are derived from these and the SLA).
    pub signals: Option<SignalValues>,
    /// Region whose signals were used, when not the region itself.
    pub signal_region: Option<RegionKey>,
    /// The override acting on this CDN here (drain, weight or pin).
    pub override_id: Option<String>,
    /// What the operator sees in one word.
    pub state: CandidateState,
}

/// A candidate's state in one word, as explain, the dashboard and the report show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateState {
    /// No signal yet: configured weight.
    Cold,
    /// Meeting the SLA.
    Healthy,
    /// Usable but scoring below `up`: carries less.
    Degraded,
    /// Drained by health.
    Down,
    /// Back above `up`, waiting out the hold time.
    Recovering,
    /// Drained by an operator override.
    Drained,
    /// Pinned by an operator override: takes everything.
    Pinned,
    /// Another CDN is pinned: takes nothing.
    Unpinned,
    /// The region fails open and this CDN is not the last resort.
    FailingOpen,
}

impl CandidateState {
    /// Every state, in declaration order (`state as usize` indexes this list).
    pub const ALL: [CandidateState; 9] = [
        CandidateState::Cold,
        CandidateState::Healthy,
        CandidateState::Degraded,
        CandidateState::Down,
        CandidateState::Recovering,
        CandidateState::Drained,
        CandidateState::Pinned,
        CandidateState::Unpinned,
        CandidateState::FailingOpen,
    ];

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateState::Cold => "cold",
            CandidateState::Healthy => "healthy",
            CandidateState::Degraded => "degraded",
            CandidateState::Down => "down",
            CandidateState::Recovering => "recovering",
            CandidateState::Drained => "drained",
            CandidateState::Pinned => "pinned",
            CandidateState::Unpinned => "unpinned",
            CandidateState::FailingOpen => "failing_open",
        }
    }
}

/// Plan every steered name of `zones` at `now`.
pub fn plan(zones: &ZoneSet, health: &dyn HealthView, overrides: &OverrideSet, now: Millis, cells: CellPrefixes) -> Plan {
    let mut table = DecisionTable { names: Vec::new(), cells };
    let mut explain = PlanExplain { names: Vec::new(), at: now, overrides: overrides.active(now).cloned().collect() };
    for zone in &zones.zones {
        // An event window may change the share and TTL settings while it lasts.
        let policy = zone.health.at(now);
        for name in &zone.steered {
            let mut regions = Vec::with_capacity(name.regions.len());
            let mut explained = Vec::with_capacity(name.regions.len());
            for region in &name.regions {
                let applied = overrides.resolve(name, region, now);
                let view = health.region(name.name.as_str(), &region.key);
                let (decision, why) = plan_region(name, region, &policy, view, &applied);
                regions.push(decision);
                explained.push(why);
            }
            table.names.push(NameDecisions::with_regions(name, regions));
            explain.names.push(explained);
        }
    }
    Plan { table, explain }
}

/// One region: shares, drains, pin, fail-open, TTL.
fn plan_region(name: &SteeredName, region: &Region, p: &HealthPolicy, view: Option<&RegionHealth>, applied: &RegionOverrides<'_>) -> (RegionDecision, RegionExplain) {
    // Health state for the region's current candidates; a region whose candidates are all
    // cold (no signal yet) serves its configured weights as they are now, not as they were
    // when the engine last ticked.
    let current = view.filter(|v| v.matches(name, region) && !v.state.cdns.iter().all(|c| c.status == Status::Cold));
    let mut candidates: Vec<CandidateExplain> = (0..region.candidates.len()).map(|i| candidate(name, region, i, p, view, current, applied)).collect();
    let mut fail_open = current.is_some_and(|v| v.state.fail_open);
    if let Some((cdn, pin)) = applied.pin {
        apply_pin(&mut candidates, cdn, &pin.id);
        fail_open = false;
    }
    normalise(&mut candidates);
    if !candidates.iter().any(|c| c.share > 0.0) {
        fail_open = true;
    }
    if fail_open {
        for c in candidates.iter_mut().filter(|c| c.cdn != name.last_resort && !matches!(c.state, CandidateState::Drained | CandidateState::Down)) {
            c.state = CandidateState::FailingOpen;
        }
    }
    let unsettled = current.is_some_and(|v| v.unsettled);
    let ttl = if fail_open {
        p.fail_open_ttl.min(name.ttl)
    } else if unsettled && applied.pin.is_none() {
        p.fast_ttl.min(name.ttl)
    } else {
        name.ttl
    };
    let decision = RegionDecision {
        key: region.key.clone(),
        shares: candidates.iter().map(|c| Share { cdn: c.cdn, weight: if fail_open { 0.0 } else { c.share }, salt: select::salt(&name.cdns[c.cdn].name) }).collect(),
        ttl,
        fail_open,
    };
    let why = RegionExplain {
        candidates,
        overrides: applied.ids(),
        pinned_by: applied.pin.map(|(_, o)| o.id.clone()),
        fail_open,
        shares_from: if current.is_some() { SharesFrom::Health } else { SharesFrom::Configured },
        demand_gbps: view.and_then(|v| v.demand_gbps),
    };
    (decision, why)
}

/// Candidate `i` of a region: its share from the engine (`current`), or, when the engine has
/// not ticked the region's current candidate list (or ever), its weight in force minus a CDN
/// the engine knows to be down; drained by an override, nothing.
fn candidate(name: &SteeredName, region: &Region, i: usize, p: &HealthPolicy, view: Option<&RegionHealth>, current: Option<&RegionHealth>, applied: &RegionOverrides<'_>) -> CandidateExplain {
    let c = region.candidates[i];
    let weight = applied.weight(c.cdn, c.weight);
    let known = current.map(|v| (v.state.cdns[i].share, Some(v.state.cdns[i].status), v.scores[i], v.signals[i], v.signal_region[i].clone()));
    let (share, status, score, signals, from) = known.unwrap_or_else(|| {
        let old = view.and_then(|v| v.position(&name.cdns[c.cdn].name).map(|j| (v, j)));
        let status = old.map(|(v, j)| v.state.cdns[j].status);
        let usable = status.is_none_or(Status::usable);
        (if usable { weight } else { 0.0 }, status, old.and_then(|(v, j)| v.scores[j]), old.and_then(|(v, j)| v.signals[j]), None)
    });
    let drained = applied.drained(c.cdn);
    CandidateExplain {
        cdn: c.cdn,
        configured_weight: Some(c.weight),
        weight,
        share: if drained { 0.0 } else { share },
        status,
        score,
        signals,
        signal_region: from.filter(|r| *r != region.key),
        override_id: applied.on(c.cdn).map(|o| o.id.clone()),
        state: candidate_state(status, score, drained, p),
    }
}

/// A pin: its CDN (added if it is not a candidate) takes everything, the others nothing.
fn apply_pin(candidates: &mut Vec<CandidateExplain>, cdn: CdnIndex, id: &str) {
    if !candidates.iter().any(|c| c.cdn == cdn) {
        candidates.push(CandidateExplain {
            cdn,
            configured_weight: None,
            weight: 0.0,
            share: 0.0,
            status: None,
            score: None,
            signals: None,
            signal_region: None,
            override_id: None,
            state: CandidateState::Unpinned,
        });
    }
    for c in candidates.iter_mut() {
        let pinned = c.cdn == cdn;
        c.share = if pinned { 1.0 } else { 0.0 };
        c.state = if pinned { CandidateState::Pinned } else { CandidateState::Unpinned };
        if pinned {
            c.override_id = Some(id.to_string());
        }
    }
}

/// Shares sum to 1 over the CDNs that carry any (configured weights are relative).
fn normalise(candidates: &mut [CandidateExplain]) {
    let total: f64 = candidates.iter().map(|c| c.share).filter(|s| s.is_finite() && *s > 0.0).sum();
    for c in candidates.iter_mut() {
        c.share = if total > 0.0 && c.share.is_finite() && c.share > 0.0 { c.share / total } else { 0.0 };
    }
}

fn candidate_state(status: Option<Status>, score: Option<f64>, drained: bool, p: &HealthPolicy) -> CandidateState {
    if drained {
        return CandidateState::Drained;
    }
    match status {
        None | Some(Status::Cold) => CandidateState::Cold,
        Some(Status::Up) if score.is_some_and(|s| s < p.up) => CandidateState::Degraded,
        Some(Status::Up) => CandidateState::Healthy,
        Some(Status::Down { .. }) => CandidateState::Down,
        Some(Status::Recovering { .. }) => CandidateState::Recovering,
    }
}

/// The configured-weights plan (no health, no overrides): generation 1 and offline explain.
pub fn configured(zones: &ZoneSet, cells: CellPrefixes) -> Plan {
    plan(zones, &crate::health::NoHealth, &OverrideSet::new(), 0, cells)
}

#[cfg(test)]
mod tests;
