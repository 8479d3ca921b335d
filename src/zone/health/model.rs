//! The validated health policy of one zone: what the health engine and the share engine read.
//! Everything here has passed `check`.

use std::net::SocketAddr;

use crate::region::RegionKey;

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
    /// What the CDN can carry for this zone, Gbps (one budget for every region).
    pub gbps: Option<f64>,
    /// Billing commitment, Gbps (paid for whether used or not; traffic above it is billed as
    /// overage, usually on the 95th percentile of 5-minute means). Not a steering limit: the
    /// post-event report compares delivered traffic with it.
    pub commit_gbps: Option<f64>,
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
    /// Event windows that change the share and TTL settings while they last (from events/).
    pub windows: Vec<PolicyWindow>,
}

/// Share and TTL settings an event changes for a zone while its window lasts (scores stay as
/// configured); `None` keeps the zone's own value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharePatch {
    /// Slew limit per tick.
    pub max_change_per_tick: Option<f64>,
    /// Minimum dwell between direction changes, ms.
    pub min_dwell_ms: Option<u64>,
    /// Warm share for healthy backups.
    pub min_warm_share: Option<f64>,
    /// Cap per CDN.
    pub max_share: Option<f64>,
    /// TTL while shares move, seconds.
    pub fast_ttl: Option<u32>,
}

/// An event's policy for one zone, in force from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyWindow {
    /// The event's name.
    pub event: String,
    /// Unix ms.
    pub start: crate::timestamp::Millis,
    /// Unix ms.
    pub end: crate::timestamp::Millis,
    /// The settings it changes.
    pub patch: SharePatch,
}

impl HealthPolicy {
    /// The policy in force at `now`: the zone's own, with the share and TTL settings of an
    /// event window that covers `now` (the first one, when windows overlap). Borrowed (no
    /// copy) outside every window.
    pub fn at(&self, now: crate::timestamp::Millis) -> std::borrow::Cow<'_, HealthPolicy> {
        let Some(w) = self.windows.iter().find(|w| w.start <= now && now < w.end) else {
            return std::borrow::Cow::Borrowed(self);
        };
        let mut p = self.clone();
        let patch = &w.patch;
        p.max_change_per_tick = patch.max_change_per_tick.unwrap_or(p.max_change_per_tick);
        p.min_dwell_ms = patch.min_dwell_ms.unwrap_or(p.min_dwell_ms);
        p.min_warm_share = patch.min_warm_share.unwrap_or(p.min_warm_share);
        p.max_share = patch.max_share.unwrap_or(p.max_share);
        p.fast_ttl = patch.fast_ttl.unwrap_or(p.fast_ttl);
        std::borrow::Cow::Owned(p)
    }
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
            windows: Vec::new(),
        }
    }
}


/// Share moves smaller than this (half a percent) are not worth a new snapshot: the share
/// engine's deadband. A slew limit below it could never move a share.
pub const SHARE_DEADBAND: f64 = 0.005;
