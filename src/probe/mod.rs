//! Active HTTP(S) probes of CDN edges, turned into health [`Observation`]s.
//!
//! - [`fetch`] (in `fetch.rs`): one timed GET of a probe object over a fresh connection:
//!   connect, TLS, time to first byte, body; the failure classification and the cache-status
//!   reading of response headers.
//! - [`to_observation`] (here): a fetch result as the one-request `Observation` the signal
//!   store ingests.
//! - [`spawn_probes`] (in `schedule.rs`): one scheduling task per probe, jittered intervals,
//!   a shared bound on concurrent fetches, results sent on a channel without ever blocking.
//!
//! - [`ProbeStats`] (in `stats.rs`): duration histograms by phase and failures by reason per
//!   probe, for `/metrics`.
//!
//! Probes run on their own tasks and only ever send observations: nothing here touches the
//! served snapshot, so a slow or hanging CDN never slows the DNS path.

mod fetch;
mod schedule;
pub mod stats;

pub use fetch::{cache_status, fetch, fetch_with_tls, tls_config};
pub use schedule::spawn_probes;
pub use stats::ProbeStats;

use crate::health::signal::{FailureReason, Millis, Observation};
use crate::zone::health::Probe;

/// What one successful probe fetch measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeTiming {
    /// Name resolution (when the URL's host is resolved) plus the TCP handshake, ms.
    pub connect_ms: f64,
    /// TLS handshake, ms (`None` for http).
    pub tls_ms: Option<f64>,
    /// From sending the request to receiving the response head, ms.
    pub ttfb_ms: f64,
    /// Body bytes received.
    pub body_bytes: u64,
    /// From the response head to the end of the body, ms.
    pub body_ms: f64,
    /// Body bits per body second, Mbit/s (durations under 1 ms count as 1 ms; 0 for no body).
    pub throughput_mbps: f64,
    /// HTTP status.
    pub status: u16,
    /// Whether the edge served from cache, when its headers tell.
    pub cache_hit: Option<bool>,
}

/// The outcome of one fetch: timings, or why it failed with a human-readable detail.
pub type FetchResult = Result<ProbeTiming, (FailureReason, String)>;

/// The observation a probe result stands for, taken at `at`: one request, with its TTFB,
/// throughput and cache status on success; a failed probe (error, worst-case TTFB of the
/// probe's timeout, zero throughput) otherwise.
pub fn to_observation(probe: &Probe, at: Millis, result: &FetchResult) -> Observation {
    match result {
        Ok(t) => Observation {
            cdn: probe.cdn.clone(),
            region: probe.region.clone(),
            vantage: probe.vantage.clone(),
            at,
            requests: 1,
            errors: 0,
            cache_hits: t.cache_hit.map(u64::from),
            ttfb_ms: Some(t.ttfb_ms),
            throughput_mbps: Some(t.throughput_mbps),
            delivered_gbps: None,
            failure: None,
        },
        Err((reason, _)) => Observation::failed_probe(&probe.cdn, probe.region.clone(), &probe.vantage, at, *reason, probe.timeout_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::model::RegionKey;

    fn probe() -> Probe {
        Probe {
            cdn: "alpha".into(),
            region: RegionKey::Country(*b"KR"),
            vantage: "seoul-1".into(),
            url: "http://edge.example/probe.bin".into(),
            host: None,
            connect: None,
            interval_ms: 5000,
            timeout_ms: 1500,
            expect_status: 200,
            expect_bytes: None,
            cache_headers: vec!["x-cache".into()],
        }
    }

    fn timing(cache_hit: Option<bool>) -> ProbeTiming {
        ProbeTiming {
            connect_ms: 1.0,
            tls_ms: None,
            ttfb_ms: 12.5,
            body_bytes: 1000,
            body_ms: 2.0,
            throughput_mbps: 4.0,
            status: 200,
            cache_hit,
        }
    }

    #[test]
    fn success_is_one_good_request() {
        let o = to_observation(&probe(), 42, &Ok(timing(Some(true))));
        assert_eq!((o.cdn.as_str(), o.vantage.as_str(), o.at), ("alpha", "seoul-1", 42));
        assert_eq!((o.requests, o.errors, o.cache_hits), (1, 0, Some(1)));
        assert_eq!((o.ttfb_ms, o.throughput_mbps, o.failure), (Some(12.5), Some(4.0), None));
        assert_eq!(to_observation(&probe(), 42, &Ok(timing(Some(false)))).cache_hits, Some(0));
        assert_eq!(to_observation(&probe(), 42, &Ok(timing(None))).cache_hits, None);
    }

    #[test]
    fn failure_is_a_failed_probe_at_the_timeout() {
        let o = to_observation(&probe(), 7, &Err((FailureReason::Reset, "gone".into())));
        assert_eq!(o, Observation::failed_probe("alpha", RegionKey::Country(*b"KR"), "seoul-1", 7, FailureReason::Reset, 1500));
    }
}
