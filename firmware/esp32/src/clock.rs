//! The board's clock: time since boot, and the pause the console loop takes between polls.

/// Microseconds since boot: the clock smoltcp and the app run on.
pub fn now_us() -> u64 {
    esp_hal::time::Instant::now().duration_since_epoch().as_micros()
}

/// Lets the radio tasks run for `us` microseconds (an esp-rtos sleep, not a busy wait).
#[cfg(feature = "radio")]
pub fn sleep_us(us: u64) {
    esp_rtos::CurrentThreadHandle::get().delay(esp_hal::time::Duration::from_micros(us));
}

/// Waits `us` microseconds. An image without the radio has no scheduler and nothing else to
/// run, so this is a busy wait.
#[cfg(not(feature = "radio"))]
pub fn sleep_us(us: u64) {
    let until = now_us().saturating_add(us);
    while now_us() < until {
        core::hint::spin_loop();
    }
}
