//! The dashboard source over the history database: row ids are the history's (one sequence
//! over every table, increasing across restarts), so a browser's `Last-Event-ID` resumes
//! across a server restart; the backfill comes from the history's read API, cut into the
//! page's buckets by the same rules as the live rows (`memory::aggregate`).
//!
//! The history's rows become the dashboard's rows field for field. Signals and viewer
//! experience are read already bucketed (so a long window reads a bounded number of rows);
//! each bucket then stands for its requests (signals) or as a window ending at the bucket's
//! end (viewers). TTFB per bucket is the history's median of the observations.

use std::path::PathBuf;
use std::sync::Mutex;

use super::memory::aggregate;
use super::source::{
    After, AnswersRow, Backfill, BackfillQuery, DashboardSource, EventKind, EventRow, MAX_BACKFILL_EVENTS, QoeRow, Row, RowId, ShareRow, SignalRow, SourceError, SourceInfo,
};
use crate::history::read::{AnswerGroup, Buckets, Filter, HistoryEvent, HistoryItem, Window};
use crate::history::{EventKind as HistoryKind, HistoryError, HistoryReader};
use crate::timestamp::Millis;

/// Most events read for one backfill (the newest [`MAX_BACKFILL_EVENTS`] are kept).
const EVENTS_READ: usize = 10_000;

/// The history database as the dashboard's source.
pub struct HistorySource {
    path: PathBuf,
    answers_interval_ms: Millis,
    /// The connection the hub and the streams' catch-up read through (reopened after an
    /// error); a backfill opens its own.
    reader: Mutex<Option<HistoryReader>>,
}

impl std::fmt::Debug for HistorySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistorySource").field("path", &self.path).finish_non_exhaustive()
    }
}

fn failed(e: HistoryError) -> SourceError {
    SourceError(e.to_string())
}

impl HistorySource {
    /// The database at `path`, written with answers counted every `answers_interval_ms`.
    pub fn new(path: PathBuf, answers_interval_ms: Millis) -> HistorySource {
        HistorySource { path, answers_interval_ms: answers_interval_ms.max(1000), reader: Mutex::new(None) }
    }

    fn with_reader<T>(&self, f: impl FnOnce(&HistoryReader) -> Result<T, HistoryError>) -> Result<T, SourceError> {
        let mut guard = self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let reader = match guard.take() {
            Some(r) => r,
            None => HistoryReader::open(&self.path).map_err(failed)?,
        };
        let result = f(&reader);
        // A failed read may have left the connection unusable: open a new one next time.
        if result.is_ok() {
            *guard = Some(reader);
        }
        result.map_err(failed)
    }
}

fn id_of(v: i64) -> RowId {
    u64::try_from(v).unwrap_or(0)
}

/// A history row as a dashboard row.
pub fn row(item: HistoryItem) -> Row {
    match item {
        HistoryItem::Share { name, region, cdn, point } => Row::Share(ShareRow { id: id_of(point.id), at: point.at, name, region, cdn, share: point.share, score: point.score, state: point.state }),
        HistoryItem::Signal(s) => Row::Signal(SignalRow {
            id: id_of(s.id),
            at: s.at,
            cdn: s.cdn,
            region: s.region,
            vantage: s.vantage,
            requests: s.requests,
            errors: s.errors,
            cache_hits: s.cache_hits,
            ttfb_ms: s.ttfb_ms,
            throughput_mbps: s.throughput_mbps,
            failure: s.failure,
        }),
        HistoryItem::Answers(a) => Row::Answers(AnswersRow { id: id_of(a.id), at: a.at, span_ms: a.span_ms, name: a.name, region: a.region, cdn: a.cdn, answers: a.answers }),
        HistoryItem::Qoe(q) => Row::Qoe(QoeRow {
            id: id_of(q.id),
            at: q.at,
            cdn: q.cdn,
            region: q.region,
            source: q.source,
            window_secs: q.window_secs,
            viewers: q.viewers,
            rebuffer_ratio: q.rebuffer_ratio,
            startup_p50_ms: q.startup_p50_ms,
            playback_failures: q.playback_failures,
        }),
        HistoryItem::Event(e) => Row::Event(event(e)),
    }
}

/// A history event as a dashboard event.
pub fn event(e: HistoryEvent) -> EventRow {
    let kind = match e.kind {
        HistoryKind::Decision => EventKind::Decision,
        HistoryKind::Reload => EventKind::Reload,
        HistoryKind::Override => EventKind::Override,
        HistoryKind::Freeze => EventKind::Freeze,
        HistoryKind::Annotation => EventKind::Annotation,
    };
    EventRow { id: id_of(e.id), at: e.at, kind, name: e.name, region: e.region, generation: e.generation, who: e.who, text: e.text, data: e.data }
}

impl DashboardSource for HistorySource {
    fn info(&self) -> SourceInfo {
        SourceInfo { kind: "history", resumable_across_restart: true, since: 0, annotations: true }
    }

    fn last_id(&self) -> Result<RowId, SourceError> {
        self.with_reader(|r| r.last_id()).map(id_of)
    }

    fn after(&self, id: RowId, limit: usize) -> Result<After, SourceError> {
        let Ok(after) = i64::try_from(id) else { return Ok(After::Gone) };
        self.with_reader(|r| {
            // An id the database never handed out (another database, or the in-memory
            // source of a server without history) cannot be resumed from.
            if after > r.last_id()? {
                return Ok(After::Gone);
            }
            Ok(After::Rows(r.after(after, limit)?.into_iter().map(row).collect()))
        })
    }

    fn backfill(&self, q: &BackfillQuery) -> Result<Backfill, SourceError> {
        let reader = HistoryReader::open(&self.path).map_err(failed)?;
        let last_id = reader.last_id().map_err(failed)?;
        let rows = self.read_window(&reader, q).map_err(failed)?;
        Ok(aggregate(q, &rows, id_of(last_id), 0))
    }
}

impl HistorySource {
    /// Everything a backfill of `q` needs, as rows `aggregate` cuts into buckets.
    fn read_window(&self, reader: &HistoryReader, q: &BackfillQuery) -> Result<Vec<Row>, HistoryError> {
        let window = Window { from: q.from, to: q.to };
        let buckets = Buckets { from: q.from, to: q.to, step_ms: q.step_ms };
        let focus = Filter { name: Some(q.name.clone()), region: Some(q.focus.clone()), cdn: None };
        let mut rows = Vec::new();
        for series in reader.share_changes(window, &focus)? {
            for p in series.points {
                rows.push(Row::Share(ShareRow { id: 0, at: p.at, name: series.name.clone(), region: series.region.clone(), cdn: series.cdn.clone(), share: p.share, score: p.score, state: p.state }));
            }
        }
        // Each bucket's signals stand for its requests, at its start.
        for b in reader.signals(buckets, &Filter { name: None, region: Some(q.focus.clone()), cdn: None })? {
            let requests = b.requests.max(b.samples).max(1);
            rows.push(Row::Signal(SignalRow {
                id: 0,
                at: b.at,
                cdn: b.cdn,
                region: b.region,
                vantage: String::new(),
                requests,
                errors: b.error_rate.map_or(b.errors, |e| (e * requests as f64).round() as u64),
                cache_hits: b.cache_hit_ratio.map(|h| (h * requests as f64).round() as u64),
                ttfb_ms: b.ttfb_p50_ms,
                throughput_mbps: b.throughput_mbps,
                failure: b.failure,
            }));
        }
        // Answers per interval of the history's own length, spread over the page's buckets;
        // the last minute per region for the audience.
        let interval = self.answers_interval_ms;
        let answer_buckets = Buckets { from: q.from.saturating_sub(interval), to: q.to, step_ms: interval };
        let by_name = Filter { name: Some(q.name.clone()), region: None, cdn: None };
        for b in reader.answers(answer_buckets, &by_name, AnswerGroup::NameRegionCdn)? {
            rows.push(Row::Answers(AnswersRow { id: 0, at: b.at, span_ms: interval, name: q.name.clone(), region: b.region.unwrap_or_default(), cdn: b.cdn, answers: b.answers }));
        }
        // Viewers per bucket, as windows ending at each bucket's end; from half a minute
        // before the window (on the same grid) so its first buckets have viewers.
        let qoe_step = q.step_ms;
        let qoe_buckets = Buckets { from: q.from.saturating_sub(qoe_step * 30_000u64.div_ceil(qoe_step)), to: q.to, step_ms: qoe_step };
        for b in reader.qoe(qoe_buckets, &Filter::default())? {
            rows.push(Row::Qoe(QoeRow {
                id: 0,
                at: (b.at + qoe_step - 1).min(q.to.saturating_sub(1)),
                cdn: b.cdn,
                region: b.region,
                source: String::new(),
                window_secs: Some(qoe_step.div_ceil(1000)),
                viewers: b.viewers.map(|v| v.round() as u64),
                rebuffer_ratio: b.rebuffer_ratio,
                startup_p50_ms: b.startup_p50_ms,
                playback_failures: Some(b.playback_failures),
            }));
        }
        for e in self.events(reader, window)? {
            rows.push(Row::Event(event(e)));
        }
        rows.sort_by_key(Row::at);
        Ok(rows)
    }

    /// The newest events of the window (every annotation among them).
    fn events(&self, reader: &HistoryReader, window: Window) -> Result<Vec<HistoryEvent>, HistoryError> {
        // Events are read oldest first: while a read comes back full, read the later half.
        let mut from = window.from;
        let mut events = loop {
            let got = reader.events(Window { from, to: window.to }, &[], EVENTS_READ)?;
            if got.len() < EVENTS_READ || window.to - from < 2_000 {
                break got;
            }
            from += (window.to - from) / 2;
        };
        let skip = events.len().saturating_sub(MAX_BACKFILL_EVENTS);
        events.drain(..skip);
        let first = events.first().map_or(window.to, |e| e.at);
        if first > window.from {
            let mut notes = reader.events(Window { from: window.from, to: first }, &[HistoryKind::Annotation], MAX_BACKFILL_EVENTS)?;
            notes.append(&mut events);
            events = notes;
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read::{SharePoint, SignalRecord};
    use crate::steer::CandidateState;

    #[test]
    fn history_rows_become_dashboard_rows_field_for_field() {
        let share = row(HistoryItem::Share {
            name: "live.example.com.".into(),
            region: "country:KR".into(),
            cdn: "akamai".into(),
            point: SharePoint { id: 41, at: 1000, share: 0.4, score: Some(91.5), state: CandidateState::Healthy, keyframe: false },
        });
        assert_eq!(share.id(), 41);
        assert_eq!(serde_json::to_value(&share).ok().map(|v| v["type"].clone()), Some(serde_json::json!("share")));
        let signal = row(HistoryItem::Signal(SignalRecord {
            id: 42,
            at: 2000,
            zone: None,
            cdn: "fastly".into(),
            region: "default".into(),
            vantage: "rum:x".into(),
            samples: 1,
            requests: 100,
            errors: 3,
            cache_hits: Some(90),
            ttfb_ms: Some(80.0),
            ttfb_hi_ms: None,
            throughput_mbps: Some(12.0),
            failure: None,
        }));
        let Row::Signal(s) = signal else { panic!("signal") };
        assert_eq!((s.id, s.requests, s.errors, s.cache_hits, s.ttfb_ms), (42, 100, 3, Some(90), Some(80.0)));
        let e = event(HistoryEvent { id: 43, at: 3000, kind: HistoryKind::Annotation, name: None, region: None, generation: None, who: Some("noc".into()), text: "kickoff".into(), data: None });
        assert_eq!((e.id, e.kind, e.text.as_str()), (43, EventKind::Annotation, "kickoff"));
    }
}
