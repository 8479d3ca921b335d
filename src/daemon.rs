//! `cdnsteer serve`: load and check everything, publish generation 1, bind, tell systemd we
//! are ready, then serve until SIGTERM/SIGINT. SIGHUP reloads zones and GeoIP as a
//! transaction: any problem keeps the old generation serving.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::diag::LoadError;
use crate::dns::{Handler, listener};
use crate::geo::{GeoDb, GeoError};
use crate::publish::{Publisher, SnapshotReader};
use crate::zone;

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

/// A running server: its bound addresses, a read handle, and the stop switch.
pub struct Running {
    /// UDP addresses bound.
    pub udp: Vec<std::net::SocketAddr>,
    /// TCP addresses bound.
    pub tcp: Vec<std::net::SocketAddr>,
    /// Snapshot reader.
    pub reader: SnapshotReader,
    /// The single writer, shared with the reload path.
    pub publisher: Arc<Mutex<Publisher>>,
    /// Cancel to stop.
    pub stop: CancellationToken,
    tasks: JoinSet<()>,
    config: Config,
    geo_seen: Mutex<Option<(u64, std::time::SystemTime)>>,
}

impl Running {
    /// Reload zones and GeoIP from the configured paths; the old generation keeps serving if
    /// anything is wrong. Returns the new generation.
    pub async fn reload(&self) -> Result<u64, StartError> {
        reload(&self.config, &self.publisher, &self.geo_seen).await
    }

    /// Stop serving and wait for the listeners to finish.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn load_zones(config: &Config) -> Result<zone::ZoneSet, StartError> {
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
fn file_identity(path: &std::path::Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

async fn reload(config: &Config, publisher: &Mutex<Publisher>, geo_seen: &Mutex<Option<(u64, std::time::SystemTime)>>) -> Result<u64, StartError> {
    let zones = load_zones(config).await?;
    let identity = file_identity(&config.geoip);
    let mut seen = geo_seen.lock().await;
    if identity.is_none() || identity != *seen {
        let geo = load_geo(config).await?;
        let generation = publisher.lock().await.publish_reload(zones, geo);
        *seen = identity;
        return Ok(generation);
    }
    Ok(publisher.lock().await.publish_zones(zones))
}

/// Load, bind and start serving; returns once the listeners run.
pub async fn start(config: Config) -> Result<Running, StartError> {
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
    let publisher = Publisher::new(zones, geo, config.cells);
    let reader = publisher.reader();
    let bound = listener::bind(&config.listen.addrs).await.map_err(StartError::Bind)?;
    let udp = bound.udp_addrs();
    let tcp = bound.tcp_addrs();
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    listener::spawn(bound, Handler::new(reader.clone()), &config.listen, stop.clone(), &mut tasks);
    tracing::info!(?udp, ?tcp, generation = 1, "serving");
    Ok(Running { udp, tcp, reader, publisher: Arc::new(Mutex::new(publisher)), stop, tasks, config, geo_seen })
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
