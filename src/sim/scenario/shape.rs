//! A football match as an audience curve: the marks of a `shape:` (kickoff, half time, full
//! time, extra time, the drop-off) and its levels, turned into the piecewise-linear points the
//! model holds. Pure.

use crate::timestamp::human_duration;

/// A match as an audience curve. Offsets in ms: `kickoff` from the start, `half_time` and
/// `full_time` from kickoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Kickoff, from the start.
    pub kickoff_ms: u64,
    /// Audience at the start.
    pub before: f64,
    /// The kickoff spike.
    pub spike: f64,
    /// First half level.
    pub first_half: f64,
    /// Half time, from kickoff.
    pub half_time_ms: u64,
    /// How long half time lasts.
    pub half_time_for_ms: u64,
    /// The half-time dip.
    pub half_time_level: f64,
    /// Second half level.
    pub second_half: f64,
    /// End of normal time, from kickoff.
    pub full_time_ms: u64,
    /// Extra time (0: none).
    pub extra_time_ms: u64,
    /// Extra time level.
    pub extra_time_level: f64,
    /// From the final whistle down to `after`.
    pub drop_off_ms: u64,
    /// Audience after the drop-off.
    pub after: f64,
}

/// The kickoff spike peaks this long after kickoff.
pub const SPIKE_AFTER_MS: u64 = 60_000;
/// The audience settles to `first_half` this long after kickoff.
pub const SETTLE_AFTER_MS: u64 = 180_000;
/// The half-time dip (and the move to the extra-time level) takes this long.
pub const DIP_MS: u64 = 120_000;
/// The audience returns for the second half over this long, after half time ends.
pub const RETURN_MS: u64 = 180_000;

impl Shape {
    /// The curve, piecewise linear: `before` at the start, `spike` a minute after kickoff,
    /// `first_half` from three minutes after kickoff to half time, down to `half_time_level`
    /// within two minutes, back to `second_half` over three minutes after half time ends, on
    /// to full time; then `extra_time_level` (reached within two minutes) over the extra time
    /// when there is some; then down to `after` over `drop_off`. Offsets strictly increase when
    /// `check_order` passes.
    pub fn points(&self) -> Vec<(u64, f64)> {
        let k = self.kickoff_ms;
        let half_time = k + self.half_time_ms;
        let second_half = half_time + self.half_time_for_ms;
        let full_time = k + self.full_time_ms;
        let mut points = vec![
            (0, self.before),
            (k + SPIKE_AFTER_MS, self.spike),
            (k + SETTLE_AFTER_MS, self.first_half),
            (half_time, self.first_half),
            (half_time + DIP_MS, self.half_time_level),
            (second_half, self.half_time_level),
            (second_half + RETURN_MS, self.second_half),
            (full_time, self.second_half),
        ];
        let mut end = full_time;
        if self.extra_time_ms > 0 {
            end = full_time + self.extra_time_ms;
            points.push((full_time + DIP_MS.min(self.extra_time_ms), self.extra_time_level));
            if self.extra_time_ms > DIP_MS {
                points.push((end, self.extra_time_level));
            }
        }
        points.push((end + self.drop_off_ms, self.after));
        points
    }

    /// Marks out of order, as (the offending mark, why): each phase must be longer than the
    /// transitions inside it.
    pub fn check_order(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let d = human_duration;
        if self.half_time_ms <= SETTLE_AFTER_MS {
            out.push(("half_time", format!("half time {} after kickoff comes before the first half settles ({} after kickoff); expected more than {}", d(self.half_time_ms), d(SETTLE_AFTER_MS), d(SETTLE_AFTER_MS))));
        }
        if self.half_time_for_ms <= DIP_MS {
            out.push(("half_time_for", format!("half time of {} is shorter than the dip into it ({}); expected more than {}", d(self.half_time_for_ms), d(DIP_MS), d(DIP_MS))));
        }
        let second_half = self.half_time_ms + self.half_time_for_ms + RETURN_MS;
        if self.full_time_ms <= second_half {
            out.push(("full_time", format!("full time {} after kickoff is not after the second half is under way ({} = half_time + half_time_for + {}); expected more", d(self.full_time_ms), d(second_half), d(RETURN_MS))));
        }
        if self.drop_off_ms == 0 {
            out.push(("drop_off", "a drop-off of 0; expected a positive duration".to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    fn shape() -> Shape {
        Shape {
            kickoff_ms: 30 * MIN,
            before: 0.15,
            spike: 1.0,
            first_half: 0.9,
            half_time_ms: 47 * MIN,
            half_time_for_ms: 15 * MIN,
            half_time_level: 0.6,
            second_half: 0.95,
            full_time_ms: 112 * MIN,
            extra_time_ms: 0,
            extra_time_level: 1.0,
            drop_off_ms: 15 * MIN,
            after: 0.05,
        }
    }

    fn increasing(points: &[(u64, f64)]) -> bool {
        points.windows(2).all(|w| w[0].0 < w[1].0)
    }

    #[test]
    fn a_match_becomes_its_curve() {
        let k = 30 * MIN;
        let points = shape().points();
        assert_eq!(
            points,
            vec![
                (0, 0.15),
                (k + MIN, 1.0),
                (k + 3 * MIN, 0.9),
                (k + 47 * MIN, 0.9),
                (k + 49 * MIN, 0.6),
                (k + 62 * MIN, 0.6),
                (k + 65 * MIN, 0.95),
                (k + 112 * MIN, 0.95),
                (k + 127 * MIN, 0.05),
            ]
        );
        assert!(shape().check_order().is_empty());
    }

    #[test]
    fn extra_time_comes_between_full_time_and_the_drop_off() {
        let ft = 142 * MIN;
        let extra = Shape { extra_time_ms: 30 * MIN, extra_time_level: 0.98, ..shape() };
        let tail: Vec<(u64, f64)> = extra.points().into_iter().skip(7).collect();
        assert_eq!(tail, vec![(ft, 0.95), (ft + 2 * MIN, 0.98), (ft + 30 * MIN, 0.98), (ft + 45 * MIN, 0.05)]);
        // Shorter than the move to its level: one point, at its end.
        let brief = Shape { extra_time_ms: MIN, ..shape() };
        let tail: Vec<(u64, f64)> = brief.points().into_iter().skip(7).collect();
        assert_eq!(tail, vec![(ft, 0.95), (ft + MIN, 1.0), (ft + 16 * MIN, 0.05)]);
        assert!(increasing(&extra.points()) && increasing(&brief.points()));
    }

    #[test]
    fn a_kickoff_at_the_start_still_increases() {
        let now = Shape { kickoff_ms: 0, ..shape() };
        assert_eq!(&now.points()[..2], &[(0, 0.15), (MIN, 1.0)]);
        assert!(increasing(&now.points()));
    }

    #[test]
    fn marks_out_of_order_are_named() {
        let marks = |s: Shape| s.check_order().into_iter().map(|(m, _)| m).collect::<Vec<_>>();
        assert_eq!(marks(Shape { half_time_ms: 3 * MIN, ..shape() }), ["half_time"]);
        assert_eq!(marks(Shape { half_time_for_ms: 2 * MIN, ..shape() }), ["half_time_for"]);
        assert_eq!(marks(Shape { full_time_ms: 65 * MIN, ..shape() }), ["full_time"]);
        assert_eq!(marks(Shape { drop_off_ms: 0, ..shape() }), ["drop_off"]);
        // The tightest shape that passes still gives increasing offsets.
        let tight = Shape { half_time_ms: 3 * MIN + 1, half_time_for_ms: 2 * MIN + 1, full_time_ms: 3 * MIN + 1 + 2 * MIN + 1 + 3 * MIN + 1, drop_off_ms: 1, ..shape() };
        assert!(tight.check_order().is_empty());
        assert!(increasing(&tight.points()), "{:?}", tight.points());
    }
}
