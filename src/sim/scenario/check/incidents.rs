//! The `incidents:` list: one flat mapping per incident, checked per `kind` (a field the kind
//! does not take is an unknown key, one it needs and lacks a missing key), within the night.

use super::{Code, Cx, MAX_NIGHT_MS, Millis, Pos, Range, Ref, Spanned, human_duration, pos};
use crate::region::RegionKey;
use crate::sim::scenario::model::{Incident, IncidentKind};
use crate::sim::scenario::spec::{IncidentKindSpec, IncidentSpec};

/// The fields each kind of incident takes (beside label, at, for, kind), and those it needs.
fn fields_of(kind: IncidentKindSpec) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        IncidentKindSpec::Degrade => (&["cdn", "region", "ttfb_ms", "error_rate", "throughput_mbps", "cache_hit_ratio", "capacity_gbps"], &["cdn"]),
        IncidentKindSpec::Dark => (&["cdn", "region"], &["cdn"]),
        IncidentKindSpec::ProbeBlind => (&["vantage"], &["vantage"]),
        IncidentKindSpec::TelemetryStops => (&["region"], &[]),
    }
}

/// The kind-specific fields of an incident that are present, with their positions.
fn present(i: &IncidentSpec) -> Vec<(&'static str, Pos)> {
    let mut out = Vec::new();
    for (key, v) in [("cdn", &i.cdn), ("region", &i.region), ("vantage", &i.vantage)] {
        if let Some(v) = v {
            out.push((key, pos(v)));
        }
    }
    for (key, v) in [("ttfb_ms", &i.ttfb_ms), ("error_rate", &i.error_rate), ("throughput_mbps", &i.throughput_mbps), ("cache_hit_ratio", &i.cache_hit_ratio), ("capacity_gbps", &i.capacity_gbps)] {
        if let Some(v) = v {
            out.push((key, pos(v)));
        }
    }
    out
}

pub(super) fn incidents(cx: &mut Cx<'_>, spec: &[Spanned<IncidentSpec>], night_ms: Option<Millis>) -> Vec<Incident> {
    let mut out = Vec::new();
    for (n, s) in spec.iter().enumerate() {
        let before = cx.count();
        let path = format!("incidents[{n}]");
        let sub = |key: &str| format!("{path}.{key}");
        let i = &s.value;
        let kind = i.kind.value;
        let (allowed, needed) = fields_of(kind);
        for (key, at) in present(i) {
            if !allowed.contains(&key) {
                cx.err(at, &sub(key), Code::UnknownKey, format!("`{key}` is not a field of a `{}` incident; expected {}", kind.as_str(), allowed.join(", ")));
            }
        }
        for key in needed {
            if !present(i).iter().any(|(k, _)| k == key) {
                cx.err(pos(&i.kind), &path, Code::MissingKey, format!("a `{}` incident needs `{key}`", kind.as_str()));
            }
        }
        cx.source(Ref::IncidentAt(n), &sub("at"), &i.at);
        cx.source(Ref::IncidentFor(n), &sub("for"), &i.for_);
        let at = cx.offset(&i.at, &sub("at"), MAX_NIGHT_MS);
        let for_ms = cx.duration(&i.for_, &sub("for"), MAX_NIGHT_MS);
        if let (Some(at), Some(for_ms), Some(night)) = (at, for_ms, night_ms)
            && let Some((start, msg)) = outside_night(at, for_ms, night, "its `duration`")
        {
            let (key, at) = if start { ("at", pos(&i.at)) } else { ("for", pos(&i.for_)) };
            cx.err(at, &sub(key), Code::OutsideNight, msg);
        }
        let region = i.region.as_ref().and_then(|r| {
            cx.source(Ref::IncidentRegion(n), &sub("region"), r);
            cx.region(r, &sub("region"))
        });
        if let Some(c) = &i.cdn {
            cx.source(Ref::IncidentCdn(n), &sub("cdn"), c);
        }
        if let Some(v) = &i.vantage {
            cx.source(Ref::IncidentVantage(n), &sub("vantage"), v);
        }
        let cdn = i.cdn.as_ref().map(|c| c.value.clone()).unwrap_or_default();
        let kind = match kind {
            IncidentKindSpec::Degrade => {
                let changes = [&i.ttfb_ms, &i.error_rate, &i.throughput_mbps, &i.cache_hit_ratio, &i.capacity_gbps];
                if changes.iter().all(|c| c.is_none()) {
                    cx.err(pos(&i.kind), &path, Code::MissingKey, "a `degrade` incident changes nothing; expected at least one of ttfb_ms, error_rate, throughput_mbps, cache_hit_ratio, capacity_gbps");
                }
                let mut num = |v: &Option<Spanned<f64>>, key: &str, range| v.as_ref().and_then(|v| cx.num(v, &sub(key), range));
                IncidentKind::Degrade {
                    cdn,
                    region,
                    ttfb_ms: num(&i.ttfb_ms, "ttfb_ms", Range::Positive),
                    error_rate: num(&i.error_rate, "error_rate", Range::Fraction),
                    throughput_mbps: num(&i.throughput_mbps, "throughput_mbps", Range::Positive),
                    cache_hit_ratio: num(&i.cache_hit_ratio, "cache_hit_ratio", Range::Fraction),
                    capacity_gbps: num(&i.capacity_gbps, "capacity_gbps", Range::Positive),
                }
            }
            IncidentKindSpec::Dark => IncidentKind::Dark { cdn, region },
            IncidentKindSpec::ProbeBlind => IncidentKind::ProbeBlind { vantage: i.vantage.as_ref().map(|v| v.value.clone()).unwrap_or_default() },
            IncidentKindSpec::TelemetryStops => IncidentKind::TelemetryStops { region },
        };
        let label = match &i.label {
            Some(l) if l.value.trim().is_empty() => {
                cx.err(pos(l), &sub("label"), Code::InvalidScenario, "an empty label; expected text, or no `label` (one is made up)");
                String::new()
            }
            Some(l) => l.value.trim().to_string(),
            None => label_of(&kind),
        };
        if cx.count() == before {
            out.push(Incident { at: at.unwrap_or_default(), for_ms: for_ms.unwrap_or_default(), kind, label });
        }
    }
    out
}

/// Why an incident from `at` for `for_ms` is not inside a night of `night` ms (`from`: what
/// says how long the night is): `true` when its start is the problem, else its end.
pub(crate) fn outside_night(at: Millis, for_ms: Millis, night: Millis, from: &str) -> Option<(bool, String)> {
    let d = human_duration;
    if at >= night {
        return Some((true, format!("starts at {}, when the night is over (it lasts {}, from {from}); expected a start inside it", d(at), d(night))));
    }
    if at + for_ms > night {
        return Some((false, format!("ends at {} ({} + {}), after the night is over (it lasts {}, from {from}); expected it to end inside it", d(at + for_ms), d(at), d(for_ms), d(night))));
    }
    None
}

/// The label of an incident without one: `cloudfront degrades in country:KR`.
pub fn label_of(kind: &IncidentKind) -> String {
    let place = |r: &Option<RegionKey>| r.as_ref().map_or("everywhere".to_string(), |r| format!("in {r}"));
    match kind {
        IncidentKind::Degrade { cdn, region, .. } => format!("{cdn} degrades {}", place(region)),
        IncidentKind::Dark { cdn, region } => format!("{cdn} goes dark {}", place(region)),
        IncidentKind::ProbeBlind { vantage } => format!("probe {vantage} goes blind"),
        IncidentKind::TelemetryStops { region } => format!("telemetry stops {}", place(region)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_labels() {
        let kr = Some(RegionKey::Country(*b"KR"));
        let degrade = IncidentKind::Degrade { cdn: "cloudfront".into(), region: kr.clone(), ttfb_ms: Some(900.0), error_rate: None, throughput_mbps: None, cache_hit_ratio: None, capacity_gbps: None };
        assert_eq!(label_of(&degrade), "cloudfront degrades in country:KR");
        assert_eq!(label_of(&IncidentKind::Dark { cdn: "edgio".into(), region: None }), "edgio goes dark everywhere");
        assert_eq!(label_of(&IncidentKind::ProbeBlind { vantage: "seoul-1".into() }), "probe seoul-1 goes blind");
        assert_eq!(label_of(&IncidentKind::TelemetryStops { region: kr }), "telemetry stops in country:KR");
    }
}
