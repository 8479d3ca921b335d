//! Every family `GET /metrics` serves: name, type and HELP, in one list. Grouped by where the
//! values come from at scrape time (see the module doc of `metrics`).

use super::{Family, Kind};

const fn family(name: &'static str, kind: Kind, help: &'static str) -> Family {
    Family { name, kind, help }
}

// --- Process-wide (`process::ProcessCounters`, bumped where things happen). ---

/// Always 1, labelled with the version.
pub const BUILD_INFO: Family = family("cdnsteer_build_info", Kind::Gauge, "Always 1; the version label says which cdnsteer build is running.");
/// Zone/GeoIP reloads, by result.
pub const RELOADS: Family = family("cdnsteer_reloads_total", Kind::Counter, "Configuration reloads, by result (ok; failed, or frozen by an event's change freeze: both keep the previous generation).");
/// Telemetry measurements received on the admin API, by result.
pub const TELEMETRY: Family = family(
    "cdnsteer_telemetry_measurements_total",
    Kind::Counter,
    "Telemetry measurements received on the admin API, by result (accepted, or rejected with the rest of their batch; an unreadable body counts no measurements).",
);
/// Telemetry batches (POST /api/v1/telemetry requests), by result.
pub const TELEMETRY_BATCHES: Family = family(
    "cdnsteer_telemetry_batches_total",
    Kind::Counter,
    "Telemetry batches (POST /api/v1/telemetry requests), by result: accepted, or rejected for any reason (token, content type, size, body, engine stopped).",
);
/// Observations dropped (engine queue full, or too many vantages).
pub const OBSERVATIONS_DROPPED: Family = family(
    "cdnsteer_observations_dropped_total",
    Kind::Counter,
    "Probe or telemetry observations dropped: the engine queue was full, or their CDN and region already had the most vantages kept.",
);

/// 1 while a change freeze holds a reload back.
pub const CHANGE_PENDING: Family = family(
    "cdnsteer_change_pending_frozen",
    Kind::Gauge,
    "1 while an event's change freeze holds a reload back (the previous configuration keeps serving until the window ends or a forced reload), else 0.",
);

// --- The served snapshot (read at scrape time). ---

/// Snapshot generation being served.
pub const GENERATION: Family = family("cdnsteer_snapshot_generation", Kind::Gauge, "Generation of the snapshot being served; increases on every reload and share change.");
/// Share of a region's answers per CDN.
pub const CDN_SHARE: Family = family(
    "cdnsteer_cdn_share_ratio",
    Kind::Gauge,
    "Share of the region's answers the CDN gets (0..1), as served; name=\"_other\" is the unweighted mean over the names past metrics.max_names that have the CDN in the region.",
);
/// Smoothed health score per CDN; absent when unknown.
pub const CDN_SCORE: Family = family(
    "cdnsteer_cdn_score",
    Kind::Gauge,
    "Smoothed health score of the CDN in the region (0..100, 100 meets the SLA); no sample while unknown (no fresh signal, below quorum); name=\"_other\" is the mean of the known scores of the names past metrics.max_names.",
);
/// The one-word state per CDN: 1 for the current state.
pub const CDN_STATE: Family = family(
    "cdnsteer_cdn_state",
    Kind::Gauge,
    "Steered names in which the CDN is in this state in the region: 1 on the current state of each named series (cold, healthy, degraded, down, recovering, drained, pinned, unpinned, failing_open), no sample for the others; name=\"_other\" counts the names past metrics.max_names.",
);
/// Regions failing open to the last resort.
pub const REGION_FAIL_OPEN: Family = family(
    "cdnsteer_region_fail_open",
    Kind::Gauge,
    "1 while the region has no usable candidate and answers with the name's last-resort CDN, else 0; name=\"_other\" counts the names past metrics.max_names failing open.",
);
/// Operator overrides in force, by kind.
pub const OVERRIDES_ACTIVE: Family = family("cdnsteer_overrides_active", Kind::Gauge, "Operator overrides in force (not expired), by kind (drain, pin, weight), dormant ones included.");

// --- The health engine's signals (read at scrape time). ---

/// TTFB per CDN x region x vantage.
pub const SIGNAL_TTFB: Family = family(
    "cdnsteer_signal_ttfb_seconds",
    Kind::Gauge,
    "Time to first byte the vantage measures for the CDN in the region (moving average, request-weighted); no sample once stale for every zone (see cdnsteer_signal_age_seconds).",
);
/// Throughput per CDN x region x vantage.
pub const SIGNAL_THROUGHPUT: Family = family(
    "cdnsteer_signal_throughput_bytes_per_second",
    Kind::Gauge,
    "Throughput the vantage measures for the CDN in the region, bytes per second (moving average); no sample once stale.",
);
/// Cache hit ratio per CDN x region x vantage.
pub const SIGNAL_CACHE_HIT: Family = family(
    "cdnsteer_signal_cache_hit_ratio",
    Kind::Gauge,
    "Cache hit ratio the vantage measures for the CDN in the region (0..1, moving average); no sample while the edge does not tell or once stale.",
);
/// Error ratio per CDN x region x vantage.
pub const SIGNAL_ERRORS: Family = family(
    "cdnsteer_signal_error_ratio",
    Kind::Gauge,
    "Share of failed requests the vantage measures for the CDN in the region (0..1, moving average; a failed probe counts as one); no sample once stale.",
);
/// Age of the newest sample per CDN x region x vantage.
pub const SIGNAL_AGE: Family = family(
    "cdnsteer_signal_age_seconds",
    Kind::Gauge,
    "Seconds since the vantage's newest sample for the CDN in the region; a signal older than its zone's health.staleness_secs is unknown, never healthy.",
);

// --- The steering counters the engine task keeps (`metrics::steering`). ---

/// Decision events by name and region.
pub const DECISIONS: Family = family(
    "cdnsteer_decision_events_total",
    Kind::Counter,
    "Decision events: a region's shares or a CDN's health state changed; names past metrics.max_names as name=\"_other\".",
);
/// Regions entering fail-open, by name and region.
pub const FAIL_OPEN: Family = family(
    "cdnsteer_fail_open_total",
    Kind::Counter,
    "Times a region found no usable candidate and failed open to its last-resort CDN; names past metrics.max_names as name=\"_other\".",
);
/// Health state changes by region, CDN and the state entered.
pub const STATE_CHANGES: Family = family(
    "cdnsteer_cdn_state_changes_total",
    Kind::Counter,
    "Health state changes of the CDN in the region, by the state entered (down, recovering, up; the first signal moves a CDN out of cold); a change in several steered names in the same engine tick counts once.",
);

// --- Probes (`probe::stats`). ---

/// Probe durations by phase.
pub const PROBE_DURATION: Family = family(
    "cdnsteer_probe_duration_seconds",
    Kind::Histogram,
    "Durations of successful probe fetches, by phase: connect (name resolution and TCP), tls (handshake; none for http), ttfb (request to response head), total (the whole fetch).",
);
/// Probe failures by reason.
pub const PROBE_FAILURES: Family = family(
    "cdnsteer_probe_failures_total",
    Kind::Counter,
    "Failed probe fetches, by reason: connect, tls, timeout, reset, status (unexpected HTTP status), size (unexpected body length), protocol.",
);

// --- The DNS listeners' per-worker counters (`dns::counters`). ---

/// DNS queries answered, by transport, question type and response code.
pub const DNS_QUERIES: Family = family(
    "cdnsteer_dns_queries_total",
    Kind::Counter,
    "DNS queries answered, by transport (udp, tcp), question type (common types, else other; other also for an unreadable question) and response code.",
);
/// Steered answers by steered name, region and CDN.
pub const DNS_STEERED: Family = family(
    "cdnsteer_dns_steered_answers_total",
    Kind::Counter,
    "Steered answers (CNAME to a CDN), by steered name, region and CDN; names past metrics.max_names are counted as name=\"_other\".",
);
/// UDP answers sent with TC=1.
pub const DNS_TRUNCATED: Family = family(
    "cdnsteer_dns_truncated_total",
    Kind::Counter,
    "Answers sent truncated (TC=1, question and OPT only) because they did not fit the client's UDP size limit.",
);
/// Queries with or without an ECS option.
pub const DNS_ECS: Family = family(
    "cdnsteer_dns_ecs_queries_total",
    Kind::Counter,
    "Answered queries with a readable question, by whether they carried an EDNS Client Subnet option (present, absent).",
);
/// Packets not answered, by reason.
pub const DNS_DROPPED: Family = family(
    "cdnsteer_dns_dropped_packets_total",
    Kind::Counter,
    "DNS packets dropped without an answer, by reason (short: shorter than a header; response: QR=1; source_port_zero: UDP from port 0; oversized: a UDP datagram over 4,096 bytes; send_failed: the kernel refused the reply).",
);

// --- The history writer (`history::HistoryStats`). ---

/// History writes failing now.
pub const HISTORY_DEGRADED: Family = family(
    "cdnsteer_history_degraded",
    Kind::Gauge,
    "1 while writes to the history database fail (disk full or failing; rows are kept in memory and retried, DNS is not affected), else 0.",
);
/// History rows written.
pub const HISTORY_WRITTEN: Family = family(
    "cdnsteer_history_written_records_total",
    Kind::Counter,
    "Rows written to the history database (share changes and keyframes, observations, answer counts, QoE windows, events).",
);
/// History records dropped, by reason.
pub const HISTORY_DROPPED: Family = family(
    "cdnsteer_history_dropped_records_total",
    Kind::Counter,
    "History records that were never written, by reason: queue_full (the writer could not keep up; the control plane never waits for it) or write_failed (writes failed until the in-memory backlog overflowed, at shutdown, or after the writer thread stopped).",
);
/// Engine ticks run.
pub const ENGINE_TICKS: Family = family(
    "cdnsteer_engine_ticks_total",
    Kind::Counter,
    "Health engine rounds run (each zone ticks at its own tick_ms; one round covers every zone due, and the engine also wakes for override expiries, event boundaries and at least once a second).",
);
/// How late engine ticks started.
pub const ENGINE_TICK_LAG: Family = family(
    "cdnsteer_engine_tick_lag_seconds",
    Kind::Histogram,
    "How late each engine round started after the time it was due (a zone tick, an override expiry, an event boundary, or the 1 s wake-up), in 1 ms steps: the control plane's scheduling delay (DNS runs on threads of its own).",
);

/// The process-wide families, in the order `ProcessCounters::render` writes them (counters,
/// then gauges): the first ones of the scrape.
pub const PROCESS_FAMILIES: &[Family] = &[RELOADS, TELEMETRY, TELEMETRY_BATCHES, OBSERVATIONS_DROPPED, BUILD_INFO, CHANGE_PENDING];

/// Every family served at `/metrics`, in scrape order.
pub const CATALOGUE: &[Family] = &[
    RELOADS,
    TELEMETRY,
    TELEMETRY_BATCHES,
    OBSERVATIONS_DROPPED,
    BUILD_INFO,
    CHANGE_PENDING,
    GENERATION,
    CDN_SHARE,
    CDN_SCORE,
    CDN_STATE,
    REGION_FAIL_OPEN,
    OVERRIDES_ACTIVE,
    SIGNAL_TTFB,
    SIGNAL_THROUGHPUT,
    SIGNAL_CACHE_HIT,
    SIGNAL_ERRORS,
    SIGNAL_AGE,
    DECISIONS,
    FAIL_OPEN,
    STATE_CHANGES,
    PROBE_DURATION,
    PROBE_FAILURES,
    DNS_QUERIES,
    DNS_STEERED,
    DNS_TRUNCATED,
    DNS_ECS,
    DNS_DROPPED,
    HISTORY_DEGRADED,
    HISTORY_WRITTEN,
    HISTORY_DROPPED,
    ENGINE_TICKS,
    ENGINE_TICK_LAG,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_follows_prometheus_naming() {
        let mut seen = std::collections::HashSet::new();
        for f in CATALOGUE {
            assert!(seen.insert(f.name), "{} listed twice", f.name);
            assert!(f.name.starts_with("cdnsteer_"), "{}", f.name);
            assert!(f.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{}", f.name);
            assert_eq!(f.kind == Kind::Counter, f.name.ends_with("_total"), "{}", f.name);
            assert!(!f.help.is_empty() && !f.help.contains('\n'), "{}", f.name);
            // Base units: seconds and bytes, never milliseconds, bits or percent.
            for bad in ["_ms", "_milliseconds", "_bits", "_mbps", "_percent", "_gbps"] {
                assert!(!f.name.contains(bad), "{} is not in base units", f.name);
            }
        }
        let first: Vec<&str> = CATALOGUE.iter().take(PROCESS_FAMILIES.len()).map(|f| f.name).collect();
        assert_eq!(first, PROCESS_FAMILIES.iter().map(|f| f.name).collect::<Vec<_>>(), "the process-wide families open the scrape");
    }
}
