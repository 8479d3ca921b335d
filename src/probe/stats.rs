//! Probe metrics: per probe (CDN x region x vantage) a duration histogram per phase of the
//! successful fetches and a failure counter per reason. The probe tasks record after each
//! fetch (a short mutex, a few times a second at most; never on the DNS path); the admin API
//! renders at scrape time. The probe set comes from the zones: every series of every probe
//! configured is present from start-up at 0, a reload keeps the counts of probes that stay
//! and drops the series of probes that went away.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::ProbeTiming;
use crate::health::signal::FailureReason;
use crate::metrics::steering::rounded;
use crate::metrics::{HistogramSample, PROBE_DURATION, PROBE_FAILURES, write_family, write_histogram, write_sample};
use crate::zone::health::Probe;

/// Upper bounds of the duration buckets, seconds: loopback and same-city edges at the low
/// end, probe timeouts (2 s by default) at the high end.
pub const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Phases timed, in label order.
pub const PHASES: [&str; 4] = ["connect", "tls", "ttfb", "total"];

/// (CDN, region, vantage) labels of one probe.
type ProbeKey = (String, String, String);

/// One histogram: per-bucket counts (the last is above every bound) and the sum.
#[derive(Debug, Clone, Copy, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if !secs.is_finite() || secs < 0.0 {
            return;
        }
        let at = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.counts[at] += 1;
        self.sum += secs;
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    phases: [Histogram; PHASES.len()],
    failures: [u64; FailureReason::ALL.len()],
}

/// The probe metrics of one server. Cheap to clone (one handle for the probe tasks, one for
/// the admin API).
#[derive(Debug, Clone, Default)]
pub struct ProbeStats {
    stats: Arc<Mutex<BTreeMap<ProbeKey, Stats>>>,
}

fn key(p: &Probe) -> ProbeKey {
    (p.cdn.clone(), p.region.to_string(), p.vantage.clone())
}

impl ProbeStats {
    /// No probes yet.
    pub fn new() -> ProbeStats {
        ProbeStats::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<ProbeKey, Stats>> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The probes now configured: their series exist from now on (at 0 when new); series of
    /// probes no longer configured go away.
    pub fn set_probes(&self, probes: &[Probe]) {
        let mut stats = self.lock();
        let keep: BTreeMap<ProbeKey, Stats> = probes
            .iter()
            .map(|p| {
                let k = key(p);
                let s = stats.get(&k).copied().unwrap_or_default();
                (k, s)
            })
            .collect();
        *stats = keep;
    }

    /// Record one fetch of `probe` that took `total`. A probe not (or no longer) configured is
    /// not recorded: a fetch finishing after a reload removed its probe adds no series.
    pub fn record(&self, probe: &Probe, result: &Result<ProbeTiming, (FailureReason, String)>, total: Duration) {
        let mut stats = self.lock();
        let Some(s) = stats.get_mut(&key(probe)) else { return };
        match result {
            Ok(t) => {
                s.phases[0].observe(t.connect_ms / 1000.0);
                if let Some(tls) = t.tls_ms {
                    s.phases[1].observe(tls / 1000.0);
                }
                s.phases[2].observe(t.ttfb_ms / 1000.0);
                s.phases[3].observe(total.as_secs_f64());
            }
            Err((reason, _)) => s.failures[*reason as usize] += 1,
        }
    }

    /// Append the histogram and failure families (both present, empty without probes).
    pub fn render(&self, out: &mut String) {
        let stats: Vec<(ProbeKey, Stats)> = self.lock().iter().map(|(k, s)| (k.clone(), *s)).collect();
        write_family(out, &PROBE_DURATION);
        for ((cdn, region, vantage), s) in &stats {
            for (phase, h) in PHASES.iter().zip(&s.phases) {
                let labels = [("cdn", cdn.as_str()), ("region", region.as_str()), ("vantage", vantage.as_str()), ("phase", phase)];
                write_histogram(out, PROBE_DURATION.name, &labels, &HistogramSample { bounds: &BUCKETS, counts: &h.counts, sum: rounded(h.sum, 9) });
            }
        }
        write_family(out, &PROBE_FAILURES);
        for ((cdn, region, vantage), s) in &stats {
            for (reason, n) in FailureReason::ALL.iter().zip(s.failures) {
                write_sample(out, PROBE_FAILURES.name, &[("cdn", cdn), ("region", region), ("vantage", vantage), ("reason", reason.as_str())], n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::RegionKey;

    fn probe(vantage: &str) -> Probe {
        Probe {
            cdn: "alpha".into(),
            region: RegionKey::Country(*b"KR"),
            vantage: vantage.into(),
            url: "http://edge.example/probe.bin".into(),
            host: None,
            connect: None,
            interval_ms: 5000,
            timeout_ms: 1500,
            expect_status: 200,
            expect_bytes: None,
            cache_headers: Vec::new(),
        }
    }

    fn timing() -> ProbeTiming {
        ProbeTiming { connect_ms: 3.0, tls_ms: None, ttfb_ms: 40.0, body_bytes: 10, body_ms: 1.0, throughput_mbps: 1.0, status: 200, cache_hit: None }
    }

    #[test]
    fn every_series_from_the_start_then_counted_and_kept_across_reloads() {
        let stats = ProbeStats::new();
        stats.set_probes(&[probe("seoul-1"), probe("busan-1")]);
        let mut out = String::new();
        stats.render(&mut out);
        let seoul = "cdn=\"alpha\",region=\"country:KR\",vantage=\"seoul-1\"";
        assert!(out.contains(&format!("cdnsteer_probe_duration_seconds_bucket{{{seoul},phase=\"tls\",le=\"+Inf\"}} 0\n")), "{out}");
        assert!(out.contains(&format!("cdnsteer_probe_failures_total{{{seoul},reason=\"protocol\"}} 0\n")), "{out}");
        assert_eq!(out.matches("cdnsteer_probe_failures_total{").count(), 2 * 7);
        assert_eq!(out.matches("_count{").count(), 2 * 4);

        stats.record(&probe("seoul-1"), &Ok(timing()), Duration::from_millis(60));
        stats.record(&probe("seoul-1"), &Err((FailureReason::Timeout, "slow".into())), Duration::from_millis(1500));
        stats.record(&probe("gone"), &Err((FailureReason::Timeout, "slow".into())), Duration::from_millis(1500));
        stats.set_probes(&[probe("seoul-1")]);
        let mut out = String::new();
        stats.render(&mut out);
        for line in [
            format!("cdnsteer_probe_duration_seconds_bucket{{{seoul},phase=\"ttfb\",le=\"0.025\"}} 0\n"),
            format!("cdnsteer_probe_duration_seconds_bucket{{{seoul},phase=\"ttfb\",le=\"0.05\"}} 1\n"),
            format!("cdnsteer_probe_duration_seconds_count{{{seoul},phase=\"total\"}} 1\n"),
            format!("cdnsteer_probe_duration_seconds_sum{{{seoul},phase=\"connect\"}} 0.003\n"),
            format!("cdnsteer_probe_duration_seconds_count{{{seoul},phase=\"tls\"}} 0\n"),
            format!("cdnsteer_probe_failures_total{{{seoul},reason=\"timeout\"}} 1\n"),
        ] {
            assert!(out.contains(&line), "{line}{out}");
        }
        assert!(!out.contains("busan-1") && !out.contains("gone"), "{out}");
    }
}
