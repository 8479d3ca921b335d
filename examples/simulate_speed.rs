//! How fast the simulator runs a night (a benchmark, not a test): the bundled final
//! (`scenarios/final.yaml`) widened to 50 regions (49 countries + default) x 4 CDNs, 3 hours at
//! 1-second ticks, probes every 5 s from ten sites, telemetry every 10 s for every CDN x
//! region; then a 100-point sweep of the same night on every core.
//!
//! ```text
//! cargo run --release --example simulate_speed            # one night, then the sweep
//! cargo run --release --example simulate_speed -- night   # one night only
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use cdnsteer::region::{RegionKey, parse_region};
use cdnsteer::sim::run::{Night, RunOptions, run};
use cdnsteer::sim::scenario::model::{ProbeSite, RegionAudience, SweepAxis, SweepParam};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// 49 countries, KR and JP first, then in code order.
fn countries() -> Vec<String> {
    let mut out = vec!["KR".to_string(), "JP".to_string()];
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            let code = format!("{}{}", a as char, b as char);
            if out.len() < 49 && !out.contains(&code) && parse_region(&format!("country:{code}")).is_ok() {
                out.push(code);
            }
        }
    }
    out
}

/// The bundled zone with the steered name's regions replaced by the countries + default.
fn zone_text(countries: &[String]) -> Result<String, String> {
    let text = std::fs::read_to_string(repo().join("zones/example.com.yaml")).map_err(|e| e.to_string())?;
    let start = text.find("    regions:\n").ok_or("no regions block in the bundled zone")?;
    let end = text.find("\n# Health:").ok_or("no health block in the bundled zone")?;
    let mut regions = String::from("    regions:\n      countries:\n");
    for (i, cc) in countries.iter().enumerate() {
        let _ = writeln!(regions, "        {cc}: {{akamai: {}, cloudfront: 30, fastly: {}, edgio: 10}}", 40 + i % 7, 20 + i % 3);
    }
    regions.push_str("      default: {fastly: 40, cloudfront: 30, akamai: 15, edgio: 15}\n");
    Ok(format!("{}{}{}", &text[..start], regions, &text[end..]))
}

fn night() -> Result<Night, String> {
    let countries = countries();
    let dir = std::env::temp_dir().join(format!("cdnsteer-simulate-speed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("example.com.yaml"), zone_text(&countries)?).map_err(|e| e.to_string())?;
    let zones = cdnsteer::zone::load_dir(&dir).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    let mut s = cdnsteer::sim::scenario::load(&repo().join("scenarios/final.yaml")).map_err(|e| e.to_string())?;
    s.event = None;
    s.events = None;
    s.start = Some(cdnsteer::timestamp::parse_rfc3339("2026-12-18T10:30:00Z")?);
    s.duration_ms = Some(3 * 3_600_000);
    let keys: Vec<RegionKey> = countries.iter().filter_map(|c| parse_region(&format!("country:{c}")).ok()).chain([RegionKey::Default]).collect();
    // Two thirds in KR, a tenth in JP, the rest evenly.
    let rest = (1.0 - 0.66 - 0.10) / (keys.len() - 2) as f64;
    s.audience.regions = keys.iter().enumerate().map(|(i, k)| RegionAudience { region: k.clone(), part: [0.66, 0.10].get(i).copied().unwrap_or(rest), curve: None }).collect();
    s.probes = keys.iter().take(10).enumerate().map(|(i, k)| ProbeSite { vantage: format!("site-{i}"), region: k.clone(), interval_ms: 5_000, timeout_ms: 2_000 }).collect();
    s.incidents.iter_mut().for_each(|i| i.at = i.at.min(2 * 3_600_000));
    Night::prepare(s, zones, &cdnsteer::event::EventSet::default()).map_err(|e| e.to_string())
}

fn main() {
    let night = match night() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let steered = night.zones.steered().next().map_or(0, |n| n.regions.len());
    let ticks = (night.end - night.start) / night.tick_ms;
    println!("{} regions x 4 CDNs, {} ticks of {} ms", steered, ticks, night.tick_ms);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let out = run(&night, &RunOptions::default());
        let secs = started.elapsed().as_secs_f64();
        best = best.min(secs);
        println!("night: {secs:.2} s ({:.1} us per tick); peak {} viewers, {:.3}% degraded viewer-minutes, {} flaps/h max", secs * 1e6 / ticks as f64, out.summary.peak_viewers, out.summary.viewer_minutes_degraded_pct, out.summary.max_flaps_per_hour);
    }
    println!("best of 3: {best:.2} s");
    if std::env::args().nth(1).as_deref() == Some("night") {
        return;
    }
    let axes = [
        SweepAxis { param: SweepParam::MaxChangePerTick, values: vec![0.1, 0.15, 0.2, 0.3] },
        SweepAxis { param: SweepParam::Down, values: vec![30.0, 35.0, 40.0, 45.0, 50.0] },
        SweepAxis { param: SweepParam::FastTtlSecs, values: vec![5.0, 10.0, 15.0, 20.0, 30.0] },
    ];
    let started = Instant::now();
    let out = cdnsteer::sim::sweep::sweep(&night, &axes, 0);
    println!("sweep: {} points on {} threads in {:.1} s; best: {:?}", out.points, out.threads, started.elapsed().as_secs_f64(), out.ranked.first().map(|p| &p.settings));
}
