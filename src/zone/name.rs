//! Domain names as the zone model holds them: absolute, lower-case ASCII, validated once at
//! load time so the rest of the code never re-checks them.

use std::fmt;

/// An absolute domain name in lower case with its trailing dot (`live.example.com.`); the root
/// is `.`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// The root name.
    pub fn root() -> Self {
        DomainName(".".to_string())
    }

    /// Parse an absolute name; the trailing dot is optional here (CDN targets are always
    /// outside the zone, so there is no relative reading to confuse them with).
    pub fn absolute(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed == "." {
            return Ok(Self::root());
        }
        let body = trimmed.strip_suffix('.').unwrap_or(trimmed);
        Self::from_labels(body)
    }

    /// Parse a name as zone files read them: `@` is the origin, a name with a trailing dot is
    /// absolute, anything else is relative to the origin.
    pub fn in_zone(text: &str, origin: &DomainName) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed == "@" {
            return Ok(origin.clone());
        }
        if let Some(body) = trimmed.strip_suffix('.') {
            if body.is_empty() {
                return Ok(Self::root());
            }
            return Self::from_labels(body);
        }
        if trimmed.is_empty() {
            return Err("empty name".to_string());
        }
        let joined = if origin.is_root() {
            trimmed.to_string()
        } else {
            format!("{trimmed}.{}", origin.without_dot())
        };
        Self::from_labels(&joined)
    }

    fn from_labels(body: &str) -> Result<Self, String> {
        if body.is_empty() {
            return Err("empty name".to_string());
        }
        // 255 octets on the wire = name length + 2 (leading length byte, root byte).
        if body.len() > 253 {
            return Err(format!("name is {} characters long; at most 253 fit in DNS", body.len()));
        }
        for label in body.split('.') {
            if label.is_empty() {
                return Err(format!("empty label in `{body}` (two dots in a row?)"));
            }
            if label.len() > 63 {
                return Err(format!("label `{label}` is {} characters; at most 63", label.len()));
            }
            if label == "*" {
                return Err("wildcard names are not served; list each name".to_string());
            }
            if let Some(bad) = label
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            {
                return Err(format!(
                    "character {bad:?} in `{label}`; expected letters, digits, '-' or '_' \
                     (IDNs must be written in punycode, xn--...)"
                ));
            }
        }
        Ok(DomainName(format!("{}.", body.to_ascii_lowercase())))
    }

    /// The name with its trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without its trailing dot (the root is empty).
    pub fn without_dot(&self) -> &str {
        self.0.strip_suffix('.').unwrap_or(&self.0)
    }

    /// True for `.`.
    pub fn is_root(&self) -> bool {
        self.0 == "."
    }

    /// True if `self` equals `zone` or lies below it.
    pub fn is_in(&self, zone: &DomainName) -> bool {
        if zone.is_root() || self == zone {
            return true;
        }
        self.0.len() > zone.0.len()
            && self.0.ends_with(&zone.0)
            && self.0.as_bytes()[self.0.len() - zone.0.len() - 1] == b'.'
    }

    /// The parent name (`a.b.` -> `b.`); the root has none.
    pub fn parent(&self) -> Option<DomainName> {
        if self.is_root() {
            return None;
        }
        match self.0.split_once('.') {
            Some((_, rest)) if !rest.is_empty() => Some(DomainName(rest.to_string())),
            _ => Some(Self::root()),
        }
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_absolute_and_apex() {
        let origin = DomainName::absolute("Example.COM").unwrap();
        assert_eq!(origin.as_str(), "example.com.");
        assert_eq!(DomainName::in_zone("@", &origin).unwrap(), origin);
        assert_eq!(DomainName::in_zone("Live", &origin).unwrap().as_str(), "live.example.com.");
        assert_eq!(DomainName::in_zone("ns.other.net.", &origin).unwrap().as_str(), "ns.other.net.");
    }

    #[test]
    fn rejects_bad_names() {
        let origin = DomainName::absolute("example.com").unwrap();
        assert!(DomainName::in_zone("a..b", &origin).is_err());
        assert!(DomainName::in_zone("*", &origin).is_err());
        assert!(DomainName::in_zone("a b", &origin).is_err());
        assert!(DomainName::in_zone(&"x".repeat(64), &origin).is_err());
        assert!(DomainName::absolute(&"a.".repeat(130)).is_err());
    }

    #[test]
    fn containment_is_label_aligned() {
        let zone = DomainName::absolute("example.com").unwrap();
        assert!(DomainName::absolute("live.example.com").unwrap().is_in(&zone));
        assert!(zone.is_in(&zone));
        assert!(!DomainName::absolute("badexample.com").unwrap().is_in(&zone));
        assert_eq!(
            DomainName::absolute("a.example.com").unwrap().parent(),
            Some(zone.clone())
        );
        assert_eq!(DomainName::absolute("com").unwrap().parent(), Some(DomainName::root()));
    }
}
