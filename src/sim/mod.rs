//! The simulator: scenarios, audience and CDN models, simulated clock, forecast, sweep.
//!
//! A scenario rehearses a match night through the very engine, planner and history the live
//! server uses, in simulated time. So far: [`scenario`], the scenario files and their checks.

pub mod scenario;
