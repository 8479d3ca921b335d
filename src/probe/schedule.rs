//! The probe scheduler: one task per probe, first run at a random offset within the interval
//! (so probes loaded together do not fire together), then every interval ±10%; a shared
//! semaphore bounds concurrent fetches; results go out with `try_send` so a slow consumer
//! costs dropped observations, never a stalled probe. Owns the probe logs: failures at
//! `debug`, ok <-> failing changes at `info`, dropped results at `warn` (rate-limited).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::sync::mpsc::{Sender, error::TrySendError};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{FetchResult, ProbeStats, fetch, to_observation};
use crate::clock::Clock;
use crate::health::signal::Observation;
use crate::zone::health::Probe;

/// At most one "channel full" warning per probe this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Start one scheduling task per probe on `tasks`. Each sends one [`Observation`] per fetch on
/// `tx` (dropping it, with a rate-limited warning, when the channel is full), records the
/// fetch in `stats` (durations or failure reason; see [`ProbeStats::set_probes`]), runs at
/// most `max_concurrent` fetches at once across all probes (at least 1), and returns promptly
/// once `stop` is cancelled (an in-flight fetch is abandoned) or the receiver is gone.
pub fn spawn_probes(
    probes: Vec<Probe>,
    clock: Clock,
    tx: Sender<Observation>,
    stats: ProbeStats,
    max_concurrent: usize,
    stop: CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    let permits = Arc::new(Semaphore::new(max_concurrent.clamp(1, Semaphore::MAX_PERMITS)));
    for (index, probe) in probes.into_iter().enumerate() {
        let rng = XorShift::seeded(index, &probe.vantage);
        let runner = Runner {
            probe,
            clock: clock.clone(),
            tx: tx.clone(),
            stats: stats.clone(),
            permits: permits.clone(),
            stop: stop.clone(),
            rng,
            failing: None,
            last_warn: None,
            dropped: 0,
        };
        tasks.spawn(runner.run());
    }
}

/// A small deterministic xorshift64 generator: spreads and jitters probe runs without a
/// `rand` dependency, the same way on every start.
#[derive(Debug, Clone)]
struct XorShift(u64);

impl XorShift {
    /// Seeded from the probe's index and vantage name (FNV-1a, never 0).
    fn seeded(index: usize, vantage: &str) -> XorShift {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in vantage.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= (index as u64).wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut rng = XorShift(if h == 0 { 0x9e37_79b9_7f4a_7c15 } else { h });
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// `interval` ±10%, ms.
    fn jittered(&mut self, interval: u64) -> u64 {
        interval - interval / 10 + self.below(interval / 5 + 1)
    }
}

/// One probe's scheduling state.
struct Runner {
    probe: Probe,
    clock: Clock,
    tx: Sender<Observation>,
    stats: ProbeStats,
    permits: Arc<Semaphore>,
    stop: CancellationToken,
    rng: XorShift,
    /// Whether the last fetch failed (`None` before the first).
    failing: Option<bool>,
    /// When the last "channel full" warning was logged.
    last_warn: Option<Instant>,
    /// Observations dropped since that warning.
    dropped: u64,
}

impl Runner {
    async fn run(mut self) {
        let interval = self.probe.interval_ms.max(1);
        let mut next = Instant::now() + Duration::from_millis(self.rng.below(interval));
        loop {
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => return,
                _ = tokio::time::sleep_until(next) => {}
            }
            let started = Instant::now();
            let result = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return,
                r = self.fetch_one() => r,
            };
            // The semaphore is never closed; treat it as a stop if it ever is.
            let Some(result) = result else { return };
            let at = self.clock.now();
            let (result, took) = result;
            self.stats.record(&self.probe, &result, took);
            self.log(&result);
            if !self.send(to_observation(&self.probe, at, &result)) {
                return;
            }
            // From the start of this run, so slow fetches do not stretch the interval; a fetch
            // longer than the interval is followed at once, never by a burst.
            next = started + Duration::from_millis(self.rng.jittered(interval));
        }
    }

    /// One fetch under a concurrency permit, and how long it took once it had the permit;
    /// `None` if the semaphore was closed.
    async fn fetch_one(&self) -> Option<(FetchResult, Duration)> {
        let _permit = self.permits.acquire().await.ok()?;
        let started = Instant::now();
        let result = fetch(&self.probe).await;
        Some((result, started.elapsed()))
    }

    fn log(&mut self, result: &FetchResult) {
        let p = &self.probe;
        let failing = result.is_err();
        if let Err((reason, detail)) = result {
            tracing::debug!(cdn = %p.cdn, vantage = %p.vantage, region = %p.region, reason = reason.as_str(), detail = %detail, "probe failed");
            if self.failing != Some(true) {
                tracing::info!(cdn = %p.cdn, vantage = %p.vantage, region = %p.region, reason = reason.as_str(), detail = %detail, "probe failing");
            }
        } else if self.failing == Some(true) {
            tracing::info!(cdn = %p.cdn, vantage = %p.vantage, region = %p.region, "probe ok again");
        }
        self.failing = Some(failing);
    }

    /// Send without waiting; false when the receiver is gone (the probe stops).
    fn send(&mut self, observation: Observation) -> bool {
        match self.tx.try_send(observation) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                crate::metrics::PROCESS.observations_dropped(1);
                let now = Instant::now();
                if self.last_warn.is_none_or(|t| now.duration_since(t) >= WARN_EVERY) {
                    let p = &self.probe;
                    tracing::warn!(cdn = %p.cdn, vantage = %p.vantage, dropped = self.dropped, "observation channel full; dropping probe results");
                    self.last_warn = Some(now);
                    self.dropped = 0;
                }
                true
            }
            Err(TrySendError::Closed(_)) => {
                tracing::debug!(cdn = %self.probe.cdn, vantage = %self.probe.vantage, "observation channel closed; probe stops");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xorshift_is_deterministic_and_seeded_by_index_and_vantage() {
        let a: Vec<u64> = (0..4).map(|_| XorShift::seeded(0, "v").next()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]), "same seed, same sequence");
        assert_ne!(XorShift::seeded(0, "v").next(), XorShift::seeded(1, "v").next());
        assert_ne!(XorShift::seeded(0, "v").next(), XorShift::seeded(0, "w").next());
    }

    #[test]
    fn offsets_and_jitter_stay_in_bounds() {
        let mut rng = XorShift::seeded(3, "seoul");
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..10_000 {
            let j = rng.jittered(1000);
            assert!((900..=1100).contains(&j), "{j}");
            seen_low |= j < 950;
            seen_high |= j > 1050;
            assert!(rng.below(200) < 200);
        }
        assert!(seen_low && seen_high, "jitter spreads both ways");
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.jittered(1), 1);
    }
}
