use std::net::IpAddr;
use std::path::PathBuf;

use super::*;
use crate::diag::Diagnostics;
use crate::geo::{Located, Place};
use crate::health::{Engine, NoHealth, Observation};
use crate::overrides::OverrideRequest;

const ZONE: &str = r#"
version: 1
zone: example.test
soa: {primary: ns1.example.test., contact: h.example.test., serial: 1}
records:
  - {name: "@", type: NS, value: ns1.example.test.}
steered:
  live:
    ttl: 30
    last_resort: a
    cdns: {a: {target: a.cdn.test}, b: {target: b.cdn.test}, c: {target: c.cdn.test}}
    regions:
      countries:
        KR: {a: 1, b: 1}
      default: {a: 2, b: 1, c: 1}
health:
  thresholds: {down: 40, up: 70, up_hold_secs: 20}
  shares: {fast_ttl_secs: 5, fail_open_ttl_secs: 10, min_warm_share: 0}
"#;

const NOW: Millis = 1_796_155_395_000;

fn zones() -> ZoneSet {
    crate::zone::load_texts(&[(PathBuf::from("t.yaml"), ZONE.to_string())], Diagnostics::new()).expect("zone")
}

fn with(overrides: &[OverrideRequest]) -> OverrideSet {
    let z = zones();
    let mut set = OverrideSet::new();
    for r in overrides {
        let o = r.clone().into_override("local", NOW, 86_400_000).expect("valid");
        set.check_new(&o, &z, NOW).expect("accepted");
        set.add(o);
    }
    set
}

fn req(kind: &str, cdn: &str, region: &str) -> OverrideRequest {
    OverrideRequest {
        kind: Some(kind.into()),
        name: Some("live.example.test".into()),
        region: Some(region.into()),
        cdn: Some(cdn.into()),
        weight: (kind == "weight").then_some(6.0),
        expires_in: Some("1h".into()),
        author: Some("noc".into()),
        reason: Some("test".into()),
        force: true,
        ..OverrideRequest::default()
    }
}

/// (cdn name, share) of a region, and its TTL and fail-open flag.
fn region(plan: &Plan, key: &str) -> (Vec<(String, f64)>, u32, bool) {
    let z = zones();
    let name = z.steered().next().expect("name");
    let k = crate::region::parse_region(key).expect("key");
    let i = name.region_index(&k).expect("region");
    let d = &plan.table.names[0].regions[i];
    let shares = d.shares.iter().map(|s| (name.cdns[s.cdn].name.clone(), (s.weight * 1000.0).round() / 1000.0)).collect();
    (shares, d.ttl, d.fail_open)
}

fn steer_kr(plan: &Plan, ip: &str) -> usize {
    let ip: IpAddr = ip.parse().expect("ip");
    let located = Located { place: Place { country: Some(*b"KR"), continent: Some(*b"AS") }, prefix_len: 16 };
    plan.table.names[0].steer(ip, &located, plan.table.cells).cdn
}

#[test]
fn cold_start_serves_configured_weights() {
    let p = plan(&zones(), &NoHealth, &OverrideSet::new(), NOW, CellPrefixes::default());
    assert_eq!(region(&p, "default"), (vec![("a".into(), 0.5), ("b".into(), 0.25), ("c".into(), 0.25)], 30, false));
    assert_eq!(p.explain.names[0][1].shares_from, SharesFrom::Configured);
    assert_eq!(p.explain.names[0][1].candidates[0].state, CandidateState::Cold);
}

#[test]
fn drains_weights_and_pins_apply_in_the_plan() {
    let set = with(&[req("drain", "a", "KR"), req("weight", "c", "default")]);
    let p = plan(&zones(), &NoHealth, &set, NOW, CellPrefixes::default());
    assert_eq!(region(&p, "KR").0, vec![("a".into(), 0.0), ("b".into(), 1.0)]);
    assert_eq!(region(&p, "default").0, vec![("a".into(), 0.222), ("b".into(), 0.111), ("c".into(), 0.667)]);
    let kr = &p.explain.names[0][0];
    assert_eq!(kr.candidates[0].state, CandidateState::Drained);
    assert_eq!(kr.overrides, vec!["ovr-1".to_string()]);
    for i in 0..200 {
        assert_eq!(steer_kr(&p, &format!("211.234.{i}.1")), 1, "no KR client gets the drained CDN");
    }
    // A pin of a CDN that is not a KR candidate takes all of KR, regardless of everything.
    let set = with(&[req("pin", "c", "KR")]);
    let p = plan(&zones(), &NoHealth, &set, NOW, CellPrefixes::default());
    assert_eq!(region(&p, "KR").0, vec![("a".into(), 0.0), ("b".into(), 0.0), ("c".into(), 1.0)]);
    assert_eq!(p.explain.names[0][0].pinned_by.as_deref(), Some("ovr-1"));
    assert_eq!(p.explain.names[0][0].candidates[2].state, CandidateState::Pinned);
    assert_eq!(steer_kr(&p, "211.234.0.1"), 2);
}

#[test]
fn a_forced_drain_of_every_candidate_fails_open_to_the_last_resort() {
    let set = with(&[req("drain", "b", "KR")]);
    let o = req("drain", "a", "KR").into_override("local", NOW, 86_400_000).expect("valid");
    assert!(set.check_new(&o, &zones(), NOW).is_err(), "a is KR's last resort: refused even with force");
    // b drained by the operator and a down by health: KR fails open to a, loudly.
    let mut engine = Engine::new();
    let z = zones();
    for t in 0..3 {
        let at = NOW + t * 1000;
        engine.ingest(&Observation::failed_probe("a", crate::region::RegionKey::Country(*b"KR"), "v", at, crate::health::signal::FailureReason::Timeout, 2000));
        engine.tick(&z, &set, at);
    }
    let p = plan(&z, &engine, &set, NOW + 2000, CellPrefixes::default());
    let (shares, ttl, fail_open) = region(&p, "KR");
    assert!(fail_open, "{shares:?}");
    assert_eq!(ttl, 10, "the fail-open TTL");
    assert_eq!(steer_kr(&p, "211.234.9.9"), 0, "the last resort answers");
}

#[test]
fn health_shares_are_served_and_a_changed_candidate_list_falls_back_to_weights() {
    let z = zones();
    let mut engine = Engine::new();
    let none = OverrideSet::new();
    for t in 0..5 {
        let at = NOW + t * 1000;
        engine.ingest(&Observation::failed_probe("b", crate::region::RegionKey::Country(*b"KR"), "v", at, crate::health::signal::FailureReason::Timeout, 2000));
        engine.tick(&z, &none, at);
    }
    let p = plan(&z, &engine, &none, NOW + 4000, CellPrefixes::default());
    assert_eq!(region(&p, "KR").0, vec![("a".into(), 1.0), ("b".into(), 0.0)]);
    assert_eq!(p.explain.names[0][0].candidates[1].state, CandidateState::Down);
    assert_eq!(p.explain.names[0][0].shares_from, SharesFrom::Health);
    // The zone adds c to KR: until the engine ticks the new list, configured weights minus the
    // CDN known to be down.
    let edited = ZONE.replace("KR: {a: 1, b: 1}", "KR: {a: 1, b: 1, c: 2}");
    let z2 = crate::zone::load_texts(&[(PathBuf::from("t.yaml"), edited)], Diagnostics::new()).expect("zone");
    let p = plan(&z2, &engine, &none, NOW + 4000, CellPrefixes::default());
    assert_eq!(region(&p, "KR").0, vec![("a".into(), 0.333), ("b".into(), 0.0), ("c".into(), 0.667)]);
}
