//! From the history database to a [`ReportInput`]: the adapter from `history::HistoryReader`
//! (share rows, signal, answer and QoE buckets, events) to the report's plain input, and the
//! annotation look-up behind `--from-annotation` / `--to-annotation`. Reads only; every query
//! is the reader's own chunked, short-transaction read.

use std::collections::BTreeMap;

use super::ReportError;
use super::input::{AnswerBucket, EventKind, EventRecord, EventsCut, QoeBucket, ReportInput, SharePoint, ShareSeries, SignalBucket, Subject, ZonePolicy};
use crate::history::read::{AnswerGroup, Buckets, Filter, Window};
use crate::history::{self, HistoryReader};
use crate::timestamp::{Millis, rfc3339};

/// Most events a report reads (decisions included); past this the report says so
/// ([`ReportInput::events_cut`]).
pub const MAX_EVENTS: usize = 200_000;

fn err(e: history::HistoryError) -> ReportError {
    ReportError::History(e.to_string())
}

fn kind(k: history::EventKind) -> EventKind {
    match k {
        history::EventKind::Decision => EventKind::Decision,
        history::EventKind::Reload => EventKind::Reload,
        history::EventKind::Override => EventKind::Override,
        history::EventKind::Freeze => EventKind::Freeze,
        history::EventKind::Annotation => EventKind::Annotation,
    }
}

/// Read everything the report needs for `subject`'s window at `bucket_ms` buckets.
pub fn from_history(reader: &HistoryReader, subject: Subject, zones: Vec<ZonePolicy>, bucket_ms: Millis, generated_at: Millis) -> Result<ReportInput, ReportError> {
    read(reader, subject, zones, bucket_ms, generated_at, MAX_EVENTS)
}

/// [`from_history`] reading at most `max_events` events.
pub(super) fn read(reader: &HistoryReader, subject: Subject, zones: Vec<ZonePolicy>, bucket_ms: Millis, generated_at: Millis, max_events: usize) -> Result<ReportInput, ReportError> {
    let (from, to) = (subject.from, subject.to);
    if to <= from {
        return Err(ReportError::Window(format!("the window ends ({}) before it starts ({})", rfc3339(to), rfc3339(from))));
    }
    let window = Window { from, to };
    let buckets = Buckets { from, to, step_ms: bucket_ms.max(1) };
    let wanted = |name: &str| subject.names.is_empty() || subject.names.iter().any(|n| n == name);
    let all = Filter::default();

    let shares = reader
        .share_changes(window, &all)
        .map_err(err)?
        .into_iter()
        .filter(|s| wanted(&s.name))
        .map(|s| ShareSeries { points: s.points.into_iter().map(|p| SharePoint { at: p.at, share: p.share, score: p.score, state: p.state.into() }).collect(), name: s.name, region: s.region, cdn: s.cdn })
        .collect();

    let signals = reader
        .signals(buckets, &all)
        .map_err(err)?
        .into_iter()
        .map(|b| SignalBucket {
            at: b.at,
            cdn: b.cdn,
            region: b.region,
            samples: b.samples,
            vantages: b.vantages,
            requests: b.requests,
            errors: b.errors,
            error_rate: b.error_rate,
            cache_hit_ratio: b.cache_hit_ratio,
            ttfb_p50_ms: b.ttfb_p50_ms,
            ttfb_p95_ms: b.ttfb_p95_ms,
            throughput_mbps: b.throughput_mbps,
            failures: b.failures,
            failure: b.failure.map(str::to_string),
        })
        .collect();

    // Answers of the event's names only (names past `metrics.max_names` count as `_other`
    // and are left out then), summed per CDN x region.
    let group = if subject.names.is_empty() { AnswerGroup::CdnRegion } else { AnswerGroup::NameRegionCdn };
    let mut sums: BTreeMap<(Millis, String, String), u64> = BTreeMap::new();
    for a in reader.answers(buckets, &all, group).map_err(err)? {
        if a.name.as_deref().is_some_and(|n| !wanted(n)) {
            continue;
        }
        *sums.entry((a.at, a.region.unwrap_or_default(), a.cdn)).or_default() += a.answers;
    }
    let answers = sums.into_iter().map(|((at, region, cdn), answers)| AnswerBucket { at, region, cdn, answers }).collect();

    let qoe = reader
        .qoe(buckets, &all)
        .map_err(err)?
        .into_iter()
        .map(|b| QoeBucket {
            at: b.at,
            cdn: b.cdn,
            region: b.region,
            windows: b.windows,
            viewers: b.viewers,
            startup_p50_ms: b.startup_p50_ms,
            startup_p95_ms: b.startup_p95_ms,
            rebuffer_ratio: b.rebuffer_ratio,
            playback_failures: b.playback_failures,
            exits_before_start: b.exits_before_start,
            ttfb_p95_ms: b.ttfb_p95_ms,
            ttfb_p99_ms: b.ttfb_p99_ms,
            delivered_gbps: b.delivered_gbps,
        })
        .collect();

    // One more than the limit tells whether the window held more (then the report says so).
    let mut read = reader.events(window, &[], max_events.saturating_add(1)).map_err(err)?;
    let events_cut = if read.len() > max_events { read.drain(max_events..).next().map(|first_left_out| EventsCut { limit: max_events as u64, at: first_left_out.at }) } else { None };
    // Events of other names are left out; those of every name (`*`, none) stay.
    let events = read
        .into_iter()
        .filter(|e| e.name.as_deref().is_none_or(|n| n == "*" || wanted(n)))
        .map(|e| EventRecord { at: e.at, kind: kind(e.kind), name: e.name, region: e.region.filter(|r| r != "*"), who: e.who, text: e.text, data: e.data })
        .collect();

    Ok(ReportInput { subject, generated_at, bucket_ms: buckets.step_ms, zones, shares, signals, answers, qoe, events, events_cut })
}

/// The time of the annotation whose text is `text` (case-insensitive, surrounding spaces
/// ignored): the first at or after `after` inside `within`. The error lists the annotations
/// there are.
pub fn annotation(reader: &HistoryReader, text: &str, within: Window, after: Millis) -> Result<Millis, ReportError> {
    let all = reader.events(within, &[history::EventKind::Annotation], MAX_EVENTS).map_err(err)?;
    let want = text.trim().to_lowercase();
    if let Some(a) = all.iter().find(|a| a.at >= after && a.text.trim().to_lowercase() == want) {
        return Ok(a.at);
    }
    let known: Vec<String> = all.iter().take(12).map(|a| format!("`{}` at {}", a.text, rfc3339(a.at))).collect();
    let list = if known.is_empty() { "there are none in the history".to_string() } else { format!("there are: {}", known.join(", ")) };
    Err(ReportError::Window(format!("no annotation `{text}`{}; {list}", if after > within.from { format!(" after {}", rfc3339(after)) } else { String::new() })))
}
