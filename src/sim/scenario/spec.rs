//! A scenario file as written (`scenarios/*.yaml`, `version: 1`; `scenarios/final.yaml` is the
//! commented reference). Strict like the zones: unknown keys, duplicate keys and wrong types
//! are errors with file:line:column, and every node a check may complain about keeps its
//! location. Meaning (ranges, sums, order, defaults) is checked in `check`, which turns this
//! into the `model`.
//!
//! Times inside the night are durations from its start written as text (`90s`, `1h50m`);
//! regions are written like in zones (`country:KR` or `KR`, `continent:AS`, `network:NAME`,
//! `default`).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::zone::spec::{OrderedMap, Spanned};

/// One scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Schema version; must be 1.
    pub version: Spanned<u32>,
    /// The scenario's name.
    pub scenario: Spanned<String>,
    /// The zone directory, relative to the scenario file.
    pub zones: Spanned<String>,
    /// The event directory, relative to the scenario file.
    #[serde(default)]
    pub events: Option<Spanned<String>>,
    /// The event whose window and policy apply.
    #[serde(default)]
    pub event: Option<Spanned<String>>,
    /// When the night starts, RFC 3339 (default: the event's start).
    #[serde(default)]
    pub start: Option<Spanned<String>>,
    /// How long it runs (default: to the event's end).
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    /// Simulated engine tick (default: each zone's `tick_ms`).
    #[serde(default)]
    pub tick: Option<Spanned<String>>,
    /// Seed of every random draw (default 0).
    #[serde(default)]
    pub seed: Option<Spanned<u64>>,
    /// Who watches.
    pub audience: Spanned<AudienceSpec>,
    /// The truth per CDN (CDNs not listed perform as the built-in defaults).
    #[serde(default)]
    pub cdns: OrderedMap<Spanned<CdnSpec>>,
    /// How a CDN degrades near its true capacity.
    #[serde(default)]
    pub saturation: Option<Spanned<SaturationSpec>>,
    /// Relative noise on every measured value (default 0.05).
    #[serde(default)]
    pub noise: Option<Spanned<f64>>,
    /// Simulated player telemetry.
    #[serde(default)]
    pub telemetry: Option<Spanned<TelemetrySpec>>,
    /// Simulated probe sites.
    #[serde(default)]
    pub probes: Vec<Spanned<ProbeSpec>>,
    /// What goes wrong, when.
    #[serde(default)]
    pub incidents: Vec<Spanned<IncidentSpec>>,
    /// Pass/fail limits of `simulate`.
    #[serde(default)]
    pub limits: Option<Spanned<LimitsSpec>>,
    /// `forecast` settings.
    #[serde(default)]
    pub forecast: Option<Spanned<ForecastSpec>>,
    /// The default sweep grid: policy setting -> values.
    #[serde(default)]
    pub sweep: OrderedMap<Spanned<Vec<Spanned<f64>>>>,
}

/// The audience block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceSpec {
    /// Concurrent viewers at 1.0 on the curve.
    pub peak_viewers: Spanned<f64>,
    /// The curve as a match (exactly one of `shape` and `points`).
    #[serde(default)]
    pub shape: Option<Spanned<ShapeSpec>>,
    /// The curve as points `[offset, fraction]`.
    #[serde(default)]
    pub points: Option<Spanned<Vec<PointSpec>>>,
    /// Region -> part of the audience (a number, or a mapping with its own curve).
    pub regions: Spanned<OrderedMap<Spanned<RegionAudienceSpec>>>,
    /// Mean bitrate, Mbit/s (exactly one of `bitrate_mbps` and `bitrate`).
    #[serde(default)]
    pub bitrate_mbps: Option<Spanned<f64>>,
    /// Bitrate ladder.
    #[serde(default)]
    pub bitrate: Option<Spanned<Vec<Spanned<RungSpec>>>>,
    /// Resolver classes (default: every resolver honours the TTL).
    #[serde(default)]
    pub resolvers: Option<Spanned<Vec<Spanned<ResolverSpec>>>>,
    /// Part of viewers who stay on their CDN mid-stream (default 0.7).
    #[serde(default)]
    pub sticky: Option<Spanned<f64>>,
    /// Sticky viewers restarting anyway, per minute (default 0.01).
    #[serde(default)]
    pub restart_per_min: Option<Spanned<f64>>,
    /// Sticky viewers on a degraded CDN restarting, per minute (default 0.25).
    #[serde(default)]
    pub rebuffer_restart_per_min: Option<Spanned<f64>>,
}

/// One curve point: `[offset, fraction]`.
pub type PointSpec = Spanned<(Spanned<String>, Spanned<f64>)>;

/// A football match as an audience curve (offsets are durations; `half_time` and
/// `full_time` count from kickoff).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeSpec {
    /// Kickoff, from the start.
    pub kickoff: Spanned<String>,
    /// Audience at the start.
    pub before: Spanned<f64>,
    /// The kickoff spike, a minute after kickoff.
    pub spike: Spanned<f64>,
    /// First half level.
    pub first_half: Spanned<f64>,
    /// Half time, from kickoff.
    pub half_time: Spanned<String>,
    /// How long half time lasts.
    pub half_time_for: Spanned<String>,
    /// The half-time dip.
    pub half_time_level: Spanned<f64>,
    /// Second half level.
    pub second_half: Spanned<f64>,
    /// End of normal time, from kickoff.
    pub full_time: Spanned<String>,
    /// Extra time (default none).
    #[serde(default)]
    pub extra_time: Option<Spanned<String>>,
    /// Extra time level (default 1.0).
    #[serde(default)]
    pub extra_time_level: Option<Spanned<f64>>,
    /// From the final whistle down to `after`.
    pub drop_off: Spanned<String>,
    /// Audience after the drop-off.
    pub after: Spanned<f64>,
}

/// One region's audience: a bare part, or a part with the region's own curve.
#[derive(Debug)]
pub enum RegionAudienceSpec {
    /// `country:KR: 0.66`.
    Part(f64),
    /// `country:KR: {part: 0.66, points: [...]}` or `{part, shape}`.
    Curve(Box<RegionCurveSpec>),
}

/// A region with its own curve.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionCurveSpec {
    /// Part of the audience.
    pub part: Spanned<f64>,
    /// Its curve as a match.
    #[serde(default)]
    pub shape: Option<Spanned<ShapeSpec>>,
    /// Its curve as points.
    #[serde(default)]
    pub points: Option<Spanned<Vec<PointSpec>>>,
}

impl<'de> Deserialize<'de> for RegionAudienceSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PartOrCurve;
        impl<'de> Visitor<'de> for PartOrCurve {
            type Value = RegionAudienceSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a part (0 to 1) or a mapping with `part` and `points` or `shape`")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RegionAudienceSpec::Part(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RegionAudienceSpec::Part(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RegionAudienceSpec::Part(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RegionCurveSpec::deserialize(de::value::MapAccessDeserializer::new(map)).map(|c| RegionAudienceSpec::Curve(Box::new(c)))
            }
        }
        deserializer.deserialize_any(PartOrCurve)
    }
}

/// One rung of the bitrate ladder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RungSpec {
    /// Bitrate, Mbit/s.
    pub mbps: Spanned<f64>,
    /// Part of viewers.
    pub part: Spanned<f64>,
}

/// A resolver class.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverSpec {
    /// Name, for the report.
    pub name: Spanned<String>,
    /// Part of viewers behind such resolvers.
    pub part: Spanned<f64>,
    /// The TTL is raised to at least this (default 0s: the TTL as served).
    #[serde(default)]
    pub min_ttl: Option<Spanned<String>>,
}

/// The truth about one CDN.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdnSpec {
    /// For regions not listed (fields omitted: the built-in defaults).
    #[serde(default)]
    pub default: Option<Spanned<PerformanceSpec>>,
    /// Per region (fields omitted: from `default`).
    #[serde(default)]
    pub regions: OrderedMap<Spanned<PerformanceSpec>>,
}

/// What a CDN delivers in a region; every field optional (inherited).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerformanceSpec {
    /// True capacity, Gbps.
    #[serde(default)]
    pub capacity_gbps: Option<Spanned<f64>>,
    /// Median TTFB, ms.
    #[serde(default)]
    pub ttfb_ms: Option<Spanned<f64>>,
    /// Throughput, Mbit/s.
    #[serde(default)]
    pub throughput_mbps: Option<Spanned<f64>>,
    /// Cache hit ratio, 0..1.
    #[serde(default)]
    pub cache_hit_ratio: Option<Spanned<f64>>,
    /// Error rate, 0..1.
    #[serde(default)]
    pub error_rate: Option<Spanned<f64>>,
}

/// The saturation curve (every field optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaturationSpec {
    /// Utilisation where degradation starts (default 0.85).
    #[serde(default)]
    pub knee: Option<Spanned<f64>>,
    /// TTFB multiplier at capacity (default 3).
    #[serde(default)]
    pub ttfb_factor: Option<Spanned<f64>>,
    /// Throughput multiplier at capacity (default 0.5).
    #[serde(default)]
    pub throughput_factor: Option<Spanned<f64>>,
    /// Error rate added at capacity (default 0.01).
    #[serde(default)]
    pub error_rate_at_capacity: Option<Spanned<f64>>,
    /// Error rate added per 100% over capacity (default 0.5).
    #[serde(default)]
    pub error_rate_per_overload: Option<Spanned<f64>>,
}

/// Simulated player telemetry (every field optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySpec {
    /// Window length (default 10s).
    #[serde(default)]
    pub every: Option<Spanned<String>>,
    /// Delay to arrival (default 5s).
    #[serde(default)]
    pub delay: Option<Spanned<String>>,
    /// Source name (default `players`).
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    /// Segment fetches per viewer per second (default 0.25).
    #[serde(default)]
    pub requests_per_viewer_sec: Option<Spanned<f64>>,
}

/// A simulated probe site.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// Vantage name.
    pub vantage: Spanned<String>,
    /// Region it speaks for.
    pub region: Spanned<String>,
    /// Interval (default 5s).
    #[serde(default)]
    pub every: Option<Spanned<String>>,
    /// Timeout (default 2s).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
}

/// The kinds of incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKindSpec {
    /// Performance goes bad.
    Degrade,
    /// Nothing answers.
    Dark,
    /// A probe vantage stops reporting.
    ProbeBlind,
    /// Player telemetry stops.
    TelemetryStops,
}

impl IncidentKindSpec {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKindSpec::Degrade => "degrade",
            IncidentKindSpec::Dark => "dark",
            IncidentKindSpec::ProbeBlind => "probe_blind",
            IncidentKindSpec::TelemetryStops => "telemetry_stops",
        }
    }
}

/// One incident: the fields a kind takes are checked in `check` (one flat mapping keeps
/// every field located; a tagged enum would lose the positions).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    /// Its label in the summary (default: generated).
    #[serde(default)]
    pub label: Option<Spanned<String>>,
    /// Offset from the start.
    pub at: Spanned<String>,
    /// How long.
    #[serde(rename = "for")]
    pub for_: Spanned<String>,
    /// What.
    pub kind: Spanned<IncidentKindSpec>,
    /// CDN (degrade, dark).
    #[serde(default)]
    pub cdn: Option<Spanned<String>>,
    /// Region (degrade, dark, telemetry_stops; default every region).
    #[serde(default)]
    pub region: Option<Spanned<String>>,
    /// Vantage (probe_blind).
    #[serde(default)]
    pub vantage: Option<Spanned<String>>,
    /// TTFB, ms (degrade).
    #[serde(default)]
    pub ttfb_ms: Option<Spanned<f64>>,
    /// Error rate (degrade).
    #[serde(default)]
    pub error_rate: Option<Spanned<f64>>,
    /// Throughput, Mbit/s (degrade).
    #[serde(default)]
    pub throughput_mbps: Option<Spanned<f64>>,
    /// Cache hit ratio (degrade).
    #[serde(default)]
    pub cache_hit_ratio: Option<Spanned<f64>>,
    /// True capacity, Gbps (degrade).
    #[serde(default)]
    pub capacity_gbps: Option<Spanned<f64>>,
}

/// Pass/fail limits (every field optional: not checked).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Viewer-minutes on a degraded CDN, percent.
    #[serde(default)]
    pub max_viewer_minutes_degraded_pct: Option<Spanned<f64>>,
    /// Flaps per hour per CDN x region.
    #[serde(default)]
    pub max_flaps_per_hour: Option<Spanned<f64>>,
    /// No commit breach.
    #[serde(default)]
    pub no_commit_breach: Option<Spanned<bool>>,
    /// No share above the policy's `max_share`.
    #[serde(default)]
    pub no_max_share_breach: Option<Spanned<bool>>,
    /// Seconds from an incident's onset to 90% of its viewers moved.
    #[serde(default)]
    pub max_shift_secs: Option<Spanned<f64>>,
}

/// `forecast` settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastSpec {
    /// Capacity needed = peak x share x headroom (default 1.2).
    #[serde(default)]
    pub headroom: Option<Spanned<f64>>,
}
