//! The `cdnsteer` binary: parse arguments, set up logging, run. Everything else is in the
//! library.

#![deny(unsafe_code)]

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use cdnsteer::cli::feed as operate_feed;
use cdnsteer::cli::operate::{self, AddArgs, Output};
use cdnsteer::cli::simulate;
use cdnsteer::cli::{Cli, Command, LogFormatArg, OverrideAction};
use cdnsteer::config::{Config, LogFormat, Flags};

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    // hickory logs every request at info; keep it at warn unless asked.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,hickory_server=warn,hickory_proto=warn"));
    // Colour only on a terminal: journald and log files would store the escape codes raw.
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cdnsteer: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { dir, geoip, state_dir, events, scenarios } => check(&dir, geoip.as_deref(), state_dir.as_deref(), &events, scenarios.as_deref()),
        Command::Explain { name, client, ecs, json, offline, zones, geoip, admin } => {
            let out = if offline {
                operate::explain_offline(&zones, &geoip, &name, client.as_deref(), ecs.as_deref(), json)?
            } else {
                runtime()?.block_on(operate::explain_online(&admin, &name, client.as_deref(), ecs.as_deref(), json))?
            };
            Ok(print(out))
        }
        Command::Override { action, admin, token_file, state_dir, json } => {
            let rt = runtime()?;
            let token = || cdnsteer::admin::client::find_token(token_file.as_deref(), &state_dir);
            let out = match action {
                OverrideAction::List => rt.block_on(operate::override_list(&admin, json))?,
                OverrideAction::Add { drain, pin, weight, name, region, expires, until, reason, author, force } => {
                    let args = AddArgs { drain, pin, weight, name, region, expires, until, reason, author, force };
                    rt.block_on(operate::override_add(&admin, &token()?, &args, json))?
                }
                OverrideAction::Remove { id } => rt.block_on(operate::override_remove(&admin, &token()?, &id, json))?,
            };
            Ok(print(out))
        }
        Command::Feed(args) => {
            let token = cdnsteer::admin::client::find_token(args.token_file.as_deref(), &args.state_dir)?;
            let secs = |text: &str| cdnsteer::timestamp::parse_duration(text).map(|ms| ms / 1000).map_err(anyhow::Error::msg);
            let degrade = match args.degrade.as_str() {
                "none" => None,
                d => Some(d.split_once(':').map(|(c, r)| (c.to_string(), r.to_string())).ok_or_else(|| anyhow::anyhow!("--degrade `{d}`; expected CDN:REGION, e.g. cloudfront:KR, or none"))?),
            };
            let plan = operate_feed::FeedPlan {
                admin: args.admin,
                token,
                duration_secs: secs(&args.duration)?,
                every_secs: args.every,
                degrade,
                at_secs: secs(&args.at)?,
                for_secs: secs(&args.for_)?,
                viewers: args.viewers,
                dns: args.dns,
                qps: args.qps,
            };
            Ok(print(runtime()?.block_on(operate_feed::feed(&plan))?))
        }
        Command::Report(args) => {
            let now = cdnsteer::clock::Clock::new().now();
            Ok(print(cdnsteer::cli::report::run(&args, now)?))
        }
        Command::Simulate { scenario, history, json, tick, sweep, param, threads, top } => {
            let out = if sweep { simulate::simulate_sweep(&scenario, &param, threads, json, top)? } else { simulate::simulate_at(&scenario, history.as_ref(), json, tick.as_deref())? };
            print!("{}", out.text);
            Ok(if out.passed { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Command::Forecast { scenario, headroom, json } => {
            let out = simulate::forecast_cmd(&scenario, headroom, json)?;
            print!("{}", out.text);
            Ok(if out.passed { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Command::Annotate { text, at, author, admin, token_file, state_dir } => {
            let token = cdnsteer::admin::client::find_token(token_file.as_deref(), &state_dir)?;
            Ok(print(runtime()?.block_on(operate::annotate(&admin, &token, &text, at.as_deref(), author))?))
        }
        Command::Reload { admin, token_file, state_dir, force, reason } => {
            let token = cdnsteer::admin::client::find_token(token_file.as_deref(), &state_dir)?;
            let force = if force { reason } else { None };
            Ok(print(runtime()?.block_on(operate::reload(&admin, &token, force.as_deref()))?))
        }
        Command::Serve { config, zones, geoip, events, listen, log_format, admin_listen, admin_token_file, state_dir } => {
            let flags = Flags {
                zones,
                geoip,
                events,
                listen,
                admin_listen,
                admin_token_file,
                state_dir,
                log_format: log_format.map(|f| match f {
                    LogFormatArg::Text => LogFormat::Text,
                    LogFormatArg::Json => LogFormat::Json,
                }),
            };
            let config = match Config::load(config.as_deref(), &flags) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            };
            init_logging(config.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
            match runtime.block_on(cdnsteer::daemon::serve(config)) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// `cdnsteer check`: zones, and optionally the GeoIP database and the override state, loaded
/// exactly as `serve` loads them; scenarios with the zones and events they name (`dir` a
/// scenario file instead of a zone directory, or `--scenarios`).
fn check(dir: &std::path::Path, geoip: Option<&std::path::Path>, state_dir: Option<&std::path::Path>, events: &std::path::Path, scenarios: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let mut ok = true;
    // A file (or a missing *.yaml) is a scenario; anything else a zone directory.
    let yaml = dir.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if dir.is_file() || (yaml && !dir.exists()) {
        ok &= check_scenarios(dir);
    } else {
        ok &= check_zones(dir, events);
    }
    if let Some(path) = scenarios {
        ok &= check_scenarios(path);
    }
    if let Some(path) = geoip {
        let db = cdnsteer::geo::GeoDb::open(path)?;
        let info = db.info();
        println!("{}: {} networks, {} records, type `{}`: OK", path.display(), info.networks, info.records, info.database_type);
    }
    if let Some(dir) = state_dir {
        let store = cdnsteer::overrides::store::OverrideStore::new(dir);
        match store.load() {
            Ok(set) => println!("{}: {} override{}: OK", store.path().display(), set.items.len(), plural(set.items.len())),
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The zone directory, and the events checked against it when the directory exists.
fn check_zones(dir: &std::path::Path, events: &std::path::Path) -> bool {
    let mut ok = true;
    match cdnsteer::zone::load_dir(dir) {
        Ok(zones) => {
            let (z, s) = (zones.zones.len(), zones.steered().count());
            println!("{}: {z} zone{}, {s} steered name{}: OK", dir.display(), plural(z), plural(s));
            if events.exists() {
                match cdnsteer::event::load_dir(events, &zones) {
                    Ok(set) => println!("{}: {} event{}: OK", events.display(), set.events.len(), plural(set.events.len())),
                    Err(e) => {
                        eprintln!("{e}");
                        ok = false;
                    }
                }
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ok = false;
        }
    }
    ok
}

/// A scenario file, or every scenario file of a directory, each loaded with the zones and
/// events it names and cross-checked against them (as the simulator loads it).
fn check_scenarios(path: &std::path::Path) -> bool {
    let files = match cdnsteer::sim::scenario::scenario_files(path) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            eprintln!("{}: no scenario files (*.yaml, *.yml) in this directory", path.display());
            return false;
        }
        Err(e) => {
            eprintln!("{}: cannot read scenario directory: {e}", path.display());
            return false;
        }
    };
    let mut ok = true;
    for file in files {
        match cdnsteer::sim::scenario::load_checked(&file) {
            Ok(c) => {
                let s = &c.scenario;
                let (r, n, i) = (s.audience.regions.len(), s.cdns.len(), s.incidents.len());
                let event = s.event.as_ref().map(|e| format!(", event {e}")).unwrap_or_default();
                let zones = c.zones.zones.len();
                println!("{}: scenario {}: {r} region{}, {n} CDN{}, {i} incident{}; {zones} zone{}{event}: OK", file.display(), s.name, plural(r), plural(n), plural(i), plural(zones));
            }
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    ok
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A small runtime for the commands that talk to a server.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

/// Print a command's output where it belongs and give its exit code.
fn print(out: Output) -> ExitCode {
    if out.ok {
        print!("{}", out.text);
        ExitCode::SUCCESS
    } else {
        eprint!("{}", out.text);
        if !out.text.ends_with('\n') {
            eprintln!();
        }
        ExitCode::from(1)
    }
}
