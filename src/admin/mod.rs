//! The admin HTTP API, on its own listener (default `127.0.0.1:8053`), never on the DNS path.
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | `/live` | 200 `ok` while the process serves HTTP |
//! | GET | `/ready` | 200 `ready` once the daemon says so, else 503 `not ready` |
//! | GET | `/api/v1/status` | generation, zones, steered names, GeoIP database (JSON) |
//! | GET | `/api/v1/decisions?limit=N` | the newest N decision events, oldest first (default 100, at most 1000) |
//! | GET | `/metrics` | Prometheus text format: every family of `metrics::CATALOGUE` (steering, signals, probes, DNS counters) |
//! | GET | `/api/v1/explain?name=N&client=IP` (or `&ecs=IP/PREFIX`) | why this client gets this answer ([`explain`]) |
//! | GET | `/api/v1/overrides` | operator overrides in force, with `dormant` and `expires_in_secs` |
//! | POST | `/api/v1/overrides` | add one (token); 201 with the override, 400 naming the field, 409 on a conflict |
//! | DELETE | `/api/v1/overrides/{id}` | remove one (token); 200 with the removed override, 404 |
//! | POST | `/api/v1/reload` | reload zones and GeoIP (token); 200 with the new generation, 422 with the diagnostics |
//! | POST | `/api/v1/telemetry` | pushed measurements ([`telemetry`] has the schema); 202 `{"accepted": n}` |
//! | GET | `/dashboard`, `/api/v1/dashboard`, `/api/v1/stream` | the live dashboard, its backfill and its event stream ([`dashboard`]) |
//! | POST | `/api/v1/annotations` | a note on the timeline (token): `{"text", "author", "at"}` ([`annotations`]); 201 with its id |
//! | GET | `/api/v1/annotations?from=&to=` | annotations in a window (RFC 3339; default the last 24 hours) |
//!
//! Read endpoints need no token (who may read is decided by the listener's address); every
//! mutation needs `Authorization: Bearer <token>`, and the token's name is recorded in the
//! audit log as who made the change.
//!
//! # Errors
//!
//! Every error answer of the JSON endpoints is `{"error": "...", "field": "..."}`, `field`
//! present only when one field of the request is to blame (`measurements[3].errors`).
//!
//! # Telemetry intake
//!
//! Checked in this order, so a caller learns the most basic problem first:
//!
//! 1. Authentication. With no admin token configured, telemetry is refused with 403 `no admin
//!    token configured` (wherever the listener is bound: pushed signals move traffic, so
//!    they always need a credential). Otherwise `Authorization: Bearer <token>` is required
//!    and compared in constant time; missing or wrong gives 401.
//! 2. `Content-Type: application/json` (parameters such as `charset` allowed), else 415.
//! 3. Body size: at most [`MAX_BODY_BYTES`] (1 MiB), else 413.
//! 4. The body: malformed JSON, a wrong type, an unknown key, an unknown CDN or any value out
//!    of range gives 400 naming the field. All-or-nothing: nothing from a rejected batch is
//!    used.
//! 5. The observations go to the health engine in order; if it has stopped, 503.

pub mod annotations;
pub mod client;
pub mod dashboard;
pub mod explain;
pub mod operate;
pub mod ops;
pub mod telemetry;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::NamedToken;
use crate::health::events::EventLog;
use crate::dns::{DnsCounters, ServedReader};
use crate::metrics::{Intake, PROCESS, SteeringCounters};
use crate::probe::ProbeStats;
use crate::health::signal::Observation;

/// Largest request body accepted, bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Decision events returned when no `limit` is given.
pub const DEFAULT_DECISIONS: usize = 100;
/// Most decision events returned at once.
pub const MAX_DECISIONS: usize = 1000;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AdminState {
    /// The snapshot being served (status, known CDNs).
    pub reader: ServedReader,
    /// Where accepted telemetry goes (the health engine).
    pub telemetry: mpsc::Sender<Observation>,
    /// Recent decision events.
    pub events: Arc<EventLog>,
    /// Named bearer tokens for mutating endpoints; none refuses them (403).
    pub tokens: Vec<NamedToken>,
    /// The daemon's clock; stamps pushed observations.
    pub clock: Clock,
    /// Set by the daemon once it serves DNS; `/ready` reports it.
    pub ready: Arc<AtomicBool>,
    /// The control plane's operations (overrides, reload).
    pub ops: Arc<dyn ops::Operations>,
    /// The DNS listeners' counters, summed into `/metrics`.
    pub dns: DnsCounters,
    /// Decision events, fail-opens and state changes the engine task counts (and the
    /// `metrics.max_names` limit of the per-name steering series).
    pub steering: SteeringCounters,
    /// Probe durations and failures.
    pub probes: ProbeStats,
    /// Engine ticks and how late they started.
    pub ticks: crate::metrics::ticks::EngineTicks,
    /// The live dashboard: its data source and the hub its streams follow.
    pub dashboard: dashboard::Dashboard,
    /// The history: QoE from telemetry and annotations go in; annotations are read back.
    pub history: crate::history::HistoryHandle,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("generation", &self.reader.load().generation)
            .field("tokens", &self.tokens)
            .field("ready", &self.ready.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Why the admin server stopped other than by being asked to.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Accepting or serving connections failed.
    #[error("admin API failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// The admin API's routes over `state`.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/live", get(live))
        .route("/metrics", get(prometheus))
        .route("/ready", get(ready))
        .route("/api/v1/status", get(status))
        .route("/api/v1/decisions", get(decisions))
        .route("/api/v1/telemetry", post(push_telemetry))
        .route("/api/v1/explain", get(explain::explain))
        .route("/api/v1/overrides", get(operate::list_overrides).post(operate::add_override))
        .route("/api/v1/overrides/{id}", axum::routing::delete(operate::remove_override))
        .route("/api/v1/reload", post(operate::reload))
        .route("/api/v1/annotations", get(annotations::list).post(annotations::add))
        .merge(dashboard::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serve the admin API on `listener` until `stop` is cancelled, then finish the requests in
/// flight and return.
pub async fn serve(listener: tokio::net::TcpListener, state: AdminState, stop: CancellationToken) -> Result<(), AdminError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, tokens = state.tokens.len(), "admin API listening; dashboard at http://{addr}/dashboard");
    }
    state.dashboard.spawn(state.clone(), stop.clone());
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .map_err(AdminError::Serve)
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>, field: Option<String>) -> Response {
    (status, Json(ErrorBody { error: message.into(), field })).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint; see /dashboard, /api/v1/status, /api/v1/decisions, /api/v1/telemetry", None)
}

/// `GET /metrics`: every family of `metrics::CATALOGUE` in the Prometheus text format (HELP
/// and TYPE on each). The snapshot and the engine's signals are taken first (the latter under
/// the control lock, for the time of an `Arc` clone); the text is written on a blocking
/// thread, so a large scrape never holds up the runtime threads that serve DNS over TCP.
async fn prometheus(State(state): State<AdminState>) -> Response {
    let snapshot = state.reader.load_full();
    let signals = state.ops.signals().await;
    let now = state.clock.now();
    let rendered = tokio::task::spawn_blocking(move || {
        let mut body = crate::metrics::render();
        crate::metrics::steering::render_snapshot(&snapshot, state.steering.max_names(), now, &mut body);
        crate::metrics::signals::render_signals(&signals, &snapshot.zones, now, &mut body);
        state.steering.render(&snapshot.zones, &mut body);
        state.probes.render(&mut body);
        state.dns.render(&snapshot, &mut body);
        state.history.stats().render(&mut body);
        state.ticks.render(&mut body);
        body
    })
    .await;
    match rendered {
        Ok(body) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering /metrics failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "rendering the metrics failed; see the log", None)
        }
    }
}

async fn live() -> &'static str {
    "ok"
}

async fn ready(State(state): State<AdminState>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// `GET /api/v1/status`.
#[derive(Debug, Serialize)]
struct Status {
    generation: u64,
    zones: Vec<String>,
    steered: Vec<SteeredStatus>,
    geoip: GeoStatus,
    overrides: OverridesStatus,
    /// Events (window, freeze, clock) and a change a freeze holds back ("change pending,
    /// frozen").
    events: ops::EventsStatus,
}

/// Overrides in force when the snapshot was planned; dormant ones apply to nothing any more
/// (their name, region or CDN went away in a reload) and are kept until they expire.
#[derive(Debug, Serialize)]
struct OverridesStatus {
    active: Vec<String>,
    dormant: Vec<String>,
}

#[derive(Debug, Serialize)]
struct SteeredStatus {
    name: String,
    regions: usize,
    cdns: Vec<String>,
}

#[derive(Debug, Serialize)]
struct GeoStatus {
    path: String,
    #[serde(rename = "type")]
    database_type: String,
    networks: usize,
    build_epoch: u64,
}

async fn status(State(state): State<AdminState>) -> Json<Status> {
    let events = state.ops.events().await;
    let snapshot = state.reader.load_full();
    let info = snapshot.geo.info();
    Json(Status {
        generation: snapshot.generation,
        zones: snapshot.zones.zones.iter().map(|z| z.origin.to_string()).collect(),
        steered: snapshot
            .zones
            .steered()
            .map(|s| SteeredStatus {
                name: s.name.to_string(),
                regions: s.regions.len(),
                cdns: s.cdns.iter().map(|c| c.name.clone()).collect(),
            })
            .collect(),
        geoip: GeoStatus {
            path: info.path.display().to_string(),
            database_type: info.database_type.clone(),
            networks: info.networks,
            build_epoch: info.build_epoch,
        },
        overrides: OverridesStatus {
            active: snapshot.explain.overrides.iter().map(|o| o.id.clone()).collect(),
            dormant: crate::overrides::dormant(snapshot.explain.overrides.iter(), &snapshot.zones),
        },
        events,
    })
}

/// Query of `GET /api/v1/decisions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionsQuery {
    limit: Option<usize>,
}

async fn decisions(
    State(state): State<AdminState>,
    query: Result<Query<DecisionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let limit = match query {
        Ok(Query(q)) => q.limit.unwrap_or(DEFAULT_DECISIONS).min(MAX_DECISIONS),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{}; expected ?limit=N with N from 0 to {MAX_DECISIONS}", e.body_text()),
                Some("limit".to_string()),
            );
        }
    };
    Json(state.events.recent(limit)).into_response()
}

/// `a == b` in time that depends only on the lengths, not on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(std::hint::black_box(x ^ y));
    }
    std::hint::black_box(diff) == 0
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The name of the token the request presents, when it may mutate; else the refusal: 403
/// without a configured token, 401 without a right one. Every configured token is compared
/// (in constant time), so timing does not tell which names exist.
pub(crate) fn authorize(state: &AdminState, headers: &HeaderMap) -> Result<String, Response> {
    if state.tokens.is_empty() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "no admin token configured; set admin.token_file (or --admin-token-file) to accept changes",
            None,
        ));
    }
    let given = bearer(headers);
    let mut holder = None;
    if let Some(given) = given {
        for t in &state.tokens {
            if constant_time_eq(given.as_bytes(), t.token.as_bytes()) && holder.is_none() {
                holder = Some(t.name.clone());
            }
        }
    }
    holder.ok_or_else(|| {
        let message = if given.is_some() { "wrong admin token" } else { "missing `Authorization: Bearer <token>` header" };
        let mut response = error(StatusCode::UNAUTHORIZED, message, None);
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    })
}

/// True for `application/json`, with or without parameters.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

pub(crate) fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body exceeds the {MAX_BODY_BYTES}-byte (1 MiB) limit; send smaller batches"),
        None,
    )
}

/// `POST /api/v1/telemetry`.
#[derive(Debug, Serialize)]
struct Accepted {
    accepted: usize,
}

async fn push_telemetry(State(state): State<AdminState>, request: Request) -> Response {
    let response = intake(&state, request).await;
    let result = if response.status() == StatusCode::ACCEPTED { Intake::Accepted } else { Intake::Rejected };
    PROCESS.telemetry_batch(result);
    response
}

/// The telemetry intake's steps, in the order the module doc lists them.
async fn intake(state: &AdminState, request: Request) -> Response {
    if let Err(refused) = authorize(state, request.headers()) {
        return refused;
    }
    if !is_json(request.headers()) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected `Content-Type: application/json`", None);
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let body = match Bytes::from_request(request, state).await {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("cannot read the request body: {}", e.body_text()), None),
    };
    let batch = match telemetry::parse(&body) {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(error = %e, field = ?e.field, "telemetry refused");
            return error(StatusCode::BAD_REQUEST, e.message, e.field);
        }
    };
    let known = telemetry::Known::of(&state.reader.load_full().zones);
    let (observations, qoe) = match telemetry::validate(&batch, &known, state.clock.now()) {
        Ok(accepted) => (accepted.observations, accepted.qoe),
        Err(e) => {
            tracing::debug!(source = %batch.source, error = %e, field = ?e.field, "telemetry refused");
            PROCESS.telemetry_measurements(Intake::Rejected, batch.measurements.len() as u64);
            return error(StatusCode::BAD_REQUEST, e.message, e.field);
        }
    };
    let accepted = observations.len();
    PROCESS.telemetry_measurements(Intake::Accepted, accepted as u64);
    // Room for the whole batch first, then send: all of it reaches the engine or none does.
    match state.telemetry.reserve_many(accepted).await {
        Ok(permits) => permits.zip(observations).for_each(|(permit, o)| permit.send(o)),
        Err(_) => {
            tracing::warn!(source = %batch.source, "telemetry arrived but the health engine is not running");
            return error(StatusCode::SERVICE_UNAVAILABLE, "the health engine is not running; telemetry cannot be used now", None);
        }
    }
    state.dashboard.qoe(&qoe);
    // The engine has the observations (and sends them to the history as it takes them); the
    // viewer-experience fields go to the history from here.
    if !qoe.is_empty() {
        state.history.send(crate::history::Record::Qoe(qoe));
    }
    tracing::debug!(source = %batch.source, accepted, "telemetry accepted");
    (StatusCode::ACCEPTED, Json(Accepted { accepted })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer_and_content_type() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        assert!(!is_json(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("Application/JSON; charset=utf-8"));
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_json(&h));
    }
}
