//! Daemon settings: a versioned YAML file (strict, like the zones), defaults that make
//! `cdnsteer serve` work from the repository root, and command-line overrides on top.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::decide::CellPrefixes;
use crate::diag::{Code, Diagnostics, LoadError, Pos};
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

/// Overrides from the command line; `None` keeps the file's (or the default) value.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--zones`.
    pub zones: Option<PathBuf>,
    /// `--geoip`.
    pub geoip: Option<PathBuf>,
    /// `--listen`, repeatable.
    pub listen: Vec<SocketAddr>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
}

/// The resolved, immutable daemon configuration.
#[derive(Debug, Clone)]
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
}

/// Default zone directory, relative to the working directory.
pub const DEFAULT_ZONES: &str = "zones";
/// Default GeoIP database, relative to the working directory.
pub const DEFAULT_GEOIP: &str = "geoip/iptoasn-country.mmdb";

impl Config {
    /// Defaults, then the file (if any), then the command line.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, LoadError> {
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
        if !diags.is_empty() {
            let files = diags.files_seen();
            return Err(LoadError { diagnostics: diags.into_items(), files });
        }
        if !overrides.listen.is_empty() {
            listen.addrs = overrides.listen.clone();
        }
        Ok(Config {
            zones: overrides.zones.clone().or(parsed.zones).unwrap_or_else(|| PathBuf::from(DEFAULT_ZONES)),
            geoip: overrides.geoip.clone().or(parsed.geoip).unwrap_or_else(|| PathBuf::from(DEFAULT_GEOIP)),
            listen,
            cells,
            log_format: overrides.log_format.or(parsed.log_format).unwrap_or_default(),
        })
    }
}
