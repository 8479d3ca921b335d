//! The history writer: one OS thread that owns the [`Storage`], fed by a bounded channel.
//! Senders ([`HistoryHandle`]) never block: a full queue drops the record and counts it. The
//! thread turns records into rows (plans through the [`ShareTracker`]), writes them in
//! batches, retries after a failure while keeping a bounded backlog, checkpoints the WAL and
//! runs retention and downsampling. Its counters and the degraded flag are
//! [`HistoryStats`], rendered at `/metrics`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::store::{AnswerRow, EventRow, Row, ShareRow, SignalRow, SqliteStorage, Storage};
use super::track::ShareTracker;
use super::{Annotation, EventKind, HistoryError, HistorySettings, Record, StoredAnnotation};
use crate::health::events::DecisionEvent;
use crate::metrics::{self, write_family, write_sample};
use crate::overrides::store::AuditEntry;
use crate::qoe::QoeSample;
use crate::timestamp::Millis;
use crate::zone::ZoneSet;

/// Records the queue holds; beyond this `send` drops (and counts).
pub const QUEUE: usize = 65_536;
/// Rows wait at most this long before they are written, ms.
pub const FLUSH_MS: u64 = 250;
/// A batch this large is written at once.
pub const MAX_BATCH: usize = 5_000;
/// Rows kept in memory while writes fail; the oldest are dropped (and counted) beyond this.
pub const MAX_PENDING: usize = 200_000;
/// First retry after a failed write, ms; doubles up to `MAX_RETRY_MS`.
const FIRST_RETRY_MS: u64 = 500;
const MAX_RETRY_MS: u64 = 5_000;
/// Retention and downsampling run this often (sooner while they have work left).
const MAINTAIN_EVERY: Duration = Duration::from_secs(300);
/// While degraded, or while records are dropped at the queue, a reminder this often.
const REMIND_EVERY: Duration = Duration::from_secs(60);

type Reply = tokio::sync::oneshot::Sender<Result<StoredAnnotation, String>>;

enum Msg {
    Record(Record),
    Flush(SyncSender<Result<(), String>>),
    Stop,
}

/// Counters of the writer, read at `/metrics` and by benchmarks.
#[derive(Debug, Default)]
pub struct HistoryStats {
    written: AtomicU64,
    dropped_queue: AtomicU64,
    dropped_failed: AtomicU64,
    degraded: AtomicBool,
    batches: AtomicU64,
    write_nanos: AtomicU64,
    checkpoints: AtomicU64,
    checkpoint_nanos: AtomicU64,
    bytes: AtomicU64,
}

impl HistoryStats {
    /// Rows written.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Records dropped because the queue was full.
    pub fn dropped_queue_full(&self) -> u64 {
        self.dropped_queue.load(Ordering::Relaxed)
    }

    /// Rows dropped because writes kept failing (the backlog overflowed) or the writer
    /// thread had stopped.
    pub fn dropped_write_failed(&self) -> u64 {
        self.dropped_failed.load(Ordering::Relaxed)
    }

    /// Writes are failing now.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Batches written, and the time spent writing them (successful or not), ns.
    pub fn write_cost(&self) -> (u64, u64) {
        (self.batches.load(Ordering::Relaxed), self.write_nanos.load(Ordering::Relaxed))
    }

    /// Checkpoints run, and the time they took, ns.
    pub fn checkpoint_cost(&self) -> (u64, u64) {
        (self.checkpoints.load(Ordering::Relaxed), self.checkpoint_nanos.load(Ordering::Relaxed))
    }

    /// Bytes on disk at the last checkpoint.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The history families in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        write_family(out, &metrics::HISTORY_DEGRADED);
        write_sample(out, metrics::HISTORY_DEGRADED.name, &[], u64::from(self.degraded()));
        write_family(out, &metrics::HISTORY_WRITTEN);
        write_sample(out, metrics::HISTORY_WRITTEN.name, &[], self.written());
        write_family(out, &metrics::HISTORY_DROPPED);
        write_sample(out, metrics::HISTORY_DROPPED.name, &[("reason", "queue_full")], self.dropped_queue_full());
        write_sample(out, metrics::HISTORY_DROPPED.name, &[("reason", "write_failed")], self.dropped_write_failed());
    }
}

#[derive(Debug)]
struct Inner {
    tx: SyncSender<Msg>,
    path: Option<PathBuf>,
    /// The writer thread was found gone (said once).
    gone: AtomicBool,
}

/// The senders' side: cheap to clone, never blocks. A disabled handle takes nothing.
#[derive(Debug, Clone, Default)]
pub struct HistoryHandle {
    inner: Option<Arc<Inner>>,
    stats: Arc<HistoryStats>,
}

impl HistoryHandle {
    /// A handle that keeps nothing (history off, tests without history).
    pub fn disabled() -> HistoryHandle {
        HistoryHandle::default()
    }

    /// Whether records go anywhere.
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// The database file, when there is one (readers open it themselves).
    pub fn path(&self) -> Option<&Path> {
        self.inner.as_ref().and_then(|i| i.path.as_deref())
    }

    /// The writer's counters.
    pub fn stats(&self) -> &HistoryStats {
        &self.stats
    }

    /// Queue a record; never blocks. False when it was dropped (queue full, or the writer
    /// thread gone: counted) or history is off.
    pub fn send(&self, record: Record) -> bool {
        let Some(inner) = &self.inner else { return false };
        let n = record.count();
        match inner.tx.try_send(Msg::Record(record)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.stats.dropped_queue.fetch_add(n, Ordering::Relaxed);
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                // Nothing will be written any more (the thread stopped or died): as lost as a
                // write that failed, and history is degraded for good.
                self.stats.dropped_failed.fetch_add(n, Ordering::Relaxed);
                self.stats.degraded.store(true, Ordering::Relaxed);
                if !inner.gone.swap(true, Ordering::Relaxed) {
                    tracing::error!("history degraded: the history writer has stopped; records are dropped and counted");
                }
                false
            }
        }
    }

    /// Queue a record, waiting for room when the queue is full: for offline writers (the
    /// simulator writes a night faster than the writer thread keeps up), never for the
    /// control plane. False when history is off or the writer stopped.
    pub fn send_wait(&self, record: Record) -> bool {
        let Some(inner) = &self.inner else { return false };
        inner.tx.send(Msg::Record(record)).is_ok()
    }

    /// Queue an annotation; the receiver gets the stored row (with its id) once written, or
    /// why it was not. `None` when it could not be queued (history off, queue full).
    pub fn annotate(&self, annotation: Annotation) -> Option<tokio::sync::oneshot::Receiver<Result<StoredAnnotation, String>>> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Record::Annotation(annotation, Some(reply))).then_some(rx)
    }

    /// Wait until everything queued before this call is written (or has failed), at most
    /// `timeout`. Blocks the calling thread: for tests, benchmarks and shutdown, never for
    /// the control plane.
    pub fn flush(&self, timeout: Duration) -> Result<(), String> {
        let Some(inner) = &self.inner else { return Ok(()) };
        let (tx, rx) = sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut msg = Msg::Flush(tx);
        loop {
            match inner.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return Err("history queue full or writer stopped".to_string()),
            }
        }
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).map_err(|_| "history writer did not answer in time".to_string())?
    }
}

/// The writer thread and its handle.
#[derive(Debug)]
pub struct HistoryWriter {
    handle: HistoryHandle,
    thread: Option<JoinHandle<()>>,
}

impl HistoryWriter {
    /// Open (or create) `STATE_DIR/history.sqlite` and start writing to it.
    pub fn open(state_dir: &Path, settings: &HistorySettings) -> Result<HistoryWriter, HistoryError> {
        let path = state_dir.join(super::DB_FILE);
        let storage = SqliteStorage::open(&path)?;
        Ok(HistoryWriter::start(Box::new(storage), settings.clone(), Some(path)))
    }

    /// Start the writer thread on `storage` (`path`: where readers find it, if anywhere).
    pub fn start(storage: Box<dyn Storage>, settings: HistorySettings, path: Option<PathBuf>) -> HistoryWriter {
        HistoryWriter::start_with_limits(storage, settings, path, QUEUE, MAX_PENDING)
    }

    /// `start` with another queue length and backlog limit (tests of overflow).
    pub fn start_with_limits(storage: Box<dyn Storage>, settings: HistorySettings, path: Option<PathBuf>, queue: usize, max_pending: usize) -> HistoryWriter {
        let (tx, rx) = sync_channel(queue.max(1));
        let stats = Arc::new(HistoryStats::default());
        let mut worker = Worker::new(storage, settings, Arc::clone(&stats));
        worker.max_pending = max_pending.max(1);
        let thread = std::thread::Builder::new().name("history".to_string()).spawn(move || worker.run(rx));
        match thread {
            Ok(thread) => HistoryWriter { handle: HistoryHandle { inner: Some(Arc::new(Inner { tx, path, gone: AtomicBool::new(false) })), stats }, thread: Some(thread) },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the history writer thread; history is off");
                HistoryWriter { handle: HistoryHandle::disabled(), thread: None }
            }
        }
    }

    /// A sender.
    pub fn handle(&self) -> HistoryHandle {
        self.handle.clone()
    }

    /// Write what is queued, checkpoint, and stop the thread. Blocks until it has finished:
    /// call off the async runtime.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(inner) = &self.handle.inner {
            // A full queue: wait for room (the writer drains it); stopping must be heard.
            let _ = inner.tx.send(Msg::Stop);
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the history writer thread panicked");
        }
    }
}

impl Drop for HistoryWriter {
    fn drop(&mut self) {
        if let Some(inner) = &self.handle.inner {
            // Without waiting: the thread writes what it has and ends on its own.
            let _ = inner.tx.try_send(Msg::Stop);
        }
    }
}

/// The thread's state.
struct Worker {
    storage: Box<dyn Storage>,
    settings: HistorySettings,
    stats: Arc<HistoryStats>,
    tracker: ShareTracker,
    /// Rows not yet written, oldest first.
    rows: Vec<Row>,
    /// Most rows kept while writes fail.
    max_pending: usize,
    /// Annotations waiting for their row: (index in `rows`, reply).
    replies: Vec<(usize, Reply)>,
    /// When the oldest of `rows` arrived.
    oldest: Option<Instant>,
    /// Failing since, and the next retry.
    failing: Option<(Instant, Instant, u64)>,
    dropped_at_failure_start: u64,
    last_remind: Instant,
    queue_drops_seen: u64,
    /// Newest snapshot generation taken (older plans are ignored).
    generation: u64,
    /// Latest record time seen: "now" for retention (simulated time works too).
    high_water: Millis,
    last_checkpoint: Instant,
    written_since_checkpoint: bool,
    truncated: bool,
    next_maintain: Instant,
    /// CDN -> the one zone whose steered names use it, for the zones last planned.
    zone_of: (u64, FxHashMap<String, Option<Arc<str>>>),
}

impl Worker {
    fn new(storage: Box<dyn Storage>, settings: HistorySettings, stats: Arc<HistoryStats>) -> Worker {
        let now = Instant::now();
        Worker {
            storage,
            tracker: ShareTracker::new(settings.keyframe_ms),
            settings,
            stats,
            rows: Vec::new(),
            max_pending: MAX_PENDING,
            replies: Vec::new(),
            oldest: None,
            failing: None,
            dropped_at_failure_start: 0,
            last_remind: now,
            queue_drops_seen: 0,
            generation: 0,
            high_water: 0,
            last_checkpoint: now,
            written_since_checkpoint: false,
            truncated: false,
            next_maintain: now + Duration::from_secs(30),
            zone_of: (u64::MAX, FxHashMap::default()),
        }
    }

    fn run(mut self, rx: Receiver<Msg>) {
        let tick = Duration::from_millis(FLUSH_MS);
        loop {
            let mut flush = None;
            let mut stop = false;
            let mut next = match rx.recv_timeout(tick) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    stop = true;
                    None
                }
            };
            // Take what else is queued, up to a batch, before writing.
            while let Some(m) = next.take() {
                match m {
                    Msg::Record(r) => self.take(r),
                    Msg::Flush(reply) => flush = Some(reply),
                    Msg::Stop => stop = true,
                }
                if self.rows.len() >= MAX_BATCH || flush.is_some() || stop {
                    break;
                }
                next = rx.try_recv().ok();
            }
            let due = self.oldest.is_some_and(|t| t.elapsed() >= tick) || self.rows.len() >= MAX_BATCH;
            let may_retry = self.failing.is_none_or(|(_, next, _)| Instant::now() >= next);
            if (due && may_retry) || flush.is_some() || stop {
                self.write();
            }
            if let Some(reply) = flush {
                let _ = reply.send(if self.failing.is_some() { Err("history writes are failing".to_string()) } else { Ok(()) });
            }
            if stop {
                if self.failing.is_none() {
                    let _ = self.checkpoint(true);
                }
                if !self.rows.is_empty() {
                    self.drop_rows(self.rows.len());
                    tracing::error!(dropped = self.stats.dropped_write_failed(), "history stopped with rows it could not write");
                }
                return;
            }
            self.housekeeping();
        }
    }

    /// Turn a record into rows.
    fn take(&mut self, record: Record) {
        let before = self.rows.len();
        match record {
            Record::Plan { at, generation, zones, explain } => {
                if generation < self.generation {
                    return;
                }
                self.generation = generation;
                self.high_water = self.high_water.max(at);
                self.map_zones(&zones);
                let mut out: Vec<ShareRow> = Vec::new();
                self.tracker.observe(at, &zones, &explain, &mut out);
                self.rows.extend(out.into_iter().map(Row::Share));
            }
            Record::Observations(observations) => {
                for o in observations {
                    self.high_water = self.high_water.max(o.at);
                    let zone = self.zone_of.1.get(&o.cdn).cloned().flatten();
                    self.rows.push(Row::Signal(SignalRow { zone, observation: o }));
                }
            }
            Record::Decisions(events) => self.rows.extend(events.into_iter().map(decision_row)),
            Record::Reload(r) => self.rows.push(Row::Event(EventRow {
                at: r.at,
                kind: EventKind::Reload,
                name: None,
                region: None,
                generation: Some(r.generation),
                who: Some(r.who.clone()),
                text: if r.ok { format!("reload applied: generation {}", r.generation) } else { format!("reload refused; generation {} keeps serving", r.generation) },
                data: Some(serde_json::json!({"ok": r.ok, "took_ms": r.took_ms, "error": r.error})),
            })),
            Record::Override(entry) => self.rows.push(Row::Event(override_row(entry))),
            Record::Freeze(f) => self.rows.push(Row::Event(EventRow {
                at: f.at,
                kind: EventKind::Freeze,
                name: None,
                region: None,
                generation: None,
                who: Some(f.who),
                text: f.reason,
                data: Some(serde_json::json!({"event": f.event, "phase": f.phase.as_str()})),
            })),
            Record::Annotation(a, reply) => {
                let index = self.rows.len();
                self.rows.push(Row::Event(EventRow {
                    at: a.at,
                    kind: EventKind::Annotation,
                    name: None,
                    region: None,
                    generation: None,
                    who: Some(a.author.clone()),
                    text: a.text.clone(),
                    data: None,
                }));
                if let Some(reply) = reply {
                    self.replies.push((index, reply));
                }
            }
            Record::Qoe(samples) => self.rows.extend(samples.into_iter().filter(worth_keeping).map(Row::Qoe)),
            Record::Answers(counts) => {
                self.high_water = self.high_water.max(counts.at);
                self.rows.extend(counts.rows.into_iter().map(|(name, region, cdn, answers)| Row::Answers(AnswerRow { at: counts.at, span_ms: counts.span_ms, name, region, cdn, answers })));
            }
        }
        if self.rows.len() > before && self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
        if self.rows.len() > self.max_pending {
            self.drop_rows(self.rows.len() - self.max_pending);
        }
    }

    fn map_zones(&mut self, zones: &ZoneSet) {
        if self.zone_of.0 == zones.id {
            return;
        }
        let mut map: FxHashMap<String, Option<Arc<str>>> = FxHashMap::default();
        for zone in &zones.zones {
            let apex: Arc<str> = Arc::from(zone.origin.to_string());
            for cdn in zone.steered.iter().flat_map(|s| s.cdns.iter()) {
                map.entry(cdn.name.clone())
                    .and_modify(|z| {
                        if z.as_ref().is_some_and(|z| **z != *apex) {
                            *z = None;
                        }
                    })
                    .or_insert_with(|| Some(Arc::clone(&apex)));
            }
        }
        self.zone_of = (zones.id, map);
    }

    /// Drop the oldest `n` rows (counted; their annotations told).
    fn drop_rows(&mut self, n: usize) {
        let n = n.min(self.rows.len());
        self.rows.drain(..n);
        self.stats.dropped_failed.fetch_add(n as u64, Ordering::Relaxed);
        let replies = std::mem::take(&mut self.replies);
        for (i, reply) in replies {
            if i < n {
                let _ = reply.send(Err("history could not be written (disk full or failing); the annotation was dropped".to_string()));
            } else {
                self.replies.push((i - n, reply));
            }
        }
        // The reader must find whole states again after a gap.
        self.tracker.force_keyframe();
    }

    /// Write what is pending, in batches.
    fn write(&mut self) {
        while !self.rows.is_empty() {
            let n = self.rows.len().min(MAX_BATCH);
            let started = Instant::now();
            let result = self.storage.write(&self.rows[..n]);
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            self.stats.write_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            match result {
                Ok(first) => {
                    self.stats.written.fetch_add(n as u64, Ordering::Relaxed);
                    self.answer_annotations(n, first);
                    self.rows.drain(..n);
                    self.written_since_checkpoint = true;
                    self.truncated = false;
                    if let Some((since, _, _)) = self.failing.take() {
                        self.stats.degraded.store(false, Ordering::Relaxed);
                        let lost = self.stats.dropped_write_failed() - self.dropped_at_failure_start;
                        tracing::info!(degraded_for_secs = since.elapsed().as_secs(), dropped = lost, "history writing resumed");
                        self.tracker.force_keyframe();
                    }
                }
                Err(e) => {
                    self.failed(&e.to_string());
                    break;
                }
            }
        }
        self.oldest = (!self.rows.is_empty()).then(Instant::now);
    }

    fn answer_annotations(&mut self, written: usize, first_id: i64) {
        let replies = std::mem::take(&mut self.replies);
        for (i, reply) in replies {
            if i >= written {
                self.replies.push((i - written, reply));
                continue;
            }
            if let Some(Row::Event(e)) = self.rows.get(i) {
                let annotation = Annotation { at: e.at, text: e.text.clone(), author: e.who.clone().unwrap_or_default() };
                let _ = reply.send(Ok(StoredAnnotation { id: first_id + i as i64, annotation }));
            }
        }
    }

    fn failed(&mut self, error: &str) {
        let now = Instant::now();
        // Annotations are answered now: their authors can try again.
        let replies = std::mem::take(&mut self.replies);
        let mut refused: Vec<usize> = Vec::new();
        for (i, reply) in replies {
            let _ = reply.send(Err(format!("history could not be written: {error}")));
            refused.push(i);
        }
        for i in refused.into_iter().rev() {
            if i < self.rows.len() {
                self.rows.remove(i);
                self.stats.dropped_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        match &mut self.failing {
            None => {
                self.stats.degraded.store(true, Ordering::Relaxed);
                self.dropped_at_failure_start = self.stats.dropped_write_failed();
                self.last_remind = now;
                tracing::error!(error, pending = self.rows.len(), "history degraded: cannot write to the history database; DNS answers are not affected; rows are kept in memory and retried");
                self.failing = Some((now, now + Duration::from_millis(FIRST_RETRY_MS), FIRST_RETRY_MS));
            }
            Some((since, next, backoff)) => {
                *backoff = (*backoff * 2).min(MAX_RETRY_MS);
                *next = now + Duration::from_millis(*backoff);
                if self.last_remind.elapsed() >= REMIND_EVERY {
                    self.last_remind = now;
                    tracing::warn!(error, degraded_for_secs = since.elapsed().as_secs(), pending = self.rows.len(), dropped = self.stats.dropped_write_failed() - self.dropped_at_failure_start, "history still degraded");
                }
            }
        }
    }

    fn checkpoint(&mut self, truncate: bool) -> Result<(), super::StorageError> {
        let started = Instant::now();
        let result = self.storage.checkpoint(truncate);
        self.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.stats.checkpoint_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }

    /// Checkpoints, maintenance, and the reminder about queue drops.
    fn housekeeping(&mut self) {
        let drops = self.stats.dropped_queue_full();
        if drops > self.queue_drops_seen && self.last_remind.elapsed() >= REMIND_EVERY.min(Duration::from_secs(10)) {
            tracing::warn!(dropped = drops - self.queue_drops_seen, "history queue full: records dropped (the writer cannot keep up)");
            self.queue_drops_seen = drops;
            self.last_remind = Instant::now();
        }
        if self.failing.is_some() {
            return;
        }
        if self.last_checkpoint.elapsed() >= Duration::from_millis(self.settings.checkpoint_ms) {
            // Idle since the last checkpoint: truncate the WAL; else a passive one.
            let truncate = !self.written_since_checkpoint;
            if !(truncate && self.truncated) {
                match self.checkpoint(truncate) {
                    Ok(()) => self.truncated = truncate,
                    Err(e) => tracing::warn!(error = %e, "history checkpoint failed"),
                }
            }
            self.stats.bytes.store(self.storage.size_bytes(), Ordering::Relaxed);
            self.last_checkpoint = Instant::now();
            self.written_since_checkpoint = false;
        }
        if Instant::now() >= self.next_maintain && self.high_water > 0 {
            match self.storage.maintain(self.high_water, &self.settings) {
                Ok(m) => {
                    if m.deleted > 0 || m.merged > 0 {
                        tracing::info!(deleted = m.deleted, merged = m.merged, "history retention and downsampling");
                    }
                    self.next_maintain = Instant::now() + if m.more { Duration::from_secs(1) } else { MAINTAIN_EVERY };
                }
                Err(e) => {
                    tracing::warn!(error = %e, "history maintenance failed; retrying later");
                    self.next_maintain = Instant::now() + MAINTAIN_EVERY;
                }
            }
        }
    }
}

/// A QoE sample is kept when it says more than the observation beside it (requests and
/// errors go to `signal`).
fn worth_keeping(q: &QoeSample) -> bool {
    q.has_player_fields() || q.ttfb_p95_ms.is_some() || q.ttfb_p99_ms.is_some() || q.delivered_gbps.is_some()
}

fn decision_row(e: DecisionEvent) -> Row {
    let data = serde_json::json!({"old": e.old, "new": e.new, "overrides": e.overrides, "fails_open": e.fails_open});
    Row::Event(EventRow { at: e.at, kind: EventKind::Decision, name: Some(e.name), region: Some(e.region), generation: Some(e.generation), who: None, text: e.reason, data: Some(data) })
}

fn override_row(entry: AuditEntry) -> EventRow {
    // The override's scope, from whichever side holds it.
    let side = if entry.after.is_null() { &entry.before } else { &entry.after };
    let field = |k: &str| side.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let describe = field("id").map_or_else(|| entry.what.clone(), |id| format!("{} {id}", entry.what));
    EventRow {
        at: entry.when,
        kind: EventKind::Override,
        name: field("name"),
        region: field("region"),
        generation: None,
        who: Some(entry.who),
        text: describe,
        data: Some(serde_json::json!({"what": entry.what, "author": entry.author, "before": entry.before, "after": entry.after})),
    }
}
