//! The health pipeline, pure, with time passed in: `signal` (facts per CDN x region x
//! vantage, staleness), `score` (SLA bounds -> 0..100 with reasons, smoothing, quorum),
//! `share` (scores -> traffic shares: hysteresis, dwell, slew, warm share, caps, fail-open),
//! `engine` (ticks every region of every steered name and keeps their state), `view` (what
//! the engine knows, read by `steer::plan`), `events` (decision events).
//!
//! Nothing here does I/O or reads a clock: the daemon passes wall-clock `now`, the simulator
//! simulated time, tests whatever they like.

pub mod engine;
pub mod events;
pub mod score;
pub mod share;
pub mod signal;
pub mod view;

pub use engine::Engine;
pub use signal::{Millis, Observation};
pub use view::{HealthView, NoHealth, RegionHealth};
