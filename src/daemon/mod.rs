//! `cdnsteer serve`: load and check everything (zones, GeoIP, the override state), publish
//! generation 1, bind, tell systemd we are ready, then serve until SIGTERM/SIGINT. Reloads
//! (SIGHUP, `POST /api/v1/reload`, a changed zone or GeoIP file seen by `watch`) are
//! transactions, one at a time: any problem keeps the old generation serving. The control plane (`control`) owns the writer, the engine and the overrides; the
//! engine task ticks it; the DNS listeners only read snapshots.

mod control;
mod history_feed;
mod token;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::admin::ops::Operations;
use crate::admin::{self, AdminState};
use crate::clock::Clock;
use crate::config::Config;
use crate::diag::LoadError;
use crate::dns::{DnsCounters, Handler, ServedReader, listener};
use crate::geo::GeoError;
use crate::health::events::EventLog;
use crate::health::{Engine, HealthView, Observation, RegionHealth};
use crate::metrics::SteeringCounters;
use crate::metrics::ticks::EngineTicks;
use crate::probe::ProbeStats;
use crate::overrides::store::{OverrideStore, StoreError};
use crate::publish::Publisher;
use crate::region::RegionKey;
use crate::steer;

pub use control::Control;

/// Probe results waiting for the engine; beyond this they are dropped (counted).
const PROBE_QUEUE: usize = 8192;
/// Telemetry observations waiting for the engine; pushes wait for room. A queue of its own,
/// so a burst of telemetry cannot crowd probe results out.
const TELEMETRY_QUEUE: usize = 16_384;
// A whole batch is reserved at once (all or nothing): it must fit the queue.
const _: () = assert!(crate::admin::telemetry::MAX_MEASUREMENTS <= TELEMETRY_QUEUE);
/// Decision events kept for the admin API.
const EVENT_LOG: usize = 2000;
/// The engine task wakes at least this often (override expiry, new observations).
const MAX_SLEEP: Duration = Duration::from_millis(1000);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Zone or event files have problems.
    #[error("zones not loaded:\n{0}")]
    Zones(LoadError),
    /// The GeoIP database is unusable.
    #[error(transparent)]
    Geo(GeoError),
    /// The override state file cannot be used.
    #[error("override state not loaded: {0}")]
    State(StoreError),
    /// The admin token file could not be created.
    #[error("{0}")]
    Token(String),
    /// A listener could not be bound.
    #[error("cannot listen: {0}")]
    Bind(std::io::Error),
    /// The history database cannot be used (written by a newer cdnsteer).
    #[error("{0}")]
    History(crate::history::HistoryError),
}

/// What `start_with` may be given besides the configuration.
#[derive(Default)]
pub struct StartOptions {
    /// Write the history here instead of `STATE_DIR/history.sqlite` (tests inject faults
    /// with `history::store::Faulty`); readers still open the file in the state directory.
    pub history_storage: Option<Box<dyn crate::history::Storage>>,
}

/// A running server: its bound addresses, a read handle, and the stop switch.
pub struct Running {
    /// UDP addresses bound.
    pub udp: Vec<SocketAddr>,
    /// TCP addresses bound.
    pub tcp: Vec<SocketAddr>,
    /// Admin API address, if enabled.
    pub admin: Option<SocketAddr>,
    /// Snapshot reader.
    pub reader: ServedReader,
    /// Decision events.
    pub events: Arc<EventLog>,
    /// Cancel to stop.
    pub stop: CancellationToken,
    /// The control plane (overrides, reload).
    pub control: Arc<Control>,
    tasks: JoinSet<()>,
    dns: listener::DnsThreads,
    telemetry: mpsc::Sender<Observation>,
}

impl Running {
    /// Reload zones and GeoIP from the configured paths; the old generation keeps serving if
    /// anything is wrong. Returns the new generation.
    pub async fn reload(&self) -> Result<u64, String> {
        self.control.reload_logged("signal", None).await.map_err(|(_, e)| e.to_string())
    }

    /// Feed an observation to the engine as telemetry does.
    pub async fn observe(&self, o: Observation) {
        let _ = self.telemetry.send(o).await;
    }

    /// What the engine knows about one region of a steered name (tests).
    pub async fn engine_region(&self, name: &str, region: &RegionKey) -> Option<RegionHealth> {
        self.control.state.lock().await.engine.region(name, region).cloned()
    }

    /// The history handle (tests: flush, counters, the database path).
    pub fn history(&self) -> crate::history::HistoryHandle {
        self.control.history.handle()
    }

    /// Stop serving and wait for the listeners and background tasks to finish; the history
    /// writer writes what is queued and closes the database.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        self.dns.stop();
        while self.tasks.join_next().await.is_some() {}
        let dns = self.dns;
        if tokio::task::spawn_blocking(move || dns.join()).await.is_err() {
            tracing::error!("DNS threads did not stop cleanly");
        }
        self.control.history.stop().await;
    }
}

/// The engine loop: sleep until the next zone is due (or an override expires, at most
/// `MAX_SLEEP`), take what arrived on both queues, and tick the control plane.
async fn engine_task(control: Arc<Control>, ticks: EngineTicks, mut probes: mpsc::Receiver<Observation>, mut telemetry: mpsc::Receiver<Observation>) {
    loop {
        let (wait, target) = {
            let st = control.state.lock().await;
            let zones = st.publisher.current().zones.clone();
            let now = control.clock.now();
            // The next zone tick, override expiry, or event boundary (a freeze ending).
            let due = st.engine.next_due(&zones).min(st.overrides.next_expiry().unwrap_or(u64::MAX)).min(st.events.next_boundary(now).unwrap_or(u64::MAX));
            let wait = Duration::from_millis(due.saturating_sub(now)).clamp(Duration::from_millis(5), MAX_SLEEP);
            // What this round is for: the due time (already past when the last round ran
            // late), or the wake-up `MAX_SLEEP` allows.
            (wait, due.min(now.saturating_add(wait.as_millis() as u64)))
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = control.stop.cancelled() => return,
        }
        // How late this round starts against that time: the control plane's own lag.
        ticks.record(control.clock.now().saturating_sub(target) as f64 / 1000.0);
        let mut observations = Vec::new();
        while let Ok(o) = probes.try_recv() {
            observations.push(o);
        }
        while let Ok(o) = telemetry.try_recv() {
            observations.push(o);
        }
        control.tick(observations).await;
        control.apply_pending_after_freeze().await;
    }
}

/// Load, bind and start serving; returns once the listeners run.
pub async fn start(config: Config) -> Result<Running, StartError> {
    start_with(config, StartOptions::default()).await
}

/// `start`, with options.
pub async fn start_with(mut config: Config, options: StartOptions) -> Result<Running, StartError> {
    let mut zones = control::load_zones(&config).await.map_err(StartError::Zones)?;
    let event_set = control::load_events(&config, &zones).await.map_err(StartError::Zones)?;
    event_set.attach(&mut zones);
    let geo_seen = control::file_identity(&config.geoip);
    let geo = control::load_geo(&config).await.map_err(StartError::Geo)?;
    let store = OverrideStore::new(&config.state_dir);
    let overrides = store.load().map_err(StartError::State)?;
    if config.admin_tokens.is_empty() && config.admin_token_file.is_none() {
        let (path, tokens) = token::local_token(&config.state_dir).map_err(StartError::Token)?;
        tracing::info!(path = %path.display(), "admin token for mutating requests (override, reload): read it from this file");
        config.admin_tokens = tokens;
        config.admin_token_file = Some(path);
    }
    let history = history_feed::HistoryFeed::open(&config, options.history_storage).await.map_err(StartError::History)?;
    let info = geo.info().clone();
    tracing::info!(
        zones = zones.zones.len(),
        steered = zones.steered().count(),
        overrides = overrides.items.len(),
        geoip = %info.path.display(),
        geoip_type = %info.database_type,
        geoip_networks = info.networks,
        "configuration loaded"
    );
    let clock = Clock::new();
    let now = clock.now();
    let probe_set: Vec<_> = zones.zones.iter().flat_map(|z| z.health.probes.iter().cloned()).collect();
    let plan = steer::plan(&zones, &crate::health::NoHealth, &overrides, now, config.cells);
    let publisher = Publisher::with_plan(zones, geo, plan, config.cells);
    let reader = publisher.reader();
    let bound = listener::bind(&config.listen).map_err(StartError::Bind)?;
    let admin_listener = match config.admin_listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|e| StartError::Bind(std::io::Error::new(e.kind(), format!("admin API {addr}: {e}"))))?),
        None => None,
    };
    let udp = bound.udp_addrs();
    let tcp = bound.tcp_addrs();
    let admin = admin_listener.as_ref().and_then(|l| l.local_addr().ok());
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let counters = DnsCounters::new(config.metrics_max_names);
    let steering = SteeringCounters::new(config.metrics_max_names);
    let probe_stats = ProbeStats::new();
    let dns = listener::spawn(bound, &Handler::new(reader.clone()), &counters, &config.listen).map_err(StartError::Bind)?;
    tasks.spawn(dns.stop_on(stop.clone()));

    let (probe_tx, probe_rx) = mpsc::channel(PROBE_QUEUE);
    let (telemetry_tx, telemetry_rx) = mpsc::channel(TELEMETRY_QUEUE);
    let events = Arc::new(EventLog::new(EVENT_LOG));
    let ready = Arc::new(AtomicBool::new(false));
    let tokens = config.admin_tokens.clone();
    let control = Arc::new(Control {
        config,
        clock: clock.clone(),
        state: Mutex::new(control::ControlState { publisher, engine: Engine::new(), overrides, geo_seen, events: event_set, pending: None }),
        events: Arc::clone(&events),
        store,
        probe_tx,
        probes_stop: Mutex::new(stop.child_token()),
        stop: stop.clone(),
        reload_gate: Mutex::new(()),
        steering: steering.clone(),
        probe_stats: probe_stats.clone(),
        history,
    });
    control.history.plan(&reader.load_full(), now);
    control.history.spawn_answers(counters.clone(), reader.clone(), clock.clone(), stop.clone(), &mut tasks);
    let ticks = EngineTicks::new();
    tasks.spawn(engine_task(Arc::clone(&control), ticks.clone(), probe_rx, telemetry_rx));
    control.restart_probes(probe_set).await;
    if control.config.watch {
        // Without a watcher the other triggers still work: say so, do not refuse to serve.
        match watch::spawn(Arc::clone(&control), stop.clone(), &mut tasks) {
            Ok(targets) => tracing::info!(dirs = ?targets.dirs(), "watching for zone and GeoIP changes"),
            Err(e) => tracing::error!(error = %e, "file changes will not reload; SIGHUP and POST /api/v1/reload still do"),
        }
    }
    if let Some(listener) = admin_listener {
        let ops: Arc<dyn Operations> = control.clone();
        // The dashboard reads the history when its database is open (ids that survive
        // restarts), else what this process records in memory.
        let dashboard = match control.history.database() {
            Some(path) => admin::dashboard::Dashboard::over_history(path.to_path_buf(), control.config.history.answers_interval_ms),
            None => admin::dashboard::Dashboard::in_memory(now),
        };
        let state = AdminState { reader: reader.clone(), telemetry: telemetry_tx.clone(), events: Arc::clone(&events), tokens, clock, ready: Arc::clone(&ready), ops, dns: counters, steering, probes: probe_stats, ticks, history: control.history.handle(), dashboard };
        let stop = stop.clone();
        tasks.spawn(async move {
            if let Err(e) = admin::serve(listener, state, stop).await {
                tracing::error!(error = %e, "admin API stopped");
            }
        });
    }
    ready.store(true, Ordering::Release);
    tracing::info!(?udp, ?tcp, ?admin, generation = 1, "serving");
    Ok(Running { udp, tcp, admin, reader, events, stop, control, tasks, dns, telemetry: telemetry_tx })
}

/// Tell systemd (Type=notify) something, if we run under it. Best effort: a missing socket is
/// not an error.
pub fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else { return };
    let path = std::path::PathBuf::from(path);
    let result = if let Some(abstract_name) = path.to_str().and_then(|s| s.strip_prefix('@')) {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
            .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

/// Run until SIGTERM or SIGINT, reloading on SIGHUP.
pub async fn serve(config: Config) -> Result<(), StartError> {
    use tokio::signal::unix::{SignalKind, signal};
    let running = start(config).await?;
    sd_notify("READY=1\nSTATUS=serving generation 1");
    let mut hup = signal(SignalKind::hangup()).map_err(StartError::Bind)?;
    let mut term = signal(SignalKind::terminate()).map_err(StartError::Bind)?;
    let mut int = signal(SignalKind::interrupt()).map_err(StartError::Bind)?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                sd_notify("RELOADING=1");
                match running.control.reload_logged("SIGHUP", None).await {
                    Ok(generation) => sd_notify(&format!("READY=1\nSTATUS=serving generation {generation}")),
                    Err((serving, control::ReloadError::Frozen(p))) => sd_notify(&format!("READY=1\nSTATUS=change pending, frozen by {}; serving generation {serving}", p.event)),
                    Err((serving, _)) => sd_notify(&format!("READY=1\nSTATUS=reload failed; serving generation {serving}")),
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    sd_notify("STOPPING=1");
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}
