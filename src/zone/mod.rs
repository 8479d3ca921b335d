//! Zones: the YAML files a NOC edits, from text to a validated `ZoneSet`.
//!
//! `spec` is the on-disk schema, `check` turns it into the `model` with every problem
//! reported, and this module walks a directory. `cdnsteer check` and the server's (re)load
//! call the very same `load_dir`.

pub mod check;
pub mod health;
pub mod model;
pub mod name;
pub mod spec;

use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostics, LoadError, Pos};
pub use model::ZoneSet;

/// Largest zone file accepted; a bigger one is almost certainly a mistake (a log file copied
/// into zones/), and the parser should not be asked to chew it.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Load every `*.yaml` / `*.yml` file of a directory (not recursive; hidden and editor backup
/// files are skipped). All-or-nothing: any problem in any file fails the whole set.
pub fn load_dir(dir: &Path) -> Result<ZoneSet, LoadError> {
    let mut diags = Diagnostics::new();
    let files = match zone_files(dir) {
        Ok(f) => f,
        Err(e) => {
            diags.push(dir, Pos::default(), "", Code::Io, format!("cannot read zone directory: {e}"));
            return Err(LoadError { diagnostics: diags.into_items(), files: 0 });
        }
    };
    let mut texts = Vec::new();
    for file in files {
        match std::fs::metadata(&file) {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                diags.saw_file();
                diags.push(&file, Pos::default(), "", Code::Io, format!("file is {} bytes; at most {MAX_FILE_BYTES} are read", m.len()));
                continue;
            }
            _ => {}
        }
        match std::fs::read_to_string(&file) {
            Ok(text) => texts.push((file, text)),
            Err(e) => {
                diags.saw_file();
                diags.push(&file, Pos::default(), "", Code::Io, format!("cannot read: {e}"));
            }
        }
    }
    if texts.is_empty() && diags.is_empty() {
        diags.push(dir, Pos::default(), "", Code::NoZones, "no zone files (*.yaml, *.yml) in this directory");
        return Err(LoadError { diagnostics: diags.into_items(), files: 0 });
    }
    load_texts(&texts, diags)
}

/// Check a set of (file name, contents) pairs; the pure core of `load_dir`, also used by the
/// fuzz target.
pub fn load_texts(texts: &[(PathBuf, String)], mut diags: Diagnostics) -> Result<ZoneSet, LoadError> {
    let mut zones: Vec<model::Zone> = Vec::new();
    for (file, text) in texts {
        diags.saw_file();
        let Some(parsed) = spec::parse_yaml::<spec::ZoneFile>(file, text, &mut diags) else {
            continue;
        };
        let apex_pos = spec::pos(&parsed.zone);
        if let Some(zone) = check::check_zone(file, parsed, &mut diags) {
            if let Some(other) = zones.iter().find(|z| z.origin == zone.origin) {
                diags.push(
                    file,
                    apex_pos,
                    "zone",
                    Code::DuplicateZone,
                    format!("zone {} is also served by {}; expected one file per zone", zone.origin, other.file.display()),
                );
                continue;
            }
            zones.push(zone);
        }
    }
    let files = diags.files_seen();
    if !diags.is_empty() {
        return Err(LoadError { diagnostics: diags.into_items(), files });
    }
    zones.sort_by(|a, b| a.origin.cmp(&b.origin));
    Ok(ZoneSet { zones, id: next_set_id() })
}

/// A number for every zone set loaded by this process (1, 2, ...): who keeps state per zone
/// set (the health engine) tells a reload from the same set by it.
fn next_set_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The zone files of a directory, sorted by name.
pub fn zone_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Fuzz body: any bytes as a zone file must give a zone set or located diagnostics, never a
/// panic. Returns the number of diagnostics.
pub fn fuzz_zone_loader(data: &[u8]) -> usize {
    let text = String::from_utf8_lossy(data).into_owned();
    match load_texts(&[(PathBuf::from("fuzz.yaml"), text)], Diagnostics::new()) {
        Ok(_) => 0,
        Err(e) => {
            for d in &e.diagnostics {
                assert!(!d.file.as_os_str().is_empty(), "diagnostic without a file: {d}");
                assert!(d.pos.line >= 1 || d.code == Code::Io, "diagnostic without a line: {d}");
            }
            e.diagnostics.len()
        }
    }
}
