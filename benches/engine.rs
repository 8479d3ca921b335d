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
    let overrides = cdnsteer::overrides::OverrideSet::new();
    c.bench_function("engine tick: 10 names x 250 regions x 4 CDNs", |b| {
        // One tick per iteration; the fixture's hour of staleness keeps the signals fresh.
        b.iter(|| {
            now += fixture::TICK_MS;
            black_box(engine.tick(&zones, &overrides, now))
        })
    });
    c.bench_function("plan (decision table + explain): 10 x 250 x 4", |b| {
        b.iter(|| black_box(cdnsteer::steer::plan(&zones, &engine, &overrides, now, cdnsteer::steer::CellPrefixes::default())))
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
