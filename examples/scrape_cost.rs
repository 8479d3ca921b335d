//! Size and time of a `GET /metrics` scrape of the real server over HTTP, on the bundled zones
//! or on generated zones of N steered names (50 per zone file) x R regions (R-1 countries +
//! default) x 4 CDNs, with telemetry from two sources for every (country, CDN), 20 probes that
//! fail to connect, and `metrics.max_names` at its default (50):
//!
//! ```text
//! cargo run --release --example scrape_cost -- bundled
//! cargo run --release --example scrape_cost -- 50 250
//! cargo run --release --example scrape_cost -- 1000 250
//! ```
//!
//! Prints the scrape's bytes, sample lines per family, the median and slowest of 20 scrapes
//! (wall time from request to last byte, on an otherwise idle server; the first scrape after
//! start-up also derives the label layouts), and the in-process cost of each part.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cdnsteer::admin::client::call;
use cdnsteer::config::{AdminListen, Config, Flags, NamedToken};
use cdnsteer::region::parse_region;

const CDNS: [&str; 4] = ["akamai", "fastly", "cloudfront", "edgio"];
const TOKEN: &str = "scrape-cost";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn countries(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            let code = format!("{}{}", a as char, b as char);
            if out.len() < n && parse_region(&format!("country:{code}")).is_ok() {
                out.push(code);
            }
        }
    }
    out
}

/// Steered names per zone file (the YAML reader's node budget is per file).
const NAMES_PER_ZONE: usize = 50;

/// Zone `index` of the generated set: names `first..first + names`.
fn zone(index: usize, first: usize, names: usize, countries: &[String]) -> String {
    let mut z = format!("version: 1\nzone: scrape{index}.test\nsoa: {{primary: ns1.scrape{index}.test., contact: h.scrape{index}.test., serial: 1}}\nrecords:\n  - {{name: \"@\", type: NS, value: ns1.scrape{index}.test.}}\nsteered:\n");
    for n in first..first + names {
        let _ = writeln!(z, "  live{n}:\n    last_resort: akamai\n    cdns:");
        for c in CDNS {
            let _ = writeln!(z, "      {c}: {{target: {c}.cdn.test}}");
        }
        z.push_str("    regions:\n      countries:\n");
        for cc in countries {
            let _ = writeln!(z, "        {cc}: {{akamai: 4, fastly: 3, cloudfront: 2, edgio: 1}}");
        }
        z.push_str("      default: {akamai: 1, fastly: 1, cloudfront: 1, edgio: 1}\n");
    }
    z.push_str("health:\n  staleness_secs: 3600\n");
    if index > 0 {
        return z;
    }
    z.push_str("  probes:\n");
    for c in CDNS {
        for v in 0..5 {
            let _ = writeln!(z, "    - {{cdn: {c}, region: default, vantage: v{v}, url: \"http://127.0.0.1:9/probe.bin\", interval_secs: 5, timeout_ms: 500}}");
        }
    }
    z
}

fn telemetry(source: &str, countries: &[String]) -> String {
    let mut m = Vec::new();
    for (i, cc) in countries.iter().enumerate() {
        for (j, cdn) in CDNS.iter().enumerate() {
            let errors = if (i + j) % 7 == 0 { 900 } else { 3 };
            m.push(format!(r#"{{"cdn": "{cdn}", "region": "{cc}", "requests": 10000, "errors": {errors}, "ttfb_ms": {{"p50": {}}}, "throughput_mbps": 25.0, "cache_hits": 9700}}"#, 80 + 10 * j));
        }
    }
    format!(r#"{{"source": "{source}", "measurements": [{}]}}"#, m.join(","))
}

#[tokio::main]
async fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "bundled".to_string());
    let dir = tempfile::tempdir().expect("tempdir");
    let (zones_dir, countries) = if arg == "bundled" {
        (repo().join("zones"), vec!["KR".to_string(), "JP".to_string()])
    } else {
        let names: usize = arg.parse().expect("names");
        let regions: usize = std::env::args().nth(2).and_then(|r| r.parse().ok()).unwrap_or(250);
        let countries = countries(regions.saturating_sub(1));
        let zones = dir.path().join("zones");
        std::fs::create_dir(&zones).expect("mkdir");
        for (index, first) in (0..names).step_by(NAMES_PER_ZONE).enumerate() {
            let text = zone(index, first, NAMES_PER_ZONE.min(names - first), &countries);
            std::fs::write(zones.join(format!("scrape{index}.test.yaml")), text).expect("write zone");
        }
        (zones, countries)
    };
    let flags = Flags {
        zones: Some(zones_dir),
        geoip: Some(repo().join("geoip/iptoasn-country.mmdb")),
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        admin_listen: Some(AdminListen::At(SocketAddr::from(([127, 0, 0, 1], 0)))),
        ..Flags::default()
    };
    let mut config = Config::load(None, &flags).expect("config");
    config.state_dir = dir.path().join("state");
    config.admin_tokens = vec![NamedToken { name: "bench".into(), token: TOKEN.into() }];
    let loading = Instant::now();
    let running = cdnsteer::daemon::start(config).await.expect("server starts");
    let loaded = loading.elapsed();
    let url = format!("http://{}", running.admin.expect("admin API"));
    for source in ["rum-a", "rum-b"] {
        let (status, body) = call(&url, "POST", "/api/v1/telemetry", Some(TOKEN), Some(telemetry(source, &countries))).await.expect("telemetry");
        assert_eq!(status, 202, "{body}");
    }
    // Let the engine tick on the signals (default tick 1 s) and the probes fail once.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let mut times = Vec::new();
    let mut body = String::new();
    for _ in 0..20 {
        let started = Instant::now();
        let (status, text) = call(&url, "GET", "/metrics", None, None).await.expect("scrape");
        times.push(started.elapsed());
        assert_eq!(status, 200);
        body = text;
    }
    times.sort();
    let samples = body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count();
    let family = |f: &cdnsteer::metrics::Family| {
        let suffixes: &[&str] = if f.kind == cdnsteer::metrics::Kind::Histogram { &["_bucket{", "_sum{", "_count{"] } else { &["{", " "] };
        body.lines().filter(|l| l.strip_prefix(f.name).is_some_and(|rest| suffixes.iter().any(|s| rest.starts_with(s)))).count()
    };
    println!("zones: {arg} (loaded and started in {loaded:.2?})");
    println!("scrape: {} bytes, {samples} samples", body.len());
    for f in cdnsteer::metrics::CATALOGUE {
        println!("  {:>8} {}", family(f), f.name);
    }
    println!("time: median {:.1?}, slowest {:.1?} (20 scrapes)", times[times.len() / 2], times[times.len() - 1]);

    // In-process, the parts read from the snapshot and the engine (median of 20 each).
    use cdnsteer::admin::ops::Operations as _;
    let snapshot = running.reader.load_full();
    let signals = running.control.signals().await;
    let now = cdnsteer::clock::Clock::new().now();
    let median = |f: &mut dyn FnMut(&mut String)| {
        let mut t: Vec<(Duration, usize)> = (0..20)
            .map(|_| {
                let mut out = String::new();
                let started = Instant::now();
                f(&mut out);
                (started.elapsed(), out.len())
            })
            .collect();
        t.sort();
        t[t.len() / 2]
    };
    let (t, n) = median(&mut |out| cdnsteer::metrics::steering::render_snapshot(&snapshot, 50, now, out));
    println!("  steering gauges from the snapshot: {t:.1?} ({n} bytes)");
    let (t, n) = median(&mut |out| cdnsteer::metrics::signals::render_signals(&signals, &snapshot.zones, now, out));
    println!("  signals: {t:.1?} ({n} bytes)");
    let events = cdnsteer::metrics::SteeringCounters::new(50);
    let (t, n) = median(&mut |out| events.render(&snapshot.zones, out));
    println!("  decision/fail-open/state-change counters (none counted yet): {t:.1?} ({n} bytes)");
    let dns = cdnsteer::dns::DnsCounters::new(50);
    let (t, n) = median(&mut |out| dns.render(&snapshot, out));
    println!("  DNS counters (no worker yet): {t:.1?} ({n} bytes)");
    let (t, n) = median(&mut |out| out.push_str(&cdnsteer::metrics::render()));
    println!("  process-wide counters: {t:.1?} ({n} bytes)");
    running.shutdown().await;
}
