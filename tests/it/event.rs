//! Events on the real server: a change freeze holds a reload that would change a frozen
//! name's answers (423, the old answers keep serving, status and the metric say so, the audit
//! says who tried), a forced reload applies it, and when the window ends a held change is
//! applied by itself (or dropped once, when it no longer loads). Changes to other names pass;
//! editing the freezing event itself is a frozen change.

use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::harness::{Ask, TestServer, bundled_geoip, cname, udp};
use crate::operations::{admin_url, post, token};

/// The zone with the CDNs of live and vod.
fn zone(live: &str, vod: &str) -> String {
    ZONE.replacen("default: {LIVE: 1}", &format!("default: {{{live}: 1}}"), 1).replacen("default: {VOD: 1}", &format!("default: {{{vod}: 1}}"), 1)
}

const ZONE: &str = r#"
version: 1
zone: example.com
soa: {primary: ns1.example.com., contact: h.example.com., serial: 1}
records:
  - {name: "@", type: NS, value: ns1.example.com.}
  - {name: www, type: A, value: 192.0.2.1}
steered:
  live:
    last_resort: a
    cdns: {a: {target: a.cdn.test}, b: {target: b.cdn.test}}
    regions:
      default: {LIVE: 1}
  vod:
    last_resort: a
    cdns: {a: {target: a.cdn.test}, b: {target: b.cdn.test}}
    regions:
      default: {VOD: 1}
"#;

fn event(start: &str, end: &str) -> String {
    format!("version: 1\nevent: final\ncustomer: Example Broadcasting\nstart: {start}\nend: {end}\nnames: [live.example.com]\nfreeze: true\n")
}

async fn start(dir: &std::path::Path, until_secs: u64) -> TestServer {
    let now = cdnsteer::clock::Clock::new().now();
    std::fs::create_dir_all(dir.join("zones")).expect("zones dir");
    std::fs::create_dir_all(dir.join("events")).expect("events dir");
    std::fs::write(dir.join("zones/example.com.yaml"), zone("a", "a")).expect("zone");
    let (start, end) = (cdnsteer::timestamp::rfc3339(now - 60_000), cdnsteer::timestamp::rfc3339(now + until_secs * 1000));
    std::fs::write(dir.join("events/final.yaml"), event(&start, &end)).expect("event");
    crate::harness::start_with(&dir.join("zones"), &bundled_geoip(), |c| c.events = dir.join("events")).await
}

async fn answer(s: &TestServer, name: &str) -> String {
    cname(&udp(s.udp, &Ask::new(name, RecordType::A)).await).expect("CNAME")
}

async fn status(url: &str) -> Value {
    let (_, body) = cdnsteer::admin::client::call(url, "GET", "/api/v1/status", None, None).await.expect("status");
    serde_json::from_str(&body).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_holds_changes_to_its_names_until_forced() {
    let dir = tempfile::tempdir().expect("dir");
    let s = start(dir.path(), 3600).await;
    let (url, tok) = (admin_url(&s), token(&s));
    assert_eq!(answer(&s, "live.example.com.").await, "a.cdn.test");
    let st = status(&url).await;
    assert_eq!((st["events"]["events"][0]["name"].as_str(), st["events"]["events"][0]["phase"].as_str()), (Some("final"), Some("live")), "{st}");

    // Another name's change passes the freeze.
    std::fs::write(dir.path().join("zones/example.com.yaml"), zone("a", "b")).expect("edit vod");
    let (code, reply) = post(&url, "/api/v1/reload", &tok, json!({})).await;
    assert_eq!(code, 200, "{reply}");
    assert_eq!(answer(&s, "vod.example.com.").await, "b.cdn.test");

    // A change to the frozen name waits: 423, old answers, status, metric, audit.
    std::fs::write(dir.path().join("zones/example.com.yaml"), zone("b", "b")).expect("edit live");
    let generation = status(&url).await["generation"].as_u64();
    let (code, reply) = post(&url, "/api/v1/reload", &tok, json!({})).await;
    assert_eq!(code, 423, "{reply}");
    assert_eq!((reply["event"].as_str(), reply["names"].clone()), (Some("final"), json!(["live.example.com."])), "{reply}");
    assert!(reply["message"].as_str().is_some_and(|m| m.contains("change pending, frozen")), "{reply}");
    assert_eq!(answer(&s, "live.example.com.").await, "a.cdn.test", "the old answers keep serving");
    let st = status(&url).await;
    assert_eq!(st["generation"].as_u64(), generation);
    assert_eq!((st["events"]["pending"]["event"].as_str(), st["events"]["pending"]["who"].as_str()), (Some("final"), Some("local")), "{st}");
    let (_, metrics) = cdnsteer::admin::client::call(&url, "GET", "/metrics", None, None).await.expect("metrics");
    assert!(metrics.lines().any(|l| l == "cdnsteer_change_pending_frozen 1"), "metric");
    let audit = std::fs::read_to_string(s._state.path().join("audit.jsonl")).expect("audit");
    assert!(audit.lines().any(|l| l.contains("\"what\":\"reload.frozen\"") && l.contains("\"who\":\"local\"")), "{audit}");
    // Forcing needs a reason; with one it applies, audited.
    let (code, reply) = post(&url, "/api/v1/reload", &tok, json!({"force": true})).await;
    assert_eq!((code, reply["field"].as_str()), (400, Some("reason")), "{reply}");
    let (code, reply) = post(&url, "/api/v1/reload", &tok, json!({"force": true, "reason": "customer asked for b"})).await;
    assert_eq!(code, 200, "{reply}");
    assert_eq!(answer(&s, "live.example.com.").await, "b.cdn.test");
    assert!(status(&url).await["events"]["pending"].is_null());
    let audit = std::fs::read_to_string(s._state.path().join("audit.jsonl")).expect("audit");
    assert!(audit.lines().any(|l| l.contains("\"what\":\"reload.forced\"") && l.contains("customer asked for b")), "{audit}");
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_change_applies_by_itself_when_the_window_ends() {
    let dir = tempfile::tempdir().expect("dir");
    let s = start(dir.path(), 3).await;
    let (url, tok) = (admin_url(&s), token(&s));
    std::fs::write(dir.path().join("zones/example.com.yaml"), zone("b", "a")).expect("edit live");
    assert_eq!(post(&url, "/api/v1/reload", &tok, json!({})).await.0, 423);
    assert_eq!(answer(&s, "live.example.com.").await, "a.cdn.test");
    let started = Instant::now();
    while answer(&s, "live.example.com.").await != "b.cdn.test" {
        assert!(started.elapsed() < Duration::from_secs(10), "the held change was not applied after the window");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let st = status(&url).await;
    assert!(st["events"]["pending"].is_null(), "{st}");
    assert_eq!(st["events"]["events"][0]["phase"].as_str(), Some("over"));
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_change_that_no_longer_loads_is_dropped_once_when_the_window_ends() {
    let dir = tempfile::tempdir().expect("dir");
    let s = start(dir.path(), 3).await;
    let (url, tok) = (admin_url(&s), token(&s));
    std::fs::write(dir.path().join("zones/example.com.yaml"), zone("b", "a")).expect("edit live");
    assert_eq!(post(&url, "/api/v1/reload", &tok, json!({})).await.0, 423);
    // The held change breaks before the window ends.
    std::fs::write(dir.path().join("zones/example.com.yaml"), zone("b", "a").replace("last_resort: a", "last_resort: nope")).expect("break");
    let started = Instant::now();
    while !status(&url).await["events"]["pending"].is_null() {
        assert!(started.elapsed() < Duration::from_secs(10), "the pending change was never dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Several engine ticks later it has been tried once, not once a tick.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(answer(&s, "live.example.com.").await, "a.cdn.test", "the previous configuration keeps serving");
    s.running.history().flush(Duration::from_secs(20)).expect("flush");
    let r = cdnsteer::history::HistoryReader::open(&s._state.path().join(cdnsteer::history::DB_FILE)).expect("reader");
    let reloads = r.events(cdnsteer::history::read::Window { from: 0, to: u64::MAX / 2 }, &[cdnsteer::history::EventKind::Reload], 1000).expect("events");
    let failed: Vec<_> = reloads.iter().filter(|e| e.who.as_deref() == Some("freeze-end")).collect();
    assert_eq!(failed.len(), 1, "{reloads:#?}");
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_freezing_event_during_its_window_is_held_too() {
    let dir = tempfile::tempdir().expect("dir");
    let s = start(dir.path(), 3600).await;
    let (url, tok) = (admin_url(&s), token(&s));
    let file = dir.path().join("events/final.yaml");
    let text = std::fs::read_to_string(&file).expect("event");
    // Lifting the freeze is itself a frozen change: held, audited, forced with a reason.
    std::fs::write(&file, text.replace("freeze: true", "freeze: false")).expect("unfreeze");
    let (code, reply) = post(&url, "/api/v1/reload", &tok, json!({})).await;
    assert_eq!(code, 423, "{reply}");
    assert_eq!(status(&url).await["events"]["events"][0]["freeze"].as_bool(), Some(true), "the freeze stays in force");
    let audit = std::fs::read_to_string(s._state.path().join("audit.jsonl")).expect("audit");
    assert!(audit.lines().any(|l| l.contains("\"what\":\"reload.frozen\"")), "{audit}");
    let (code, reply) = post(&url, "/api/v1/reload", &tok, json!({"force": true, "reason": "match cancelled"})).await;
    assert_eq!(code, 200, "{reply}");
    assert_eq!(status(&url).await["events"]["events"][0]["freeze"].as_bool(), Some(false));
    s.running.shutdown().await;
}
