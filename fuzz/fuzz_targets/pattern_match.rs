//! Fuzz target `pattern_match`: see `check_pattern_match` in `fuzz/checks.rs`.
#![no_main]

#[allow(dead_code)] // each target uses one check of the shared file
mod checks {
    include!("../checks.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_pattern_match(data));
