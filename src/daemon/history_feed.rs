//! What the control plane tells the history, in one place: the writer opened at start
//! (`STATE_DIR/history.sqlite`), and one call per kind of fact. Every call only queues a
//! record (`try_send`: a full queue drops and counts, never waits); the writer thread does
//! the rest. The answers task takes deltas of the DNS counters every
//! `history.answers_interval` and sends the served plan with them, so share keyframes are
//! written even while nothing changes.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::dns::{DnsCounters, Served, ServedReader};
use crate::health::Observation;
use crate::health::events::DecisionEvent;
use crate::history::store::Deferred;
use crate::history::{AnswerCounts, HistoryError, HistoryHandle, HistoryWriter, Record, ReloadRecord, Storage};
use crate::overrides::store::AuditEntry;
use crate::timestamp::Millis;

/// The history writer of a running server and the handle the control plane sends through.
pub(super) struct HistoryFeed {
    handle: HistoryHandle,
    writer: std::sync::Mutex<Option<HistoryWriter>>,
    answers_interval_ms: u64,
    /// The database, when the writer opened it at start (not while it is still retrying).
    database: Option<std::path::PathBuf>,
}

impl HistoryFeed {
    /// Open the history in the state directory (or on `storage`, given by tests). A
    /// database written by a newer cdnsteer stops the start; any other problem is logged and
    /// the server runs without history (reported degraded): DNS never depends on it.
    pub(super) async fn open(config: &Config, storage: Option<Box<dyn Storage>>) -> Result<HistoryFeed, HistoryError> {
        let settings = config.history.clone();
        let answers_interval_ms = settings.answers_interval_ms;
        let feed = |handle, writer, database| HistoryFeed { handle, writer: std::sync::Mutex::new(writer), answers_interval_ms, database };
        if !settings.enabled {
            tracing::info!("history is off (history.enabled: false)");
            return Ok(feed(HistoryHandle::disabled(), None, None));
        }
        let path = config.state_dir.join(crate::history::DB_FILE);
        let opened = match storage {
            Some(storage) => Ok(HistoryWriter::start(storage, settings, Some(path.clone()))),
            None => {
                let dir = config.state_dir.clone();
                match tokio::task::spawn_blocking(move || HistoryWriter::open(&dir, &settings)).await {
                    Ok(result) => result,
                    Err(e) => Err(HistoryError::Io { path: path.display().to_string(), message: format!("opening task failed: {e}") }),
                }
            }
        };
        match opened {
            Ok(writer) => {
                tracing::info!(path = %path.display(), "history database open");
                Ok(feed(writer.handle(), Some(writer), Some(path)))
            }
            Err(e @ HistoryError::NewerSchema { .. }) => Err(e),
            Err(e) => {
                // Serve anyway; the writer opens the file when it can (a full disk freed, a
                // directory made writable), counting what it could not keep meanwhile.
                tracing::error!(error = %e, "history degraded: the history database cannot be opened; serving DNS without it and retrying");
                let writer = HistoryWriter::start(Box::new(Deferred::new(&path)), config.history.clone(), Some(path));
                Ok(feed(writer.handle(), Some(writer), None))
            }
        }
    }

    /// The database the writer opened at start. `None` when history is off, or when the
    /// database could not be opened then (the writer keeps retrying, but readers such as the
    /// dashboard must not depend on it: they use what this process keeps in memory).
    pub(super) fn database(&self) -> Option<&std::path::Path> {
        self.database.as_deref()
    }

    /// The senders' handle (admin API: QoE and annotations).
    pub(super) fn handle(&self) -> HistoryHandle {
        self.handle.clone()
    }

    /// The plan `served` serves, at `at`.
    pub(super) fn plan(&self, served: &Served, at: Millis) {
        self.handle.send(Record::Plan { at, generation: served.generation, zones: Arc::clone(&served.zones), explain: Arc::clone(&served.explain) });
    }

    /// Observations the engine took.
    pub(super) fn observations(&self, observations: Vec<Observation>) {
        if !observations.is_empty() {
            self.handle.send(Record::Observations(observations));
        }
    }

    /// Decision events of one publish.
    pub(super) fn decisions(&self, events: &[DecisionEvent]) {
        if !events.is_empty() {
            self.handle.send(Record::Decisions(events.to_vec()));
        }
    }

    /// An override audit entry.
    pub(super) fn audit(&self, entry: &AuditEntry) {
        self.handle.send(Record::Override(entry.clone()));
    }

    /// A step of a change freeze.
    pub(super) fn freeze(&self, record: crate::history::FreezeRecord) {
        self.handle.send(Record::Freeze(record));
    }

    /// A reload's outcome.
    pub(super) fn reload(&self, at: Millis, who: &str, took_ms: u64, outcome: Result<u64, (u64, String)>) {
        let (ok, generation, error) = match outcome {
            Ok(g) => (true, g, None),
            Err((g, e)) => (false, g, Some(e)),
        };
        self.handle.send(Record::Reload(ReloadRecord { at, ok, generation, who: who.to_string(), took_ms, error }));
    }

    /// Every `answers_interval`: the steered answers given since the last time, and the plan
    /// being served (for keyframes).
    pub(super) fn spawn_answers(&self, counters: DnsCounters, reader: ServedReader, clock: Clock, stop: CancellationToken, tasks: &mut JoinSet<()>) {
        if !self.handle.enabled() {
            return;
        }
        let handle = self.handle.clone();
        let every = Duration::from_millis(self.answers_interval_ms.max(1));
        tasks.spawn(async move {
            let mut last: rustc_hash::FxHashMap<crate::dns::counters::SeriesKey, u64> = rustc_hash::FxHashMap::default();
            let mut since = clock.now();
            let mut timer = tokio::time::interval(every);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer.tick().await;
            loop {
                tokio::select! {
                    _ = timer.tick() => {}
                    _ = stop.cancelled() => return,
                }
                let now = clock.now();
                let mut rows = Vec::new();
                for (key, total) in counters.steered_totals() {
                    let before = last.get(&key).copied().unwrap_or(0);
                    if total > before {
                        rows.push((Arc::clone(&key.0), Arc::clone(&key.1), Arc::clone(&key.2), total - before));
                    }
                    last.insert(key, total);
                }
                if !rows.is_empty() {
                    handle.send(Record::Answers(AnswerCounts { at: since, span_ms: now.saturating_sub(since), rows }));
                }
                since = now;
                let served = reader.load_full();
                handle.send(Record::Plan { at: now, generation: served.generation, zones: Arc::clone(&served.zones), explain: Arc::clone(&served.explain) });
            }
        });
    }

    /// Write what is queued and close the database (at shutdown).
    pub(super) async fn stop(&self) {
        let writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(writer) = writer
            && let Err(e) = tokio::task::spawn_blocking(move || writer.stop()).await
        {
            tracing::error!(error = %e, "history writer did not stop cleanly");
        }
    }
}
