//! The storage boundary: [`Storage`] writes rows, checkpoints and maintains (retention,
//! downsampling). [`SqliteStorage`] is the database; [`Faulty`] wraps any storage and fails or
//! slows it on demand ([`Faults`]), for tests of a full or failing disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::schema::{self, DATA_TABLES, DictKind};
use super::{EventKind, HistoryError, HistorySettings};
use crate::health::signal::{FailureReason, Observation};
use crate::qoe::QoeSample;
use crate::steer::CandidateState;
use crate::timestamp::Millis;

/// One row to write, before dictionary ids and fixed units.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// Share, score and state of one CDN in one region of one steered name.
    Share(ShareRow),
    /// One observation.
    Signal(SignalRow),
    /// Steered answers of one interval.
    Answers(AnswerRow),
    /// One telemetry window's viewer experience.
    Qoe(QoeSample),
    /// A decision, reload, override, freeze or annotation.
    Event(EventRow),
}

/// A share row.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareRow {
    /// When.
    pub at: Millis,
    /// Steered name.
    pub name: Arc<str>,
    /// Region key.
    pub region: Arc<str>,
    /// CDN.
    pub cdn: Arc<str>,
    /// Share of the region's answers, 0..1.
    pub share: f64,
    /// Smoothed score, when known.
    pub score: Option<f64>,
    /// The one-word state.
    pub state: CandidateState,
    /// Written because a keyframe was due, not because it changed.
    pub keyframe: bool,
}

/// An observation row.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRow {
    /// The zone whose steered names use the CDN, when exactly one does.
    pub zone: Option<Arc<str>>,
    /// The observation.
    pub observation: Observation,
}

/// An answers row.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRow {
    /// Start of the interval.
    pub at: Millis,
    /// Its length, ms.
    pub span_ms: Millis,
    /// Steered name (`_other` past `metrics.max_names`).
    pub name: Arc<str>,
    /// Region key.
    pub region: Arc<str>,
    /// CDN.
    pub cdn: Arc<str>,
    /// Answers given.
    pub answers: u64,
}

/// An event row.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// When.
    pub at: Millis,
    /// What kind.
    pub kind: EventKind,
    /// Steered name it concerns, if one.
    pub name: Option<String>,
    /// Region it concerns, if one.
    pub region: Option<String>,
    /// Snapshot generation, when known.
    pub generation: Option<u64>,
    /// Who (token name, `system`, `SIGHUP`, an annotation's author).
    pub who: Option<String>,
    /// The reason or the text, in words.
    pub text: String,
    /// Details by kind (JSON).
    pub data: Option<serde_json::Value>,
}

/// Why a write, checkpoint or maintenance step failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// SQLite (disk full, I/O error, read-only file system, locked).
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A fault injected by a test.
    #[error("injected fault: {0}")]
    Injected(String),
    /// The database could not be opened (yet).
    #[error("{0}")]
    Open(String),
}

/// What a maintenance round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Rows deleted for being older than the retention.
    pub deleted: u64,
    /// Rows merged by downsampling (before minus after).
    pub merged: u64,
    /// Work is left: call again soon.
    pub more: bool,
}

/// Where history rows go. One writer thread owns it.
pub trait Storage: Send {
    /// Write `rows` in one transaction, all or nothing; they get consecutive ids from the
    /// returned first id on.
    fn write(&mut self, rows: &[Row]) -> Result<i64, StorageError>;
    /// Checkpoint the WAL: PASSIVE (never waits) or TRUNCATE (when idle).
    fn checkpoint(&mut self, truncate: bool) -> Result<(), StorageError>;
    /// Delete what is past the retention and downsample what is past the full resolution,
    /// a bounded amount of it per call (`more` says whether to come back).
    fn maintain(&mut self, now: Millis, settings: &HistorySettings) -> Result<Maintenance, StorageError>;
    /// Bytes on disk (database and WAL), as far as known.
    fn size_bytes(&self) -> u64;
}

/// Rows deleted per statement by retention.
const DELETE_CHUNK: i64 = 20_000;
/// Statements of retention per maintenance call.
const DELETE_ROUNDS: usize = 10;
/// Time range downsampled per transaction, ms.
const DOWNSAMPLE_CHUNK_MS: Millis = 10 * 60_000;
/// Downsampling transactions per maintenance call.
const DOWNSAMPLE_ROUNDS: usize = 6;
/// Resolution of downsampled rows, ms.
pub const MINUTE_MS: Millis = 60_000;

/// The SQLite database.
pub struct SqliteStorage {
    conn: Connection,
    path: PathBuf,
    next_id: i64,
    /// text -> id per dictionary kind (the whole dictionary: it is small).
    dict: [HashMap<String, i64>; DictKind::ALL.len()],
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").field("path", &self.path).field("next_id", &self.next_id).finish_non_exhaustive()
    }
}

/// A value in fixed units: `v * scale`, rounded; `None` for NaN and infinities.
pub(crate) fn fixed(v: f64, scale: f64) -> Option<i64> {
    let x = (v * scale).round();
    x.is_finite().then(|| x.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Stored code of a failure reason (its position + 1; 0 is never stored).
pub(crate) fn failure_code(reason: FailureReason) -> i64 {
    FailureReason::ALL.iter().position(|r| *r == reason).map_or(0, |i| i as i64 + 1)
}

impl SqliteStorage {
    /// Open or create the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStorage, HistoryError> {
        let conn = schema::open_writer(path)?;
        let err = |source| HistoryError::Sqlite { path: path.display().to_string(), source };
        conn.execute_batch("PRAGMA temp_store=MEMORY;").map_err(err)?;
        let mut next_id: i64 = conn.query_row("SELECT value FROM meta WHERE key = 'next_id'", [], |r| r.get(0)).optional().map_err(err)?.unwrap_or(1);
        for table in DATA_TABLES {
            let max: Option<i64> = conn.query_row(&format!("SELECT max(id) FROM {table}"), [], |r| r.get(0)).map_err(err)?;
            next_id = next_id.max(max.unwrap_or(0) + 1);
        }
        let mut dict: [HashMap<String, i64>; DictKind::ALL.len()] = Default::default();
        {
            let mut stmt = conn.prepare("SELECT id, kind, text FROM dict").map_err(err)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))).map_err(err)?;
            for row in rows {
                let (id, kind, text) = row.map_err(err)?;
                if let Some(map) = usize::try_from(kind).ok().and_then(|k| dict.get_mut(k)) {
                    map.insert(text, id);
                }
            }
        }
        Ok(SqliteStorage { conn, path: path.to_path_buf(), next_id, dict })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The id the next row will get.
    pub fn next_id(&self) -> i64 {
        self.next_id
    }

    /// Bytes the database would take if compacted (pages in use x page size): what the data
    /// costs, without free pages left by deletions.
    pub fn used_bytes(&self) -> Result<u64, StorageError> {
        let (pages, free, size): (i64, i64, i64) = self.conn.query_row(
            "SELECT (SELECT page_count FROM pragma_page_count()), (SELECT freelist_count FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(((pages - free).max(0) * size) as u64)
    }

    /// Rows per data table (tests and figures).
    pub fn row_counts(&self) -> Result<Vec<(&'static str, u64)>, StorageError> {
        DATA_TABLES.iter().map(|t| Ok((*t, self.conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get::<_, i64>(0))? as u64))).collect()
    }

    fn downsample_range(tx: &rusqlite::Transaction<'_>, from: Millis, to: Millis) -> rusqlite::Result<u64> {
        let before: i64 = tx.query_row(
            "SELECT (SELECT count(*) FROM share WHERE at >= ?1 AND at < ?2) + (SELECT count(*) FROM signal WHERE at >= ?1 AND at < ?2) + (SELECT count(*) FROM answers WHERE at >= ?1 AND at < ?2) + (SELECT count(*) FROM qoe WHERE at >= ?1 AND at < ?2)",
            params![int(from), int(to)],
            |r| r.get(0),
        )?;
        // share: each series' last row of every minute.
        tx.execute(
            "DELETE FROM share WHERE at >= ?1 AND at < ?2 AND id NOT IN (SELECT max(id) FROM share WHERE at >= ?1 AND at < ?2 GROUP BY name, region, cdn, at / 60000)",
            params![int(from), int(to)],
        )?;
        // signal, answers, qoe: merged per series and minute, keeping the largest id.
        let merges = [
            (
                "signal",
                "SELECT max(id), (at / 60000) * 60000, zone, cdn, region, vantage, sum(samples), sum(requests), sum(errors), sum(cache_hits), \
                 CAST(round(avg(ttfb_us)) AS INTEGER), max(coalesce(ttfb_hi_us, ttfb_us)), CAST(round(avg(throughput_kbps)) AS INTEGER), max(failure) \
                 FROM signal WHERE at >= ?1 AND at < ?2 GROUP BY zone, cdn, region, vantage, at / 60000",
            ),
            ("answers", "SELECT max(id), (at / 60000) * 60000, 60000, name, region, cdn, sum(answers) FROM answers WHERE at >= ?1 AND at < ?2 GROUP BY name, region, cdn, at / 60000"),
            (
                "qoe",
                "SELECT max(id), (at / 60000) * 60000, cdn, region, source, sum(samples), max(window_secs), CAST(round(avg(viewers)) AS INTEGER), \
                 CAST(round(avg(startup_p50_ms)) AS INTEGER), max(startup_p95_ms), CAST(round(avg(rebuffer_ppm)) AS INTEGER), sum(playback_failures), sum(exits_before_start), \
                 CAST(round(avg(ttfb_p50_us)) AS INTEGER), max(ttfb_p95_us), max(ttfb_p99_us), sum(requests), sum(errors), CAST(round(avg(delivered_mbps)) AS INTEGER) \
                 FROM qoe WHERE at >= ?1 AND at < ?2 GROUP BY cdn, region, source, at / 60000",
            ),
        ];
        for (table, select) in merges {
            tx.execute_batch(&format!("CREATE TEMP TABLE IF NOT EXISTS ds_{table} AS SELECT * FROM main.{table} WHERE 0; DELETE FROM temp.ds_{table};"))?;
            tx.execute(&format!("INSERT INTO temp.ds_{table} {select}"), params![int(from), int(to)])?;
            tx.execute(&format!("DELETE FROM main.{table} WHERE at >= ?1 AND at < ?2"), params![int(from), int(to)])?;
            tx.execute(&format!("INSERT INTO main.{table} SELECT * FROM temp.ds_{table}"), [])?;
            tx.execute(&format!("DELETE FROM temp.ds_{table}"), [])?;
        }
        let after: i64 = tx.query_row(
            "SELECT (SELECT count(*) FROM share WHERE at >= ?1 AND at < ?2) + (SELECT count(*) FROM signal WHERE at >= ?1 AND at < ?2) + (SELECT count(*) FROM answers WHERE at >= ?1 AND at < ?2) + (SELECT count(*) FROM qoe WHERE at >= ?1 AND at < ?2)",
            params![int(from), int(to)],
            |r| r.get(0),
        )?;
        Ok((before - after).max(0) as u64)
    }

    /// Where downsampling stopped (`meta.downsampled_until`), initialised to the oldest row.
    fn downsampled_until(&self) -> rusqlite::Result<Option<Millis>> {
        if let Some(v) = self.conn.query_row("SELECT value FROM meta WHERE key = 'downsampled_until'", [], |r| r.get::<_, i64>(0)).optional()? {
            return Ok(Some(v.max(0) as Millis));
        }
        let oldest: Option<i64> = self.conn.query_row(
            "SELECT min(m) FROM (SELECT min(at) AS m FROM share UNION ALL SELECT min(at) FROM signal UNION ALL SELECT min(at) FROM answers UNION ALL SELECT min(at) FROM qoe)",
            [],
            |r| r.get(0),
        )?;
        Ok(oldest.map(|m| (m.max(0) as Millis) / MINUTE_MS * MINUTE_MS))
    }
}

/// The dictionary id of `text`, adding it (and remembering the addition, to forget it if the
/// transaction rolls back).
fn dict_id(conn: &Connection, dict: &mut [HashMap<String, i64>; DictKind::ALL.len()], added: &mut Vec<(DictKind, String)>, kind: DictKind, text: &str) -> rusqlite::Result<i64> {
    if let Some(id) = dict[kind as usize].get(text) {
        return Ok(*id);
    }
    conn.prepare_cached("INSERT OR IGNORE INTO dict (kind, text) VALUES (?1, ?2)")?.execute(params![kind as i64, text])?;
    let id: i64 = conn.prepare_cached("SELECT id FROM dict WHERE kind = ?1 AND text = ?2")?.query_row(params![kind as i64, text], |r| r.get(0))?;
    dict[kind as usize].insert(text.to_string(), id);
    added.push((kind, text.to_string()));
    Ok(id)
}

impl Storage for SqliteStorage {
    fn write(&mut self, rows: &[Row]) -> Result<i64, StorageError> {
        let first = self.next_id;
        let mut added = Vec::new();
        let result = (|| -> rusqlite::Result<i64> {
            let conn = &self.conn;
            let dict = &mut self.dict;
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let mut id = first;
            for row in rows {
                let mut d = |kind, text: &str| dict_id(&tx, dict, &mut added, kind, text);
                match row {
                    Row::Share(s) => {
                        let (name, region, cdn) = (d(DictKind::Name, &s.name)?, d(DictKind::Region, &s.region)?, d(DictKind::Cdn, &s.cdn)?);
                        tx.prepare_cached("INSERT INTO share (id, at, name, region, cdn, share_ppm, score_tenths, state, keyframe) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?.execute(params![
                            id,
                            int(s.at),
                            name,
                            region,
                            cdn,
                            fixed(s.share.clamp(0.0, 1.0), 1e6).unwrap_or(0),
                            s.score.and_then(|v| fixed(v, 10.0)),
                            s.state as i64,
                            s.keyframe
                        ])?;
                    }
                    Row::Signal(s) => {
                        let o = &s.observation;
                        let zone = match &s.zone {
                            Some(z) => Some(d(DictKind::Zone, z)?),
                            None => None,
                        };
                        let (cdn, region, vantage) = (d(DictKind::Cdn, &o.cdn)?, d(DictKind::Region, &o.region.to_string())?, d(DictKind::Vantage, &o.vantage)?);
                        tx.prepare_cached(
                            "INSERT INTO signal (id, at, zone, cdn, region, vantage, samples, requests, errors, cache_hits, ttfb_us, ttfb_hi_us, throughput_kbps, failure) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10, NULL, ?11, ?12)",
                        )?
                        .execute(params![
                            id,
                            int(o.at),
                            zone,
                            cdn,
                            region,
                            vantage,
                            int(o.requests),
                            int(o.errors),
                            o.cache_hits.map(int),
                            o.ttfb_ms.and_then(|v| fixed(v, 1000.0)),
                            o.throughput_mbps.and_then(|v| fixed(v, 1000.0)),
                            o.failure.map(failure_code)
                        ])?;
                    }
                    Row::Answers(a) => {
                        let (name, region, cdn) = (d(DictKind::Name, &a.name)?, d(DictKind::Region, &a.region)?, d(DictKind::Cdn, &a.cdn)?);
                        tx.prepare_cached("INSERT INTO answers (id, at, span_ms, name, region, cdn, answers) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                            .execute(params![id, int(a.at), int(a.span_ms), name, region, cdn, int(a.answers)])?;
                    }
                    Row::Qoe(q) => {
                        let (cdn, region, source) = (d(DictKind::Cdn, &q.cdn)?, d(DictKind::Region, &q.region.to_string())?, d(DictKind::Source, &q.source)?);
                        tx.prepare_cached(
                            "INSERT INTO qoe (id, at, cdn, region, source, samples, window_secs, viewers, startup_p50_ms, startup_p95_ms, rebuffer_ppm, playback_failures, exits_before_start, ttfb_p50_us, ttfb_p95_us, ttfb_p99_us, requests, errors, delivered_mbps) \
                             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                        )?
                        .execute(params![
                            id,
                            int(q.at),
                            cdn,
                            region,
                            source,
                            q.window_secs.map(int),
                            q.viewers.map(int),
                            q.startup_p50_ms.and_then(|v| fixed(v, 1.0)),
                            q.startup_p95_ms.and_then(|v| fixed(v, 1.0)),
                            q.rebuffer_ratio.and_then(|v| fixed(v, 1e6)),
                            q.playback_failures.map(int),
                            q.exits_before_start.map(int),
                            q.ttfb_p50_ms.and_then(|v| fixed(v, 1000.0)),
                            q.ttfb_p95_ms.and_then(|v| fixed(v, 1000.0)),
                            q.ttfb_p99_ms.and_then(|v| fixed(v, 1000.0)),
                            int(q.requests),
                            int(q.errors),
                            q.delivered_gbps.and_then(|v| fixed(v, 1000.0))
                        ])?;
                    }
                    Row::Event(e) => {
                        let name = match &e.name {
                            Some(n) => Some(d(DictKind::Name, n)?),
                            None => None,
                        };
                        let region = match &e.region {
                            Some(r) => Some(d(DictKind::Region, r)?),
                            None => None,
                        };
                        tx.prepare_cached("INSERT INTO event (id, at, kind, name, region, generation, who, text, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?.execute(params![
                            id,
                            int(e.at),
                            e.kind.code(),
                            name,
                            region,
                            e.generation.map(int),
                            e.who,
                            e.text,
                            e.data.as_ref().map(serde_json::Value::to_string)
                        ])?;
                    }
                }
                id += 1;
            }
            tx.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'next_id'")?.execute([id])?;
            tx.commit()?;
            Ok(id)
        })();
        match result {
            Ok(next) => {
                self.next_id = next;
                Ok(first)
            }
            Err(e) => {
                for (kind, text) in added {
                    self.dict[kind as usize].remove(&text);
                }
                Err(StorageError::Sqlite(e))
            }
        }
    }

    fn checkpoint(&mut self, truncate: bool) -> Result<(), StorageError> {
        let sql = if truncate { "PRAGMA wal_checkpoint(TRUNCATE)" } else { "PRAGMA wal_checkpoint(PASSIVE)" };
        // (busy, WAL frames, frames checkpointed): busy only means a reader was in the way.
        let _: (i64, i64, i64) = self.conn.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(())
    }

    fn maintain(&mut self, now: Millis, settings: &HistorySettings) -> Result<Maintenance, StorageError> {
        let mut out = Maintenance::default();
        let cutoff = now.saturating_sub(settings.retention_ms);
        'tables: for table in DATA_TABLES {
            for _ in 0..DELETE_ROUNDS {
                let n = self.conn.execute(&format!("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE at < ?1 LIMIT ?2)"), params![int(cutoff), DELETE_CHUNK])?;
                out.deleted += n as u64;
                if (n as i64) < DELETE_CHUNK {
                    continue 'tables;
                }
            }
            out.more = true;
        }
        let horizon = now.saturating_sub(settings.full_resolution_ms) / MINUTE_MS * MINUTE_MS;
        let Some(mut until) = self.downsampled_until()? else { return Ok(out) };
        // Nothing to merge before the retention cutoff: it is deleted anyway.
        until = until.max(cutoff / MINUTE_MS * MINUTE_MS);
        for _ in 0..DOWNSAMPLE_ROUNDS {
            if until >= horizon {
                break;
            }
            let to = (until + DOWNSAMPLE_CHUNK_MS).min(horizon);
            let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            out.merged += Self::downsample_range(&tx, until, to)?;
            tx.execute("INSERT INTO meta (key, value) VALUES ('downsampled_until', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [int(to)])?;
            tx.commit()?;
            until = to;
        }
        if until < horizon {
            out.more = true;
        } else if self.conn.query_row("SELECT value FROM meta WHERE key = 'downsampled_until'", [], |r| r.get::<_, i64>(0)).optional()?.is_none() {
            self.conn.execute("INSERT INTO meta (key, value) VALUES ('downsampled_until', ?1)", [int(until)])?;
        }
        Ok(out)
    }

    fn size_bytes(&self) -> u64 {
        let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        len(&self.path) + len(Path::new(&wal))
    }
}

/// The database at a path, opened on first use and again after opening failed: a server
/// that started while its disk was full or its state directory unwritable writes its
/// history once the fault clears, like any other write fault.
#[derive(Debug)]
pub struct Deferred {
    path: PathBuf,
    inner: Option<SqliteStorage>,
}

impl Deferred {
    /// The database at `path`, not opened yet.
    pub fn new(path: &Path) -> Deferred {
        Deferred { path: path.to_path_buf(), inner: None }
    }

    fn get(&mut self) -> Result<&mut SqliteStorage, StorageError> {
        if self.inner.is_none() {
            let opened = SqliteStorage::open(&self.path).map_err(|e| StorageError::Open(e.to_string()))?;
            tracing::info!(path = %self.path.display(), "history database open");
            self.inner = Some(opened);
        }
        self.inner.as_mut().ok_or_else(|| StorageError::Open("not open".to_string()))
    }
}

impl Storage for Deferred {
    fn write(&mut self, rows: &[Row]) -> Result<i64, StorageError> {
        self.get()?.write(rows)
    }

    fn checkpoint(&mut self, truncate: bool) -> Result<(), StorageError> {
        self.inner.as_mut().map_or(Ok(()), |s| s.checkpoint(truncate))
    }

    fn maintain(&mut self, now: Millis, settings: &HistorySettings) -> Result<Maintenance, StorageError> {
        self.inner.as_mut().map_or(Ok(Maintenance::default()), |s| s.maintain(now, settings))
    }

    fn size_bytes(&self) -> u64 {
        self.inner.as_ref().map_or(0, Storage::size_bytes)
    }
}

/// Faults to inject into a [`Faulty`] storage. Clones share the switches.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    fail: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl Faults {
    /// No faults.
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Fail every write, checkpoint and maintenance step (as a full disk would) while on.
    pub fn fail_writes(&self, on: bool) {
        self.fail.store(on, Ordering::SeqCst);
    }

    /// Make every write take this much longer (a slow disk).
    pub fn slow_writes(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Writes refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), StorageError> {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay));
        }
        if self.fail.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StorageError::Injected("database or disk is full".to_string()));
        }
        Ok(())
    }
}

/// A storage that fails or slows down when its [`Faults`] say so.
#[derive(Debug)]
pub struct Faulty<S> {
    inner: S,
    faults: Faults,
}

impl<S: Storage> Faulty<S> {
    /// Wrap `inner`.
    pub fn new(inner: S, faults: Faults) -> Faulty<S> {
        Faulty { inner, faults }
    }
}

impl<S: Storage> Storage for Faulty<S> {
    fn write(&mut self, rows: &[Row]) -> Result<i64, StorageError> {
        self.faults.check()?;
        self.inner.write(rows)
    }

    fn checkpoint(&mut self, truncate: bool) -> Result<(), StorageError> {
        self.faults.check()?;
        self.inner.checkpoint(truncate)
    }

    fn maintain(&mut self, now: Millis, settings: &HistorySettings) -> Result<Maintenance, StorageError> {
        self.faults.check()?;
        self.inner.maintain(now, settings)
    }

    fn size_bytes(&self) -> u64 {
        self.inner.size_bytes()
    }
}

impl Storage for Box<dyn Storage> {
    fn write(&mut self, rows: &[Row]) -> Result<i64, StorageError> {
        (**self).write(rows)
    }

    fn checkpoint(&mut self, truncate: bool) -> Result<(), StorageError> {
        (**self).checkpoint(truncate)
    }

    fn maintain(&mut self, now: Millis, settings: &HistorySettings) -> Result<Maintenance, StorageError> {
        (**self).maintain(now, settings)
    }

    fn size_bytes(&self) -> u64 {
        (**self).size_bytes()
    }
}

/// A state string for a stored state code.
pub(crate) fn state_of(code: i64) -> Option<CandidateState> {
    usize::try_from(code).ok().and_then(|i| CandidateState::ALL.get(i).copied())
}

/// A failure reason for a stored code.
pub(crate) fn failure_of(code: i64) -> Option<FailureReason> {
    usize::try_from(code - 1).ok().and_then(|i| FailureReason::ALL.get(i).copied())
}
