//! Prometheus metrics: one process-wide `metrics` recorder rendered in the text format at the
//! admin API's `GET /metrics`. Every series is described (HELP) here, in one place, so the
//! list below is the catalogue operators scrape. The DNS query path records nothing here
//! (its counters belong in per-worker atomics, not in a shared registry).

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Snapshot generation being served.
pub const GENERATION: &str = "cdnsteer_snapshot_generation";
/// Decision events (share or CDN state changes), by steered name and region.
pub const DECISIONS: &str = "cdnsteer_decision_events_total";
/// Regions that failed open to their last-resort CDN, by steered name and region.
pub const FAIL_OPEN: &str = "cdnsteer_fail_open_total";
/// Telemetry measurements received on the admin API, by result.
pub const TELEMETRY: &str = "cdnsteer_telemetry_measurements_total";
/// Observations dropped because the engine's queue was full.
pub const OBSERVATIONS_DROPPED: &str = "cdnsteer_observations_dropped_total";
/// Zone/GeoIP reloads, by result.
pub const RELOADS: &str = "cdnsteer_reloads_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the recorder (once per process) and describe every series. Returns `None` if some
/// other recorder was installed first (metrics are then not exported).
pub fn init() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = match PrometheusBuilder::new().install_recorder() {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                    return None;
                }
            };
            describe_gauge!(GENERATION, Unit::Count, "Generation of the snapshot being served; increases on every reload and share change.");
            describe_counter!(DECISIONS, Unit::Count, "Decision events: a region's shares or a CDN's up/down state changed.");
            describe_counter!(FAIL_OPEN, Unit::Count, "Times a region found no usable candidate and failed open to its last-resort CDN.");
            describe_counter!(TELEMETRY, Unit::Count, "Telemetry measurements received on the admin API, by result (accepted or rejected).");
            describe_counter!(OBSERVATIONS_DROPPED, Unit::Count, "Probe or telemetry observations dropped because the engine queue was full.");
            describe_counter!(RELOADS, Unit::Count, "Configuration reloads, by result (ok or failed; a failed reload keeps the previous generation).");
            Some(handle)
        })
        .as_ref()
}

/// The current metrics in the Prometheus text format.
pub fn render() -> String {
    init().map(PrometheusHandle::render).unwrap_or_default()
}
