//! `simulate --sweep`: the same night under a grid of policy settings, run on every core,
//! ranked by commit breaches, then viewer-minutes on degraded CDNs, then flaps. Each point
//! patches the zone's health policy (and the event's share settings, which would otherwise
//! override it during the window) and runs the very simulation `simulate` runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use super::run::{Night, RunOptions, run};
use super::scenario::model::{SweepAxis, SweepParam};
use super::summary::Summary;
use crate::zone::ZoneSet;
use crate::zone::health::HealthPolicy;

/// One point of the grid and what it gave.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    /// Rank, 1 = best.
    pub rank: usize,
    /// The settings, (name, value).
    pub settings: Vec<(String, f64)>,
    /// Commit and capacity breaches.
    pub commit_breaches: usize,
    /// Viewer-minutes on a degraded CDN, percent.
    pub degraded_pct: f64,
    /// Most flaps per hour of a CDN x region.
    pub max_flaps_per_hour: f64,
    /// Largest share of a CDN in a contested region.
    pub max_share: f64,
    /// Slowest incident: seconds to 90% of its viewers moved (`None`: never).
    pub slowest_shift_secs: Option<f64>,
    /// Every limit of the scenario held.
    pub passed: bool,
}

/// The sweep's outcome, best first.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sweep {
    /// Points run.
    pub points: usize,
    /// Threads used.
    pub threads: usize,
    /// All points, best first.
    pub ranked: Vec<Point>,
}

/// Every combination of the axes' values.
pub fn grid(axes: &[SweepAxis]) -> Vec<Vec<(SweepParam, f64)>> {
    let mut out: Vec<Vec<(SweepParam, f64)>> = vec![Vec::new()];
    for axis in axes {
        out = out.into_iter().flat_map(|p| axis.values.iter().map(move |v| p.iter().copied().chain([(axis.param, *v)]).collect())).collect();
    }
    out
}

/// Set one parameter on a policy (and its event windows' share settings).
pub fn apply(policy: &mut HealthPolicy, param: SweepParam, v: f64) {
    let secs = |v: f64| (v.max(0.0) * 1000.0).round() as u64;
    match param {
        SweepParam::Down => policy.down = v,
        SweepParam::Up => policy.up = v,
        SweepParam::UpHoldSecs => policy.up_hold_ms = secs(v),
        SweepParam::MaxChangePerTick => {
            policy.max_change_per_tick = v;
            policy.windows.iter_mut().for_each(|w| w.patch.max_change_per_tick = w.patch.max_change_per_tick.map(|_| v));
        }
        SweepParam::MinDwellSecs => {
            policy.min_dwell_ms = secs(v);
            policy.windows.iter_mut().for_each(|w| w.patch.min_dwell_ms = w.patch.min_dwell_ms.map(|_| secs(v)));
        }
        SweepParam::MaxShare => {
            policy.max_share = v;
            policy.windows.iter_mut().for_each(|w| w.patch.max_share = w.patch.max_share.map(|_| v));
        }
        SweepParam::FastTtlSecs => {
            policy.fast_ttl = v.max(1.0).round() as u32;
            policy.windows.iter_mut().for_each(|w| w.patch.fast_ttl = w.patch.fast_ttl.map(|_| v.max(1.0).round() as u32));
        }
        SweepParam::HalfLifeSecs => policy.half_life_ms = v.max(0.0) * 1000.0,
        SweepParam::WeightTtfb => reweigh(&mut policy.weights.ttfb, [&mut policy.weights.throughput, &mut policy.weights.cache_hit, &mut policy.weights.errors], v),
        SweepParam::WeightErrors => reweigh(&mut policy.weights.errors, [&mut policy.weights.ttfb, &mut policy.weights.throughput, &mut policy.weights.cache_hit], v),
    }
}

/// Set one weight and scale the others so the four keep their sum.
fn reweigh(one: &mut f64, others: [&mut f64; 3], v: f64) {
    let total = *one + others.iter().map(|o| **o).sum::<f64>();
    let rest: f64 = others.iter().map(|o| **o).sum();
    let v = v.clamp(0.0, total);
    if rest > 0.0 {
        let f = (total - v) / rest;
        for o in others {
            *o *= f;
        }
    }
    *one = v;
}

/// `night` with the settings applied to the zone of its steered name.
pub fn variant(night: &Night, settings: &[(SweepParam, f64)]) -> Night {
    let mut zones: ZoneSet = (*night.zones).clone();
    let apex = zones.steered().nth(night.name).and_then(|n| zones.zone_for(&n.name)).map(|z| z.origin.clone());
    for zone in zones.zones.iter_mut().filter(|z| Some(&z.origin) == apex.as_ref()) {
        for (p, v) in settings {
            apply(&mut zone.health, *p, *v);
        }
    }
    Night { zones: Arc::new(zones), ..night.clone() }
}

/// Run the grid on `threads` threads (0: every core).
pub fn sweep(night: &Night, axes: &[SweepAxis], threads: usize) -> Sweep {
    let points = grid(axes);
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads }.clamp(1, points.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Vec<(usize, Summary)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(settings) = points.get(i) else { break };
                        mine.push((i, run(&variant(night, settings), &RunOptions::default()).summary));
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    });
    let mut ranked: Vec<Point> = results
        .into_iter()
        .map(|(i, s)| Point {
            rank: 0,
            settings: points[i].iter().map(|(p, v)| (p.name().to_string(), *v)).collect(),
            commit_breaches: s.commit_breaches.len(),
            degraded_pct: s.viewer_minutes_degraded_pct,
            max_flaps_per_hour: s.max_flaps_per_hour,
            max_share: s.max_share.as_ref().map_or(0.0, |m| m.share),
            slowest_shift_secs: s.incidents.iter().filter(|x| x.kind == "degrade" || x.kind == "dark").map(|x| x.moved_90pct_secs.unwrap_or(f64::INFINITY)).reduce(f64::max).map(|v| if v.is_finite() { v } else { -1.0 }),
            passed: s.passed,
        })
        .collect();
    ranked.sort_by(|a, b| {
        a.commit_breaches
            .cmp(&b.commit_breaches)
            .then(a.degraded_pct.total_cmp(&b.degraded_pct))
            .then(a.max_flaps_per_hour.total_cmp(&b.max_flaps_per_hour))
            .then_with(|| format!("{:?}", a.settings).cmp(&format!("{:?}", b.settings)))
    });
    ranked.iter_mut().enumerate().for_each(|(i, p)| p.rank = i + 1);
    Sweep { points: points.len(), threads, ranked }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::run::tests::{degrade_kr, night, small};

    #[test]
    fn a_tiny_grid_runs_every_point_and_ranks_them() {
        let mut s = small(vec![degrade_kr(5, 5)]);
        s.duration_ms = Some(12 * 60_000);
        let n = night(s);
        let axes = [SweepAxis { param: SweepParam::Down, values: vec![30.0, 50.0] }, SweepAxis { param: SweepParam::FastTtlSecs, values: vec![5.0, 60.0] }];
        let out = sweep(&n, &axes, 2);
        assert_eq!(out.points, 4);
        assert_eq!(out.ranked.len(), 4);
        assert_eq!(out.ranked.iter().map(|p| p.rank).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        let ordered = out.ranked.windows(2).all(|w| (w[0].commit_breaches, w[0].degraded_pct) <= (w[1].commit_breaches, w[1].degraded_pct));
        assert!(ordered, "{:?}", out.ranked);
        // A long TTL while shares move keeps viewers on the degraded CDN longer.
        let by = |ttl: f64| out.ranked.iter().filter(|p| p.settings.contains(&("fast_ttl_secs".to_string(), ttl))).map(|p| p.degraded_pct).fold(0.0, f64::max);
        assert!(by(60.0) > by(5.0), "ttl 60 s: {}, 5 s: {}", by(60.0), by(5.0));
        // The sweep's point equals a plain run with the same settings.
        let alone = run(&variant(&n, &[(SweepParam::Down, 30.0), (SweepParam::FastTtlSecs, 5.0)]), &RunOptions::default()).summary;
        let p = out.ranked.iter().find(|p| p.settings == vec![("down".to_string(), 30.0), ("fast_ttl_secs".to_string(), 5.0)]).expect("point");
        assert_eq!(p.degraded_pct, alone.viewer_minutes_degraded_pct);
    }

    #[test]
    fn weights_keep_their_sum() {
        let mut p = HealthPolicy::default();
        apply(&mut p, SweepParam::WeightTtfb, 0.5);
        let w = p.weights;
        assert!((w.ttfb + w.throughput + w.cache_hit + w.errors - 1.0).abs() < 1e-9 && w.ttfb == 0.5);
    }
}
