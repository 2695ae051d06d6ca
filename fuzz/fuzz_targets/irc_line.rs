//! Fuzz target `irc_line`: see [`waggle_fuzz::irc_line`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| waggle_fuzz::irc_line(data));
