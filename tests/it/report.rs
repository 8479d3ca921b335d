//! The post-event report on the recorded fixture (tests/fixtures/report/final.input.json: the
//! bundled final rehearsed through the real engine, `examples/report_sample.rs`): the JSON is
//! compared byte for byte with its golden file, the HTML is checked for its sections and
//! charts, the CSV for its table, and the sample in docs/ must be the fixture's rendering.
//!
//! After an intended change: `UPDATE_GOLDEN=1 cargo test --test it report` rewrites the golden
//! JSON and docs/report-sample.html.

use std::path::PathBuf;

use cdnsteer::report::{self, ReportInput};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> ReportInput {
    let path = repo().join("tests/fixtures/report/final.input.json");
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(&text).expect("fixture parses")
}

fn update() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some()
}

/// Compare with a golden file, or rewrite it when asked.
fn golden(rel: &str, actual: &str) {
    let path = repo().join(rel);
    if update() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{rel} differs from the report at line {}:\n  golden: {:?}\n  actual: {:?}\n(UPDATE_GOLDEN=1 to accept an intended change)",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn the_json_is_byte_identical_to_its_golden_file_and_deterministic() {
    let input = fixture();
    let a = report::to_json(&report::build(&input).expect("report")).expect("json");
    let b = report::to_json(&report::build(&input.clone()).expect("report")).expect("json");
    assert_eq!(a, b, "the same input gives the same bytes");
    golden("tests/fixtures/report/final.report.json", &a);
}

#[test]
fn the_fixture_tells_the_story_it_was_recorded_for() {
    let r = report::build(&fixture()).expect("report");
    assert_eq!(r.subject.duration_secs, 3 * 3600);
    assert_eq!(r.incidents.len(), 1, "{:#?}", r.incidents);
    let i = &r.incidents[0];
    assert_eq!((i.cdn.as_str(), i.region.as_str()), ("cloudfront", "country:KR"));
    assert!((420..=540).contains(&i.duration_secs), "about 8 minutes: {}", i.duration_secs);
    assert!(i.breaches.iter().any(|b| b.signal == "error_rate"), "{:?}", i.breaches);
    assert!(i.half_moved_after_secs.is_some_and(|s| s <= 30), "{i:?}");
    assert!(i.viewers_at_start.is_some() && i.playback_failures.is_some_and(|n| n > 0));
    assert!(i.actions.iter().any(|a| a.by == "operator" && a.text.contains("drain")), "{:?}", i.actions);
    let f1 = &r.findings[0];
    assert!(f1.text.starts_with("cloudfront missed") && f1.text.contains("KR") && f1.text.contains("drained twice"), "{}", f1.text);
    assert!(f1.evidence.iter().any(|e| e.anchor == "incident-I1"));
    assert!(r.recommendations.iter().any(|x| x.area == "weights" && x.setting.as_deref() == Some("steered.live.regions.countries.KR")), "{:#?}", r.recommendations);
    assert!(r.recommendations.iter().all(|x| !x.evidence.is_empty()), "every recommendation points at its evidence");
    let cf = r.cdns.iter().find(|c| c.cdn == "cloudfront").expect("cloudfront");
    let kr = cf.regions.iter().find(|x| x.region == "country:KR").expect("KR");
    assert!(kr.stats.availability_pct.is_some_and(|a| a < 99.9), "{:?}", kr.stats.availability_pct);
    assert_eq!((kr.stats.health_drains, kr.stats.operator_drains), (1, 1));
    assert!(cf.capacity.commit_gbps.is_some() && cf.capacity.p95_gbps.is_some());
    assert_eq!(r.charts.annotations.first().map(|m| m.text.as_str()), Some("kickoff"));
}

#[test]
fn the_html_has_its_sections_charts_and_print_layout_and_no_outside_resource() {
    let r = report::build(&fixture()).expect("report");
    let html = report::html::render(&r);
    for id in ["summary", "findings", "recommendations", "incidents", "sla", "regions", "capacity", "cdns", "timeline", "methods", "incident-I1", "cdn-cloudfront", "region-country-kr", "chart-answers", "chart-delivered"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id}");
    }
    // The overview, one share chart per top region, delivered traffic, three per CDN.
    let charts = html.matches("<svg class=\"chart\"").count();
    assert!(charts >= 1 + 4 + 1 + 4 * 3, "{charts} charts");
    assert!(html.contains("Share of answers (%)") && html.contains("Score (0–100)") && html.contains("TTFB p95 (ms)") && html.contains("Delivered (Gbps)"), "units on the axes");
    assert!(html.contains("Local time (UTC+09:00)"));
    assert!(html.contains(">kickoff</text>"), "annotations marked on the timelines");
    assert!(html.contains("@page{size:A4") && html.contains("break-before:page"), "print layout");
    // Summary and findings come before the detail and the method notes.
    let at = |id: &str| html.find(&format!("id=\"{id}\"")).unwrap_or(usize::MAX);
    assert!(at("summary") < at("findings") && at("findings") < at("incidents") && at("incidents") < at("cdns") && at("cdns") < at("methods"));
    for outside in ["<script", "<link", "src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(outside), "self-contained: found {outside}");
    }
    for f in &r.findings {
        for e in &f.evidence {
            assert!(html.contains(&format!("id=\"{}\"", e.anchor)), "finding {} points at #{} which exists", f.id, e.anchor);
        }
    }
}

#[test]
fn the_csv_is_the_per_cdn_region_table() {
    let r = report::build(&fixture()).expect("report");
    let csv = report::csv::render(&r);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("cdn,region,answers,answer_share"));
    let rows = r.cdns.iter().map(|c| 1 + c.regions.len()).sum::<usize>();
    assert_eq!(lines.len(), 1 + rows);
    let width = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == width), "same width everywhere");
    assert!(lines.iter().any(|l| l.starts_with("cloudfront,country:KR,")));
}

#[test]
fn the_sample_in_docs_is_the_fixtures_rendering() {
    let html = report::html::render(&report::build(&fixture()).expect("report"));
    golden("docs/report-sample.html", &html);
}

/// Ten minutes of the bundled final (21:00-21:10 KST) written into a history database by the
/// real writer: the engine ticking every second on players' telemetry (every 5 s, with QoE),
/// its plans and decisions, answers every 10 s, two annotations and an operator's drain;
/// CloudFront degrades in KR from 21:03 to 21:06.
fn record_history(state: &std::path::Path) {
    use std::sync::Arc;

    use cdnsteer::health::{Engine, Observation};
    use cdnsteer::history::{AnswerCounts, Annotation, HistorySettings, HistoryWriter, Record};
    use cdnsteer::overrides::OverrideSet;
    use cdnsteer::region::parse_region;
    use cdnsteer::steer::{CellPrefixes, plan};
    use cdnsteer::timestamp::parse_rfc3339;

    let t = |hms: &str| parse_rfc3339(&format!("2026-12-18T{hms}+09:00")).expect("time");
    let mut zones = cdnsteer::zone::load_dir(&repo().join("zones")).expect("zones");
    let events = cdnsteer::event::load_dir(&repo().join("events"), &zones).expect("events");
    events.attach(&mut zones);
    let zones = Arc::new(zones);
    let writer = HistoryWriter::open(state, &HistorySettings::default()).expect("history");
    let h = writer.handle();
    let mut engine = Engine::new();
    let overrides = OverrideSet::new();
    let name = "live.example.com.";
    let steered = zones.steered().find(|s| s.name.as_str() == name).expect("steered").clone();
    let regions: Vec<(String, Vec<String>)> = steered.regions.iter().filter(|r| matches!(r.key.kind(), "country" | "default")).map(|r| (r.key.to_string(), r.candidates.iter().map(|c| steered.cdns[c.cdn].name.clone()).collect())).collect();
    let (start, end) = (t("21:00:00"), t("21:10:00"));
    let degraded = (t("21:03:00"), t("21:06:00"));
    let mut counts: Vec<cdnsteer::history::AnswerSeries> = Vec::new();
    let mut generation = 0;
    let mut now = start;
    while now < end {
        let sec = (now - start) / 1000;
        if now == t("21:01:00") || now == t("21:09:00") {
            let text = if now == t("21:01:00") { "kickoff" } else { "final whistle" };
            h.send(Record::Annotation(Annotation { at: now, text: text.into(), author: "noc-kim".into() }, None));
        }
        if now == t("21:04:00") {
            h.send(Record::Override(cdnsteer::overrides::store::AuditEntry {
                when: now,
                who: "noc".into(),
                author: Some("noc-kim".into()),
                what: "override.add".into(),
                before: serde_json::Value::Null,
                after: serde_json::json!({"id": "ovr-1", "kind": "drain", "name": name, "region": "country:KR", "cdn": "cloudfront", "author": "noc-kim", "reason": "ticket #4821"}),
            }));
        }
        if sec % 5 == 0 {
            let mut obs = Vec::new();
            let mut qoe = Vec::new();
            for (region, cdns) in &regions {
                for cdn in cdns {
                    let bad = cdn == "cloudfront" && region == "country:KR" && now >= degraded.0 && now < degraded.1;
                    let (errors, ttfb) = if bad { (800, 950.0) } else { (8, 80.0 + sec as f64 % 7.0) };
                    let o = Observation { cdn: cdn.clone(), region: parse_region(region).expect("region"), vantage: "rum:players".into(), at: now, requests: 10_000, errors, cache_hits: Some(9_700), ttfb_ms: Some(ttfb), throughput_mbps: Some(if bad { 3.5 } else { 24.0 }), delivered_gbps: Some(40.0), failure: None };
                    engine.ingest(&o);
                    obs.push(o);
                    qoe.push(cdnsteer::qoe::QoeSample {
                        cdn: cdn.clone(),
                        region: parse_region(region).expect("region"),
                        source: "players".into(),
                        at: now,
                        window_secs: Some(5),
                        viewers: Some(if bad { 4_000 } else { 12_000 }),
                        startup_p50_ms: Some(if bad { 4200.0 } else { 950.0 }),
                        startup_p95_ms: Some(2400.0),
                        rebuffer_ratio: Some(if bad { 0.06 } else { 0.003 }),
                        playback_failures: Some(if bad { 40 } else { 0 }),
                        exits_before_start: Some(if bad { 90 } else { 1 }),
                        ttfb_p50_ms: Some(ttfb),
                        ttfb_p95_ms: Some(ttfb * 2.4),
                        ttfb_p99_ms: None,
                        requests: 10_000,
                        errors,
                        delivered_gbps: Some(40.0),
                    });
                }
            }
            h.send(Record::Observations(obs));
            h.send(Record::Qoe(qoe));
        }
        let report = engine.tick(&zones, &overrides, now);
        if report.changed || sec % 30 == 0 {
            generation += 1;
            let p = plan(&zones, &engine, &overrides, now, CellPrefixes::default());
            for (ri, rx) in p.explain.names[0].iter().enumerate() {
                for c in &rx.candidates {
                    counts.push((Arc::from(name), Arc::from(steered.regions[ri].key.to_string()), Arc::from(steered.cdns[c.cdn].name.as_str()), (c.share * 100.0).round() as u64));
                }
            }
            h.send(Record::Plan { at: now, generation, zones: Arc::clone(&zones), explain: Arc::new(p.explain) });
        }
        h.send(Record::Decisions(report.events));
        if sec % 10 == 9 {
            counts.retain(|c| c.3 > 0);
            h.send(Record::Answers(AnswerCounts { at: now - 9_000, span_ms: 10_000, rows: std::mem::take(&mut counts) }));
        }
        now += 1000;
    }
    h.flush(std::time::Duration::from_secs(30)).expect("flush");
    writer.stop();
}

#[test]
fn a_report_from_a_history_database_between_two_annotations() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    record_history(&state);
    let args = |format| cdnsteer::cli::report::ReportArgs {
        event: Some("final".into()),
        from: None,
        to: None,
        from_annotation: Some("kickoff".into()),
        to_annotation: Some("Final Whistle".into()),
        out: None,
        format,
        state_dir: state.clone(),
        history: None,
        zones: repo().join("zones"),
        events: repo().join("events"),
        bucket: "10s".into(),
        utc_offset: None,
        input: None,
    };
    let generated = cdnsteer::timestamp::parse_rfc3339("2026-12-19T00:30:00Z").expect("time");
    let out = cdnsteer::cli::report::run(&args(cdnsteer::cli::report::ReportFormat::Json), generated).expect("report");
    let r: serde_json::Value = serde_json::from_str(&out.text).expect("json");
    assert_eq!((r["subject"]["from"].as_str(), r["subject"]["to"].as_str()), (Some("2026-12-18T12:01:00Z"), Some("2026-12-18T12:09:00Z")));
    assert_eq!(r["subject"]["utc_offset"], "+09:00", "the event's local time");
    // Measured against the event's share settings (events/final.yaml), not the zone's own.
    let t = &r["policy"][0]["thresholds"];
    assert_eq!((t["max_share"].as_f64(), t["min_dwell_secs"].as_f64(), t["max_change_per_tick"].as_f64(), t["min_warm_share"].as_f64()), (Some(0.6), Some(20.0), Some(0.15), Some(0.03)), "{t}");
    let incidents = r["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!((incidents[0]["cdn"].as_str(), incidents[0]["region"].as_str()), (Some("cloudfront"), Some("country:KR")));
    assert!(incidents[0]["half_moved_after_secs"].as_u64().is_some_and(|s| s <= 10), "{}", incidents[0]);
    assert!(incidents[0]["actions"].as_array().is_some_and(|a| a.iter().any(|x| x["by"] == "operator")), "the NOC's drain is among the actions");
    assert!(r["summary"]["answers"].as_u64().is_some_and(|n| n > 0));
    assert!(r["cdns"].as_array().is_some_and(|c| c.iter().all(|c| c["overall"]["availability_pct"].is_number())));
    // The same database gives the same bytes; the HTML has its charts.
    let again = cdnsteer::cli::report::run(&args(cdnsteer::cli::report::ReportFormat::Json), generated).expect("report");
    assert_eq!(out.text, again.text);
    golden("tests/fixtures/report/history.report.json", &out.text);
    let html = cdnsteer::cli::report::run(&args(cdnsteer::cli::report::ReportFormat::Html), generated).expect("html");
    assert!(html.text.contains("id=\"incident-I1\"") && html.text.matches("<svg class=\"chart\"").count() > 5);
}

/// Opened once in a real browser (tests/browser/report.mjs: Debian's chromium through
/// playwright-core): sections and charts laid out with a size, nothing wider than the page,
/// evidence links landing, no request, A4 pages in print; the screenshot and the PDF are kept
/// in target/tmp/. Without chromium, node or `npm ci` in tests/browser it says SKIPPED (.ci/run
/// installs them).
#[test]
fn the_report_opens_in_a_real_browser_and_prints_on_a4() {
    let dir = repo().join("tests/browser");
    let chromium = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let missing = if !chromium.exists() {
        Some(format!("{} not found", chromium.display()))
    } else if !node {
        Some("node not found".to_string())
    } else if !dir.join("node_modules/playwright-core/package.json").exists() {
        Some(format!("{} has no node_modules (npm ci there)", dir.display()))
    } else {
        None
    };
    if let Some(why) = missing {
        eprintln!("\n==================================================================");
        eprintln!("SKIPPED: the report browser test did not run: {why}");
        eprintln!("==================================================================\n");
        return;
    }
    let html = report::html::render(&report::build(&fixture()).expect("report"));
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("report.html");
    std::fs::write(&file, html).expect("write");
    let keep = repo().join("target/tmp");
    std::fs::create_dir_all(&keep).expect("target/tmp");
    let out = std::process::Command::new("node")
        .arg(dir.join("report.mjs"))
        .arg(&file)
        .arg(keep.join("report.png"))
        .arg(keep.join("report.pdf"))
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "browser checks failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().any(|l| l.starts_with("@@ result ")), "{stdout}");
    assert!(keep.join("report.png").exists());
}
