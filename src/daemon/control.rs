//! The control plane of one server: the single writer (`Publisher`), the health engine and
//! the live override set behind one async lock, with the override store and the event log
//! beside them. Everything that changes what DNS answers goes through here: engine ticks,
//! overrides added, removed or expired, reloads. The DNS path never takes this lock.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::history_feed::HistoryFeed;
use crate::history::{FreezePhase, FreezeRecord};
use crate::admin::ops::{DiagnosticJson, EventStatus, EventsStatus, ListedOverride, OpError, Operations, ReloadOutcome};
use crate::clock::Clock;
use crate::config::Config;
use crate::dns::Served;
use crate::event::EventSet;
use crate::geo::GeoDb;
use crate::health::engine::TickReport;
use crate::health::events::{DecisionEvent, EventLog};
use crate::health::signal::SignalStore;
use crate::health::{Engine, Observation};
use crate::metrics::{PROCESS, ReloadResult, SteeringCounters};
use crate::overrides::store::{AuditEntry, OverrideStore};
use crate::overrides::{Override, OverrideRequest, OverrideSet};
use crate::probe::{self, ProbeStats};
use crate::publish::Publisher;
use crate::steer;
use crate::timestamp::Millis;
use crate::zone::{self, ZoneSet};

/// Probe fetches in flight at once, across all probes.
const PROBE_CONCURRENCY: usize = 32;

/// What the lock guards: the three things a plan is made from, and the writer.
pub(super) struct ControlState {
    pub publisher: Publisher,
    pub engine: Engine,
    pub overrides: OverrideSet,
    /// Size and modification time of the GeoIP file last loaded.
    pub geo_seen: Option<(u64, SystemTime)>,
    /// The events in force (their freezes decide whether a reload may apply).
    pub events: EventSet,
    /// A reload held back by a freeze, applied when the window ends (or when forced).
    pub pending: Option<Pending>,
}

/// A change waiting for a freeze to end.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pending {
    /// The event whose freeze holds it.
    pub event: String,
    /// The frozen names it would change.
    pub names: Vec<String>,
    /// When the freeze ends (RFC 3339 in JSON).
    #[serde(with = "crate::timestamp::as_rfc3339")]
    pub until: Millis,
    /// When it was first held back.
    #[serde(with = "crate::timestamp::as_rfc3339")]
    pub since: Millis,
    /// Who tried last (`file`, `SIGHUP`, a token's name).
    pub who: String,
}

/// The control plane.
pub struct Control {
    pub(super) config: Config,
    pub(super) clock: Clock,
    pub(super) state: Mutex<ControlState>,
    pub(super) events: Arc<EventLog>,
    pub(super) store: OverrideStore,
    pub(super) probe_tx: tokio::sync::mpsc::Sender<Observation>,
    pub(super) probes_stop: Mutex<CancellationToken>,
    pub(super) stop: CancellationToken,
    /// Held for a whole reload, from reading the files to the swap. Triggers may fire
    /// together (an edit seen by the watcher while an operator posts a reload); without this
    /// an older read could be published after a newer one and answers would go backwards.
    pub(super) reload_gate: Mutex<()>,
    /// Decision events, fail-opens and state changes, for `/metrics`.
    pub(super) steering: SteeringCounters,
    /// Probe durations and failures, for `/metrics`.
    pub(super) probe_stats: ProbeStats,
    /// Where plans, observations, events, reloads and override changes are recorded.
    pub(super) history: HistoryFeed,
}

/// Size and modification time of a file: a reload re-reads the GeoIP database only when
/// these change (it is large; zones are small and always re-read).
pub(super) fn file_identity(path: &std::path::Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Why a reload was refused.
pub enum ReloadError {
    /// Zone or event files have problems.
    Zones(crate::diag::LoadError),
    /// The GeoIP database is unusable.
    Geo(crate::geo::GeoError),
    /// A change freeze holds the change until its window ends (or a forced reload).
    Frozen(Pending),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::Zones(e) => write!(f, "zones not loaded:\n{e}"),
            ReloadError::Geo(e) => write!(f, "{e}"),
            ReloadError::Frozen(p) => write!(
                f,
                "change pending, frozen: event {} freezes {} until {}; the change waits (force it with POST /api/v1/reload {{\"force\": true, \"reason\": ...}})",
                p.event,
                p.names.join(", "),
                crate::timestamp::rfc3339(p.until)
            ),
        }
    }
}

impl Control {
    /// The snapshot being served.
    pub(super) async fn current(&self) -> Arc<Served> {
        self.state.lock().await.publisher.current()
    }

    /// Plan with what the engine knows and the overrides in force, and publish it.
    fn replan(st: &mut ControlState, now: Millis) -> u64 {
        let ControlState { publisher, engine, overrides, .. } = st;
        publisher.publish_plan(|zones, cells| steer::plan(zones, engine, overrides, now, cells))
    }

    /// One engine round (`steer::drive::round`: feed what arrived, drop expired overrides,
    /// tick the zones that are due, plan when anything changed), then what only a server
    /// does with it: persist and audit the expiries, publish, record, log.
    pub(super) async fn tick(&self, mut observations: Vec<Observation>) {
        let now = self.clock.now();
        let mut guard = self.state.lock().await;
        let zones = Arc::clone(&guard.publisher.current().zones);
        let st = &mut *guard;
        let round = steer::drive::round(&mut st.engine, &mut st.overrides, &zones, &mut observations, now, self.config.cells);
        if round.dropped > 0 {
            PROCESS.observations_dropped(round.dropped as u64);
        }
        self.history.observations(observations);
        self.record_expired(&guard.overrides, &round.expired, now).await;
        let Some(plan) = round.plan else { return };
        let st = &mut *guard;
        let generation = st.publisher.publish_plan(|_, _| plan);
        self.history.plan(&st.publisher.current(), now);
        drop(guard);
        for o in round.expired {
            self.push_event(override_event(&o, now, generation, format!("override {} expired: {}", o.id, o.describe())));
        }
        self.record_report(&zones, round.report, generation);
    }

    /// Count (the steering metrics), log and keep the decision events of an engine tick
    /// published as `generation`.
    fn record_report(&self, zones: &Arc<ZoneSet>, mut report: TickReport, generation: u64) {
        for event in &mut report.events {
            event.generation = generation;
        }
        self.steering.record(zones, &report);
        self.history.decisions(&report.events);
        for event in report.events {
            if event.fails_open {
                tracing::warn!(name = %event.name, region = %event.region, generation, reason = %event.reason, "all candidates down: answering with the last-resort CDN");
            } else {
                tracing::info!(name = %event.name, region = %event.region, generation, old = ?event.old, new = ?event.new, reason = %event.reason, "shares changed");
            }
            self.events.push(event);
        }
    }

    /// Record overrides that expired, durably and audited. If the state file cannot be
    /// written they stop applying anyway (an expiry is a promise), and the failure is logged.
    async fn record_expired(&self, set: &OverrideSet, expired: &[Override], now: Millis) {
        if expired.is_empty() {
            return;
        }
        let entries: Vec<AuditEntry> = expired
            .iter()
            .map(|o| AuditEntry { when: now, who: "system".into(), author: None, what: "override.expire".into(), before: json(o), after: serde_json::Value::Null })
            .collect();
        let (store, set) = (self.store.clone(), set.clone());
        let entries_for_history = entries.clone();
        let written = off_runtime(move || {
            store.save(&set).map_err(|e| e.to_string())?;
            entries.iter().try_for_each(|e| store.audit(e)).map_err(|e| e.to_string())
        })
        .await;
        if let Err(e) = written {
            tracing::error!(error = %e, "cannot record expired overrides; they no longer apply anyway");
        }
        for entry in &entries_for_history {
            self.history.audit(entry);
        }
        for o in expired {
            tracing::info!(id = %o.id, what = %o.describe(), "override expired");
        }
    }

    fn push_event(&self, event: DecisionEvent) {
        tracing::info!(name = %event.name, region = %event.region, generation = event.generation, reason = %event.reason, "override change");
        self.events.push(event);
    }

    /// Persist `next` and audit `entry`, all or nothing: if the audit line cannot be written
    /// the previous set is written back. The disk work runs off the async runtime (fsyncs
    /// must not stall the threads the listeners and the engine run on); the caller holds the
    /// control lock throughout, so changes are recorded in the order they apply.
    async fn commit(&self, previous: &OverrideSet, next: &OverrideSet, entry: &AuditEntry) -> Result<(), OpError> {
        let (store, previous, next, entry) = (self.store.clone(), previous.clone(), next.clone(), entry.clone());
        off_runtime(move || {
            store.save(&next).map_err(|e| format!("override not recorded, nothing changed: {e}"))?;
            if let Err(e) = store.audit(&entry) {
                if let Err(back) = store.save(&previous) {
                    tracing::error!(error = %back, "override state file holds a change the audit log lacks, and could not be restored; check it before the next restart");
                }
                return Err(format!("audit log not writable, nothing changed: {e}"));
            }
            Ok(())
        })
        .await
        .map_err(OpError::Storage)
    }

    /// Reload zones (and GeoIP if its file changed) as one transaction. Reloads run one at a
    /// time, each reading the files after the previous one published.
    pub(super) async fn reload_config(&self, who: &str, force: Option<&str>) -> Result<u64, ReloadError> {
        let _one_at_a_time = self.reload_gate.lock().await;
        let mut zones = load_zones(&self.config).await.map_err(ReloadError::Zones)?;
        let events = load_events(&self.config, &zones).await.map_err(ReloadError::Zones)?;
        events.attach(&mut zones);
        let identity = file_identity(&self.config.geoip);
        let seen = self.state.lock().await.geo_seen;
        let geo = if identity.is_none() || identity != seen { Some(load_geo(&self.config).await.map_err(ReloadError::Geo)?) } else { None };
        let probes: Vec<_> = zones.zones.iter().flat_map(|z| z.health.probes.iter().cloned()).collect();
        let zones = Arc::new(zones);
        let now = self.clock.now();
        let (generation, report) = {
            let mut st = self.state.lock().await;
            // A freeze in force holds any change to an answer of its names, GeoIP and the
            // events themselves included.
            let current = Arc::clone(&st.publisher.current().zones);
            if let Some(frozen) = st.events.blocks(&events, &current, &zones, geo.is_some(), now) {
                let since = st.pending.as_ref().map_or(now, |p| p.since);
                let pending = Pending { event: frozen.event, names: frozen.names, until: frozen.until, since, who: who.to_string() };
                if force.is_none() {
                    st.pending = Some(pending.clone());
                    drop(st);
                    PROCESS.set_change_pending(true);
                    self.audit_reload("reload.frozen", who, None, &pending, now).await;
                    self.record_freeze(&pending, FreezePhase::Pending, who, "reload held by the freeze", now);
                    return Err(ReloadError::Frozen(pending));
                }
                self.audit_reload("reload.forced", who, force, &pending, now).await;
                self.record_freeze(&pending, FreezePhase::Forced, who, force.unwrap_or_default(), now);
                tracing::warn!(event = %pending.event, who, reason = force.unwrap_or_default(), "reload forced through a change freeze");
            }
            let ControlState { publisher, engine, overrides, geo_seen, events: in_force, pending } = &mut *st;
            // Tick the engine on the new zones first, due or not: it keeps what it knows of
            // names and regions that stay, drops the rest and follows changed weights and
            // candidates; then plan and publish in one swap.
            let report = engine.tick_now(&zones, overrides, now);
            let generation = publisher.publish_reload(Arc::clone(&zones), geo, |z, cells| steer::plan(z, engine, overrides, now, cells));
            self.history.plan(&publisher.current(), now);
            *geo_seen = identity;
            *in_force = events;
            *pending = None;
            (generation, report)
        };
        PROCESS.set_change_pending(false);
        self.record_report(&zones, report, generation);
        self.restart_probes(probes).await;
        Ok(generation)
    }

    /// An audit line for a reload a freeze held or that was forced through one.
    async fn audit_reload(&self, what: &str, who: &str, reason: Option<&str>, pending: &Pending, now: Millis) {
        let mut after = serde_json::to_value(pending).unwrap_or(serde_json::Value::Null);
        if let (Some(reason), Some(map)) = (reason, after.as_object_mut()) {
            map.insert("reason".into(), serde_json::Value::String(reason.to_string()));
        }
        let entry = AuditEntry { when: now, who: who.to_string(), author: None, what: what.to_string(), before: serde_json::Value::Null, after };
        let store = self.store.clone();
        if let Err(e) = off_runtime(move || store.audit(&entry).map_err(|e| e.to_string())).await {
            tracing::error!(error = %e, "cannot append to the audit log");
        }
    }

    /// When a freeze that held a change has ended, apply the change (re-read and checked
    /// again, as any reload). Called by the engine task.
    pub(super) async fn apply_pending_after_freeze(&self) {
        let now = self.clock.now();
        let due = self.state.lock().await.pending.as_ref().is_some_and(|p| p.until <= now);
        if !due {
            return;
        }
        tracing::info!("change freeze ended: applying the pending change");
        let pending = self.state.lock().await.pending.clone();
        match self.reload_logged("freeze-end", None).await {
            Ok(_) => {
                if let Some(p) = pending {
                    self.record_freeze(&p, FreezePhase::Applied, "freeze-end", "window ended", self.clock.now());
                }
            }
            // Another freeze holds it now: it waits again, until that one ends.
            Err((_, ReloadError::Frozen(_))) => {}
            // The held change no longer loads. Retrying every tick would re-read the files,
            // log and record a failed reload each second; drop it instead (the failure is
            // recorded once) and let the next edit or reload try again.
            Err((_, e)) => {
                let mut st = self.state.lock().await;
                if st.pending.as_ref().is_some_and(|p| p.until <= now) {
                    st.pending = None;
                    drop(st);
                    PROCESS.set_change_pending(false);
                    let event = pending.map(|p| p.event).unwrap_or_default();
                    tracing::warn!(event = %event, error = %e, "the change held by the freeze no longer loads and was dropped; the previous configuration keeps serving: fix the files and reload");
                }
            }
        }
    }

    /// A step of a change freeze, for the history (the dashboard's log and the report).
    fn record_freeze(&self, pending: &Pending, phase: FreezePhase, who: &str, reason: &str, at: Millis) {
        self.history.freeze(FreezeRecord { at, event: pending.event.clone(), phase, who: who.to_string(), reason: reason.to_string() });
    }

    /// Stop the current probes and start `probes`.
    pub(super) async fn restart_probes(&self, probes: Vec<crate::zone::health::Probe>) {
        let mut current = self.probes_stop.lock().await;
        current.cancel();
        let stop = self.stop.child_token();
        *current = stop.clone();
        self.probe_stats.set_probes(&probes);
        if probes.is_empty() {
            return;
        }
        tracing::info!(probes = probes.len(), "starting probes");
        let mut set = JoinSet::new();
        probe::spawn_probes(probes, self.clock.clone(), self.probe_tx.clone(), self.probe_stats.clone(), PROBE_CONCURRENCY, stop, &mut set);
        tokio::spawn(async move { while set.join_next().await.is_some() {} });
    }

    /// Reload, with metrics and logs, whoever asked; `force` (a reason) applies a change a
    /// freeze would hold.
    pub(super) async fn reload_logged(&self, who: &str, force: Option<&str>) -> Result<u64, (u64, ReloadError)> {
        let started = Instant::now();
        let result = self.reload_config(who, force).await;
        let took_ms = started.elapsed().as_millis() as u64;
        let recorded = match &result {
            Ok(generation) => Ok(*generation),
            Err(e) => Err((self.current().await.generation, e.to_string())),
        };
        self.history.reload(self.clock.now(), who, took_ms, recorded);
        match result {
            Ok(generation) => {
                PROCESS.reload(ReloadResult::Ok);
                tracing::info!(generation, who, took_ms = started.elapsed().as_millis() as u64, "reload complete");
                Ok(generation)
            }
            Err(e) => {
                let serving = self.current().await.generation;
                if let ReloadError::Frozen(p) = &e {
                    PROCESS.reload(ReloadResult::Frozen);
                    tracing::warn!(generation = serving, who, event = %p.event, names = ?p.names, "change pending, frozen: the previous configuration keeps serving until the freeze ends");
                    return Err((serving, e));
                }
                PROCESS.reload(ReloadResult::Failed);
                for line in e.to_string().lines() {
                    tracing::error!("{line}");
                }
                tracing::error!(generation = serving, who, "reload failed; still serving the previous configuration");
                Err((serving, e))
            }
        }
    }
}

/// Run blocking disk work on tokio's blocking pool and wait for it.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(format!("disk task failed: {e}")),
    }
}

fn json(o: &Override) -> serde_json::Value {
    serde_json::to_value(o).unwrap_or(serde_json::Value::Null)
}

/// A decision event for an override change (scope `*` for every name or region).
fn override_event(o: &Override, now: Millis, generation: u64, reason: String) -> DecisionEvent {
    DecisionEvent {
        at: now,
        generation,
        name: o.name.clone().unwrap_or_else(|| "*".to_string()),
        region: o.region.as_ref().map_or_else(|| "*".to_string(), ToString::to_string),
        old: Vec::new(),
        new: Vec::new(),
        reason,
        overrides: vec![o.id.clone()],
        fails_open: false,
    }
}

pub(super) async fn load_zones(config: &Config) -> Result<ZoneSet, crate::diag::LoadError> {
    let dir = config.zones.clone();
    match tokio::task::spawn_blocking(move || zone::load_dir(&dir)).await {
        Ok(result) => result,
        Err(e) => {
            let mut d = crate::diag::Diagnostics::new();
            d.push(&config.zones, crate::diag::Pos::default(), "", crate::diag::Code::Io, format!("zone loader failed: {e}"));
            Err(crate::diag::LoadError { diagnostics: d.into_items(), files: 0 })
        }
    }
}

pub(super) async fn load_events(config: &Config, zones: &ZoneSet) -> Result<EventSet, crate::diag::LoadError> {
    let (dir, zones) = (config.events.clone(), zones.clone());
    match tokio::task::spawn_blocking(move || crate::event::load_dir(&dir, &zones)).await {
        Ok(result) => result,
        Err(e) => {
            let mut d = crate::diag::Diagnostics::new();
            d.push(&config.events, crate::diag::Pos::default(), "", crate::diag::Code::Io, format!("event loader failed: {e}"));
            Err(crate::diag::LoadError { diagnostics: d.into_items(), files: 0 })
        }
    }
}

pub(super) async fn load_geo(config: &Config) -> Result<GeoDb, crate::geo::GeoError> {
    let path = config.geoip.clone();
    match tokio::task::spawn_blocking(move || GeoDb::open(&path)).await {
        Ok(result) => result,
        Err(e) => Err(crate::geo::GeoError::Io { path: config.geoip.clone(), source: std::io::Error::other(e.to_string()) }),
    }
}

#[async_trait::async_trait]
impl Operations for Control {
    async fn overrides(&self) -> Vec<ListedOverride> {
        let now = self.clock.now();
        let st = self.state.lock().await;
        let zones = Arc::clone(&st.publisher.current().zones);
        let dormant = st.overrides.dormant(&zones, now);
        st.overrides
            .active(now)
            .map(|o| ListedOverride { item: o.clone(), dormant: dormant.contains(&o.id), expires_in_secs: o.expires_at.saturating_sub(now) / 1000 })
            .collect()
    }

    async fn add_override(&self, request: OverrideRequest, who: &str) -> Result<Override, OpError> {
        let now = self.clock.now();
        let candidate = request.into_override(who, now, self.config.override_max_expiry)?;
        let mut st = self.state.lock().await;
        let zones = Arc::clone(&st.publisher.current().zones);
        st.overrides.check_new(&candidate, &zones, now)?;
        let mut next = st.overrides.clone();
        let added = next.add(candidate);
        let entry = AuditEntry { when: now, who: who.to_string(), author: Some(added.author.clone()), what: "override.add".into(), before: serde_json::Value::Null, after: json(&added) };
        self.commit(&st.overrides, &next, &entry).await?;
        self.history.audit(&entry);
        st.overrides = next;
        // Takes effect now: tick every zone (drains act at once) and publish.
        let ControlState { engine, overrides, .. } = &mut *st;
        let report = engine.tick_now(&zones, overrides, now);
        let generation = Self::replan(&mut st, now);
        self.history.plan(&st.publisher.current(), now);
        drop(st);
        self.record_report(&zones, report, generation);
        let reason = format!("override {} added by {who} ({}): {}; {}", added.id, added.author, added.describe(), added.reason);
        self.push_event(override_event(&added, now, generation, reason));
        Ok(added)
    }

    async fn remove_override(&self, id: &str, who: &str) -> Result<Override, OpError> {
        let now = self.clock.now();
        let mut st = self.state.lock().await;
        let mut next = st.overrides.clone();
        let removed = next.remove(id)?;
        let entry = AuditEntry { when: now, who: who.to_string(), author: None, what: "override.remove".into(), before: json(&removed), after: serde_json::Value::Null };
        self.commit(&st.overrides, &next, &entry).await?;
        self.history.audit(&entry);
        st.overrides = next;
        let zones = Arc::clone(&st.publisher.current().zones);
        let ControlState { engine, overrides, .. } = &mut *st;
        let report = engine.tick_now(&zones, overrides, now);
        let generation = Self::replan(&mut st, now);
        self.history.plan(&st.publisher.current(), now);
        drop(st);
        self.record_report(&zones, report, generation);
        self.push_event(override_event(&removed, now, generation, format!("override {} removed by {who}: {}", removed.id, removed.describe())));
        Ok(removed)
    }

    async fn signals(&self) -> Arc<SignalStore> {
        self.state.lock().await.engine.shared_signals()
    }

    async fn events(&self) -> EventsStatus {
        let now = self.clock.now();
        let st = self.state.lock().await;
        let events = st
            .events
            .events
            .iter()
            .map(|e| {
                let (phase, clock) = if now < e.start { ("upcoming", e.start - now) } else if now < e.end { ("live", now - e.start) } else { ("over", now - e.end) };
                EventStatus {
                    name: e.name.clone(),
                    customer: e.customer.clone(),
                    start: crate::timestamp::rfc3339(e.start),
                    end: crate::timestamp::rfc3339(e.end),
                    names: e.names.clone(),
                    freeze: e.freeze,
                    phase,
                    clock_secs: clock / 1000,
                }
            })
            .collect();
        EventsStatus { events, pending: st.pending.as_ref().and_then(|p| serde_json::to_value(p).ok()) }
    }

    async fn reload(&self, who: &str, force: Option<String>) -> ReloadOutcome {
        let started = Instant::now();
        match self.reload_logged(who, force.as_deref()).await {
            Ok(generation) => ReloadOutcome::Applied { generation, took_ms: started.elapsed().as_millis() as u64 },
            Err((generation, ReloadError::Zones(e))) => ReloadOutcome::Refused { generation, diagnostics: e.diagnostics.iter().map(DiagnosticJson::from).collect(), error: None },
            Err((generation, ReloadError::Geo(e))) => ReloadOutcome::Refused { generation, diagnostics: Vec::new(), error: Some(e.to_string()) },
            Err((generation, ReloadError::Frozen(p))) => {
                let (event, names, until) = (p.event.clone(), p.names.clone(), crate::timestamp::rfc3339(p.until));
                ReloadOutcome::Frozen { generation, event, names, until, message: ReloadError::Frozen(p).to_string() }
            }
        }
    }
}
