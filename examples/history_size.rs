//! History size and write cost: the bundled zone's steered name with its health settings
//! (1 s ticks), widened to 50 regions (49 countries + default) x 4 CDNs, driven through one
//! simulated hour by the real engine, plan and history writer (a real SQLite file):
//!
//! - telemetry from one RUM source every 10 s for every CDN x region (with QoE fields) and
//!   probes every 5 s for every CDN in 10 regions;
//! - TTFB and errors with noise; each minute two or three CDN x region pairs degrade mildly
//!   for one to three minutes (a few % of the shares move per minute); one incident: fastly in
//!   KR and JP fails (8% errors, 900 ms) from 20:00 to 30:00;
//! - steered answers per CDN x region every 10 s, the plan re-sent every 10 s (keyframes);
//! - `history.keyframe_interval` 60 s (the default).
//!
//! ```text
//! cargo run --release --example history_size
//! cargo run --release --example history_size -- 3600 60                   # write once a minute
//! cargo run --release --example history_size -- 3600 1 /tmp/history-demo  # keep the file
//! ```
//!
//! The second argument is how often (simulated seconds) the example waits for the writer:
//! 1 (the default) writes one transaction per tick, as the daemon does (its writer commits
//! what arrived every 250 ms); 60 lets batches grow to a minute of rows.
//!
//! Prints rows per table, bytes per hour on disk and after downsampling (one row per series
//! and minute, what the history keeps past `history.full_resolution`), the writer's cost per
//! simulated tick (its thread), and the control plane's cost per tick (records built and
//! queued, next to the engine tick and plan it follows).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cdnsteer::health::{Engine, Observation};
use cdnsteer::history::store::{SqliteStorage, Storage};
use cdnsteer::history::{AnswerCounts, HistorySettings, HistoryWriter, Record};
use cdnsteer::overrides::OverrideSet;
use cdnsteer::qoe::QoeSample;
use cdnsteer::region::{RegionKey, parse_region};

const CDNS: [&str; 4] = ["akamai", "fastly", "cloudfront", "edgio"];
const T0: u64 = 1_780_000_020_000;

/// xorshift64*: deterministic noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

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

/// The bundled zone with the steered name's regions replaced by 49 countries + default.
fn zone_text(countries: &[String]) -> Result<String, String> {
    let text = std::fs::read_to_string(repo().join("zones/example.com.yaml")).map_err(|e| e.to_string())?;
    let start = text.find("    regions:\n").ok_or("no regions block in the bundled zone")?;
    let end = text.find("\n# Health:").ok_or("no health block in the bundled zone")?;
    let mut regions = String::from("    regions:\n      countries:\n");
    for (i, cc) in countries.iter().enumerate() {
        let w = [40 + i % 7, 30, 20 + i % 3, 10];
        let _ = writeln!(regions, "        {cc}: {{akamai: {}, cloudfront: {}, fastly: {}, edgio: {}}}", w[0], w[1], w[2], w[3]);
    }
    regions.push_str("      default: {fastly: 40, cloudfront: 30, akamai: 15, edgio: 15}\n");
    Ok(format!("{}{}{}", &text[..start], regions, &text[end..]))
}

/// Per CDN x region: base TTFB and a degradation window.
struct Pair {
    cdn: &'static str,
    region: RegionKey,
    ttfb: f64,
    degraded_until: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3600);
    let every: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let keep: Option<PathBuf> = args.get(3).map(PathBuf::from);
    if let Err(e) = run(seconds, every, keep) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn run(seconds: u64, every: u64, keep: Option<PathBuf>) -> Result<(), String> {
    let countries = countries();
    let zones = cdnsteer::zone::load_texts(&[(PathBuf::from("example.com.yaml"), zone_text(&countries)?)], cdnsteer::diag::Diagnostics::new()).map_err(|e| e.to_string())?;
    let zones = Arc::new(zones);
    let regions: Vec<RegionKey> = countries.iter().filter_map(|c| parse_region(&format!("country:{c}")).ok()).chain([RegionKey::Default]).collect();
    let steered = zones.steered().next().ok_or("no steered name")?;
    println!("zone: {} with {} regions x {} CDNs, health tick {} ms", steered.name, steered.regions.len(), steered.cdns.len(), zones.zones[0].health.tick_ms);

    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(dir.join(cdnsteer::history::DB_FILE));
    let settings = HistorySettings::default();
    let writer = HistoryWriter::open(&dir, &settings).map_err(|e| e.to_string())?;
    let history = writer.handle();

    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let mut pairs: Vec<Pair> = Vec::new();
    for region in &regions {
        for cdn in CDNS {
            pairs.push(Pair { cdn, region: region.clone(), ttfb: 60.0 + rng.unit() * 90.0, degraded_until: 0 });
        }
    }
    let probed: Vec<RegionKey> = regions.iter().take(10).cloned().collect();
    let kr = RegionKey::Country(*b"KR");
    let jp = RegionKey::Country(*b"JP");
    let overrides = OverrideSet::new();
    let cells = cdnsteer::steer::decide::CellPrefixes::default();
    let mut engine = Engine::new();
    let mut generation = 1u64;
    let (mut engine_ns, mut control_ns, mut published, mut events) = (0u128, 0u128, 0u64, 0u64);
    let mut answers_since = T0;
    let mut last_plan: Option<Arc<cdnsteer::steer::PlanExplain>> = None;

    for s in 1..=seconds {
        let now = T0 + s * 1000;
        // Each minute, a few pairs degrade mildly for 1 to 3 minutes.
        if s.is_multiple_of(60) {
            for _ in 0..(2 + rng.below(2)) {
                let i = rng.below(pairs.len() as u64) as usize;
                pairs[i].degraded_until = now + 60_000 * (1 + rng.below(3));
            }
        }
        let incident = (1200..1800).contains(&s);
        let mut observations: Vec<Observation> = Vec::new();
        let mut qoe: Vec<QoeSample> = Vec::new();
        for (i, p) in pairs.iter().enumerate() {
            let failing = incident && p.cdn == "fastly" && (p.region == kr || p.region == jp);
            let degraded = now < p.degraded_until;
            let ttfb = if failing { 900.0 } else if degraded { p.ttfb + 250.0 } else { p.ttfb } * (0.9 + 0.2 * rng.unit());
            let error_rate = if failing { 0.08 } else if degraded { 0.004 } else { 0.0005 * rng.unit() };
            // Telemetry every 10 s, spread over the interval.
            if (s + i as u64).is_multiple_of(10) {
                let requests = 5_000 + rng.below(5_000);
                let errors = (requests as f64 * error_rate) as u64;
                observations.push(Observation {
                    cdn: p.cdn.to_string(),
                    region: p.region.clone(),
                    vantage: "rum:player".to_string(),
                    at: now,
                    requests,
                    errors,
                    cache_hits: Some((requests as f64 * (0.95 + 0.04 * rng.unit())) as u64),
                    ttfb_ms: Some(ttfb),
                    throughput_mbps: Some(25.0 + 10.0 * rng.unit()),
                    delivered_gbps: Some(5.0 + 20.0 * rng.unit()),
                    failure: None,
                });
                qoe.push(QoeSample {
                    cdn: p.cdn.to_string(),
                    region: p.region.clone(),
                    source: "player".to_string(),
                    at: now,
                    window_secs: Some(10),
                    viewers: Some(2_000 + rng.below(50_000)),
                    startup_p50_ms: Some(800.0 + 400.0 * rng.unit()),
                    startup_p95_ms: Some(2_000.0 + 1_000.0 * rng.unit()),
                    rebuffer_ratio: Some(0.005 + 0.01 * rng.unit() + if failing { 0.05 } else { 0.0 }),
                    playback_failures: Some(rng.below(20) + if failing { 200 } else { 0 }),
                    exits_before_start: Some(rng.below(10)),
                    ttfb_p50_ms: Some(ttfb),
                    ttfb_p95_ms: Some(ttfb * 2.5),
                    ttfb_p99_ms: Some(ttfb * 4.0),
                    requests,
                    errors,
                    delivered_gbps: Some(5.0 + 20.0 * rng.unit()),
                });
            }
            // Probes every 5 s in ten regions.
            if probed.contains(&p.region) && (s + i as u64).is_multiple_of(5) {
                let failed = rng.unit() < error_rate * 10.0;
                observations.push(Observation {
                    cdn: p.cdn.to_string(),
                    region: p.region.clone(),
                    vantage: format!("probe-{}", p.region),
                    at: now,
                    requests: 1,
                    errors: u64::from(failed),
                    cache_hits: Some(1),
                    ttfb_ms: Some(if failed { 2000.0 } else { ttfb }),
                    throughput_mbps: Some(if failed { 0.0 } else { 20.0 + 10.0 * rng.unit() }),
                    delivered_gbps: None,
                    failure: failed.then_some(cdnsteer::health::signal::FailureReason::Timeout),
                });
            }
        }

        // The engine and the plan (what the control plane does anyway).
        let started = Instant::now();
        for o in &observations {
            engine.ingest(o);
        }
        let mut report = engine.tick(&zones, &overrides, now);
        let plan = report.changed.then(|| cdnsteer::steer::plan(&zones, &engine, &overrides, now, cells));
        engine_ns += started.elapsed().as_nanos();

        // What the history feed adds to the control plane: build and queue the records.
        let started = Instant::now();
        if let Some(plan) = plan {
            generation += 1;
            published += 1;
            let explain = Arc::new(plan.explain);
            history.send(Record::Plan { at: now, generation, zones: Arc::clone(&zones), explain: Arc::clone(&explain) });
            last_plan = Some(explain);
            for e in &mut report.events {
                e.generation = generation;
            }
            events += report.events.len() as u64;
            if !report.events.is_empty() {
                history.send(Record::Decisions(std::mem::take(&mut report.events)));
            }
        }
        history.send(Record::Observations(observations));
        if !qoe.is_empty() {
            history.send(Record::Qoe(qoe));
        }
        if s.is_multiple_of(10) {
            let mut rows = Vec::new();
            if let Some(explain) = &last_plan {
                for (region, why) in steered.regions.iter().zip(&explain.names[0]) {
                    let region_text: Arc<str> = Arc::from(region.key.to_string());
                    for c in &why.candidates {
                        let n = (c.share * 2_000.0) as u64;
                        if n > 0 {
                            rows.push((Arc::from(steered.name.to_string()), Arc::clone(&region_text), Arc::from(steered.cdns[c.cdn].name.as_str()), n));
                        }
                    }
                }
                history.send(Record::Plan { at: now, generation, zones: Arc::clone(&zones), explain: Arc::clone(explain) });
            }
            history.send(Record::Answers(AnswerCounts { at: answers_since, span_ms: now - answers_since, rows }));
            answers_since = now;
        }
        control_ns += started.elapsed().as_nanos();
        // Let the writer commit (and keep the simulated hour from outrunning its queue).
        if s.is_multiple_of(every) {
            history.flush(Duration::from_secs(60))?;
        }
    }
    history.flush(Duration::from_secs(60))?;
    let stats = history.stats();
    let (batches, write_ns) = stats.write_cost();
    let (written, dropped) = (stats.written(), stats.dropped_queue_full() + stats.dropped_write_failed());
    writer.stop();
    let (checkpoints, checkpoint_ns) = stats.checkpoint_cost();

    let path = dir.join(cdnsteer::history::DB_FILE);
    let mut storage = SqliteStorage::open(&path).map_err(|e| e.to_string())?;
    storage.checkpoint(true).map_err(|e| e.to_string())?;
    let file_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    let used = storage.used_bytes().map_err(|e| e.to_string())?;
    let counts = storage.row_counts().map_err(|e| e.to_string())?;
    let hours = seconds as f64 / 3600.0;
    println!("simulated {seconds} s: {published} plans published, {events} decision events, {written} rows written in {batches} batches, {dropped} dropped");
    for (table, n) in &counts {
        println!("  {table:8} {n:>8} rows ({:.0} per hour)", *n as f64 / hours);
    }
    println!("database: {:.2} MB file, {:.2} MB in use -> {:.2} MB per hour", file_bytes as f64 / 1e6, used as f64 / 1e6, used as f64 / 1e6 / hours);
    println!(
        "writer thread: {:.0} us per simulated 1 s tick ({:.2} us per row, {:.1} ms per batch)",
        write_ns as f64 / 1e3 / seconds as f64,
        write_ns as f64 / 1e3 / written.max(1) as f64,
        write_ns as f64 / 1e6 / batches.max(1) as f64
    );
    println!(
        "checkpoints: {checkpoints} (every {} s of wall time and at stop) took {:.1} ms in all, {:.0} us per simulated tick",
        settings.checkpoint_ms / 1000,
        checkpoint_ns as f64 / 1e6,
        checkpoint_ns as f64 / 1e3 / seconds as f64
    );
    println!(
        "control plane per tick: {:.1} us building and queueing history records (engine tick + plan: {:.0} us)",
        control_ns as f64 / 1e3 / seconds as f64,
        engine_ns as f64 / 1e3 / seconds as f64
    );
    // Past `full_resolution` the hour is kept at one row per series and minute.
    let later = T0 + seconds * 1000 + settings.full_resolution_ms + 3_600_000;
    let started = Instant::now();
    let mut merged = 0;
    for _ in 0..10_000 {
        let m = storage.maintain(later, &settings).map_err(|e| e.to_string())?;
        merged += m.merged;
        if !m.more {
            break;
        }
    }
    let took = started.elapsed();
    let used_after = storage.used_bytes().map_err(|e| e.to_string())?;
    println!(
        "downsampled to 1 min: {merged} rows merged in {:.0} ms -> {:.2} MB per hour ({} rows left)",
        took.as_secs_f64() * 1e3,
        used_after as f64 / 1e6 / hours,
        storage.row_counts().map_err(|e| e.to_string())?.iter().map(|(_, n)| n).sum::<u64>()
    );
    if keep.is_some() {
        println!("kept: {}", path.display());
    }
    Ok(())
}
