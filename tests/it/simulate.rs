//! The simulator: it runs the production control loop (`steer::drive::round`), so the same
//! observations give the same decision tables whether the simulator or the daemon's driver
//! takes them, and the live server fed them through the telemetry API settles on the same
//! shares; each incident kind does what it says; the bundled scenario's summary is golden and
//! within its limits; a simulated night written to a history renders as a report.
//!
//! After an intended change: `UPDATE_GOLDEN=1 cargo test --test it simulate` rewrites
//! `tests/fixtures/sim/final.summary.json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{bundled_geoip, repo, start_with};
use crate::operations::{admin_url, post, token};
use cdnsteer::admin::client::call;
use cdnsteer::health::{Engine, Observation};
use cdnsteer::overrides::OverrideSet;
use cdnsteer::sim::run::{Night, RunOptions, run};
use cdnsteer::steer::CellPrefixes;

/// `tests/fixtures/sim/short.yaml` with `extra` appended, written where its zone path holds.
fn short(dir: &Path, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/sim/short.yaml")).expect("fixture");
    let text = text.replace("zones: ../../../zones", &format!("zones: {}", repo().join("zones").display()));
    let path = dir.join("short.yaml");
    std::fs::write(&path, format!("{text}{extra}")).expect("write scenario");
    path
}

fn night(path: &Path) -> Night {
    cdnsteer::cli::simulate::prepare(path).unwrap_or_else(|e| panic!("{e}"))
}

const CLOUDFRONT_KR_TO_THE_END: &str = "incidents:\n  - {at: 4m, for: 8m, kind: degrade, cdn: cloudfront, region: country:KR, ttfb_ms: 1400, error_rate: 0.08, throughput_mbps: 2.5}\n";

#[test]
fn the_simulator_and_the_daemons_driver_make_the_same_tables_tick_by_tick() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = night(&short(dir.path(), CLOUDFRONT_KR_TO_THE_END));
    let sim = run(&n, &RunOptions { trace: true, tables: true, ..RunOptions::default() });
    assert!(sim.trace.len() > 1000, "{} observations", sim.trace.len());
    // The daemon's engine task calls `steer::drive::round` each round; here with a manual
    // clock at the simulator's ticks and the simulator's observations as they arrived.
    let mut engine = Engine::new();
    let mut overrides = OverrideSet::new();
    let mut table = cdnsteer::steer::plan(&n.zones, &cdnsteer::health::NoHealth, &overrides, n.start, CellPrefixes::default()).table;
    let mut trace = sim.trace.iter().peekable();
    let mut changes = 0;
    for (tick, simulated) in &sim.tables {
        let mut observations: Vec<Observation> = Vec::new();
        while let Some(t) = trace.next_if(|t| t.tick == *tick) {
            observations.push(t.observation.clone());
        }
        let round = cdnsteer::steer::drive::round(&mut engine, &mut overrides, &n.zones, &mut observations, *tick, CellPrefixes::default());
        if let Some(plan) = round.plan {
            table = plan.table;
            changes += 1;
        }
        for (a, b) in table.names.iter().zip(&simulated.names) {
            assert_eq!(a.regions, b.regions, "tables differ at tick {}", tick - n.start);
        }
    }
    assert!(changes > 3, "the night changed the plan {changes} times");
}

/// Shares of a region as the live server's explain shows them, per CDN name.
async fn live_shares(url: &str, ecs: &str) -> Vec<(String, f64)> {
    let (status, body) = call(url, "GET", &format!("/api/v1/explain?name=live.example.com&ecs={ecs}"), None, None).await.expect("explain");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let mut out: Vec<(String, f64)> = v["candidates"].as_array().map(|c| c.iter().map(|c| (c["cdn"].as_str().unwrap_or("").to_string(), c["share"].as_f64().unwrap_or(-1.0))).collect()).unwrap_or_default();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_server_fed_the_trace_through_the_telemetry_api_settles_on_the_same_shares() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = night(&short(dir.path(), CLOUDFRONT_KR_TO_THE_END));
    let sim = run(&n, &RunOptions { trace: true, tables: true, ..RunOptions::default() });
    let steered = n.zones.steered().next().expect("steered name");
    let kr = steered.regions.iter().position(|r| r.key.to_string() == "country:KR").expect("KR");
    let (_, last) = sim.tables.last().expect("tables");
    let mut expected: Vec<(String, f64)> = last.names[0].regions[kr].shares.iter().map(|s| (steered.cdns[s.cdn].name.clone(), s.weight)).collect();
    let total: f64 = expected.iter().map(|e| e.1).sum();
    expected.iter_mut().for_each(|e| e.1 /= total);
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(expected.iter().any(|(c, s)| c == "cloudfront" && *s < 0.01), "the simulation drained cloudfront in KR: {expected:?}");

    let server = start_with(&repo().join("zones"), &bundled_geoip(), |_| {}).await;
    let url = admin_url(&server);
    let token = token(&server);
    // The last 40 s of the trace, moved to end now, one batch per (tick, vantage) as the
    // telemetry API takes them (a probe vantage's results become a source of its own).
    let end = sim.trace.last().map(|t| t.tick).unwrap_or(n.end);
    let now = cdnsteer::clock::Clock::new().now();
    let recent: Vec<&Observation> = sim.trace.iter().filter(|t| t.tick + 40_000 >= end).map(|t| &t.observation).collect();
    let mut batches: std::collections::BTreeMap<(u64, String), Vec<Value>> = std::collections::BTreeMap::new();
    for o in recent {
        let at = now.saturating_sub(end.saturating_sub(o.at)).saturating_sub(1000);
        let mut m = json!({
            "cdn": o.cdn, "region": o.region.to_string(), "requests": o.requests, "errors": o.errors,
            "at": cdnsteer::timestamp::rfc3339(at),
        });
        if let Some(t) = o.ttfb_ms {
            m["ttfb_ms"] = json!({"p50": t});
        }
        if let Some(t) = o.throughput_mbps {
            m["throughput_mbps"] = json!(t);
        }
        if let Some(h) = o.cache_hits {
            m["cache_hits"] = json!(h);
        }
        if let Some(g) = o.delivered_gbps {
            m["delivered_gbps"] = json!(g);
        }
        let source = o.vantage.trim_start_matches("rum:").to_string();
        batches.entry((o.at, source)).or_default().push(m);
    }
    for ((_, source), measurements) in batches {
        let (status, body) = post(&url, "/api/v1/telemetry", &token, json!({"source": source, "measurements": measurements})).await;
        assert_eq!(status, 202, "{body}");
    }
    // Ticks of 1 s, a slew of 0.2 per tick: settled well within 15 s (bounded wait).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut live = Vec::new();
    while tokio::time::Instant::now() < deadline {
        live = live_shares(&url, "211.234.10.0/24").await;
        let close = live.len() == expected.len() && live.iter().zip(&expected).all(|(a, b)| a.0 == b.0 && (a.1 - b.1).abs() <= 0.011);
        if close {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("live KR shares {live:?}, simulated {expected:?}");
}

#[test]
fn a_dark_cdn_is_drained_and_its_viewers_move() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = night(&short(dir.path(), "incidents:\n  - {at: 4m, for: 4m, kind: dark, cdn: fastly}\n"));
    let s = run(&n, &RunOptions::default()).summary;
    let i = &s.incidents[0];
    assert_eq!(i.kind, "dark");
    assert!(i.first_answer_change_secs.is_some_and(|t| t < 30.0), "{i:?}");
    assert!(i.moved_90pct_secs.is_some_and(|t| t < 240.0), "{i:?}");
    assert!(i.viewer_minutes_degraded > 0.0);
}

#[test]
fn a_blind_probe_vantage_or_silent_telemetry_moves_nobody() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = night(&short(dir.path(), "incidents:\n  - {at: 3m, for: 3m, kind: probe_blind, vantage: seoul-1}\n  - {at: 7m, for: 3m, kind: telemetry_stops, region: country:KR}\n"));
    let s = run(&n, &RunOptions::default()).summary;
    assert_eq!(s.incidents.len(), 2);
    for i in &s.incidents {
        assert!(i.max_share_change < 0.02, "{} moved shares by {}", i.label, i.max_share_change);
        assert_eq!(i.viewer_minutes_degraded, 0.0, "{i:?}");
    }
    assert_eq!(s.viewer_minutes_degraded, 0.0);
}

#[test]
fn telemetry_that_stops_everywhere_while_probes_are_blind_leaves_stale_data_unknown() {
    // With neither source, every signal goes stale: the engine must not call anything
    // healthy or down on old data, so nobody is moved (and nothing fails open).
    let dir = tempfile::tempdir().expect("tmp");
    let n = night(&short(dir.path(), "incidents:\n  - {at: 3m, for: 3m, kind: telemetry_stops}\n  - {at: 3m, for: 3m, kind: probe_blind, vantage: seoul-1}\n  - {at: 3m, for: 3m, kind: probe_blind, vantage: tokyo-1}\n"));
    let s = run(&n, &RunOptions::default()).summary;
    assert!(s.incidents.iter().all(|i| i.max_share_change < 0.02), "{:?}", s.incidents);
}

#[test]
fn the_bundled_scenario_holds_its_limits_and_its_summary_is_golden() {
    let n = night(&repo().join("scenarios/final.yaml"));
    let a = run(&n, &RunOptions::default()).summary;
    let json = serde_json::to_string_pretty(&a).expect("json") + "\n";
    let b = serde_json::to_string_pretty(&run(&n, &RunOptions::default()).summary).expect("json") + "\n";
    assert_eq!(json, b, "the same scenario and seed give the same JSON");
    let golden = repo().join("tests/fixtures/sim/final.summary.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &json).expect("write golden");
    }
    let want = std::fs::read_to_string(&golden).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert!(json == want, "the summary differs from {} (UPDATE_GOLDEN=1 to accept an intended change):\n{}", golden.display(), first_difference(&want, &json));
    assert!(a.passed, "{:?}", a.limits);
    assert!(a.commit_breaches.is_empty(), "{:?}", a.commit_breaches);
    assert!(a.viewer_minutes_degraded_pct < 1.0);
    assert!(a.max_flaps_per_hour <= 2.0);
    assert_eq!(a.peak_viewers, 1_800_000.0);
    let f = cdnsteer::sim::forecast::forecast(&n);
    assert!(f.holds, "the bundled capacity holds the forecast: {f:?}");
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  golden: {x}\n  actual: {y}", i + 1);
        }
    }
    format!("lengths differ: {} vs {} lines", a.lines().count(), b.lines().count())
}

#[test]
fn a_simulated_night_in_a_history_renders_as_a_report() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = short(dir.path(), CLOUDFRONT_KR_TO_THE_END);
    let history = dir.path().join("night.sqlite");
    let out = cdnsteer::cli::simulate::simulate(&path, Some(&history), false).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.text.contains("history written to"), "{}", out.text);
    let args = cdnsteer::cli::report::ReportArgs {
        event: None,
        from: Some("2027-01-15T08:00:00Z".into()),
        to: Some("2027-01-15T08:12:00Z".into()),
        from_annotation: None,
        to_annotation: None,
        out: None,
        format: cdnsteer::cli::report::ReportFormat::Json,
        state_dir: dir.path().join("no-state"),
        history: Some(history),
        zones: repo().join("zones"),
        events: dir.path().join("no-events"),
        bucket: "10s".into(),
        utc_offset: None,
        input: None,
    };
    let generated = cdnsteer::timestamp::parse_rfc3339("2027-01-15T09:00:00Z").expect("time");
    let report = cdnsteer::cli::report::run(&args, generated).unwrap_or_else(|e| panic!("{e}"));
    let r: Value = serde_json::from_str(&report.text).expect("report JSON");
    let incidents = r["incidents"].as_array().expect("incidents");
    assert!(incidents.iter().any(|i| i["cdn"] == "cloudfront" && i["region"] == "country:KR"), "{incidents:?}");
    let cdns = r["cdns"].as_array().expect("cdns");
    assert_eq!(cdns.len(), 4);
    assert!(r["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e.to_string().contains("(simulated)"))), "the incident is annotated");
}

#[test]
fn the_commands_exit_2_on_a_broken_limit_and_print_json_for_machines() {
    let dir = tempfile::tempdir().expect("tmp");
    // No degraded viewer-minute allowed, and a CDN goes dark: the limit breaks.
    let strict = short(dir.path(), "incidents:\n  - {at: 4m, for: 4m, kind: dark, cdn: fastly}\n").to_string_lossy().to_string();
    let text = std::fs::read_to_string(&strict).expect("scenario").replace("max_viewer_minutes_degraded_pct: 5", "max_viewer_minutes_degraded_pct: 0");
    std::fs::write(&strict, text).expect("write");
    let cdnsteer = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_cdnsteer")).current_dir(repo()).args(args).output().expect("run cdnsteer");
    let out = cdnsteer(&["simulate", &strict, "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(v["passed"], false);
    assert!(v["limits"].as_array().is_some_and(|l| l.iter().any(|l| l["limit"] == "max_viewer_minutes_degraded_pct" && l["ok"] == false)), "{v}");
    // The same run twice: byte-identical.
    assert_eq!(out.stdout, cdnsteer(&["simulate", &strict, "--json"]).stdout);
    let ok = cdnsteer(&["forecast", "scenarios/final.yaml"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("N-1 in country:KR"));
    let sweep = cdnsteer(&["simulate", &strict, "--sweep", "--param", "down=30,50", "--json"]);
    let v: Value = serde_json::from_slice(&sweep.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&sweep.stderr)));
    assert_eq!(v["points"], 2);
    let bad = cdnsteer(&["simulate", &strict, "--sweep", "--param", "nonsense=1"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown setting"), "{}", String::from_utf8_lossy(&bad.stderr));
}
