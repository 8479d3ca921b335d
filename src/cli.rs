//! Command-line interface: `serve` and `check`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::AdminListen;

/// cdnsteer: authoritative GSLB DNS that steers viewers across CDNs.
#[derive(Debug, Parser)]
#[command(name = "cdnsteer", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log format on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable.
    Text,
    /// JSON lines.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve DNS (defaults: zones/, geoip/iptoasn-country.mmdb, 127.0.0.1:5353).
    Serve {
        /// Daemon config file (YAML, version: 1); flags below override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Zone directory.
        #[arg(long)]
        zones: Option<PathBuf>,
        /// GeoIP database (.mmdb).
        #[arg(long)]
        geoip: Option<PathBuf>,
        /// Address to serve UDP and TCP on; repeat for several.
        #[arg(long)]
        listen: Vec<SocketAddr>,
        /// Log format.
        #[arg(long, value_enum)]
        log_format: Option<LogFormatArg>,
        /// Admin API address (default 127.0.0.1:8053), or `off` for none.
        #[arg(long, value_name = "ADDR|off")]
        admin_listen: Option<AdminListen>,
        /// File holding the admin API bearer token; without one, telemetry pushes are refused.
        #[arg(long, value_name = "PATH")]
        admin_token_file: Option<PathBuf>,
    },
    /// Check zone files (and optionally the GeoIP database) exactly as `serve` loads them.
    Check {
        /// Zone directory.
        #[arg(default_value = "zones")]
        dir: PathBuf,
        /// Also open and verify this GeoIP database.
        #[arg(long)]
        geoip: Option<PathBuf>,
    },
}
