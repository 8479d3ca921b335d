//! Pure: scores -> traffic shares for one region of one steered name, one tick at a time.
//!
//! Per CDN a small state machine gives asymmetric hysteresis: `Up` drops to `Down` as soon as
//! the score falls below `down` (quick to distrust); `Down` becomes `Recovering` when the
//! score rises above `up`, and `Recovering` becomes `Up` only after staying above `up` for
//! `up_hold` (slow to trust). Unknown scores (stale or below quorum) hold the state.
//!
//! Targets: usable (`Up`) CDNs get their configured weight scaled by their score (plus an
//! incumbent bonus when they already carry traffic); CDNs with no data yet (cold start) keep
//! their configured weight; healthy backups get at least the warm share. Targets are then
//! capped (max share, capacity at target utilisation for the current demand) with the excess
//! spread over the others in proportion to their headroom. Finally the move from the current
//! shares is limited per tick (slew) and a CDN may not reverse direction within the dwell
//! time, except to drain. Shares always sum to 1, or the region fails open to its last-resort
//! CDN when no candidate is usable.

use serde::Serialize;
use smallvec::SmallVec;

use crate::health::signal::Millis;
use crate::zone::health::HealthPolicy;

/// Health state of one CDN in one region.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// No signal yet: the configured weight serves.
    Cold,
    /// Carrying traffic according to its score.
    Up,
    /// Drained since `since`.
    Down {
        /// When it went down.
        since: Millis,
    },
    /// Above `up` since `since`; returns after the hold time.
    Recovering {
        /// When it rose above `up`.
        since: Millis,
    },
}

impl Status {
    /// May carry traffic.
    pub fn usable(self) -> bool {
        matches!(self, Status::Cold | Status::Up)
    }
}

/// One candidate's input for a tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidateInput {
    /// Configured weight (> 0).
    pub weight: f64,
    /// Smoothed score 0..100; `None` when unknown (stale, below quorum).
    pub score: Option<f64>,
    /// The last known smoothed score when `score` is unknown: an `Up` CDN keeps the weight it
    /// had (stale is never healthier than the last fact), but cannot change state on it.
    pub last_score: Option<f64>,
    /// True once any signal was ever seen for this CDN and region.
    pub has_data: bool,
    /// Capacity available to this region, Gbps, if configured (already times target
    /// utilisation, and this region's part of the CDN's zone-wide budget).
    pub capacity_gbps: Option<f64>,
    /// Drained by an operator override: out of the answers from this tick on.
    pub drained: bool,
}

/// State of one CDN in a region, carried across ticks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CdnState {
    /// Health state.
    pub status: Status,
    /// Current share 0..1.
    pub share: f64,
    /// Direction of the last change: -1, 0 (none yet), +1.
    pub direction: i8,
    /// When the direction last changed.
    pub direction_since: Millis,
}

impl CdnState {
    fn new(share: f64) -> CdnState {
        CdnState { status: Status::Cold, share, direction: 0, direction_since: 0 }
    }
}

/// State of one region, carried across ticks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionState {
    /// Per candidate, in the region's candidate order.
    pub cdns: Vec<CdnState>,
    /// No candidate usable: answering with the last-resort CDN.
    pub fail_open: bool,
    /// Set after the first tick; before it the shares are the raw configured weights.
    pub started: bool,
}

impl RegionState {
    /// Start from the configured weights (cold start).
    pub fn new(weights: &[f64]) -> RegionState {
        let shares = normalised(weights);
        RegionState { cdns: shares.into_iter().map(CdnState::new).collect(), fail_open: false, started: false }
    }

    /// Current shares.
    pub fn shares(&self) -> Vec<f64> {
        self.cdns.iter().map(|c| c.share).collect()
    }
}

/// What a tick changed.
#[derive(Debug, Clone, PartialEq)]
pub struct TickOutcome {
    /// Some share moved.
    pub moved: bool,
    /// Some candidate is near a threshold or recovering (answers should carry the fast TTL).
    pub unsettled: bool,
    /// Candidates whose status changed: (index, old, new).
    pub transitions: Vec<(usize, Status, Status)>,
    /// Shares sit at their targets (within the deadband) and no CDN waits out a hold: the
    /// same inputs next tick would change nothing.
    pub converged: bool,
}

/// Per-candidate numbers of one region; inline for up to 8 CDNs (no allocation per tick).
type PerCdn = SmallVec<[f64; 8]>;

fn normalised(w: &[f64]) -> PerCdn {
    let total: f64 = w.iter().filter(|x| x.is_finite() && **x > 0.0).sum();
    if total <= 0.0 {
        return w.iter().map(|_| 0.0).collect();
    }
    w.iter().map(|x| if x.is_finite() && *x > 0.0 { x / total } else { 0.0 }).collect()
}

/// Points within which a score counts as "near" a threshold (dynamic TTL).
const NEAR: f64 = 5.0;
/// Shares below this are treated as zero (float dust).
const DUST: f64 = 1e-9;
/// Share moves smaller than this (half a percent) are not worth a new snapshot.
pub const DEADBAND: f64 = crate::zone::health::SHARE_DEADBAND;

/// How much of its configured weight a usable CDN gets: all of it at or above `up` (meeting
/// the SLA; score noise among healthy CDNs must not churn viewers), scaling down linearly
/// towards `down` (degraded), never quite zero while usable. Incumbents get a bonus so a
/// CDN already carrying traffic keeps it through small dips.
pub fn health_factor(score: Option<f64>, incumbent: bool, p: &HealthPolicy) -> f64 {
    let Some(score) = score else { return 1.0 };
    let score = score + if incumbent { p.incumbent_bonus } else { 0.0 };
    let span = (p.up - p.down).max(1.0);
    ((score - p.down) / span).clamp(0.05, 1.0)
}

fn next_status(status: Status, score: Option<f64>, has_data: bool, now: Millis, p: &HealthPolicy) -> Status {
    match (status, score) {
        (Status::Cold, None) if !has_data => Status::Cold,
        // Had data once but none fresh now: unknown, hold where a cold CDN would be.
        (Status::Cold, None) => Status::Cold,
        (Status::Cold | Status::Up, Some(s)) if s < p.down => Status::Down { since: now },
        (Status::Cold | Status::Up, Some(_)) => Status::Up,
        (Status::Up, None) => Status::Up,
        (Status::Down { .. }, Some(s)) if s >= p.up => {
            if p.up_hold_ms == 0 { Status::Up } else { Status::Recovering { since: now } }
        }
        (Status::Down { since }, _) => Status::Down { since },
        (Status::Recovering { since }, Some(s)) if s >= p.up => {
            if now.saturating_sub(since) >= p.up_hold_ms { Status::Up } else { Status::Recovering { since } }
        }
        // Fell back below `up`, or went unknown: not proven healthy.
        (Status::Recovering { .. }, _) => Status::Down { since: now },
    }
}

/// Spread `shares` under `caps` (same length): clamp each to its cap and give the excess to the
/// others in proportion to their headroom. If every cap is full, the rest goes in proportion
/// to the caps (overflow is unavoidable then). Entries with cap 0 never receive anything.
pub fn apply_caps(shares: &mut [f64], caps: &[f64]) {
    let mut excess = 0.0;
    for (s, c) in shares.iter_mut().zip(caps) {
        if *s > *c + DUST {
            excess += *s - *c;
            *s = *c;
        }
    }
    if excess <= DUST {
        return;
    }
    // Each receiver gets at most its own headroom, so one pass cannot overshoot a cap.
    let headroom: PerCdn = shares.iter().zip(caps).map(|(s, c)| (c - s).max(0.0)).collect();
    let total: f64 = headroom.iter().sum();
    let give = excess.min(total);
    if total > DUST {
        for (s, h) in shares.iter_mut().zip(&headroom) {
            *s += give * h / total;
        }
    }
    // Demand beyond every cap: overflow in proportion to the caps.
    let rest = excess - give;
    let cap_total: f64 = caps.iter().sum();
    if rest > DUST && cap_total > 0.0 {
        for (s, c) in shares.iter_mut().zip(caps) {
            *s += rest * c / cap_total;
        }
    }
}

/// One tick for one region, in named steps: advance each CDN's health state, compute the
/// targets (health, warm share), cap them (max share, capacity for the demand), take
/// operator-drained CDNs out at once, then move towards the targets within the slew limit,
/// the dwell time and the deadband. `demand_gbps` is the region's current demand.
pub fn tick(state: &mut RegionState, inputs: &[CandidateInput], demand_gbps: Option<f64>, now: Millis, p: &HealthPolicy) -> TickOutcome {
    if state.cdns.len() != inputs.len() {
        *state = RegionState::new(&inputs.iter().map(|c| c.weight).collect::<Vec<_>>());
    }
    let (transitions, unsettled) = advance_statuses(state, inputs, now, p);
    let usable = state.cdns.iter().zip(inputs).filter(|(c, i)| c.status.usable() && !i.drained).count();
    if usable == 0 {
        let moved = state.cdns.iter().any(|c| c.share > DUST) || !state.fail_open;
        for c in &mut state.cdns {
            c.share = 0.0;
        }
        state.fail_open = true;
        state.started = true;
        return TickOutcome { moved, unsettled: true, transitions, converged: false };
    }
    let mut target = health_targets(state, inputs, p);
    warm_share(&mut target, state, inputs, usable, p);
    apply_caps(&mut target, &caps(state, inputs, usable, demand_gbps, p));
    let target = normalised(&target);

    // First tick (the configured weights may break the caps), back from fail-open (nothing
    // to ramp from), or no signal for any candidate yet (the configured weights serve as
    // they are, e.g. just edited): take the target directly.
    let all_cold = state.cdns.iter().all(|c| c.status == Status::Cold);
    if state.fail_open || !state.started || all_cold {
        let moved = state.fail_open || state.cdns.iter().zip(&target).any(|(c, t)| (c.share - t).abs() > DUST);
        state.fail_open = false;
        state.started = true;
        for (c, t) in state.cdns.iter_mut().zip(&target) {
            c.share = *t;
            c.direction = 0;
            c.direction_since = now;
        }
        return TickOutcome { moved, unsettled: unsettled || moved, transitions, converged: false };
    }
    let drained_now = take_out_drained(state, inputs, &target, now);
    let moved = slew(state, &target, now, p) || drained_now;
    let converged = !state.cdns.iter().any(|c| matches!(c.status, Status::Recovering { .. }))
        && state.cdns.iter().zip(&target).all(|(c, t)| (c.share - t).abs() < DEADBAND);
    TickOutcome { moved, unsettled: unsettled || moved, transitions, converged }
}

/// Step 1: each CDN's health state from its score; `unsettled` when one recovers or sits near
/// a threshold (answers then carry the fast TTL).
fn advance_statuses(state: &mut RegionState, inputs: &[CandidateInput], now: Millis, p: &HealthPolicy) -> (Vec<(usize, Status, Status)>, bool) {
    let mut transitions = Vec::new();
    let mut unsettled = false;
    for (i, (c, input)) in state.cdns.iter_mut().zip(inputs).enumerate() {
        let old = c.status;
        c.status = next_status(old, input.score, input.has_data, now, p);
        if std::mem::discriminant(&old) != std::mem::discriminant(&c.status) {
            transitions.push((i, old, c.status));
        }
        unsettled |= matches!(c.status, Status::Recovering { .. });
        if let Some(s) = input.score {
            unsettled |= (s - p.down).abs() < NEAR || (s - p.up).abs() < NEAR;
        }
    }
    (transitions, unsettled)
}

/// Step 2: usable CDNs get their weight scaled by health (cold ones their weight); drained,
/// down and recovering ones nothing. Normalised.
fn health_targets(state: &RegionState, inputs: &[CandidateInput], p: &HealthPolicy) -> PerCdn {
    let raw: PerCdn = state
        .cdns
        .iter()
        .zip(inputs)
        .map(|(c, input)| match c.status {
            _ if input.drained => 0.0,
            Status::Cold => input.weight,
            Status::Up => input.weight * health_factor(input.score.or(input.last_score), c.share > DUST, p),
            Status::Down { .. } | Status::Recovering { .. } => 0.0,
        })
        .collect();
    normalised(&raw)
}

/// Step 3: healthy backups keep at least the warm share, taken from the CDNs above it in
/// proportion to their surplus.
fn warm_share(target: &mut PerCdn, state: &RegionState, inputs: &[CandidateInput], usable: usize, p: &HealthPolicy) {
    if usable < 2 || p.min_warm_share <= 0.0 {
        return;
    }
    let floor = p.min_warm_share.min(1.0 / usable as f64);
    let mut deficit = 0.0;
    for ((t, c), input) in target.iter_mut().zip(&state.cdns).zip(inputs) {
        if c.status.usable() && !input.drained && *t < floor {
            deficit += floor - *t;
            *t = floor;
        }
    }
    let surplus: f64 = target.iter().map(|t| (t - floor).max(0.0)).sum();
    if surplus > 0.0 {
        let factor = (deficit / surplus).min(1.0);
        for t in target.iter_mut() {
            if *t > floor {
                *t -= (*t - floor) * factor;
            }
        }
    }
}

/// Step 4: each CDN's cap: `max_share` (lifted for a lone usable CDN) and its capacity for the
/// region's demand; unusable and drained CDNs are capped at 0.
fn caps(state: &RegionState, inputs: &[CandidateInput], usable: usize, demand_gbps: Option<f64>, p: &HealthPolicy) -> PerCdn {
    state
        .cdns
        .iter()
        .zip(inputs)
        .map(|(c, input)| {
            if !c.status.usable() || input.drained {
                return 0.0;
            }
            let mut cap = if usable > 1 { p.max_share } else { 1.0 };
            if let (Some(capacity), Some(demand)) = (input.capacity_gbps, demand_gbps) {
                if demand > 0.0 {
                    cap = cap.min(capacity / demand);
                }
            }
            cap.max(0.0)
        })
        .collect()
}

/// Step 5: an operator drain acts now, not at the slew rate: the drained CDNs' traffic goes
/// to the others in proportion to their targets. Returns whether anything moved.
fn take_out_drained(state: &mut RegionState, inputs: &[CandidateInput], target: &[f64], now: Millis) -> bool {
    let freed: f64 = state.cdns.iter().zip(inputs).filter(|(c, i)| i.drained && c.share > DUST).map(|(c, _)| c.share).sum();
    if freed <= DUST {
        return false;
    }
    let receivers: f64 = state.cdns.iter().zip(inputs).zip(target).filter(|((_, i), _)| !i.drained).map(|(_, t)| *t).sum();
    for ((c, input), t) in state.cdns.iter_mut().zip(inputs).zip(target) {
        let d = if input.drained { -c.share } else if receivers > 0.0 { freed * t / receivers } else { 0.0 };
        if d.abs() <= DUST {
            continue;
        }
        c.share = (c.share + d).max(0.0);
        let dir = if d > 0.0 { 1 } else { -1 };
        if dir != c.direction {
            c.direction = dir;
            c.direction_since = now;
        }
    }
    true
}

/// Step 6: move towards the targets, at most `max_change_per_tick` per CDN, never reversing a
/// CDN's direction within `min_dwell` (unless a drained CDN still has traffic to give up),
/// ignoring moves below the deadband, keeping the sum at 1. Returns whether anything moved.
fn slew(state: &mut RegionState, target: &[f64], now: Millis, p: &HealthPolicy) -> bool {
    // While a drained CDN still has traffic, dwell is suspended: the others must be free to
    // absorb it, whatever direction they moved last.
    let draining = state.cdns.iter().any(|c| !c.status.usable() && c.share > DUST);
    let mut delta: PerCdn = SmallVec::with_capacity(target.len());
    for (c, t) in state.cdns.iter().zip(target) {
        let mut d = (t - c.share).clamp(-p.max_change_per_tick, p.max_change_per_tick);
        if d.abs() <= DUST {
            d = 0.0;
        }
        let dir = if d > 0.0 { 1 } else if d < 0.0 { -1 } else { 0 };
        let reversing = dir != 0 && c.direction != 0 && dir != c.direction;
        if reversing && !draining && now.saturating_sub(c.direction_since) < p.min_dwell_ms {
            d = 0.0;
        }
        delta.push(d);
    }
    // Deadband: ignore moves too small to matter (score noise), unless a drained CDN still
    // has traffic to give up.
    if !draining && delta.iter().all(|d| d.abs() < DEADBAND) {
        delta.iter_mut().for_each(|d| *d = 0.0);
    }
    // Keep the sum at 1: scale the larger side down to the smaller. Except while draining:
    // traffic leaving a down CDN must land somewhere now (quick to distrust), so the receivers
    // take it all, in proportion to how far they are below their targets, even past the slew
    // limit; otherwise a lone slew-limited receiver would hold the drain back tick after tick.
    let up: f64 = delta.iter().filter(|d| **d > 0.0).sum();
    let down: f64 = -delta.iter().filter(|d| **d < 0.0).sum::<f64>();
    let gaps: f64 = state.cdns.iter().zip(target).map(|(c, t)| (t - c.share).max(0.0)).sum();
    if draining && down > up && gaps > DUST {
        let absorb = down.min(gaps);
        for ((d, c), t) in delta.iter_mut().zip(&state.cdns).zip(target) {
            if *d >= 0.0 {
                *d = absorb * (t - c.share).max(0.0) / gaps;
            } else {
                *d *= absorb / down;
            }
        }
    } else {
        let moved_total = up.min(down);
        for d in delta.iter_mut() {
            if *d > 0.0 {
                *d *= if up > 0.0 { moved_total / up } else { 0.0 };
            } else if *d < 0.0 {
                *d *= if down > 0.0 { moved_total / down } else { 0.0 };
            }
        }
    }
    let mut moved = false;
    for (c, d) in state.cdns.iter_mut().zip(&delta) {
        if d.abs() <= DUST {
            continue;
        }
        moved = true;
        c.share = (c.share + d).clamp(0.0, 1.0);
        let dir = if *d > 0.0 { 1 } else { -1 };
        if dir != c.direction {
            c.direction = dir;
            c.direction_since = now;
        }
    }
    // Float drift: no dust shares, and renormalise gently. A drained CDN's last crumbs (its
    // receivers' parts rounded to nothing) go too, or it would never quite reach zero.
    for c in &mut state.cdns {
        if c.share < 1e-9 || (!c.status.usable() && c.share < 1e-6) {
            c.share = 0.0;
        }
    }
    let total: f64 = state.cdns.iter().map(|c| c.share).sum();
    if total > 0.0 && (total - 1.0).abs() > 1e-12 {
        for c in &mut state.cdns {
            c.share /= total;
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HealthPolicy {
        HealthPolicy { max_change_per_tick: 0.1, min_dwell_ms: 10_000, up_hold_ms: 30_000, min_warm_share: 0.0, ..HealthPolicy::default() }
    }

    fn input(weight: f64, score: Option<f64>) -> CandidateInput {
        CandidateInput { weight, score, last_score: None, has_data: score.is_some(), capacity_gbps: None, drained: false }
    }

    #[test]
    fn cold_start_serves_configured_weights() {
        let mut st = RegionState::new(&[60.0, 40.0]);
        let out = tick(&mut st, &[input(60.0, None), input(40.0, None)], None, 1000, &policy());
        assert!(!out.moved);
        assert!((st.cdns[0].share - 0.6).abs() < 1e-9);
    }

    #[test]
    fn down_drains_with_slew_and_returns_only_after_hold() {
        let p = policy();
        let mut st = RegionState::new(&[50.0, 50.0]);
        let mut now = 0;
        // A goes bad.
        for _ in 0..10 {
            now += 1000;
            tick(&mut st, &[input(50.0, Some(10.0)), input(50.0, Some(95.0))], None, now, &p);
        }
        assert_eq!(st.cdns[0].share, 0.0);
        assert!(matches!(st.cdns[0].status, Status::Down { .. }));
        // A heals: recovering for 30 s with no share, then ramps at <= 0.1 per tick.
        let healed_at = now;
        let mut first_share_at = None;
        let mut last = 0.0;
        for _ in 0..60 {
            now += 1000;
            tick(&mut st, &[input(50.0, Some(95.0)), input(50.0, Some(95.0))], None, now, &p);
            let s = st.cdns[0].share;
            assert!(s - last <= 0.1 + 1e-9, "slew");
            if s > 0.0 && first_share_at.is_none() {
                first_share_at = Some(now);
            }
            last = s;
        }
        let back = first_share_at.expect("returned") - healed_at;
        assert!(back >= 30_000, "returned after {back} ms");
        assert!((st.cdns[0].share - 0.5).abs() < 0.05, "ramped back to its weight: {}", st.cdns[0].share);
    }

    #[test]
    fn all_down_fails_open_and_recovers() {
        let p = HealthPolicy { up_hold_ms: 0, ..policy() };
        let mut st = RegionState::new(&[1.0, 1.0]);
        let out = tick(&mut st, &[input(1.0, Some(0.0)), input(1.0, Some(0.0))], None, 1000, &p);
        assert!(st.fail_open && out.moved);
        assert_eq!(st.shares(), vec![0.0, 0.0]);
        tick(&mut st, &[input(1.0, Some(90.0)), input(1.0, Some(0.0))], None, 2000, &p);
        assert!(!st.fail_open);
        assert_eq!(st.shares(), vec![1.0, 0.0]);
    }

    #[test]
    fn capacity_spills_by_headroom() {
        let mut shares = vec![0.7, 0.2, 0.1];
        apply_caps(&mut shares, &[0.4, 0.5, 0.9]);
        // 0.3 excess; headroom 0.3 and 0.8 -> +0.0818 and +0.2182.
        assert!((shares[0] - 0.4).abs() < 1e-9);
        assert!((shares[1] - (0.2 + 0.3 * 0.3 / 1.1)).abs() < 1e-9, "{shares:?}");
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Case {
        weights: Vec<f64>,
        scores: Vec<Vec<Option<f64>>>,
        capacity: Vec<Option<f64>>,
        demand: Option<f64>,
        max_share: f64,
        slew: f64,
        warm: f64,
    }

    fn case() -> impl Strategy<Value = Case> {
        (2usize..6).prop_flat_map(|n| {
            (
                proptest::collection::vec(0.5f64..100.0, n),
                proptest::collection::vec(proptest::collection::vec(proptest::option::weighted(0.9, 0.0f64..100.0), n), 1..40),
                proptest::collection::vec(proptest::option::weighted(0.5, 1.0f64..500.0), n),
                proptest::option::weighted(0.7, 1.0f64..1000.0),
                0.3f64..1.0,
                0.02f64..0.5,
                0.0f64..0.05,
            )
                .prop_map(|(weights, scores, capacity, demand, max_share, slew, warm)| Case { weights, scores, capacity, demand, max_share, slew, warm })
        })
    }

    fn policy(c: &Case) -> HealthPolicy {
        HealthPolicy {
            max_share: c.max_share,
            max_change_per_tick: c.slew,
            min_warm_share: c.warm,
            min_dwell_ms: 3_000,
            up_hold_ms: 5_000,
            ..HealthPolicy::default()
        }
    }

    fn inputs(c: &Case, step: &[Option<f64>]) -> Vec<CandidateInput> {
        c.weights
            .iter()
            .zip(step)
            .zip(&c.capacity)
            .map(|((w, s), cap)| CandidateInput { weight: *w, score: *s, last_score: None, has_data: true, capacity_gbps: *cap, drained: false })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        #[test]
        fn invariants_hold_every_tick(c in case()) {
            let p = policy(&c);
            let mut st = RegionState::new(&c.weights);
            let mut now = 0;
            let mut down_ticks = vec![0usize; c.weights.len()];
            for (t, step) in c.scores.iter().enumerate() {
                now += 1000;
                let before = st.shares();
                let was_started = st.started;
                let was_fail_open = st.fail_open;
                let previous = st.clone();
                tick(&mut st, &inputs(&c, step), c.demand, now, &p);
                let draining_before = st.cdns.iter().zip(&previous.cdns).any(|(c, old)| !c.status.usable() && old.share > 1e-9);
                let shares = st.shares();
                let total: f64 = shares.iter().sum();
                if st.fail_open {
                    prop_assert!(shares.iter().all(|s| *s == 0.0));
                } else {
                    prop_assert!((total - 1.0).abs() < 1e-6, "tick {t}: sum {total}");
                }
                // Slew: never more than the limit per tick (after the first tick and outside
                // a return from fail-open, where there is nothing to ramp from); while a
                // drained CDN still gives up traffic, only rises may exceed it (the receivers
                // take the drained traffic at once).
                if was_started && !was_fail_open && !st.fail_open {
                    for (a, b) in before.iter().zip(&shares) {
                        let rising_during_drain = draining_before && b > a;
                        prop_assert!((a - b).abs() <= c.slew + 1e-6 || rising_during_drain, "tick {t}: {a} -> {b}");
                    }
                }
                // Drained CDNs reach zero once the slew allows.
                for (i, cdn) in st.cdns.iter().enumerate() {
                    if cdn.status.usable() { down_ticks[i] = 0 } else { down_ticks[i] += 1 }
                    if down_ticks[i] > (1.0 / c.slew).ceil() as usize + 1 {
                        prop_assert_eq!(cdn.share, 0.0, "tick {}: drained CDN {} still has share", t, i);
                    }
                }
            }
        }

        #[test]
        fn steady_state_respects_caps_while_others_have_headroom(c in case()) {
            let p = policy(&c);
            let mut st = RegionState::new(&c.weights);
            let step = c.scores[0].iter().map(|s| s.map(|v| v.max(p.up))).collect::<Vec<_>>();
            let input = inputs(&c, &step);
            let mut now = 0;
            for _ in 0..((1.0 / c.slew).ceil() as usize * 4 + 20) {
                now += 1000;
                tick(&mut st, &input, c.demand, now, &p);
            }
            let shares = st.shares();
            let caps: Vec<f64> = input
                .iter()
                .map(|i| {
                    let mut cap = p.max_share;
                    if let (Some(capacity), Some(d)) = (i.capacity_gbps, c.demand) { cap = cap.min(capacity / d); }
                    cap
                })
                .collect();
            let headroom_elsewhere = |j: usize| shares.iter().zip(&caps).enumerate().any(|(k, (s, cap))| k != j && *s + 1e-6 < *cap);
            for (j, (s, cap)) in shares.iter().zip(&caps).enumerate() {
                if *s > cap + 1e-6 {
                    prop_assert!(!headroom_elsewhere(j), "share {s} above cap {cap} while others have headroom: {shares:?} caps {caps:?}");
                }
            }
        }

        #[test]
        fn same_inputs_same_outputs(c in case()) {
            let p = policy(&c);
            let run = || {
                let mut st = RegionState::new(&c.weights);
                let mut now = 0;
                let mut trace = Vec::new();
                for step in &c.scores {
                    now += 1000;
                    tick(&mut st, &inputs(&c, step), c.demand, now, &p);
                    trace.push(st.shares());
                }
                trace
            };
            prop_assert_eq!(run(), run());
        }
    }
}
