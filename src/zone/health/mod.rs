//! The `health:` block of a zone file: how CDN health is measured (active probes), what "good"
//! and "bad" mean (SLA bounds and weights), and how scores become traffic shares (thresholds,
//! hysteresis, slew, capacity). Like the rest of `zone/`: `spec` is the schema as written,
//! `check` validates it with located diagnostics, `model` is the validated `HealthPolicy`.

pub mod check;
pub mod model;
pub mod spec;

pub use check::{ZoneFacts, check_health};
pub use model::{Bounds, Capacity, HealthPolicy, PolicyWindow, Probe, SHARE_DEADBAND, SharePatch, SignalWeights, Sla};
pub use spec::HealthSpec;
