//! `ReportInput` -> `Report`: the figures per CDN and region, the charts' series, the
//! timeline and the method notes. SLA adherence and incidents are in `sla`, findings and
//! recommendations in `findings`. Pure: no clock, no files.

use std::collections::{BTreeMap, BTreeSet};

use super::ReportError;
use super::calc::{self, mean, quantile, round, round_opt};
use super::input::{EventKind, EventRecord, QoeBucket, ReportInput, ShareSeries, SignalBucket, StateWord, ZonePolicy};
use super::model::*;
use super::{findings, sla};
use crate::timestamp::{Millis, rfc3339};

/// Availability periods, as CDN SLAs count them.
pub const PERIOD_MS: Millis = 5 * 60_000;
/// A decision moving a share by less than this is not a share change.
pub const SHARE_EPSILON: f64 = 0.005;

/// A decision event, its data parsed.
#[derive(Debug, Clone)]
pub struct Decision {
    /// When.
    pub at: Millis,
    /// Region key.
    pub region: String,
    /// Shares before.
    pub old: Vec<(String, f64)>,
    /// Shares after.
    pub new: Vec<(String, f64)>,
    /// The region fails open from here.
    pub fails_open: bool,
    /// Why.
    pub reason: String,
}

impl Decision {
    /// The share of `cdn` before and after (0 when not listed on one side).
    pub fn change(&self, cdn: &str) -> Option<(f64, f64)> {
        let find = |v: &[(String, f64)]| v.iter().find(|(c, _)| c == cdn).map(|(_, s)| *s);
        let (old, new) = (find(&self.old), find(&self.new));
        if old.is_none() && new.is_none() {
            return None;
        }
        Some((old.unwrap_or(0.0), new.unwrap_or(0.0)))
    }
}

/// An override audit entry, its data parsed.
#[derive(Debug, Clone)]
pub struct OverrideEvent {
    /// When.
    pub at: Millis,
    /// `override.add`, `override.remove`, `override.expire`.
    pub what: String,
    /// `drain`, `pin`, `weight`.
    pub kind: String,
    /// CDN.
    pub cdn: String,
    /// Region key, `None` for every region.
    pub region: Option<String>,
    /// Author.
    pub author: String,
    /// Reason.
    pub reason: String,
}

/// The input, indexed.
pub struct Cx<'a> {
    /// The input.
    pub input: &'a ReportInput,
    /// Window start.
    pub from: Millis,
    /// Window end.
    pub to: Millis,
    /// Bucket length.
    pub bucket_ms: Millis,
    /// CDNs in name order (colour order).
    pub cdns: Vec<String>,
    /// Signal buckets per (CDN, region), time order.
    pub signals: BTreeMap<(String, String), Vec<&'a SignalBucket>>,
    /// QoE buckets per (CDN, region), time order.
    pub qoe: BTreeMap<(String, String), Vec<&'a QoeBucket>>,
    /// Answers per (CDN, region).
    pub answers: BTreeMap<(String, String), u64>,
    /// Share series per (CDN, region) (one per steered name).
    pub shares: BTreeMap<(String, String), Vec<&'a ShareSeries>>,
    /// Decisions, time order.
    pub decisions: Vec<Decision>,
    /// Overrides, time order.
    pub overrides: Vec<OverrideEvent>,
    /// Regions, most answers first.
    pub regions: Vec<String>,
    /// The default policy, for pairs no zone names.
    fallback: ZonePolicy,
}

impl<'a> Cx<'a> {
    fn new(input: &'a ReportInput) -> Result<Cx<'a>, ReportError> {
        let (from, to) = (input.subject.from, input.subject.to);
        if to <= from {
            return Err(ReportError::Window(format!("the window ends ({}) before it starts ({})", rfc3339(to), rfc3339(from))));
        }
        if input.bucket_ms == 0 {
            return Err(ReportError::Input("bucket_ms is 0".to_string()));
        }
        let mut signals: BTreeMap<(String, String), Vec<&SignalBucket>> = BTreeMap::new();
        for b in input.signals.iter().filter(|b| from <= b.at && b.at < to) {
            signals.entry((b.cdn.clone(), b.region.clone())).or_default().push(b);
        }
        let mut qoe: BTreeMap<(String, String), Vec<&QoeBucket>> = BTreeMap::new();
        for b in input.qoe.iter().filter(|b| from <= b.at && b.at < to) {
            qoe.entry((b.cdn.clone(), b.region.clone())).or_default().push(b);
        }
        let mut answers: BTreeMap<(String, String), u64> = BTreeMap::new();
        for b in input.answers.iter().filter(|b| from <= b.at && b.at < to) {
            *answers.entry((b.cdn.clone(), b.region.clone())).or_default() += b.answers;
        }
        let mut shares: BTreeMap<(String, String), Vec<&ShareSeries>> = BTreeMap::new();
        for s in input.shares.iter().filter(|s| input.subject.names.is_empty() || input.subject.names.contains(&s.name)) {
            shares.entry((s.cdn.clone(), s.region.clone())).or_default().push(s);
        }
        for v in signals.values_mut() {
            v.sort_by_key(|b| b.at);
        }
        for v in qoe.values_mut() {
            v.sort_by_key(|b| b.at);
        }
        let mut cdns: BTreeSet<String> = BTreeSet::new();
        let mut region_answers: BTreeMap<String, u64> = BTreeMap::new();
        for (c, r) in signals.keys().chain(qoe.keys()).chain(answers.keys()).chain(shares.keys()) {
            cdns.insert(c.clone());
            region_answers.entry(r.clone()).or_default();
        }
        for ((_, r), n) in &answers {
            *region_answers.entry(r.clone()).or_default() += n;
        }
        let mut regions: Vec<(String, u64)> = region_answers.into_iter().collect();
        regions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let (decisions, overrides) = parse_events(&input.events, from, to);
        let fallback = default_policy();
        Ok(Cx { input, from, to, bucket_ms: input.bucket_ms, cdns: cdns.into_iter().collect(), signals, qoe, answers, shares, decisions, overrides, regions: regions.into_iter().map(|r| r.0).collect(), fallback })
    }

    /// Length of the bucket starting at `at` inside the window, ms.
    pub fn len_of(&self, at: Millis) -> Millis {
        self.bucket_ms.min(self.to.saturating_sub(at))
    }

    /// Window length, ms.
    pub fn duration(&self) -> Millis {
        self.to - self.from
    }

    /// The zone policy that governs `cdn` in `region` (the first zone with a steered name
    /// that has both; else the first zone; else the defaults).
    pub fn policy(&self, cdn: &str, region: &str) -> &ZonePolicy {
        let zones = &self.input.zones;
        zones
            .iter()
            .find(|z| z.names.iter().any(|n| n.regions.iter().any(|r| r.region == region && r.weights.iter().any(|(c, _)| c == cdn))))
            .or_else(|| zones.first())
            .unwrap_or(&self.fallback)
    }

    /// Configured weight of `cdn` in `region` (first steered name that has it).
    pub fn weight(&self, cdn: &str, region: &str) -> Option<f64> {
        self.input.zones.iter().flat_map(|z| &z.names).flat_map(|n| &n.regions).filter(|r| r.region == region).find_map(|r| r.weights.iter().find(|(c, _)| c == cdn).map(|(_, w)| *w))
    }

    /// Configured weights of `region` (first steered name that has it).
    pub fn weights(&self, region: &str) -> Option<&[(String, f64)]> {
        self.input.zones.iter().flat_map(|z| &z.names).flat_map(|n| &n.regions).find(|r| r.region == region).map(|r| r.weights.as_slice())
    }

    /// The pair's share at `t`: the mean over its steered names of the share in force.
    pub fn share_at(&self, cdn: &str, region: &str, t: Millis) -> Option<f64> {
        let series = self.shares.get(&(cdn.to_string(), region.to_string()))?;
        let v: Vec<f64> = series.iter().filter_map(|s| calc::point_at(&s.points, t).map(|p| p.share)).collect();
        mean(&v)
    }

    /// Regions where `cdn` has any data.
    pub fn regions_of(&self, cdn: &str) -> Vec<String> {
        let mut keys: BTreeSet<&String> = BTreeSet::new();
        for (c, r) in self.signals.keys().chain(self.qoe.keys()).chain(self.answers.keys()).chain(self.shares.keys()) {
            if c == cdn {
                keys.insert(r);
            }
        }
        self.regions.iter().filter(|r| keys.contains(r)).cloned().collect()
    }

    /// Local `HH:MM`.
    pub fn hm(&self, ms: Millis) -> String {
        calc::clock(ms, self.input.subject.utc_offset_minutes, false)
    }
}

fn default_policy() -> ZonePolicy {
    let p = crate::zone::health::HealthPolicy::default();
    super::zone_policy("(defaults)", &p, &[])
}

fn parse_events(events: &[EventRecord], from: Millis, to: Millis) -> (Vec<Decision>, Vec<OverrideEvent>) {
    let pairs = |v: Option<&serde_json::Value>| -> Vec<(String, f64)> {
        v.and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|p| Some((p.get(0)?.as_str()?.to_string(), p.get(1)?.as_f64()?))).collect()).unwrap_or_default()
    };
    let mut decisions = Vec::new();
    let mut overrides = Vec::new();
    for e in events.iter().filter(|e| from <= e.at && e.at < to) {
        match e.kind {
            EventKind::Decision => {
                let d = e.data.as_ref();
                decisions.push(Decision {
                    at: e.at,
                    region: e.region.clone().unwrap_or_default(),
                    old: pairs(d.and_then(|d| d.get("old"))),
                    new: pairs(d.and_then(|d| d.get("new"))),
                    fails_open: d.and_then(|d| d.get("fails_open")).and_then(|v| v.as_bool()).unwrap_or(false),
                    reason: e.text.clone(),
                });
            }
            EventKind::Override => {
                let d = e.data.as_ref();
                let what = d.and_then(|d| d.get("what")).and_then(|v| v.as_str()).unwrap_or("override").to_string();
                let side = d.and_then(|d| d.get("after").filter(|v| !v.is_null()).or_else(|| d.get("before")));
                let field = |k: &str| side.and_then(|s| s.get(k)).and_then(|v| v.as_str()).map(str::to_string);
                overrides.push(OverrideEvent {
                    at: e.at,
                    what,
                    kind: field("kind").unwrap_or_default(),
                    cdn: field("cdn").unwrap_or_default(),
                    region: field("region").or_else(|| e.region.clone()),
                    author: field("author").or_else(|| e.who.clone()).unwrap_or_default(),
                    reason: field("reason").unwrap_or_else(|| e.text.clone()),
                });
            }
            _ => {}
        }
    }
    decisions.sort_by_key(|d| d.at);
    overrides.sort_by_key(|o| o.at);
    (decisions, overrides)
}

/// Build the report.
pub fn build(input: &ReportInput) -> Result<Report, ReportError> {
    let cx = Cx::new(input)?;
    let breaches = sla::evaluate(&cx);
    let incidents = sla::incidents(&cx, &breaches);
    let sla_section = sla::adherence(&cx, &breaches);
    let cdns: Vec<CdnReport> = cx.cdns.iter().enumerate().map(|(i, c)| cdn_report(&cx, &breaches, c, calc::colour(i))).collect();
    let regions = region_reports(&cx);
    let timeline = timeline(&cx);
    let charts = super::charts::charts(&cx);
    let mut notes = notes(&cx);
    let summary = summary(&cx, &cdns, &incidents, &timeline, &charts);
    let (found, recs) = findings::derive(&cx, &cdns, &incidents, &sla_section);
    if input.zones.is_empty() {
        notes.push("No zone policy was given: SLA targets and thresholds are cdnsteer's defaults.".to_string());
    }
    if let Some(cut) = &input.events_cut {
        notes.push(format!(
            "The window held more than {} events (decisions included), the most a report reads: those from {} on are left out of the timeline, the incidents' actions and the findings. A shorter window reads them all.",
            cut.limit,
            rfc3339(cut.at)
        ));
    }
    // CDN sections in order of traffic (colours stay in name order).
    let mut cdns = cdns;
    cdns.sort_by(|a, b| b.overall.answers.cmp(&a.overall.answers).then_with(|| a.cdn.cmp(&b.cdn)));
    Ok(Report {
        format: FORMAT,
        subject: SubjectOut {
            event: input.subject.event.clone(),
            customer: input.subject.customer.clone(),
            from: rfc3339(cx.from),
            to: rfc3339(cx.to),
            duration_secs: cx.duration() / 1000,
            names: names(&cx),
            window: input.subject.window.clone(),
            utc_offset: calc::offset_text(input.subject.utc_offset_minutes),
        },
        generated_at: rfc3339(input.generated_at),
        summary,
        findings: found,
        recommendations: recs,
        incidents,
        sla: sla_section,
        cdns,
        regions,
        timeline,
        charts,
        policy: input.zones.clone(),
        methods: methods(&cx),
        notes,
        events_cut: input.events_cut.map(|c| EventsCutOut { limit: c.limit, from: rfc3339(c.at) }),
    })
}

fn names(cx: &Cx<'_>) -> Vec<String> {
    if !cx.input.subject.names.is_empty() {
        return cx.input.subject.names.clone();
    }
    let set: BTreeSet<&String> = cx.input.shares.iter().map(|s| &s.name).collect();
    set.into_iter().cloned().collect()
}

/// Which (CDN, region) pairs a figure covers.
struct Scope<'s> {
    cdn: &'s str,
    region: Option<&'s str>,
}

impl Scope<'_> {
    fn has(&self, key: &(String, String)) -> bool {
        key.0 == self.cdn && self.region.is_none_or(|r| key.1 == r)
    }
}

fn stats(cx: &Cx<'_>, breaches: &sla::Breaches, scope: &Scope<'_>) -> Stats {
    let sig: Vec<&SignalBucket> = cx.signals.iter().filter(|(k, _)| scope.has(k)).flat_map(|(_, v)| v.iter().copied()).collect();
    let qoe: Vec<&QoeBucket> = cx.qoe.iter().filter(|(k, _)| scope.has(k)).flat_map(|(_, v)| v.iter().copied()).collect();
    let measured: BTreeSet<Millis> = sig.iter().map(|b| b.at).collect();
    let measured_ms: Millis = measured.iter().map(|at| cx.len_of(*at)).sum();
    let mut p50: Vec<f64> = sig.iter().filter_map(|b| b.ttfb_p50_ms).collect();
    let mut p95: Vec<f64> = sig.iter().filter_map(|b| b.ttfb_p95_ms).collect();
    let mut players: Vec<f64> = qoe.iter().filter_map(|b| b.ttfb_p95_ms).collect();
    let mut thr: Vec<f64> = sig.iter().filter_map(|b| b.throughput_mbps).collect();
    let (requests, errors) = sig.iter().fold((0u64, 0u64), |(r, e), b| (r + b.requests, e + b.errors));
    let hits: (f64, f64) = sig.iter().filter_map(|b| b.cache_hit_ratio.map(|h| (h, b.requests.max(1) as f64))).fold((0.0, 0.0), |a, (h, w)| (a.0 + h * w, a.1 + w));
    // Availability: error rate per 5-minute period (all regions of the scope together).
    let mut periods: BTreeMap<Millis, (u64, u64)> = BTreeMap::new();
    for b in &sig {
        let p = periods.entry((b.at - cx.from) / PERIOD_MS).or_default();
        p.0 += b.requests;
        p.1 += b.errors;
    }
    let rates: Vec<(Millis, f64)> = periods.iter().filter(|(_, (r, _))| *r > 0).map(|(p, (r, e))| (*p, *e as f64 / *r as f64)).collect();
    let availability = mean(&rates.iter().map(|r| r.1).collect::<Vec<_>>()).map(|m| 100.0 * (1.0 - m));
    let worst = rates.iter().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0))).filter(|w| w.1 > 0.0).map(|(p, r)| PeriodOut { start: rfc3339(cx.from + p * PERIOD_MS), error_rate: round(*r, 6) });
    let (answers, answer_share) = answer_figures(cx, scope);
    let traffic = traffic(cx, scope);
    let (share_changes, fail_opens) = decision_counts(cx, scope);
    let (time_in_state, health_drains, operator_drains) = states(cx, scope);
    // Time (not region-time) with a target missed somewhere in the scope.
    let breach_at: BTreeSet<Millis> = breaches.iter().filter(|(k, _)| scope.has(k)).flat_map(|(_, v)| v.iter().filter(|b| b.any()).map(|b| b.at)).collect();
    let breach_ms: Millis = breach_at.iter().map(|at| cx.len_of(*at)).sum();
    Stats {
        measured_secs: measured_ms / 1000,
        ttfb_p50_ms: round_opt(quantile(&mut p50, 0.5), 1),
        ttfb_p95_ms: round_opt(quantile(&mut p95, 0.95), 1),
        ttfb_players_p95_ms: round_opt(quantile(&mut players, 0.95), 1),
        throughput_mbps: round_opt(mean(&thr), 2),
        throughput_p5_mbps: round_opt(quantile(&mut thr, 0.05), 2),
        cache_hit_ratio: (hits.1 > 0.0).then(|| round(hits.0 / hits.1, 4)),
        error_rate: (requests > 0).then(|| round(errors as f64 / requests as f64, 6)),
        requests,
        errors,
        availability_pct: round_opt(availability, 3),
        availability_periods: rates.len(),
        worst_period: worst,
        time_in_state,
        answers,
        answer_share: round_opt(answer_share, 4),
        delivered_tb: round_opt(traffic.tb, 2),
        delivered_share: round_opt(traffic.share, 4),
        peak_gbps: round_opt(traffic.peak.map(|p| p.1), 2),
        p95_gbps: round_opt(traffic.p95, 2),
        share_changes,
        fail_opens,
        health_drains,
        operator_drains,
        sla_breach_pct: (measured_ms > 0).then(|| round(100.0 * breach_ms as f64 / measured_ms as f64, 2)),
        qoe: qoe_stats(&qoe),
    }
}

fn answer_figures(cx: &Cx<'_>, scope: &Scope<'_>) -> (u64, Option<f64>) {
    let mine: u64 = cx.answers.iter().filter(|(k, _)| scope.has(k)).map(|(_, n)| n).sum();
    let total: u64 = cx.answers.iter().filter(|(k, _)| scope.region.is_none_or(|r| k.1 == r)).map(|(_, n)| n).sum();
    (mine, (total > 0).then(|| mine as f64 / total as f64))
}

/// Delivered traffic of a scope.
struct Traffic {
    /// Delivered, TB.
    tb: Option<f64>,
    /// Of everyone's in the same region(s).
    share: Option<f64>,
    /// (when, Gbps) of the highest bucket.
    peak: Option<(Millis, f64)>,
    /// 95th percentile of the 5-minute means, Gbps.
    p95: Option<f64>,
}

/// Delivered traffic: per bucket the sum over the scope's regions; volume, peak and the
/// 95th percentile of 5-minute means.
fn traffic(cx: &Cx<'_>, scope: &Scope<'_>) -> Traffic {
    let mut per_bucket: BTreeMap<Millis, f64> = BTreeMap::new();
    let mut everyone_gbit = 0.0;
    for (k, v) in &cx.qoe {
        let same_regions = scope.region.is_none_or(|r| k.1 == r);
        for b in v {
            let Some(g) = b.delivered_gbps else { continue };
            if same_regions {
                everyone_gbit += g * cx.len_of(b.at) as f64 / 1000.0;
            }
            if scope.has(k) {
                *per_bucket.entry(b.at).or_default() += g;
            }
        }
    }
    if per_bucket.is_empty() {
        return Traffic { tb: None, share: None, peak: None, p95: None };
    }
    let gbit: f64 = per_bucket.iter().map(|(at, g)| g * cx.len_of(*at) as f64 / 1000.0).sum();
    let peak = per_bucket.iter().map(|(at, g)| (*at, *g)).max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
    let mut periods: BTreeMap<Millis, (f64, f64)> = BTreeMap::new();
    for (at, g) in &per_bucket {
        let len = cx.len_of(*at) as f64;
        let p = periods.entry((at - cx.from) / PERIOD_MS).or_default();
        p.0 += g * len;
        p.1 += len;
    }
    let mut means: Vec<f64> = periods.values().filter(|p| p.1 > 0.0).map(|p| p.0 / p.1).collect();
    Traffic { tb: Some(gbit / 8.0 / 1000.0), share: (everyone_gbit > 0.0).then(|| gbit / everyone_gbit), peak, p95: quantile(&mut means, 0.95) }
}

fn decision_counts(cx: &Cx<'_>, scope: &Scope<'_>) -> (u64, u64) {
    let regions: BTreeSet<String> = match scope.region {
        Some(r) => [r.to_string()].into(),
        None => cx.regions_of(scope.cdn).into_iter().collect(),
    };
    let mut changes = 0;
    let mut fail_opens = 0;
    for d in cx.decisions.iter().filter(|d| regions.contains(&d.region)) {
        if let Some((old, new)) = d.change(scope.cdn)
            && (new - old).abs() >= SHARE_EPSILON {
                changes += 1;
            }
        if d.fails_open {
            fail_opens += 1;
        }
    }
    (changes, fail_opens)
}

fn states(cx: &Cx<'_>, scope: &Scope<'_>) -> (Vec<StateTime>, u64, u64) {
    let mut time: BTreeMap<StateWord, Millis> = BTreeMap::new();
    let (mut health, mut operator) = (0, 0);
    for series in cx.shares.iter().filter(|(k, _)| scope.has(k)).flat_map(|(_, v)| v.iter()) {
        let pts = &series.points;
        for (i, p) in pts.iter().enumerate() {
            let start = p.at.max(cx.from);
            let end = pts.get(i + 1).map_or(cx.to, |n| n.at.min(cx.to));
            if end > start {
                *time.entry(p.state).or_default() += end - start;
            }
            let before = i.checked_sub(1).and_then(|j| pts.get(j)).map(|q| q.state);
            if before.is_some_and(|b| b != p.state) {
                match p.state {
                    StateWord::Down => health += 1,
                    StateWord::Drained => operator += 1,
                    _ => {}
                }
            }
        }
    }
    let total: Millis = time.values().sum();
    let out = time.into_iter().filter(|(_, t)| *t > 0).map(|(s, t)| StateTime { state: s.as_str(), secs: t / 1000, pct: round(100.0 * t as f64 / total.max(1) as f64, 2) }).collect();
    (out, health, operator)
}

fn qoe_stats(qoe: &[&QoeBucket]) -> Option<QoeStats> {
    let players = qoe.iter().any(|b| b.viewers.is_some() || b.startup_p50_ms.is_some() || b.rebuffer_ratio.is_some());
    if !players {
        return None;
    }
    let mut per_at: BTreeMap<Millis, f64> = BTreeMap::new();
    for b in qoe {
        if let Some(v) = b.viewers {
            *per_at.entry(b.at).or_default() += v;
        }
    }
    let viewers: Vec<f64> = per_at.values().copied().collect();
    let weighted = |f: fn(&QoeBucket) -> Option<f64>| {
        let (s, w) = qoe.iter().filter_map(|b| f(b).map(|v| (v, b.viewers.unwrap_or(1.0).max(1.0)))).fold((0.0, 0.0), |a, (v, w)| (a.0 + v * w, a.1 + w));
        (w > 0.0).then(|| s / w)
    };
    let mut startup95: Vec<f64> = qoe.iter().filter_map(|b| b.startup_p95_ms).collect();
    Some(QoeStats {
        viewers_peak: round_opt(viewers.iter().copied().reduce(f64::max), 0),
        viewers_mean: round_opt(mean(&viewers), 0),
        startup_p50_ms: round_opt(weighted(|b| b.startup_p50_ms), 0),
        startup_p95_ms: round_opt(quantile(&mut startup95, 0.95), 0),
        rebuffer_ratio: round_opt(weighted(|b| b.rebuffer_ratio), 5),
        playback_failures: qoe.iter().map(|b| b.playback_failures).sum(),
        exits_before_start: qoe.iter().map(|b| b.exits_before_start).sum(),
    })
}

fn cdn_report(cx: &Cx<'_>, breaches: &sla::Breaches, cdn: &str, colour: &'static str) -> CdnReport {
    let overall = stats(cx, breaches, &Scope { cdn, region: None });
    let regions: Vec<RegionStats> = cx
        .regions_of(cdn)
        .into_iter()
        .map(|r| {
            let stats = stats(cx, breaches, &Scope { cdn, region: Some(&r) });
            RegionStats { label: calc::region_label(&r), weight: cx.weight(cdn, &r), stats, region: r }
        })
        .collect();
    CdnReport { cdn: cdn.to_string(), colour, capacity: capacity(cx, cdn, &overall), overall, regions }
}

fn capacity(cx: &Cx<'_>, cdn: &str, overall: &Stats) -> CapacityReport {
    let caps: Vec<&super::input::CapacityInput> = cx.input.zones.iter().flat_map(|z| &z.capacity).filter(|c| c.cdn == cdn).collect();
    let sum = |f: fn(&super::input::CapacityInput) -> Option<f64>| {
        let v: Vec<f64> = caps.iter().filter_map(|c| f(c)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>())
    };
    let (gbps, commit) = (sum(|c| c.gbps), sum(|c| c.commit_gbps));
    let t = traffic(cx, &Scope { cdn, region: None });
    let pct = |a: Option<f64>, b: Option<f64>| a.zip(b).filter(|(_, b)| *b > 0.0).map(|(a, b)| round(100.0 * a / b, 1));
    let regions = caps
        .iter()
        .flat_map(|c| &c.regions)
        .map(|(r, g)| {
            let peak = traffic(cx, &Scope { cdn, region: Some(r) }).peak.map(|p| p.1);
            RegionCapacity { region: r.clone(), gbps: *g, peak_gbps: round_opt(peak, 2), peak_pct: pct(peak, Some(*g)) }
        })
        .collect();
    CapacityReport {
        gbps,
        commit_gbps: commit,
        target_utilisation: caps.first().map(|c| c.target_utilisation),
        peak_gbps: overall.peak_gbps,
        peak_at: t.peak.map(|p| rfc3339(p.0)),
        p95_gbps: overall.p95_gbps,
        peak_of_capacity_pct: pct(overall.peak_gbps, gbps),
        p95_of_commit_pct: pct(overall.p95_gbps, commit),
        over_commit_gbps: overall.p95_gbps.zip(commit).map(|(p, c)| round((p - c).max(0.0), 2)).filter(|o| *o > 0.0),
        regions,
    }
}

fn region_reports(cx: &Cx<'_>) -> Vec<RegionReport> {
    let total: u64 = cx.answers.values().sum();
    cx.regions
        .iter()
        .map(|r| {
            let answers: u64 = cx.answers.iter().filter(|(k, _)| &k.1 == r).map(|(_, n)| n).sum();
            let mut viewers: BTreeMap<Millis, f64> = BTreeMap::new();
            let mut gbps: BTreeMap<Millis, f64> = BTreeMap::new();
            for b in cx.qoe.iter().filter(|(k, _)| &k.1 == r).flat_map(|(_, v)| v.iter()) {
                if let Some(v) = b.viewers {
                    *viewers.entry(b.at).or_default() += v;
                }
                if let Some(g) = b.delivered_gbps {
                    *gbps.entry(b.at).or_default() += g;
                }
            }
            let cdns: Vec<String> = cx.cdns.iter().filter(|c| cx.regions_of(c).contains(r)).cloned().collect();
            RegionReport {
                region: r.clone(),
                label: calc::region_label(r),
                answers,
                answer_share: (total > 0).then(|| round(answers as f64 / total as f64, 4)),
                viewers_peak: round_opt(viewers.values().copied().reduce(f64::max), 0),
                peak_gbps: round_opt(gbps.values().copied().reduce(f64::max), 2),
                fail_opens: cx.decisions.iter().filter(|d| &d.region == r && d.fails_open).count() as u64,
                cdns,
            }
        })
        .collect()
}

fn timeline(cx: &Cx<'_>) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    for e in cx.input.events.iter().filter(|e| cx.from <= e.at && e.at < cx.to) {
        let kind = match e.kind {
            EventKind::Decision if e.data.as_ref().and_then(|d| d.get("fails_open")).and_then(|v| v.as_bool()) == Some(true) => "fail_open",
            EventKind::Decision => continue,
            EventKind::Reload => "reload",
            EventKind::Override => "override",
            EventKind::Freeze => "freeze",
            EventKind::Annotation => "annotation",
        };
        let text = match (e.kind, cx.overrides.iter().find(|o| o.at == e.at && e.kind == EventKind::Override)) {
            (EventKind::Override, Some(o)) => {
                let scope = o.region.as_deref().map_or_else(|| "every region".to_string(), calc::region_label);
                let verb = o.what.strip_prefix("override.").unwrap_or(&o.what);
                format!("{verb}: {} {} in {scope} ({})", o.kind, o.cdn, o.reason)
            }
            (EventKind::Decision, _) => format!("{} fails open: {}", e.region.as_deref().map_or_else(String::new, calc::region_label), e.text),
            _ => e.text.clone(),
        };
        out.push(TimelineEntry { at: rfc3339(e.at), kind, who: e.who.clone(), text });
    }
    out
}

fn summary(cx: &Cx<'_>, cdns: &[CdnReport], incidents: &[Incident], timeline: &[TimelineEntry], charts: &Charts) -> Summary {
    let answers: u64 = cx.answers.values().sum();
    let tb: Vec<f64> = cdns.iter().filter_map(|c| c.overall.delivered_tb).collect();
    let delivered_tb = (!tb.is_empty()).then(|| round(tb.iter().sum(), 2));
    let mut total_gbps: BTreeMap<Millis, f64> = BTreeMap::new();
    let mut viewers: BTreeMap<Millis, f64> = BTreeMap::new();
    for b in cx.qoe.values().flatten() {
        if let Some(g) = b.delivered_gbps {
            *total_gbps.entry(b.at).or_default() += g;
        }
        if let Some(v) = b.viewers {
            *viewers.entry(b.at).or_default() += v;
        }
    }
    let peak_gbps = round_opt(total_gbps.values().copied().reduce(f64::max), 2);
    let peak_viewers = round_opt(viewers.values().copied().reduce(f64::max), 0);
    let fail_opens = cx.decisions.iter().filter(|d| d.fails_open).count();
    let overrides = cx.overrides.iter().filter(|o| o.what == "override.add").count();
    let lines = cdns
        .iter()
        .map(|c| CdnLine {
            cdn: c.cdn.clone(),
            colour: c.colour,
            answer_share: c.overall.answer_share,
            delivered_share: c.overall.delivered_share,
            availability_pct: c.overall.availability_pct,
            sla_breach_pct: c.overall.sla_breach_pct,
            incidents: incidents.iter().filter(|i| i.cdn == c.cdn).count(),
        })
        .collect::<Vec<_>>();
    let mut lines = lines;
    lines.sort_by(|a, b| b.answer_share.unwrap_or(0.0).total_cmp(&a.answer_share.unwrap_or(0.0)).then_with(|| a.cdn.cmp(&b.cdn)));
    let _ = (timeline, charts);
    let headline = headline(cx, cdns.len(), answers, peak_viewers, incidents, fail_opens);
    Summary { headline, answers, delivered_tb, peak_gbps, peak_viewers, incidents: incidents.len(), fail_opens, overrides, cdns: lines }
}

fn headline(cx: &Cx<'_>, cdns: usize, answers: u64, viewers: Option<f64>, incidents: &[Incident], fail_opens: usize) -> String {
    let span = calc::span_text(cx.duration() / 1000);
    let audience = viewers.map_or_else(String::new, |v| format!(" to a peak of {} concurrent viewers", calc::compact(v)));
    let mut s = format!("Over {span}, cdnsteer steered {} answers across {cdns} CDNs{audience}.", calc::thousands(answers));
    match incidents.len() {
        0 => s.push_str(" No CDN missed an SLA target long enough to count as an incident."),
        n => {
            let shifted: Vec<u64> = incidents.iter().filter_map(|i| i.half_moved_after_secs).collect();
            let longest = incidents.iter().max_by_key(|i| i.duration_secs).map(|i| format!(" (longest: {} in {}, {})", i.cdn, calc::region_label(&i.region), calc::span_text(i.duration_secs))).unwrap_or_default();
            s.push_str(&format!(" {n} incident{}{longest}", if n == 1 { "" } else { "s" }));
            let viewers: Vec<u64> = incidents.iter().filter_map(|i| i.viewers_halved_after_secs).collect();
            let followed = viewers.iter().max().map_or_else(String::new, |v| format!(" and viewers followed within {v} s"));
            match shifted.iter().max() {
                Some(max) if shifted.len() == n => s.push_str(&format!("; cdnsteer's answers moved away within {max} s{followed}.")),
                Some(_) => s.push_str(&format!("; traffic moved away in {} of them.", shifted.len())),
                None => s.push('.'),
            }
        }
    }
    if fail_opens == 0 {
        s.push_str(" No region ever ran out of healthy CDNs.");
    } else {
        s.push_str(&format!(" A region ran out of healthy CDNs {fail_opens} time{} and answered its last resort.", if fail_opens == 1 { "" } else { "s" }));
    }
    s
}

fn notes(cx: &Cx<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if cx.signals.is_empty() {
        out.push("No signal measurements in the window: TTFB, throughput, cache hit ratio, error rate and availability are unknown.".to_string());
    }
    if cx.answers.is_empty() {
        out.push("No answer counts in the window: shares of answers are unknown.".to_string());
    }
    if !cx.qoe.values().flatten().any(|b| b.delivered_gbps.is_some()) {
        out.push("No telemetry reported delivered traffic: volumes, peaks and the commit comparison are unknown.".to_string());
    }
    if !cx.qoe.values().flatten().any(|b| b.viewers.is_some()) {
        out.push("No telemetry reported viewer experience: QoE figures and viewers affected are unknown.".to_string());
    }
    if cx.shares.is_empty() {
        out.push("No share history in the window: time in state, share timelines and traffic shift times are unknown.".to_string());
    }
    out
}

fn methods(cx: &Cx<'_>) -> Vec<Method> {
    let b = calc::span_text(cx.bucket_ms / 1000);
    let m = |figure: &str, how: String| Method { figure: figure.to_string(), how };
    vec![
        m("TTFB p50", format!("Median of the {b} buckets' medians. Each bucket's median is over every observation in it: probe samples (one fetch each) and telemetry windows (their reported p50).")),
        m("TTFB p95", format!("95th percentile of the {b} buckets' 95th percentiles (within a bucket, over the same observations as the median). Telemetry windows contribute their median, so this is the tail across time, not the per-request tail.")),
        m("TTFB p95 (players)", format!("95th percentile of the {b} buckets' p95 as players reported it (telemetry windows' own p95), when telemetry carried it: the per-request tail.")),
        m("Throughput", format!("Mean of the {b} buckets' mean throughput (probe downloads and telemetry windows); the low tail is the 5th percentile of the buckets.")),
        m("Cache hit ratio", "Cache hits / requests over the observations that report hits, weighted by requests.".to_string()),
        m("Error rate", "Failed requests / requests over the whole window (a failed probe counts as one failed request).".to_string()),
        m("Availability", "As CDN SLAs define it: the error rate of each 5-minute period with requests, availability = 100% minus the mean of those rates. Periods without requests are left out.".to_string()),
        m("SLA target and breach", format!("The target is the zone's `good` bound of each signal (scores 100 there; `bad` scores 0). A {b} bucket is in breach of a signal when its value is worse than the target: TTFB median (the figure the score reads), mean throughput, cache hit ratio, error rate. Time in breach is the sum of those buckets, as a share of the time with measurements.")),
        m("Incident", format!("A stretch of buckets in breach for a CDN in a region, joined across gaps of up to {} s, lasting at least {} s. Shorter blips count in time in breach only.", sla::JOIN_GAP_MS / 1000, sla::MIN_INCIDENT_MS / 1000)),
        m("Time to shift traffic", "From the incident's start to the first moment the CDN's share of the region (as planned; the mean over steered names) was at most half of what it was at the start; drained: at most its warm share plus half a percent.".to_string()),
        m("Viewers affected", format!("Concurrent viewers telemetry reported on the CDN in the region in the bucket the incident began; viewer-minutes: viewers on it x time, summed over the {b} buckets in breach.")),
        m("Time in state", "From the share history (a row at every change and a keyframe every minute): the time each steered name x region spent in each state, summed over names, as a share of the CDN's candidate time.".to_string()),
        m("Share of answers", "Steered DNS answers naming the CDN / all steered answers (of the region, or of all regions for overall), counted by the server per 10 s interval.".to_string()),
        m("Delivered traffic, peak and 95th percentile", format!("From telemetry's delivered_gbps: volume = rate x time over the {b} buckets; peak = the highest bucket (all regions summed); 95th percentile = of the 5-minute mean rates, as burstable billing counts it. Compared with the zone's capacity (`gbps`) and billing commitment (`commit_gbps`).")),
        m("Share changes and fail-opens", format!("Decision events that moved the CDN's share by at least {:.1} percentage points; fail-opens: decisions that left a region with no usable candidate (the last resort answered).", SHARE_EPSILON * 100.0)),
        m("QoE", "Viewers: per bucket the sum of the sources' concurrent viewers; startup median and rebuffering: viewer-weighted means of the windows'; startup p95: 95th percentile of the buckets' p95; failures and exits: sums.".to_string()),
        m("Policy", "SLA targets, thresholds, weights, capacity and commits are the zone files' as given to the report, with the event's share settings; a change made during the window is not reflected.".to_string()),
    ]
}
