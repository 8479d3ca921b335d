//! Pushed telemetry: the JSON schema of `POST /api/v1/telemetry`, its validation, and the
//! conversion of a valid batch into [`Observation`]s for the health engine.
//!
//! # Schema
//!
//! ```json
//! {
//!   "source": "player-rum-eu",
//!   "measurements": [
//!     {
//!       "cdn": "akamai",
//!       "region": "country:KR",
//!       "window_secs": 10,
//!       "requests": 12000,
//!       "errors": 36,
//!       "ttfb_ms": {"p50": 85, "p90": 240},
//!       "throughput_mbps": 18.5,
//!       "cache_hits": 11400,
//!       "delivered_gbps": 42.0
//!     }
//!   ]
//! }
//! ```
//!
//! | field | type | rule |
//! |---|---|---|
//! | `source` | string | required; 1 to 64 characters of `A-Z a-z 0-9 . _ -`; becomes the vantage `rum:<source>` |
//! | `measurements` | array | required; 1 to [`MAX_MEASUREMENTS`] entries |
//! | `cdn` | string | required; a CDN of some steered name being served |
//! | `region` | string | required; `KR`, `country:KR`, `continent:AS`, `network:NAME` or `default` |
//! | `window_secs` | integer | optional; 1 to [`MAX_WINDOW_SECS`]; the window the counts cover |
//! | `requests` | integer | required; at least 1 |
//! | `errors` | integer | required; at most `requests` |
//! | `ttfb_ms` | object | optional; `p50` required, `p90` optional and at least `p50`; finite, >= 0 |
//! | `throughput_mbps` | number | optional; finite, >= 0 |
//! | `cache_hits` | integer | optional; at most `requests` |
//! | `delivered_gbps` | number | optional; finite, >= 0; feeds the demand estimate |
//! | `at` | string | optional; RFC 3339 end of the window; the arrival time when absent; refused when more than 5 minutes old or in the future |
//! | `ttfb_ms.p95`, `ttfb_ms.p99` | number | optional; in order p50 <= p90 <= p95 <= p99 |
//! | `viewers` | integer | optional; concurrent viewers |
//! | `startup_ms` | object | optional; `p50` required, `p95` optional and at least `p50` |
//! | `rebuffer_ratio` | number | optional; 0 to 1 (time rebuffering / time watching) |
//! | `playback_failures`, `exits_before_start` | integer | optional |
//!
//! Unknown keys are errors at every level. The whole batch is checked before anything is
//! used: one bad measurement rejects the batch, and the error names the exact field
//! (`measurements[3].errors`). The observation time is `at`, else the arrival time;
//! `ttfb_ms.p50` becomes the observation's TTFB. The viewer-experience fields (QoE) and the
//! TTFB tail are recorded for the history and the report; they do not change scores.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::clock::Millis;
use crate::health::signal::Observation;
use crate::region::RegionKey;
use crate::qoe::QoeSample;
use crate::zone::ZoneSet;
use crate::region::parse_region;

/// Most measurements accepted in one batch.
pub const MAX_MEASUREMENTS: usize = 10_000;
/// Longest measurement window accepted, seconds.
pub const MAX_WINDOW_SECS: u64 = 3600;
/// Longest `source` accepted, characters.
pub const MAX_SOURCE_LEN: usize = 64;

/// One telemetry push, as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryBatch {
    /// Who measured (a RUM beacon collector, a log pipeline).
    pub source: String,
    /// The measurements.
    pub measurements: Vec<Measurement>,
}

/// One CDN x region measurement over a window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// CDN name, as in the zones.
    pub cdn: String,
    /// Region reference (`country:KR`, `KR`, `continent:AS`, `network:NAME`, `default`).
    pub region: String,
    /// Length of the window, seconds.
    #[serde(default)]
    pub window_secs: Option<u64>,
    /// Requests in the window.
    pub requests: u64,
    /// Failed requests in the window.
    pub errors: u64,
    /// Time to first byte percentiles, ms.
    #[serde(default)]
    pub ttfb_ms: Option<Percentiles>,
    /// Throughput, Mbit/s.
    #[serde(default)]
    pub throughput_mbps: Option<f64>,
    /// Cache hits in the window.
    #[serde(default)]
    pub cache_hits: Option<u64>,
    /// Traffic delivered, Gbps.
    #[serde(default)]
    pub delivered_gbps: Option<f64>,
    /// End of the window (RFC 3339); the arrival time when absent.
    #[serde(default)]
    pub at: Option<String>,
    /// Concurrent viewers.
    #[serde(default)]
    pub viewers: Option<u64>,
    /// Startup time percentiles, ms.
    #[serde(default)]
    pub startup_ms: Option<Startup>,
    /// Time rebuffering / time watching, 0..1.
    #[serde(default)]
    pub rebuffer_ratio: Option<f64>,
    /// Playbacks that failed in the window.
    #[serde(default)]
    pub playback_failures: Option<u64>,
    /// Viewers who left before playback started.
    #[serde(default)]
    pub exits_before_start: Option<u64>,
}

/// Startup time percentiles of a window, ms.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Startup {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    #[serde(default)]
    pub p95: Option<f64>,
}

/// Latency percentiles of a window.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    #[serde(default)]
    pub p90: Option<f64>,
    /// 95th percentile.
    #[serde(default)]
    pub p95: Option<f64>,
    /// 99th percentile.
    #[serde(default)]
    pub p99: Option<f64>,
}

/// Why a telemetry body was refused: a message and, when one field is to blame, its path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TelemetryError {
    /// What is wrong and what was expected.
    pub message: String,
    /// The offending field (`measurements[3].errors`), if the problem is in one.
    pub field: Option<String>,
}

impl TelemetryError {
    fn at(field: impl Into<String>, message: impl Into<String>) -> TelemetryError {
        TelemetryError { message: message.into(), field: Some(field.into()) }
    }
}

/// Parse a body. Syntax errors read "malformed JSON at line L column C: ..."; type errors and
/// unknown keys name the field they are in.
pub fn parse(body: &[u8]) -> Result<TelemetryBatch, TelemetryError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed: Result<TelemetryBatch, _> = serde_path_to_error::deserialize(&mut de);
    let batch = match parsed {
        Ok(b) => b,
        Err(e) => return Err(from_serde(e)),
    };
    // Trailing bytes after the document (`{...} {...}`) are malformed too.
    if let Err(e) = de.end() {
        return Err(malformed(&e, None));
    }
    Ok(batch)
}

fn from_serde(e: serde_path_to_error::Error<serde_json::Error>) -> TelemetryError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let mut field = (path != ".").then_some(path);
    match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof | serde_json::error::Category::Io => {
            malformed(&inner, field)
        }
        serde_json::error::Category::Data => {
            let message = strip_position(&inner);
            // An unknown key is reported on the object holding it; name the key itself.
            if let Some(key) = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
                field = Some(match field {
                    Some(f) if f == key || f.ends_with(&format!(".{key}")) => f,
                    Some(parent) => format!("{parent}.{key}"),
                    None => key.to_string(),
                });
            }
            TelemetryError { message: format!("{message} (line {} column {})", inner.line(), inner.column()), field }
        }
    }
}

fn malformed(e: &serde_json::Error, field: Option<String>) -> TelemetryError {
    TelemetryError {
        message: format!("malformed JSON at line {} column {}: {}", e.line(), e.column(), strip_position(e)),
        field,
    }
}

/// serde_json's message without its trailing " at line L column C".
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// What a measurement may speak of: the CDNs of the steered names served, and the regions
/// whose signals some served region uses (its own, its continent for a country, `default`).
/// Anything else is refused, so pushes cannot grow the engine's memory without bound.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// CDN names, sorted.
    pub cdns: BTreeSet<String>,
    /// Region keys.
    pub regions: BTreeSet<RegionKey>,
}

impl Known {
    /// From the zones served.
    pub fn of(zones: &ZoneSet) -> Known {
        let cdns = zones.steered().flat_map(|s| s.cdns.iter().map(|c| c.name.clone())).collect();
        let mut regions = BTreeSet::new();
        regions.insert(RegionKey::Default);
        for r in zones.steered().flat_map(|s| s.regions.iter()) {
            if let RegionKey::Country(c) = &r.key {
                regions.extend(crate::region::continent_of(*c).map(RegionKey::Continent));
            }
            regions.insert(r.key.clone());
        }
        Known { cdns, regions }
    }
}

fn check_number(value: f64, field: impl FnOnce() -> String) -> Result<(), TelemetryError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(TelemetryError::at(field(), format!("{value}; expected a finite number >= 0")))
    }
}

fn check_source(source: &str) -> Result<(), TelemetryError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if source.is_empty() || source.chars().count() > MAX_SOURCE_LEN || !source.chars().all(ok_char) {
        return Err(TelemetryError::at(
            "source",
            format!("`{source}`; expected 1 to {MAX_SOURCE_LEN} characters of A-Z a-z 0-9 . _ -"),
        ));
    }
    Ok(())
}

/// Oldest window end accepted (`at`), relative to the arrival time: 5 minutes.
pub const MAX_AGE_MS: Millis = 300_000;
/// How far in the future a window end may be (clock skew between collector and server).
pub const MAX_AHEAD_MS: Millis = 5_000;

/// A measurement as the engine and the history take it.
struct Converted {
    observation: Observation,
    qoe: QoeSample,
}

fn convert_one(i: usize, m: &Measurement, known: &Known, source: &str, arrived: Millis) -> Result<Converted, TelemetryError> {
    let field = |name: &str| format!("measurements[{i}].{name}");
    if !known.cdns.contains(&m.cdn) {
        let list: Vec<&str> = known.cdns.iter().map(String::as_str).collect();
        return Err(TelemetryError::at(
            field("cdn"),
            format!("unknown CDN `{}`; known CDNs: {}", m.cdn, if list.is_empty() { "(none)".to_string() } else { list.join(", ") }),
        ));
    }
    let region = parse_region(&m.region).map_err(|e| TelemetryError::at(field("region"), e))?;
    if !known.regions.contains(&region) {
        let list: Vec<String> = known.regions.iter().map(ToString::to_string).collect();
        return Err(TelemetryError::at(field("region"), format!("{region} is not a region of any steered name being served (nor a continent or default they fall back to); known: {}", list.join(", "))));
    }
    let at = window_end(m, arrived, &field)?;
    check_counts(m, &field)?;
    check_ttfb(m, &field)?;
    check_qoe(m, &field)?;
    let observation = Observation {
        cdn: m.cdn.clone(),
        region: region.clone(),
        vantage: format!("rum:{source}"),
        at,
        requests: m.requests,
        errors: m.errors,
        cache_hits: m.cache_hits,
        ttfb_ms: m.ttfb_ms.map(|t| t.p50),
        throughput_mbps: m.throughput_mbps,
        delivered_gbps: m.delivered_gbps,
        failure: None,
    };
    let qoe = QoeSample {
        cdn: m.cdn.clone(),
        region,
        source: source.to_string(),
        at,
        window_secs: m.window_secs,
        viewers: m.viewers,
        startup_p50_ms: m.startup_ms.map(|s| s.p50),
        startup_p95_ms: m.startup_ms.and_then(|s| s.p95),
        rebuffer_ratio: m.rebuffer_ratio,
        playback_failures: m.playback_failures,
        exits_before_start: m.exits_before_start,
        ttfb_p50_ms: m.ttfb_ms.map(|t| t.p50),
        ttfb_p95_ms: m.ttfb_ms.and_then(|t| t.p95),
        ttfb_p99_ms: m.ttfb_ms.and_then(|t| t.p99),
        requests: m.requests,
        errors: m.errors,
        delivered_gbps: m.delivered_gbps,
    };
    Ok(Converted { observation, qoe })
}

/// The window's end: `at` when given (not more than 5 minutes old, not in the future), else
/// the arrival time.
fn window_end(m: &Measurement, arrived: Millis, field: &dyn Fn(&str) -> String) -> Result<Millis, TelemetryError> {
    let Some(text) = &m.at else { return Ok(arrived) };
    let at = crate::timestamp::parse_rfc3339(text).map_err(|e| TelemetryError::at(field("at"), e))?;
    if at > arrived + MAX_AHEAD_MS {
        return Err(TelemetryError::at(field("at"), format!("{text} is in the future (server time {}); check the collector's clock", crate::timestamp::rfc3339(arrived))));
    }
    if arrived.saturating_sub(at) > MAX_AGE_MS {
        return Err(TelemetryError::at(field("at"), format!("{text} is more than 5 minutes old (server time {}); stale windows would steer on the past", crate::timestamp::rfc3339(arrived))));
    }
    Ok(at)
}

fn check_counts(m: &Measurement, field: &dyn Fn(&str) -> String) -> Result<(), TelemetryError> {
    if let Some(w) = m.window_secs
        && !(1..=MAX_WINDOW_SECS).contains(&w)
    {
        return Err(TelemetryError::at(field("window_secs"), format!("{w}; expected 1 to {MAX_WINDOW_SECS}")));
    }
    if m.requests == 0 {
        return Err(TelemetryError::at(field("requests"), "0; expected at least 1"));
    }
    if m.errors > m.requests {
        return Err(TelemetryError::at(field("errors"), format!("{}; expected at most requests ({})", m.errors, m.requests)));
    }
    if let Some(v) = m.throughput_mbps {
        check_number(v, || field("throughput_mbps"))?;
    }
    if let Some(h) = m.cache_hits
        && h > m.requests
    {
        return Err(TelemetryError::at(field("cache_hits"), format!("{h}; expected at most requests ({})", m.requests)));
    }
    if let Some(v) = m.delivered_gbps {
        check_number(v, || field("delivered_gbps"))?;
    }
    Ok(())
}

/// Percentiles are finite, non-negative and in order: p50 <= p90 <= p95 <= p99.
fn check_ttfb(m: &Measurement, field: &dyn Fn(&str) -> String) -> Result<(), TelemetryError> {
    let Some(t) = &m.ttfb_ms else { return Ok(()) };
    check_number(t.p50, || field("ttfb_ms.p50"))?;
    let mut below = ("p50", t.p50);
    for (name, value) in [("p90", t.p90), ("p95", t.p95), ("p99", t.p99)] {
        let Some(v) = value else { continue };
        check_number(v, || field(&format!("ttfb_ms.{name}")))?;
        if v < below.1 {
            return Err(TelemetryError::at(field(&format!("ttfb_ms.{name}")), format!("{v}; expected at least {} ({})", below.0, below.1)));
        }
        below = (name, v);
    }
    Ok(())
}

fn check_qoe(m: &Measurement, field: &dyn Fn(&str) -> String) -> Result<(), TelemetryError> {
    if let Some(s) = &m.startup_ms {
        check_number(s.p50, || field("startup_ms.p50"))?;
        if let Some(p95) = s.p95 {
            check_number(p95, || field("startup_ms.p95"))?;
            if p95 < s.p50 {
                return Err(TelemetryError::at(field("startup_ms.p95"), format!("{p95}; expected at least p50 ({})", s.p50)));
            }
        }
    }
    if let Some(r) = m.rebuffer_ratio {
        if !(r.is_finite() && (0.0..=1.0).contains(&r)) {
            return Err(TelemetryError::at(field("rebuffer_ratio"), format!("{r}; expected a ratio from 0 to 1 (time rebuffering / time watching)")));
        }
    }
    Ok(())
}

/// A valid batch: observations for the health engine and QoE samples for the history, in
/// the order of the measurements.
#[derive(Debug, Clone, Default)]
pub struct Accepted {
    /// For the engine.
    pub observations: Vec<Observation>,
    /// For the history.
    pub qoe: Vec<QoeSample>,
}

/// Check a whole batch against the CDNs and regions being served and convert it: every
/// measurement valid gives every observation (vantage `rum:<source>`, time `at` or the
/// arrival time); the first invalid one gives its error and nothing at all.
pub fn validate(batch: &TelemetryBatch, known: &Known, arrived: Millis) -> Result<Accepted, TelemetryError> {
    check_source(&batch.source)?;
    let n = batch.measurements.len();
    if n == 0 || n > MAX_MEASUREMENTS {
        return Err(TelemetryError::at("measurements", format!("{n} measurements; expected 1 to {MAX_MEASUREMENTS}")));
    }
    let mut out = Accepted { observations: Vec::with_capacity(n), qoe: Vec::with_capacity(n) };
    for (i, m) in batch.measurements.iter().enumerate() {
        let c = convert_one(i, m, known, &batch.source, arrived)?;
        out.observations.push(c.observation);
        out.qoe.push(c.qoe);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::model::RegionKey;

    fn known() -> Known {
        Known {
            cdns: ["akamai", "fastly"].iter().map(|s| s.to_string()).collect(),
            regions: [RegionKey::Country(*b"KR"), RegionKey::Continent(*b"AS"), RegionKey::Default].into_iter().collect(),
        }
    }

    fn one(measurement: &str) -> Result<Vec<Observation>, TelemetryError> {
        let body = format!(r#"{{"source": "rum", "measurements": [{measurement}]}}"#);
        validate(&parse(body.as_bytes())?, &known(), 7).map(|a| a.observations)
    }

    #[test]
    fn full_measurement_converts() {
        let got = one(
            r#"{"cdn": "akamai", "region": "KR", "window_secs": 10, "requests": 100, "errors": 3,
               "ttfb_ms": {"p50": 85, "p90": 240}, "throughput_mbps": 18.5, "cache_hits": 95,
               "delivered_gbps": 42.0}"#,
        )
        .expect("valid");
        assert_eq!(got.len(), 1);
        let o = &got[0];
        assert_eq!((o.cdn.as_str(), &o.region, o.vantage.as_str(), o.at), ("akamai", &RegionKey::Country(*b"KR"), "rum:rum", 7));
        assert_eq!((o.requests, o.errors, o.cache_hits), (100, 3, Some(95)));
        assert_eq!((o.ttfb_ms, o.throughput_mbps, o.delivered_gbps), (Some(85.0), Some(18.5), Some(42.0)));
    }

    #[test]
    fn fields_are_named() {
        let field = |m: &str| one(m).expect_err("invalid").field;
        let base = r#""cdn": "akamai", "region": "default""#;
        assert_eq!(field(&format!(r#"{{{base}, "requests": 0, "errors": 0}}"#)).as_deref(), Some("measurements[0].requests"));
        assert_eq!(field(&format!(r#"{{{base}, "requests": 1, "errors": 2}}"#)).as_deref(), Some("measurements[0].errors"));
        assert_eq!(
            field(&format!(r#"{{{base}, "requests": 1, "errors": 0, "cache_hits": 2}}"#)).as_deref(),
            Some("measurements[0].cache_hits")
        );
        assert_eq!(
            field(&format!(r#"{{{base}, "requests": 1, "errors": 0, "ttfb_ms": {{"p50": 9, "p90": 1}}}}"#)).as_deref(),
            Some("measurements[0].ttfb_ms.p90")
        );
        assert_eq!(
            field(&format!(r#"{{{base}, "requests": 1, "errors": 0, "throughput_mbps": -1}}"#)).as_deref(),
            Some("measurements[0].throughput_mbps")
        );
        assert_eq!(
            field(r#"{"cdn": "akamai", "region": "mars", "requests": 1, "errors": 0}"#).as_deref(),
            Some("measurements[0].region")
        );
        assert_eq!(
            field(r#"{"cdn": "akamai", "region": "JP", "requests": 1, "errors": 0}"#).as_deref(),
            Some("measurements[0].region"),
            "a region no steered name serves"
        );
        assert_eq!(
            field(&format!(r#"{{{base}, "requests": 1, "errors": 0, "colour": 1}}"#)).as_deref(),
            Some("measurements[0].colour")
        );
        assert_eq!(field(&format!(r#"{{{base}, "requests": -1, "errors": 0}}"#)).as_deref(), Some("measurements[0].requests"));
    }

    #[test]
    fn viewer_experience_and_window_times() {
        let now = 1_796_155_395_000;
        let body = r#"{"source": "player", "measurements": [{"cdn": "akamai", "region": "KR", "requests": 100, "errors": 1,
            "at": "2026-12-01T20:02:15Z", "ttfb_ms": {"p50": 80, "p95": 210, "p99": 480}, "viewers": 125000,
            "startup_ms": {"p50": 900, "p95": 2400}, "rebuffer_ratio": 0.004, "playback_failures": 12, "exits_before_start": 40}]}"#;
        let got = validate(&parse(body.as_bytes()).expect("parse"), &known(), now).expect("valid");
        assert_eq!(got.observations[0].at, now - 60_000, "the window's end, not the arrival");
        let q = &got.qoe[0];
        assert_eq!((q.viewers, q.startup_p95_ms, q.rebuffer_ratio, q.ttfb_p99_ms, q.source.as_str()), (Some(125_000), Some(2400.0), Some(0.004), Some(480.0), "player"));
        assert!(q.has_player_fields());
        let field = |m: &str| {
            let body = format!(r#"{{"source": "p", "measurements": [{{"cdn": "akamai", "region": "KR", "requests": 1, "errors": 0, {m}}}]}}"#);
            parse(body.as_bytes()).and_then(|b| validate(&b, &known(), now)).expect_err("invalid").field
        };
        assert_eq!(field(r#""at": "2026-12-01T19:50:00Z""#).as_deref(), Some("measurements[0].at"), "older than 5 minutes");
        assert_eq!(field(r#""at": "2026-12-01T20:10:00Z""#).as_deref(), Some("measurements[0].at"), "in the future");
        assert_eq!(field(r#""at": "yesterday""#).as_deref(), Some("measurements[0].at"));
        assert_eq!(field(r#""rebuffer_ratio": 1.5"#).as_deref(), Some("measurements[0].rebuffer_ratio"));
        assert_eq!(field(r#""startup_ms": {"p50": 900, "p95": 100}"#).as_deref(), Some("measurements[0].startup_ms.p95"));
        assert_eq!(field(r#""ttfb_ms": {"p50": 80, "p95": 210, "p99": 100}"#).as_deref(), Some("measurements[0].ttfb_ms.p99"));
        assert_eq!(field(r#""viewers": -3"#).as_deref(), Some("measurements[0].viewers"));
    }

    #[test]
    fn malformed_json_has_a_position() {
        let e = parse(b"{\"source\": \"x\",\n  \"measurements\": [}").expect_err("malformed");
        assert!(e.message.starts_with("malformed JSON at line 2 column"), "{e}");
        let e = parse(br#"{"source": "x", "measurements": []} trailing"#).expect_err("trailing");
        assert!(e.message.starts_with("malformed JSON at line 1 column"), "{e}");
    }
}
