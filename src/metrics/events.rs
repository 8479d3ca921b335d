//! Steering counters the engine task keeps: decision events and fail-opens per steered name x
//! region, and CDN health state changes per region x CDN x state entered. Updated once per
//! engine tick that changed something (under a short mutex, off the DNS path) and rendered at
//! scrape time with every series of the zones served present, at 0 until counted.
//!
//! Names past `max_names` count under `name="_other"`. State changes carry no name: the score
//! behind them is per (zone, region, CDN), so every name of a zone changes together; a change
//! seen in several names in one tick counts once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use rustc_hash::FxHashMap;

use super::{DECISIONS, FAIL_OPEN, OTHER_NAME, STATE_CHANGES, write_family, write_sample};
use crate::health::engine::{TickReport, status_name};
use crate::health::share::Status;
use crate::zone::ZoneSet;

/// States a CDN can enter (`cold` is only where it starts).
const ENTERED: [&str; 3] = ["down", "recovering", "up"];

/// (name label, region label).
type NameRegion = (Arc<str>, Arc<str>);
/// (region label, CDN, state entered).
type RegionCdnState = (Arc<str>, Arc<str>, &'static str);

/// The label sets of one zone set, derived once per reload.
#[derive(Debug)]
struct Layout {
    /// The zone set this was derived from (compared by address; the `Weak` keeps the address
    /// from being reused while held).
    zones: Weak<ZoneSet>,
    /// Steered name -> its name label (itself, or `_other` past the limit).
    name_label: FxHashMap<String, Arc<str>>,
    /// Every (name label, region) of the zones, in zone order, without repeats.
    name_regions: Vec<NameRegion>,
    /// Every (region, CDN) where the CDN is a candidate for some name.
    region_cdns: Vec<(Arc<str>, Arc<str>)>,
}

impl Layout {
    fn empty() -> Layout {
        Layout { zones: Weak::new(), name_label: FxHashMap::default(), name_regions: Vec::new(), region_cdns: Vec::new() }
    }

    fn derive(zones: &Arc<ZoneSet>, max_names: usize) -> Layout {
        let mut interned: FxHashMap<String, Arc<str>> = FxHashMap::default();
        let mut intern = |s: String| Arc::clone(interned.entry(s.clone()).or_insert_with(|| Arc::from(s)));
        let other = intern(OTHER_NAME.to_string());
        let mut name_label = FxHashMap::default();
        let mut name_regions = Vec::new();
        let mut seen_name_regions = BTreeSet::new();
        let mut region_cdns = Vec::new();
        let mut seen_region_cdns = BTreeSet::new();
        for (index, steered) in zones.steered().enumerate() {
            let label = if index < max_names { intern(steered.name.as_str().to_string()) } else { Arc::clone(&other) };
            name_label.insert(steered.name.as_str().to_string(), Arc::clone(&label));
            for region in &steered.regions {
                let key = intern(region.key.to_string());
                if seen_name_regions.insert((Arc::clone(&label), Arc::clone(&key))) {
                    name_regions.push((Arc::clone(&label), Arc::clone(&key)));
                }
                for c in &region.candidates {
                    let Some(cdn) = steered.cdns.get(c.cdn) else { continue };
                    let cdn = intern(cdn.name.clone());
                    if seen_region_cdns.insert((Arc::clone(&key), Arc::clone(&cdn))) {
                        region_cdns.push((Arc::clone(&key), cdn));
                    }
                }
            }
        }
        Layout { zones: Arc::downgrade(zones), name_label, name_regions, region_cdns }
    }

    fn label(&self, name: &str) -> Arc<str> {
        self.name_label.get(name).map_or_else(|| Arc::from(OTHER_NAME), Arc::clone)
    }
}

#[derive(Debug)]
struct Counts {
    layout: Arc<Layout>,
    decisions: BTreeMap<NameRegion, u64>,
    fail_open: BTreeMap<NameRegion, u64>,
    changes: BTreeMap<RegionCdnState, u64>,
}

/// The steering counters of one server. Cheap to clone: the engine task records, the admin
/// API renders.
#[derive(Debug, Clone)]
pub struct SteeringCounters {
    max_names: usize,
    counts: Arc<Mutex<Counts>>,
}

impl SteeringCounters {
    /// Counters that give steered names past the first `max_names` the name `_other`.
    pub fn new(max_names: usize) -> SteeringCounters {
        let counts = Counts { layout: Arc::new(Layout::empty()), decisions: BTreeMap::new(), fail_open: BTreeMap::new(), changes: BTreeMap::new() };
        SteeringCounters { max_names, counts: Arc::new(Mutex::new(counts)) }
    }

    /// Steered names with series of their own; the rest are `_other`.
    pub fn max_names(&self) -> usize {
        self.max_names
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The layout for `zones`, derived once per zone set (outside the lock: a large zone set
    /// takes a while, and a scrape should not wait for it).
    fn layout(&self, zones: &Arc<ZoneSet>) -> Arc<Layout> {
        let current = Arc::clone(&self.lock().layout);
        if std::ptr::eq(current.zones.as_ptr(), Arc::as_ptr(zones)) {
            return current;
        }
        let fresh = Arc::new(Layout::derive(zones, self.max_names));
        self.lock().layout = Arc::clone(&fresh);
        fresh
    }

    /// Count what one engine tick on `zones` reported.
    pub fn record(&self, zones: &Arc<ZoneSet>, report: &TickReport) {
        if report.events.is_empty() && report.transitions.is_empty() && report.failed_open.is_empty() {
            return;
        }
        let layout = self.layout(zones);
        let entered: BTreeSet<(String, &str, &'static str)> = report
            .transitions
            .iter()
            .filter(|t| !matches!(t.to, Status::Cold))
            .map(|t| (t.region.to_string(), t.cdn.as_str(), status_name(t.to)))
            .collect();
        let mut counts = self.lock();
        for event in &report.events {
            *counts.decisions.entry((layout.label(&event.name), Arc::from(event.region.as_str()))).or_insert(0) += 1;
        }
        for (name, region) in &report.failed_open {
            *counts.fail_open.entry((layout.label(name), Arc::from(region.to_string()))).or_insert(0) += 1;
        }
        for (region, cdn, state) in entered {
            *counts.changes.entry((Arc::from(region), Arc::from(cdn), state)).or_insert(0) += 1;
        }
    }

    /// Append the three families, with every series of `zones` present.
    pub fn render(&self, zones: &Arc<ZoneSet>, out: &mut String) {
        let layout = self.layout(zones);
        let (mut decisions, mut fail_open, mut changes) = {
            let counts = self.lock();
            (counts.decisions.clone(), counts.fail_open.clone(), counts.changes.clone())
        };
        for key in &layout.name_regions {
            decisions.entry(key.clone()).or_insert(0);
            fail_open.entry(key.clone()).or_insert(0);
        }
        for (region, cdn) in &layout.region_cdns {
            for state in ENTERED {
                changes.entry((Arc::clone(region), Arc::clone(cdn), state)).or_insert(0);
            }
        }
        for (family, counts) in [(&DECISIONS, &decisions), (&FAIL_OPEN, &fail_open)] {
            write_family(out, family);
            for ((name, region), n) in counts {
                write_sample(out, family.name, &[("name", name), ("region", region)], *n);
            }
        }
        write_family(out, &STATE_CHANGES);
        for ((region, cdn, state), n) in &changes {
            write_sample(out, STATE_CHANGES.name, &[("region", region), ("cdn", cdn), ("state", state)], *n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::health::engine::Transition;
    use crate::health::events::DecisionEvent;
    use crate::region::RegionKey;

    fn zones() -> Arc<ZoneSet> {
        let mut z = String::from("version: 1\nzone: t.test\nsoa: {primary: ns1.t.test., contact: h.t.test., serial: 1}\nrecords:\n  - {name: \"@\", type: NS, value: ns1.t.test.}\nsteered:\n");
        for n in 0..3 {
            z.push_str(&format!("  n{n}:\n    last_resort: a\n    cdns: {{a: {{target: a.cdn.test}}, b: {{target: b.cdn.test}}}}\n    regions:\n      countries:\n        KR: {{a: 1, b: 1}}\n      default: {{a: 1}}\n"));
        }
        Arc::new(crate::zone::load_texts(&[(std::path::PathBuf::from("t.yaml"), z)], Diagnostics::new()).expect("zones"))
    }

    fn event(name: &str, region: &str) -> DecisionEvent {
        DecisionEvent { at: 0, generation: 0, name: name.into(), region: region.into(), old: Vec::new(), new: Vec::new(), fails_open: false, reason: String::new(), overrides: Vec::new() }
    }

    fn down(name: &str) -> Transition {
        Transition { name: name.into(), region: RegionKey::Country(*b"KR"), cdn: "b".into(), from: Status::Up, to: Status::Down { since: 5 } }
    }

    #[test]
    fn present_at_zero_folded_past_the_limit_and_changes_counted_once_per_tick() {
        let zones = zones();
        let counters = SteeringCounters::new(1);
        let mut first = String::new();
        counters.render(&zones, &mut first);
        for line in [
            "cdnsteer_decision_events_total{name=\"n0.t.test.\",region=\"country:KR\"} 0\n",
            "cdnsteer_decision_events_total{name=\"_other\",region=\"default\"} 0\n",
            "cdnsteer_fail_open_total{name=\"_other\",region=\"country:KR\"} 0\n",
            "cdnsteer_cdn_state_changes_total{region=\"country:KR\",cdn=\"b\",state=\"down\"} 0\n",
            "cdnsteer_cdn_state_changes_total{region=\"default\",cdn=\"a\",state=\"recovering\"} 0\n",
        ] {
            assert!(first.contains(line), "{line}{first}");
        }
        assert!(!first.contains("n1.t.test.") && !first.contains("region=\"default\",cdn=\"b\""), "{first}");

        let report = TickReport {
            changed: true,
            events: vec![event("n0.t.test.", "country:KR"), event("n1.t.test.", "country:KR"), event("n2.t.test.", "country:KR")],
            transitions: vec![down("n0.t.test."), down("n1.t.test."), down("n2.t.test.")],
            failed_open: vec![("n2.t.test.".into(), RegionKey::Country(*b"KR"))],
            ticked: 1,
        };
        counters.record(&zones, &report);
        counters.record(&zones, &TickReport { transitions: vec![down("n0.t.test.")], ..TickReport::default() });
        let mut out = String::new();
        counters.render(&zones, &mut out);
        for line in [
            "cdnsteer_decision_events_total{name=\"n0.t.test.\",region=\"country:KR\"} 1\n",
            "cdnsteer_decision_events_total{name=\"_other\",region=\"country:KR\"} 2\n",
            "cdnsteer_fail_open_total{name=\"_other\",region=\"country:KR\"} 1\n",
            "cdnsteer_fail_open_total{name=\"n0.t.test.\",region=\"country:KR\"} 0\n",
            "cdnsteer_cdn_state_changes_total{region=\"country:KR\",cdn=\"b\",state=\"down\"} 2\n",
        ] {
            assert!(out.contains(line), "{line}{out}");
        }
        assert_eq!(out.matches("# TYPE").count(), 3);
    }
}
