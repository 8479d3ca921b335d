use super::*;
use crate::overrides::OverrideSet;
use crate::diag::Diagnostics;
use std::path::PathBuf;

const ZONE: &str = r#"
version: 1
zone: example.test
soa: {primary: ns1.example.test., contact: h.example.test., serial: 1}
records:
  - {name: "@", type: NS, value: ns1.example.test.}
steered:
  live:
    last_resort: a
    cdns: {a: {target: a.cdn.test}, b: {target: b.cdn.test}}
    regions:
      countries:
        KR: {a: 1, b: 1}
        JP: {a: 1, b: 1}
      default: {a: 1, b: 1}
health:
  smoothing_half_life_secs: 2
  thresholds: {down: 40, up: 70, up_hold_secs: 20}
  shares: {max_change_per_tick: 0.25, min_dwell_secs: 10, min_warm_share: 0}
"#;

fn zones() -> ZoneSet {
    crate::zone::load_texts(&[(PathBuf::from("t.yaml"), ZONE.to_string())], Diagnostics::new()).expect("zone")
}

fn probe(cdn: &str, region: RegionKey, at: Millis, ok: bool) -> Observation {
    if ok {
        Observation {
            cdn: cdn.into(),
            region,
            vantage: "v".into(),
            at,
            requests: 1,
            errors: 0,
            cache_hits: Some(1),
            ttfb_ms: Some(50.0),
            throughput_mbps: Some(80.0),
            delivered_gbps: None,
            failure: None,
        }
    } else {
        Observation::failed_probe(cdn, region, "v", at, crate::health::signal::FailureReason::Timeout, 2000)
    }
}

/// A failed probe, confirmed: failures count from the second in a row
/// (`signal::PROBE_FAILURES_TO_COUNT`).
fn fail(e: &mut Engine, o: &Observation) {
    for _ in 0..crate::health::signal::PROBE_FAILURES_TO_COUNT {
        e.ingest(o);
    }
}

fn share_of(e: &Engine, region: &RegionKey, cdn: &str) -> f64 {
    e.region("live.example.test.", region).and_then(|r| r.position(cdn).map(|i| r.state.cdns[i].share)).unwrap_or(f64::NAN)
}

#[test]
fn a_fault_in_one_country_drains_only_there_and_heals_slowly() {
    let zones = zones();
    let kr = RegionKey::Country(*b"KR");
    let jp = RegionKey::Country(*b"JP");
    let mut e = Engine::new();
    let mut now = 0;
    let mut events = Vec::new();
    for step in 0..60 {
        now += 1000;
        let a_ok_in_kr = !(10..30).contains(&step);
        for (region, a_ok) in [(kr.clone(), a_ok_in_kr), (jp.clone(), true), (RegionKey::Default, true)] {
            e.ingest(&probe("a", region.clone(), now, a_ok));
            e.ingest(&probe("b", region, now, true));
        }
        events.extend(e.tick(&zones, &OverrideSet::new(), now).events.into_iter().filter(|ev| ev.at > 1000));
        if step == 14 {
            assert_eq!(share_of(&e, &kr, "a"), 0.0, "drained within 4 ticks of the fault");
            assert!((share_of(&e, &jp, "a") - 0.5).abs() < 1e-9, "JP untouched");
            assert!((share_of(&e, &RegionKey::Default, "a") - 0.5).abs() < 1e-9, "default untouched");
        }
        if (30..49).contains(&step) {
            assert_eq!(share_of(&e, &kr, "a"), 0.0, "step {step}: back before the 20 s hold");
        }
    }
    assert!(share_of(&e, &kr, "a") > 0.4, "ramped back: {}", share_of(&e, &kr, "a"));
    assert!(events.iter().any(|ev| ev.region == "country:KR" && ev.reason.contains("a up -> down")), "{events:?}");
    assert!(events.iter().all(|ev| ev.region == "country:KR"), "only KR changed: {events:?}");
}

#[test]
fn hovering_signal_does_not_flap() {
    let zones = zones();
    let kr = RegionKey::Country(*b"KR");
    let mut e = Engine::new();
    let mut now = 0;
    let mut direction_changes = 0;
    let mut last_dir = 0i8;
    let mut last_share = 0.5;
    // One simulated hour of a signal that alternates between just-bad and just-good
    // every few seconds, with noise.
    let mut x: u64 = 0x9E37_79B9;
    for step in 0..3600u64 {
        now += 1000;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bad = (step / 4) % 2 == 0 || x % 5 == 0;
        e.ingest(&probe("a", kr.clone(), now, !bad));
        e.ingest(&probe("b", kr.clone(), now, true));
        let _ = e.tick(&zones, &OverrideSet::new(), now);
        let s = share_of(&e, &kr, "a");
        let dir = if s > last_share + 1e-9 { 1 } else if s < last_share - 1e-9 { -1 } else { 0 };
        if dir != 0 && last_dir != 0 && dir != last_dir {
            direction_changes += 1;
        }
        if dir != 0 {
            last_dir = dir;
        }
        last_share = s;
    }
    // The configured bound: one reversal per dwell period at most (10 s -> 360 per hour).
    assert!(direction_changes <= 3600 / 10, "{direction_changes} direction changes in an hour");
    // Hysteresis does much better: a CDN that keeps failing never proves 20 s of health.
    assert!(direction_changes <= 2, "{direction_changes} direction changes in an hour");
}

#[test]
fn continent_signals_stand_in_for_a_country() {
    let zones = zones();
    let mut e = Engine::new();
    fail(&mut e, &probe("a", RegionKey::Continent(*b"AS"), 1000, false));
    e.ingest(&probe("b", RegionKey::Continent(*b"AS"), 1000, true));
    let _ = e.tick(&zones, &OverrideSet::new(), 1000);
    let view = e.region("live.example.test.", &RegionKey::Country(*b"KR")).expect("view");
    assert_eq!(view.signal_region[0], Some(RegionKey::Continent(*b"AS")));
    assert!(matches!(view.state.cdns[0].status, Status::Down { .. }));
    assert_eq!(view.state.cdns[0].share, 0.0);
}

#[test]
fn stale_signals_are_unknown_not_healthy() {
    let zones = zones();
    let kr = RegionKey::Country(*b"KR");
    let mut e = Engine::new();
    fail(&mut e, &probe("a", kr.clone(), 1000, false));
    e.ingest(&probe("b", kr.clone(), 1000, true));
    let _ = e.tick(&zones, &OverrideSet::new(), 1000);
    assert_eq!(share_of(&e, &kr, "a"), 0.0);
    // No data for a minute (staleness 30 s): a stays down, it is not "healthy".
    for t in 2..60 {
        let _ = e.tick(&zones, &OverrideSet::new(), t * 1000);
    }
    assert_eq!(share_of(&e, &kr, "a"), 0.0);
}

#[test]
fn a_degraded_cdn_gone_stale_does_not_climb_back() {
    let zones = zones();
    let kr = RegionKey::Country(*b"KR");
    let mut e = Engine::new();
    let slow = |at| Observation { ttfb_ms: Some(900.0), ..probe("a", RegionKey::Country(*b"KR"), at, true) };
    let mut now = 0;
    for _ in 0..20 {
        now += 1000;
        e.ingest(&slow(now));
        e.ingest(&probe("b", kr.clone(), now, true));
        let _ = e.tick(&zones, &OverrideSet::new(), now);
    }
    let degraded = share_of(&e, &kr, "a");
    assert!(degraded < 0.45, "degraded CDN carries less: {degraded}");
    // Signals stop; 40 s later (staleness 30 s) it must not be back at its full weight.
    for _ in 0..40 {
        now += 1000;
        let _ = e.tick(&zones, &OverrideSet::new(), now);
    }
    assert!((share_of(&e, &kr, "a") - degraded).abs() < 0.02, "stale is not healthy: {}", share_of(&e, &kr, "a"));
}

#[test]
fn many_vantages_and_a_large_quorum() {
    let mut zones = zones();
    zones.zones[0].health.quorum = 9;
    let kr = RegionKey::Country(*b"KR");
    let mut e = Engine::new();
    for v in 0..10 {
        let o = Observation { vantage: format!("v{v}"), ..probe("a", kr.clone(), 1000, false) };
        fail(&mut e, &o);
        e.ingest(&Observation { vantage: format!("v{v}"), ..probe("b", kr.clone(), 1000, true) });
    }
    let _ = e.tick(&zones, &OverrideSet::new(), 1000);
    assert_eq!(share_of(&e, &kr, "a"), 0.0, "nine of ten vantages see it down");
}

const TWO_REGIONS: &str = r#"
version: 1
zone: cap.test
soa: {primary: ns1.cap.test., contact: h.cap.test., serial: 1}
records:
  - {name: "@", type: NS, value: ns1.cap.test.}
steered:
  live:
    last_resort: a
    cdns: {a: {target: a.cdn.test}, b: {target: b.cdn.test}}
    regions:
      countries:
        KR: {a: 3, b: 1}
        JP: {a: 3, b: 1}
      default: {b: 1}
health:
  shares: {max_change_per_tick: 1, min_warm_share: 0}
  capacity:
    a: {gbps: 100, target_utilisation: 1.0}
  demand_gbps: {KR: 100, JP: 100}
"#;

#[test]
fn a_cdns_capacity_is_one_budget_for_the_whole_zone() {
    let zones = crate::zone::load_texts(&[(PathBuf::from("cap.yaml"), TWO_REGIONS.to_string())], Diagnostics::new()).expect("zone");
    let mut e = Engine::new();
    for t in 1..=5 {
        let _ = e.tick(&zones, &OverrideSet::new(), t * 1000);
    }
    let share = |cc: &[u8; 2]| e.region("live.cap.test.", &RegionKey::Country(*cc)).map(|r| r.state.cdns[0].share).expect("region");
    // Demand 100 Gbps in each region, a can carry 100 Gbps in all: 50 each, so a's share is
    // capped at 0.5 in both (each alone would have allowed 0.75).
    let (kr, jp) = (share(b"KR"), share(b"JP"));
    assert!((kr - 0.5).abs() < 1e-6 && (jp - 0.5).abs() < 1e-6, "KR {kr}, JP {jp}");
    assert!(kr * 100.0 + jp * 100.0 <= 100.0 + 1e-6, "a committed beyond its capacity");
}

#[test]
fn the_budget_goes_where_the_cdn_carries_traffic_then_by_demand() {
    // a carries 75% of a small region (JP, 20 Gbps) and 25% of a big one (KR, 400 Gbps), with
    // 200 Gbps in all: its configured traffic (15 + 100) fits, and the rest is spread by
    // demand, so JP is not capped (split by demand alone JP's part would be 200 x 20/420 =
    // 9.5 Gbps, below the 15 it carries).
    let text = TWO_REGIONS.replace("KR: {a: 3, b: 1}", "KR: {a: 1, b: 3}").replace("a: {gbps: 100, target_utilisation: 1.0}", "a: {gbps: 200, target_utilisation: 1.0}").replace("demand_gbps: {KR: 100, JP: 100}", "demand_gbps: {KR: 400, JP: 20}");
    let zones = crate::zone::load_texts(&[(PathBuf::from("cap.yaml"), text)], Diagnostics::new()).expect("zone");
    let mut e = Engine::new();
    for t in 1..=5 {
        let _ = e.tick(&zones, &OverrideSet::new(), t * 1000);
    }
    let share = |cc: &[u8; 2]| e.region("live.cap.test.", &RegionKey::Country(*cc)).map(|r| r.state.cdns[0].share).expect("region");
    assert!((share(b"JP") - 0.75).abs() < 1e-6, "JP {}", share(b"JP"));
    assert!((share(b"KR") - 0.25).abs() < 1e-6, "KR {}", share(b"KR"));
}

#[test]
fn each_zone_ticks_at_its_own_pace() {
    let slow = ZONE.replace("zone: example.test", "zone: slow.test").replace("example.test.", "slow.test.").replace("health:\n", "health:\n  tick_ms: 5000\n");
    let zones = crate::zone::load_texts(&[(PathBuf::from("t.yaml"), ZONE.to_string()), (PathBuf::from("s.yaml"), slow)], Diagnostics::new()).expect("zones");
    let mut e = Engine::new();
    let mut ticked = 0;
    for t in 1..=20 {
        ticked += e.tick(&zones, &OverrideSet::new(), t * 1000).ticked;
    }
    // 20 ticks of the 1 s zone, 4 of the 5 s zone.
    assert_eq!(ticked, 24);
    assert_eq!(e.next_due(&zones), 21_000);
}

#[test]
fn state_of_names_and_regions_no_longer_served_is_dropped() {
    let zones = zones();
    let mut e = Engine::new();
    let kr = RegionKey::Country(*b"KR");
    e.ingest(&probe("a", kr.clone(), 1000, true));
    let _ = e.tick(&zones, &OverrideSet::new(), 1000);
    assert!(e.region("live.example.test.", &kr).is_some());
    let without_kr = ZONE.replace("        KR: {a: 1, b: 1}\n", "");
    let smaller = crate::zone::load_texts(&[(PathBuf::from("t.yaml"), without_kr)], Diagnostics::new()).expect("zone");
    let _ = e.tick(&smaller, &OverrideSet::new(), 2000);
    assert!(e.region("live.example.test.", &kr).is_none(), "KR's state dropped");
    assert!(e.region("live.example.test.", &RegionKey::Country(*b"JP")).is_some(), "JP kept");
    assert!(!e.signals().ever("a", &kr), "KR's signals dropped");
}

#[test]
fn an_operator_drain_acts_on_the_next_tick_and_a_weight_moves_at_the_slew_rate() {
    let zones = zones();
    let kr = RegionKey::Country(*b"KR");
    let mut e = Engine::new();
    let mut now = 0;
    for _ in 0..3 {
        now += 1000;
        e.ingest(&probe("a", kr.clone(), now, true));
        e.ingest(&probe("b", kr.clone(), now, true));
        let _ = e.tick(&zones, &OverrideSet::new(), now);
    }
    let mk = |kind: &str, weight: Option<f64>, now: Millis| {
        let mut set = OverrideSet::new();
        let r = crate::overrides::OverrideRequest {
            kind: Some(kind.into()),
            name: Some("live.example.test".into()),
            region: Some("KR".into()),
            cdn: Some("a".into()),
            weight,
            expires_in: Some("1h".into()),
            author: Some("t".into()),
            reason: Some("t".into()),
            ..Default::default()
        };
        set.add(r.into_override("t", now, 86_400_000).expect("valid"));
        set
    };
    let share = |e: &Engine| e.region("live.example.test.", &kr).map(|r| r.state.cdns[0].share).unwrap_or(f64::NAN);
    let weight = mk("weight", Some(3.0), now);
    now += 1000;
    e.ingest(&probe("a", kr.clone(), now, true));
    e.ingest(&probe("b", kr.clone(), now, true));
    let report = e.tick(&zones, &weight, now);
    assert!((share(&e) - 0.75).abs() < 1e-9, "0.5 -> 0.75 within the 0.25 slew: {}", share(&e));
    assert!(report.changed);
    let drain = mk("drain", None, now);
    now += 1000;
    let report = e.tick(&zones, &drain, now);
    assert_eq!(share(&e), 0.0, "drained at once, not at the slew rate");
    assert!(report.events.iter().any(|ev| ev.reason.contains("a drained by ovr-1")), "{:?}", report.events);
}

#[test]
fn tick_now_follows_edited_weights_before_the_next_tick_is_due() {
    let kr = RegionKey::Country(*b"KR");
    let mut e = Engine::new();
    let none = OverrideSet::default();
    let first = zones();
    assert_eq!(e.tick(&first, &none, 1_000).ticked, 1);
    assert!((share_of(&e, &kr, "a") - 0.5).abs() < 1e-9);
    // An edit: KR 1:1 -> 3:2 (a 0.1 move, within one slew step). Not due for 1 s yet.
    let edited = crate::zone::load_texts(&[(PathBuf::from("t.yaml"), ZONE.replace("KR: {a: 1, b: 1}", "KR: {a: 3, b: 2}"))], Diagnostics::new()).expect("zone");
    assert_eq!(e.tick(&edited, &none, 1_100).ticked, 0, "paced: not due");
    assert!((share_of(&e, &kr, "a") - 0.5).abs() < 1e-9, "still the old shares");
    assert_eq!(e.tick_now(&edited, &none, 1_100).ticked, 1);
    assert!((share_of(&e, &kr, "a") - 0.6).abs() < 1e-9, "the new weights: {}", share_of(&e, &kr, "a"));
    // The tick clock restarted from the forced tick.
    assert_eq!(e.next_due(&edited), 2_100);
}

#[test]
fn reports_say_which_cdns_changed_state_and_which_regions_failed_open() {
    let zones = zones();
    let kr = RegionKey::Country(*b"KR");
    let mut e = Engine::new();
    let none = OverrideSet::new();
    for cdn in ["a", "b"] {
        e.ingest(&probe(cdn, kr.clone(), 1000, true));
    }
    let first = e.tick(&zones, &none, 1000);
    let ups: Vec<_> = first.transitions.iter().map(|t| (t.region.clone(), t.cdn.as_str(), status_name(t.to))).collect();
    assert_eq!(ups, vec![(kr.clone(), "a", "up"), (kr.clone(), "b", "up")], "cold -> up on the first signal");
    assert!(first.failed_open.is_empty());
    // Both fail in KR: both go down at once, and KR fails open (once).
    for cdn in ["a", "b"] {
        fail(&mut e, &probe(cdn, kr.clone(), 2000, false));
    }
    let failed = e.tick(&zones, &none, 2000);
    let downs: Vec<_> = failed.transitions.iter().map(|t| (t.name.as_str(), t.cdn.as_str(), status_name(t.from), status_name(t.to))).collect();
    assert_eq!(downs, vec![("live.example.test.", "a", "up", "down"), ("live.example.test.", "b", "up", "down")]);
    assert_eq!(failed.failed_open, vec![("live.example.test.".to_string(), kr.clone())]);
    assert!(failed.events.iter().any(|ev| ev.region == "country:KR" && ev.reason.contains("failing open")));
    for cdn in ["a", "b"] {
        fail(&mut e, &probe(cdn, kr.clone(), 3000, false));
    }
    let still = e.tick(&zones, &none, 3000);
    assert!(still.failed_open.is_empty() && still.transitions.is_empty(), "{still:?}");
}

#[test]
fn a_reader_of_the_signals_sees_them_as_they_were() {
    let kr = RegionKey::Country(*b"KR");
    let mut e = Engine::new();
    e.ingest(&probe("a", kr.clone(), 1000, true));
    let held = e.shared_signals();
    e.ingest(&probe("b", kr.clone(), 1000, true));
    assert!(held.ever("a", &kr) && !held.ever("b", &kr), "the held store does not change");
    assert!(e.signals().ever("b", &kr), "the engine writes its own copy");
    drop(held);
    let again = e.shared_signals();
    assert_eq!(again.iter().count(), 2);
}
