//! What the engine would see live, from the model: probes at their own intervals per
//! vantage and CDN (the zone's probes and the scenario's probe sites), and player telemetry
//! windows that arrive a delay after they end (so they are as stale as live ones). Values
//! carry seeded noise drawn from a hash of (seed, what, when): the same scenario gives the
//! same observations whatever else changes (a sweep's points see the same noise).

use std::collections::VecDeque;

use super::round;
use super::run::{Night, RegionView};
use super::scenario::model::{IncidentKind, Scenario};
use super::truth::Conditions;
use crate::health::Observation;
use crate::health::signal::FailureReason;
use crate::history::{HistoryHandle, Record};
use crate::qoe::QoeSample;
use crate::region::RegionKey;
use crate::timestamp::Millis;

/// A deterministic unit draw in [0, 1) from `seed` and a key (SplitMix64 finaliser).
pub fn draw(seed: u64, key: &[u64]) -> f64 {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    for k in key {
        x = x.wrapping_add(*k).wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
    }
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A stable number for a text (FNV-1a), to key draws.
pub fn text_key(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// `value` within +-`spread` (a fraction), by the draw.
fn jitter(value: f64, spread: f64, unit: f64) -> f64 {
    value * (1.0 + spread * (2.0 * unit - 1.0))
}

/// One probe: a vantage probing one CDN for one region.
#[derive(Debug, Clone)]
struct ProbeSlot {
    cdn: usize,
    cdn_name: String,
    region: RegionKey,
    vantage: String,
    interval_ms: u64,
    timeout_ms: u64,
    next: Millis,
    key: u64,
}

/// The simulated probes.
#[derive(Debug)]
pub struct Probes {
    slots: Vec<ProbeSlot>,
    seed: u64,
    noise: f64,
    blind: Vec<(u64, u64, String)>,
}

impl Probes {
    /// The zone's probes for the steered name's CDNs and the scenario's probe sites (each
    /// probing every candidate of its region), first runs spread over their interval.
    pub fn new(night: &Night, cdns: &[String]) -> Probes {
        let s = &night.scenario;
        let mut slots = Vec::new();
        let steered = night.zones.steered().nth(night.name);
        let zone = steered.and_then(|n| night.zones.zone_for(&n.name));
        for p in zone.map(|z| z.health.probes.as_slice()).unwrap_or_default() {
            if let Some(c) = cdns.iter().position(|c| *c == p.cdn) {
                slots.push(slot(night, c, &p.cdn, &p.region, &p.vantage, p.interval_ms, p.timeout_ms));
            }
        }
        for site in &s.probes {
            let candidates = steered.and_then(|n| n.regions.iter().find(|r| r.key == site.region)).map(|r| r.candidates.iter().map(|c| c.cdn).collect::<Vec<_>>()).unwrap_or_default();
            for c in candidates {
                if let Some(name) = cdns.get(c) {
                    slots.push(slot(night, c, name, &site.region, &site.vantage, site.interval_ms, site.timeout_ms));
                }
            }
        }
        let blind = s
            .incidents
            .iter()
            .filter_map(|i| match &i.kind {
                IncidentKind::ProbeBlind { vantage } => Some((i.at, i.at + i.for_ms, vantage.clone())),
                _ => None,
            })
            .collect();
        Probes { slots, seed: s.seed, noise: s.noise, blind }
    }

    /// Probes due at `t` (offset `offset` into the night) measure `regions`' conditions.
    pub(super) fn due(&mut self, t: Millis, offset: u64, regions: &[RegionView<'_>], out: &mut Vec<Observation>) {
        for p in &mut self.slots {
            if t < p.next {
                continue;
            }
            let taken = p.next;
            p.next += p.interval_ms.max(1) * ((t - p.next) / p.interval_ms.max(1) + 1);
            if self.blind.iter().any(|(from, to, v)| *v == p.vantage && *from <= offset && offset < *to) {
                continue;
            }
            let Some(cond) = regions.iter().find(|r| *r.key == p.region).and_then(|r| r.conditions.get(p.cdn)) else { continue };
            let key = [p.key, taken];
            let u = |k: u64| draw(self.seed, &[key[0], key[1], k]);
            if cond.dark {
                out.push(Observation::failed_probe(&p.cdn_name, p.region.clone(), &p.vantage, t, FailureReason::Connect, p.timeout_ms));
                continue;
            }
            let ttfb = jitter(cond.ttfb_ms, self.noise, u(1));
            if ttfb >= p.timeout_ms as f64 || u(2) < cond.error_rate {
                let reason = if ttfb >= p.timeout_ms as f64 { FailureReason::Timeout } else { FailureReason::Status };
                out.push(Observation::failed_probe(&p.cdn_name, p.region.clone(), &p.vantage, t, reason, p.timeout_ms));
                continue;
            }
            out.push(Observation {
                cdn: p.cdn_name.clone(),
                region: p.region.clone(),
                vantage: p.vantage.clone(),
                at: t,
                requests: 1,
                errors: 0,
                cache_hits: Some(u64::from(u(3) < cond.cache_hit_ratio)),
                ttfb_ms: Some(ttfb.round()),
                throughput_mbps: Some(round(jitter(cond.throughput_mbps, self.noise, u(4)), 1)),
                delivered_gbps: None,
                failure: None,
            });
        }
    }
}

fn slot(night: &Night, cdn: usize, name: &str, region: &RegionKey, vantage: &str, interval_ms: u64, timeout_ms: u64) -> ProbeSlot {
    let key = text_key(&format!("probe/{vantage}/{name}/{region}"));
    let phase = (draw(night.scenario.seed, &[key]) * interval_ms as f64) as u64;
    ProbeSlot { cdn, cdn_name: name.to_string(), region: region.clone(), vantage: vantage.to_string(), interval_ms, timeout_ms, next: night.start + phase, key }
}

/// The simulated player telemetry: one window per CDN x region, arriving after a delay.
#[derive(Debug)]
pub struct Telemetry {
    every_ms: u64,
    delay_ms: u64,
    vantage: String,
    source: String,
    seed: u64,
    noise: f64,
    requests_per_viewer_sec: f64,
    next_window: Millis,
    in_flight: VecDeque<(Millis, Observation)>,
    stops: Vec<(u64, u64, Option<RegionKey>)>,
}

impl Telemetry {
    /// Windows of `telemetry.every` from the night's start.
    pub fn new(night: &Night) -> Telemetry {
        let s: &Scenario = &night.scenario;
        let stops = s
            .incidents
            .iter()
            .filter_map(|i| match &i.kind {
                IncidentKind::TelemetryStops { region } => Some((i.at, i.at + i.for_ms, region.clone())),
                _ => None,
            })
            .collect();
        Telemetry {
            every_ms: s.telemetry.every_ms.max(1),
            delay_ms: s.telemetry.delay_ms,
            vantage: format!("rum:{}", s.telemetry.source),
            source: s.telemetry.source.clone(),
            seed: s.seed,
            noise: s.noise,
            requests_per_viewer_sec: s.telemetry.requests_per_viewer_sec,
            next_window: night.start + s.telemetry.every_ms.max(1),
            in_flight: VecDeque::new(),
            stops,
        }
    }

    /// Close the windows ending by `t`, and hand over those that arrive by `t`. The QoE of a
    /// window goes to `history` when it arrives, as the telemetry API would record it.
    pub(super) fn due(&mut self, t: Millis, offset: u64, regions: &[RegionView<'_>], cdns: &[String], bitrate: f64, out: &mut Vec<Observation>, history: Option<&HistoryHandle>) {
        while self.next_window <= t {
            let end = self.next_window;
            self.next_window += self.every_ms;
            for r in regions {
                if self.stops.iter().any(|(from, to, region)| *from <= offset && offset < *to && region.as_ref().is_none_or(|k| k == r.key)) {
                    continue;
                }
                for (c, cond) in r.conditions.iter().enumerate() {
                    let viewers = r.viewers.get(c).copied().unwrap_or(0.0);
                    if viewers < 1.0 {
                        continue;
                    }
                    let o = self.window(end, r.key, &cdns[c], viewers, cond, bitrate);
                    self.in_flight.push_back((end + self.delay_ms, o));
                }
            }
        }
        let mut qoe = Vec::new();
        while self.in_flight.front().is_some_and(|(arrives, _)| *arrives <= t) {
            let Some((_, o)) = self.in_flight.pop_front() else { break };
            if history.is_some() {
                qoe.push(self.qoe(&o, bitrate));
            }
            out.push(o);
        }
        if let Some(h) = history
            && !qoe.is_empty()
        {
            h.send_wait(Record::Qoe(qoe));
        }
    }

    fn window(&self, end: Millis, region: &RegionKey, cdn: &str, viewers: f64, cond: &Conditions, bitrate: f64) -> Observation {
        let key = text_key(&format!("rum/{cdn}/{region}"));
        let u = |k: u64| draw(self.seed, &[key, end, k]);
        let secs = self.every_ms as f64 / 1000.0;
        let requests = (viewers * self.requests_per_viewer_sec * secs).round().max(1.0) as u64;
        let errors = ((requests as f64) * jitter(cond.error_rate, self.noise * 4.0, u(1)).clamp(0.0, 1.0)).round() as u64;
        Observation {
            cdn: cdn.to_string(),
            region: region.clone(),
            vantage: self.vantage.clone(),
            at: end,
            requests,
            errors: errors.min(requests),
            cache_hits: Some(((requests as f64) * jitter(cond.cache_hit_ratio, self.noise / 5.0, u(2)).clamp(0.0, 1.0)).round() as u64),
            ttfb_ms: Some(jitter(cond.ttfb_ms, self.noise, u(3)).round()),
            throughput_mbps: Some(round(jitter(cond.throughput_mbps, self.noise, u(4)), 1)),
            delivered_gbps: Some(round(viewers * bitrate / 1000.0 * (1.0 - cond.error_rate), 1)),
            failure: None,
        }
    }

    /// The players' experience behind a window: rebuffering grows as throughput nears the
    /// bitrate and with errors; startup time with TTFB and errors.
    fn qoe(&self, o: &Observation, bitrate: f64) -> QoeSample {
        let err = if o.requests > 0 { o.errors as f64 / o.requests as f64 } else { 0.0 };
        let thr = o.throughput_mbps.unwrap_or(0.0);
        let ttfb = o.ttfb_ms.unwrap_or(0.0);
        let starved = if thr > 0.0 { (bitrate * 1.5 / thr - 0.3).max(0.0) } else { 1.0 };
        let rebuffer = (0.002 + 0.6 * err + 0.04 * starved).min(1.0);
        let startup = 400.0 + 3.0 * ttfb + 8_000.0 * err;
        let viewers = (o.delivered_gbps.unwrap_or(0.0) * 1000.0 / bitrate.max(0.1) / (1.0 - err).max(0.01)).round();
        QoeSample {
            cdn: o.cdn.clone(),
            region: o.region.clone(),
            source: self.source.clone(),
            at: o.at,
            window_secs: Some(self.every_ms / 1000),
            viewers: Some(viewers as u64),
            startup_p50_ms: Some(startup.round()),
            startup_p95_ms: Some((startup * 2.5).round()),
            rebuffer_ratio: Some((rebuffer * 10_000.0).round() / 10_000.0),
            playback_failures: Some((viewers * err * 0.05).round() as u64),
            exits_before_start: Some((viewers * (0.001 + err * 0.1)).round() as u64),
            ttfb_p50_ms: o.ttfb_ms,
            ttfb_p95_ms: o.ttfb_ms.map(|t| (t * 2.2).round()),
            ttfb_p99_ms: o.ttfb_ms.map(|t| (t * 3.5).round()),
            requests: o.requests,
            errors: o.errors,
            delivered_gbps: o.delivered_gbps,
        }
    }
}
