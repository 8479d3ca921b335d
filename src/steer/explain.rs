//! Explain one answer: for a steered name and a client (its address, or the ECS subnet a
//! resolver would send), which region it falls in and why, every candidate with its weight,
//! share, score, state and the reasons that cost points, the overrides that apply, and the
//! answer itself. Built from one snapshot's parts with the very functions the DNS path calls
//! (`client_addr`, `GeoDb::locate`, `NameDecisions::steer`, `ecs_scope`), so it cannot
//! disagree with `dig`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::decide::{DecisionTable, client_addr, ecs_scope};
use super::plan::{PlanExplain, SharesFrom};
use crate::geo::GeoDb;
use crate::health::score::{self, Reason};
use crate::health::share::Status;
use crate::region::Code2;
use crate::timestamp;
use crate::zone::model::{DomainName, ZoneSet};

/// What to explain.
#[derive(Debug, Clone)]
pub struct ExplainQuery {
    /// The steered name (trailing dot optional).
    pub name: String,
    /// The client's address (the resolver's, when it sends no ECS).
    pub client: Option<IpAddr>,
    /// The ECS subnet a resolver would send: (address, source prefix).
    pub ecs: Option<(IpAddr, u8)>,
}

/// The parts of a snapshot explain reads.
#[derive(Debug, Clone, Copy)]
pub struct ExplainInput<'a> {
    /// Snapshot generation.
    pub generation: u64,
    /// Zones served.
    pub zones: &'a ZoneSet,
    /// GeoIP database.
    pub geo: &'a GeoDb,
    /// The decision table served.
    pub decisions: &'a DecisionTable,
    /// The explain data planned with it.
    pub explain: &'a PlanExplain,
}

/// Why explain could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// The name is not steered here.
    #[error("`{name}` is not a steered name being served; steered names: {known}")]
    UnknownName {
        /// As asked.
        name: String,
        /// The steered names.
        known: String,
    },
    /// Neither a client nor an ECS subnet.
    #[error("expected client=ADDRESS or ecs=ADDRESS/PREFIX")]
    NoClient,
}

/// The explanation (JSON as served by `GET /api/v1/explain`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Explanation {
    /// Snapshot generation explained (the DNS answer of the same generation is identical).
    pub generation: u64,
    /// When the plan was made (RFC 3339).
    pub planned_at: String,
    /// The steered name.
    pub name: String,
    /// The address located.
    pub client: IpAddr,
    /// The ECS subnet, when one was given (`211.234.10.0/24`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<String>,
    /// `ecs` or `source`.
    pub located_by: String,
    /// The region and why.
    pub region: RegionInfo,
    /// Every candidate of the region (and a pinned CDN that is not one).
    #[serde(default)]
    pub candidates: Vec<CandidateInfo>,
    /// Ids of the overrides that apply to this region, pin first.
    pub overrides: Vec<String>,
    /// Overrides for this name that apply to nothing any more (their region or CDN went away
    /// in a reload); kept until they expire.
    pub dormant_overrides: Vec<String>,
    /// True when no candidate is usable and the last resort answers.
    pub fail_open: bool,
    /// `health` (engine state) or `configured` (configured weights).
    pub shares_from: SharesFrom,
    /// The answer.
    pub answer: AnswerInfo,
}

/// The region a client falls in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionInfo {
    /// `network`, `country`, `continent` or `default`.
    pub kind: String,
    /// `country:KR`.
    pub key: String,
    /// The prefix around the client over which this region holds (the GeoIP network or the
    /// CIDR list entry, narrowed to exclude nested lists).
    pub matched_prefix: u8,
    /// The client's country per GeoIP, if known.
    pub country: Option<String>,
    /// The client's continent per GeoIP, if known.
    pub continent: Option<String>,
}

/// One candidate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateInfo {
    /// CDN name.
    pub cdn: String,
    /// Weight in the zone file (`null` for a pinned CDN that is not a candidate).
    pub configured_weight: Option<f64>,
    /// Weight in force (override, or 0 when drained).
    pub weight: f64,
    /// Share of the region's answers, 0..1.
    pub share: f64,
    /// Smoothed score 0..100, when known.
    pub score: Option<f64>,
    /// One word: healthy, degraded, down, recovering, cold, drained, pinned, ...
    pub state: String,
    /// What cost points, worst first (from the latest signal values against the SLA).
    pub reasons: Vec<Reason>,
    /// The region whose signals stood in, when not the region itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_region: Option<String>,
    /// The override acting on this CDN here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_id: Option<String>,
    /// Health state detail (`down` since, `recovering` since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// The answer DNS gives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerInfo {
    /// The CDN chosen.
    pub cdn: String,
    /// Its CNAME target.
    pub target: String,
    /// TTL, seconds.
    pub ttl: u32,
    /// The ECS scope echoed to a resolver that sent `ecs` (absent without ECS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_scope: Option<u8>,
    /// The prefix around the client over which this exact answer holds.
    pub constant_over: u8,
}

fn code(c: Option<Code2>) -> Option<String> {
    c.map(|c| String::from_utf8_lossy(&c).into_owned())
}

/// Explain one answer.
pub fn explain(input: ExplainInput<'_>, query: &ExplainQuery) -> Result<Explanation, ExplainError> {
    let wanted = DomainName::absolute(&query.name).map(|n| n.as_str().to_string()).unwrap_or_else(|_| query.name.clone());
    let Some((index, steered)) = input.zones.steered().enumerate().find(|(_, n)| n.name.as_str() == wanted) else {
        let known: Vec<String> = input.zones.steered().map(|n| n.name.to_string()).collect();
        return Err(ExplainError::UnknownName { name: query.name.clone(), known: known.join(", ") });
    };
    let src = query.client.or(query.ecs.map(|(a, _)| a)).ok_or(ExplainError::NoClient)?;
    let client = client_addr(src, query.ecs);
    let located = input.geo.locate(client.addr);
    let (Some(decisions), Some(regions)) = (input.decisions.names.get(index), input.explain.names.get(index)) else {
        return Err(ExplainError::UnknownName { name: query.name.clone(), known: String::new() });
    };
    let steering = decisions.steer(client.addr, &located, input.decisions.cells);
    let (_, region_scope) = decisions.region_of(client.addr, &located);
    let region = &steered.regions[steering.region];
    let why = &regions[steering.region];
    let zone = input.zones.zones.iter().find(|z| z.steered.iter().any(|s| s.name == steered.name));
    let policy = zone.map(|z| z.health.clone()).unwrap_or_default();
    let candidates = why
        .candidates
        .iter()
        .map(|c| CandidateInfo {
            cdn: steered.cdns[c.cdn].name.clone(),
            configured_weight: c.configured_weight,
            weight: c.weight,
            share: (c.share * 10_000.0).round() / 10_000.0,
            score: c.score.map(|s| (s * 10.0).round() / 10.0),
            state: c.state.as_str().to_string(),
            reasons: c.signals.and_then(|v| score::score(&v, &policy)).map(|s| s.reasons).unwrap_or_default(),
            signal_region: c.signal_region.as_ref().map(ToString::to_string),
            override_id: c.override_id.clone(),
            since: match c.status {
                Some(Status::Down { since } | Status::Recovering { since }) => Some(timestamp::rfc3339(since)),
                _ => None,
            },
        })
        .collect();
    let dormant = input
        .explain
        .overrides
        .iter()
        .filter(|o| o.name.as_deref().is_none_or(|n| n == steered.name.as_str()))
        .filter(|o| !crate::overrides::applies_to(o, steered))
        .map(|o| o.id.clone())
        .collect();
    let cdn = &steered.cdns[steering.cdn];
    Ok(Explanation {
        generation: input.generation,
        planned_at: timestamp::rfc3339(input.explain.at),
        name: steered.name.to_string(),
        client: client.addr,
        ecs: query.ecs.map(|(a, p)| format!("{a}/{p}")),
        located_by: if client.by_ecs { "ecs" } else { "source" }.to_string(),
        region: RegionInfo {
            kind: region.key.kind().to_string(),
            key: region.key.to_string(),
            matched_prefix: region_scope,
            country: code(located.place.country),
            continent: code(located.place.continent),
        },
        candidates,
        overrides: why.overrides.clone(),
        dormant_overrides: dormant,
        fail_open: why.fail_open,
        shares_from: why.shares_from,
        answer: AnswerInfo {
            cdn: cdn.name.clone(),
            target: cdn.target.to_string(),
            ttl: steering.ttl,
            ecs_scope: query.ecs.map(|(_, source)| ecs_scope(Some(steering.scope), source, client.mapped)),
            constant_over: steering.scope,
        },
    })
}

impl Explanation {
    /// One screen for a terminal, like `ip route get`.
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let via = match &self.ecs {
            Some(ecs) => format!("ECS {ecs}"),
            None => format!("source {}", self.client),
        };
        let place = [self.region.country.as_deref(), self.region.continent.as_deref()].iter().flatten().copied().collect::<Vec<_>>().join("/");
        let _ = writeln!(out, "{} for {} ({via}, {})", self.name, self.client, if place.is_empty() { "location unknown" } else { &place });
        let _ = writeln!(out, "  answer   {} -> {}  ttl {}s{}", self.answer.cdn, self.answer.target, self.answer.ttl, self.answer.ecs_scope.map_or_else(String::new, |s| format!("  ecs scope /{s}")));
        let _ = writeln!(out, "  region   {} (matched /{}){}", self.region.key, self.region.matched_prefix, if self.fail_open { "  FAILING OPEN to the last resort" } else { "" });
        let from = match self.shares_from {
            SharesFrom::Health => "health engine",
            SharesFrom::Configured => "configured weights",
        };
        let _ = writeln!(out, "  shares   from the {from}; generation {} planned {}", self.generation, self.planned_at);
        let _ = writeln!(out, "  {:<12} {:>7} {:>7} {:>6}  {:<11} why", "cdn", "weight", "share", "score", "state");
        for c in &self.candidates {
            let weight = match (c.configured_weight, c.weight) {
                (Some(cw), w) if (cw - w).abs() > 1e-9 => format!("{w}*"),
                (_, w) => format!("{w}"),
            };
            let score = c.score.map_or_else(|| "-".to_string(), |s| format!("{s:.0}"));
            let mut why: Vec<String> = c.reasons.iter().filter(|r| r.cost >= 1.0).map(|r| format!("{} -{:.0} ({})", r.signal.as_str(), r.cost, fmt_value(r))).collect();
            if let Some(id) = &c.override_id {
                why.insert(0, format!("override {id}"));
            }
            if let Some(r) = &c.signal_region {
                why.push(format!("signals from {r}"));
            }
            let marker = if c.cdn == self.answer.cdn { ">" } else { " " };
            let _ = writeln!(out, "{marker} {:<12} {:>7} {:>6.1}% {:>6}  {:<11} {}", c.cdn, weight, c.share * 100.0, score, c.state, why.join(", "));
        }
        if !self.overrides.is_empty() {
            let _ = writeln!(out, "  overrides {}", self.overrides.join(", "));
        }
        if !self.dormant_overrides.is_empty() {
            let _ = writeln!(out, "  dormant   {} (their region or CDN is no longer served)", self.dormant_overrides.join(", "));
        }
        out
    }
}

fn fmt_value(r: &Reason) -> String {
    use crate::health::score::SignalKind;
    match r.signal {
        SignalKind::Ttfb => format!("{:.0} ms", r.value),
        SignalKind::Throughput => format!("{:.1} Mbps", r.value),
        SignalKind::CacheHit | SignalKind::Errors => format!("{:.1}%", r.value * 100.0),
    }
}
