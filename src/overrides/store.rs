//! Where overrides live between restarts: `overrides.json` in the state directory, replaced
//! atomically (temporary file, fsync, rename, fsync of the directory), and `audit.jsonl`, one
//! JSON line appended per change (when, who, author, what, before, after). The one boundary a
//! replicated store (shared by ns1 and ns2) would replace: callers only `load`, `save` and
//! `audit`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::OverrideSet;
use crate::timestamp::{self, Millis};

/// File name of the override set in the state directory.
pub const OVERRIDES_FILE: &str = "overrides.json";
/// File name of the audit log in the state directory.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// A state file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading, writing or syncing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid override set.
    #[error("{path}: not a valid override state file: {message}; fix or move it away (a lost drain could send viewers back to a broken CDN, so the server does not start without it)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// When.
    #[serde(with = "timestamp::as_rfc3339")]
    pub when: Millis,
    /// The admin token's name (or `system` for expiry, `file` for a reload trigger).
    pub who: String,
    /// Free-text author, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// What happened (`override.add`, `override.remove`, `override.expire`, `reload`, ...).
    pub what: String,
    /// State before (the override, or null).
    pub before: serde_json::Value,
    /// State after.
    pub after: serde_json::Value,
}

/// The override state of one server: a directory holding the two files.
#[derive(Debug, Clone)]
pub struct OverrideStore {
    dir: PathBuf,
}

impl OverrideStore {
    /// A store in `dir` (created by `save` if missing).
    pub fn new(dir: &Path) -> OverrideStore {
        OverrideStore { dir: dir.to_path_buf() }
    }

    /// The state file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(OVERRIDES_FILE)
    }

    /// The audit log's path.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.join(AUDIT_FILE)
    }

    /// Read the set: all or nothing. A missing file is an empty set (first start); anything
    /// unreadable or invalid is an error naming the file.
    pub fn load(&self) -> Result<OverrideSet, StoreError> {
        let path = self.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OverrideSet::new()),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let set: OverrideSet = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt { path: path.clone(), message: e.to_string() })?;
        let mut set = set;
        let mut ids = std::collections::HashSet::new();
        if let Some(dup) = set.items.iter().find(|o| !ids.insert(o.id.as_str())) {
            return Err(StoreError::Corrupt { path, message: format!("override id `{}` appears twice", dup.id) });
        }
        // A hand-edited file must not make the next id collide with one in force.
        let highest = set.items.iter().filter_map(|o| o.id.strip_prefix("ovr-")?.parse::<u64>().ok()).max().unwrap_or(0);
        set.next_id = set.next_id.max(highest + 1);
        Ok(set)
    }

    /// Replace the file atomically: a crash leaves the old or the new set, never half of one.
    pub fn save(&self, set: &OverrideSet) -> Result<(), StoreError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.path();
        let tmp = self.dir.join(format!(".{OVERRIDES_FILE}.tmp"));
        let mut text = serde_json::to_vec_pretty(set).map_err(|e| StoreError::Corrupt { path: path.clone(), message: e.to_string() })?;
        text.push(b'\n');
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&text).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))?;
        Ok(())
    }

    /// Append one audit line (and sync it: the audit is the record of who moved traffic).
    pub fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let path = self.audit_path();
        let io = |source| StoreError::Io { path: path.clone(), source };
        std::fs::create_dir_all(&self.dir).map_err(|source| StoreError::Io { path: self.dir.clone(), source })?;
        let mut line = serde_json::to_vec(entry).map_err(|e| StoreError::Corrupt { path: path.clone(), message: e.to_string() })?;
        line.push(b'\n');
        let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(())
    }
}
