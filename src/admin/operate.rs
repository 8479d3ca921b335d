//! The mutating endpoints besides telemetry: overrides (list, add, remove) and reload. They
//! authenticate, parse, call the control plane through `ops::Operations`, and map outcomes
//! to HTTP: 400 naming the field, 404, 409 naming the conflicting ids, 5xx when the change
//! could not be made durable (nothing changed then).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ops::{OpError, ReloadOutcome};
use super::{AdminState, MAX_BODY_BYTES, authorize, error, is_json, too_large};
use crate::overrides::{OverrideError, OverrideRequest};

/// A 409's body: the message and the ids in conflict.
#[derive(Debug, Serialize)]
struct ConflictBody {
    error: String,
    ids: Vec<String>,
}

fn op_error(e: OpError) -> Response {
    match e {
        OpError::Override(OverrideError::Invalid { field, message }) => error(StatusCode::BAD_REQUEST, message, Some(field)),
        OpError::Override(OverrideError::NotFound(id)) => error(StatusCode::NOT_FOUND, format!("no override `{id}`; see GET /api/v1/overrides"), None),
        OpError::Override(OverrideError::Conflict { ids, message }) => (StatusCode::CONFLICT, Json(ConflictBody { error: message, ids })).into_response(),
        OpError::Storage(message) => {
            tracing::error!(%message, "override change not made");
            error(StatusCode::INSUFFICIENT_STORAGE, message, None)
        }
    }
}

/// `GET /api/v1/overrides`.
pub async fn list_overrides(State(state): State<AdminState>) -> Response {
    Json(state.ops.overrides().await).into_response()
}

/// `POST /api/v1/overrides`.
pub async fn add_override(State(state): State<AdminState>, request: Request) -> Response {
    let who = match authorize(&state, request.headers()) {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    if !is_json(request.headers()) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected `Content-Type: application/json`", None);
    }
    let body = match Bytes::from_request(request, &state).await {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("cannot read the request body: {}", e.body_text()), None),
    };
    if body.len() > MAX_BODY_BYTES {
        return too_large();
    }
    let mut de = serde_json::Deserializer::from_slice(&body);
    let parsed: Result<OverrideRequest, _> = serde_path_to_error::deserialize(&mut de);
    let request = match parsed {
        Ok(r) => r,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let mut message = inner.to_string();
            let mut field = (path != ".").then_some(path);
            if let Some(key) = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
                field = Some(key.to_string());
                message = format!("unknown field `{key}`; expected kind, name, region, cdn, weight, expires_in, expires_at, author, reason, force");
            }
            return error(StatusCode::BAD_REQUEST, message, field);
        }
    };
    match state.ops.add_override(request, &who).await {
        Ok(added) => (StatusCode::CREATED, Json(added)).into_response(),
        Err(e) => op_error(e),
    }
}

/// `DELETE /api/v1/overrides/{id}`.
pub async fn remove_override(State(state): State<AdminState>, Path(id): Path<String>, request: Request) -> Response {
    let who = match authorize(&state, request.headers()) {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    match state.ops.remove_override(&id, &who).await {
        Ok(removed) => Json(removed).into_response(),
        Err(e) => op_error(e),
    }
}

/// The optional body of `POST /api/v1/reload`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadRequest {
    /// Apply a change that an event's freeze holds.
    #[serde(default)]
    force: bool,
    /// Why (required with `force`; kept in the audit log).
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/reload`: 200 with the new generation, 422 with every diagnostic and the
/// generation still serving, 423 when an event's change freeze holds the change (send
/// `{"force": true, "reason": "..."}` to apply it anyway).
pub async fn reload(State(state): State<AdminState>, request: Request) -> Response {
    let who = match authorize(&state, request.headers()) {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    let body = match Bytes::from_request(request, &state).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("cannot read the request body: {}", e.body_text()), None),
    };
    let asked: ReloadRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReloadRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("{e}; expected no body, or {{\"force\": true, \"reason\": \"...\"}}"), None),
        }
    };
    let force = match (asked.force, asked.reason.as_deref().map(str::trim)) {
        (false, _) => None,
        (true, Some(reason)) if !reason.is_empty() => Some(reason.to_string()),
        (true, _) => return error(StatusCode::BAD_REQUEST, "missing; a forced reload needs a reason for the audit log", Some("reason".into())),
    };
    let outcome = state.ops.reload(&who, force).await;
    let status = match outcome {
        ReloadOutcome::Applied { .. } => StatusCode::OK,
        ReloadOutcome::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ReloadOutcome::Frozen { .. } => StatusCode::LOCKED,
    };
    (status, Json(outcome)).into_response()
}
