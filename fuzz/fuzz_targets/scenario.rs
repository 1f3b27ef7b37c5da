//! Fuzz target `scenario`: the body, and what it checks, is `udplab_fuzz::scenario` (tests/fuzz), which
//! stable `cargo test` also replays on every committed crash input and seed.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| udplab_fuzz::scenario::run(data));
