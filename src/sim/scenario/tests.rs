use std::path::{Path, PathBuf};

use super::model::{IncidentKind, Performance, SweepParam};
use super::*;
use crate::region::RegionKey;

/// The bundled scenario, checked as if read from where it lies (its `zones: ../zones` then
/// resolves against the crate root, where `cargo test` runs).
const FINAL: &str = include_str!("../../../scenarios/final.yaml");
const FILE: &str = "scenarios/final.yaml";

fn final_with(from: &str, to: &str) -> String {
    assert!(FINAL.contains(from), "final.yaml has no `{from}`");
    FINAL.replacen(from, to, 1)
}

/// (code, line, path) of every problem, in order.
fn problems(text: &str) -> Vec<(Code, u64, String)> {
    let err = load_text(Path::new(FILE), text).expect_err("invalid");
    assert!(err.to_string().ends_with("in 1 of 1 file"), "{err}");
    err.diagnostics.iter().map(|d| (d.code, d.pos.line, d.path.clone())).collect()
}

fn one(code: Code, line: u64, path: &str) -> Vec<(Code, u64, String)> {
    vec![(code, line, path.to_string())]
}

const KR: RegionKey = RegionKey::Country(*b"KR");
const MIN: u64 = 60_000;

#[test]
fn the_bundled_scenario_loads_as_written() {
    let s = load_text(Path::new(FILE), FINAL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.name.as_str(), s.event.as_deref(), s.start, s.duration_ms, s.tick_ms, s.seed), ("final", Some("final"), None, None, Some(1000), 20_261_218));
    assert_eq!((s.zones.as_path(), s.events.as_deref()), (Path::new("scenarios/../zones"), Some(Path::new("scenarios/../events"))));
    let a = &s.audience;
    assert_eq!(a.peak_viewers, 1_800_000.0);
    let kickoff = 30 * MIN;
    let expected = vec![
        (0, 0.15),
        (kickoff + MIN, 1.0),
        (kickoff + 3 * MIN, 0.9),
        (kickoff + 47 * MIN, 0.9),
        (kickoff + 49 * MIN, 0.6),
        (kickoff + 62 * MIN, 0.6),
        (kickoff + 65 * MIN, 0.95),
        (kickoff + 112 * MIN, 0.95),
        (kickoff + 127 * MIN, 0.05),
    ];
    assert_eq!(a.curve, expected);
    let regions: Vec<(String, f64, bool)> = a.regions.iter().map(|r| (r.region.to_string(), r.part, r.curve.is_some())).collect();
    let want = [("country:KR", 0.66), ("country:JP", 0.14), ("continent:AS", 0.08), ("default", 0.12)];
    assert_eq!(regions, want.map(|(r, p)| (r.to_string(), p, false)));
    assert_eq!(a.bitrate, vec![(1.5, 0.3), (3.5, 0.3), (5.0, 0.4)]);
    let resolvers: Vec<(&str, f64, u32)> = a.resolvers.iter().map(|r| (r.name.as_str(), r.part, r.min_ttl_secs)).collect();
    assert_eq!(resolvers, [("honours-ttl", 0.6, 0), ("clamps-30s", 0.3, 30), ("clamps-60s", 0.1, 60)]);
    assert_eq!((a.sticky, a.restart_per_min, a.rebuffer_restart_per_min), (0.7, 0.01, 0.25));

    let cdns: Vec<&str> = s.cdns.iter().map(|c| c.cdn.as_str()).collect();
    assert_eq!(cdns, ["akamai", "fastly", "cloudfront", "edgio"]);
    let akamai_kr = Performance { capacity_gbps: Some(3200.0), ttfb_ms: 45.0, throughput_mbps: 28.0, cache_hit_ratio: 0.98, error_rate: 0.0008 };
    assert_eq!(s.cdns[0].regions, vec![(KR, akamai_kr)]);
    assert_eq!((s.cdns[3].regions.len(), s.cdns[3].default.capacity_gbps), (0, Some(500.0)));
    assert_eq!(s.saturation, defaults::SATURATION, "the example writes the defaults");
    assert_eq!(s.noise, 0.05);
    assert_eq!((s.telemetry.every_ms, s.telemetry.delay_ms, s.telemetry.source.as_str()), (10_000, 5_000, "players"));
    let probes: Vec<(&str, String, u64, u64)> = s.probes.iter().map(|p| (p.vantage.as_str(), p.region.to_string(), p.interval_ms, p.timeout_ms)).collect();
    assert_eq!(probes[0], ("seoul-1", "country:KR".to_string(), 5_000, 2_000));
    assert_eq!(probes.len(), 4);

    let i = &s.incidents[0];
    assert_eq!((i.at, i.for_ms, i.label.as_str()), (130 * MIN, 8 * MIN, "cloudfront degrades in KR"));
    let degrade = IncidentKind::Degrade { cdn: "cloudfront".into(), region: Some(KR), ttfb_ms: Some(1400.0), error_rate: Some(0.08), throughput_mbps: Some(2.5), cache_hit_ratio: None, capacity_gbps: None };
    assert_eq!(i.kind, degrade);
    let l = &s.limits;
    assert_eq!((l.max_viewer_minutes_degraded_pct, l.max_flaps_per_hour, l.no_commit_breach, l.no_max_share_breach, l.max_shift_secs), (Some(1.0), Some(2.0), true, true, None));
    assert_eq!(s.headroom, 1.2);
    let sweep: Vec<(&str, Vec<f64>)> = s.sweep.iter().map(|a| (a.param.name(), a.values.clone())).collect();
    assert_eq!(sweep[0], ("max_change_per_tick", vec![0.1, 0.15, 0.2, 0.3]));
    assert_eq!(sweep.iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["max_change_per_tick", "down", "up_hold_secs", "fast_ttl_secs"]);
}

const MINIMAL: &str = "\
version: 1
scenario: minimal
zones: ../zones
start: 2026-12-18T10:30:00Z
duration: 2h
audience:
  peak_viewers: 1000
  points: [[0m, 0.2], [30m, 1]]
  regions:
    KR: 0.5
    default: {part: 0.5, points: [[0s, 1]]}
  bitrate_mbps: 4
cdns:
  akamai:
    regions:
      KR: {ttfb_ms: 40}
  fastly:
    default: {ttfb_ms: 80, capacity_gbps: 100}
    regions:
      KR: {error_rate: 0.01}
incidents:
  - {at: 0s, for: 10m, kind: dark, cdn: fastly}
  - {at: 1h, for: 10m, kind: telemetry_stops, region: KR}
  - {at: 1h, for: 10m, kind: probe_blind, vantage: zone-probe}
  - {at: 1h, for: 1h, kind: degrade, cdn: akamai, capacity_gbps: 10}
";

#[test]
fn what_is_left_out_takes_its_default() {
    let s = load_text(Path::new(FILE), MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.events.clone(), s.event.clone(), s.tick_ms, s.seed), (None, None, None, 0));
    assert_eq!((s.start, s.duration_ms), (Some(crate::timestamp::parse_rfc3339("2026-12-18T10:30:00Z").expect("time")), Some(120 * MIN)));
    let a = &s.audience;
    assert_eq!(a.curve, vec![(0, 0.2), (30 * MIN, 1.0)]);
    assert_eq!((a.regions[0].region.clone(), a.regions[0].part, a.regions[0].curve.clone()), (KR, 0.5, None));
    assert_eq!((a.regions[1].region.clone(), a.regions[1].curve.clone()), (RegionKey::Default, Some(vec![(0, 1.0)])));
    assert_eq!(a.bitrate, vec![(4.0, 1.0)]);
    assert_eq!(a.resolvers.len(), 1);
    assert_eq!((a.resolvers[0].name.as_str(), a.resolvers[0].part, a.resolvers[0].min_ttl_secs), ("honours-ttl", 1.0, 0));
    assert_eq!((a.sticky, a.restart_per_min, a.rebuffer_restart_per_min), (0.7, 0.01, 0.25));
    // A CDN without `default` performs as the built-in one; a region inherits what it leaves out.
    let akamai = &s.cdns[0];
    assert_eq!(akamai.default, defaults::PERFORMANCE);
    assert_eq!(akamai.regions[0].1, Performance { ttfb_ms: 40.0, ..defaults::PERFORMANCE });
    let fastly = &s.cdns[1];
    assert_eq!(fastly.default, Performance { ttfb_ms: 80.0, capacity_gbps: Some(100.0), ..defaults::PERFORMANCE });
    assert_eq!(fastly.regions[0].1, Performance { error_rate: 0.01, ..fastly.default });
    assert_eq!((s.saturation, s.noise, s.headroom), (defaults::SATURATION, 0.05, 1.2));
    assert_eq!((s.telemetry.every_ms, s.telemetry.delay_ms, s.telemetry.source.as_str(), s.telemetry.requests_per_viewer_sec), (10_000, 5_000, "players", 0.25));
    assert!(s.probes.is_empty() && s.sweep.is_empty());
    assert_eq!(s.limits, model::Limits::default());
    let labels: Vec<&str> = s.incidents.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(labels, ["fastly goes dark everywhere", "telemetry stops in country:KR", "probe zone-probe goes blind", "akamai degrades everywhere"]);
}

#[test]
fn problems_are_located_and_named() {
    let cases: &[(&str, &str, Code, u64, &str)] = &[
        ("version: 1 ", "version: 2 ", Code::UnsupportedVersion, 9, "version"),
        ("scenario: final", "scenario: the final", Code::InvalidScenario, 10, "scenario"),
        ("zones: ../zones", "zones: ../zonez", Code::Io, 11, "zones"),
        ("tick: 1s", "tick: 1 second", Code::InvalidScenario, 16, "tick"),
        ("    kickoff: 30m", "    kickoff: 30x", Code::InvalidScenario, 22, "audience.shape.kickoff"),
        ("    spike: 1.0", "    spike: 1.5", Code::InvalidScenario, 24, "audience.shape.spike"),
        ("    half_time: 47m", "    half_time: 2m", Code::CurveOrder, 26, "audience.shape.half_time"),
        ("    full_time: 1h52m", "    full_time: 1h", Code::CurveOrder, 30, "audience.shape.full_time"),
        ("    country:JP: 0.14", "    country:JP: 0.12", Code::PartsSum, 36, "audience.regions"),
        ("    country:JP: 0.14", "    country:JP: 0", Code::InvalidScenario, 37, "audience.regions.country:JP"),
        ("    country:JP: 0.14", "    planet:mars: 0.14", Code::UnknownRegion, 37, "audience.regions.planet:mars"),
        ("    country:JP: 0.14", "    KR: 0.14", Code::InvalidScenario, 37, "audience.regions.KR"),
        ("    country:JP: 0.14", "    country:JP: {part: 0.14, points: [[0m, 0.5], [0m, 1]]}", Code::CurveOrder, 37, "audience.regions.country:JP.points[1][0]"),
        ("{mbps: 5.0, part: 0.4}", "{mbps: 5.0, part: 0.5}", Code::PartsSum, 41, "audience.bitrate"),
        ("{mbps: 5.0, part: 0.4}", "{mbps: -5.0, part: 0.4}", Code::InvalidScenario, 43, "audience.bitrate[2].mbps"),
        ("  bitrate:  ", "  bitrate_mbps: 3.5\n  bitrate:  ", Code::InvalidScenario, 42, "audience.bitrate"),
        ("clamps-60s, part: 0.1", "clamps-60s, part: 0.2", Code::PartsSum, 45, "audience.resolvers"),
        ("min_ttl: 60s", "min_ttl: 2d", Code::InvalidScenario, 47, "audience.resolvers[2].min_ttl"),
        ("  sticky: 0.7", "  sticky: 7", Code::InvalidScenario, 48, "audience.sticky"),
        ("country:KR: {capacity_gbps: 3200", "country:KR: {capacity_gbps: 0", Code::InvalidScenario, 56, "cdns.akamai.regions.country:KR.capacity_gbps"),
        ("  knee: 0.85", "  knee: 0", Code::InvalidScenario, 69, "saturation.knee"),
        ("noise: 0.05 ", "noise: 0.9 ", Code::InvalidScenario, 74, "noise"),
        ("  every: 10s", "  every: 0s", Code::InvalidScenario, 77, "telemetry.every"),
        ("vantage: tokyo-1", "vantage: seoul-1", Code::InvalidScenario, 84, "probes[1].vantage"),
        ("region: continent:AS, every: 5s, timeout: 2s", "region: continent:AS, every: 5s, timeout: 6s", Code::InvalidScenario, 85, "probes[2].timeout"),
        ("{vantage: tokyo-1, region: country:JP, every: 5s, timeout: 2s}", "{vantage: tokyo-1, region: country:JP, every: 1s}", Code::InvalidScenario, 84, "probes[1].every"),
        ("    at: 2h10m", "    at: later", Code::InvalidScenario, 90, "incidents[0].at"),
        ("    for: 8m", "    for: 0m", Code::InvalidScenario, 91, "incidents[0].for"),
        ("    cdn: cloudfront\n", "", Code::MissingKey, 92, "incidents[0]"),
        ("    error_rate: 0.08", "    error_rate: 4", Code::InvalidScenario, 96, "incidents[0].error_rate"),
        ("  max_flaps_per_hour: 2", "  max_flaps_per_hour: -2", Code::InvalidScenario, 101, "limits.max_flaps_per_hour"),
        ("  headroom: 1.2", "  headroom: 0.8", Code::InvalidScenario, 106, "forecast.headroom"),
        ("  down: [30, 40, 50]", "  down: [30, 40, 500]", Code::InvalidScenario, 110, "sweep.down[2]"),
        ("  down: [30, 40, 50]", "  down: [30, 40, 30]", Code::InvalidScenario, 110, "sweep.down[2]"),
        ("  down: [30, 40, 50]", "  down: []", Code::InvalidScenario, 110, "sweep.down"),
        ("  fast_ttl_secs: [5, 10]", "  fast_ttl_secs: [5, 7.5]", Code::InvalidScenario, 112, "sweep.fast_ttl_secs[1]"),
        ("  fast_ttl_secs: [5, 10]", "  slowness: [5, 10]", Code::UnknownKey, 112, "sweep.slowness"),
        ("    throughput_mbps: 2.5", "    throughput_mbps: [4]", Code::WrongType, 97, "incidents[0].throughput_mbps"),
        ("    country:JP: 0.14", "    country:JP: {part: 0.14, points: [[0m, 0.5, 1]]}", Code::WrongType, 37, "audience.regions.country:JP.points[0]"),
    ];
    for (from, to, code, line, path) in cases {
        assert_eq!(problems(&final_with(from, to)), one(*code, *line, path), "`{from}` -> `{to}`");
    }
    // A field another kind of incident takes is unknown here.
    let dark: Vec<(u64, String)> = problems(&final_with("    kind: degrade", "    kind: dark")).into_iter().map(|(c, l, p)| (l, format!("{c} {p}"))).collect();
    let want = [(95, "unknown-key incidents[0].ttfb_ms"), (96, "unknown-key incidents[0].error_rate"), (97, "unknown-key incidents[0].throughput_mbps")];
    assert_eq!(dark, want.map(|(l, p)| (l, p.to_string())));
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let text = final_with("    spike: 1.0", "    spike: 2")
        .replacen("    country:JP: 0.14", "    country:XX: 0.14", 1)
        .replacen("  sticky: 0.7", "  sticky: -1", 1)
        .replacen("    for: 8m", "    for: never", 1)
        .replacen("  headroom: 1.2", "  headroom: 100", 1);
    let got: Vec<(Code, u64)> = problems(&text).into_iter().map(|(c, l, _)| (c, l)).collect();
    assert_eq!(got, [(Code::InvalidScenario, 24), (Code::UnknownRegion, 37), (Code::InvalidScenario, 48), (Code::InvalidScenario, 91), (Code::InvalidScenario, 106)]);
}

#[test]
fn either_or_keys_and_the_night_without_an_event() {
    let no_curve = final_with("  shape: ", "  old_shape: ");
    assert_eq!(problems(&no_curve)[0].0, Code::UnknownKey);
    let text = FINAL.lines().filter(|l| !l.starts_with("    - {mbps") && !l.starts_with("  bitrate:")).collect::<Vec<_>>().join("\n");
    assert_eq!(problems(&text), one(Code::MissingKey, 20, "audience"), "neither bitrate nor bitrate_mbps");
    // Without `event`, `start` and `duration` are needed; with a duration, incidents must fit.
    let without = final_with("event: final ", "# no event ");
    assert_eq!(problems(&without), vec![(Code::MissingKey, 10, "start".to_string()), (Code::MissingKey, 10, "duration".to_string())]);
    let short = final_with("# duration: 3h30m ", "duration: 2h15m   ");
    assert_eq!(problems(&short), one(Code::OutsideNight, 91, "incidents[0].for"));
    let shorter = final_with("# duration: 3h30m ", "duration: 2h      ");
    assert_eq!(problems(&shorter), one(Code::OutsideNight, 90, "incidents[0].at"));
    let lost = final_with("event: final ", "event: semi  ").replacen("events: ../events", "# events: ../events", 1);
    assert_eq!(problems(&lost), one(Code::MissingKey, 13, "event"));
    let degrade_nothing = FINAL.lines().filter(|l| !["    ttfb_ms: 1400", "    error_rate: 0.08", "    throughput_mbps: 2.5"].contains(l)).collect::<Vec<_>>().join("\n");
    assert_eq!(problems(&degrade_nothing), one(Code::MissingKey, 92, "incidents[0]"));
}

// ---------------------------------------------------------------------------------------------
// Against the zones and events

/// A scenario file in a temporary directory, naming the bundled zones and events.
fn scenario_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = text
        .replacen("zones: ../zones", &format!("zones: {}", root.join("zones").display()), 1)
        .replacen("events: ../events", &format!("events: {}", root.join("events").display()), 1);
    let file = dir.path().join("night.yaml");
    std::fs::write(&file, text).expect("write");
    (dir, file)
}

fn cross_problems(text: &str) -> Vec<(Code, u64, String)> {
    let (_dir, file) = scenario_file(text);
    let err = load_checked(&file).expect_err("a cross-check problem");
    assert!(err.diagnostics.iter().all(|d| d.file == file), "{err}");
    // `cross_check` on its own finds the same, at the same places.
    let s = load(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut zones = crate::zone::load_dir(&s.zones).expect("zones");
    let events = crate::event::load_dir(s.events.as_deref().expect("events"), &zones).expect("events");
    events.attach(&mut zones);
    assert_eq!(cross_check(&s, &zones, &events), err.diagnostics);
    err.diagnostics.iter().map(|d| (d.code, d.pos.line, d.path.clone())).collect()
}

#[test]
fn the_bundled_scenario_matches_the_bundled_zones_and_events() {
    let checked = load_checked(Path::new(FILE)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(checked.scenario.event.as_deref(), Some("final"));
    assert!(checked.zones.zones[0].health.windows.iter().any(|w| w.event == "final"), "the event's policy is attached");
    let (_dir, file) = scenario_file(FINAL);
    load_checked(&file).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn names_the_zones_and_events_do_not_know_are_located() {
    let cases: &[(&str, &str, Code, u64, &str)] = &[
        ("event: final ", "event: semi  ", Code::UnknownEvent, 13, "event"),
        ("  edgio:\n", "  limelight:\n", Code::UnknownCdn, 65, "cdns.limelight"),
        ("    country:JP: 0.14", "    country:DE: 0.14", Code::RegionNotSteered, 37, "audience.regions.country:DE"),
        ("      country:KR: {capacity_gbps: 2400", "      country:CN: {capacity_gbps: 2400", Code::RegionNotSteered, 60, "cdns.fastly.regions.country:CN"),
        ("region: default, every", "region: network:nowhere, every", Code::RegionNotSteered, 86, "probes[3].region"),
        ("    cdn: cloudfront", "    cdn: limelight", Code::UnknownCdn, 93, "incidents[0].cdn"),
        ("    region: country:KR", "    region: continent:EU", Code::RegionNotSteered, 94, "incidents[0].region"),
        ("    at: 2h10m", "    at: 3h25m", Code::OutsideNight, 91, "incidents[0].for"),
        ("    at: 2h10m", "    at: 4h", Code::OutsideNight, 90, "incidents[0].at"),
        ("# start: 2026-12-18T19:30:00+09:00", "start: 2026-12-18T23:00:00+09:00  ", Code::OutsideNight, 14, "start"),
    ];
    for (from, to, code, line, path) in cases {
        assert_eq!(cross_problems(&final_with(from, to)), one(*code, *line, path), "`{from}` -> `{to}`");
    }
    // A later start shortens the night the event's end gives.
    let late = final_with("# start: 2026-12-18T19:30:00+09:00", "start: 2026-12-18T20:45:00+09:00  ");
    assert_eq!(cross_problems(&late), one(Code::OutsideNight, 91, "incidents[0].for"));
    // A vantage is the scenario's or the zones' own.
    let blind = final_with("    kind: degrade ", "    kind: probe_blind\n    vantage: seoul-9\n#").replace("    cdn: cloudfront\n    region: country:KR\n    ttfb_ms: 1400\n    error_rate: 0.08\n    throughput_mbps: 2.5\n", "");
    assert_eq!(cross_problems(&blind), one(Code::UnknownVantage, 93, "incidents[0].vantage"));
    let (_dir, file) = scenario_file(&blind.replace("seoul-9", "seoul-1"));
    load_checked(&file).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn without_an_event_every_steered_name_counts_and_a_changed_file_still_gets_its_findings() {
    let text = final_with("event: final ", "# no event   ")
        .replacen("# start: 2026-12-18T19:30:00+09:00", "start: 2026-12-18T19:30:00+09:00  ", 1)
        .replacen("# duration: 3h30m ", "duration: 3h30m   ", 1);
    let (_dir, file) = scenario_file(&text);
    let checked = load_checked(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut s = checked.scenario;
    s.cdns[0].cdn = "limelight".into();
    let found = cross_check(&s, &checked.zones, &checked.events);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].code, found[0].pos.line, found[0].path.as_str()), (Code::UnknownCdn, 0, "cdns.limelight"), "not the file's scenario: no position");
}

#[test]
fn a_blinded_vantage_may_be_one_of_the_zones_own_probes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).expect("zones dir");
    let zone = include_str!("../../../zones/example.com.yaml").to_string() + "  probes:\n    - {cdn: akamai, region: KR, vantage: zone-seoul, url: \"https://probe.example.net/1mb.bin\"}\n";
    std::fs::write(zones.join("example.com.yaml"), zone).expect("zone");
    let scenario = |vantage: &str| {
        let text = MINIMAL.replace("vantage: zone-probe", &format!("vantage: {vantage}"));
        let file = dir.path().join("night.yaml");
        std::fs::write(&file, text.replace("zones: ../zones", "zones: zones")).expect("scenario");
        load_checked(&file)
    };
    scenario("zone-seoul").unwrap_or_else(|e| panic!("{e}"));
    let err = scenario("zone-tokyo").expect_err("no such vantage");
    let d = &err.diagnostics[0];
    assert_eq!((err.diagnostics.len(), d.code, d.pos.line, d.path.as_str()), (1, Code::UnknownVantage, 24, "incidents[2].vantage"), "{err}");
    assert!(d.message.ends_with("expected one of: zone-seoul"), "{err}");
}

#[test]
fn a_curve_of_its_own_per_region() {
    let text = final_with("    country:JP: 0.14", "    country:JP:\n      part: 0.14\n      shape: {kickoff: 1h, before: 0.1, spike: 0.8, first_half: 0.7, half_time: 45m, half_time_for: 15m, half_time_level: 0.4, second_half: 0.7, full_time: 1h50m, extra_time: 30m, drop_off: 10m, after: 0}");
    let s = load_text(Path::new(FILE), &text).unwrap_or_else(|e| panic!("{e}"));
    let jp = s.audience.regions[1].curve.as_ref().expect("its own curve");
    assert_eq!(jp.first(), Some(&(0, 0.1)));
    assert_eq!(jp.last(), Some(&((60 + 110 + 30 + 10) * MIN, 0.0)), "kickoff + full time + extra time + drop-off");
    assert_eq!(s.audience.regions[0].curve, None);
    let both = text.replacen("      part: 0.14\n", "      part: 0.14\n      points: [[0m, 1]]\n", 1);
    assert_eq!(problems(&both), one(Code::InvalidScenario, 39, "audience.regions.country:JP.points"));
}

#[test]
fn sweep_parameters_are_the_models() {
    let head = &FINAL[..FINAL.find("\nsweep:").expect("a sweep")];
    for (param, name) in SweepParam::ALL {
        let text = format!("{head}\nsweep:\n  \"{name}\": [1]\n");
        let s = load_text(Path::new(FILE), &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.sweep.last().map(|a| a.param), Some(param));
    }
}
