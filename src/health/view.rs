//! What the health engine knows, as `steer::plan` reads it: per steered name and region, each
//! candidate's share, health state, smoothed score and the signal values behind it. The
//! engine implements `HealthView`; `NoHealth` (configured weights only: cold start, offline
//! explain) and test doubles implement it too, so planning never needs a running engine.

use smallvec::SmallVec;

use super::share::RegionState;
use super::signal::SignalValues;
use crate::region::RegionKey;
use crate::zone::model::{Region, SteeredName};

/// Read access to health state by (steered name, region).
pub trait HealthView {
    /// The state of one region of one steered name, if the engine has ticked it.
    fn region(&self, name: &str, region: &RegionKey) -> Option<&RegionHealth>;
}

/// No health data at all: every region serves its configured weights.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHealth;

impl HealthView for NoHealth {
    fn region(&self, _: &str, _: &RegionKey) -> Option<&RegionHealth> {
        None
    }
}

/// The state of one region of one steered name, per candidate in the region's order.
#[derive(Debug, Clone)]
pub struct RegionHealth {
    /// Candidate CDN names, in the region's candidate order.
    pub cdns: Vec<String>,
    /// Shares, health states, fail-open.
    pub state: RegionState,
    /// Smoothed score per candidate as of the last tick (`None`: unknown).
    pub scores: Vec<Option<f64>>,
    /// Signal values behind each candidate's latest score (reasons are computed on demand).
    pub signals: Vec<Option<SignalValues>>,
    /// Region whose signals were used per candidate (after fallback to continent/default).
    pub signal_region: Vec<Option<RegionKey>>,
    /// Some candidate is recovering or near a threshold: answers carry the fast TTL.
    pub unsettled: bool,
    /// Per candidate: drained by an operator override at the last tick.
    pub drained: SmallVec<[bool; 8]>,
    /// Demand used at the last tick, Gbps.
    pub demand_gbps: Option<f64>,
    /// The share engine converged on these inputs; the same inputs can skip the region.
    pub(crate) quiet_on: Option<SmallVec<[(i64, bool, Option<u64>, u64); 8]>>,
}

impl RegionHealth {
    /// Cold state at the configured weights.
    pub fn new(name: &SteeredName, region: &Region) -> RegionHealth {
        let weights: Vec<f64> = region.candidates.iter().map(|c| c.weight).collect();
        let n = weights.len();
        RegionHealth {
            cdns: region.candidates.iter().map(|c| name.cdns[c.cdn].name.clone()).collect(),
            state: RegionState::new(&weights),
            scores: vec![None; n],
            signals: vec![None; n],
            signal_region: vec![None; n],
            unsettled: false,
            drained: SmallVec::from_elem(false, n),
            demand_gbps: None,
            quiet_on: None,
        }
    }

    /// True when this state was built for the region's current candidate list.
    pub fn matches(&self, name: &SteeredName, region: &Region) -> bool {
        self.cdns.len() == region.candidates.len() && self.cdns.iter().zip(&region.candidates).all(|(n, c)| *n == name.cdns[c.cdn].name)
    }

    /// After a zone edit: same candidates keep everything (changed weights then move at the
    /// slew rate); a changed candidate list starts the shares again from the configured
    /// weights, keeping what is known about each CDN that stays.
    pub fn follow_zone(&mut self, name: &SteeredName, region: &Region) {
        if self.matches(name, region) {
            return;
        }
        let old = std::mem::replace(self, RegionHealth::new(name, region));
        for (i, cdn) in self.cdns.iter().enumerate() {
            if let Some(j) = old.cdns.iter().position(|c| c == cdn) {
                self.signals[i] = old.signals[j];
                self.scores[i] = old.scores[j];
                self.state.cdns[i].status = old.state.cdns[j].status;
            }
        }
    }

    /// Index of a candidate by CDN name.
    pub fn position(&self, cdn: &str) -> Option<usize> {
        self.cdns.iter().position(|c| c == cdn)
    }
}
