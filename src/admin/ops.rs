//! What the admin API asks of the control plane: the operations that change state, and the
//! engine's signals for `/metrics`. The daemon implements `Operations`; the API only
//! authenticates, parses and maps outcomes to HTTP, so it never imports the daemon (no cycle)
//! and tests can drive it with a double.

use std::sync::Arc;

use serde::Serialize;

use crate::diag::Diagnostic;
use crate::health::signal::SignalStore;
use crate::overrides::{Override, OverrideError, OverrideRequest};

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The request was refused (400, 404 or 409, by kind).
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// The change could not be made durable (state directory unwritable, disk full): nothing
    /// changed, in memory or on disk (5xx).
    #[error("{0}")]
    Storage(String),
}

/// An override as listed: the override, and whether it still applies to anything.
#[derive(Debug, Clone, Serialize)]
pub struct ListedOverride {
    /// The override.
    #[serde(flatten)]
    pub item: Override,
    /// Its name, region or CDN went away in a reload: kept until it expires.
    pub dormant: bool,
    /// Seconds until it expires.
    pub expires_in_secs: u64,
}

/// A diagnostic as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosticJson {
    /// The file.
    pub file: String,
    /// Line, 1-based (0 when the problem is the file as a whole).
    pub line: u64,
    /// Column, 1-based.
    pub column: u64,
    /// The named code (`unknown-cdn`).
    pub code: &'static str,
    /// The YAML path (`steered.live.regions.countries.KR`).
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl From<&Diagnostic> for DiagnosticJson {
    fn from(d: &Diagnostic) -> DiagnosticJson {
        DiagnosticJson {
            file: d.file.display().to_string(),
            line: d.pos.line,
            column: d.pos.col,
            code: d.code.as_str(),
            path: d.path.clone(),
            message: d.message.clone(),
        }
    }
}

/// What a reload did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// A new generation serves the new configuration.
    Applied {
        /// The new generation.
        generation: u64,
        /// Milliseconds from the trigger to the swap.
        took_ms: u64,
    },
    /// A change freeze holds the change: the previous generation keeps serving until the
    /// event's window ends (the change is then applied) or a forced reload.
    Frozen {
        /// The generation still serving.
        generation: u64,
        /// The event whose freeze holds it.
        event: String,
        /// The frozen names the change would touch.
        names: Vec<String>,
        /// When the freeze ends (RFC 3339).
        until: String,
        /// In words.
        message: String,
    },
    /// Something was wrong; the previous generation keeps serving.
    Refused {
        /// The generation still serving.
        generation: u64,
        /// Every problem found.
        diagnostics: Vec<DiagnosticJson>,
        /// A problem that is not a located diagnostic (GeoIP database), if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// Events as status and the dashboard show them: the window, the freeze, and a change a
/// freeze holds back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventsStatus {
    /// Every event loaded, by start.
    pub events: Vec<EventStatus>,
    /// A reload a freeze holds back, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<serde_json::Value>,
}

/// One event.
#[derive(Debug, Clone, Serialize)]
pub struct EventStatus {
    /// Its name.
    pub name: String,
    /// Who it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339).
    pub end: String,
    /// Steered names involved.
    pub names: Vec<String>,
    /// Changes to its names wait for the end of the window.
    pub freeze: bool,
    /// `upcoming`, `live` or `over`.
    pub phase: &'static str,
    /// Seconds to the start (upcoming), since the start (live) or since the end (over).
    pub clock_secs: u64,
}

/// The control plane's mutating operations.
#[async_trait::async_trait]
pub trait Operations: Send + Sync {
    /// Overrides in force, oldest first.
    async fn overrides(&self) -> Vec<ListedOverride>;
    /// Check, persist, audit and apply a new override; `who` is the token's name.
    async fn add_override(&self, request: OverrideRequest, who: &str) -> Result<Override, OpError>;
    /// Remove one by id.
    async fn remove_override(&self, id: &str, who: &str) -> Result<Override, OpError>;
    /// Reload zones, events and GeoIP as one transaction; `force` (a reason) applies a change
    /// a freeze holds.
    async fn reload(&self, who: &str, force: Option<String>) -> ReloadOutcome;
    /// Events and a change a freeze holds back.
    async fn events(&self) -> EventsStatus {
        EventsStatus::default()
    }
    /// What the health engine knows of each CDN x region x vantage, as it is now (for
    /// `/metrics`; held briefly, the engine copies it on write only while it is held). A
    /// control plane without an engine knows nothing.
    async fn signals(&self) -> Arc<SignalStore> {
        Arc::default()
    }
}
