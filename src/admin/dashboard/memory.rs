//! The in-memory dashboard source: a bounded ring of rows this process recorded
//! ([`Recorder`]), filled by a [`Sampler`] that reads what the server already has (the
//! served plan, the engine's signals, the DNS counters, the decision log, the event status)
//! and by the telemetry intake (viewer experience). It serves the dashboard when there is no
//! history database; its ids do not survive a restart (a browser that reconnects to a new
//! process is told to load its backfill again, never silently given a gap).
//!
//! Ids start at the process's start time in ms x 1000 and go up by one per row, so an id
//! handed out by an earlier process is below every id of this one and is recognised as gone.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::source::{
    After, AnswersRow, Backfill, BackfillQuery, CdnSeries, DashboardSource, EventKind, EventRow, MAX_BACKFILL_EVENTS, QoeRow, RegionAudience, Row, RowId, ShareRow,
    SignalRow, SourceError, SourceInfo,
};
use crate::admin::ops::EventsStatus;
use crate::dns::Served;
use crate::health::events::DecisionEvent;
use crate::health::signal::SignalStore;
use crate::qoe::QoeSample;
use crate::history::track::ShareTracker;
use crate::timestamp::Millis;

/// Rows kept at most (about 4 hours of the bundled zone under telemetry every 2 s).
pub const MAX_ROWS: usize = 250_000;
/// Rows older than this are dropped, ms (4 hours).
pub const MAX_AGE_MS: Millis = 4 * 3_600_000;
/// A viewer count is current for at most this long after its window ended (or 1.5 windows,
/// if longer), ms.
pub const VIEWERS_FRESH_MS: Millis = 15_000;
/// Audience is measured over this much recent time, ms.
pub const AUDIENCE_MS: Millis = 60_000;

struct Ring {
    rows: VecDeque<Row>,
    /// The id the next row gets.
    next: RowId,
    /// Ids at or below this were handed out before (by an earlier process, or dropped).
    floor: RowId,
}

/// The ring of recorded rows. Shared by the sampler, the telemetry intake and the readers.
pub struct Recorder {
    ring: Mutex<Ring>,
    since: Millis,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("since", &self.since).finish_non_exhaustive()
    }
}

impl Recorder {
    /// An empty ring for a process started at `now`.
    pub fn new(now: Millis) -> Recorder {
        let base = now.saturating_mul(1000);
        Recorder { ring: Mutex::new(Ring { rows: VecDeque::new(), next: base + 1, floor: base }), since: now }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Record rows made by `make` (each given its id), dropping the oldest beyond the limits.
    pub fn record<T>(&self, items: impl IntoIterator<Item = T>, mut make: impl FnMut(RowId, T) -> Row) {
        let mut ring = self.lock();
        for item in items {
            let id = ring.next;
            ring.next += 1;
            let row = make(id, item);
            ring.rows.push_back(row);
        }
        let newest = ring.rows.back().map_or(0, Row::at);
        while ring.rows.len() > MAX_ROWS || ring.rows.front().is_some_and(|r| r.at() + MAX_AGE_MS < newest) {
            if let Some(dropped) = ring.rows.pop_front() {
                ring.floor = dropped.id();
            }
        }
    }

    /// Viewer experience from the telemetry intake (windows with player fields only).
    pub fn qoe(&self, samples: &[QoeSample]) {
        self.record(samples.iter().filter(|s| s.has_player_fields()), |id, s| {
            Row::Qoe(QoeRow {
                id,
                at: s.at,
                cdn: s.cdn.clone(),
                region: s.region.to_string(),
                source: s.source.clone(),
                window_secs: s.window_secs,
                viewers: s.viewers,
                rebuffer_ratio: s.rebuffer_ratio,
                startup_p50_ms: s.startup_p50_ms,
                playback_failures: s.playback_failures,
            })
        });
    }

    /// Rows matching `keep`, oldest first (a copy: the lock is held only to clone them).
    fn rows_where(&self, keep: impl Fn(&Row) -> bool) -> Vec<Row> {
        self.lock().rows.iter().filter(|r| keep(r)).cloned().collect()
    }
}

impl DashboardSource for Recorder {
    fn info(&self) -> SourceInfo {
        let ring = self.lock();
        SourceInfo { kind: "memory", resumable_across_restart: false, since: ring.rows.front().map_or(self.since, Row::at), annotations: false }
    }

    fn last_id(&self) -> Result<RowId, SourceError> {
        Ok(self.lock().next - 1)
    }

    fn after(&self, id: RowId, limit: usize) -> Result<After, SourceError> {
        let ring = self.lock();
        if id < ring.floor || id >= ring.next {
            return Ok(After::Gone);
        }
        // Ids in the ring are contiguous: the first one is `floor + 1`.
        let skip = usize::try_from(id - ring.floor).unwrap_or(usize::MAX);
        Ok(After::Rows(ring.rows.iter().skip(skip).take(limit).cloned().collect()))
    }

    fn backfill(&self, q: &BackfillQuery) -> Result<Backfill, SourceError> {
        let last_id = self.lock().next - 1;
        let rows = self.rows_where(|r| match r {
            Row::Share(s) => s.name == q.name && s.region == q.focus && s.at < q.to,
            Row::Signal(s) => s.region == q.focus && s.at >= q.from && s.at < q.to,
            Row::Answers(a) => a.name == q.name && a.at + a.span_ms > q.from.min(q.to.saturating_sub(AUDIENCE_MS)) && a.at < q.to,
            Row::Qoe(s) => s.at < q.to && s.at + VIEWERS_FRESH_MS.max(window_ms(s)) >= q.from.min(q.to.saturating_sub(AUDIENCE_MS)),
            Row::Event(e) => e.at >= q.from && e.at < q.to && e.name.as_deref().is_none_or(|n| n == q.name || n == "*"),
        });
        Ok(aggregate(q, &rows, last_id, self.since))
    }
}

fn window_ms(s: &QoeRow) -> Millis {
    s.window_secs.unwrap_or(0).saturating_mul(1500)
}

/// Cut `rows` (oldest first; others than the query's name and focus region are left out) into
/// the query's buckets: the rules the page applies to the live
/// rows too (levels at the end of each bucket; request-weighted means; answers spread over
/// the buckets their interval covers; viewers summed over regions, rebuffering weighted by
/// viewers).
pub fn aggregate(q: &BackfillQuery, rows: &[Row], last_id: RowId, since: Millis) -> Backfill {
    let n = q.buckets();
    let mut series: Vec<CdnSeries> = q.cdns.iter().map(|c| CdnSeries::empty(c, n)).collect();
    let index: HashMap<&str, usize> = q.cdns.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let end_of = |i: usize| q.from + (i as Millis + 1) * q.step_ms;
    // Levels: share rows per CDN, then a sweep over the bucket ends.
    let mut shares: Vec<Vec<&ShareRow>> = vec![Vec::new(); q.cdns.len()];
    let mut qoe: Vec<HashMap<&str, Vec<&QoeRow>>> = vec![HashMap::new(); q.cdns.len()];
    let mut sums = vec![vec![Sums::default(); n]; q.cdns.len()];
    let mut events = Vec::new();
    let mut audience_answers: HashMap<&str, u64> = HashMap::new();
    let mut answers_until = 0;
    for row in rows {
        match row {
            Row::Share(s) if s.name == q.name && s.region == q.focus => {
                if let Some(&c) = index.get(s.cdn.as_str()) {
                    shares[c].push(s);
                }
            }
            Row::Signal(s) if s.region == q.focus => {
                if let (Some(&c), Some(b)) = (index.get(s.cdn.as_str()), q.bucket(s.at)) {
                    sums[c][b].add(s);
                }
            }
            Row::Answers(a) if a.name == q.name => {
                answers_until = answers_until.max(a.at + a.span_ms);
                if a.at >= q.to.saturating_sub(AUDIENCE_MS) {
                    *audience_answers.entry(a.region.as_str()).or_default() += a.answers;
                }
                if let Some(&c) = index.get(a.cdn.as_str()) {
                    spread(q, a, &mut series[c].answers);
                }
            }
            Row::Qoe(s) => {
                if let Some(&c) = index.get(s.cdn.as_str()) {
                    qoe[c].entry(s.region.as_str()).or_default().push(s);
                }
            }
            Row::Event(e) if e.at >= q.from && e.name.as_deref().is_none_or(|n| n == q.name || n == "*") => events.push(e.clone()),
            _ => {}
        }
    }
    for (((s, sums), shares), qoe) in series.iter_mut().zip(&sums).zip(&shares).zip(&qoe) {
        let mut k = 0;
        let mut level: Option<&ShareRow> = None;
        for i in 0..n {
            while let Some(row) = shares.get(k).filter(|r| r.at < end_of(i)) {
                level = Some(*row);
                k += 1;
            }
            if let Some(l) = level {
                s.share[i] = Some(l.share);
                s.score[i] = l.score;
                s.state[i] = Some(l.state);
            }
            sums[i].write(s, i);
            let (viewers, rebuffer) = viewers_at(qoe, end_of(i).min(q.to));
            s.viewers[i] = viewers;
            s.rebuffer_ratio[i] = rebuffer;
        }
    }
    // Audience per region, now: viewers over every CDN, answers per second.
    let mut regions: Vec<&str> = audience_answers.keys().copied().collect();
    for per_cdn in &qoe {
        regions.extend(per_cdn.keys().copied());
    }
    regions.sort_unstable();
    regions.dedup();
    let seconds = (q.to.saturating_sub(since.max(q.to.saturating_sub(AUDIENCE_MS))).max(1000)) as f64 / 1000.0;
    let audience = regions
        .into_iter()
        .map(|region| {
            let viewers: Vec<f64> = qoe.iter().filter_map(|per| per.get(region)).filter_map(|samples| latest(samples, q.to)).filter_map(|s| s.viewers).map(|v| v as f64).collect();
            RegionAudience {
                region: region.to_string(),
                viewers: (!viewers.is_empty()).then(|| viewers.iter().sum()),
                answers_per_sec: audience_answers.get(region).copied().unwrap_or(0) as f64 / seconds,
            }
        })
        .collect();
    let qoe_latest = qoe.iter().flat_map(|per| per.values()).filter_map(|samples| latest(samples, q.to)).cloned().collect();
    let skip = events.len().saturating_sub(MAX_BACKFILL_EVENTS);
    Backfill { from: q.from, to: q.to, step_ms: q.step_ms, focus: q.focus.clone(), last_id, series, audience, answers_until, qoe_latest, events: events.split_off(skip) }
}

/// Per bucket sums of signal rows.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    requests: u64,
    errors: u64,
    hit_requests: u64,
    hits: u64,
    ttfb: (f64, f64),
    throughput: (f64, f64),
}

impl Sums {
    fn add(&mut self, s: &SignalRow) {
        let n = s.requests.max(1);
        self.requests += n;
        self.errors += s.errors.min(n);
        if let Some(h) = s.cache_hits {
            self.hit_requests += n;
            self.hits += h.min(n);
        }
        if let Some(t) = s.ttfb_ms.filter(|t| t.is_finite()) {
            self.ttfb.0 += t * n as f64;
            self.ttfb.1 += n as f64;
        }
        if let Some(t) = s.throughput_mbps.filter(|t| t.is_finite()) {
            self.throughput.0 += t * n as f64;
            self.throughput.1 += n as f64;
        }
    }

    fn write(&self, s: &mut CdnSeries, i: usize) {
        let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        s.requests[i] = self.requests;
        s.error_rate[i] = ratio(self.errors as f64, self.requests as f64);
        s.cache_hit_ratio[i] = ratio(self.hits as f64, self.hit_requests as f64);
        s.ttfb_ms[i] = ratio(self.ttfb.0, self.ttfb.1);
        s.throughput_mbps[i] = ratio(self.throughput.0, self.throughput.1);
    }
}

/// Spread an interval's answers over the buckets it covers, in proportion to the overlap.
fn spread(q: &BackfillQuery, a: &AnswersRow, out: &mut [f64]) {
    let (start, end) = (a.at, a.at + a.span_ms.max(1));
    let span = (end - start) as f64;
    let first = start.max(q.from);
    let last = end.min(q.to);
    let mut t = first;
    while t < last {
        let Some(b) = q.bucket(t) else { break };
        let bucket_end = (q.from + (b as Millis + 1) * q.step_ms).min(last);
        if let Some(slot) = out.get_mut(b) {
            *slot += a.answers as f64 * (bucket_end - t) as f64 / span;
        }
        t = bucket_end;
    }
}

/// The newest sample at or before `t` that is still current at `t`.
fn latest<'a>(samples: &[&'a QoeRow], t: Millis) -> Option<&'a QoeRow> {
    let newest = samples.iter().rev().find(|s| s.at <= t)?;
    (t - newest.at <= VIEWERS_FRESH_MS.max(window_ms(newest))).then_some(*newest)
}

/// Viewers summed over regions, and rebuffering weighted by viewers, at `t`.
fn viewers_at(per_region: &HashMap<&str, Vec<&QoeRow>>, t: Millis) -> (Option<f64>, Option<f64>) {
    let (mut viewers, mut any_viewers, mut rebuffer, mut weight) = (0.0, false, 0.0, 0.0);
    for samples in per_region.values() {
        let Some(s) = latest(samples, t) else { continue };
        let w = s.viewers.map_or(1.0, |v| v as f64);
        if let Some(v) = s.viewers {
            viewers += v as f64;
            any_viewers = true;
        }
        if let Some(r) = s.rebuffer_ratio.filter(|r| r.is_finite()) {
            rebuffer += r * w;
            weight += w;
        }
    }
    (any_viewers.then_some(viewers), (weight > 0.0).then(|| rebuffer / weight))
}

/// Steered answers so far of one (name, region, CDN), as `DnsCounters::steered_totals` gives them.
pub type AnswerTotal = (crate::dns::counters::SeriesKey, u64);

/// Turns what the server has into rows, by comparing with what it saw last time. Driven by
/// the dashboard's hub task (never by the DNS path).
#[derive(Debug)]
pub struct Sampler {
    /// Which share series moved: the history's own change detection (the same deadbands and
    /// edges, so the dashboard shows the same rows either way), without keyframes.
    shares: ShareTracker,
    signals: HashMap<(String, String, String), (Millis, u64)>,
    answers: HashMap<(String, String, String), u64>,
    answers_since: Option<Millis>,
    events_seen: Option<u64>,
    zones: Option<(u64, usize)>,
    pending: Option<String>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new()
    }
}

impl Sampler {
    /// A sampler that has seen nothing.
    pub fn new() -> Sampler {
        Sampler {
            // Every series is written when first seen; after that only when it moves (the
            // ring needs no keyframes: it is read whole).
            shares: ShareTracker::new(Millis::MAX),
            signals: HashMap::new(),
            answers: HashMap::new(),
            answers_since: None,
            events_seen: None,
            zones: None,
            pending: None,
        }
    }

    /// Share rows for every series of the served plan that moved, and a reload event when the
    /// zones or the GeoIP database were replaced.
    pub fn plan(&mut self, snap: &Served, now: Millis, rec: &Recorder) {
        let identity = (snap.zones.id, std::sync::Arc::as_ptr(&snap.geo) as usize);
        if self.zones.is_some_and(|z| z != identity) {
            let text = format!("reload applied: generation {} serves the new configuration", snap.generation);
            rec.record([text], |id, text| Row::Event(EventRow { id, at: now, kind: EventKind::Reload, name: None, region: None, generation: Some(snap.generation), who: None, text, data: None }));
        }
        self.zones = Some(identity);
        let mut moved = Vec::new();
        self.shares.observe(now, &snap.zones, &snap.explain, &mut moved);
        rec.record(moved, |id, r| Row::Share(ShareRow { id, at: r.at, name: r.name.to_string(), region: r.region.to_string(), cdn: r.cdn.to_string(), share: r.share, score: r.score, state: r.state }));
    }

    /// A signal row for every vantage that measured something since the last call: the
    /// engine's values for it (smoothed, as scored) and the requests it covered.
    pub fn signals(&mut self, store: &SignalStore, rec: &Recorder) {
        let mut fresh = Vec::new();
        for (region, cdn, vantage, v) in store.iter() {
            let key = (region.to_string(), cdn.to_string(), vantage.to_string());
            let seen = self.signals.get(&key).copied();
            if seen.is_some_and(|(last, samples)| last == v.last && samples == v.samples) {
                continue;
            }
            let requests = v.samples.saturating_sub(seen.map_or(0, |s| s.1)).max(1);
            self.signals.insert(key.clone(), (v.last, v.samples));
            let values = v.values();
            let round = |x: Option<f64>| x.map(|r| (r * requests as f64).round() as u64);
            fresh.push(SignalRow {
                id: 0,
                at: v.last,
                cdn: key.1,
                region: key.0,
                vantage: key.2,
                requests,
                errors: round(values.error_rate).unwrap_or(0).min(requests),
                cache_hits: round(values.cache_hit_ratio).map(|h| h.min(requests)),
                ttfb_ms: values.ttfb_ms,
                throughput_mbps: values.throughput_mbps,
                failure: v.last_failure.map(|f| f.as_str()),
            });
        }
        rec.record(fresh, |id, s| Row::Signal(SignalRow { id, ..s }));
    }

    /// Answers rows from the DNS counters' totals (per name, region, CDN) since the last call.
    pub fn answers(&mut self, totals: Vec<AnswerTotal>, now: Millis, rec: &Recorder) {
        let since = self.answers_since.replace(now);
        let mut rows = Vec::new();
        for ((name, region, cdn), total) in totals {
            let key = (name.to_string(), region.to_string(), cdn.to_string());
            let before = self.answers.insert(key.clone(), total).unwrap_or(0);
            // The first call only learns the totals: what came before is in no interval.
            if let Some(since) = since.filter(|_| total > before) {
                rows.push((key, since, total - before));
            }
        }
        rec.record(rows, |id, ((name, region, cdn), since, answers)| Row::Answers(AnswersRow { id, at: since, span_ms: now.saturating_sub(since).max(1), name, region, cdn, answers }));
    }

    /// Decision and override events logged since the last call: `events` and the position
    /// `next` after them, from `EventLog::after(self.decisions_seen())`.
    pub fn decisions(&mut self, next: u64, events: Vec<DecisionEvent>, rec: &Recorder) {
        self.events_seen = Some(next);
        rec.record(events, |id, e| Row::Event(decision_row(id, e)));
    }

    /// Where the decision log was read up to.
    pub fn decisions_seen(&self) -> Option<u64> {
        self.events_seen
    }

    /// A freeze event when a change starts or stops being held back.
    pub fn freeze(&mut self, status: &EventsStatus, now: Millis, rec: &Recorder) {
        let pending = status.pending.as_ref().map(|p| {
            let field = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
            (field("event"), field("who"), field("until"))
        });
        let key = pending.as_ref().map(|p| p.0.clone());
        if key == self.pending {
            return;
        }
        let text = match (&pending, &self.pending) {
            (Some((event, who, until)), _) => format!("change pending, frozen by event {event} until {until}: the previous configuration keeps serving (tried by {who})"),
            (None, Some(event)) => format!("freeze of event {event} released: the held change was applied or withdrawn"),
            (None, None) => String::new(),
        };
        self.pending = key;
        let who = pending.map(|p| p.1);
        rec.record([text], |id, text| Row::Event(EventRow { id, at: now, kind: EventKind::Freeze, name: None, region: None, generation: None, who: who.clone(), text, data: None }));
    }
}

/// A decision event as a row: override changes (logged by the control plane as events with
/// no shares) are `override`, the rest `decision`.
fn decision_row(id: RowId, e: DecisionEvent) -> EventRow {
    let is_override = e.old.is_empty() && e.new.is_empty() && !e.overrides.is_empty();
    let data = serde_json::json!({"old": e.old, "new": e.new, "overrides": e.overrides, "fails_open": e.fails_open});
    EventRow {
        id,
        at: e.at,
        kind: if is_override { EventKind::Override } else { EventKind::Decision },
        name: Some(e.name),
        region: Some(e.region),
        generation: Some(e.generation),
        who: None,
        text: e.reason,
        data: Some(data),
    }
}

#[cfg(test)]
mod tests;
