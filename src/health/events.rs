//! Decision events: every change of shares (or of a CDN's up/down state), with the reason,
//! kept in a bounded in-memory log for the admin API and written to the structured log.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

use crate::health::signal::Millis;

/// One change of a region's shares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionEvent {
    /// When (wall clock; RFC 3339 in JSON).
    #[serde(with = "crate::timestamp::as_rfc3339")]
    pub at: Millis,
    /// Snapshot generation that carried the change (0 until published).
    pub generation: u64,
    /// Steered name.
    pub name: String,
    /// Region (`country:KR`, `default`, ...).
    pub region: String,
    /// Shares before, per CDN.
    pub old: Vec<(String, f64)>,
    /// Shares after, per CDN.
    pub new: Vec<(String, f64)>,
    /// Why, in words an operator reads.
    pub reason: String,
    /// Operator overrides that applied to the region (ids).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// This change left the region with no usable candidate: it now answers its last resort.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fails_open: bool,
}

/// A bounded log of recent events, shared by the engine (writer) and the admin API (readers).
/// Never touched by the DNS query path.
#[derive(Debug)]
pub struct EventLog {
    events: Mutex<VecDeque<DecisionEvent>>,
    capacity: usize,
}

impl EventLog {
    /// Keep at most `capacity` events.
    pub fn new(capacity: usize) -> EventLog {
        EventLog { events: Mutex::new(VecDeque::with_capacity(capacity.min(4096))), capacity: capacity.max(1) }
    }

    /// Append, dropping the oldest beyond capacity.
    pub fn push(&self, event: DecisionEvent) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if events.len() == self.capacity {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// The newest `n` events, oldest first.
    pub fn recent(&self, n: usize) -> Vec<DecisionEvent> {
        let events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events.iter().skip(events.len().saturating_sub(n)).cloned().collect()
    }
}
