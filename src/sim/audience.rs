//! The audience, pure: how many watch at an offset into the night (a piecewise-linear curve),
//! at what mean bitrate, and how cohorts of viewers move between CDNs as their resolvers
//! re-ask and as sticky players restart. Viewers are modelled as cohorts (region x resolver
//! class x sticky or following x CDN), never one by one.

/// The curve's value at `offset` ms: linear between points, flat past the ends.
pub fn curve_at(curve: &[(u64, f64)], offset: u64) -> f64 {
    let Some(first) = curve.first() else { return 0.0 };
    if offset <= first.0 {
        return first.1;
    }
    for pair in curve.windows(2) {
        let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
        if offset <= t1 {
            if t1 == t0 {
                return v1;
            }
            let f = (offset - t0) as f64 / (t1 - t0) as f64;
            return v0 + (v1 - v0) * f;
        }
    }
    curve.last().map_or(0.0, |p| p.1)
}

/// Mean bitrate of a ladder of (Mbit/s, part), Mbit/s.
pub fn mean_bitrate(ladder: &[(f64, f64)]) -> f64 {
    let parts: f64 = ladder.iter().map(|(_, p)| p).sum();
    if parts <= 0.0 {
        return 0.0;
    }
    ladder.iter().map(|(m, p)| m * p).sum::<f64>() / parts
}

/// The viewers of one region, by cohort: `[class][sticky][cdn]` flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohorts {
    classes: usize,
    cdns: usize,
    viewers: Vec<f64>,
}

/// How one class of viewers moves in a step.
#[derive(Debug, Clone, Copy)]
pub struct Movement {
    /// Part of the region's viewers in this class.
    pub part: f64,
    /// Fraction of the class's following viewers whose resolver re-asks this step.
    pub follow: f64,
}

/// What a step moved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Moved {
    /// Viewers who resolved (re-asked or joined) this step, per CDN they were sent to: the
    /// answers the region's resolvers got.
    pub resolved: Vec<f64>,
}

impl Cohorts {
    /// An empty region for `classes` resolver classes and `cdns` CDNs.
    pub fn new(classes: usize, cdns: usize) -> Cohorts {
        Cohorts { classes, cdns, viewers: vec![0.0; classes * 2 * cdns] }
    }

    fn at(&self, class: usize, sticky: usize, cdn: usize) -> usize {
        (class * 2 + sticky) * self.cdns + cdn
    }

    /// Everyone.
    pub fn total(&self) -> f64 {
        self.viewers.iter().sum()
    }

    /// Viewers on each CDN.
    pub fn per_cdn(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.cdns];
        for (i, v) in self.viewers.iter().enumerate() {
            out[i % self.cdns] += v;
        }
        out
    }

    /// One step: the audience becomes `target` (joiners resolve now; leavers leave every
    /// cohort alike), following viewers re-resolve as their resolvers' caches expire, sticky
    /// viewers as they restart (`restart[cdn]`: fraction restarting this step, higher on a
    /// degraded CDN). Whoever resolves is sent by `shares` (per CDN, summing to 1).
    pub fn step(&mut self, target: f64, sticky: f64, classes: &[Movement], restart: &[f64], shares: &[f64]) -> Moved {
        let mut resolved = vec![0.0; self.cdns];
        let total = self.total();
        // No CDN to send anyone to (never from a plan: a region failing open answers its last
        // resort): nobody moves, and joiners wait.
        if shares.iter().take(self.cdns).sum::<f64>() <= 0.0 {
            if target < total && total > 0.0 {
                let keep = target / total;
                self.viewers.iter_mut().for_each(|v| *v *= keep);
            }
            return Moved { resolved };
        }
        if target < total && total > 0.0 {
            let keep = target / total;
            self.viewers.iter_mut().for_each(|v| *v *= keep);
        }
        let joining = (target - total).max(0.0);
        for (k, class) in classes.iter().enumerate().take(self.classes) {
            let mut pool = [joining * class.part * (1.0 - sticky), joining * class.part * sticky];
            for c in 0..self.cdns {
                let follow = self.at(k, 0, c);
                let moving = self.viewers[follow] * class.follow.clamp(0.0, 1.0);
                self.viewers[follow] -= moving;
                pool[0] += moving;
                let stay = self.at(k, 1, c);
                let moving = self.viewers[stay] * restart.get(c).copied().unwrap_or(0.0).clamp(0.0, 1.0);
                self.viewers[stay] -= moving;
                pool[1] += moving;
            }
            for (s, amount) in pool.into_iter().enumerate() {
                for (c, share) in shares.iter().enumerate().take(self.cdns) {
                    let i = self.at(k, s, c);
                    self.viewers[i] += amount * share;
                    resolved[c] += amount * share;
                }
            }
        }
        Moved { resolved }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_is_linear_between_points_and_flat_past_the_ends() {
        let c = [(1000, 0.2), (3000, 1.0), (5000, 0.6)];
        assert_eq!(curve_at(&c, 0), 0.2);
        assert!((curve_at(&c, 2000) - 0.6).abs() < 1e-12);
        assert!((curve_at(&c, 4000) - 0.8).abs() < 1e-12);
        assert_eq!(curve_at(&c, 9000), 0.6);
        assert!((mean_bitrate(&[(1.5, 0.3), (3.5, 0.3), (5.0, 0.4)]) - 3.5).abs() < 1e-12);
    }

    #[test]
    fn joiners_follow_the_shares_and_a_drained_cdn_empties_at_the_resolvers_pace() {
        let mut c = Cohorts::new(1, 2);
        let classes = [Movement { part: 1.0, follow: 0.25 }];
        c.step(1000.0, 0.0, &classes, &[0.0, 0.0], &[0.5, 0.5]);
        assert_eq!(c.per_cdn(), vec![500.0, 500.0]);
        // Drain CDN 0: a quarter of the following viewers re-ask each step.
        let moved = c.step(1000.0, 0.0, &classes, &[0.0, 0.0], &[0.0, 1.0]);
        assert!((c.per_cdn()[0] - 375.0).abs() < 1e-9);
        assert!((moved.resolved[1] - 250.0).abs() < 1e-9);
        // Sticky viewers only move when they restart.
        let mut s = Cohorts::new(1, 2);
        s.step(1000.0, 1.0, &classes, &[0.0, 0.0], &[1.0, 0.0]);
        s.step(1000.0, 1.0, &classes, &[0.0, 0.0], &[0.0, 1.0]);
        assert_eq!(s.per_cdn(), vec![1000.0, 0.0]);
        s.step(1000.0, 1.0, &classes, &[0.5, 0.0], &[0.0, 1.0]);
        assert_eq!(s.per_cdn(), vec![500.0, 500.0]);
        // Leavers leave every cohort alike.
        s.step(500.0, 1.0, &classes, &[0.0, 0.0], &[0.0, 1.0]);
        assert_eq!(s.per_cdn(), vec![250.0, 250.0]);
    }
}
