//! SLA adherence: every signal bucket against the zone's targets, time in breach, the worst
//! 5-minute windows, and incidents (stretches in breach) with what cdnsteer and the operators
//! did about them and how long the traffic took to move.

use std::collections::BTreeMap;

use super::build::{Cx, PERIOD_MS, SHARE_EPSILON};
use super::calc::{self, round, round_opt};
use super::input::{Bound, StateWord, ZonePolicy};
use super::model::{Action, Breach, Incident, SignalBreach, SlaAdherence, SlaRow, Target, WorstWindow};
use crate::timestamp::{Millis, rfc3339};

/// Breach buckets closer than this are one incident.
pub const JOIN_GAP_MS: Millis = 60_000;
/// Shorter stretches are blips, not incidents.
pub const MIN_INCIDENT_MS: Millis = 60_000;
/// How long after an incident its decisions and overrides are still its own.
const AFTERMATH_MS: Millis = 10 * 60_000;
/// Worst windows listed.
const WORST_WINDOWS: usize = 8;

/// The four signals: name, unit, words.
pub const SIGNALS: [(&str, &str, &str); 4] = [("ttfb", "ms", "TTFB"), ("throughput", "Mbit/s", "throughput"), ("cache_hit", "ratio", "cache hit ratio"), ("error_rate", "ratio", "error rate")];

/// The SLA bound of signal `i`.
pub fn bound(p: &ZonePolicy, i: usize) -> Bound {
    match i {
        0 => p.sla.ttfb_ms,
        1 => p.sla.throughput_mbps,
        2 => p.sla.cache_hit_ratio,
        _ => p.sla.error_rate,
    }
}

/// How far past the target a value is: 0 at the target, 1 at the `bad` bound; negative
/// inside the target. Works both ways (good < bad for latency and errors).
pub fn severity(value: f64, b: Bound) -> f64 {
    let span = b.bad - b.good;
    if span == 0.0 { 0.0 } else { (value - b.good) / span }
}

/// One signal bucket against the targets.
#[derive(Debug, Clone)]
pub struct Eval {
    /// Bucket start.
    pub at: Millis,
    /// Length inside the window, ms.
    pub len: Millis,
    /// TTFB median, throughput, cache hit ratio, error rate.
    pub values: [Option<f64>; 4],
    /// Severity per signal (> 0: in breach).
    pub sev: [Option<f64>; 4],
}

impl Eval {
    /// Signal `i` missed its target.
    pub fn breached(&self, i: usize) -> bool {
        self.sev[i].is_some_and(|s| s > 0.0)
    }

    /// Any signal missed its target.
    pub fn any(&self) -> bool {
        (0..4).any(|i| self.breached(i))
    }
}

/// Evaluated buckets per (CDN, region).
pub type Breaches = BTreeMap<(String, String), Vec<Eval>>;

/// Every signal bucket against its zone's targets.
pub fn evaluate(cx: &Cx<'_>) -> Breaches {
    let mut out = Breaches::new();
    for ((cdn, region), buckets) in &cx.signals {
        let p = cx.policy(cdn, region);
        let evals = buckets
            .iter()
            .map(|b| {
                let values = [b.ttfb_p50_ms, b.throughput_mbps, b.cache_hit_ratio, b.error_rate];
                let mut sev = [None; 4];
                for (i, v) in values.iter().enumerate() {
                    sev[i] = v.map(|v| severity(v, bound(p, i)));
                }
                Eval { at: b.at, len: cx.len_of(b.at), values, sev }
            })
            .collect();
        out.insert((cdn.clone(), region.clone()), evals);
    }
    out
}

/// Stretches in breach: (first index, last index) of the buckets.
fn runs(evals: &[Eval]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, e) in evals.iter().enumerate().filter(|(_, e)| e.any()) {
        match out.last_mut() {
            Some(last) if e.at <= evals[last.1].at + evals[last.1].len + JOIN_GAP_MS => last.1 = i,
            _ => out.push((i, i)),
        }
    }
    out.retain(|(a, b)| evals[*b].at + evals[*b].len - evals[*a].at >= MIN_INCIDENT_MS);
    out
}

/// Incidents, in start order.
pub fn incidents(cx: &Cx<'_>, breaches: &Breaches) -> Vec<Incident> {
    let mut out = Vec::new();
    for ((cdn, region), evals) in breaches {
        for (a, b) in runs(evals) {
            out.push(incident(cx, cdn, region, &evals[a..=b]));
        }
    }
    out.sort_by(|x, y| (&x.start, &x.cdn, &x.region).cmp(&(&y.start, &y.cdn, &y.region)));
    for (i, inc) in out.iter_mut().enumerate() {
        inc.id = format!("I{}", i + 1);
    }
    out
}

/// What the share did after `start`: lowest during the incident, when half had moved, when
/// it was drained, when it was healthy again.
struct Shift {
    before: Option<f64>,
    lowest: Option<f64>,
    half: Option<Millis>,
    drained: Option<Millis>,
    healthy_again: Option<Millis>,
    min_score: Option<f64>,
}

fn shift(cx: &Cx<'_>, cdn: &str, region: &str, start: Millis, end: Millis) -> Shift {
    let key = (cdn.to_string(), region.to_string());
    let series = cx.shares.get(&key).map(Vec::as_slice).unwrap_or_default();
    let warm = cx.policy(cdn, region).thresholds.min_warm_share;
    let before = cx.share_at(cdn, region, start);
    let horizon = (end + AFTERMATH_MS).min(cx.to);
    let mut times: Vec<Millis> = series.iter().flat_map(|s| s.points.iter().map(|p| p.at)).filter(|t| *t > start && *t < horizon).collect();
    times.push(start);
    times.sort_unstable();
    times.dedup();
    let mut s = Shift { before, lowest: None, half: None, drained: None, healthy_again: None, min_score: None };
    let mut left_healthy = false;
    for t in times {
        let Some(now) = cx.share_at(cdn, region, t) else { continue };
        if t < end {
            s.lowest = Some(s.lowest.map_or(now, |l: f64| l.min(now)));
            for p in series.iter().filter_map(|x| calc::point_at(&x.points, t)) {
                if let Some(sc) = p.score {
                    s.min_score = Some(s.min_score.map_or(sc, |m: f64| m.min(sc)));
                }
            }
        }
        if let Some(b) = before.filter(|b| *b >= 0.05) {
            if s.half.is_none() && now <= b / 2.0 {
                s.half = Some(t);
            }
            if s.drained.is_none() && now <= warm + SHARE_EPSILON {
                s.drained = Some(t);
            }
        }
        let healthy = series.iter().filter_map(|x| calc::point_at(&x.points, t)).all(|p| p.state == StateWord::Healthy);
        if !healthy {
            left_healthy = true;
        } else if left_healthy && s.healthy_again.is_none() {
            s.healthy_again = Some(t);
        }
    }
    s
}

fn incident(cx: &Cx<'_>, cdn: &str, region: &str, evals: &[Eval]) -> Incident {
    let (start, end) = (evals[0].at, evals[evals.len() - 1].at + evals[evals.len() - 1].len);
    let p = cx.policy(cdn, region);
    let mut breaches: Vec<(f64, Breach)> = Vec::new();
    for (i, (signal, unit, _)) in SIGNALS.iter().enumerate() {
        let hit: Vec<&Eval> = evals.iter().filter(|e| e.breached(i)).collect();
        let Some(worst) = hit.iter().max_by(|a, b| a.sev[i].unwrap_or(0.0).total_cmp(&b.sev[i].unwrap_or(0.0))) else { continue };
        let b = bound(p, i);
        let digits = if i >= 2 { 4 } else { 1 };
        let breach = Breach { signal, unit, worst: round(worst.values[i].unwrap_or(0.0), digits), target: b.good, bad: b.bad, secs: hit.iter().map(|e| e.len).sum::<Millis>() / 1000 };
        breaches.push((worst.sev[i].unwrap_or(0.0), breach));
    }
    breaches.sort_by(|a, b| b.0.total_cmp(&a.0));
    let sh = shift(cx, cdn, region, start, end);
    let actions = actions(cx, cdn, region, start, end);
    let (viewers_at_start, viewer_minutes, failures, exits) = viewers(cx, cdn, region, evals, start, end);
    let viewers_halved = viewers_at_start.and_then(|v0| {
        let q = cx.qoe.get(&(cdn.to_string(), region.to_string()))?;
        q.iter().find(|b| b.at >= start && b.viewers.is_some_and(|v| v <= v0 / 2.0)).map(|b| (b.at + cx.len_of(b.at) - start) / 1000)
    });
    let mut inc = Incident {
        id: String::new(),
        cdn: cdn.to_string(),
        region: region.to_string(),
        start: rfc3339(start),
        end: rfc3339(end),
        duration_secs: (end - start) / 1000,
        breaches: breaches.into_iter().map(|b| b.1).collect(),
        share_before: round_opt(sh.before, 4),
        share_lowest: round_opt(sh.lowest, 4),
        score_lowest: round_opt(sh.min_score, 1),
        half_moved_after_secs: sh.half.map(|t| (t - start) / 1000),
        drained_after_secs: sh.drained.map(|t| (t - start) / 1000),
        viewers_halved_after_secs: viewers_halved,
        response: String::new(),
        actions,
        viewers_at_start: round_opt(viewers_at_start, 0),
        viewer_minutes: round_opt(viewer_minutes, 0),
        playback_failures: failures,
        exits_before_start: exits,
    };
    inc.response = response(cx, &inc, &sh, p);
    inc
}

fn actions(cx: &Cx<'_>, cdn: &str, region: &str, start: Millis, end: Millis) -> Vec<Action> {
    let mut out: Vec<(Millis, Action)> = Vec::new();
    let (a, b) = (start.saturating_sub(cx.bucket_ms), end + AFTERMATH_MS);
    let mut decreases = 0;
    for d in cx.decisions.iter().filter(|d| d.region == region && d.at >= a && d.at < b) {
        let Some((old, new)) = d.change(cdn) else { continue };
        if (new - old).abs() < SHARE_EPSILON && !d.fails_open {
            continue;
        }
        // Every cut while it lasts; after it, only the first step back up.
        if new < old {
            decreases += 1;
            if decreases > 4 {
                continue;
            }
        } else if out.iter().any(|(t, x)| *t >= end && x.by == "cdnsteer" && x.text.contains("share up")) {
            continue;
        }
        let by = if d.reason.contains(" by ovr-") { "operator" } else { "cdnsteer" };
        let dir = if new < old { "down" } else { "up" };
        let text = format!("{cdn} share {dir} {:.0}% -> {:.0}%: {}", old * 100.0, new * 100.0, d.reason);
        out.push((d.at, Action { at: rfc3339(d.at), by, text }));
    }
    for o in cx.overrides.iter().filter(|o| o.cdn == cdn && o.region.as_deref().is_none_or(|r| r == region) && o.at + AFTERMATH_MS >= start && o.at < b) {
        let verb = o.what.strip_prefix("override.").unwrap_or(&o.what);
        let scope = o.region.as_deref().map_or_else(|| "every region".to_string(), calc::region_label);
        out.push((o.at, Action { at: rfc3339(o.at), by: "operator", text: format!("{verb} {} of {cdn} in {scope} by {}: {}", o.kind, o.author, o.reason) }));
    }
    out.sort_by_key(|(t, _)| *t);
    out.into_iter().map(|(_, a)| a).collect()
}

fn viewers(cx: &Cx<'_>, cdn: &str, region: &str, evals: &[Eval], start: Millis, end: Millis) -> (Option<f64>, Option<f64>, Option<u64>, Option<u64>) {
    let Some(q) = cx.qoe.get(&(cdn.to_string(), region.to_string())) else { return (None, None, None, None) };
    let at_start = q.iter().rev().find(|b| b.at <= start && b.viewers.is_some()).or_else(|| q.iter().find(|b| b.at >= start && b.viewers.is_some())).and_then(|b| b.viewers);
    let by_at: BTreeMap<Millis, f64> = q.iter().filter_map(|b| b.viewers.map(|v| (b.at, v))).collect();
    let minutes: Vec<f64> = evals.iter().filter(|e| e.any()).filter_map(|e| by_at.get(&e.at).map(|v| v * e.len as f64 / 60_000.0)).collect();
    let inside: Vec<_> = q.iter().filter(|b| b.at >= start && b.at < end).collect();
    let any_players = inside.iter().any(|b| b.viewers.is_some());
    let failures = any_players.then(|| inside.iter().map(|b| b.playback_failures).sum());
    let exits = any_players.then(|| inside.iter().map(|b| b.exits_before_start).sum());
    (at_start, (!minutes.is_empty()).then(|| minutes.iter().sum()), failures, exits)
}

fn response(cx: &Cx<'_>, inc: &Incident, sh: &Shift, p: &ZonePolicy) -> String {
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let mut s = match (sh.before, inc.half_moved_after_secs, inc.drained_after_secs) {
        (Some(b), _, _) if b < 0.05 => format!("It carried little traffic here ({}), so there was little to move.", pct(b)),
        (Some(b), Some(h), Some(d)) => format!("cdnsteer's answers moved half of its {} share away within {h} s and drained it to {} within {d} s.", pct(b), pct(sh.lowest.unwrap_or(0.0))),
        (Some(b), Some(h), None) => format!("cdnsteer's answers moved half of its {} share away within {h} s (lowest {}).", pct(b), pct(sh.lowest.unwrap_or(0.0))),
        (Some(b), None, _) => {
            let score = sh.min_score.map_or_else(String::new, |m| format!("; its score bottomed at {m:.0}, above the drain threshold of {:.0}", p.thresholds.down));
            format!("Its share stayed near {} (lowest {}){score}.", pct(b), pct(sh.lowest.unwrap_or(b)))
        }
        (None, _, _) => "No share history for it here.".to_string(),
    };
    if let Some(v) = inc.viewers_halved_after_secs {
        s.push_str(&format!(" Viewers on it had halved within {v} s (players follow with the DNS TTL)."));
    }
    if inc.actions.iter().any(|a| a.by == "operator") {
        s.push_str(" An operator acted too (see the actions).");
    }
    if let Some(t) = sh.healthy_again {
        s.push_str(&format!(" Healthy again at {}.", cx.hm(t)));
    }
    s
}

/// The targets, time in breach per CDN x region, and the worst windows.
pub fn adherence(cx: &Cx<'_>, breaches: &Breaches) -> SlaAdherence {
    let b = calc::span_text(cx.bucket_ms / 1000);
    let mut targets = Vec::new();
    for z in &cx.input.zones {
        for (i, (signal, unit, _)) in SIGNALS.iter().enumerate() {
            let measured = match i {
                0 => format!("median TTFB of each {b} bucket"),
                1 => format!("mean throughput of each {b} bucket"),
                2 => format!("cache hit ratio of each {b} bucket"),
                _ => format!("error rate of each {b} bucket"),
            };
            let bd = bound(z, i);
            targets.push(Target { zone: z.zone.clone(), signal, measured, unit, target: bd.good, bad: bd.bad });
        }
    }
    let window = cx.duration() as f64;
    let mut rows = Vec::new();
    let mut worst: Vec<(f64, WorstWindow)> = Vec::new();
    for ((cdn, region), evals) in breaches {
        let measured: Millis = evals.iter().map(|e| e.len).sum();
        let signals = SIGNALS
            .iter()
            .enumerate()
            .map(|(i, (signal, _, _))| {
                let ms: Millis = evals.iter().filter(|e| e.breached(i)).map(|e| e.len).sum();
                SignalBreach { signal, secs: ms / 1000, pct: round(100.0 * ms as f64 / window, 2) }
            })
            .collect();
        let any: Millis = evals.iter().filter(|e| e.any()).map(|e| e.len).sum();
        let p = cx.policy(cdn, region);
        rows.push(SlaRow { cdn: cdn.clone(), region: region.clone(), measured_secs: measured / 1000, signals, any_secs: any / 1000, any_pct: round(100.0 * any as f64 / window, 2), below_down_secs: below_down(cx, cdn, region, p.thresholds.down) / 1000 });
        worst.extend(worst_windows(cx, cdn, region, p));
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.start.cmp(&b.1.start)));
    SlaAdherence { targets, rows, worst_windows: worst.into_iter().take(WORST_WINDOWS).map(|w| w.1).collect() }
}

/// Time the pair's score was below `down` (mean over its steered names), ms.
fn below_down(cx: &Cx<'_>, cdn: &str, region: &str, down: f64) -> Millis {
    let Some(series) = cx.shares.get(&(cdn.to_string(), region.to_string())) else { return 0 };
    let mut total = 0;
    for s in series {
        for (i, p) in s.points.iter().enumerate() {
            let end = s.points.get(i + 1).map_or(cx.to, |n| n.at.min(cx.to));
            if p.score.is_some_and(|sc| sc < down) && end > p.at.max(cx.from) {
                total += end - p.at.max(cx.from);
            }
        }
    }
    total / series.len().max(1) as Millis
}

/// The worst 5-minute window per signal of a pair, when it is past the target.
fn worst_windows(cx: &Cx<'_>, cdn: &str, region: &str, p: &ZonePolicy) -> Vec<(f64, WorstWindow)> {
    let Some(buckets) = cx.signals.get(&(cdn.to_string(), region.to_string())) else { return Vec::new() };
    #[derive(Default)]
    struct Acc {
        ttfb: Vec<f64>,
        thr: Vec<f64>,
        hits: (f64, f64),
        req: u64,
        err: u64,
    }
    let mut periods: BTreeMap<Millis, Acc> = BTreeMap::new();
    for b in buckets {
        let a = periods.entry((b.at - cx.from) / PERIOD_MS).or_default();
        a.ttfb.extend(b.ttfb_p50_ms);
        a.thr.extend(b.throughput_mbps);
        if let Some(h) = b.cache_hit_ratio {
            let w = b.requests.max(1) as f64;
            a.hits.0 += h * w;
            a.hits.1 += w;
        }
        a.req += b.requests;
        a.err += b.errors;
    }
    let mut out = Vec::new();
    for (i, (signal, unit, _)) in SIGNALS.iter().enumerate() {
        let bd = bound(p, i);
        let best = periods
            .iter()
            .filter_map(|(k, a)| {
                let v = match i {
                    0 => calc::mean(&a.ttfb),
                    1 => calc::mean(&a.thr),
                    2 => (a.hits.1 > 0.0).then(|| a.hits.0 / a.hits.1),
                    _ => (a.req > 0).then(|| a.err as f64 / a.req as f64),
                }?;
                Some((*k, v, severity(v, bd)))
            })
            .filter(|x| x.2 > 0.0)
            .max_by(|a, b| a.2.total_cmp(&b.2).then(b.0.cmp(&a.0)));
        if let Some((k, v, sev)) = best {
            let start = cx.from + k * PERIOD_MS;
            let digits = if i >= 2 { 4 } else { 1 };
            out.push((sev, WorstWindow { cdn: cdn.to_string(), region: region.to_string(), signal, start: rfc3339(start), end: rfc3339((start + PERIOD_MS).min(cx.to)), value: round(v, digits), target: bd.good, unit }));
        }
    }
    out
}
