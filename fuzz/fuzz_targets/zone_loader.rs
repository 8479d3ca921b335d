//! Arbitrary bytes as a zone file -> strict YAML parse and semantic checks. Must end in a zone
//! set or located diagnostics, never a panic. Body: `cdnsteer::fuzz::fuzz_zone_loader`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cdnsteer::fuzz::fuzz_zone_loader(data);
});
