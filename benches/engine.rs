//! Engine tick cost: 10 steered names x 250 regions x 4 CDNs, every candidate with fresh
//! signals (the worst case: every region is scored every tick).

#[path = "engine_fixture.rs"]
mod fixture;

use std::hint::black_box;

use cdnsteer::health::engine::Engine;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let countries = fixture::countries();
    let zones = fixture::zones(&countries).unwrap_or_else(|e| panic!("{e}"));
    let regions: usize = zones.steered().map(|s| s.regions.len()).sum();
    assert_eq!(regions, 2500);
    let (mut engine, mut now) = fixture::warm_engine(&zones, &countries);
    c.bench_function("engine tick: 10 names x 250 regions x 4 CDNs", |b| {
        // 1 ms per iteration keeps the signals fresh (30 s staleness) for the whole run.
        b.iter(|| {
            now += 1;
            black_box(engine.tick(&zones, now))
        })
    });
    c.bench_function("engine decisions table: 10 x 250 x 4", |b| {
        b.iter(|| black_box(engine.decisions(&zones, cdnsteer::steer::decide::CellPrefixes::default())))
    });
    let batch = fixture::observations(&countries, now, 7.0);
    let mut engine2 = Engine::new();
    c.bench_function("ingest 996 observations", |b| {
        b.iter(|| {
            for o in &batch {
                engine2.ingest(o);
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
