//! The body of `POST /api/v1/overrides` (and of `cdnsteer override add`), checked field by
//! field into an `Override`:
//!
//! ```json
//! {"kind": "drain", "name": "live.example.com", "region": "KR", "cdn": "akamai",
//!  "expires_in": "10m", "author": "noc-kim", "reason": "customer request"}
//! ```
//!
//! `name` and `region` omitted mean all; `expires_at` (RFC 3339) may replace `expires_in`;
//! `weight` is required for (and only allowed with) `kind: weight`; `force: true` lets a
//! drain empty a region (which then answers its last resort).

use serde::Deserialize;

use super::{Kind, Override, OverrideError};
use crate::region::parse_region;
use crate::timestamp::{self, Millis};
use crate::zone::model::DomainName;

/// Longest author or reason accepted, characters.
pub const MAX_TEXT: usize = 500;

/// A new override as asked for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// `drain`, `pin` or `weight`.
    pub kind: Option<String>,
    /// Steered name; omitted for every name.
    #[serde(default)]
    pub name: Option<String>,
    /// Region (`KR`, `country:KR`, `continent:AS`, `network:NAME`, `default`); omitted for all.
    #[serde(default)]
    pub region: Option<String>,
    /// The CDN.
    pub cdn: Option<String>,
    /// New weight (`kind: weight`).
    #[serde(default)]
    pub weight: Option<f64>,
    /// How long (`10m`, `2h`).
    #[serde(default)]
    pub expires_in: Option<String>,
    /// Until when (RFC 3339).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Who asked.
    pub author: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Allow a drain that empties a region.
    #[serde(default)]
    pub force: bool,
}

fn required<'a>(v: &'a Option<String>, field: &str, what: &str) -> Result<&'a str, OverrideError> {
    match v.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Ok(t),
        _ => Err(OverrideError::invalid(field, format!("missing; expected {what}"))),
    }
}

fn text(v: &Option<String>, field: &str, what: &str) -> Result<String, OverrideError> {
    let t = required(v, field, what)?;
    if t.chars().count() > MAX_TEXT || t.chars().any(char::is_control) {
        return Err(OverrideError::invalid(field, format!("expected {what}: at most {MAX_TEXT} characters, no control characters")));
    }
    Ok(t.to_string())
}

impl OverrideRequest {
    /// Check every field and build the override (id left empty for `OverrideSet::add`).
    /// `who` is the token's name; expiry is capped at `now + max_expiry`.
    pub fn into_override(self, who: &str, now: Millis, max_expiry: Millis) -> Result<Override, OverrideError> {
        let kind = match required(&self.kind, "kind", "drain, pin or weight")? {
            "drain" => Kind::Drain,
            "pin" => Kind::Pin,
            "weight" => Kind::Weight,
            other => return Err(OverrideError::invalid("kind", format!("`{other}`; expected drain, pin or weight"))),
        };
        let name = match self.name.as_deref().map(str::trim).filter(|n| !n.is_empty() && *n != "*") {
            Some(n) => Some(DomainName::absolute(n).map_err(|e| OverrideError::invalid("name", e))?.as_str().to_string()),
            None => None,
        };
        let region = match self.region.as_deref().map(str::trim).filter(|r| !r.is_empty() && *r != "*") {
            Some(r) => Some(parse_region(r).map_err(|e| OverrideError::invalid("region", e))?),
            None => None,
        };
        let cdn = required(&self.cdn, "cdn", "the CDN's name as in the zone")?.to_string();
        let weight = match (kind, self.weight) {
            (Kind::Weight, Some(w)) if w.is_finite() && w > 0.0 && w <= 1e6 => Some(w),
            (Kind::Weight, Some(w)) => return Err(OverrideError::invalid("weight", format!("{w}; expected a positive weight (to take a CDN out, use kind: drain)"))),
            (Kind::Weight, None) => return Err(OverrideError::invalid("weight", "missing; expected a positive weight for kind: weight")),
            (_, Some(_)) => return Err(OverrideError::invalid("weight", format!("only kind: weight takes a weight, not {}", kind.as_str()))),
            (_, None) => None,
        };
        let expires_at = match (&self.expires_in, &self.expires_at) {
            (Some(_), Some(_)) => return Err(OverrideError::invalid("expires_at", "both expires_in and expires_at; expected one of them")),
            (Some(d), None) => {
                let ms = timestamp::parse_duration(d).map_err(|e| OverrideError::invalid("expires_in", e))?;
                now.checked_add(ms).ok_or_else(|| OverrideError::invalid("expires_in", format!("`{d}` is too far ahead")))?
            }
            (None, Some(t)) => timestamp::parse_rfc3339(t).map_err(|e| OverrideError::invalid("expires_at", e))?,
            (None, None) => return Err(OverrideError::invalid("expires_in", "missing; every override expires: expected expires_in (e.g. 10m) or expires_at (RFC 3339)")),
        };
        if expires_at <= now {
            return Err(OverrideError::invalid("expires_at", format!("{} is not in the future", timestamp::rfc3339(expires_at))));
        }
        if expires_at - now > max_expiry {
            let field = if self.expires_in.is_some() { "expires_in" } else { "expires_at" };
            return Err(OverrideError::invalid(field, format!("expires in {}; at most {} is allowed (overrides.max_expiry)", timestamp::human_duration(expires_at - now), timestamp::human_duration(max_expiry))));
        }
        Ok(Override {
            id: String::new(),
            kind,
            name,
            region,
            cdn,
            weight,
            author: text(&self.author, "author", "who asked for it")?,
            who: who.to_string(),
            reason: text(&self.reason, "reason", "why, for the audit log")?,
            created_at: now,
            expires_at,
            forced: self.force,
        })
    }
}
