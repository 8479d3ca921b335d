//! Operator overrides: **drain** a CDN, **pin** a region to one CDN, set a CDN's **weight**,
//! each for one steered name or all, one region or all, with an author, a reason and a
//! required expiry. Pure: the set, its validation (conflicts, drains that would empty a
//! region) and its resolution for one region; time is passed in.
//!
//! Resolution, per steered name and region: the most specific override wins (name+region,
//! then name, then region, then global), separately for the pin of the region and for each
//! CDN's drain or weight. A pin sends the region's whole traffic to its CDN regardless of
//! score, `max_share` and capacity. Drains act on the next tick (the engine zeroes the share
//! at once, not at the slew rate); weights replace the configured weight and move at the slew
//! rate. Persistence and the audit log are `store`'s; the daemon owns the one live set.

pub mod request;
pub mod store;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::region::RegionKey;
use crate::timestamp::{self, Millis};
use crate::zone::model::{CdnIndex, Region, SteeredName, ZoneSet};

pub use request::OverrideRequest;

/// What an override does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Take the CDN out of the scope's answers.
    Drain,
    /// Send the scope's whole traffic to the CDN.
    Pin,
    /// Replace the CDN's configured weight.
    Weight,
}

impl Kind {
    /// `drain`, `pin`, `weight`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Drain => "drain",
            Kind::Pin => "pin",
            Kind::Weight => "weight",
        }
    }
}

/// One operator override, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Stable id (`ovr-17`).
    pub id: String,
    /// What it does.
    pub kind: Kind,
    /// The steered name (absolute, lower case), or `None` for every steered name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The region, or `None` for every region.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "region_text")]
    pub region: Option<RegionKey>,
    /// The CDN drained, pinned or weighted.
    pub cdn: String,
    /// The weight, for `weight` overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Who asked, in their words (`noc-kim`).
    pub author: String,
    /// The admin token's name that made the change (`local`).
    pub who: String,
    /// Why.
    pub reason: String,
    /// When it was made.
    #[serde(with = "timestamp::as_rfc3339")]
    pub created_at: Millis,
    /// When it stops applying.
    #[serde(with = "timestamp::as_rfc3339")]
    pub expires_at: Millis,
    /// Made with `force: true` (a drain that empties a region, which then fails open).
    #[serde(default)]
    pub forced: bool,
}

mod region_text {
    use crate::region::{RegionKey, parse_region};

    pub fn serialize<S: serde::Serializer>(r: &Option<RegionKey>, s: S) -> Result<S::Ok, S::Error> {
        match r {
            Some(r) => s.serialize_str(&r.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RegionKey>, D::Error> {
        let text: Option<String> = serde::Deserialize::deserialize(d)?;
        text.map(|t| parse_region(&t).map_err(serde::de::Error::custom)).transpose()
    }
}

impl Override {
    /// Applies to this steered name and region key.
    pub fn covers(&self, name: &str, region: &RegionKey) -> bool {
        self.name.as_deref().is_none_or(|n| n == name) && self.region.as_ref().is_none_or(|r| r == region)
    }

    /// 3 for name+region, 2 for name, 1 for region, 0 for global.
    pub fn specificity(&self) -> u8 {
        2 * u8::from(self.name.is_some()) + u8::from(self.region.is_some())
    }

    /// Same name scope and same region scope.
    fn same_scope(&self, other: &Override) -> bool {
        self.name == other.name && self.region == other.region
    }

    /// Some (name, region) is covered by both.
    fn overlaps(&self, other: &Override) -> bool {
        let names = self.name.is_none() || other.name.is_none() || self.name == other.name;
        let regions = self.region.is_none() || other.region.is_none() || self.region == other.region;
        names && regions
    }

    /// Still applies at `now`.
    pub fn active(&self, now: Millis) -> bool {
        self.expires_at > now
    }

    /// `drain akamai in live.example.com. country:KR`: one line for logs and events.
    pub fn describe(&self) -> String {
        let what = match (self.kind, self.weight) {
            (Kind::Weight, Some(w)) => format!("weight {} = {w}", self.cdn),
            (k, _) => format!("{} {}", k.as_str(), self.cdn),
        };
        let name = self.name.as_deref().unwrap_or("every name");
        let region = self.region.as_ref().map_or_else(|| "every region".to_string(), ToString::to_string);
        format!("{what} for {name} in {region}")
    }
}

/// Why an override was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverrideError {
    /// A field is wrong (400).
    #[error("{field}: {message}")]
    Invalid {
        /// The field (`cdn`, `expires_in`).
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// It contradicts overrides in force, or would leave a region without a candidate (409).
    #[error("{message}")]
    Conflict {
        /// The overrides it conflicts with (may be empty for an emptied region).
        ids: Vec<String>,
        /// What the conflict is and how to resolve it.
        message: String,
    },
    /// No override with this id (404).
    #[error("no override `{0}`")]
    NotFound(String),
}

impl OverrideError {
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> OverrideError {
        OverrideError::Invalid { field: field.to_string(), message: message.into() }
    }
}

/// What applies to one region of one steered name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionOverrides<'a> {
    /// The pin in force, with the CDN's index in the steered name.
    pub pin: Option<(CdnIndex, &'a Override)>,
    /// Per CDN of the steered name, the drain or weight in force.
    pub cdns: SmallVec<[(CdnIndex, &'a Override); 4]>,
}

impl<'a> RegionOverrides<'a> {
    /// The drain or weight on this CDN, if any.
    pub fn on(&self, cdn: CdnIndex) -> Option<&'a Override> {
        self.cdns.iter().find(|(c, _)| *c == cdn).map(|(_, o)| *o)
    }

    /// True when this CDN is drained here.
    pub fn drained(&self, cdn: CdnIndex) -> bool {
        self.on(cdn).is_some_and(|o| o.kind == Kind::Drain)
    }

    /// The weight a candidate serves with: the override's, else the configured one (0 when
    /// drained).
    pub fn weight(&self, cdn: CdnIndex, configured: f64) -> f64 {
        match self.on(cdn) {
            Some(o) if o.kind == Kind::Drain => 0.0,
            Some(o) => o.weight.unwrap_or(configured),
            None => configured,
        }
    }

    /// Nothing applies.
    pub fn is_empty(&self) -> bool {
        self.pin.is_none() && self.cdns.is_empty()
    }

    /// Ids of everything that applies, pin first.
    pub fn ids(&self) -> Vec<String> {
        self.pin.iter().map(|(_, o)| o.id.clone()).chain(self.cdns.iter().map(|(_, o)| o.id.clone())).collect()
    }
}

/// The overrides in force (and recently expired ones until `expire` removes them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideSet {
    /// Next id number.
    pub next_id: u64,
    /// The overrides, oldest first.
    pub items: Vec<Override>,
}

impl OverrideSet {
    /// No overrides.
    pub fn new() -> OverrideSet {
        OverrideSet { next_id: 1, items: Vec::new() }
    }

    /// Those still applying at `now`.
    pub fn active(&self, now: Millis) -> impl Iterator<Item = &Override> {
        self.items.iter().filter(move |o| o.active(now))
    }

    /// What applies to one region of one steered name at `now`.
    pub fn resolve<'a>(&'a self, name: &SteeredName, region: &Region, now: Millis) -> RegionOverrides<'a> {
        let mut out = RegionOverrides::default();
        if self.items.is_empty() {
            return out;
        }
        let key = name.name.as_str();
        for o in self.active(now).filter(|o| o.covers(key, &region.key)) {
            let Some(cdn) = name.cdn_index(&o.cdn) else { continue };
            let beats = |held: &Override| o.specificity() > held.specificity();
            match o.kind {
                Kind::Pin => {
                    if out.pin.is_none_or(|(_, held)| beats(held)) {
                        out.pin = Some((cdn, o));
                    }
                }
                Kind::Drain | Kind::Weight => match out.cdns.iter_mut().find(|(c, _)| *c == cdn) {
                    Some(slot) if beats(slot.1) => slot.1 = o,
                    Some(_) => {}
                    None => out.cdns.push((cdn, o)),
                },
            }
        }
        out
    }

    /// Ids of overrides that apply to nothing in `zones` (their name, region or CDN went away
    /// in a reload): kept until they expire, shown as dormant.
    pub fn dormant(&self, zones: &ZoneSet, now: Millis) -> Vec<String> {
        dormant(self.active(now), zones)
    }

    /// Check a new override against the zones and the overrides in force at `now`.
    pub fn check_new(&self, new: &Override, zones: &ZoneSet, now: Millis) -> Result<(), OverrideError> {
        check_target(new, zones)?;
        self.check_conflicts(new, now)?;
        if new.kind == Kind::Drain {
            self.check_not_emptying(new, zones, now)?;
        }
        Ok(())
    }

    fn check_conflicts(&self, new: &Override, now: Millis) -> Result<(), OverrideError> {
        for o in self.active(now) {
            let same_target = o.cdn == new.cdn;
            let pin_vs_drain = matches!((o.kind, new.kind), (Kind::Pin, Kind::Drain) | (Kind::Drain, Kind::Pin));
            let message = if pin_vs_drain && same_target && o.overlaps(new) {
                format!("{} would {} {} where {} ({}) {}s it; remove {} first", describe_new(new), new.kind.as_str(), new.cdn, o.id, o.describe(), o.kind.as_str(), o.id)
            } else if o.same_scope(new) && o.kind == Kind::Pin && new.kind == Kind::Pin {
                format!("{} already pins this scope ({}); remove it first", o.id, o.describe())
            } else if o.same_scope(new) && same_target && o.kind != Kind::Pin && new.kind != Kind::Pin {
                format!("{} already overrides {} in this scope ({}); remove it first", o.id, o.cdn, o.describe())
            } else {
                continue;
            };
            let ids = [o.id.clone(), new.id.clone()].into_iter().filter(|id| !id.is_empty()).collect();
            return Err(OverrideError::Conflict { ids, message });
        }
        Ok(())
    }

    /// A drain that leaves a region with no configured candidate is refused unless forced;
    /// forced, the region answers its last resort, so that must not be the drained CDN.
    fn check_not_emptying(&self, new: &Override, zones: &ZoneSet, now: Millis) -> Result<(), OverrideError> {
        let mut with_new = self.clone();
        with_new.items.push(new.clone());
        let mut emptied = Vec::new();
        for name in zones.steered().filter(|n| new.name.as_deref().is_none_or(|x| x == n.name.as_str())) {
            for region in name.regions.iter().filter(|r| new.region.as_ref().is_none_or(|k| *k == r.key)) {
                let applied = with_new.resolve(name, region, now);
                let left = region.candidates.iter().filter(|c| !applied.drained(c.cdn)).count();
                if applied.pin.is_some() || left > 0 {
                    continue;
                }
                if applied.drained(name.last_resort) {
                    let last = &name.cdns[name.last_resort].name;
                    let message = format!(
                        "draining {} would leave {} {} with no candidate, and its last resort is {last}, which would be drained too; change last_resort in the zone instead",
                        new.cdn, name.name, region.key
                    );
                    let ids = applied.ids().into_iter().filter(|id| !id.is_empty()).collect();
                    return Err(OverrideError::Conflict { ids, message });
                }
                emptied.push(format!("{} {}", name.name, region.key));
            }
        }
        if emptied.is_empty() || new.forced {
            return Ok(());
        }
        let message = format!(
            "draining {} would leave no configured candidate in {}; send `force: true` to drain anyway (those regions then answer their last-resort CDN)",
            new.cdn,
            emptied.join(", ")
        );
        Err(OverrideError::Conflict { ids: Vec::new(), message })
    }

    /// Add a checked override, giving it the next id.
    pub fn add(&mut self, mut new: Override) -> Override {
        new.id = format!("ovr-{}", self.next_id.max(1));
        self.next_id = self.next_id.max(1) + 1;
        self.items.push(new.clone());
        new
    }

    /// Remove one by id.
    pub fn remove(&mut self, id: &str) -> Result<Override, OverrideError> {
        let at = self.items.iter().position(|o| o.id == id).ok_or_else(|| OverrideError::NotFound(id.to_string()))?;
        Ok(self.items.remove(at))
    }

    /// Remove and return those expired at `now`.
    pub fn expire(&mut self, now: Millis) -> Vec<Override> {
        let (gone, kept): (Vec<Override>, Vec<Override>) = self.items.drain(..).partition(|o| !o.active(now));
        self.items = kept;
        gone
    }

    /// The earliest expiry still ahead, to wake up for.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.items.iter().map(|o| o.expires_at).min()
    }
}

fn describe_new(new: &Override) -> String {
    if new.id.is_empty() { "this override".to_string() } else { new.id.clone() }
}

/// The names in the override's scope that define its CDN.
fn targets<'z>(o: &'z Override, zones: &'z ZoneSet) -> impl Iterator<Item = &'z SteeredName> + 'z {
    zones.steered().filter(move |n| o.name.as_deref().is_none_or(|x| x == n.name.as_str()) && n.cdn_index(&o.cdn).is_some())
}

fn applies_anywhere(o: &Override, zones: &ZoneSet) -> bool {
    targets(o, zones).any(|n| applies_to(o, n))
}

/// The override names this steered name's CDN and (if any) one of its regions.
pub fn applies_to(o: &Override, name: &SteeredName) -> bool {
    o.name.as_deref().is_none_or(|x| x == name.name.as_str()) && name.cdn_index(&o.cdn).is_some() && o.region.as_ref().is_none_or(|k| name.region_index(k).is_some())
}

/// Ids of the overrides that apply to nothing in `zones`.
pub fn dormant<'a>(overrides: impl Iterator<Item = &'a Override>, zones: &ZoneSet) -> Vec<String> {
    overrides.filter(|o| !applies_anywhere(o, zones)).map(|o| o.id.clone()).collect()
}

/// The name exists, the CDN is defined for it (some name, for a global override), and the
/// region is one of those names' regions.
fn check_target(o: &Override, zones: &ZoneSet) -> Result<(), OverrideError> {
    if let Some(name) = &o.name {
        let Some(steered) = zones.steered().find(|n| n.name.as_str() == name) else {
            let known: Vec<String> = zones.steered().map(|n| n.name.to_string()).collect();
            return Err(OverrideError::invalid("name", format!("`{name}` is not a steered name being served; expected one of: {}", known.join(", "))));
        };
        if steered.cdn_index(&o.cdn).is_none() {
            let known: Vec<&str> = steered.cdns.iter().map(|c| c.name.as_str()).collect();
            return Err(OverrideError::invalid("cdn", format!("`{}` is not a CDN of {name}; expected one of: {}", o.cdn, known.join(", "))));
        }
    } else if targets(o, zones).next().is_none() {
        return Err(OverrideError::invalid("cdn", format!("`{}` is not a CDN of any steered name being served", o.cdn)));
    }
    if o.region.is_some() && !applies_anywhere(o, zones) {
        let region = o.region.as_ref().map(ToString::to_string).unwrap_or_default();
        return Err(OverrideError::invalid("region", format!("no steered name in scope has the region `{region}` with {} defined", o.cdn)));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
