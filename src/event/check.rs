//! Checks of one event file against the zones it will serve with, every problem located.

use std::path::Path;

use super::Event;
use super::spec::{EventFile, PolicySpec};
use crate::diag::{Code, Diagnostics, Pos};
use crate::timestamp::{Millis, parse_rfc3339};
use crate::zone::ZoneSet;
use crate::zone::health::{SHARE_DEADBAND, SharePatch};
use crate::zone::model::DomainName;
use crate::zone::spec::{Spanned, pos};

/// Longest event window accepted: a week (a match night is hours; a typo in a year is not).
pub const MAX_WINDOW_MS: Millis = 7 * 86_400_000;

struct Cx<'a> {
    file: &'a Path,
    diags: &'a mut Diagnostics,
}

impl Cx<'_> {
    fn err(&mut self, at: Pos, path: &str, code: Code, message: impl Into<String>) {
        self.diags.push(self.file, at, path, code, message);
    }

    fn time(&mut self, v: &Spanned<String>, path: &str) -> Option<Millis> {
        match parse_rfc3339(&v.value) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(pos(v), path, Code::InvalidEvent, e);
                None
            }
        }
    }

    fn fraction(&mut self, v: &Option<Spanned<f64>>, path: &str, min: f64, max: f64) -> Option<f64> {
        let v = v.as_ref()?;
        if v.value.is_finite() && v.value >= min && v.value <= max && v.value > 0.0 || (min == 0.0 && v.value == 0.0) {
            return Some(v.value);
        }
        self.err(pos(v), path, Code::InvalidEvent, format!("{}; expected {min} to {max}", v.value));
        None
    }
}

/// Check one parsed event file; the event when it has no problems.
pub fn check_event(file: &Path, spec: EventFile, zones: &ZoneSet, diags: &mut Diagnostics) -> Option<Event> {
    let before = diags.items().len();
    let mut cx = Cx { file, diags };
    if spec.version.value != 1 {
        cx.err(pos(&spec.version), "version", Code::UnsupportedVersion, format!("version {} is not supported; expected 1", spec.version.value));
        return None;
    }
    let name = spec.event.value.trim().to_string();
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        cx.err(pos(&spec.event), "event", Code::InvalidEvent, format!("`{name}`; expected 1 to 64 characters of A-Z a-z 0-9 - _ ."));
    }
    let start = cx.time(&spec.start, "start");
    let end = cx.time(&spec.end, "end");
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            cx.err(pos(&spec.end), "end", Code::InvalidEvent, format!("{} is not after the start {}", spec.end.value, spec.start.value));
        } else if e - s > MAX_WINDOW_MS {
            cx.err(pos(&spec.end), "end", Code::InvalidEvent, "the window is longer than 7 days; expected the match night, not the season");
        }
    }
    let names = names(&mut cx, &spec, zones);
    let policies = policies(&mut cx, &spec, zones, &names);
    if spec.names.value.is_empty() {
        cx.err(pos(&spec.names), "names", Code::InvalidEvent, "no names; expected the steered names the event is about");
    }
    if cx.diags.items().len() > before {
        return None;
    }
    Some(Event {
        name,
        customer: spec.customer.map(|c| c.value),
        start: start?,
        end: end?,
        utc_offset_minutes: crate::timestamp::utc_offset_minutes(&spec.start.value).unwrap_or(0),
        names,
        policies,
        freeze: spec.freeze.is_some_and(|f| f.value),
        file: file.to_path_buf(),
    })
}

/// The event's names: steered names of the zones served.
fn names(cx: &mut Cx<'_>, spec: &EventFile, zones: &ZoneSet) -> Vec<String> {
    let mut out = Vec::new();
    for (i, n) in spec.names.value.iter().enumerate() {
        let path = format!("names[{i}]");
        let Ok(name) = DomainName::absolute(&n.value) else {
            cx.err(pos(n), &path, Code::InvalidName, format!("`{}` is not a domain name", n.value));
            continue;
        };
        if !zones.steered().any(|s| s.name == name) {
            let known: Vec<String> = zones.steered().map(|s| s.name.to_string()).collect();
            cx.err(pos(n), &path, Code::UnknownName, format!("{name} is not a steered name of the zones served; expected one of: {}", known.join(", ")));
            continue;
        }
        out.push(name.as_str().to_string());
    }
    out
}

/// The policy per zone: a zone served that holds one of the event's names; values in range.
fn policies(cx: &mut Cx<'_>, spec: &EventFile, zones: &ZoneSet, names: &[String]) -> Vec<(String, SharePatch)> {
    let mut out = Vec::new();
    for (apex, p) in &spec.policy.0 {
        let path = format!("policy.{}", apex.value);
        let Ok(origin) = DomainName::absolute(&apex.value) else {
            cx.err(pos(apex), &path, Code::InvalidName, format!("`{}` is not a domain name", apex.value));
            continue;
        };
        let Some(zone) = zones.zones.iter().find(|z| z.origin == origin) else {
            cx.err(pos(apex), &path, Code::InvalidEvent, format!("zone {origin} is not served"));
            continue;
        };
        // (Only when every name is known: an unknown one is reported already.)
        if names.len() == spec.names.value.len() && !zone.steered.iter().any(|s| names.iter().any(|n| n == s.name.as_str())) {
            cx.err(pos(apex), &path, Code::InvalidEvent, format!("zone {origin} holds none of the event's names; a policy applies to the zones of the names involved"));
            continue;
        }
        let patch = patch(cx, &p.value, &path);
        if let (Some(max), Some(v)) = (patch.max_share, p.value.max_share.as_ref()) {
            // As in the zone's own checks: n candidates capped at max_share must reach 1.
            for (name, region) in zone.steered.iter().flat_map(|s| s.regions.iter().map(move |r| (s, r))) {
                let n = region.candidates.len();
                if n >= 2 && max * (n as f64) < 1.0 - 1e-9 {
                    let msg = format!("{max} x {n} candidates of {} {} = {:.2}; the shares of a region must sum to 1, so expected at least {:.3}", name.name, region.key, max * n as f64, 1.0 / n as f64);
                    cx.err(pos(v), &format!("{path}.max_share"), Code::InvalidEvent, msg);
                    break;
                }
            }
        }
        out.push((origin.as_str().to_string(), patch));
    }
    out
}

fn patch(cx: &mut Cx<'_>, p: &PolicySpec, path: &str) -> SharePatch {
    let slew = cx.fraction(&p.max_change_per_tick, &format!("{path}.max_change_per_tick"), SHARE_DEADBAND, 1.0);
    let dwell = p.min_dwell_secs.as_ref().and_then(|v| {
        if v.value > 3600 {
            cx.err(pos(v), &format!("{path}.min_dwell_secs"), Code::InvalidEvent, format!("{}; expected 0 to 3600", v.value));
            return None;
        }
        Some(v.value * 1000)
    });
    let fast_ttl = p.fast_ttl_secs.as_ref().and_then(|v| {
        if v.value == 0 || v.value > 3600 {
            cx.err(pos(v), &format!("{path}.fast_ttl_secs"), Code::TtlOutOfBounds, format!("TTL {} is out of bounds; expected 1 to 3600 seconds", v.value));
            return None;
        }
        Some(v.value)
    });
    SharePatch {
        max_change_per_tick: slew,
        min_dwell_ms: dwell,
        min_warm_share: cx.fraction(&p.min_warm_share, &format!("{path}.min_warm_share"), 0.0, 0.25),
        max_share: cx.fraction(&p.max_share, &format!("{path}.max_share"), 0.01, 1.0),
        fast_ttl,
    }
}
