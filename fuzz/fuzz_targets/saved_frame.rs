#![no_main]
//! Fuzz target: see `aeplay::fuzzing::saved_frame`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| aeplay::fuzzing::saved_frame(data));
