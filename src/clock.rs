//! The one place the daemon reads the monotonic clock. Pure code takes `Millis` from here (or
//! from the simulator, or from a test), never from the OS.

use std::time::Instant;

pub use crate::health::signal::Millis;

/// Milliseconds since the clock was created.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Clock {
        Clock { start: Instant::now() }
    }

    /// Milliseconds elapsed.
    pub fn now(&self) -> Millis {
        self.start.elapsed().as_millis() as Millis
    }
}
