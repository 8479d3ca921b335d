//! Health-driven steering end to end: real CDN stand-ins (HTTP on 127.0.0.x), real probes,
//! the real engine, answers checked over real DNS. Also pushed telemetry through the real
//! admin API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cdnsteer::config::{AdminListen, Config, Flags};
use cdnsteer::daemon::{self, Running};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::admin::{Body, request};
use crate::harness::{Ask, bundled_geoip, cname, udp};
use crate::standin::{Mode, StandIn};

const PROBE_INTERVAL: Duration = Duration::from_millis(500);
const UP_HOLD: Duration = Duration::from_secs(2);
const BODY: usize = 16 * 1024;

/// One stand-in per (CDN, region): the KR, JP and default edges of akamai and fastly.
struct Edges {
    kr_akamai: StandIn,
    kr_fastly: StandIn,
    jp_akamai: StandIn,
    jp_fastly: StandIn,
    def_akamai: StandIn,
    def_fastly: StandIn,
}

impl Edges {
    fn start() -> Edges {
        let e = |ip: &str| {
            let s = StandIn::start(ip);
            s.set_body_len(BODY);
            s
        };
        Edges {
            kr_akamai: e("127.0.0.2"),
            kr_fastly: e("127.0.0.3"),
            jp_akamai: e("127.0.0.4"),
            jp_fastly: e("127.0.0.5"),
            def_akamai: e("127.0.0.6"),
            def_fastly: e("127.0.0.7"),
        }
    }

    fn probes(&self) -> String {
        let p = |cdn: &str, region: &str, s: &StandIn| {
            format!(
                "    - {{cdn: {cdn}, region: {region}, vantage: {region}-{cdn}, url: \"{}\", interval_secs: {}, timeout_ms: 300, expect_bytes: {BODY}}}\n",
                s.url(),
                PROBE_INTERVAL.as_secs_f64()
            )
        };
        [
            p("akamai", "KR", &self.kr_akamai),
            p("fastly", "KR", &self.kr_fastly),
            p("akamai", "JP", &self.jp_akamai),
            p("fastly", "JP", &self.jp_fastly),
            p("akamai", "default", &self.def_akamai),
            p("fastly", "default", &self.def_fastly),
        ]
        .concat()
    }
}

pub(crate) fn zone(probes: &str) -> String {
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
    cdns: {{akamai: {{target: akamai.cdn.test}}, fastly: {{target: fastly.cdn.test}}}}
    regions:
      countries:
        KR: {{akamai: 1, fastly: 1}}
        JP: {{akamai: 1, fastly: 1}}
      default: {{akamai: 1, fastly: 1}}
health:
  tick_ms: 100
  staleness_secs: 5
  smoothing_half_life_secs: 0.4
  thresholds: {{down: 40, up: 70, up_hold_secs: {hold}}}
  shares: {{max_change_per_tick: 0.25, min_dwell_secs: 1, min_warm_share: 0, fast_ttl_secs: 5, fail_open_ttl_secs: 7}}
  probes:
{probes}"#,
        hold = UP_HOLD.as_secs()
    )
}

async fn start(dir: &std::path::Path, zone_text: &str, token: Option<&str>) -> Running {
    std::fs::write(dir.join("example.com.yaml"), zone_text).expect("write zone");
    let overrides = Flags {
        zones: Some(dir.to_path_buf()),
        geoip: Some(bundled_geoip()),
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        admin_listen: Some(AdminListen::At(SocketAddr::from(([127, 0, 0, 1], 0)))),
        ..Flags::default()
    };
    let mut config = Config::load(None, &overrides).expect("config");
    config.admin_tokens = token.map(|t| vec![cdnsteer::config::NamedToken { name: "test".into(), token: t.to_string() }]).unwrap_or_default();
    config.state_dir = dir.join("state");
    config.events = dir.join("events");
    daemon::start(config).await.expect("server starts")
}

/// The CDN each of 64 cells of a region gets, and the TTL of the answers.
async fn answers(server: SocketAddr, region: &str) -> (Vec<String>, u32) {
    let mut out = Vec::with_capacity(64);
    let mut ttl = 0;
    for i in 0..64u32 {
        let subnet = match region {
            "KR" => format!("211.234.{i}.0/24"),
            "JP" => format!("133.242.{}.0/24", i * 2),
            _ => format!("8.8.{}.0/24", i * 2),
        };
        let m = udp(server, &Ask::new("live.example.com.", RecordType::A).ecs(&subnet)).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "never SERVFAIL");
        ttl = m.answers.first().map_or(0, |r| r.ttl);
        out.push(cname(&m).expect("CNAME").trim_end_matches(".cdn.test").to_string());
    }
    (out, ttl)
}

fn count(answers: &[String], cdn: &str) -> usize {
    answers.iter().filter(|a| *a == cdn).count()
}

/// Wait until `check` holds, polling; returns the time it took.
async fn until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kr_fault_drains_kr_only_and_heals_after_the_hold_ramping() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let edges = Edges::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), &zone(&edges.probes()), None).await;
    let dns = s.udp[0];
    // Warm up: every probe has reported and scored.
    let warm = until(Duration::from_secs(5), || async {
        for r in ["KR", "JP", "default"] {
            let key = cdnsteer::region::parse_region(r).expect("region");
            if !s.engine_region("live.example.com.", &key).await.is_some_and(|v| v.scores.iter().all(Option::is_some)) {
                return false;
            }
        }
        true
    })
    .await;
    assert!(warm.is_some(), "probes never warmed up");
    let (kr_before, _) = answers(dns, "KR").await;
    assert!(count(&kr_before, "akamai") > 10 && count(&kr_before, "fastly") > 10, "{kr_before:?}");
    let (jp_before, _) = answers(dns, "JP").await;
    let (def_before, _) = answers(dns, "default").await;

    // Fault: the KR akamai edge hangs.
    edges.kr_akamai.set(Mode::Hang);
    let _fault = Instant::now();
    let fast_ttl_seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drained = until(PROBE_INTERVAL * 6, || {
        let seen = std::sync::Arc::clone(&fast_ttl_seen);
        async move {
            let (a, ttl) = answers(dns, "KR").await;
            if ttl == 5 {
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            count(&a, "akamai") == 0
        }
    })
    .await;
    let drained = drained.expect("KR akamai never drained");
    eprintln!("fault-to-answer: {:?} ({:.2} probe intervals)", drained, drained.as_secs_f64() / PROBE_INTERVAL.as_secs_f64());
    assert!(drained <= PROBE_INTERVAL * 3, "drained after {drained:?}, more than 3 probe intervals");
    // While shares move, answers carry the fast TTL.
    let (_, ttl) = answers(dns, "KR").await;
    assert!(ttl == 5 || fast_ttl_seen.load(std::sync::atomic::Ordering::Relaxed), "fast TTL while unsettled (now {ttl})");
    // JP and the default region never moved.
    assert_eq!(answers(dns, "JP").await.0, jp_before, "JP untouched");
    assert_eq!(answers(dns, "default").await.0, def_before, "default untouched");
    let events = s.events.recent(1000);
    assert!(events.iter().filter(|e| e.at > 0).any(|e| e.region == "country:KR" && e.reason.contains("akamai up -> down")), "{events:?}");
    assert!(!events.iter().any(|e| e.region != "country:KR" && e.reason.contains("down")), "{events:?}");

    // Heal: akamai comes back only after holding above `up` for UP_HOLD, then ramps.
    tokio::time::sleep(PROBE_INTERVAL).await;
    edges.kr_akamai.set(Mode::Healthy);
    let healed = Instant::now();
    let mut first_back = None;
    let mut seen = Vec::new();
    while healed.elapsed() < UP_HOLD * 4 {
        let n = count(&answers(dns, "KR").await.0, "akamai");
        if n > 0 && first_back.is_none() {
            first_back = Some(healed.elapsed());
        }
        if first_back.is_some() {
            seen.push(n);
        }
        if n >= 24 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let back = first_back.expect("akamai never returned to KR");
    eprintln!("heal-to-return: {back:?}; akamai cells while ramping: {seen:?}");
    assert!(back >= UP_HOLD, "returned after {back:?}, before the {UP_HOLD:?} hold");
    assert!(seen.first().is_some_and(|n| *n < 24), "ramped, not jumped: {seen:?}");
    assert!(seen.last().is_some_and(|n| *n >= 20), "ramped back to its weight: {seen:?}");
    drop(edges.jp_akamai);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_candidates_down_fails_open_to_the_last_resort_never_servfail() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let edges = Edges::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), &zone(&edges.probes()), None).await;
    let dns = s.udp[0];
    edges.kr_akamai.set(Mode::Status(503));
    edges.kr_fastly.set(Mode::Reset);
    let failed_open = until(PROBE_INTERVAL * 8, || async {
        let (a, ttl) = answers(dns, "KR").await;
        count(&a, "akamai") == a.len() && ttl == 7
    })
    .await;
    assert!(failed_open.is_some(), "KR never failed open to the last-resort CDN with the fail-open TTL");
    // Every KR answer is the last resort, repeatedly; other regions still split.
    for _ in 0..5 {
        let (a, ttl) = answers(dns, "KR").await;
        assert_eq!(count(&a, "akamai"), 64);
        assert_eq!(ttl, 7);
    }
    let (jp, _) = answers(dns, "JP").await;
    assert!(count(&jp, "fastly") > 0, "JP still splits: {jp:?}");
    assert!(s.events.recent(1000).iter().any(|e| e.region == "country:KR" && e.reason.contains("failing open to akamai")));
    // The fail-open is counted in /metrics, with HELP.
    let m = request(s.admin.expect("admin"), "GET", "/metrics", &[], Body::Fixed(Vec::new())).await;
    assert_eq!(m.status, 200);
    let text = String::from_utf8_lossy(&m.body).into_owned();
    assert!(text.contains("# HELP cdnsteer_fail_open_total"), "{text}");
    let line = text.lines().find(|l| l.starts_with("cdnsteer_fail_open_total") && l.contains("country:KR")).unwrap_or_else(|| panic!("{text}"));
    let value: f64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("value");
    assert!(value >= 1.0, "{line}");
    assert!(text.contains("cdnsteer_snapshot_generation"), "{text}");
    drop(edges.def_fastly);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_telemetry_moves_shares_like_probes() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // No probes: only telemetry speaks.
    let s = start(dir.path(), &zone("    []\n").replace("  probes:\n    []\n", "  probes: []\n"), Some("s3cret")).await;
    let dns = s.udp[0];
    let admin = s.admin.expect("admin listener");
    let (kr_before, _) = answers(dns, "KR").await;
    assert!(count(&kr_before, "akamai") > 10, "cold start serves the configured weights");

    let post = |body: String, token: Option<&'static str>| async move {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        request(admin, "POST", "/api/v1/telemetry", &headers, Body::Fixed(body.into_bytes())).await
    };
    let batch = |akamai_errors: u64| {
        format!(
            r#"{{"source": "rum-kr", "measurements": [
                {{"cdn": "akamai", "region": "KR", "requests": 5000, "errors": {akamai_errors}, "ttfb_ms": {{"p50": 80}}, "throughput_mbps": 40, "cache_hits": 4900}},
                {{"cdn": "fastly", "region": "KR", "requests": 5000, "errors": 2, "ttfb_ms": {{"p50": 90}}, "throughput_mbps": 35, "cache_hits": 4850}}]}}"#
        )
    };
    // Refused pushes change nothing.
    assert_eq!(post(batch(2500), None).await.status, 401);
    assert_eq!(post(batch(2500), Some("wrong")).await.status, 401);
    assert_eq!(post(batch(2500).replace("\"fastly\"", "\"limelight\""), Some("s3cret")).await.status, 400);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(answers(dns, "KR").await.0, kr_before, "rejected telemetry changed nothing");

    // Half of akamai's KR requests fail: drained, exactly as a failing probe would do.
    let started = Instant::now();
    let mut pushes = 0;
    let drained = until(Duration::from_secs(5), || {
        pushes += 1;
        async move {
            assert_eq!(post(batch(2500), Some("s3cret")).await.status, 202);
            count(&answers(dns, "KR").await.0, "akamai") == 0
        }
    })
    .await;
    assert!(drained.is_some(), "telemetry never drained akamai in KR (after {pushes} pushes, {:?})", started.elapsed());
    let kr = cdnsteer::zone::model::RegionKey::Country(*b"KR");
    let akamai = || async {
        let r = s.engine_region("live.example.com.", &kr).await.expect("KR state");
        let i = r.position("akamai").expect("akamai");
        (r.state.cdns[i], r.signals[i])
    };
    assert!(until(Duration::from_secs(3), || async { akamai().await.0.share == 0.0 }).await.is_some(), "{:?}", akamai().await);
    let (state, signals) = akamai().await;
    assert!(matches!(state.status, cdnsteer::health::share::Status::Down { .. }), "{state:?}");
    let why = signals.and_then(|v| cdnsteer::health::score::score(&v, &cdnsteer::zone::health::HealthPolicy::default()));
    assert!(why.as_ref().is_some_and(|s| s.reasons[0].signal == cdnsteer::health::score::SignalKind::Errors), "{why:?}");
    let jp: HashMap<String, usize> = answers(dns, "JP").await.0.into_iter().fold(HashMap::new(), |mut m, c| {
        *m.entry(c).or_default() += 1;
        m
    });
    assert!(jp.get("akamai").copied().unwrap_or(0) > 10, "JP untouched: {jp:?}");
    s.shutdown().await;
}
