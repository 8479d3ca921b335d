//! Instruction count of engine ticks for `valgrind --tool=callgrind` (10 steered names x 250
//! regions x 4 CDNs, fresh signals): `engine_tick 0` vs `engine_tick 100`, divide the
//! difference by 100.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;

use cdnsteer::diag::Diagnostics;
use cdnsteer::engine::Engine;
use cdnsteer::signal::Observation;
use cdnsteer::zone::health::parse_region;

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

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let countries = countries();
    let Ok(zones) = cdnsteer::zone::load_texts(&[(PathBuf::from("bench.yaml"), zone_text(&countries))], Diagnostics::new()) else {
        std::process::exit(1)
    };
    let mut engine = Engine::new();
    let mut now = 1_000;
    for cc in &countries {
        let Ok(region) = parse_region(&format!("country:{cc}")) else { continue };
        for (i, cdn) in CDNS.iter().enumerate() {
            engine.ingest(&Observation {
                cdn: cdn.to_string(),
                region: region.clone(),
                vantage: "bench".into(),
                at: now,
                requests: 100,
                errors: i as u64 % 3,
                cache_hits: Some(95),
                ttfb_ms: Some(100.0 + 50.0 * i as f64),
                throughput_mbps: Some(30.0 - i as f64),
                delivered_gbps: None,
                failure: None,
            });
        }
    }
    for _ in 0..3 {
        now += 1;
        engine.tick(&zones, now);
    }
    for _ in 0..n {
        now += 1;
        black_box(engine.tick(&zones, now));
    }
    println!("{n} ticks");
}
