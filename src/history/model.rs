//! What the read API returns: windows, buckets and filters in; series, bucket summaries,
//! events and stream items out. Plain data with `Serialize` (times in Unix ms; names, regions
//! and CDNs as text), for the dashboard's JSON, the report and the live stream.

use serde::Serialize;

use super::{EventKind, HistoryError};
use crate::steer::CandidateState;
use crate::timestamp::Millis;

/// Most buckets one query may ask for.
pub const MAX_BUCKETS: u64 = 100_000;

/// A time window, `[from, to)`, Unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start, included.
    pub from: Millis,
    /// End, excluded.
    pub to: Millis,
}

/// A window cut into buckets of `step_ms` (the last one may be shorter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// Start, included.
    pub from: Millis,
    /// End, excluded.
    pub to: Millis,
    /// Bucket length, ms (at least 1).
    pub step_ms: Millis,
}

impl Buckets {
    pub(crate) fn check(&self) -> Result<u64, HistoryError> {
        if self.step_ms == 0 || self.to <= self.from {
            return Err(HistoryError::Query(format!("empty window or zero step (from {} to {}, step {} ms)", self.from, self.to, self.step_ms)));
        }
        let n = (self.to - self.from).div_ceil(self.step_ms);
        if n > MAX_BUCKETS {
            return Err(HistoryError::Query(format!("{n} buckets asked for; at most {MAX_BUCKETS}: use a larger step")));
        }
        Ok(n)
    }

    pub(crate) fn bucket_of(&self, at: Millis) -> Millis {
        self.from + (at.saturating_sub(self.from)) / self.step_ms * self.step_ms
    }

    pub(crate) fn window(&self) -> Window {
        Window { from: self.from, to: self.to }
    }
}

/// Which series a query covers; `None` is all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Steered name (`live.example.com.` as the zone writes it, `_other` for answers past
    /// `metrics.max_names`).
    pub name: Option<String>,
    /// Region key (`country:KR`, `continent:AS`, `default`).
    pub region: Option<String>,
    /// CDN.
    pub cdn: Option<String>,
}

/// One share row: the state of a CDN in a region from `at` on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharePoint {
    /// Row id.
    pub id: i64,
    /// From when (a series' first point in a window is moved to the window's start).
    pub at: Millis,
    /// Share of the region's answers, 0..1.
    pub share: f64,
    /// Smoothed score, when known.
    pub score: Option<f64>,
    /// The one-word state.
    pub state: CandidateState,
    /// Written as a keyframe rather than for a change.
    pub keyframe: bool,
}

/// One series: a CDN in a region of a steered name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series<P> {
    /// Steered name.
    pub name: String,
    /// Region key.
    pub region: String,
    /// CDN.
    pub cdn: String,
    /// Points in time order.
    pub points: Vec<P>,
}

/// A series over one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareBucket {
    /// Bucket start.
    pub at: Millis,
    /// Time-weighted mean share over the part of the bucket where the series was known.
    pub share_mean: f64,
    /// Share at the end of the bucket.
    pub share_last: f64,
    /// Score at the end of the bucket.
    pub score_last: Option<f64>,
    /// Lowest score in force during the bucket.
    pub score_min: Option<f64>,
    /// State at the end of the bucket.
    pub state_last: CandidateState,
}

/// Signals of a CDN in a region over one bucket, every vantage together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalBucket {
    /// Bucket start.
    pub at: Millis,
    /// CDN.
    pub cdn: String,
    /// Region key.
    pub region: String,
    /// Observations (a downsampled row counts its samples).
    pub samples: u64,
    /// Distinct vantages.
    pub vantages: u32,
    /// Requests measured.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// errors / requests (request-weighted: a telemetry window of 10,000 requests weighs
    /// more than a probe).
    pub error_rate: Option<f64>,
    /// cache hits / requests, over the observations that report cache hits.
    pub cache_hit_ratio: Option<f64>,
    /// Median of the observations' TTFB (probe samples, telemetry window medians), ms.
    pub ttfb_p50_ms: Option<f64>,
    /// 95th percentile of the observations' TTFB; for downsampled rows, of each minute's
    /// highest, ms.
    pub ttfb_p95_ms: Option<f64>,
    /// Mean throughput of the observations, Mbit/s.
    pub throughput_mbps: Option<f64>,
    /// Failed probes (a downsampled minute counts at most once per vantage).
    pub failures: u64,
    /// The most frequent failure reason, when any.
    pub failure: Option<&'static str>,
}

/// How answers are summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerGroup {
    /// Per CDN (every name and region).
    Cdn,
    /// Per CDN x region (every name).
    CdnRegion,
    /// Per steered name x region x CDN.
    NameRegionCdn,
}

/// Answers over one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerBucket {
    /// Bucket start.
    pub at: Millis,
    /// Steered name, when grouped by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Region, when grouped by region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// CDN.
    pub cdn: String,
    /// Steered answers given.
    pub answers: u64,
}

/// Viewer experience of a CDN in a region over one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QoeBucket {
    /// Bucket start.
    pub at: Millis,
    /// CDN.
    pub cdn: String,
    /// Region key.
    pub region: String,
    /// Telemetry windows.
    pub windows: u64,
    /// Concurrent viewers: per source the mean over its windows, summed over sources.
    pub viewers: Option<f64>,
    /// Startup time, median: viewer-weighted mean of the windows' medians, ms.
    pub startup_p50_ms: Option<f64>,
    /// Startup time, 95th percentile of the windows' p95, ms.
    pub startup_p95_ms: Option<f64>,
    /// Rebuffering ratio, viewer-weighted mean of the windows'.
    pub rebuffer_ratio: Option<f64>,
    /// Playbacks failed.
    pub playback_failures: u64,
    /// Viewers who left before playback started.
    pub exits_before_start: u64,
    /// TTFB, 95th percentile of the windows' p95, ms.
    pub ttfb_p95_ms: Option<f64>,
    /// TTFB, highest window p99, ms.
    pub ttfb_p99_ms: Option<f64>,
    /// Traffic delivered: per source the mean, summed over sources, Gbps.
    pub delivered_gbps: Option<f64>,
}

/// A decision, reload, override, freeze or annotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEvent {
    /// Row id.
    pub id: i64,
    /// When.
    pub at: Millis,
    /// What kind.
    pub kind: EventKind,
    /// Steered name, if it concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Region, if it concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Snapshot generation, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Who (token name, `system`, `SIGHUP`, the annotation's author).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    /// Reason or text.
    pub text: String,
    /// By kind: decision `{old, new, overrides, fails_open}` (shares as `[cdn, share]`
    /// pairs); reload `{ok, took_ms, error}`; override `{what, author, before, after}`;
    /// freeze `{event, phase}`; annotation none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// One row of any table, as the live stream sends it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HistoryItem {
    /// A share row.
    Share {
        /// Steered name.
        name: String,
        /// Region.
        region: String,
        /// CDN.
        cdn: String,
        /// The row.
        #[serde(flatten)]
        point: SharePoint,
    },
    /// An observation.
    Signal(SignalRecord),
    /// Answers of one interval.
    Answers(AnswerRecord),
    /// A QoE window.
    Qoe(QoeRecord),
    /// An event.
    Event(HistoryEvent),
}

impl HistoryItem {
    /// The row id.
    pub fn id(&self) -> i64 {
        match self {
            HistoryItem::Share { point, .. } => point.id,
            HistoryItem::Signal(s) => s.id,
            HistoryItem::Answers(a) => a.id,
            HistoryItem::Qoe(q) => q.id,
            HistoryItem::Event(e) => e.id,
        }
    }
}

/// An observation as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalRecord {
    /// Row id.
    pub id: i64,
    /// When.
    pub at: Millis,
    /// Zone, when one zone has the CDN.
    pub zone: Option<String>,
    /// CDN.
    pub cdn: String,
    /// Region.
    pub region: String,
    /// Vantage.
    pub vantage: String,
    /// Observations merged (1 unless downsampled).
    pub samples: u64,
    /// Requests.
    pub requests: u64,
    /// Errors.
    pub errors: u64,
    /// Cache hits, when known.
    pub cache_hits: Option<u64>,
    /// TTFB, ms.
    pub ttfb_ms: Option<f64>,
    /// Highest TTFB of a downsampled minute, ms.
    pub ttfb_hi_ms: Option<f64>,
    /// Throughput, Mbit/s.
    pub throughput_mbps: Option<f64>,
    /// Failure reason of a failed probe.
    pub failure: Option<&'static str>,
}

/// Answers of one interval as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerRecord {
    /// Row id.
    pub id: i64,
    /// Interval start.
    pub at: Millis,
    /// Interval length, ms.
    pub span_ms: Millis,
    /// Steered name.
    pub name: String,
    /// Region.
    pub region: String,
    /// CDN.
    pub cdn: String,
    /// Answers.
    pub answers: u64,
}

/// A QoE window as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QoeRecord {
    /// Row id.
    pub id: i64,
    /// Window end.
    pub at: Millis,
    /// CDN.
    pub cdn: String,
    /// Region.
    pub region: String,
    /// Telemetry source.
    pub source: String,
    /// Windows merged (1 unless downsampled).
    pub samples: u64,
    /// Window length, s.
    pub window_secs: Option<u64>,
    /// Concurrent viewers.
    pub viewers: Option<u64>,
    /// Startup median, ms.
    pub startup_p50_ms: Option<f64>,
    /// Startup p95, ms.
    pub startup_p95_ms: Option<f64>,
    /// Rebuffering ratio.
    pub rebuffer_ratio: Option<f64>,
    /// Playbacks failed.
    pub playback_failures: Option<u64>,
    /// Exits before start.
    pub exits_before_start: Option<u64>,
    /// TTFB median, ms.
    pub ttfb_p50_ms: Option<f64>,
    /// TTFB p95, ms.
    pub ttfb_p95_ms: Option<f64>,
    /// TTFB p99, ms.
    pub ttfb_p99_ms: Option<f64>,
    /// Requests.
    pub requests: u64,
    /// Errors.
    pub errors: u64,
    /// Delivered, Gbps.
    pub delivered_gbps: Option<f64>,
}

