//! Scenario loader diagnostics: one invalid fixture per code a scenario can raise
//! (tests/fixtures/scenarios/invalid/, each naming its code on its first line and pointing at
//! its offending line with `# <- error here`), checked with the zones and events it names; the
//! bundled scenarios and the valid fixtures load and match the bundled zones and events; and
//! an unknown key injected into every mapping of every valid scenario is rejected where it is.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use cdnsteer::diag::{Code, LoadError};
use cdnsteer::sim::scenario;

use crate::zone_check::{
    MARKER, assert_rendered, column_of, marker_lines, read, repo, strip_comment, unquote, yaml_files, yaml_path,
};

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/scenarios")
}

/// For each invalid fixture (named after its code): the YAML path of the diagnostic, and the
/// text its column points at on the marked line.
const EXPECT: &[(&str, &str, &str)] = &[
    ("syntax", "cdns.akamai.default", "{"),
    ("unknown-key", "audience.peak_viewer", "peak_viewer"),
    ("duplicate-key", "audience.bitrate_mbps", "bitrate_mbps: 4"),
    ("missing-key", "probes[0]", "vantage"),
    ("wrong-type", "audience.peak_viewers", "lots"),
    ("unsupported-version", "version", "2"),
    ("io", "zones", "../../../../zonez"),
    ("unknown-region", "probes[0].region", "planet:mars"),
    ("invalid-scenario", "incidents[0].error_rate", "4"),
    ("parts-sum", "audience.regions", "country:KR"),
    ("curve-order", "audience.points[3][0]", "2h"),
    ("outside-night", "incidents[0].at", "3h40m"),
    ("unknown-event", "event", "semi-final"),
    ("region-not-steered", "cdns.akamai.regions.country:DE", "country:DE"),
    ("unknown-cdn", "incidents[0].cdn", "limelight"),
    ("unknown-vantage", "incidents[0].vantage", "osaka-1"),
];

/// The codes only scenarios raise: each must have a fixture here.
const SCENARIO_CODES: [Code; 7] =
    [Code::InvalidScenario, Code::PartsSum, Code::CurveOrder, Code::OutsideNight, Code::UnknownEvent, Code::RegionNotSteered, Code::UnknownVantage];

/// The invalid fixture named after `code`, if there is one.
pub(crate) fn fixture(code: Code) -> Option<PathBuf> {
    let path = fixtures().join(format!("invalid/{code}.yaml"));
    path.exists().then_some(path)
}

/// What loading the fixture of `code` with its zones and events reports.
pub(crate) fn fixture_error(code: Code) -> LoadError {
    let path = fixture(code).unwrap_or_else(|| panic!("no scenario fixture for {code}"));
    scenario::load_checked(&path).map(|_| ()).expect_err("an invalid fixture")
}

fn invalid_fixtures() -> BTreeMap<String, PathBuf> {
    yaml_files(&fixtures().join("invalid"))
        .into_iter()
        .map(|p| (p.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_string(), p))
        .collect()
}

/// Check one invalid fixture; returns what is wrong with it (empty when it behaves).
fn check_fixture(code_name: &str, path: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let text = read(path);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.first().copied().unwrap_or_default();
    if !(first.starts_with('#') && first.contains(code_name)) {
        problems.push(format!("{name}: the first line must be a comment naming `{code_name}`"));
    }
    let markers = marker_lines(&text);
    let [marker] = markers[..] else {
        problems.push(format!("{name}: expected exactly one `{MARKER}` line, found {markers:?}"));
        return problems;
    };
    let Some(&(_, want_path, token)) = EXPECT.iter().find(|(c, _, _)| *c == code_name) else {
        problems.push(format!("{name}: no entry in EXPECT"));
        return problems;
    };
    let err = match scenario::load_checked(path) {
        Ok(_) => {
            problems.push(format!("{name}: loaded without error"));
            return problems;
        }
        Err(e) => e,
    };
    assert_rendered(&err);
    let [d] = &err.diagnostics[..] else {
        problems.push(format!("{name}: expected exactly one diagnostic (one problem per fixture):\n{err}"));
        return problems;
    };
    if d.code.as_str() != code_name {
        problems.push(format!("{name}: [{}] instead of [{code_name}]:\n{err}", d.code));
    }
    if d.file != path {
        problems.push(format!("{name}: file {} instead of {}", d.file.display(), path.display()));
    }
    if d.pos.line != marker {
        problems.push(format!("{name}: line {} but the marker is on line {marker}: {d}", d.pos.line));
    }
    let marked = lines.get(marker as usize - 1).copied().unwrap_or_default();
    if d.pos.col == 0 || column_of(marked, token) != Some(d.pos.col) {
        problems.push(format!("{name}: column {} does not point at `{token}` in `{marked}`", d.pos.col));
    }
    if d.path != want_path {
        problems.push(format!("{name}: YAML path `{}`, expected `{want_path}`", d.path));
    }
    if d.message.trim().is_empty() || d.message.contains('\n') {
        problems.push(format!("{name}: message must be one non-empty line: {:?}", d.message));
    }
    if !err.summary().starts_with("1 error in 1 of ") {
        problems.push(format!("{name}: summary `{}`", err.summary()));
    }
    problems
}

#[test]
fn every_invalid_scenario_fixture_reports_its_code_at_the_marked_line() {
    let fixtures = invalid_fixtures();
    let problems: Vec<String> = fixtures.iter().flat_map(|(code, path)| check_fixture(code, path)).collect();
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
    let names: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    for file in fixtures.keys() {
        assert!(names.contains(file.as_str()), "invalid/{file}.yaml is not named after a diag::Code");
    }
    for (code, _, _) in EXPECT {
        assert!(fixtures.contains_key(*code), "EXPECT lists `{code}` but invalid/{code}.yaml is missing");
    }
    for code in SCENARIO_CODES {
        assert!(fixtures.contains_key(code.as_str()), "scenario code `{code}` has no fixture: add tests/fixtures/scenarios/invalid/{code}.yaml");
    }
}

/// The valid scenarios: the repository's scenarios/ and tests/fixtures/scenarios/valid/.
fn valid_scenarios() -> Vec<PathBuf> {
    let mut files = yaml_files(&repo().join("scenarios"));
    files.extend(yaml_files(&fixtures().join("valid")));
    assert!(files.len() >= 2, "{files:?}");
    files
}

#[test]
fn the_bundled_scenarios_and_the_valid_fixtures_match_the_bundled_zones_and_events() {
    for file in valid_scenarios() {
        let checked = scenario::load_checked(&file).unwrap_or_else(|e| panic!("{}:\n{e}", file.display()));
        assert_eq!(checked.scenario.file, file);
        assert!(checked.zones.steered().count() > 0);
    }
    let checked = scenario::load_checked(&repo().join("scenarios/final.yaml")).expect("final");
    let s = &checked.scenario;
    assert_eq!((s.name.as_str(), s.event.as_deref(), checked.events.events.len()), ("final", Some("final"), 1));
    assert_eq!((s.audience.regions.len(), s.cdns.len(), s.probes.len(), s.incidents.len()), (4, 4, 4, 1));
    assert!(checked.zones.zones[0].health.windows.iter().any(|w| w.event == "final"), "the event's policy applies");

    let every = scenario::load_checked(&fixtures().join("valid/every-feature.yaml")).expect("every feature").scenario;
    assert_eq!((every.event.clone(), every.events.clone(), every.duration_ms), (None, None, Some(4 * 3_600_000)));
    let curves = every.audience.regions.iter().filter(|r| r.curve.is_some()).count();
    assert_eq!(curves, 2, "a region curve from points and one from a shape");
    let kinds: BTreeSet<&str> = every
        .incidents
        .iter()
        .map(|i| match i.kind {
            scenario::model::IncidentKind::Degrade { .. } => "degrade",
            scenario::model::IncidentKind::Dark { .. } => "dark",
            scenario::model::IncidentKind::ProbeBlind { .. } => "probe_blind",
            scenario::model::IncidentKind::TelemetryStops { .. } => "telemetry_stops",
        })
        .collect();
    assert_eq!(kinds.len(), 4, "every kind of incident");
    assert_eq!(every.sweep.len(), scenario::model::SweepParam::ALL.len(), "every sweep setting");
    assert!(every.limits.max_shift_secs.is_some() && every.limits.max_viewer_minutes_degraded_pct.is_some());
}

// ---------------------------------------------------------------------------------------------
// An unknown key in every mapping

/// One copy of a scenario with `bogus_key: 1` added to one mapping.
struct Injected {
    text: String,
    /// 1-based line of the injected key.
    line: u64,
    /// Path of the mapping it was injected into.
    mapping: Vec<String>,
}

/// Every variant of `text` with `bogus_key: 1` injected into one mapping: the top level, each
/// block mapping (a `key:` line followed by deeper keys), each single-line flow mapping
/// (`key: {...}` and `- {...}`, outermost braces), and each `- key: ...` list item.
fn inject_everywhere(text: &str) -> Vec<Injected> {
    let lines: Vec<&str> = text.lines().collect();
    let content: Vec<(usize, usize, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i, l.len() - l.trim_start().len(), strip_comment(l)))
        .filter(|(_, _, body)| !body.trim().is_empty())
        .collect();
    let build = |at: usize, insert: Option<String>, replace: Option<String>| -> String {
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        if let Some(r) = replace {
            out[at] = r;
        }
        if let Some(n) = insert {
            out.insert(at, n);
        }
        out.join("\n") + "\n"
    };
    // `bogus_key: 1, ` right after the first `{` of line `li`.
    let into_flow = |li: usize| -> String {
        let original = lines[li];
        let brace = original.find('{').expect("a flow mapping");
        format!("{}bogus_key: 1, {}", &original[..=brace], &original[brace + 1..])
    };

    let mut variants = vec![Injected { text: build(0, Some("bogus_key: 1".into()), None), line: 1, mapping: Vec::new() }];
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut seq_counts: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let segs = |stack: &[(usize, String)]| stack.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>();
    for (ci, &(li, indent, body)) in content.iter().enumerate() {
        let body = body.trim_start();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        if let Some(item) = body.strip_prefix("- ") {
            let parent = segs(&stack);
            let n = seq_counts.entry(parent.clone()).or_default();
            let index = format!("[{n}]");
            *n += 1;
            let mut mapping = parent;
            mapping.push(index.clone());
            if item.starts_with('{') {
                variants.push(Injected { text: build(li, None, Some(into_flow(li))), line: li as u64 + 1, mapping });
            } else if item.contains(": ") || item.ends_with(':') {
                stack.push((indent, index));
                let line = format!("{}bogus_key: 1", " ".repeat(indent + 2));
                variants.push(Injected { text: build(li + 1, Some(line), None), line: li as u64 + 2, mapping });
            }
            continue;
        }
        let (key, value) = match body.split_once(": ") {
            Some((k, v)) => (unquote(k), v.trim()),
            None => (unquote(body.strip_suffix(':').unwrap_or_else(|| panic!("line {}: not a key: {body}", li + 1))), ""),
        };
        let mut mapping = segs(&stack);
        mapping.push(key.clone());
        if value.is_empty() {
            stack.push((indent, key));
            let Some(&(_, next_indent, next_body)) = content.get(ci + 1) else { continue };
            if next_indent > indent && !next_body.trim_start().starts_with("- ") {
                let line = format!("{}bogus_key: 1", " ".repeat(next_indent));
                variants.push(Injected { text: build(li + 1, Some(line), None), line: li as u64 + 2, mapping });
            }
        } else if value.starts_with('{') {
            variants.push(Injected { text: build(li, None, Some(into_flow(li))), line: li as u64 + 1, mapping });
        }
    }
    variants
}

/// What an extra `bogus_key: 1` means in the mapping at `path`: a key the schema does not know
/// (a fixed-key block), a value of the wrong type (a map keyed by names whose values are
/// blocks or lists), or a region that does not parse (a map keyed by regions).
fn expected_code(path: &[String]) -> Code {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["cdns"] | ["cdns", _, "regions"] | ["sweep"] => Code::WrongType,
        ["audience", "regions"] => Code::UnknownRegion,
        [] | ["audience"] | ["audience", "shape"] | ["audience", "regions", _] | ["audience", "regions", _, "shape"] => Code::UnknownKey,
        ["audience", "bitrate" | "resolvers", i] if i.starts_with('[') => Code::UnknownKey,
        ["cdns", _] | ["cdns", _, "default"] | ["cdns", _, "regions", _] => Code::UnknownKey,
        ["saturation" | "telemetry" | "limits" | "forecast"] => Code::UnknownKey,
        ["probes" | "incidents", i] if i.starts_with('[') => Code::UnknownKey,
        other => panic!("no expectation for an unknown key in the mapping at {other:?}"),
    }
}

#[test]
fn an_unknown_key_in_any_mapping_of_a_scenario_is_rejected_where_it_is() {
    let mut codes_seen = BTreeSet::new();
    for file in valid_scenarios() {
        let original = read(&file);
        let variants = inject_everywhere(&original);
        let texts: HashSet<&str> = variants.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts.len(), variants.len(), "{}: every variant is different", file.display());
        assert!(variants.len() > 15, "{}: only {} variants", file.display(), variants.len());
        for v in &variants {
            let expected = expected_code(&v.mapping);
            codes_seen.insert(expected);
            let mut want_path = v.mapping.clone();
            want_path.push("bogus_key".into());
            let want_path = yaml_path(&want_path);
            let err = match scenario::load_text(&file, &v.text) {
                Ok(_) => panic!("{}: accepted with bogus_key at line {}:\n{}", file.display(), v.line, v.text),
                Err(e) => e,
            };
            let where_ = format!("{} with bogus_key at line {} in `{}`:\n{err}", file.display(), v.line, yaml_path(&v.mapping));
            let [d] = &err.diagnostics[..] else { panic!("one diagnostic: {where_}") };
            assert_eq!((d.code, d.pos.line, d.path.as_str()), (expected, v.line, want_path.as_str()), "{where_}");
            let injected = v.text.lines().nth(v.line as usize - 1).unwrap_or_default();
            let at_key = column_of(injected, "bogus_key");
            let at_value = at_key.map(|c| c + "bogus_key: ".len() as u64);
            assert!(d.pos.col > 0 && (Some(d.pos.col) == at_key || Some(d.pos.col) == at_value), "column {}: {where_}", d.pos.col);
            assert_eq!(d.file, file);
            assert_rendered(&err);
        }
    }
    assert_eq!(codes_seen, [Code::UnknownKey, Code::WrongType, Code::UnknownRegion].into_iter().collect());
}

// ---------------------------------------------------------------------------------------------
// `cdnsteer check`

fn cdnsteer_check(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdnsteer")).arg("check").args(args).current_dir(repo()).output().expect("run cdnsteer check");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn check_cli_checks_a_scenario_with_its_zones_and_events() {
    let (code, stdout, stderr) = cdnsteer_check(&["scenarios/final.yaml"]);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout.trim_end(), "scenarios/final.yaml: scenario final: 4 regions, 4 CDNs, 1 incident; 1 zone, event final: OK");
    // Beside the zones, a directory of scenarios.
    let (code, stdout, stderr) = cdnsteer_check(&["zones", "--scenarios", "scenarios"]);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("zones: 1 zone") && stdout.contains("scenario final"), "{stdout}");
}

#[test]
fn check_cli_rejects_a_scenario_with_its_location() {
    let fixture = "tests/fixtures/scenarios/invalid/unknown-cdn.yaml";
    let text = read(&repo().join(fixture));
    let line = marker_lines(&text)[0];
    let col = column_of(text.lines().nth(line as usize - 1).unwrap_or_default(), "limelight").expect("limelight");
    for args in [vec![fixture], vec!["zones", "--scenarios", fixture]] {
        let (code, stdout, stderr) = cdnsteer_check(&args);
        assert_eq!(code, Some(1), "{args:?}\nstdout: {stdout}\nstderr: {stderr}");
        assert!(!stdout.contains("scenario fixture"), "{stdout}");
        let located = format!("{fixture}:{line}:{col}: error[unknown-cdn] at incidents[0].cdn: ");
        assert!(stderr.contains(&located), "expected `{located}` in:\n{stderr}");
        assert_eq!(stderr.trim_end().lines().last(), Some("1 error in 1 of 3 files"), "the scenario, the zone and the event:\n{stderr}");
    }
    let (code, _, stderr) = cdnsteer_check(&["scenarios/missing.yaml"]);
    assert_eq!(code, Some(1));
    assert!(stderr.starts_with("scenarios/missing.yaml:0:0: error[io]") && stderr.contains("cannot read"), "{stderr}");
}
