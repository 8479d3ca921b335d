//! The live dashboard on the admin listener: one page (`GET /dashboard`, its assets embedded
//! in the binary, uPlot vendored under `assets/vendor/uplot` with its licence; no request
//! leaves the admin listener), a backfill (`GET /api/v1/dashboard`) and a stream of
//! server-sent events (`GET /api/v1/stream`, see [`stream`]).
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | `/dashboard` | the page (HTML) |
//! | GET | `/dashboard/assets/{file}` | its script, style sheet, uPlot and uPlot's licence |
//! | GET | `/api/v1/dashboard?name=N&window=30m&region=R` | everything the page draws first: the name's plan now, the status strip, and the window bucketed per CDN (`region` is the focus of the per-region charts; by default the region with the biggest audience) |
//! | GET | `/api/v1/stream?name=N&after=ID` | live updates ([`stream`]) |
//!
//! Reads need no token, like `/metrics` (who can read is decided by the admin listener's
//! address; see the README for putting a TLS reverse proxy with authentication in front).
//! The page's actions (annotate, drain, undrain) call the existing mutating endpoints with
//! the bearer token the operator types once (kept in the tab's `sessionStorage`).
//!
//! Where the data comes from is one boundary, [`source::DashboardSource`]: the history
//! database ([`history::HistorySource`]: row ids survive restarts, so a browser resumes
//! where it was), or, when history is off or its database cannot be opened, the in-memory
//! [`memory::Recorder`] (this process's rows, filled by the hub's sampler and the telemetry
//! intake; a browser reconnecting to a new process loads its backfill again).
//!
//! Nothing here is on the DNS path: the hub reads the served snapshot with one `load` and the
//! control plane at most once a second, on the admin runtime.

pub mod assets;
pub mod history;
pub mod hub;
pub mod memory;
pub mod source;
pub mod stream;
pub mod view;

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use self::hub::Channels;
use self::memory::Recorder;
use self::source::{Backfill, BackfillQuery, DashboardSource, SourceInfo};
use super::{AdminState, error};
use crate::qoe::QoeSample;
use crate::timestamp::{self, Millis};

/// Streams open at once; more are refused with 503 (each holds a task and a connection).
pub const MAX_STREAMS: usize = 64;
/// Window of the charts when the page asks for none, ms (30 minutes).
pub const DEFAULT_WINDOW_MS: Millis = 30 * 60_000;
/// Shortest window, ms.
pub const MIN_WINDOW_MS: Millis = 60_000;
/// Longest window, ms (7 days).
pub const MAX_WINDOW_MS: Millis = 7 * 86_400_000;

/// The dashboard of one admin server: its source, the hub's channels, the stream limit.
/// Cheap to clone.
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

struct Inner {
    source: Arc<dyn DashboardSource>,
    /// Set when the source is this process's memory, which the hub samples into.
    recorder: Option<Arc<Recorder>>,
    channels: Arc<Channels>,
    streams: Arc<Semaphore>,
    stop: OnceLock<CancellationToken>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").field("source", &self.inner.source.info()).finish_non_exhaustive()
    }
}

impl Dashboard {
    /// A dashboard over this process's memory, starting at `now`.
    pub fn in_memory(now: Millis) -> Dashboard {
        let recorder = Arc::new(Recorder::new(now));
        let source: Arc<dyn DashboardSource> = recorder.clone();
        Dashboard::with(source, Some(recorder))
    }

    /// A dashboard over the history database at `path` (answers counted every
    /// `answers_interval_ms`): ids that survive restarts, backfill from the database.
    pub fn over_history(path: std::path::PathBuf, answers_interval_ms: Millis) -> Dashboard {
        Dashboard::with(Arc::new(history::HistorySource::new(path, answers_interval_ms)), None)
    }

    fn with(source: Arc<dyn DashboardSource>, recorder: Option<Arc<Recorder>>) -> Dashboard {
        Dashboard { inner: Arc::new(Inner { source, recorder, channels: Arc::new(Channels::default()), streams: Arc::new(Semaphore::new(MAX_STREAMS)), stop: OnceLock::new() }) }
    }

    /// Viewer experience from the telemetry intake (kept when the memory source is used).
    pub fn qoe(&self, samples: &[QoeSample]) {
        if let Some(rec) = &self.inner.recorder {
            rec.qoe(samples);
        }
    }

    /// Start the hub for `state`'s admin server; it and every stream end with `stop`.
    pub fn spawn(&self, state: AdminState, stop: CancellationToken) {
        if self.inner.stop.set(stop.clone()).is_err() {
            return;
        }
        let (source, recorder, channels) = (Arc::clone(&self.inner.source), self.inner.recorder.clone(), Arc::clone(&self.inner.channels));
        tokio::spawn(hub::run(state, source, recorder, channels, stop));
    }

    /// What the source is.
    pub fn info(&self) -> SourceInfo {
        self.inner.source.info()
    }
}

/// The routes, merged into the admin API's router.
pub fn routes() -> axum::Router<AdminState> {
    axum::Router::new()
        .route("/dashboard", axum::routing::get(assets::page))
        .route("/dashboard/", axum::routing::get(assets::to_page))
        .route("/dashboard/assets/{file}", axum::routing::get(assets::asset))
        .route("/api/v1/dashboard", axum::routing::get(backfill))
        .route("/api/v1/stream", axum::routing::get(live))
}

/// Query of `GET /api/v1/dashboard`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillParams {
    /// Steered name (the first one served when absent).
    name: Option<String>,
    /// `30m`, `3h`, ...
    window: Option<String>,
    /// Focus region of the per-region charts.
    region: Option<String>,
}

/// What the page draws first.
#[derive(Debug, Serialize)]
struct Page {
    /// The server's clock.
    now: Millis,
    /// Steered names served.
    names: Vec<String>,
    /// The name shown.
    name: String,
    /// The window, ms.
    window_ms: Millis,
    /// Where the rows come from.
    source: SourceInfo,
    /// The name's answer split now.
    plan: view::PlanView,
    /// Event clock, freeze, overrides.
    status: view::StatusView,
    /// The window, bucketed.
    backfill: Backfill,
}

/// The steered name asked for (`live.example.com` or with the dot), or the first one.
fn resolve_name(names: &[String], asked: Option<&str>) -> Result<String, Response> {
    let Some(asked) = asked.map(str::trim).filter(|a| !a.is_empty()) else {
        return names.first().cloned().ok_or_else(|| error(StatusCode::NOT_FOUND, "no steered name is served", Some("name".into())));
    };
    let absolute = if asked.ends_with('.') { asked.to_ascii_lowercase() } else { format!("{}.", asked.to_ascii_lowercase()) };
    names
        .iter()
        .find(|n| **n == absolute)
        .cloned()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("`{asked}` is not a steered name being served; steered names: {}", names.join(", ")), Some("name".into())))
}

async fn backfill(State(state): State<AdminState>, params: Result<Query<BackfillParams>, axum::extract::rejection::QueryRejection>) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{}; expected ?name=NAME&window=30m&region=KR", e.body_text()), None),
    };
    let window_ms = match params.window.as_deref().map(timestamp::parse_duration) {
        None => DEFAULT_WINDOW_MS,
        Some(Ok(ms)) if (MIN_WINDOW_MS..=MAX_WINDOW_MS).contains(&ms) => ms,
        Some(Ok(_)) => return error(StatusCode::BAD_REQUEST, "expected a window from 1m to 7d", Some("window".into())),
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, e, Some("window".into())),
    };
    let plans = view::plans(&state.reader.load_full());
    let names: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    let name = match resolve_name(&names, params.name.as_deref()) {
        Ok(n) => n,
        Err(refused) => return refused,
    };
    let Some(plan) = plans.into_iter().find(|p| p.name == name) else {
        return error(StatusCode::NOT_FOUND, "the steered name went away in a reload; load the page again", Some("name".into()));
    };
    let focus = match params.region.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(asked) => match crate::region::parse_region(asked) {
            Ok(key) if plan.regions.iter().any(|r| r.key == key.to_string()) => Some(key.to_string()),
            Ok(key) => return error(StatusCode::NOT_FOUND, format!("{name} has no region {key}; regions: {}", plan.regions.iter().map(|r| r.key.as_str()).collect::<Vec<_>>().join(", ")), Some("region".into())),
            Err(e) => return error(StatusCode::BAD_REQUEST, e, Some("region".into())),
        },
        None => None,
    };
    let now = state.clock.now();
    let first_region = plan.regions.first().map_or_else(|| "default".to_string(), |r| r.key.clone());
    let query = BackfillQuery {
        name: name.clone(),
        cdns: plan.cdns.iter().map(|c| c.name.clone()).collect(),
        focus: focus.clone().unwrap_or(first_region),
        from: now.saturating_sub(window_ms),
        to: now + 1,
        step_ms: source::step_for(window_ms),
    };
    let source = Arc::clone(&state.dashboard.inner.source);
    let explicit = focus.is_some();
    let read = tokio::task::spawn_blocking(move || -> Result<Backfill, source::SourceError> {
        let first = source.backfill(&query)?;
        // No focus asked for: the region with the biggest audience.
        let biggest = first.audience.iter().max_by(|a, b| audience(a).total_cmp(&audience(b))).map(|a| a.region.clone());
        match biggest {
            Some(region) if !explicit && region != query.focus => source.backfill(&BackfillQuery { focus: region, ..query }),
            _ => Ok(first),
        }
    })
    .await;
    let backfill = match read {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return error(StatusCode::SERVICE_UNAVAILABLE, format!("dashboard data not readable: {e}"), None),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("dashboard backfill failed: {e}"), None),
    };
    let status = hub::status(&state).await;
    Json(Page { now, names, name, window_ms, source: state.dashboard.info(), plan, status, backfill }).into_response()
}

/// Viewers when telemetry has them, else answers per second.
fn audience(a: &source::RegionAudience) -> f64 {
    a.viewers.map_or(a.answers_per_sec, |v| 1e9 + v)
}

/// Query of `GET /api/v1/stream`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    /// Steered name.
    name: Option<String>,
    /// Resume after this row id (`Last-Event-ID` wins when both are given).
    after: Option<u64>,
}

async fn live(State(state): State<AdminState>, headers: HeaderMap, params: Result<Query<StreamParams>, axum::extract::rejection::QueryRejection>) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{}; expected ?name=NAME&after=ID", e.body_text()), None),
    };
    let plans = view::plans(&state.reader.load_full());
    let names: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    let name = match resolve_name(&names, params.name.as_deref()) {
        Ok(n) => n,
        Err(refused) => return refused,
    };
    let cdns = plans.iter().find(|p| p.name == name).map(|p| p.cdns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    // An id the browser kept that this server does not understand cannot be resumed from.
    let resume = match headers.get("last-event-id").map(|v| v.to_str().ok().and_then(|t| t.trim().parse::<u64>().ok())) {
        Some(Some(id)) => Some(id),
        Some(None) => Some(u64::MAX),
        None => params.after,
    };
    let inner = &state.dashboard.inner;
    let Ok(permit) = Arc::clone(&inner.streams).try_acquire_owned() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("{MAX_STREAMS} dashboard streams are open already; close a tab"), None);
    };
    let source = Arc::clone(&inner.source);
    let last_id = {
        let source = Arc::clone(&source);
        tokio::task::spawn_blocking(move || source.last_id()).await.ok().and_then(Result::ok).unwrap_or(0)
    };
    let hello = serde_json::json!({"source": source.info(), "last_id": last_id, "now": state.clock.now(), "name": name}).to_string();
    let task = stream::StreamTask {
        source,
        channels: Arc::clone(&inner.channels),
        follow: stream::Follow { name, cdns },
        resume,
        hello,
        stop: inner.stop.get().cloned().unwrap_or_default(),
    };
    let (tx, body) = stream::channel();
    tokio::spawn(async move {
        let _permit = permit;
        stream::run(task, tx).await;
    });
    stream::response(body)
}

#[cfg(test)]
mod tests;
