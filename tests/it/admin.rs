//! The admin API over real HTTP/1.1 on 127.0.0.1: health endpoints, status, decision events,
//! and the telemetry intake's authentication, validation (all-or-nothing) and limits. Also the
//! `admin:` block of the daemon config.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cdnsteer::admin::{self, AdminState};
use cdnsteer::clock::Clock;
use cdnsteer::config::{AdminListen, Config, DEFAULT_ADMIN_LISTEN, Flags};
use cdnsteer::diag::Code;
use cdnsteer::health::events::{DecisionEvent, EventLog};
use cdnsteer::publish::Publisher;
use cdnsteer::health::signal::Observation;
use cdnsteer::zone::model::RegionKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::harness::repo;
use cdnsteer::admin::ops::{ListedOverride, OpError, Operations, ReloadOutcome};
use cdnsteer::config::NamedToken;
use cdnsteer::overrides::{Override, OverrideError, OverrideRequest};

/// The control plane is not under test here (the telemetry intake, status and auth are): a
/// double that holds nothing and refuses changes. Overrides and reload are tested against the
/// real daemon in `tests/it/operations.rs`.
struct NoOperations;

#[async_trait::async_trait]
impl Operations for NoOperations {
    async fn overrides(&self) -> Vec<ListedOverride> {
        Vec::new()
    }
    async fn add_override(&self, _: OverrideRequest, _: &str) -> Result<Override, OpError> {
        Err(OpError::Storage("no control plane in this test".into()))
    }
    async fn remove_override(&self, id: &str, _: &str) -> Result<Override, OpError> {
        Err(OpError::Override(OverrideError::NotFound(id.to_string())))
    }
    async fn reload(&self, _: &str, _: Option<String>) -> ReloadOutcome {
        ReloadOutcome::Refused { generation: 1, diagnostics: Vec::new(), error: Some("no control plane in this test".into()) }
    }
}

const TOKEN: &str = "s3cret-token";

/// A running admin API and the other ends of its channels.
struct Admin {
    addr: SocketAddr,
    rx: mpsc::Receiver<Observation>,
    events: Arc<EventLog>,
    ready: Arc<AtomicBool>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), admin::AdminError>>,
    _publisher: Publisher,
}

impl Admin {
    async fn start(token: Option<&str>) -> Admin {
        let (publisher, _handler) = cdnsteer::fuzz::bundled_handler(&repo()).expect("bundled zones and GeoIP");
        let (tx, rx) = mpsc::channel(16_384);
        let events = Arc::new(EventLog::new(100));
        let ready = Arc::new(AtomicBool::new(false));
        let state = AdminState {
            reader: publisher.reader(),
            telemetry: tx,
            events: Arc::clone(&events),
            tokens: token.map(|t| vec![NamedToken { name: "test".into(), token: t.to_string() }]).unwrap_or_default(),
            ops: Arc::new(NoOperations),
            clock: Clock::new(),
            ready: Arc::clone(&ready),
            dns: cdnsteer::dns::DnsCounters::new(cdnsteer::dns::counters::DEFAULT_MAX_NAMES),
            steering: cdnsteer::metrics::SteeringCounters::new(cdnsteer::dns::counters::DEFAULT_MAX_NAMES),
            probes: cdnsteer::probe::ProbeStats::new(),
            ticks: cdnsteer::metrics::ticks::EngineTicks::new(),
            history: cdnsteer::history::HistoryHandle::disabled(),
            dashboard: cdnsteer::admin::dashboard::Dashboard::in_memory(0),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = CancellationToken::new();
        let task = tokio::spawn(admin::serve(listener, state, stop.clone()));
        Admin { addr, rx, events, ready, stop, task, _publisher: publisher }
    }

    async fn get(&self, path: &str) -> Reply {
        request(self.addr, "GET", path, &[], Body::Fixed(Vec::new())).await
    }

    /// POST JSON to the telemetry endpoint with the right token.
    async fn push(&self, body: &str) -> Reply {
        let auth = format!("Bearer {TOKEN}");
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
        request(self.addr, "POST", "/api/v1/telemetry", &headers, Body::Fixed(body.as_bytes().to_vec())).await
    }

    /// Everything that arrived on the telemetry channel so far.
    fn received(&mut self) -> Vec<Observation> {
        let mut out = Vec::new();
        while let Ok(o) = self.rx.try_recv() {
            out.push(o);
        }
        out
    }

    async fn stop(self) {
        self.stop.cancel();
        let result = tokio::time::timeout(Duration::from_secs(5), self.task).await.expect("admin API stops");
        result.expect("task").expect("serve");
    }
}

/// How to send a request body.
pub(crate) enum Body {
    /// With `Content-Length`.
    Fixed(Vec<u8>),
    /// `Transfer-Encoding: chunked`, in chunks of 64 KiB.
    Chunked(Vec<u8>),
}

/// An HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `error` and `field` of a JSON error answer.
    fn error(&self) -> (String, Option<String>) {
        assert_eq!(self.header("content-type"), Some("application/json"), "{self:?}");
        let v = self.json();
        let error = v["error"].as_str().unwrap_or_else(|| panic!("no error in {v}")).to_string();
        (error, v.get("field").and_then(Value::as_str).map(str::to_string))
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`). The body is written
/// while the response is read, so a server that answers early (413) is seen answering.
pub(crate) async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Body) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: admin.test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let payload = match body {
        Body::Fixed(b) => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
            b
        }
        Body::Chunked(b) => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let mut out = Vec::new();
            for chunk in b.chunks(64 * 1024) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            out
        }
    };
    let writer = tokio::spawn(async move {
        // The server may close early (413); a failed write is then expected.
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&payload).await;
        wr
    });
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rd.read(&mut buf)).await.expect("response in time") {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after the response arrived (server closed with unread body).
            Err(e) if !raw.is_empty() => {
                eprintln!("read ended with {e} after {} bytes", raw.len());
                break;
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    writer.abort();
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no header end in {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{status_line}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = at + rest[at..].windows(2).position(|w| w == b"\r\n").expect("chunk size line");
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[at..line_end]).trim(), 16).expect("chunk size");
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            at = line_end + 2 + size + 2;
        }
        body
    } else {
        let len = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.parse::<usize>().expect("length"));
        let body = rest[..len.unwrap_or(rest.len()).min(rest.len())].to_vec();
        if let Some(len) = len {
            assert_eq!(body.len(), len, "short body");
        }
        body
    };
    Reply { status, headers, body }
}

/// A measurement of `cdn` in KR with the given counts.
fn measurement(cdn: &str, requests: u64, errors: u64) -> String {
    format!(r#"{{"cdn": "{cdn}", "region": "country:KR", "requests": {requests}, "errors": {errors}}}"#)
}

fn batch(measurements: &[String]) -> String {
    format!(r#"{{"source": "player-rum-eu", "measurements": [{}]}}"#, measurements.join(", "))
}

#[tokio::test]
async fn live_and_ready() {
    let admin = Admin::start(None).await;
    let live = admin.get("/live").await;
    assert_eq!((live.status, live.text().as_str()), (200, "ok"));
    assert_eq!(admin.get("/ready").await.status, 503);
    admin.ready.store(true, Ordering::Release);
    let ready = admin.get("/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let missing = admin.get("/nope").await;
    assert_eq!(missing.status, 404);
    admin.stop().await;
}

#[tokio::test]
async fn status_describes_the_snapshot() {
    let admin = Admin::start(None).await;
    let reply = admin.get("/api/v1/status").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let v = reply.json();
    assert_eq!(v["generation"], 1, "{v}");
    assert_eq!(v["zones"], serde_json::json!(["example.com."]), "{v}");
    let steered = v["steered"].as_array().expect("steered list");
    let live = steered.iter().find(|s| s["name"] == "live.example.com.").unwrap_or_else(|| panic!("{v}"));
    assert_eq!(live["cdns"], serde_json::json!(["akamai", "fastly", "cloudfront", "edgio"]), "{v}");
    assert_eq!(live["regions"], 6, "{v}");
    assert!(v["geoip"]["path"].as_str().is_some_and(|p| p.ends_with("iptoasn-country.mmdb")), "{v}");
    assert!(v["geoip"]["networks"].as_u64().is_some_and(|n| n > 0), "{v}");
    assert!(v["geoip"]["type"].is_string() && v["geoip"]["build_epoch"].is_u64(), "{v}");
    admin.stop().await;
}

#[tokio::test]
async fn decisions_returns_pushed_events() {
    let admin = Admin::start(None).await;
    assert_eq!(admin.get("/api/v1/decisions").await.json(), serde_json::json!([]));
    for i in 0..5u64 {
        admin.events.push(DecisionEvent {
            at: i * 1000,
            generation: i + 2,
            name: "live.example.com.".into(),
            region: "country:KR".into(),
            old: vec![("akamai".into(), 0.5), ("fastly".into(), 0.5)],
            new: vec![("akamai".into(), 0.2), ("fastly".into(), 0.8)],
            reason: format!("event {i}"),
            overrides: Vec::new(),
            fails_open: false,
        });
    }
    let all = admin.get("/api/v1/decisions").await.json();
    let all = all.as_array().expect("list");
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["reason"], "event 0");
    assert_eq!((all[0]["at"].as_str(), all[1]["at"].as_str()), (Some("1970-01-01T00:00:00Z"), Some("1970-01-01T00:00:01Z")), "wall-clock RFC 3339");
    assert_eq!(all[4]["generation"], 6);
    assert_eq!(all[4]["new"], serde_json::json!([["akamai", 0.2], ["fastly", 0.8]]));
    let last_two = admin.get("/api/v1/decisions?limit=2").await.json();
    let reasons: Vec<&str> = last_two.as_array().expect("list").iter().filter_map(|e| e["reason"].as_str()).collect();
    assert_eq!(reasons, ["event 3", "event 4"]);
    let bad = admin.get("/api/v1/decisions?limit=many").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error().1.as_deref(), Some("limit"));
    admin.stop().await;
}

#[tokio::test]
async fn valid_batch_is_accepted_and_delivered() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    let body = r#"{"source": "player-rum-eu", "measurements": [
        {"cdn": "akamai", "region": "KR", "window_secs": 10, "requests": 12000, "errors": 36,
         "ttfb_ms": {"p50": 85, "p90": 240}, "throughput_mbps": 18.5, "cache_hits": 11400, "delivered_gbps": 42.0},
        {"cdn": "fastly", "region": "continent:AS", "requests": 50, "errors": 0},
        {"cdn": "edgio", "region": "network:kt-resolvers", "requests": 1, "errors": 1},
        {"cdn": "cloudfront", "region": "default", "requests": 7, "errors": 2, "ttfb_ms": {"p50": 12.5}}
    ]}"#;
    let reply = admin.push(body).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(reply.json(), serde_json::json!({"accepted": 4}));
    let got = admin.received();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.iter().all(|o| o.vantage == "rum:player-rum-eu" && o.failure.is_none()), "{got:?}");
    let first = &got[0];
    assert_eq!((first.cdn.as_str(), &first.region), ("akamai", &RegionKey::Country(*b"KR")));
    assert_eq!((first.requests, first.errors, first.cache_hits), (12000, 36, Some(11400)));
    assert_eq!((first.ttfb_ms, first.throughput_mbps, first.delivered_gbps), (Some(85.0), Some(18.5), Some(42.0)));
    assert_eq!(got[1].region, RegionKey::Continent(*b"AS"));
    assert_eq!((got[1].ttfb_ms, got[1].cache_hits, got[1].delivered_gbps), (None, None, None));
    assert_eq!(got[2].region, RegionKey::Network("kt-resolvers".into()));
    assert_eq!((got[3].region.clone(), got[3].ttfb_ms), (RegionKey::Default, Some(12.5)));
    admin.stop().await;
}

#[tokio::test]
async fn telemetry_authentication() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    let body = batch(&[measurement("akamai", 10, 1)]).into_bytes();
    let addr = admin.addr;
    let post = |headers: Vec<(&'static str, String)>| {
        let body = body.clone();
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            request(addr, "POST", "/api/v1/telemetry", &h, Body::Fixed(body)).await
        }
    };
    let json = ("Content-Type", "application/json".to_string());
    let none = post(vec![json.clone()]).await;
    assert_eq!(none.status, 401, "{}", none.text());
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert!(none.error().0.contains("Authorization"), "{}", none.text());
    let wrong = post(vec![json.clone(), ("Authorization", format!("Bearer {TOKEN}x"))]).await;
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    let basic = post(vec![json.clone(), ("Authorization", format!("Basic {TOKEN}"))]).await;
    assert_eq!(basic.status, 401, "{}", basic.text());
    assert!(admin.received().is_empty());
    let right = post(vec![json, ("Authorization", format!("bearer {TOKEN}"))]).await;
    assert_eq!(right.status, 202, "{}", right.text());
    assert_eq!(admin.received().len(), 1);
    admin.stop().await;

    // No token configured: telemetry is refused outright, whatever is presented.
    let mut open = Admin::start(None).await;
    let reply = open.push(&batch(&[measurement("akamai", 10, 1)])).await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert!(reply.error().0.contains("no admin token configured"), "{}", reply.text());
    assert!(open.received().is_empty());
    open.stop().await;
}

#[tokio::test]
async fn malformed_json_names_line_and_column() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    let reply = admin.push("{\"source\": \"rum\",\n  \"measurements\": [\n    {\"cdn\": \"akamai\",, }]}").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let (error, _) = reply.error();
    assert!(error.starts_with("malformed JSON at line 3 column 22"), "{error}");
    assert!(admin.received().is_empty());
    admin.stop().await;
}

#[tokio::test]
async fn wrong_types_and_unknown_keys_name_the_field() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    let reply = admin.push(r#"{"source": "rum", "measurements": [{"cdn": "akamai", "region": "KR", "requests": "many", "errors": 0}]}"#).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let (error, field) = reply.error();
    assert_eq!(field.as_deref(), Some("measurements[0].requests"), "{error}");
    assert!(error.contains("invalid type"), "{error}");

    let unknown = r#"{"cdn": "akamai", "region": "KR", "requests": 1, "errors": 0, "latency": 5}"#.to_string();
    let reply = admin.push(&batch(&[measurement("fastly", 1, 0), unknown])).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let (error, field) = reply.error();
    assert_eq!(field.as_deref(), Some("measurements[1].latency"), "{error}");
    assert!(error.contains("unknown field `latency`"), "{error}");

    let reply = admin.push(r#"{"source": "rum", "measurements": [], "extra": true}"#).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.error().1.as_deref(), Some("extra"), "{}", reply.text());

    let reply = admin.push(r#"{"source": "rum"}"#).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.error().0.contains("missing field `measurements`"), "{}", reply.text());
    assert!(admin.received().is_empty());
    admin.stop().await;
}

#[tokio::test]
async fn unknown_cdn_is_named_with_the_known_ones() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    let reply = admin.push(&batch(&[measurement("akamai", 10, 0), measurement("limelight", 10, 0)])).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let (error, field) = reply.error();
    assert_eq!(field.as_deref(), Some("measurements[1].cdn"));
    assert!(error.contains("limelight") && error.contains("akamai, cloudfront, edgio, fastly"), "{error}");
    assert!(admin.received().is_empty());
    admin.stop().await;
}

#[tokio::test]
async fn out_of_range_values_name_the_field() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    let cases = [
        (measurement("akamai", 10, 11), "measurements[0].errors"),
        (measurement("akamai", 0, 0), "measurements[0].requests"),
        (r#"{"cdn": "akamai", "region": "KR", "requests": 10, "errors": 0, "cache_hits": 11}"#.to_string(), "measurements[0].cache_hits"),
        (r#"{"cdn": "akamai", "region": "country:KRR", "requests": 10, "errors": 0}"#.to_string(), "measurements[0].region"),
        (r#"{"cdn": "akamai", "region": "KR", "requests": 10, "errors": 0, "throughput_mbps": -2.5}"#.to_string(), "measurements[0].throughput_mbps"),
        (r#"{"cdn": "akamai", "region": "KR", "requests": 10, "errors": 0, "window_secs": 0}"#.to_string(), "measurements[0].window_secs"),
        (r#"{"cdn": "akamai", "region": "KR", "requests": 10, "errors": -1}"#.to_string(), "measurements[0].errors"),
    ];
    for (m, want) in cases {
        let reply = admin.push(&batch(std::slice::from_ref(&m))).await;
        assert_eq!(reply.status, 400, "{m}: {}", reply.text());
        assert_eq!(reply.error().1.as_deref(), Some(want), "{m}: {}", reply.text());
    }
    let reply = admin.push(r#"{"source": "bad source!", "measurements": []}"#).await;
    assert_eq!((reply.status, reply.error().1.as_deref()), (400, Some("source")), "{}", reply.text());
    let reply = admin.push(r#"{"source": "rum", "measurements": []}"#).await;
    assert_eq!((reply.status, reply.error().1.as_deref()), (400, Some("measurements")), "{}", reply.text());
    assert!(admin.received().is_empty());
    admin.stop().await;
}

#[tokio::test]
async fn one_bad_measurement_rejects_the_whole_batch() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    let mut ms: Vec<String> = (0..99).map(|i| measurement(["akamai", "fastly"][i % 2], 100, 1)).collect();
    ms.push(measurement("akamai", 5, 6));
    let reply = admin.push(&batch(&ms)).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.error().1.as_deref(), Some("measurements[99].errors"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(admin.received().is_empty(), "nothing of a rejected batch may arrive");

    // The same batch without the bad element goes through whole.
    ms.pop();
    let reply = admin.push(&batch(&ms)).await;
    assert_eq!((reply.status, reply.json()), (202, serde_json::json!({"accepted": 99})));
    assert_eq!(admin.received().len(), 99);
    admin.stop().await;
}

#[tokio::test]
async fn too_many_measurements_are_refused() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    let m = r#"{"cdn":"akamai","region":"KR","requests":1,"errors":0}"#;
    let body = format!(r#"{{"source":"rum","measurements":[{}]}}"#, vec![m; 10_001].join(","));
    assert!(body.len() < admin::MAX_BODY_BYTES);
    let reply = admin.push(&body).await;
    assert_eq!((reply.status, reply.error().1.as_deref()), (400, Some("measurements")), "{}", reply.text());
    assert!(admin.received().is_empty());
    admin.stop().await;
}

#[tokio::test]
async fn oversized_body_is_413() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    // Valid JSON, padded with whitespace past the limit.
    let mut body = batch(&[measurement("akamai", 10, 0)]).into_bytes();
    body.resize(admin::MAX_BODY_BYTES + 1, b' ');
    let auth = format!("Bearer {TOKEN}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    for body in [Body::Fixed(body.clone()), Body::Chunked(body)] {
        let reply = request(admin.addr, "POST", "/api/v1/telemetry", &headers, body).await;
        assert_eq!(reply.status, 413, "{}", reply.text());
        assert!(reply.error().0.contains("1 MiB"), "{}", reply.text());
    }
    // Exactly at the limit is fine.
    let mut body = batch(&[measurement("akamai", 10, 0)]).into_bytes();
    body.resize(admin::MAX_BODY_BYTES, b' ');
    let reply = request(admin.addr, "POST", "/api/v1/telemetry", &headers, Body::Chunked(body)).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(admin.received().len(), 1);
    admin.stop().await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    let auth = format!("Bearer {TOKEN}");
    let body = batch(&[measurement("akamai", 10, 0)]).into_bytes();
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut headers = vec![("Authorization", auth.as_str())];
        headers.extend(content_type.map(|c| ("Content-Type", c)));
        let reply = request(admin.addr, "POST", "/api/v1/telemetry", &headers, Body::Fixed(body.clone())).await;
        assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.text());
        assert!(reply.error().0.contains("application/json"), "{}", reply.text());
    }
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json; charset=utf-8")];
    let reply = request(admin.addr, "POST", "/api/v1/telemetry", &headers, Body::Fixed(body)).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(admin.received().len(), 1);
    admin.stop().await;
}

#[tokio::test]
async fn stopped_health_engine_is_503() {
    let mut admin = Admin::start(Some(TOKEN)).await;
    admin.rx.close();
    let reply = admin.push(&batch(&[measurement("akamai", 10, 0)])).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    admin.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The `admin:` block of the daemon config.

fn load(dir: &Path, text: &str, flags: &Flags) -> Result<Config, cdnsteer::diag::LoadError> {
    let path = dir.join("cdnsteer.yaml");
    std::fs::write(&path, text).expect("write config");
    Config::load(Some(&path), flags)
}

#[test]
fn admin_config_defaults_file_and_overrides() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = Config::load(None, &Flags::default()).expect("defaults");
    assert_eq!((c.admin_listen, c.admin_tokens.is_empty()), (Some(DEFAULT_ADMIN_LISTEN), true));
    assert_eq!(DEFAULT_ADMIN_LISTEN.to_string(), "127.0.0.1:8053");

    let token = dir.path().join("admin.token");
    std::fs::write(&token, format!("  {TOKEN}\n")).expect("write token");
    let text = format!("version: 1\nadmin:\n  listen: \"[::1]:9053\"\n  token_file: {}\n", token.display());
    let c = load(dir.path(), &text, &Flags::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.admin_listen, Some("[::1]:9053".parse().expect("addr")));
    assert_eq!(c.admin_tokens, [NamedToken { name: "admin".into(), token: TOKEN.into() }]);
    assert!(!format!("{c:?}").contains(TOKEN), "Debug must not print the token");

    let c = load(dir.path(), "version: 1\nadmin: {listen: off}\n", &Flags::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.admin_listen, None);

    // The command line wins: a listener back on, and another token file.
    let other = dir.path().join("other.token");
    std::fs::write(&other, "# the NOC's tokens\nnoc other-token\nci ci-token-123\n").expect("write token");
    let flags = Flags {
        admin_listen: Some("127.0.0.1:0".parse::<AdminListen>().expect("addr")),
        admin_token_file: Some(other),
        ..Flags::default()
    };
    let c = load(dir.path(), &text, &flags).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.admin_listen, Some("127.0.0.1:0".parse().expect("addr")));
    assert_eq!(c.admin_tokens.iter().map(|t| (t.name.as_str(), t.token.as_str())).collect::<Vec<_>>(), [("noc", "other-token"), ("ci", "ci-token-123")]);
    assert_eq!("off".parse::<AdminListen>(), Ok(AdminListen::Off));
    assert!("nowhere".parse::<AdminListen>().is_err());
}

#[test]
fn admin_config_problems_are_located() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.token");
    std::fs::write(&empty, " \n").expect("write token");
    let missing = dir.path().join("missing.token");
    let text = format!("version: 1\nadmin:\n  listen: nowhere\n  token_file: {}\n", empty.display());
    let err = load(dir.path(), &text, &Flags::default()).expect_err("bad admin block");
    let got: Vec<(Code, u64, &str)> = err.diagnostics.iter().map(|d| (d.code, d.pos.line, d.path.as_str())).collect();
    assert_eq!(got, [(Code::InvalidSetting, 3, "admin.listen"), (Code::InvalidSetting, 4, "admin.token_file")], "{err}");
    assert!(err.diagnostics.iter().all(|d| d.file == dir.path().join("cdnsteer.yaml")), "{err}");
    assert!(err.diagnostics[1].message.contains("is empty"), "{err}");

    let text = format!("version: 1\nadmin: {{token_file: {}}}\n", missing.display());
    let err = load(dir.path(), &text, &Flags::default()).expect_err("missing token file");
    assert_eq!((err.diagnostics[0].code, err.diagnostics[0].pos.line), (Code::InvalidSetting, 2), "{err}");
    assert!(err.diagnostics[0].message.contains("cannot read admin token file"), "{err}");

    let err = load(dir.path(), "version: 1\nadmin: {port: 8053}\n", &Flags::default()).expect_err("unknown key");
    assert_eq!((err.diagnostics[0].code, err.diagnostics[0].path.as_str()), (Code::UnknownKey, "admin.port"), "{err}");

    let flags = Flags { admin_token_file: Some(missing.clone()), ..Flags::default() };
    let err = Config::load(None, &flags).expect_err("missing token file on the command line");
    assert_eq!((err.diagnostics[0].code, err.diagnostics[0].path.as_str()), (Code::InvalidSetting, "--admin-token-file"), "{err}");
    assert_eq!(err.diagnostics[0].file, missing);
}
