//! Checks of one scenario file: `spec::ScenarioFile` -> `model::Scenario`, every problem
//! reported (not just the first) with its location, YAML path and named code. What needs the
//! zones and events (CDN and region names, the event, the night's length when the event gives
//! it) is checked later by `cross_check`; this records where those names are written
//! (`Sources`) so its findings are located too.
//!
//! Also here: defaults of every optional setting (a match `shape` becomes curve points in
//! `shape`).

use std::collections::HashMap;
use std::path::Path;

mod incidents;

pub use incidents::label_of;
pub(super) use incidents::outside_night;
use incidents::incidents;
use super::model::{
    Audience, CdnTruth, Limits, Performance, ProbeSite, RegionAudience,
    ResolverClass, Saturation, Scenario, SweepAxis, SweepParam, TelemetryModel,
};
use super::shape::Shape;
use super::spec::{
    AudienceSpec, CdnSpec, PerformanceSpec, PointSpec,
    RegionAudienceSpec, ScenarioFile, ShapeSpec,
};
use crate::diag::{Code, Diagnostics, Pos};
use crate::region::{RegionKey, parse_region};
use crate::timestamp::{Millis, human_duration, parse_duration, parse_rfc3339};
use crate::zone::health::SHARE_DEADBAND;
use crate::zone::spec::{OrderedMap, Spanned, pos};

/// The value of every setting a scenario may leave out.
pub mod defaults {
    use super::{Performance, Saturation};

    /// A CDN's performance where neither its region nor its `default` says.
    pub const PERFORMANCE: Performance =
        Performance { capacity_gbps: None, ttfb_ms: 100.0, throughput_mbps: 20.0, cache_hit_ratio: 0.95, error_rate: 0.001 };
    /// The saturation curve.
    pub const SATURATION: Saturation =
        Saturation { knee: 0.85, ttfb_factor: 3.0, throughput_factor: 0.5, error_rate_at_capacity: 0.01, error_rate_per_overload: 0.5 };
    /// Relative noise on measured values.
    pub const NOISE: f64 = 0.05;
    /// Part of viewers who stay on their CDN mid-stream.
    pub const STICKY: f64 = 0.7;
    /// Sticky viewers restarting anyway, per minute.
    pub const RESTART_PER_MIN: f64 = 0.01;
    /// Sticky viewers on a degraded CDN restarting, per minute.
    pub const REBUFFER_RESTART_PER_MIN: f64 = 0.25;
    /// Telemetry window, ms.
    pub const TELEMETRY_EVERY_MS: u64 = 10_000;
    /// Telemetry delay, ms.
    pub const TELEMETRY_DELAY_MS: u64 = 5_000;
    /// Telemetry source name.
    pub const TELEMETRY_SOURCE: &str = "players";
    /// Segment fetches per viewer per second (4 s segments).
    pub const REQUESTS_PER_VIEWER_SEC: f64 = 0.25;
    /// Probe interval, ms.
    pub const PROBE_EVERY_MS: u64 = 5_000;
    /// Probe timeout, ms.
    pub const PROBE_TIMEOUT_MS: u64 = 2_000;
    /// Forecast headroom.
    pub const HEADROOM: f64 = 1.2;
    /// Extra time level of a shape.
    pub const EXTRA_TIME_LEVEL: f64 = 1.0;
    /// The one resolver class when none is given: every resolver honours the TTL.
    pub const RESOLVER: &str = "honours-ttl";
}

/// How far a set of parts may be from 1.
pub const PART_TOLERANCE: f64 = 0.001;

/// Longest night accepted: a week, like an event window.
pub const MAX_NIGHT_MS: Millis = 7 * 86_400_000;

/// Longest simulated tick, telemetry window or probe interval.
const MAX_INTERVAL_MS: Millis = 600_000;

/// Largest `min_ttl` of a resolver class: a day.
const MAX_MIN_TTL_MS: Millis = 86_400_000;

/// A reference to something outside the scenario file, or a time `cross_check` may find
/// outside the night: the model element it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Ref {
    /// `event`.
    Event,
    /// `start`.
    Start,
    /// `audience.regions`, the i-th key.
    AudienceRegion(usize),
    /// `cdns`, the i-th key.
    Cdn(usize),
    /// `cdns`, the i-th CDN's j-th region key.
    CdnRegion(usize, usize),
    /// `probes[i].region`.
    ProbeRegion(usize),
    /// `incidents[i].at`.
    IncidentAt(usize),
    /// `incidents[i].for`.
    IncidentFor(usize),
    /// `incidents[i].cdn`.
    IncidentCdn(usize),
    /// `incidents[i].region`.
    IncidentRegion(usize),
    /// `incidents[i].vantage`.
    IncidentVantage(usize),
}

/// Where each `Ref` is written: YAML path and position.
#[derive(Debug, Clone, Default)]
pub(super) struct Sources(HashMap<Ref, (String, Pos)>);

impl Sources {
    /// Path and position of `r`; `fallback` (at line 0, the file as a whole) when unknown.
    pub(super) fn locate(&self, r: Ref, fallback: impl FnOnce() -> String) -> (String, Pos) {
        self.0.get(&r).cloned().unwrap_or_else(|| (fallback(), Pos::default()))
    }
}

/// Parse an offset inside the night: a duration, or zero (`0s`, `0m`).
pub fn parse_offset(text: &str) -> Result<Millis, String> {
    let t = text.trim();
    let zero = t.starts_with('0') && t.ends_with(['s', 'm', 'h', 'd']) && t.bytes().all(|b| b == b'0' || b"smhd".contains(&b));
    if zero { Ok(0) } else { parse_duration(t) }
}

/// What a number must be.
#[derive(Clone, Copy)]
enum Range {
    /// 0 to 1.
    Fraction,
    /// Above 0, at most 1.
    Part,
    /// Above 0.
    Positive,
    /// 0 or more.
    NonNegative,
    /// From..to, inclusive.
    Between(f64, f64),
}

impl Range {
    fn admits(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                Range::Fraction => (0.0..=1.0).contains(&v),
                Range::Part => v > 0.0 && v <= 1.0,
                Range::Positive => v > 0.0,
                Range::NonNegative => v >= 0.0,
                Range::Between(a, b) => (a..=b).contains(&v),
            }
    }

    fn expected(self) -> String {
        match self {
            Range::Fraction => "a fraction from 0 to 1".to_string(),
            Range::Part => "a part above 0, at most 1".to_string(),
            Range::Positive => "a positive number".to_string(),
            Range::NonNegative => "a number from 0 up".to_string(),
            Range::Between(a, b) => format!("{a} to {b}"),
        }
    }
}

struct Cx<'a> {
    file: &'a Path,
    diags: &'a mut Diagnostics,
    sources: Sources,
}

impl Cx<'_> {
    fn err(&mut self, at: Pos, path: &str, code: Code, message: impl Into<String>) {
        self.diags.push(self.file, at, path, code, message);
    }

    fn count(&self) -> usize {
        self.diags.items().len()
    }

    fn source<T>(&mut self, r: Ref, path: &str, at: &Spanned<T>) {
        self.sources.0.insert(r, (path.to_string(), pos(at)));
    }

    fn num(&mut self, v: &Spanned<f64>, path: &str, range: Range) -> Option<f64> {
        if range.admits(v.value) {
            return Some(v.value);
        }
        self.err(pos(v), path, Code::InvalidScenario, format!("{}; expected {}", v.value, range.expected()));
        None
    }

    fn opt_num(&mut self, v: &Option<Spanned<f64>>, path: &str, range: Range, default: f64) -> f64 {
        v.as_ref().and_then(|v| self.num(v, path, range)).unwrap_or(default)
    }

    /// A positive duration, at most `max`.
    fn duration(&mut self, v: &Spanned<String>, path: &str, max: Millis) -> Option<Millis> {
        let ms = parse_duration(&v.value).map_err(|e| self.err(pos(v), path, Code::InvalidScenario, e)).ok()?;
        self.at_most(v, path, ms, max)
    }

    /// An offset (zero allowed), at most `max`.
    fn offset(&mut self, v: &Spanned<String>, path: &str, max: Millis) -> Option<Millis> {
        let ms = parse_offset(&v.value).map_err(|e| self.err(pos(v), path, Code::InvalidScenario, e)).ok()?;
        self.at_most(v, path, ms, max)
    }

    fn at_most(&mut self, v: &Spanned<String>, path: &str, ms: Millis, max: Millis) -> Option<Millis> {
        if ms > max {
            self.err(pos(v), path, Code::InvalidScenario, format!("{}; expected at most {}", v.value, human_duration(max)));
            return None;
        }
        Some(ms)
    }

    fn region(&mut self, v: &Spanned<String>, path: &str) -> Option<RegionKey> {
        parse_region(&v.value).map_err(|e| self.err(pos(v), path, Code::UnknownRegion, e)).ok()
    }

    /// A name (scenario, vantage, source, resolver class): 1 to 64 of A-Z a-z 0-9 - _ .
    fn name(&mut self, v: &Spanned<String>, path: &str) -> String {
        let name = v.value.trim().to_string();
        if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            self.err(pos(v), path, Code::InvalidScenario, format!("`{name}`; expected 1 to 64 characters of A-Z a-z 0-9 - _ ."));
        }
        name
    }

    /// Parts that must sum to 1 (checked only when each was valid: else the sum says nothing).
    fn parts_sum<T>(&mut self, parts: &[Option<f64>], at: &Spanned<T>, path: &str, what: &str) {
        if parts.iter().any(Option::is_none) || parts.is_empty() {
            return;
        }
        let sum: f64 = parts.iter().flatten().sum();
        if (sum - 1.0).abs() > PART_TOLERANCE {
            self.err(pos(at), path, Code::PartsSum, format!("the parts of {what} sum to {}; expected 1 (within {PART_TOLERANCE})", round(sum)));
        }
    }
}

/// A sum for a message: no binary noise (0.9800000000000001).
fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Check one parsed scenario file; the scenario (with where its references are written) when
/// it has no problems. `zones` and `events` are resolved against the file's directory and
/// must be directories.
pub(super) fn check_scenario(file: &Path, spec: ScenarioFile, diags: &mut Diagnostics) -> Option<(Scenario, Sources)> {
    let before = diags.items().len();
    let mut cx = Cx { file, diags, sources: Sources::default() };
    if spec.version.value != 1 {
        let msg = format!("version {} is not supported; expected 1", spec.version.value);
        cx.err(pos(&spec.version), "version", Code::UnsupportedVersion, msg);
        return None;
    }
    let name = cx.name(&spec.scenario, "scenario");
    let base = file.parent().unwrap_or(Path::new(""));
    let zones = directory(&mut cx, base, &spec.zones, "zones");
    let events = spec.events.as_ref().map(|e| directory(&mut cx, base, e, "events"));
    if let Some(e) = &spec.event {
        cx.source(Ref::Event, "event", e);
        if spec.events.is_none() {
            cx.err(pos(e), "event", Code::MissingKey, format!("event `{}` is named but `events`, the directory it is in, is not; expected both", e.value));
        }
    }
    let start = spec.start.as_ref().and_then(|s| {
        cx.source(Ref::Start, "start", s);
        parse_rfc3339(&s.value).map_err(|e| cx.err(pos(s), "start", Code::InvalidScenario, e)).ok()
    });
    let duration_ms = spec.duration.as_ref().and_then(|d| cx.duration(d, "duration", MAX_NIGHT_MS));
    if spec.event.is_none() {
        for (key, missing) in [("start", spec.start.is_none()), ("duration", spec.duration.is_none())] {
            if missing {
                cx.err(pos(&spec.scenario), key, Code::MissingKey, format!("no `{key}` and no `event` to take it from; expected one or the other"));
            }
        }
    }
    let tick_ms = spec.tick.as_ref().and_then(|t| cx.duration(t, "tick", 60_000));
    let audience = audience(&mut cx, &spec.audience);
    let cdns = cdns(&mut cx, &spec.cdns);
    let saturation = saturation(&mut cx, &spec);
    let noise = cx.opt_num(&spec.noise, "noise", Range::Between(0.0, 0.5), defaults::NOISE);
    let telemetry = telemetry(&mut cx, &spec);
    let probes = probes(&mut cx, &spec);
    let incidents = incidents(&mut cx, &spec.incidents, duration_ms);
    let limits = limits(&mut cx, &spec);
    let headroom = spec.forecast.as_ref().and_then(|f| f.value.headroom.as_ref());
    let headroom = headroom.and_then(|h| cx.num(h, "forecast.headroom", Range::Between(1.0, 10.0))).unwrap_or(defaults::HEADROOM);
    let sweep = sweep(&mut cx, &spec.sweep);
    if cx.count() > before {
        return None;
    }
    let scenario = Scenario {
        name,
        file: file.to_path_buf(),
        zones: zones?,
        events: events.flatten(),
        event: spec.event.map(|e| e.value),
        start,
        duration_ms,
        tick_ms,
        seed: spec.seed.map_or(0, |s| s.value),
        audience: audience?,
        cdns,
        saturation,
        noise,
        telemetry,
        probes,
        incidents,
        limits,
        headroom,
        sweep,
    };
    Some((scenario, cx.sources))
}

/// A directory named relative to the scenario file, which must exist.
fn directory(cx: &mut Cx<'_>, base: &Path, v: &Spanned<String>, key: &str) -> Option<std::path::PathBuf> {
    if v.value.trim().is_empty() {
        cx.err(pos(v), key, Code::InvalidScenario, "an empty path; expected a directory, relative to this file");
        return None;
    }
    let dir = base.join(v.value.trim());
    if !dir.is_dir() {
        cx.err(pos(v), key, Code::Io, format!("{} is not a directory; expected one, relative to this file", dir.display()));
        return None;
    }
    Some(dir)
}

/// Exactly one of two optional keys: `Some(true)` the first, `Some(false)` the second.
fn one_of<A, B>(cx: &mut Cx<'_>, a: (&str, &Option<Spanned<A>>), b: (&str, &Option<Spanned<B>>), at: Pos, path: &str) -> Option<bool> {
    match (a.1, b.1) {
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        (Some(_), Some(second)) => {
            let p = if path.is_empty() { b.0.to_string() } else { format!("{path}.{}", b.0) };
            cx.err(pos(second), &p, Code::InvalidScenario, format!("both `{}` and `{}`; expected exactly one", a.0, b.0));
            None
        }
        (None, None) => {
            cx.err(at, path, Code::MissingKey, format!("neither `{}` nor `{}`; expected exactly one", a.0, b.0));
            None
        }
    }
}

fn audience(cx: &mut Cx<'_>, spec: &Spanned<AudienceSpec>) -> Option<Audience> {
    let before = cx.count();
    let a = &spec.value;
    let peak_viewers = cx.num(&a.peak_viewers, "audience.peak_viewers", Range::Positive);
    let curve = curve(cx, &a.shape, &a.points, pos(spec), "audience");
    let regions = regions(cx, &a.regions);
    let bitrate = match one_of(cx, ("bitrate_mbps", &a.bitrate_mbps), ("bitrate", &a.bitrate), pos(spec), "audience") {
        Some(true) => a.bitrate_mbps.as_ref().and_then(|m| cx.num(m, "audience.bitrate_mbps", Range::Positive)).map(|m| vec![(m, 1.0)]),
        Some(false) => a.bitrate.as_ref().map(|ladder| {
            let rungs: Vec<(Option<f64>, Option<f64>)> = ladder.value.iter().enumerate().map(|(i, r)| {
                let p = format!("audience.bitrate[{i}]");
                (cx.num(&r.value.mbps, &format!("{p}.mbps"), Range::Positive), cx.num(&r.value.part, &format!("{p}.part"), Range::Part))
            }).collect();
            if rungs.is_empty() {
                cx.err(pos(ladder), "audience.bitrate", Code::InvalidScenario, "an empty ladder; expected rungs of {mbps, part}");
            }
            cx.parts_sum(&rungs.iter().map(|r| r.1).collect::<Vec<_>>(), ladder, "audience.bitrate", "the bitrate ladder");
            rungs.into_iter().map(|(m, p)| (m.unwrap_or_default(), p.unwrap_or_default())).collect()
        }),
        None => None,
    };
    let resolvers = resolvers(cx, a);
    let sticky = cx.opt_num(&a.sticky, "audience.sticky", Range::Fraction, defaults::STICKY);
    let restart = cx.opt_num(&a.restart_per_min, "audience.restart_per_min", Range::Fraction, defaults::RESTART_PER_MIN);
    let rebuffer = cx.opt_num(&a.rebuffer_restart_per_min, "audience.rebuffer_restart_per_min", Range::Fraction, defaults::REBUFFER_RESTART_PER_MIN);
    if cx.count() > before {
        return None;
    }
    Some(Audience {
        peak_viewers: peak_viewers?,
        curve: curve?,
        regions,
        bitrate: bitrate?,
        resolvers,
        sticky,
        restart_per_min: restart,
        rebuffer_restart_per_min: rebuffer,
    })
}

/// A curve from exactly one of `shape` and `points` in the mapping at `path`.
fn curve(cx: &mut Cx<'_>, shape: &Option<Spanned<ShapeSpec>>, points: &Option<Spanned<Vec<PointSpec>>>, at: Pos, path: &str) -> Option<Vec<(u64, f64)>> {
    let sub = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match one_of(cx, ("shape", shape), ("points", points), at, path)? {
        true => shape.as_ref().and_then(|s| shape_curve(cx, &s.value, &sub("shape"))),
        false => points.as_ref().and_then(|p| points_curve(cx, p, &sub("points"))),
    }
}

fn points_curve(cx: &mut Cx<'_>, spec: &Spanned<Vec<PointSpec>>, path: &str) -> Option<Vec<(u64, f64)>> {
    let before = cx.count();
    if spec.value.is_empty() {
        cx.err(pos(spec), path, Code::InvalidScenario, "no points; expected at least one [offset, fraction]");
    }
    let mut out: Vec<(u64, f64)> = Vec::new();
    let mut last: Option<u64> = None;
    for (i, point) in spec.value.iter().enumerate() {
        let (at, fraction) = &point.value;
        let offset = cx.offset(at, &format!("{path}[{i}][0]"), MAX_NIGHT_MS);
        let level = cx.num(fraction, &format!("{path}[{i}][1]"), Range::Fraction);
        if let (Some(t), Some(prev)) = (offset, last)
            && t <= prev
        {
            let msg = format!("{} is not after the point before ({}); expected offsets that increase", human_duration(t), human_duration(prev));
            cx.err(pos(at), &format!("{path}[{i}][0]"), Code::CurveOrder, msg);
        }
        last = offset.or(last);
        out.push((offset.unwrap_or_default(), level.unwrap_or_default()));
    }
    (cx.count() == before).then_some(out)
}

fn shape_curve(cx: &mut Cx<'_>, s: &ShapeSpec, path: &str) -> Option<Vec<(u64, f64)>> {
    let before = cx.count();
    let p = |key: &str| format!("{path}.{key}");
    let level = |cx: &mut Cx<'_>, v: &Spanned<f64>, key: &str| cx.num(v, &p(key), Range::Fraction).unwrap_or_default();
    let shape = Shape {
        kickoff_ms: cx.offset(&s.kickoff, &p("kickoff"), MAX_NIGHT_MS).unwrap_or_default(),
        before: level(cx, &s.before, "before"),
        spike: level(cx, &s.spike, "spike"),
        first_half: level(cx, &s.first_half, "first_half"),
        half_time_ms: cx.duration(&s.half_time, &p("half_time"), MAX_NIGHT_MS).unwrap_or_default(),
        half_time_for_ms: cx.duration(&s.half_time_for, &p("half_time_for"), MAX_NIGHT_MS).unwrap_or_default(),
        half_time_level: level(cx, &s.half_time_level, "half_time_level"),
        second_half: level(cx, &s.second_half, "second_half"),
        full_time_ms: cx.duration(&s.full_time, &p("full_time"), MAX_NIGHT_MS).unwrap_or_default(),
        extra_time_ms: s.extra_time.as_ref().and_then(|e| cx.offset(e, &p("extra_time"), MAX_NIGHT_MS)).unwrap_or_default(),
        extra_time_level: s.extra_time_level.as_ref().map_or(defaults::EXTRA_TIME_LEVEL, |v| level(cx, v, "extra_time_level")),
        drop_off_ms: cx.duration(&s.drop_off, &p("drop_off"), MAX_NIGHT_MS).unwrap_or_default(),
        after: level(cx, &s.after, "after"),
    };
    if cx.count() > before {
        // A mark that did not parse reads as 0: its order says nothing.
        return None;
    }
    for (mark, why) in shape.check_order() {
        let at = match mark {
            "half_time" => pos(&s.half_time),
            "half_time_for" => pos(&s.half_time_for),
            "full_time" => pos(&s.full_time),
            _ => pos(&s.drop_off),
        };
        cx.err(at, &p(mark), Code::CurveOrder, why);
    }
    (cx.count() == before).then(|| shape.points())
}

fn regions(cx: &mut Cx<'_>, spec: &Spanned<OrderedMap<Spanned<RegionAudienceSpec>>>) -> Vec<RegionAudience> {
    let before = cx.count();
    let mut out: Vec<RegionAudience> = Vec::new();
    let mut parts = Vec::new();
    for (i, (key, v)) in spec.value.0.iter().enumerate() {
        let path = format!("audience.regions.{}", key.value);
        cx.source(Ref::AudienceRegion(i), &path, key);
        let region = cx.region(key, &path);
        let (part, curve) = match &v.value {
            RegionAudienceSpec::Part(part) => (cx.num(&Spanned::new(*part, v.referenced, v.defined), &path, Range::Part), None),
            RegionAudienceSpec::Curve(c) => {
                let part = cx.num(&c.part, &format!("{path}.part"), Range::Part);
                (part, curve(cx, &c.shape, &c.points, pos(v), &path))
            }
        };
        parts.push(part);
        if let Some(region) = region {
            if let Some(other) = out.iter().find(|r| r.region == region) {
                cx.err(pos(key), &path, Code::InvalidScenario, format!("{} is given twice (also as {}); expected each region once", key.value, other.region));
            }
            out.push(RegionAudience { region, part: part.unwrap_or_default(), curve });
        }
    }
    if spec.value.0.is_empty() {
        cx.err(pos(spec), "audience.regions", Code::InvalidScenario, "no regions; expected the regions of the steered names and their parts of the audience");
    }
    if cx.count() == before {
        cx.parts_sum(&parts, spec, "audience.regions", "the audience's regions");
    }
    out
}

fn resolvers(cx: &mut Cx<'_>, a: &AudienceSpec) -> Vec<ResolverClass> {
    let Some(list) = &a.resolvers else {
        return vec![ResolverClass { name: defaults::RESOLVER.to_string(), part: 1.0, min_ttl_secs: 0 }];
    };
    let mut out: Vec<ResolverClass> = Vec::new();
    let mut parts = Vec::new();
    for (i, r) in list.value.iter().enumerate() {
        let path = format!("audience.resolvers[{i}]");
        let name = cx.name(&r.value.name, &format!("{path}.name"));
        if out.iter().any(|o| o.name == name) {
            cx.err(pos(&r.value.name), &format!("{path}.name"), Code::InvalidScenario, format!("resolver class `{name}` is given twice; expected each name once"));
        }
        let part = cx.num(&r.value.part, &format!("{path}.part"), Range::Part);
        parts.push(part);
        let min_ttl = r.value.min_ttl.as_ref().and_then(|t| cx.offset(t, &format!("{path}.min_ttl"), MAX_MIN_TTL_MS)).unwrap_or(0);
        out.push(ResolverClass { name, part: part.unwrap_or_default(), min_ttl_secs: (min_ttl / 1000) as u32 });
    }
    if out.is_empty() {
        cx.err(pos(list), "audience.resolvers", Code::InvalidScenario, "no resolver classes; expected at least one, or no `resolvers` (every resolver honours the TTL)");
    }
    cx.parts_sum(&parts, list, "audience.resolvers", "the resolver classes");
    out
}

fn cdns(cx: &mut Cx<'_>, spec: &OrderedMap<Spanned<CdnSpec>>) -> Vec<CdnTruth> {
    let mut out = Vec::new();
    for (i, (name, c)) in spec.0.iter().enumerate() {
        let path = format!("cdns.{}", name.value);
        cx.source(Ref::Cdn(i), &path, name);
        let empty = PerformanceSpec::default();
        let default_spec = c.value.default.as_ref().map_or(&empty, |d| &d.value);
        let default = performance(cx, default_spec, &defaults::PERFORMANCE, &format!("{path}.default"));
        let mut regions: Vec<(RegionKey, Performance)> = Vec::new();
        for (j, (key, p)) in c.value.regions.0.iter().enumerate() {
            let rpath = format!("{path}.regions.{}", key.value);
            cx.source(Ref::CdnRegion(i, j), &rpath, key);
            let perf = performance(cx, &p.value, &default, &rpath);
            let Some(region) = cx.region(key, &rpath) else { continue };
            if let Some((other, _)) = regions.iter().find(|(r, _)| *r == region) {
                cx.err(pos(key), &rpath, Code::InvalidScenario, format!("{} is given twice (also as {other}); expected each region once", key.value));
            }
            regions.push((region, perf));
        }
        out.push(CdnTruth { cdn: name.value.clone(), regions, default });
    }
    out
}

/// A performance: each field given, else from `base`.
fn performance(cx: &mut Cx<'_>, p: &PerformanceSpec, base: &Performance, path: &str) -> Performance {
    let f = |key: &str| format!("{path}.{key}");
    Performance {
        capacity_gbps: p.capacity_gbps.as_ref().map_or(base.capacity_gbps, |v| cx.num(v, &f("capacity_gbps"), Range::Positive)),
        ttfb_ms: cx.opt_num(&p.ttfb_ms, &f("ttfb_ms"), Range::Positive, base.ttfb_ms),
        throughput_mbps: cx.opt_num(&p.throughput_mbps, &f("throughput_mbps"), Range::Positive, base.throughput_mbps),
        cache_hit_ratio: cx.opt_num(&p.cache_hit_ratio, &f("cache_hit_ratio"), Range::Fraction, base.cache_hit_ratio),
        error_rate: cx.opt_num(&p.error_rate, &f("error_rate"), Range::Fraction, base.error_rate),
    }
}

fn saturation(cx: &mut Cx<'_>, spec: &ScenarioFile) -> Saturation {
    let d = defaults::SATURATION;
    let Some(s) = &spec.saturation else { return d };
    let s = &s.value;
    Saturation {
        knee: cx.opt_num(&s.knee, "saturation.knee", Range::Part, d.knee),
        ttfb_factor: cx.opt_num(&s.ttfb_factor, "saturation.ttfb_factor", Range::Between(1.0, 100.0), d.ttfb_factor),
        throughput_factor: cx.opt_num(&s.throughput_factor, "saturation.throughput_factor", Range::Part, d.throughput_factor),
        error_rate_at_capacity: cx.opt_num(&s.error_rate_at_capacity, "saturation.error_rate_at_capacity", Range::Fraction, d.error_rate_at_capacity),
        error_rate_per_overload: cx.opt_num(&s.error_rate_per_overload, "saturation.error_rate_per_overload", Range::NonNegative, d.error_rate_per_overload),
    }
}

fn telemetry(cx: &mut Cx<'_>, spec: &ScenarioFile) -> TelemetryModel {
    let mut t = TelemetryModel {
        every_ms: defaults::TELEMETRY_EVERY_MS,
        delay_ms: defaults::TELEMETRY_DELAY_MS,
        source: defaults::TELEMETRY_SOURCE.to_string(),
        requests_per_viewer_sec: defaults::REQUESTS_PER_VIEWER_SEC,
    };
    let Some(s) = &spec.telemetry else { return t };
    let s = &s.value;
    if let Some(v) = s.every.as_ref().and_then(|v| cx.duration(v, "telemetry.every", MAX_INTERVAL_MS)) {
        t.every_ms = v;
    }
    if let Some(v) = s.delay.as_ref().and_then(|v| cx.offset(v, "telemetry.delay", MAX_INTERVAL_MS)) {
        t.delay_ms = v;
    }
    if let Some(v) = &s.source {
        t.source = cx.name(v, "telemetry.source");
    }
    t.requests_per_viewer_sec = cx.opt_num(&s.requests_per_viewer_sec, "telemetry.requests_per_viewer_sec", Range::Positive, t.requests_per_viewer_sec);
    t
}

fn probes(cx: &mut Cx<'_>, spec: &ScenarioFile) -> Vec<ProbeSite> {
    let mut out: Vec<ProbeSite> = Vec::new();
    for (i, p) in spec.probes.iter().enumerate() {
        let path = format!("probes[{i}]");
        let p = &p.value;
        let vantage = cx.name(&p.vantage, &format!("{path}.vantage"));
        if out.iter().any(|o| o.vantage == vantage) {
            cx.err(pos(&p.vantage), &format!("{path}.vantage"), Code::InvalidScenario, format!("vantage `{vantage}` is given twice; expected each probe site once"));
        }
        cx.source(Ref::ProbeRegion(i), &format!("{path}.region"), &p.region);
        let region = cx.region(&p.region, &format!("{path}.region"));
        let every = p.every.as_ref().map_or(Some(defaults::PROBE_EVERY_MS), |v| cx.duration(v, &format!("{path}.every"), MAX_INTERVAL_MS));
        let timeout = p.timeout.as_ref().map_or(Some(defaults::PROBE_TIMEOUT_MS), |v| cx.duration(v, &format!("{path}.timeout"), MAX_INTERVAL_MS));
        if let (Some(e), Some(t)) = (every, timeout)
            && t > e
        {
            // At the one written (a default is nowhere in the file).
            let (key, at) = match (&p.timeout, &p.every) {
                (Some(t), _) => ("timeout", pos(t)),
                (None, Some(e)) => ("every", pos(e)),
                (None, None) => ("timeout", pos(&p.vantage)),
            };
            let msg = format!("a timeout of {} is longer than the interval ({}); expected a probe to end before the next one starts", human_duration(t), human_duration(e));
            cx.err(at, &format!("{path}.{key}"), Code::InvalidScenario, msg);
        }
        if let (Some(region), Some(interval_ms), Some(timeout_ms)) = (region, every, timeout) {
            out.push(ProbeSite { vantage, region, interval_ms, timeout_ms });
        }
    }
    out
}

fn limits(cx: &mut Cx<'_>, spec: &ScenarioFile) -> Limits {
    let Some(l) = &spec.limits else { return Limits::default() };
    let l = &l.value;
    let mut num = |v: &Option<Spanned<f64>>, key: &str, range| v.as_ref().and_then(|v| cx.num(v, &format!("limits.{key}"), range));
    Limits {
        max_viewer_minutes_degraded_pct: num(&l.max_viewer_minutes_degraded_pct, "max_viewer_minutes_degraded_pct", Range::Between(0.0, 100.0)),
        max_flaps_per_hour: num(&l.max_flaps_per_hour, "max_flaps_per_hour", Range::NonNegative),
        max_shift_secs: num(&l.max_shift_secs, "max_shift_secs", Range::Positive),
        no_commit_breach: l.no_commit_breach.as_ref().is_some_and(|b| b.value),
        no_max_share_breach: l.no_max_share_breach.as_ref().is_some_and(|b| b.value),
    }
}

/// What the values of a sweep parameter may be, and whether they must be whole numbers.
fn sweep_range(param: SweepParam) -> (Range, bool) {
    match param {
        SweepParam::Down | SweepParam::Up => (Range::Between(0.0, 100.0), false),
        SweepParam::UpHoldSecs | SweepParam::MinDwellSecs => (Range::Between(0.0, 3600.0), false),
        SweepParam::MaxChangePerTick => (Range::Between(SHARE_DEADBAND, 1.0), false),
        SweepParam::MaxShare => (Range::Between(0.01, 1.0), false),
        SweepParam::FastTtlSecs => (Range::Between(1.0, 3600.0), true),
        SweepParam::HalfLifeSecs => (Range::Between(0.001, 3600.0), false),
        SweepParam::WeightTtfb | SweepParam::WeightErrors => (Range::Fraction, false),
    }
}

fn sweep(cx: &mut Cx<'_>, spec: &OrderedMap<Spanned<Vec<Spanned<f64>>>>) -> Vec<SweepAxis> {
    let mut out = Vec::new();
    for (name, values) in &spec.0 {
        let path = format!("sweep.{}", name.value);
        let Some(param) = SweepParam::parse(&name.value) else {
            let known: Vec<&str> = SweepParam::ALL.iter().map(|(_, n)| *n).collect();
            cx.err(pos(name), &path, Code::UnknownKey, format!("`{}` is not a setting a sweep can vary; expected one of: {}", name.value, known.join(", ")));
            continue;
        };
        if values.value.is_empty() {
            cx.err(pos(values), &path, Code::InvalidScenario, "no values; expected a list of values to try");
        }
        let (range, whole) = sweep_range(param);
        let mut axis = SweepAxis { param, values: Vec::new() };
        for (i, v) in values.value.iter().enumerate() {
            let vpath = format!("{path}[{i}]");
            let Some(x) = cx.num(v, &vpath, range) else { continue };
            if whole && x.fract() != 0.0 {
                cx.err(pos(v), &vpath, Code::InvalidScenario, format!("{x}; expected whole seconds"));
            } else if axis.values.contains(&x) {
                cx.err(pos(v), &vpath, Code::InvalidScenario, format!("{x} is listed twice; expected each value once"));
            }
            axis.values.push(x);
        }
        out.push(axis);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_may_be_zero_durations_may_not() {
        assert_eq!(parse_offset("0m"), Ok(0));
        assert_eq!(parse_offset("0h0m"), Ok(0));
        assert_eq!(parse_offset("90s"), Ok(90_000));
        assert!(parse_offset("0").is_err() && parse_offset("").is_err() && parse_offset("0x").is_err());
        assert!(parse_duration("0m").is_err());
    }
}
