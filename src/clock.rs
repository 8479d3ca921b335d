//! The one place the daemon reads the wall clock. Pure code (health, steer, overrides) takes
//! a `Millis` passed in from here, or from the simulator, or from a test, never from the OS.

use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::timestamp::Millis;

/// The system's wall clock, as Unix milliseconds (UTC). Wall time, not a monotonic counter:
/// override expiries and history must mean the same instant after a restart.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock;

impl Clock {
    /// The clock.
    pub fn new() -> Clock {
        Clock
    }

    /// Unix milliseconds now (0 if the system clock is set before 1970).
    pub fn now(&self) -> Millis {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis)
    }
}
