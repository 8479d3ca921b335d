//! The series behind the report's charts: per chart step (about 240 over the window), the
//! share of answers and delivered traffic per CDN, and per region the planned share, score and
//! TTFB of each CDN; annotations as marks. Pure.

use std::collections::BTreeMap;

use super::build::Cx;
use super::calc::{self, mean, round, round_opt, step_mean};
use super::input::EventKind;
use super::model::{CdnSeries, Charts, Mark, RegionChart};
use crate::timestamp::Millis;

/// Chart step for a window: the smallest of a few round steps giving at most ~240 points.
pub fn chart_step(cx: &Cx<'_>) -> Millis {
    let want = (cx.duration() / 240).max(cx.bucket_ms);
    [10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000].into_iter().find(|s| *s >= want).unwrap_or(3_600_000)
}

/// The charts' series.
pub fn charts(cx: &Cx<'_>) -> Charts {
    let step = chart_step(cx);
    let steps = cx.duration().div_ceil(step) as usize;
    let idx = |at: Millis| ((at - cx.from) / step) as usize;
    let mut answer_share = Vec::new();
    let mut totals = vec![0u64; steps];
    let mut per_cdn: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for b in cx.input.answers.iter().filter(|b| cx.from <= b.at && b.at < cx.to) {
        let i = idx(b.at);
        if i < steps {
            totals[i] += b.answers;
            per_cdn.entry(b.cdn.as_str()).or_insert_with(|| vec![0; steps])[i] += b.answers;
        }
    }
    let mut delivered = Vec::new();
    for cdn in &cx.cdns {
        if let Some(v) = per_cdn.get(cdn.as_str()) {
            let values = v.iter().zip(&totals).map(|(n, t)| (*t > 0).then(|| round(*n as f64 / *t as f64, 4))).collect();
            answer_share.push(CdnSeries { cdn: cdn.clone(), values });
        }
        // Per bucket the sum over regions, then the mean over the step's buckets.
        let mut sums: BTreeMap<Millis, f64> = BTreeMap::new();
        for b in cx.qoe.iter().filter(|(k, _)| &k.0 == cdn).flat_map(|(_, v)| v.iter()) {
            if let Some(g) = b.delivered_gbps {
                *sums.entry(b.at).or_default() += g;
            }
        }
        if !sums.is_empty() {
            let mut acc = vec![(0.0, 0u32); steps];
            for (at, g) in sums {
                if let Some(a) = acc.get_mut(idx(at)) {
                    a.0 += g;
                    a.1 += 1;
                }
            }
            delivered.push(CdnSeries { cdn: cdn.clone(), values: acc.iter().map(|(s, n)| (*n > 0).then(|| round(s / f64::from(*n), 2))).collect() });
        }
    }
    let regions = cx.regions.iter().map(|r| region_chart(cx, r, step, steps)).collect();
    let annotations = cx.input.events.iter().filter(|e| e.kind == EventKind::Annotation && cx.from <= e.at && e.at < cx.to).map(|e| Mark { at: e.at, text: e.text.clone() }).collect();
    Charts { from: cx.from, step_secs: step / 1000, steps, annotations, answer_share, delivered_gbps: delivered, regions }
}

fn region_chart(cx: &Cx<'_>, region: &str, step: Millis, steps: usize) -> RegionChart {
    let (mut share, mut score, mut ttfb) = (Vec::new(), Vec::new(), Vec::new());
    for cdn in &cx.cdns {
        let key = (cdn.clone(), region.to_string());
        if let Some(series) = cx.shares.get(&key) {
            let over_names = |f: fn(&super::input::SharePoint) -> Option<f64>, digits: i32| -> Vec<Option<f64>> {
                (0..steps)
                    .map(|i| {
                        let a = cx.from + i as Millis * step;
                        let b = (a + step).min(cx.to);
                        let v: Vec<f64> = series.iter().filter_map(|s| step_mean(&s.points, a, b, f)).collect();
                        round_opt(mean(&v), digits)
                    })
                    .collect()
            };
            share.push(CdnSeries { cdn: cdn.clone(), values: over_names(|p| Some(p.share), 4) });
            let sc = over_names(|p| p.score, 1);
            if sc.iter().any(Option::is_some) {
                score.push(CdnSeries { cdn: cdn.clone(), values: sc });
            }
        }
        if let Some(buckets) = cx.signals.get(&key) {
            let mut v: Vec<Option<f64>> = vec![None; steps];
            for b in buckets {
                let i = ((b.at - cx.from) / step) as usize;
                if let (Some(slot), Some(t)) = (v.get_mut(i), b.ttfb_p95_ms) {
                    *slot = Some(slot.map_or(t, |s: f64| s.max(t)));
                }
            }
            if v.iter().any(Option::is_some) {
                ttfb.push(CdnSeries { cdn: cdn.clone(), values: v.into_iter().map(|x| round_opt(x, 1)).collect() });
            }
        }
    }
    RegionChart { region: region.to_string(), label: calc::region_label(region), share, score, ttfb_p95_ms: ttfb }
}

