//! Annotations: operators' notes on the timeline ("kickoff", "Akamai KR ticket #123"),
//! stored in the history and drawn by the dashboard and the report.
//!
//! - `POST /api/v1/annotations` (token): `{"text": "...", "author": "...", "at": "RFC 3339"}`
//!   (`at` optional: now). 201 with the stored annotation and its id; 400 naming the field;
//!   503 when history is off or its queue is full; 507 when the database cannot be written.
//! - `GET /api/v1/annotations?from=RFC3339&to=RFC3339` (no token): the annotations in
//!   `[from, to)`, oldest first, at most [`MAX_LISTED`]; `to` defaults to now, `from` to 24 hours
//!   before `to`.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{AdminState, MAX_BODY_BYTES, authorize, error, is_json, too_large};
use crate::history::read::Window;
use crate::history::{Annotation, EventKind, HistoryReader};
use crate::timestamp::{self, Millis};

/// Longest annotation text, characters.
pub const MAX_TEXT: usize = 500;
/// Longest author, characters.
pub const MAX_AUTHOR: usize = 100;
/// Most annotations one GET returns.
pub const MAX_LISTED: usize = 1000;
/// How far ahead of now an annotation may be placed (clock skew), ms.
const MAX_AHEAD_MS: Millis = 5 * 60_000;
/// How long a POST waits for the row to be written.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// Body of `POST /api/v1/annotations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAnnotation {
    text: String,
    author: String,
    #[serde(default)]
    at: Option<String>,
}

/// An annotation as the API returns it.
#[derive(Debug, Serialize)]
struct Listed {
    id: i64,
    #[serde(with = "crate::timestamp::as_rfc3339")]
    at: Millis,
    text: String,
    author: String,
}

fn check_text(value: &str, field: &str, max: usize) -> Result<String, Response> {
    let t = value.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(error(StatusCode::BAD_REQUEST, format!("expected 1 to {max} characters without control characters"), Some(field.to_string())));
    }
    Ok(t.to_string())
}

/// `POST /api/v1/annotations`.
pub async fn add(State(state): State<AdminState>, request: Request) -> Response {
    let who = match authorize(&state, request.headers()) {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    if !is_json(request.headers()) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected `Content-Type: application/json`", None);
    }
    let body = match Bytes::from_request(request, &state).await {
        Ok(b) if b.len() <= MAX_BODY_BYTES => b,
        Ok(_) => return too_large(),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("cannot read the request body: {}", e.body_text()), None),
    };
    let mut de = serde_json::Deserializer::from_slice(&body);
    let parsed: Result<NewAnnotation, _> = serde_path_to_error::deserialize(&mut de);
    let new = match parsed {
        Ok(n) => n,
        Err(e) => {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            let field = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()).map(str::to_string).or((path != ".").then_some(path));
            return error(StatusCode::BAD_REQUEST, format!("{message}; expected {{\"text\", \"author\", \"at\" (optional, RFC 3339)}}"), field);
        }
    };
    let text = match check_text(&new.text, "text", MAX_TEXT) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let author = match check_text(&new.author, "author", MAX_AUTHOR) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let now = state.clock.now();
    let at = match new.at.as_deref().map(timestamp::parse_rfc3339) {
        None => now,
        Some(Ok(at)) if at <= now + MAX_AHEAD_MS => at,
        Some(Ok(_)) => return error(StatusCode::BAD_REQUEST, "more than 5 minutes in the future", Some("at".to_string())),
        Some(Err(message)) => return error(StatusCode::BAD_REQUEST, message, Some("at".to_string())),
    };
    if !state.history.enabled() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "history is off (history.enabled: false) or its database could not be opened; annotations cannot be stored", None);
    }
    let Some(reply) = state.history.annotate(Annotation { at, text, author }) else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the history queue is full; try again", None);
    };
    match tokio::time::timeout(WRITE_WAIT, reply).await {
        Ok(Ok(Ok(stored))) => {
            tracing::info!(id = stored.id, who, author = %stored.annotation.author, text = %stored.annotation.text, "annotation added");
            let a = stored.annotation;
            (StatusCode::CREATED, Json(Listed { id: stored.id, at: a.at, text: a.text, author: a.author })).into_response()
        }
        Ok(Ok(Err(message))) => error(StatusCode::INSUFFICIENT_STORAGE, message, None),
        Ok(Err(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "the history writer stopped", None),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the history database is slow to write; the annotation may still be stored", None),
    }
}

/// Query of `GET /api/v1/annotations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Start (RFC 3339), included.
    pub from: Option<String>,
    /// End (RFC 3339), excluded.
    pub to: Option<String>,
}

/// `GET /api/v1/annotations`.
pub async fn list(State(state): State<AdminState>, query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>) -> Response {
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{}; expected ?from=RFC3339&to=RFC3339", e.body_text()), None),
    };
    let parse = |v: &Option<String>, field: &str| -> Result<Option<Millis>, Response> {
        v.as_deref().map(timestamp::parse_rfc3339).transpose().map_err(|m| error(StatusCode::BAD_REQUEST, m, Some(field.to_string())))
    };
    let (from, to) = match (parse(&q.from, "from"), parse(&q.to, "to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let to = to.unwrap_or_else(|| state.clock.now() + 1);
    let from = from.unwrap_or_else(|| to.saturating_sub(86_400_000));
    if from >= to {
        return error(StatusCode::BAD_REQUEST, "`from` must be before `to`", Some("from".to_string()));
    }
    let Some(path) = state.history.path().map(std::path::Path::to_path_buf) else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "history is off or its database could not be opened", None);
    };
    let read = tokio::task::spawn_blocking(move || {
        let reader = HistoryReader::open(&path)?;
        reader.events(Window { from, to }, &[EventKind::Annotation], MAX_LISTED)
    })
    .await;
    match read {
        Ok(Ok(events)) => Json(events.into_iter().map(|e| Listed { id: e.id, at: e.at, text: e.text, author: e.who.unwrap_or_default() }).collect::<Vec<_>>()).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "annotations not read");
            error(StatusCode::SERVICE_UNAVAILABLE, format!("history not readable: {e}"), None)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("history read failed: {e}"), None),
    }
}
