//! Daemon settings: a versioned YAML file (strict, like the zones), defaults that make
//! `cdnsteer serve` work from the repository root, and command-line flags on top.
//!
//! # Admin API
//!
//! ```yaml
//! admin:
//!   listen: 127.0.0.1:8053              # address:port, or `off` to run no admin listener
//!   token_file: /etc/cdnsteer/admin.token
//! ```
//!
//! The admin API listens on `127.0.0.1:8053` unless told otherwise (`listen: off` or
//! `--admin-listen off` turns it off). The token file is read once, at load time: one
//! `NAME TOKEN` per line (a token alone is named `admin`); the name is recorded in the audit
//! log as who made a change. An unreadable or empty file, or a malformed line, is an
//! `invalid-setting` error. Without a token file `serve` creates `STATE_DIR/admin.token`
//! (mode 0600, one random token named `local`) on first start and logs its path; read-only
//! endpoints need no token.
//!
//! # Metrics
//!
//! ```yaml
//! metrics:
//!   max_names: 50                       # steered names with their own name label (0 to 100000)
//! ```
//!
//! Steered answers, shares, scores, states, fail-opens and decision events are labelled by
//! name for the first `max_names` steered names (in zone order); the others share
//! `name="_other"` (counters and counts summed, shares and scores averaged), so thousands of
//! names do not make millions of series.
//!
//! # History
//!
//! ```yaml
//! history:
//!   enabled: true                       # false keeps no history at all
//!   retention: 30d                      # delete what is older (1h to 3650d)
//!   full_resolution: 1d                 # then one row per series and minute (1h to retention)
//!   keyframe_interval: 60s              # every share series written at least this often (1s to 5m)
//!   answers_interval: 10s               # steered answers counted per interval (1s to 5m)
//!   checkpoint_interval: 10s            # WAL checkpoint period (1s to 10m)
//! ```
//!
//! The database is `STATE_DIR/history.sqlite` (`history` module doc: what is kept, how it is
//! read). A database that cannot be opened (disk full, directory unwritable) is logged, the
//! server serves DNS regardless and opens it when it can (history degraded meanwhile); a
//! database written by a newer cdnsteer stops the start.
//!
//! # Reload triggers
//!
//! `watch: true` (the default) reloads when a zone file in the zones directory or the GeoIP
//! file changes; `watch: false` leaves SIGHUP and `POST /api/v1/reload` as the only triggers.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::str::FromStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::steer::decide::CellPrefixes;
use crate::diag::{Code, Diagnostics, LoadError, Pos};
use crate::dns::listener::ListenConfig;
use crate::history::HistorySettings;
use crate::zone::spec::{Spanned, parse_yaml, pos};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The daemon config file, as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Schema version; must be 1.
    pub version: Option<Spanned<u32>>,
    /// Zone directory.
    #[serde(default)]
    pub zones: Option<PathBuf>,
    /// GeoIP database file.
    #[serde(default)]
    pub geoip: Option<PathBuf>,
    /// Event directory (`events/*.yaml`; a missing directory holds no events).
    #[serde(default)]
    pub events: Option<PathBuf>,
    /// Addresses to serve DNS on (UDP and TCP).
    #[serde(default)]
    pub listen: Option<Vec<Spanned<String>>>,
    /// Client cell prefixes for sticky selection.
    #[serde(default)]
    pub cell_prefix: Option<CellPrefixFile>,
    /// TCP limits.
    #[serde(default)]
    pub tcp: Option<TcpFile>,
    /// UDP threads, batches and socket buffers.
    #[serde(default)]
    pub udp: Option<UdpFile>,
    /// The older spelling of `udp.workers`, still read.
    #[serde(default)]
    pub udp_workers: Option<Spanned<usize>>,
    /// Log format.
    #[serde(default)]
    pub log_format: Option<LogFormat>,
    /// Admin API.
    #[serde(default)]
    pub admin: Option<AdminFile>,
    /// Directory for durable state: operator overrides, the audit log, the generated admin
    /// token.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Operator overrides.
    #[serde(default)]
    pub overrides: Option<OverridesFile>,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: Option<MetricsFile>,
    /// Reload when a zone file or the GeoIP file changes (default true).
    #[serde(default)]
    pub watch: Option<bool>,
    /// The history database.
    #[serde(default)]
    pub history: Option<HistoryFile>,
}

/// `history:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryFile {
    /// Keep history (default true).
    pub enabled: Option<bool>,
    /// Delete rows older than this (`30d`).
    pub retention: Option<Spanned<String>>,
    /// Keep every row this long, then one per series and minute (`1d`).
    pub full_resolution: Option<Spanned<String>>,
    /// Write every share series at least this often (`60s`).
    pub keyframe_interval: Option<Spanned<String>>,
    /// Count steered answers per interval of this length (`10s`).
    pub answers_interval: Option<Spanned<String>>,
    /// Checkpoint the WAL this often (`10s`).
    pub checkpoint_interval: Option<Spanned<String>>,
}

/// `udp:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpFile {
    /// Threads (each with its own socket) per listen address.
    pub workers: Option<Spanned<usize>>,
    /// Datagrams received and answered per system call.
    pub batch: Option<Spanned<usize>>,
    /// Receive buffer per socket, bytes.
    pub receive_buffer_bytes: Option<Spanned<usize>>,
    /// Send buffer per socket, bytes.
    pub send_buffer_bytes: Option<Spanned<usize>>,
}

/// `overrides:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverridesFile {
    /// Longest expiry an operator override may have (`24h`, `3d`).
    pub max_expiry: Option<Spanned<String>>,
}

/// `metrics:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// Steered names with series under their own name label.
    pub max_names: Option<Spanned<usize>>,
}

/// Largest accepted `metrics.max_names`.
pub const MAX_METRICS_NAMES: usize = 100_000;

/// `admin:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    /// `address:port`, or `off`.
    pub listen: Option<Spanned<String>>,
    /// File holding the bearer token for mutating endpoints.
    pub token_file: Option<Spanned<String>>,
}

/// Where the admin API listens, as written in the file or on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminListen {
    /// No admin listener.
    Off,
    /// Listen here.
    At(SocketAddr),
}

impl FromStr for AdminListen {
    type Err = String;

    /// `off`, or `address:port`.
    fn from_str(text: &str) -> Result<AdminListen, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("off") {
            return Ok(AdminListen::Off);
        }
        t.parse::<SocketAddr>()
            .map(AdminListen::At)
            .map_err(|_| format!("`{t}`; expected address:port (e.g. 127.0.0.1:8053) or off"))
    }
}

/// `cell_prefix:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellPrefixFile {
    /// IPv4 cell, bits.
    pub ipv4: Option<Spanned<u8>>,
    /// IPv6 cell, bits.
    pub ipv6: Option<Spanned<u8>>,
}

/// `tcp:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpFile {
    /// Idle timeout, seconds.
    pub idle_timeout_secs: Option<Spanned<u64>>,
    /// Connection cap.
    pub max_connections: Option<Spanned<usize>>,
}

/// Flags from the command line; `None` keeps the file's (or the default) value.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// `--zones`.
    pub zones: Option<PathBuf>,
    /// `--geoip`.
    pub geoip: Option<PathBuf>,
    /// `--events`.
    pub events: Option<PathBuf>,
    /// `--listen`, repeatable.
    pub listen: Vec<SocketAddr>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `--admin-listen` (`address:port` or `off`).
    pub admin_listen: Option<AdminListen>,
    /// `--admin-token-file`.
    pub admin_token_file: Option<PathBuf>,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
}

/// The resolved, immutable daemon configuration. `Debug` never prints the admin token.
#[derive(Clone)]
pub struct Config {
    /// Zone directory.
    pub zones: PathBuf,
    /// GeoIP database.
    pub geoip: PathBuf,
    /// Event directory.
    pub events: PathBuf,
    /// Listener settings.
    pub listen: ListenConfig,
    /// Client cells.
    pub cells: CellPrefixes,
    /// Log format.
    pub log_format: LogFormat,
    /// Admin API address; `None` runs no admin listener.
    pub admin_listen: Option<SocketAddr>,
    /// Named bearer tokens for the admin API's mutating endpoints; none refuses them (403),
    /// unless the daemon generates one (`state_dir/admin.token`) at start.
    pub admin_tokens: Vec<NamedToken>,
    /// The token file the tokens came from, if one was configured.
    pub admin_token_file: Option<PathBuf>,
    /// Durable state: overrides, audit log, generated token.
    pub state_dir: PathBuf,
    /// Longest expiry of an operator override, ms.
    pub override_max_expiry: u64,
    /// Steered names with their own metric series.
    pub metrics_max_names: usize,
    /// Reload when a zone file or the GeoIP file changes (the zones directory and the GeoIP
    /// file's directory are watched).
    pub watch: bool,
    /// The history database's settings.
    pub history: HistorySettings,
}

/// One named admin token (`NAME TOKEN` per line of the token file); the name is recorded in
/// the audit log as who made a change.
#[derive(Clone, PartialEq, Eq)]
pub struct NamedToken {
    /// Who holds it (`noc`, `local`).
    pub name: String,
    /// The secret.
    pub token: String,
}

impl std::fmt::Debug for NamedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NamedToken({}, <redacted>)", self.name)
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("zones", &self.zones)
            .field("geoip", &self.geoip)
            .field("listen", &self.listen)
            .field("cells", &self.cells)
            .field("log_format", &self.log_format)
            .field("admin_listen", &self.admin_listen)
            .field("admin_tokens", &self.admin_tokens)
            .field("state_dir", &self.state_dir)
            .field("metrics_max_names", &self.metrics_max_names)
            .field("watch", &self.watch)
            .field("history", &self.history)
            .finish_non_exhaustive()
    }
}

/// Default zone directory, relative to the working directory.
pub const DEFAULT_ZONES: &str = "zones";
/// Default GeoIP database, relative to the working directory.
pub const DEFAULT_GEOIP: &str = "geoip/iptoasn-country.mmdb";
/// Default event directory, relative to the working directory.
pub const DEFAULT_EVENTS: &str = "events";
/// Default admin API address: loopback only.
pub const DEFAULT_ADMIN_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8053));

/// Default state directory, relative to the working directory.
pub const DEFAULT_STATE_DIR: &str = "state";
/// Default longest override expiry: 24 hours.
pub const DEFAULT_OVERRIDE_MAX_EXPIRY: u64 = 24 * 3_600_000;
/// Default number of steered names with their own metric series.
pub const DEFAULT_METRICS_MAX_NAMES: usize = crate::dns::counters::DEFAULT_MAX_NAMES;
/// Name given to a token written alone on its line (no `NAME TOKEN`).
pub const UNNAMED_TOKEN: &str = "admin";

/// The tokens of an admin token file: one `NAME TOKEN` per line (a line holding only a token
/// names it `admin`); blank lines and `#` comments are skipped. Tokens are printable ASCII
/// words; names are unique.
pub fn read_admin_tokens(path: &Path) -> Result<Vec<NamedToken>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read admin token file {}: {e}", path.display()))?;
    parse_admin_tokens(&text).map_err(|e| format!("admin token file {}: {e}", path.display()))
}

/// `read_admin_tokens` on text.
pub fn parse_admin_tokens(text: &str) -> Result<Vec<NamedToken>, String> {
    let mut out: Vec<NamedToken> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, token) = match words.as_slice() {
            [token] => (UNNAMED_TOKEN, *token),
            [name, token] => (*name, *token),
            _ => return Err(format!("line {}: expected `NAME TOKEN` (or one token alone)", i + 1)),
        };
        if !token.chars().all(|c| c.is_ascii_graphic()) || token.len() < 8 {
            return Err(format!("line {}: the token must be one printable ASCII word of at least 8 characters (e.g. `openssl rand -hex 32`)", i + 1));
        }
        if out.iter().any(|t| t.name == name) {
            return Err(format!("line {}: token name `{name}` is used twice", i + 1));
        }
        out.push(NamedToken { name: name.to_string(), token: token.to_string() });
    }
    if out.is_empty() {
        return Err("is empty; expected one `NAME TOKEN` line per token".to_string());
    }
    Ok(out)
}

impl Config {
    /// Defaults, then the file (if any), then the command line.
    pub fn load(file: Option<&Path>, flags: &Flags) -> Result<Config, LoadError> {
        let mut diags = Diagnostics::new();
        let parsed = read_file(file, &mut diags)?;
        let mut cx = SettingsCx { file: file.map(Path::to_path_buf).unwrap_or_default(), diags };
        if let Some(v) = &parsed.version {
            if v.value != 1 {
                cx.bad(pos(v), "version", format!("version {} is not supported; expected 1", v.value));
            }
        }
        let mut listen = cx.listen(&parsed);
        let cells = cx.cells(&parsed);
        let (mut admin_listen, admin_tokens, admin_token_file) = cx.admin(&parsed, flags);
        let override_max_expiry = cx.override_max_expiry(&parsed);
        let metrics_max_names = cx.metrics_max_names(&parsed);
        let history = cx.history(&parsed);
        match flags.admin_listen {
            Some(AdminListen::Off) => admin_listen = None,
            Some(AdminListen::At(addr)) => admin_listen = Some(addr),
            None => {}
        }
        if !cx.diags.is_empty() {
            let files = cx.diags.files_seen();
            let mut diagnostics = cx.diags.into_items();
            // In line order, as an operator reads the file.
            diagnostics.sort_by_key(|d| (d.file.clone(), d.pos.line, d.pos.col));
            return Err(LoadError { diagnostics, files });
        }
        if !flags.listen.is_empty() {
            listen.addrs = flags.listen.clone();
        }
        Ok(Config {
            zones: flags.zones.clone().or(parsed.zones).unwrap_or_else(|| PathBuf::from(DEFAULT_ZONES)),
            geoip: flags.geoip.clone().or(parsed.geoip).unwrap_or_else(|| PathBuf::from(DEFAULT_GEOIP)),
            events: flags.events.clone().or(parsed.events).unwrap_or_else(|| PathBuf::from(DEFAULT_EVENTS)),
            listen,
            cells,
            log_format: flags.log_format.or(parsed.log_format).unwrap_or_default(),
            admin_listen,
            admin_tokens,
            admin_token_file,
            state_dir: flags.state_dir.clone().or(parsed.state_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
            override_max_expiry,
            metrics_max_names,
            watch: parsed.watch.unwrap_or(true),
            history,
        })
    }
}

/// The parsed file (defaults when there is none); a file that cannot be read or parsed is
/// the only error that stops here, everything else is collected.
fn read_file(file: Option<&Path>, diags: &mut Diagnostics) -> Result<ConfigFile, LoadError> {
    let Some(path) = file else { return Ok(ConfigFile::default()) };
    diags.saw_file();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let mut d = Diagnostics::new();
        d.push(path, Pos::default(), "", Code::Io, format!("cannot read config: {e}"));
        LoadError { diagnostics: d.into_items(), files: 1 }
    })?;
    match parse_yaml::<ConfigFile>(path, &text, diags) {
        Some(c) => Ok(c),
        None => Err(LoadError { diagnostics: std::mem::take(diags).into_items(), files: 1 }),
    }
}

/// Checks of the settings, one method per block, every problem located.
struct SettingsCx {
    file: PathBuf,
    diags: Diagnostics,
}

impl SettingsCx {
    fn bad(&mut self, at: Pos, path: &str, message: String) {
        self.diags.push(&self.file, at, path, Code::InvalidSetting, message);
    }

    /// `listen`, `tcp`, `udp`.
    fn listen(&mut self, parsed: &ConfigFile) -> ListenConfig {
        let mut listen = ListenConfig::default();
        if let Some(addrs) = &parsed.listen {
            listen.addrs.clear();
            for (i, a) in addrs.iter().enumerate() {
                match a.value.parse::<SocketAddr>() {
                    Ok(addr) => listen.addrs.push(addr),
                    Err(_) => self.bad(pos(a), &format!("listen[{i}]"), format!("`{}`; expected address:port, e.g. 0.0.0.0:53 or [::]:53", a.value)),
                }
            }
        }
        if let Some(t) = &parsed.tcp {
            if let Some(idle) = &t.idle_timeout_secs {
                if !(1..=300).contains(&idle.value) {
                    self.bad(pos(idle), "tcp.idle_timeout_secs", format!("{}; expected 1 to 300", idle.value));
                }
                listen.tcp.idle = Duration::from_secs(idle.value);
            }
            if let Some(max) = &t.max_connections {
                if max.value == 0 {
                    self.bad(pos(max), "tcp.max_connections", "0; expected at least 1".to_string());
                }
                listen.tcp.max_connections = max.value;
            }
        }
        if let Some(w) = &parsed.udp_workers {
            if parsed.udp.as_ref().is_some_and(|u| u.workers.is_some()) {
                self.bad(pos(w), "udp_workers", "set twice: `udp_workers` is the older spelling of `udp.workers`; keep only `udp.workers`".to_string());
            } else if !(1..=256).contains(&w.value) {
                self.bad(pos(w), "udp_workers", format!("{}; expected 1 to 256", w.value));
            }
            listen.udp.workers = w.value;
        }
        if let Some(u) = &parsed.udp {
            let mut setting = |value: &Option<Spanned<usize>>, path: &str, range: std::ops::RangeInclusive<usize>, expected: &str| {
                let v = value.as_ref()?;
                if !range.contains(&v.value) {
                    self.bad(pos(v), path, format!("{}; expected {expected}", v.value));
                }
                Some(v.value)
            };
            if let Some(v) = setting(&u.workers, "udp.workers", 1..=256, "1 to 256") {
                listen.udp.workers = v;
            }
            if let Some(v) = setting(&u.batch, "udp.batch", 1..=1024, "1 to 1024") {
                listen.udp.batch = v;
            }
            if let Some(v) = setting(&u.receive_buffer_bytes, "udp.receive_buffer_bytes", 65_536..=1 << 30, "65536 to 1073741824") {
                listen.udp.receive_buffer = v;
            }
            if let Some(v) = setting(&u.send_buffer_bytes, "udp.send_buffer_bytes", 65_536..=1 << 30, "65536 to 1073741824") {
                listen.udp.send_buffer = v;
            }
        }
        listen
    }

    /// `cell_prefix`.
    fn cells(&mut self, parsed: &ConfigFile) -> CellPrefixes {
        let mut cells = CellPrefixes::default();
        let Some(c) = &parsed.cell_prefix else { return cells };
        if let Some(v4) = &c.ipv4 {
            if !(8..=32).contains(&v4.value) {
                self.bad(pos(v4), "cell_prefix.ipv4", format!("{}; expected 8 to 32", v4.value));
            }
            cells.v4 = v4.value;
        }
        if let Some(v6) = &c.ipv6 {
            if !(16..=128).contains(&v6.value) {
                self.bad(pos(v6), "cell_prefix.ipv6", format!("{}; expected 16 to 128", v6.value));
            }
            cells.v6 = v6.value;
        }
        cells
    }

    /// `admin`: the listener and the token file (the command line's file wins).
    fn admin(&mut self, parsed: &ConfigFile, flags: &Flags) -> (Option<SocketAddr>, Vec<NamedToken>, Option<PathBuf>) {
        let mut listen = Some(DEFAULT_ADMIN_LISTEN);
        let admin = parsed.admin.as_ref();
        if let Some(l) = admin.and_then(|a| a.listen.as_ref()) {
            match l.value.parse::<AdminListen>() {
                Ok(AdminListen::Off) => listen = None,
                Ok(AdminListen::At(addr)) => listen = Some(addr),
                Err(message) => self.bad(pos(l), "admin.listen", message),
            }
        }
        if let Some(path) = &flags.admin_token_file {
            match read_admin_tokens(path) {
                Ok(t) => return (listen, t, Some(path.clone())),
                Err(message) => self.diags.push(path, Pos::default(), "--admin-token-file", Code::InvalidSetting, message),
            }
        } else if let Some(t) = admin.and_then(|a| a.token_file.as_ref()) {
            match read_admin_tokens(Path::new(&t.value)) {
                Ok(tokens) => return (listen, tokens, Some(PathBuf::from(&t.value))),
                Err(message) => self.bad(pos(t), "admin.token_file", message),
            }
        }
        (listen, Vec::new(), None)
    }

    /// `overrides.max_expiry`.
    fn override_max_expiry(&mut self, parsed: &ConfigFile) -> u64 {
        let Some(v) = parsed.overrides.as_ref().and_then(|o| o.max_expiry.as_ref()) else { return DEFAULT_OVERRIDE_MAX_EXPIRY };
        match crate::timestamp::parse_duration(&v.value) {
            Ok(ms) if ms <= 30 * 86_400_000 => ms,
            Ok(_) => {
                self.bad(pos(v), "overrides.max_expiry", format!("`{}`; expected at most 30d", v.value));
                DEFAULT_OVERRIDE_MAX_EXPIRY
            }
            Err(message) => {
                self.bad(pos(v), "overrides.max_expiry", message);
                DEFAULT_OVERRIDE_MAX_EXPIRY
            }
        }
    }

    /// `metrics.max_names`.
    fn metrics_max_names(&mut self, parsed: &ConfigFile) -> usize {
        let Some(v) = parsed.metrics.as_ref().and_then(|m| m.max_names.as_ref()) else { return DEFAULT_METRICS_MAX_NAMES };
        if v.value > MAX_METRICS_NAMES {
            self.bad(pos(v), "metrics.max_names", format!("{}; expected 0 to {MAX_METRICS_NAMES}", v.value));
        }
        v.value
    }

    /// `history`: durations within their ranges, `full_resolution` at most `retention`.
    fn history(&mut self, parsed: &ConfigFile) -> HistorySettings {
        let mut out = HistorySettings::default();
        let Some(h) = &parsed.history else { return out };
        out.enabled = h.enabled.unwrap_or(true);
        const S: u64 = 1000;
        const H: u64 = 3_600_000;
        let fields: [(&Option<Spanned<String>>, &str, u64, u64, &str, &mut u64); 5] = [
            (&h.retention, "history.retention", H, 3650 * 24 * H, "1h to 3650d", &mut out.retention_ms),
            (&h.full_resolution, "history.full_resolution", H, 3650 * 24 * H, "1h to 3650d", &mut out.full_resolution_ms),
            (&h.keyframe_interval, "history.keyframe_interval", S, 300 * S, "1s to 5m", &mut out.keyframe_ms),
            (&h.answers_interval, "history.answers_interval", S, 300 * S, "1s to 5m", &mut out.answers_interval_ms),
            (&h.checkpoint_interval, "history.checkpoint_interval", S, 600 * S, "1s to 10m", &mut out.checkpoint_ms),
        ];
        for (value, path, lo, hi, range, slot) in fields {
            let Some(v) = value else { continue };
            match crate::timestamp::parse_duration(&v.value) {
                Ok(ms) if (lo..=hi).contains(&ms) => *slot = ms,
                Ok(_) => self.bad(pos(v), path, format!("`{}`; expected {range}", v.value)),
                Err(message) => self.bad(pos(v), path, message),
            }
        }
        if out.full_resolution_ms > out.retention_ms {
            let at = h.full_resolution.as_ref().or(h.retention.as_ref()).map(pos).unwrap_or_default();
            self.bad(at, "history.full_resolution", format!("{} is longer than history.retention ({}); expected at most the retention", crate::timestamp::human_duration(out.full_resolution_ms), crate::timestamp::human_duration(out.retention_ms)));
        }
        out
    }
}
