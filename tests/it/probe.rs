//! Active probes over real sockets against the CDN stand-in: timings, every failure class,
//! cache status, `Host` and `connect` overrides, https with a test CA, and the scheduler.

use std::time::{Duration, Instant};

use cdnsteer::clock::Clock;
use cdnsteer::probe::{FetchResult, ProbeStats, fetch, fetch_with_tls, spawn_probes, tls_config, to_observation};
use cdnsteer::health::signal::{FailureReason, Observation};
use cdnsteer::zone::health::Probe;
use cdnsteer::zone::model::RegionKey;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::standin::{DEFAULT_BODY_LEN, Mode, StandIn};

/// A test CA (valid 2000-2124) and a leaf for `cdn.test` it signed, with the leaf's key.
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBajCCAQ+gAwIBAgIBATAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBjZG5zdGVl
ciB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMjQwMTAxMDAwMDAwWjAbMRkw
FwYDVQQDDBBjZG5zdGVlciB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD
QgAE2mlHzf72w40S2XT8f/d8zNT9J7bqyaP3t7jJwcxzm7FgjJwggwXFrh7eGONL
0NCqTtTJA4COoV4b4dWqZl26Q6NCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B
Af8EBAMCAQYwHQYDVR0OBBYEFDnxRNh/rY3H2tSMArDFX6pxwTHoMAoGCCqGSM49
BAMCA0kAMEYCIQC3F0peaelIsZsflhWGA5RDRjD0x4v7FmB1SSiB8ru4+gIhAPe5
Is/dYbpDMifxFsRveBT7lJbz9Rm4O+USeSX27MQW
-----END CERTIFICATE-----
";
const LEAF_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBrDCCAVGgAwIBAgIBAjAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBjZG5zdGVl
ciB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMjQwMTAxMDAwMDAwWjATMREw
DwYDVQQDDAhjZG4udGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABB7CFrcX
/HxLWufF3cqv7POtBIpEi98V8ZKLB/v7B8Vk34LD8UVE9YXMvxNGGYmwNkD5ZUrb
gTgF5aT9hfGMgB6jgYswgYgwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4Aw
EwYDVR0lBAwwCgYIKwYBBQUHAwEwEwYDVR0RBAwwCoIIY2RuLnRlc3QwHwYDVR0j
BBgwFoAUOfFE2H+tjcfa1IwCsMVfqnHBMegwHQYDVR0OBBYEFJsBKVk0wI8CNtcf
UHfVjF3CaUyhMAoGCCqGSM49BAMCA0kAMEYCIQCkeLWniWT6Ff5cLhWzjLGXAQ0J
BgV6sSTSsQHSq/d2kAIhAPtyHvkQr2olvMZpxcKWTgl1RY/dKeAiRxP7ilk+j12h
-----END CERTIFICATE-----
";
const LEAF_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6bE3HDYCxXdLv6xH
KER/aTuYTHs24boTmIf8JzgO1VehRANCAAQewha3F/x8S1rnxd3Kr+zzrQSKRIvf
FfGSiwf7+wfFZN+Cw/FFRPWFzL8TRhmJsDZA+WVK24E4BeWk/YXxjIAe
-----END PRIVATE KEY-----
";

/// A probe of `url` with the zone defaults and a 2 s timeout.
fn probe_of(url: &str) -> Probe {
    Probe {
        cdn: "alpha".into(),
        region: RegionKey::Country(*b"KR"),
        vantage: "test".into(),
        url: url.into(),
        host: None,
        connect: None,
        interval_ms: 1000,
        timeout_ms: 2000,
        expect_status: 200,
        expect_bytes: None,
        cache_headers: vec!["x-cache".into(), "cf-cache-status".into(), "x-cache-status".into()],
    }
}

/// `fetch`, with a test-side bound in case the probe's own bound were broken.
async fn fetch_bounded(p: &Probe) -> FetchResult {
    tokio::time::timeout(Duration::from_secs(5), fetch(p)).await.expect("fetch is bounded by its own timeout")
}

fn failure(r: &FetchResult) -> FailureReason {
    match r {
        Ok(t) => panic!("expected a failure, got {t:?}"),
        Err((reason, _)) => *reason,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_edge_is_timed_and_a_cache_hit() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let edge = StandIn::start("127.0.0.2");
    let mut p = probe_of(&edge.url());
    p.expect_bytes = Some(DEFAULT_BODY_LEN as u64);
    let result = fetch_bounded(&p).await;
    let t = result.as_ref().expect("healthy fetch");
    assert_eq!(t.status, 200);
    assert_eq!(t.body_bytes, DEFAULT_BODY_LEN as u64);
    assert!(t.ttfb_ms < 500.0, "ttfb {}", t.ttfb_ms);
    assert!(t.connect_ms >= 0.0 && t.connect_ms < 500.0, "connect {}", t.connect_ms);
    assert!(t.throughput_mbps > 0.0 && t.throughput_mbps.is_finite(), "{}", t.throughput_mbps);
    assert_eq!(t.tls_ms, None);
    assert_eq!(t.cache_hit, Some(true));
    assert_eq!(edge.requests(), 1);
    assert_eq!(edge.last_host(), Some(edge.addr().to_string()), "Host defaults to the URL authority");

    let o = to_observation(&p, 1234, &result);
    assert_eq!((o.cdn.as_str(), o.vantage.as_str(), o.at), ("alpha", "test", 1234));
    assert_eq!((o.requests, o.errors, o.cache_hits, o.failure), (1, 0, Some(1), None));
    assert_eq!((o.ttfb_ms, o.throughput_mbps), (Some(t.ttfb_ms), Some(t.throughput_mbps)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_first_byte_shows_in_ttfb() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let edge = StandIn::start("127.0.0.3");
    edge.set(Mode::SlowFirstByte(Duration::from_millis(300)));
    let t = fetch_bounded(&probe_of(&edge.url())).await.expect("slow but fine");
    assert!(t.ttfb_ms >= 300.0, "ttfb {}", t.ttfb_ms);
    assert!(t.ttfb_ms < 1500.0, "ttfb {}", t.ttfb_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_shows_in_throughput() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let edge = StandIn::start("127.0.0.4");
    let len = 64 * 1024;
    let rate = 256 * 1024; // bytes per second: the body takes at least 250 ms
    edge.set_body_len(len);
    edge.set(Mode::SlowBody { bytes_per_sec: rate });
    let t = fetch_bounded(&probe_of(&edge.url())).await.expect("slow but fine");
    let configured_mbps = rate as f64 * 8.0 / 1e6;
    assert_eq!(t.body_bytes, len as u64);
    assert!(t.body_ms >= 200.0, "body {} ms", t.body_ms);
    assert!(t.throughput_mbps > 0.0 && t.throughput_mbps < configured_mbps * 1.5, "{} vs {configured_mbps}", t.throughput_mbps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unexpected_status_is_status() {
    let edge = StandIn::start("127.0.0.5");
    edge.set(Mode::Status(503));
    let p = probe_of(&edge.url());
    let result = fetch_bounded(&p).await;
    assert_eq!(failure(&result), FailureReason::Status, "{result:?}");
    let o = to_observation(&p, 9, &result);
    assert_eq!(o, Observation::failed_probe("alpha", RegionKey::Country(*b"KR"), "test", 9, FailureReason::Status, 2000));

    // The expectation is the probe's: a probe that expects 503 is fine with it.
    let mut expecting = p.clone();
    expecting.expect_status = 503;
    assert_eq!(fetch_bounded(&expecting).await.expect("expected status").status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_body_is_reset() {
    let edge = StandIn::start("127.0.0.6");
    edge.set(Mode::Reset);
    let result = fetch_bounded(&probe_of(&edge.url())).await;
    assert_eq!(failure(&result), FailureReason::Reset, "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_is_timeout_at_the_probe_timeout() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let edge = StandIn::start("127.0.0.7");
    edge.set(Mode::Hang);
    let mut p = probe_of(&edge.url());
    p.timeout_ms = 300;
    let started = Instant::now();
    let result = fetch_bounded(&p).await;
    let took = started.elapsed();
    assert_eq!(failure(&result), FailureReason::Timeout, "{result:?}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(to_observation(&p, 0, &result).ttfb_ms, Some(300.0), "a timeout scores as the worst TTFB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_miss_is_seen() {
    let edge = StandIn::start("127.0.0.8");
    edge.set(Mode::CacheMiss);
    let p = probe_of(&edge.url());
    let result = fetch_bounded(&p).await;
    assert_eq!(result.as_ref().expect("a miss is still a success").cache_hit, Some(false));
    assert_eq!(to_observation(&p, 0, &result).cache_hits, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_connect() {
    let closed = std::net::TcpListener::bind("127.0.0.9:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let result = fetch_bounded(&probe_of(&format!("http://{addr}/probe.bin"))).await;
    assert_eq!(failure(&result), FailureReason::Connect, "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_body_size_is_size() {
    let edge = StandIn::start("127.0.0.10");
    let mut p = probe_of(&edge.url());
    p.expect_bytes = Some(DEFAULT_BODY_LEN as u64 + 1);
    let result = fetch_bounded(&p).await;
    assert_eq!(failure(&result), FailureReason::Size, "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_http_is_protocol() {
    let listener = tokio::net::TcpListener::bind("127.0.0.11:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(b"HELLO THERE\r\n\r\n").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let result = fetch_bounded(&probe_of(&format!("http://{addr}/probe.bin"))).await;
    assert_eq!(failure(&result), FailureReason::Protocol, "{result:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_override_is_sent() {
    let edge = StandIn::start("127.0.0.12");
    let mut p = probe_of(&edge.url());
    p.host = Some("live.cdn-alpha.example".into());
    fetch_bounded(&p).await.expect("fetch");
    assert_eq!(edge.last_host().as_deref(), Some("live.cdn-alpha.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_override_dials_the_edge_not_the_url_host() {
    let edge = StandIn::start("127.0.0.13");
    let mut p = probe_of("http://cdn.invalid/probe.bin");
    p.connect = Some(edge.addr());
    let t = fetch_bounded(&p).await.expect("dialled the stand-in");
    assert_eq!(t.body_bytes, DEFAULT_BODY_LEN as u64);
    assert_eq!(edge.last_host().as_deref(), Some("cdn.invalid"));
    assert_eq!(edge.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_switch_at_run_time_through_a_handle() {
    let edge = StandIn::start("127.0.0.14");
    let control = edge.control();
    let p = probe_of(&edge.url());
    assert!(fetch_bounded(&p).await.is_ok());
    control.set(Mode::Status(500));
    assert_eq!(failure(&fetch_bounded(&p).await), FailureReason::Status);
    control.set(Mode::Healthy);
    assert!(fetch_bounded(&p).await.is_ok());
    assert_eq!(control.requests(), 3);
    assert_eq!(control.body_len(), DEFAULT_BODY_LEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_trusted_test_ca() {
    let edge = StandIn::start_tls("127.0.0.15", LEAF_PEM, LEAF_KEY_PEM);
    assert!(edge.url().starts_with("https://"));
    let ca = CertificateDer::from_pem_slice(CA_PEM.as_bytes()).expect("CA PEM");
    let tls = tls_config(&[ca]).expect("TLS settings");
    let mut p = probe_of("https://cdn.test/probe.bin");
    p.connect = Some(edge.addr());
    let t = tokio::time::timeout(Duration::from_secs(5), fetch_with_tls(&p, tls.clone())).await.expect("bounded").expect("https fetch");
    assert_eq!((t.status, t.body_bytes, t.cache_hit), (200, DEFAULT_BODY_LEN as u64, Some(true)));
    assert!(t.tls_ms.is_some_and(|ms| ms > 0.0), "{:?}", t.tls_ms);
    assert_eq!(edge.last_host().as_deref(), Some("cdn.test"));

    // The Mozilla roots do not trust the test CA.
    assert_eq!(failure(&fetch_bounded(&p).await), FailureReason::Tls);
    // SNI follows the Host override, and the certificate does not name it.
    let mut other = p.clone();
    other.host = Some("other.test".into());
    let r = tokio::time::timeout(Duration::from_secs(5), fetch_with_tls(&other, tls.clone())).await.expect("bounded");
    assert_eq!(failure(&r), FailureReason::Tls, "{r:?}");
    // A reset under TLS is still a reset.
    edge.set(Mode::Reset);
    let r = tokio::time::timeout(Duration::from_secs(5), fetch_with_tls(&p, tls)).await.expect("bounded");
    assert_eq!(failure(&r), FailureReason::Reset, "{r:?}");
}

/// Collect observations from `rx` for `window`.
async fn collect(rx: &mut mpsc::Receiver<Observation>, window: Duration) -> Vec<Observation> {
    let deadline = tokio::time::Instant::now() + window;
    let mut out = Vec::new();
    while let Ok(Some(o)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        out.push(o);
    }
    out
}

/// Cancel and wait (bounded) for every probe task to end.
async fn stop_all(stop: &CancellationToken, tasks: &mut JoinSet<()>) {
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(joined) = tasks.join_next().await {
            joined.expect("probe task ends cleanly");
        }
    })
    .await
    .expect("probe tasks stop promptly on cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_probes_at_the_interval_and_stops_on_cancel() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let edge = StandIn::start("127.0.0.16");
    edge.set_body_len(16 * 1024);
    let probes: Vec<Probe> = ["seoul-1", "busan-1"]
        .iter()
        .map(|v| Probe { vantage: v.to_string(), interval_ms: 200, timeout_ms: 150, ..probe_of(&edge.url()) })
        .collect();
    let (tx, mut rx) = mpsc::channel(256);
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let clock = Clock::new();
    spawn_probes(probes, clock, tx, ProbeStats::new(), 4, stop.clone(), &mut tasks);

    let seen = collect(&mut rx, Duration::from_secs(2)).await;
    // Each probe: first run within 200 ms, then every 180..220 ms: about 10 runs in 2 s.
    for vantage in ["seoul-1", "busan-1"] {
        let n = seen.iter().filter(|o| o.vantage == vantage).count();
        assert!((6..=13).contains(&n), "{vantage}: {n} observations in 2 s");
    }
    assert!(seen.iter().all(|o| o.errors == 0 && o.cache_hits == Some(1) && o.cdn == "alpha"), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].at <= w[1].at), "observations carry the clock's time");

    stop_all(&stop, &mut tasks).await;
    let served = edge.requests();
    while rx.recv().await.is_some() {} // the senders are gone once the tasks are: this ends
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(edge.requests(), served, "no probing after cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_never_blocks_on_a_full_channel_and_reports_failures() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    let edge = StandIn::start("127.0.0.17");
    edge.set(Mode::Status(502));
    let p = Probe { interval_ms: 100, timeout_ms: 90, ..probe_of(&edge.url()) };
    let (tx, mut rx) = mpsc::channel(1);
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    spawn_probes(vec![p], Clock::new(), tx, ProbeStats::new(), 1, stop.clone(), &mut tasks);

    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(edge.requests() >= 3, "kept probing with nobody reading: {}", edge.requests());
    let first = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await.expect("bounded").expect("one kept");
    assert_eq!(first.failure, Some(FailureReason::Status));
    assert_eq!(first.errors, 1);
    stop_all(&stop, &mut tasks).await;
}
