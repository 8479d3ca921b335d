//! The truth about a CDN in a region at one moment, pure: its lightly-loaded performance,
//! replaced by what an incident says while it lasts, bent by the saturation curve as its
//! load nears and passes what it can really carry.

use super::scenario::model::{Performance, Saturation};

/// What a CDN delivers in a region now (before measurement noise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    /// Time to first byte, ms.
    pub ttfb_ms: f64,
    /// Throughput, Mbit/s.
    pub throughput_mbps: f64,
    /// Cache hit ratio, 0..1.
    pub cache_hit_ratio: f64,
    /// Error rate, 0..1.
    pub error_rate: f64,
    /// Load / true capacity (0 when unlimited).
    pub utilisation: f64,
    /// Answers nothing.
    pub dark: bool,
}

/// `base` at `load_gbps` under `saturation`; `dark` when an incident turned it off.
pub fn conditions(base: &Performance, saturation: &Saturation, load_gbps: f64, dark: bool) -> Conditions {
    let utilisation = base.capacity_gbps.filter(|c| *c > 0.0).map_or(0.0, |c| load_gbps / c);
    let knee = saturation.knee.clamp(0.0, 0.999);
    // 0 at the knee, 1 at capacity, growing past it.
    let strain = ((utilisation - knee) / (1.0 - knee)).max(0.0);
    let near = strain.min(1.0);
    let over = (utilisation - 1.0).max(0.0);
    let ttfb_ms = base.ttfb_ms * (1.0 + (saturation.ttfb_factor - 1.0) * strain);
    let throughput_mbps = base.throughput_mbps * (1.0 + (saturation.throughput_factor - 1.0) * near) / (1.0 + over);
    let error_rate = (base.error_rate + saturation.error_rate_at_capacity * near + saturation.error_rate_per_overload * over).min(1.0);
    let cache_hit_ratio = base.cache_hit_ratio;
    if dark {
        return Conditions { ttfb_ms, throughput_mbps: 0.0, cache_hit_ratio, error_rate: 1.0, utilisation, dark };
    }
    Conditions { ttfb_ms, throughput_mbps, cache_hit_ratio, error_rate, utilisation, dark }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAT: Saturation = Saturation { knee: 0.8, ttfb_factor: 3.0, throughput_factor: 0.5, error_rate_at_capacity: 0.01, error_rate_per_overload: 0.5 };
    const BASE: Performance = Performance { capacity_gbps: Some(100.0), ttfb_ms: 50.0, throughput_mbps: 20.0, cache_hit_ratio: 0.97, error_rate: 0.001 };

    #[test]
    fn nothing_changes_below_the_knee_and_it_gets_worse_towards_and_past_capacity() {
        assert_eq!(conditions(&BASE, &SAT, 50.0, false).ttfb_ms, 50.0);
        let at = conditions(&BASE, &SAT, 100.0, false);
        assert!((at.ttfb_ms - 150.0).abs() < 1e-9 && (at.throughput_mbps - 10.0).abs() < 1e-9 && (at.error_rate - 0.011).abs() < 1e-12);
        let past = conditions(&BASE, &SAT, 150.0, false);
        assert!(past.error_rate > 0.25 && past.throughput_mbps < at.throughput_mbps && (past.utilisation - 1.5).abs() < 1e-12);
        let dark = conditions(&BASE, &SAT, 10.0, true);
        assert!(dark.dark && dark.error_rate == 1.0 && dark.throughput_mbps == 0.0);
        let unlimited = Performance { capacity_gbps: None, ..BASE };
        assert_eq!(conditions(&unlimited, &SAT, 1e9, false).utilisation, 0.0);
    }
}
