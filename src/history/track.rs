//! Which share rows a plan adds to the history: per steered name x region x CDN, the ones
//! that changed since the row last written (share by more than [`SHARE_DEADBAND`], the state,
//! or the score by [`SCORE_DEADBAND`] or more, or becoming known or unknown), and every series
//! at a keyframe. Pure: the writer thread owns one tracker and feeds it the plans it receives.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::store::ShareRow;
use super::{SCORE_DEADBAND, SHARE_DEADBAND};
use crate::steer::{CandidateState, PlanExplain};
use crate::timestamp::Millis;
use crate::zone::ZoneSet;

/// (steered name, region, CDN).
pub type SeriesKey = (Arc<str>, Arc<str>, Arc<str>);

/// What was last written for one series.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Last {
    share: f64,
    score: Option<f64>,
    state: CandidateState,
}

impl Last {
    fn differs(&self, other: &Last) -> bool {
        let edge = |s: f64| (s <= 0.0, s >= 1.0);
        (self.share - other.share).abs() > SHARE_DEADBAND
            || edge(self.share) != edge(other.share)
            || self.state != other.state
            || match (self.score, other.score) {
                (Some(a), Some(b)) => (a - b).abs() >= SCORE_DEADBAND,
                (None, None) => false,
                _ => true,
            }
    }
}

/// One steered name's labels: its name, region keys and CDN names.
type NameLabels = (Arc<str>, Vec<Arc<str>>, Vec<Arc<str>>);

/// Interned labels of one zone set, per steered name.
#[derive(Debug)]
struct Labels {
    zones_id: u64,
    names: Vec<NameLabels>,
}

impl Labels {
    fn of(zones: &ZoneSet) -> Labels {
        let names = zones
            .steered()
            .map(|s| (Arc::from(s.name.to_string()), s.regions.iter().map(|r| Arc::from(r.key.to_string())).collect(), s.cdns.iter().map(|c| Arc::from(c.name.as_str())).collect()))
            .collect();
        Labels { zones_id: zones.id, names }
    }
}

/// Change detection and keyframes for share rows.
#[derive(Debug)]
pub struct ShareTracker {
    keyframe_ms: Millis,
    last: FxHashMap<SeriesKey, Last>,
    last_keyframe: Option<Millis>,
    labels: Option<Labels>,
}

impl ShareTracker {
    /// A tracker that writes every series at least every `keyframe_ms`.
    pub fn new(keyframe_ms: Millis) -> ShareTracker {
        ShareTracker { keyframe_ms: keyframe_ms.max(1), last: FxHashMap::default(), last_keyframe: None, labels: None }
    }

    /// The next plan will be written whole (after rows were lost: a reader then finds a
    /// complete state again without waiting for the next keyframe).
    pub fn force_keyframe(&mut self) {
        self.last_keyframe = None;
    }

    /// Series tracked.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// True before the first plan.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    /// The rows `explain` (made for `zones`) adds at `at`.
    pub fn observe(&mut self, at: Millis, zones: &ZoneSet, explain: &PlanExplain, out: &mut Vec<ShareRow>) {
        if self.labels.as_ref().is_none_or(|l| l.zones_id != zones.id) {
            self.labels = Some(Labels::of(zones));
        }
        let Some(labels) = &self.labels else { return };
        let keyframe = self.last_keyframe.is_none_or(|k| at >= k.saturating_add(self.keyframe_ms));
        if keyframe {
            self.last_keyframe = Some(at);
            // Series of names and regions that went away in a reload are forgotten here.
            self.last.clear();
        }
        for ((name, regions, cdns), explained) in labels.names.iter().zip(&explain.names) {
            for (region, why) in regions.iter().zip(explained) {
                for c in &why.candidates {
                    let Some(cdn) = cdns.get(c.cdn) else { continue };
                    let now = Last { share: if c.share.is_finite() { c.share } else { 0.0 }, score: c.score.filter(|s| s.is_finite()), state: c.state };
                    let key = (Arc::clone(name), Arc::clone(region), Arc::clone(cdn));
                    let changed = match self.last.get(&key) {
                        Some(last) => last.differs(&now),
                        None => true,
                    };
                    if !keyframe && !changed {
                        continue;
                    }
                    out.push(ShareRow {
                        at,
                        name: Arc::clone(name),
                        region: Arc::clone(region),
                        cdn: Arc::clone(cdn),
                        share: now.share,
                        score: now.score,
                        state: now.state,
                        keyframe,
                    });
                    self.last.insert(key, now);
                }
            }
        }
    }
}
