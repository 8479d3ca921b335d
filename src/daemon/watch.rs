//! The third reload trigger: a saved edit. `notify` (inotify on Linux) watches the zones
//! directory and the GeoIP file's directory, not the files: editors and `mv` save by writing a
//! temporary file and renaming it over the old one, which replaces the inode a file watch
//! would hold. Events pass a filter (zone files as `zone::zone_files` sees them, the GeoIP
//! file by name; opens and reads, our own included, never count), cross from notify's thread
//! to the runtime through a one-slot channel, and a burst becomes one reload once the
//! directory has been quiet for `QUIET` (or `MAX_DELAY` after its first event, so a file
//! rewritten without pause still gets reloaded). The reload is the same transaction as
//! SIGHUP's and the API's (`Control::reload_logged`): a bad edit is logged, diagnostic by
//! diagnostic, and the previous generation keeps serving.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{Event, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::control::Control;

/// A burst of events is over once nothing relevant arrived for this long: an editor's save
/// (temporary file, rename, attribute change) or a `cp` of several files is one reload.
pub const QUIET: Duration = Duration::from_millis(250);
/// The longest a burst may postpone its reload: a file rewritten continuously (a slow copy)
/// still gets reloaded this often; a half-written file is refused like any bad edit and the
/// next event tries again.
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The directory cannot be resolved (it must exist: the first load read it).
    #[error("cannot watch {path}: {source}")]
    Path {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The platform watcher refused (on Linux: the inotify instance or watch limits,
    /// `fs.inotify.max_user_instances` / `max_user_watches`).
    #[error("cannot watch {path}: {source}")]
    Notify {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: notify::Error,
    },
}

/// What a change must touch to count: a zone file in the zones directory, or the GeoIP file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// The zones directory, canonical.
    pub zones: PathBuf,
    /// The GeoIP file's directory, canonical.
    pub geo_dir: PathBuf,
    /// The GeoIP file's name.
    pub geo_name: OsString,
    /// The events directory, canonical, when it exists.
    pub events: Option<PathBuf>,
}

impl Targets {
    /// Resolve the configured paths (relative to the working directory, symlinks followed)
    /// the way the kernel will report events under them.
    pub fn new(zones: &Path, geoip: &Path) -> Result<Targets, WatchError> {
        let canonical = |p: &Path| std::fs::canonicalize(p).map_err(|source| WatchError::Path { path: p.to_path_buf(), source });
        let parent = geoip.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let geo_name = geoip.file_name().map(OsString::from).ok_or_else(|| WatchError::Path {
            path: geoip.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?;
        Ok(Targets { zones: canonical(zones)?, geo_dir: canonical(parent)?, geo_name, events: None })
    }

    /// Also watch the events directory (`events/*.yaml`), if it exists.
    pub fn with_events(mut self, events: &Path) -> Targets {
        self.events = std::fs::canonicalize(events).ok().filter(|p| p.is_dir());
        self
    }

    /// The directories to watch (one if the GeoIP file sits among the zones).
    pub fn dirs(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = vec![&self.zones];
        for d in [Some(&self.geo_dir), self.events.as_ref()].into_iter().flatten() {
            if !dirs.contains(&d.as_path()) {
                dirs.push(d);
            }
        }
        dirs
    }

    /// Does a change of `path` concern the served configuration? Zone files are the
    /// `*.yaml`/`*.yml` files `zone::zone_files` loads (hidden files and `~` backups are not);
    /// a rename or delete of one counts too, since the loaded set changes.
    pub fn concerns(&self, path: &Path) -> bool {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return false };
        if dir == self.geo_dir && name == self.geo_name {
            return true;
        }
        let Some(text) = name.to_str() else { return false };
        let yaml = !text.starts_with('.') && !text.ends_with('~') && (text.ends_with(".yaml") || text.ends_with(".yml"));
        yaml && (dir == self.zones || self.events.as_deref() == Some(dir))
    }

    /// Should this event trigger a reload? Opens, reads and closes after reading are not
    /// changes (the loader's own reads would otherwise reload forever); a close after writing
    /// is. An event that says events were lost (queue overflow) always counts.
    pub fn triggers(&self, event: &Event) -> bool {
        if event.need_rescan() {
            return true;
        }
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) => return false,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any | EventKind::Other => {}
        }
        event.paths.iter().any(|p| self.concerns(p))
    }
}

/// Start watching and spawn the task that reloads on changes; the task (and with it the
/// watcher's thread) ends when `stop` is cancelled.
pub(super) fn spawn(control: Arc<Control>, stop: CancellationToken, tasks: &mut JoinSet<()>) -> Result<Targets, WatchError> {
    let targets = Targets::new(&control.config.zones, &control.config.geoip)?.with_events(&control.config.events);
    // One slot: a pending signal means "reload once more"; further events while it is
    // pending add nothing. `try_send` never blocks notify's thread.
    let (tx, rx) = mpsc::channel::<()>(1);
    let filter = targets.clone();
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<Event>| match result {
        Ok(event) => {
            if filter.triggers(&event) {
                let _ = tx.try_send(());
            }
        }
        Err(e) => {
            // Not knowing what changed is a reason to look: reload (a no-op if nothing did).
            tracing::warn!(error = %e, "file watcher error; reloading to be safe");
            let _ = tx.try_send(());
        }
    })
    .map_err(|source| WatchError::Notify { path: targets.zones.clone(), source })?;
    for dir in targets.dirs() {
        watcher.watch(dir, RecursiveMode::NonRecursive).map_err(|source| WatchError::Notify { path: dir.to_path_buf(), source })?;
    }
    tasks.spawn(async move {
        // The watcher lives as long as this task; dropping it stops notify's thread.
        let _watcher = watcher;
        reload_on_change(control, rx, stop).await;
    });
    Ok(targets)
}

async fn reload_on_change(control: Arc<Control>, mut rx: mpsc::Receiver<()>, stop: CancellationToken) {
    while debounce(&mut rx, &stop, QUIET, MAX_DELAY).await {
        let _ = control.reload_logged("file", None).await;
    }
}

/// Wait for a change, then for the burst it starts to end: `quiet` without a new event, or
/// `max_delay` after the first. Returns false when stopped (or the sender is gone).
pub async fn debounce(rx: &mut mpsc::Receiver<()>, stop: &CancellationToken, quiet: Duration, max_delay: Duration) -> bool {
    tokio::select! {
        got = rx.recv() => if got.is_none() { return false },
        _ = stop.cancelled() => return false,
    }
    let deadline = Instant::now() + max_delay;
    loop {
        let until = (Instant::now() + quiet).min(deadline);
        tokio::select! {
            got = rx.recv() => if got.is_none() { return false },
            _ = tokio::time::sleep_until(until) => return true,
            _ = stop.cancelled() => return false,
        }
        if Instant::now() >= deadline {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, Flag, ModifyKind, RemoveKind, RenameMode};

    fn targets() -> Targets {
        Targets { zones: PathBuf::from("/etc/cdnsteer/zones"), geo_dir: PathBuf::from("/var/lib/geo"), geo_name: OsString::from("db.mmdb"), events: None }
    }

    fn event(kind: EventKind, paths: &[&str]) -> Event {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        e
    }

    #[test]
    fn zone_files_and_the_geoip_file_concern_a_reload() {
        let t = targets();
        assert!(t.concerns(Path::new("/etc/cdnsteer/zones/example.com.yaml")));
        assert!(t.concerns(Path::new("/etc/cdnsteer/zones/b.yml")));
        assert!(t.concerns(Path::new("/var/lib/geo/db.mmdb")));
        // Hidden files, backups, other extensions, other directories, other GeoIP names.
        for p in [
            "/etc/cdnsteer/zones/.example.com.yaml.swp",
            "/etc/cdnsteer/zones/.example.com.yaml",
            "/etc/cdnsteer/zones/example.com.yaml~",
            "/etc/cdnsteer/zones/4913",
            "/etc/cdnsteer/zones/README.md",
            "/etc/cdnsteer/example.com.yaml",
            "/etc/cdnsteer/zones/sub/x.yaml",
            "/var/lib/geo/db.mmdb.tmp",
            "/var/lib/geo/other.yaml",
            "/etc/cdnsteer/zones/db.mmdb",
        ] {
            assert!(!t.concerns(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn changes_trigger_reads_do_not() {
        let t = targets();
        let zone = "/etc/cdnsteer/zones/example.com.yaml";
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Remove(RemoveKind::File),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
        ] {
            assert!(t.triggers(&event(kind, &[zone])), "{kind:?}");
        }
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Access(AccessKind::Any),
        ] {
            assert!(!t.triggers(&event(kind, &[zone])), "{kind:?}");
        }
        // A rename with both ends: a temporary name renamed over a zone file counts.
        let both = event(EventKind::Modify(ModifyKind::Name(RenameMode::Both)), &["/etc/cdnsteer/zones/.tmp123", zone]);
        assert!(t.triggers(&both));
        let elsewhere = event(EventKind::Modify(ModifyKind::Name(RenameMode::Both)), &["/etc/cdnsteer/zones/.a", "/etc/cdnsteer/zones/.b"]);
        assert!(!t.triggers(&elsewhere));
        // Lost events: always look.
        assert!(t.triggers(&Event::new(EventKind::Other).set_flag(Flag::Rescan)));
    }

    #[test]
    fn geoip_beside_the_zones_is_one_watch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Targets::new(dir.path(), &dir.path().join("db.mmdb")).expect("targets");
        assert_eq!(t.dirs().len(), 1);
        let relative = Targets::new(dir.path(), Path::new("db.mmdb")).expect("targets");
        assert_eq!(relative.geo_dir, std::fs::canonicalize(".").expect("cwd"));
        assert!(Targets::new(&dir.path().join("missing"), Path::new("db.mmdb")).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_one_reload_after_the_quiet_period() {
        let (tx, mut rx) = mpsc::channel(1);
        let stop = CancellationToken::new();
        let started = Instant::now();
        let sender = tokio::spawn(async move {
            for _ in 0..5 {
                let _ = tx.try_send(());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tx
        });
        assert!(debounce(&mut rx, &stop, QUIET, MAX_DELAY).await);
        // Last event at 400 ms, then 250 ms of quiet (paused clock: exact).
        assert_eq!(started.elapsed(), Duration::from_millis(650));
        let tx = sender.await.expect("sender");
        assert!(rx.try_recv().is_err(), "the burst was consumed");
        drop(tx);
        assert!(!debounce(&mut rx, &stop, QUIET, MAX_DELAY).await, "sender gone");
    }

    #[tokio::test(start_paused = true)]
    async fn endless_changes_still_reload_at_the_max_delay() {
        let (tx, mut rx) = mpsc::channel(1);
        let stop = CancellationToken::new();
        let started = Instant::now();
        let stop_sender = CancellationToken::new();
        let sender_stop = stop_sender.clone();
        tokio::spawn(async move {
            while !sender_stop.is_cancelled() {
                let _ = tx.try_send(());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        assert!(debounce(&mut rx, &stop, QUIET, MAX_DELAY).await);
        assert_eq!(started.elapsed(), MAX_DELAY);
        stop_sender.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_the_wait() {
        let (_tx, mut rx) = mpsc::channel::<()>(1);
        let stop = CancellationToken::new();
        stop.cancel();
        assert!(!debounce(&mut rx, &stop, QUIET, MAX_DELAY).await);
    }
}
