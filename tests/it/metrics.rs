//! `/metrics` of the real server: a live scrape passes `promtool check metrics`, every DNS
//! series is there at zero before the first query, and real UDP and TCP queries (steered with
//! ECS, static, negative, malformed, truncated, dropped) move exactly the counters they should.
//! Also `metrics.max_names` from the daemon config file.

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
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.parse::<f64>().unwrap_or_else(|_| panic!("bad value in `{k} {v}`"))))
        .collect()
}

async fn scrape(admin: SocketAddr) -> String {
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
    let config = Config::load(Some(&config_path), &flags).expect("config");
    assert_eq!(config.metrics_max_names, 1);
    let running = daemon::start(config).await.expect("server starts");
    let (udp_addr, tcp_addr) = (running.udp[0], running.tcp[0]);
    let admin = running.admin.expect("admin API");

    // Before any query: every series is there, at 0, and the scrape is valid.
    let first = scrape(admin).await;
    promtool_check(&first);
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
        ecs("present"),
        ecs("absent"),
        TRUNCATED.to_string(),
    ] {
        assert_eq!(before.get(&series), Some(&0.0), "{series} missing or not 0:\n{first}");
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

    // Drops have no reply to wait for: scrape until they show (bounded).
    let mut text = scrape(admin).await;
    for _ in 0..50 {
        let s = samples(&text);
        if s.get(&dropped("short")) == Some(&1.0) && s.get(&dropped("response")) == Some(&1.0) {
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
