//! `/metrics` of the real server: a live scrape passes `promtool check metrics`, every family
//! of the catalogue has HELP and TYPE from the first scrape, every DNS series is there at zero
//! before the first query, and real UDP and TCP queries (steered with ECS, static, negative,
//! malformed, truncated, dropped) move exactly the counters they should. The steering side:
//! pushed telemetry that drains a CDN in KR shows as share 0 and state down, probes of real
//! HTTP stand-ins land in the duration histogram and the failure counters, an operator drain
//! in the overrides gauge. Also `metrics.max_names` from the daemon config file.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use cdnsteer::config::{AdminListen, Config, Flags};
use cdnsteer::daemon;
use hickory_proto::rr::RecordType;

use crate::admin::{Body, request};
use crate::harness::{Ask, bundled_geoip, cname, tcp, udp, udp_raw};

/// Three steered names, single-candidate regions (so the CDN of each answer is known), and a
/// TXT record too large for 512 bytes.
fn zone() -> String {
    let big: Vec<String> = "abcd".chars().map(|c| format!("\"{}\"", c.to_string().repeat(180))).collect();
    let steered = |name: &str, kr: &str, other: &str| {
        format!(
            "  {name}:\n    ttl: 20\n    last_resort: akamai\n    cdns: {{akamai: {{target: akamai.cdn.test}}, fastly: {{target: fastly.cdn.test}}}}\n    regions:\n      countries:\n        KR: {{{kr}: 1}}\n      default: {{{other}: 1}}\n"
        )
    };
    format!(
        "version: 1\nzone: tv.test\nsoa: {{primary: ns1.tv.test., contact: hostmaster.tv.test., serial: 1}}\nrecords:\n  - {{name: \"@\", type: NS, value: ns1.tv.test.}}\n  - {{name: big, type: TXT, values: [{}]}}\nsteered:\n{}{}{}",
        big.join(", "),
        steered("live", "akamai", "fastly"),
        steered("news", "fastly", "akamai"),
        steered("sport", "akamai", "fastly"),
    )
}

/// `sample -> value` of a scrape (comment lines skipped).
pub(crate) fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.parse::<f64>().unwrap_or_else(|_| panic!("bad value in `{k} {v}`"))))
        .collect()
}

pub(crate) async fn scrape(admin: SocketAddr) -> String {
    let reply = request(admin, "GET", "/metrics", &[], Body::Fixed(Vec::new())).await;
    assert_eq!(reply.status, 200);
    String::from_utf8(reply.body).expect("UTF-8 metrics")
}

/// `promtool check metrics` on `text`: `None` when promtool is not installed, else its verdict.
fn promtool(text: &str) -> Option<Result<(), String>> {
    let child = Command::new("promtool").args(["check", "metrics"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    if out.status.success() {
        return Some(Ok(()));
    }
    Some(Err(format!("{}: {}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
}

/// Say loudly that the promtool check did not run.
fn skipped() {
    let message = "\n*****************************************************************\n\
                   *** SKIPPED: promtool not found; `promtool check metrics` did not run.\n\
                   *** Install Debian's `prometheus` package (.ci/run does).\n\
                   *****************************************************************\n";
    eprintln!("{message}");
    // The test harness captures eprintln!; say it where a plain `cargo test` shows it.
    let _ = std::io::stderr().write_all(message.as_bytes());
}

/// `promtool check metrics` must accept `text`; skipped (loudly) without promtool.
fn promtool_check(text: &str) {
    match promtool(text) {
        None => skipped(),
        Some(Ok(())) => {}
        Some(Err(e)) => panic!("promtool check metrics failed ({e})\n--- scrape ---\n{text}"),
    }
}

#[test]
fn promtool_check_can_fail() {
    match promtool("# HELP cdnsteer_x_seconds x\n# TYPE cdnsteer_x_seconds counter\ncdnsteer_x_seconds 1\n") {
        None => skipped(),
        Some(verdict) => assert!(verdict.is_err(), "promtool accepted a counter without _total"),
    }
}

#[test]
fn max_names_is_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cdnsteer.yaml");
    for (text, wanted) in [
        ("version: 1\nmetrics:\n  max_names: 100001\n", "metrics.max_names"),
        ("version: 1\nmetrics:\n  max_names: -1\n", "max_names"),
        ("version: 1\nmetrics:\n  names: 5\n", "names"),
    ] {
        std::fs::write(&path, text).expect("write");
        let err = Config::load(Some(&path), &Flags::default()).expect_err(text);
        assert!(err.to_string().contains(wanted), "{text}: {err}");
    }
    std::fs::write(&path, "version: 1\nmetrics:\n  max_names: 0\n").expect("write");
    assert_eq!(Config::load(Some(&path), &Flags::default()).expect("0 is allowed").metrics_max_names, 0);
    assert_eq!(Config::load(None, &Flags::default()).expect("defaults").metrics_max_names, 50);
}

fn q(transport: &str, qtype: &str, rcode: &str) -> String {
    format!(r#"cdnsteer_dns_queries_total{{transport="{transport}",qtype="{qtype}",rcode="{rcode}"}}"#)
}

fn steered(name: &str, region: &str, cdn: &str) -> String {
    format!(r#"cdnsteer_dns_steered_answers_total{{name="{name}",region="{region}",cdn="{cdn}"}}"#)
}

fn dropped(reason: &str) -> String {
    format!(r#"cdnsteer_dns_dropped_packets_total{{reason="{reason}"}}"#)
}

fn ecs(state: &str) -> String {
    format!(r#"cdnsteer_dns_ecs_queries_total{{ecs="{state}"}}"#)
}

const TRUNCATED: &str = "cdnsteer_dns_truncated_total";

/// Sum of every sample of `family`.
fn total(s: &HashMap<String, f64>, family: &str) -> f64 {
    s.iter().filter(|(k, _)| k.split('{').next() == Some(family)).map(|(_, v)| v).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_metrics_pass_promtool_and_count_what_happened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).expect("mkdir");
    std::fs::write(zones.join("tv.test.yaml"), zone()).expect("write zone");
    let config_path = dir.path().join("cdnsteer.yaml");
    std::fs::write(&config_path, "version: 1\nmetrics:\n  max_names: 1\n").expect("write config");
    let flags = Flags {
        zones: Some(zones),
        geoip: Some(bundled_geoip()),
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        admin_listen: Some(AdminListen::At(SocketAddr::from(([127, 0, 0, 1], 0)))),
        ..Flags::default()
    };
    let mut config = Config::load(Some(&config_path), &flags).expect("config");
    config.state_dir = dir.path().join("state");
    config.events = dir.path().join("events");
    assert_eq!(config.metrics_max_names, 1);
    let running = daemon::start(config).await.expect("server starts");
    let (udp_addr, tcp_addr) = (running.udp[0], running.tcp[0]);
    let admin = running.admin.expect("admin API");

    // Before any query: every series is there, at 0, and the scrape is valid.
    let first = scrape(admin).await;
    promtool_check(&first);
    every_series_has_help_and_type(&first);
    let before = samples(&first);
    for series in [
        q("udp", "A", "NOERROR"),
        q("tcp", "HTTPS", "BADVERS"),
        q("udp", "other", "other"),
        steered("live.tv.test.", "country:KR", "akamai"),
        steered("live.tv.test.", "default", "fastly"),
        steered("_other", "country:KR", "fastly"),
        steered("_other", "default", "akamai"),
        dropped("short"),
        dropped("response"),
        dropped("source_port_zero"),
        dropped("oversized"),
        dropped("send_failed"),
        ecs("present"),
        ecs("absent"),
        TRUNCATED.to_string(),
        r#"cdnsteer_region_fail_open{name="_other",region="country:KR"}"#.to_string(),
        r#"cdnsteer_decision_events_total{name="_other",region="default"}"#.to_string(),
    ] {
        assert_eq!(before.get(&series), Some(&0.0), "{series} missing or not 0:\n{first}");
    }
    // The steering gauges fold the names past max_names the same way: news has only fastly
    // in KR, sport only akamai; both are cold.
    for (series, value) in [
        (r#"cdnsteer_cdn_share_ratio{name="live.tv.test.",region="country:KR",cdn="akamai"}"#, 1.0),
        (r#"cdnsteer_cdn_share_ratio{name="_other",region="country:KR",cdn="fastly"}"#, 1.0),
        (r#"cdnsteer_cdn_share_ratio{name="_other",region="default",cdn="akamai"}"#, 1.0),
        (r#"cdnsteer_cdn_state{name="_other",region="country:KR",cdn="akamai",state="cold"}"#, 1.0),
        (r#"cdnsteer_cdn_state{name="_other",region="default",cdn="fastly",state="cold"}"#, 1.0),
    ] {
        assert_eq!(before.get(series), Some(&value), "{series}:\n{first}");
    }
    assert_eq!(total(&before, "cdnsteer_dns_queries_total"), 0.0);
    assert_eq!(before.keys().filter(|k| k.starts_with("cdnsteer_dns_queries_total{")).count(), 2 * 14 * 8);
    assert!(!first.contains("news.tv.test.") && !first.contains("sport.tv.test."), "names past max_names have no series:\n{first}");
    assert!(first.contains("# HELP cdnsteer_dns_steered_answers_total "), "{first}");
    assert!(first.contains("cdnsteer_build_info{version=\""), "{first}");
    assert!(first.contains(r#"cdnsteer_reloads_total{result="failed"}"#), "{first}");

    // Steered with ECS: KR -> akamai for live (its own series), fastly for news (_other).
    let kr = "211.234.10.0/24";
    let live = udp(udp_addr, &Ask::new("live.tv.test.", RecordType::A).ecs(kr)).await;
    assert_eq!(cname(&live).as_deref(), Some("akamai.cdn.test"));
    let news = tcp(tcp_addr, &Ask::new("news.tv.test.", RecordType::AAAA).ecs(kr)).await;
    assert_eq!(cname(&news).as_deref(), Some("fastly.cdn.test"));
    // Static over TCP, negative over UDP, both without ECS.
    let soa = tcp(tcp_addr, &Ask::new("tv.test.", RecordType::SOA)).await;
    assert_eq!(soa.metadata.response_code, hickory_proto::op::ResponseCode::NoError);
    let nx = udp(udp_addr, &Ask::new("nope.tv.test.", RecordType::A)).await;
    assert_eq!(nx.metadata.response_code, hickory_proto::op::ResponseCode::NXDomain);
    // Truncated: 4 x 180 bytes of TXT without EDNS.
    let big = udp(udp_addr, &Ask::new("big.tv.test.", RecordType::TXT).no_edns()).await;
    assert!(big.metadata.truncation);
    // Malformed: the question stops in the middle of a label -> FORMERR.
    let mut malformed = Ask::new("live.tv.test.", RecordType::A).no_edns().bytes();
    malformed.truncate(15);
    let wait = Duration::from_secs(3);
    let formerr = udp_raw(udp_addr, &malformed, wait).await.expect("FORMERR reply");
    assert_eq!(formerr[3] & 0x0F, 1, "FORMERR");
    // Dropped: shorter than a header; a response (QR=1).
    assert!(udp_raw(udp_addr, &[0x12, 0x34, 0x01], Duration::from_millis(200)).await.is_none());
    let mut response = Ask::new("live.tv.test.", RecordType::A).bytes();
    response[2] |= 0x80;
    assert!(udp_raw(udp_addr, &response, Duration::from_millis(200)).await.is_none());
    // Oversized: a datagram past the 4,096-byte receive slot (a query padded with zeros).
    let mut oversized = Ask::new("live.tv.test.", RecordType::A).bytes();
    oversized.resize(5000, 0);
    assert!(udp_raw(udp_addr, &oversized, Duration::from_millis(200)).await.is_none());

    // Drops have no reply to wait for: scrape until they show (bounded).
    let mut text = scrape(admin).await;
    for _ in 0..50 {
        let s = samples(&text);
        if [dropped("short"), dropped("response"), dropped("oversized")].iter().all(|d| s.get(d) == Some(&1.0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = scrape(admin).await;
    }
    promtool_check(&text);
    let after = samples(&text);
    let expect = [
        (q("udp", "A", "NOERROR"), 1.0),
        (q("tcp", "AAAA", "NOERROR"), 1.0),
        (q("tcp", "SOA", "NOERROR"), 1.0),
        (q("udp", "A", "NXDOMAIN"), 1.0),
        (q("udp", "TXT", "NOERROR"), 1.0),
        (q("udp", "other", "FORMERR"), 1.0),
        (steered("live.tv.test.", "country:KR", "akamai"), 1.0),
        (steered("_other", "country:KR", "fastly"), 1.0),
        (steered("live.tv.test.", "default", "fastly"), 0.0),
        (ecs("present"), 2.0),
        (ecs("absent"), 3.0),
        (TRUNCATED.to_string(), 1.0),
        (dropped("short"), 1.0),
        (dropped("response"), 1.0),
        (dropped("source_port_zero"), 0.0),
        (dropped("oversized"), 1.0),
        (dropped("send_failed"), 0.0),
    ];
    for (series, value) in &expect {
        assert_eq!(after.get(series), Some(value), "{series}:\n{text}");
    }
    assert_eq!(total(&after, "cdnsteer_dns_queries_total"), 6.0, "{text}");
    assert_eq!(total(&after, "cdnsteer_dns_steered_answers_total"), 2.0, "{text}");

    // A reload (new zone table, new layout): nothing counted so far goes away.
    running.reload().await.expect("reload");
    let again = udp(udp_addr, &Ask::new("live.tv.test.", RecordType::A).ecs(kr)).await;
    assert_eq!(cname(&again).as_deref(), Some("akamai.cdn.test"));
    let text = scrape(admin).await;
    promtool_check(&text);
    let reloaded = samples(&text);
    assert_eq!(reloaded.get(&steered("live.tv.test.", "country:KR", "akamai")), Some(&2.0), "{text}");
    assert_eq!(reloaded.get(&steered("_other", "country:KR", "fastly")), Some(&1.0), "{text}");
    assert_eq!(reloaded.get(&q("udp", "A", "NOERROR")), Some(&2.0), "{text}");
    assert_eq!(total(&reloaded, "cdnsteer_dns_queries_total"), 7.0, "{text}");
    running.shutdown().await;
}

const PROBE_BODY: usize = 16 * 1024;

/// One steered name in KR, JP and default, health tuned to react within a second, a healthy
/// probe of akamai in KR and a probe of fastly in JP against an edge that answers 503.
fn steering_zone(healthy: &str, failing: &str) -> String {
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
  thresholds: {{down: 40, up: 70, up_hold_secs: 2}}
  shares: {{max_change_per_tick: 0.25, min_dwell_secs: 1, min_warm_share: 0, fast_ttl_secs: 5, fail_open_ttl_secs: 7}}
  probes:
    - {{cdn: akamai, region: KR, vantage: seoul-1, url: "{healthy}", interval_secs: 0.3, timeout_ms: 300, expect_bytes: {PROBE_BODY}}}
    - {{cdn: fastly, region: JP, vantage: tokyo-1, url: "{failing}", interval_secs: 0.3, timeout_ms: 300}}
"#
    )
}

/// Families of a scrape: name -> (HELP seen, TYPE).
fn families(text: &str) -> HashMap<String, (bool, Option<String>)> {
    let mut out: HashMap<String, (bool, Option<String>)> = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            out.entry(name.to_string()).or_default().0 = true;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split(' ');
            let name = words.next().unwrap_or_default();
            out.entry(name.to_string()).or_default().1 = words.next().map(str::to_string);
        }
    }
    out
}

/// Every catalogued family has HELP and the catalogued TYPE, nothing else is served, and
/// every sample belongs to a family with HELP and TYPE (histogram samples by their base name).
fn every_series_has_help_and_type(text: &str) {
    let found = families(text);
    for f in cdnsteer::metrics::CATALOGUE {
        let kind = match f.kind {
            cdnsteer::metrics::Kind::Counter => "counter",
            cdnsteer::metrics::Kind::Gauge => "gauge",
            cdnsteer::metrics::Kind::Histogram => "histogram",
        };
        assert_eq!(found.get(f.name), Some(&(true, Some(kind.to_string()))), "{} needs HELP and TYPE {kind}:\n{text}", f.name);
    }
    assert_eq!(found.len(), cdnsteer::metrics::CATALOGUE.len(), "families outside the catalogue: {:?}", found.keys().collect::<Vec<_>>());
    let mut seen = std::collections::HashSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        assert!(seen.insert(line.rsplit_once(' ').map_or(line, |(series, _)| series)), "{line}: served twice");
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find(|b| found.get(*b).is_some_and(|f| f.1.as_deref() == Some("histogram")))
            .unwrap_or(name);
        assert!(found.get(base).is_some_and(|(help, kind)| *help && kind.is_some()), "{line}: no HELP/TYPE");
    }
}

fn labelled(family: &str, labels: &[(&str, &str)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{family}{{{}}}", inner.join(","))
}

const LIVE: &str = "live.example.com.";

fn share(region: &str, cdn: &str) -> String {
    labelled("cdnsteer_cdn_share_ratio", &[("name", LIVE), ("region", region), ("cdn", cdn)])
}

fn state(region: &str, cdn: &str, state: &str) -> String {
    labelled("cdnsteer_cdn_state", &[("name", LIVE), ("region", region), ("cdn", cdn), ("state", state)])
}

fn probe_series(suffix: &str, vantage: &str, extra: &[(&str, &str)]) -> String {
    let (cdn, region) = if vantage == "seoul-1" { ("akamai", "country:KR") } else { ("fastly", "country:JP") };
    let mut labels = vec![("cdn", cdn), ("region", region), ("vantage", vantage)];
    labels.extend_from_slice(extra);
    labelled(&format!("cdnsteer_probe_{suffix}"), &labels)
}

fn batches(result: &str) -> String {
    labelled("cdnsteer_telemetry_batches_total", &[("result", result)])
}

fn drain_fastly_in_kr() -> serde_json::Value {
    let m = |cdn: &str, errors: u64| serde_json::json!({"cdn": cdn, "region": "KR", "requests": 10000, "errors": errors, "ttfb_ms": {"p50": 80}, "throughput_mbps": 30.0, "cache_hits": 9800});
    serde_json::json!({"source": "metrics-test", "measurements": [m("akamai", 0), m("fastly", 3000)]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steering_metrics_follow_telemetry_probes_and_overrides() {
    // Sub-second probe timeouts: never during a deliberate flood.
    let _quiet = crate::harness::CPU_HEAVY.read().await;
    use crate::operations::{admin_url, post, token};
    use crate::standin::{Mode, StandIn};

    let healthy = StandIn::start("127.0.0.40");
    healthy.set_body_len(PROBE_BODY);
    let failing = StandIn::start("127.0.0.41");
    failing.set(Mode::Status(503));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("example.com.yaml"), steering_zone(&healthy.url(), &failing.url())).expect("write zone");
    let s = crate::harness::start(dir.path(), &bundled_geoip()).await;
    let admin = s.running.admin.expect("admin API");
    let (url, tok) = (admin_url(&s), token(&s));

    // The very first scrape: every family with HELP and TYPE, every series of the
    // configuration there, promtool content.
    let first = scrape(admin).await;
    promtool_check(&first);
    every_series_has_help_and_type(&first);
    let before = samples(&first);
    for (series, value) in [
        (share("country:KR", "fastly"), Some(0.5)),
        (state("country:KR", "fastly", "cold"), Some(1.0)),
        (labelled("cdnsteer_region_fail_open", &[("name", LIVE), ("region", "country:KR")]), Some(0.0)),
        (labelled("cdnsteer_overrides_active", &[("kind", "drain")]), Some(0.0)),
        (labelled("cdnsteer_overrides_active", &[("kind", "weight")]), Some(0.0)),
        (labelled("cdnsteer_decision_events_total", &[("name", LIVE), ("region", "country:KR")]), Some(0.0)),
        (labelled("cdnsteer_fail_open_total", &[("name", LIVE), ("region", "default")]), Some(0.0)),
        (labelled("cdnsteer_cdn_state_changes_total", &[("region", "country:KR"), ("cdn", "fastly"), ("state", "down")]), Some(0.0)),
        (probe_series("duration_seconds_bucket", "seoul-1", &[("phase", "ttfb"), ("le", "+Inf")]), None),
        (probe_series("duration_seconds_count", "tokyo-1", &[("phase", "tls")]), Some(0.0)),
        (probe_series("failures_total", "seoul-1", &[("reason", "protocol")]), Some(0.0)),
        (probe_series("failures_total", "tokyo-1", &[("reason", "connect")]), Some(0.0)),
        (batches("accepted"), None),
        (batches("rejected"), None),
        ("cdnsteer_snapshot_generation".to_string(), None),
    ] {
        let got = before.get(&series);
        assert!(got.is_some(), "{series} missing from the first scrape:\n{first}");
        if let Some(v) = value {
            assert_eq!(got, Some(&v), "{series}:\n{first}");
        }
    }
    assert!(!first.contains("cdnsteer_cdn_score{name=\"live.example.com.\",region=\"country:KR\",cdn=\"fastly\"}"), "no score before any signal:\n{first}");

    // Telemetry drains fastly in KR: its share goes to 0 and its state says down.
    let started = std::time::Instant::now();
    let mut pushed = 0.0;
    let text = loop {
        let (status, body) = post(&url, "/api/v1/telemetry", &tok, drain_fastly_in_kr()).await;
        assert_eq!(status, 202, "{body}");
        pushed += 1.0;
        let text = scrape(admin).await;
        let now = samples(&text);
        if now.get(&share("country:KR", "fastly")) == Some(&0.0) && now.get(&state("country:KR", "fastly", "down")) == Some(&1.0) {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "fastly never drained in KR:\n{text}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    let drained = samples(&text);
    assert_eq!(drained.get(&share("country:KR", "akamai")), Some(&1.0), "{text}");
    assert_eq!(drained.get(&state("country:KR", "fastly", "cold")), None, "one state per CDN:\n{text}");
    let score = labelled("cdnsteer_cdn_score", &[("name", LIVE), ("region", "country:KR"), ("cdn", "fastly")]);
    assert!(drained.get(&score).is_some_and(|s| *s < 40.0), "{score}:\n{text}");
    let changes = labelled("cdnsteer_cdn_state_changes_total", &[("region", "country:KR"), ("cdn", "fastly"), ("state", "down")]);
    assert!(drained.get(&changes).is_some_and(|n| *n >= 1.0), "{changes}:\n{text}");
    let events = labelled("cdnsteer_decision_events_total", &[("name", LIVE), ("region", "country:KR")]);
    assert!(drained.get(&events).is_some_and(|n| *n >= 1.0), "{events}:\n{text}");
    let rum = |family: &str, cdn: &str| labelled(family, &[("cdn", cdn), ("region", "country:KR"), ("vantage", "rum:metrics-test")]);
    assert_eq!(drained.get(&rum("cdnsteer_signal_error_ratio", "fastly")), Some(&0.3), "{text}");
    assert_eq!(drained.get(&rum("cdnsteer_signal_ttfb_seconds", "fastly")), Some(&0.08), "{text}");
    assert_eq!(drained.get(&rum("cdnsteer_signal_throughput_bytes_per_second", "akamai")), Some(&3_750_000.0), "{text}");
    assert!(drained.get(&rum("cdnsteer_signal_age_seconds", "akamai")).is_some_and(|a| (0.0..5.0).contains(a)), "{text}");
    // Batches: ours were accepted (other tests in this process push too: at least ours).
    let accepted = drained.get(&batches("accepted")).copied().unwrap_or_default();
    assert!(accepted - before.get(&batches("accepted")).copied().unwrap_or_default() >= pushed, "{text}");
    let rejected = drained.get(&batches("rejected")).copied().unwrap_or_default();
    let (status, _) = post(&url, "/api/v1/telemetry", "wrong-token", drain_fastly_in_kr()).await;
    assert_eq!(status, 401);
    let (status, _) = post(&url, "/api/v1/telemetry", &tok, serde_json::json!({"source": "metrics-test", "measurements": []})).await;
    assert_eq!(status, 400);
    let after_rejects = samples(&scrape(admin).await);
    assert!(after_rejects.get(&batches("rejected")).is_some_and(|n| *n >= rejected + 2.0), "rejected batches counted");

    // Probes: the healthy edge's fetches land in the histogram, the 503s in the failures.
    let started = std::time::Instant::now();
    let text = loop {
        let text = scrape(admin).await;
        let now = samples(&text);
        let fetched = now.get(&probe_series("duration_seconds_count", "seoul-1", &[("phase", "total")])).copied().unwrap_or_default();
        let failed = now.get(&probe_series("failures_total", "tokyo-1", &[("reason", "status")])).copied().unwrap_or_default();
        if fetched >= 2.0 && failed >= 2.0 {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "probes never recorded:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let probed = samples(&text);
    for phase in ["connect", "ttfb", "total"] {
        let count = probed[&probe_series("duration_seconds_count", "seoul-1", &[("phase", phase)])];
        let inf = probed[&probe_series("duration_seconds_bucket", "seoul-1", &[("phase", phase), ("le", "+Inf")])];
        let sum = probed[&probe_series("duration_seconds_sum", "seoul-1", &[("phase", phase)])];
        assert!(count >= 2.0 && inf == count && sum > 0.0 && sum < count * 0.3, "{phase}: {count} {inf} {sum}\n{text}");
        let mut last = 0.0;
        for le in ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"] {
            let n = probed[&probe_series("duration_seconds_bucket", "seoul-1", &[("phase", phase), ("le", le)])];
            assert!(n >= last, "buckets are cumulative: {phase} le={le}\n{text}");
            last = n;
        }
    }
    assert_eq!(probed[&probe_series("duration_seconds_count", "seoul-1", &[("phase", "tls")])], 0.0, "no TLS over http");
    assert_eq!(probed[&probe_series("failures_total", "seoul-1", &[("reason", "status")])], 0.0);
    assert_eq!(probed[&probe_series("duration_seconds_count", "tokyo-1", &[("phase", "total")])], 0.0, "failed fetches are not timed");
    assert!(probed.get(&labelled("cdnsteer_signal_ttfb_seconds", &[("cdn", "akamai"), ("region", "country:KR"), ("vantage", "seoul-1")])).is_some_and(|t| *t < 0.3), "{text}");

    // An operator drain shows in the overrides gauge and the CDN's state.
    let (status, body) = post(&url, "/api/v1/overrides", &tok, serde_json::json!({"kind": "drain", "name": "live.example.com", "region": "default", "cdn": "akamai", "expires_in": "1h", "author": "test", "reason": "metrics test"})).await;
    assert_eq!(status, 201, "{body}");
    let text = scrape(admin).await;
    let overridden = samples(&text);
    assert_eq!(overridden.get(&labelled("cdnsteer_overrides_active", &[("kind", "drain")])), Some(&1.0), "{text}");
    assert_eq!(overridden.get(&labelled("cdnsteer_overrides_active", &[("kind", "pin")])), Some(&0.0), "{text}");
    assert_eq!(overridden.get(&state("default", "akamai", "drained")), Some(&1.0), "{text}");
    assert_eq!(overridden.get(&share("default", "akamai")), Some(&0.0), "{text}");
    promtool_check(&text);
    every_series_has_help_and_type(&text);
    s.running.shutdown().await;
}
