use std::path::PathBuf;

use super::*;
use crate::diag::Diagnostics;

const ZONE: &str = r#"
version: 1
zone: example.test
soa: {primary: ns1.example.test., contact: h.example.test., serial: 1}
records:
  - {name: "@", type: NS, value: ns1.example.test.}
networks:
  lab: [198.51.100.0/24]
steered:
  live:
    last_resort: a
    cdns: {a: {target: a.cdn.test}, b: {target: b.cdn.test}, c: {target: c.cdn.test}}
    regions:
      networks:
        lab: {c: 1}
      countries:
        KR: {a: 1, b: 1}
      default: {a: 1, b: 1, c: 1}
  vod:
    last_resort: b
    cdns: {a: {target: a.cdn.test}, b: {target: b.cdn.test}}
    regions:
      default: {a: 1, b: 1}
"#;

fn zones() -> ZoneSet {
    crate::zone::load_texts(&[(PathBuf::from("t.yaml"), ZONE.to_string())], Diagnostics::new()).expect("zone")
}

const HOUR: Millis = 3_600_000;
const NOW: Millis = 1_796_155_395_000;

fn req(kind: &str, cdn: &str, name: Option<&str>, region: Option<&str>) -> OverrideRequest {
    OverrideRequest {
        kind: Some(kind.into()),
        name: name.map(Into::into),
        region: region.map(Into::into),
        cdn: Some(cdn.into()),
        weight: (kind == "weight").then_some(5.0),
        expires_in: Some("10m".into()),
        author: Some("noc-kim".into()),
        reason: Some("customer request".into()),
        ..OverrideRequest::default()
    }
}

fn add(set: &mut OverrideSet, r: OverrideRequest) -> Result<Override, OverrideError> {
    let o = r.into_override("local", NOW, 24 * HOUR)?;
    set.check_new(&o, &zones(), NOW)?;
    Ok(set.add(o))
}

fn region<'z>(z: &'z ZoneSet, name: &str, key: &str) -> (&'z SteeredName, &'z Region) {
    let n = z.steered().find(|n| n.name.as_str() == name).expect("name");
    let k = crate::region::parse_region(key).expect("region");
    (n, &n.regions[n.region_index(&k).expect("region")])
}

#[test]
fn most_specific_override_wins_per_cdn() {
    let mut set = OverrideSet::new();
    let global = add(&mut set, req("drain", "b", None, None)).expect("global drain");
    let local = add(&mut set, req("weight", "b", Some("live.example.test"), Some("KR"))).expect("name+region weight");
    let z = zones();
    let (n, kr) = region(&z, "live.example.test.", "KR");
    let r = set.resolve(n, kr, NOW);
    assert_eq!(r.on(1).map(|o| o.id.as_str()), Some(local.id.as_str()), "name+region beats global");
    assert!(!r.drained(1));
    assert_eq!(r.weight(1, 1.0), 5.0);
    let (n, def) = region(&z, "live.example.test.", "default");
    assert_eq!(set.resolve(n, def, NOW).on(1).map(|o| o.id.as_str()), Some(global.id.as_str()));
    let (n, def) = region(&z, "vod.example.test.", "default");
    assert!(set.resolve(n, def, NOW).drained(1), "a global drain covers every name");
    // Expired overrides stop applying even before `expire` removes them.
    let (n, kr) = region(&z, "live.example.test.", "KR");
    assert!(set.resolve(n, kr, NOW + HOUR).is_empty());
}

#[test]
fn a_pin_and_a_drain_of_the_same_cdn_conflict_naming_both() {
    let mut set = OverrideSet::new();
    let pin = add(&mut set, req("pin", "a", Some("live.example.test"), Some("KR"))).expect("pin");
    let err = add(&mut set, req("drain", "a", None, Some("KR"))).expect_err("conflict");
    let OverrideError::Conflict { ids, message } = err else { panic!("{err:?}") };
    assert!(ids.contains(&pin.id), "{ids:?}");
    assert!(message.contains(&pin.id), "{message}");
    // Same scope, same CDN: the second weight conflicts too.
    add(&mut set, req("weight", "b", Some("live.example.test"), None)).expect("weight");
    assert!(matches!(add(&mut set, req("weight", "b", Some("live.example.test"), None)), Err(OverrideError::Conflict { .. })));
    // A drain of another CDN under the pin is fine.
    add(&mut set, req("drain", "b", Some("live.example.test"), Some("KR"))).expect("drain of another CDN");
}

#[test]
fn draining_a_region_empty_needs_force_and_never_drains_the_last_resort() {
    let mut set = OverrideSet::new();
    // lab has only c.
    let err = add(&mut set, req("drain", "c", Some("live.example.test"), Some("network:lab"))).expect_err("would empty lab");
    assert!(err.to_string().contains("force"), "{err}");
    let forced = OverrideRequest { force: true, ..req("drain", "c", Some("live.example.test"), Some("network:lab")) };
    add(&mut set, forced).expect("forced drain: lab answers its last resort a");
    // KR: drain b, then a forced drain of a would leave KR on its last resort a, drained.
    add(&mut set, req("drain", "b", Some("live.example.test"), Some("KR"))).expect("drain b");
    let forced = OverrideRequest { force: true, ..req("drain", "a", Some("live.example.test"), Some("KR")) };
    let err = add(&mut set, forced).expect_err("last resort drained");
    assert!(err.to_string().contains("last_resort"), "{err}");
    // Draining the last resort while others remain is fine (the bundled example's case).
    let mut set = OverrideSet::new();
    add(&mut set, req("drain", "a", Some("live.example.test"), Some("KR"))).expect("drain a in KR");
}

#[test]
fn targets_are_checked_and_dormant_ones_reported() {
    let mut set = OverrideSet::new();
    let field = |r| match add(&mut OverrideSet::new(), r) {
        Err(OverrideError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(req("drain", "a", Some("nope.example.test"), None)), "name");
    assert_eq!(field(req("drain", "zz", Some("live.example.test"), None)), "cdn");
    assert_eq!(field(req("drain", "c", Some("vod.example.test"), None)), "cdn");
    assert_eq!(field(req("drain", "a", Some("live.example.test"), Some("JP"))), "region");
    assert_eq!(field(req("drain", "a", None, Some("mars"))), "region");
    let kept = add(&mut set, req("drain", "c", Some("live.example.test"), Some("default"))).expect("drain");
    // The zone loses `c`: the override stays, dormant.
    let smaller = ZONE.replace(", c: {target: c.cdn.test}", "").replace("      networks:\n        lab: {c: 1}\n", "").replace(", c: 1}", "}");
    let z = crate::zone::load_texts(&[(PathBuf::from("t.yaml"), smaller)], Diagnostics::new()).expect("zone");
    assert_eq!(set.dormant(&z, NOW), vec![kept.id.clone()]);
    assert!(set.dormant(&zones(), NOW).is_empty());
}

#[test]
fn requests_name_the_bad_field() {
    let field = |r: OverrideRequest| match r.into_override("local", NOW, 24 * HOUR) {
        Err(OverrideError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(OverrideRequest { kind: Some("nuke".into()), ..req("drain", "a", None, None) }), "kind");
    assert_eq!(field(OverrideRequest { expires_in: None, ..req("drain", "a", None, None) }), "expires_in");
    assert_eq!(field(OverrideRequest { expires_in: Some("soon".into()), ..req("drain", "a", None, None) }), "expires_in");
    assert_eq!(field(OverrideRequest { expires_in: Some("2d".into()), ..req("drain", "a", None, None) }), "expires_in");
    assert_eq!(field(OverrideRequest { expires_in: None, expires_at: Some("2020-01-01T00:00:00Z".into()), ..req("drain", "a", None, None) }), "expires_at");
    assert_eq!(field(OverrideRequest { weight: Some(0.0), ..req("weight", "a", None, None) }), "weight");
    assert_eq!(field(OverrideRequest { weight: Some(2.0), ..req("drain", "a", None, None) }), "weight");
    assert_eq!(field(OverrideRequest { reason: Some(" ".into()), ..req("drain", "a", None, None) }), "reason");
    assert_eq!(field(OverrideRequest { author: None, ..req("drain", "a", None, None) }), "author");
    assert_eq!(field(OverrideRequest { region: Some("XX".into()), ..req("drain", "a", None, None) }), "region");
    let o = OverrideRequest { expires_in: None, expires_at: Some("2026-12-02T05:33:15+09:00".into()), ..req("drain", "a", Some("LIVE.example.test"), Some("kr")) }
        .into_override("noc", NOW, 24 * HOUR)
        .expect("valid");
    assert_eq!((o.name.as_deref(), o.region.as_ref().map(ToString::to_string), o.expires_at - NOW), (Some("live.example.test."), Some("country:KR".into()), 1_800_000));
    assert_eq!(o.who, "noc");
}

#[test]
fn expiry_removes_and_survives_a_round_trip() {
    let mut set = OverrideSet::new();
    let a = add(&mut set, req("drain", "a", Some("live.example.test"), Some("KR"))).expect("drain");
    let text = serde_json::to_string(&set).expect("json");
    let back: OverrideSet = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, set);
    assert!(text.contains("\"region\":\"country:KR\"") && text.contains("T"), "{text}");
    assert_eq!(set.next_expiry(), Some(a.expires_at));
    assert!(set.expire(a.expires_at - 1).is_empty());
    assert_eq!(set.expire(a.expires_at).len(), 1);
    assert!(set.items.is_empty());
    let b = add(&mut set, req("drain", "b", None, None)).expect("again");
    assert_ne!(a.id, b.id, "ids are never reused");
}

#[test]
fn the_store_writes_atomically_and_refuses_a_corrupt_file() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store::OverrideStore::new(dir.path());
    assert_eq!(store.load().expect("missing is empty"), OverrideSet::new());
    let mut set = OverrideSet::new();
    add(&mut set, req("drain", "a", Some("live.example.test"), Some("KR"))).expect("drain");
    store.save(&set).expect("save");
    assert_eq!(store.load().expect("load"), set);
    std::fs::write(store.path(), "{\"next_id\": 2, \"items\": [").expect("corrupt");
    let err = store.load().expect_err("corrupt");
    assert!(err.to_string().contains("overrides.json") && err.to_string().contains("line"), "{err}");
    // A save that cannot complete leaves the previous file in place.
    std::fs::write(store.path(), serde_json::to_vec(&set).expect("json")).expect("restore");
    std::fs::create_dir(dir.path().join(".overrides.json.tmp")).expect("block the temp file");
    assert!(store.save(&OverrideSet::new()).is_err());
    assert_eq!(store.load().expect("still the old set"), set);
}
