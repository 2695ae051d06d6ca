//! Fuzz target `skyped`: see [`waggle_fuzz::skyped`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| waggle_fuzz::skyped(data));
