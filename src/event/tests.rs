use std::path::PathBuf;

use super::*;

const ZONE: &str = r#"
version: 1
zone: example.test
soa: {primary: ns1.example.test., contact: h.example.test., serial: 1}
records:
  - {name: "@", type: NS, value: ns1.example.test.}
  - {name: www, type: A, value: 192.0.2.1}
steered:
  live:
    last_resort: a
    cdns: {a: {target: a.cdn.test}, b: {target: b.cdn.test}}
    regions:
      countries:
        KR: {a: 1, b: 1}
      default: {a: 1, b: 1}
  vod:
    last_resort: a
    cdns: {a: {target: a.cdn.test}}
    regions:
      default: {a: 1}
health:
  shares: {max_change_per_tick: 0.2, fast_ttl_secs: 5}
"#;

const EVENT: &str = r#"version: 1
event: final
customer: Example Broadcasting
start: 2026-12-01T19:00:00+09:00
end: 2026-12-01T22:00:00+09:00
names: [live.example.test]
policy:
  example.test: {max_change_per_tick: 0.1, min_dwell_secs: 30, fast_ttl_secs: 3, max_share: 0.6}
freeze: true
"#;

fn zones(text: &str) -> ZoneSet {
    crate::zone::load_texts(&[(PathBuf::from("z.yaml"), text.to_string())], Diagnostics::new()).expect("zone")
}

fn events(text: &str) -> Result<EventSet, LoadError> {
    load_texts(&[(PathBuf::from("final.yaml"), text.to_string())], &zones(ZONE), Diagnostics::new())
}

const START: Millis = 1_796_119_200_000; // 2026-12-01T10:00:00Z = 19:00 KST

#[test]
fn an_event_loads_and_its_policy_applies_inside_the_window_only() {
    let set = events(EVENT).unwrap_or_else(|e| panic!("{e}"));
    let e = set.get("final").expect("event");
    assert_eq!((e.start, e.end - e.start, e.freeze), (START, 3 * 3_600_000, true));
    assert_eq!(e.names, vec!["live.example.test.".to_string()]);
    let mut z = zones(ZONE);
    set.attach(&mut z);
    let p = &z.zones[0].health;
    assert_eq!(p.at(START - 1).max_change_per_tick, 0.2, "before the window");
    let inside = p.at(START + 60_000);
    assert_eq!((inside.max_change_per_tick, inside.min_dwell_ms, inside.fast_ttl, inside.max_share), (0.1, 30_000, 3, 0.6));
    assert_eq!(inside.down, p.down, "scores stay as configured");
    assert_eq!(p.at(e.end).max_change_per_tick, 0.2, "the end is exclusive");
    assert_eq!(set.next_boundary(START + 1), Some(e.end));
}

#[test]
fn problems_are_located() {
    let codes = |text: &str| -> Vec<(Code, u64, String)> {
        events(text).expect_err("invalid").diagnostics.iter().map(|d| (d.code, d.pos.line, d.path.clone())).collect()
    };
    assert_eq!(codes(&EVENT.replace("end: 2026-12-01T22:00:00+09:00", "end: 2026-12-01T18:00:00+09:00")), vec![(Code::InvalidEvent, 5, "end".to_string())]);
    assert_eq!(codes(&EVENT.replace("names: [live.example.test]", "names: [nope.example.test]")), vec![(Code::UnknownName, 6, "names[0]".to_string())]);
    assert_eq!(codes(&EVENT.replace("start: 2026-12-01T19:00:00+09:00", "start: tonight")), vec![(Code::InvalidEvent, 4, "start".to_string())]);
    assert_eq!(codes(&EVENT.replace("max_share: 0.6", "max_share: 0.4")), vec![(Code::InvalidEvent, 8, "policy.example.test.max_share".to_string())]);
    assert_eq!(codes(&EVENT.replace("  example.test:", "  other.test:")), vec![(Code::InvalidEvent, 8, "policy.other.test".to_string())]);
    assert_eq!(codes(&EVENT.replace("freeze: true", "freeze: true\ncolour: red")), vec![(Code::UnknownKey, 10, "colour".to_string())]);
    let two = load_texts(&[(PathBuf::from("a.yaml"), EVENT.to_string()), (PathBuf::from("b.yaml"), EVENT.to_string())], &zones(ZONE), Diagnostics::new());
    assert!(two.expect_err("duplicate").diagnostics[0].message.contains("also defined in a.yaml"));
}

#[test]
fn a_freeze_holds_changes_to_its_names_only_inside_its_window() {
    let set = events(EVENT).expect("event");
    let old = zones(ZONE);
    let inside = START + 3_600_000;
    // A static record edit and a change to another steered name are not frozen.
    let other = zones(&ZONE.replace("value: 192.0.2.1", "value: 192.0.2.2").replace("      default: {a: 1}\n", "      default: {a: 2}\n"));
    assert_eq!(set.blocks(&set, &old, &other, false, inside), None);
    // A weight of a frozen name is.
    let weights = zones(&ZONE.replace("KR: {a: 1, b: 1}", "KR: {a: 3, b: 1}"));
    let frozen = set.blocks(&set, &old, &weights, false, inside).expect("frozen");
    assert_eq!((frozen.event.as_str(), frozen.names.clone(), frozen.until), ("final", vec!["live.example.test.".to_string()], START + 3 * 3_600_000));
    // So is its zone's health policy, and any GeoIP change.
    let policy = zones(&ZONE.replace("fast_ttl_secs: 5", "fast_ttl_secs: 7"));
    assert!(set.blocks(&set, &old, &policy, false, inside).is_some());
    assert!(set.blocks(&set, &old, &other, true, inside).is_some());
    // Outside the window, nothing is frozen.
    assert_eq!(set.blocks(&set, &old, &weights, true, START - 1), None);
    assert_eq!(set.blocks(&set, &old, &weights, true, START + 3 * 3_600_000), None);
    let unfrozen = events(&EVENT.replace("freeze: true", "freeze: false")).expect("event");
    assert_eq!(unfrozen.blocks(&unfrozen, &old, &weights, true, inside), None);
    assert_eq!(frozen_names(&set, inside).len(), 1);
}

/// The zones of `zone` with `set`'s windows attached (as the daemon serves them).
fn attached(zone: &str, set: &EventSet) -> ZoneSet {
    let mut z = zones(zone);
    set.attach(&mut z);
    z
}

#[test]
fn editing_a_live_freezing_event_is_a_frozen_change() {
    let set = events(EVENT).expect("event");
    let old = attached(ZONE, &set);
    let inside = START + 3_600_000;
    let edit = |text: &str| -> Option<Frozen> {
        let next = if text.is_empty() { EventSet::default() } else { events(text).expect("event") };
        set.blocks(&next, &old, &attached(ZONE, &next), false, inside)
    };
    // The same file read again, or only its customer changed: nothing changes.
    assert_eq!(edit(EVENT), None);
    assert_eq!(edit(&EVENT.replace("customer: Example Broadcasting", "customer: Other")), None);
    // Its patched policy changes the frozen name's shares and TTLs.
    let frozen = edit(&EVENT.replace("max_share: 0.6", "max_share: 0.7")).expect("policy edit is frozen");
    assert_eq!((frozen.event.as_str(), frozen.names.clone()), ("final", vec!["live.example.test.".to_string()]));
    assert!(edit(&EVENT.replace("fast_ttl_secs: 3", "fast_ttl_secs: 9")).is_some());
    // Lifting, shortening or moving the freeze, or deleting the event, is frozen too.
    assert!(edit(&EVENT.replace("freeze: true", "freeze: false")).is_some());
    assert!(edit(&EVENT.replace("end: 2026-12-01T22:00:00+09:00", "end: 2026-12-01T20:00:00+09:00")).is_some());
    assert!(edit(&EVENT.replace("start: 2026-12-01T19:00:00+09:00", "start: 2026-12-01T18:00:00+09:00")).is_some());
    assert!(edit(&EVENT.replace("names: [live.example.test]", "names: [live.example.test, vod.example.test]")).is_some());
    assert!(edit("").is_some(), "deleting the event");
    // Before its window the event may be edited freely.
    assert_eq!(set.blocks(&EventSet::default(), &old, &zones(ZONE), false, START - 1), None);
}

#[test]
fn another_event_patching_a_frozen_name_during_the_freeze_is_frozen() {
    // The freezing event has no policy of its own; another one patches the zone.
    let freeze_only = EVENT.replace("policy:\n  example.test: {max_change_per_tick: 0.1, min_dwell_secs: 30, fast_ttl_secs: 3, max_share: 0.6}\n", "");
    let set = events(&freeze_only).expect("event");
    let old = attached(ZONE, &set);
    let inside = START + 3_600_000;
    let other = |start: &str| format!("version: 1\nevent: half-time\nstart: {start}\nend: 2026-12-01T23:00:00+09:00\nnames: [vod.example.test]\npolicy:\n  example.test: {{fast_ttl_secs: 2}}\n");
    let with = |other: &str| -> EventSet {
        load_texts(&[(PathBuf::from("final.yaml"), freeze_only.clone()), (PathBuf::from("half.yaml"), other.to_string())], &zones(ZONE), Diagnostics::new()).expect("events")
    };
    let blocks = |next: &EventSet| set.blocks(next, &old, &attached(ZONE, next), false, inside);
    // Starting when the freeze ends, it changes nothing frozen.
    assert_eq!(blocks(&with(&other("2026-12-01T22:00:00+09:00"))), None);
    // Starting later inside the freeze, or already in force, it changes the frozen name's TTL.
    let frozen = blocks(&with(&other("2026-12-01T21:00:00+09:00"))).expect("patch inside the freeze");
    assert_eq!(frozen.names, vec!["live.example.test.".to_string()]);
    assert!(blocks(&with(&other("2026-12-01T19:30:00+09:00"))).is_some());
}
