//! The `health:` block as written (`version: 1` zone files): every node a check may complain
//! about keeps its source position. Meaning is checked in `check`.

use serde::Deserialize;

use crate::zone::spec::{OrderedMap, Spanned};

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
    /// What the CDN can carry for this zone, Gbps.
    #[serde(default)]
    pub gbps: Option<Spanned<f64>>,
    /// Billing commitment, Gbps (reported against, never steered by).
    #[serde(default)]
    pub commit_gbps: Option<Spanned<f64>>,
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

