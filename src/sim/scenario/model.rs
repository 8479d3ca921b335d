//! A validated scenario: what the simulator runs. Everything here has passed `check`; times
//! are offsets from the scenario's start in milliseconds, shares are fractions.

use std::path::PathBuf;

use crate::region::RegionKey;
use crate::timestamp::Millis;

/// One scenario file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Its name (`scenario:`).
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// The zone directory to test (resolved against the scenario file's directory).
    pub zones: PathBuf,
    /// The event directory (resolved), if the scenario names one.
    pub events: Option<PathBuf>,
    /// The event whose window and policy apply, if any.
    pub event: Option<String>,
    /// When the simulated night starts (Unix ms); `None`: the event's start.
    pub start: Option<Millis>,
    /// How long it runs, ms; `None`: to the event's end.
    pub duration_ms: Option<u64>,
    /// Simulated tick, ms; `None`: each zone's own `tick_ms`.
    pub tick_ms: Option<u64>,
    /// Seed of every random draw (noise).
    pub seed: u64,
    /// Who watches, from where, at what bitrate, and how they follow DNS.
    pub audience: Audience,
    /// What each CDN really is per region (not what the zone believes).
    pub cdns: Vec<CdnTruth>,
    /// How every CDN degrades as utilisation nears and passes its true capacity.
    pub saturation: Saturation,
    /// Relative noise on every measured value (0.05 = +-5%).
    pub noise: f64,
    /// Simulated player telemetry.
    pub telemetry: TelemetryModel,
    /// Simulated probe vantages, beside the zone's own probes.
    pub probes: Vec<ProbeSite>,
    /// What goes wrong, when.
    pub incidents: Vec<Incident>,
    /// Limits that make `simulate` exit non-zero.
    pub limits: Limits,
    /// Headroom factor for `forecast` (1.2 = 20% above the peak).
    pub headroom: f64,
    /// The default `--sweep` grid.
    pub sweep: Vec<SweepAxis>,
}

/// The audience.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    /// Concurrent viewers at the curve's 1.0.
    pub peak_viewers: f64,
    /// The audience over time as a fraction of `peak_viewers`: points (offset ms, fraction),
    /// sorted, linear between them, flat past the ends. A `shape` becomes points in `check`.
    pub curve: Vec<(u64, f64)>,
    /// Regions and their part of the audience (parts sum to 1).
    pub regions: Vec<RegionAudience>,
    /// Bitrate ladder: (Mbit/s, part of viewers); one rung for a mean bitrate.
    pub bitrate: Vec<(f64, f64)>,
    /// Resolver classes (parts sum to 1).
    pub resolvers: Vec<ResolverClass>,
    /// Part of viewers who stay on their CDN mid-stream (move only on restart or rebuffering).
    pub sticky: f64,
    /// Sticky viewers restarting anyway, per minute (zapping, app restarts).
    pub restart_per_min: f64,
    /// Sticky viewers on a degraded CDN restarting (and re-resolving), per minute.
    pub rebuffer_restart_per_min: f64,
}

/// One region's audience.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionAudience {
    /// The region, as the zone's steered name keys it (`country:KR`, `continent:AS`, `default`).
    pub region: RegionKey,
    /// Part of the audience.
    pub part: f64,
    /// Its own curve (same form as `Audience::curve`), when it differs.
    pub curve: Option<Vec<(u64, f64)>>,
}

/// How a class of resolvers treats the answer TTL.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolverClass {
    /// Name, for the report (`honours-ttl`, `clamps-30s`).
    pub name: String,
    /// Part of the viewers behind such resolvers.
    pub part: f64,
    /// The TTL is raised to at least this, seconds (0: the TTL as served).
    pub min_ttl_secs: u32,
}

/// The truth about one CDN.
#[derive(Debug, Clone, PartialEq)]
pub struct CdnTruth {
    /// CDN name, as in the zones.
    pub cdn: String,
    /// Per region; a region not listed uses `default`.
    pub regions: Vec<(RegionKey, Performance)>,
    /// For regions not listed.
    pub default: Performance,
}

/// What a CDN delivers in a region when lightly loaded, and what it can carry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Performance {
    /// What it can really carry there, Gbps (`None`: unlimited).
    pub capacity_gbps: Option<f64>,
    /// Median time to first byte, ms.
    pub ttfb_ms: f64,
    /// Throughput, Mbit/s.
    pub throughput_mbps: f64,
    /// Cache hit ratio, 0..1.
    pub cache_hit_ratio: f64,
    /// Error rate, 0..1.
    pub error_rate: f64,
}

/// The saturation curve: below `knee` x capacity nothing changes; from the knee to capacity
/// TTFB rises to `ttfb_factor` x, throughput falls to `throughput_factor` x and the error rate
/// rises by `error_rate_at_capacity`; past capacity the error rate rises by
/// `error_rate_per_overload` per 100% over (capped at 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Saturation {
    /// Utilisation where degradation starts, 0..1.
    pub knee: f64,
    /// TTFB multiplier at capacity.
    pub ttfb_factor: f64,
    /// Throughput multiplier at capacity.
    pub throughput_factor: f64,
    /// Error rate added at capacity.
    pub error_rate_at_capacity: f64,
    /// Error rate added per 100% over capacity.
    pub error_rate_per_overload: f64,
}

/// Simulated player telemetry.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryModel {
    /// Window length, ms (one measurement per CDN x region per window).
    pub every_ms: u64,
    /// Delay from the window's end to its arrival at the server, ms.
    pub delay_ms: u64,
    /// Source name (the vantage is `rum:<source>`).
    pub source: String,
    /// Requests per viewer per second (segment fetches), for the request counts.
    pub requests_per_viewer_sec: f64,
}

/// A simulated probe site: probes every CDN of the steered names in `region`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSite {
    /// Vantage name.
    pub vantage: String,
    /// Region it speaks for.
    pub region: RegionKey,
    /// Interval, ms.
    pub interval_ms: u64,
    /// Probe timeout, ms (a dark CDN reads as this TTFB).
    pub timeout_ms: u64,
}

/// Something that goes wrong from `at` for `for_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Offset from the start, ms.
    pub at: u64,
    /// How long, ms.
    pub for_ms: u64,
    /// What.
    pub kind: IncidentKind,
    /// Its label in the summary (`cloudfront KR degraded`), from the file or generated.
    pub label: String,
}

/// The kinds of incident.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentKind {
    /// A CDN's performance in a region (`None`: every region) goes bad: each `Some` replaces
    /// the modelled value.
    Degrade {
        /// CDN.
        cdn: String,
        /// Region, or all.
        region: Option<RegionKey>,
        /// TTFB, ms.
        ttfb_ms: Option<f64>,
        /// Error rate.
        error_rate: Option<f64>,
        /// Throughput, Mbit/s.
        throughput_mbps: Option<f64>,
        /// Cache hit ratio.
        cache_hit_ratio: Option<f64>,
        /// True capacity, Gbps.
        capacity_gbps: Option<f64>,
    },
    /// A CDN answers nothing in a region (or everywhere): probes fail to connect, players
    /// fail every request.
    Dark {
        /// CDN.
        cdn: String,
        /// Region, or all.
        region: Option<RegionKey>,
    },
    /// A probe vantage stops reporting.
    ProbeBlind {
        /// Vantage name.
        vantage: String,
    },
    /// Player telemetry stops, for one region or all.
    TelemetryStops {
        /// Region, or all.
        region: Option<RegionKey>,
    },
}

/// Pass/fail limits (`None`: not checked).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Viewer-minutes on a degraded CDN, percent of all viewer-minutes.
    pub max_viewer_minutes_degraded_pct: Option<f64>,
    /// Flaps per hour per CDN x region.
    pub max_flaps_per_hour: Option<f64>,
    /// No commit breach.
    pub no_commit_breach: bool,
    /// No CDN's share of a region above the policy's `max_share`.
    pub no_max_share_breach: bool,
    /// Seconds from an incident's onset to 90% of its viewers moved.
    pub max_shift_secs: Option<f64>,
}

/// One axis of a sweep: a policy setting and the values to try.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepAxis {
    /// Which setting.
    pub param: SweepParam,
    /// Values, in the setting's unit (seconds for times, 0..1 for shares, score points).
    pub values: Vec<f64>,
}

/// Policy settings a sweep may vary (each applies to every steered zone of the scenario).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SweepParam {
    /// `thresholds.down`.
    Down,
    /// `thresholds.up`.
    Up,
    /// `thresholds.up_hold_secs`.
    UpHoldSecs,
    /// `shares.max_change_per_tick`.
    MaxChangePerTick,
    /// `shares.min_dwell_secs`.
    MinDwellSecs,
    /// `shares.max_share`.
    MaxShare,
    /// `shares.fast_ttl_secs`.
    FastTtlSecs,
    /// `smoothing_half_life_secs`.
    HalfLifeSecs,
    /// `weights.ttfb` (the others scaled so the four sum as before).
    WeightTtfb,
    /// `weights.errors`.
    WeightErrors,
}

impl SweepParam {
    /// Every parameter, with the name used in files and on the command line.
    pub const ALL: [(SweepParam, &'static str); 10] = [
        (SweepParam::Down, "down"),
        (SweepParam::Up, "up"),
        (SweepParam::UpHoldSecs, "up_hold_secs"),
        (SweepParam::MaxChangePerTick, "max_change_per_tick"),
        (SweepParam::MinDwellSecs, "min_dwell_secs"),
        (SweepParam::MaxShare, "max_share"),
        (SweepParam::FastTtlSecs, "fast_ttl_secs"),
        (SweepParam::HalfLifeSecs, "smoothing_half_life_secs"),
        (SweepParam::WeightTtfb, "weights.ttfb"),
        (SweepParam::WeightErrors, "weights.errors"),
    ];

    /// Its name in files and on the command line.
    pub fn name(self) -> &'static str {
        SweepParam::ALL.iter().find(|(p, _)| *p == self).map_or("?", |(_, n)| n)
    }

    /// By name.
    pub fn parse(name: &str) -> Option<SweepParam> {
        SweepParam::ALL.iter().find(|(_, n)| *n == name).map(|(p, _)| *p)
    }
}
