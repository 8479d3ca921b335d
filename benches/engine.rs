//! Engine tick cost: 10 steered names x 250 regions x 4 CDNs, every candidate with fresh
//! signals (the worst case: every region is scored and advanced every tick).

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;

use cdnsteer::diag::Diagnostics;
use cdnsteer::engine::Engine;
use cdnsteer::signal::Observation;
use cdnsteer::zone::health::parse_region;
use criterion::{Criterion, criterion_group, criterion_main};

const CDNS: [&str; 4] = ["akamai", "fastly", "cloudfront", "edgio"];

/// 249 country codes that exist (AA..ZZ filtered through the loader's own check).
fn countries() -> Vec<String> {
    let mut out = Vec::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            let code = format!("{}{}", a as char, b as char);
            if parse_region(&format!("country:{code}")).is_ok() {
                out.push(code);
            }
        }
    }
    out.truncate(249);
    out
}

fn zone_text(countries: &[String]) -> String {
    let mut z = String::from(
        "version: 1\nzone: bench.test\nsoa: {primary: ns1.bench.test., contact: h.bench.test., serial: 1}\nrecords:\n  - {name: \"@\", type: NS, value: ns1.bench.test.}\nsteered:\n",
    );
    for n in 0..10 {
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
    z
}

fn bench(c: &mut Criterion) {
    let countries = countries();
    let zones = cdnsteer::zone::load_texts(&[(PathBuf::from("bench.yaml"), zone_text(&countries))], Diagnostics::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let regions: usize = zones.steered().map(|s| s.regions.len()).sum();
    assert_eq!(regions, 2500);
    let mut engine = Engine::new();
    let mut now = 1_000;
    let feed = |engine: &mut Engine, now: u64, jitter: f64| {
        for cc in &countries {
            let region = parse_region(&format!("country:{cc}")).unwrap_or_else(|e| panic!("{e}"));
            for (i, cdn) in CDNS.iter().enumerate() {
                engine.ingest(&Observation {
                    cdn: cdn.to_string(),
                    region: region.clone(),
                    vantage: "bench".into(),
                    at: now,
                    requests: 100,
                    errors: (i as u64 + jitter as u64) % 3,
                    cache_hits: Some(95),
                    ttfb_ms: Some(100.0 + 50.0 * i as f64 + jitter),
                    throughput_mbps: Some(30.0 - i as f64),
                    delivered_gbps: None,
                    failure: None,
                });
            }
        }
    };
    feed(&mut engine, now, 0.0);
    for _ in 0..3 {
        now += 1;
        let r = engine.tick(&zones, now);
        eprintln!("warm-up tick: changed {} events {}", r.changed, r.events.len());
    }
    c.bench_function("engine tick: 10 names x 250 regions x 4 CDNs", |b| {
        // 1 ms per iteration keeps the signals fresh (30 s staleness) for the whole run.
        b.iter(|| {
            now += 1;
            black_box(engine.tick(&zones, now))
        })
    });
    c.bench_function("engine decisions table: 10 x 250 x 4", |b| {
        b.iter(|| black_box(engine.decisions(&zones, cdnsteer::decide::CellPrefixes::default())))
    });
    let mut engine2 = Engine::new();
    c.bench_function("ingest 996 observations", |b| {
        b.iter(|| {
            now += 1_000;
            feed(&mut engine2, now, 7.0);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
