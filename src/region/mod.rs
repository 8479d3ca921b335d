//! The ground floor of location: two-letter country and continent codes, the ISO country ->
//! continent table, and `RegionKey`, the name of a steering region (`country:KR`,
//! `continent:AS`, `network:kt-resolvers`, `default`). A leaf: it imports nothing of the
//! crate, so zones, GeoIP, health and steering can all speak of regions without importing
//! each other.

mod countries;

/// A two-letter code (country or continent) in upper case.
pub type Code2 = [u8; 2];

/// An assigned ISO 3166-1 alpha-2 code (upper or lower case in, upper case out).
pub fn country_code(text: &str) -> Option<Code2> {
    let code = upper2(text)?;
    countries::continent_of(code).map(|_| code)
}

/// One of the seven continent codes (AF AN AS EU NA OC SA).
pub fn continent_code(text: &str) -> Option<Code2> {
    let code = upper2(text)?;
    countries::CONTINENTS.contains(&code).then_some(code)
}

/// Continent of an assigned country code (upper case, as in GeoIP databases).
pub fn continent_of(country: Code2) -> Option<Code2> {
    countries::continent_of(country)
}

fn upper2(text: &str) -> Option<Code2> {
    match text.as_bytes() {
        [a, b] => Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()]),
        _ => None,
    }
}

/// Where a client is, as far as region selection cares: the order of the variants is the
/// order of precedence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegionKey {
    /// A named CIDR list of the zone.
    Network(String),
    /// An ISO country.
    Country(Code2),
    /// A continent.
    Continent(Code2),
    /// Everyone else.
    Default,
}

impl RegionKey {
    /// `network`, `country`, `continent` or `default`.
    pub fn kind(&self) -> &'static str {
        match self {
            RegionKey::Network(_) => "network",
            RegionKey::Country(_) => "country",
            RegionKey::Continent(_) => "continent",
            RegionKey::Default => "default",
        }
    }
}

impl std::fmt::Display for RegionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegionKey::Network(n) => write!(f, "network:{n}"),
            RegionKey::Country(c) => write!(f, "country:{}", String::from_utf8_lossy(c)),
            RegionKey::Continent(c) => write!(f, "continent:{}", String::from_utf8_lossy(c)),
            RegionKey::Default => f.write_str("default"),
        }
    }
}

/// Parse a region reference: `country:KR` (or just `KR`), `continent:AS`, `network:NAME`,
/// `default`.
pub fn parse_region(text: &str) -> Result<RegionKey, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("default") {
        return Ok(RegionKey::Default);
    }
    let (kind, value) = t.split_once(':').unwrap_or(("country", t));
    match kind {
        "country" => country_code(value)
            .map(RegionKey::Country)
            .ok_or_else(|| format!("`{value}` is not an ISO 3166-1 alpha-2 country code")),
        "continent" => continent_code(value)
            .map(RegionKey::Continent)
            .ok_or_else(|| format!("`{value}` is not a continent code (AF AN AS EU NA OC SA)")),
        "network" if !value.is_empty() => Ok(RegionKey::Network(value.to_string())),
        _ => Err(format!("region `{t}`; expected country:CC, CC, continent:CC, network:NAME or default")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_parse() {
        assert_eq!(parse_region("KR"), Ok(RegionKey::Country(*b"KR")));
        assert_eq!(parse_region("country:jp"), Ok(RegionKey::Country(*b"JP")));
        assert_eq!(parse_region("continent:AS"), Ok(RegionKey::Continent(*b"AS")));
        assert_eq!(parse_region("network:kt"), Ok(RegionKey::Network("kt".into())));
        assert_eq!(parse_region("default"), Ok(RegionKey::Default));
        assert!(parse_region("XX").is_err());
        assert!(parse_region("planet:earth").is_err());
    }

    #[test]
    fn codes() {
        assert_eq!(country_code("kr"), Some(*b"KR"));
        assert_eq!(country_code("AP"), None);
        assert_eq!(continent_code("as"), Some(*b"AS"));
        assert_eq!(continent_of(*b"KR"), Some(*b"AS"));
    }
}
