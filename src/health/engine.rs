//! Pure: the health engine. Observations go in (`ingest`); each `tick(zones, now)` scores every
//! candidate CDN of every region of every steered name, advances the share state machines, and
//! reports decision events; `decisions` turns the state into the `DecisionTable` the query path
//! reads. Time is passed in, so the daemon, the simulator and tests drive it at any speed.
//!
//! State is keyed by (steered name, region key) and survives zone reloads; a region whose
//! candidate list changed starts again from its configured weights.

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use serde::Serialize;

use crate::steer::decide::{CellPrefixes, DecisionTable, NameDecisions, RegionDecision, Share};
use crate::health::events::DecisionEvent;
use crate::health::score::{self, Score, Smoothed};
use crate::steer::select;
use crate::health::share::{self, CandidateInput, RegionState, Status};
use crate::health::signal::{Millis, Observation, SignalStore, SignalValues};
use crate::zone::health::HealthPolicy;
use crate::zone::model::{Region, RegionKey, SteeredName, ZoneSet};

/// What the engine knows about one candidate, for explain and the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateView {
    /// CDN name.
    pub cdn: String,
    /// Smoothed score, if known.
    pub score: Option<f64>,
    /// The latest instantaneous score with its reasons.
    pub last: Option<Score>,
    /// Region whose signals were used (after fallback), if any.
    pub signal_region: Option<String>,
    /// Health state.
    pub status: Status,
    /// Current share.
    pub share: f64,
}

#[derive(Debug, Clone)]
struct RegionEngine {
    cdns: Vec<String>,
    /// Configured weights the state was built for.
    weights: Vec<f64>,
    state: RegionState,
    /// Smoothed score per candidate as of the last tick.
    scores: Vec<Option<f64>>,
    /// Signal values behind the latest instantaneous score (reasons are computed on demand).
    last: Vec<Option<SignalValues>>,
    signal_region: Vec<Option<RegionKey>>,
    unsettled: bool,
    /// The last tick converged with these share-engine inputs; identical inputs can skip it.
    quiet_on: Option<InputKey>,
}

/// What the share engine's outcome depends on, quantised (scores to 0.1 point).
type InputKey = SmallVec<[(i64, bool, Option<u64>); 8]>;

fn input_key(inputs: &[CandidateInput], demand: Option<f64>) -> InputKey {
    let mut key: InputKey = inputs
        .iter()
        .map(|i| (i.score.map_or(i64::MIN, |s| (s * 10.0).round() as i64), i.has_data, i.capacity_gbps.map(f64::to_bits)))
        .collect();
    key.push((0, false, demand.map(f64::to_bits)));
    key
}

/// Result of one engine tick.
#[derive(Debug, Default, Clone)]
pub struct TickReport {
    /// The decision table differs from the previous tick's.
    pub changed: bool,
    /// What changed, per region, and why.
    pub events: Vec<DecisionEvent>,
}

/// The engine.
#[derive(Debug, Default)]
pub struct Engine {
    signals: SignalStore,
    /// steered name -> region -> state.
    regions: FxHashMap<String, FxHashMap<RegionKey, RegionEngine>>,
    /// zone apex -> region -> CDN -> smoothed score. Per (CDN, region), not per steered name:
    /// every name of a zone sees the same CDN in the same region the same way.
    smoothed: FxHashMap<String, ZoneSmoothed>,
}

/// Regions whose signals may stand in for `key`, most specific first: the region itself, its
/// continent (for a country), then `default`.
fn signal_chain(key: &RegionKey) -> [Option<RegionKey>; 3] {
    let continent = match key {
        RegionKey::Country(c) => crate::region::continent_of(*c).map(RegionKey::Continent),
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



/// Capacity of `cdn` available to `region` at the target utilisation.
fn capacity(policy: &HealthPolicy, cdn: &str, region: &RegionKey) -> Option<f64> {
    let c = policy.capacity.iter().find(|c| c.cdn == cdn)?;
    let gbps = c.regions.iter().find(|(r, _)| r == region).map(|(_, g)| *g).or(c.gbps)?;
    Some(gbps * c.target_utilisation)
}

fn fmt_shares(cdns: &[String], shares: &[f64]) -> Vec<(String, f64)> {
    cdns.iter().cloned().zip(shares.iter().map(|s| (s * 1000.0).round() / 1000.0)).collect()
}

impl Engine {
    /// An engine with no signals: every region serves its configured weights.
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Record a measurement.
    pub fn ingest(&mut self, o: &Observation) {
        self.signals.ingest(o);
    }

    /// The signal store (read-only), for explain.
    pub fn signals(&self) -> &SignalStore {
        &self.signals
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

    /// Advance every region by one tick. The outcome says whether the decision table changed
    /// (shares, TTL or fail-open) and carries a decision event per region whose shares or
    /// CDN states changed; `generation` is left 0 for the caller to fill in when it publishes.
    pub fn tick(&mut self, zones: &ZoneSet, now: Millis) -> TickReport {
        let mut report = TickReport::default();
        for zone in &zones.zones {
            let p = &zone.health;
            // Steered names of a zone share CDNs and regions: score each (CDN, region) once.
            let mut cache = InstantCache::default();
            let apex = zone.origin.as_str();
            let mut smoothed = self.smoothed.remove(apex).unwrap_or_default();
            for name in &zone.steered {
                let mut per_name = self.regions.remove(name.name.as_str()).unwrap_or_default();
                for region in &name.regions {
                    let mut cx = RegionTick { signals: &self.signals, smoothed: &mut smoothed, cache: &mut cache, now, p };
                    let (changed, event) = cx.tick_region(&mut per_name, name, region);
                    report.changed |= changed;
                    report.events.extend(event);
                }
                self.regions.insert(name.name.as_str().to_string(), per_name);
            }
            self.smoothed.insert(apex.to_string(), smoothed);
        }
        report
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
    now: Millis,
    p: &'a HealthPolicy,
}

impl<'z> RegionTick<'_, 'z> {
    fn tick_region(&mut self, per_name: &mut FxHashMap<RegionKey, RegionEngine>, name: &'z SteeredName, region: &'z Region) -> (bool, Option<DecisionEvent>) {
        let (now, p) = (self.now, self.p);
        let cdn_name = |c: &crate::zone::model::Candidate| -> &'z str { name.cdns[c.cdn].name.as_str() };
        let demand = self
            .signals
            .demand(&region.key, now, p.staleness_ms)
            .or_else(|| p.demand.iter().find(|(r, _)| *r == region.key).map(|(_, g)| *g));

        let fresh = || {
            let weights: Vec<f64> = region.candidates.iter().map(|c| c.weight).collect();
            let n = weights.len();
            RegionEngine {
                cdns: region.candidates.iter().map(|c| cdn_name(c).to_string()).collect(),
                state: RegionState::new(&weights),
                weights,
                scores: vec![None; n],
                last: vec![None; n],
                signal_region: vec![None; n],
                unsettled: false,
                quiet_on: None,
            }
        };
        if !per_name.contains_key(&region.key) {
            per_name.insert(region.key.clone(), fresh());
        }
        let Some(entry) = per_name.get_mut(&region.key) else { return (false, None) };
        // A zone edit that changed the candidates or their weights restarts the region's
        // shares from the new weights, keeping what is known about each CDN's health.
        let same = entry.cdns.len() == region.candidates.len()
            && entry.cdns.iter().zip(&region.candidates).all(|(n, c)| n == cdn_name(c))
            && entry.weights.iter().zip(&region.candidates).all(|(w, c)| *w == c.weight);
        if !same {
            let old = std::mem::replace(entry, fresh());
            let cdns = entry.cdns.clone();
            for (i, cdn) in cdns.iter().enumerate() {
                if let Some(j) = old.cdns.iter().position(|c| c == cdn) {
                    entry.last[i] = old.last[j];
                    entry.state.cdns[i].status = old.state.cdns[j].status;
                }
            }
        }
        // Score each candidate (memoised per tick) straight into the region's state.
        let memo = self.cache.entry(&region.key).or_default();
        let mut inputs: SmallVec<[CandidateInput; 8]> = SmallVec::with_capacity(region.candidates.len());
        for (i, c) in region.candidates.iter().enumerate() {
            let cdn = cdn_name(c);
            let at = match memo.iter().position(|(n, _)| *n == cdn) {
                Some(at) => at,
                None => {
                    memo.push((cdn, score_candidate(self.signals, self.smoothed, cdn, &region.key, now, p)));
                    memo.len() - 1
                }
            };
            let sc = &memo[at].1;
            inputs.push(CandidateInput {
                weight: c.weight,
                score: sc.score,
                last_score: sc.last_score,
                has_data: sc.ever,
                capacity_gbps: capacity(p, cdn, &region.key),
            });
            entry.scores[i] = sc.score;
            entry.last[i] = sc.instant.map(|(_, values)| values);
            if entry.signal_region[i] != sc.from {
                entry.signal_region[i] = sc.from.clone();
            }
        }
        // Converged last tick and nothing the share engine looks at has changed: nothing to do.
        let key = input_key(&inputs, demand);
        if entry.quiet_on.as_ref() == Some(&key) {
            return (false, None);
        }
        let old_shares: SmallVec<[f64; 8]> = entry.state.cdns.iter().map(|c| c.share).collect();
        let was_fail_open = entry.state.fail_open;
        let was_unsettled = entry.unsettled;
        let out = share::tick(&mut entry.state, &inputs, demand, now, p);
        entry.unsettled = out.unsettled;
        // Skippable only when settled and no score sits near a threshold (a quantised key
        // could hide a slow crossing).
        entry.quiet_on = (out.converged && !out.moved && out.transitions.is_empty() && !out.unsettled).then_some(key);

        let fail_open_changed = was_fail_open != entry.state.fail_open;
        let changed = out.moved || !out.transitions.is_empty() || fail_open_changed || was_unsettled != entry.unsettled;
        if !(out.moved || !out.transitions.is_empty() || fail_open_changed) {
            return (changed, None);
        }
        let mut reasons: Vec<String> = out
            .transitions
            .iter()
            .map(|(i, old, new)| {
                let why = entry.last[*i].and_then(|v| score::score(&v, p)).map_or_else(|| "no fresh signal".to_string(), |s| s.summary());
                format!("{} {} -> {} ({why})", entry.cdns[*i], status_name(*old), status_name(*new))
            })
            .collect();
        if entry.state.fail_open && !was_fail_open {
            reasons.push(format!("no usable candidate: failing open to {}", name.cdns[name.last_resort].name));
        }
        if !entry.state.fail_open && was_fail_open {
            reasons.push("candidates usable again".to_string());
        }
        if reasons.is_empty() {
            let scores: Vec<String> = entry
                .cdns
                .iter()
                .zip(&entry.scores)
                .map(|(c, s)| format!("{c} {}", s.map_or("?".to_string(), |s| format!("{s:.0}"))))
                .collect();
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
        };
        (true, Some(event))
    }
}

impl Engine {
    /// The decision table for the current state; regions the engine has not seen serve their
    /// configured weights.
    pub fn decisions(&self, zones: &ZoneSet, cells: CellPrefixes) -> DecisionTable {
        let mut names = Vec::new();
        for zone in &zones.zones {
            let p = &zone.health;
            for name in &zone.steered {
                let per_name = self.regions.get(name.name.as_str());
                let regions = name
                    .regions
                    .iter()
                    .map(|region| {
                        let salt = |cdn: usize| select::salt(&name.cdns[cdn].name);
                        let current = per_name.and_then(|m| m.get(&region.key)).filter(|e| {
                            e.weights.len() == region.candidates.len()
                                && e.weights.iter().zip(&region.candidates).all(|(w, c)| *w == c.weight)
                                && e.cdns.iter().zip(&region.candidates).all(|(n, c)| *n == name.cdns[c.cdn].name)
                        });
                        match current {
                            Some(e) => RegionDecision {
                                key: region.key.clone(),
                                shares: region
                                    .candidates
                                    .iter()
                                    .zip(&e.state.cdns)
                                    .map(|(c, s)| Share { cdn: c.cdn, weight: s.share, salt: salt(c.cdn) })
                                    .collect(),
                                ttl: if e.state.fail_open {
                                    p.fail_open_ttl.min(name.ttl)
                                } else if e.unsettled {
                                    p.fast_ttl.min(name.ttl)
                                } else {
                                    name.ttl
                                },
                                fail_open: e.state.fail_open,
                            },
                            // Not ticked since the zone changed (or never): configured weights,
                            // minus any CDN the engine knows to be down.
                            None => {
                                let old = per_name.and_then(|m| m.get(&region.key));
                                let usable = |cdn: &str| {
                                    old.and_then(|e| e.cdns.iter().position(|c| c == cdn)).and_then(|j| old.map(|e| e.state.cdns[j].status.usable())).unwrap_or(true)
                                };
                                RegionDecision {
                                    key: region.key.clone(),
                                    shares: region
                                        .candidates
                                        .iter()
                                        .map(|c| Share {
                                            cdn: c.cdn,
                                            weight: if usable(&name.cdns[c.cdn].name) { c.weight } else { 0.0 },
                                            salt: salt(c.cdn),
                                        })
                                        .collect(),
                                    ttl: name.ttl,
                                    fail_open: false,
                                }
                            }
                        }
                    })
                    .collect();
                names.push(NameDecisions::with_regions(name, regions));
            }
        }
        DecisionTable { names, cells }
    }

    /// What the engine knows about one region of one steered name; `policy` is the health
    /// policy of the name's zone (for the score reasons).
    pub fn view(&self, name: &str, region: &RegionKey, policy: &HealthPolicy) -> Option<Vec<CandidateView>> {
        let e = self.regions.get(name)?.get(region)?;
        Some(
            e.cdns
                .iter()
                .enumerate()
                .map(|(i, cdn)| CandidateView {
                    cdn: cdn.clone(),
                    score: e.scores[i],
                    last: e.last[i].and_then(|v| score::score(&v, policy)),
                    signal_region: e.signal_region[i].as_ref().map(ToString::to_string),
                    status: e.state.cdns[i].status,
                    share: e.state.cdns[i].share,
                })
                .collect(),
        )
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Cold => "cold",
        Status::Up => "up",
        Status::Down { .. } => "down",
        Status::Recovering { .. } => "recovering",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use std::path::PathBuf;

    const ZONE: &str = r#"
version: 1
zone: example.test
soa: {primary: ns1.example.test., contact: h.example.test., serial: 1}
records:
  - {name: "@", type: NS, value: ns1.example.test.}
steered:
  live:
    last_resort: a
    cdns: {a: {target: a.cdn.test}, b: {target: b.cdn.test}}
    regions:
      countries:
        KR: {a: 1, b: 1}
        JP: {a: 1, b: 1}
      default: {a: 1, b: 1}
health:
  smoothing_half_life_secs: 2
  thresholds: {down: 40, up: 70, up_hold_secs: 20}
  shares: {max_change_per_tick: 0.25, min_dwell_secs: 10, min_warm_share: 0}
"#;

    fn zones() -> ZoneSet {
        crate::zone::load_texts(&[(PathBuf::from("t.yaml"), ZONE.to_string())], Diagnostics::new()).expect("zone")
    }

    fn probe(cdn: &str, region: RegionKey, at: Millis, ok: bool) -> Observation {
        if ok {
            Observation {
                cdn: cdn.into(),
                region,
                vantage: "v".into(),
                at,
                requests: 1,
                errors: 0,
                cache_hits: Some(1),
                ttfb_ms: Some(50.0),
                throughput_mbps: Some(80.0),
                delivered_gbps: None,
                failure: None,
            }
        } else {
            Observation::failed_probe(cdn, region, "v", at, crate::health::signal::FailureReason::Timeout, 2000)
        }
    }

    fn share_of(e: &Engine, region: &RegionKey, cdn: &str) -> f64 {
        e.view("live.example.test.", region, &HealthPolicy::default()).and_then(|v| v.into_iter().find(|c| c.cdn == cdn)).map_or(f64::NAN, |c| c.share)
    }

    #[test]
    fn a_fault_in_one_country_drains_only_there_and_heals_slowly() {
        let zones = zones();
        let kr = RegionKey::Country(*b"KR");
        let jp = RegionKey::Country(*b"JP");
        let mut e = Engine::new();
        let mut now = 0;
        let mut events = Vec::new();
        for step in 0..60 {
            now += 1000;
            let a_ok_in_kr = !(10..30).contains(&step);
            for (region, a_ok) in [(kr.clone(), a_ok_in_kr), (jp.clone(), true), (RegionKey::Default, true)] {
                e.ingest(&probe("a", region.clone(), now, a_ok));
                e.ingest(&probe("b", region, now, true));
            }
            events.extend(e.tick(&zones, now).events.into_iter().filter(|ev| ev.at > 1000));
            if step == 14 {
                assert_eq!(share_of(&e, &kr, "a"), 0.0, "drained within 4 ticks of the fault");
                assert!((share_of(&e, &jp, "a") - 0.5).abs() < 1e-9, "JP untouched");
                assert!((share_of(&e, &RegionKey::Default, "a") - 0.5).abs() < 1e-9, "default untouched");
            }
            if (30..49).contains(&step) {
                assert_eq!(share_of(&e, &kr, "a"), 0.0, "step {step}: back before the 20 s hold");
            }
        }
        assert!(share_of(&e, &kr, "a") > 0.4, "ramped back: {}", share_of(&e, &kr, "a"));
        assert!(events.iter().any(|ev| ev.region == "country:KR" && ev.reason.contains("a up -> down")), "{events:?}");
        assert!(events.iter().all(|ev| ev.region == "country:KR"), "only KR changed: {events:?}");
        let table = e.decisions(&zones, CellPrefixes::default());
        assert_eq!(table.names.len(), 1);
    }

    #[test]
    fn hovering_signal_does_not_flap() {
        let zones = zones();
        let kr = RegionKey::Country(*b"KR");
        let mut e = Engine::new();
        let mut now = 0;
        let mut direction_changes = 0;
        let mut last_dir = 0i8;
        let mut last_share = 0.5;
        // One simulated hour of a signal that alternates between just-bad and just-good
        // every few seconds, with noise.
        let mut x: u64 = 0x9E37_79B9;
        for step in 0..3600u64 {
            now += 1000;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bad = (step / 4) % 2 == 0 || x % 5 == 0;
            e.ingest(&probe("a", kr.clone(), now, !bad));
            e.ingest(&probe("b", kr.clone(), now, true));
            e.tick(&zones, now);
            let s = share_of(&e, &kr, "a");
            let dir = if s > last_share + 1e-9 { 1 } else if s < last_share - 1e-9 { -1 } else { 0 };
            if dir != 0 && last_dir != 0 && dir != last_dir {
                direction_changes += 1;
            }
            if dir != 0 {
                last_dir = dir;
            }
            last_share = s;
        }
        // The configured bound: one reversal per dwell period at most (10 s -> 360 per hour).
        assert!(direction_changes <= 3600 / 10, "{direction_changes} direction changes in an hour");
        // Hysteresis does much better: a CDN that keeps failing never proves 20 s of health.
        assert!(direction_changes <= 2, "{direction_changes} direction changes in an hour");
    }

    #[test]
    fn continent_signals_stand_in_for_a_country() {
        let zones = zones();
        let mut e = Engine::new();
        e.ingest(&probe("a", RegionKey::Continent(*b"AS"), 1000, false));
        e.ingest(&probe("b", RegionKey::Continent(*b"AS"), 1000, true));
        e.tick(&zones, 1000);
        let view = e.view("live.example.test.", &RegionKey::Country(*b"KR"), &HealthPolicy::default()).expect("view");
        assert_eq!(view[0].signal_region.as_deref(), Some("continent:AS"));
        assert!(matches!(view[0].status, Status::Down { .. }));
        assert_eq!(view[0].share, 0.0);
    }

    #[test]
    fn stale_signals_are_unknown_not_healthy() {
        let zones = zones();
        let kr = RegionKey::Country(*b"KR");
        let mut e = Engine::new();
        e.ingest(&probe("a", kr.clone(), 1000, false));
        e.ingest(&probe("b", kr.clone(), 1000, true));
        e.tick(&zones, 1000);
        assert_eq!(share_of(&e, &kr, "a"), 0.0);
        // No data for a minute (staleness 30 s): a stays down, it is not "healthy".
        for t in 2..60 {
            e.tick(&zones, t * 1000);
        }
        assert_eq!(share_of(&e, &kr, "a"), 0.0);
    }

    #[test]
    fn a_degraded_cdn_gone_stale_does_not_climb_back() {
        let zones = zones();
        let kr = RegionKey::Country(*b"KR");
        let mut e = Engine::new();
        let slow = |at| Observation { ttfb_ms: Some(900.0), ..probe("a", RegionKey::Country(*b"KR"), at, true) };
        let mut now = 0;
        for _ in 0..20 {
            now += 1000;
            e.ingest(&slow(now));
            e.ingest(&probe("b", kr.clone(), now, true));
            e.tick(&zones, now);
        }
        let degraded = share_of(&e, &kr, "a");
        assert!(degraded < 0.45, "degraded CDN carries less: {degraded}");
        // Signals stop; 40 s later (staleness 30 s) it must not be back at its full weight.
        for _ in 0..40 {
            now += 1000;
            e.tick(&zones, now);
        }
        assert!((share_of(&e, &kr, "a") - degraded).abs() < 0.02, "stale is not healthy: {}", share_of(&e, &kr, "a"));
    }

    #[test]
    fn many_vantages_and_a_large_quorum() {
        let mut zones = zones();
        zones.zones[0].health.quorum = 9;
        let kr = RegionKey::Country(*b"KR");
        let mut e = Engine::new();
        for v in 0..10 {
            let o = Observation { vantage: format!("v{v}"), ..probe("a", kr.clone(), 1000, false) };
            e.ingest(&o);
            e.ingest(&Observation { vantage: format!("v{v}"), ..probe("b", kr.clone(), 1000, true) });
        }
        e.tick(&zones, 1000);
        assert_eq!(share_of(&e, &kr, "a"), 0.0, "nine of ten vantages see it down");
    }
}
