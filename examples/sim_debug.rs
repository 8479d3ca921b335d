//! One region's shares tick by tick in a simulated night, printed when they change, with the
//! observations of that tick: how a policy question gets answered.
//!
//! ```text
//! cargo run --release --example sim_debug -- scenarios/final.yaml country:KR 9000
//! ```

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "scenarios/final.yaml".into());
    let region = args.next().unwrap_or_else(|| "country:KR".into());
    let until_secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(600);
    if let Err(e) = show(&path, &region, until_secs) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn show(path: &str, region: &str, until_secs: u64) -> Result<(), String> {
    let night = cdnsteer::cli::simulate::prepare(std::path::Path::new(path)).map_err(|e| e.to_string())?;
    let out = cdnsteer::sim::run::run(&night, &cdnsteer::sim::run::RunOptions { tables: true, trace: true, ..Default::default() });
    let steered = night.zones.steered().nth(night.name).ok_or("no steered name")?;
    let index = steered.regions.iter().position(|r| r.key.to_string() == region).ok_or_else(|| format!("{region} is not a region of {}", steered.name))?;
    let mut last = Vec::new();
    for (t, table) in &out.tables {
        let offset = (t - night.start) / 1000;
        if offset > until_secs {
            break;
        }
        let Some(r) = table.names.get(night.name).and_then(|n| n.regions.get(index)) else { continue };
        let shares: Vec<(String, f64)> = r.shares.iter().map(|s| (steered.cdns[s.cdn].name.clone(), (s.weight * 1000.0).round() / 1000.0)).collect();
        if shares != last {
            let seen: Vec<String> = out
                .trace
                .iter()
                .filter(|x| x.tick == *t && x.observation.region.to_string() == region)
                .map(|x| format!("{}@{} errors {}/{} ttfb {:?}", x.observation.cdn, x.observation.vantage, x.observation.errors, x.observation.requests, x.observation.ttfb_ms))
                .collect();
            println!("T+{offset:>5} s  ttl {:>2}  {shares:?}  {seen:?}", r.ttl);
            last = shares;
        }
    }
    Ok(())
}
