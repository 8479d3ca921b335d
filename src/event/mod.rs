//! Events: named windows of a match night (`events/*.yaml`). An event names the steered names
//! involved, optionally changes share and TTL settings per zone while it lasts (slew, dwell,
//! warm share, max share, fast TTL; scores stay as configured), and may freeze changes: inside
//! the window a reload that would change an answer for one of its names, or the freezing event
//! itself, waits (the old generation keeps serving) until it is forced or the window ends.
//!
//! Loaded with the zones as one transaction (`load_dir` checks every file against the zones it
//! will serve with, every problem located); the windows are attached to the zones' health
//! policies (`zone::health::PolicyWindow`), so the engine and the planner apply them with the
//! time they are given. Pure apart from reading the directory.

mod check;
pub mod spec;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostics, LoadError, Pos};
use crate::timestamp::Millis;
use crate::zone::ZoneSet;
use crate::zone::health::{PolicyWindow, SharePatch};

/// One validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its name.
    pub name: String,
    /// Who it is for.
    pub customer: Option<String>,
    /// Start, Unix ms (inclusive).
    pub start: Millis,
    /// End, Unix ms (exclusive).
    pub end: Millis,
    /// The UTC offset the start was written in, minutes east (the event's local time, which
    /// the report shows).
    pub utc_offset_minutes: i32,
    /// Steered names involved (absolute, lower case).
    pub names: Vec<String>,
    /// Settings per zone apex while the window lasts.
    pub policies: Vec<(String, SharePatch)>,
    /// Changes to the names wait for the end of the window.
    pub freeze: bool,
    /// The file it came from.
    pub file: PathBuf,
}

impl Event {
    /// The window covers `now`.
    pub fn active(&self, now: Millis) -> bool {
        self.start <= now && now < self.end
    }

    /// `other` freezes the same names over the same window with the same policies (the
    /// customer, the written UTC offset and the file may differ: they change no answer).
    fn same_freeze(&self, other: &Event) -> bool {
        (self.start, self.end, self.freeze, &self.names, &self.policies) == (other.start, other.end, other.freeze, &other.names, &other.policies)
    }
}

/// Every event of the events directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSet {
    /// Events, by start time.
    pub events: Vec<Event>,
}

/// Why a reload must wait: a freeze covers a name it would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frozen {
    /// The event whose freeze holds.
    pub event: String,
    /// When the freeze ends (Unix ms).
    pub until: Millis,
    /// The frozen names whose answers would change.
    pub names: Vec<String>,
}

impl EventSet {
    /// The event called `name`.
    pub fn get(&self, name: &str) -> Option<&Event> {
        self.events.iter().find(|e| e.name == name)
    }

    /// Events whose window covers `now`.
    pub fn active(&self, now: Millis) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(move |e| e.active(now))
    }

    /// The earliest start or end still ahead of `now` (to wake up for: a freeze ending).
    pub fn next_boundary(&self, now: Millis) -> Option<Millis> {
        self.events.iter().flat_map(|e| [e.start, e.end]).filter(|t| *t > now).min()
    }

    /// Would replacing `old` by `new` (zones with their events attached), `self` by
    /// `new_events` and the GeoIP database (when `geo_changed`) change an answer for a name
    /// frozen at `now`, or the freeze itself? A steered name's answers depend on its own
    /// definition (TTL, CDNs, regions and their networks), its zone's health policy as patched
    /// by the event windows in force until the freeze ends, and the GeoIP database; static
    /// records are not steered and never frozen. A live freezing event may not be changed
    /// (freeze flag, window, names, policies) or deleted either: that would lift or move the
    /// freeze without the force and the audit line a frozen change needs.
    pub fn blocks(&self, new_events: &EventSet, old: &ZoneSet, new: &ZoneSet, geo_changed: bool, now: Millis) -> Option<Frozen> {
        for event in self.active(now).filter(|e| e.freeze) {
            let event_changed = new_events.get(&event.name).is_none_or(|n| !event.same_freeze(n));
            let mut changed = Vec::new();
            for name in &event.names {
                if event_changed || geo_changed || answers_differ(old, new, name, now, event.end) {
                    changed.push(name.clone());
                }
            }
            if !changed.is_empty() {
                return Some(Frozen { event: event.name.clone(), until: event.end, names: changed });
            }
        }
        None
    }

    /// Attach each event's policies to the zones they name (as windows on their health
    /// policies).
    pub fn attach(&self, zones: &mut ZoneSet) {
        for zone in &mut zones.zones {
            zone.health.windows.clear();
            for event in &self.events {
                for (apex, patch) in &event.policies {
                    if *apex == zone.origin.as_str() {
                        zone.health.windows.push(PolicyWindow { event: event.name.clone(), start: event.start, end: event.end, patch: patch.clone() });
                    }
                }
            }
        }
    }
}

/// Would `name` be answered differently under `new` than under `old` at any time from `now`
/// to `until`: its definition, or its zone's policy in force at `now` or at any event window's
/// start or end before `until` (scores and TTLs follow the patched policy, not the base one).
fn answers_differ(old: &ZoneSet, new: &ZoneSet, name: &str, now: Millis, until: Millis) -> bool {
    let (before, after) = (steered(old, name), steered(new, name));
    let (Some((old_zone, old_name)), Some((new_zone, new_name))) = (before, after) else {
        return before.is_some() != after.is_some();
    };
    if old_name != new_name {
        return true;
    }
    let (old_policy, new_policy) = (&old_zone.health, &new_zone.health);
    let boundaries = old_policy.windows.iter().chain(&new_policy.windows).flat_map(|w| [w.start, w.end]).filter(|t| *t > now && *t < until);
    std::iter::once(now).chain(boundaries).any(|t| in_force(old_policy, t) != in_force(new_policy, t))
}

/// The zone of steered name `name` and its definition.
fn steered<'a>(zones: &'a ZoneSet, name: &str) -> Option<(&'a crate::zone::model::Zone, &'a crate::zone::model::SteeredName)> {
    zones.zones.iter().find_map(|z| z.steered.iter().find(|s| s.name.as_str() == name).map(|s| (z, s)))
}

/// The policy in force at `at`, patched by the window covering it, without the windows
/// themselves (those are compared through what they patch).
fn in_force(policy: &crate::zone::health::HealthPolicy, at: Millis) -> crate::zone::health::HealthPolicy {
    let mut p = policy.at(at).into_owned();
    p.windows.clear();
    p
}

/// Load every `*.yaml` / `*.yml` event file of `dir` against the zones they will serve with.
/// A missing directory holds no events. All-or-nothing, like zones.
pub fn load_dir(dir: &Path, zones: &ZoneSet) -> Result<EventSet, LoadError> {
    if !dir.exists() {
        return Ok(EventSet::default());
    }
    let mut diags = Diagnostics::new();
    let files = match crate::zone::zone_files(dir) {
        Ok(f) => f,
        Err(e) => {
            diags.push(dir, Pos::default(), "", Code::Io, format!("cannot read events directory: {e}"));
            return Err(LoadError { diagnostics: diags.into_items(), files: 0 });
        }
    };
    let mut texts = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => texts.push((file, text)),
            Err(e) => {
                diags.saw_file();
                diags.push(&file, Pos::default(), "", Code::Io, format!("cannot read: {e}"));
            }
        }
    }
    load_texts(&texts, zones, diags)
}

/// Check (file name, contents) pairs: the pure core of `load_dir`.
pub fn load_texts(texts: &[(PathBuf, String)], zones: &ZoneSet, mut diags: Diagnostics) -> Result<EventSet, LoadError> {
    let mut events: Vec<Event> = Vec::new();
    for (file, text) in texts {
        diags.saw_file();
        let Some(parsed) = crate::zone::spec::parse_yaml::<spec::EventFile>(file, text, &mut diags) else { continue };
        let at = crate::zone::spec::pos(&parsed.event);
        let Some(event) = check::check_event(file, parsed, zones, &mut diags) else { continue };
        if let Some(other) = events.iter().find(|e| e.name == event.name) {
            diags.push(file, at, "event", Code::InvalidEvent, format!("event `{}` is also defined in {}; expected one file per event", event.name, other.file.display()));
            continue;
        }
        events.push(event);
    }
    let files = diags.files_seen();
    if !diags.is_empty() {
        return Err(LoadError { diagnostics: diags.into_items(), files });
    }
    events.sort_by_key(|e| (e.start, e.name.clone()));
    Ok(EventSet { events })
}

/// The names frozen at `now`.
pub fn frozen_names(events: &EventSet, now: Millis) -> BTreeSet<String> {
    events.active(now).filter(|e| e.freeze).flat_map(|e| e.names.iter().cloned()).collect()
}

#[cfg(test)]
mod tests;
