use super::*;
use crate::steer::CandidateState;

fn share(id: RowId, at: Millis, cdn: &str, share: f64, score: f64) -> Row {
    Row::Share(ShareRow { id, at, name: "live.example.com.".into(), region: "country:KR".into(), cdn: cdn.into(), share, score: Some(score), state: CandidateState::Healthy })
}

fn signal(id: RowId, at: Millis, cdn: &str, requests: u64, errors: u64, ttfb: f64) -> Row {
    Row::Signal(SignalRow { id, at, cdn: cdn.into(), region: "country:KR".into(), vantage: "v".into(), requests, errors, cache_hits: Some(requests - errors), ttfb_ms: Some(ttfb), throughput_mbps: Some(20.0), failure: None })
}

fn query(from: Millis, to: Millis, step: Millis) -> BackfillQuery {
    BackfillQuery { name: "live.example.com.".into(), cdns: vec!["akamai".into(), "fastly".into()], focus: "country:KR".into(), from, to, step_ms: step }
}

#[test]
fn ids_resume_exactly_and_an_id_from_another_process_is_gone() {
    let rec = Recorder::new(1_000);
    let base = rec.last_id().expect("last id");
    assert_eq!(base, 1_000_000);
    assert_eq!(rec.after(base, 10), Ok(After::Rows(vec![])));
    rec.record([1u64, 2, 3], |id, at| share(id, at, "akamai", 0.5, 90.0));
    let Ok(After::Rows(all)) = rec.after(base, 10) else { panic!("rows") };
    assert_eq!(all.iter().map(Row::id).collect::<Vec<_>>(), [base + 1, base + 2, base + 3]);
    let Ok(After::Rows(rest)) = rec.after(base + 2, 10) else { panic!("rows") };
    assert_eq!(rest.iter().map(Row::id).collect::<Vec<_>>(), [base + 3]);
    assert_eq!(rec.after(base + 1, 1), Ok(After::Rows(vec![all[1].clone()])));
    // An earlier process's id (below this one's base) and an id not handed out yet.
    assert_eq!(rec.after(base - 5, 10), Ok(After::Gone));
    assert_eq!(rec.after(base + 4, 10), Ok(After::Gone));
    // A later process starts above every id of this one.
    assert!(Recorder::new(1_001).last_id().expect("id") > base + 3);
}

#[test]
fn the_oldest_rows_go_and_their_ids_stop_resuming() {
    let rec = Recorder::new(0);
    rec.record([0u64], |id, _| share(id, 0, "akamai", 0.5, 90.0));
    // A row older than MAX_AGE_MS behind the newest is dropped.
    rec.record([MAX_AGE_MS + 10], |id, at| share(id, at, "akamai", 0.5, 90.0));
    assert_eq!(rec.after(0, 10), Ok(After::Gone));
    let Ok(After::Rows(rows)) = rec.after(1, 10) else { panic!("rows") };
    assert_eq!(rows.len(), 1);
}

#[test]
fn buckets_hold_levels_weighted_means_and_spread_answers() {
    let q = query(10_000, 20_000, 2_000);
    let rows = vec![
        // Before the window: the level at its start.
        share(1, 5_000, "akamai", 0.6, 95.0),
        share(2, 13_000, "akamai", 0.2, 45.0),
        signal(3, 10_500, "akamai", 100, 10, 100.0),
        signal(4, 11_000, "akamai", 300, 0, 200.0),
        // Another region does not count.
        Row::Signal(SignalRow { id: 5, at: 10_500, cdn: "akamai".into(), region: "country:JP".into(), vantage: "v".into(), requests: 1000, errors: 1000, cache_hits: None, ttfb_ms: Some(5000.0), throughput_mbps: None, failure: None }),
        // 40 answers over 4 s starting at 13 s: 10 in [13, 14), 20 in [14, 16), 10 in [16, 17).
        Row::Answers(AnswersRow { id: 6, at: 13_000, span_ms: 4_000, name: "live.example.com.".into(), region: "country:KR".into(), cdn: "fastly".into(), answers: 40 }),
        Row::Qoe(QoeRow { id: 7, at: 15_000, cdn: "fastly".into(), region: "country:KR".into(), source: "s".into(), window_secs: Some(2), viewers: Some(900), rebuffer_ratio: Some(0.01), startup_p50_ms: None, playback_failures: None }),
        Row::Qoe(QoeRow { id: 8, at: 15_500, cdn: "fastly".into(), region: "country:JP".into(), source: "s".into(), window_secs: Some(2), viewers: Some(100), rebuffer_ratio: Some(0.11), startup_p50_ms: None, playback_failures: None }),
        Row::Event(EventRow { id: 9, at: 16_000, kind: EventKind::Annotation, name: None, region: None, generation: None, who: Some("noc".into()), text: "kickoff".into(), data: None }),
    ];
    let b = aggregate(&q, &rows, 9, 0);
    assert_eq!(b.series.len(), 2);
    let akamai = &b.series[0];
    assert_eq!(akamai.share, [Some(0.6), Some(0.2), Some(0.2), Some(0.2), Some(0.2)]);
    assert_eq!(akamai.score[0], Some(95.0));
    assert_eq!(akamai.requests[0], 400);
    assert_eq!(akamai.error_rate[0], Some(10.0 / 400.0));
    assert_eq!(akamai.ttfb_ms[0], Some((100.0 * 100.0 + 200.0 * 300.0) / 400.0));
    assert_eq!(akamai.error_rate[1], None);
    let fastly = &b.series[1];
    assert_eq!(fastly.answers, [0.0, 10.0, 20.0, 10.0, 0.0]);
    assert_eq!(fastly.share, [None; 5]);
    // Viewers: nothing before 15 s, then KR, then KR + JP; rebuffering weighted by viewers.
    assert_eq!(fastly.viewers[1], None);
    assert_eq!(fastly.viewers[2], Some(1000.0));
    assert!((fastly.rebuffer_ratio[2].expect("rebuffer") - (0.01 * 900.0 + 0.11 * 100.0) / 1000.0).abs() < 1e-9);
    assert_eq!(b.answers_until, 17_000);
    assert_eq!(b.qoe_latest.len(), 2);
    assert_eq!(b.events.len(), 1);
    assert_eq!(b.last_id, 9);
    let kr = b.audience.iter().find(|a| a.region == "country:KR").expect("KR audience");
    assert_eq!(kr.viewers, Some(900.0));
    assert!(kr.answers_per_sec > 0.0);
}

#[test]
fn the_sampler_records_moves_past_the_deadbands_and_every_new_measurement() {
    use crate::health::signal::Observation;
    let rec = Recorder::new(0);
    let mut sampler = Sampler::new();
    let mut store = SignalStore::new();
    let o = |at, errors| Observation { cdn: "akamai".into(), region: crate::region::RegionKey::Country(*b"KR"), vantage: "probe-1".into(), at, requests: 10, errors, cache_hits: Some(9), ttfb_ms: Some(120.0), throughput_mbps: Some(30.0), delivered_gbps: None, failure: None };
    store.ingest(&o(1_000, 0));
    sampler.signals(&store, &rec);
    sampler.signals(&store, &rec);
    store.ingest(&o(2_000, 5));
    sampler.signals(&store, &rec);
    let Ok(After::Rows(rows)) = rec.after(0, 100) else { panic!("rows") };
    assert_eq!(rows.len(), 2, "one row per new measurement: {rows:?}");
    let Row::Signal(second) = &rows[1] else { panic!("signal") };
    assert_eq!((second.at, second.requests, second.cdn.as_str(), second.region.as_str()), (2_000, 10, "akamai", "country:KR"));
    assert!(second.errors > 0);

    // Answers: the first call learns the totals; then deltas over the interval.
    let t = |n: u64| vec![((std::sync::Arc::from("live."), std::sync::Arc::from("default"), std::sync::Arc::from("akamai")), n)];
    sampler.answers(t(100), 10_000, &rec);
    sampler.answers(t(130), 12_000, &rec);
    sampler.answers(t(130), 14_000, &rec);
    let Ok(After::Rows(rows)) = rec.after(2, 100) else { panic!("rows") };
    assert_eq!(rows.len(), 1);
    let Row::Answers(a) = &rows[0] else { panic!("answers") };
    assert_eq!((a.at, a.span_ms, a.answers), (10_000, 2_000, 30));
}

#[test]
fn override_events_are_told_apart_from_decisions() {
    let e = DecisionEvent { at: 5, generation: 3, name: "live.".into(), region: "country:KR".into(), old: vec![], new: vec![], reason: "override ovr-1 added".into(), overrides: vec!["ovr-1".into()], fails_open: false };
    assert_eq!(decision_row(1, e.clone()).kind, EventKind::Override);
    let d = DecisionEvent { old: vec![("akamai".into(), 1.0)], new: vec![("akamai".into(), 0.0)], fails_open: true, ..e };
    let row = decision_row(2, d);
    assert_eq!(row.kind, EventKind::Decision);
    assert_eq!(row.data.as_ref().and_then(|v| v["fails_open"].as_bool()), Some(true));
}

#[test]
fn the_sampler_records_the_share_rows_the_history_would() {
    use crate::publish::Publisher;
    use crate::steer::CellPrefixes;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let zones = crate::zone::load_dir(&root.join("zones")).expect("zones");
    let geo = crate::geo::GeoDb::open(&root.join("geoip/iptoasn-country.mmdb")).expect("geo");
    let mut publisher = Publisher::new(zones, geo, CellPrefixes::default());
    let kr = publisher.current().zones.steered().next().expect("steered").regions.iter().position(|r| r.key.to_string() == "country:KR").expect("KR");
    // KR's first two candidates at `first` and 1 - `first`, the rest at 0.
    let mut at = |first: f64| {
        publisher.publish_plan(|z, cells| {
            let mut p = crate::steer::plan::configured(z, cells);
            for (i, c) in p.explain.names[0][kr].candidates.iter_mut().enumerate() {
                c.share = match i {
                    0 => first,
                    1 => 1.0 - first,
                    _ => 0.0,
                };
            }
            p
        });
        publisher.current()
    };
    let rec = Recorder::new(0);
    let mut sampler = Sampler::new();
    let mut tracker = crate::history::track::ShareTracker::new(Millis::MAX);
    let mut history_rows = Vec::new();
    for (i, first) in [0.5, 0.995, 0.999, 1.0].into_iter().enumerate() {
        let snap = at(first);
        let base = rec.last_id().expect("last id");
        sampler.plan(&snap, i as u64, &rec);
        tracker.observe(i as u64, &snap.zones, &snap.explain, &mut history_rows);
        let Ok(After::Rows(rows)) = rec.after(base, 10_000) else { panic!("rows") };
        let ours: Vec<(String, String, String, f64)> = rows.iter().filter_map(|r| if let Row::Share(s) = r { Some((s.name.clone(), s.region.clone(), s.cdn.clone(), s.share)) } else { None }).collect();
        let theirs: Vec<(String, String, String, f64)> = history_rows.drain(..).map(|r| (r.name.to_string(), r.region.to_string(), r.cdn.to_string(), r.share)).collect();
        assert_eq!(ours, theirs, "plan {i} (first candidate at {first})");
        if first == 1.0 {
            // Reaching the whole region is an edge, however small the step.
            assert!(ours.iter().any(|r| r.3 == 1.0), "{ours:?}");
        }
        if first == 0.999 {
            assert!(ours.is_empty(), "inside the deadband: {ours:?}");
        }
    }
}
