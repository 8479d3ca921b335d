//! Viewer experience as players report it, per CDN x region window (pushed with telemetry):
//! concurrent viewers, startup time, rebuffering, playback failures, exits before start, and
//! the TTFB tail. Recorded and reported; it does not change scores. A leaf: plain data.

use serde::{Deserialize, Serialize};

use crate::region::RegionKey;
use crate::timestamp::Millis;

/// One window's viewer experience for a CDN in a region, from one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QoeSample {
    /// CDN name.
    pub cdn: String,
    /// Region the window speaks for.
    #[serde(with = "region_text")]
    pub region: RegionKey,
    /// Who reported it (telemetry `source`).
    pub source: String,
    /// End of the window, Unix ms.
    pub at: Millis,
    /// Length of the window, seconds, when given.
    pub window_secs: Option<u64>,
    /// Concurrent viewers.
    pub viewers: Option<u64>,
    /// Startup time, median, ms.
    pub startup_p50_ms: Option<f64>,
    /// Startup time, 95th percentile, ms.
    pub startup_p95_ms: Option<f64>,
    /// Time rebuffering / time watching, 0..1.
    pub rebuffer_ratio: Option<f64>,
    /// Playbacks that failed in the window.
    pub playback_failures: Option<u64>,
    /// Viewers who left before playback started.
    pub exits_before_start: Option<u64>,
    /// TTFB, median, ms.
    pub ttfb_p50_ms: Option<f64>,
    /// TTFB, 95th percentile, ms.
    pub ttfb_p95_ms: Option<f64>,
    /// TTFB, 99th percentile, ms.
    pub ttfb_p99_ms: Option<f64>,
    /// Requests in the window.
    pub requests: u64,
    /// Failed requests in the window.
    pub errors: u64,
    /// Traffic delivered, Gbps.
    pub delivered_gbps: Option<f64>,
}

impl QoeSample {
    /// True when the window carries any player-side field (not only CDN/log counters).
    pub fn has_player_fields(&self) -> bool {
        self.viewers.is_some() || self.startup_p50_ms.is_some() || self.startup_p95_ms.is_some() || self.rebuffer_ratio.is_some() || self.playback_failures.is_some() || self.exits_before_start.is_some()
    }
}

mod region_text {
    use crate::region::{RegionKey, parse_region};

    pub fn serialize<S: serde::Serializer>(r: &RegionKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&r.to_string())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RegionKey, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        parse_region(&text).map_err(serde::de::Error::custom)
    }
}
