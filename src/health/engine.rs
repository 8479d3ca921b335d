//! Pure: the health engine. Observations go in (`ingest`); each `tick(zones, overrides, now)`
//! advances every zone whose own `tick_ms` has elapsed: it scores every candidate CDN of every
//! region of every steered name, advances the share state machines, and reports decision
//! events. The state it keeps is read through `HealthView` by `steer::plan`, which turns it
//! into the table the query path reads. Time is passed in, so the daemon, the simulator and
//! tests drive it at any speed.
//!
//! State is keyed by (steered name, region key) and survives zone reloads for names and
//! regions that still exist (a changed candidate list keeps what is known about each CDN);
//! state of names and regions that no longer exist is dropped.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::events::DecisionEvent;
use super::score::{self, Smoothed};
use super::share::{self, CandidateInput, Status};
use super::signal::{Millis, Observation, SignalStore, SignalValues};
use super::view::{HealthView, RegionHealth};
use crate::overrides::OverrideSet;
use crate::region::{self, RegionKey};
use crate::zone::health::HealthPolicy;
use crate::zone::model::{Region, SteeredName, Zone, ZoneSet};

/// What the share engine's outcome depends on, quantised (scores to 0.1 point).
type InputKey = SmallVec<[(i64, bool, Option<u64>, u64); 8]>;

fn input_key(inputs: &[CandidateInput], demand: Option<f64>) -> InputKey {
    let mut key: InputKey = inputs
        .iter()
        .map(|i| {
            let score = i.score.map_or(i64::MIN, |s| (s * 10.0).round() as i64);
            (score, i.has_data || i.drained, i.capacity_gbps.map(f64::to_bits), i.weight.to_bits() ^ u64::from(i.drained))
        })
        .collect();
    key.push((0, false, demand.map(f64::to_bits), 0));
    key
}

/// Result of one engine tick: must be published and its events logged.
#[must_use]
#[derive(Debug, Default, Clone)]
pub struct TickReport {
    /// Some region's shares, TTL state or fail-open changed: the plan must be rebuilt.
    pub changed: bool,
    /// What changed, per region, and why.
    pub events: Vec<DecisionEvent>,
    /// CDN health state changes, per steered name and region.
    pub transitions: Vec<Transition>,
    /// Regions that started failing open this tick: (steered name, region).
    pub failed_open: Vec<(String, RegionKey)>,
    /// Zones (apexes) ticked this time.
    pub ticked: usize,
}

/// One CDN's health state change in one region of one steered name.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Steered name.
    pub name: String,
    /// Region.
    pub region: RegionKey,
    /// CDN.
    pub cdn: String,
    /// State before.
    pub from: Status,
    /// State after.
    pub to: Status,
}

/// The engine.
#[derive(Debug, Default)]
pub struct Engine {
    /// Shared so a metrics scrape can read it without holding the control lock while it
    /// renders: written through `Arc::make_mut`, which copies only if a reader still holds it.
    signals: Arc<SignalStore>,
    /// steered name -> region -> state.
    regions: FxHashMap<String, FxHashMap<RegionKey, RegionHealth>>,
    /// zone apex -> region -> CDN -> smoothed score. Per (CDN, region), not per steered name:
    /// every name of a zone sees the same CDN in the same region the same way.
    smoothed: FxHashMap<String, ZoneSmoothed>,
    /// zone apex -> when it last ticked.
    last_tick: FxHashMap<String, Millis>,
    /// Id of the zone set last ticked: a different one means a reload (prune then).
    zones_seen: u64,
    /// Observations dropped because their (CDN, region) had too many vantages.
    dropped: u64,
}

impl HealthView for Engine {
    fn region(&self, name: &str, region: &RegionKey) -> Option<&RegionHealth> {
        self.regions.get(name)?.get(region)
    }
}

/// Regions whose signals may stand in for `key`, most specific first: the region itself, its
/// continent (for a country), then `default`.
fn signal_chain(key: &RegionKey) -> [Option<RegionKey>; 3] {
    let continent = match key {
        RegionKey::Country(c) => region::continent_of(*c).map(RegionKey::Continent),
        _ => None,
    };
    let default = (*key != RegionKey::Default).then_some(RegionKey::Default);
    [Some(key.clone()), continent, default]
}

/// What `Engine::instant` finds for one (CDN, region).
type Instant = (Option<(f64, SignalValues)>, Option<RegionKey>, bool);

/// One (CDN, region) scored for this tick: the instant finding plus the smoothed score.
#[derive(Debug, Clone)]
struct Scored {
    instant: Option<(f64, SignalValues)>,
    from: Option<RegionKey>,
    ever: bool,
    score: Option<f64>,
    /// The latest smoothed score, even when no fresh signal backs it now.
    last_score: Option<f64>,
}

/// Per-tick memo: region -> the (CDN, score) pairs seen so far (a region has a handful of
/// CDNs, so one hash per region and a short scan beat a hash per candidate).
type InstantCache<'z> = FxHashMap<&'z RegionKey, SmallVec<[(&'z str, Scored); 4]>>;

/// Smoothed scores of one zone: region -> CDN -> EWMA.
type ZoneSmoothed = FxHashMap<RegionKey, FxHashMap<String, Smoothed>>;

/// Demand of a region for this tick: fresh telemetry, else the configured forecast.
fn region_demand(signals: &SignalStore, key: &RegionKey, now: Millis, p: &HealthPolicy) -> Option<f64> {
    signals.demand(key, now, p.staleness_ms).or_else(|| p.demand.iter().find(|(r, _)| r == key).map(|(_, g)| *g))
}

/// Each CDN's capacity budget in one zone, split over regions. `capacity.<cdn>.gbps` x target
/// utilisation is one budget for every steered name and region of the zone: it is divided
/// among the regions where the CDN is a candidate in proportion to their demand, and a
/// region's own figure (`regions: {KR: 400}`) is a sub-limit inside its part.
#[derive(Debug, Default)]
struct CapacityBudget {
    /// (CDN, region) -> Gbps available at the target utilisation.
    parts: FxHashMap<(String, RegionKey), f64>,
}

impl CapacityBudget {
    fn build(zone: &Zone, signals: &SignalStore, now: Millis) -> CapacityBudget {
        let p = &zone.health;
        let mut out = CapacityBudget::default();
        if p.capacity.is_empty() {
            return out;
        }
        let mut demand: FxHashMap<&RegionKey, f64> = FxHashMap::default();
        for region in zone.steered.iter().flat_map(|n| n.regions.iter()) {
            if !demand.contains_key(&region.key) {
                demand.insert(&region.key, region_demand(signals, &region.key, now, p).unwrap_or(0.0));
            }
        }
        for cap in &p.capacity {
            let util = cap.target_utilisation;
            // Regions (distinct keys) where this CDN is a candidate, with the traffic it is
            // configured to carry there: the region's demand times its configured share (the
            // largest over the steered names). Each region first gets that (in proportion to
            // it when the budget is short); what is left is spread by the regions' demand, so a
            // CDN that must take more somewhere (another CDN drained there) finds room. Split
            // by demand alone, a CDN with 60% of a small region and 35% of a big one had its
            // small region capped at the peak while the big one's part went unused (the
            // simulator showed it as flaps).
            let mut wanted: Vec<(&RegionKey, f64, f64)> = Vec::new();
            for name in &zone.steered {
                let Some(cdn) = name.cdn_index(&cap.cdn) else { continue };
                for r in &name.regions {
                    let total_weight: f64 = r.candidates.iter().map(|c| c.weight).sum();
                    let Some(mine) = r.candidates.iter().find(|c| c.cdn == cdn) else { continue };
                    let share = if total_weight > 0.0 { mine.weight / total_weight } else { 0.0 };
                    let d = demand.get(&r.key).copied().unwrap_or(0.0);
                    match wanted.iter_mut().find(|(k, _, _)| *k == &r.key) {
                        Some(slot) => slot.1 = slot.1.max(d * share),
                        None => wanted.push((&r.key, d * share, d)),
                    }
                }
            }
            let total_wanted: f64 = wanted.iter().map(|w| w.1).sum();
            let total_demand: f64 = wanted.iter().map(|w| w.2).sum();
            for (key, w, d) in wanted {
                let part = cap.gbps.map(|g| {
                    let budget = g * util;
                    if total_wanted >= budget && total_wanted > 0.0 {
                        budget * w / total_wanted
                    } else if total_demand > 0.0 {
                        w + (budget - total_wanted) * d / total_demand
                    } else {
                        budget
                    }
                });
                let sub = cap.regions.iter().find(|(r, _)| r == key).map(|(_, g)| g * util);
                let available = match (part, sub) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if let Some(gbps) = available {
                    out.parts.insert((cap.cdn.clone(), key.clone()), gbps);
                }
            }
        }
        out
    }

    fn get(&self, cdn: &str, key: &RegionKey) -> Option<f64> {
        if self.parts.is_empty() {
            return None;
        }
        self.parts.get(&(cdn.to_string(), key.clone())).copied()
    }
}

impl Engine {
    /// An engine with no signals: every region serves its configured weights.
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Record a measurement; false when it was dropped (too many vantages for its CDN and
    /// region).
    pub fn ingest(&mut self, o: &Observation) -> bool {
        let kept = Arc::make_mut(&mut self.signals).ingest(o);
        if !kept {
            self.dropped += 1;
        }
        kept
    }

    /// Observations dropped so far because of the vantage cap.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The signal store (read-only).
    pub fn signals(&self) -> &SignalStore {
        &self.signals
    }

    /// The signal store as it is now, to read after letting go of the engine (a metrics
    /// scrape). Cheap: the engine copies the store on its next write only while this is held.
    pub fn shared_signals(&self) -> Arc<SignalStore> {
        Arc::clone(&self.signals)
    }

    /// When the next zone is due to tick (the daemon sleeps until then).
    pub fn next_due(&self, zones: &ZoneSet) -> Millis {
        zones
            .zones
            .iter()
            .map(|z| self.last_tick.get(z.origin.as_str()).map_or(0, |t| t + z.health.tick_ms))
            .min()
            .unwrap_or(Millis::MAX)
    }

    /// Score one candidate: the quorum-combined instantaneous score (value and the signal
    /// values behind it) from the most specific region that has fresh vantages, and whether
    /// any data was ever seen. Allocation-free: this runs for every candidate every tick.
    fn instant(signals: &SignalStore, cdn: &str, key: &RegionKey, now: Millis, p: &HealthPolicy) -> Instant {
        let mut ever = false;
        for k in signal_chain(key).into_iter().flatten() {
            if !signals.ever(cdn, &k) {
                continue;
            }
            ever = true;
            // Inline for the usual few vantages; grows (rarely) for many.
            let mut found: SmallVec<[(f64, SignalValues); 8]> = SmallVec::new();
            for (_, v) in signals.fresh(cdn, &k, now, p.staleness_ms) {
                let values = v.values();
                if let Some(value) = score::value(&values, p) {
                    found.push((value, values));
                }
            }
            if found.is_empty() {
                continue;
            }
            // Quorum: the quorum-th lowest vantage speaks; too few vantages decide nothing.
            return (score::with_quorum(&mut found, p.quorum).copied(), Some(k), true);
        }
        (None, None, ever)
    }

    /// Advance every zone whose `tick_ms` has elapsed since its last tick. The report says
    /// whether anything the plan depends on changed (shares, TTL state or fail-open) and
    /// carries a decision event per region whose shares or CDN states changed; `generation`
    /// is left 0 for the caller to fill in when it publishes. Overrides in force at `now`
    /// change weights and drain CDNs (pins are the planner's).
    pub fn tick(&mut self, zones: &ZoneSet, overrides: &OverrideSet, now: Millis) -> TickReport {
        self.tick_zones(zones, overrides, now, false)
    }

    /// Tick every zone now, due or not, and restart their tick clocks from `now`: an operator
    /// override takes effect at once rather than at the zone's next tick, and a reload
    /// publishes a generation planned from state that has followed the new zones (a changed
    /// candidate list restarted from the configured weights, changed weights one slew step
    /// along), not from shares made for the old zones. The cost: one slew step may come
    /// sooner than the tick pace alone would give.
    pub fn tick_now(&mut self, zones: &ZoneSet, overrides: &OverrideSet, now: Millis) -> TickReport {
        self.tick_zones(zones, overrides, now, true)
    }

    fn tick_zones(&mut self, zones: &ZoneSet, overrides: &OverrideSet, now: Millis, force: bool) -> TickReport {
        let mut report = TickReport::default();
        if zones.id != self.zones_seen {
            self.prune(zones);
            self.zones_seen = zones.id;
        }
        for zone in &zones.zones {
            let apex = zone.origin.as_str();
            if !force && self.last_tick.get(apex).is_some_and(|last| now < last + zone.health.tick_ms) {
                continue;
            }
            self.last_tick.insert(apex.to_string(), now);
            report.ticked += 1;
            self.tick_zone(zone, overrides, now, &mut report);
        }
        report
    }

    fn tick_zone(&mut self, zone: &Zone, overrides: &OverrideSet, now: Millis, report: &mut TickReport) {
        // An event window may change the share and TTL settings while it lasts.
        let policy = zone.health.at(now);
        let p = &*policy;
        let budget = CapacityBudget::build(zone, &self.signals, now);
        // Steered names of a zone share CDNs and regions: score each (CDN, region) once.
        let mut cache = InstantCache::default();
        let apex = zone.origin.as_str();
        let mut smoothed = self.smoothed.remove(apex).unwrap_or_default();
        for name in &zone.steered {
            let mut per_name = self.regions.remove(name.name.as_str()).unwrap_or_default();
            for region in &name.regions {
                let mut cx = RegionTick { signals: &self.signals, smoothed: &mut smoothed, cache: &mut cache, budget: &budget, overrides, now, p };
                cx.tick_region(&mut per_name, name, region, report);
            }
            self.regions.insert(name.name.as_str().to_string(), per_name);
        }
        self.smoothed.insert(apex.to_string(), smoothed);
    }

    /// Drop the state of zones, names and regions no longer served, and signals of regions
    /// no served region can use.
    fn prune(&mut self, zones: &ZoneSet) {
        let names: FxHashMap<&str, &SteeredName> = zones.steered().map(|n| (n.name.as_str(), n)).collect();
        self.regions.retain(|name, regions| {
            let Some(steered) = names.get(name.as_str()) else { return false };
            regions.retain(|key, _| steered.region_index(key).is_some());
            true
        });
        let apexes: FxHashSet<&str> = zones.zones.iter().map(|z| z.origin.as_str()).collect();
        self.smoothed.retain(|apex, _| apexes.contains(apex.as_str()));
        self.last_tick.retain(|apex, _| apexes.contains(apex.as_str()));
        let mut used: FxHashSet<RegionKey> = FxHashSet::default();
        for zone in &zones.zones {
            for r in zone.steered.iter().flat_map(|n| n.regions.iter()) {
                used.extend(signal_chain(&r.key).into_iter().flatten());
            }
            used.extend(zone.health.probes.iter().map(|p| p.region.clone()));
        }
        Arc::make_mut(&mut self.signals).retain_regions(|k| used.contains(k));
        for smoothed in self.smoothed.values_mut() {
            smoothed.retain(|k, _| used.contains(k));
        }
    }
}

/// Score one (CDN, region) for this tick and fold it into its smoothed score.
fn score_candidate(signals: &SignalStore, smoothed: &mut ZoneSmoothed, cdn: &str, key: &RegionKey, now: Millis, p: &HealthPolicy) -> Scored {
    let (instant, from, ever) = Engine::instant(signals, cdn, key, now, p);
    let Some((value, _)) = instant else {
        let last_score = smoothed.get(key).and_then(|m| m.get(cdn)).map(|s| s.value);
        return Scored { instant, from, ever, score: None, last_score };
    };
    let per_cdn = match smoothed.get_mut(key) {
        Some(m) => m,
        None => smoothed.entry(key.clone()).or_default(),
    };
    let score = match per_cdn.get_mut(cdn) {
        // Quick to distrust: a reading below `down` takes effect at once; smoothing only
        // damps moves within the healthy band and the way back up.
        Some(sm) if value < p.down => {
            *sm = Smoothed::new(value.min(sm.value), now);
            sm.value
        }
        Some(sm) => {
            sm.update(value, now, p.half_life_ms);
            sm.value
        }
        None => {
            per_cdn.insert(cdn.to_string(), Smoothed::new(value, now));
            value
        }
    };
    Scored { instant, from, ever, score: Some(score), last_score: Some(score) }
}

/// Everything one region's tick reads besides its own state.
struct RegionTick<'a, 'z> {
    signals: &'a SignalStore,
    smoothed: &'a mut ZoneSmoothed,
    cache: &'a mut InstantCache<'z>,
    budget: &'a CapacityBudget,
    overrides: &'a OverrideSet,
    now: Millis,
    p: &'a HealthPolicy,
}

impl<'z> RegionTick<'_, 'z> {
    /// Tick one region; what changed goes into `report`.
    fn tick_region(&mut self, per_name: &mut FxHashMap<RegionKey, RegionHealth>, name: &'z SteeredName, region: &'z Region, report: &mut TickReport) {
        let (now, p) = (self.now, self.p);
        let demand = region_demand(self.signals, &region.key, now, p);
        let entry = per_name.entry(region.key.clone()).or_insert_with(|| RegionHealth::new(name, region));
        entry.follow_zone(name, region);
        let applied = self.overrides.resolve(name, region, now);
        let inputs = self.inputs(entry, name, region, &applied);
        // Converged last tick and nothing the share engine looks at has changed: nothing to do.
        let key = input_key(&inputs, demand);
        if entry.quiet_on.as_ref() == Some(&key) {
            return;
        }
        let old_shares: SmallVec<[f64; 8]> = entry.state.cdns.iter().map(|c| c.share).collect();
        let was_fail_open = entry.state.fail_open;
        let was_unsettled = entry.unsettled;
        let was_drained = std::mem::replace(&mut entry.drained, inputs.iter().map(|i| i.drained).collect());
        let out = share::tick(&mut entry.state, &inputs, demand, now, p);
        entry.unsettled = out.unsettled;
        entry.demand_gbps = demand;
        // Skippable only when settled and no score sits near a threshold (a quantised key
        // could hide a slow crossing).
        entry.quiet_on = (out.converged && !out.moved && out.transitions.is_empty() && !out.unsettled).then_some(key);

        let fail_open_changed = was_fail_open != entry.state.fail_open;
        let drains_changed = was_drained != entry.drained;
        report.changed |= out.moved || !out.transitions.is_empty() || fail_open_changed || drains_changed || was_unsettled != entry.unsettled;
        for (i, from, to) in &out.transitions {
            report.transitions.push(Transition { name: name.name.as_str().to_string(), region: region.key.clone(), cdn: entry.cdns[*i].clone(), from: *from, to: *to });
        }
        if entry.state.fail_open && !was_fail_open {
            report.failed_open.push((name.name.as_str().to_string(), region.key.clone()));
        }
        if !(out.moved || !out.transitions.is_empty() || fail_open_changed) {
            return;
        }
        let mut reasons: Vec<String> = out
            .transitions
            .iter()
            .map(|(i, old, new)| {
                let why = entry.signals[*i].and_then(|v| score::score(&v, p)).map_or_else(|| "no fresh signal".to_string(), |s| s.summary());
                format!("{} {} -> {} ({why})", entry.cdns[*i], status_name(*old), status_name(*new))
            })
            .collect();
        for (i, (now_drained, was)) in entry.drained.iter().zip(was_drained.iter().chain(std::iter::repeat(&false))).enumerate() {
            if *now_drained != *was {
                let cdn = &entry.cdns[i];
                let by = region.candidates.get(i).and_then(|c| applied.on(c.cdn)).map_or_else(String::new, |o| format!(" by {} ({}: {})", o.id, o.author, o.reason));
                reasons.push(if *now_drained { format!("{cdn} drained{by}") } else { format!("{cdn} no longer drained by an override") });
            }
        }
        if entry.state.fail_open && !was_fail_open {
            reasons.push(format!("no usable candidate: failing open to {}", name.cdns[name.last_resort].name));
        }
        if !entry.state.fail_open && was_fail_open {
            reasons.push("candidates usable again".to_string());
        }
        if reasons.is_empty() {
            let scores: Vec<String> = entry.cdns.iter().zip(&entry.scores).map(|(c, s)| format!("{c} {}", s.map_or("?".to_string(), |s| format!("{s:.0}")))).collect();
            reasons.push(format!("rebalancing towards scores ({})", scores.join(", ")));
        }
        let event = DecisionEvent {
            at: now,
            generation: 0,
            name: name.name.as_str().to_string(),
            region: region.key.to_string(),
            old: fmt_shares(&entry.cdns, &old_shares),
            new: fmt_shares(&entry.cdns, &entry.state.shares()),
            reason: reasons.join("; "),
            overrides: applied.ids(),
            fails_open: entry.state.fail_open && !was_fail_open,
        };
        report.events.push(event);
    }

    /// Score each candidate (memoised per tick) into the region's state and build the share
    /// engine's inputs: effective weight (an override's, else the configured one), capacity
    /// for this region, operator drain.
    fn inputs(&mut self, entry: &mut RegionHealth, name: &'z SteeredName, region: &'z Region, applied: &crate::overrides::RegionOverrides<'_>) -> SmallVec<[CandidateInput; 8]> {
        let memo = self.cache.entry(&region.key).or_default();
        let mut inputs: SmallVec<[CandidateInput; 8]> = SmallVec::with_capacity(region.candidates.len());
        for (i, c) in region.candidates.iter().enumerate() {
            let cdn: &'z str = name.cdns[c.cdn].name.as_str();
            let at = match memo.iter().position(|(n, _)| *n == cdn) {
                Some(at) => at,
                None => {
                    memo.push((cdn, score_candidate(self.signals, self.smoothed, cdn, &region.key, self.now, self.p)));
                    memo.len() - 1
                }
            };
            let sc = &memo[at].1;
            let drained = applied.drained(c.cdn);
            inputs.push(CandidateInput {
                weight: if drained { c.weight } else { applied.weight(c.cdn, c.weight) },
                score: sc.score,
                last_score: sc.last_score,
                has_data: sc.ever,
                capacity_gbps: self.budget.get(cdn, &region.key),
                drained,
            });
            entry.scores[i] = sc.score;
            entry.signals[i] = sc.instant.map(|(_, values)| values);
            if entry.signal_region[i] != sc.from {
                entry.signal_region[i] = sc.from.clone();
            }
        }
        inputs
    }
}

fn fmt_shares(cdns: &[String], shares: &[f64]) -> Vec<(String, f64)> {
    cdns.iter().cloned().zip(shares.iter().map(|s| (s * 1000.0).round() / 1000.0)).collect()
}

/// `cold`, `up`, `down`, `recovering`.
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Cold => "cold",
        Status::Up => "up",
        Status::Down { .. } => "down",
        Status::Recovering { .. } => "recovering",
    }
}

#[cfg(test)]
mod tests;
