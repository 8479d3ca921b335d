//! Report rules on small hand-made inputs (the recorded fixture's golden files are in
//! tests/it/report.rs).

use super::input::*;
use super::{build, zone_policy};
use crate::zone::health::HealthPolicy;

const T0: u64 = 1_797_588_000_000;
const MIN: u64 = 60_000;

fn input(minutes: u64) -> ReportInput {
    let names = vec![NameInput { name: "live.example.com.".into(), last_resort: "a".into(), regions: vec![RegionWeights { region: "country:KR".into(), weights: vec![("a".into(), 60.0), ("b".into(), 40.0)] }] }];
    ReportInput {
        subject: Subject { event: Some("t".into()), customer: None, from: T0, to: T0 + minutes * MIN, names: vec![], window: "test".into(), utc_offset_minutes: 0 },
        generated_at: T0,
        bucket_ms: 10_000,
        zones: vec![zone_policy("example.com.", &HealthPolicy::default(), &names)],
        shares: vec![],
        signals: vec![],
        answers: vec![],
        qoe: vec![],
        events: vec![],
        events_cut: None,
    }
}

fn bucket(at: u64, cdn: &str, requests: u64, errors: u64, ttfb: f64) -> SignalBucket {
    SignalBucket {
        at,
        cdn: cdn.into(),
        region: "country:KR".into(),
        samples: 2,
        vantages: 1,
        requests,
        errors,
        error_rate: Some(errors as f64 / requests as f64),
        cache_hit_ratio: Some(0.97),
        ttfb_p50_ms: Some(ttfb),
        ttfb_p95_ms: Some(ttfb * 2.0),
        throughput_mbps: Some(25.0),
        failures: 0,
        failure: None,
    }
}

/// Ten minutes of 10 s buckets for `cdn`, `bad` between minutes `from` and `to`.
fn run(inp: &mut ReportInput, cdn: &str, from: u64, to: u64) {
    for k in 0..60 {
        let at = T0 + k * 10_000;
        let bad = at >= T0 + from * MIN && at < T0 + to * MIN;
        inp.signals.push(if bad { bucket(at, cdn, 1000, 100, 900.0) } else { bucket(at, cdn, 1000, 0, 80.0) });
    }
}

#[test]
fn availability_is_100_minus_the_mean_of_the_5_minute_error_rates() {
    let mut inp = input(10);
    // First period: 10% errors in one bucket of 30 (1000 requests each) -> 100/30000; second: none.
    run(&mut inp, "a", 0, 0);
    inp.signals[3].errors = 100;
    let r = build(&inp).expect("report");
    let a = r.cdns[0].overall.availability_pct.expect("known");
    let expected = 100.0 * (1.0 - (100.0 / 30_000.0 + 0.0) / 2.0);
    assert!((a - expected).abs() < 1e-3, "{a} vs {expected}");
    assert_eq!(r.cdns[0].overall.availability_periods, 2);
}

#[test]
fn a_minute_past_the_target_is_an_incident_a_blip_is_not() {
    let mut inp = input(10);
    run(&mut inp, "a", 2, 4);
    let mut blip = input(10);
    run(&mut blip, "b", 0, 0);
    inp.signals.extend(blip.signals);
    // 20 s of slow first bytes on b: breach time, no incident.
    for s in inp.signals.iter_mut().filter(|s| s.cdn == "b" && (s.at == T0 + 6 * MIN || s.at == T0 + 6 * MIN + 10_000)) {
        s.ttfb_p50_ms = Some(500.0);
    }
    let r = build(&inp).expect("report");
    assert_eq!(r.incidents.len(), 1, "{:#?}", r.incidents);
    let i = &r.incidents[0];
    assert_eq!((i.cdn.as_str(), i.duration_secs), ("a", 120));
    assert_eq!(i.breaches[0].signal, "error_rate", "worst first: 10% errors against a 0.2% target");
    let b = r.sla.rows.iter().find(|x| x.cdn == "b").expect("b");
    assert_eq!(b.signals[0].secs, 20, "the blip counts as time in breach");
    assert!(r.findings.iter().any(|f| f.text.starts_with("a missed")), "{:#?}", r.findings);
}

#[test]
fn time_to_shift_and_states_come_from_the_share_rows() {
    let mut inp = input(10);
    run(&mut inp, "a", 2, 4);
    let p = |at: u64, share: f64, score: f64, state: StateWord| SharePoint { at, share, score: Some(score), state };
    inp.shares.push(ShareSeries {
        name: "live.example.com.".into(),
        region: "country:KR".into(),
        cdn: "a".into(),
        points: vec![p(T0, 0.6, 95.0, StateWord::Healthy), p(T0 + 2 * MIN + 4_000, 0.25, 20.0, StateWord::Down), p(T0 + 2 * MIN + 9_000, 0.02, 10.0, StateWord::Down), p(T0 + 5 * MIN, 0.6, 90.0, StateWord::Healthy)],
    });
    let r = build(&inp).expect("report");
    let i = &r.incidents[0];
    assert_eq!((i.share_before, i.half_moved_after_secs, i.drained_after_secs), (Some(0.6), Some(4), Some(9)));
    assert_eq!(i.score_lowest, Some(10.0));
    let st = &r.cdns[0].overall.time_in_state;
    let down = st.iter().find(|s| s.state == "down").expect("down");
    assert_eq!(down.secs, 3 * 60 - 4);
    assert_eq!(r.cdns[0].overall.health_drains, 1);
}

#[test]
fn an_empty_window_is_refused_and_clipping_keeps_the_state_at_the_start() {
    let mut inp = input(10);
    inp.subject.to = inp.subject.from;
    assert!(build(&inp).is_err());
    let mut inp = input(10);
    run(&mut inp, "a", 0, 0);
    inp.shares.push(ShareSeries { name: "n".into(), region: "country:KR".into(), cdn: "a".into(), points: vec![SharePoint { at: T0, share: 0.5, score: None, state: StateWord::Healthy }] });
    inp.clip(T0 + 5 * MIN, T0 + 10 * MIN);
    assert_eq!(inp.signals.len(), 30);
    assert_eq!(inp.shares[0].points[0].at, T0 + 5 * MIN);
}

#[test]
fn events_past_the_limit_are_left_out_and_the_report_says_so() {
    use crate::history::store::{EventRow, Row, Storage};
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join(crate::history::DB_FILE);
    let mut s = crate::history::SqliteStorage::open(&path).expect("open");
    let note = |i: u64| Row::Event(EventRow { at: T0 + i * MIN, kind: crate::history::EventKind::Annotation, name: None, region: None, generation: None, who: Some("noc".into()), text: format!("note {i}"), data: None });
    s.write(&(0..5).map(note).collect::<Vec<_>>()).expect("write");
    let reader = crate::history::HistoryReader::open(&path).expect("reader");
    let base = input(10);
    let read = |limit| super::gather::read(&reader, base.subject.clone(), base.zones.clone(), 10_000, T0, limit).expect("read");
    // Exactly the limit: nothing is left out.
    let all = read(5);
    assert_eq!((all.events.len(), all.events_cut), (5, None));
    assert_eq!(build(&all).expect("report").events_cut, None);
    // One short: the fourth is the last read, the fifth's time is where the cut is.
    let cut = read(4);
    assert_eq!((cut.events.len(), cut.events_cut), (4, Some(EventsCut { limit: 4, at: T0 + 4 * MIN })));
    let r = build(&cut).expect("report");
    assert_eq!(r.events_cut.as_ref().map(|c| (c.limit, c.from.as_str())), Some((4, crate::timestamp::rfc3339(T0 + 4 * MIN).as_str())));
    assert!(r.notes.iter().any(|n| n.contains("more than 4 events")), "{:?}", r.notes);
    let json = super::to_json(&r).expect("json");
    assert!(json.contains("\"events_cut\""), "in the JSON");
    let html = super::html::render(&r);
    assert!(html.contains("id=\"events-cut\"") && html.contains("more than 4 events"), "in the HTML");
}
