//! `--format csv`: the per-CDN x region summary table, one row per CDN and region plus one
//! `all` row per CDN, RFC 4180 (quoted where needed, CRLF line ends), empty cells for unknown
//! figures.

use super::model::{Report, Stats};

/// Column names.
pub const HEADER: [&str; 27] = [
    "cdn",
    "region",
    "answers",
    "answer_share",
    "delivered_tb",
    "delivered_share",
    "peak_gbps",
    "p95_gbps",
    "ttfb_p50_ms",
    "ttfb_p95_ms",
    "ttfb_players_p95_ms",
    "throughput_mbps",
    "cache_hit_ratio",
    "error_rate",
    "availability_pct",
    "sla_breach_pct",
    "healthy_pct",
    "degraded_pct",
    "down_pct",
    "drained_pct",
    "share_changes",
    "fail_opens",
    "health_drains",
    "operator_drains",
    "viewers_peak",
    "rebuffer_ratio",
    "startup_p50_ms",
];

fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

fn row(cdn: &str, region: &str, s: &Stats) -> Vec<String> {
    let state = |name: &str| num(Some(s.time_in_state.iter().find(|t| t.state == name).map_or(0.0, |t| t.pct)));
    let q = s.qoe.as_ref();
    vec![
        cell(cdn),
        cell(region),
        s.answers.to_string(),
        num(s.answer_share),
        num(s.delivered_tb),
        num(s.delivered_share),
        num(s.peak_gbps),
        num(s.p95_gbps),
        num(s.ttfb_p50_ms),
        num(s.ttfb_p95_ms),
        num(s.ttfb_players_p95_ms),
        num(s.throughput_mbps),
        num(s.cache_hit_ratio),
        num(s.error_rate),
        num(s.availability_pct),
        num(s.sla_breach_pct),
        state("healthy"),
        state("degraded"),
        state("down"),
        state("drained"),
        s.share_changes.to_string(),
        s.fail_opens.to_string(),
        s.health_drains.to_string(),
        s.operator_drains.to_string(),
        num(q.and_then(|q| q.viewers_peak)),
        num(q.and_then(|q| q.rebuffer_ratio)),
        num(q.and_then(|q| q.startup_p50_ms)),
    ]
}

/// The table.
pub fn render(report: &Report) -> String {
    let mut out = HEADER.join(",");
    out.push_str("\r\n");
    for c in &report.cdns {
        for line in std::iter::once(row(&c.cdn, "all", &c.overall)).chain(c.regions.iter().map(|r| row(&c.cdn, &r.region, &r.stats))) {
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
    }
    out
}
