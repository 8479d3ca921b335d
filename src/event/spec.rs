//! An event file as written (`events/*.yaml`, `version: 1`), strict like the zones: unknown
//! keys, duplicate keys and wrong types are errors with file:line:column.

use serde::Deserialize;

use crate::zone::spec::{OrderedMap, Spanned};

/// One event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFile {
    /// Schema version; must be 1.
    pub version: Spanned<u32>,
    /// The event's name (`worldcup-final`): used by `cdnsteer report --event`.
    pub event: Spanned<String>,
    /// Who it is for.
    #[serde(default)]
    pub customer: Option<Spanned<String>>,
    /// Start of the window, RFC 3339.
    pub start: Spanned<String>,
    /// End of the window, RFC 3339.
    pub end: Spanned<String>,
    /// Steered names involved.
    pub names: Spanned<Vec<Spanned<String>>>,
    /// Share and TTL settings per zone apex while the window lasts.
    #[serde(default)]
    pub policy: OrderedMap<Spanned<PolicySpec>>,
    /// Change freeze: reloads that would change an answer for these names wait for the end.
    #[serde(default)]
    pub freeze: Option<Spanned<bool>>,
}

/// An event's settings for one zone (the `shares:` settings a match night tunes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Slew limit per tick (0..1].
    #[serde(default)]
    pub max_change_per_tick: Option<Spanned<f64>>,
    /// Minimum time between direction changes, seconds.
    #[serde(default)]
    pub min_dwell_secs: Option<Spanned<u64>>,
    /// Warm share for healthy backups (0..0.25).
    #[serde(default)]
    pub min_warm_share: Option<Spanned<f64>>,
    /// Cap per CDN (0..1].
    #[serde(default)]
    pub max_share: Option<Spanned<f64>>,
    /// TTL while shares move, seconds.
    #[serde(default)]
    pub fast_ttl_secs: Option<Spanned<u32>>,
}
