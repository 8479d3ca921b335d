use super::source::{EventKind, EventRow, Row, ShareRow, SignalRow};
use super::stream::{Follow, message, messages};
use super::*;

fn share(id: u64, name: &str) -> Row {
    Row::Share(ShareRow { id, at: 1, name: name.into(), region: "default".into(), cdn: "akamai".into(), share: 1.0, score: None, state: crate::steer::CandidateState::Cold })
}

fn signal(id: u64, cdn: &str) -> Row {
    Row::Signal(SignalRow { id, at: 1, cdn: cdn.into(), region: "default".into(), vantage: "v".into(), requests: 1, errors: 0, cache_hits: None, ttfb_ms: None, throughput_mbps: None, failure: None })
}

fn event(id: u64, name: Option<&str>) -> Row {
    Row::Event(EventRow { id, at: 1, kind: EventKind::Decision, name: name.map(str::to_string), region: None, generation: None, who: None, text: "why".into(), data: None })
}

#[test]
fn a_message_is_framed_and_cannot_end_early() {
    let m = message("plan", Some(7), "{\"a\":1}");
    assert_eq!(&m[..], b"id: 7\nevent: plan\ndata: {\"a\":1}\n\n");
    let m = message("log", None, "one\ntwo");
    assert_eq!(&m[..], b"event: log\ndata: one\ndata: two\n\n");
}

#[test]
fn rows_go_out_in_id_order_one_message_per_run_each_with_its_last_id() {
    let follow = Follow { name: "live.example.com.".into(), cdns: vec!["akamai".into(), "fastly".into()] };
    let rows = vec![
        share(1, "live.example.com."),
        share(2, "other.example.com."),
        share(3, "live.example.com."),
        signal(4, "akamai"),
        signal(5, "edgio"),
        signal(6, "fastly"),
        event(7, Some("other.example.com.")),
        event(8, Some("*")),
        event(9, None),
        share(10, "live.example.com."),
    ];
    let out: Vec<String> = messages(&rows, &follow).into_iter().map(|b| String::from_utf8_lossy(&b).into_owned()).collect();
    assert_eq!(out.len(), 4, "{out:#?}");
    assert!(out[0].starts_with("id: 3\nevent: share\n") && out[0].contains("\"id\":1") && !out[0].contains("other.example.com"), "{}", out[0]);
    assert!(out[1].starts_with("id: 6\nevent: signal\n") && !out[1].contains("edgio"), "{}", out[1]);
    assert!(out[2].starts_with("id: 9\nevent: log\n") && out[2].contains("\"id\":8") && !out[2].contains("\"id\":7"), "{}", out[2]);
    assert!(out[3].starts_with("id: 10\nevent: share\n"));
    let json = out[0].lines().find_map(|l| l.strip_prefix("data: ")).expect("data");
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON array");
    assert_eq!(v[0]["type"], "share");
    assert_eq!(v[1]["id"], 3);
}

#[test]
fn names_are_found_with_or_without_the_dot_and_unknown_ones_are_refused() {
    let names = vec!["live.example.com.".to_string(), "vod.example.com.".to_string()];
    assert_eq!(resolve_name(&names, None).ok(), Some("live.example.com.".into()));
    assert_eq!(resolve_name(&names, Some("VOD.example.com")).ok(), Some("vod.example.com.".into()));
    assert_eq!(resolve_name(&names, Some("vod.example.com.")).ok(), Some("vod.example.com.".into()));
    let refused = resolve_name(&names, Some("www.example.com")).expect_err("refused");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(resolve_name(&[], None).is_err());
}

#[test]
fn every_asset_the_page_names_is_embedded_and_nothing_is_fetched_from_elsewhere() {
    for (file, _, bytes) in assets::ASSETS {
        assert!(!bytes.is_empty(), "{file}");
    }
    for needle in ["dashboard/assets/dashboard.js", "dashboard/assets/dashboard.css", "dashboard/assets/uPlot.iife.min.js", "dashboard/assets/uPlot.min.css"] {
        assert!(assets::PAGE.contains(needle), "{needle}");
        let file = needle.rsplit('/').next().unwrap_or_default();
        assert!(assets::ASSETS.iter().any(|(f, _, _)| *f == file), "{file} not embedded");
    }
    for (file, _, bytes) in assets::ASSETS.iter().filter(|(f, _, _)| f.starts_with("dashboard")) {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"), "{file} names an outside URL");
    }
    assert!(!assets::PAGE.contains("http"), "the page names an outside URL");
}
