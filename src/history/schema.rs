//! The database layout (schema version [`VERSION`]), and opening it: the writer's connection
//! (creates or upgrades the schema, WAL, busy timeout, no automatic checkpoints: the writer
//! checkpoints on its own schedule) and readers' read-only connections.
//!
//! Compact by design: times are Unix ms, names are dictionary ids, values are integers in
//! fixed units (share in parts per million, score in tenths of a point, TTFB in
//! microseconds, throughput in kbit/s, traffic in Mbit/s), which SQLite stores in 1 to 6
//! bytes each. Every data table's `id` is the row id (no separate index) and comes from the
//! one sequence in `meta.next_id`; each has one index on `at` for time windows.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::HistoryError;

/// The schema this build writes and reads.
pub const VERSION: i64 = 1;

/// How long a statement waits for a lock held by another connection before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(2000);

/// The WAL file is cut back to this size after a checkpoint (bytes).
pub const JOURNAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;

/// Dictionary kinds (`dict.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum DictKind {
    /// Steered names.
    Name = 0,
    /// Region keys (`country:KR`).
    Region = 1,
    /// CDN names.
    Cdn = 2,
    /// Zone apexes.
    Zone = 3,
    /// Probe vantages and `rum:<source>`.
    Vantage = 4,
    /// Telemetry sources.
    Source = 5,
}

impl DictKind {
    /// Every kind, `kind as usize` indexes it.
    pub const ALL: [DictKind; 6] = [DictKind::Name, DictKind::Region, DictKind::Cdn, DictKind::Zone, DictKind::Vantage, DictKind::Source];
}

/// Version 1.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL,
    applied_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dict (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (kind, text)
);
-- share, state and score per steered name x region x CDN, when they change, and keyframes.
CREATE TABLE IF NOT EXISTS share (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    name INTEGER NOT NULL,
    region INTEGER NOT NULL,
    cdn INTEGER NOT NULL,
    share_ppm INTEGER NOT NULL,
    score_tenths INTEGER,
    state INTEGER NOT NULL,
    keyframe INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS share_at ON share (at);
-- observations from probes and telemetry (samples > 1: merged per minute).
CREATE TABLE IF NOT EXISTS signal (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    zone INTEGER,
    cdn INTEGER NOT NULL,
    region INTEGER NOT NULL,
    vantage INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    cache_hits INTEGER,
    ttfb_us INTEGER,
    ttfb_hi_us INTEGER,
    throughput_kbps INTEGER,
    failure INTEGER
);
CREATE INDEX IF NOT EXISTS signal_at ON signal (at);
-- steered answers per interval.
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    span_ms INTEGER NOT NULL,
    name INTEGER NOT NULL,
    region INTEGER NOT NULL,
    cdn INTEGER NOT NULL,
    answers INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_at ON answers (at);
-- viewer experience from telemetry windows.
CREATE TABLE IF NOT EXISTS qoe (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    cdn INTEGER NOT NULL,
    region INTEGER NOT NULL,
    source INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    window_secs INTEGER,
    viewers INTEGER,
    startup_p50_ms INTEGER,
    startup_p95_ms INTEGER,
    rebuffer_ppm INTEGER,
    playback_failures INTEGER,
    exits_before_start INTEGER,
    ttfb_p50_us INTEGER,
    ttfb_p95_us INTEGER,
    ttfb_p99_us INTEGER,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    delivered_mbps INTEGER
);
CREATE INDEX IF NOT EXISTS qoe_at ON qoe (at);
-- decisions, reloads, overrides, freezes, annotations.
CREATE TABLE IF NOT EXISTS event (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    name INTEGER,
    region INTEGER,
    generation INTEGER,
    who TEXT,
    text TEXT NOT NULL,
    data TEXT
);
CREATE INDEX IF NOT EXISTS event_at ON event (at);
";

/// The data tables, whose ids share one sequence.
pub const DATA_TABLES: [&str; 5] = ["share", "signal", "answers", "qoe", "event"];

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
    move |source| HistoryError::Sqlite { path: path.display().to_string(), source }
}

/// Settings every connection gets.
fn common(conn: &Connection, path: &Path) -> Result<(), HistoryError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite(path))?;
    Ok(())
}

/// Open (creating if needed) the database for writing: WAL, `synchronous=NORMAL` (a power
/// loss may lose the last transactions, never corrupt the file), no automatic checkpoints,
/// the schema created or checked. A database written by a newer cdnsteer is refused.
pub fn open_writer(path: &Path) -> Result<Connection, HistoryError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| HistoryError::Io { path: dir.display().to_string(), message: format!("cannot create the directory: {e}") })?;
    }
    let conn = Connection::open(path).map_err(sqlite(path))?;
    common(&conn, path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(sqlite(path))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(HistoryError::Io { path: path.display().to_string(), message: format!("cannot use WAL mode (journal_mode is {mode}); the file system may not support shared memory") });
    }
    conn.execute_batch(&format!("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}; PRAGMA foreign_keys=OFF;"))
        .map_err(sqlite(path))?;
    migrate(&conn, path)?;
    Ok(conn)
}

/// Open an existing database read-only (a reader never writes, never creates the file).
pub fn open_reader(path: &Path) -> Result<Connection, HistoryError> {
    if !path.exists() {
        return Err(HistoryError::Io { path: path.display().to_string(), message: "no history database here (has the server run with this state directory?)".to_string() });
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite(path))?;
    common(&conn, path)?;
    conn.execute_batch("PRAGMA query_only=ON;").map_err(sqlite(path))?;
    let found = stored_version(&conn).map_err(sqlite(path))?;
    match found {
        Some(v) if v > VERSION => Err(HistoryError::NewerSchema { path: path.display().to_string(), found: v, supported: VERSION }),
        _ => Ok(conn),
    }
}

/// The newest version recorded, if the table exists and has a row.
fn stored_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let exists: bool = conn.query_row("SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", [], |r| r.get(0))?;
    if !exists {
        return Ok(None);
    }
    conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get::<_, Option<i64>>(0)).optional().map(Option::flatten)
}

/// Create the schema, or check the one there.
fn migrate(conn: &Connection, path: &Path) -> Result<(), HistoryError> {
    match stored_version(conn).map_err(sqlite(path))? {
        Some(v) if v > VERSION => Err(HistoryError::NewerSchema { path: path.display().to_string(), found: v, supported: VERSION }),
        Some(_) => {
            // Version 1 is the first: nothing to upgrade yet. A later version adds its steps
            // here, each in its own transaction, recording the version it reached.
            conn.execute_batch(SCHEMA_V1).map_err(sqlite(path))
        }
        None => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            conn.execute_batch(&format!("BEGIN; {SCHEMA_V1} INSERT INTO schema_version (version, applied_at) VALUES ({VERSION}, {now}); INSERT OR IGNORE INTO meta (key, value) VALUES ('next_id', 1); COMMIT;"))
                .map_err(sqlite(path))
        }
    }
}

/// Record that the file now has schema `version` (what an upgrade step does last; tests use
/// it to make a file look newer than this build).
pub fn record_version(path: &Path, version: i64) -> Result<(), HistoryError> {
    let conn = Connection::open(path).map_err(sqlite(path))?;
    conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?1, 0)", [version]).map_err(sqlite(path))?;
    Ok(())
}
