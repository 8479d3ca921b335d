fn main() {
    let path = std::env::args().nth(1).unwrap_or("scenarios/final.yaml".into());
    let region = std::env::args().nth(2).unwrap_or("country:JP".into());
    let limit: u64 = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(600);
    let night = cdnsteer::cli::simulate::prepare(std::path::Path::new(&path)).unwrap();
    let out = cdnsteer::sim::run::run(&night, &cdnsteer::sim::run::RunOptions { tables: true, trace: true, ..Default::default() });
    let steered = night.zones.steered().nth(night.name).unwrap();
    let ri = steered.regions.iter().position(|r| r.key.to_string() == region).unwrap();
    let mut last = Vec::new();
    for (t, table) in &out.tables {
        let off = (t - night.start) / 1000;
        if off > limit { break; }
        let r = &table.names[night.name].regions[ri];
        let w: Vec<(String, f64)> = r.shares.iter().map(|s| (steered.cdns[s.cdn].name.clone(), (s.weight * 1000.0).round() / 1000.0)).collect();
        if w != last {
            let obs: Vec<String> = out.trace.iter().filter(|x| x.tick == *t && x.observation.region.to_string() == region).map(|x| format!("{}@{} e{}/{} t{:?} thr{:?} hit{:?}", x.observation.cdn, x.observation.vantage, x.observation.errors, x.observation.requests, x.observation.ttfb_ms, x.observation.throughput_mbps, x.observation.cache_hits)).collect();
            println!("{off:>5} ttl {:>2} {:?} {:?}", r.ttl, w, obs);
            last = w;
        }
    }
}
