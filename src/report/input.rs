//! What a report is made from: [`ReportInput`], a plain value holding the window, the zones'
//! policies and everything the history returned for the window. The series mirror the
//! history's read types (`history::read`: share rows, signal, answer and QoE buckets, events)
//! field for field, so the adapter from the database is a copy and a fixture is a JSON file.
//! Times are Unix milliseconds, as in the history.

use serde::{Deserialize, Serialize};

use crate::steer::CandidateState;
use crate::timestamp::Millis;

/// Everything a report needs; `report::build` turns it into a [`super::Report`] without
/// reading anything else (no clock, no files, no database).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// What the report covers.
    pub subject: Subject,
    /// When the report was made (shown on the cover; an input so that the same input gives
    /// the same bytes).
    pub generated_at: Millis,
    /// Length of the buckets the signal, answer and QoE series were read at, ms.
    pub bucket_ms: Millis,
    /// The zones' policies: SLA, thresholds, weights, capacity and commits.
    pub zones: Vec<ZonePolicy>,
    /// Share rows per steered name x region x CDN: each series starts with its state at
    /// `subject.from`, then every row written inside the window (`HistoryReader::share_changes`).
    pub shares: Vec<ShareSeries>,
    /// Signal summaries per CDN x region x bucket (`HistoryReader::signals`).
    pub signals: Vec<SignalBucket>,
    /// Steered answers per CDN x region x bucket (`HistoryReader::answers`, grouped by CDN x
    /// region).
    pub answers: Vec<AnswerBucket>,
    /// Viewer experience per CDN x region x bucket (`HistoryReader::qoe`).
    #[serde(default)]
    pub qoe: Vec<QoeBucket>,
    /// Decisions, reloads, overrides, freezes and annotations in the window, oldest first.
    #[serde(default)]
    pub events: Vec<EventRecord>,
    /// Set when the window held more events than a report reads: `events` stops short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_cut: Option<EventsCut>,
}

/// Events left out of a report because the window held more than it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsCut {
    /// Most events read (`report::gather::MAX_EVENTS`).
    pub limit: u64,
    /// Time of the first event left out, Unix ms: it and every later one are missing.
    pub at: Millis,
}

/// The window and who it is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// The event's name, when the window is an event's.
    #[serde(default)]
    pub event: Option<String>,
    /// Who the report is for.
    #[serde(default)]
    pub customer: Option<String>,
    /// Start, Unix ms (included).
    pub from: Millis,
    /// End, Unix ms (excluded).
    pub to: Millis,
    /// Steered names covered (empty: every name in the history).
    #[serde(default)]
    pub names: Vec<String>,
    /// How the window was chosen, in words ("event final", "from the annotation `kickoff` to
    /// `final whistle`").
    pub window: String,
    /// Offset of the local time the report shows, minutes east of UTC (540 for UTC+09:00).
    #[serde(default)]
    pub utc_offset_minutes: i32,
}

/// A good/bad pair, as the zone's SLA states it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    /// At or better than this the signal scores 100: the SLA target.
    pub good: f64,
    /// At or worse than this the signal scores 0.
    pub bad: f64,
}

/// The SLA bounds of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaInput {
    /// TTFB, ms (lower is better).
    pub ttfb_ms: Bound,
    /// Throughput, Mbit/s (higher is better).
    pub throughput_mbps: Bound,
    /// Cache hit ratio, 0..1 (higher is better).
    pub cache_hit_ratio: Bound,
    /// Error rate, 0..1 (lower is better).
    pub error_rate: Bound,
}

/// Score weights of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsInput {
    /// TTFB.
    pub ttfb: f64,
    /// Throughput.
    pub throughput: f64,
    /// Cache hit ratio.
    pub cache_hit: f64,
    /// Error rate.
    pub errors: f64,
}

/// Thresholds and share settings of a zone (the event's window settings applied).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsInput {
    /// Drained below this score.
    pub down: f64,
    /// Back above this score...
    pub up: f64,
    /// ...held this long, s.
    pub up_hold_secs: f64,
    /// Score smoothing half-life, s.
    pub half_life_secs: f64,
    /// Slew limit per tick.
    pub max_change_per_tick: f64,
    /// Minimum dwell between direction changes, s.
    pub min_dwell_secs: f64,
    /// Warm share of healthy backups.
    pub min_warm_share: f64,
    /// Cap per CDN.
    pub max_share: f64,
}

/// A CDN's capacity and commit in a zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityInput {
    /// CDN.
    pub cdn: String,
    /// What it can carry, Gbps.
    #[serde(default)]
    pub gbps: Option<f64>,
    /// Billing commitment, Gbps.
    #[serde(default)]
    pub commit_gbps: Option<f64>,
    /// Fraction of `gbps` steering aims to use.
    pub target_utilisation: f64,
    /// Per-region sub-limits, Gbps (region key, Gbps).
    #[serde(default)]
    pub regions: Vec<(String, f64)>,
}

/// Configured weights of one region of a steered name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionWeights {
    /// Region key (`country:KR`).
    pub region: String,
    /// (CDN, weight) in the zone's order.
    pub weights: Vec<(String, f64)>,
}

/// A steered name's configuration, as far as the report cares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameInput {
    /// The name (`live.example.com.`).
    pub name: String,
    /// Its last-resort CDN.
    pub last_resort: String,
    /// Its regions and configured weights.
    pub regions: Vec<RegionWeights>,
}

/// One zone's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZonePolicy {
    /// Zone apex (`example.com.`).
    pub zone: String,
    /// SLA bounds.
    pub sla: SlaInput,
    /// Score weights.
    pub weights: WeightsInput,
    /// Thresholds and share settings.
    pub thresholds: ThresholdsInput,
    /// Capacity and commit per CDN.
    #[serde(default)]
    pub capacity: Vec<CapacityInput>,
    /// Its steered names.
    pub names: Vec<NameInput>,
}

/// One share row (`history::read::SharePoint` without the row id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharePoint {
    /// From when.
    pub at: Millis,
    /// Share of the region's answers, 0..1.
    pub share: f64,
    /// Smoothed score, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The one-word state.
    pub state: StateWord,
}

/// A candidate's state as stored (the words of [`CandidateState`], which does not
/// deserialize).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateWord {
    /// No signal yet.
    Cold,
    /// Meeting the SLA.
    Healthy,
    /// Usable, scoring below `up`.
    Degraded,
    /// Drained by health.
    Down,
    /// Back above `up`, waiting out the hold.
    Recovering,
    /// Drained by an operator.
    Drained,
    /// Pinned by an operator.
    Pinned,
    /// Another CDN is pinned.
    Unpinned,
    /// The region fails open and this CDN is not the last resort.
    FailingOpen,
}

impl StateWord {
    /// Every state, in order.
    pub const ALL: [StateWord; 9] = [
        StateWord::Cold,
        StateWord::Healthy,
        StateWord::Degraded,
        StateWord::Down,
        StateWord::Recovering,
        StateWord::Drained,
        StateWord::Pinned,
        StateWord::Unpinned,
        StateWord::FailingOpen,
    ];

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            StateWord::Cold => "cold",
            StateWord::Healthy => "healthy",
            StateWord::Degraded => "degraded",
            StateWord::Down => "down",
            StateWord::Recovering => "recovering",
            StateWord::Drained => "drained",
            StateWord::Pinned => "pinned",
            StateWord::Unpinned => "unpinned",
            StateWord::FailingOpen => "failing_open",
        }
    }
}

impl From<CandidateState> for StateWord {
    fn from(s: CandidateState) -> StateWord {
        match s {
            CandidateState::Cold => StateWord::Cold,
            CandidateState::Healthy => StateWord::Healthy,
            CandidateState::Degraded => StateWord::Degraded,
            CandidateState::Down => StateWord::Down,
            CandidateState::Recovering => StateWord::Recovering,
            CandidateState::Drained => StateWord::Drained,
            CandidateState::Pinned => StateWord::Pinned,
            CandidateState::Unpinned => StateWord::Unpinned,
            CandidateState::FailingOpen => StateWord::FailingOpen,
        }
    }
}

/// Share rows of one CDN in one region of one steered name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareSeries {
    /// Steered name.
    pub name: String,
    /// Region key.
    pub region: String,
    /// CDN.
    pub cdn: String,
    /// Rows in time order.
    pub points: Vec<SharePoint>,
}

/// Signals of a CDN in a region over one bucket (`history::read::SignalBucket`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalBucket {
    /// Bucket start.
    pub at: Millis,
    /// CDN.
    pub cdn: String,
    /// Region key.
    pub region: String,
    /// Observations.
    pub samples: u64,
    /// Distinct vantages.
    #[serde(default)]
    pub vantages: u32,
    /// Requests measured.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// errors / requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Cache hits / requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit_ratio: Option<f64>,
    /// Median of the observations' TTFB, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_p50_ms: Option<f64>,
    /// 95th percentile of the observations' TTFB, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_p95_ms: Option<f64>,
    /// Mean throughput, Mbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_mbps: Option<f64>,
    /// Failed probes.
    #[serde(default)]
    pub failures: u64,
    /// The most frequent failure reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Steered answers of a CDN in a region over one bucket (`history::read::AnswerBucket`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBucket {
    /// Bucket start.
    pub at: Millis,
    /// Region key.
    pub region: String,
    /// CDN.
    pub cdn: String,
    /// Answers given.
    pub answers: u64,
}

/// Viewer experience of a CDN in a region over one bucket (`history::read::QoeBucket`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QoeBucket {
    /// Bucket start.
    pub at: Millis,
    /// CDN.
    pub cdn: String,
    /// Region key.
    pub region: String,
    /// Telemetry windows.
    #[serde(default)]
    pub windows: u64,
    /// Concurrent viewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewers: Option<f64>,
    /// Startup median, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_p50_ms: Option<f64>,
    /// Startup p95, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_p95_ms: Option<f64>,
    /// Rebuffering ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuffer_ratio: Option<f64>,
    /// Playbacks failed.
    #[serde(default)]
    pub playback_failures: u64,
    /// Exits before start.
    #[serde(default)]
    pub exits_before_start: u64,
    /// TTFB p95 of the players' windows, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_p95_ms: Option<f64>,
    /// Highest TTFB p99, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_p99_ms: Option<f64>,
    /// Traffic delivered, Gbps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_gbps: Option<f64>,
}

/// Kinds of event rows (`history::EventKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Shares or a state changed.
    Decision,
    /// A reload was applied or refused.
    Reload,
    /// An override was added, removed or expired.
    Override,
    /// A change freeze step.
    Freeze,
    /// An operator's note.
    Annotation,
}

/// A decision, reload, override, freeze or annotation (`history::read::HistoryEvent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    /// When.
    pub at: Millis,
    /// What kind.
    pub kind: EventKind,
    /// Steered name, if it concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Region, if it concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    /// Reason or text.
    pub text: String,
    /// By kind: decision `{old, new, overrides, fails_open}` (shares as `[cdn, share]`
    /// pairs); reload `{ok, took_ms, error}`; override `{what, author, before, after}`;
    /// freeze `{event, phase}`; annotation none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl ReportInput {
    /// Keep what falls inside `[from, to)` and make that the window (share series keep
    /// their state at `from`).
    pub fn clip(&mut self, from: Millis, to: Millis) {
        self.subject.from = from;
        self.subject.to = to;
        let inside = |at: Millis| from <= at && at < to;
        self.signals.retain(|b| inside(b.at));
        self.answers.retain(|b| inside(b.at));
        self.qoe.retain(|b| inside(b.at));
        self.events.retain(|e| inside(e.at));
        for s in &mut self.shares {
            let before = s.points.iter().rposition(|p| p.at <= from);
            let mut kept: Vec<SharePoint> = Vec::with_capacity(s.points.len());
            if let Some(i) = before {
                kept.push(SharePoint { at: from, ..s.points[i].clone() });
            }
            kept.extend(s.points.iter().filter(|p| p.at > from && p.at < to).cloned());
            s.points = kept;
        }
        self.shares.retain(|s| !s.points.is_empty());
    }
}
