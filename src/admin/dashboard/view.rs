//! What the page shows as "now": the answer split of each steered name as the served
//! snapshot plans it (share, score, state and reasons per region x CDN: the plan DNS
//! answers from, never recomputed), and the status strip (event clock, a change held by a
//! freeze, the overrides in force with their expiry).

use serde::Serialize;

use crate::admin::ops::{EventsStatus, ListedOverride};
use crate::dns::Served;
use crate::health::score::{self, Reason};
use crate::health::share::Status;
use crate::steer::CandidateState;
use crate::steer::plan::SharesFrom;
use crate::timestamp::Millis;

/// One steered name, now.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    /// Snapshot generation.
    pub generation: u64,
    /// When the plan was made.
    pub planned_at: Millis,
    /// The steered name (absolute).
    pub name: String,
    /// Its TTL, seconds.
    pub ttl: u32,
    /// The CDN that answers a region with no usable candidate.
    pub last_resort: String,
    /// Its CDNs, in zone order.
    pub cdns: Vec<CdnView>,
    /// Score thresholds: drained below `down`, back above `up`.
    pub thresholds: Thresholds,
    /// SLA bounds (good, bad) per signal, for the charts' reference lines.
    pub sla: SlaView,
    /// Regions, in zone order (networks, countries, continents, default).
    pub regions: Vec<RegionView>,
}

/// A CDN of the name.
#[derive(Debug, Clone, Serialize)]
pub struct CdnView {
    /// Its name.
    pub name: String,
    /// Its CNAME target.
    pub target: String,
}

/// Score thresholds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Thresholds {
    /// Drained below.
    pub down: f64,
    /// Back above (for the hold time).
    pub up: f64,
}

/// Good and bad bound of one signal.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BoundsView {
    /// Scores 100 at or beyond.
    pub good: f64,
    /// Scores 0 at or beyond.
    pub bad: f64,
}

/// SLA bounds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SlaView {
    /// ms.
    pub ttfb_ms: BoundsView,
    /// Mbit/s.
    pub throughput_mbps: BoundsView,
    /// 0..1.
    pub cache_hit_ratio: BoundsView,
    /// 0..1.
    pub error_rate: BoundsView,
}

/// One region of the name.
#[derive(Debug, Clone, Serialize)]
pub struct RegionView {
    /// `country:KR`.
    pub key: String,
    /// `network`, `country`, `continent` or `default`.
    pub kind: &'static str,
    /// TTL of its answers now, seconds (short while shares move or when failing open).
    pub ttl: u32,
    /// No usable candidate: the last resort answers.
    pub fail_open: bool,
    /// `health` or `configured` (no health data yet).
    pub shares_from: SharesFrom,
    /// The pin in force (override id).
    pub pinned_by: Option<String>,
    /// Ids of the overrides that apply.
    pub overrides: Vec<String>,
    /// Its candidates (and a pinned CDN that is not one).
    pub candidates: Vec<CandidateView>,
}

/// One CDN of a region.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateView {
    /// CDN.
    pub cdn: String,
    /// Share of the region's answers, 0..1.
    pub share: f64,
    /// Smoothed score, when known.
    pub score: Option<f64>,
    /// The one-word state.
    pub state: CandidateState,
    /// Weight in force.
    pub weight: f64,
    /// Weight in the zone file.
    pub configured_weight: Option<f64>,
    /// The override acting on it here.
    pub override_id: Option<String>,
    /// Down or recovering since.
    pub since: Option<Millis>,
    /// What cost points, worst first (only those costing at least one point).
    pub reasons: Vec<Reason>,
}

/// The plan of every steered name in `snap`, by name.
pub fn plans(snap: &Served) -> Vec<PlanView> {
    let mut out = Vec::new();
    for (name, regions) in snap.zones.steered().zip(&snap.explain.names) {
        let policy = snap.zones.zones.iter().find(|z| z.steered.iter().any(|s| s.name == name.name)).map(|z| z.health.clone()).unwrap_or_default();
        let decisions = snap.decisions.names.get(out.len());
        let cdn_name = |i: usize| name.cdns.get(i).map_or_else(|| "?".to_string(), |c| c.name.clone());
        let regions = name
            .regions
            .iter()
            .zip(regions)
            .enumerate()
            .map(|(i, (region, why))| RegionView {
                key: region.key.to_string(),
                kind: region.key.kind(),
                ttl: decisions.and_then(|d| d.regions.get(i)).map_or(name.ttl, |d| d.ttl),
                fail_open: why.fail_open,
                shares_from: why.shares_from,
                pinned_by: why.pinned_by.clone(),
                overrides: why.overrides.clone(),
                candidates: why
                    .candidates
                    .iter()
                    .map(|c| CandidateView {
                        cdn: cdn_name(c.cdn),
                        share: (c.share * 10_000.0).round() / 10_000.0,
                        score: c.score.map(|s| (s * 10.0).round() / 10.0),
                        state: c.state,
                        weight: c.weight,
                        configured_weight: c.configured_weight,
                        override_id: c.override_id.clone(),
                        since: match c.status {
                            Some(Status::Down { since } | Status::Recovering { since }) => Some(since),
                            _ => None,
                        },
                        reasons: c.signals.and_then(|v| score::score(&v, &policy)).map(|s| s.reasons.into_iter().filter(|r| r.cost >= 1.0).collect()).unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect();
        let b = |x: crate::zone::health::model::Bounds| BoundsView { good: x.good, bad: x.bad };
        out.push(PlanView {
            generation: snap.generation,
            planned_at: snap.explain.at,
            name: name.name.to_string(),
            ttl: name.ttl,
            last_resort: cdn_name(name.last_resort),
            cdns: name.cdns.iter().map(|c| CdnView { name: c.name.clone(), target: c.target.to_string() }).collect(),
            thresholds: Thresholds { down: policy.down, up: policy.up },
            sla: SlaView { ttfb_ms: b(policy.sla.ttfb_ms), throughput_mbps: b(policy.sla.throughput_mbps), cache_hit_ratio: b(policy.sla.cache_hit_ratio), error_rate: b(policy.sla.error_rate) },
            regions,
        });
    }
    out
}

/// The status strip.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    /// The server's clock (the page corrects its own by it).
    pub now: Millis,
    /// Snapshot generation serving.
    pub generation: u64,
    /// Events (window, freeze, clock) and a change a freeze holds back.
    pub events: EventsStatus,
    /// Overrides in force, oldest first, with their expiry.
    pub overrides: Vec<ListedOverride>,
}

impl StatusView {
    /// The parts that change other than by the clock ticking (clocks and countdowns left
    /// out): a status is sent again only when these differ.
    pub fn key(&self) -> String {
        let events: Vec<(&str, &str, bool)> = self.events.events.iter().map(|e| (e.name.as_str(), e.phase, e.freeze)).collect();
        let overrides: Vec<(&str, bool)> = self.overrides.iter().map(|o| (o.item.id.as_str(), o.dormant)).collect();
        format!("{events:?}|{:?}|{overrides:?}", self.events.pending)
    }
}
