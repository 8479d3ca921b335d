//! What a simulated night amounted to, tallied tick by tick (pure): peaks and 5-minute means
//! of delivered traffic against true capacity and commits, the first saturation per CDN,
//! how fast each incident's viewers were moved, viewer-minutes on a degraded CDN, flaps,
//! the largest share, SLA breaches, and the scenario's limits checked.

use serde::Serialize;

use super::round;
use super::run::Night;
use super::scenario::model::{IncidentKind, Limits};
use super::truth::Conditions;
use crate::region::RegionKey;
use crate::steer::Plan;
use crate::timestamp::{Millis, human_duration, rfc3339};
use crate::zone::health::HealthPolicy;

/// Length of a billing period, ms.
const PERIOD_MS: u64 = 300_000;
/// A share move smaller than this is not a direction (noise of the slew's last step).
const FLAP_DEADBAND: f64 = 0.005;
/// SLA misses shorter than this are not a breach; gaps shorter than this join two.
const BREACH_MIN_MS: u64 = 60_000;

/// One region at one tick, as the tally reads it.
pub struct TickView<'a> {
    /// Key.
    pub key: &'a RegionKey,
    /// Index in the steered name's regions.
    pub index: usize,
    /// Viewers per CDN.
    pub viewers: Vec<f64>,
    /// Delivered traffic per CDN, Gbps.
    pub gbps: Vec<f64>,
    /// Conditions per CDN.
    pub conditions: &'a [Conditions],
    /// Shares per CDN served after this tick.
    pub shares: Vec<f64>,
    /// Answer TTL.
    pub ttl: u32,
}

/// The summary of a night (the `--json` output; the text output says the same).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// First tick (RFC 3339).
    pub start: String,
    /// End (RFC 3339).
    pub end: String,
    /// Tick, ms.
    pub tick_ms: u64,
    /// Most concurrent viewers.
    pub peak_viewers: f64,
    /// When (offset).
    pub peak_viewers_at: String,
    /// All viewer-minutes.
    pub viewer_minutes: f64,
    /// Viewer-minutes on a degraded CDN (modelled TTFB, throughput or error rate past the
    /// SLA `bad` bound, or load past true capacity, or dark).
    pub viewer_minutes_degraded: f64,
    /// Of all, percent.
    pub viewer_minutes_degraded_pct: f64,
    /// Per CDN.
    pub cdns: Vec<CdnSummary>,
    /// Per incident.
    pub incidents: Vec<IncidentSummary>,
    /// Most flaps per hour of any CDN x region.
    pub max_flaps_per_hour: f64,
    /// Where.
    pub max_flaps_at: Option<String>,
    /// The largest share any CDN reached in a region with more than one candidate.
    pub max_share: Option<MaxShare>,
    /// SLA target misses of at least a minute by a CDN carrying viewers.
    pub sla_breaches: Vec<Breach>,
    /// Commit and true-capacity breaches.
    pub commit_breaches: Vec<CommitBreach>,
    /// The scenario's limits, checked.
    pub limits: Vec<LimitCheck>,
    /// Every limit held.
    pub passed: bool,
}

/// One CDN over the night.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CdnSummary {
    /// Name.
    pub cdn: String,
    /// Peak delivered Gbps, all regions.
    pub peak_gbps: f64,
    /// When (offset).
    pub peak_at: String,
    /// 95th percentile of the 5-minute means, Gbps.
    pub p95_gbps: f64,
    /// The zone's `commit_gbps`.
    pub commit_gbps: Option<f64>,
    /// The zone's `gbps` (what the operator believes it carries).
    pub capacity_gbps: Option<f64>,
    /// Peak / commit, percent.
    pub peak_of_commit_pct: Option<f64>,
    /// Peak / the zone's `gbps`, percent.
    pub peak_of_capacity_pct: Option<f64>,
    /// First time its load passed the saturation knee of its true capacity in a region.
    pub first_saturation: Option<Saturation>,
    /// Share changes that reversed direction.
    pub flaps: u64,
    /// Per region.
    pub regions: Vec<CdnRegionSummary>,
}

/// One CDN in one region.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CdnRegionSummary {
    /// Region.
    pub region: String,
    /// Peak delivered Gbps.
    pub peak_gbps: f64,
    /// When (offset).
    pub peak_at: String,
    /// Highest 5-minute mean, Gbps.
    pub max_5min_gbps: f64,
    /// True capacity (the scenario's), Gbps.
    pub true_capacity_gbps: Option<f64>,
    /// Peak load / true capacity, percent.
    pub peak_utilisation_pct: Option<f64>,
    /// Largest share of the region's answers.
    pub max_share: f64,
    /// Reversals of direction of its share.
    pub flaps: u64,
    /// Viewer-minutes.
    pub viewer_minutes: f64,
    /// Of which on it while degraded.
    pub viewer_minutes_degraded: f64,
}

/// A first saturation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Saturation {
    /// When (offset).
    pub at: String,
    /// Where.
    pub region: String,
    /// Load / true capacity, percent.
    pub utilisation_pct: f64,
}

/// What an incident did and how cdnsteer answered it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IncidentSummary {
    /// Label.
    pub label: String,
    /// Kind.
    pub kind: String,
    /// Onset (offset).
    pub at: String,
    /// How long.
    pub lasted: String,
    /// Viewers on the CDN where it struck, at onset.
    pub viewers_at_onset: f64,
    /// Seconds from onset to the first answer change for the affected CDN and region(s), while
    /// it lasted (`None`: none).
    pub first_answer_change_secs: Option<f64>,
    /// Seconds from onset until the CDN's part of the affected regions' audience had fallen
    /// to a tenth of its part at onset (90% of its viewers moved), while it lasted.
    pub moved_90pct_secs: Option<f64>,
    /// Viewer-minutes on a degraded CDN while it lasted.
    pub viewer_minutes_degraded: f64,
    /// For incidents that should move nobody (a blind vantage, silent telemetry): the
    /// largest share change in the affected regions while it lasted.
    pub max_share_change: f64,
}

/// The largest share.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MaxShare {
    /// CDN.
    pub cdn: String,
    /// Region.
    pub region: String,
    /// Share, 0..1.
    pub share: f64,
    /// When (offset).
    pub at: String,
    /// The policy's `max_share` then.
    pub limit: f64,
}

/// An SLA breach episode.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Breach {
    /// CDN.
    pub cdn: String,
    /// Region.
    pub region: String,
    /// From (offset).
    pub from: String,
    /// To (offset).
    pub to: String,
    /// Signals that missed (ttfb, throughput, errors).
    pub signals: Vec<String>,
    /// Worst TTFB, ms.
    pub worst_ttfb_ms: f64,
    /// Worst error rate.
    pub worst_error_rate: f64,
    /// Most viewers on it meanwhile.
    pub viewers: f64,
}

/// A commit or capacity breach.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CommitBreach {
    /// CDN.
    pub cdn: String,
    /// Region (`all` for the commit).
    pub region: String,
    /// What.
    pub what: String,
    /// Measured, Gbps.
    pub gbps: f64,
    /// Limit, Gbps.
    pub limit_gbps: f64,
}

/// One limit, checked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LimitCheck {
    /// Setting.
    pub limit: String,
    /// The bound.
    pub bound: f64,
    /// What the night gave.
    pub value: f64,
    /// Held.
    pub ok: bool,
}

#[derive(Debug, Clone, Default)]
struct Pair {
    peak: f64,
    peak_at: u64,
    period_sum: f64,
    periods: Vec<f64>,
    max_share: f64,
    last_share: Option<f64>,
    direction: i8,
    flaps: u64,
    viewer_minutes: f64,
    degraded_minutes: f64,
    first_knee: Option<(u64, f64)>,
    breach: Option<Episode>,
    breaches: Vec<Episode>,
}

#[derive(Debug, Clone)]
struct Episode {
    from: u64,
    to: u64,
    ttfb: bool,
    throughput: bool,
    errors: bool,
    worst_ttfb: f64,
    worst_errors: f64,
    viewers: f64,
}

#[derive(Debug, Clone)]
struct IncidentTrack {
    cdn: Option<usize>,
    regions: Vec<usize>,
    /// At onset: viewers on the CDN, the shares, the CDN's part of the audience.
    onset: Option<(f64, Vec<f64>, f64)>,
    first_change: Option<u64>,
    moved: Option<u64>,
    degraded_minutes: f64,
    max_share_change: f64,
}

/// The running tally.
pub struct Tally {
    scenario: String,
    start: Millis,
    end: Millis,
    tick_ms: u64,
    cdns: Vec<String>,
    regions: Vec<RegionKey>,
    policy: HealthPolicy,
    knee: f64,
    commits: Vec<(Option<f64>, Option<f64>)>,
    true_capacity: Vec<Vec<Option<f64>>>,
    pairs: Vec<Vec<Pair>>,
    cdn_peak: Vec<(f64, u64)>,
    cdn_period: Vec<f64>,
    cdn_periods: Vec<Vec<f64>>,
    period_elapsed: u64,
    viewer_minutes: f64,
    degraded_minutes: f64,
    peak_viewers: (f64, u64),
    max_share: Option<(usize, usize, f64, u64, f64)>,
    share_breach: bool,
    incidents: Vec<(super::scenario::model::Incident, IncidentTrack)>,
    limits: Limits,
    last_offset: u64,
}

impl Tally {
    /// A tally for `night`, whose steered name has `cdns`, under `policy`.
    pub fn new(night: &Night, cdns: &[String], policy: &HealthPolicy) -> Tally {
        let s = &night.scenario;
        let regions: Vec<RegionKey> = s.audience.regions.iter().map(|r| r.region.clone()).collect();
        let commits = cdns.iter().map(|c| policy.capacity.iter().find(|k| k.cdn == *c).map_or((None, None), |k| (k.commit_gbps, k.gbps))).collect();
        let true_capacity = regions
            .iter()
            .map(|r| {
                cdns.iter()
                    .map(|c| s.cdns.iter().find(|t| t.cdn == *c).and_then(|t| t.regions.iter().find(|(k, _)| k == r).map_or(t.default, |(_, p)| *p).capacity_gbps))
                    .collect()
            })
            .collect();
        let incidents = s
            .incidents
            .iter()
            .map(|i| {
                let (cdn, region) = match &i.kind {
                    IncidentKind::Degrade { cdn, region, .. } | IncidentKind::Dark { cdn, region } => (cdns.iter().position(|c| c == cdn), region.clone()),
                    IncidentKind::ProbeBlind { vantage } => (None, s.probes.iter().find(|p| p.vantage == *vantage).map(|p| p.region.clone())),
                    IncidentKind::TelemetryStops { region } => (None, region.clone()),
                };
                let affected = regions.iter().enumerate().filter(|(_, k)| region.as_ref().is_none_or(|r| r == *k)).map(|(i, _)| i).collect();
                (i.clone(), IncidentTrack { cdn, regions: affected, onset: None, first_change: None, moved: None, degraded_minutes: 0.0, max_share_change: 0.0 })
            })
            .collect();
        Tally {
            scenario: s.name.clone(),
            start: night.start,
            end: night.end,
            tick_ms: night.tick_ms,
            cdns: cdns.to_vec(),
            pairs: vec![vec![Pair::default(); cdns.len()]; regions.len()],
            regions,
            policy: policy.clone(),
            knee: s.saturation.knee,
            commits,
            true_capacity,
            cdn_peak: vec![(0.0, 0); cdns.len()],
            cdn_period: vec![0.0; cdns.len()],
            cdn_periods: vec![Vec::new(); cdns.len()],
            period_elapsed: 0,
            viewer_minutes: 0.0,
            degraded_minutes: 0.0,
            peak_viewers: (0.0, 0),
            max_share: None,
            share_breach: false,
            incidents,
            limits: s.limits.clone(),
            last_offset: 0,
        }
    }

    /// Whether a CDN in these conditions counts as degraded.
    pub fn degraded(&self, c: &Conditions) -> bool {
        let sla = &self.policy.sla;
        c.dark || c.ttfb_ms > sla.ttfb_ms.bad || c.throughput_mbps < sla.throughput_mbps.bad || c.error_rate > sla.error_rate.bad || c.utilisation > 1.0
    }

    /// Take one tick at `offset` lasting `dt` seconds.
    pub fn tick(&mut self, offset: u64, dt: f64, views: &[TickView<'_>], plan: &Plan, name: usize) {
        self.last_offset = offset;
        let max_share = self.policy.at(self.start + offset).max_share;
        let mut total_viewers = 0.0;
        let mut cdn_gbps = vec![0.0; self.cdns.len()];
        let minutes = dt / 60.0;
        for (r, view) in views.iter().enumerate() {
            let region_explain = plan.explain.names.get(name).and_then(|n| n.get(view.index));
            let contested = region_explain.is_some_and(|e| !e.fail_open && e.pinned_by.is_none() && e.candidates.iter().filter(|c| c.weight > 0.0).count() > 1);
            for c in 0..self.cdns.len() {
                let viewers = view.viewers.get(c).copied().unwrap_or(0.0);
                let cond = view.conditions.get(c).copied();
                let degraded = cond.is_some_and(|k| self.degraded(&k));
                let gbps = view.gbps.get(c).copied().unwrap_or(0.0);
                let share = view.shares.get(c).copied().unwrap_or(0.0);
                total_viewers += viewers;
                cdn_gbps[c] += gbps;
                let pair = &mut self.pairs[r][c];
                pair.viewer_minutes += viewers * minutes;
                if degraded {
                    pair.degraded_minutes += viewers * minutes;
                    self.degraded_minutes += viewers * minutes;
                }
                if gbps > pair.peak {
                    pair.peak = gbps;
                    pair.peak_at = offset;
                }
                pair.period_sum += gbps * dt;
                if let Some(k) = cond
                    && pair.first_knee.is_none()
                    && k.utilisation >= self.knee
                {
                    pair.first_knee = Some((offset, k.utilisation));
                }
                flap(pair, share);
                if contested {
                    pair.max_share = pair.max_share.max(share);
                    if self.max_share.as_ref().is_none_or(|m| share > m.2) {
                        self.max_share = Some((c, r, share, offset, max_share));
                    }
                    if share > max_share + 1e-6 {
                        self.share_breach = true;
                    }
                }
                if let Some(k) = cond {
                    breach(pair, &self.policy, &k, viewers, offset, self.tick_ms);
                }
            }
        }
        self.viewer_minutes += total_viewers * minutes;
        if total_viewers > self.peak_viewers.0 {
            self.peak_viewers = (total_viewers, offset);
        }
        for (c, g) in cdn_gbps.iter().enumerate() {
            if *g > self.cdn_peak[c].0 {
                self.cdn_peak[c] = (*g, offset);
            }
            self.cdn_period[c] += g * dt;
        }
        self.track_incidents(offset, minutes, views);
        self.period_elapsed += self.tick_ms;
        if self.period_elapsed >= PERIOD_MS {
            self.close_period();
        }
    }

    fn close_period(&mut self) {
        let secs = self.period_elapsed as f64 / 1000.0;
        if secs <= 0.0 {
            return;
        }
        for row in &mut self.pairs {
            for p in row.iter_mut() {
                p.periods.push(p.period_sum / secs);
                p.period_sum = 0.0;
            }
        }
        for c in 0..self.cdns.len() {
            self.cdn_periods[c].push(self.cdn_period[c] / secs);
            self.cdn_period[c] = 0.0;
        }
        self.period_elapsed = 0;
    }

    fn track_incidents(&mut self, offset: u64, minutes: f64, views: &[TickView<'_>]) {
        let degraded: Vec<Vec<bool>> = views.iter().map(|v| v.conditions.iter().map(|k| self.degraded(k)).collect()).collect();
        for (incident, track) in &mut self.incidents {
            if offset < incident.at {
                continue;
            }
            let on_cdn = |v: &TickView<'_>| track.cdn.map_or(0.0, |c| v.viewers.get(c).copied().unwrap_or(0.0));
            let viewers: f64 = track.regions.iter().filter_map(|r| views.get(*r)).map(on_cdn).sum();
            let audience: f64 = track.regions.iter().filter_map(|r| views.get(*r)).map(|v| v.viewers.iter().sum::<f64>()).sum();
            // Part of the affected regions' audience on the CDN: an audience leaving after the
            // final whistle is not viewers moved.
            let part = if audience > 0.0 { viewers / audience } else { 0.0 };
            let shares: Vec<f64> = track.regions.iter().filter_map(|r| views.get(*r)).map(|v| track.cdn.map_or(0.0, |c| v.shares.get(c).copied().unwrap_or(0.0))).collect();
            let Some((v0, s0, part0)) = &track.onset else {
                let all: Vec<f64> = track.regions.iter().filter_map(|r| views.get(*r)).flat_map(|v| v.shares.clone()).collect();
                track.onset = Some((viewers, if track.cdn.is_some() { shares } else { all }, part));
                continue;
            };
            let during = offset < incident.at + incident.for_ms;
            // What cdnsteer did about it is measured while it lasts.
            if !during {
                continue;
            }
            track.degraded_minutes += track.regions.iter().filter_map(|r| views.get(*r).zip(degraded.get(*r))).map(|(v, d)| v.viewers.iter().zip(d).filter(|(_, d)| **d).map(|(n, _)| n).sum::<f64>()).sum::<f64>() * minutes;
            if track.cdn.is_some() {
                if track.first_change.is_none() && shares.iter().zip(s0).any(|(s, before)| *s < before - 1e-3) {
                    track.first_change = Some(offset - incident.at);
                }
                if track.moved.is_none() && *v0 > 0.0 && part <= 0.1 * part0 {
                    track.moved = Some(offset - incident.at);
                }
            } else {
                let all: Vec<f64> = track.regions.iter().filter_map(|r| views.get(*r)).flat_map(|v| v.shares.clone()).collect();
                let change = all.iter().zip(s0).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                track.max_share_change = track.max_share_change.max(change);
            }
        }
    }

    /// The summary.
    pub fn finish(mut self) -> Summary {
        if self.period_elapsed >= 60_000 {
            self.close_period();
        }
        let at = |offset: u64| format!("T+{}", human_duration(offset));
        let hours = ((self.end - self.start) as f64 / 3_600_000.0).max(1.0 / 60.0);
        let mut cdns = Vec::new();
        let mut commit_breaches = Vec::new();
        let mut sla_breaches = Vec::new();
        let mut max_flaps = (0.0, None);
        for (c, name) in self.cdns.iter().enumerate() {
            let (commit, capacity) = self.commits[c];
            let p95 = percentile(&self.cdn_periods[c], 0.95);
            if let Some(limit) = commit
                && p95 > limit
            {
                commit_breaches.push(CommitBreach { cdn: name.clone(), region: "all".into(), what: "95th percentile of 5-minute means above commit_gbps".into(), gbps: round(p95, 1), limit_gbps: limit });
            }
            let mut regions = Vec::new();
            let mut first: Option<(u64, usize, f64)> = None;
            let mut flaps = 0;
            for (r, key) in self.regions.iter().enumerate() {
                let p = &mut self.pairs[r][c];
                if p.viewer_minutes <= 0.0 && p.peak <= 0.0 {
                    continue;
                }
                let capacity = self.true_capacity[r][c];
                let max5 = p.periods.iter().copied().fold(0.0, f64::max);
                if let Some(limit) = capacity
                    && max5 > limit
                {
                    commit_breaches.push(CommitBreach { cdn: name.clone(), region: key.to_string(), what: "a 5-minute mean above true capacity".into(), gbps: round(max5, 1), limit_gbps: limit });
                }
                if let Some((t, u)) = p.first_knee
                    && first.is_none_or(|f| t < f.0)
                {
                    first = Some((t, r, u));
                }
                if let Some(e) = p.breach.take() {
                    p.breaches.push(e);
                }
                for e in p.breaches.iter().filter(|e| e.to - e.from >= BREACH_MIN_MS) {
                    let mut signals = Vec::new();
                    for (hit, s) in [(e.ttfb, "ttfb"), (e.throughput, "throughput"), (e.errors, "errors")] {
                        if hit {
                            signals.push(s.to_string());
                        }
                    }
                    sla_breaches.push(Breach { cdn: name.clone(), region: key.to_string(), from: at(e.from), to: at(e.to), signals, worst_ttfb_ms: e.worst_ttfb.round(), worst_error_rate: round(e.worst_errors, 4), viewers: e.viewers.round() });
                }
                let per_hour = p.flaps as f64 / hours;
                if per_hour > max_flaps.0 {
                    max_flaps = (per_hour, Some(format!("{name} in {key}")));
                }
                flaps += p.flaps;
                regions.push(CdnRegionSummary {
                    region: key.to_string(),
                    peak_gbps: round(p.peak, 1),
                    peak_at: at(p.peak_at),
                    max_5min_gbps: round(max5, 1),
                    true_capacity_gbps: capacity,
                    peak_utilisation_pct: capacity.filter(|c| *c > 0.0).map(|c| round(100.0 * p.peak / c, 1)),
                    max_share: round(p.max_share, 4),
                    flaps: p.flaps,
                    viewer_minutes: p.viewer_minutes.round(),
                    viewer_minutes_degraded: p.degraded_minutes.round(),
                });
            }
            let (peak, peak_at) = self.cdn_peak[c];
            cdns.push(CdnSummary {
                cdn: name.clone(),
                peak_gbps: round(peak, 1),
                peak_at: at(peak_at),
                p95_gbps: round(p95, 1),
                commit_gbps: commit,
                capacity_gbps: capacity,
                peak_of_commit_pct: commit.filter(|c| *c > 0.0).map(|c| round(100.0 * peak / c, 1)),
                peak_of_capacity_pct: capacity.filter(|c| *c > 0.0).map(|c| round(100.0 * peak / c, 1)),
                first_saturation: first.map(|(t, r, u)| Saturation { at: at(t), region: self.regions[r].to_string(), utilisation_pct: round(100.0 * u, 1) }),
                flaps,
                regions,
            });
        }
        let incidents = self
            .incidents
            .iter()
            .map(|(i, t)| IncidentSummary {
                label: i.label.clone(),
                kind: match i.kind {
                    IncidentKind::Degrade { .. } => "degrade",
                    IncidentKind::Dark { .. } => "dark",
                    IncidentKind::ProbeBlind { .. } => "probe_blind",
                    IncidentKind::TelemetryStops { .. } => "telemetry_stops",
                }
                .to_string(),
                at: at(i.at),
                lasted: human_duration(i.for_ms),
                viewers_at_onset: t.onset.as_ref().map_or(0.0, |o| o.0.round()),
                first_answer_change_secs: t.first_change.map(|ms| ms as f64 / 1000.0),
                moved_90pct_secs: t.moved.map(|ms| ms as f64 / 1000.0),
                viewer_minutes_degraded: t.degraded_minutes.round(),
                max_share_change: round(t.max_share_change, 4),
            })
            .collect::<Vec<_>>();
        let degraded_pct = if self.viewer_minutes > 0.0 { 100.0 * self.degraded_minutes / self.viewer_minutes } else { 0.0 };
        let mut limits = Vec::new();
        if let Some(b) = self.limits.max_viewer_minutes_degraded_pct {
            limits.push(LimitCheck { limit: "max_viewer_minutes_degraded_pct".into(), bound: b, value: round(degraded_pct, 3), ok: degraded_pct <= b });
        }
        if let Some(b) = self.limits.max_flaps_per_hour {
            limits.push(LimitCheck { limit: "max_flaps_per_hour".into(), bound: b, value: round(max_flaps.0, 2), ok: max_flaps.0 <= b });
        }
        if self.limits.no_commit_breach {
            limits.push(LimitCheck { limit: "no_commit_breach".into(), bound: 0.0, value: commit_breaches.len() as f64, ok: commit_breaches.is_empty() });
        }
        if self.limits.no_max_share_breach {
            let v = self.max_share.as_ref().map_or(0.0, |m| m.2);
            let bound = self.max_share.as_ref().map_or(self.policy.max_share, |m| m.4);
            limits.push(LimitCheck { limit: "no_max_share_breach".into(), bound, value: round(v, 4), ok: !self.share_breach });
        }
        if let Some(b) = self.limits.max_shift_secs {
            let worst = incidents.iter().filter(|i| i.kind == "degrade" || i.kind == "dark").map(|i| i.moved_90pct_secs.unwrap_or(f64::INFINITY)).fold(0.0, f64::max);
            limits.push(LimitCheck { limit: "max_shift_secs".into(), bound: b, value: if worst.is_finite() { worst } else { -1.0 }, ok: worst <= b });
        }
        let passed = limits.iter().all(|l| l.ok);
        Summary {
            scenario: self.scenario.clone(),
            start: rfc3339(self.start),
            end: rfc3339(self.end),
            tick_ms: self.tick_ms,
            peak_viewers: self.peak_viewers.0.round(),
            peak_viewers_at: at(self.peak_viewers.1),
            viewer_minutes: self.viewer_minutes.round(),
            viewer_minutes_degraded: self.degraded_minutes.round(),
            viewer_minutes_degraded_pct: round(degraded_pct, 3),
            cdns,
            incidents,
            max_flaps_per_hour: round(max_flaps.0, 2),
            max_flaps_at: max_flaps.1,
            max_share: self.max_share.map(|(c, r, s, t, l)| MaxShare { cdn: self.cdns[c].clone(), region: self.regions[r].to_string(), share: round(s, 4), at: at(t), limit: l }),
            sla_breaches,
            commit_breaches,
            limits,
            passed,
        }
    }
}

impl Summary {
    /// A summary of nothing (no steered name).
    pub fn empty(scenario: &str) -> Summary {
        Summary {
            scenario: scenario.to_string(),
            start: String::new(),
            end: String::new(),
            tick_ms: 0,
            peak_viewers: 0.0,
            peak_viewers_at: String::new(),
            viewer_minutes: 0.0,
            viewer_minutes_degraded: 0.0,
            viewer_minutes_degraded_pct: 0.0,
            cdns: Vec::new(),
            incidents: Vec::new(),
            max_flaps_per_hour: 0.0,
            max_flaps_at: None,
            max_share: None,
            sla_breaches: Vec::new(),
            commit_breaches: Vec::new(),
            limits: Vec::new(),
            passed: true,
        }
    }
}

/// Count a reversal of the share's direction.
fn flap(pair: &mut Pair, share: f64) {
    let Some(last) = pair.last_share else {
        pair.last_share = Some(share);
        return;
    };
    let delta = share - last;
    if delta.abs() < FLAP_DEADBAND {
        return;
    }
    let direction = if delta > 0.0 { 1 } else { -1 };
    if pair.direction != 0 && direction != pair.direction {
        pair.flaps += 1;
    }
    pair.direction = direction;
    pair.last_share = Some(share);
}

/// Extend or close the pair's SLA miss episode.
fn breach(pair: &mut Pair, policy: &HealthPolicy, c: &Conditions, viewers: f64, offset: u64, tick: u64) {
    let sla = &policy.sla;
    let (ttfb, throughput, errors) = (c.dark || c.ttfb_ms > sla.ttfb_ms.good, c.dark || c.throughput_mbps < sla.throughput_mbps.good, c.dark || c.error_rate > sla.error_rate.good);
    let missing = viewers >= 1.0 && (ttfb || throughput || errors);
    match (&mut pair.breach, missing) {
        (Some(e), true) => {
            e.to = offset + tick;
            e.ttfb |= ttfb;
            e.throughput |= throughput;
            e.errors |= errors;
            e.worst_ttfb = e.worst_ttfb.max(c.ttfb_ms);
            e.worst_errors = e.worst_errors.max(c.error_rate);
            e.viewers = e.viewers.max(viewers);
        }
        (None, true) => {
            pair.breach = Some(Episode { from: offset, to: offset + tick, ttfb, throughput, errors, worst_ttfb: c.ttfb_ms, worst_errors: c.error_rate, viewers });
        }
        (Some(e), false) if offset >= e.to + BREACH_MIN_MS => {
            if let Some(e) = pair.breach.take() {
                pair.breaches.push(e);
            }
        }
        _ => {}
    }
}

/// Nearest-rank percentile.
fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
