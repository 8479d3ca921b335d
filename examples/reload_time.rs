//! How long a reload takes, trigger to swap, on the real reload path (`Running::reload`, the
//! transaction SIGHUP, `POST /api/v1/reload` and the file watcher share), for:
//!
//! 1. the bundled zones, GeoIP file unchanged (zones re-read, checked, planned, published);
//! 2. the bundled zones with the GeoIP file rewritten (the database re-read and verified too);
//! 3. a generated zone of 10,000 steered names (shaped like the bundled `live`: 4 CDNs, 4
//!    regions each), GeoIP unchanged.
//!
//! Then the stages of case 3 alone: parse + check, plan, wire table. Prints figures; asserts
//! nothing. Run it optimised:
//!
//! ```text
//! cargo run --release --example reload_time [ROUNDS] [NAMES]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cdnsteer::config::{AdminListen, Config, Flags};
use cdnsteer::daemon::{self, Running};
use cdnsteer::overrides::OverrideSet;

/// Steered names in the generated zone, unless given.
const NAMES: usize = 10_000;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A zone with `names` steered names, each like the bundled `live.example.com`.
fn generated_zone(names: usize) -> String {
    let mut text = String::from(
        "version: 1\nzone: gen.test\nsoa: {primary: ns1.gen.test., contact: hostmaster.gen.test., serial: 1}\nrecords:\n  - {name: \"@\", type: NS, value: ns1.gen.test.}\n  - {name: ns1, type: A, value: 192.0.2.1}\nsteered:\n",
    );
    for i in 0..names {
        text.push_str(&format!(
            "  live{i}:
    ttl: 20
    last_resort: akamai
    cdns:
      akamai: {{target: live{i}.akamaized.net}}
      fastly: {{target: live{i}.global.ssl.fastly.net}}
      cloudfront: {{target: d{i}.cloudfront.net}}
      edgio: {{target: live{i}.edgecastcdn.net}}
    regions:
      countries:
        KR: {{akamai: 40, cloudfront: 35, fastly: 25}}
        JP: {{akamai: 50, fastly: 50}}
      continents:
        AS: {{cloudfront: 60, akamai: 40}}
      default: {{fastly: 40, cloudfront: 30, akamai: 15, edgio: 15}}
"
        ));
    }
    text
}

async fn start(zones: &Path, geoip: &Path, state: &Path) -> Result<Running, String> {
    let flags = Flags {
        zones: Some(zones.to_path_buf()),
        geoip: Some(geoip.to_path_buf()),
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        admin_listen: Some(AdminListen::Off),
        ..Flags::default()
    };
    let mut config = Config::load(None, &flags).map_err(|e| e.to_string())?;
    config.state_dir = state.to_path_buf();
    config.watch = false;
    daemon::start(config).await.map_err(|e| e.to_string())
}

/// Reload `rounds` times (after `before` each time) and print min / median / max.
async fn measure(label: &str, running: &Running, rounds: usize, mut before: impl FnMut()) -> Result<(), String> {
    let mut took: Vec<Duration> = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        before();
        let started = Instant::now();
        running.reload().await?;
        took.push(started.elapsed());
    }
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<48} min {:8.2} ms   median {:8.2} ms   max {:8.2} ms   ({rounds} reloads)",
        ms(took[0]),
        ms(took[rounds / 2]),
        ms(took[rounds - 1])
    );
    Ok(())
}

fn stage<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    println!("  {label:<46} {:8.2} ms", started.elapsed().as_secs_f64() * 1000.0);
    out
}

async fn run(rounds: usize, names: usize) -> Result<(), String> {
    let tmp = std::env::temp_dir().join(format!("cdnsteer-reload-time-{}", std::process::id()));
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(tmp.join("state")).map_err(io)?;
    let bundled_geo = repo().join("geoip/iptoasn-country.mmdb");

    // 1. Bundled zones, GeoIP unchanged.
    let running = start(&repo().join("zones"), &bundled_geo, &tmp.join("state")).await?;
    measure("bundled zones (GeoIP unchanged)", &running, rounds, || {}).await?;
    running.shutdown().await;

    // 2. Bundled zones, GeoIP file rewritten before each reload.
    let geo = tmp.join("country.mmdb");
    let bytes = std::fs::read(&bundled_geo).map_err(io)?;
    std::fs::write(&geo, &bytes).map_err(io)?;
    let running = start(&repo().join("zones"), &geo, &tmp.join("state")).await?;
    let mut failed = None;
    measure("bundled zones + GeoIP re-read", &running, rounds, || {
        if let Err(e) = std::fs::write(&geo, &bytes) {
            failed = Some(e.to_string());
        }
    })
    .await?;
    if let Some(e) = failed {
        return Err(e);
    }
    running.shutdown().await;

    // 3. 10,000 steered names.
    let zones = tmp.join("zones");
    std::fs::create_dir_all(&zones).map_err(io)?;
    let text = generated_zone(names);
    std::fs::write(zones.join("gen.test.yaml"), &text).map_err(io)?;
    let running = start(&zones, &bundled_geo, &tmp.join("state")).await?;
    measure(&format!("{names} steered names, {} KB (GeoIP unchanged)", text.len() / 1024), &running, rounds.min(10), || {}).await?;
    running.shutdown().await;

    println!("stages of one reload of {names} steered names:");
    let set = stage("read + parse + check (zone::load_dir)", || cdnsteer::zone::load_dir(&zones)).map_err(|e| e.to_string())?;
    let mut diags = cdnsteer::diag::Diagnostics::new();
    let path = zones.join("gen.test.yaml");
    stage("  of which YAML parse (zone::spec::parse_yaml)", || cdnsteer::zone::spec::parse_yaml::<cdnsteer::zone::spec::ZoneFile>(&path, &text, &mut diags));
    let cells = cdnsteer::steer::CellPrefixes::default();
    stage("plan (steer::plan, configured weights)", || cdnsteer::steer::plan(&set, &cdnsteer::health::NoHealth, &OverrideSet::default(), 0, cells));
    stage("wire table (dns::ZoneTable::build)", || cdnsteer::dns::ZoneTable::build(&set));
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20).max(1);
    let names: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(NAMES);
    if let Err(e) = run(rounds, names).await {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
