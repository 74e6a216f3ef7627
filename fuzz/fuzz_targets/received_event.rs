//! Fuzz target `received_event`: see `check_received_event` in `fuzz/checks.rs`.
#![no_main]

#[allow(dead_code)] // each target uses one check of the shared file
mod checks {
    include!("../checks.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_received_event(data));
