//! Replays the committed fuzz seed corpus (`fuzz/corpus/*`) through the fuzz target bodies on
//! stable Rust, so every seed (and every crash input added after a fix) stays a regression
//! test without libFuzzer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use cdnsteer::fuzz::{bundled_handler, fuzz_packet, fuzz_zone_loader};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The regular files of a corpus directory, sorted, with their bytes.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = repo().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

fn name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Run `body` on every seed; report every seed that panicked, not just the first.
fn replay(seeds: &[(PathBuf, Vec<u8>)], mut body: impl FnMut(&[u8])) {
    let mut failed = Vec::new();
    for (path, bytes) in seeds {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body(bytes))) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{}: {why}", name(path)));
        }
    }
    assert!(failed.is_empty(), "{} seed(s) failed:\n{}", failed.len(), failed.join("\n"));
}

#[test]
fn packet_corpus_replays_without_panics() {
    let seeds = corpus("packet");
    assert!(seeds.len() >= 20, "only {} packet seeds in fuzz/corpus/packet", seeds.len());
    let (_publisher, handler) = bundled_handler(&repo()).expect("bundled zones and GeoIP load");
    replay(&seeds, |data| fuzz_packet(&handler, data));
}

#[test]
fn zone_loader_corpus_replays_without_panics() {
    let seeds = corpus("zone_loader");
    assert!(seeds.len() >= 10, "only {} zone seeds in fuzz/corpus/zone_loader", seeds.len());
    let mut accepted = 0;
    let mut rejected = 0;
    replay(&seeds, |data| {
        if fuzz_zone_loader(data) == 0 { accepted += 1 } else { rejected += 1 }
    });
    // The corpus must reach both ends of the loader: a clean zone set and diagnostics.
    assert!(accepted > 0, "no zone seed loads cleanly");
    assert!(rejected > 0, "no zone seed is rejected");
}

#[test]
fn bundled_zone_is_a_clean_seed() {
    let bundled = std::fs::read(repo().join("zones/example.com.yaml")).expect("bundled zone");
    assert_eq!(fuzz_zone_loader(&bundled), 0, "the bundled zone file must load without diagnostics");
}
