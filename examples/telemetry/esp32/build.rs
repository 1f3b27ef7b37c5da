//! Embeds the example's scenario into the image: parsed on the host with udplab's own parser (a
//! broken file fails this build with its file:line:column), written into `$OUT_DIR` as JSON and
//! the table `scenarios.rs` that `main.rs` includes.

fn main() {
    udplab_scenario::embed::build_script(&["../scenarios/telemetry.toml"]);
}
