//! Fuzz target `capture`: the body, and what it checks, is `udplab_fuzz::capture` (tests/fuzz), which
//! stable `cargo test` also replays on every committed crash input and seed.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| udplab_fuzz::capture::run(data));
