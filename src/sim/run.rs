//! The simulated night: the audience model, the CDNs' truth and the simulated probes and
//! telemetry drive the production control loop (`steer::drive::round`: the engine, scores,
//! shares and `steer::plan`) with simulated time, tick by tick; whoever re-resolves follows
//! the plan's shares and TTLs. What happened is tallied for the summary and, when asked,
//! written into a history database in the format the live server writes, so
//! `cdnsteer report` renders a simulated night like a real one.

use std::sync::Arc;

use super::audience::{self, Cohorts, Movement};
use super::observe::{Probes, Telemetry};
use super::scenario::model::{IncidentKind, Performance, Scenario};
use super::summary::{Summary, Tally, TickView};
use super::truth::{self, Conditions};
use super::SimError;
use crate::event::EventSet;
use crate::health::{Engine, NoHealth, Observation};
use crate::history::{AnswerCounts, Annotation, HistoryHandle, Record};
use crate::overrides::OverrideSet;
use crate::region::RegionKey;
use crate::steer::{self, CellPrefixes, DecisionTable, Plan};
use crate::timestamp::Millis;
use crate::zone::ZoneSet;
use crate::zone::health::HealthPolicy;

/// Interval of the answers and keyframe records written to a history, ms (as `serve`).
const HISTORY_INTERVAL_MS: u64 = 10_000;

/// A scenario resolved against its zones and event: everything the loop needs.
#[derive(Debug, Clone)]
pub struct Night {
    /// The scenario.
    pub scenario: Scenario,
    /// The zones under test, with the event's policy window attached.
    pub zones: Arc<ZoneSet>,
    /// First tick, Unix ms.
    pub start: Millis,
    /// End (exclusive), Unix ms.
    pub end: Millis,
    /// Tick, ms.
    pub tick_ms: u64,
    /// The steered name the audience watches (index in `ZoneSet::steered()`).
    pub name: usize,
    /// Audience regions: index in the name's regions, and the scenario's region entry.
    pub regions: Vec<usize>,
    /// The event, if any (name, customer).
    pub event: Option<String>,
}

impl Night {
    /// Resolve `scenario` against `zones` and `events` (the event's window gives the start and
    /// end the scenario leaves open; its policy is attached to the zones).
    pub fn prepare(scenario: Scenario, mut zones: ZoneSet, events: &EventSet) -> Result<Night, SimError> {
        let event = match &scenario.event {
            Some(name) => Some(events.get(name).cloned().ok_or_else(|| SimError::Scenario(format!("event `{name}` is not in the events directory")))?),
            None => None,
        };
        events.attach(&mut zones);
        let start = scenario.start.or(event.as_ref().map(|e| e.start)).ok_or_else(|| SimError::Scenario("no start: give `start:` or an `event:`".into()))?;
        let end = match (scenario.duration_ms, &event) {
            (Some(d), _) => start + d,
            (None, Some(e)) => e.end.max(start + 1),
            (None, None) => return Err(SimError::Scenario("no duration: give `duration:` or an `event:`".into())),
        };
        let wanted = event.as_ref().and_then(|e| e.names.first().cloned());
        let name = match &wanted {
            Some(w) => zones.steered().position(|n| n.name.as_str().eq_ignore_ascii_case(w)),
            None => (zones.steered().count() > 0).then_some(0),
        }
        .ok_or_else(|| SimError::Scenario(format!("steered name {} not in the zones", wanted.as_deref().unwrap_or("(any)"))))?;
        let steered = zones.steered().nth(name).ok_or_else(|| SimError::Scenario("no steered name".into()))?;
        let mut regions = Vec::new();
        for r in &scenario.audience.regions {
            let i = steered.regions.iter().position(|x| x.key == r.region).ok_or_else(|| SimError::Scenario(format!("audience region {} is not a region of {}", r.region, steered.name)))?;
            regions.push(i);
        }
        let zone_tick = zones.zone_for(&steered.name).map_or(1000, |z| z.health.tick_ms);
        let tick_ms = scenario.tick_ms.unwrap_or(zone_tick).max(1);
        Ok(Night { scenario, zones: Arc::new(zones), start, end, tick_ms, name, regions, event: event.map(|e| e.name) })
    }

    /// The zone's health policy (as written; `at(now)` gives the event's settings).
    pub fn policy(&self) -> HealthPolicy {
        self.zones.steered().nth(self.name).and_then(|n| self.zones.zone_for(&n.name)).map(|z| z.health.clone()).unwrap_or_default()
    }
}

/// What to keep besides the summary.
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Write the night into this history.
    pub history: Option<HistoryHandle>,
    /// Keep every observation with the tick it reached the engine (for replay tests).
    pub trace: bool,
    /// Keep the decision table after every tick (for replay tests).
    pub tables: bool,
}

/// An observation and when it reached the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    /// The tick (Unix ms) at which the engine took it.
    pub tick: Millis,
    /// What it was.
    pub observation: Observation,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Outcome {
    /// The summary.
    pub summary: Summary,
    /// Observations as fed, when asked.
    pub trace: Vec<Traced>,
    /// (tick, table after it), when asked.
    pub tables: Vec<(Millis, DecisionTable)>,
}

/// One audience region's state.
struct RegionSim {
    /// Index in the steered name's regions.
    index: usize,
    key: RegionKey,
    part: f64,
    curve: Vec<(u64, f64)>,
    cohorts: Cohorts,
    /// Truth per CDN of the name.
    truth: Vec<Performance>,
    /// Conditions per CDN, this tick.
    now: Vec<Conditions>,
    /// Answers per CDN since the last history interval.
    answers: Vec<f64>,
}

/// Run the night.
pub fn run(night: &Night, options: &RunOptions) -> Outcome {
    let scenario = &night.scenario;
    let zones = &night.zones;
    let Some(steered) = zones.steered().nth(night.name) else {
        return Outcome { summary: Summary::empty(&scenario.name), trace: Vec::new(), tables: Vec::new() };
    };
    let cdn_names: Vec<String> = steered.cdns.iter().map(|c| c.name.clone()).collect();
    let policy = night.policy();
    let bitrate = audience::mean_bitrate(&scenario.audience.bitrate);
    let cells = CellPrefixes::default();
    let mut regions: Vec<RegionSim> = night
        .regions
        .iter()
        .zip(&scenario.audience.regions)
        .map(|(&index, r)| RegionSim {
            index,
            key: r.region.clone(),
            part: r.part,
            curve: r.curve.clone().unwrap_or_else(|| scenario.audience.curve.clone()),
            cohorts: Cohorts::new(scenario.audience.resolvers.len(), cdn_names.len()),
            truth: cdn_names.iter().map(|c| performance(scenario, c, &r.region)).collect(),
            now: Vec::new(),
            answers: vec![0.0; cdn_names.len()],
        })
        .collect();
    let mut engine = Engine::new();
    let mut overrides = OverrideSet::default();
    let mut plan: Plan = steer::plan(zones, &NoHealth, &overrides, night.start, cells);
    let mut generation = 1u64;
    let mut probes = Probes::new(night, &cdn_names);
    let mut telemetry = Telemetry::new(night);
    let mut tally = Tally::new(night, &cdn_names, &policy);
    let mut out = Outcome { summary: Summary::empty(&scenario.name), trace: Vec::new(), tables: Vec::new() };
    let history = options.history.as_ref().filter(|h| h.enabled());
    let name_text: Arc<str> = Arc::from(steered.name.as_str());
    if let Some(h) = history {
        h.send_wait(Record::Plan { at: night.start, generation, zones: Arc::clone(zones), explain: Arc::new(plan.explain.clone()) });
    }
    let mut next_history = night.start + HISTORY_INTERVAL_MS;
    let mut last_history = night.start;
    let dt = night.tick_ms as f64 / 1000.0;
    let mut t = night.start;
    while t < night.end {
        let offset = t - night.start;
        annotate_incidents(history, scenario, night.start, offset, night.tick_ms);
        // Viewers move by the plan served during the last tick.
        for r in &mut regions {
            let (shares, ttl) = shares_of(&plan, night.name, r.index, cdn_names.len());
            let target = scenario.audience.peak_viewers * r.part * audience::curve_at(&r.curve, offset);
            let classes: Vec<Movement> = scenario
                .audience
                .resolvers
                .iter()
                .map(|c| Movement { part: c.part, follow: dt / f64::from(ttl.max(c.min_ttl_secs).max(1)) })
                .collect();
            let restart: Vec<f64> = (0..cdn_names.len())
                .map(|c| {
                    let degraded = r.now.get(c).is_some_and(|k| tally.degraded(k));
                    let per_min = scenario.audience.restart_per_min + if degraded { scenario.audience.rebuffer_restart_per_min } else { 0.0 };
                    1.0 - (-per_min * dt / 60.0).exp()
                })
                .collect();
            let moved = r.cohorts.step(target, scenario.audience.sticky, &classes, &restart, &shares);
            r.answers.iter_mut().zip(&moved.resolved).for_each(|(a, m)| *a += m);
            // What each CDN delivers now, under its load.
            let viewers = r.cohorts.per_cdn();
            r.now = (0..cdn_names.len())
                .map(|c| {
                    let (base, dark) = incident_truth(scenario, offset, &cdn_names[c], &r.key, r.truth[c]);
                    truth::conditions(&base, &scenario.saturation, viewers[c] * bitrate / 1000.0, dark)
                })
                .collect();
        }
        // What the engine sees this tick: probes taken now, telemetry windows that arrive now.
        let mut observations: Vec<Observation> = Vec::new();
        probes.due(t, offset, &regions_view(&regions), &mut observations);
        telemetry.due(t, offset, &regions_view(&regions), &cdn_names, bitrate, &mut observations, history);
        if options.trace {
            out.trace.extend(observations.iter().map(|o| Traced { tick: t, observation: o.clone() }));
        }
        let round = steer::drive::round(&mut engine, &mut overrides, zones, &mut observations, t, cells);
        if let Some(h) = history
            && !observations.is_empty()
        {
            h.send_wait(Record::Observations(observations));
        }
        if let Some(next) = round.plan {
            plan = next;
            generation += 1;
            if let Some(h) = history {
                h.send_wait(Record::Plan { at: t, generation, zones: Arc::clone(zones), explain: Arc::new(plan.explain.clone()) });
                let mut events = round.report.events;
                events.iter_mut().for_each(|e| e.generation = generation);
                if !events.is_empty() {
                    h.send_wait(Record::Decisions(events));
                }
            }
        }
        if options.tables {
            out.tables.push((t, plan.table.clone()));
        }
        let views: Vec<TickView<'_>> = regions
            .iter()
            .map(|r| {
                let (shares, ttl) = shares_of(&plan, night.name, r.index, cdn_names.len());
                let viewers = r.cohorts.per_cdn();
                let gbps = viewers.iter().map(|v| v * bitrate / 1000.0).collect();
                TickView { key: &r.key, index: r.index, viewers, gbps, conditions: &r.now, shares, ttl }
            })
            .collect();
        tally.tick(offset, dt, &views, &plan, night.name);
        t += night.tick_ms;
        if let Some(h) = history
            && (t >= next_history || t >= night.end)
        {
            let rows = regions
                .iter_mut()
                .flat_map(|r| {
                    let region: Arc<str> = Arc::from(r.key.to_string().as_str());
                    let counts: Vec<(usize, u64)> = r.answers.iter().enumerate().map(|(c, a)| (c, a.round() as u64)).collect();
                    r.answers.iter_mut().for_each(|a| *a = 0.0);
                    let (name, cdns) = (&name_text, &cdn_names);
                    counts.into_iter().filter(|(_, n)| *n > 0).map(move |(c, n)| (Arc::clone(name), Arc::clone(&region), Arc::from(cdns[c].as_str()), n))
                })
                .collect::<Vec<_>>();
            if !rows.is_empty() {
                h.send_wait(Record::Answers(AnswerCounts { at: last_history, span_ms: t - last_history, rows }));
            }
            h.send_wait(Record::Plan { at: t, generation, zones: Arc::clone(zones), explain: Arc::new(plan.explain.clone()) });
            last_history = t;
            next_history = t + HISTORY_INTERVAL_MS;
        }
    }
    out.summary = tally.finish();
    out
}

/// The parts of the regions the observers read.
pub(super) struct RegionView<'a> {
    /// Key.
    pub key: &'a RegionKey,
    /// Viewers per CDN.
    pub viewers: Vec<f64>,
    /// Conditions per CDN.
    pub conditions: &'a [Conditions],
}

fn regions_view(regions: &[RegionSim]) -> Vec<RegionView<'_>> {
    regions.iter().map(|r| RegionView { key: &r.key, viewers: r.cohorts.per_cdn(), conditions: &r.now }).collect()
}

/// The shares (per CDN of the name, summing to 1) and TTL region `region` answers with.
fn shares_of(plan: &Plan, name: usize, region: usize, cdns: usize) -> (Vec<f64>, u32) {
    let mut shares = vec![0.0; cdns];
    let Some(decision) = plan.table.names.get(name).and_then(|n| n.regions.get(region)) else { return (shares, 1) };
    if decision.fail_open {
        if let Some(n) = plan.table.names.get(name) {
            shares[n.last_resort] = 1.0;
        }
        return (shares, decision.ttl);
    }
    let total: f64 = decision.shares.iter().map(|s| s.weight.max(0.0)).sum();
    if total > 0.0 {
        for s in &decision.shares {
            if s.cdn < cdns {
                shares[s.cdn] += s.weight.max(0.0) / total;
            }
        }
    }
    (shares, decision.ttl)
}

/// The scenario's truth for `cdn` in `region` (its `default` where the region is not listed).
fn performance(scenario: &Scenario, cdn: &str, region: &RegionKey) -> Performance {
    scenario
        .cdns
        .iter()
        .find(|c| c.cdn == cdn)
        .map(|c| c.regions.iter().find(|(k, _)| k == region).map_or(c.default, |(_, p)| *p))
        .unwrap_or(Performance { capacity_gbps: None, ttfb_ms: 100.0, throughput_mbps: 20.0, cache_hit_ratio: 0.95, error_rate: 0.001 })
}

/// The truth with the incidents active at `offset` applied, and whether the CDN is dark.
fn incident_truth(scenario: &Scenario, offset: u64, cdn: &str, region: &RegionKey, mut base: Performance) -> (Performance, bool) {
    let mut dark = false;
    for i in scenario.incidents.iter().filter(|i| i.at <= offset && offset < i.at + i.for_ms) {
        match &i.kind {
            IncidentKind::Degrade { cdn: c, region: r, ttfb_ms, error_rate, throughput_mbps, cache_hit_ratio, capacity_gbps } if c == cdn && r.as_ref().is_none_or(|r| r == region) => {
                base.ttfb_ms = ttfb_ms.unwrap_or(base.ttfb_ms);
                base.error_rate = error_rate.unwrap_or(base.error_rate);
                base.throughput_mbps = throughput_mbps.unwrap_or(base.throughput_mbps);
                base.cache_hit_ratio = cache_hit_ratio.unwrap_or(base.cache_hit_ratio);
                base.capacity_gbps = capacity_gbps.or(base.capacity_gbps);
            }
            IncidentKind::Dark { cdn: c, region: r } if c == cdn && r.as_ref().is_none_or(|r| r == region) => dark = true,
            _ => {}
        }
    }
    (base, dark)
}

/// Mark incidents on the history's timelines as they start and end.
fn annotate_incidents(history: Option<&HistoryHandle>, scenario: &Scenario, start: Millis, offset: u64, tick: u64) {
    let Some(h) = history else { return };
    for i in &scenario.incidents {
        let text = if offset <= i.at && i.at < offset + tick {
            format!("{} (simulated)", i.label)
        } else if offset <= i.at + i.for_ms && i.at + i.for_ms < offset + tick {
            format!("{} ends (simulated)", i.label)
        } else {
            continue;
        };
        h.send_wait(Record::Annotation(Annotation { at: start + offset, text, author: "simulator".into() }, None));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sim::scenario::model::*;

    /// A 20-minute night on the bundled zones: 100k viewers, cloudfront degrading in KR from
    /// minute 5 for 5 minutes.
    pub(crate) fn small(incidents: Vec<Incident>) -> Scenario {
        let key = |t: &str| crate::region::parse_region(t).unwrap_or(RegionKey::Default);
        let perf = |cap: f64| Performance { capacity_gbps: Some(cap), ttfb_ms: 60.0, throughput_mbps: 25.0, cache_hit_ratio: 0.97, error_rate: 0.001 };
        Scenario {
            name: "small".into(),
            file: "small.yaml".into(),
            zones: "zones".into(),
            events: None,
            event: None,
            start: Some(1_800_000_000_000),
            duration_ms: Some(20 * 60_000),
            tick_ms: Some(1000),
            seed: 7,
            audience: Audience {
                peak_viewers: 100_000.0,
                curve: vec![(0, 0.5), (120_000, 1.0)],
                regions: [("country:KR", 0.66), ("country:JP", 0.14), ("continent:AS", 0.08), ("default", 0.12)].iter().map(|(r, p)| RegionAudience { region: key(r), part: *p, curve: None }).collect(),
                bitrate: vec![(3.5, 1.0)],
                resolvers: vec![ResolverClass { name: "honours-ttl".into(), part: 0.7, min_ttl_secs: 0 }, ResolverClass { name: "clamps-30s".into(), part: 0.3, min_ttl_secs: 30 }],
                sticky: 0.5,
                restart_per_min: 0.01,
                rebuffer_restart_per_min: 1.0,
            },
            cdns: ["akamai", "fastly", "cloudfront", "edgio"].iter().map(|c| CdnTruth { cdn: c.to_string(), regions: Vec::new(), default: perf(1000.0) }).collect(),
            saturation: Saturation { knee: 0.85, ttfb_factor: 3.0, throughput_factor: 0.5, error_rate_at_capacity: 0.01, error_rate_per_overload: 0.5 },
            noise: 0.05,
            telemetry: TelemetryModel { every_ms: 10_000, delay_ms: 5_000, source: "players".into(), requests_per_viewer_sec: 0.25 },
            probes: vec![ProbeSite { vantage: "seoul-1".into(), region: key("country:KR"), interval_ms: 5_000, timeout_ms: 2_000 }],
            incidents,
            limits: Limits { max_viewer_minutes_degraded_pct: Some(5.0), max_flaps_per_hour: Some(6.0), no_commit_breach: false, no_max_share_breach: true, max_shift_secs: None },
            headroom: 1.2,
            sweep: Vec::new(),
        }
    }

    pub(crate) fn degrade_kr(at_min: u64, for_min: u64) -> Incident {
        Incident {
            at: at_min * 60_000,
            for_ms: for_min * 60_000,
            kind: IncidentKind::Degrade { cdn: "cloudfront".into(), region: Some(RegionKey::Country(*b"KR")), ttfb_ms: Some(1400.0), error_rate: Some(0.08), throughput_mbps: Some(2.5), cache_hit_ratio: None, capacity_gbps: None },
            label: "cloudfront degrades in KR".into(),
        }
    }

    pub(crate) fn night(s: Scenario) -> Night {
        let zones = crate::zone::load_dir(std::path::Path::new("zones")).expect("bundled zones");
        Night::prepare(s, zones, &EventSet::default()).expect("night")
    }

    #[test]
    fn a_degraded_cdn_loses_its_viewers_and_the_night_is_reproducible() {
        let n = night(small(vec![degrade_kr(5, 5)]));
        let a = run(&n, &RunOptions::default()).summary;
        let b = run(&n, &RunOptions::default()).summary;
        assert_eq!(serde_json::to_string(&a).ok(), serde_json::to_string(&b).ok());
        let i = &a.incidents[0];
        let first = i.first_answer_change_secs.expect("answers changed");
        let moved = i.moved_90pct_secs.expect("viewers moved");
        assert!(first > 0.0 && first < 60.0, "first answer change after {first} s");
        assert!(moved >= first && moved < 300.0, "90% moved after {moved} s");
        assert!(i.viewers_at_onset > 10_000.0, "{i:?}");
        assert!(a.viewer_minutes_degraded > 0.0 && a.viewer_minutes_degraded_pct < 5.0, "{}", a.viewer_minutes_degraded_pct);
        assert!(a.sla_breaches.iter().any(|b| b.cdn == "cloudfront" && b.region == "country:KR"), "{:?}", a.sla_breaches);
        assert!(a.passed, "{:?}", a.limits);
    }
}
