#![no_main]
//! Fuzz target: see `aeplay::fuzzing::saved`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| aeplay::fuzzing::saved(data));
