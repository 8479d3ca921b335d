//! Command-line interface: `serve`, `check`, the operator commands that talk to a running
//! server's admin API (`explain`, `override`, `reload`; bodies in `operate`), `feed`, and
//! `report` (the post-event report from the history; body in `report`).

pub mod feed;
pub mod operate;
pub mod report;
pub mod simulate;

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
        /// Event directory (events/*.yaml; default `events`, missing = no events).
        #[arg(long)]
        events: Option<PathBuf>,
        /// Address to serve UDP and TCP on; repeat for several.
        #[arg(long)]
        listen: Vec<SocketAddr>,
        /// Log format.
        #[arg(long, value_enum)]
        log_format: Option<LogFormatArg>,
        /// Admin API address (default 127.0.0.1:8053), or `off` for none.
        #[arg(long, value_name = "ADDR|off")]
        admin_listen: Option<AdminListen>,
        /// Admin token file (`NAME TOKEN` per line); without one, STATE_DIR/admin.token is
        /// created with a random token named `local`.
        #[arg(long, value_name = "PATH")]
        admin_token_file: Option<PathBuf>,
        /// Durable state (overrides, audit log, generated token); default `state`.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Check zone files (and optionally the GeoIP database) exactly as `serve` loads them; or
    /// a scenario file (`cdnsteer check scenarios/final.yaml`) with the zones and events it
    /// names.
    Check {
        /// Zone directory, or a scenario file.
        #[arg(default_value = "zones", value_name = "DIR|SCENARIO")]
        dir: PathBuf,
        /// Also open and verify this GeoIP database.
        #[arg(long)]
        geoip: Option<PathBuf>,
        /// Also check the override state file in this directory (as `serve` loads it).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Event directory checked against the zones (default `events`, when it exists).
        #[arg(long, value_name = "DIR", default_value = "events")]
        events: PathBuf,
        /// Also check scenarios (a file, or every *.yaml of a directory), each with the zones
        /// and events it names.
        #[arg(long, value_name = "PATH")]
        scenarios: Option<PathBuf>,
    },
    /// Explain why a client gets its answer for a steered name (region, candidates, scores,
    /// shares, overrides), from a running server or offline from the files.
    Explain {
        /// The steered name, e.g. live.example.com.
        name: String,
        /// The client's (or resolver's) address.
        #[arg(long)]
        client: Option<String>,
        /// The ECS subnet a resolver sends, ADDRESS/PREFIX.
        #[arg(long)]
        ecs: Option<String>,
        /// Print the JSON the admin API returns.
        #[arg(long)]
        json: bool,
        /// Without a server: zone files and GeoIP alone, configured weights.
        #[arg(long)]
        offline: bool,
        /// Zone directory (with --offline).
        #[arg(long, default_value = "zones")]
        zones: PathBuf,
        /// GeoIP database (with --offline).
        #[arg(long, default_value = "geoip/iptoasn-country.mmdb")]
        geoip: PathBuf,
        /// Admin API of the running server.
        #[arg(long, default_value = crate::admin::client::DEFAULT_ADMIN_URL)]
        admin: String,
    },
    /// List, add or remove operator overrides (drain, pin, weight) on a running server.
    Override {
        /// What to do.
        #[command(subcommand)]
        action: OverrideAction,
        /// Admin API of the running server.
        #[arg(long, global = true, default_value = crate::admin::client::DEFAULT_ADMIN_URL)]
        admin: String,
        /// Token file (`NAME TOKEN` lines); else $CDNSTEER_TOKEN, else STATE_DIR/admin.token.
        #[arg(long, global = true, value_name = "PATH")]
        token_file: Option<PathBuf>,
        /// Where `serve` keeps its generated token.
        #[arg(long, global = true, default_value = "state")]
        state_dir: PathBuf,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Play generated player telemetry into a running server (one CDN degrading in one region
    /// for a while), for demos and rehearsals.
    Feed(FeedArgs),
    /// The post-event report of an event's window (or --from/--to, or between two
    /// annotations) from the history: HTML for the customer, JSON with everything, or the
    /// per-CDN x region table as CSV.
    Report(report::ReportArgs),
    /// Reload zones, events and GeoIP on a running server; prints the new generation or every
    /// problem, or that an event's change freeze holds the change.
    Reload {
        /// Apply a change that an event's freeze holds (needs --reason).
        #[arg(long, requires = "reason")]
        force: bool,
        /// Why the freeze is overridden (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        /// Admin API of the running server.
        #[arg(long, default_value = crate::admin::client::DEFAULT_ADMIN_URL)]
        admin: String,
        /// Token file; else $CDNSTEER_TOKEN, else STATE_DIR/admin.token.
        #[arg(long, value_name = "PATH")]
        token_file: Option<PathBuf>,
        /// Where `serve` keeps its generated token.
        #[arg(long, default_value = "state")]
        state_dir: PathBuf,
    },
    /// Rehearse a match night from a scenario (scenarios/*.yaml) through the real steering
    /// engine with simulated time; prints a summary and exits 2 when a limit of the scenario
    /// is broken.
    Simulate {
        /// The scenario file.
        scenario: PathBuf,
        /// Also write the simulated night into this (new) history database, for `cdnsteer
        /// report --history FILE`.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Simulated tick (500ms, 1s, 5s; default: the scenario's `tick`, else the zone's).
        #[arg(long, value_name = "DURATION")]
        tick: Option<String>,
        /// Run a grid of policy settings instead (the scenario's `sweep:` or --param) and rank them.
        #[arg(long)]
        sweep: bool,
        /// A sweep axis, NAME=V1,V2,... (e.g. max_change_per_tick=0.1,0.2); repeatable.
        #[arg(long, value_name = "NAME=V1,V2", requires = "sweep")]
        param: Vec<String>,
        /// Sweep threads (0: every core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Sweep points printed.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Capacity needed per CDN and region at the scenario's peak under the current policy,
    /// with N-1 in the biggest region, against the zone's capacity and commits; exits 2 when
    /// something is short.
    Forecast {
        /// The scenario file.
        scenario: PathBuf,
        /// Headroom factor (default: the scenario's `forecast.headroom`).
        #[arg(long)]
        headroom: Option<f64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put a note on the timeline ("kickoff", "akamai KR ticket #123"): stored in the history,
    /// drawn on the dashboard's timelines and in the report.
    Annotate {
        /// The note.
        text: String,
        /// When (RFC 3339; default now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Who (default: $USER).
        #[arg(long)]
        author: Option<String>,
        /// Admin API of the running server.
        #[arg(long, default_value = crate::admin::client::DEFAULT_ADMIN_URL)]
        admin: String,
        /// Token file; else $CDNSTEER_TOKEN, else STATE_DIR/admin.token.
        #[arg(long, value_name = "PATH")]
        token_file: Option<PathBuf>,
        /// Where `serve` keeps its generated token.
        #[arg(long, default_value = "state")]
        state_dir: PathBuf,
    },
}

/// `cdnsteer feed`: generated player telemetry for demos and rehearsals.
#[derive(Debug, clap::Args)]
pub struct FeedArgs {
    /// Admin API of the running server.
    #[arg(long, default_value = crate::admin::client::DEFAULT_ADMIN_URL)]
    pub admin: String,
    /// Token file; else $CDNSTEER_TOKEN, else STATE_DIR/admin.token.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Where `serve` keeps its generated token.
    #[arg(long, default_value = "state")]
    pub state_dir: PathBuf,
    /// How long to play: 3m, 90s.
    #[arg(long, default_value = "3m")]
    pub duration: String,
    /// Window length, seconds.
    #[arg(long, default_value_t = 2)]
    pub every: u64,
    /// CDN:REGION that degrades (e.g. cloudfront:KR); `none` for a healthy stream.
    #[arg(long, default_value = "cloudfront:KR")]
    pub degrade: String,
    /// When it starts degrading, into the feed: 60s.
    #[arg(long, default_value = "60s")]
    pub at: String,
    /// How long it stays degraded: 90s.
    #[arg(long = "for", default_value = "90s")]
    pub for_: String,
    /// Concurrent viewers across all regions at the peak.
    #[arg(long, default_value_t = 1_800_000)]
    pub viewers: u64,
    /// The server's DNS listener, for the resolvers' queries.
    #[arg(long, default_value = "127.0.0.1:5353")]
    pub dns: SocketAddr,
    /// DNS queries per second for the steered name, with ECS from each region (0: none).
    #[arg(long, default_value_t = 100)]
    pub qps: u32,
}

/// `cdnsteer override ...`.
#[derive(Debug, Subcommand)]
pub enum OverrideAction {
    /// The overrides in force.
    List,
    /// Add one: exactly one of --drain, --pin, --weight.
    Add {
        /// Take this CDN out of the answers.
        #[arg(long, value_name = "CDN", group = "kind")]
        drain: Option<String>,
        /// Send the whole scope to this CDN.
        #[arg(long, value_name = "CDN", group = "kind")]
        pin: Option<String>,
        /// Set a CDN's weight: CDN=WEIGHT.
        #[arg(long, value_name = "CDN=WEIGHT", group = "kind")]
        weight: Option<String>,
        /// Steered name (default: every steered name).
        #[arg(long)]
        name: Option<String>,
        /// Region: KR, country:KR, continent:AS, network:NAME, default (default: every region).
        #[arg(long)]
        region: Option<String>,
        /// How long: 10m, 2h, 1h30m.
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Until when (RFC 3339), instead of --expires.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// Who asked (default: $USER).
        #[arg(long)]
        author: Option<String>,
        /// Drain even if a region is left with no candidate (it then answers its last resort).
        #[arg(long)]
        force: bool,
    },
    /// Remove one by id.
    Remove {
        /// The override's id (`ovr-3`).
        id: String,
    },
}
