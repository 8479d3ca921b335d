//! What the dashboard reads, behind one boundary ([`DashboardSource`]): rows with ids, in id
//! order (the live stream, and where a reconnecting browser resumes), and a window of them
//! cut into buckets (the backfill a page loads first). The stream, the views and the page
//! only see [`Row`] and [`Backfill`]; a source built on the history database replaces the
//! in-memory one (`memory::Recorder`) without touching them.
//!
//! The row shapes follow the history's rows (share, signal, answers, QoE, event), field for
//! field, so the page reads either the same way.

use serde::Serialize;

use crate::steer::CandidateState;
use crate::timestamp::Millis;

/// A row id: increasing in the order rows are recorded. What `Last-Event-ID` carries.
pub type RowId = u64;

/// One recorded fact.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Row {
    /// A CDN's share, score or state in a region of a steered name changed.
    Share(ShareRow),
    /// What a vantage (probe or telemetry source) measured of a CDN in a region.
    Signal(SignalRow),
    /// Steered answers given over an interval.
    Answers(AnswersRow),
    /// Viewer experience of one telemetry window.
    Qoe(QoeRow),
    /// A decision, reload, override, freeze or annotation.
    Event(EventRow),
}

impl Row {
    /// Its id.
    pub fn id(&self) -> RowId {
        match self {
            Row::Share(r) => r.id,
            Row::Signal(r) => r.id,
            Row::Answers(r) => r.id,
            Row::Qoe(r) => r.id,
            Row::Event(r) => r.id,
        }
    }

    /// When it happened (Unix ms).
    pub fn at(&self) -> Millis {
        match self {
            Row::Share(r) => r.at,
            Row::Signal(r) => r.at,
            Row::Answers(r) => r.at,
            Row::Qoe(r) => r.at,
            Row::Event(r) => r.at,
        }
    }

    /// The SSE event name the stream sends it under.
    pub fn event_name(&self) -> &'static str {
        match self {
            Row::Share(_) => "share",
            Row::Signal(_) => "signal",
            Row::Answers(_) => "answers",
            Row::Qoe(_) => "qoe",
            Row::Event(_) => "log",
        }
    }
}

/// A share row: the state of a CDN in a region from `at` on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareRow {
    /// Row id.
    pub id: RowId,
    /// From when.
    pub at: Millis,
    /// Steered name (absolute, with the trailing dot).
    pub name: String,
    /// Region key (`country:KR`).
    pub region: String,
    /// CDN.
    pub cdn: String,
    /// Share of the region's answers, 0..1.
    pub share: f64,
    /// Smoothed score 0..100, when known.
    pub score: Option<f64>,
    /// The one-word state.
    pub state: CandidateState,
}

/// A signal row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalRow {
    /// Row id.
    pub id: RowId,
    /// When measured.
    pub at: Millis,
    /// CDN.
    pub cdn: String,
    /// Region the measurement speaks for.
    pub region: String,
    /// Probe name or `rum:<source>`.
    pub vantage: String,
    /// Requests it covers.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Of which were cache hits, when known.
    pub cache_hits: Option<u64>,
    /// Time to first byte, ms.
    pub ttfb_ms: Option<f64>,
    /// Throughput, Mbit/s.
    pub throughput_mbps: Option<f64>,
    /// Why the probe failed, when it did.
    pub failure: Option<&'static str>,
}

/// Steered answers of one name x region x CDN over `[at, at + span_ms)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswersRow {
    /// Row id.
    pub id: RowId,
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
    /// Answers given.
    pub answers: u64,
}

/// One telemetry window's viewer experience for a CDN in a region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QoeRow {
    /// Row id.
    pub id: RowId,
    /// End of the window.
    pub at: Millis,
    /// CDN.
    pub cdn: String,
    /// Region.
    pub region: String,
    /// Who reported it.
    pub source: String,
    /// Window length, seconds, when given.
    pub window_secs: Option<u64>,
    /// Concurrent viewers.
    pub viewers: Option<u64>,
    /// Time rebuffering / time watching, 0..1.
    pub rebuffer_ratio: Option<f64>,
    /// Startup time, median, ms.
    pub startup_p50_ms: Option<f64>,
    /// Playbacks that failed.
    pub playback_failures: Option<u64>,
}

/// What kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Shares or a CDN's state changed (fail-opens included: `data.fails_open`).
    Decision,
    /// A reload was applied or refused.
    Reload,
    /// An override was added, removed or expired.
    Override,
    /// A change freeze held, forced or applied a change.
    Freeze,
    /// An operator's note on the timeline.
    Annotation,
}

/// A decision, reload, override, freeze or annotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    /// Row id.
    pub id: RowId,
    /// When.
    pub at: Millis,
    /// What kind.
    pub kind: EventKind,
    /// Steered name it concerns (`*` for every name), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Region it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Snapshot generation, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Who (a token's name, `system`, the annotation's author).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    /// The reason or the note, in words.
    pub text: String,
    /// By kind (decision: `{old, new, overrides, fails_open}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// What a backfill covers.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillQuery {
    /// Steered name.
    pub name: String,
    /// Its CDNs, in zone order (the series are returned in this order).
    pub cdns: Vec<String>,
    /// The region the per-region charts show.
    pub focus: String,
    /// Window start (included).
    pub from: Millis,
    /// Window end (excluded; normally now).
    pub to: Millis,
    /// Bucket length, ms.
    pub step_ms: Millis,
}

impl BackfillQuery {
    /// Buckets in the window.
    pub fn buckets(&self) -> usize {
        usize::try_from(self.to.saturating_sub(self.from).div_ceil(self.step_ms.max(1))).unwrap_or(0)
    }

    /// The bucket `at` falls in, if inside the window.
    pub fn bucket(&self, at: Millis) -> Option<usize> {
        if at < self.from || at >= self.to {
            return None;
        }
        usize::try_from((at - self.from) / self.step_ms.max(1)).ok()
    }
}

/// A window of one steered name, cut into buckets, for the page to draw before it follows
/// the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backfill {
    /// Window start.
    pub from: Millis,
    /// Window end.
    pub to: Millis,
    /// Bucket length, ms: bucket `i` starts at `from + i * step_ms`.
    pub step_ms: Millis,
    /// The region of the per-region series.
    pub focus: String,
    /// The newest row the backfill includes: the stream resumes after it.
    pub last_id: RowId,
    /// Per CDN, in zone order.
    pub series: Vec<CdnSeries>,
    /// Audience per region now (for sorting regions).
    pub audience: Vec<RegionAudience>,
    /// Answers are counted up to here (a bucket past it is not known yet, not empty).
    pub answers_until: Millis,
    /// The newest viewer-experience window per CDN x region still current at `to`: the
    /// page sums viewers over regions from these as new windows arrive.
    pub qoe_latest: Vec<QoeRow>,
    /// Decisions, reloads, overrides, freezes and annotations in the window, oldest first
    /// (at most [`MAX_BACKFILL_EVENTS`], the newest kept).
    pub events: Vec<EventRow>,
}

/// Most events a backfill carries.
pub const MAX_BACKFILL_EVENTS: usize = 1000;

/// One CDN's series, one value per bucket (`null` where nothing was known).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CdnSeries {
    /// CDN.
    pub cdn: String,
    /// Score in the focus region at the end of the bucket.
    pub score: Vec<Option<f64>>,
    /// Share in the focus region at the end of the bucket.
    pub share: Vec<Option<f64>>,
    /// State in the focus region at the end of the bucket.
    pub state: Vec<Option<CandidateState>>,
    /// Measured in the focus region (every vantage): requests, the weight of the means below.
    pub requests: Vec<u64>,
    /// Request-weighted mean TTFB, ms.
    pub ttfb_ms: Vec<Option<f64>>,
    /// Errors / requests.
    pub error_rate: Vec<Option<f64>>,
    /// Request-weighted mean throughput, Mbit/s.
    pub throughput_mbps: Vec<Option<f64>>,
    /// Cache hits / requests (of the measurements that report hits).
    pub cache_hit_ratio: Vec<Option<f64>>,
    /// Steered answers in the bucket, every region of the name.
    pub answers: Vec<f64>,
    /// Concurrent viewers at the end of the bucket, every region.
    pub viewers: Vec<Option<f64>>,
    /// Viewer-weighted rebuffering ratio at the end of the bucket, every region.
    pub rebuffer_ratio: Vec<Option<f64>>,
}

impl CdnSeries {
    /// An empty series of `n` buckets.
    pub fn empty(cdn: &str, n: usize) -> CdnSeries {
        CdnSeries {
            cdn: cdn.to_string(),
            score: vec![None; n],
            share: vec![None; n],
            state: vec![None; n],
            requests: vec![0; n],
            ttfb_ms: vec![None; n],
            error_rate: vec![None; n],
            throughput_mbps: vec![None; n],
            cache_hit_ratio: vec![None; n],
            answers: vec![0.0; n],
            viewers: vec![None; n],
            rebuffer_ratio: vec![None; n],
        }
    }
}

/// How big a region's audience is now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionAudience {
    /// Region key.
    pub region: String,
    /// Concurrent viewers reported by telemetry (every CDN), when any.
    pub viewers: Option<f64>,
    /// Steered answers per second over the last minute.
    pub answers_per_sec: f64,
}

/// Where the rows come from, as the page is told.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    /// `memory` (this process only) or `history` (the database).
    pub kind: &'static str,
    /// A browser's `Last-Event-ID` still means the same row after a server restart.
    pub resumable_across_restart: bool,
    /// Oldest time the source still has rows for.
    pub since: Millis,
    /// Annotations can be added (they need the history).
    pub annotations: bool,
}

/// The rows after an id.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    /// These, in id order (empty when there is nothing new).
    Rows(Vec<Row>),
    /// The id is older than what the source keeps, or from another source or server: the
    /// reader must load a backfill again.
    Gone,
}

/// A source failed to answer (a database error); the message is for the log and the page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// What the dashboard reads. Methods may block (a database): async callers run them on a
/// blocking thread.
pub trait DashboardSource: Send + Sync + 'static {
    /// What kind of source this is.
    fn info(&self) -> SourceInfo;
    /// The newest row id (0 when none).
    fn last_id(&self) -> Result<RowId, SourceError>;
    /// Rows with an id above `id`, in id order, at most `limit`.
    fn after(&self, id: RowId, limit: usize) -> Result<After, SourceError>;
    /// A window of one name, bucketed.
    fn backfill(&self, query: &BackfillQuery) -> Result<Backfill, SourceError>;
}

/// The bucket length for a window: the shortest of 2 s, 5 s, 10 s, 15 s, 30 s, 1 min, 2 min,
/// 5 min, 10 min, 30 min, 1 h giving at most [`MAX_BUCKETS`] buckets (not 1 s: telemetry
/// windows and probes come every few seconds, and a chart of mostly empty buckets is a
/// dotted line).
pub fn step_for(window_ms: Millis) -> Millis {
    const STEPS: [Millis; 11] = [2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];
    STEPS.into_iter().find(|s| window_ms.div_ceil(*s) <= MAX_BUCKETS as Millis).unwrap_or(3_600_000)
}

/// Most buckets a backfill is cut into (a chart about 1400 pixels wide: 3.5 px a bucket).
pub const MAX_BUCKETS: usize = 400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_charts_under_the_bucket_limit() {
        assert_eq!(step_for(5 * 60_000), 2_000);
        assert_eq!(step_for(30 * 60_000), 5_000);
        assert_eq!(step_for(3 * 3_600_000), 30_000);
        assert_eq!(step_for(24 * 3_600_000), 300_000);
        let q = BackfillQuery { name: "n".into(), cdns: vec![], focus: "default".into(), from: 1000, to: 11_500, step_ms: 1000 };
        assert_eq!(q.buckets(), 11);
        assert_eq!(q.bucket(999), None);
        assert_eq!(q.bucket(1000), Some(0));
        assert_eq!(q.bucket(11_499), Some(10));
        assert_eq!(q.bucket(11_500), None);
    }
}
