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
