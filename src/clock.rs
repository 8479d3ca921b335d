//! The one place the daemon reads the wall clock. Pure code (health, steer, overrides) takes
//! a `Millis` passed in from here, or from the simulator, or from a test, never from the OS.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::timestamp::Millis;

/// The system's wall clock, as Unix milliseconds (UTC). Wall time, not a counter from start:
/// override expiries and history must mean the same instant after a restart. It never goes
/// backwards: if the system clock steps back, `now` holds at the latest value it gave until
/// the wall catches up (a step back would otherwise freeze the engine's ticks and make old
/// signals look fresh). Clones share that memory.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    latest: Arc<AtomicU64>,
}

impl Clock {
    /// The clock.
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Unix milliseconds now (0 if the system clock is set before 1970), never less than a
    /// value returned before.
    pub fn now(&self) -> Millis {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis);
        let before = self.latest.fetch_max(wall, Ordering::Relaxed);
        before.max(wall)
    }
}
