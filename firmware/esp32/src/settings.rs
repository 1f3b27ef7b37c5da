//! Build-time settings, from the `UDPLAB_*` environment variables (checked by `build.rs`):
//! see the README for each one and its default.

include!(concat!(env!("OUT_DIR"), "/settings.rs"));
