//! The process-wide series: reloads, telemetry intake, dropped observations, the build and
//! the change freeze's pending flag. Plain atomics in one static ([`PROCESS`]), bumped where
//! things happen (the admin API, the probe tasks, the control plane), none of them on the DNS
//! path, and rendered at scrape time with every series present from start-up (counters at 0).
//!
//! Rendered first in the scrape, in the order of [`PROCESS_FAMILIES`](super::PROCESS_FAMILIES) (counters, then gauges),
//! each family followed by a blank line, as these families have always been served.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{BUILD_INFO, CHANGE_PENDING, OBSERVATIONS_DROPPED, RELOADS, TELEMETRY, TELEMETRY_BATCHES, write_family, write_sample};

/// The counters of this process.
pub static PROCESS: ProcessCounters = ProcessCounters::new();

/// How a reload ended: the `result` label of `cdnsteer_reloads_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadResult {
    /// The new configuration is served.
    Ok,
    /// It did not load; the previous one keeps serving.
    Failed,
    /// A change freeze holds it back; the previous one keeps serving.
    Frozen,
}

impl ReloadResult {
    const ALL: [ReloadResult; 3] = [ReloadResult::Ok, ReloadResult::Failed, ReloadResult::Frozen];

    fn label(self) -> &'static str {
        match self {
            ReloadResult::Ok => "ok",
            ReloadResult::Failed => "failed",
            ReloadResult::Frozen => "frozen",
        }
    }
}

/// What became of pushed telemetry: the `result` label of the telemetry counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// Handed to the health engine.
    Accepted,
    /// Refused (with the rest of its batch).
    Rejected,
}

impl Intake {
    const ALL: [Intake; 2] = [Intake::Accepted, Intake::Rejected];

    fn label(self) -> &'static str {
        match self {
            Intake::Accepted => "accepted",
            Intake::Rejected => "rejected",
        }
    }
}

/// One atomic per series. Counters only go up; relaxed ordering throughout, as a scrape reads
/// each series on its own.
#[derive(Debug)]
pub struct ProcessCounters {
    /// `cdnsteer_reloads_total`, by [`ReloadResult`].
    reloads: [AtomicU64; 3],
    /// `cdnsteer_telemetry_measurements_total`, by [`Intake`].
    telemetry_measurements: [AtomicU64; 2],
    /// `cdnsteer_telemetry_batches_total`, by [`Intake`].
    telemetry_batches: [AtomicU64; 2],
    /// `cdnsteer_observations_dropped_total`.
    observations_dropped: AtomicU64,
    /// `cdnsteer_change_pending_frozen`.
    change_pending: AtomicBool,
}

impl Default for ProcessCounters {
    fn default() -> ProcessCounters {
        ProcessCounters::new()
    }
}

impl ProcessCounters {
    /// Every series at 0.
    pub const fn new() -> ProcessCounters {
        ProcessCounters {
            reloads: [const { AtomicU64::new(0) }; 3],
            telemetry_measurements: [const { AtomicU64::new(0) }; 2],
            telemetry_batches: [const { AtomicU64::new(0) }; 2],
            observations_dropped: AtomicU64::new(0),
            change_pending: AtomicBool::new(false),
        }
    }

    /// Count one reload.
    pub fn reload(&self, result: ReloadResult) {
        self.reloads[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Count one telemetry batch (one `POST /api/v1/telemetry`).
    pub fn telemetry_batch(&self, result: Intake) {
        self.telemetry_batches[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Count `n` telemetry measurements.
    pub fn telemetry_measurements(&self, result: Intake, n: u64) {
        self.telemetry_measurements[result as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Count `n` dropped observations.
    pub fn observations_dropped(&self, n: u64) {
        self.observations_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Whether a change freeze holds a reload back now.
    pub fn set_change_pending(&self, frozen: bool) {
        self.change_pending.store(frozen, Ordering::Relaxed);
    }

    /// Append the families of [`PROCESS_FAMILIES`](super::PROCESS_FAMILIES), in that order, every series present.
    pub fn render(&self, out: &mut String) {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        write_family(out, &RELOADS);
        for r in ReloadResult::ALL {
            write_sample(out, RELOADS.name, &[("result", r.label())], load(&self.reloads[r as usize]));
        }
        out.push('\n');
        for (family, counts) in [(&TELEMETRY, &self.telemetry_measurements), (&TELEMETRY_BATCHES, &self.telemetry_batches)] {
            write_family(out, family);
            for i in Intake::ALL {
                write_sample(out, family.name, &[("result", i.label())], load(&counts[i as usize]));
            }
            out.push('\n');
        }
        write_family(out, &OBSERVATIONS_DROPPED);
        write_sample(out, OBSERVATIONS_DROPPED.name, &[], load(&self.observations_dropped));
        out.push('\n');
        write_family(out, &BUILD_INFO);
        write_sample(out, BUILD_INFO.name, &[("version", env!("CARGO_PKG_VERSION"))], 1);
        out.push('\n');
        write_family(out, &CHANGE_PENDING);
        write_sample(out, CHANGE_PENDING.name, &[], u64::from(self.change_pending.load(Ordering::Relaxed)));
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::PROCESS_FAMILIES;

    #[test]
    fn every_series_from_the_start_then_counted() {
        let counters = ProcessCounters::new();
        let mut first = String::new();
        counters.render(&mut first);
        let types: Vec<&str> = first.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
        assert_eq!(types, PROCESS_FAMILIES.iter().map(|f| f.name).collect::<Vec<_>>());
        let samples: Vec<&str> = first.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
        let build = format!("cdnsteer_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        assert_eq!(
            samples,
            [
                "cdnsteer_reloads_total{result=\"ok\"} 0",
                "cdnsteer_reloads_total{result=\"failed\"} 0",
                "cdnsteer_reloads_total{result=\"frozen\"} 0",
                "cdnsteer_telemetry_measurements_total{result=\"accepted\"} 0",
                "cdnsteer_telemetry_measurements_total{result=\"rejected\"} 0",
                "cdnsteer_telemetry_batches_total{result=\"accepted\"} 0",
                "cdnsteer_telemetry_batches_total{result=\"rejected\"} 0",
                "cdnsteer_observations_dropped_total 0",
                build.as_str(),
                "cdnsteer_change_pending_frozen 0",
            ]
        );
        assert!(first.starts_with(
            "# HELP cdnsteer_reloads_total Configuration reloads, by result (ok; failed, or frozen by an event's change freeze: both keep the previous generation).\n\
             # TYPE cdnsteer_reloads_total counter\n\
             cdnsteer_reloads_total{result=\"ok\"} 0\n"
        ));
        assert_eq!(first.matches("\n\n").count(), PROCESS_FAMILIES.len(), "a blank line after each family:\n{first}");
        assert!(first.ends_with(" 0\n\n"), "{first}");

        counters.reload(ReloadResult::Ok);
        counters.reload(ReloadResult::Frozen);
        counters.reload(ReloadResult::Frozen);
        counters.telemetry_batch(Intake::Rejected);
        counters.telemetry_measurements(Intake::Accepted, 7);
        counters.observations_dropped(3);
        counters.set_change_pending(true);
        let mut out = String::new();
        counters.render(&mut out);
        for line in [
            "cdnsteer_reloads_total{result=\"ok\"} 1\n",
            "cdnsteer_reloads_total{result=\"failed\"} 0\n",
            "cdnsteer_reloads_total{result=\"frozen\"} 2\n",
            "cdnsteer_telemetry_measurements_total{result=\"accepted\"} 7\n",
            "cdnsteer_telemetry_measurements_total{result=\"rejected\"} 0\n",
            "cdnsteer_telemetry_batches_total{result=\"accepted\"} 0\n",
            "cdnsteer_telemetry_batches_total{result=\"rejected\"} 1\n",
            "cdnsteer_observations_dropped_total 3\n",
            "cdnsteer_change_pending_frozen 1\n",
        ] {
            assert!(out.contains(line), "{line}{out}");
        }
        counters.set_change_pending(false);
        out.clear();
        counters.render(&mut out);
        assert!(out.contains("\ncdnsteer_change_pending_frozen 0\n"), "{out}");
    }
}
