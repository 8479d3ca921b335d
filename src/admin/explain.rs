//! `GET /api/v1/explain?name=live.example.com&client=211.234.10.7` (or `&ecs=211.234.10.0/24`,
//! IPv4 or IPv6): why this client gets this answer, from the snapshot being served, computed
//! by `steer::explain` with the DNS path's own functions. No token: a read.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AdminState, error};
use crate::steer::explain::{ExplainError, ExplainInput, ExplainQuery, explain as build};

/// The query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainParams {
    /// Steered name.
    name: Option<String>,
    /// Client (or resolver) address.
    client: Option<String>,
    /// ECS subnet, `ADDRESS/PREFIX`.
    ecs: Option<String>,
}

/// Parse `ADDRESS/PREFIX` as a resolver would send it (host bits beyond the prefix cleared).
pub fn parse_ecs(text: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("`{text}`; expected ADDRESS/PREFIX such as 211.234.10.0/24 or 2001:db8::/56");
    let (addr, prefix) = text.trim().split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let net = ipnet::IpNet::new(addr, prefix).map_err(|_| bad())?;
    Ok((net.network(), prefix))
}

/// The handler.
pub async fn explain(State(state): State<AdminState>, params: Result<Query<ExplainParams>, axum::extract::rejection::QueryRejection>) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{}; expected ?name=NAME&client=ADDRESS or &ecs=ADDRESS/PREFIX", e.body_text()), None),
    };
    let Some(name) = params.name else {
        return error(StatusCode::BAD_REQUEST, "missing; expected ?name=NAME (a steered name)", Some("name".into()));
    };
    let client = match params.client.as_deref().map(str::parse::<IpAddr>) {
        Some(Ok(a)) => Some(a),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "expected an IPv4 or IPv6 address", Some("client".into())),
        None => None,
    };
    let ecs = match params.ecs.as_deref().map(parse_ecs) {
        Some(Ok(e)) => Some(e),
        Some(Err(message)) => return error(StatusCode::BAD_REQUEST, message, Some("ecs".into())),
        None => None,
    };
    let snapshot = state.reader.load_full();
    let input = ExplainInput { generation: snapshot.generation, zones: &snapshot.zones, geo: &snapshot.geo, decisions: &snapshot.decisions, explain: &snapshot.explain };
    match build(input, &ExplainQuery { name, client, ecs }) {
        Ok(e) => Json(e).into_response(),
        Err(e @ ExplainError::UnknownName { .. }) => error(StatusCode::NOT_FOUND, e.to_string(), Some("name".into())),
        Err(e @ ExplainError::NoClient) => error(StatusCode::BAD_REQUEST, e.to_string(), Some("client".into())),
    }
}
