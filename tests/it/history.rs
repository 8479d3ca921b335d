//! History on the real server: telemetry (with QoE), an override, an annotation, a reload and
//! steered answers are read back through the read API after a restart on the same state
//! directory, with ids that keep increasing; injected write errors (and, where the test may
//! mount a tmpfs, a really full disk, on the real binary) leave DNS answering and `/ready` at
//! 200 while the metric and the log say history is degraded, and writing resumes after.
//! Waits are bounded polls; nothing is asserted against a clock.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cdnsteer::admin::client::call;
use cdnsteer::daemon::StartOptions;
use cdnsteer::history::read::{AnswerGroup, Buckets, Filter, HistoryItem, Window};
use cdnsteer::history::store::{Faults, Faulty};
use cdnsteer::history::{EventKind, HistoryReader, SqliteStorage};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::harness::{Ask, TestServer, bundled_geoip, repo, start_in, udp, udp_raw};
use crate::operations::{admin_url, post, token};

fn telemetry(fastly_errors: u64) -> Value {
    let m = |cdn: &str, errors: u64, viewers: u64| {
        json!({"cdn": cdn, "region": "KR", "window_secs": 10, "requests": 10000, "errors": errors, "ttfb_ms": {"p50": 80, "p95": 210, "p99": 400},
               "throughput_mbps": 30.0, "cache_hits": 9800, "delivered_gbps": 40.0, "viewers": viewers, "startup_ms": {"p50": 900, "p95": 2400},
               "rebuffer_ratio": 0.012, "playback_failures": 4, "exits_before_start": 2})
    };
    json!({"source": "rum-kr", "measurements": [m("akamai", 0, 50000), m("cloudfront", 0, 40000), m("fastly", fastly_errors, 30000)]})
}

async fn get(url: &str, path: &str) -> (u16, String) {
    call(url, "GET", path, None, None).await.expect("admin API")
}

/// A metric's value (first series whose line starts with `prefix`).
async fn metric(url: &str, prefix: &str) -> Option<f64> {
    let (status, text) = get(url, "/metrics").await;
    assert_eq!(status, 200);
    text.lines().find_map(|l| l.strip_prefix(prefix)).and_then(|v| v.trim().parse().ok())
}

/// Poll `what` until it holds (at most `tries` x 100 ms).
async fn until<F, Fut>(tries: u32, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..tries {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not seen after {tries} tries");
}

async fn start(state: tempfile::TempDir, options: StartOptions) -> TestServer {
    start_in(&repo().join("zones"), &bundled_geoip(), state, |c| c.history.answers_interval_ms = 1000, options).await
}

fn db(s: &TestServer) -> PathBuf {
    s._state.path().join(cdnsteer::history::DB_FILE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_read_back_after_a_restart() {
    let state = tempfile::tempdir().expect("state");
    let s = start(state, StartOptions::default()).await;
    let (url, tok) = (admin_url(&s), token(&s));
    let (status, body) = post(&url, "/api/v1/telemetry", &tok, telemetry(0)).await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = post(&url, "/api/v1/telemetry", &tok, telemetry(3000)).await;
    assert_eq!(status, 202, "{body}");
    let (status, added) =
        post(&url, "/api/v1/overrides", &tok, json!({"kind": "drain", "name": "live.example.com", "region": "JP", "cdn": "fastly", "expires_in": "1h", "author": "alice", "reason": "ticket 42"})).await;
    assert_eq!(status, 201, "{added}");
    let (status, note) = post(&url, "/api/v1/annotations", &tok, json!({"text": "kickoff", "author": "alice"})).await;
    assert_eq!(status, 201, "{note}");
    let note_id = note["id"].as_i64().expect("annotation id");
    let (status, bad) = post(&url, "/api/v1/annotations", &tok, json!({"text": "", "author": "alice"})).await;
    assert_eq!((status, bad["field"].as_str()), (400, Some("text")), "{bad}");
    let (status, bad) = post(&url, "/api/v1/annotations", &tok, json!({"text": "x", "author": "alice", "colour": "red"})).await;
    assert_eq!((status, bad["field"].as_str()), (400, Some("colour")), "{bad}");
    let (status, _) = call(&url, "POST", "/api/v1/annotations", None, Some(json!({"text": "x", "author": "a"}).to_string())).await.expect("call");
    assert_eq!(status, 401);
    // The engine has taken the telemetry (fastly drained in KR) before anything else happens:
    // on a loaded machine its tick may come a while after the push.
    until(200, "fastly drained in KR", || {
        let url = url.clone();
        async move {
            let (_, body) = get(&url, "/api/v1/explain?name=live.example.com&ecs=211.234.10.0/24").await;
            serde_json::from_str::<serde_json::Value>(&body).is_ok_and(|e| {
                e["candidates"].as_array().is_some_and(|c| c.iter().any(|c| c["cdn"] == "fastly" && c["share"] == json!(0.0)))
            })
        }
    })
    .await;
    let (status, reloaded) = post(&url, "/api/v1/reload", &tok, json!({})).await;
    assert_eq!(status, 200, "{reloaded}");
    // Steered answers for KR clients, counted at the next interval.
    for i in 0..20u8 {
        let m = udp(s.udp, &Ask::new("live.example.com.", RecordType::A).ecs(&format!("211.234.{i}.0/24"))).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    }
    let path = db(&s);
    until(100, "answers in the history", || {
        let path = path.clone();
        async move {
            let Ok(r) = HistoryReader::open(&path) else { return false };
            r.answers(Buckets { from: 0, to: u64::MAX / 2, step_ms: u64::MAX / 4 }, &Filter::default(), AnswerGroup::Cdn).is_ok_and(|a| a.iter().map(|a| a.answers).sum::<u64>() >= 20)
        }
    })
    .await;
    let (status, listed) = get(&url, "/api/v1/annotations").await;
    assert_eq!(status, 200);
    assert!(listed.contains("\"kickoff\""), "{listed}");
    let before_restart = HistoryReader::open(&path).expect("reader").last_id().expect("last id");
    assert!(before_restart >= note_id);

    // Restart on the same state directory.
    let state = {
        let TestServer { running, _state, .. } = s;
        running.shutdown().await;
        _state
    };
    let s = start(state, StartOptions::default()).await;
    let url = admin_url(&s);
    let (status, listed) = get(&url, "/api/v1/annotations").await;
    assert_eq!(status, 200);
    assert!(listed.contains("\"kickoff\""), "the annotation survives the restart: {listed}");
    s.running.history().flush(Duration::from_secs(20)).expect("flush");

    let r = HistoryReader::open(&db(&s)).expect("reader");
    let all = Window { from: 0, to: u64::MAX / 2 };
    let events = r.events(all, &[], 1000).expect("events");
    let of = |k: EventKind| events.iter().filter(|e| e.kind == k).collect::<Vec<_>>();
    assert!(of(EventKind::Decision).iter().any(|e| e.region.as_deref() == Some("country:KR") && e.name.as_deref() == Some("live.example.com.")), "{events:#?}");
    let overrides = of(EventKind::Override);
    assert_eq!(overrides.len(), 1, "{overrides:#?}");
    assert_eq!((overrides[0].who.as_deref(), overrides[0].region.as_deref()), (Some("local"), Some("country:JP")));
    assert_eq!(overrides[0].data.as_ref().and_then(|d| d["author"].as_str()), Some("alice"));
    let notes = of(EventKind::Annotation);
    assert_eq!((notes.len(), notes[0].id, notes[0].text.as_str(), notes[0].who.as_deref()), (1, note_id, "kickoff", Some("alice")));
    let reloads = of(EventKind::Reload);
    assert!(reloads.iter().any(|e| e.who.as_deref() == Some("local") && e.data.as_ref().is_some_and(|d| d["ok"] == json!(true))), "{reloads:#?}");
    // Signals and QoE from the telemetry.
    let kr = Filter { region: Some("country:KR".into()), ..Filter::default() };
    let sig = r.signals(Buckets { from: 0, to: u64::MAX / 2, step_ms: u64::MAX / 4 }, &kr).expect("signals");
    let fastly = sig.iter().find(|b| b.cdn == "fastly").expect("fastly in KR");
    assert_eq!((fastly.requests, fastly.errors), (20_000, 3000));
    let qoe = r.qoe(Buckets { from: 0, to: u64::MAX / 2, step_ms: u64::MAX / 4 }, &kr).expect("qoe");
    let akamai = qoe.iter().find(|q| q.cdn == "akamai").expect("akamai QoE");
    assert_eq!((akamai.windows, akamai.viewers, akamai.playback_failures), (2, Some(50_000.0), 8));
    // Shares: fastly in KR drained by health.
    let shares = r.share_changes(all, &Filter { cdn: Some("fastly".into()), region: Some("country:KR".into()), ..Filter::default() }).expect("shares");
    assert!(shares[0].points.iter().any(|p| p.share == 0.0), "{shares:#?}");
    // Ids: everything written after the restart comes after everything before it.
    let after = r.after(before_restart, 10_000).expect("after");
    assert!(!after.is_empty(), "the restarted server wrote (a keyframe at least)");
    assert!(after.iter().all(|i| i.id() > before_restart));
    assert!(after.iter().any(|i| matches!(i, HistoryItem::Share { point, .. } if point.keyframe)));
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_errors_degrade_history_not_dns() {
    let state = tempfile::tempdir().expect("state");
    let faults = Faults::new();
    let storage = SqliteStorage::open(&state.path().join(cdnsteer::history::DB_FILE)).expect("open");
    let s = start(state, StartOptions { history_storage: Some(Box::new(Faulty::new(storage, faults.clone()))) }).await;
    let (url, tok) = (admin_url(&s), token(&s));
    until(50, "history written before the fault", || async { metric(&url, "cdnsteer_history_written_records_total ").await.is_some_and(|v| v > 0.0) }).await;
    assert_eq!(metric(&url, "cdnsteer_history_degraded ").await, Some(0.0));

    faults.fail_writes(true);
    let (status, _) = post(&url, "/api/v1/telemetry", &tok, telemetry(3000)).await;
    assert_eq!(status, 202);
    until(100, "history degraded", || async { metric(&url, "cdnsteer_history_degraded ").await == Some(1.0) }).await;
    // DNS answers and readiness are untouched.
    let mut answered = 0;
    for i in 0..200u32 {
        let ask = Ask::new("live.example.com.", RecordType::A).ecs(&format!("211.234.{}.0/24", i % 256));
        if udp_raw(s.udp, &ask.bytes(), Duration::from_secs(2)).await.is_some() {
            answered += 1;
        }
    }
    assert_eq!(answered, 200);
    let (status, body) = get(&url, "/ready").await;
    assert_eq!((status, body.as_str()), (200, "ready"));
    // An annotation cannot be stored: the operator is told.
    let (status, refused) = post(&url, "/api/v1/annotations", &tok, json!({"text": "during the fault", "author": "alice"})).await;
    assert_eq!(status, 507, "{refused}");
    let written_during = metric(&url, "cdnsteer_history_written_records_total ").await.unwrap_or(0.0);

    faults.fail_writes(false);
    until(150, "history resumed", || async { metric(&url, "cdnsteer_history_degraded ").await == Some(0.0) }).await;
    until(50, "the backlog written", || async { metric(&url, "cdnsteer_history_written_records_total ").await.unwrap_or(0.0) > written_during }).await;
    assert_eq!(metric(&url, "cdnsteer_history_dropped_records_total{reason=\"write_failed\"} ").await, Some(1.0), "the refused annotation is counted");
    // What was sent during the fault was kept and written: the KR telemetry.
    s.running.history().flush(Duration::from_secs(20)).expect("flush");
    let r = HistoryReader::open(&db(&s)).expect("reader");
    let rows = r.signal_rows(Window { from: 0, to: u64::MAX / 2 }, &Filter { cdn: Some("fastly".into()), ..Filter::default() }, 10).expect("rows");
    assert!(rows.iter().any(|r| r.errors == 3000), "{rows:#?}");
    println!("history fault: {} writes refused while degraded, {answered} of 200 queries answered", faults.refused());
    s.running.shutdown().await;
}

/// `cdnsteer serve` as a child process, stderr collected.
struct Child2 {
    child: Child,
    log: Arc<Mutex<String>>,
    udp: SocketAddr,
    admin: String,
}

impl Child2 {
    fn start(state: &Path, token_file: &Path, config: &Path) -> Child2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cdnsteer"))
            .current_dir(repo())
            .args(["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--state-dir")
            .arg(state)
            .arg("--admin-token-file")
            .arg(token_file)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cdnsteer");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().expect("log").push_str(&(line + "\n"));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = log.lock().expect("log").clone();
            if let Some(line) = text.lines().find(|l| l.contains(" serving ") && l.contains("udp=[")) {
                let between = |a: &str, b: &str| line.split(a).nth(1).and_then(|r| r.split(b).next()).unwrap_or_default().to_string();
                let udp = between("udp=[", "]").split(", ").next().and_then(|a| a.parse().ok()).expect("udp address");
                let admin: SocketAddr = between("admin=Some(", ")").parse().expect("admin address");
                return Child2 { child, log, udp, admin: format!("http://{admin}") };
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("cdnsteer exited early ({status}):\n{text}");
            }
            assert!(Instant::now() < deadline, "no `serving` line within 30 s:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }
}

/// A tmpfs mounted for the test, unmounted (and the server killed) on drop.
struct Mounted {
    dir: tempfile::TempDir,
    server: Option<Child2>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_degrades_history_not_dns() {
    let dir = tempfile::tempdir().expect("mount point");
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(dir.path()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("\n*** SKIPPED a_full_disk_degrades_history_not_dns: cannot mount a tmpfs here (needs root and mount permission); the injected-error test covers the same path ***\n");
        return;
    }
    let mut m = Mounted { dir, server: None };
    let state = m.dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let outside = tempfile::tempdir().expect("config dir");
    let token_file = outside.path().join("tokens");
    std::fs::write(&token_file, "noc history-test-token-0123456789\n").expect("token");
    let config = outside.path().join("cdnsteer.yaml");
    std::fs::write(&config, "version: 1\nwatch: false\nhistory:\n  answers_interval: 1s\n  checkpoint_interval: 1s\n").expect("config");
    m.server = Some(Child2::start(&state, &token_file, &config));
    let (udp_addr, url) = {
        let s = m.server.as_ref().expect("server");
        (s.udp, s.admin.clone())
    };
    let push = |body: Value| {
        let url = url.clone();
        async move { call(&url, "POST", "/api/v1/telemetry", Some("history-test-token-0123456789"), Some(body.to_string())).await.expect("push").0 }
    };
    until(100, "history written", || async { metric(&url, "cdnsteer_history_written_records_total ").await.is_some_and(|v| v > 0.0) }).await;
    // Fill the file system.
    let filler = m.dir.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.flush();
        while f.write_all(&block[..512]).is_ok() {}
        let _ = f.sync_all();
    }
    // Keep telemetry coming until a write needs room it cannot get.
    let mut pushes = 0;
    for _ in 0..300 {
        assert_eq!(push(telemetry(pushes % 2 * 3000)).await, 202);
        pushes += 1;
        if metric(&url, "cdnsteer_history_degraded ").await == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = m.server.as_ref().expect("server").log();
    assert_eq!(metric(&url, "cdnsteer_history_degraded ").await, Some(1.0), "never degraded after {pushes} pushes:\n{log}");
    assert!(log.contains("history degraded"), "{log}");
    for i in 0..100u32 {
        let ask = Ask::new("live.example.com.", RecordType::A).ecs(&format!("211.234.{i}.0/24"));
        assert!(udp_raw(udp_addr, &ask.bytes(), Duration::from_secs(2)).await.is_some(), "query {i} unanswered with the disk full");
    }
    assert_eq!(get(&url, "/ready").await.0, 200);
    // Free the space: writing resumes.
    std::fs::remove_file(&filler).expect("remove filler");
    until(150, "history resumed", || async { metric(&url, "cdnsteer_history_degraded ").await == Some(0.0) }).await;
    let log = m.server.as_ref().expect("server").log();
    assert!(log.contains("history writing resumed"), "{log}");
    let dropped = metric(&url, "cdnsteer_history_dropped_records_total{reason=\"write_failed\"} ").await;
    println!("full disk: degraded after {pushes} telemetry pushes; dropped while full: {dropped:?}");
    drop(m);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_from_a_newer_cdnsteer_stops_the_start() {
    let state = tempfile::tempdir().expect("state");
    let path = state.path().join(cdnsteer::history::DB_FILE);
    drop(SqliteStorage::open(&path).expect("create"));
    // What a newer version would have recorded.
    cdnsteer::history::schema::record_version(&path, cdnsteer::history::schema::VERSION + 1).expect("schema version bumped");
    let flags = cdnsteer::config::Flags {
        zones: Some(repo().join("zones")),
        geoip: Some(bundled_geoip()),
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        admin_listen: Some(cdnsteer::config::AdminListen::Off),
        ..cdnsteer::config::Flags::default()
    };
    let mut config = cdnsteer::config::Config::load(None, &flags).expect("config");
    config.state_dir = state.path().to_path_buf();
    config.watch = false;
    let Err(e) = cdnsteer::daemon::start(config).await else { panic!("started on a newer history") };
    let text = e.to_string();
    assert!(text.contains("schema version 2") && text.contains("move the file away"), "{text}");
}

