//! Reading the history: [`HistoryReader`] on its own read-only connection. Every query reads
//! in chunks of at most [`CHUNK`] rows, each chunk one short read transaction (keyset
//! pagination on `(at, id)` or `id`), so a long report or backfill never pins a snapshot that
//! keeps the writer's checkpoints from shrinking the WAL.
//!
//! Results are the plain structs of `model` (re-exported here), with `Serialize` (times in Unix ms; names, regions and CDNs as
//! text), sorted by series then time, ready for JSON, charts and reports.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

pub use super::model::*;
use super::schema::{self, DictKind};
use super::store::{failure_of, state_of};
use super::{EventKind, HistoryError};
use crate::steer::CandidateState;
use crate::timestamp::Millis;

/// Rows read per chunk (one read transaction each).
pub const CHUNK: usize = 5_000;
/// Most items one `after` or `events_after` call returns.
pub const MAX_AFTER: usize = 10_000;
/// How far before `from` share queries look for each series' state at `from`: keyframes come
/// at least every 5 minutes (the `history.keyframe_interval` limit), so twice that finds one
/// even when one keyframe was lost.
pub const SHARE_LOOKBACK_MS: Millis = 10 * 60_000;

/// Dictionary both ways, refreshed when an unknown id or text turns up.
#[derive(Debug, Default)]
struct Dict {
    by_id: HashMap<i64, Arc<str>>,
    by_text: [HashMap<Arc<str>, i64>; DictKind::ALL.len()],
    max_id: i64,
}

/// A read-only view of the history database. Not `Sync` (one SQLite connection): open one
/// per thread or per request; opening is cheap.
pub struct HistoryReader {
    conn: Connection,
    path: PathBuf,
    dict: RefCell<Dict>,
}

impl std::fmt::Debug for HistoryReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryReader").field("path", &self.path).finish_non_exhaustive()
    }
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn scaled(v: Option<i64>, scale: f64) -> Option<f64> {
    v.map(|x| x as f64 / scale)
}

fn at_of(v: i64) -> Millis {
    to_u64(v)
}

fn sql_ms(v: Millis) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The value at quantile `q` of `(value, weight)` pairs.
fn weighted_quantile(values: &mut [(f64, f64)], q: f64) -> Option<f64> {
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|v| v.1).sum();
    if values.is_empty() || total <= 0.0 {
        return None;
    }
    let target = q * total;
    let mut seen = 0.0;
    for (v, w) in values.iter() {
        seen += w;
        if seen >= target {
            return Some(*v);
        }
    }
    values.last().map(|v| v.0)
}

impl HistoryReader {
    /// Open the database at `path` read-only.
    pub fn open(path: &Path) -> Result<HistoryReader, HistoryError> {
        let conn = schema::open_reader(path)?;
        let reader = HistoryReader { conn, path: path.to_path_buf(), dict: RefCell::new(Dict::default()) };
        reader.refresh_dict()?;
        Ok(reader)
    }

    /// Open `STATE_DIR/history.sqlite`.
    pub fn open_in(state_dir: &Path) -> Result<HistoryReader, HistoryError> {
        HistoryReader::open(&state_dir.join(super::DB_FILE))
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
        move |source| HistoryError::Sqlite { path: self.path.display().to_string(), source }
    }

    fn refresh_dict(&self) -> Result<(), HistoryError> {
        let mut dict = self.dict.borrow_mut();
        let mut stmt = self.conn.prepare_cached("SELECT id, kind, text FROM dict WHERE id > ?1 ORDER BY id").map_err(self.err())?;
        let rows = stmt.query_map([dict.max_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))).map_err(self.err())?;
        for row in rows {
            let (id, kind, text) = row.map_err(self.err())?;
            let text: Arc<str> = Arc::from(text);
            dict.by_id.insert(id, Arc::clone(&text));
            if let Some(map) = usize::try_from(kind).ok().and_then(|k| dict.by_text.get_mut(k)) {
                map.insert(text, id);
            }
            dict.max_id = dict.max_id.max(id);
        }
        Ok(())
    }

    /// The text of a dictionary id.
    fn text(&self, id: i64) -> Result<Arc<str>, HistoryError> {
        if let Some(t) = self.dict.borrow().by_id.get(&id) {
            return Ok(Arc::clone(t));
        }
        self.refresh_dict()?;
        Ok(self.dict.borrow().by_id.get(&id).cloned().unwrap_or_else(|| Arc::from(format!("#{id}"))))
    }

    fn text_opt(&self, id: Option<i64>) -> Result<Option<String>, HistoryError> {
        id.map(|i| self.text(i).map(|t| t.to_string())).transpose()
    }

    /// The id of `text`, if the dictionary has it (`Ok(None)`: nothing was ever recorded
    /// under that text).
    fn id_of(&self, kind: DictKind, text: &str) -> Result<Option<i64>, HistoryError> {
        if let Some(id) = self.dict.borrow().by_text[kind as usize].get(text) {
            return Ok(Some(*id));
        }
        self.refresh_dict()?;
        Ok(self.dict.borrow().by_text[kind as usize].get(text).copied())
    }

    /// Filter texts as ids: `Err(())` when a filter names something never recorded (the
    /// result is then empty).
    fn filter_ids(&self, filter: &Filter) -> Result<Result<[Option<i64>; 3], ()>, HistoryError> {
        let mut out = [None; 3];
        for (i, (kind, text)) in [(DictKind::Name, &filter.name), (DictKind::Region, &filter.region), (DictKind::Cdn, &filter.cdn)].into_iter().enumerate() {
            if let Some(text) = text {
                match self.id_of(kind, text)? {
                    Some(id) => out[i] = Some(id),
                    None => return Ok(Err(())),
                }
            }
        }
        Ok(Ok(out))
    }

    /// Read `SELECT id, at, <cols> FROM <table> WHERE at in window AND <cond>` in chunks
    /// ordered by (at, id), each chunk its own read transaction; `each` gets every row and
    /// says whether to go on.
    fn scan(&self, table: &str, cols: &str, cond: &str, window: Window, binds: &[Option<i64>], mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<bool, HistoryError>) -> Result<(), HistoryError> {
        let sql = format!("SELECT id, at, {cols} FROM {table} WHERE at >= ?1 AND at < ?2 AND (at > ?1 OR id > ?3) {cond} ORDER BY at, id LIMIT {CHUNK}");
        let (mut last_at, mut last_id) = (sql_ms(window.from), i64::MIN);
        let to = sql_ms(window.to);
        loop {
            let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
            let mut params: Vec<&dyn rusqlite::ToSql> = vec![&last_at, &to, &last_id];
            for b in binds {
                params.push(b);
            }
            let mut rows = stmt.query(params.as_slice()).map_err(self.err())?;
            let mut n = 0;
            let (mut next_at, mut next_id) = (last_at, last_id);
            while let Some(row) = rows.next().map_err(self.err())? {
                next_id = row.get(0).map_err(self.err())?;
                next_at = row.get(1).map_err(self.err())?;
                if !each(row)? {
                    return Ok(());
                }
                n += 1;
            }
            drop(rows);
            if n < CHUNK {
                return Ok(());
            }
            (last_at, last_id) = (next_at, next_id);
        }
    }

    /// The id of the newest row written (0 when none).
    pub fn last_id(&self) -> Result<i64, HistoryError> {
        let next: Option<i64> = self.conn.query_row("SELECT value FROM meta WHERE key = 'next_id'", [], |r| r.get(0)).optional().map_err(self.err())?;
        Ok(next.map_or(0, |n| n - 1))
    }

    /// The oldest and newest times recorded in any table, if any.
    pub fn bounds(&self) -> Result<Option<Window>, HistoryError> {
        let (lo, hi): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT min(lo), max(hi) FROM (SELECT min(at) AS lo, max(at) AS hi FROM share UNION ALL SELECT min(at), max(at) FROM signal UNION ALL SELECT min(at), max(at) FROM answers UNION ALL SELECT min(at), max(at) FROM qoe UNION ALL SELECT min(at), max(at) FROM event)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?;
        Ok(lo.zip(hi).map(|(lo, hi)| Window { from: at_of(lo), to: at_of(hi) + 1 }))
    }

    /// Share rows per series over `window`: each series starts with its state at
    /// `window.from` (the newest row at most [`SHARE_LOOKBACK_MS`] before it, moved to
    /// `from`), then every row written inside the window.
    pub fn share_changes(&self, window: Window, filter: &Filter) -> Result<Vec<Series<SharePoint>>, HistoryError> {
        let Ok(ids) = self.filter_ids(filter)? else { return Ok(Vec::new()) };
        let binds = [ids[0], ids[1], ids[2]];
        let cond = "AND (?4 IS NULL OR name = ?4) AND (?5 IS NULL OR region = ?5) AND (?6 IS NULL OR cdn = ?6)";
        let cols = "name, region, cdn, share_ppm, score_tenths, state, keyframe";
        let mut series: BTreeMap<(i64, i64, i64), Vec<SharePoint>> = BTreeMap::new();
        let point = |r: &rusqlite::Row<'_>| -> rusqlite::Result<((i64, i64, i64), SharePoint)> {
            let key = (r.get(2)?, r.get(3)?, r.get(4)?);
            let p = SharePoint {
                id: r.get(0)?,
                at: at_of(r.get(1)?),
                share: r.get::<_, i64>(5)? as f64 / 1e6,
                score: scaled(r.get(6)?, 10.0),
                state: state_of(r.get(7)?).unwrap_or(CandidateState::Cold),
                keyframe: r.get(8)?,
            };
            Ok((key, p))
        };
        let before = Window { from: window.from.saturating_sub(SHARE_LOOKBACK_MS), to: window.from };
        self.scan("share", cols, cond, before, &binds, |r| {
            let (key, mut p) = point(r).map_err(self.err())?;
            p.at = window.from;
            series.insert(key, vec![p]);
            Ok(true)
        })?;
        self.scan("share", cols, cond, window, &binds, |r| {
            let (key, p) = point(r).map_err(self.err())?;
            let points = series.entry(key).or_default();
            // A row at `from` replaces the state carried in from before.
            if points.len() == 1 && points[0].at == p.at && p.at == window.from {
                points[0] = p;
            } else {
                points.push(p);
            }
            Ok(true)
        })?;
        series.into_iter().map(|((n, r, c), points)| Ok(Series { name: self.text(n)?.to_string(), region: self.text(r)?.to_string(), cdn: self.text(c)?.to_string(), points })).collect()
    }

    /// Every series' share, score and state at `at` (from the last row at most
    /// [`SHARE_LOOKBACK_MS`] before it): the state grid a dashboard draws on load.
    pub fn state_at(&self, at: Millis, filter: &Filter) -> Result<Vec<Series<SharePoint>>, HistoryError> {
        let mut series = self.share_changes(Window { from: at, to: at + 1 }, filter)?;
        for s in &mut series {
            s.points.truncate(1);
        }
        Ok(series)
    }

    /// Share, score and state per series and bucket.
    pub fn shares(&self, buckets: Buckets, filter: &Filter) -> Result<Vec<Series<ShareBucket>>, HistoryError> {
        let n = buckets.check()?;
        let changes = self.share_changes(buckets.window(), filter)?;
        Ok(changes.into_iter().map(|s| Series { points: bucketize(&s.points, &buckets, n), name: s.name, region: s.region, cdn: s.cdn }).collect())
    }

    /// Signal summaries per CDN x region x bucket (every vantage together); `filter.name` is
    /// not used (signals are per CDN and region, shared by the names).
    pub fn signals(&self, buckets: Buckets, filter: &Filter) -> Result<Vec<SignalBucket>, HistoryError> {
        buckets.check()?;
        let Ok(ids) = self.filter_ids(&Filter { name: None, ..filter.clone() })? else { return Ok(Vec::new()) };
        #[derive(Default)]
        struct Acc {
            samples: u64,
            vantages: Vec<i64>,
            requests: u64,
            errors: u64,
            cache_hits: u64,
            cache_requests: u64,
            ttfb: Vec<(f64, f64)>,
            ttfb_hi: Vec<(f64, f64)>,
            throughput: (f64, u64),
            failures: u64,
            reasons: [u64; 8],
        }
        let mut acc: BTreeMap<(i64, i64, Millis), Acc> = BTreeMap::new();
        let cols = "cdn, region, vantage, samples, requests, errors, cache_hits, ttfb_us, ttfb_hi_us, throughput_kbps, failure";
        let cond = "AND (?4 IS NULL OR region = ?4) AND (?5 IS NULL OR cdn = ?5)";
        self.scan("signal", cols, cond, buckets.window(), &[ids[1], ids[2]], |r| {
            let get = |i| -> rusqlite::Result<Option<i64>> { r.get(i) };
            let at: i64 = r.get(1).map_err(self.err())?;
            let (cdn, region, vantage): (i64, i64, i64) = (r.get(2).map_err(self.err())?, r.get(3).map_err(self.err())?, r.get(4).map_err(self.err())?);
            let a = acc.entry((cdn, region, buckets.bucket_of(at_of(at)))).or_default();
            let samples = to_u64(get(5).map_err(self.err())?.unwrap_or(1)).max(1);
            let requests = to_u64(get(6).map_err(self.err())?.unwrap_or(0));
            a.samples += samples;
            if !a.vantages.contains(&vantage) {
                a.vantages.push(vantage);
            }
            a.requests += requests;
            a.errors += to_u64(get(7).map_err(self.err())?.unwrap_or(0));
            if let Some(h) = get(8).map_err(self.err())? {
                a.cache_hits += to_u64(h);
                a.cache_requests += requests;
            }
            let ttfb = scaled(get(9).map_err(self.err())?, 1000.0);
            if let Some(t) = ttfb {
                a.ttfb.push((t, samples as f64));
            }
            if let Some(t) = scaled(get(10).map_err(self.err())?, 1000.0).or(ttfb) {
                a.ttfb_hi.push((t, samples as f64));
            }
            if let Some(t) = scaled(get(11).map_err(self.err())?, 1000.0) {
                a.throughput.0 += t * samples as f64;
                a.throughput.1 += samples;
            }
            if let Some(code) = get(12).map_err(self.err())? {
                a.failures += 1;
                if let Some(slot) = usize::try_from(code).ok().and_then(|c| a.reasons.get_mut(c)) {
                    *slot += 1;
                }
            }
            Ok(true)
        })?;
        let mut out = Vec::with_capacity(acc.len());
        for ((cdn, region, at), mut a) in acc {
            let failure = a.reasons.iter().enumerate().filter(|(_, n)| **n > 0).max_by_key(|(_, n)| **n).and_then(|(code, _)| failure_of(code as i64)).map(|f| f.as_str());
            out.push(SignalBucket {
                at,
                cdn: self.text(cdn)?.to_string(),
                region: self.text(region)?.to_string(),
                samples: a.samples,
                vantages: a.vantages.len() as u32,
                requests: a.requests,
                errors: a.errors,
                error_rate: (a.requests > 0).then(|| a.errors as f64 / a.requests as f64),
                cache_hit_ratio: (a.cache_requests > 0).then(|| a.cache_hits as f64 / a.cache_requests as f64),
                ttfb_p50_ms: weighted_quantile(&mut a.ttfb, 0.5),
                ttfb_p95_ms: weighted_quantile(&mut a.ttfb_hi, 0.95),
                throughput_mbps: (a.throughput.1 > 0).then(|| a.throughput.0 / a.throughput.1 as f64),
                failures: a.failures,
                failure,
            });
        }
        out.sort_by(|a, b| (&a.cdn, &a.region, a.at).cmp(&(&b.cdn, &b.region, b.at)));
        Ok(out)
    }

    /// Steered answers per bucket, grouped as asked. An interval counts in the bucket where
    /// it starts.
    pub fn answers(&self, buckets: Buckets, filter: &Filter, group: AnswerGroup) -> Result<Vec<AnswerBucket>, HistoryError> {
        buckets.check()?;
        let Ok(ids) = self.filter_ids(filter)? else { return Ok(Vec::new()) };
        let mut sums: BTreeMap<(Millis, Option<i64>, Option<i64>, i64), u64> = BTreeMap::new();
        let cond = "AND (?4 IS NULL OR name = ?4) AND (?5 IS NULL OR region = ?5) AND (?6 IS NULL OR cdn = ?6)";
        self.scan("answers", "name, region, cdn, answers", cond, buckets.window(), &ids, |r| {
            let at: i64 = r.get(1).map_err(self.err())?;
            let (name, region, cdn, n): (i64, i64, i64, i64) = (r.get(2).map_err(self.err())?, r.get(3).map_err(self.err())?, r.get(4).map_err(self.err())?, r.get(5).map_err(self.err())?);
            let key = match group {
                AnswerGroup::Cdn => (None, None),
                AnswerGroup::CdnRegion => (None, Some(region)),
                AnswerGroup::NameRegionCdn => (Some(name), Some(region)),
            };
            *sums.entry((buckets.bucket_of(at_of(at)), key.0, key.1, cdn)).or_default() += to_u64(n);
            Ok(true)
        })?;
        let mut out = Vec::with_capacity(sums.len());
        for ((at, name, region, cdn), answers) in sums {
            out.push(AnswerBucket { at, name: self.text_opt(name)?, region: self.text_opt(region)?, cdn: self.text(cdn)?.to_string(), answers });
        }
        out.sort_by(|a, b| (&a.name, &a.region, &a.cdn, a.at).cmp(&(&b.name, &b.region, &b.cdn, b.at)));
        Ok(out)
    }

    /// Viewer experience per CDN x region x bucket.
    pub fn qoe(&self, buckets: Buckets, filter: &Filter) -> Result<Vec<QoeBucket>, HistoryError> {
        buckets.check()?;
        let Ok(ids) = self.filter_ids(&Filter { name: None, ..filter.clone() })? else { return Ok(Vec::new()) };
        #[derive(Default)]
        struct PerSource {
            viewers: (f64, u64),
            delivered: (f64, u64),
        }
        #[derive(Default)]
        struct Acc {
            windows: u64,
            sources: BTreeMap<i64, PerSource>,
            startup_p50: (f64, f64),
            startup_p95: Vec<(f64, f64)>,
            rebuffer: (f64, f64),
            failures: u64,
            exits: u64,
            ttfb_p95: Vec<(f64, f64)>,
            ttfb_p99: Option<f64>,
        }
        let mut acc: BTreeMap<(i64, i64, Millis), Acc> = BTreeMap::new();
        let cols = "cdn, region, source, samples, viewers, startup_p50_ms, startup_p95_ms, rebuffer_ppm, playback_failures, exits_before_start, ttfb_p95_us, ttfb_p99_us, delivered_mbps";
        let cond = "AND (?4 IS NULL OR region = ?4) AND (?5 IS NULL OR cdn = ?5)";
        self.scan("qoe", cols, cond, buckets.window(), &[ids[1], ids[2]], |r| {
            let get = |i| -> Result<Option<i64>, HistoryError> { r.get(i).map_err(self.err()) };
            let at: i64 = r.get(1).map_err(self.err())?;
            let (cdn, region, source) = (get(2)?.unwrap_or(0), get(3)?.unwrap_or(0), get(4)?.unwrap_or(0));
            let a = acc.entry((cdn, region, buckets.bucket_of(at_of(at)))).or_default();
            a.windows += to_u64(get(5)?.unwrap_or(1)).max(1);
            let viewers = get(6)?.map(|v| v as f64);
            let weight = viewers.filter(|v| *v > 0.0).unwrap_or(1.0);
            let s = a.sources.entry(source).or_default();
            if let Some(v) = viewers {
                s.viewers.0 += v;
                s.viewers.1 += 1;
            }
            if let Some(d) = scaled(get(14)?, 1000.0) {
                s.delivered.0 += d;
                s.delivered.1 += 1;
            }
            if let Some(p) = get(7)? {
                a.startup_p50.0 += p as f64 * weight;
                a.startup_p50.1 += weight;
            }
            if let Some(p) = get(8)? {
                a.startup_p95.push((p as f64, 1.0));
            }
            if let Some(p) = scaled(get(9)?, 1e6) {
                a.rebuffer.0 += p * weight;
                a.rebuffer.1 += weight;
            }
            a.failures += to_u64(get(10)?.unwrap_or(0));
            a.exits += to_u64(get(11)?.unwrap_or(0));
            if let Some(t) = scaled(get(12)?, 1000.0) {
                a.ttfb_p95.push((t, 1.0));
            }
            if let Some(t) = scaled(get(13)?, 1000.0) {
                a.ttfb_p99 = Some(a.ttfb_p99.map_or(t, |m: f64| m.max(t)));
            }
            Ok(true)
        })?;
        let mut out = Vec::with_capacity(acc.len());
        for ((cdn, region, at), mut a) in acc {
            let sum = |f: fn(&PerSource) -> (f64, u64)| {
                let parts: Vec<f64> = a.sources.values().map(f).filter(|p| p.1 > 0).map(|p| p.0 / p.1 as f64).collect();
                (!parts.is_empty()).then(|| parts.iter().sum())
            };
            out.push(QoeBucket {
                at,
                cdn: self.text(cdn)?.to_string(),
                region: self.text(region)?.to_string(),
                windows: a.windows,
                viewers: sum(|s| s.viewers),
                startup_p50_ms: (a.startup_p50.1 > 0.0).then(|| a.startup_p50.0 / a.startup_p50.1),
                startup_p95_ms: weighted_quantile(&mut a.startup_p95, 0.95),
                rebuffer_ratio: (a.rebuffer.1 > 0.0).then(|| a.rebuffer.0 / a.rebuffer.1),
                playback_failures: a.failures,
                exits_before_start: a.exits,
                ttfb_p95_ms: weighted_quantile(&mut a.ttfb_p95, 0.95),
                ttfb_p99_ms: a.ttfb_p99,
                delivered_gbps: sum(|s| s.delivered),
            });
        }
        out.sort_by(|a, b| (&a.cdn, &a.region, a.at).cmp(&(&b.cdn, &b.region, b.at)));
        Ok(out)
    }

    fn event_of(&self, r: &rusqlite::Row<'_>) -> Result<HistoryEvent, HistoryError> {
        let e = self.err();
        let data: Option<String> = r.get(8).map_err(&e)?;
        Ok(HistoryEvent {
            id: r.get(0).map_err(&e)?,
            at: at_of(r.get(1).map_err(&e)?),
            kind: EventKind::from_code(r.get(2).map_err(&e)?).unwrap_or(EventKind::Decision),
            name: self.text_opt(r.get(3).map_err(&e)?)?,
            region: self.text_opt(r.get(4).map_err(&e)?)?,
            generation: r.get::<_, Option<i64>>(5).map_err(&e)?.map(to_u64),
            who: r.get(6).map_err(&e)?,
            text: r.get(7).map_err(&e)?,
            data: data.and_then(|d| serde_json::from_str(&d).ok()),
        })
    }

    /// Events in `window`, oldest first, of the given kinds (all when empty), at most
    /// `limit`.
    pub fn events(&self, window: Window, kinds: &[EventKind], limit: usize) -> Result<Vec<HistoryEvent>, HistoryError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        // The kinds as SQL (their codes are compile-time integers): SQLite skips the other
        // rows rather than handing each one over to be dropped here.
        let cond = if kinds.is_empty() { String::new() } else { format!("AND kind IN ({})", kinds.iter().map(|k| k.code().to_string()).collect::<Vec<_>>().join(", ")) };
        self.scan("event", "kind, name, region, generation, who, text, data", &cond, window, &[], |r| {
            out.push(self.event_of(r)?);
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    /// Events with an id above `after`, in id order, at most `limit` (and [`MAX_AFTER`]).
    pub fn events_after(&self, after: i64, limit: usize) -> Result<Vec<HistoryEvent>, HistoryError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, at, kind, name, region, generation, who, text, data FROM event WHERE id > ?1 ORDER BY id LIMIT ?2").map_err(self.err())?;
        let mut rows = stmt.query(params![after, limit.min(MAX_AFTER) as i64]).map_err(self.err())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(self.err())? {
            out.push(self.event_of(r)?);
        }
        Ok(out)
    }

    /// Every row of every table with an id above `after`, in id order, at most `limit` (and
    /// [`MAX_AFTER`]): the live stream's source, resumable by id across restarts.
    pub fn after(&self, after: i64, limit: usize) -> Result<Vec<HistoryItem>, HistoryError> {
        self.after_with(after, limit, || {})
    }

    /// [`HistoryReader::after`], calling `between` after each table is read (tests commit
    /// rows there to show that the tables are read from one snapshot).
    pub(super) fn after_with(&self, after: i64, limit: usize, mut between: impl FnMut()) -> Result<Vec<HistoryItem>, HistoryError> {
        let limit = limit.min(MAX_AFTER);
        // One read transaction: every table is read from the same snapshot. Read one by one,
        // a batch committed between two reads could show its later ids (say an event) without
        // its earlier ones (its shares), and the follower, moving past the highest id, would
        // never see those.
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        let mut out: Vec<HistoryItem> = Vec::new();
        self.shares_after(after, limit, &mut out)?;
        between();
        self.signals_after(after, limit, &mut out)?;
        between();
        self.answers_after(after, limit, &mut out)?;
        between();
        self.qoe_after(after, limit, &mut out)?;
        between();
        out.extend(self.events_after(after, limit)?.into_iter().map(HistoryItem::Event));
        tx.finish().map_err(self.err())?;
        out.sort_by_key(HistoryItem::id);
        out.truncate(limit);
        Ok(out)
    }

    fn shares_after(&self, after: i64, limit: usize, out: &mut Vec<HistoryItem>) -> Result<(), HistoryError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, at, name, region, cdn, share_ppm, score_tenths, state, keyframe FROM share WHERE id > ?1 ORDER BY id LIMIT ?2").map_err(self.err())?;
        let mut rows = stmt.query(params![after, limit as i64]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let e = self.err();
            out.push(HistoryItem::Share {
                name: self.text(r.get(2).map_err(&e)?)?.to_string(),
                region: self.text(r.get(3).map_err(&e)?)?.to_string(),
                cdn: self.text(r.get(4).map_err(&e)?)?.to_string(),
                point: SharePoint {
                    id: r.get(0).map_err(&e)?,
                    at: at_of(r.get(1).map_err(&e)?),
                    share: r.get::<_, i64>(5).map_err(&e)? as f64 / 1e6,
                    score: scaled(r.get(6).map_err(&e)?, 10.0),
                    state: state_of(r.get(7).map_err(&e)?).unwrap_or(CandidateState::Cold),
                    keyframe: r.get(8).map_err(&e)?,
                },
            });
        }
        Ok(())
    }

    fn signals_after(&self, after: i64, limit: usize, out: &mut Vec<HistoryItem>) -> Result<(), HistoryError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, at, zone, cdn, region, vantage, samples, requests, errors, cache_hits, ttfb_us, ttfb_hi_us, throughput_kbps, failure FROM signal WHERE id > ?1 ORDER BY id LIMIT ?2")
            .map_err(self.err())?;
        let mut rows = stmt.query(params![after, limit as i64]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            out.push(HistoryItem::Signal(self.signal_record(r)?));
        }
        Ok(())
    }

    fn answers_after(&self, after: i64, limit: usize, out: &mut Vec<HistoryItem>) -> Result<(), HistoryError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, at, span_ms, name, region, cdn, answers FROM answers WHERE id > ?1 ORDER BY id LIMIT ?2").map_err(self.err())?;
        let mut rows = stmt.query(params![after, limit as i64]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let e = self.err();
            out.push(HistoryItem::Answers(AnswerRecord {
                id: r.get(0).map_err(&e)?,
                at: at_of(r.get(1).map_err(&e)?),
                span_ms: to_u64(r.get(2).map_err(&e)?),
                name: self.text(r.get(3).map_err(&e)?)?.to_string(),
                region: self.text(r.get(4).map_err(&e)?)?.to_string(),
                cdn: self.text(r.get(5).map_err(&e)?)?.to_string(),
                answers: to_u64(r.get(6).map_err(&e)?),
            }));
        }
        Ok(())
    }

    fn qoe_after(&self, after: i64, limit: usize, out: &mut Vec<HistoryItem>) -> Result<(), HistoryError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, at, cdn, region, source, samples, window_secs, viewers, startup_p50_ms, startup_p95_ms, rebuffer_ppm, playback_failures, exits_before_start, ttfb_p50_us, ttfb_p95_us, ttfb_p99_us, requests, errors, delivered_mbps FROM qoe WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(self.err())?;
        let mut rows = stmt.query(params![after, limit as i64]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            out.push(HistoryItem::Qoe(self.qoe_record(r)?));
        }
        Ok(())
    }

    fn signal_record(&self, r: &rusqlite::Row<'_>) -> Result<SignalRecord, HistoryError> {
        let e = self.err();
        Ok(SignalRecord {
            id: r.get(0).map_err(&e)?,
            at: at_of(r.get(1).map_err(&e)?),
            zone: self.text_opt(r.get(2).map_err(&e)?)?,
            cdn: self.text(r.get(3).map_err(&e)?)?.to_string(),
            region: self.text(r.get(4).map_err(&e)?)?.to_string(),
            vantage: self.text(r.get(5).map_err(&e)?)?.to_string(),
            samples: to_u64(r.get(6).map_err(&e)?),
            requests: to_u64(r.get(7).map_err(&e)?),
            errors: to_u64(r.get(8).map_err(&e)?),
            cache_hits: r.get::<_, Option<i64>>(9).map_err(&e)?.map(to_u64),
            ttfb_ms: scaled(r.get(10).map_err(&e)?, 1000.0),
            ttfb_hi_ms: scaled(r.get(11).map_err(&e)?, 1000.0),
            throughput_mbps: scaled(r.get(12).map_err(&e)?, 1000.0),
            failure: r.get::<_, Option<i64>>(13).map_err(&e)?.and_then(failure_of).map(|f| f.as_str()),
        })
    }

    fn qoe_record(&self, r: &rusqlite::Row<'_>) -> Result<QoeRecord, HistoryError> {
        let e = self.err();
        let opt = |i| -> Result<Option<i64>, HistoryError> { r.get(i).map_err(&e) };
        Ok(QoeRecord {
            id: r.get(0).map_err(&e)?,
            at: at_of(r.get(1).map_err(&e)?),
            cdn: self.text(r.get(2).map_err(&e)?)?.to_string(),
            region: self.text(r.get(3).map_err(&e)?)?.to_string(),
            source: self.text(r.get(4).map_err(&e)?)?.to_string(),
            samples: to_u64(r.get(5).map_err(&e)?),
            window_secs: opt(6)?.map(to_u64),
            viewers: opt(7)?.map(to_u64),
            startup_p50_ms: scaled(opt(8)?, 1.0),
            startup_p95_ms: scaled(opt(9)?, 1.0),
            rebuffer_ratio: scaled(opt(10)?, 1e6),
            playback_failures: opt(11)?.map(to_u64),
            exits_before_start: opt(12)?.map(to_u64),
            ttfb_p50_ms: scaled(opt(13)?, 1000.0),
            ttfb_p95_ms: scaled(opt(14)?, 1000.0),
            ttfb_p99_ms: scaled(opt(15)?, 1000.0),
            requests: to_u64(r.get(16).map_err(&e)?),
            errors: to_u64(r.get(17).map_err(&e)?),
            delivered_gbps: scaled(opt(18)?, 1000.0),
        })
    }

    /// Raw QoE windows in `window` (every source), oldest first, at most `limit`.
    pub fn qoe_windows(&self, window: Window, limit: usize) -> Result<Vec<QoeRecord>, HistoryError> {
        let mut out = Vec::new();
        let cols = "cdn, region, source, samples, window_secs, viewers, startup_p50_ms, startup_p95_ms, rebuffer_ppm, playback_failures, exits_before_start, ttfb_p50_us, ttfb_p95_us, ttfb_p99_us, requests, errors, delivered_mbps";
        if limit == 0 {
            return Ok(out);
        }
        self.scan("qoe", cols, "", window, &[], |r| {
            out.push(self.qoe_record(r)?);
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    /// Raw observations in `window`, oldest first, at most `limit`.
    pub fn signal_rows(&self, window: Window, filter: &Filter, limit: usize) -> Result<Vec<SignalRecord>, HistoryError> {
        let Ok(ids) = self.filter_ids(&Filter { name: None, ..filter.clone() })? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let cols = "zone, cdn, region, vantage, samples, requests, errors, cache_hits, ttfb_us, ttfb_hi_us, throughput_kbps, failure";
        let cond = "AND (?4 IS NULL OR region = ?4) AND (?5 IS NULL OR cdn = ?5)";
        if limit == 0 {
            return Ok(out);
        }
        self.scan("signal", cols, cond, window, &[ids[1], ids[2]], |r| {
            out.push(self.signal_record(r)?);
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }
}

/// Share points (time order, the first at or before `from`) over buckets.
fn bucketize(points: &[SharePoint], b: &Buckets, n: u64) -> Vec<ShareBucket> {
    let min = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut current: Option<&SharePoint> = None;
    for k in 0..n {
        let start = b.from + k * b.step_ms;
        let end = (start + b.step_ms).min(b.to);
        while i < points.len() && points[i].at <= start {
            current = Some(&points[i]);
            i += 1;
        }
        let (mut t, mut weighted, mut known) = (start, 0.0, 0u64);
        let mut score_min = current.and_then(|c| c.score);
        while i < points.len() && points[i].at < end {
            if let Some(c) = current {
                let span = points[i].at - t;
                weighted += c.share * span as f64;
                known += span;
            }
            t = points[i].at;
            current = Some(&points[i]);
            score_min = min(score_min, points[i].score);
            i += 1;
        }
        let Some(c) = current else { continue };
        let span = end - t;
        weighted += c.share * span as f64;
        known += span;
        if known > 0 {
            out.push(ShareBucket { at: start, share_mean: weighted / known as f64, share_last: c.share, score_last: c.score, score_min, state_last: c.state });
        }
    }
    out
}
