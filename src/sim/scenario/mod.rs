//! Scenarios: a rehearsal of a match night written as a file (`scenarios/*.yaml`), from text
//! to a validated `model::Scenario`.
//!
//! `spec` is the on-disk schema (strict, versioned), `check` turns it into the `model` with
//! every problem located and named (a match `shape` becoming curve points in `shape`), and `cross_check` holds the scenario against the zones
//! and events it names (CDNs, regions, the event, probe vantages, the night's length when the
//! event gives it). `load_checked` does all of it, as `cdnsteer check` and the simulator need.
//! Pure apart from reading the file and the directories it names.

mod check;
pub mod model;
pub mod shape;
pub mod spec;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use check::{PART_TOLERANCE, defaults, label_of, parse_offset};
pub use shape::Shape;
use check::{Ref, Sources};
pub use model::Scenario;

use crate::diag::{Code, Diagnostic, Diagnostics, LoadError, Pos};
use crate::event::EventSet;
use crate::region::RegionKey;
use crate::timestamp::rfc3339;
use crate::zone::ZoneSet;
use model::IncidentKind;

/// Largest scenario file accepted (like a zone file).
pub const MAX_FILE_BYTES: u64 = crate::zone::MAX_FILE_BYTES;

/// Load and check one scenario file: the scenario, or every problem in it. `zones` and
/// `events` are resolved against the file's directory; they are not loaded (see
/// `load_checked`).
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    load_with_sources(path).map(|(s, _)| s)
}

/// Check a scenario's text as if read from `file` (the pure core of `load`, apart from the
/// directories it names, which must exist).
pub fn load_text(file: &Path, text: &str) -> Result<Scenario, LoadError> {
    load_text_with_sources(file, text).map(|(s, _)| s)
}

fn load_with_sources(path: &Path) -> Result<(Scenario, Sources), LoadError> {
    let io = |message: String| {
        let mut diags = Diagnostics::new();
        diags.saw_file();
        diags.push(path, Pos::default(), "", Code::Io, message);
        LoadError { diagnostics: diags.into_items(), files: 1 }
    };
    if let Ok(m) = std::fs::metadata(path)
        && m.len() > MAX_FILE_BYTES
    {
        return Err(io(format!("file is {} bytes; at most {MAX_FILE_BYTES} are read", m.len())));
    }
    let text = std::fs::read_to_string(path).map_err(|e| io(format!("cannot read: {e}")))?;
    load_text_with_sources(path, &text)
}

fn load_text_with_sources(file: &Path, text: &str) -> Result<(Scenario, Sources), LoadError> {
    let mut diags = Diagnostics::new();
    diags.saw_file();
    let checked = crate::zone::spec::parse_yaml::<spec::ScenarioFile>(file, text, &mut diags)
        .and_then(|parsed| check::check_scenario(file, parsed, &mut diags));
    match checked {
        Some(ok) if diags.is_empty() => Ok(ok),
        _ => {
            let files = diags.files_seen();
            Err(LoadError { diagnostics: diags.into_items(), files })
        }
    }
}

/// A scenario with the zones and events it names, all checked together: what the simulator
/// runs. The zones carry the events' policy windows (attached as `serve` attaches them).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The scenario.
    pub scenario: Scenario,
    /// Its zones.
    pub zones: ZoneSet,
    /// Its events (none without an events directory).
    pub events: EventSet,
}

/// Load a scenario, the zones and events it names, and cross-check them: every problem of the
/// first of the three that fails, or of the cross-check.
pub fn load_checked(path: &Path) -> Result<Checked, LoadError> {
    let (scenario, sources) = load_with_sources(path)?;
    let mut zones = crate::zone::load_dir(&scenario.zones)?;
    let events = match &scenario.events {
        Some(dir) => crate::event::load_dir(dir, &zones)?,
        None => EventSet::default(),
    };
    events.attach(&mut zones);
    let diagnostics = cross_check_with(&scenario, &sources, &zones, &events);
    if !diagnostics.is_empty() {
        return Err(LoadError { diagnostics, files: 1 + zones.zones.len() + events.events.len() });
    }
    Ok(Checked { scenario, zones, events })
}

/// Hold a scenario against the zones and events it will run with: the event it names exists;
/// its CDNs are CDNs, and its regions (audience, CDN truths, probes, incidents) regions, of the
/// steered names it simulates (the event's names, or every steered name without an event); a
/// blinded vantage is probed from; its incidents lie inside the night when the event gives its
/// length. Every finding is located in the scenario file (re-read for the positions; a file
/// changed since it was loaded gives findings at line 0).
pub fn cross_check(scenario: &Scenario, zones: &ZoneSet, events: &EventSet) -> Vec<Diagnostic> {
    let sources = std::fs::read_to_string(&scenario.file)
        .ok()
        .and_then(|text| load_text_with_sources(&scenario.file, &text).ok())
        .filter(|(again, _)| again == scenario)
        .map(|(_, s)| s)
        .unwrap_or_default();
    cross_check_with(scenario, &sources, zones, events)
}

/// The steered names a scenario simulates, and what they are made of.
struct Scope<'a> {
    names: Vec<String>,
    cdns: BTreeSet<&'a str>,
    regions: BTreeSet<&'a RegionKey>,
    vantages: BTreeSet<&'a str>,
}

impl Scope<'_> {
    /// Why `name` is not a CDN of the scope, if it is not.
    fn cdn(&self, name: &str) -> Option<String> {
        let known: Vec<&str> = self.cdns.iter().copied().collect();
        (!self.cdns.contains(name)).then(|| format!("CDN `{name}` is not a CDN of {}; expected one of: {}", self.names.join(", "), list(&known)))
    }

    /// Why `key` is not a region of the scope, if it is not.
    fn region(&self, key: &RegionKey) -> Option<String> {
        let known: Vec<String> = self.regions.iter().map(|r| r.to_string()).collect();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        (!self.regions.contains(key)).then(|| format!("{key} is not a region of {}; expected one of: {}", self.names.join(", "), list(&known)))
    }
}

/// `cross_check` with the positions at hand.
fn cross_check_with(scenario: &Scenario, sources: &Sources, zones: &ZoneSet, events: &EventSet) -> Vec<Diagnostic> {
    let mut found: Vec<(Ref, String, Code, String)> = Vec::new();
    let event = scenario.event.as_ref().and_then(|name| {
        let event = events.get(name);
        if event.is_none() {
            let dir = scenario.events.as_deref().map_or_else(|| "(no events directory)".to_string(), |d| d.display().to_string());
            let known: Vec<&str> = events.events.iter().map(|e| e.name.as_str()).collect();
            found.push((Ref::Event, "event".into(), Code::UnknownEvent, format!("event `{name}` is not an event of {dir}; expected one of: {}", list(&known))));
        }
        event
    });
    let steered: Vec<_> = zones.steered().filter(|s| event.is_none_or(|e| e.names.iter().any(|n| n == s.name.as_str()))).collect();
    let scope = Scope {
        names: steered.iter().map(|s| s.name.to_string()).collect(),
        cdns: steered.iter().flat_map(|s| s.cdns.iter().map(|c| c.name.as_str())).collect(),
        regions: steered.iter().flat_map(|s| s.regions.iter().map(|r| &r.key)).collect(),
        vantages: zones
            .zones
            .iter()
            .filter(|z| z.steered.iter().any(|s| steered.iter().any(|t| t.name == s.name)))
            .flat_map(|z| z.health.probes.iter().map(|p| p.vantage.as_str()))
            .chain(scenario.probes.iter().map(|p| p.vantage.as_str()))
            .collect(),
    };

    let cdn = |found: &mut Vec<_>, r: Ref, fallback: String, name: &str| {
        if let Some(msg) = scope.cdn(name) {
            found.push((r, fallback, Code::UnknownCdn, msg));
        }
    };
    let region = |found: &mut Vec<_>, r: Ref, fallback: String, key: &RegionKey| {
        if let Some(msg) = scope.region(key) {
            found.push((r, fallback, Code::RegionNotSteered, msg));
        }
    };
    for (i, c) in scenario.cdns.iter().enumerate() {
        cdn(&mut found, Ref::Cdn(i), format!("cdns.{}", c.cdn), &c.cdn);
        for (j, (key, _)) in c.regions.iter().enumerate() {
            region(&mut found, Ref::CdnRegion(i, j), format!("cdns.{}.regions.{key}", c.cdn), key);
        }
    }
    for (i, r) in scenario.audience.regions.iter().enumerate() {
        region(&mut found, Ref::AudienceRegion(i), format!("audience.regions.{}", r.region), &r.region);
    }
    for (i, p) in scenario.probes.iter().enumerate() {
        region(&mut found, Ref::ProbeRegion(i), format!("probes[{i}].region"), &p.region);
    }
    for (i, incident) in scenario.incidents.iter().enumerate() {
        let at = |key: &str| format!("incidents[{i}].{key}");
        match &incident.kind {
            IncidentKind::Degrade { cdn: name, region: key, .. } | IncidentKind::Dark { cdn: name, region: key } => {
                cdn(&mut found, Ref::IncidentCdn(i), at("cdn"), name);
                if let Some(key) = key {
                    region(&mut found, Ref::IncidentRegion(i), at("region"), key);
                }
            }
            IncidentKind::TelemetryStops { region: Some(key) } => region(&mut found, Ref::IncidentRegion(i), at("region"), key),
            IncidentKind::TelemetryStops { region: None } => {}
            IncidentKind::ProbeBlind { vantage } if !scope.vantages.contains(vantage.as_str()) => {
                let known: Vec<&str> = scope.vantages.iter().copied().collect();
                let msg = format!("vantage `{vantage}` is neither a probe site of this scenario nor a probe vantage of the zones; expected one of: {}", list(&known));
                found.push((Ref::IncidentVantage(i), at("vantage"), Code::UnknownVantage, msg));
            }
            IncidentKind::ProbeBlind { .. } => {}
        }
    }
    if let Some(e) = event.filter(|_| scenario.duration_ms.is_none()) {
        night_of_event(scenario, e, &mut found);
    }

    let mut diags = Diagnostics::new();
    for (r, fallback, code, message) in found {
        let (path, at) = sources.locate(r, || fallback);
        diags.push(&scenario.file, at, path, code, message);
    }
    let mut items = diags.into_items();
    // File order, as the loader reports.
    items.sort_by_key(|d| d.pos);
    items
}

/// Without a `duration` the event's end ends the night: the start must be before it, and every
/// incident inside it.
fn night_of_event(scenario: &Scenario, e: &crate::event::Event, found: &mut Vec<(Ref, String, Code, String)>) {
    let start = scenario.start.unwrap_or(e.start);
    if start >= e.end {
        let msg = format!("starts at {}, at or after the end of event `{}` ({}), which gives the night its length; expected an earlier start or a `duration`", rfc3339(start), e.name, rfc3339(e.end));
        found.push((Ref::Start, "start".into(), Code::OutsideNight, msg));
        return;
    }
    let from = format!("the start to the end of event `{}`", e.name);
    for (i, incident) in scenario.incidents.iter().enumerate() {
        if let Some((at_start, msg)) = check::outside_night(incident.at, incident.for_ms, e.end - start, &from) {
            let (r, key) = if at_start { (Ref::IncidentAt(i), "at") } else { (Ref::IncidentFor(i), "for") };
            found.push((r, format!("incidents[{i}].{key}"), Code::OutsideNight, msg));
        }
    }
}

/// `a, b, c`, or `(none)`.
fn list(items: &[&str]) -> String {
    if items.is_empty() { "(none)".to_string() } else { items.join(", ") }
}

/// The scenario files of a directory (`*.yaml`, `*.yml`; hidden and backup files skipped),
/// sorted; a file is its own list.
pub fn scenario_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_dir() { crate::zone::zone_files(path) } else { Ok(vec![path.to_path_buf()]) }
}

#[cfg(test)]
mod tests;
