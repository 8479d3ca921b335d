//! The on-disk zone schema, exactly as a NOC engineer writes it (`version: 1`). Every node that
//! a semantic check may complain about keeps its source location (`Spanned`), so errors point
//! at the line and column. Parsing is strict: unknown keys, duplicate keys and wrong types are
//! errors. Meaning is checked later, in `zone::check`.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
pub use serde_saphyr::Spanned;

use crate::diag::{Code, Diagnostics, Pos};

/// The schema version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// A mapping that keeps its keys' source positions and their order (YAML order is the order an
/// operator reads). Duplicate keys are rejected by the parser before this sees them.
#[derive(Debug, Clone)]
pub struct OrderedMap<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    // On an error inside the value the key stays open: it names the YAML path.
                    OPEN_KEYS.with(|k| k.borrow_mut().push(key.value.clone()));
                    let value = map.next_value()?;
                    OPEN_KEYS.with(|k| k.borrow_mut().pop());
                    entries.push((key, value));
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

thread_local! {
    /// Keys of the `OrderedMap` entries being read, outermost first. serde_path_to_error cannot
    /// see a `Spanned<String>` key and prints `?` for it; `parse_yaml` names those from here.
    static OPEN_KEYS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// One zone file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneFile {
    /// Schema version; must be 1.
    pub version: Spanned<u32>,
    /// The zone apex, e.g. `example.com`.
    pub zone: Spanned<String>,
    /// Default TTL of static records, seconds.
    #[serde(default)]
    pub ttl: Option<Spanned<u32>>,
    /// Start of authority.
    #[serde(default)]
    pub soa: Option<Spanned<SoaSpec>>,
    /// Named CIDR lists that steered names can use as regions (NOC overrides).
    #[serde(default)]
    pub networks: OrderedMap<Vec<Spanned<String>>>,
    /// Static RRsets.
    #[serde(default)]
    pub records: Vec<Spanned<RecordSpec>>,
    /// Steered names, keyed by owner name.
    #[serde(default)]
    pub steered: OrderedMap<Spanned<SteeredSpec>>,
    /// How CDN health is measured and turned into shares.
    #[serde(default)]
    pub health: Option<Spanned<super::health::HealthSpec>>,
}

/// The SOA block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoaSpec {
    /// Primary name server (MNAME).
    pub primary: Spanned<String>,
    /// Responsible mailbox as a domain name (RNAME), e.g. `hostmaster.example.com.`.
    pub contact: Spanned<String>,
    /// Serial number.
    pub serial: u32,
    /// Secondary refresh interval, seconds.
    #[serde(default = "default_refresh")]
    pub refresh: u32,
    /// Secondary retry interval, seconds.
    #[serde(default = "default_retry")]
    pub retry: u32,
    /// Secondary expiry, seconds.
    #[serde(default = "default_expire")]
    pub expire: u32,
    /// Negative-caching TTL (SOA MINIMUM, RFC 2308), seconds.
    #[serde(default = "default_negative_ttl")]
    pub negative_ttl: Spanned<u32>,
    /// TTL of the SOA record itself; the zone default when absent.
    #[serde(default)]
    pub ttl: Option<Spanned<u32>>,
}

fn default_refresh() -> u32 {
    7200
}
fn default_retry() -> u32 {
    900
}
fn default_expire() -> u32 {
    1_209_600
}
fn default_negative_ttl() -> Spanned<u32> {
    Spanned::new(60, serde_saphyr::Location::UNKNOWN, serde_saphyr::Location::UNKNOWN)
}

/// One static RRset: a name, a type and one or more values in zone-file presentation form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// Owner name: `@` for the apex, relative to the zone, or absolute with a trailing dot.
    pub name: Spanned<String>,
    /// Record type: A, AAAA, CNAME, NS, MX, TXT, CAA.
    #[serde(rename = "type")]
    pub rtype: Spanned<String>,
    /// TTL in seconds; the zone default when absent.
    #[serde(default)]
    pub ttl: Option<Spanned<u32>>,
    /// A single value.
    #[serde(default)]
    pub value: Option<Spanned<String>>,
    /// Several values of one RRset.
    #[serde(default)]
    pub values: Option<Vec<Spanned<String>>>,
}

/// A steered name: its CDNs and which of them serve each region.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteeredSpec {
    /// TTL of the CNAME answers, seconds (default 20).
    #[serde(default)]
    pub ttl: Option<Spanned<u32>>,
    /// CDN that answers when every candidate of a region is unavailable.
    pub last_resort: Spanned<String>,
    /// The CDNs this name can be sent to, keyed by CDN name.
    pub cdns: Spanned<OrderedMap<Spanned<CdnSpec>>>,
    /// Which CDNs, with which weights, serve each region.
    pub regions: Spanned<RegionsSpec>,
}

/// One CDN of a steered name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdnSpec {
    /// The CNAME target at the CDN, always absolute (a trailing dot is optional).
    pub target: Spanned<String>,
}

/// Candidate CDNs with their weights, keyed by CDN name.
pub type CandidatesSpec = OrderedMap<Spanned<f64>>;

/// Region table of a steered name, most specific first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionsSpec {
    /// Named CIDR lists (from the zone's `networks`) and their candidates.
    #[serde(default)]
    pub networks: OrderedMap<Spanned<CandidatesSpec>>,
    /// ISO 3166-1 alpha-2 country codes and their candidates.
    #[serde(default)]
    pub countries: OrderedMap<Spanned<CandidatesSpec>>,
    /// Continent codes (AF AN AS EU NA OC SA) and their candidates.
    #[serde(default)]
    pub continents: OrderedMap<Spanned<CandidatesSpec>>,
    /// Everyone else.
    pub default: Spanned<CandidatesSpec>,
}

/// Position of a spanned node.
pub fn pos<T>(s: &Spanned<T>) -> Pos {
    Pos { line: s.referenced.line(), col: s.referenced.column() }
}

/// Most YAML nodes (mappings, sequences, scalars) one file may hold. The parser's default,
/// 250,000, refused a zone of about 9,500 steered names (some 25 nodes each), a quarter of
/// the 16 MB the loader reads; this admits 10,000 names with room to spare and still bounds
/// the parser's work on a hostile file.
pub const MAX_YAML_NODES: usize = 2_000_000;

/// Parse options shared by every YAML file the daemon reads: duplicate keys are errors, and
/// only `true`/`false` are booleans (so `NO`, Norway, stays a string).
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_nodes: MAX_YAML_NODES,
            // Events are nodes plus their ends; the default (1,000,000) would bind first.
            max_events: 3 * MAX_YAML_NODES,
        },
    }
}

/// Parse YAML text into `T`, turning a failure into one diagnostic with location, YAML path and
/// a named code. Used for zone files and the daemon config alike.
pub fn parse_yaml<T: for<'de> Deserialize<'de>>(
    file: &Path,
    text: &str,
    diags: &mut Diagnostics,
) -> Option<T> {
    let mut raw_path = String::new();
    OPEN_KEYS.with(|k| k.borrow_mut().clear());
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, yaml_options(), |de| {
        serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
            raw_path = e.path().to_string();
            e.into_inner()
        })
    });
    let open_keys = OPEN_KEYS.with(|k| std::mem::take(&mut *k.borrow_mut()));
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            let position = err
                .location()
                .map(|l| Pos { line: l.line(), col: l.column() })
                .unwrap_or_default();
            let (code, message) = classify(&err.to_string());
            let mut path = clean_path(&raw_path, &open_keys);
            // The parser rejects a duplicate key before the path tracker sees it: add it here.
            if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key.trim());
            }
            diags.push(file, position, path, code, message);
            None
        }
    }
}

/// serde_path_to_error prints each Spanned wrapper as a `value` segment and each `OrderedMap`
/// key as `?`. Drop the wrappers (a run of two or more `value`s also holds a record's real
/// `value` key, which stays; a wrapped list prints as `value[3]`, whose index goes to the key
/// before it), name the `?`s from `open_keys` in order, and drop any `?` left (a key the
/// parser failed on before it was read).
fn clean_path(raw: &str, open_keys: &[String]) -> String {
    let segments: Vec<&str> = raw.split('.').filter(|p| !p.is_empty()).collect();
    let mut keys = open_keys.iter();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < segments.len() {
        if segments[i] == "value" {
            let run = segments[i..].iter().take_while(|s| **s == "value").count();
            if run >= 2 {
                parts.push("value".to_string());
            }
            i += run;
            continue;
        }
        if let Some(index) = segments[i].strip_prefix("value").filter(|rest| rest.starts_with('[')) {
            match parts.last_mut() {
                Some(last) => last.push_str(index),
                None => parts.push(index.to_string()),
            }
            i += 1;
            continue;
        }
        match segments[i].strip_prefix('?') {
            Some(rest) => {
                if let Some(key) = keys.next() {
                    parts.push(format!("{key}{rest}"));
                }
            }
            None => parts.push(segments[i].to_string()),
        }
        i += 1;
    }
    parts.join(".")
}

/// Map serde-saphyr's message to a named code and a one-line message (its snippet rendering
/// repeats the location we already print).
fn classify(raw: &str) -> (Code, String) {
    let first = raw.lines().next().unwrap_or(raw);
    // "error: line 3 column 1: unknown field `bogus`, expected one of ..."
    let message = match first.find(": ") {
        Some(i) if first.starts_with("error: line ") => {
            let rest = &first[i + 2..];
            rest.split_once(": ").map(|(_, m)| m).unwrap_or(rest)
        }
        _ => first,
    }
    .trim()
    .to_string();
    let code = if message.contains("unknown field") || message.contains("unknown variant") {
        Code::UnknownKey
    } else if message.contains("duplicate mapping key") || message.contains("duplicate field") {
        Code::DuplicateKey
    } else if message.contains("missing field") {
        Code::MissingKey
    } else if message.starts_with("invalid")
        || message.starts_with("expected")
        || message.contains("invalid type")
        || message.contains("invalid value")
    {
        Code::WrongType
    } else {
        Code::Syntax
    };
    let message = match code {
        Code::Syntax if message.contains("budget breached") && message.contains("Nodes") => {
            format!("more than {MAX_YAML_NODES} YAML nodes in one file; expected a smaller zone (one zone per file: split the names across zones)")
        }
        Code::DuplicateKey => message
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(&message)
            .to_string(),
        _ => message,
    };
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ZoneFile, Vec<crate::diag::Diagnostic>> {
        let mut d = Diagnostics::new();
        parse_yaml::<ZoneFile>(Path::new("t.yaml"), text, &mut d).ok_or(d.into_items())
    }

    #[test]
    fn unknown_key_has_path_and_line() {
        let err = parse("version: 1\nzone: a.test\nsoa:\n  primary: ns1\n  contact: h\n  serial: 1\n  bogus: 3\n")
            .unwrap_err();
        assert_eq!(err[0].code, Code::UnknownKey);
        assert_eq!(err[0].pos.line, 7);
        assert_eq!(err[0].path, "soa.bogus");
    }

    #[test]
    fn a_file_past_the_node_budget_is_told_to_split() {
        let (code, message) = classify("budget breached: Nodes { nodes: 2000001 }");
        assert_eq!(code, Code::Syntax);
        assert!(message.contains("more than 2000000 YAML nodes") && message.contains("split"), "{message}");
    }

    #[test]
    fn duplicate_and_wrong_type_are_named() {
        let err = parse("version: 1\nzone: a\nzone: b\n").unwrap_err();
        assert_eq!(err[0].code, Code::DuplicateKey);
        assert_eq!(err[0].pos.line, 3);
        let err = parse("version: 1\nzone: a\nttl: soon\n").unwrap_err();
        assert_eq!(err[0].code, Code::WrongType);
        assert_eq!(err[0].path, "ttl");
    }

    #[test]
    fn paths_name_map_keys_record_values_and_duplicates() {
        let base = "version: 1\nzone: a.test\nsoa:\n  primary: ns1\n  contact: h\n  serial: 1\n";
        let steered = "steered:\n  live:\n    cdns: {a: {target: x.net}}\n    regions: {default: {a: 1}}\n";
        let err = parse(&format!("{base}{steered}")).unwrap_err();
        assert_eq!((err[0].code, err[0].path.as_str()), (Code::MissingKey, "steered.live"));
        let err = parse(&format!("{base}networks:\n  lab: [10.0.0.0/8, {{}}]\n")).unwrap_err();
        assert_eq!((err[0].code, err[0].path.as_str()), (Code::WrongType, "networks.lab[1]"));
        let err = parse(&format!("{base}records:\n  - {{name: x, type: A, value: [1]}}\n")).unwrap_err();
        assert_eq!((err[0].code, err[0].path.as_str()), (Code::WrongType, "records[0].value"));
        let err = parse("version: 1\nzone: a\nzone: b\n").unwrap_err();
        assert_eq!((err[0].code, err[0].path.as_str()), (Code::DuplicateKey, "zone"));
        assert_eq!(clean_path("audience.value.points.value[2].value[0]", &[]), "audience.points[2][0]", "wrapped lists");
        let dup = "steered:\n  live:\n    last_resort: a\n    cdns: {a: {target: x.net}}\n    regions:\n      countries:\n        KR: {a: 1}\n        KR: {a: 2}\n      default: {a: 1}\n";
        let err = parse(&format!("{base}{dup}")).unwrap_err();
        assert_eq!((err[0].code, err[0].pos.line), (Code::DuplicateKey, 14));
        assert_eq!(err[0].path, "steered.live.regions.countries.KR");
    }

    #[test]
    fn norway_stays_a_string() {
        let ok = parse("version: 1\nzone: a\nnetworks:\n  NO: []\n").map(|z| z.networks.0.len());
        assert_eq!(ok.ok(), Some(1));
    }
}
