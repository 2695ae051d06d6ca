//! Fuzz target `xmpp_stanza`: see [`waggle_fuzz::xmpp_stanza`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| waggle_fuzz::xmpp_stanza(data));
