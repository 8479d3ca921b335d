//! Checks of a `health:` block, one named step per part (tuning, SLA, weights, thresholds,
//! shares, capacity, demand, probes), every problem located. The result is the zone's
//! `HealthPolicy`; on any problem the zone is refused as a whole by the caller.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use super::model::{Bounds, Capacity, HealthPolicy, Probe, SHARE_DEADBAND};
use super::spec::{BoundsSpec, CapacitySpec, HealthSpec, ProbeSpec, SharesSpec, SlaSpec, ThresholdsSpec, WeightsSpec};
use crate::diag::{Code, Diagnostics, Pos};
use crate::region::{RegionKey, parse_region};
use crate::zone::spec::{OrderedMap, Spanned, pos};

/// What the health block is checked against: the zone's CDN and network list names, and the
/// candidate count of every steered region (YAML path, count) for the max-share rule.
#[derive(Debug, Default)]
pub struct ZoneFacts {
    /// CDN names used by the zone's steered names.
    pub cdns: HashSet<String>,
    /// Network list names of the zone.
    pub networks: HashSet<String>,
    /// `(steered.live.regions.countries.KR, 3)` for every steered region.
    pub regions: Vec<(String, usize)>,
}

/// Check a `health:` block; absent, it is the defaults.
pub fn check_health(file: &Path, spec: Option<&Spanned<HealthSpec>>, facts: &ZoneFacts, diags: &mut Diagnostics) -> HealthPolicy {
    let mut p = HealthPolicy::default();
    let Some(spec) = spec else { return p };
    let s = &spec.value;
    let mut cx = HealthCx { file, facts, diags };
    cx.tuning(s, &mut p);
    if let Some(sla) = &s.sla {
        cx.sla(sla, &mut p);
    }
    if let Some(w) = &s.weights {
        cx.weights(w, pos(spec), &mut p);
    }
    if let Some(t) = &s.thresholds {
        cx.thresholds(t, pos(spec), &mut p);
    }
    if let Some(sh) = &s.shares {
        cx.shares(sh, &mut p);
    }
    cx.capacity(&s.capacity, &mut p);
    cx.demand(&s.demand_gbps, &mut p);
    for (i, probe) in s.probes.iter().enumerate() {
        if let Some(probe) = cx.probe(i, &probe.value) {
            p.probes.push(probe);
        }
    }
    p
}

struct HealthCx<'a> {
    file: &'a Path,
    facts: &'a ZoneFacts,
    diags: &'a mut Diagnostics,
}

impl HealthCx<'_> {
    fn err(&mut self, at: Pos, path: &str, code: Code, message: String) {
        self.diags.push(self.file, at, format!("health.{path}"), code, message);
    }

    /// An integer in `min..=max` (clamped, so later steps see a usable value).
    fn int_in(&mut self, v: &Spanned<u64>, path: &str, min: u64, max: u64) -> u64 {
        if v.value < min || v.value > max {
            self.err(pos(v), path, Code::InvalidHealth, format!("{}; expected {min} to {max}", v.value));
        }
        v.value.clamp(min, max)
    }

    /// A number in `min..=max`, or `None` (reported) when outside or not finite.
    fn number_in(&mut self, v: &Spanned<f64>, path: &str, min: f64, max: f64, what: &str) -> Option<f64> {
        if v.value.is_finite() && (min..=max).contains(&v.value) {
            Some(v.value)
        } else {
            self.err(pos(v), path, Code::InvalidHealth, format!("{}; expected {what}", v.value));
            None
        }
    }

    fn fraction(&mut self, v: &Spanned<f64>, path: &str, allow_zero: bool) -> f64 {
        let ok = v.value.is_finite() && v.value <= 1.0 && (v.value > 0.0 || (allow_zero && v.value == 0.0));
        if !ok {
            let from = if allow_zero { "from " } else { "above " };
            self.err(pos(v), path, Code::InvalidHealth, format!("{}; expected a fraction {from}0 to 1", v.value));
        }
        v.value
    }

    fn ttl(&mut self, v: &Spanned<u32>, path: &str) -> Option<u32> {
        if v.value == 0 || v.value > 3600 {
            self.err(pos(v), path, Code::TtlOutOfBounds, format!("TTL {} is out of bounds; expected 1 to 3600 seconds", v.value));
            return None;
        }
        Some(v.value)
    }

    /// Tick, staleness, smoothing and quorum.
    fn tuning(&mut self, s: &HealthSpec, p: &mut HealthPolicy) {
        if let Some(v) = &s.tick_ms {
            p.tick_ms = self.int_in(v, "tick_ms", 100, 60_000);
        }
        if let Some(v) = &s.staleness_secs {
            p.staleness_ms = self.int_in(v, "staleness_secs", 1, 3600) * 1000;
        }
        if let Some(v) = &s.smoothing_half_life_secs {
            if let Some(secs) = self.number_in(v, "smoothing_half_life_secs", 0.0, 600.0, "0 to 600") {
                p.half_life_ms = secs * 1000.0;
            }
        }
        if let Some(v) = &s.quorum {
            if v.value == 0 || v.value > 64 {
                self.err(pos(v), "quorum", Code::InvalidHealth, format!("{}; expected 1 to 64", v.value));
            } else {
                p.quorum = v.value;
            }
        }
    }

    fn sla(&mut self, sla: &SlaSpec, p: &mut HealthPolicy) {
        self.bounds(&sla.ttfb_ms, "ttfb_ms", true, None, &mut p.sla.ttfb_ms);
        self.bounds(&sla.throughput_mbps, "throughput_mbps", false, None, &mut p.sla.throughput_mbps);
        self.bounds(&sla.cache_hit_ratio, "cache_hit_ratio", false, Some(1.0), &mut p.sla.cache_hit_ratio);
        self.bounds(&sla.error_rate, "error_rate", true, Some(1.0), &mut p.sla.error_rate);
    }

    fn bounds(&mut self, b: &Option<Spanned<BoundsSpec>>, path: &str, lower_better: bool, unit_max: Option<f64>, target: &mut Bounds) {
        let Some(b) = b else { return };
        let (good, bad) = (b.value.good, b.value.bad);
        let ordered = if lower_better { good < bad } else { good > bad };
        let in_range = good.is_finite() && bad.is_finite() && good >= 0.0 && bad >= 0.0 && unit_max.is_none_or(|m| good <= m && bad <= m);
        if ordered && in_range {
            *target = Bounds { good, bad };
            return;
        }
        let up_to = unit_max.map_or(String::new(), |m| format!(" up to {m}"));
        let side = if lower_better { "below" } else { "above" };
        self.err(pos(b), &format!("sla.{path}"), Code::InvalidHealth, format!("good {good}, bad {bad}; expected non-negative bounds{up_to} with good {side} bad"));
    }

    fn weights(&mut self, w: &WeightsSpec, at: Pos, p: &mut HealthPolicy) {
        for (v, path, slot) in [
            (&w.ttfb, "ttfb", &mut p.weights.ttfb),
            (&w.throughput, "throughput", &mut p.weights.throughput),
            (&w.cache_hit, "cache_hit", &mut p.weights.cache_hit),
            (&w.errors, "errors", &mut p.weights.errors),
        ] {
            if let Some(v) = v {
                if let Some(x) = self.number_in(v, &format!("weights.{path}"), 0.0, f64::MAX, "a non-negative number") {
                    *slot = x;
                }
            }
        }
        let total = p.weights.ttfb + p.weights.throughput + p.weights.cache_hit + p.weights.errors;
        if total <= 0.0 {
            self.err(at, "weights", Code::InvalidHealth, "all weights are 0; expected at least one positive weight".to_string());
        }
    }

    fn thresholds(&mut self, t: &ThresholdsSpec, at: Pos, p: &mut HealthPolicy) {
        if let Some(v) = &t.down {
            if let Some(x) = self.number_in(v, "thresholds.down", 0.0, 100.0, "a score from 0 to 100") {
                p.down = x;
            }
        }
        if let Some(v) = &t.up {
            if let Some(x) = self.number_in(v, "thresholds.up", 0.0, 100.0, "a score from 0 to 100") {
                p.up = x;
            }
        }
        if p.up <= p.down {
            let at = t.up.as_ref().map_or(at, pos);
            self.err(at, "thresholds.up", Code::InvalidHealth, format!("up {} must be above down {} (asymmetric hysteresis)", p.up, p.down));
        }
        if let Some(v) = &t.up_hold_secs {
            p.up_hold_ms = self.int_in(v, "thresholds.up_hold_secs", 0, 3600) * 1000;
        }
    }

    fn shares(&mut self, sh: &SharesSpec, p: &mut HealthPolicy) {
        if let Some(v) = &sh.max_change_per_tick {
            p.max_change_per_tick = self.fraction(v, "shares.max_change_per_tick", false);
            if p.max_change_per_tick > 0.0 && p.max_change_per_tick < SHARE_DEADBAND {
                let msg = format!("{}; shares never move by less than the deadband ({SHARE_DEADBAND}) per tick, so a smaller slew limit would freeze them; expected at least {SHARE_DEADBAND}", v.value);
                self.err(pos(v), "shares.max_change_per_tick", Code::InvalidHealth, msg);
            }
        }
        if let Some(v) = &sh.min_dwell_secs {
            p.min_dwell_ms = self.int_in(v, "shares.min_dwell_secs", 0, 3600) * 1000;
        }
        if let Some(v) = &sh.incumbent_bonus {
            if let Some(x) = self.number_in(v, "shares.incumbent_bonus", 0.0, 50.0, "0 to 50 score points") {
                p.incumbent_bonus = x;
            }
        }
        if let Some(v) = &sh.min_warm_share {
            p.min_warm_share = self.fraction(v, "shares.min_warm_share", true);
            if p.min_warm_share > 0.25 {
                self.err(pos(v), "shares.min_warm_share", Code::InvalidHealth, format!("{}; expected at most 0.25", v.value));
            }
        }
        if let Some(v) = &sh.max_share {
            p.max_share = self.fraction(v, "shares.max_share", false);
            self.max_share_reachable(v);
        }
        if let Some(ttl) = sh.fast_ttl_secs.as_ref().and_then(|v| self.ttl(v, "shares.fast_ttl_secs")) {
            p.fast_ttl = ttl;
        }
        if let Some(ttl) = sh.fail_open_ttl_secs.as_ref().and_then(|v| self.ttl(v, "shares.fail_open_ttl_secs")) {
            p.fail_open_ttl = ttl;
        }
    }

    /// With n candidates capped at `max_share` each, the shares reach at most n x max_share:
    /// below 1 they cannot sum to 1 and the cap would be silently broken. Single-candidate
    /// regions are exempt (the cap is lifted there).
    fn max_share_reachable(&mut self, v: &Spanned<f64>) {
        let facts = self.facts;
        for (path, n) in &facts.regions {
            if *n >= 2 && v.value * (*n as f64) < 1.0 - 1e-9 {
                let msg = format!(
                    "{} x {n} candidates of {path} = {:.2}; the shares of a region must sum to 1, so expected max_share of at least {:.3} (1/{n}) or more candidates",
                    v.value,
                    v.value * *n as f64,
                    1.0 / *n as f64
                );
                self.err(pos(v), "shares.max_share", Code::InvalidHealth, msg);
            }
        }
    }

    /// A region reference used inside the health block: parsed, and a network list known.
    fn region(&mut self, text: &Spanned<String>, path: &str) -> Option<RegionKey> {
        match parse_region(&text.value) {
            Ok(RegionKey::Network(n)) if !self.facts.networks.contains(&n) => {
                self.err(pos(text), path, Code::UnknownNetwork, format!("network list `{n}` is not defined in `networks`"));
                None
            }
            Ok(r) => Some(r),
            Err(e) => {
                self.err(pos(text), path, Code::UnknownRegion, e);
                None
            }
        }
    }

    fn known_cdn(&mut self, cdn: &Spanned<String>, path: &str) -> bool {
        if self.facts.cdns.contains(&cdn.value) {
            return true;
        }
        let mut known: Vec<&str> = self.facts.cdns.iter().map(String::as_str).collect();
        known.sort_unstable();
        let msg = format!("CDN `{}` is not used by any steered name of this zone; expected one of: {}", cdn.value, known.join(", "));
        self.err(pos(cdn), path, Code::UnknownCdn, msg);
        false
    }

    fn gbps(&mut self, g: &Spanned<f64>, path: &str) -> f64 {
        if !(g.value.is_finite() && g.value > 0.0) {
            self.err(pos(g), path, Code::InvalidHealth, format!("{}; expected a positive capacity in Gbps", g.value));
        }
        g.value
    }

    fn capacity(&mut self, spec: &OrderedMap<Spanned<CapacitySpec>>, p: &mut HealthPolicy) {
        for (cdn, c) in &spec.0 {
            let path = format!("capacity.{}", cdn.value);
            if !self.known_cdn(cdn, &path) {
                continue;
            }
            let mut cap = Capacity { cdn: cdn.value.clone(), gbps: None, commit_gbps: None, target_utilisation: 0.8, regions: Vec::new() };
            if let Some(g) = &c.value.gbps {
                cap.gbps = Some(self.gbps(g, &format!("{path}.gbps")));
            }
            if let Some(g) = &c.value.commit_gbps {
                let commit = self.gbps(g, &format!("{path}.commit_gbps"));
                if let Some(global) = cap.gbps.filter(|global| commit > *global) {
                    let msg = format!("commit {commit} Gbps is more than the CDN can carry ({global} Gbps); a commit above capacity is paid for and can never be used");
                    self.err(pos(g), &format!("{path}.commit_gbps"), Code::InvalidHealth, msg);
                }
                cap.commit_gbps = Some(commit);
            }
            if let Some(u) = &c.value.target_utilisation {
                cap.target_utilisation = self.fraction(u, &format!("{path}.target_utilisation"), false);
            }
            for (r, g) in &c.value.regions.0 {
                let rp = format!("{path}.regions.{}", r.value);
                if let Some(key) = self.region(r, &rp) {
                    let gbps = self.gbps(g, &rp);
                    if cap.gbps.is_some_and(|global| gbps > global) {
                        self.err(pos(g), &rp, Code::InvalidHealth, format!("{gbps} Gbps in one region is more than the CDN's whole capacity ({} Gbps); a region's figure is a sub-limit of the global one", cap.gbps.unwrap_or_default()));
                    }
                    cap.regions.push((key, gbps));
                }
            }
            p.capacity.push(cap);
        }
    }

    fn demand(&mut self, spec: &OrderedMap<Spanned<f64>>, p: &mut HealthPolicy) {
        for (r, g) in &spec.0 {
            let rp = format!("demand_gbps.{}", r.value);
            if let Some(key) = self.region(r, &rp) {
                if !(g.value.is_finite() && g.value >= 0.0) {
                    self.err(pos(g), &rp, Code::InvalidHealth, format!("{}; expected a demand of 0 Gbps or more", g.value));
                }
                p.demand.push((key, g.value));
            }
        }
    }

    fn probe(&mut self, i: usize, pr: &ProbeSpec) -> Option<Probe> {
        let path = format!("probes[{i}]");
        if !self.known_cdn(&pr.cdn, &format!("{path}.cdn")) {
            return None;
        }
        let region = self.region(&pr.region, &format!("{path}.region"))?;
        let bad = |cx: &mut Self, at: Pos, field: &str, msg: String| cx.err(at, &format!("{path}.{field}"), Code::InvalidProbe, msg);
        let url = pr.url.value.trim().to_string();
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        let host_ok = url.split("://").nth(1).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if !scheme_ok || !host_ok || url.chars().any(char::is_whitespace) {
            bad(self, pos(&pr.url), "url", format!("`{url}`; expected an http:// or https:// URL with a host"));
            return None;
        }
        let connect = match &pr.connect {
            Some(c) => match c.value.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    bad(self, pos(c), "connect", format!("`{}`; expected address:port, e.g. 203.0.113.10:443", c.value));
                    return None;
                }
            },
            None => None,
        };
        let interval_ms = match &pr.interval_secs {
            Some(v) if !(v.value.is_finite() && (0.1..=3600.0).contains(&v.value)) => {
                bad(self, pos(v), "interval_secs", format!("{}; expected 0.1 to 3600 seconds", v.value));
                return None;
            }
            Some(v) => (v.value * 1000.0) as u64,
            None => 5000,
        };
        let timeout_ms = match &pr.timeout_ms {
            Some(v) if v.value == 0 || v.value > 60_000 => {
                bad(self, pos(v), "timeout_ms", format!("{}; expected 1 to 60000 ms", v.value));
                return None;
            }
            Some(v) => v.value,
            None => 2000.min(interval_ms.max(100)),
        };
        let expect_status = match &pr.expect_status {
            Some(v) if !(100..=599).contains(&v.value) => {
                bad(self, pos(v), "expect_status", format!("{}; expected an HTTP status 100 to 599", v.value));
                return None;
            }
            Some(v) => v.value,
            None => 200,
        };
        let cache_headers = match &pr.cache_headers {
            Some(h) => h.iter().map(|h| h.value.to_ascii_lowercase()).collect(),
            None => vec!["x-cache".to_string(), "cf-cache-status".to_string(), "x-cache-status".to_string()],
        };
        Some(Probe {
            cdn: pr.cdn.value.clone(),
            region,
            vantage: pr.vantage.as_ref().map_or_else(|| format!("probe-{i}"), |v| v.value.clone()),
            url,
            host: pr.host.as_ref().map(|h| h.value.clone()),
            connect,
            interval_ms,
            timeout_ms,
            expect_status,
            expect_bytes: pr.expect_bytes.as_ref().map(|b| b.value),
            cache_headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::diag::Diagnostics;

    fn zone(capacity: &str) -> String {
        format!(
            r#"
version: 1
zone: cap.test
soa: {{primary: ns1.cap.test., contact: h.cap.test., serial: 1}}
records:
  - {{name: "@", type: NS, value: ns1.cap.test.}}
steered:
  live:
    last_resort: a
    cdns: {{a: {{target: a.cdn.test}}, b: {{target: b.cdn.test}}}}
    regions:
      default: {{a: 1, b: 1}}
health:
  capacity:
    {capacity}
"#
        )
    }

    fn load(capacity: &str) -> Result<crate::zone::ZoneSet, crate::diag::LoadError> {
        crate::zone::load_texts(&[(PathBuf::from("cap.yaml"), zone(capacity))], Diagnostics::new())
    }

    #[test]
    fn a_commit_is_kept_beside_the_capacity() {
        let zones = load("a: {gbps: 100, commit_gbps: 40}").expect("valid");
        let cap = &zones.zones[0].health.capacity[0];
        assert_eq!((cap.gbps, cap.commit_gbps), (Some(100.0), Some(40.0)));
        let zones = load("a: {commit_gbps: 40}").expect("a commit without a capacity is fine");
        assert_eq!(zones.zones[0].health.capacity[0].commit_gbps, Some(40.0));
    }

    #[test]
    fn a_commit_above_capacity_or_not_positive_is_refused_where_it_is() {
        let err = load("a: {gbps: 100, commit_gbps: 150}").expect_err("commit above capacity");
        let text = err.to_string();
        assert!(text.contains("health.capacity.a.commit_gbps") && text.contains("more than the CDN can carry"), "{text}");
        let err = load("a: {commit_gbps: 0}").expect_err("zero commit");
        assert!(err.to_string().contains("expected a positive capacity"), "{err}");
    }
}
