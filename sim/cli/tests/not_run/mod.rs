//! What the TAP tests (`tap.rs`, `exec.rs`, `exec_guide.rs`) do when `udplab tap` could not
//! run here: say so loudly, and fail under CI, where root and /dev/net/tun are there.

/// Whether a `udplab tap` that exited with `code` did not run (exit 4: no root, no TAP);
/// `what` names the run in the SKIPPED line.
pub fn tap_not_run(code: Option<i32>, stderr: &str, what: &str) -> bool {
    if code != Some(4) {
        return false;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "TAP must run in CI: {stderr}");
    eprintln!("\n*** SKIPPED {what}: {} ***\n", stderr.trim());
    true
}
