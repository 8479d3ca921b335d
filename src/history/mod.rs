//! History: what the server saw and did, kept in an embedded SQLite database
//! (`STATE_DIR/history.sqlite`, WAL mode) for the dashboard's backfill and live stream and for
//! `cdnsteer report`. The only SQLite user in the crate.
//!
//! # Writing (`writer`)
//!
//! The control plane sends [`Record`]s through a [`HistoryHandle`]: a bounded channel into a
//! writer on its own OS thread. Sending never blocks (`try_send`): when the queue is full the
//! record is dropped and counted. The writer batches rows into one transaction every
//! [`writer::FLUSH_MS`] (or sooner when a batch is large). Nothing here is on the DNS path,
//! and nothing on the DNS path waits for it.
//!
//! A write that fails (disk full, I/O error, read-only file system) marks history
//! *degraded*: `cdnsteer_history_degraded` is 1, an error is logged once (then a reminder per
//! minute), and the rows are kept in memory (up to [`writer::MAX_PENDING`] rows, the oldest
//! dropped and counted beyond that) and retried with a backoff. The first write that succeeds
//! clears the gauge and logs "history writing resumed" with what was lost. Every row written
//! counts in `cdnsteer_history_written_records_total`; every record dropped counts in
//! `cdnsteer_history_dropped_records_total{reason="queue_full"|"write_failed"}`.
//!
//! The database sits behind the [`Storage`] trait: `SqliteStorage` is the real one;
//! [`store::Faulty`] wraps any storage and fails (or slows) writes on demand, which is how the
//! tests inject disk faults.
//!
//! # What is kept (schema version [`schema::VERSION`])
//!
//! Times are Unix milliseconds (`at`, INTEGER). Names, regions, CDNs, zones, vantages and
//! sources are small integers through the `dict` table. Every row of every data table has a
//! unique `id` from one sequence shared by all tables, increasing in commit order and across
//! restarts (`meta.next_id`): "everything after id N" ([`HistoryReader::after`]) is the
//! dashboard's `Last-Event-ID` resume.
//!
//! | table | one row per | written |
//! |---|---|---|
//! | `share` | steered name x region x CDN: share (ppm), score (tenths), state, keyframe flag | when the share moves by more than [`SHARE_DEADBAND`], the state changes or the score moves by a whole point; and every series at a keyframe ([`HistorySettings::keyframe_ms`], default 60 s) |
//! | `signal` | observation: zone (when one zone has the CDN), CDN, region, vantage, requests, errors, cache hits, TTFB (µs), throughput (kbit/s), failure reason | as probes and telemetry arrive |
//! | `answers` | interval x steered name (within `metrics.max_names`, the rest as `_other`) x region x CDN: steered answers given | every [`HistorySettings::answers_interval_ms`] (10 s), from the DNS counters' deltas |
//! | `qoe` | telemetry window: viewers, startup p50/p95, rebuffer ratio, playback failures, exits before start, TTFB p50/p95/p99, delivered traffic | as telemetry arrives, when a window carries any of these |
//! | `event` | decision (reason, old and new shares), reload (result, generation, who), override (the audit entry), freeze (event, phase, who, reason), annotation (text, author) | as they happen |
//!
//! # Retention and resolution
//!
//! Rows older than [`HistorySettings::retention_ms`] (default 30 days) are deleted. Rows
//! older than [`HistorySettings::full_resolution_ms`] (default 1 day) are downsampled to one
//! per minute: `share` keeps each series' last row of every minute; `signal`, `answers` and
//! `qoe` are merged per series and minute (counts summed, values averaged, the TTFB high kept
//! as the minute's maximum). Events are never downsampled. Both run on the writer thread in
//! small chunks (one transaction each), a few minutes apart.
//!
//! The WAL is checkpointed every [`HistorySettings::checkpoint_ms`] (PASSIVE: never waits for
//! readers) and truncated (TRUNCATE) when the writer is idle.
//!
//! # Reading (`read`)
//!
//! [`HistoryReader`] opens its own read-only connection. Every query reads in chunks of at
//! most [`read::CHUNK`] rows, each chunk its own short read transaction, so a long report or
//! backfill never holds a snapshot that keeps the WAL from being checkpointed.
//!
//! - [`HistoryReader::share_changes`]: raw share/score/state rows per name x region x CDN over
//!   a window, each series starting with its state at `from` (from a keyframe);
//! - [`HistoryReader::state_at`]: every series' share, score and state at one instant;
//! - [`HistoryReader::shares`]: the same per bucket (time-weighted mean share, last share,
//!   last and lowest score, last state);
//! - [`HistoryReader::signals`]: per CDN x region x bucket: samples, requests, error rate
//!   (request-weighted), cache hit ratio, TTFB p50 and p95 of the samples, mean throughput,
//!   failed probes;
//! - [`HistoryReader::answers`]: steered answers per bucket, grouped by CDN, CDN x region or
//!   name x region x CDN;
//! - [`HistoryReader::qoe`]: viewer experience per CDN x region x bucket;
//! - [`HistoryReader::events`] (in a window, by kind) and [`HistoryReader::events_after`]
//!   (after an id);
//! - [`HistoryReader::after`]: every row of every table after an id, in id order (the live
//!   stream), and [`HistoryReader::last_id`].
//!
//! The reader is synchronous (SQLite is): async callers run it on a blocking thread.

pub mod model;
pub mod read;
pub mod schema;
pub mod store;
pub mod track;
pub mod writer;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde::Serialize;

use crate::health::events::DecisionEvent;
use crate::health::signal::Observation;
use crate::overrides::store::AuditEntry;
use crate::qoe::QoeSample;
use crate::steer::PlanExplain;
use crate::timestamp::Millis;
use crate::zone::ZoneSet;

pub use read::HistoryReader;
pub use store::{SqliteStorage, Storage, StorageError};
pub use writer::{HistoryHandle, HistoryStats, HistoryWriter};

/// File name of the database in the state directory.
pub const DB_FILE: &str = "history.sqlite";

/// A share moving by more than this (absolute, 0..1) is written.
pub const SHARE_DEADBAND: f64 = 0.01;
/// A score moving by this many points or more is written.
pub const SCORE_DEADBAND: f64 = 1.0;

/// The `history:` settings of the daemon config.
#[derive(Debug, Clone, PartialEq)]
pub struct HistorySettings {
    /// Keep history at all (`history: {enabled: false}` writes nothing).
    pub enabled: bool,
    /// Delete rows older than this, ms.
    pub retention_ms: Millis,
    /// Keep every row this long, then one per series and minute, ms.
    pub full_resolution_ms: Millis,
    /// Write every share series at least this often, ms (a reader rebuilds the state at any
    /// time from the last keyframe before it).
    pub keyframe_ms: Millis,
    /// Count steered answers per interval of this length, ms.
    pub answers_interval_ms: Millis,
    /// Checkpoint the WAL this often, ms.
    pub checkpoint_ms: Millis,
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings {
            enabled: true,
            retention_ms: 30 * 86_400_000,
            full_resolution_ms: 86_400_000,
            keyframe_ms: 60_000,
            answers_interval_ms: 10_000,
            checkpoint_ms: 10_000,
        }
    }
}

/// Why history could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// SQLite said no (open, pragma, query).
    #[error("history database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer cdnsteer.
    #[error("history database {path} has schema version {found}, newer than this cdnsteer understands ({supported}); run the newer version, or move the file away to start a new history")]
    NewerSchema {
        /// The database file.
        path: String,
        /// Version in the file.
        found: i64,
        /// Newest version this build reads and writes.
        supported: i64,
    },
    /// The state directory or the database file cannot be used.
    #[error("history database {path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A query asked for something out of range.
    #[error("{0}")]
    Query(String),
}

/// What the control plane sends to the writer.
#[derive(Debug)]
pub enum Record {
    /// The plan being served at `at`: share rows are derived from it by comparing with the
    /// last rows written (`track::ShareTracker`). Sent after each publish and periodically
    /// (keyframes need a plan even when nothing changes).
    Plan {
        /// When (the control plane's clock).
        at: Millis,
        /// The snapshot generation that serves it: a plan older than one already taken is
        /// ignored (plans can arrive out of order from the control plane and the periodic
        /// keyframe task).
        generation: u64,
        /// The zones the plan was made for.
        zones: Arc<ZoneSet>,
        /// The plan's explain data: share, score and state per name x region x CDN.
        explain: Arc<PlanExplain>,
    },
    /// Observations from probes and telemetry, as the engine ingested them.
    Observations(Vec<Observation>),
    /// Decision events of an engine tick (or of an override change).
    Decisions(Vec<DecisionEvent>),
    /// A reload attempt and its outcome.
    Reload(ReloadRecord),
    /// An override audit entry (add, remove, expire).
    Override(AuditEntry),
    /// A change freeze step.
    Freeze(FreezeRecord),
    /// An operator's note; the reply, if any, gets the stored row.
    Annotation(Annotation, Option<tokio::sync::oneshot::Sender<Result<StoredAnnotation, String>>>),
    /// Viewer experience from telemetry.
    Qoe(Vec<QoeSample>),
    /// Steered answers counted over one interval.
    Answers(AnswerCounts),
}

impl Record {
    /// How many records this message stands for (what is counted when it is dropped).
    pub fn count(&self) -> u64 {
        match self {
            Record::Observations(v) => v.len() as u64,
            Record::Decisions(v) => v.len() as u64,
            Record::Qoe(v) => v.len() as u64,
            Record::Answers(a) => a.rows.len() as u64,
            _ => 1,
        }
    }
}

/// A reload attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadRecord {
    /// When it finished.
    pub at: Millis,
    /// Applied (true) or refused.
    pub ok: bool,
    /// The generation serving afterwards (the new one, or the one kept).
    pub generation: u64,
    /// Who asked (token name, `SIGHUP`, `file`).
    pub who: String,
    /// Milliseconds from trigger to swap (or refusal).
    pub took_ms: u64,
    /// Why it was refused, when it was.
    pub error: Option<String>,
}

/// A step of a change freeze (written by the event windows feature).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FreezeRecord {
    /// When.
    pub at: Millis,
    /// The event whose freeze it is.
    pub event: String,
    /// What happened to the change.
    pub phase: FreezePhase,
    /// Who tried, forced or applied it.
    pub who: String,
    /// Why (the reload's reason, the force reason, "window ended").
    pub reason: String,
}

/// What happened to a change during a freeze.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreezePhase {
    /// Held back: the old generation keeps serving.
    Pending,
    /// Applied inside the window with `force: true`.
    Forced,
    /// Applied when the window ended.
    Applied,
}

impl FreezePhase {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            FreezePhase::Pending => "pending",
            FreezePhase::Forced => "forced",
            FreezePhase::Applied => "applied",
        }
    }
}

/// An operator's note on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotation {
    /// The time it marks.
    #[serde(with = "crate::timestamp::as_rfc3339")]
    pub at: Millis,
    /// The note ("kickoff", "Akamai KR ticket #123").
    pub text: String,
    /// Who wrote it.
    pub author: String,
}

/// An annotation as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAnnotation {
    /// Its row id.
    pub id: i64,
    /// The annotation.
    #[serde(flatten)]
    pub annotation: Annotation,
}

/// Steered answers of one (name, region, CDN): the DNS counters' label values and a count.
pub type AnswerSeries = (Arc<str>, Arc<str>, Arc<str>, u64);

/// Steered answers counted over one interval: per (name, region, CDN), the names past
/// `metrics.max_names` as `_other`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerCounts {
    /// Start of the interval.
    pub at: Millis,
    /// Length of the interval, ms.
    pub span_ms: Millis,
    /// (name, region, CDN, answers), non-zero only.
    pub rows: Vec<AnswerSeries>,
}

/// Kinds of event rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A region's shares or a CDN's state changed (`DecisionEvent`).
    Decision,
    /// A reload was applied or refused.
    Reload,
    /// An override was added, removed or expired.
    Override,
    /// A change freeze step.
    Freeze,
    /// An operator's annotation.
    Annotation,
}

impl EventKind {
    /// Every kind, in code order.
    pub const ALL: [EventKind; 5] = [EventKind::Decision, EventKind::Reload, EventKind::Override, EventKind::Freeze, EventKind::Annotation];

    /// Stored code.
    pub fn code(self) -> i64 {
        match self {
            EventKind::Decision => 1,
            EventKind::Reload => 2,
            EventKind::Override => 3,
            EventKind::Freeze => 4,
            EventKind::Annotation => 5,
        }
    }

    /// From the stored code.
    pub fn from_code(code: i64) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Decision => "decision",
            EventKind::Reload => "reload",
            EventKind::Override => "override",
            EventKind::Freeze => "freeze",
            EventKind::Annotation => "annotation",
        }
    }
}
