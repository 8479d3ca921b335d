//! Prometheus metrics: the catalogue of every family the admin API's `GET /metrics` serves
//! (name, type and HELP, in `catalogue`), and the text-format writer every series is rendered
//! with, by hand.
//!
//! One scrape is put together from these sources, none of them on the DNS path:
//! - the process-wide atomics (`process::PROCESS`), bumped where things happen: reloads,
//!   telemetry, dropped observations, the change freeze's pending flag, build info;
//! - the served snapshot (`steering::render_snapshot`): generation, share, score and state per
//!   name x region x CDN, fail-open, overrides in force, read from the `PlanExplain` that
//!   `steer::plan` made with the table DNS answers from;
//! - the health engine's signal store (`signals::render_signals`): signal values and ages
//!   per CDN x region x vantage, taken as an `Arc` under the control lock, rendered outside it;
//! - small registries updated off the DNS path: `events::SteeringCounters` (decision
//!   events, fail-opens, health state changes, by the engine task) and `probe::ProbeStats`
//!   (probe duration histograms and failures, by the probe tasks);
//! - the DNS counters, counted per worker without shared writes and summed at scrape time
//!   (`dns::counters`).
//!
//! Every series with label values known from the configuration is present from the first
//! scrape (counters at 0), so `rate()` works from the start. Gauges that are unknown (a score
//! with no fresh signal) have no sample rather than NaN: graphs show a gap, aggregations are
//! not poisoned, and `absent()` or the state series say why.
//!
//! Steered names past `metrics.max_names` (daemon config, default 50) share the series
//! `name="_other"`, as in the DNS series: counters and counts are summed, shares and scores
//! averaged, so cardinality stays names x regions x CDNs for the first names plus regions x
//! CDNs for all the rest.

mod catalogue;
pub mod events;
pub mod process;
pub mod signals;
pub mod steering;
pub mod ticks;

use std::fmt::Write as _;

pub use catalogue::*;
pub use events::SteeringCounters;
pub use process::{Intake, PROCESS, ProcessCounters, ReloadResult};

/// The name label of series that stand for every steered name past `metrics.max_names`.
pub const OTHER_NAME: &str = "_other";

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets at restart); name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations counted into buckets (`_bucket{le}`, `_sum`, `_count`).
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
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

/// The process-wide series ([`PROCESS`]) in the Prometheus text format (the admin API
/// appends the others).
pub fn render() -> String {
    let mut out = String::new();
    PROCESS.render(&mut out);
    out
}

/// Append the `# HELP` and `# TYPE` lines of `family`.
pub fn write_family(out: &mut String, family: &Family) {
    let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(family.help));
    let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
}

/// `name{label="value",...}` (no braces without labels).
fn write_series(out: &mut String, name: &str, labels: &[(&str, &str)]) {
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
}

/// Append one sample line with an integer value: `name{label="value",...} value`.
pub fn write_sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    write_series(out, name, labels);
    let _ = writeln!(out, " {value}");
}

/// Append one sample line with a float value (`NaN`, `+Inf`, `-Inf` spelled as Prometheus
/// reads them).
pub fn write_gauge(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    write_series(out, name, labels);
    out.push(' ');
    write_float(out, value);
    out.push('\n');
}

fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// One histogram's samples: `_bucket` per upper bound (cumulative counts) and `+Inf`, then
/// `_sum` and `_count`. `counts[i]` is the number of observations in bucket `i` alone (at or
/// below `bounds[i]` and above the bound before it); `counts[bounds.len()]` is above the last.
pub struct HistogramSample<'a> {
    /// Upper bounds, ascending.
    pub bounds: &'a [f64],
    /// Per-bucket (not cumulative) counts, one more than `bounds`.
    pub counts: &'a [u64],
    /// Sum of the observations.
    pub sum: f64,
}

/// Append a histogram series (`le` after the given labels).
pub fn write_histogram(out: &mut String, name: &str, labels: &[(&str, &str)], h: &HistogramSample<'_>) {
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0u64;
    for (i, count) in h.counts.iter().enumerate() {
        cumulative += count;
        let mut le = String::new();
        match h.bounds.get(i) {
            Some(b) => write_float(&mut le, *b),
            None => le.push_str("+Inf"),
        }
        let mut with_le: smallvec::SmallVec<[(&str, &str); 6]> = labels.iter().copied().collect();
        with_le.push(("le", &le));
        write_sample(out, &bucket, &with_le, cumulative);
    }
    write_gauge(out, &format!("{name}_sum"), labels, h.sum);
    write_sample(out, &format!("{name}_count"), labels, cumulative);
}

/// Label values escape backslash, double quote and line feed (text format 0.0.4).
fn escape_label_value(out: &mut String, value: &str) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
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
    fn floats_and_histograms() {
        let mut out = String::new();
        for v in [0.25, 1.0, 1e-5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            write_gauge(&mut out, "g", &[], v);
        }
        assert_eq!(out, "g 0.25\ng 1\ng 0.00001\ng NaN\ng +Inf\ng -Inf\n");
        out.clear();
        write_histogram(&mut out, "h_seconds", &[("phase", "ttfb")], &HistogramSample { bounds: &[0.1, 1.0], counts: &[2, 0, 1], sum: 3.5 });
        assert_eq!(
            out,
            "h_seconds_bucket{phase=\"ttfb\",le=\"0.1\"} 2\nh_seconds_bucket{phase=\"ttfb\",le=\"1\"} 2\nh_seconds_bucket{phase=\"ttfb\",le=\"+Inf\"} 3\nh_seconds_sum{phase=\"ttfb\"} 3.5\nh_seconds_count{phase=\"ttfb\"} 3\n"
        );
    }
}
