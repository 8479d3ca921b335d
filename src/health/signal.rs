//! Health facts per CDN x region, from active probes and pushed telemetry alike. Pure: time is
//! a `Millis` passed in, nothing here reads a clock or does I/O.
//!
//! Each (CDN, region) keeps one `VantageSignal` per vantage point (a probe location, or a RUM
//! / log source): request-weighted moving averages of TTFB, throughput, cache hit ratio and
//! error rate, with sample counts and the time of the last sample. A vantage whose last sample
//! is older than the staleness window is ignored: stale is unknown, never healthy.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;

use crate::zone::model::RegionKey;

pub use crate::timestamp::Millis;

/// Why a probe failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// Could not connect (refused, unreachable).
    Connect,
    /// TLS handshake failed.
    Tls,
    /// No complete response within the timeout.
    Timeout,
    /// Connection reset or closed mid-response.
    Reset,
    /// Unexpected HTTP status.
    Status,
    /// Body shorter or longer than expected.
    Size,
    /// Anything else (malformed HTTP, ...).
    Protocol,
}

impl FailureReason {
    /// Every reason, in declaration order (`reason as usize` indexes this list).
    pub const ALL: [FailureReason; 7] = [
        FailureReason::Connect,
        FailureReason::Tls,
        FailureReason::Timeout,
        FailureReason::Reset,
        FailureReason::Status,
        FailureReason::Size,
        FailureReason::Protocol,
    ];

    /// Short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Connect => "connect",
            FailureReason::Tls => "tls",
            FailureReason::Timeout => "timeout",
            FailureReason::Reset => "reset",
            FailureReason::Status => "status",
            FailureReason::Size => "size",
            FailureReason::Protocol => "protocol",
        }
    }
}

/// One measurement: a probe result, or one telemetry record covering a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// CDN name, as in the zones.
    pub cdn: String,
    /// Region the measurement speaks for.
    pub region: RegionKey,
    /// Vantage point (probe name, or `rum:<source>`).
    pub vantage: String,
    /// When it was taken (end of the window).
    pub at: Millis,
    /// Requests measured (1 for a probe).
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Of which were cache hits, when known.
    pub cache_hits: Option<u64>,
    /// Time to first byte, ms (median for a window).
    pub ttfb_ms: Option<f64>,
    /// Throughput, Mbit/s.
    pub throughput_mbps: Option<f64>,
    /// Traffic delivered in the window, Gbps (telemetry only; feeds the demand estimate).
    pub delivered_gbps: Option<f64>,
    /// Failure class for a failed probe.
    pub failure: Option<FailureReason>,
}

impl Observation {
    /// A failed probe: counts as an error and as worst-case latency and throughput, so a
    /// CDN that hangs scores as badly as one that answers slowly.
    pub fn failed_probe(cdn: &str, region: RegionKey, vantage: &str, at: Millis, reason: FailureReason, timeout_ms: u64) -> Observation {
        Observation {
            cdn: cdn.to_string(),
            region,
            vantage: vantage.to_string(),
            at,
            requests: 1,
            errors: 1,
            cache_hits: None,
            ttfb_ms: Some(timeout_ms as f64),
            throughput_mbps: Some(0.0),
            delivered_gbps: None,
            failure: Some(reason),
        }
    }
}

/// A request-weighted exponential average: each new sample of weight `n` replaces a fraction
/// `1 - (1 - ALPHA)^n` of the old value, so one sample moves it a lot and a window of many
/// requests moves it more, but never all the way from a single probe.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Average {
    value: Option<f64>,
}

/// Weight of one sample in `Average`.
const ALPHA: f64 = 0.6;
/// Weight of one request in the cache hit ratio. A probe's request is a hit or a miss, and
/// edges miss now and then (eviction, a cold node): at `ALPHA` one miss would put a healthy
/// CDN below the SLA's `bad` bound for several ticks and shift traffic for nothing (the
/// simulator showed it as share flaps). A telemetry window of many requests still replaces
/// the value at once.
const ALPHA_CACHE: f64 = 0.1;

impl Average {
    fn add(&mut self, sample: f64, weight: u64) {
        self.add_with(sample, weight, ALPHA);
    }

    fn add_with(&mut self, sample: f64, weight: u64, alpha: f64) {
        if !sample.is_finite() {
            return;
        }
        let keep = (1.0 - alpha).powf(weight.clamp(1, 64) as f64);
        self.value = Some(match self.value {
            None => sample,
            Some(old) => old * keep + sample * (1.0 - keep),
        });
    }

    /// Current value.
    pub fn get(&self) -> Option<f64> {
        self.value
    }
}

/// What one vantage point says about a CDN in a region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VantageSignal {
    /// TTFB, ms.
    pub ttfb_ms: Average,
    /// Throughput, Mbit/s.
    pub throughput_mbps: Average,
    /// Cache hit ratio, 0..1.
    pub cache_hit_ratio: Average,
    /// Error rate, 0..1.
    pub error_rate: Average,
    /// Requests seen in total.
    pub samples: u64,
    /// Time of the last sample.
    pub last: Millis,
    /// Last failure reason, if the last sample failed.
    pub last_failure: Option<FailureReason>,
    /// Failed probes in a row.
    pub failures_in_a_row: u32,
}

/// Failed probes in a row before they count. One failed probe is one request: as an error
/// rate it reads 60% (past every SLA's `bad` bound), which would drain a healthy CDN for a
/// reset or a lost packet and bring it back after the hold time (the simulator showed such
/// flaps in every probed region). A second failure in a row counts, with the first.
pub const PROBE_FAILURES_TO_COUNT: u32 = 2;

impl VantageSignal {
    fn add(&mut self, o: &Observation) {
        if o.failure.is_some() && o.requests <= 1 {
            self.failures_in_a_row += 1;
            if self.failures_in_a_row < PROBE_FAILURES_TO_COUNT {
                // Unconfirmed: nothing changes, not even the time of the last sample (a lone
                // failure must not make old healthy values fresh again).
                self.last_failure = o.failure;
                return;
            }
            if self.failures_in_a_row == PROBE_FAILURES_TO_COUNT {
                self.add_values(o);
            }
        } else if o.failure.is_none() {
            self.failures_in_a_row = 0;
        }
        self.add_values(o);
    }

    fn add_values(&mut self, o: &Observation) {
        let n = o.requests.max(1);
        if let Some(t) = o.ttfb_ms {
            self.ttfb_ms.add(t, n);
        }
        if let Some(t) = o.throughput_mbps {
            self.throughput_mbps.add(t, n);
        }
        if let Some(h) = o.cache_hits {
            self.cache_hit_ratio.add_with(h as f64 / n as f64, n, ALPHA_CACHE);
        }
        self.error_rate.add(o.errors.min(n) as f64 / n as f64, n);
        self.samples += n;
        self.last = self.last.max(o.at);
        self.last_failure = o.failure;
    }

    /// Age of the newest sample at `now`.
    pub fn age(&self, now: Millis) -> Millis {
        now.saturating_sub(self.last)
    }
}

/// The current values of one vantage, for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SignalValues {
    /// TTFB, ms.
    pub ttfb_ms: Option<f64>,
    /// Throughput, Mbit/s.
    pub throughput_mbps: Option<f64>,
    /// Cache hit ratio.
    pub cache_hit_ratio: Option<f64>,
    /// Error rate.
    pub error_rate: Option<f64>,
}

impl VantageSignal {
    /// Current values.
    pub fn values(&self) -> SignalValues {
        SignalValues {
            ttfb_ms: self.ttfb_ms.get(),
            throughput_mbps: self.throughput_mbps.get(),
            cache_hit_ratio: self.cache_hit_ratio.get(),
            error_rate: self.error_rate.get(),
        }
    }
}

/// One source's latest delivered-traffic reading for a (CDN, region).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Delivered {
    gbps: f64,
    at: Millis,
}

/// Most vantages (probe locations and telemetry sources) kept per (CDN, region); beyond it a
/// new vantage's observations are dropped (counted by the caller), so a misbehaving pusher
/// cannot grow memory without bound.
pub const MAX_VANTAGES: usize = 64;

/// All signals.
#[derive(Debug, Clone, Default)]
pub struct SignalStore {
    /// region -> cdn -> vantage -> signal (nested so lookups borrow, never allocate).
    signals: HashMap<RegionKey, HashMap<String, BTreeMap<String, VantageSignal>>>,
    /// region -> cdn -> source -> latest delivered traffic.
    delivered: HashMap<RegionKey, HashMap<String, BTreeMap<String, Delivered>>>,
}

impl SignalStore {
    /// An empty store.
    pub fn new() -> SignalStore {
        SignalStore::default()
    }

    /// Record an observation. Returns false when it was dropped: a new vantage for a (CDN,
    /// region) that already has `MAX_VANTAGES`.
    pub fn ingest(&mut self, o: &Observation) -> bool {
        let per_cdn = self.signals.entry(o.region.clone()).or_default().entry(o.cdn.clone()).or_default();
        if !per_cdn.contains_key(&o.vantage) && per_cdn.len() >= MAX_VANTAGES {
            return false;
        }
        match per_cdn.get_mut(&o.vantage) {
            Some(v) => v.add(o),
            None => per_cdn.entry(o.vantage.clone()).or_default().add(o),
        }
        if let Some(g) = o.delivered_gbps {
            if g.is_finite() && g >= 0.0 {
                let sources = self.delivered.entry(o.region.clone()).or_default().entry(o.cdn.clone()).or_default();
                let slot = sources.entry(o.vantage.clone()).or_default();
                if o.at >= slot.at {
                    *slot = Delivered { gbps: g, at: o.at };
                }
            }
        }
        true
    }

    /// Every vantage of (cdn, region), fresh or not, in name order.
    pub fn vantages(&self, cdn: &str, region: &RegionKey) -> Option<&BTreeMap<String, VantageSignal>> {
        self.signals.get(region)?.get(cdn)
    }

    /// Every vantage of every (CDN, region), fresh or not, in no particular order: (region,
    /// CDN, vantage, signal).
    pub fn iter(&self) -> impl Iterator<Item = (&RegionKey, &str, &str, &VantageSignal)> {
        self.signals.iter().flat_map(|(region, cdns)| {
            cdns.iter().flat_map(move |(cdn, vantages)| vantages.iter().map(move |(v, s)| (region, cdn.as_str(), v.as_str(), s)))
        })
    }

    /// Fresh vantages of (cdn, region) at `now`, in name order (deterministic).
    pub fn fresh<'a>(&'a self, cdn: &str, region: &RegionKey, now: Millis, staleness: Millis) -> impl Iterator<Item = (&'a str, &'a VantageSignal)> + 'a {
        self.vantages(cdn, region)
            .into_iter()
            .flat_map(|v| v.iter())
            .filter(move |(_, s)| s.age(now) <= staleness)
            .map(|(k, s)| (k.as_str(), s))
    }

    /// True if (cdn, region) ever had a sample (fresh or not).
    pub fn ever(&self, cdn: &str, region: &RegionKey) -> bool {
        self.vantages(cdn, region).is_some()
    }

    /// Fresh delivered traffic of a region, Gbps, if telemetry has any: per CDN the mean of
    /// each source's latest fresh reading (several sources measure the same traffic; adding
    /// them would double it, alternating between them would make caps oscillate), summed over
    /// CDNs. Only the region's own readings count: a country's demand is never inferred from
    /// its continent's.
    pub fn demand(&self, region: &RegionKey, now: Millis, staleness: Millis) -> Option<f64> {
        let per_cdn = self.delivered.get(region)?;
        let mut total = None;
        for sources in per_cdn.values() {
            let fresh: SmallVec<[f64; 4]> = sources.values().filter(|d| now.saturating_sub(d.at) <= staleness).map(|d| d.gbps).collect();
            if !fresh.is_empty() {
                *total.get_or_insert(0.0) += fresh.iter().sum::<f64>() / fresh.len() as f64;
            }
        }
        total
    }

    /// Forget regions no longer served (reload), keeping everything else.
    pub fn retain_regions(&mut self, keep: impl Fn(&RegionKey) -> bool) {
        self.signals.retain(|k, _| keep(k));
        self.delivered.retain(|k, _| keep(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failed_probe_is_unconfirmed_and_the_second_in_a_row_counts_with_it() {
        let kr = RegionKey::Country(*b"KR");
        let ok = |at| Observation { cache_hits: Some(1), throughput_mbps: Some(30.0), ..obs("p", at, 50.0, 0) };
        let failed = |at| Observation::failed_probe("a", kr.clone(), "p", at, FailureReason::Reset, 2000);
        let mut v = VantageSignal::default();
        v.add(&ok(1000));
        v.add(&failed(2000));
        assert_eq!(v.values().error_rate, Some(0.0), "a lone failure changes nothing");
        assert_eq!((v.last, v.last_failure), (1000, Some(FailureReason::Reset)), "not even freshness, but it says why");
        v.add(&ok(3000));
        v.add(&failed(4000));
        assert_eq!(v.values().error_rate, Some(0.0), "failures that are not in a row stay unconfirmed");
        v.add(&failed(5000));
        let e = v.values().error_rate.unwrap_or(0.0);
        assert!(e > 0.8, "two in a row count, both: {e}");
        assert!(v.values().ttfb_ms.unwrap_or(0.0) > 1000.0);
        // One cache miss among hits does not sink the hit ratio below any sane SLA bound.
        let mut c = VantageSignal::default();
        c.add(&ok(1000));
        c.add(&Observation { cache_hits: Some(0), ..ok(2000) });
        assert!(c.values().cache_hit_ratio.unwrap_or(0.0) >= 0.89);
    }

    fn obs(vantage: &str, at: Millis, ttfb: f64, errors: u64) -> Observation {
        Observation {
            cdn: "a".into(),
            region: RegionKey::Country(*b"KR"),
            vantage: vantage.into(),
            at,
            requests: 1,
            errors,
            cache_hits: Some(1),
            ttfb_ms: Some(ttfb),
            throughput_mbps: Some(50.0),
            delivered_gbps: None,
            failure: None,
        }
    }

    #[test]
    fn averages_move_towards_samples_and_staleness_hides() {
        let mut s = SignalStore::new();
        let kr = RegionKey::Country(*b"KR");
        s.ingest(&obs("v1", 1000, 100.0, 0));
        s.ingest(&obs("v1", 2000, 300.0, 0));
        let fresh: Vec<_> = s.fresh("a", &kr, 2000, 30_000).collect();
        assert_eq!(fresh.len(), 1);
        let t = fresh[0].1.values().ttfb_ms.unwrap();
        assert!(t > 100.0 && t < 300.0, "{t}");
        assert_eq!(fresh[0].1.samples, 2);
        assert_eq!(s.fresh("a", &kr, 40_000, 30_000).count(), 0, "stale is unknown");
        assert!(s.ever("a", &kr));
        let all: Vec<_> = s.iter().map(|(r, c, v, sig)| (r.clone(), c.to_string(), v.to_string(), sig.samples)).collect();
        assert_eq!(all, vec![(kr, "a".to_string(), "v1".to_string(), 2)]);
    }

    #[test]
    fn reasons_index_their_list() {
        for (i, r) in FailureReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{}", r.as_str());
        }
    }

    #[test]
    fn two_sources_of_demand_are_averaged_not_added() {
        let mut s = SignalStore::new();
        let kr = RegionKey::Country(*b"KR");
        let push = |s: &mut SignalStore, cdn: &str, vantage: &str, at, gbps| {
            s.ingest(&Observation { cdn: cdn.into(), vantage: vantage.into(), delivered_gbps: Some(gbps), ..obs("x", at, 100.0, 0) });
        };
        push(&mut s, "a", "rum:one", 1000, 100.0);
        push(&mut s, "a", "rum:two", 1500, 120.0);
        push(&mut s, "b", "rum:one", 1500, 50.0);
        assert_eq!(s.demand(&kr, 2000, 30_000), Some(160.0), "mean of a's two sources plus b");
        push(&mut s, "a", "rum:one", 2000, 110.0);
        assert_eq!(s.demand(&kr, 2000, 30_000), Some(165.0));
        assert_eq!(s.demand(&RegionKey::Continent(*b"AS"), 2000, 30_000), None, "no inference across regions");
        assert_eq!(s.demand(&kr, 40_000, 30_000), None, "stale");
    }

    #[test]
    fn vantages_per_cdn_and_region_are_capped() {
        let mut s = SignalStore::new();
        for v in 0..MAX_VANTAGES {
            assert!(s.ingest(&obs(&format!("v{v}"), 1000, 100.0, 0)));
        }
        assert!(!s.ingest(&obs("one-too-many", 1000, 100.0, 0)));
        assert!(s.ingest(&obs("v0", 2000, 100.0, 0)), "known vantages keep reporting");
    }

    #[test]
    fn windows_of_many_requests_weigh_more() {
        let mut one = Average::default();
        one.add(0.0, 1);
        one.add(1.0, 1);
        let mut many = Average::default();
        many.add(0.0, 1);
        many.add(1.0, 50);
        assert!(many.get().unwrap() > one.get().unwrap());
    }
}
