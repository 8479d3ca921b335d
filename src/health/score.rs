//! Pure: signals + SLA bounds + weights -> a score 0..100 with its reasons, and the EWMA that
//! smooths it over time. `now` is passed in.
//!
//! Each signal is normalised to 0..1 between its "bad" and "good" bounds (linear, clamped),
//! and the normalised values are combined as a weighted geometric mean (signals with no data
//! are left out and the remaining weights renormalised), scaled to 0..100. Geometric, not
//! arithmetic: a CDN failing every request must not score 70 because its latency is fine. A
//! signal at or past its bad bound counts as `FLOOR`, so its weight alone decides how far it
//! pulls the score down (weight 0.3 at bad: at most 25; weight 0.1: at most 63). The reasons
//! say how many points each signal cost, so explain, logs and reports can say why.

use serde::{Deserialize, Serialize};

use crate::health::signal::{Millis, SignalValues};
use crate::zone::health::{Bounds, HealthPolicy};

/// The four scored signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// Time to first byte.
    Ttfb,
    /// Throughput.
    Throughput,
    /// Cache hit ratio.
    CacheHit,
    /// Error rate.
    Errors,
}

impl SignalKind {
    /// Name used in reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Ttfb => "ttfb",
            SignalKind::Throughput => "throughput",
            SignalKind::CacheHit => "cache_hit",
            SignalKind::Errors => "errors",
        }
    }
}

/// What one signal contributed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Which signal.
    pub signal: SignalKind,
    /// Its measured value.
    pub value: f64,
    /// Normalised 0 (at or past bad) to 1 (at or past good).
    pub normalised: f64,
    /// Score points it cost (0 when at or better than good).
    pub cost: f64,
}

/// A score with its reasons (worst first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// 0..100.
    pub value: f64,
    /// Per signal, most costly first.
    pub reasons: Vec<Reason>,
}

impl Score {
    /// One line for logs: `score 23: errors -30 (0.08), ttfb -27 (950ms)`.
    pub fn summary(&self) -> String {
        let mut s = format!("score {:.0}", self.value);
        let costly: Vec<String> = self
            .reasons
            .iter()
            .filter(|r| r.cost >= 1.0)
            .map(|r| format!("{} -{:.0} ({:.3})", r.signal.as_str(), r.cost, r.value))
            .collect();
        if !costly.is_empty() {
            s.push_str(": ");
            s.push_str(&costly.join(", "));
        }
        s
    }
}

/// What a signal at or past its bad bound counts as in the geometric mean (0 would let any
/// zero-weight-ish signal veto everything).
pub const FLOOR: f64 = 0.01;

/// Linear position of `value` between `bad` (0) and `good` (1), clamped; works for both
/// directions (good < bad for latency and errors, good > bad for throughput and hits).
pub fn normalise(value: f64, b: Bounds) -> f64 {
    if !value.is_finite() {
        return 0.0;
    }
    let span = b.good - b.bad;
    if span == 0.0 {
        return if value == b.good { 1.0 } else { 0.0 };
    }
    ((value - b.bad) / span).clamp(0.0, 1.0)
}

/// The score value alone (no reasons, no allocation): what the engine computes per vantage
/// per tick. Same arithmetic as `score`.
pub fn value(values: &SignalValues, policy: &HealthPolicy) -> Option<f64> {
    let w = policy.weights;
    let sla = policy.sla;
    let parts = [
        (values.ttfb_ms, sla.ttfb_ms, w.ttfb),
        (values.throughput_mbps, sla.throughput_mbps, w.throughput),
        (values.cache_hit_ratio, sla.cache_hit_ratio, w.cache_hit),
        (values.error_rate, sla.error_rate, w.errors),
    ];
    let total: f64 = parts.iter().filter(|p| p.0.is_some()).map(|p| p.2).sum();
    if total <= 0.0 {
        return None;
    }
    let mut product = 1.0;
    for (v, bounds, weight) in parts {
        if let Some(v) = v {
            product *= normalise(v, bounds).max(FLOOR).powf(weight / total);
        }
    }
    Some(product * 100.0)
}

/// Score a set of signal values; `None` when no signal has data.
pub fn score(values: &SignalValues, policy: &HealthPolicy) -> Option<Score> {
    let w = policy.weights;
    let sla = policy.sla;
    let parts = [
        (SignalKind::Ttfb, values.ttfb_ms, sla.ttfb_ms, w.ttfb),
        (SignalKind::Throughput, values.throughput_mbps, sla.throughput_mbps, w.throughput),
        (SignalKind::CacheHit, values.cache_hit_ratio, sla.cache_hit_ratio, w.cache_hit),
        (SignalKind::Errors, values.error_rate, sla.error_rate, w.errors),
    ];
    let total: f64 = parts.iter().filter(|p| p.1.is_some()).map(|p| p.3).sum();
    if total <= 0.0 {
        return None;
    }
    let mut product = 1.0;
    let mut reasons = Vec::with_capacity(4);
    for (kind, v, bounds, weight) in parts {
        let Some(v) = v else { continue };
        let n = normalise(v, bounds);
        let factor = n.max(FLOOR).powf(weight / total);
        product *= factor;
        // Points this signal costs on its own (the factors multiply, so costs overlap a little).
        reasons.push(Reason { signal: kind, value: v, normalised: n, cost: (1.0 - factor) * 100.0 });
    }
    let value = product * 100.0;
    reasons.sort_by(|a, b| b.cost.total_cmp(&a.cost));
    Some(Score { value: value.clamp(0.0, 100.0), reasons })
}

/// Combine several vantage points' scores with a quorum: the region's score is the
/// `quorum`-th lowest, so fewer than `quorum` bad vantages cannot pull it down. With fewer
/// fresh vantages than the quorum nothing can be decided: unknown (`None`), which holds the
/// CDN where it is rather than calling it healthy or down.
/// `scores` pairs each vantage's score with whatever the caller keeps beside it; they are
/// sorted in place.
pub fn with_quorum<T>(scores: &mut [(f64, T)], quorum: usize) -> Option<&(f64, T)> {
    let quorum = quorum.max(1);
    if scores.len() < quorum {
        return None;
    }
    scores.sort_by(|a, b| a.0.total_cmp(&b.0));
    scores.get(quorum - 1)
}

/// Exponentially smoothed score, time-aware: after `dt` the old value keeps weight
/// `2^(-dt/half_life)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Smoothed {
    /// Current smoothed value.
    pub value: f64,
    /// When it was last updated.
    pub at: Millis,
}

impl Smoothed {
    /// Start at a first observation.
    pub fn new(value: f64, at: Millis) -> Smoothed {
        Smoothed { value, at }
    }

    /// Fold in `instant` observed at `now`. Falls use a quarter of the half-life: quick to
    /// distrust, slow to trust (the share engine adds the hold time on the way up).
    pub fn update(&mut self, instant: f64, now: Millis, half_life_ms: f64) {
        let dt = now.saturating_sub(self.at) as f64;
        let half_life = if instant < self.value { half_life_ms / 4.0 } else { half_life_ms };
        let keep = if half_life <= 0.0 { 0.0 } else { (-dt / half_life).exp2() };
        self.value = self.value * keep + instant * (1.0 - keep);
        self.at = self.at.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HealthPolicy {
        HealthPolicy::default()
    }

    #[test]
    fn perfect_and_terrible() {
        let good = SignalValues { ttfb_ms: Some(50.0), throughput_mbps: Some(100.0), cache_hit_ratio: Some(0.99), error_rate: Some(0.0) };
        assert_eq!(score(&good, &policy()).map(|s| s.value), Some(100.0));
        let bad = SignalValues { ttfb_ms: Some(5000.0), throughput_mbps: Some(0.0), cache_hit_ratio: Some(0.1), error_rate: Some(1.0) };
        // Everything at bad: the floor, 100 * 0.01.
        assert!(score(&bad, &policy()).is_some_and(|s| (s.value - 1.0).abs() < 1e-9));
        assert!(score(&SignalValues::default(), &policy()).is_none());
    }

    #[test]
    fn reasons_name_the_culprit_and_failing_requests_are_fatal() {
        let v = SignalValues { ttfb_ms: Some(100.0), throughput_mbps: Some(50.0), cache_hit_ratio: Some(0.99), error_rate: Some(0.2) };
        let s = score(&v, &policy()).unwrap();
        assert_eq!(s.reasons[0].signal, SignalKind::Errors);
        // 0.01^0.3 = 0.251: an error rate past the bad bound caps the score near 25.
        assert!((s.value - 25.12).abs() < 0.01, "{}", s.value);
        assert!(s.value < policy().down);
        assert!(s.summary().contains("errors -75"), "{}", s.summary());
        // Halfway on one signal costs far less.
        let v = SignalValues { ttfb_ms: Some(600.0), throughput_mbps: Some(50.0), cache_hit_ratio: Some(0.99), error_rate: Some(0.0) };
        let s = score(&v, &policy()).unwrap();
        assert!((s.value - 100.0 * 0.5f64.powf(0.3)).abs() < 1e-6, "{}", s.value);
    }

    #[test]
    fn value_matches_score() {
        let v = SignalValues { ttfb_ms: Some(420.0), throughput_mbps: Some(9.0), cache_hit_ratio: Some(0.8), error_rate: Some(0.01) };
        let full = score(&v, &policy()).unwrap().value;
        assert!((value(&v, &policy()).unwrap() - full).abs() < 1e-9);
    }

    #[test]
    fn missing_signals_renormalise() {
        let v = SignalValues { error_rate: Some(0.0), ..SignalValues::default() };
        assert_eq!(score(&v, &policy()).map(|s| s.value), Some(100.0));
    }

    #[test]
    fn quorum_needs_enough_bad_vantages() {
        let pick = |mut v: Vec<(f64, ())>, q| with_quorum(&mut v, q).map(|x| x.0);
        assert_eq!(pick(vec![(90.0, ()), (10.0, ()), (95.0, ())], 1), Some(10.0));
        assert_eq!(pick(vec![(90.0, ()), (10.0, ()), (95.0, ())], 2), Some(90.0));
        assert_eq!(pick(vec![(10.0, ())], 2), None, "one vantage cannot make a quorum of two");
        assert_eq!(pick(vec![], 1), None);
    }

    #[test]
    fn smoothing_is_slow_up_and_quick_down() {
        let mut s = Smoothed::new(0.0, 0);
        s.update(100.0, 3000, 3000.0);
        assert!((s.value - 50.0).abs() < 1e-9, "one half-life up: halfway");
        s.update(100.0, 3000, 3000.0);
        assert!((s.value - 50.0).abs() < 1e-9, "no time passed, no change");
        let mut s = Smoothed::new(100.0, 0);
        s.update(0.0, 750, 3000.0);
        assert!((s.value - 50.0).abs() < 1e-9, "a quarter half-life down: halfway");
    }
}
