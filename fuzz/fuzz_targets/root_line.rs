//! Fuzz target `root_line`: see [`waggle_fuzz::root_line`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| waggle_fuzz::root_line(data));
