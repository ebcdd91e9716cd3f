#![no_main]
//! Fuzz target: see `aeplay::fuzzing::idx`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| aeplay::fuzzing::idx(data));
