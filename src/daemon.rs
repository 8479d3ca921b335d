//! `cdnsteer serve`: load and check everything, publish generation 1, bind, tell systemd we
//! are ready, then serve until SIGTERM/SIGINT. SIGHUP reloads zones and GeoIP as a
//! transaction: any problem keeps the old generation serving.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminState};
use crate::clock::Clock;
use crate::config::Config;
use crate::diag::LoadError;
use crate::dns::{DnsCounters, Handler, listener};
use crate::health::engine::Engine;
use crate::health::events::EventLog;
use crate::geo::{GeoDb, GeoError};
use crate::probe;
use crate::dns::ServedReader;
use crate::publish::Publisher;
use crate::health::signal::Observation;
use crate::zone::{self, ZoneSet};

/// Observations waiting for the engine. Probes drop results beyond this (counted); telemetry
/// pushes wait for room.
const OBSERVATION_QUEUE: usize = 8192;
/// Probe fetches in flight at once, across all probes.
const PROBE_CONCURRENCY: usize = 32;
/// Decision events kept for the admin API.
const EVENT_LOG: usize = 2000;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Zone files have problems.
    #[error("zones not loaded:\n{0}")]
    Zones(LoadError),
    /// The GeoIP database is unusable.
    #[error(transparent)]
    Geo(GeoError),
    /// A listener could not be bound.
    #[error("cannot listen: {0}")]
    Bind(std::io::Error),
}

/// State shared by the serve loop, the reload path and the engine task.
struct Shared {
    config: Config,
    clock: Clock,
    /// The single writer.
    publisher: Mutex<Publisher>,
    /// The health engine (never touched by the query path).
    engine: std::sync::Mutex<Engine>,
    events: Arc<EventLog>,
    observations: mpsc::Sender<Observation>,
    geo_seen: Mutex<Option<(u64, SystemTime)>>,
    /// Stops the current probe set (replaced on reload).
    probes_stop: Mutex<CancellationToken>,
    stop: CancellationToken,
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
    tasks: JoinSet<()>,
    shared: Arc<Shared>,
}

impl Running {
    /// Reload zones and GeoIP from the configured paths; the old generation keeps serving if
    /// anything is wrong. Returns the new generation.
    pub async fn reload(&self) -> Result<u64, StartError> {
        let result = reload(&self.shared).await;
        match &result {
            Ok(generation) => {
                metrics::counter!(crate::metrics::RELOADS, "result" => "ok").increment(1);
                metrics::gauge!(crate::metrics::GENERATION).set(*generation as f64);
            }
            Err(_) => metrics::counter!(crate::metrics::RELOADS, "result" => "failed").increment(1),
        }
        result
    }

    /// Feed an observation to the engine as probes and telemetry do.
    pub async fn observe(&self, o: Observation) {
        let _ = self.shared.observations.send(o).await;
    }

    /// What the engine knows about one region of a steered name (for tests and explain).
    pub fn engine_view(&self, name: &str, region: &crate::zone::model::RegionKey) -> Option<Vec<crate::health::engine::CandidateView>> {
        let snapshot = self.reader.load_full();
        let zone = snapshot.zones.zones.iter().find(|z| z.steered.iter().any(|s| s.name.as_str() == name))?;
        self.shared.engine.lock().unwrap_or_else(|p| p.into_inner()).view(name, region, &zone.health)
    }

    /// Stop serving and wait for the listeners and background tasks to finish.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn load_zones(config: &Config) -> Result<ZoneSet, StartError> {
    let dir = config.zones.clone();
    tokio::task::spawn_blocking(move || zone::load_dir(&dir))
        .await
        .map_err(|e| StartError::Bind(std::io::Error::other(e.to_string())))?
        .map_err(StartError::Zones)
}

async fn load_geo(config: &Config) -> Result<GeoDb, StartError> {
    let path = config.geoip.clone();
    tokio::task::spawn_blocking(move || GeoDb::open(&path))
        .await
        .map_err(|e| StartError::Bind(std::io::Error::other(e.to_string())))?
        .map_err(StartError::Geo)
}

/// Size and modification time of a file: a reload re-reads the GeoIP database only when
/// these change (it is large; zones are small and always re-read).
fn file_identity(path: &std::path::Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Reload as one transaction: zones (and GeoIP if its file changed) are checked in full, then
/// published together with the engine's decisions for the new zones in one snapshot, and the
/// probes restart with the new probe set.
async fn reload(shared: &Shared) -> Result<u64, StartError> {
    let zones = load_zones(&shared.config).await?;
    let identity = file_identity(&shared.config.geoip);
    let mut seen = shared.geo_seen.lock().await;
    let geo = if identity.is_none() || identity != *seen { Some(load_geo(&shared.config).await?) } else { None };
    let probes: Vec<_> = zones.zones.iter().flat_map(|z| z.health.probes.iter().cloned()).collect();
    let generation = {
        let mut publisher = shared.publisher.lock().await;
        let engine = shared.engine.lock().unwrap_or_else(|p| p.into_inner());
        publisher.publish_reload(zones, geo, |z, cells| engine.decisions(z, cells))
    };
    *seen = identity;
    restart_probes(shared, probes).await;
    Ok(generation)
}

async fn restart_probes(shared: &Shared, probes: Vec<crate::zone::health::Probe>) {
    let mut current = shared.probes_stop.lock().await;
    current.cancel();
    let stop = shared.stop.child_token();
    *current = stop.clone();
    if probes.is_empty() {
        return;
    }
    tracing::info!(probes = probes.len(), "starting probes");
    let mut set = JoinSet::new();
    probe::spawn_probes(probes, shared.clock, shared.observations.clone(), PROBE_CONCURRENCY, stop, &mut set);
    tokio::spawn(async move { while set.join_next().await.is_some() {} });
}

/// The engine loop: every tick, feed it what arrived, advance it, and publish the decisions
/// when they changed.
async fn engine_task(shared: Arc<Shared>, mut rx: mpsc::Receiver<Observation>) {
    loop {
        let zones: Arc<ZoneSet> = Arc::clone(&shared.publisher.lock().await.current().zones);
        let tick_ms = zones.zones.iter().map(|z| z.health.tick_ms).min().unwrap_or(1000).max(50);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(tick_ms)) => {}
            _ = shared.stop.cancelled() => return,
        }
        let report = {
            let mut engine = shared.engine.lock().unwrap_or_else(|p| p.into_inner());
            while let Ok(o) = rx.try_recv() {
                engine.ingest(&o);
            }
            engine.tick(&zones, shared.clock.now())
        };
        if !report.changed {
            continue;
        }
        let generation = {
            let mut publisher = shared.publisher.lock().await;
            let engine = shared.engine.lock().unwrap_or_else(|p| p.into_inner());
            publisher.publish_decisions(|z, cells| engine.decisions(z, cells))
        };
        metrics::gauge!(crate::metrics::GENERATION).set(generation as f64);
        for mut event in report.events {
            event.generation = generation;
            metrics::counter!(crate::metrics::DECISIONS, "name" => event.name.clone(), "region" => event.region.clone()).increment(1);
            if event.reason.contains("failing open") {
                metrics::counter!(crate::metrics::FAIL_OPEN, "name" => event.name.clone(), "region" => event.region.clone()).increment(1);
                tracing::warn!(name = %event.name, region = %event.region, generation, reason = %event.reason, "all candidates down: answering with the last-resort CDN");
            } else {
                tracing::info!(name = %event.name, region = %event.region, generation, old = ?event.old, new = ?event.new, reason = %event.reason, "shares changed");
            }
            shared.events.push(event);
        }
    }
}

/// Load, bind and start serving; returns once the listeners run.
pub async fn start(config: Config) -> Result<Running, StartError> {
    crate::metrics::init();
    let zones = load_zones(&config).await?;
    let geo_seen = Mutex::new(file_identity(&config.geoip));
    let geo = load_geo(&config).await?;
    let info = geo.info().clone();
    tracing::info!(
        zones = zones.zones.len(),
        steered = zones.steered().count(),
        geoip = %info.path.display(),
        geoip_type = %info.database_type,
        geoip_networks = info.networks,
        "configuration loaded"
    );
    let probes: Vec<_> = zones.zones.iter().flat_map(|z| z.health.probes.iter().cloned()).collect();
    let publisher = Publisher::new(zones, geo, config.cells);
    let reader = publisher.reader();
    let bound = listener::bind(&config.listen.addrs).await.map_err(StartError::Bind)?;
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
    listener::spawn(bound, Handler::new(reader.clone()), &counters, &config.listen, stop.clone(), &mut tasks);

    let (tx, rx) = mpsc::channel(OBSERVATION_QUEUE);
    let events = Arc::new(EventLog::new(EVENT_LOG));
    let clock = Clock::new();
    let ready = Arc::new(AtomicBool::new(false));
    let token = config.admin_token.clone();
    let shared = Arc::new(Shared {
        config,
        clock,
        publisher: Mutex::new(publisher),
        engine: std::sync::Mutex::new(Engine::new()),
        events: Arc::clone(&events),
        observations: tx.clone(),
        geo_seen,
        probes_stop: Mutex::new(stop.child_token()),
        stop: stop.clone(),
    });
    tasks.spawn(engine_task(Arc::clone(&shared), rx));
    restart_probes(&shared, probes).await;
    if let Some(listener) = admin_listener {
        let state = AdminState { reader: reader.clone(), telemetry: tx, events: Arc::clone(&events), token, clock, ready: Arc::clone(&ready), dns: counters };
        let stop = stop.clone();
        tasks.spawn(async move {
            if let Err(e) = admin::serve(listener, state, stop).await {
                tracing::error!(error = %e, "admin API stopped");
            }
        });
    }
    metrics::gauge!(crate::metrics::GENERATION).set(1.0);
    ready.store(true, Ordering::Relaxed);
    tracing::info!(?udp, ?tcp, ?admin, generation = 1, "serving");
    Ok(Running { udp, tcp, admin, reader, events, stop, tasks, shared })
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
                match running.reload().await {
                    Ok(generation) => {
                        tracing::info!(generation, "reload complete");
                        sd_notify(&format!("READY=1\nSTATUS=serving generation {generation}"));
                    }
                    Err(e) => {
                        let serving = running.reader.load().generation;
                        for line in e.to_string().lines() {
                            tracing::error!("{line}");
                        }
                        tracing::error!(generation = serving, "reload failed; still serving the previous configuration");
                        sd_notify(&format!("READY=1\nSTATUS=reload failed; serving generation {serving}"));
                    }
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
