//! The `health:` block of a zone file: how CDN health is measured (active probes), what "good"
//! and "bad" mean (SLA bounds and weights), and how scores become traffic shares (thresholds,
//! hysteresis, slew, capacity). Schema, checks and the validated `HealthPolicy` live together
//! here because they change together.

use std::collections::HashSet;
use std::net::SocketAddr;

use serde::Deserialize;

use super::model::RegionKey;
use super::spec::{OrderedMap, Spanned, pos};
use crate::diag::{Code, Diagnostics, Pos};
use crate::geo;

/// `health:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// Engine tick, milliseconds.
    #[serde(default)]
    pub tick_ms: Option<Spanned<u64>>,
    /// Signals older than this are unknown, seconds.
    #[serde(default)]
    pub staleness_secs: Option<Spanned<u64>>,
    /// SLA bounds per signal.
    #[serde(default)]
    pub sla: Option<SlaSpec>,
    /// Relative weight of each signal in the score.
    #[serde(default)]
    pub weights: Option<WeightsSpec>,
    /// EWMA half-life of the score, seconds.
    #[serde(default)]
    pub smoothing_half_life_secs: Option<Spanned<f64>>,
    /// Vantage points that must report a region bad before it counts as bad.
    #[serde(default)]
    pub quorum: Option<Spanned<usize>>,
    /// Down/up thresholds.
    #[serde(default)]
    pub thresholds: Option<ThresholdsSpec>,
    /// Share dynamics.
    #[serde(default)]
    pub shares: Option<SharesSpec>,
    /// Commit-tier capacity per CDN.
    #[serde(default)]
    pub capacity: OrderedMap<Spanned<CapacitySpec>>,
    /// Configured demand estimate per region, Gbps (telemetry replaces it when present).
    #[serde(default)]
    pub demand_gbps: OrderedMap<Spanned<f64>>,
    /// Active probes.
    #[serde(default)]
    pub probes: Vec<Spanned<ProbeSpec>>,
}

/// A good/bad pair.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct BoundsSpec {
    /// At or better than this the signal scores 100.
    pub good: f64,
    /// At or worse than this the signal scores 0.
    pub bad: f64,
}

/// `sla:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSpec {
    /// Time to first byte, ms (lower is better).
    #[serde(default)]
    pub ttfb_ms: Option<Spanned<BoundsSpec>>,
    /// Throughput, Mbit/s (higher is better).
    #[serde(default)]
    pub throughput_mbps: Option<Spanned<BoundsSpec>>,
    /// Cache hit ratio 0..1 (higher is better).
    #[serde(default)]
    pub cache_hit_ratio: Option<Spanned<BoundsSpec>>,
    /// Error rate 0..1 (lower is better).
    #[serde(default)]
    pub error_rate: Option<Spanned<BoundsSpec>>,
}

/// `weights:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsSpec {
    /// TTFB weight.
    #[serde(default)]
    pub ttfb: Option<Spanned<f64>>,
    /// Throughput weight.
    #[serde(default)]
    pub throughput: Option<Spanned<f64>>,
    /// Cache hit weight.
    #[serde(default)]
    pub cache_hit: Option<Spanned<f64>>,
    /// Error rate weight.
    #[serde(default)]
    pub errors: Option<Spanned<f64>>,
}

/// `thresholds:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsSpec {
    /// Below this score a CDN is drained.
    #[serde(default)]
    pub down: Option<Spanned<f64>>,
    /// A drained CDN returns after its score stays above this...
    #[serde(default)]
    pub up: Option<Spanned<f64>>,
    /// ...for this long, seconds.
    #[serde(default)]
    pub up_hold_secs: Option<Spanned<u64>>,
}

/// `shares:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharesSpec {
    /// Largest change of one CDN's share per tick (0..1).
    #[serde(default)]
    pub max_change_per_tick: Option<Spanned<f64>>,
    /// Minimum time between direction changes of one CDN's share, seconds.
    #[serde(default)]
    pub min_dwell_secs: Option<Spanned<u64>>,
    /// Score points added to a CDN that already carries traffic.
    #[serde(default)]
    pub incumbent_bonus: Option<Spanned<f64>>,
    /// Share kept on healthy backups so they stay warm (0..1).
    #[serde(default)]
    pub min_warm_share: Option<Spanned<f64>>,
    /// No CDN gets more than this share while others are usable (0..1].
    #[serde(default)]
    pub max_share: Option<Spanned<f64>>,
    /// TTL while shares move or a candidate is near a threshold, seconds.
    #[serde(default)]
    pub fast_ttl_secs: Option<Spanned<u32>>,
    /// TTL of fail-open (last-resort) answers, seconds.
    #[serde(default)]
    pub fail_open_ttl_secs: Option<Spanned<u32>>,
}

/// Capacity of one CDN.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// Global commit, Gbps.
    #[serde(default)]
    pub gbps: Option<Spanned<f64>>,
    /// Fraction of capacity we aim to use (0..1].
    #[serde(default)]
    pub target_utilisation: Option<Spanned<f64>>,
    /// Per-region commit, Gbps, keyed by region.
    #[serde(default)]
    pub regions: OrderedMap<Spanned<f64>>,
}

/// One active probe.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// CDN probed (a CDN of a steered name of this zone).
    pub cdn: Spanned<String>,
    /// Region the probe speaks for: `country:KR`, `KR`, `continent:AS`, `network:NAME`, `default`.
    pub region: Spanned<String>,
    /// Vantage point name (defaults to the probe's index).
    #[serde(default)]
    pub vantage: Option<Spanned<String>>,
    /// URL of the probe object (http or https).
    pub url: Spanned<String>,
    /// Host header and TLS SNI, when they differ from the URL's host.
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    /// Fixed edge address to dial instead of resolving the URL's host.
    #[serde(default)]
    pub connect: Option<Spanned<String>>,
    /// Interval, seconds (default 5).
    #[serde(default)]
    pub interval_secs: Option<Spanned<f64>>,
    /// Timeout for the whole fetch, milliseconds (default 2000).
    #[serde(default)]
    pub timeout_ms: Option<Spanned<u64>>,
    /// Expected HTTP status (default 200).
    #[serde(default)]
    pub expect_status: Option<Spanned<u16>>,
    /// Expected body size, bytes.
    #[serde(default)]
    pub expect_bytes: Option<Spanned<u64>>,
    /// Response headers that tell a cache hit (default X-Cache, CF-Cache-Status,
    /// X-Cache-Status; `Age` > 0 also counts).
    #[serde(default)]
    pub cache_headers: Option<Vec<Spanned<String>>>,
}

/// Good/bad bounds of one signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Scores 100 at or beyond this.
    pub good: f64,
    /// Scores 0 at or beyond this.
    pub bad: f64,
}

/// SLA bounds per signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sla {
    /// ms.
    pub ttfb_ms: Bounds,
    /// Mbit/s.
    pub throughput_mbps: Bounds,
    /// 0..1.
    pub cache_hit_ratio: Bounds,
    /// 0..1.
    pub error_rate: Bounds,
}

/// Relative weights of the signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalWeights {
    /// TTFB.
    pub ttfb: f64,
    /// Throughput.
    pub throughput: f64,
    /// Cache hit ratio.
    pub cache_hit: f64,
    /// Error rate.
    pub errors: f64,
}

/// Capacity of one CDN.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    /// CDN name.
    pub cdn: String,
    /// Global commit, Gbps.
    pub gbps: Option<f64>,
    /// Fraction of capacity to use.
    pub target_utilisation: f64,
    /// Per-region commits, Gbps.
    pub regions: Vec<(RegionKey, f64)>,
}

/// A validated probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// CDN name.
    pub cdn: String,
    /// Region it speaks for.
    pub region: RegionKey,
    /// Vantage name.
    pub vantage: String,
    /// URL.
    pub url: String,
    /// Host/SNI override.
    pub host: Option<String>,
    /// Fixed edge address.
    pub connect: Option<SocketAddr>,
    /// Interval, ms.
    pub interval_ms: u64,
    /// Timeout, ms.
    pub timeout_ms: u64,
    /// Expected status.
    pub expect_status: u16,
    /// Expected body size.
    pub expect_bytes: Option<u64>,
    /// Cache-status headers, lower case.
    pub cache_headers: Vec<String>,
}

/// Everything the health engine needs from one zone.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthPolicy {
    /// Engine tick, ms.
    pub tick_ms: u64,
    /// Staleness window, ms.
    pub staleness_ms: u64,
    /// SLA.
    pub sla: Sla,
    /// Weights.
    pub weights: SignalWeights,
    /// Score EWMA half-life, ms.
    pub half_life_ms: f64,
    /// Vantage quorum.
    pub quorum: usize,
    /// Drain below.
    pub down: f64,
    /// Return above (for `up_hold_ms`).
    pub up: f64,
    /// Hold time above `up`, ms.
    pub up_hold_ms: u64,
    /// Slew limit per tick.
    pub max_change_per_tick: f64,
    /// Minimum dwell between direction changes, ms.
    pub min_dwell_ms: u64,
    /// Incumbent bonus, score points.
    pub incumbent_bonus: f64,
    /// Warm share for healthy backups.
    pub min_warm_share: f64,
    /// Cap per CDN.
    pub max_share: f64,
    /// Dynamic TTL floor, seconds.
    pub fast_ttl: u32,
    /// TTL of fail-open answers, seconds.
    pub fail_open_ttl: u32,
    /// Capacities.
    pub capacity: Vec<Capacity>,
    /// Configured demand, Gbps per region.
    pub demand: Vec<(RegionKey, f64)>,
    /// Probes.
    pub probes: Vec<Probe>,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            tick_ms: 1000,
            staleness_ms: 30_000,
            sla: Sla {
                ttfb_ms: Bounds { good: 200.0, bad: 1000.0 },
                throughput_mbps: Bounds { good: 20.0, bad: 3.0 },
                cache_hit_ratio: Bounds { good: 0.95, bad: 0.60 },
                error_rate: Bounds { good: 0.002, bad: 0.05 },
            },
            weights: SignalWeights { ttfb: 0.3, throughput: 0.3, cache_hit: 0.1, errors: 0.3 },
            half_life_ms: 3_000.0,
            quorum: 1,
            down: 40.0,
            up: 70.0,
            up_hold_ms: 30_000,
            max_change_per_tick: 0.20,
            min_dwell_ms: 10_000,
            incumbent_bonus: 5.0,
            min_warm_share: 0.02,
            max_share: 1.0,
            fast_ttl: 5,
            fail_open_ttl: 10,
            capacity: Vec::new(),
            demand: Vec::new(),
            probes: Vec::new(),
        }
    }
}

/// Parse a region reference: `country:KR` (or just `KR`), `continent:AS`, `network:NAME`,
/// `default`.
pub fn parse_region(text: &str) -> Result<RegionKey, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("default") {
        return Ok(RegionKey::Default);
    }
    let (kind, value) = t.split_once(':').unwrap_or(("country", t));
    match kind {
        "country" => geo::country_code(value)
            .map(RegionKey::Country)
            .ok_or_else(|| format!("`{value}` is not an ISO 3166-1 alpha-2 country code")),
        "continent" => geo::continent_code(value)
            .map(RegionKey::Continent)
            .ok_or_else(|| format!("`{value}` is not a continent code (AF AN AS EU NA OC SA)")),
        "network" if !value.is_empty() => Ok(RegionKey::Network(value.to_string())),
        _ => Err(format!("region `{t}`; expected country:CC, CC, continent:CC, network:NAME or default")),
    }
}

/// Check a `health:` block. `cdns` are the CDN names used by the zone's steered names,
/// `networks` its network list names.
pub fn check_health(
    file: &std::path::Path,
    spec: Option<&Spanned<HealthSpec>>,
    cdns: &HashSet<String>,
    networks: &HashSet<String>,
    diags: &mut Diagnostics,
) -> HealthPolicy {
    let mut p = HealthPolicy::default();
    let Some(spec) = spec else { return p };
    let at = pos(spec);
    let s = &spec.value;
    let mut err = |at: Pos, path: &str, code: Code, msg: String| diags.push(file, at, format!("health.{path}"), code, msg);

    let positive_u64 = |v: &Spanned<u64>, path: &str, min: u64, max: u64, err: &mut dyn FnMut(Pos, &str, Code, String)| {
        if v.value < min || v.value > max {
            err(pos(v), path, Code::InvalidHealth, format!("{}; expected {min} to {max}", v.value));
        }
        v.value.clamp(min, max)
    };
    let fraction = |v: &Spanned<f64>, path: &str, allow_zero: bool, err: &mut dyn FnMut(Pos, &str, Code, String)| {
        let ok = v.value.is_finite() && v.value <= 1.0 && (v.value > 0.0 || (allow_zero && v.value == 0.0));
        if !ok {
            err(pos(v), path, Code::InvalidHealth, format!("{}; expected a fraction {}0 to 1", v.value, if allow_zero { "from " } else { "above " }));
        }
        v.value
    };

    if let Some(v) = &s.tick_ms {
        p.tick_ms = positive_u64(v, "tick_ms", 100, 60_000, &mut err);
    }
    if let Some(v) = &s.staleness_secs {
        p.staleness_ms = positive_u64(v, "staleness_secs", 1, 3600, &mut err) * 1000;
    }
    if let Some(sla) = &s.sla {
        let mut bounds = |b: &Option<Spanned<BoundsSpec>>, path: &str, lower_better: bool, unit_max: Option<f64>, target: &mut Bounds| {
            let Some(b) = b else { return };
            let (good, bad) = (b.value.good, b.value.bad);
            let ordered = if lower_better { good < bad } else { good > bad };
            let in_range = good.is_finite() && bad.is_finite() && good >= 0.0 && bad >= 0.0 && unit_max.is_none_or(|m| good <= m && bad <= m);
            if !ordered || !in_range {
                err(
                    pos(b),
                    &format!("sla.{path}"),
                    Code::InvalidHealth,
                    format!(
                        "good {good}, bad {bad}; expected non-negative bounds{} with good {} bad",
                        unit_max.map_or(String::new(), |m| format!(" up to {m}")),
                        if lower_better { "below" } else { "above" }
                    ),
                );
                return;
            }
            *target = Bounds { good, bad };
        };
        bounds(&sla.ttfb_ms, "ttfb_ms", true, None, &mut p.sla.ttfb_ms);
        bounds(&sla.throughput_mbps, "throughput_mbps", false, None, &mut p.sla.throughput_mbps);
        bounds(&sla.cache_hit_ratio, "cache_hit_ratio", false, Some(1.0), &mut p.sla.cache_hit_ratio);
        bounds(&sla.error_rate, "error_rate", true, Some(1.0), &mut p.sla.error_rate);
    }
    if let Some(w) = &s.weights {
        for (v, path, slot) in [
            (&w.ttfb, "ttfb", &mut p.weights.ttfb),
            (&w.throughput, "throughput", &mut p.weights.throughput),
            (&w.cache_hit, "cache_hit", &mut p.weights.cache_hit),
            (&w.errors, "errors", &mut p.weights.errors),
        ] {
            if let Some(v) = v {
                if !(v.value.is_finite() && v.value >= 0.0) {
                    err(pos(v), &format!("weights.{path}"), Code::InvalidHealth, format!("{}; expected a non-negative number", v.value));
                } else {
                    *slot = v.value;
                }
            }
        }
        let total = p.weights.ttfb + p.weights.throughput + p.weights.cache_hit + p.weights.errors;
        if total <= 0.0 {
            err(at, "weights", Code::InvalidHealth, "all weights are 0; expected at least one positive weight".to_string());
        }
    }
    if let Some(v) = &s.smoothing_half_life_secs {
        if !(v.value.is_finite() && v.value >= 0.0 && v.value <= 600.0) {
            err(pos(v), "smoothing_half_life_secs", Code::InvalidHealth, format!("{}; expected 0 to 600", v.value));
        } else {
            p.half_life_ms = v.value * 1000.0;
        }
    }
    if let Some(v) = &s.quorum {
        if v.value == 0 || v.value > 64 {
            err(pos(v), "quorum", Code::InvalidHealth, format!("{}; expected 1 to 64", v.value));
        } else {
            p.quorum = v.value;
        }
    }
    if let Some(t) = &s.thresholds {
        let score = |v: &Option<Spanned<f64>>, path: &str, slot: &mut f64, err: &mut dyn FnMut(Pos, &str, Code, String)| {
            if let Some(v) = v {
                if !(v.value.is_finite() && (0.0..=100.0).contains(&v.value)) {
                    err(pos(v), path, Code::InvalidHealth, format!("{}; expected a score from 0 to 100", v.value));
                } else {
                    *slot = v.value;
                }
            }
        };
        score(&t.down, "thresholds.down", &mut p.down, &mut err);
        score(&t.up, "thresholds.up", &mut p.up, &mut err);
        if p.up <= p.down {
            let at = t.up.as_ref().map_or(at, pos);
            err(at, "thresholds.up", Code::InvalidHealth, format!("up {} must be above down {} (asymmetric hysteresis)", p.up, p.down));
        }
        if let Some(v) = &t.up_hold_secs {
            p.up_hold_ms = positive_u64(v, "thresholds.up_hold_secs", 0, 3600, &mut err) * 1000;
        }
    }
    if let Some(sh) = &s.shares {
        if let Some(v) = &sh.max_change_per_tick {
            p.max_change_per_tick = fraction(v, "shares.max_change_per_tick", false, &mut err);
        }
        if let Some(v) = &sh.min_dwell_secs {
            p.min_dwell_ms = positive_u64(v, "shares.min_dwell_secs", 0, 3600, &mut err) * 1000;
        }
        if let Some(v) = &sh.incumbent_bonus {
            if !(v.value.is_finite() && (0.0..=50.0).contains(&v.value)) {
                err(pos(v), "shares.incumbent_bonus", Code::InvalidHealth, format!("{}; expected 0 to 50 score points", v.value));
            } else {
                p.incumbent_bonus = v.value;
            }
        }
        if let Some(v) = &sh.min_warm_share {
            p.min_warm_share = fraction(v, "shares.min_warm_share", true, &mut err);
            if p.min_warm_share > 0.25 {
                err(pos(v), "shares.min_warm_share", Code::InvalidHealth, format!("{}; expected at most 0.25", v.value));
            }
        }
        if let Some(v) = &sh.max_share {
            p.max_share = fraction(v, "shares.max_share", false, &mut err);
        }
        if let Some(v) = &sh.fast_ttl_secs {
            if v.value == 0 || v.value > 3600 {
                err(pos(v), "shares.fast_ttl_secs", Code::TtlOutOfBounds, format!("TTL {} is out of bounds; expected 1 to 3600 seconds", v.value));
            } else {
                p.fast_ttl = v.value;
            }
        }
        if let Some(v) = &sh.fail_open_ttl_secs {
            if v.value == 0 || v.value > 3600 {
                err(pos(v), "shares.fail_open_ttl_secs", Code::TtlOutOfBounds, format!("TTL {} is out of bounds; expected 1 to 3600 seconds", v.value));
            } else {
                p.fail_open_ttl = v.value;
            }
        }
    }

    let mut known: Vec<&String> = cdns.iter().collect();
    known.sort();
    let known = known.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    let region = |text: &Spanned<String>, path: &str, err: &mut dyn FnMut(Pos, &str, Code, String)| -> Option<RegionKey> {
        match parse_region(&text.value) {
            Ok(RegionKey::Network(n)) if !networks.contains(&n) => {
                err(pos(text), path, Code::UnknownNetwork, format!("network list `{n}` is not defined in `networks`"));
                None
            }
            Ok(r) => Some(r),
            Err(e) => {
                err(pos(text), path, Code::UnknownRegion, e);
                None
            }
        }
    };
    for (cdn, c) in &s.capacity.0 {
        let path = format!("capacity.{}", cdn.value);
        if !cdns.contains(&cdn.value) {
            err(pos(cdn), &path, Code::UnknownCdn, format!("CDN `{}` is not used by any steered name of this zone; expected one of: {known}", cdn.value));
            continue;
        }
        let mut cap = Capacity { cdn: cdn.value.clone(), gbps: None, target_utilisation: 0.8, regions: Vec::new() };
        if let Some(g) = &c.value.gbps {
            if !(g.value.is_finite() && g.value > 0.0) {
                err(pos(g), &format!("{path}.gbps"), Code::InvalidHealth, format!("{}; expected a positive capacity in Gbps", g.value));
            }
            cap.gbps = Some(g.value);
        }
        if let Some(u) = &c.value.target_utilisation {
            cap.target_utilisation = fraction(u, &format!("{path}.target_utilisation"), false, &mut err);
        }
        for (r, g) in &c.value.regions.0 {
            let rp = format!("{path}.regions.{}", r.value);
            if let Some(key) = region(r, &rp, &mut err) {
                if !(g.value.is_finite() && g.value > 0.0) {
                    err(pos(g), &rp, Code::InvalidHealth, format!("{}; expected a positive capacity in Gbps", g.value));
                }
                cap.regions.push((key, g.value));
            }
        }
        p.capacity.push(cap);
    }
    for (r, g) in &s.demand_gbps.0 {
        let rp = format!("demand_gbps.{}", r.value);
        if let Some(key) = region(r, &rp, &mut err) {
            if !(g.value.is_finite() && g.value >= 0.0) {
                err(pos(g), &rp, Code::InvalidHealth, format!("{}; expected a demand of 0 Gbps or more", g.value));
            }
            p.demand.push((key, g.value));
        }
    }
    for (i, probe) in s.probes.iter().enumerate() {
        let path = format!("probes[{i}]");
        let pr = &probe.value;
        if !cdns.contains(&pr.cdn.value) {
            err(pos(&pr.cdn), &format!("{path}.cdn"), Code::UnknownCdn, format!("CDN `{}` is not used by any steered name of this zone; expected one of: {known}", pr.cdn.value));
            continue;
        }
        let Some(region_key) = region(&pr.region, &format!("{path}.region"), &mut err) else { continue };
        let url = pr.url.value.trim().to_string();
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        let host_ok = url.split("://").nth(1).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if !scheme_ok || !host_ok || url.chars().any(char::is_whitespace) {
            err(pos(&pr.url), &format!("{path}.url"), Code::InvalidProbe, format!("`{url}`; expected an http:// or https:// URL with a host"));
            continue;
        }
        let connect = match &pr.connect {
            Some(c) => match c.value.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    err(pos(c), &format!("{path}.connect"), Code::InvalidProbe, format!("`{}`; expected address:port, e.g. 203.0.113.10:443", c.value));
                    continue;
                }
            },
            None => None,
        };
        let interval_ms = match &pr.interval_secs {
            Some(v) if !(v.value.is_finite() && (0.1..=3600.0).contains(&v.value)) => {
                err(pos(v), &format!("{path}.interval_secs"), Code::InvalidProbe, format!("{}; expected 0.1 to 3600 seconds", v.value));
                continue;
            }
            Some(v) => (v.value * 1000.0) as u64,
            None => 5000,
        };
        let timeout_ms = match &pr.timeout_ms {
            Some(v) if v.value == 0 || v.value > 60_000 => {
                err(pos(v), &format!("{path}.timeout_ms"), Code::InvalidProbe, format!("{}; expected 1 to 60000 ms", v.value));
                continue;
            }
            Some(v) => v.value,
            None => 2000.min(interval_ms.max(100)),
        };
        let expect_status = match &pr.expect_status {
            Some(v) if !(100..=599).contains(&v.value) => {
                err(pos(v), &format!("{path}.expect_status"), Code::InvalidProbe, format!("{}; expected an HTTP status 100 to 599", v.value));
                continue;
            }
            Some(v) => v.value,
            None => 200,
        };
        let cache_headers = match &pr.cache_headers {
            Some(h) => h.iter().map(|h| h.value.to_ascii_lowercase()).collect(),
            None => vec!["x-cache".to_string(), "cf-cache-status".to_string(), "x-cache-status".to_string()],
        };
        p.probes.push(Probe {
            cdn: pr.cdn.value.clone(),
            region: region_key,
            vantage: pr.vantage.as_ref().map_or_else(|| format!("probe-{i}"), |v| v.value.clone()),
            url,
            host: pr.host.as_ref().map(|h| h.value.clone()),
            connect,
            interval_ms,
            timeout_ms,
            expect_status,
            expect_bytes: pr.expect_bytes.as_ref().map(|b| b.value),
            cache_headers,
        });
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_parse() {
        assert_eq!(parse_region("KR"), Ok(RegionKey::Country(*b"KR")));
        assert_eq!(parse_region("country:jp"), Ok(RegionKey::Country(*b"JP")));
        assert_eq!(parse_region("continent:AS"), Ok(RegionKey::Continent(*b"AS")));
        assert_eq!(parse_region("network:kt"), Ok(RegionKey::Network("kt".into())));
        assert_eq!(parse_region("default"), Ok(RegionKey::Default));
        assert!(parse_region("XX").is_err());
        assert!(parse_region("planet:earth").is_err());
    }
}
