//! Capacity forecast, before the match: at the scenario's peak audience and bitrate mix, how
//! much each CDN must carry per region under the current policy (the real engine and planner
//! settled on healthy signals, so `max_share`, warm shares and weights apply as they will
//! live), with a headroom factor; the same with each CDN lost in turn (N-1) in the biggest
//! region; and which capacities and commit tiers are short, by how much.

use serde::Serialize;

use super::audience;
use super::round;
use super::run::Night;
use crate::health::{Engine, Observation};
use crate::overrides::{Kind, Override, OverrideSet};
use crate::region::RegionKey;
use crate::steer::{self, CellPrefixes, Plan};
use crate::timestamp::{Millis, human_duration};
use crate::zone::ZoneSet;

/// Ticks the engine gets to settle on the healthy signals.
const SETTLE_TICKS: u64 = 180;

/// The forecast.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Forecast {
    /// Scenario.
    pub scenario: String,
    /// Peak concurrent viewers.
    pub peak_viewers: f64,
    /// When (offset).
    pub peak_at: String,
    /// Mean bitrate, Mbit/s.
    pub bitrate_mbps: f64,
    /// Headroom factor.
    pub headroom: f64,
    /// Per region at the peak, all CDNs healthy.
    pub regions: Vec<RegionNeed>,
    /// The biggest region.
    pub biggest_region: String,
    /// The biggest region with each of its CDNs lost in turn.
    pub n_minus_1: Vec<Loss>,
    /// Per CDN, all regions.
    pub cdns: Vec<CdnNeed>,
    /// Everything fits.
    pub holds: bool,
}

/// One region's need at the peak.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegionNeed {
    /// Region.
    pub region: String,
    /// Viewers.
    pub viewers: f64,
    /// Demand, Gbps.
    pub demand_gbps: f64,
    /// Per CDN.
    pub cdns: Vec<Need>,
}

/// One CDN's need in one region.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Need {
    /// CDN.
    pub cdn: String,
    /// Share of the region's answers under the policy.
    pub share: f64,
    /// Share x demand x headroom, Gbps.
    pub needed_gbps: f64,
    /// What the zone says it can carry there (`capacity.regions`, else its `gbps`).
    pub capacity_gbps: Option<f64>,
    /// needed - capacity, when positive.
    pub short_gbps: Option<f64>,
}

/// The biggest region with one CDN lost.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Loss {
    /// The CDN lost.
    pub lost: String,
    /// The others' needs there.
    pub cdns: Vec<Need>,
}

/// One CDN over all regions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CdnNeed {
    /// CDN.
    pub cdn: String,
    /// Peak traffic, all healthy (no headroom), Gbps: what the commit must cover.
    pub peak_gbps: f64,
    /// Worst case over N-1 in the biggest region, with headroom, Gbps: what capacity must cover.
    pub needed_gbps: f64,
    /// Which case gives `needed_gbps` (`all healthy` or `akamai lost in country:KR`).
    pub worst_case: String,
    /// The zone's `gbps`.
    pub capacity_gbps: Option<f64>,
    /// The zone's `commit_gbps`.
    pub commit_gbps: Option<f64>,
    /// needed - capacity, when positive.
    pub capacity_short_gbps: Option<f64>,
    /// peak - commit, when positive.
    pub commit_short_gbps: Option<f64>,
}

/// Forecast `night`'s peak.
pub fn forecast(night: &Night) -> Forecast {
    let s = &night.scenario;
    let zones = &night.zones;
    let Some(name) = zones.steered().nth(night.name) else {
        return Forecast { scenario: s.name.clone(), peak_viewers: 0.0, peak_at: String::new(), bitrate_mbps: 0.0, headroom: s.headroom, regions: Vec::new(), biggest_region: String::new(), n_minus_1: Vec::new(), cdns: Vec::new(), holds: true };
    };
    let cdns: Vec<String> = name.cdns.iter().map(|c| c.name.clone()).collect();
    let bitrate = audience::mean_bitrate(&s.audience.bitrate);
    let (peak_at, peak) = peak(night);
    let at = night.start + peak_at;
    let viewers: Vec<f64> = s.audience.regions.iter().map(|r| s.audience.peak_viewers * r.part * audience::curve_at(r.curve.as_deref().unwrap_or(&s.audience.curve), peak_at)).collect();
    let demand: Vec<f64> = viewers.iter().map(|v| v * bitrate / 1000.0).collect();
    let policy = night.policy();
    let capacity = |cdn: &str, region: &RegionKey| policy.capacity.iter().find(|c| c.cdn == cdn).and_then(|c| c.regions.iter().find(|(k, _)| k == region).map(|(_, g)| *g).or(c.gbps));
    let need = |cdn: usize, region: &RegionKey, share: f64, demand: f64| {
        let needed = round(share * demand * s.headroom, 1);
        let cap = capacity(&cdns[cdn], region);
        Need { cdn: cdns[cdn].clone(), share: round(share, 4), needed_gbps: needed, capacity_gbps: cap, short_gbps: cap.filter(|c| needed > *c).map(|c| round(needed - c, 1)) }
    };
    // Shares as the policy gives them with every CDN healthy, capacity limits aside (the
    // question is what the policy asks of each CDN, not what the zone's belief would spill).
    let uncapped = without_capacity(zones);
    let healthy = settle(night, &uncapped, &OverrideSet::new(), at);
    let shares = |plan: &Plan, region: usize| region_shares(plan, night.name, night.regions[region], cdns.len());
    let regions: Vec<RegionNeed> = s
        .audience
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| RegionNeed {
            region: r.region.to_string(),
            viewers: viewers[i].round(),
            demand_gbps: round(demand[i], 1),
            cdns: shares(&healthy, i).iter().enumerate().filter(|(_, s)| **s > 0.0).map(|(c, share)| need(c, &r.region, *share, demand[i])).collect(),
        })
        .collect();
    let biggest = (0..viewers.len()).max_by(|a, b| viewers[*a].total_cmp(&viewers[*b])).unwrap_or(0);
    let big_key = s.audience.regions.get(biggest).map(|r| r.region.clone()).unwrap_or(RegionKey::Default);
    let candidates: Vec<usize> = shares(&healthy, biggest).iter().enumerate().filter(|(_, s)| **s > 0.0).map(|(c, _)| c).collect();
    let mut worst: Vec<(f64, String)> = cdns.iter().map(|_| (0.0, "all healthy".to_string())).collect();
    for r in &regions {
        for n in &r.cdns {
            if let Some(c) = cdns.iter().position(|x| *x == n.cdn) {
                worst[c].0 += n.needed_gbps;
            }
        }
    }
    let mut n_minus_1 = Vec::new();
    for &lost in &candidates {
        let mut drain = OverrideSet::new();
        let _ = drain.add(Override {
            id: String::new(),
            kind: Kind::Drain,
            name: Some(name.name.as_str().to_string()),
            region: Some(big_key.clone()),
            cdn: cdns[lost].clone(),
            weight: None,
            author: "forecast".into(),
            who: "forecast".into(),
            reason: "N-1".into(),
            created_at: 0,
            expires_at: Millis::MAX,
            forced: true,
        });
        let plan = settle(night, &uncapped, &drain, at);
        let big = shares(&plan, biggest);
        let needs: Vec<Need> = big.iter().enumerate().filter(|(_, s)| **s > 0.0).map(|(c, share)| need(c, &big_key, *share, demand[biggest])).collect();
        // Each CDN's total in this case: its other regions as when healthy, the biggest as now.
        for (c, name) in cdns.iter().enumerate() {
            let elsewhere: f64 = regions.iter().enumerate().filter(|(i, _)| *i != biggest).flat_map(|(_, r)| r.cdns.iter().filter(|n| n.cdn == *name)).map(|n| n.needed_gbps).sum();
            let here = needs.iter().find(|n| n.cdn == *name).map_or(0.0, |n| n.needed_gbps);
            if elsewhere + here > worst[c].0 {
                worst[c] = (elsewhere + here, format!("{} lost in {big_key}", cdns[lost]));
            }
        }
        n_minus_1.push(Loss { lost: cdns[lost].clone(), cdns: needs });
    }
    let cdn_needs: Vec<CdnNeed> = cdns
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let cap = policy.capacity.iter().find(|k| k.cdn == *name);
            let peak_gbps: f64 = regions.iter().flat_map(|r| r.cdns.iter().filter(|n| n.cdn == *name)).map(|n| n.needed_gbps / s.headroom.max(1e-9)).sum();
            let needed = round(worst[c].0, 1);
            let (gbps, commit) = (cap.and_then(|k| k.gbps), cap.and_then(|k| k.commit_gbps));
            CdnNeed {
                cdn: name.clone(),
                peak_gbps: round(peak_gbps, 1),
                needed_gbps: needed,
                worst_case: worst[c].1.clone(),
                capacity_gbps: gbps,
                commit_gbps: commit,
                capacity_short_gbps: gbps.filter(|g| needed > *g).map(|g| round(needed - g, 1)),
                commit_short_gbps: commit.filter(|g| peak_gbps > *g).map(|g| round(peak_gbps - g, 1)),
            }
        })
        .collect();
    let holds = regions.iter().flat_map(|r| &r.cdns).chain(n_minus_1.iter().flat_map(|l| &l.cdns)).all(|n| n.short_gbps.is_none())
        && cdn_needs.iter().all(|c| c.capacity_short_gbps.is_none() && c.commit_short_gbps.is_none());
    Forecast {
        scenario: s.name.clone(),
        peak_viewers: peak.round(),
        peak_at: format!("T+{}", human_duration(peak_at)),
        bitrate_mbps: round(bitrate, 3),
        headroom: s.headroom,
        regions,
        biggest_region: big_key.to_string(),
        n_minus_1,
        cdns: cdn_needs,
        holds,
    }
}

/// The offset of the audience's peak (on a one-minute grid) and its size.
pub fn peak(night: &Night) -> (u64, f64) {
    let s = &night.scenario;
    let span = night.end.saturating_sub(night.start);
    let mut best = (0, 0.0);
    let mut t = 0;
    while t <= span {
        let total: f64 = s.audience.regions.iter().map(|r| s.audience.peak_viewers * r.part * audience::curve_at(r.curve.as_deref().unwrap_or(&s.audience.curve), t)).sum();
        if total > best.1 {
            best = (t, total);
        }
        t += 60_000;
    }
    best
}

/// The zones with their capacity blocks removed.
fn without_capacity(zones: &ZoneSet) -> ZoneSet {
    let mut z = zones.clone();
    for zone in &mut z.zones {
        zone.health.capacity.clear();
    }
    z
}

/// Feed the engine healthy, fresh signals for every candidate of every audience region and
/// tick it until the shares settle; the plan then.
fn settle(night: &Night, zones: &ZoneSet, overrides: &OverrideSet, at: Millis) -> Plan {
    let mut engine = Engine::new();
    let mut overrides = overrides.clone();
    let cells = CellPrefixes::default();
    let Some(name) = zones.steered().nth(night.name) else { return steer::plan(zones, &engine, &overrides, at, cells) };
    let mut plan = steer::plan(zones, &engine, &overrides, at, cells);
    let policy = night.policy();
    let sla = policy.sla;
    for k in 0..SETTLE_TICKS {
        let now = at + k * 1000;
        let mut observations: Vec<Observation> = Vec::new();
        for &r in &night.regions {
            let Some(region) = name.regions.get(r) else { continue };
            for c in &region.candidates {
                observations.push(Observation {
                    cdn: name.cdns[c.cdn].name.clone(),
                    region: region.key.clone(),
                    vantage: "forecast".into(),
                    at: now,
                    requests: 1000,
                    errors: 0,
                    cache_hits: Some(((sla.cache_hit_ratio.good.max(0.0).min(1.0)) * 1000.0).ceil() as u64),
                    ttfb_ms: Some(sla.ttfb_ms.good / 2.0),
                    throughput_mbps: Some(sla.throughput_mbps.good * 2.0),
                    delivered_gbps: None,
                    failure: None,
                });
            }
        }
        let round = steer::drive::round(&mut engine, &mut overrides, zones, &mut observations, now, cells);
        if let Some(p) = round.plan {
            plan = p;
        }
    }
    plan
}

/// Shares per CDN of the name in a region of `plan`.
fn region_shares(plan: &Plan, name: usize, region: usize, cdns: usize) -> Vec<f64> {
    let mut out = vec![0.0; cdns];
    if let Some(e) = plan.explain.names.get(name).and_then(|n| n.get(region)) {
        for c in &e.candidates {
            if c.cdn < cdns {
                out[c.cdn] = c.share;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::run::tests::{night, small};

    #[test]
    fn the_policy_shares_size_the_need_and_losing_a_cdn_moves_it_to_the_others() {
        let n = night(small(Vec::new()));
        let f = forecast(&n);
        assert_eq!(f.peak_viewers, 100_000.0);
        assert_eq!(f.biggest_region, "country:KR");
        let kr = &f.regions[0];
        let total: f64 = kr.cdns.iter().map(|c| c.share).sum();
        assert!((total - 1.0).abs() < 0.01, "{kr:?}");
        // 66k viewers x 3.5 Mbit/s = 231 Gbps, x 1.2 headroom.
        assert!((kr.demand_gbps - 231.0).abs() < 0.5);
        let akamai = kr.cdns.iter().find(|c| c.cdn == "akamai").map(|c| c.needed_gbps).unwrap_or(0.0);
        assert_eq!(f.n_minus_1.len(), 3);
        let without_cloudfront = f.n_minus_1.iter().find(|l| l.lost == "cloudfront").expect("N-1 cloudfront");
        assert!(without_cloudfront.cdns.iter().all(|c| c.cdn != "cloudfront"));
        let akamai_n1 = without_cloudfront.cdns.iter().find(|c| c.cdn == "akamai").map(|c| c.needed_gbps).unwrap_or(0.0);
        assert!(akamai_n1 > akamai * 1.3, "{akamai} -> {akamai_n1}");
        // Every N-1 share respects max_share (0.7 in the bundled zone).
        assert!(f.n_minus_1.iter().flat_map(|l| &l.cdns).all(|c| c.share <= 0.7 + 1e-6), "{:?}", f.n_minus_1);
        // The bundled capacity holds this small audience.
        assert!(f.holds, "{f:?}");
    }
}
