//! The engine task's own health: how many ticks ran and how late each started against the
//! time it asked to wake at. A late tick means the control plane's runtime was starved (by
//! CPU, or by a task that would not yield); the DNS threads run elsewhere and are not the
//! cause by construction, and this series shows it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{ENGINE_TICK_LAG, ENGINE_TICKS, HistogramSample, write_family, write_histogram, write_sample};

/// Upper bounds of the lag histogram, seconds.
pub const LAG_BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Default)]
struct Counts {
    ticks: u64,
    lag: [u64; LAG_BUCKETS.len() + 1],
    lag_sum: f64,
}

/// Tick counters of one server: the engine task records, the admin API renders. Cheap to
/// clone.
#[derive(Debug, Clone, Default)]
pub struct EngineTicks {
    counts: Arc<Mutex<Counts>>,
}

impl EngineTicks {
    /// Counters at 0.
    pub fn new() -> EngineTicks {
        EngineTicks::default()
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One tick that started `lag_secs` after the time it was due.
    pub fn record(&self, lag_secs: f64) {
        let lag = if lag_secs.is_finite() { lag_secs.max(0.0) } else { 0.0 };
        let mut c = self.lock();
        c.ticks += 1;
        let at = LAG_BUCKETS.iter().position(|b| lag <= *b).unwrap_or(LAG_BUCKETS.len());
        c.lag[at] += 1;
        c.lag_sum += lag;
    }

    /// Append both families.
    pub fn render(&self, out: &mut String) {
        let (ticks, lag, sum) = {
            let c = self.lock();
            (c.ticks, c.lag, c.lag_sum)
        };
        write_family(out, &ENGINE_TICKS);
        write_sample(out, ENGINE_TICKS.name, &[], ticks);
        write_family(out, &ENGINE_TICK_LAG);
        write_histogram(out, ENGINE_TICK_LAG.name, &[], &HistogramSample { bounds: &LAG_BUCKETS, counts: &lag, sum: (sum * 1e6).round() / 1e6 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_their_lag_render_as_a_counter_and_a_histogram() {
        let t = EngineTicks::new();
        let mut empty = String::new();
        t.render(&mut empty);
        assert!(empty.contains("cdnsteer_engine_ticks_total 0\n"), "{empty}");
        assert!(empty.contains("cdnsteer_engine_tick_lag_seconds_bucket{le=\"+Inf\"} 0\n"), "{empty}");
        for lag in [0.0005, 0.02, 0.3, -1.0, f64::NAN, 7.0] {
            t.record(lag);
        }
        let mut out = String::new();
        t.render(&mut out);
        for line in [
            "cdnsteer_engine_ticks_total 6\n",
            "cdnsteer_engine_tick_lag_seconds_bucket{le=\"0.001\"} 3\n",
            "cdnsteer_engine_tick_lag_seconds_bucket{le=\"0.025\"} 4\n",
            "cdnsteer_engine_tick_lag_seconds_bucket{le=\"1\"} 5\n",
            "cdnsteer_engine_tick_lag_seconds_bucket{le=\"+Inf\"} 6\n",
            "cdnsteer_engine_tick_lag_seconds_sum 7.3205\n",
            "cdnsteer_engine_tick_lag_seconds_count 6\n",
        ] {
            assert!(out.contains(line), "{line}in\n{out}");
        }
    }
}
