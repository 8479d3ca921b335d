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
    events: Mutex<Kept>,
    capacity: usize,
}

/// The events kept and how many were ever pushed (the position of the next one).
#[derive(Debug, Default)]
struct Kept {
    events: VecDeque<DecisionEvent>,
    pushed: u64,
}

impl EventLog {
    /// Keep at most `capacity` events.
    pub fn new(capacity: usize) -> EventLog {
        EventLog { events: Mutex::new(Kept { events: VecDeque::with_capacity(capacity.min(4096)), pushed: 0 }), capacity: capacity.max(1) }
    }

    /// Append, dropping the oldest beyond capacity.
    pub fn push(&self, event: DecisionEvent) {
        let mut kept = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if kept.events.len() == self.capacity {
            kept.events.pop_front();
        }
        kept.events.push_back(event);
        kept.pushed += 1;
    }

    /// The newest `n` events, oldest first.
    pub fn recent(&self, n: usize) -> Vec<DecisionEvent> {
        let kept = self.events.lock().unwrap_or_else(|p| p.into_inner());
        kept.events.iter().skip(kept.events.len().saturating_sub(n)).cloned().collect()
    }

    /// The events pushed at or after position `from` that are still kept (every one since
    /// the start with `from` 0), oldest first, and the position after the newest: a reader
    /// that passes it back next time sees each event once.
    pub fn after(&self, from: u64) -> (Vec<DecisionEvent>, u64) {
        let kept = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let oldest = kept.pushed - kept.events.len() as u64;
        let skip = usize::try_from(from.saturating_sub(oldest)).unwrap_or(usize::MAX);
        (kept.events.iter().skip(skip).cloned().collect(), kept.pushed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u64) -> DecisionEvent {
        DecisionEvent { at: n, generation: n, name: "n.".into(), region: "default".into(), old: vec![], new: vec![], reason: format!("{n}"), overrides: vec![], fails_open: false }
    }

    #[test]
    fn a_reader_sees_each_kept_event_once() {
        let log = EventLog::new(3);
        let (none, next) = log.after(0);
        assert!(none.is_empty());
        assert_eq!(next, 0);
        log.push(event(1));
        log.push(event(2));
        let (seen, next) = log.after(next);
        assert_eq!(seen.iter().map(|e| e.at).collect::<Vec<_>>(), [1, 2]);
        for n in 3..=6 {
            log.push(event(n));
        }
        // 3 was dropped (capacity 3): the reader gets what is still kept.
        let (seen, next) = log.after(next);
        assert_eq!(seen.iter().map(|e| e.at).collect::<Vec<_>>(), [4, 5, 6]);
        assert_eq!(next, 6);
        assert!(log.after(next).0.is_empty());
        assert_eq!(log.recent(2).iter().map(|e| e.at).collect::<Vec<_>>(), [5, 6]);
    }
}
