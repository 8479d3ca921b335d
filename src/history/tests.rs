//! Unit tests of the history module: schema and restarts, change detection and keyframes,
//! the writer with injected faults, retention and downsampling, and the read API.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::read::{AnswerGroup, Buckets, Filter, HistoryItem, Window};
use super::store::{Faults, Faulty, Row, ShareRow, Storage};
use super::track::ShareTracker;
use super::*;
use crate::health::signal::{FailureReason, Observation};
use crate::region::{RegionKey, parse_region};
use crate::steer::{CandidateState, PlanExplain};
use crate::zone::ZoneSet;

/// A minute boundary.
const T0: Millis = 1_780_000_020_000;

fn zones() -> ZoneSet {
    let text = "version: 1\nzone: tv.test\nsoa: {primary: ns1.tv.test., contact: h.tv.test., serial: 1}\nrecords:\n  - {name: \"@\", type: NS, value: ns1.tv.test.}\nsteered:\n  live:\n    last_resort: akamai\n    cdns: {akamai: {target: a.cdn.test}, fastly: {target: f.cdn.test}}\n    regions:\n      countries:\n        KR: {akamai: 1, fastly: 1}\n      default: {akamai: 1, fastly: 1}\n";
    crate::zone::load_texts(&[(PathBuf::from("tv.test.yaml"), text.to_string())], crate::diag::Diagnostics::new()).expect("zone")
}

/// The configured plan, with KR's shares set to `kr_akamai` / the rest.
fn explain(zones: &ZoneSet, kr_akamai: f64, score: Option<f64>, state: CandidateState) -> PlanExplain {
    let mut e = crate::steer::plan::configured(zones, Default::default()).explain;
    for (i, c) in e.names[0][0].candidates.iter_mut().enumerate() {
        c.share = if i == 0 { kr_akamai } else { 1.0 - kr_akamai };
        c.score = score;
        c.state = state;
    }
    e
}

fn observation(cdn: &str, region: &str, at: Millis, ttfb: f64, errors: u64) -> Observation {
    Observation {
        cdn: cdn.to_string(),
        region: parse_region(region).expect("region"),
        vantage: "probe-1".to_string(),
        at,
        requests: 100,
        errors,
        cache_hits: Some(90),
        ttfb_ms: Some(ttfb),
        throughput_mbps: Some(25.5),
        delivered_gbps: None,
        failure: (errors > 0).then_some(FailureReason::Timeout),
    }
}

fn qoe(at: Millis, viewers: u64) -> crate::qoe::QoeSample {
    crate::qoe::QoeSample {
        cdn: "akamai".into(),
        region: RegionKey::Country(*b"KR"),
        source: "rum".into(),
        at,
        window_secs: Some(10),
        viewers: Some(viewers),
        startup_p50_ms: Some(900.0),
        startup_p95_ms: Some(2500.0),
        rebuffer_ratio: Some(0.01),
        playback_failures: Some(3),
        exits_before_start: Some(1),
        ttfb_p50_ms: Some(80.0),
        ttfb_p95_ms: Some(200.0),
        ttfb_p99_ms: Some(400.0),
        requests: 1000,
        errors: 2,
        delivered_gbps: Some(12.5),
    }
}

fn db(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

fn share_row(at: Millis, share: f64) -> Row {
    Row::Share(ShareRow { at, name: Arc::from("live.tv.test."), region: Arc::from("country:KR"), cdn: Arc::from("akamai"), share, score: Some(90.0), state: CandidateState::Healthy, keyframe: false })
}

#[test]
fn schema_is_created_resumed_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db(dir.path());
    let mut s = SqliteStorage::open(&path).expect("create");
    let first = s.write(&[share_row(T0, 0.5), share_row(T0 + 1, 0.6)]).expect("write");
    assert_eq!(first, 1);
    drop(s);
    // A restart resumes the sequence.
    let mut s = SqliteStorage::open(&path).expect("reopen");
    assert_eq!(s.write(&[share_row(T0 + 2, 0.7)]).expect("write"), 3);
    drop(s);
    schema::record_version(&path, schema::VERSION + 1).expect("bump");
    let e = SqliteStorage::open(&path).expect_err("newer schema");
    let text = e.to_string();
    assert!(text.contains("schema version 2") && text.contains("newer"), "{text}");
    let e = HistoryReader::open(&path).expect_err("reader refuses too");
    assert!(matches!(e, HistoryError::NewerSchema { found: 2, supported: 1, .. }), "{e}");
}

#[test]
fn ids_never_go_back_even_when_retention_empties_the_tables() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db(dir.path());
    let mut s = SqliteStorage::open(&path).expect("create");
    s.write(&[share_row(T0, 0.5), share_row(T0, 0.6)]).expect("write");
    let settings = HistorySettings { retention_ms: 3_600_000, full_resolution_ms: 3_600_000, ..HistorySettings::default() };
    let m = s.maintain(T0 + 10 * 3_600_000, &settings).expect("maintain");
    assert_eq!(m.deleted, 2);
    drop(s);
    let mut s = SqliteStorage::open(&path).expect("reopen");
    assert_eq!(s.write(&[share_row(T0 + 11 * 3_600_000, 0.5)]).expect("write"), 3);
}

#[test]
fn tracker_writes_changes_past_the_deadband_and_keyframes() {
    let z = zones();
    let mut t = ShareTracker::new(60_000);
    let mut out = Vec::new();
    // First plan: a keyframe of every series (2 regions x 2 CDNs).
    t.observe(T0, &z, &explain(&z, 0.5, Some(90.0), CandidateState::Healthy), &mut out);
    assert_eq!(out.len(), 4);
    assert!(out.iter().all(|r| r.keyframe));
    // Within the deadband, score within a point: nothing.
    out.clear();
    t.observe(T0 + 1000, &z, &explain(&z, 0.505, Some(90.6), CandidateState::Healthy), &mut out);
    assert!(out.is_empty(), "{out:?}");
    // Share moved by 2 points in KR: both KR CDNs.
    t.observe(T0 + 2000, &z, &explain(&z, 0.52, Some(90.6), CandidateState::Healthy), &mut out);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|r| &*r.region == "country:KR" && !r.keyframe));
    // Score by a whole point.
    out.clear();
    t.observe(T0 + 3000, &z, &explain(&z, 0.52, Some(91.6), CandidateState::Healthy), &mut out);
    assert_eq!(out.len(), 2);
    // State change, same share and score.
    out.clear();
    t.observe(T0 + 4000, &z, &explain(&z, 0.52, Some(91.6), CandidateState::Degraded), &mut out);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|r| r.state == CandidateState::Degraded));
    // Small drifts add up against the row last written, not the last plan.
    out.clear();
    for k in 1..=4 {
        t.observe(T0 + 4000 + k * 100, &z, &explain(&z, 0.52 + 0.004 * k as f64, Some(91.6), CandidateState::Degraded), &mut out);
    }
    assert_eq!(out.len(), 2, "{out:?}");
    // Keyframe after 60 s: every series.
    out.clear();
    t.observe(T0 + 60_000, &z, &explain(&z, 0.536, Some(91.6), CandidateState::Degraded), &mut out);
    assert_eq!(out.len(), 4);
    assert!(out.iter().all(|r| r.keyframe));
    // Forced keyframe.
    out.clear();
    t.force_keyframe();
    t.observe(T0 + 61_000, &z, &explain(&z, 0.536, Some(91.6), CandidateState::Degraded), &mut out);
    assert_eq!(out.len(), 4);
}

fn writer(dir: &Path, faults: &Faults) -> HistoryWriter {
    let storage = SqliteStorage::open(&db(dir)).expect("open");
    HistoryWriter::start(Box::new(Faulty::new(storage, faults.clone())), HistorySettings::default(), Some(db(dir)))
}

fn flush(h: &HistoryHandle) {
    h.flush(Duration::from_secs(20)).expect("flush");
}

fn audit(what: &str, id: &str) -> crate::overrides::store::AuditEntry {
    crate::overrides::store::AuditEntry {
        when: T0 + 5000,
        who: "noc".into(),
        author: Some("alice".into()),
        what: what.into(),
        before: serde_json::Value::Null,
        after: serde_json::json!({"id": id, "kind": "drain", "name": "live.tv.test.", "region": "country:KR", "cdn": "fastly"}),
    }
}

#[test]
fn writer_round_trip_through_the_read_api() {
    let dir = tempfile::tempdir().expect("tmp");
    let faults = Faults::new();
    let w = writer(dir.path(), &faults);
    let h = w.handle();
    let z = Arc::new(zones());
    assert!(h.send(Record::Plan { at: T0, generation: 1, zones: Arc::clone(&z), explain: Arc::new(explain(&z, 0.5, Some(95.0), CandidateState::Healthy)) }));
    h.send(Record::Observations(vec![observation("akamai", "country:KR", T0 + 100, 80.0, 0), observation("fastly", "country:KR", T0 + 200, 900.0, 1)]));
    h.send(Record::Plan { at: T0 + 1000, generation: 2, zones: Arc::clone(&z), explain: Arc::new(explain(&z, 0.8, Some(40.0), CandidateState::Degraded)) });
    h.send(Record::Decisions(vec![crate::health::events::DecisionEvent {
        at: T0 + 1000,
        generation: 7,
        name: "live.tv.test.".into(),
        region: "country:KR".into(),
        old: vec![("akamai".into(), 0.5), ("fastly".into(), 0.5)],
        new: vec![("akamai".into(), 0.8), ("fastly".into(), 0.2)],
        reason: "fastly ttfb 900 ms over the SLA".into(),
        overrides: vec![],
        fails_open: false,
    }]));
    h.send(Record::Reload(ReloadRecord { at: T0 + 2000, ok: true, generation: 8, who: "noc".into(), took_ms: 12, error: None }));
    h.send(Record::Override(audit("override.add", "ovr-1")));
    h.send(Record::Freeze(FreezeRecord { at: T0 + 6000, event: "final".into(), phase: FreezePhase::Pending, who: "noc".into(), reason: "zone edit during the freeze".into() }));
    h.send(Record::Qoe(vec![qoe(T0 + 7000, 1200), qoe(T0 + 8000, 1400)]));
    h.send(Record::Answers(AnswerCounts { at: T0, span_ms: 10_000, rows: vec![(Arc::from("live.tv.test."), Arc::from("country:KR"), Arc::from("akamai"), 120), (Arc::from("live.tv.test."), Arc::from("country:KR"), Arc::from("fastly"), 30)] }));
    let rx = h.annotate(Annotation { at: T0 + 9000, text: "kickoff".into(), author: "alice".into() }).expect("queued");
    flush(&h);
    let stored = rx.blocking_recv().expect("reply").expect("stored");
    assert_eq!(stored.annotation.text, "kickoff");
    assert!(!h.stats().degraded());
    assert_eq!(h.stats().dropped_queue_full() + h.stats().dropped_write_failed(), 0);

    let r = HistoryReader::open(&db(dir.path())).expect("reader");
    let window = Window { from: T0, to: T0 + 60_000 };
    // Shares: KR akamai 0.5 then 0.8.
    let kr = Filter { region: Some("country:KR".into()), cdn: Some("akamai".into()), ..Filter::default() };
    let series = r.share_changes(window, &kr).expect("shares");
    assert_eq!(series.len(), 1);
    let p = &series[0].points;
    assert_eq!(p.iter().map(|p| (p.share, p.state)).collect::<Vec<_>>(), vec![(0.5, CandidateState::Healthy), (0.8, CandidateState::Degraded)]);
    assert_eq!(p[1].score, Some(40.0));
    // Buckets of 500 ms: the mean follows the change.
    let b = r.shares(Buckets { from: T0, to: T0 + 2000, step_ms: 500 }, &kr).expect("buckets");
    let means: Vec<f64> = b[0].points.iter().map(|p| p.share_mean).collect();
    assert_eq!(means, vec![0.5, 0.5, 0.8, 0.8]);
    assert_eq!(b[0].points[3].score_min, Some(40.0));
    // Signals: KR per CDN.
    let sig = r.signals(Buckets { from: T0, to: T0 + 60_000, step_ms: 60_000 }, &Filter { region: Some("country:KR".into()), ..Filter::default() }).expect("signals");
    assert_eq!(sig.len(), 2);
    let fastly = sig.iter().find(|s| s.cdn == "fastly").expect("fastly");
    assert_eq!((fastly.requests, fastly.errors, fastly.failures, fastly.failure), (100, 1, 1, Some("timeout")));
    assert_eq!(fastly.ttfb_p50_ms, Some(900.0));
    assert_eq!(fastly.cache_hit_ratio, Some(0.9));
    assert_eq!(fastly.throughput_mbps, Some(25.5));
    let raw = r.signal_rows(window, &Filter::default(), 10).expect("rows");
    assert_eq!(raw[0].zone.as_deref(), Some("tv.test."));
    // Answers by CDN.
    let a = r.answers(Buckets { from: T0, to: T0 + 60_000, step_ms: 60_000 }, &Filter::default(), AnswerGroup::Cdn).expect("answers");
    assert_eq!(a.iter().map(|a| (a.cdn.as_str(), a.answers)).collect::<Vec<_>>(), vec![("akamai", 120), ("fastly", 30)]);
    // QoE: viewers are the source's mean.
    let q = r.qoe(Buckets { from: T0, to: T0 + 60_000, step_ms: 60_000 }, &Filter::default()).expect("qoe");
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].windows, q[0].viewers, q[0].playback_failures, q[0].delivered_gbps, q[0].ttfb_p99_ms), (2, Some(1300.0), 6, Some(12.5), Some(400.0)));
    assert_eq!(q[0].rebuffer_ratio, Some(0.01));
    // Events of every kind, in time order, and the override's scope.
    let events = r.events(window, &[], 100).expect("events");
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EventKind::Decision, EventKind::Reload, EventKind::Override, EventKind::Freeze, EventKind::Annotation]);
    assert_eq!(events[0].data.as_ref().and_then(|d| d["new"][0][1].as_f64()), Some(0.8));
    assert_eq!((events[2].name.as_deref(), events[2].region.as_deref(), events[2].who.as_deref()), (Some("live.tv.test."), Some("country:KR"), Some("noc")));
    assert_eq!(events[4].id, stored.id);
    let only = r.events(window, &[EventKind::Annotation], 100).expect("annotations");
    assert_eq!(only.len(), 1);
    // Everything after an id, in id order, each id once.
    let all = r.after(0, 10_000).expect("after");
    let ids: Vec<i64> = all.iter().map(HistoryItem::id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(*ids.last().expect("rows"), r.last_id().expect("last"));
    let tail = r.after(ids[3], 2).expect("after");
    assert_eq!(tail.iter().map(HistoryItem::id).collect::<Vec<_>>(), vec![ids[4], ids[5]]);
    let json = serde_json::to_string(&all).expect("json");
    assert!(json.contains("\"type\":\"share\"") && json.contains("\"type\":\"event\""), "{json}");
    w.stop();
}

#[test]
fn injected_write_errors_degrade_then_recover_without_losing_rows() {
    let dir = tempfile::tempdir().expect("tmp");
    let faults = Faults::new();
    let w = writer(dir.path(), &faults);
    let h = w.handle();
    faults.fail_writes(true);
    for i in 0..50 {
        h.send(Record::Observations(vec![observation("akamai", "country:KR", T0 + i, 80.0, 0)]));
    }
    assert!(h.flush(Duration::from_secs(20)).is_err(), "flush reports the failure");
    assert!(h.stats().degraded());
    assert!(faults.refused() > 0);
    // An annotation during the fault is refused, not silently queued.
    let rx = h.annotate(Annotation { at: T0, text: "during".into(), author: "a".into() }).expect("queued");
    let _ = h.flush(Duration::from_secs(20));
    assert!(rx.blocking_recv().expect("reply").is_err());
    faults.fail_writes(false);
    flush(&h);
    assert!(!h.stats().degraded());
    assert_eq!(h.stats().written(), 50, "the backlog was written after the fault cleared");
    assert_eq!(h.stats().dropped_write_failed(), 1, "only the refused annotation");
    let r = HistoryReader::open(&db(dir.path())).expect("reader");
    assert_eq!(r.signal_rows(Window { from: T0, to: T0 + 1000 }, &Filter::default(), 1000).expect("rows").len(), 50);
    w.stop();
}

#[test]
fn a_backlog_past_its_limit_drops_the_oldest_and_counts_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let faults = Faults::new();
    let storage = SqliteStorage::open(&db(dir.path())).expect("open");
    let w = HistoryWriter::start_with_limits(Box::new(Faulty::new(storage, faults.clone())), HistorySettings::default(), None, 1024, 100);
    let h = w.handle();
    faults.fail_writes(true);
    h.send(Record::Observations((0..250).map(|i| observation("akamai", "country:KR", T0 + i, 80.0, 0)).collect()));
    let _ = h.flush(Duration::from_secs(20));
    assert_eq!(h.stats().dropped_write_failed(), 150);
    faults.fail_writes(false);
    flush(&h);
    assert_eq!(h.stats().written(), 100);
    // The newest were kept.
    let r = HistoryReader::open(&db(dir.path())).expect("reader");
    let rows = r.signal_rows(Window { from: T0, to: T0 + 1000 }, &Filter::default(), 1000).expect("rows");
    assert_eq!(rows.first().map(|r| r.at), Some(T0 + 150));
    w.stop();
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking_the_sender() {
    let dir = tempfile::tempdir().expect("tmp");
    let faults = Faults::new();
    faults.slow_writes(200);
    let storage = SqliteStorage::open(&db(dir.path())).expect("open");
    let w = HistoryWriter::start_with_limits(Box::new(Faulty::new(storage, faults.clone())), HistorySettings::default(), None, 2, 100_000);
    let h = w.handle();
    let mut refused = 0;
    for i in 0..200 {
        if !h.send(Record::Observations(vec![observation("akamai", "country:KR", T0 + i, 80.0, 0)])) {
            refused += 1;
        }
    }
    assert!(refused > 0);
    assert_eq!(h.stats().dropped_queue_full(), refused);
    faults.slow_writes(0);
    flush(&h);
    assert_eq!(h.stats().written() + refused, 200);
    w.stop();
}

/// A storage whose first write kills the writer thread.
struct Dies;

impl Storage for Dies {
    fn write(&mut self, _rows: &[Row]) -> Result<i64, StorageError> {
        panic!("storage died");
    }
    fn checkpoint(&mut self, _truncate: bool) -> Result<(), StorageError> {
        Ok(())
    }
    fn maintain(&mut self, _now: Millis, _settings: &HistorySettings) -> Result<store::Maintenance, StorageError> {
        Ok(store::Maintenance::default())
    }
    fn size_bytes(&self) -> u64 {
        0
    }
}

#[test]
fn records_sent_after_the_writer_thread_died_are_counted_and_history_is_degraded() {
    let w = HistoryWriter::start(Box::new(Dies), HistorySettings::default(), None);
    let h = w.handle();
    assert!(h.send(Record::Observations(vec![observation("akamai", "country:KR", T0, 80.0, 0)])));
    // The thread dies on that write; from then on nothing can be queued.
    let mut refused = false;
    for _ in 0..400 {
        if !h.send(Record::Observations(vec![observation("akamai", "country:KR", T0, 80.0, 0), observation("fastly", "country:KR", T0, 80.0, 0)])) {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(refused, "the writer thread never went away");
    assert!(h.stats().degraded());
    assert_eq!(h.stats().dropped_write_failed(), 2, "the two rows refused are counted");
    let mut text = String::new();
    h.stats().render(&mut text);
    assert!(text.contains("cdnsteer_history_degraded 1"), "{text}");
    w.stop();
}

#[test]
fn retention_deletes_and_old_rows_are_downsampled_per_minute() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db(dir.path());
    let mut s = SqliteStorage::open(&path).expect("open");
    let day = 86_400_000;
    // Two minutes of 1 s rows, two days ago; and one row 40 days ago.
    let mut rows = vec![Row::Signal(store::SignalRow { zone: None, observation: observation("akamai", "country:KR", T0 - 40 * day, 80.0, 0) })];
    for i in 0..120u64 {
        let at = T0 - 2 * day + i * 1000;
        rows.push(Row::Signal(store::SignalRow { zone: None, observation: observation("akamai", "country:KR", at, 50.0 + i as f64, u64::from(i == 30)) }));
        rows.push(share_row(at, if i < 45 { 0.5 } else { 0.7 }));
        if i % 10 == 0 {
            rows.push(Row::Answers(store::AnswerRow { at, span_ms: 10_000, name: Arc::from("live.tv.test."), region: Arc::from("country:KR"), cdn: Arc::from("akamai"), answers: 100 }));
            rows.push(Row::Qoe(qoe(at, 1000 + i)));
        }
    }
    // And fresh rows, kept as they are.
    for i in 0..5u64 {
        rows.push(Row::Signal(store::SignalRow { zone: None, observation: observation("akamai", "country:KR", T0 + i * 1000, 70.0, 0) }));
    }
    s.write(&rows).expect("write");
    let max_before = s.next_id() - 1;
    let settings = HistorySettings::default();
    let mut total = store::Maintenance::default();
    for _ in 0..2000 {
        let m = s.maintain(T0 + 10_000, &settings).expect("maintain");
        total.deleted += m.deleted;
        total.merged += m.merged;
        if !m.more {
            break;
        }
    }
    assert_eq!(total.deleted, 1, "the 40-day-old row");
    let counts: std::collections::HashMap<_, _> = s.row_counts().expect("counts").into_iter().collect();
    assert_eq!(counts["signal"], 2 + 5, "two minutes merged, the fresh rows kept");
    assert_eq!(counts["share"], 2);
    assert_eq!(counts["answers"], 2);
    assert_eq!(counts["qoe"], 2);
    drop(s);
    let r = HistoryReader::open(&path).expect("reader");
    let old = Window { from: T0 - 2 * day, to: T0 - 2 * day + 120_000 };
    let merged = r.signal_rows(old, &Filter::default(), 10).expect("rows");
    assert_eq!(merged.iter().map(|m| (m.samples, m.requests, m.errors)).collect::<Vec<_>>(), vec![(60, 6000, 1), (60, 6000, 0)]);
    assert_eq!(merged[0].ttfb_hi_ms, Some(109.0));
    assert_eq!(merged[0].at, T0 - 2 * day);
    assert!(merged.iter().all(|m| m.id <= max_before), "merged rows keep ids of the rows they replace");
    // Summaries still add up: the error rate over both minutes, p95 from the highs.
    let sig = r.signals(Buckets { from: old.from, to: old.to, step_ms: 120_000 }, &Filter::default()).expect("signals");
    assert_eq!((sig[0].samples, sig[0].requests, sig[0].errors), (120, 12_000, 1));
    assert_eq!(sig[0].ttfb_p95_ms, Some(169.0));
    // Shares: the last row of each minute.
    let shares = r.share_changes(old, &Filter::default()).expect("shares");
    assert_eq!(shares[0].points.iter().map(|p| p.share).collect::<Vec<_>>(), vec![0.7, 0.7]);
    let answers = r.answers(Buckets { from: old.from, to: old.to, step_ms: 120_000 }, &Filter::default(), AnswerGroup::NameRegionCdn).expect("answers");
    assert_eq!(answers[0].answers, 1200);
    let q = r.qoe_windows(old, 10).expect("qoe");
    assert_eq!(q.iter().map(|q| (q.samples, q.playback_failures)).collect::<Vec<_>>(), vec![(6, Some(18)), (6, Some(18))]);
}

#[test]
fn state_at_any_time_comes_from_the_last_keyframe() {
    let dir = tempfile::tempdir().expect("tmp");
    let faults = Faults::new();
    let w = writer(dir.path(), &faults);
    let h = w.handle();
    let z = Arc::new(zones());
    // Ten minutes of plans every second; one change at 2:05; keyframes every minute.
    for s in 0..600u64 {
        let share = if s < 125 { 0.5 } else { 0.9 };
        h.send(Record::Plan { at: T0 + s * 1000, generation: s, zones: Arc::clone(&z), explain: Arc::new(explain(&z, share, Some(95.0), CandidateState::Healthy)) });
    }
    flush(&h);
    // 10 keyframes x 4 series + 2 changes.
    assert_eq!(h.stats().written(), 42);
    let r = HistoryReader::open(&db(dir.path())).expect("reader");
    let kr = Filter { region: Some("country:KR".into()), cdn: Some("akamai".into()), ..Filter::default() };
    // A window starting at 7:30 knows the state from the 7:00 keyframe.
    let from = T0 + 450_000;
    let s = r.share_changes(Window { from, to: from + 1000 }, &kr).expect("changes");
    assert_eq!(s[0].points.len(), 1);
    assert_eq!((s[0].points[0].at, s[0].points[0].share), (from, 0.9));
    let grid = r.state_at(T0 + 124_000, &Filter::default()).expect("grid");
    assert_eq!(grid.len(), 4);
    let kr_akamai = grid.iter().find(|g| g.region == "country:KR" && g.cdn == "akamai").expect("KR akamai");
    assert_eq!(kr_akamai.points[0].share, 0.5);
    assert_eq!(r.state_at(T0 + 125_000, &kr).expect("grid")[0].points[0].share, 0.9);
    // Window ids are resumable: after the last id there is nothing.
    let last = r.last_id().expect("last");
    assert!(r.after(last, 10).expect("after").is_empty());
    w.stop();
    // A second writer on the same file continues the ids.
    let w = writer(dir.path(), &faults);
    let h = w.handle();
    h.send(Record::Plan { at: T0 + 700_000, generation: 1, zones: Arc::clone(&z), explain: Arc::new(explain(&z, 0.9, Some(95.0), CandidateState::Healthy)) });
    flush(&h);
    let next = r.after(last, 10).expect("after");
    assert_eq!(next.len(), 4, "a restart starts with a keyframe");
    assert!(next.iter().all(|i| i.id() > last));
    w.stop();
}

#[test]
fn queries_out_of_range_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db(dir.path());
    drop(SqliteStorage::open(&path).expect("create"));
    let r = HistoryReader::open(&path).expect("reader");
    assert!(r.signals(Buckets { from: 10, to: 10, step_ms: 1 }, &Filter::default()).is_err());
    assert!(r.signals(Buckets { from: 0, to: 1_000_000_000, step_ms: 1 }, &Filter::default()).is_err());
    // A filter naming something never recorded is an empty answer, not an error.
    assert!(r.shares(Buckets { from: 0, to: 1000, step_ms: 100 }, &Filter { cdn: Some("nope".into()), ..Filter::default() }).expect("empty").is_empty());
    assert!(HistoryReader::open(&dir.path().join("missing.sqlite")).is_err());
}

#[test]
fn long_reads_come_in_chunks_and_miss_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db(dir.path());
    let mut s = SqliteStorage::open(&path).expect("open");
    // Many rows share a time (a telemetry batch): chunk boundaries fall inside such runs.
    let n = read::CHUNK as u64 * 2 + 345;
    let rows: Vec<Row> = (0..n).map(|i| Row::Signal(store::SignalRow { zone: None, observation: observation("akamai", "country:KR", T0 + i / 7, 80.0, i % 2) })).collect();
    s.write(&rows).expect("write");
    let events: Vec<Row> = (0..n)
        .map(|i| Row::Event(store::EventRow { at: T0 + i / 3, kind: EventKind::Annotation, name: None, region: None, generation: None, who: Some("a".into()), text: format!("note {i}"), data: None }))
        .collect();
    s.write(&events).expect("write");
    drop(s);
    let r = HistoryReader::open(&path).expect("reader");
    let window = Window { from: T0, to: T0 + n };
    let got = r.signal_rows(window, &Filter::default(), usize::MAX).expect("rows");
    assert_eq!(got.len() as u64, n);
    assert!(got.windows(2).all(|w| (w[0].at, w[0].id) < (w[1].at, w[1].id)));
    let sig = r.signals(Buckets { from: T0, to: T0 + n, step_ms: n }, &Filter::default()).expect("signals");
    assert_eq!((sig[0].samples, sig[0].errors), (n, n / 2));
    let notes = r.events(window, &[EventKind::Annotation], usize::MAX).expect("events");
    assert_eq!(notes.len() as u64, n);
    assert_eq!(notes.last().map(|e| e.text.clone()), Some(format!("note {}", n - 1)));
    // `after` pages through everything in id order.
    let (mut last, mut seen) = (0, 0u64);
    loop {
        let page = r.after(last, 4000).expect("page");
        let Some(end) = page.last().map(HistoryItem::id) else { break };
        assert!(page.iter().all(|i| i.id() > last));
        seen += page.len() as u64;
        last = end;
    }
    assert_eq!(seen, 2 * n);
}

#[test]
fn events_of_some_kinds_are_found_among_many_others() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db(dir.path());
    let mut s = SqliteStorage::open(&path).expect("open");
    // Decisions fill several chunks; a reload and a freeze step every 1000 of them.
    let n = read::CHUNK as u64 * 3;
    let rows: Vec<Row> = (0..n)
        .map(|i| {
            let kind = match i % 1000 {
                500 => EventKind::Reload,
                999 => EventKind::Freeze,
                _ => EventKind::Decision,
            };
            Row::Event(store::EventRow { at: T0 + i, kind, name: None, region: None, generation: None, who: None, text: format!("{i}"), data: None })
        })
        .collect();
    s.write(&rows).expect("write");
    let r = HistoryReader::open(&path).expect("reader");
    let window = Window { from: T0, to: T0 + n };
    let got = r.events(window, &[EventKind::Reload, EventKind::Freeze], usize::MAX).expect("events");
    assert_eq!(got.len() as u64, 2 * n / 1000);
    assert!(got.iter().all(|e| matches!(e.kind, EventKind::Reload | EventKind::Freeze)));
    assert_eq!(got[0].text, "500");
    assert!(got.windows(2).all(|w| w[0].at < w[1].at));
    let first = r.events(window, &[EventKind::Freeze], 3).expect("limited");
    assert_eq!(first.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), vec!["999", "1999", "2999"]);
    assert_eq!(r.events(window, &[], usize::MAX).expect("all").len() as u64, n);
}

#[test]
fn after_reads_every_table_from_one_snapshot() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db(dir.path());
    let mut s = SqliteStorage::open(&path).expect("open");
    s.write(&[share_row(T0, 0.5)]).expect("write");
    let r = HistoryReader::open(&path).expect("reader");
    let note = |text: &str| Row::Event(store::EventRow { at: T0 + 1, kind: EventKind::Annotation, name: None, region: None, generation: None, who: None, text: text.into(), data: None });
    // A batch (shares, then an event) committed while `after` is between two tables: it must
    // show wholly or not at all, never its event without its shares.
    let mut committed = false;
    let page = r
        .after_with(0, 100, || {
            if !committed {
                s.write(&[share_row(T0 + 1, 0.6), share_row(T0 + 1, 0.7), note("batch")]).expect("write");
                committed = true;
            }
        })
        .expect("after");
    assert!(committed);
    let ids: Vec<i64> = page.iter().map(HistoryItem::id).collect();
    assert_eq!(ids, vec![1], "one snapshot: the batch is not half in");
    // The next call sees the whole batch.
    let ids: Vec<i64> = r.after(1, 100).expect("after").iter().map(HistoryItem::id).collect();
    assert_eq!(ids, vec![2, 3, 4]);
}

#[test]
fn a_database_that_cannot_be_opened_yet_is_opened_when_it_can() {
    let dir = tempfile::tempdir().expect("tmp");
    // The state directory's place is taken by a file: nothing can be created under it.
    let state = dir.path().join("state");
    std::fs::write(&state, "not a directory").expect("file");
    let path = db(&state);
    let w = HistoryWriter::start(Box::new(store::Deferred::new(&path)), HistorySettings::default(), Some(path.clone()));
    let h = w.handle();
    h.send(Record::Observations(vec![observation("akamai", "country:KR", T0, 80.0, 0)]));
    assert!(h.flush(Duration::from_secs(20)).is_err());
    assert!(h.stats().degraded());
    std::fs::remove_file(&state).expect("rm");
    std::fs::create_dir(&state).expect("mkdir");
    // Retries come with a backoff: flush until the writer has tried again.
    for _ in 0..200 {
        if h.flush(Duration::from_secs(20)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!h.stats().degraded());
    assert_eq!(h.stats().written(), 1);
    w.stop();
    assert_eq!(HistoryReader::open(&path).expect("reader").signal_rows(Window { from: T0, to: T0 + 1 }, &Filter::default(), 10).expect("rows").len(), 1);
}

#[test]
fn a_plan_older_than_one_taken_is_ignored() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = writer(dir.path(), &Faults::new());
    let h = w.handle();
    let z = Arc::new(zones());
    h.send(Record::Plan { at: T0, generation: 5, zones: Arc::clone(&z), explain: Arc::new(explain(&z, 0.5, Some(95.0), CandidateState::Healthy)) });
    // The periodic task loaded generation 4 before 5 was published, and sends it later.
    h.send(Record::Plan { at: T0 + 10, generation: 4, zones: Arc::clone(&z), explain: Arc::new(explain(&z, 0.9, Some(95.0), CandidateState::Healthy)) });
    h.send(Record::Plan { at: T0 + 20, generation: 5, zones: Arc::clone(&z), explain: Arc::new(explain(&z, 0.5, Some(95.0), CandidateState::Healthy)) });
    flush(&h);
    assert_eq!(h.stats().written(), 4, "the first keyframe only");
    w.stop();
}
