#![no_main]
//! Fuzz target: see `aeplay::fuzzing::urlstate`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| aeplay::fuzzing::urlstate(data));
