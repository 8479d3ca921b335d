//! The synthetic zone and signals shared by `benches/engine.rs` and `examples/engine_tick.rs`:
//! 10 steered names x 250 regions (249 countries + default) x 4 CDNs.

use std::fmt::Write as _;
use std::path::PathBuf;

use cdnsteer::diag::Diagnostics;
use cdnsteer::health::engine::Engine;
use cdnsteer::overrides::OverrideSet;
use cdnsteer::health::signal::Observation;
use cdnsteer::zone::ZoneSet;
use cdnsteer::region::parse_region;

/// The fixture zone's tick, ms: advance the clock by this much per tick.
pub const TICK_MS: u64 = 100;

/// The CDNs of every steered name.
pub const CDNS: [&str; 4] = ["akamai", "fastly", "cloudfront", "edgio"];

/// 249 country codes that exist (AA..ZZ filtered through the loader's own check).
pub fn countries() -> Vec<String> {
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

/// The zone set: 10 names over the given countries plus default.
pub fn zones(countries: &[String]) -> Result<ZoneSet, String> {
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
    // Ticks every 100 ms and an hour of staleness: a long benchmark run keeps every signal
    // fresh while advancing the clock one tick per iteration.
    z.push_str("health:\n  tick_ms: 100\n  staleness_secs: 3600\n");
    cdnsteer::zone::load_texts(&[(PathBuf::from("bench.yaml"), z)], Diagnostics::new()).map_err(|e| e.to_string())
}

/// One fresh observation per (country, CDN) at `now`.
pub fn observations(countries: &[String], now: u64, jitter: f64) -> Vec<Observation> {
    let mut out = Vec::with_capacity(countries.len() * CDNS.len());
    for cc in countries {
        let Ok(region) = parse_region(&format!("country:{cc}")) else { continue };
        for (i, cdn) in CDNS.iter().enumerate() {
            out.push(Observation {
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
    out
}

/// An engine fed one round of observations and ticked past its first (cold-start) ticks;
/// returns it with the current time.
pub fn warm_engine(zones: &ZoneSet, countries: &[String]) -> (Engine, u64) {
    let mut engine = Engine::new();
    let mut now = 1_000;
    for o in observations(countries, now, 0.0) {
        engine.ingest(&o);
    }
    for _ in 0..3 {
        now += TICK_MS;
        let _ = engine.tick(zones, &OverrideSet::new(), now);
    }
    (engine, now)
}
