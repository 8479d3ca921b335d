//! The live dashboard: the page and its embedded assets, the backfill, the server-sent event
//! stream (named events, row ids, `Last-Event-ID` resuming exactly, across a restart with the
//! history; a reset without it), and the page itself in a real browser: Debian's chromium
//! driven by playwright-core (`tests/browser/dashboard.mjs`) against the real server with CDN
//! stand-ins, telemetry and DNS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cdnsteer::config::{Config, NamedToken};
use cdnsteer::daemon::StartOptions;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::admin::{Body, request};
use crate::harness::{TestServer, bundled_geoip, repo, start_in};
use crate::standin::{Mode, StandIn};

const TOKEN: &str = "dashboard-test-token";
const BODY: usize = 16 * 1024;

fn with_token(config: &mut Config) {
    config.admin_tokens = vec![NamedToken { name: "test".into(), token: TOKEN.into() }];
}

/// The bundled zone's steered name (four CDNs; KR, JP, the rest of Asia, default) with fast
/// health settings and probes of the stand-ins given as (cdn, region, url).
fn zone(probes: &[(&str, &str, String)]) -> String {
    let mut p = String::new();
    for (cdn, region, url) in probes {
        p.push_str(&format!("    - {{cdn: {cdn}, region: {region}, vantage: {region}-{cdn}, url: \"{url}\", interval_secs: 0.5, timeout_ms: 400, expect_bytes: {BODY}}}\n"));
    }
    let probes = if p.is_empty() { "  probes: []\n".to_string() } else { format!("  probes:\n{p}") };
    format!(
        r#"version: 1
zone: example.com
soa: {{primary: ns1.example.com., contact: hostmaster.example.com., serial: 1}}
records:
  - {{name: "@", type: NS, value: ns1.example.com.}}
steered:
  live:
    ttl: 20
    last_resort: akamai
    cdns: {{akamai: {{target: akamai.cdn.test}}, fastly: {{target: fastly.cdn.test}}, cloudfront: {{target: cloudfront.cdn.test}}, edgio: {{target: edgio.cdn.test}}}}
    regions:
      countries:
        KR: {{akamai: 40, cloudfront: 35, fastly: 25}}
        JP: {{akamai: 50, fastly: 50}}
      continents:
        AS: {{cloudfront: 60, akamai: 40}}
      default: {{fastly: 40, cloudfront: 30, akamai: 15, edgio: 15}}
health:
  tick_ms: 200
  staleness_secs: 5
  smoothing_half_life_secs: 0.4
  thresholds: {{down: 40, up: 70, up_hold_secs: 2}}
  shares: {{max_change_per_tick: 0.25, min_dwell_secs: 1, min_warm_share: 0, fast_ttl_secs: 5, fail_open_ttl_secs: 7}}
{probes}"#
    )
}

/// An event window that is live now (72 minutes in, two hours to go), so the page's clock runs.
fn live_event(dir: &Path) {
    let now = cdnsteer::clock::Clock::new().now();
    let text = format!(
        "version: 1\nevent: final\ncustomer: Example Broadcasting\nstart: {}\nend: {}\nnames: [live.example.com]\nfreeze: true\n",
        cdnsteer::timestamp::rfc3339(now - 72 * 60_000),
        cdnsteer::timestamp::rfc3339(now + 2 * 3_600_000)
    );
    std::fs::create_dir_all(dir).expect("events dir");
    std::fs::write(dir.join("final.yaml"), text).expect("event file");
}

async fn start(zones: &Path, state: tempfile::TempDir, history: bool) -> TestServer {
    start_in(
        zones,
        &bundled_geoip(),
        state,
        |c| {
            with_token(c);
            c.history.enabled = history;
            c.events = zones.join("events");
        },
        StartOptions::default(),
    )
    .await
}

fn zones_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("zones dir");
    std::fs::write(dir.path().join("example.com.yaml"), text).expect("zone");
    dir
}

/// One telemetry window per candidate of KR, JP and default, with viewers and rebuffering;
/// `bad` makes cloudfront in KR fail (as its stand-in does).
fn telemetry(bad: bool) -> String {
    let regions: [(&str, &[&str], u64); 3] = [("KR", &["akamai", "cloudfront", "fastly"], 1_200_000), ("JP", &["akamai", "fastly"], 260_000), ("default", &["fastly", "cloudfront", "akamai", "edgio"], 180_000)];
    let mut m = Vec::new();
    for (region, cdns, viewers) in regions {
        for cdn in cdns {
            let sick = bad && region == "KR" && *cdn == "cloudfront";
            let (errors, ttfb, rebuffer) = if sick { (400, 950, 0.06) } else { (5, 90, 0.003) };
            m.push(format!(
                r#"{{"cdn": "{cdn}", "region": "{region}", "window_secs": 1, "requests": 5000, "errors": {errors}, "ttfb_ms": {{"p50": {ttfb}}}, "throughput_mbps": {thr}, "cache_hits": 4850, "viewers": {v}, "rebuffer_ratio": {rebuffer}}}"#,
                thr = if sick { 3.5 } else { 22.0 },
                v = viewers / cdns.len() as u64
            ));
        }
    }
    format!(r#"{{"source": "players", "measurements": [{}]}}"#, m.join(","))
}

async fn push(admin: SocketAddr, bad: bool) -> u16 {
    let auth = format!("Bearer {TOKEN}");
    request(admin, "POST", "/api/v1/telemetry", &[("Content-Type", "application/json"), ("Authorization", &auth)], Body::Fixed(telemetry(bad).into_bytes())).await.status
}

/// An open event stream, read message by message.
struct Stream {
    reader: BufReader<TcpStream>,
}

/// One server-sent event.
#[derive(Debug, Clone)]
struct Message {
    id: Option<u64>,
    event: String,
    data: String,
}

impl Stream {
    async fn open(admin: SocketAddr, query: &str, last_event_id: Option<u64>) -> Stream {
        let mut s = TcpStream::connect(admin).await.expect("connect");
        let mut head = format!("GET /api/v1/stream?{query} HTTP/1.1\r\nHost: admin.test\r\nAccept: text/event-stream\r\n");
        if let Some(id) = last_event_id {
            head.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await.expect("write");
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("status line");
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        let mut chunked = false;
        loop {
            line.clear();
            reader.read_line(&mut line).await.expect("header");
            let l = line.trim().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if l.starts_with("content-type:") {
                assert!(l.contains("text/event-stream"), "{l}");
            }
            chunked |= l == "transfer-encoding: chunked";
        }
        assert!(chunked, "a stream is sent in chunks");
        Stream { reader }
    }

    /// The next message (chunk framing skipped: every chunk is whole messages), within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Message> {
        let read = async {
            let mut msg = Message { id: None, event: String::new(), data: String::new() };
            let mut line = String::new();
            loop {
                line.clear();
                if self.reader.read_line(&mut line).await.ok()? == 0 {
                    return None;
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if let Some(v) = l.strip_prefix("id: ") {
                    msg.id = v.parse().ok();
                } else if let Some(v) = l.strip_prefix("event: ") {
                    msg.event = v.to_string();
                } else if let Some(v) = l.strip_prefix("data: ") {
                    msg.data.push_str(v);
                } else if l.is_empty() && !msg.event.is_empty() {
                    return Some(msg);
                }
                // Chunk sizes, `retry:` and `: keep-alive` comments are skipped.
            }
        };
        tokio::time::timeout(wait, read).await.ok().flatten()
    }

    /// Messages until one of `event` arrives (or `wait` passes).
    async fn until(&mut self, event: &str, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next(left).await {
                Some(m) if m.event == event => return Some(m),
                Some(_) => {}
                None => return None,
            }
        }
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_from_the_binary_with_a_strict_policy() {
    let zones = zones_dir(&zone(&[]));
    let s = start(zones.path(), tempfile::tempdir().expect("state"), false).await;
    let admin = s.running.admin.expect("admin");
    let page = request(admin, "GET", "/dashboard", &[], Body::Fixed(Vec::new())).await;
    assert_eq!(page.status, 200);
    let text = String::from_utf8_lossy(&page.body).into_owned();
    assert!(text.contains("<title>cdnsteer dashboard</title>") && text.contains("dashboard/assets/uPlot.iife.min.js"), "{text}");
    for asset in ["dashboard.js", "dashboard.css", "uPlot.iife.min.js", "uPlot.min.css", "uPlot-LICENSE.txt"] {
        let r = request(admin, "GET", &format!("/dashboard/assets/{asset}"), &[], Body::Fixed(Vec::new())).await;
        assert_eq!(r.status, 200, "{asset}");
        assert!(!r.body.is_empty(), "{asset}");
    }
    let licence = request(admin, "GET", "/dashboard/assets/uPlot-LICENSE.txt", &[], Body::Fixed(Vec::new())).await;
    assert!(String::from_utf8_lossy(&licence.body).contains("MIT License"));
    assert_eq!(request(admin, "GET", "/dashboard/assets/nope.js", &[], Body::Fixed(Vec::new())).await.status, 404);
    // Reads need no token; a bad query names its field; an unknown name is 404.
    let ok = request(admin, "GET", "/api/v1/dashboard?window=5m", &[], Body::Fixed(Vec::new())).await;
    assert_eq!(ok.status, 200);
    let v: Value = serde_json::from_slice(&ok.body).expect("JSON");
    assert_eq!(v["name"], "live.example.com.");
    assert_eq!(v["plan"]["cdns"].as_array().map(Vec::len), Some(4));
    assert_eq!(v["backfill"]["series"].as_array().map(Vec::len), Some(4));
    assert_eq!(v["backfill"]["step_ms"], 2000);
    assert_eq!(v["source"]["kind"], "memory");
    let bad = request(admin, "GET", "/api/v1/dashboard?window=1s", &[], Body::Fixed(Vec::new())).await;
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).contains("\"field\":\"window\""));
    assert_eq!(request(admin, "GET", "/api/v1/dashboard?name=www.example.com", &[], Body::Fixed(Vec::new())).await.status, 404);
    assert_eq!(request(admin, "GET", "/api/v1/dashboard?region=FR", &[], Body::Fixed(Vec::new())).await.status, 404);
    let kr = request(admin, "GET", "/api/v1/dashboard?region=KR", &[], Body::Fixed(Vec::new())).await;
    let v: Value = serde_json::from_slice(&kr.body).expect("JSON");
    assert_eq!(v["backfill"]["focus"], "country:KR");
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_resumes_exactly_after_its_last_id_even_across_a_restart() {
    let zones = zones_dir(&zone(&[]));
    let s = start(zones.path(), tempfile::tempdir().expect("state"), true).await;
    let admin = s.running.admin.expect("admin");
    let mut stream = Stream::open(admin, "name=live.example.com", None).await;
    let hello = stream.next(Duration::from_secs(5)).await.expect("hello");
    assert_eq!(hello.event, "hello");
    let h: Value = serde_json::from_str(&hello.data).expect("hello JSON");
    assert_eq!(h["source"]["kind"], "history");
    assert_eq!(h["source"]["resumable_across_restart"], true);
    assert!(stream.until("plan", Duration::from_secs(5)).await.is_some(), "the plan follows hello");
    // Telemetry arrives: rows come with their ids, in order, within two seconds.
    let pushed = Instant::now();
    assert_eq!(push(admin, false).await, 202);
    let qoe = stream.until("qoe", Duration::from_secs(5)).await.expect("viewer experience rows");
    eprintln!("telemetry push -> qoe event: {:?}", pushed.elapsed());
    assert!(pushed.elapsed() < Duration::from_secs(2), "took {:?}", pushed.elapsed());
    let rows: Value = serde_json::from_str(&qoe.data).expect("rows");
    let ids: Vec<u64> = rows.as_array().expect("array").iter().filter_map(|r| r["id"].as_u64()).collect();
    assert!(!ids.is_empty() && ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(qoe.id, ids.last().copied(), "a message carries its last row's id");
    let resume_at = qoe.id.expect("id");
    // More rows after the resume point, while no page is connected.
    drop(stream);
    assert_eq!(push(admin, true).await, 202);
    s.running.history().flush(Duration::from_secs(5)).expect("history flushed");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let TestServer { running, _state: state, .. } = s;
    running.shutdown().await;

    // A restart on the same state: the browser's Last-Event-ID still means the same row.
    let s = start(zones.path(), state, true).await;
    let admin = s.running.admin.expect("admin");
    let mut stream = Stream::open(admin, "name=live.example.com", Some(resume_at)).await;
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let Some(m) = stream.next(Duration::from_secs(1)).await else { break };
        if let Some(id) = m.id {
            let rows: Value = serde_json::from_str(&m.data).expect("rows");
            for r in rows.as_array().expect("array") {
                seen.push((r["id"].as_u64().unwrap_or(0), r["type"].as_str().unwrap_or("").to_string(), r["errors"].as_u64()));
            }
            assert_eq!(Some(id), seen.last().map(|s| s.0));
        }
        if seen.iter().any(|(_, t, e)| t == "signal" && e.is_some_and(|e| e >= 400)) {
            break;
        }
    }
    assert!(seen.first().is_some_and(|(id, _, _)| *id > resume_at), "resumed after {resume_at}: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "in order, each once: {seen:?}");
    assert!(seen.iter().any(|(_, t, e)| t == "signal" && e.is_some_and(|e| e >= 400)), "the rows written before the restart, after the resume point, came: {seen:?}");
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_history_an_id_from_another_process_resets_the_page() {
    let zones = zones_dir(&zone(&[]));
    let s = start(zones.path(), tempfile::tempdir().expect("state"), false).await;
    let admin = s.running.admin.expect("admin");
    let mut stream = Stream::open(admin, "name=live.example.com", Some(5)).await;
    let hello = stream.next(Duration::from_secs(5)).await.expect("hello");
    assert!(hello.data.contains("\"kind\":\"memory\"") && hello.data.contains("\"resumable_across_restart\":false"), "{}", hello.data);
    assert!(stream.until("reset", Duration::from_secs(5)).await.is_some(), "a page with an id this process never gave is told to load its backfill again");
    // A fresh page follows live rows with ids this process gives.
    let mut stream = Stream::open(admin, "name=live.example.com", None).await;
    assert_eq!(push(admin, false).await, 202);
    let qoe = stream.until("qoe", Duration::from_secs(5)).await.expect("rows from memory");
    assert!(qoe.id.is_some_and(|id| id > 1_000_000_000), "{qoe:?}");
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_database_that_cannot_be_opened_leaves_the_dashboard_on_memory() {
    let zones = zones_dir(&zone(&[]));
    let state = tempfile::tempdir().expect("state");
    // A directory where the database file should be: the writer cannot open it.
    std::fs::create_dir(state.path().join(cdnsteer::history::DB_FILE)).expect("in the way");
    let s = start(zones.path(), state, true).await;
    let admin = s.running.admin.expect("admin");
    let mut stream = Stream::open(admin, "name=live.example.com", None).await;
    let hello = stream.next(Duration::from_secs(5)).await.expect("hello");
    assert!(hello.data.contains("\"kind\":\"memory\""), "{}", hello.data);
    let backfill = request(admin, "GET", "/api/v1/dashboard?name=live.example.com&window=5m", &[], Body::Fixed(Vec::new())).await;
    assert_eq!(backfill.status, 200, "the backfill comes from memory, not a 503");
    assert_eq!(push(admin, false).await, 202);
    assert!(stream.until("qoe", Duration::from_secs(5)).await.is_some(), "live rows from memory");
    s.running.shutdown().await;
}

/// What the browser test needs, or why it cannot run here.
fn browser_prerequisites() -> Result<(PathBuf, PathBuf), String> {
    let dir = repo().join("tests/browser");
    let chromium = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return Err(format!("{} not found (apt-get install chromium chromium-driver; .ci/run does)", chromium.display()));
    }
    match std::process::Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("node not found (Node.js 20 or later)".into()),
    }
    if !dir.join("node_modules/playwright-core/package.json").exists() {
        return Err(format!("{} has no node_modules (run `npm ci` there; .ci/run does)", dir.display()));
    }
    Ok((dir, chromium))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser_follows_a_fault_annotates_and_drains_what_dns_answers() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let (dir, chromium) = match browser_prerequisites() {
        Ok(found) => found,
        Err(why) => {
            eprintln!("\n==================================================================");
            eprintln!("SKIPPED: the dashboard browser test did not run: {why}");
            eprintln!("==================================================================\n");
            return;
        }
    };
    // Stand-ins for every CDN of KR and of the default region; probes every 500 ms.
    let edges: Vec<(&str, &str, StandIn)> = [("akamai", "KR"), ("fastly", "KR"), ("cloudfront", "KR"), ("akamai", "default"), ("fastly", "default"), ("cloudfront", "default"), ("edgio", "default")]
        .into_iter()
        .enumerate()
        .map(|(i, (cdn, region))| {
            let s = StandIn::start(&format!("127.0.0.{}", i + 2));
            s.set_body_len(BODY);
            (cdn, region, s)
        })
        .collect();
    let probes: Vec<(&str, &str, String)> = edges.iter().map(|(c, r, s)| (*c, *r, s.url())).collect();
    let zones = zones_dir(&zone(&probes));
    live_event(&zones.path().join("events"));
    let s = start(zones.path(), tempfile::tempdir().expect("state"), true).await;
    let admin = s.running.admin.expect("admin");
    let dns = s.udp;
    // Players report every second; when cloudfront fails in KR, so do its viewers.
    let sick = Arc::new(AtomicBool::new(false));
    let stop = tokio_util::sync::CancellationToken::new();
    let pusher = {
        let (sick, stop) = (Arc::clone(&sick), stop.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                push(admin, sick.load(Ordering::Relaxed)).await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.cancelled() => {}
                }
            }
        })
    };
    // A little traffic, so the answers chart and the audience have something.
    let load = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.is_cancelled() {
                let subnet = if i.is_multiple_of(3) { format!("133.242.{}.0/24", i % 250) } else { format!("211.234.{}.0/24", i % 250) };
                let ask = crate::harness::Ask::new("live.example.com.", hickory_proto::rr::RecordType::A).ecs(&subnet);
                let _ = crate::harness::udp_raw(dns, &ask.bytes(), Duration::from_millis(500)).await;
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // Warm up: probes and telemetry scored, a little history to draw.
    tokio::time::sleep(Duration::from_secs(6)).await;

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("dashboard.mjs"))
        .arg(format!("http://{admin}"))
        .arg(dns.to_string())
        .arg(TOKEN)
        .arg(&shot)
        .env("CHROMIUM", &chromium)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut err = child.stderr.take().expect("stderr");
    let mut result = None;
    let run = async {
        while let Ok(Some(line)) = out.next_line().await {
            eprintln!("browser | {line}");
            if let Some(r) = line.strip_prefix("@@ result ") {
                result = serde_json::from_str::<Value>(r).ok();
            } else if let Some(req) = line.strip_prefix("@@ degrade ") {
                assert_eq!(req, "cloudfront country:KR", "the only fault the script asks for");
                if let Some((_, _, edge)) = edges.iter().find(|(c, r, _)| *c == "cloudfront" && *r == "KR") {
                    edge.set(Mode::Status(503));
                }
                sick.store(true, Ordering::Relaxed);
                stdin.write_all(b"ok\n").await.expect("answer the script");
            }
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(180), run).await;
    let mut stderr = String::new();
    let _ = err.read_to_string(&mut stderr).await;
    let status = child.wait().await.expect("node exits");
    stop.cancel();
    let _ = tokio::join!(pusher, load);
    assert!(finished.is_ok(), "the browser test took more than 3 minutes\n{stderr}");
    assert!(status.success(), "the browser test failed ({status}):\n{stderr}");
    let result = result.expect("the script reports its result");
    eprintln!("dashboard: fault -> on screen {} ms; plan published -> on screen {} ms; drain click -> DNS {} ms; screenshot {}", result["fault_to_screen_ms"], result["plan_to_screen_ms"], result["drain_to_dns_ms"], shot.display());
    assert!(shot.exists());

    s.running.shutdown().await;
}
