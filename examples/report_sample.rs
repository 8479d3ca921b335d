//! The sample post-event report: a rehearsal of the bundled final (zones/, events/final.yaml)
//! played through the real health engine and planner with simulated viewers, recorded the way
//! the history records it, then reported on.
//!
//! The night: 400,000 viewers at the peak (two thirds in South Korea), kickoff at 20:00 KST,
//! half-time, extra time and penalties; CloudFront degrades in KR from 21:12 to 21:20 (slow
//! first bytes, 8% errors) and the NOC also drains it by override at 21:14:30 for a quarter of
//! an hour; a 20-second TTFB blip on Fastly in JP at 20:31. Players report every 5 s, probes
//! run every 10 s, the engine ticks every second; viewers follow the planned shares with a DNS
//! lag. Deterministic.
//!
//! ```text
//! cargo run --release --example report_sample               # render docs/report-sample.html
//! cargo run --release --example report_sample -- --fixture  # also rewrite the test fixture
//! cargo run --release --example report_sample -- --history DIR  # also record DIR/history.sqlite
//! ```
//!
//! With `--history`, everything is also sent through the real history writer as the daemon
//! sends it, and the report is timed again the way `cdnsteer report` makes it: read from the
//! database at 10 s buckets, built, rendered.
//!
//! Prints how long `report::build` and the renderings take for the 3-hour window.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cdnsteer::health::Engine;
use cdnsteer::health::signal::Observation;
use cdnsteer::history::{AnswerCounts, Annotation, HistoryHandle, HistoryReader, HistorySettings, HistoryWriter, Record};
use cdnsteer::overrides::store::AuditEntry;
use cdnsteer::qoe::QoeSample;
use cdnsteer::overrides::{Kind, Override, OverrideSet};
use cdnsteer::region::{RegionKey, parse_region};
use cdnsteer::report::input::{AnswerBucket, EventKind, EventRecord, QoeBucket, ReportInput, SharePoint, ShareSeries, SignalBucket, StateWord, Subject};
use cdnsteer::report::{self, calc};
use cdnsteer::steer::{CellPrefixes, plan};
use cdnsteer::timestamp::{Millis, parse_rfc3339};
use serde_json::json;

/// Buckets of the recorded series: 30 s keeps the fixture near 2.5 MB (10 s, the history's
/// finest for answers, would be three times that).
const BUCKET_MS: Millis = 30_000;
const PEAK_VIEWERS: f64 = 400_000.0;
const MBPS_PER_VIEWER: f64 = 2.8;
const NAME: &str = "live.example.com.";

/// xorshift64*.
struct Noise(u64);

impl Noise {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn around(&mut self, v: f64, spread: f64) -> f64 {
        v * (1.0 + spread * (2.0 * self.unit() - 1.0))
    }
}

fn t(text: &str) -> Millis {
    parse_rfc3339(text).expect("time")
}

/// Audience at `now` as a fraction of the peak (linear between the knots, KST).
fn audience(now: Millis) -> f64 {
    let knots = [
        ("19:30", 0.15),
        ("19:55", 0.70),
        ("20:00", 0.82),
        ("20:45", 0.90),
        ("20:47", 0.74),
        ("21:00", 0.74),
        ("21:02", 0.92),
        ("21:50", 1.00),
        ("22:25", 0.98),
        ("22:30", 1.05),
        ("22:42", 1.02),
        ("23:00", 0.45),
    ];
    let pts: Vec<(Millis, f64)> = knots.iter().map(|(hm, v)| (t(&format!("2026-12-18T{hm}:00+09:00")), *v)).collect();
    for w in pts.windows(2) {
        if now >= w[0].0 && now <= w[1].0 {
            let f = (now - w[0].0) as f64 / (w[1].0 - w[0].0) as f64;
            return w[0].1 + f * (w[1].1 - w[0].1);
        }
    }
    0.15
}

fn part_of(region: &str) -> f64 {
    match region {
        "country:KR" => 0.64,
        "country:JP" => 0.14,
        "continent:AS" => 0.08,
        "default" => 0.12,
        "network:kt-resolvers" => 0.02,
        _ => 0.0,
    }
}

/// Signal bucket accumulator.
#[derive(Default)]
struct Acc {
    samples: u64,
    vantages: Vec<String>,
    requests: u64,
    errors: u64,
    hits: u64,
    hit_requests: u64,
    ttfb: Vec<f64>,
    throughput: Vec<f64>,
}

#[derive(Default)]
struct QAcc {
    windows: u64,
    viewers: Vec<f64>,
    startup50: Vec<f64>,
    startup95: Vec<f64>,
    rebuffer: Vec<f64>,
    failures: u64,
    exits: u64,
    ttfb95: Vec<f64>,
    delivered: Vec<f64>,
}

fn q(v: &mut [f64], p: f64) -> Option<f64> {
    calc::quantile(v, p)
}

fn main() {
    let write_fixture = std::env::args().any(|a| a == "--fixture");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let history_dir = std::env::args().skip_while(|a| a != "--history").nth(1).map(PathBuf::from);
    let input = simulate(&root, None);
    if let Some(dir) = &history_dir {
        record_and_time(&root, dir);
    }
    if write_fixture {
        let path = root.join("tests/fixtures/report/final.input.json");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, serde_json::to_string(&input).expect("json") + "\n").expect("write fixture");
        println!("wrote {} ({} KB)", path.display(), std::fs::metadata(&path).map(|m| m.len() / 1024).unwrap_or(0));
    }
    // Timing: parse the input as the CLI would, build, render; best of 5.
    let text = serde_json::to_string(&input).expect("json");
    let mut best = [f64::MAX; 5];
    let mut html = String::new();
    for _ in 0..5 {
        let a = Instant::now();
        let parsed: ReportInput = serde_json::from_str(&text).expect("parse");
        let b = Instant::now();
        let r = report::build(&parsed).expect("report");
        let c = Instant::now();
        let json = report::to_json(&r).expect("json");
        let d = Instant::now();
        html = report::html::render(&r);
        let e = Instant::now();
        let csv = report::csv::render(&r);
        let f = Instant::now();
        let times = [(b - a).as_secs_f64(), (c - b).as_secs_f64(), (d - c).as_secs_f64(), (e - d).as_secs_f64(), (f - e).as_secs_f64()];
        for (slot, v) in best.iter_mut().zip(times) {
            *slot = slot.min(v);
        }
        std::hint::black_box((json, csv));
    }
    let ms = |s: f64| s * 1000.0;
    println!(
        "3-hour window, {} signal buckets, {} QoE buckets, {} answer buckets, {} share rows, {} events",
        input.signals.len(),
        input.qoe.len(),
        input.answers.len(),
        input.shares.iter().map(|s| s.points.len()).sum::<usize>(),
        input.events.len()
    );
    println!("parse input {:.1} ms, build {:.1} ms, JSON {:.1} ms, HTML {:.1} ms, CSV {:.2} ms (best of 5)", ms(best[0]), ms(best[1]), ms(best[2]), ms(best[3]), ms(best[4]));
    let out = root.join("docs/report-sample.html");
    std::fs::create_dir_all(out.parent().expect("dir")).expect("mkdir");
    std::fs::write(&out, &html).expect("write html");
    println!("wrote {} ({} KB)", out.display(), html.len() / 1024);
}

/// Where the simulation also sends its records, as the daemon does.
struct Recorder {
    h: HistoryHandle,
    zones: Arc<cdnsteer::zone::ZoneSet>,
    generation: u64,
    answers: BTreeMap<(String, String), f64>,
}

fn simulate(root: &Path, mut rec: Option<&mut Recorder>) -> ReportInput {
    let mut zones = cdnsteer::zone::load_dir(&root.join("zones")).expect("zones");
    let events = cdnsteer::event::load_dir(&root.join("events"), &zones).expect("events");
    events.attach(&mut zones);
    let event = events.get("final").expect("event final");
    let (start, end) = (event.start, event.end);
    let report_from = t("2026-12-18T20:00:00+09:00");
    let steered = zones.steered().find(|s| s.name.as_str() == NAME).expect("steered name").clone();
    let regions: Vec<(String, Vec<String>)> = steered.regions.iter().map(|r| (r.key.to_string(), r.candidates.iter().map(|c| steered.cdns[c.cdn].name.clone()).collect())).filter(|(r, _)| part_of(r) > 0.0).collect();
    let degrade = (t("2026-12-18T21:12:00+09:00"), t("2026-12-18T21:20:00+09:00"));
    let blip = (t("2026-12-18T20:31:00+09:00"), t("2026-12-18T20:31:20+09:00"));
    let drain_at = t("2026-12-18T21:14:30+09:00");
    let undrain_at = t("2026-12-18T21:30:00+09:00");

    let mut noise = Noise(0x5eed_f00d_cafe_babe);
    let mut engine = Engine::new();
    let mut overrides = OverrideSet::new();
    let mut out_events: Vec<EventRecord> = Vec::new();
    let annotations = [
        ("20:00:00", "kickoff"),
        ("20:46:00", "half-time"),
        ("21:01:30", "second half"),
        ("21:14:00", "CloudFront KR ticket #4821"),
        ("21:51:00", "extra time"),
        ("22:26:00", "penalties"),
        ("22:41:00", "trophy ceremony"),
    ];
    for (hms, text) in annotations {
        let at = t(&format!("2026-12-18T{hms}+09:00"));
        if let Some(r) = rec.as_deref_mut() {
            r.h.send(Record::Annotation(Annotation { at, text: text.into(), author: "noc-kim".into() }, None));
        }
        out_events.push(EventRecord { at, kind: EventKind::Annotation, name: None, region: None, who: Some("noc-kim".into()), text: text.into(), data: None });
    }

    // Per (cdn, region): the share viewers follow (lags the plan by the DNS TTL).
    let mut viewer_share: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut planned: BTreeMap<(String, String), (f64, Option<f64>, StateWord)> = BTreeMap::new();
    // Per series: when the last row was written, and its share, score and state.
    type Written = (Millis, f64, Option<f64>, StateWord);
    let mut written: BTreeMap<(String, String), Written> = BTreeMap::new();
    let mut series: BTreeMap<(String, String), Vec<SharePoint>> = BTreeMap::new();
    let mut signals: BTreeMap<(String, String, Millis), Acc> = BTreeMap::new();
    let mut qoe: BTreeMap<(String, String, Millis), QAcc> = BTreeMap::new();
    let mut answers: BTreeMap<(String, String, Millis), f64> = BTreeMap::new();
    let bucket = |now: Millis| start + (now - start) / BUCKET_MS * BUCKET_MS;

    let mut now = start;
    while now < end {
        let sec = (now - start) / 1000;
        // The NOC's override.
        if now == drain_at {
            let o = Override {
                id: String::new(),
                kind: Kind::Drain,
                name: Some(NAME.into()),
                region: Some(RegionKey::Country(*b"KR")),
                cdn: "cloudfront".into(),
                weight: None,
                author: "noc-kim".into(),
                who: "noc".into(),
                reason: "CloudFront KR ticket #4821: edge errors".into(),
                created_at: now,
                expires_at: now + 30 * 60_000,
                forced: false,
            };
            let added = overrides.add(o);
            let after = serde_json::to_value(&added).expect("json");
            if let Some(r) = rec.as_deref_mut() {
                r.h.send(Record::Override(AuditEntry { when: now, who: "noc".into(), author: Some("noc-kim".into()), what: "override.add".into(), before: serde_json::Value::Null, after: after.clone() }));
            }
            out_events.push(EventRecord { at: now, kind: EventKind::Override, name: Some(NAME.into()), region: Some("country:KR".into()), who: Some("noc".into()), text: format!("override.add {}", added.id), data: Some(json!({"what": "override.add", "author": "noc-kim", "before": null, "after": after})) });
        }
        if now == undrain_at
            && let Some(id) = overrides.items.first().map(|o| o.id.clone())
                && let Ok(removed) = overrides.remove(&id) {
                    let before = serde_json::to_value(&removed).expect("json");
                    if let Some(r) = rec.as_deref_mut() {
                        r.h.send(Record::Override(AuditEntry { when: now, who: "noc".into(), author: Some("noc-kim".into()), what: "override.remove".into(), before: before.clone(), after: serde_json::Value::Null }));
                    }
                    out_events.push(EventRecord { at: now, kind: EventKind::Override, name: Some(NAME.into()), region: Some("country:KR".into()), who: Some("noc".into()), text: format!("override.remove {id}"), data: Some(json!({"what": "override.remove", "author": "noc-kim", "before": before, "after": null})) });
                }
        let aud = audience(now);
        let mut tick_obs: Vec<Observation> = Vec::new();
        let mut tick_qoe: Vec<QoeSample> = Vec::new();
        for (region, cdns) in &regions {
            let region_viewers = PEAK_VIEWERS * part_of(region) * aud;
            let key_region = parse_region(region).expect("region");
            for cdn in cdns {
                let key = (cdn.clone(), region.clone());
                let vs = *viewer_share.entry(key.clone()).or_insert(1.0 / cdns.len() as f64);
                let viewers = (region_viewers * vs).max(30.0);
                let bad = cdn == "cloudfront" && region == "country:KR" && now >= degrade.0 && now < degrade.1;
                let slow = cdn == "fastly" && region == "country:JP" && now >= blip.0 && now < blip.1;
                let b = bucket(now);
                // Players' telemetry every 5 s.
                if sec % 5 == 0 {
                    let (err, ttfb, thr, hit) = if bad { (0.08, 950.0, 3.5, 0.80) } else if slow { (0.001, 640.0, 19.0, 0.96) } else { (0.0008, 85.0 + 10.0 * (cdn.len() % 3) as f64, 24.0, 0.975) };
                    let requests = (viewers * 5.0 / 4.0).round().max(1.0) as u64;
                    let errors = (requests as f64 * noise.around(err, 0.3)).round() as u64;
                    let hits = (requests as f64 * noise.around(hit, 0.01).min(1.0)).round() as u64;
                    let p50 = noise.around(ttfb, 0.15);
                    let thr = noise.around(thr, 0.1);
                    let delivered = viewers * MBPS_PER_VIEWER / 1000.0;
                    let o = Observation { cdn: cdn.clone(), region: key_region.clone(), vantage: "rum:players".into(), at: now, requests, errors: errors.min(requests), cache_hits: Some(hits), ttfb_ms: Some(p50), throughput_mbps: Some(thr), delivered_gbps: Some(delivered), failure: None };
                    engine.ingest(&o);
                    let a = signals.entry((cdn.clone(), region.clone(), b)).or_default();
                    a.samples += 1;
                    if !a.vantages.contains(&o.vantage) {
                        a.vantages.push(o.vantage.clone());
                    }
                    a.requests += requests;
                    a.errors += errors.min(requests);
                    a.hits += hits;
                    a.hit_requests += requests;
                    a.ttfb.push(p50);
                    a.throughput.push(thr);
                    let qa = qoe.entry((cdn.clone(), region.clone(), b)).or_default();
                    qa.windows += 1;
                    qa.viewers.push(viewers.round());
                    let (startup, rebuf) = if bad { (4200.0, 0.06) } else { (950.0, 0.003) };
                    qa.startup50.push(noise.around(startup, 0.1).round());
                    qa.startup95.push(noise.around(startup * 2.5, 0.1).round());
                    qa.rebuffer.push(noise.around(rebuf, 0.3));
                    let failed = ((viewers / 1000.0) * if bad { 4.0 } else { 0.02 } * noise.around(1.0, 0.5)).round() as u64;
                    let exited = ((viewers / 1000.0) * if bad { 9.0 } else { 0.1 } * noise.around(1.0, 0.5)).round() as u64;
                    qa.failures += failed;
                    qa.exits += exited;
                    qa.ttfb95.push((p50 * 2.4).round());
                    qa.delivered.push(delivered);
                    if rec.is_some() {
                        tick_obs.push(o.clone());
                        let last = |v: &[f64]| v.last().copied();
                        tick_qoe.push(QoeSample {
                            cdn: cdn.clone(),
                            region: key_region.clone(),
                            source: "players".into(),
                            at: now,
                            window_secs: Some(5),
                            viewers: Some(viewers.round() as u64),
                            startup_p50_ms: last(&qa.startup50),
                            startup_p95_ms: last(&qa.startup95),
                            rebuffer_ratio: last(&qa.rebuffer),
                            playback_failures: Some(failed),
                            exits_before_start: Some(exited),
                            ttfb_p50_ms: Some(p50),
                            ttfb_p95_ms: last(&qa.ttfb95),
                            ttfb_p99_ms: None,
                            requests,
                            errors: errors.min(requests),
                            delivered_gbps: Some(delivered),
                        });
                    }
                }
                // Probes every 10 s (offset so they do not land with the telemetry).
                if sec % 10 == 3 {
                    let (ok, ttfb, thr) = if bad { (noise.unit() > 0.3, 1400.0, 2.5) } else { (true, 70.0, 40.0) };
                    let ttfb = noise.around(ttfb, 0.2);
                    let o = Observation { cdn: cdn.clone(), region: key_region.clone(), vantage: format!("probe-{}", region.rsplit(':').next().unwrap_or(region).to_lowercase()), at: now, requests: 1, errors: u64::from(!ok), cache_hits: Some(1), ttfb_ms: Some(ttfb), throughput_mbps: Some(noise.around(thr, 0.15)), delivered_gbps: None, failure: None };
                    engine.ingest(&o);
                    if rec.is_some() {
                        tick_obs.push(o.clone());
                    }
                    let a = signals.entry((cdn.clone(), region.clone(), b)).or_default();
                    a.samples += 1;
                    if !a.vantages.contains(&o.vantage) {
                        a.vantages.push(o.vantage.clone());
                    }
                    a.requests += 1;
                    a.errors += u64::from(!ok);
                    a.hits += 1;
                    a.hit_requests += 1;
                    a.ttfb.push(ttfb);
                    a.throughput.push(o.throughput_mbps.unwrap_or(0.0));
                }
                // Answers: resolvers ask about once per 100 viewers a second (more often where
                // resolvers are small and many, as outside KR and JP).
                let per_viewer = if region == "country:KR" || region == "country:JP" { 0.01 } else { 0.016 };
                let n = region_viewers * per_viewer * planned.get(&key).map_or(vs, |p| p.0);
                *answers.entry((cdn.clone(), region.clone(), b)).or_default() += n;
                if let Some(r) = rec.as_deref_mut() {
                    *r.answers.entry((region.clone(), cdn.clone())).or_default() += n;
                }
            }
        }
        let report = engine.tick(&zones, &overrides, now);
        if let Some(r) = rec.as_deref_mut() {
            r.h.send(Record::Observations(std::mem::take(&mut tick_obs)));
            if !tick_qoe.is_empty() {
                r.h.send(Record::Qoe(std::mem::take(&mut tick_qoe)));
            }
            r.h.send(Record::Decisions(report.events.clone()));
            if sec % 10 == 9 {
                let rows = std::mem::take(&mut r.answers).into_iter().map(|((region, cdn), n)| (Arc::from(NAME), Arc::from(region.as_str()), Arc::from(cdn.as_str()), n.round() as u64)).filter(|x| x.3 > 0).collect();
                r.h.send(Record::Answers(AnswerCounts { at: now - 9_000, span_ms: 10_000, rows }));
            }
        }
        for e in &report.events {
            let data = json!({"old": e.old, "new": e.new, "overrides": e.overrides, "fails_open": e.fails_open});
            out_events.push(EventRecord { at: now, kind: EventKind::Decision, name: Some(e.name.clone()), region: Some(e.region.clone()), who: Some("system".into()), text: e.reason.clone(), data: Some(data) });
        }
        if report.changed || sec % 60 == 0 {
            let p = plan(&zones, &engine, &overrides, now, CellPrefixes::default());
            if let Some(r) = rec.as_deref_mut() {
                r.generation += 1;
                r.h.send(Record::Plan { at: now, generation: r.generation, zones: Arc::clone(&r.zones), explain: Arc::new(p.explain.clone()) });
            }
            let idx = zones.steered().position(|s| s.name.as_str() == NAME).expect("index");
            for (ri, rx) in p.explain.names[idx].iter().enumerate() {
                let region = steered.regions[ri].key.to_string();
                for c in &rx.candidates {
                    let cdn = steered.cdns[c.cdn].name.clone();
                    planned.insert((cdn, region.clone()), (c.share, c.score, StateWord::from(c.state)));
                }
            }
        }
        // History rows: on a change past the deadbands, and a keyframe every minute.
        for (key, (share, score, state)) in &planned {
            let due = match written.get(key) {
                None => true,
                Some((at, s, sc, st)) => (share - s).abs() > 0.01 || st != state || score.zip(*sc).is_some_and(|(a, b)| (a - b).abs() >= 1.0) || now - at >= 60_000,
            };
            if due {
                written.insert(key.clone(), (now, *share, *score, *state));
                series.entry(key.clone()).or_default().push(SharePoint { at: now, share: (share * 1e6).round() / 1e6, score: score.map(|s| (s * 10.0).round() / 10.0), state: *state });
            }
        }
        // Viewers follow the plan with the DNS lag (fast TTL 5 s, resolvers, players).
        for (key, v) in viewer_share.iter_mut() {
            if let Some((p, _, _)) = planned.get(key) {
                *v += (p - *v) * (1.0 - (-1.0f64 / 12.0).exp());
            }
        }
        now += 1000;
    }

    let mut input = ReportInput {
        subject: Subject { event: Some("final".into()), customer: event.customer.clone(), from: start, to: end, names: vec![NAME.into()], window: "from the annotation `kickoff` to the end of the event `final`".into(), utc_offset_minutes: 540 },
        generated_at: t("2026-12-19T09:30:00+09:00"),
        bucket_ms: BUCKET_MS,
        zones: report::policies(&zones, &[NAME.to_string()], report_from),
        shares: series.into_iter().map(|((cdn, region), points)| ShareSeries { name: NAME.into(), region, cdn, points }).collect(),
        signals: signals
            .into_iter()
            .map(|((cdn, region, at), mut a)| SignalBucket {
                at,
                cdn,
                region,
                samples: a.samples,
                vantages: a.vantages.len() as u32,
                requests: a.requests,
                errors: a.errors,
                error_rate: (a.requests > 0).then(|| r6(a.errors as f64 / a.requests as f64)),
                cache_hit_ratio: (a.hit_requests > 0).then(|| r6(a.hits as f64 / a.hit_requests as f64)),
                ttfb_p50_ms: q(&mut a.ttfb, 0.5).map(r1),
                ttfb_p95_ms: q(&mut a.ttfb, 0.95).map(r1),
                throughput_mbps: calc::mean(&a.throughput).map(r1),
                failures: 0,
                failure: None,
            })
            .collect(),
        answers: answers.into_iter().map(|((cdn, region, at), n)| AnswerBucket { at, region, cdn, answers: n.round() as u64 }).filter(|a| a.answers > 0).collect(),
        qoe: qoe
            .into_iter()
            .map(|((cdn, region, at), mut a)| QoeBucket {
                at,
                cdn,
                region,
                windows: a.windows,
                viewers: calc::mean(&a.viewers).map(f64::round),
                startup_p50_ms: calc::mean(&a.startup50).map(f64::round),
                startup_p95_ms: q(&mut a.startup95, 0.95),
                rebuffer_ratio: calc::mean(&a.rebuffer).map(r6),
                playback_failures: a.failures,
                exits_before_start: a.exits,
                ttfb_p95_ms: q(&mut a.ttfb95, 0.95),
                ttfb_p99_ms: None,
                delivered_gbps: calc::mean(&a.delivered).map(|g| (g * 100.0).round() / 100.0),
            })
            .collect(),
        events: out_events,
        events_cut: None,
    };
    input.events.sort_by_key(|e| e.at);
    input.clip(report_from, end);
    input
}

/// Play the night again into DIR/history.sqlite through the real writer, then time the report
/// as `cdnsteer report --event final --from-annotation kickoff` makes it.
fn record_and_time(root: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).expect("history dir");
    let _ = std::fs::remove_file(dir.join(cdnsteer::history::DB_FILE));
    let writer = HistoryWriter::open(dir, &HistorySettings::default()).expect("history");
    let mut zones = cdnsteer::zone::load_dir(&root.join("zones")).expect("zones");
    let events = cdnsteer::event::load_dir(&root.join("events"), &zones).expect("events");
    events.attach(&mut zones);
    let mut rec = Recorder { h: writer.handle(), zones: Arc::new(zones.clone()), generation: 0, answers: BTreeMap::new() };
    let a = Instant::now();
    let input = simulate(root, Some(&mut rec));
    rec.h.flush(Duration::from_secs(120)).expect("flush");
    writer.stop();
    let bytes: u64 = std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0);
    println!("recorded 3.5 h into {} in {:.1} s ({:.1} MB with the WAL)", dir.display(), a.elapsed().as_secs_f64(), bytes as f64 / 1e6);
    let subject = input.subject.clone();
    let policies = input.zones.clone();
    let mut best = [f64::MAX; 3];
    for _ in 0..3 {
        let a = Instant::now();
        let reader = HistoryReader::open_in(dir).expect("reader");
        let gathered = report::gather::from_history(&reader, subject.clone(), policies.clone(), 10_000, input.generated_at).expect("gather");
        let b = Instant::now();
        let r = report::build(&gathered).expect("report");
        let c = Instant::now();
        let html = report::html::render(&r);
        let d = Instant::now();
        std::hint::black_box(html);
        for (slot, v) in best.iter_mut().zip([(b - a).as_secs_f64(), (c - b).as_secs_f64(), (d - c).as_secs_f64()]) {
            *slot = slot.min(v);
        }
    }
    println!(
        "report from the history, 3-hour window at 10 s buckets: read {:.0} ms, build {:.1} ms, HTML {:.1} ms, total {:.0} ms (best of 3)",
        best[0] * 1000.0,
        best[1] * 1000.0,
        best[2] * 1000.0,
        best.iter().sum::<f64>() * 1000.0
    );
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
