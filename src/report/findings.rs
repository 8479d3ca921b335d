//! Findings and recommendations, computed from the figures: each states what the data shows
//! and points at the table, chart or incident that shows it; each recommendation names the
//! zone-file setting, its value now and the value suggested, with the rule that gave it.

use super::build::Cx;
use super::calc::{self, round};
use super::model::{CdnReport, Evidence, Finding, Incident, Recommendation, Severity, SlaAdherence};
use super::sla::SIGNALS;
use crate::timestamp::parse_rfc3339;

/// Availability below this is a finding.
pub const AVAILABILITY_TARGET: f64 = 99.9;
/// Traffic should leave a failing CDN within this long.
pub const SHIFT_TARGET_SECS: u64 = 60;
/// Each percent of the event in breach takes this fraction off a CDN's weight in the region.
pub const WEIGHT_CUT_PER_PCT: f64 = 0.05;

/// A finding before it is numbered: severity, text, evidence.
type Draft = (Severity, String, Vec<Evidence>);

/// The HTML anchor of a region or CDN x region.
pub fn slug(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

fn ev(label: impl Into<String>, anchor: impl Into<String>) -> Evidence {
    Evidence { label: label.into(), anchor: anchor.into() }
}

fn incident_ev(i: &Incident) -> Evidence {
    ev(format!("incident {}", i.id), format!("incident-{}", i.id))
}

fn sla_ev(cdn: &str, region: &str) -> Evidence {
    ev(format!("SLA table: {cdn} in {}", calc::region_label(region)), format!("sla-{}-{}", slug(cdn), slug(region)))
}

fn region_chart_ev(region: &str) -> Evidence {
    ev(format!("{} share chart", calc::region_label(region)), format!("region-{}", slug(region)))
}

fn ms(text: &str) -> u64 {
    parse_rfc3339(text).unwrap_or(0)
}

fn times(n: u64) -> String {
    match n {
        0 => "never".to_string(),
        1 => "once".to_string(),
        2 => "twice".to_string(),
        n => format!("{n} times"),
    }
}

fn signal_words(list: &[&str]) -> String {
    let words: Vec<&str> = list.iter().filter_map(|s| SIGNALS.iter().find(|x| x.0 == *s).map(|x| x.2)).collect();
    match words.as_slice() {
        [] => "SLA".to_string(),
        [a] => (*a).to_string(),
        [a, b] => format!("{a} and {b}"),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Findings (most serious first) and recommendations.
pub fn derive(cx: &Cx<'_>, cdns: &[CdnReport], incidents: &[Incident], sla: &SlaAdherence) -> (Vec<Finding>, Vec<Recommendation>) {
    let mut f: Vec<Draft> = Vec::new();
    breaches(cx, cdns, incidents, sla, &mut f);
    shifts(incidents, &mut f);
    viewers(cx, incidents, &mut f);
    fail_opens(cx, &mut f);
    availability(cx, cdns, &mut f);
    capacity(cdns, &mut f);
    operators(cx, &mut f);
    // Stable: by severity, then in the order found.
    let mut indexed: Vec<(usize, Draft)> = f.into_iter().enumerate().collect();
    indexed.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(a.0.cmp(&b.0)));
    let findings: Vec<Finding> = indexed.into_iter().enumerate().map(|(i, (_, (severity, text, evidence)))| Finding { id: format!("F{}", i + 1), severity, text, evidence }).collect();
    let mut recs = Vec::new();
    weights(cx, sla, incidents, &findings, &mut recs);
    thresholds(cx, cdns, incidents, &findings, &mut recs);
    commits(cdns, &findings, &mut recs);
    let recs = recs.into_iter().enumerate().map(|(i, mut r)| {
        r.id = format!("R{}", i + 1);
        r
    });
    (findings, recs.collect())
}

fn breaches(cx: &Cx<'_>, cdns: &[CdnReport], incidents: &[Incident], sla: &SlaAdherence, f: &mut Vec<Draft>) {
    for row in &sla.rows {
        let own: Vec<&Incident> = incidents.iter().filter(|i| i.cdn == row.cdn && i.region == row.region).collect();
        if own.is_empty() && row.any_pct < 1.0 {
            continue;
        }
        let top = row.signals.iter().map(|s| s.secs).max().unwrap_or(0);
        let mut named: Vec<(&str, u64)> = row.signals.iter().filter(|s| s.secs > 0 && s.secs * 4 >= top).map(|s| (s.signal, s.secs)).collect();
        named.sort_by_key(|n| std::cmp::Reverse(n.1));
        let words = signal_words(&named.iter().map(|n| n.0).collect::<Vec<_>>());
        let s = if named.len() > 1 { "s" } else { "" };
        let region = calc::region_label(&row.region);
        let mostly = own.iter().max_by_key(|i| i.duration_secs).map_or_else(String::new, |i| format!(", mostly {}-{}", cx.hm(ms(&i.start)), cx.hm(ms(&i.end))));
        let drains = cdns.iter().find(|c| c.cdn == row.cdn).and_then(|c| c.regions.iter().find(|r| r.region == row.region)).map_or(0, |r| r.stats.health_drains + r.stats.operator_drains);
        let drained = format!(", and was drained {}", times(drains));
        let text = format!("{} missed the {words} target{s} in {region} for {}% of the event ({}){mostly}{drained}.", row.cdn, fmt_pct(row.any_pct), calc::span_text(row.any_secs));
        let past_bad = own.iter().any(|i| i.breaches.iter().any(|b| if b.target < b.bad { b.worst >= b.bad } else { b.worst <= b.bad }));
        let sev = if past_bad || row.any_pct >= 5.0 { Severity::Critical } else { Severity::Warning };
        let mut evidence: Vec<Evidence> = own.iter().map(|i| incident_ev(i)).collect();
        evidence.push(sla_ev(&row.cdn, &row.region));
        evidence.push(region_chart_ev(&row.region));
        f.push((sev, text, evidence));
    }
}

fn fmt_pct(p: f64) -> String {
    if p >= 10.0 { format!("{p:.0}") } else { format!("{p:.1}") }
}

fn shifts(incidents: &[Incident], f: &mut Vec<Draft>) {
    let movable: Vec<&Incident> = incidents.iter().filter(|i| i.share_before.is_some_and(|s| s >= 0.05)).collect();
    if movable.is_empty() {
        return;
    }
    let mut moved: Vec<u64> = movable.iter().filter_map(|i| i.half_moved_after_secs).collect();
    let stuck: Vec<&&Incident> = movable.iter().filter(|i| i.half_moved_after_secs.is_none()).collect();
    let evidence: Vec<Evidence> = movable.iter().map(|i| incident_ev(i)).collect();
    if !moved.is_empty() {
        moved.sort_unstable();
        let (median, max) = (moved[(moved.len() - 1) / 2], moved[moved.len() - 1]);
        let n = moved.len();
        let first_operator = |i: &Incident| i.actions.iter().filter(|a| a.by == "operator").map(|a| ms(&a.at)).min();
        let before_noc = movable.iter().all(|i| match (i.half_moved_after_secs, first_operator(i)) {
            (Some(h), Some(op)) => ms(&i.start) + h * 1000 <= op,
            _ => true,
        });
        let noc = if before_noc { ", before any operator action" } else { "" };
        let mut viewers: Vec<u64> = movable.iter().filter_map(|i| i.viewers_halved_after_secs).collect();
        viewers.sort_unstable();
        let followed = viewers.last().map_or_else(String::new, |v| format!("; the viewers on it had halved within {v} s (players follow with the DNS TTL)"));
        let text = if n == 1 {
            let i = movable.iter().find(|i| i.half_moved_after_secs.is_some()).map_or(movable[0], |i| *i);
            format!("cdnsteer's answers moved half of {}'s {} share away {max} s after the breach began{noc}{followed}.", i.cdn, calc::region_label(&i.region))
        } else {
            format!("In {n} incidents cdnsteer's answers moved half of the failing CDN's share away within {max} s of the breach (median {median} s){noc}{followed}.")
        };
        let sev = if max <= SHIFT_TARGET_SECS { Severity::Good } else { Severity::Warning };
        f.push((sev, text, evidence.clone()));
    }
    for i in stuck {
        let score = i.score_lowest.map_or_else(String::new, |s| format!("; its score bottomed at {s:.0}"));
        f.push((Severity::Warning, format!("In incident {}, {} kept most of its traffic in {} while missing its targets{score}.", i.id, i.cdn, calc::region_label(&i.region)), vec![incident_ev(i)]));
    }
}

fn viewers(cx: &Cx<'_>, incidents: &[Incident], f: &mut Vec<Draft>) {
    for i in incidents.iter().filter(|i| i.viewer_minutes.is_some_and(|v| v >= 1.0)) {
        let (start, end) = (ms(&i.start), ms(&i.end));
        let Some(q) = cx.qoe.get(&(i.cdn.clone(), i.region.clone())) else { continue };
        let weighted = |inside: bool| {
            let (s, w) = q.iter().filter(|b| (b.at >= start && b.at < end) == inside).filter_map(|b| b.rebuffer_ratio.map(|r| (r, b.viewers.unwrap_or(1.0).max(1.0)))).fold((0.0, 0.0), |a, (r, w)| (a.0 + r * w, a.1 + w));
            (w > 0.0).then(|| s / w)
        };
        let mut text = format!("{} viewers were on {} in {} when incident {} began", calc::compact(i.viewers_at_start.unwrap_or(0.0)), i.cdn, calc::region_label(&i.region), i.id);
        if let (Some(a), Some(b)) = (weighted(true), weighted(false)) {
            text.push_str(&format!("; they rebuffered {:.1}% of the time during it, against {:.2}% the rest of the event", a * 100.0, b * 100.0));
        }
        if let Some(n) = i.playback_failures.filter(|n| *n > 0) {
            text.push_str(&format!("; {} playbacks failed", calc::thousands(n)));
        }
        if let Some(n) = i.exits_before_start.filter(|n| *n > 0) {
            text.push_str(&format!(" and {} viewers left before the stream started", calc::thousands(n)));
        }
        text.push('.');
        f.push((Severity::Info, text, vec![incident_ev(i)]));
    }
}

fn fail_opens(cx: &Cx<'_>, f: &mut Vec<Draft>) {
    for r in &cx.regions {
        let n = cx.decisions.iter().filter(|d| &d.region == r && d.fails_open).count() as u64;
        if n > 0 {
            let text = format!("{} ran out of usable CDNs {} and answered with its last resort.", calc::region_label(r), times(n));
            f.push((Severity::Critical, text, vec![ev("timeline", "timeline"), region_chart_ev(r)]));
        }
    }
}

fn availability(cx: &Cx<'_>, cdns: &[CdnReport], f: &mut Vec<Draft>) {
    let known: Vec<(&CdnReport, f64)> = cdns.iter().filter_map(|c| c.overall.availability_pct.map(|a| (c, a))).collect();
    let low: Vec<&(&CdnReport, f64)> = known.iter().filter(|(_, a)| *a < AVAILABILITY_TARGET).collect();
    for (c, a) in &low {
        let worst = c.overall.worst_period.as_ref().map_or_else(String::new, |w| format!("; worst 5-minute period {} with {:.2}% errors", cx.hm(ms(&w.start)), w.error_rate * 100.0));
        f.push((Severity::Warning, format!("{}'s availability was {a:.2}% by the SLA definition{worst}.", c.cdn), vec![ev(format!("{} detail", c.cdn), format!("cdn-{}", slug(&c.cdn)))]));
    }
    if low.is_empty()
        && let Some((c, a)) = known.iter().min_by(|x, y| x.1.total_cmp(&y.1)) {
            f.push((Severity::Good, format!("Every CDN stayed at or above {AVAILABILITY_TARGET}% availability by the SLA definition (lowest: {} at {a:.3}%).", c.cdn), vec![ev("CDN summary", "summary")]));
        }
}

fn capacity(cdns: &[CdnReport], f: &mut Vec<Draft>) {
    // One finding per CDN, every limit it came near or passed in one sentence.
    for c in cdns {
        let cap = &c.capacity;
        let target = cap.target_utilisation.unwrap_or(1.0) * 100.0;
        let mut parts: Vec<String> = Vec::new();
        let mut sev = Severity::Info;
        if let (Some(p95), Some(commit), Some(pct)) = (cap.p95_gbps, cap.commit_gbps, cap.p95_of_commit_pct) {
            if p95 > commit {
                parts.push(format!("its 95th percentile was {p95:.0} Gbps, {pct:.0}% of its {commit:.0} Gbps commit (about {:.0} Gbps of overage)", p95 - commit));
                sev = Severity::Warning;
            } else if pct < 50.0 {
                parts.push(format!("it used {pct:.0}% of its {commit:.0} Gbps commit at the 95th percentile ({p95:.0} Gbps)"));
            }
        }
        if let (Some(peak), Some(gbps), Some(pct)) = (cap.peak_gbps, cap.gbps, cap.peak_of_capacity_pct)
            && pct > target {
                parts.push(format!("it peaked at {peak:.0} Gbps, {pct:.0}% of its {gbps:.0} Gbps capacity (steering aims at {target:.0}%)"));
                sev = Severity::Warning;
            }
        for r in &cap.regions {
            if let (Some(peak), Some(pct)) = (r.peak_gbps, r.peak_pct)
                && pct > target {
                    parts.push(format!("it reached {peak:.0} Gbps in {}, {pct:.0}% of its {:.0} Gbps limit there", calc::region_label(&r.region), r.gbps));
                    sev = Severity::Warning;
                }
        }
        if parts.is_empty() {
            continue;
        }
        let text = format!("{}: {}.", c.cdn, parts.join("; "));
        f.push((sev, text, vec![ev(format!("capacity table: {}", c.cdn), format!("capacity-{}", slug(&c.cdn)))]));
    }
}

fn operators(cx: &Cx<'_>, f: &mut Vec<Draft>) {
    let added: Vec<&super::build::OverrideEvent> = cx.overrides.iter().filter(|o| o.what == "override.add").collect();
    if added.is_empty() {
        return;
    }
    let list: Vec<String> = added
        .iter()
        .take(3)
        .map(|o| format!("{} {} in {} at {} ({})", o.kind, o.cdn, o.region.as_deref().map_or_else(|| "every region".to_string(), calc::region_label), cx.hm(o.at), o.reason))
        .collect();
    let more = if added.len() > 3 { format!(" and {} more", added.len() - 3) } else { String::new() };
    let n = added.len();
    f.push((Severity::Info, format!("The NOC added {n} override{}: {}{more}.", if n == 1 { "" } else { "s" }, list.join("; ")), vec![ev("timeline", "timeline")]));
}

/// Findings whose evidence includes `anchor`.
fn cite(findings: &[Finding], anchor: &str) -> Vec<Evidence> {
    findings.iter().filter(|f| f.evidence.iter().any(|e| e.anchor == anchor)).map(|f| ev(format!("finding {}", f.id), format!("finding-{}", f.id))).collect()
}

/// Zone-file path of a region: `regions.countries.KR`.
fn region_path(region: &str) -> String {
    if let Some(c) = region.strip_prefix("country:") {
        format!("regions.countries.{c}")
    } else if let Some(c) = region.strip_prefix("continent:") {
        format!("regions.continents.{c}")
    } else if let Some(n) = region.strip_prefix("network:") {
        format!("regions.networks.{n}")
    } else {
        format!("regions.{region}")
    }
}

/// `live` for `live.example.com.` in `example.com.`.
fn relative(name: &str, zone: &str) -> String {
    name.strip_suffix(zone).map_or(name, |n| n.trim_end_matches('.')).to_string()
}

fn rec(area: &'static str, text: String, setting: Option<String>, current: Option<String>, suggested: Option<String>, evidence: Vec<Evidence>) -> Recommendation {
    Recommendation { id: String::new(), area, text, setting, current, suggested, evidence }
}

fn weights(cx: &Cx<'_>, sla: &SlaAdherence, incidents: &[Incident], findings: &[Finding], out: &mut Vec<Recommendation>) {
    for row in sla.rows.iter().filter(|r| r.any_pct >= 1.0 && incidents.iter().any(|i| i.cdn == r.cdn && i.region == r.region)) {
        let Some(weights) = cx.weights(&row.region) else { continue };
        let Some(w) = weights.iter().find(|(c, _)| *c == row.cdn).map(|x| x.1) else { continue };
        let cut = (row.any_pct * WEIGHT_CUT_PER_PCT).min(0.5);
        let new = (w * (1.0 - cut)).round();
        if new >= w || weights.len() < 2 {
            continue;
        }
        // The freed points go to the candidate with the best record in the region.
        let pct_of = |c: &str| sla.rows.iter().find(|r| r.cdn == c && r.region == row.region).map_or(0.0, |r| r.any_pct);
        let Some((best, wb)) = weights.iter().filter(|(c, _)| *c != row.cdn).min_by(|a, b| pct_of(&a.0).total_cmp(&pct_of(&b.0)).then(b.1.total_cmp(&a.1))) else { continue };
        let moved = w - new;
        let zone = cx.policy(&row.cdn, &row.region);
        let name = zone.names.iter().find(|n| n.regions.iter().any(|r| r.region == row.region)).map_or_else(|| "NAME".to_string(), |n| relative(&n.name, &zone.zone));
        let region = calc::region_label(&row.region);
        let text = format!(
            "In {region}, move {moved:.0} weight points from {} to {best}: {} missed its targets there for {}% of the event, {best} for {}%. Rule: each 1% of the event in breach takes {:.0}% off the weight (at most half); the best-behaved candidate takes the points. Steering still reacts in seconds; this only changes where traffic starts and returns to.",
            row.cdn,
            row.cdn,
            fmt_pct(row.any_pct),
            fmt_pct(pct_of(best)),
            WEIGHT_CUT_PER_PCT * 100.0
        );
        let setting = format!("steered.{name}.{}", region_path(&row.region));
        let fmt = |ws: &[(String, f64)]| ws.iter().map(|(c, v)| format!("{c}: {v:.0}")).collect::<Vec<_>>().join(", ");
        let after: Vec<(String, f64)> = weights.iter().map(|(c, v)| (c.clone(), if *c == row.cdn { new } else if c == best { wb + moved } else { *v })).collect();
        let mut evidence = cite(findings, &format!("sla-{}-{}", slug(&row.cdn), slug(&row.region)));
        evidence.push(ev(format!("SLA table: {} in {region}", row.cdn), format!("sla-{}-{}", slug(&row.cdn), slug(&row.region))));
        out.push(rec("weights", text, Some(setting), Some(format!("{{{}}}", fmt(weights))), Some(format!("{{{}}}", fmt(&after))), evidence));
    }
}

fn thresholds(cx: &Cx<'_>, cdns: &[CdnReport], incidents: &[Incident], findings: &[Finding], out: &mut Vec<Recommendation>) {
    let Some(zone) = cx.input.zones.first() else { return };
    let t = &zone.thresholds;
    // Breaches that never pushed the score below `down`: the threshold was too low to act.
    let stuck: Vec<&Incident> = incidents.iter().filter(|i| i.share_before.is_some_and(|s| s >= 0.05) && i.half_moved_after_secs.is_none() && i.score_lowest.is_some_and(|s| s >= t.down)).collect();
    if let Some(low) = stuck.iter().filter_map(|i| i.score_lowest).reduce(f64::min) {
        let suggested = (low + 5.0).ceil().min(t.up - 5.0);
        if suggested > t.down {
            let ids: Vec<String> = stuck.iter().map(|i| i.id.clone()).collect();
            let text = format!("Raise the drain threshold: in {} the CDN missed its targets but its score stayed at {low:.0} or above, over the threshold of {:.0}, so cdnsteer kept sending viewers to it.", ids.join(", "), t.down);
            out.push(rec("thresholds", text, Some("health.thresholds.down".into()), Some(format!("{:.0}", t.down)), Some(format!("{suggested:.0}")), stuck.iter().map(|i| incident_ev(i)).collect()));
        }
    }
    let mut moved: Vec<u64> = incidents.iter().filter_map(|i| i.half_moved_after_secs).collect();
    moved.sort_unstable();
    if let Some(median) = moved.get(moved.len().saturating_sub(1) / 2).filter(|m| **m > SHIFT_TARGET_SECS) {
        let suggested = round((t.half_life_secs / 2.0).max(1.0), 1);
        let text = format!("Shorten the score smoothing: traffic took a median {median} s to move away from a failing CDN, beyond the {SHIFT_TARGET_SECS} s aim.");
        out.push(rec("thresholds", text, Some("health.smoothing_half_life_secs".into()), Some(format!("{}", t.half_life_secs)), Some(format!("{suggested}")), incidents.iter().map(incident_ev).collect()));
    }
    let flapping: Vec<(&str, &str, u64)> = cdns.iter().flat_map(|c| c.regions.iter().map(move |r| (c.cdn.as_str(), r.region.as_str(), r.stats.health_drains))).filter(|x| x.2 >= 3).collect();
    if let Some((cdn, region, n)) = flapping.iter().max_by_key(|x| x.2) {
        let text = format!("Hold drained CDNs out longer: {cdn} was drained by health {n} times in {}, coming back before it was steady.", calc::region_label(region));
        out.push(rec("thresholds", text, Some("health.thresholds.up_hold_secs".into()), Some(format!("{:.0}", t.up_hold_secs)), Some(format!("{:.0}", (t.up_hold_secs * 2.0).max(60.0))), vec![sla_ev(cdn, region)]));
    }
    if out.iter().all(|r| r.area != "thresholds") && !incidents.is_empty() {
        let text = format!("Keep the thresholds (down {:.0}, up {:.0}, hold {:.0} s): every incident's traffic moved within the {SHIFT_TARGET_SECS} s aim and no CDN flapped.", t.down, t.up, t.up_hold_secs);
        let mut evidence: Vec<Evidence> = findings.iter().filter(|f| f.severity == Severity::Good && f.text.contains("moved half")).map(|f| ev(format!("finding {}", f.id), format!("finding-{}", f.id))).collect();
        evidence.extend(incidents.iter().map(incident_ev));
        out.push(rec("thresholds", text, None, None, None, evidence));
    }
}

/// `x` rounded up to a multiple of 10.
fn ceil10(x: f64) -> f64 {
    (x / 10.0).ceil() * 10.0
}

fn commits(cdns: &[CdnReport], findings: &[Finding], out: &mut Vec<Recommendation>) {
    for c in cdns {
        let anchor = format!("capacity-{}", slug(&c.cdn));
        let e = || {
            let mut v = cite(findings, &anchor);
            v.push(ev(format!("capacity table: {}", c.cdn), anchor.clone()));
            v
        };
        let cap = &c.capacity;
        let Some(p95) = cap.p95_gbps else { continue };
        let setting = Some(format!("health.capacity.{}.commit_gbps", c.cdn));
        match cap.commit_gbps {
            Some(commit) if p95 > commit => {
                let text = format!("Raise {}'s commit: the 95th percentile ({p95:.0} Gbps) ran above it; a commit 10% above this event's 95th percentile avoids the overage if the audience repeats.", c.cdn);
                out.push(rec("commit", text, setting, Some(format!("{commit:.0}")), Some(format!("{:.0}", ceil10(p95 * 1.1))), e()));
            }
            Some(commit) if p95 < commit * 0.5 => {
                let text = format!("{}'s commit was mostly unused ({p95:.0} Gbps at the 95th percentile); at the next renewal a commit 20% above this event's 95th percentile would cover a similar event.", c.cdn);
                out.push(rec("commit", text, setting, Some(format!("{commit:.0}")), Some(format!("{:.0}", ceil10(p95 * 1.2))), e()));
            }
            None if p95 > 0.0 => {
                let text = format!("Record {}'s billing commitment as commit_gbps so the next report can check it (its 95th percentile this event: {p95:.0} Gbps).", c.cdn);
                out.push(rec("commit", text, setting, None, None, e()));
            }
            _ => {}
        }
        if let (Some(peak), Some(gbps)) = (cap.peak_gbps, cap.gbps) {
            let target = cap.target_utilisation.unwrap_or(1.0);
            if peak > gbps * target {
                let text = format!("Ask {} for more capacity, or plan less traffic on it: it peaked at {peak:.0} Gbps, past {:.0}% of its {gbps:.0} Gbps.", c.cdn, target * 100.0);
                out.push(rec("capacity", text, Some(format!("health.capacity.{}.gbps", c.cdn)), Some(format!("{gbps:.0}")), Some(format!("{:.0}", ceil10(peak / target * 1.1))), e()));
            }
        }
    }
}
