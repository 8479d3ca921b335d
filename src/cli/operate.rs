//! The operator commands: `explain`, `override list|add|remove` and `reload` against a running
//! server's admin API, and `explain --offline` from the files alone. Each returns the text to
//! print and whether it succeeded; `main` prints and sets the exit code.

use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

use crate::admin::client::{self, ClientError};
use crate::admin::explain::parse_ecs;
use crate::steer::explain::{ExplainInput, ExplainQuery, Explanation, explain};
use crate::timestamp;

/// What a command produced: text for stdout (success) or stderr (failure).
#[derive(Debug)]
pub struct Output {
    /// True for exit code 0.
    pub ok: bool,
    /// What to print.
    pub text: String,
}

impl Output {
    fn ok(text: String) -> Output {
        Output { ok: true, text }
    }

    fn fail(text: String) -> Output {
        Output { ok: false, text }
    }
}

/// Why a command could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Talking to the server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// An argument is wrong.
    #[error("{0}")]
    Usage(String),
    /// Offline explain could not load the files.
    #[error("{0}")]
    Load(String),
}

/// The API's error body (`{"error": ..., "field": ...}`) as one line.
fn api_error(status: u16, body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => {
            let msg = v.get("error").and_then(Value::as_str).unwrap_or(body);
            let ids = v.get("ids").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).filter(|s| !s.is_empty());
            match (v.get("field").and_then(Value::as_str), ids) {
                (Some(f), _) => format!("refused ({status}): {f}: {msg}"),
                (None, Some(ids)) => format!("refused ({status}): {msg} [{ids}]"),
                (None, None) => format!("refused ({status}): {msg}"),
            }
        }
        Err(_) => format!("refused ({status}): {body}"),
    }
}

fn query(client: Option<&str>, ecs: Option<&str>) -> Result<(Option<IpAddr>, Option<(IpAddr, u8)>), CliError> {
    let client = client.map(|c| c.parse::<IpAddr>().map_err(|_| CliError::Usage(format!("--client `{c}`; expected an IPv4 or IPv6 address")))).transpose()?;
    let ecs = ecs.map(|e| parse_ecs(e).map_err(|m| CliError::Usage(format!("--ecs {m}")))).transpose()?;
    if client.is_none() && ecs.is_none() {
        return Err(CliError::Usage("expected --client ADDRESS or --ecs ADDRESS/PREFIX".to_string()));
    }
    Ok((client, ecs))
}

/// `cdnsteer explain NAME --client IP [--ecs SUBNET]` against the server at `admin`.
pub async fn explain_online(admin: &str, name: &str, client: Option<&str>, ecs: Option<&str>, json: bool) -> Result<Output, CliError> {
    query(client, ecs)?;
    let mut path = format!("/api/v1/explain?name={}", encode(name));
    if let Some(c) = client {
        path.push_str(&format!("&client={}", encode(c)));
    }
    if let Some(e) = ecs {
        path.push_str(&format!("&ecs={}", encode(e)));
    }
    let (status, body) = client::call(admin, "GET", &path, None, None).await?;
    if status != 200 {
        return Ok(Output::fail(api_error(status, &body)));
    }
    if json {
        return Ok(Output::ok(body));
    }
    let parsed: Explanation = serde_json::from_str(&body).map_err(|e| CliError::Load(format!("unexpected explain reply: {e}")))?;
    Ok(Output::ok(parsed.render_text()))
}

/// `cdnsteer explain --offline`: zone files and GeoIP alone, configured weights.
pub fn explain_offline(zones: &Path, geoip: &Path, name: &str, client: Option<&str>, ecs: Option<&str>, json: bool) -> Result<Output, CliError> {
    let (client, ecs) = query(client, ecs)?;
    let zones = crate::zone::load_dir(zones).map_err(|e| CliError::Load(e.to_string()))?;
    let geo = crate::geo::GeoDb::open(geoip).map_err(|e| CliError::Load(e.to_string()))?;
    let plan = crate::steer::plan::configured(&zones, crate::steer::CellPrefixes::default());
    let input = ExplainInput { generation: 0, zones: &zones, geo: &geo, decisions: &plan.table, explain: &plan.explain };
    match explain(input, &ExplainQuery { name: name.to_string(), client, ecs }) {
        Ok(e) if json => Ok(Output::ok(serde_json::to_string_pretty(&e).unwrap_or_default())),
        Ok(e) => Ok(Output::ok(format!("{}  (offline: configured weights, no health data, no overrides)\n", e.render_text().trim_end()))),
        Err(e) => Ok(Output::fail(e.to_string())),
    }
}

/// Percent-encode a query value (names, addresses and subnets need only a few escapes).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `cdnsteer override list`.
pub async fn override_list(admin: &str, json: bool) -> Result<Output, CliError> {
    let (status, body) = client::call(admin, "GET", "/api/v1/overrides", None, None).await?;
    if status != 200 {
        return Ok(Output::fail(api_error(status, &body)));
    }
    if json {
        return Ok(Output::ok(body));
    }
    let items: Vec<Value> = serde_json::from_str(&body).map_err(|e| CliError::Load(format!("unexpected reply: {e}")))?;
    if items.is_empty() {
        return Ok(Output::ok("no overrides in force\n".to_string()));
    }
    let mut out = format!("{:<8} {:<7} {:<12} {:<20} {:<14} {:>8}  {}\n", "id", "kind", "cdn", "name", "region", "expires", "author / reason");
    for o in &items {
        let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("*").to_string();
        let mut kind = s("kind");
        if let Some(w) = o.get("weight").and_then(Value::as_f64) {
            kind = format!("w={w}");
        }
        let expires = o.get("expires_in_secs").and_then(Value::as_u64).map_or_else(String::new, |secs| timestamp::human_duration(secs * 1000));
        let dormant = if o.get("dormant").and_then(Value::as_bool) == Some(true) { " [dormant]" } else { "" };
        out.push_str(&format!("{:<8} {:<7} {:<12} {:<20} {:<14} {:>8}  {} ({}): {}{dormant}\n", s("id"), kind, s("cdn"), s("name"), s("region"), expires, s("author"), s("who"), s("reason")));
    }
    Ok(Output::ok(out))
}

/// What `override add` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct AddArgs {
    /// --drain.
    pub drain: Option<String>,
    /// --pin.
    pub pin: Option<String>,
    /// --weight CDN=W.
    pub weight: Option<String>,
    /// --name.
    pub name: Option<String>,
    /// --region.
    pub region: Option<String>,
    /// --expires.
    pub expires: Option<String>,
    /// --until.
    pub until: Option<String>,
    /// --reason.
    pub reason: String,
    /// --author.
    pub author: Option<String>,
    /// --force.
    pub force: bool,
}

/// The JSON body of `override add`.
pub fn add_body(a: &AddArgs) -> Result<Value, CliError> {
    let (kind, cdn, weight) = match (&a.drain, &a.pin, &a.weight) {
        (Some(c), None, None) => ("drain", c.clone(), None),
        (None, Some(c), None) => ("pin", c.clone(), None),
        (None, None, Some(w)) => {
            let (c, w) = w.split_once('=').ok_or_else(|| CliError::Usage(format!("--weight `{w}`; expected CDN=WEIGHT, e.g. fastly=10")))?;
            let w: f64 = w.parse().map_err(|_| CliError::Usage(format!("--weight `{w}`: not a number")))?;
            ("weight", c.to_string(), Some(w))
        }
        _ => return Err(CliError::Usage("expected exactly one of --drain CDN, --pin CDN, --weight CDN=WEIGHT".to_string())),
    };
    let author = a.author.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".to_string());
    let mut body = serde_json::json!({"kind": kind, "cdn": cdn, "author": author, "reason": a.reason, "force": a.force});
    let fields = [("name", &a.name), ("region", &a.region), ("expires_in", &a.expires), ("expires_at", &a.until)];
    for (key, value) in fields {
        if let Some(v) = value {
            body[key] = Value::String(v.clone());
        }
    }
    if let Some(w) = weight {
        body["weight"] = serde_json::json!(w);
    }
    Ok(body)
}

/// `cdnsteer override add`.
pub async fn override_add(admin: &str, token: &str, args: &AddArgs, json: bool) -> Result<Output, CliError> {
    let body = add_body(args)?;
    let (status, reply) = client::call(admin, "POST", "/api/v1/overrides", Some(token), Some(body.to_string())).await?;
    if status != 201 {
        return Ok(Output::fail(api_error(status, &reply)));
    }
    if json {
        return Ok(Output::ok(reply));
    }
    let v: Value = serde_json::from_str(&reply).unwrap_or(Value::Null);
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("*").to_string();
    Ok(Output::ok(format!("{} added: {} {} for {} in {}, until {}\n", s("id"), s("kind"), s("cdn"), s("name"), s("region"), s("expires_at"))))
}

/// `cdnsteer override remove ID`.
pub async fn override_remove(admin: &str, token: &str, id: &str, json: bool) -> Result<Output, CliError> {
    let (status, reply) = client::call(admin, "DELETE", &format!("/api/v1/overrides/{}", encode(id)), Some(token), None).await?;
    if status != 200 {
        return Ok(Output::fail(api_error(status, &reply)));
    }
    Ok(Output::ok(if json { reply } else { format!("{id} removed\n") }))
}

/// `cdnsteer annotate`: `POST /api/v1/annotations`.
pub async fn annotate(admin: &str, token: &str, text: &str, at: Option<&str>, author: Option<String>) -> Result<Output, CliError> {
    let author = author.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".to_string());
    let mut body = serde_json::json!({"text": text, "author": author});
    if let Some(at) = at {
        body["at"] = Value::String(at.to_string());
    }
    let (status, reply) = client::call(admin, "POST", "/api/v1/annotations", Some(token), Some(body.to_string())).await?;
    if status != 201 {
        return Ok(Output::fail(format!("{}\n", api_error(status, &reply))));
    }
    let v: Value = serde_json::from_str(&reply).unwrap_or(Value::Null);
    let s = |k: &str| v.get(k).map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).unwrap_or_default();
    Ok(Output::ok(format!("annotation {} at {}: {}\n", s("id"), s("at"), s("text"))))
}

/// `cdnsteer reload`: `POST /api/v1/reload`.
pub async fn reload(admin: &str, token: &str, force: Option<&str>) -> Result<Output, CliError> {
    let body = force.map(|reason| serde_json::json!({"force": true, "reason": reason}).to_string());
    let (status, reply) = client::call(admin, "POST", "/api/v1/reload", Some(token), body).await?;
    let v: Value = serde_json::from_str(&reply).unwrap_or(Value::Null);
    match status {
        200 => Ok(Output::ok(format!(
            "reloaded: serving generation {} ({} ms)\n",
            v.get("generation").and_then(Value::as_u64).unwrap_or_default(),
            v.get("took_ms").and_then(Value::as_u64).unwrap_or_default()
        ))),
        422 => {
            let mut out = String::new();
            for d in v.get("diagnostics").and_then(Value::as_array).into_iter().flatten() {
                let g = |k: &str| d.get(k).map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).unwrap_or_default();
                out.push_str(&format!("{}:{}:{}: error[{}] at {}: {}\n", g("file"), g("line"), g("column"), g("code"), g("path"), g("message")));
            }
            if let Some(e) = v.get("error").and_then(Value::as_str) {
                out.push_str(&format!("{e}\n"));
            }
            out.push_str(&format!("reload refused; still serving generation {}\n", v.get("generation").and_then(Value::as_u64).unwrap_or_default()));
            Ok(Output::fail(out))
        }
        423 => Ok(Output::fail(format!(
            "{}\nstill serving generation {}; the change applies when the freeze ends (or: cdnsteer reload --force --reason \"...\")\n",
            v.get("message").and_then(Value::as_str).unwrap_or("change pending, frozen"),
            v.get("generation").and_then(Value::as_u64).unwrap_or_default()
        ))),
        _ => Ok(Output::fail(api_error(status, &reply))),
    }
}
