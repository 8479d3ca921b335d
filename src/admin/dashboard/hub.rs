//! The dashboard's one background task per admin server: it follows the served snapshot (a
//! new generation becomes a new `plan` for the pages), the status (event clock, freeze,
//! overrides: sent when they change), and the source's new rows, which it hands to every open
//! stream at once (one read of the source, however many browsers watch). With the in-memory
//! source it also drives the [`Sampler`] that records those rows.
//!
//! Nothing here is on the DNS path: it reads the snapshot the way a query does (one `load`),
//! and takes the control lock only for the brief reads `/api/v1/status` makes too, at most
//! once a second.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::memory::{Recorder, Sampler};
use super::source::{After, DashboardSource, Row, RowId};
use super::view::{self, StatusView};
use crate::admin::AdminState;

/// How often the hub looks for changes.
pub const POLL: Duration = Duration::from_millis(250);
/// Rows read from the source at once.
pub const READ_LIMIT: usize = 5000;
/// Batches a slow stream may fall behind before it is told to load a backfill again.
pub const BROADCAST_DEPTH: usize = 256;
/// While the source stays unreadable, how often that is logged again (it is read every
/// [`POLL`]).
pub const UNREADABLE_LOG_EVERY: Duration = Duration::from_secs(60);

/// A failure that repeats every round, logged when it starts, then at most once per `every`
/// (with how many were not logged), and once when it clears.
#[derive(Debug)]
struct Repeating {
    every: Duration,
    /// When it was last logged, while it lasts.
    logged: Option<tokio::time::Instant>,
    /// Failures since then.
    unlogged: u64,
}

impl Repeating {
    fn new(every: Duration) -> Repeating {
        Repeating { every, logged: None, unlogged: 0 }
    }

    /// It failed at `now`: `Some(n)` when to log it (`n` failures were not logged since).
    fn failed(&mut self, now: tokio::time::Instant) -> Option<u64> {
        if self.logged.is_some_and(|t| now.duration_since(t) < self.every) {
            self.unlogged += 1;
            return None;
        }
        self.logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }

    /// It worked: whether it had been failing.
    fn cleared(&mut self) -> bool {
        self.unlogged = 0;
        self.logged.take().is_some()
    }
}

/// The plan views of every steered name at one generation, as JSON ready to send.
#[derive(Debug, Default)]
pub struct Plans {
    /// Snapshot generation.
    pub generation: u64,
    /// (steered name, plan JSON), in zone order.
    pub by_name: Vec<(String, Arc<str>)>,
}

impl Plans {
    /// The plan JSON of one name.
    pub fn of(&self, name: &str) -> Option<Arc<str>> {
        self.by_name.iter().find(|(n, _)| n == name).map(|(_, json)| Arc::clone(json))
    }
}

/// What the hub publishes to the streams.
pub struct Channels {
    /// New rows, in id order, in batches.
    pub rows: broadcast::Sender<Arc<[Row]>>,
    /// The plans of the served generation.
    pub plans: watch::Sender<Arc<Plans>>,
    /// The status strip as JSON (absent until first read).
    pub status: watch::Sender<Option<Arc<str>>>,
}

impl Default for Channels {
    fn default() -> Self {
        Channels { rows: broadcast::channel(BROADCAST_DEPTH).0, plans: watch::channel(Arc::default()).0, status: watch::channel(None).0 }
    }
}

/// Build the status view now (two brief reads of the control plane).
pub async fn status(state: &AdminState) -> StatusView {
    let events = state.ops.events().await;
    let overrides = state.ops.overrides().await;
    StatusView { now: state.clock.now(), generation: state.reader.load().generation, events, overrides }
}

/// Plan views of the served snapshot.
pub fn plans(state: &AdminState) -> Plans {
    let snap = state.reader.load_full();
    let by_name = view::plans(&snap).into_iter().map(|p| {
        let json = serde_json::to_string(&p).unwrap_or_else(|_| "null".to_string());
        (p.name, Arc::from(json))
    });
    Plans { generation: snap.generation, by_name: by_name.collect() }
}

/// Read `source` after `id` on a blocking thread.
pub async fn read_after(source: &Arc<dyn DashboardSource>, id: RowId, limit: usize) -> Result<After, String> {
    let source = Arc::clone(source);
    match tokio::task::spawn_blocking(move || source.after(id, limit)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("dashboard source task failed: {e}")),
    }
}

/// The hub loop, until `stop`. `recorder` is given when the hub must sample into it.
pub async fn run(state: AdminState, source: Arc<dyn DashboardSource>, recorder: Option<Arc<Recorder>>, channels: Arc<Channels>, stop: CancellationToken) {
    let mut sampler = Sampler::new();
    let mut generation = None;
    let mut status_key = String::new();
    let mut last = match read_last(&source).await {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard source not readable; the live stream starts from what comes next");
            0
        }
    };
    let mut unreadable = Repeating::new(UNREADABLE_LOG_EVERY);
    let mut timer = tokio::time::interval(POLL);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round: u64 = 0;
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            _ = stop.cancelled() => return,
        }
        round += 1;
        let now = state.clock.now();
        let snap = state.reader.load_full();
        if generation != Some(snap.generation) {
            generation = Some(snap.generation);
            channels.plans.send_replace(Arc::new(plans(&state)));
            if let Some(rec) = &recorder {
                sampler.plan(&snap, now, rec);
            }
        }
        drop(snap);
        if let Some(rec) = &recorder {
            let (events, next) = state.events.after(sampler.decisions_seen().unwrap_or(0));
            sampler.decisions(next, events, rec);
            if round.is_multiple_of(4) {
                sampler.signals(&*state.ops.signals().await, rec);
            }
            if round.is_multiple_of(8) {
                sampler.answers(state.dns.steered_totals(), now, rec);
            }
        }
        if round % 4 == 1 {
            let view = status(&state).await;
            if let Some(rec) = &recorder {
                sampler.freeze(&view.events, now, rec);
            }
            let key = view.key();
            if key != status_key {
                status_key = key;
                let json = serde_json::to_string(&view).unwrap_or_else(|_| "null".to_string());
                channels.status.send_replace(Some(Arc::from(json)));
            }
        }
        let read = read_after(&source, last, READ_LIMIT).await;
        if read.is_ok() && unreadable.cleared() {
            tracing::info!("dashboard source readable again");
        }
        match read {
            Ok(After::Rows(rows)) => {
                if let Some(newest) = rows.last() {
                    last = newest.id();
                    // No stream open is not an error: the rows stay in the source.
                    let _ = channels.rows.send(Arc::from(rows));
                }
            }
            Ok(After::Gone) => {
                tracing::warn!(after = last, "dashboard rows went missing (source replaced or trimmed); streams continue from the newest");
                last = read_last(&source).await.unwrap_or(last);
            }
            Err(e) => {
                if let Some(unlogged) = unreadable.failed(tokio::time::Instant::now()) {
                    tracing::warn!(error = %e, failures_not_logged = unlogged, "dashboard source not readable (logged at most once a minute while it lasts)");
                }
            }
        }
    }
}

async fn read_last(source: &Arc<dyn DashboardSource>) -> Result<RowId, String> {
    let source = Arc::clone(source);
    match tokio::task::spawn_blocking(move || source.last_id()).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("dashboard source task failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeating_failure_is_logged_once_a_minute_and_when_it_clears() {
        let mut r = Repeating::new(Duration::from_secs(60));
        let t0 = tokio::time::Instant::now();
        assert_eq!(r.failed(t0), Some(0), "the first failure is logged");
        // Four a second for a minute: none logged.
        for i in 1..240 {
            assert_eq!(r.failed(t0 + POLL * i), None);
        }
        assert_eq!(r.failed(t0 + Duration::from_secs(60)), Some(239), "then once, with the count");
        assert!(r.cleared());
        assert!(!r.cleared(), "said once");
        assert_eq!(r.failed(t0 + Duration::from_secs(61)), Some(0), "a new failure is logged at once");
    }
}
