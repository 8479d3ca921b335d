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
//! `--admin-listen off` turns it off). The token file is read once, at load time: its
//! contents, trimmed, are the bearer token telemetry pushes must present; an unreadable or
//! empty file, or one with spaces inside the token, is an `invalid-setting` error. Without a
//! token file the read-only endpoints still work, and telemetry is refused with 403 wherever
//! the listener is bound.
//!
//! # Metrics
//!
//! ```yaml
//! metrics:
//!   max_names: 50                       # steered names with their own name label (0 to 100000)
//! ```
//!
//! Steered answers are counted by name, region and CDN for the first `max_names` steered
//! names (in zone order); the others are counted together as `name="_other"`, so thousands of
//! names do not make millions of series.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::str::FromStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::steer::decide::CellPrefixes;
use crate::diag::{Code, Diagnostics, LoadError, Pos};
use crate::dns::counters::DEFAULT_MAX_NAMES;
use crate::dns::listener::ListenConfig;
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
    /// Addresses to serve DNS on (UDP and TCP).
    #[serde(default)]
    pub listen: Option<Vec<Spanned<String>>>,
    /// Client cell prefixes for sticky selection.
    #[serde(default)]
    pub cell_prefix: Option<CellPrefixFile>,
    /// TCP limits.
    #[serde(default)]
    pub tcp: Option<TcpFile>,
    /// UDP worker tasks per socket.
    #[serde(default)]
    pub udp_workers: Option<Spanned<usize>>,
    /// Log format.
    #[serde(default)]
    pub log_format: Option<LogFormat>,
    /// Admin API.
    #[serde(default)]
    pub admin: Option<AdminFile>,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: Option<MetricsFile>,
}

/// `metrics:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// Steered names counted under their own name label.
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
    /// `--listen`, repeatable.
    pub listen: Vec<SocketAddr>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `--admin-listen` (`address:port` or `off`).
    pub admin_listen: Option<AdminListen>,
    /// `--admin-token-file`.
    pub admin_token_file: Option<PathBuf>,
}

/// The resolved, immutable daemon configuration. `Debug` never prints the admin token.
#[derive(Clone)]
pub struct Config {
    /// Zone directory.
    pub zones: PathBuf,
    /// GeoIP database.
    pub geoip: PathBuf,
    /// Listener settings.
    pub listen: ListenConfig,
    /// Client cells.
    pub cells: CellPrefixes,
    /// Log format.
    pub log_format: LogFormat,
    /// Admin API address; `None` runs no admin listener.
    pub admin_listen: Option<SocketAddr>,
    /// Bearer token for the admin API's mutating endpoints; `None` refuses them (403).
    pub admin_token: Option<String>,
    /// Steered names whose answers are counted under their own name label (`metrics.max_names`).
    pub metrics_max_names: usize,
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
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<redacted>"))
            .field("metrics_max_names", &self.metrics_max_names)
            .finish()
    }
}

/// Default zone directory, relative to the working directory.
pub const DEFAULT_ZONES: &str = "zones";
/// Default GeoIP database, relative to the working directory.
pub const DEFAULT_GEOIP: &str = "geoip/iptoasn-country.mmdb";
/// Default admin API address: loopback only.
pub const DEFAULT_ADMIN_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8053));

/// The trimmed contents of an admin token file, or why it cannot be used.
pub fn read_admin_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read admin token file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("admin token file {} is empty; expected one line holding the token", path.display()));
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "admin token in {} has spaces or non-ASCII characters; expected one printable ASCII word (e.g. `openssl rand -hex 32`)",
            path.display()
        ));
    }
    Ok(token.to_string())
}

impl Config {
    /// Defaults, then the file (if any), then the command line.
    pub fn load(file: Option<&Path>, flags: &Flags) -> Result<Config, LoadError> {
        let mut diags = Diagnostics::new();
        let parsed = match file {
            None => ConfigFile::default(),
            Some(path) => {
                diags.saw_file();
                let text = std::fs::read_to_string(path).map_err(|e| {
                    let mut d = Diagnostics::new();
                    d.push(path, Pos::default(), "", Code::Io, format!("cannot read config: {e}"));
                    LoadError { diagnostics: d.into_items(), files: 1 }
                })?;
                match parse_yaml::<ConfigFile>(path, &text, &mut diags) {
                    Some(c) => c,
                    None => return Err(LoadError { diagnostics: diags.into_items(), files: 1 }),
                }
            }
        };
        let file_path = file.map(Path::to_path_buf).unwrap_or_default();
        let mut bad = |at: Pos, path: &str, message: String| {
            diags.push(&file_path, at, path, Code::InvalidSetting, message);
        };
        if let Some(v) = &parsed.version {
            if v.value != 1 {
                bad(pos(v), "version", format!("version {} is not supported; expected 1", v.value));
            }
        }
        let mut listen = ListenConfig::default();
        if let Some(addrs) = &parsed.listen {
            listen.addrs.clear();
            for (i, a) in addrs.iter().enumerate() {
                match a.value.parse::<SocketAddr>() {
                    Ok(addr) => listen.addrs.push(addr),
                    Err(_) => bad(pos(a), &format!("listen[{i}]"), format!("`{}`; expected address:port, e.g. 0.0.0.0:53 or [::]:53", a.value)),
                }
            }
        }
        let mut cells = CellPrefixes::default();
        if let Some(c) = &parsed.cell_prefix {
            if let Some(v4) = &c.ipv4 {
                if !(8..=32).contains(&v4.value) {
                    bad(pos(v4), "cell_prefix.ipv4", format!("{}; expected 8 to 32", v4.value));
                }
                cells.v4 = v4.value;
            }
            if let Some(v6) = &c.ipv6 {
                if !(16..=128).contains(&v6.value) {
                    bad(pos(v6), "cell_prefix.ipv6", format!("{}; expected 16 to 128", v6.value));
                }
                cells.v6 = v6.value;
            }
        }
        if let Some(t) = &parsed.tcp {
            if let Some(idle) = &t.idle_timeout_secs {
                if !(1..=300).contains(&idle.value) {
                    bad(pos(idle), "tcp.idle_timeout_secs", format!("{}; expected 1 to 300", idle.value));
                }
                listen.tcp_idle = Duration::from_secs(idle.value);
            }
            if let Some(max) = &t.max_connections {
                if max.value == 0 {
                    bad(pos(max), "tcp.max_connections", "0; expected at least 1".to_string());
                }
                listen.tcp_max_connections = max.value;
            }
        }
        if let Some(w) = &parsed.udp_workers {
            if !(1..=256).contains(&w.value) {
                bad(pos(w), "udp_workers", format!("{}; expected 1 to 256", w.value));
            }
            listen.udp_workers = w.value;
        }
        let mut metrics_max_names = DEFAULT_MAX_NAMES;
        if let Some(m) = parsed.metrics.as_ref().and_then(|m| m.max_names.as_ref()) {
            if m.value > MAX_METRICS_NAMES {
                bad(pos(m), "metrics.max_names", format!("{}; expected 0 to {MAX_METRICS_NAMES}", m.value));
            }
            metrics_max_names = m.value;
        }
        let mut admin_listen = Some(DEFAULT_ADMIN_LISTEN);
        let mut admin_token = None;
        let admin = parsed.admin.as_ref();
        if let Some(l) = admin.and_then(|a| a.listen.as_ref()) {
            match l.value.parse::<AdminListen>() {
                Ok(AdminListen::Off) => admin_listen = None,
                Ok(AdminListen::At(addr)) => admin_listen = Some(addr),
                Err(message) => bad(pos(l), "admin.listen", message),
            }
        }
        if let Some(path) = &flags.admin_token_file {
            match read_admin_token(path) {
                Ok(t) => admin_token = Some(t),
                Err(message) => diags.push(path, Pos::default(), "--admin-token-file", Code::InvalidSetting, message),
            }
        } else if let Some(t) = admin.and_then(|a| a.token_file.as_ref()) {
            match read_admin_token(Path::new(&t.value)) {
                Ok(token) => admin_token = Some(token),
                Err(message) => diags.push(&file_path, pos(t), "admin.token_file", Code::InvalidSetting, message),
            }
        }
        match flags.admin_listen {
            Some(AdminListen::Off) => admin_listen = None,
            Some(AdminListen::At(addr)) => admin_listen = Some(addr),
            None => {}
        }
        if !diags.is_empty() {
            let files = diags.files_seen();
            return Err(LoadError { diagnostics: diags.into_items(), files });
        }
        if !flags.listen.is_empty() {
            listen.addrs = flags.listen.clone();
        }
        Ok(Config {
            zones: flags.zones.clone().or(parsed.zones).unwrap_or_else(|| PathBuf::from(DEFAULT_ZONES)),
            geoip: flags.geoip.clone().or(parsed.geoip).unwrap_or_else(|| PathBuf::from(DEFAULT_GEOIP)),
            listen,
            cells,
            log_format: flags.log_format.or(parsed.log_format).unwrap_or_default(),
            admin_listen,
            admin_token,
            metrics_max_names,
        })
    }
}
