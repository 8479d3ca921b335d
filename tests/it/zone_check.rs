//! Zone loader diagnostics: one invalid fixture per check code (tests/fixtures/zones/invalid/),
//! each pointing at its offending line with `# <- error here`; the codes no single zone file
//! can raise (io, no-zones, duplicate-zone, invalid-setting); all problems reported, not just
//! the first; an unknown key injected into every mapping of every valid zone; `cdnsteer check`
//! on the real binary; and the daemon config loader.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cdnsteer::config::{Config, LogFormat, Flags};
use cdnsteer::diag::{Code, Diagnostic, Diagnostics, LoadError};
use cdnsteer::zone;
use cdnsteer::zone::model::{RecordKind, RegionKey};

/// What marks the offending line of a fixture.
pub(crate) const MARKER: &str = "# <- error here";

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/zones")
}

/// For each invalid fixture (named after its code): the YAML path of the diagnostic, and the
/// text its column points at on the marked line.
const EXPECT: &[(&str, &str, &str)] = &[
    ("syntax", "steered.live.regions.default", "{"),
    ("unknown-key", "soa.refersh", "refersh"),
    ("duplicate-key", "ttl", "ttl"),
    ("missing-key", "records[1]", "name"),
    ("wrong-type", "soa.serial", "tomorrow"),
    ("unsupported-version", "version", "2"),
    ("invalid-name", "records[2].name", "www..edge"),
    ("name-outside-zone", "records[2].name", "www.example.org."),
    ("ttl-out-of-bounds", "steered.live.ttl", "86400"),
    // A whole-document problem: reported at 1:1 (the fixture's first line carries the marker).
    ("missing-soa", "soa", "#"),
    ("missing-ns", "records", "example.net"),
    ("unsupported-type", "records[2].type", "SRV"),
    ("invalid-rdata", "records[1].value", "192.0.2.300"),
    ("cname-and-other-data", "records", "name"),
    ("cname-at-apex", "records[2]", "name"),
    ("delegation", "records[2]", "name"),
    ("duplicate-rrset", "records[2]", "name"),
    ("steered-clash", "steered.live", "live"),
    ("unknown-cdn", "steered.live.regions.countries.KR.edgio", "edgio"),
    ("invalid-weight", "steered.live.regions.default.fastly", "0"),
    ("empty-region", "steered.live.regions.countries.JP", "{}"),
    ("unknown-country", "steered.live.regions.countries.UK", "UK"),
    ("unknown-continent", "steered.live.regions.continents.ME", "ME"),
    ("invalid-cidr", "networks.noc-lab[1]", "198.51.100.7/24"),
    ("unknown-network", "steered.live.regions.networks.kt-resolvers", "kt-resolvers"),
    ("unknown-last-resort", "steered.live.last_resort", "edgio"),
    ("no-cdns", "steered.live.cdns", "{}"),
    ("invalid-health", "health.thresholds.up", "50"),
    ("invalid-probe", "health.probes[0].url", "ftp://"),
    ("unknown-region", "health.probes[0].region", "planet:mars"),
];

/// Diagnostics a fixture's one problem unavoidably brings along (beyond its own code).
fn consequences(code: &str) -> &'static [Code] {
    match code {
        // With no CDNs, the last resort and every region candidate name an undefined CDN.
        "no-cdns" => &[Code::UnknownLastResort, Code::UnknownCdn],
        _ => &[],
    }
}

/// Codes no single zone file can raise, each proved by its own scenario below.
const SPECIAL: [Code; 4] = [Code::Io, Code::NoZones, Code::DuplicateZone, Code::InvalidSetting];

// ---------------------------------------------------------------------------------------------
// Helpers

/// A scratch directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("cdnsteer-zone-check-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// The invalid fixtures, by code name.
fn invalid_fixtures() -> BTreeMap<String, PathBuf> {
    yaml_files(&fixtures().join("invalid"))
        .into_iter()
        .map(|p| (p.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_string(), p))
        .collect()
}

/// 1-based numbers of the lines carrying the marker.
pub(crate) fn marker_lines(text: &str) -> Vec<u64> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_end().ends_with(MARKER))
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

/// Load one file's text exactly as `load_dir` would check it.
fn load_one(path: &Path, text: &str) -> Result<zone::ZoneSet, LoadError> {
    zone::load_texts(&[(path.to_path_buf(), text.to_string())], Diagnostics::new())
}

/// The expected summary line, worded independently of `diag.rs`.
pub(crate) fn expected_summary(errors: usize, bad_files: usize, files: usize) -> String {
    let plural = |n: usize, word: &str| if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") };
    format!("{} in {bad_files} of {}", plural(errors, "error"), plural(files, "file"))
}

/// Parse one rendered diagnostic line, `file:line:col: error[code] at path: message`.
pub(crate) fn parse_rendered(line: &str) -> Option<(String, u64, u64, String, String, String)> {
    let (head, rest) = line.split_once(": error[")?;
    let mut loc = head.rsplitn(3, ':');
    let col: u64 = loc.next()?.parse().ok()?;
    let line_no: u64 = loc.next()?.parse().ok()?;
    let file = loc.next()?.to_string();
    let (code, rest) = rest.split_once("] at ")?;
    let (path, message) = rest.split_once(": ")?;
    Some((file, line_no, col, code.to_string(), path.to_string(), message.to_string()))
}

/// `LoadError`'s Display: one `file:line:col: error[code] at path: message` line per
/// diagnostic, in order, then the summary line last.
pub(crate) fn assert_rendered(err: &LoadError) {
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), err.diagnostics.len() + 1, "one line per diagnostic plus the summary:\n{text}");
    for (line, d) in lines.iter().zip(&err.diagnostics) {
        let (file, line_no, col, code, path, message) =
            parse_rendered(line).unwrap_or_else(|| panic!("not `file:line:col: error[code] at path: message`: {line}"));
        assert_eq!(file, d.file.display().to_string(), "{line}");
        assert_eq!((line_no, col), (d.pos.line, d.pos.col), "{line}");
        assert_eq!(code, d.code.as_str(), "{line}");
        assert_eq!(path, if d.path.is_empty() { "(document)" } else { d.path.as_str() }, "{line}");
        assert_eq!(message, d.message, "{line}");
        assert!(!message.trim().is_empty(), "empty message: {line}");
    }
    let mut bad: Vec<&Path> = err.diagnostics.iter().map(|d| d.file.as_path()).collect();
    bad.sort();
    bad.dedup();
    let summary = expected_summary(err.diagnostics.len(), bad.len(), err.files);
    assert_eq!(lines.last().copied(), Some(summary.as_str()), "summary line:\n{text}");
    assert!(text.ends_with(&summary), "the summary is the last thing printed:\n{text}");
}

/// 1-based column of `token` on `line`.
pub(crate) fn column_of(line: &str, token: &str) -> Option<u64> {
    line.find(token).map(|i| i as u64 + 1)
}

// ---------------------------------------------------------------------------------------------
// One fixture per code

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

    let err = match load_one(path, &text) {
        Ok(_) => {
            problems.push(format!("{name}: loaded without error"));
            return problems;
        }
        Err(e) => e,
    };
    assert_rendered(&err);
    let Some(d) = err.diagnostics.iter().find(|d| d.code.as_str() == code_name) else {
        problems.push(format!("{name}: no [{code_name}] diagnostic in:\n{err}"));
        return problems;
    };
    let allowed: BTreeSet<&str> =
        std::iter::once(code_name).chain(consequences(code_name).iter().map(|c| c.as_str())).collect();
    let got: BTreeSet<&str> = err.diagnostics.iter().map(|d| d.code.as_str()).collect();
    if got != allowed {
        problems.push(format!("{name}: codes {got:?}, expected exactly {allowed:?} (one problem per fixture):\n{err}"));
    }
    if err.diagnostics.iter().filter(|d| d.code.as_str() == code_name).count() != 1 {
        problems.push(format!("{name}: [{code_name}] reported more than once:\n{err}"));
    }
    if d.file != path {
        problems.push(format!("{name}: file {} instead of {}", d.file.display(), path.display()));
    }
    if d.pos.line != marker {
        problems.push(format!("{name}: line {} but the marker is on line {marker}: {d}", d.pos.line));
    }
    if d.pos.col == 0 {
        problems.push(format!("{name}: no column: {d}"));
    }
    let marked = lines.get(marker as usize - 1).copied().unwrap_or_default();
    if column_of(marked, token) != Some(d.pos.col) {
        problems.push(format!("{name}: column {} does not point at `{token}` in `{marked}`", d.pos.col));
    }
    if d.path.is_empty() || d.path != want_path {
        problems.push(format!("{name}: YAML path `{}`, expected `{want_path}`", d.path));
    }
    if d.message.trim().is_empty() || d.message.contains('\n') {
        problems.push(format!("{name}: message must be one non-empty line: {:?}", d.message));
    }
    if err.files != 1 || !err.summary().ends_with("in 1 of 1 file") {
        problems.push(format!("{name}: summary `{}`", err.summary()));
    }
    problems
}

#[test]
fn every_invalid_fixture_reports_its_code_at_the_marked_line() {
    let fixtures = invalid_fixtures();
    assert!(fixtures.len() >= 27, "fixtures: {:?}", fixtures.keys());
    let problems: Vec<String> = fixtures.iter().flat_map(|(code, path)| check_fixture(code, path)).collect();
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn invalid_fixtures_are_rejected_by_load_dir_too() {
    // One file per temp dir: the directory walk gives the same diagnostic as load_texts.
    for (code, path) in invalid_fixtures() {
        let dir = TempDir::new(&code);
        let copy = dir.write(&format!("{code}.yaml"), &read(&path));
        let err = zone::load_dir(dir.path()).expect_err(&code);
        let d = err.diagnostics.iter().find(|d| d.code.as_str() == code).unwrap_or_else(|| panic!("{code}: {err}"));
        assert_eq!(d.file, copy, "{code}");
        assert_eq!(Some(d.pos.line), marker_lines(&read(&path)).first().copied(), "{code}");
        assert_eq!(err.files, 1, "{code}");
    }
}

#[test]
fn every_code_has_a_fixture_or_a_special_test() {
    let fixtures = invalid_fixtures();
    let names: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    for file in fixtures.keys() {
        assert!(names.contains(file.as_str()), "invalid/{file}.yaml is not named after a diag::Code");
    }
    for (code, _, _) in EXPECT {
        assert!(fixtures.contains_key(*code), "EXPECT lists `{code}` but invalid/{code}.yaml is missing");
    }
    for code in Code::ALL {
        if fixtures.contains_key(code.as_str()) {
            assert!(!SPECIAL.contains(&code), "{code} has a fixture and a special test");
            continue;
        }
        // Not from a single zone file: its scenario must really raise it.
        let err = match code {
            Code::Io => io_error(),
            Code::NoZones => no_zones_error().0,
            Code::DuplicateZone => duplicate_zone_error(),
            Code::InvalidSetting => invalid_setting_error().0,
            Code::InvalidEvent => event_error("end: 2026-12-01T18:00:00+09:00"),
            Code::UnknownName => event_error("names: [nope.example.com]"),
            // Scenario codes: one fixture each in tests/fixtures/scenarios/invalid/.
            code if crate::scenario_check::fixture(code).is_some() => crate::scenario_check::fixture_error(code),
            other => panic!(
                "code `{other}` has no fixture: add tests/fixtures/zones/invalid/{other}.yaml (and an EXPECT entry) \
                 or a special scenario here"
            ),
        };
        assert!(err.has(code), "the special scenario for {code} does not raise it:\n{err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Codes that do not come from a single zone file

/// An event file (checked against the bundled zones) with one line replaced.
fn event_error(replace: &str) -> LoadError {
    let zones = zone::load_dir(&repo().join("zones")).expect("bundled zones");
    let good = "version: 1\nevent: final\nstart: 2026-12-01T19:00:00+09:00\nend: 2026-12-01T22:00:00+09:00\nnames: [live.example.com]\n";
    cdnsteer::event::load_texts(&[(PathBuf::from("good.yaml"), good.to_string())], &zones, Diagnostics::new()).expect("the unchanged event loads");
    let key = replace.split(':').next().unwrap_or_default();
    let text: String = good.lines().map(|l| if l.starts_with(key) { format!("{replace}\n") } else { format!("{l}\n") }).collect();
    cdnsteer::event::load_texts(&[(PathBuf::from("final.yaml"), text)], &zones, Diagnostics::new()).expect_err("a broken event")
}

fn io_error() -> LoadError {
    let missing = std::env::temp_dir().join(format!("cdnsteer-zone-check-{}-does-not-exist", std::process::id()));
    zone::load_dir(&missing).expect_err("a missing directory cannot load")
}

#[test]
fn io_on_a_missing_directory() {
    let err = io_error();
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    let d = &err.diagnostics[0];
    assert_eq!(d.code, Code::Io);
    assert!(d.file.ends_with(format!("cdnsteer-zone-check-{}-does-not-exist", std::process::id())), "{d}");
    assert!(d.message.contains("cannot read zone directory"), "{d}");
    assert_eq!(err.files, 0);
    assert_rendered(&err);
}

fn no_zones_error() -> (LoadError, TempDir) {
    let dir = TempDir::new("no-zones");
    // Hidden files, editor backups and non-YAML files are not zone files.
    dir.write(".hidden.yaml", "version: 1\n");
    dir.write("example.com.yaml~", "version: 1\n");
    dir.write("README.md", "zones go here\n");
    std::fs::create_dir(dir.path().join("sub.yaml")).expect("mkdir");
    let err = zone::load_dir(dir.path()).expect_err("no zone files");
    (err, dir)
}

#[test]
fn no_zones_in_an_empty_directory() {
    let empty = TempDir::new("empty");
    let err = zone::load_dir(empty.path()).expect_err("an empty directory has no zones");
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    assert_eq!(err.diagnostics[0].code, Code::NoZones);
    assert_eq!(err.diagnostics[0].file, empty.path());
    assert_rendered(&err);

    let (err, dir) = no_zones_error();
    assert_eq!(err.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(), [Code::NoZones], "{err}");
    assert_eq!(err.diagnostics[0].file, dir.path());
}

fn duplicate_zone_error() -> LoadError {
    zone::load_dir(&fixtures().join("duplicate-zone")).expect_err("two files serve example.net")
}

#[test]
fn duplicate_zone_across_two_files() {
    let dir = fixtures().join("duplicate-zone");
    let files = yaml_files(&dir);
    assert_eq!(files.len(), 2, "{files:?}");
    // Each file alone is a valid zone.
    for f in &files {
        let set = load_one(f, &read(f)).unwrap_or_else(|e| panic!("{}:\n{e}", f.display()));
        assert_eq!(set.zones[0].origin.as_str(), "example.net.");
    }
    let err = duplicate_zone_error();
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    let d = &err.diagnostics[0];
    let second = &files[1];
    assert_eq!(d.code, Code::DuplicateZone);
    assert_eq!(&d.file, second, "the second file in name order is the duplicate");
    assert_eq!(vec![d.pos.line], marker_lines(&read(second)));
    let marked = read(second).lines().nth(d.pos.line as usize - 1).map(str::to_string).unwrap_or_default();
    assert_eq!(column_of(&marked, "Example.NET."), Some(d.pos.col));
    assert_eq!(d.path, "zone");
    assert!(d.message.contains("a-example.net.yaml"), "names the other file: {d}");
    assert_eq!(err.files, 2);
    assert_eq!(err.summary(), "1 error in 1 of 2 files");
    assert_rendered(&err);
}

// ---------------------------------------------------------------------------------------------
// All problems, not just the first

#[test]
fn all_problems_are_reported_in_line_order() {
    let path = fixtures().join("multi/three-problems.yaml");
    let text = read(&path);
    let err = load_one(&path, &text).expect_err("three problems");
    let codes: Vec<Code> = err.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::InvalidCidr, Code::InvalidRdata, Code::UnknownCountry], "{err}");
    let lines: Vec<u64> = err.diagnostics.iter().map(|d| d.pos.line).collect();
    assert_eq!(lines, marker_lines(&text), "{err}");
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "line order: {lines:?}");
    assert!(err.diagnostics.iter().all(|d| d.pos.col > 0 && !d.path.is_empty() && d.file == path));
    assert_eq!(err.summary(), "3 errors in 1 of 1 file");
    assert_rendered(&err);
}

#[test]
fn a_directory_reports_every_bad_file_and_refuses_the_whole_set() {
    let dir = TempDir::new("mixed");
    for code in ["unknown-cdn", "invalid-weight", "missing-soa"] {
        dir.write(&format!("{code}.yaml"), &read(&fixtures().join(format!("invalid/{code}.yaml"))));
    }
    dir.write("good.yaml", &read(&repo().join("zones/example.com.yaml")));
    let err = zone::load_dir(dir.path()).expect_err("one bad file refuses all");
    let codes: Vec<&str> = err.diagnostics.iter().map(|d| d.code.as_str()).collect();
    // Files are read in name order.
    assert_eq!(codes, ["invalid-weight", "missing-soa", "unknown-cdn"], "{err}");
    assert_eq!(err.summary(), "3 errors in 3 of 4 files");
    assert_rendered(&err);
}

// ---------------------------------------------------------------------------------------------
// Valid zones, and an unknown key injected into each of their mappings

/// The valid example zones: the repository's zones/ and tests/fixtures/zones/valid/.
fn valid_zones() -> Vec<PathBuf> {
    let mut files = yaml_files(&repo().join("zones"));
    files.extend(yaml_files(&fixtures().join("valid")));
    assert!(files.len() >= 2, "{files:?}");
    files
}

#[test]
fn valid_zones_load() {
    for f in valid_zones() {
        let set = load_one(&f, &read(&f)).unwrap_or_else(|e| panic!("{}:\n{e}", f.display()));
        assert_eq!(set.zones.len(), 1);
    }
    zone::load_dir(&repo().join("zones")).expect("zones/ loads");
    zone::load_dir(&fixtures().join("valid")).expect("valid fixtures load together");
}

#[test]
fn the_every_feature_fixture_uses_every_feature() {
    let set = zone::load_dir(&fixtures().join("valid")).expect("loads");
    let z = set.zones.iter().find(|z| z.origin.as_str() == "example.org.").expect("example.org");
    let kinds: BTreeSet<RecordKind> = z.rrsets.iter().map(|r| r.kind).collect();
    let all = [RecordKind::A, RecordKind::Aaaa, RecordKind::Cname, RecordKind::Ns, RecordKind::Mx, RecordKind::Txt, RecordKind::Caa];
    assert_eq!(kinds, all.into_iter().collect(), "every record type");
    let live = z.steered.iter().find(|s| s.name.as_str() == "live.example.org.").expect("live");
    let has = |f: fn(&RegionKey) -> bool| live.regions.iter().any(|r| f(&r.key));
    assert!(has(|k| matches!(k, RegionKey::Network(_))));
    assert!(has(|k| matches!(k, RegionKey::Country(_))));
    assert!(has(|k| matches!(k, RegionKey::Continent(_))));
    assert!(has(|k| matches!(k, RegionKey::Default)));
    let nets: Vec<_> = live.regions.iter().flat_map(|r| r.nets.iter()).collect();
    assert!(nets.iter().any(|n| matches!(n, ipnet::IpNet::V4(_))), "an IPv4 network");
    assert!(nets.iter().any(|n| matches!(n, ipnet::IpNet::V6(_))), "an IPv6 network");
    assert!(z.steered.iter().any(|s| s.name.as_str() == "vod.eu.example.org."), "a multi-label steered name");
    assert_eq!((z.soa.refresh, z.soa.retry, z.soa.expire, z.soa.negative_ttl, z.soa.ttl), (3600, 600, 604_800, 30, 3600));
}

/// One copy of a zone with `bogus_key: 1` added to one mapping.
#[derive(Debug)]
struct Injected {
    text: String,
    /// 1-based line of the injected key.
    line: u64,
    /// Path of the mapping it was injected into.
    mapping: Vec<String>,
}

/// Path segments as the diagnostics print them: `records[3].name`, `steered.live.ttl`.
pub(crate) fn yaml_path(segments: &[String]) -> String {
    let mut out = String::new();
    for s in segments {
        if !out.is_empty() && !s.starts_with('[') {
            out.push('.');
        }
        out.push_str(s);
    }
    out
}

/// The text of a line before its comment (a `#` outside quotes, at the start or after a space).
pub(crate) fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return line[..i].trim_end(),
            _ => {}
        }
        prev = c;
    }
    line.trim_end()
}

pub(crate) fn unquote(key: &str) -> String {
    let k = key.trim();
    k.strip_prefix('"').and_then(|k| k.strip_suffix('"')).unwrap_or(k).to_string()
}

/// Every variant of `text` with `bogus_key: 1` injected into one mapping: the top level, each
/// block mapping (a `key:` line followed by deeper keys), each `- key: ...` list item, and each
/// single-line flow mapping (`key: {...}`).
fn inject_everywhere(text: &str) -> Vec<Injected> {
    let lines: Vec<&str> = text.lines().collect();
    // (line index, indent, text without comment) of every line with content.
    let content: Vec<(usize, usize, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i, l.len() - l.trim_start().len(), strip_comment(l)))
        .filter(|(_, _, body)| !body.trim().is_empty())
        .collect();
    let build = |at_line: usize, new_line: Option<String>, replace: Option<String>| -> String {
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        if let Some(r) = replace {
            out[at_line] = r;
        }
        if let Some(n) = new_line {
            out.insert(at_line, n);
        }
        out.join("\n") + "\n"
    };

    let mut variants = vec![Injected { text: build(0, Some("bogus_key: 1".to_string()), None), line: 1, mapping: Vec::new() }];
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
            if strip_comment(item).contains(": ") || item.trim_end().ends_with(':') {
                // A mapping as a list item: its keys sit two columns right of the dash.
                stack.push((indent, index.clone()));
                let mut mapping = parent;
                mapping.push(index);
                let line = format!("{}bogus_key: 1", " ".repeat(indent + 2));
                variants.push(Injected { text: build(li + 1, Some(line), None), line: li as u64 + 2, mapping });
            }
            continue;
        }
        let (key, value) = match body.split_once(": ") {
            Some((k, v)) => (unquote(k), v.trim()),
            None => match body.strip_suffix(':') {
                Some(k) => (unquote(k), ""),
                None => panic!("line {}: not a key: {body}", li + 1),
            },
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
            assert!(value.ends_with('}'), "line {}: flow mappings must close on their line", li + 1);
            let original = lines[li];
            let brace = original.find(": {").expect("flow mapping") + 2;
            let insert = if value.starts_with("{}") { "bogus_key: 1" } else { "bogus_key: 1, " };
            let replaced = format!("{}{insert}{}", &original[..=brace], &original[brace + 1..]);
            variants.push(Injected { text: build(li, None, Some(replaced)), line: li as u64 + 1, mapping });
        }
    }
    variants
}

/// What an extra `bogus_key: 1` means in the mapping at `path`: a key the schema does not know
/// (a fixed-key block), a value of the wrong type (a block keyed by names, where `1` is not the
/// block the name needs), or an unknown CDN (a candidates map is CDN -> weight, and weight 1
/// is valid).
fn expected_code(path: &[String]) -> Code {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        [] | ["soa"] | ["steered", _] | ["steered", _, "cdns", _] | ["steered", _, "regions"] => Code::UnknownKey,
        ["records", i] if i.starts_with('[') => Code::UnknownKey,
        ["networks"] | ["steered"] | ["steered", _, "cdns"] => Code::WrongType,
        ["steered", _, "regions", "networks" | "countries" | "continents"] => Code::WrongType,
        ["steered", _, "regions", "networks" | "countries" | "continents", _] | ["steered", _, "regions", "default"] => {
            Code::UnknownCdn
        }
        ["health"] | ["health", "sla" | "weights" | "thresholds" | "shares"] | ["health", "sla", _] | ["health", "capacity", _] => {
            Code::UnknownKey
        }
        ["health", "capacity"] => Code::WrongType,
        // A region-keyed map: `bogus_key` is not a region.
        ["health", "capacity", _, "regions"] | ["health", "demand_gbps"] => Code::UnknownRegion,
        other => panic!("no expectation for an unknown key in the mapping at {other:?}"),
    }
}

#[test]
fn an_unknown_key_in_any_mapping_is_rejected_where_it_is() {
    for file in valid_zones() {
        let original = read(&file);
        let variants = inject_everywhere(&original);
        let texts: HashSet<&str> = variants.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts.len(), variants.len(), "{}: every variant is different", file.display());
        assert!(!texts.contains(original.as_str()));
        assert!(variants.len() > 10, "{}: only {} variants", file.display(), variants.len());
        let mut codes_seen = BTreeSet::new();
        for v in &variants {
            let expected = expected_code(&v.mapping);
            codes_seen.insert(expected);
            let mut want_path = v.mapping.clone();
            want_path.push("bogus_key".to_string());
            let want_path = yaml_path(&want_path);
            let err = match load_one(&file, &v.text) {
                Ok(_) => panic!("{}: accepted with bogus_key at line {}:\n{}", file.display(), v.line, v.text),
                Err(e) => e,
            };
            let where_ = format!("{} with bogus_key at line {} in `{}`:\n{err}", file.display(), v.line, yaml_path(&v.mapping));
            assert_eq!(err.diagnostics.len(), 1, "{where_}");
            let d: &Diagnostic = &err.diagnostics[0];
            assert_eq!(d.code, expected, "{where_}");
            assert_eq!(d.pos.line, v.line, "{where_}");
            let injected_line = v.text.lines().nth(v.line as usize - 1).unwrap_or_default();
            let at_key = column_of(injected_line, "bogus_key");
            let at_value = at_key.map(|c| c + "bogus_key: ".len() as u64);
            assert!(d.pos.col > 0 && (Some(d.pos.col) == at_key || Some(d.pos.col) == at_value), "column: {where_}");
            assert_eq!(d.path, want_path, "{where_}");
            assert_eq!(d.file, file);
            assert_rendered(&err);
        }
        assert_eq!(
            codes_seen,
            [Code::UnknownKey, Code::WrongType, Code::UnknownCdn].into_iter().collect(),
            "{}: every kind of mapping was injected into",
            file.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// `cdnsteer check`

fn cdnsteer_check(dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cdnsteer")).arg("check").arg(dir).output().expect("run cdnsteer check")
}

#[test]
fn check_cli_accepts_the_bundled_zones() {
    let out = cdnsteer_check(&repo().join("zones"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.trim_end().ends_with("OK"), "{stdout}");
    assert!(stdout.contains("1 zone, 1 steered name"), "{stdout}");
}

#[test]
fn check_cli_rejects_an_invalid_zone_with_its_location() {
    let dir = TempDir::new("cli");
    let fixture = fixtures().join("invalid/unknown-cdn.yaml");
    let text = read(&fixture);
    let file = dir.write("unknown-cdn.yaml", &text);
    let line = marker_lines(&text)[0];
    let col = column_of(text.lines().nth(line as usize - 1).unwrap_or_default(), "edgio").expect("edgio");

    let out = cdnsteer_check(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(!stdout.contains("OK"), "{stdout}");
    let located = format!(
        "{}:{line}:{col}: error[unknown-cdn] at steered.live.regions.countries.KR.edgio: ",
        file.display()
    );
    assert!(stderr.contains(&located), "expected `{located}` in:\n{stderr}");
    assert_eq!(stderr.trim_end().lines().last(), Some("1 error in 1 of 1 file"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Daemon config

fn load_config(text: &str) -> (Result<Config, LoadError>, PathBuf, TempDir) {
    let dir = TempDir::new("config");
    let path = dir.write("cdnsteer.yaml", text);
    (Config::load(Some(&path), &Flags::default()), path, dir)
}

#[test]
fn config_with_every_key_loads() {
    let text = "\
version: 1
zones: /srv/cdnsteer/zones
geoip: /srv/cdnsteer/geoip/country.mmdb
listen: [\"127.0.0.1:5300\", \"[::1]:5300\"]
cell_prefix:
  ipv4: 22
  ipv6: 48
tcp:
  idle_timeout_secs: 30
  max_connections: 64
udp:
  workers: 4
  batch: 64
  receive_buffer_bytes: 1048576
  send_buffer_bytes: 65536
log_format: json
watch: false
history:
  enabled: true
  retention: 7d
  full_resolution: 12h
  keyframe_interval: 30s
  answers_interval: 5s
  checkpoint_interval: 20s
";
    let (config, path, _dir) = load_config(text);
    let c = config.unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.watch);
    let h = &c.history;
    assert_eq!((h.retention_ms, h.full_resolution_ms, h.keyframe_ms, h.answers_interval_ms, h.checkpoint_ms), (7 * 86_400_000, 12 * 3_600_000, 30_000, 5_000, 20_000));
    assert_eq!(c.zones, PathBuf::from("/srv/cdnsteer/zones"));
    assert_eq!(c.geoip, PathBuf::from("/srv/cdnsteer/geoip/country.mmdb"));
    let addrs: Vec<String> = c.listen.addrs.iter().map(|a| a.to_string()).collect();
    assert_eq!(addrs, ["127.0.0.1:5300", "[::1]:5300"]);
    assert_eq!((c.cells.v4, c.cells.v6), (22, 48));
    assert_eq!(c.listen.tcp.idle, Duration::from_secs(30));
    assert_eq!(c.listen.tcp.max_connections, 64);
    assert_eq!((c.listen.udp.workers, c.listen.udp.batch, c.listen.udp.receive_buffer, c.listen.udp.send_buffer), (4, 64, 1 << 20, 65_536));
    assert_eq!(c.log_format, LogFormat::Json);

    // The command line wins over the file.
    let overrides = Flags {
        zones: Some(PathBuf::from("other-zones")),
        listen: vec!["127.0.0.1:53".parse().expect("addr")],
        log_format: Some(LogFormat::Text),
        ..Flags::default()
    };
    let c = Config::load(Some(&path), &overrides).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.zones, PathBuf::from("other-zones"));
    assert_eq!(c.geoip, PathBuf::from("/srv/cdnsteer/geoip/country.mmdb"));
    assert_eq!(c.listen.addrs, overrides.listen);
    assert_eq!(c.log_format, LogFormat::Text);
}

#[test]
fn config_watch_defaults_on_and_takes_only_a_boolean() {
    let (config, _, _dir) = load_config("version: 1\n");
    assert!(config.unwrap_or_else(|e| panic!("{e}")).watch, "watch defaults to true");
    let (config, _, _dir) = load_config("version: 1\nwatch: sometimes\n");
    let err = config.expect_err("watch is a boolean");
    let d = &err.diagnostics[0];
    assert_eq!((d.pos.line, d.path.as_str()), (2, "watch"), "{err}");
}

#[test]
fn config_unknown_key_is_located() {
    let (config, path, _dir) = load_config("version: 1\nzones: zones\nlisten_addr: 0.0.0.0:53\n");
    let err = config.expect_err("unknown key");
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    let d = &err.diagnostics[0];
    assert_eq!((d.code, d.pos.line, d.pos.col, d.path.as_str()), (Code::UnknownKey, 3, 1, "listen_addr"), "{err}");
    assert_eq!(d.file, path);
    assert_rendered(&err);

    let (config, _, _dir) = load_config("version: 1\ntcp:\n  max_connections: 10\n  idle_timeout: 5\n");
    let err = config.expect_err("nested unknown key");
    let d = &err.diagnostics[0];
    assert_eq!((d.code, d.pos.line, d.pos.col, d.path.as_str()), (Code::UnknownKey, 4, 3, "tcp.idle_timeout"), "{err}");
}

fn invalid_setting_error() -> (LoadError, TempDir) {
    let (config, _, dir) = load_config("version: 1\ncell_prefix: {ipv4: 40}\n");
    (config.expect_err("ipv4 cell of 40 bits"), dir)
}

#[test]
fn config_invalid_setting_is_located() {
    let (err, dir) = invalid_setting_error();
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    let d = &err.diagnostics[0];
    assert_eq!((d.code, d.pos.line, d.pos.col, d.path.as_str()), (Code::InvalidSetting, 2, 21, "cell_prefix.ipv4"), "{err}");
    assert_eq!(d.file, dir.path().join("cdnsteer.yaml"));
    assert!(d.message.contains("8 to 32"), "{d}");
    assert_rendered(&err);

    // Every bad setting is reported, in line order.
    let (config, _, _dir) =
        load_config("version: 1\nlisten: [\"nowhere\"]\ncell_prefix: {ipv6: 8}\ntcp: {idle_timeout_secs: 0}\nudp: {workers: 0, batch: 2000, receive_buffer_bytes: 1000}\n");
    let err = config.expect_err("six bad settings");
    let got: Vec<(Code, u64, &str)> = err.diagnostics.iter().map(|d| (d.code, d.pos.line, d.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (Code::InvalidSetting, 2, "listen[0]"),
            (Code::InvalidSetting, 3, "cell_prefix.ipv6"),
            (Code::InvalidSetting, 4, "tcp.idle_timeout_secs"),
            (Code::InvalidSetting, 5, "udp.workers"),
            (Code::InvalidSetting, 5, "udp.batch"),
            (Code::InvalidSetting, 5, "udp.receive_buffer_bytes"),
        ],
        "{err}"
    );
    assert_eq!(err.summary(), "6 errors in 1 of 1 file");

    // `udp_workers`, the older spelling of `udp.workers`, is still read, but not beside it.
    let (config, _, _dir) = load_config("version: 1\nudp_workers: 3\n");
    assert_eq!(config.expect("udp_workers alone loads").listen.udp.workers, 3);
    let (config, _, _dir) = load_config("version: 1\nudp_workers: 3\nudp: {workers: 2}\n");
    let err = config.expect_err("both spellings");
    let got: Vec<(u64, &str)> = err.diagnostics.iter().map(|d| (d.pos.line, d.path.as_str())).collect();
    assert_eq!(got, [(2, "udp_workers")], "{err}");
    assert!(err.to_string().contains("older spelling"), "{err}");

    // The history block: ranges, units, and a resolution longer than the retention.
    let (config, _, _dir) = load_config("version: 1\nhistory:\n  retention: 2h\n  full_resolution: 3h\n  keyframe_interval: 10m\n  answers_interval: 10\n  colour: red\n");
    let err = config.expect_err("unknown key in history");
    assert!(err.to_string().contains("colour"), "{err}");
    let (config, _, _dir) = load_config("version: 1\nhistory:\n  retention: 2h\n  full_resolution: 3h\n  keyframe_interval: 10m\n  answers_interval: 10\n");
    let err = config.expect_err("three bad history settings");
    let got: Vec<(u64, &str)> = err.diagnostics.iter().map(|d| (d.pos.line, d.path.as_str())).collect();
    assert_eq!(got, [(4, "history.full_resolution"), (5, "history.keyframe_interval"), (6, "history.answers_interval")], "{err}");
    assert!(err.diagnostics[1].message.contains("1s to 5m"), "{err}");
}

/// Settings that parse but cannot work are refused where they are written.
#[test]
fn unworkable_share_settings_are_refused_with_their_location() {
    let zone = |shares: &str| {
        format!(
            "version: 1\nzone: s.test\nsoa: {{primary: ns1.s.test., contact: h.s.test., serial: 1}}\nrecords:\n  - {{name: \"@\", type: NS, value: ns1.s.test.}}\nsteered:\n  live:\n    last_resort: a\n    cdns: {{a: {{target: a.cdn.test}}, b: {{target: b.cdn.test}}, c: {{target: c.cdn.test}}}}\n    regions:\n      countries:\n        KR: {{a: 40, b: 35, c: 25}}\n      default: {{a: 1}}\nhealth:\n  shares:\n{shares}"
        )
    };
    // 40/35/25 with max_share 0.1: three candidates can carry at most 30% of KR.
    let err = load_one(Path::new("s.yaml"), &zone("    max_share: 0.1\n")).expect_err("max_share too low");
    let d = &err.diagnostics[0];
    assert_eq!((d.code, d.pos.line, d.path.as_str()), (Code::InvalidHealth, 16, "health.shares.max_share"), "{err}");
    assert!(d.message.contains("steered.live.regions.countries.KR") && d.message.contains("0.333"), "{}", d.message);
    assert_eq!(err.diagnostics.len(), 1, "the single-candidate default region is exempt: {err}");
    load_one(Path::new("s.yaml"), &zone("    max_share: 0.34\n")).expect("3 x 0.34 >= 1");
    // A slew limit below the deadband would never move a share.
    let err = load_one(Path::new("s.yaml"), &zone("    max_change_per_tick: 0.001\n")).expect_err("slew below deadband");
    let d = &err.diagnostics[0];
    assert_eq!((d.code, d.pos.line, d.path.as_str()), (Code::InvalidHealth, 16, "health.shares.max_change_per_tick"), "{err}");
    assert!(d.message.contains("deadband"), "{}", d.message);
}
