//! Diagnostics for the people who edit zone, event, scenario and config files: every problem
//! carries the file, line, column, YAML path, a named code and what was expected. Loaders
//! collect all of them, then print a summary line, so one run of `cdnsteer check` shows
//! everything to fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// A named class of problem. The set is closed so tests, docs and operators can rely on the
/// names; `as_str` is what appears in brackets in the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// The file could not be read.
    Io,
    /// Not valid YAML.
    Syntax,
    /// A key the schema does not know.
    UnknownKey,
    /// The same key twice in one mapping.
    DuplicateKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong type (text where a number belongs, a list where a mapping belongs).
    WrongType,
    /// `version` is not one this build understands.
    UnsupportedVersion,
    /// A name that is not a valid domain name.
    InvalidName,
    /// A name that lies outside the zone of the file it is in.
    NameOutsideZone,
    /// Two files serve the same zone apex.
    DuplicateZone,
    /// A TTL outside the allowed bounds.
    TtlOutOfBounds,
    /// The zone has no `soa` block.
    MissingSoa,
    /// The zone has no NS records at its apex.
    MissingNs,
    /// A record type this server does not serve.
    UnsupportedType,
    /// Record data that does not parse for its type.
    InvalidRdata,
    /// A CNAME beside other data at the same name, or two CNAMEs.
    CnameAndOther,
    /// A CNAME at the zone apex.
    CnameAtApex,
    /// NS records below the apex (delegations are not served).
    Delegation,
    /// The same record type listed twice for one name.
    DuplicateRrset,
    /// A steered name that is also a static record name.
    SteeredClash,
    /// A region refers to a CDN the steered name does not define.
    UnknownCdn,
    /// A weight that is not a positive finite number.
    InvalidWeight,
    /// A region with no candidate CDNs.
    EmptyRegion,
    /// A country key that is not an ISO 3166-1 alpha-2 code.
    UnknownCountry,
    /// A continent key that is not one of AF AN AS EU NA OC SA.
    UnknownContinent,
    /// A CIDR that does not parse or has host bits set.
    InvalidCidr,
    /// A region refers to a network list the zone does not define.
    UnknownNetwork,
    /// The last-resort CDN is not among the steered name's CDNs.
    UnknownLastResort,
    /// A steered name with no CDNs.
    NoCdns,
    /// A directory with no zone files in it.
    NoZones,
    /// A daemon setting that is out of range or inconsistent.
    InvalidSetting,
    /// A `health:` setting out of range or inconsistent (thresholds, SLA bounds, shares).
    InvalidHealth,
    /// A probe definition that cannot run (URL, address, interval, status).
    InvalidProbe,
    /// A region reference that is not `country:CC`, `continent:CC`, `network:NAME` or `default`.
    UnknownRegion,
    /// An event file's window, policy or freeze that cannot work (end before start, a policy
    /// value out of range, a zone it does not cover).
    InvalidEvent,
    /// A name that is not a steered name of the zones served.
    UnknownName,
    /// A scenario setting that is out of range or inconsistent (a fraction above 1, a duration
    /// that does not parse, `shape` and `points` both given, a sweep value out of range).
    InvalidScenario,
    /// Parts (of the audience's regions, the resolver classes, the bitrate ladder) that do not
    /// sum to 1.
    PartsSum,
    /// An audience curve that goes back in time: points whose offsets do not increase, or the
    /// marks of a match `shape` out of order.
    CurveOrder,
    /// An incident that starts or ends outside the simulated night.
    OutsideNight,
    /// A scenario's `event` that is not an event of its events directory.
    UnknownEvent,
    /// A region a scenario names that is not a region of the steered names it simulates.
    RegionNotSteered,
    /// A vantage an incident blinds that neither the scenario nor the zones probe from.
    UnknownVantage,
}

impl Code {
    /// Every code, for docs and for the test that wants one fixture per code.
    pub const ALL: [Code; 43] = [
        Code::Io,
        Code::Syntax,
        Code::UnknownKey,
        Code::DuplicateKey,
        Code::MissingKey,
        Code::WrongType,
        Code::UnsupportedVersion,
        Code::InvalidName,
        Code::NameOutsideZone,
        Code::DuplicateZone,
        Code::TtlOutOfBounds,
        Code::MissingSoa,
        Code::MissingNs,
        Code::UnsupportedType,
        Code::InvalidRdata,
        Code::CnameAndOther,
        Code::CnameAtApex,
        Code::Delegation,
        Code::DuplicateRrset,
        Code::SteeredClash,
        Code::UnknownCdn,
        Code::InvalidWeight,
        Code::EmptyRegion,
        Code::UnknownCountry,
        Code::UnknownContinent,
        Code::InvalidCidr,
        Code::UnknownNetwork,
        Code::UnknownLastResort,
        Code::NoCdns,
        Code::NoZones,
        Code::InvalidSetting,
        Code::InvalidHealth,
        Code::InvalidProbe,
        Code::UnknownRegion,
        Code::InvalidEvent,
        Code::UnknownName,
        Code::InvalidScenario,
        Code::PartsSum,
        Code::CurveOrder,
        Code::OutsideNight,
        Code::UnknownEvent,
        Code::RegionNotSteered,
        Code::UnknownVantage,
    ];

    /// The kebab-case name printed in messages and used for fixture file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "io",
            Code::Syntax => "syntax",
            Code::UnknownKey => "unknown-key",
            Code::DuplicateKey => "duplicate-key",
            Code::MissingKey => "missing-key",
            Code::WrongType => "wrong-type",
            Code::UnsupportedVersion => "unsupported-version",
            Code::InvalidName => "invalid-name",
            Code::NameOutsideZone => "name-outside-zone",
            Code::DuplicateZone => "duplicate-zone",
            Code::TtlOutOfBounds => "ttl-out-of-bounds",
            Code::MissingSoa => "missing-soa",
            Code::MissingNs => "missing-ns",
            Code::UnsupportedType => "unsupported-type",
            Code::InvalidRdata => "invalid-rdata",
            Code::CnameAndOther => "cname-and-other-data",
            Code::CnameAtApex => "cname-at-apex",
            Code::Delegation => "delegation",
            Code::DuplicateRrset => "duplicate-rrset",
            Code::SteeredClash => "steered-clash",
            Code::UnknownCdn => "unknown-cdn",
            Code::InvalidWeight => "invalid-weight",
            Code::EmptyRegion => "empty-region",
            Code::UnknownCountry => "unknown-country",
            Code::UnknownContinent => "unknown-continent",
            Code::InvalidCidr => "invalid-cidr",
            Code::UnknownNetwork => "unknown-network",
            Code::UnknownLastResort => "unknown-last-resort",
            Code::NoCdns => "no-cdns",
            Code::NoZones => "no-zones",
            Code::InvalidSetting => "invalid-setting",
            Code::InvalidHealth => "invalid-health",
            Code::InvalidProbe => "invalid-probe",
            Code::UnknownRegion => "unknown-region",
            Code::InvalidEvent => "invalid-event",
            Code::UnknownName => "unknown-name",
            Code::InvalidScenario => "invalid-scenario",
            Code::PartsSum => "parts-sum",
            Code::CurveOrder => "curve-order",
            Code::OutsideNight => "outside-night",
            Code::UnknownEvent => "unknown-event",
            Code::RegionNotSteered => "region-not-steered",
            Code::UnknownVantage => "unknown-vantage",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A position in a source file, 1-based; line 0 means "the file as a whole".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, starting at 1.
    pub line: u64,
    /// Column, starting at 1.
    pub col: u64,
}

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// Where in the file.
    pub pos: Pos,
    /// YAML path of the offending node, e.g. `steered.live.regions.countries.KR`.
    pub path: String,
    /// Named class of the problem.
    pub code: Code,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error[{}] at {}: {}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            self.code,
            if self.path.is_empty() { "(document)" } else { &self.path },
            self.message
        )
    }
}

/// Collects diagnostics for one file at a time.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    files_seen: usize,
}

impl Diagnostics {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a problem.
    pub fn push(
        &mut self,
        file: &Path,
        pos: Pos,
        path: impl Into<String>,
        code: Code,
        message: impl Into<String>,
    ) {
        self.items.push(Diagnostic {
            file: file.to_path_buf(),
            pos,
            path: path.into(),
            code,
            message: message.into(),
        });
    }

    /// Count a file as read (for the summary line).
    pub fn saw_file(&mut self) {
        self.files_seen += 1;
    }

    /// True when nothing went wrong.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The problems, in the order found.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// Move the problems out.
    pub fn into_items(self) -> Vec<Diagnostic> {
        self.items
    }

    /// Number of files read.
    pub fn files_seen(&self) -> usize {
        self.files_seen
    }
}

/// Every problem found while loading a set of files, with the summary an operator reads last.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.diagnostics, *.files))]
pub struct LoadError {
    /// All problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many files were read.
    pub files: usize,
}

impl LoadError {
    /// The one-line summary: how many problems in how many files.
    pub fn summary(&self) -> String {
        summary_line(&self.diagnostics, self.files)
    }

    /// True if some diagnostic has this code.
    pub fn has(&self, code: Code) -> bool {
        self.diagnostics.iter().any(|d| d.code == code)
    }
}

fn summary_line(diagnostics: &[Diagnostic], files: usize) -> String {
    let mut bad_files: Vec<&Path> = diagnostics.iter().map(|d| d.file.as_path()).collect();
    bad_files.sort();
    bad_files.dedup();
    format!(
        "{} error{} in {} of {} file{}",
        diagnostics.len(),
        if diagnostics.len() == 1 { "" } else { "s" },
        bad_files.len(),
        files,
        if files == 1 { "" } else { "s" }
    )
}

fn render(diagnostics: &[Diagnostic], files: usize) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out.push_str(&summary_line(diagnostics, files));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len());
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '-')));
    }

    #[test]
    fn renders_location_code_path_and_summary() {
        let mut d = Diagnostics::new();
        d.saw_file();
        d.push(
            Path::new("zones/a.yaml"),
            Pos { line: 3, col: 5 },
            "steered.live",
            Code::UnknownCdn,
            "no such CDN",
        );
        let err = LoadError { diagnostics: d.into_items(), files: 1 };
        let text = err.to_string();
        assert!(text.contains("zones/a.yaml:3:5: error[unknown-cdn] at steered.live: no such CDN"));
        assert!(text.ends_with("1 error in 1 of 1 file"));
    }
}
