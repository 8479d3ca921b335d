//! The simulator: a match night rehearsed through the production control loop with simulated
//! time. A scenario (`scenarios/*.yaml`) gives the audience (viewers over time per region,
//! bitrate, how resolvers and players follow DNS), the truth about each CDN (what it can
//! really carry, how it performs and saturates) and incidents; simulated probes and player
//! telemetry report what that model implies, at their real intervals and staleness, to the
//! very engine, scores, shares and `steer::plan` the server runs (`steer::drive::round`).
//!
//! - `scenario`: the file schema, its checks (file:line:column) and the validated model.
//! - `audience`: the audience curve and the cohorts of viewers moving between CDNs.
//! - `truth`: a CDN's conditions under load and incidents.
//! - `observe`: simulated probes and telemetry (seeded noise).
//! - `run`: the loop, optionally writing the night into a history database.
//! - `summary`: the tally of a night and its limits.
//! - `forecast`: the need per CDN and region at the peak, N-1, against capacity and commits.
//! - `sweep`: the night under a grid of policy settings on every core, ranked.

pub mod audience;
pub mod forecast;
pub mod observe;
pub mod run;
pub mod scenario;
pub mod summary;
pub mod sweep;
pub mod truth;

/// `v` rounded to `digits` decimals (figures in summaries and observations stay readable
/// and byte-stable).
pub(crate) fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario does not fit its zones or events.
    #[error("{0}")]
    Scenario(String),
}
