//! The steering gauges, read at scrape time from the served snapshot: its generation, and per
//! steered name x region x CDN the share, score and state `steer::plan` put in the
//! `PlanExplain` beside the table DNS answers from (so the gauges and the answers come from
//! one plan and cannot disagree), the regions failing open, and the overrides in force.
//!
//! Cost: one pass over the plan's candidates per scrape, no lock, nothing on the DNS path.
//! Names past `max_names` are folded into `name="_other"` (shares and scores averaged, states
//! and fail-opens counted), through a region-indexed table so the fold allocates per region,
//! not per candidate.

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::{CDN_SCORE, CDN_SHARE, CDN_STATE, GENERATION, OTHER_NAME, OVERRIDES_ACTIVE, REGION_FAIL_OPEN};
use super::{write_family, write_gauge, write_sample};
use crate::overrides::Kind as OverrideKind;
use crate::region::RegionKey;
use crate::snapshot::Snapshot;
use crate::steer::plan::{CandidateExplain, CandidateState, PlanExplain};
use crate::timestamp::Millis;
use crate::zone::ZoneSet;

/// `value` rounded to `digits` decimals (a scrape need not carry 17 significant digits).
pub fn rounded(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// Append the snapshot's families: generation, share, score, state, fail-open, overrides.
pub fn render_snapshot<W>(snapshot: &Snapshot<W>, max_names: usize, now: Millis, out: &mut String) {
    write_family(out, &GENERATION);
    write_sample(out, GENERATION.name, &[], snapshot.generation);
    render_plan(&snapshot.zones, &snapshot.explain, max_names, out);
    render_overrides(&snapshot.explain, now, out);
}

/// One family's lines while the plan is walked once (families must not interleave).
struct Buffers {
    share: String,
    score: String,
    state: String,
    fail_open: String,
}

impl Buffers {
    fn new() -> Buffers {
        let mut b = Buffers { share: String::new(), score: String::new(), state: String::new(), fail_open: String::new() };
        write_family(&mut b.share, &CDN_SHARE);
        write_family(&mut b.score, &CDN_SCORE);
        write_family(&mut b.state, &CDN_STATE);
        write_family(&mut b.fail_open, &REGION_FAIL_OPEN);
        b
    }

    fn candidate(&mut self, name: &str, region: &str, cdn: &str, c: &CandidateExplain) {
        let labels = [("name", name), ("region", region), ("cdn", cdn)];
        write_gauge(&mut self.share, CDN_SHARE.name, &labels, rounded(c.share, 6));
        if let Some(score) = c.score.filter(|s| s.is_finite()) {
            write_gauge(&mut self.score, CDN_SCORE.name, &labels, rounded(score, 2));
        }
        write_sample(&mut self.state, CDN_STATE.name, &[("name", name), ("region", region), ("cdn", cdn), ("state", c.state.as_str())], 1);
    }

    fn finish(self, out: &mut String) {
        out.push_str(&self.share);
        out.push_str(&self.score);
        out.push_str(&self.state);
        out.push_str(&self.fail_open);
    }
}

/// What the names past `max_names` say about one CDN in one region.
#[derive(Debug, Default, Clone, Copy)]
struct Folded {
    share_sum: f64,
    names: u32,
    score_sum: f64,
    scored: u32,
    states: [u32; CandidateState::ALL.len()],
}

/// One region's CDNs as folded so far (a handful: a scan beats a hash).
type FoldedCdns<'z> = SmallVec<[(&'z str, Folded); 4]>;

/// The names past `max_names`, folded per region (in first-seen order: region, names failing
/// open there, CDNs) and CDN.
#[derive(Default)]
struct Other<'z> {
    index: FxHashMap<&'z RegionKey, usize>,
    regions: Vec<(&'z RegionKey, u32, FoldedCdns<'z>)>,
}

impl<'z> Other<'z> {
    fn region(&mut self, key: &'z RegionKey, fail_open: bool) -> &mut FoldedCdns<'z> {
        let at = *self.index.entry(key).or_insert_with(|| {
            self.regions.push((key, 0, SmallVec::new()));
            self.regions.len() - 1
        });
        let (_, failing, cdns) = &mut self.regions[at];
        *failing += u32::from(fail_open);
        cdns
    }

    fn render(&self, b: &mut Buffers) {
        let name = OTHER_NAME;
        for (key, failing, cdns) in &self.regions {
            let region = key.to_string();
            write_sample(&mut b.fail_open, REGION_FAIL_OPEN.name, &[("name", name), ("region", &region)], u64::from(*failing));
            for (cdn, f) in cdns {
                let labels = [("name", name), ("region", region.as_str()), ("cdn", *cdn)];
                write_gauge(&mut b.share, CDN_SHARE.name, &labels, rounded(f.share_sum / f64::from(f.names.max(1)), 6));
                if f.scored > 0 {
                    write_gauge(&mut b.score, CDN_SCORE.name, &labels, rounded(f.score_sum / f64::from(f.scored), 2));
                }
                for (state, n) in CandidateState::ALL.iter().zip(f.states).filter(|(_, n)| *n > 0) {
                    write_sample(&mut b.state, CDN_STATE.name, &[("name", name), ("region", &region), ("cdn", *cdn), ("state", state.as_str())], u64::from(n));
                }
            }
        }
    }
}

/// Share, score and state per name x region x CDN and fail-open per name x region, from the
/// plan made for `zones`.
pub fn render_plan(zones: &ZoneSet, explain: &PlanExplain, max_names: usize, out: &mut String) {
    let mut b = Buffers::new();
    let mut other = Other::default();
    for (index, (steered, regions)) in zones.steered().zip(&explain.names).enumerate() {
        let name = steered.name.as_str();
        for (region, why) in steered.regions.iter().zip(regions) {
            if index >= max_names {
                let cdns = other.region(&region.key, why.fail_open);
                for c in &why.candidates {
                    let Some(cdn) = steered.cdns.get(c.cdn).map(|c| c.name.as_str()) else { continue };
                    let at = match cdns.iter().position(|(n, _)| *n == cdn) {
                        Some(at) => at,
                        None => {
                            cdns.push((cdn, Folded::default()));
                            cdns.len() - 1
                        }
                    };
                    let f = &mut cdns[at].1;
                    f.share_sum += c.share;
                    f.names += 1;
                    if let Some(score) = c.score.filter(|s| s.is_finite()) {
                        f.score_sum += score;
                        f.scored += 1;
                    }
                    f.states[c.state as usize] += 1;
                }
                continue;
            }
            let region_label = region.key.to_string();
            write_sample(&mut b.fail_open, REGION_FAIL_OPEN.name, &[("name", name), ("region", &region_label)], u64::from(why.fail_open));
            for c in &why.candidates {
                if let Some(cdn) = steered.cdns.get(c.cdn) {
                    b.candidate(name, &region_label, &cdn.name, c);
                }
            }
        }
    }
    other.render(&mut b);
    b.finish(out);
}

/// Overrides in force at `now`, by kind (every kind present).
pub fn render_overrides(explain: &PlanExplain, now: Millis, out: &mut String) {
    write_family(out, &OVERRIDES_ACTIVE);
    for kind in [OverrideKind::Drain, OverrideKind::Pin, OverrideKind::Weight] {
        let n = explain.overrides.iter().filter(|o| o.kind == kind && o.active(now)).count();
        write_sample(out, OVERRIDES_ACTIVE.name, &[("kind", kind.as_str())], n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::health::NoHealth;
    use crate::overrides::OverrideSet;
    use crate::steer::{CellPrefixes, plan};

    fn zones(names: usize) -> ZoneSet {
        let mut z = String::from("version: 1\nzone: t.test\nsoa: {primary: ns1.t.test., contact: h.t.test., serial: 1}\nrecords:\n  - {name: \"@\", type: NS, value: ns1.t.test.}\nsteered:\n");
        for n in 0..names {
            z.push_str(&format!(
                "  n{n}:\n    last_resort: a\n    cdns: {{a: {{target: a.cdn.test}}, b: {{target: b.cdn.test}}}}\n    regions:\n      countries:\n        KR: {{a: {}, b: 1}}\n      default: {{a: 1}}\n",
                n + 1
            ));
        }
        crate::zone::load_texts(&[(std::path::PathBuf::from("t.yaml"), z)], Diagnostics::new()).expect("zones")
    }

    fn scrape(names: usize, max_names: usize) -> String {
        let zones = zones(names);
        let p = plan::plan(&zones, &NoHealth, &OverrideSet::new(), 0, CellPrefixes::default());
        let mut out = String::new();
        render_plan(&zones, &p.explain, max_names, &mut out);
        out
    }

    #[test]
    fn named_series_carry_share_and_one_state_and_no_unknown_score() {
        let out = scrape(1, 50);
        assert!(out.contains("cdnsteer_cdn_share_ratio{name=\"n0.t.test.\",region=\"country:KR\",cdn=\"a\"} 0.5\n"), "{out}");
        assert!(out.contains("cdnsteer_cdn_share_ratio{name=\"n0.t.test.\",region=\"default\",cdn=\"a\"} 1\n"), "{out}");
        assert!(out.contains("cdnsteer_cdn_state{name=\"n0.t.test.\",region=\"country:KR\",cdn=\"b\",state=\"cold\"} 1\n"), "{out}");
        assert!(out.contains("cdnsteer_region_fail_open{name=\"n0.t.test.\",region=\"default\"} 0\n"), "{out}");
        assert!(out.contains("# TYPE cdnsteer_cdn_score gauge\n"), "{out}");
        assert!(!out.contains("cdnsteer_cdn_score{"), "no score without health data:\n{out}");
        assert_eq!(out.matches("cdnsteer_cdn_state{").count(), 3, "one state per candidate:\n{out}");
    }

    #[test]
    fn names_past_the_limit_fold_into_other() {
        let out = scrape(4, 2);
        assert!(!out.contains("n2.t.test.") && !out.contains("n3.t.test."), "{out}");
        // n2 has KR weights 3:1, n3 4:1: a's mean share is (0.75 + 0.8) / 2.
        assert!(out.contains("cdnsteer_cdn_share_ratio{name=\"_other\",region=\"country:KR\",cdn=\"a\"} 0.775\n"), "{out}");
        assert!(out.contains("cdnsteer_cdn_state{name=\"_other\",region=\"country:KR\",cdn=\"b\",state=\"cold\"} 2\n"), "{out}");
        assert!(out.contains("cdnsteer_region_fail_open{name=\"_other\",region=\"default\"} 0\n"), "{out}");
        // Families are contiguous: each TYPE line once, and every sample after its own.
        let mut current = "";
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap_or_default();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(current), "{line} outside its family");
            }
        }
        assert_eq!(scrape(4, 0).matches("name=\"_other\"").count(), scrape(4, 1).matches("name=\"_other\"").count());
    }

    #[test]
    fn states_index_their_list() {
        for (i, s) in CandidateState::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "{}", s.as_str());
        }
    }
}
