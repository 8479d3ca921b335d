//! Prometheus metrics: the catalogue of every series the admin API's `GET /metrics` serves
//! (name, type, HELP), in one place, and the text-format writer for the series we render by
//! hand.
//!
//! Two sources make up one scrape:
//! - the control plane's series (generation, decisions, telemetry, reloads, build info) go
//!   through the process-wide `metrics` recorder and metrics-exporter-prometheus;
//! - the DNS series are counted per worker without shared writes (`dns::counters`), summed at
//!   scrape time and appended with [`write_family`] and [`write_sample`].
//!
//! Every series with known label values is registered at zero at start-up, so `rate()` works
//! from the first scrape.

use std::fmt::Write as _;
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
/// Always 1, labelled with the version.
pub const BUILD_INFO: &str = "cdnsteer_build_info";

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets at restart); name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One metric family: name, type and HELP text.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// Series name.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// HELP text (one line).
    pub help: &'static str,
}

/// DNS queries answered, by transport, question type and response code.
pub const DNS_QUERIES: Family = Family {
    name: "cdnsteer_dns_queries_total",
    kind: Kind::Counter,
    help: "DNS queries answered, by transport (udp, tcp), question type (common types, else other; other also for an unreadable question) and response code.",
};
/// Steered answers by steered name, region and CDN.
pub const DNS_STEERED: Family = Family {
    name: "cdnsteer_dns_steered_answers_total",
    kind: Kind::Counter,
    help: "Steered answers (CNAME to a CDN), by steered name, region and CDN; names past metrics.max_names are counted as name=\"_other\".",
};
/// UDP answers sent with TC=1.
pub const DNS_TRUNCATED: Family = Family {
    name: "cdnsteer_dns_truncated_total",
    kind: Kind::Counter,
    help: "Answers sent truncated (TC=1, question and OPT only) because they did not fit the client's UDP size limit.",
};
/// Queries with or without an ECS option.
pub const DNS_ECS: Family = Family {
    name: "cdnsteer_dns_ecs_queries_total",
    kind: Kind::Counter,
    help: "Answered queries with a readable question, by whether they carried an EDNS Client Subnet option (present, absent).",
};
/// Packets not answered, by reason.
pub const DNS_DROPPED: Family = Family {
    name: "cdnsteer_dns_dropped_packets_total",
    kind: Kind::Counter,
    help: "DNS packets dropped without an answer, by reason (short: shorter than a header; response: QR=1; source_port_zero: UDP from port 0).",
};

/// Every family served at `/metrics`. The ones not starting with `cdnsteer_dns_` go through
/// the `metrics` recorder; `init` describes them from here.
pub const CATALOGUE: &[Family] = &[
    Family { name: BUILD_INFO, kind: Kind::Gauge, help: "Always 1; the version label says which cdnsteer build is running." },
    Family { name: GENERATION, kind: Kind::Gauge, help: "Generation of the snapshot being served; increases on every reload and share change." },
    Family { name: DECISIONS, kind: Kind::Counter, help: "Decision events: a region's shares or a CDN's up/down state changed." },
    Family { name: FAIL_OPEN, kind: Kind::Counter, help: "Times a region found no usable candidate and failed open to its last-resort CDN." },
    Family { name: TELEMETRY, kind: Kind::Counter, help: "Telemetry measurements received on the admin API, by result (accepted or rejected)." },
    Family { name: OBSERVATIONS_DROPPED, kind: Kind::Counter, help: "Probe or telemetry observations dropped because the engine queue was full." },
    Family { name: RELOADS, kind: Kind::Counter, help: "Configuration reloads, by result (ok or failed; a failed reload keeps the previous generation)." },
    DNS_QUERIES,
    DNS_STEERED,
    DNS_TRUNCATED,
    DNS_ECS,
    DNS_DROPPED,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the recorder (once per process), describe every recorder series and register the
/// ones with known labels at zero. Returns `None` if some other recorder was installed first
/// (metrics are then not exported).
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
            for family in CATALOGUE.iter().filter(|f| !f.name.starts_with("cdnsteer_dns_")) {
                match family.kind {
                    Kind::Counter => describe_counter!(family.name, Unit::Count, family.help),
                    Kind::Gauge => describe_gauge!(family.name, Unit::Count, family.help),
                }
            }
            metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            metrics::gauge!(GENERATION).set(0.0);
            for result in ["ok", "failed"] {
                metrics::counter!(RELOADS, "result" => result).absolute(0);
            }
            for result in ["accepted", "rejected"] {
                metrics::counter!(TELEMETRY, "result" => result).absolute(0);
            }
            metrics::counter!(OBSERVATIONS_DROPPED).absolute(0);
            Some(handle)
        })
        .as_ref()
}

/// The recorder's series in the Prometheus text format (the DNS series are appended by the
/// admin API from `dns::counters`).
pub fn render() -> String {
    init().map(PrometheusHandle::render).unwrap_or_default()
}

/// Append the `# HELP` and `# TYPE` lines of `family`.
pub fn write_family(out: &mut String, family: &Family) {
    let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(family.help));
    let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
}

/// Append one sample line: `name{label="value",...} value`.
pub fn write_sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, val)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push_str("=\"");
            escape_label_value(out, val);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape backslash, double quote and line feed (text format 0.0.4).
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP texts escape backslash and line feed.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_escape_label_values() {
        let mut out = String::new();
        write_family(&mut out, &DNS_DROPPED);
        write_sample(&mut out, "x_total", &[("a", "q\"b\\c\nd"), ("e", "f")], 7);
        write_sample(&mut out, "y_total", &[], 0);
        assert!(out.starts_with("# HELP cdnsteer_dns_dropped_packets_total DNS packets"), "{out}");
        assert!(out.contains("# TYPE cdnsteer_dns_dropped_packets_total counter\n"), "{out}");
        assert!(out.contains("x_total{a=\"q\\\"b\\\\c\\nd\",e=\"f\"} 7\n"), "{out}");
        assert!(out.ends_with("y_total 0\n"), "{out}");
    }

    #[test]
    fn catalogue_follows_prometheus_naming() {
        let mut seen = std::collections::HashSet::new();
        for f in CATALOGUE {
            assert!(seen.insert(f.name), "{} listed twice", f.name);
            assert!(f.name.starts_with("cdnsteer_"), "{}", f.name);
            assert_eq!(f.kind == Kind::Counter, f.name.ends_with("_total"), "{}", f.name);
            assert!(!f.help.is_empty() && !f.help.contains('\n'), "{}", f.name);
        }
    }
}
