//! The `cdnsteer` binary: parse arguments, set up logging, run. Everything else is in the
//! library.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use cdnsteer::cli::{Cli, Command, LogFormatArg};
use cdnsteer::config::{Config, LogFormat, Flags};

fn init_logging(format: LogFormat) {
    // hickory logs every request at info; keep it at warn unless asked.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,hickory_server=warn,hickory_proto=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
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
        Command::Check { dir, geoip } => {
            match cdnsteer::zone::load_dir(&dir) {
                Ok(zones) => {
                    println!(
                        "{}: {} zone{}, {} steered name{}: OK",
                        dir.display(),
                        zones.zones.len(),
                        if zones.zones.len() == 1 { "" } else { "s" },
                        zones.steered().count(),
                        if zones.steered().count() == 1 { "" } else { "s" }
                    );
                }
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            }
            if let Some(path) = geoip {
                let db = cdnsteer::geo::GeoDb::open(&path)?;
                let info = db.info();
                println!("{}: {} networks, {} records, type `{}`: OK", path.display(), info.networks, info.records, info.database_type);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { config, zones, geoip, listen, log_format, admin_listen, admin_token_file } => {
            let flags = Flags {
                zones,
                geoip,
                listen,
                admin_listen,
                admin_token_file,
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
