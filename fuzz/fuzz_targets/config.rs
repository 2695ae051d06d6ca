//! Fuzz target `config`: see [`waggle_fuzz::config`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| waggle_fuzz::config(data));
