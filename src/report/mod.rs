//! The post-event report: what the CDNs delivered during an event's window, against the
//! zones' SLA targets, capacities and commits, and what cdnsteer and the NOC did about it.
//!
//! ```text
//! history (HistoryReader) + zones + event --gather (cli::report)--> ReportInput
//!     --build (pure)--> Report (the JSON twin: every figure, finding and series)
//!         --html::render--> one self-contained HTML file (inline SVG charts, print CSS)
//!         --csv::render--> the per-CDN x region summary table
//! ```
//!
//! - `input`: [`ReportInput`], the window, the zones' policies and the history's series, as
//!   plain data (a fixture is a JSON file);
//! - `build`: per CDN and region figures, timeline, method notes; `charts`: the series
//!   behind the charts;
//!   `sla`: targets, time in breach, worst windows, incidents and the traffic shift;
//!   `findings`: findings and recommendations, each pointing at its evidence;
//! - `model`: [`Report`]; `calc`: quantiles, step functions, labels, colours;
//! - `html`, `svg`, `csv`: renderings (format only, no figures computed there).
//!
//! Deterministic: no clock (the time of making is an input), no hash-ordered maps, fixed
//! rounding, so the same input gives byte-identical JSON.

mod build;
pub mod calc;
mod charts;
pub mod csv;
mod findings;
pub mod gather;
pub mod html;
pub mod input;
pub mod model;
mod sla;
pub mod svg;

#[cfg(test)]
mod tests;

pub use build::build;
pub use input::ReportInput;
pub use model::Report;

use crate::zone::ZoneSet;
use crate::zone::health::HealthPolicy;
use input::{CapacityInput, NameInput, RegionWeights, SlaInput, ThresholdsInput, WeightsInput, ZonePolicy};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The window is empty or could not be found.
    #[error("report window: {0}")]
    Window(String),
    /// The input does not hold together.
    #[error("report input: {0}")]
    Input(String),
    /// The history could not be read.
    #[error("{0}")]
    History(String),
}

/// The report JSON, pretty-printed, with a final newline.
pub fn to_json(report: &Report) -> Result<String, ReportError> {
    serde_json::to_string_pretty(report).map(|mut s| {
        s.push('\n');
        s
    }).map_err(|e| ReportError::Input(format!("cannot write JSON: {e}")))
}

/// A zone's policy as the report reads it (`names`: its steered names, already converted).
pub fn zone_policy(zone: &str, p: &HealthPolicy, names: &[NameInput]) -> ZonePolicy {
    let b = |x: crate::zone::health::Bounds| input::Bound { good: x.good, bad: x.bad };
    ZonePolicy {
        zone: zone.to_string(),
        sla: SlaInput { ttfb_ms: b(p.sla.ttfb_ms), throughput_mbps: b(p.sla.throughput_mbps), cache_hit_ratio: b(p.sla.cache_hit_ratio), error_rate: b(p.sla.error_rate) },
        weights: WeightsInput { ttfb: p.weights.ttfb, throughput: p.weights.throughput, cache_hit: p.weights.cache_hit, errors: p.weights.errors },
        thresholds: ThresholdsInput {
            down: p.down,
            up: p.up,
            up_hold_secs: p.up_hold_ms as f64 / 1000.0,
            half_life_secs: p.half_life_ms / 1000.0,
            max_change_per_tick: p.max_change_per_tick,
            min_dwell_secs: p.min_dwell_ms as f64 / 1000.0,
            min_warm_share: p.min_warm_share,
            max_share: p.max_share,
        },
        capacity: p
            .capacity
            .iter()
            .map(|c| CapacityInput { cdn: c.cdn.clone(), gbps: c.gbps, commit_gbps: c.commit_gbps, target_utilisation: c.target_utilisation, regions: c.regions.iter().map(|(r, g)| (r.to_string(), *g)).collect() })
            .collect(),
        names: names.to_vec(),
    }
}

/// The zones' policies in force at `at` (an event's share settings applied), restricted to
/// zones holding one of `names` (every zone when `names` is empty).
pub fn policies(zones: &ZoneSet, names: &[String], at: crate::timestamp::Millis) -> Vec<ZonePolicy> {
    let mut out = Vec::new();
    for z in &zones.zones {
        let steered: Vec<NameInput> = z
            .steered
            .iter()
            .filter(|s| names.is_empty() || names.iter().any(|n| n == s.name.as_str()))
            .map(|s| NameInput {
                name: s.name.as_str().to_string(),
                last_resort: s.cdns.get(s.last_resort).map(|c| c.name.clone()).unwrap_or_default(),
                regions: s
                    .regions
                    .iter()
                    .map(|r| RegionWeights { region: r.key.to_string(), weights: r.candidates.iter().filter_map(|c| s.cdns.get(c.cdn).map(|cdn| (cdn.name.clone(), c.weight))).collect() })
                    .collect(),
            })
            .collect();
        if steered.is_empty() && !names.is_empty() {
            continue;
        }
        out.push(zone_policy(z.origin.as_str(), &z.health.at(at), &steered));
    }
    out
}
