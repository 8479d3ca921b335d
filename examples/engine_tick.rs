//! Instruction count of engine ticks for `valgrind --tool=callgrind` (10 steered names x 250
//! regions x 4 CDNs, fresh signals):
//!
//! ```text
//! cargo build --release --example engine_tick
//! valgrind --tool=callgrind target/release/examples/engine_tick 0
//! valgrind --tool=callgrind target/release/examples/engine_tick 50
//! # instructions per tick = (total(50) - total(0)) / 50
//! ```

#[path = "../benches/engine_fixture.rs"]
mod fixture;

use std::hint::black_box;


fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let countries = fixture::countries();
    let zones = match fixture::zones(&countries) {
        Ok(z) => z,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let (mut engine, mut now) = fixture::warm_engine(&zones, &countries);
    let overrides = cdnsteer::overrides::OverrideSet::new();
    for _ in 0..n {
        now += fixture::TICK_MS;
        let _ = black_box(engine.tick(&zones, &overrides, now));
    }
    println!("{n} ticks");
}
