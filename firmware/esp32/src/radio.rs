//! The radio peripheral, kept by the console between network modes, and a bounded start of the
//! Wi-Fi driver.
//!
//! Why a watchdog: `WifiController::new` starts the driver and calibrates the PHY inside a
//! critical section (interrupts masked), so nothing on this core can time it out. When the radio
//! does not answer (a damaged module, an emulator without Wi-Fi, where the calibration spins for
//! ever), the TIMG1 watchdog resets the chip after `Settings::radio_timeout_s`. Before arming it
//! the board writes which mode was starting into RTC fast memory, which survives that reset; the
//! next boot prints `error: MODE: the radio did not start in N s; the watchdog reset the board`
//! after the banner, so the failure is never silent.
//!
//! Why the peripheral is lent, not given: the driver borrows `WIFI` through `reborrow()` for as
//! long as a mode runs; when the mode returns (a wait ran out), the controller is dropped, which
//! stops and de-initialises Wi-Fi, and the next `wifi` or `ap` starts it afresh.

use esp_hal::peripherals::{TIMG1, WIFI};
use esp_hal::rtc_cntl::SocResetReason;
use esp_hal::time::Duration;
use esp_hal::timer::timg::{MwdtStage, Wdt};
use esp_radio::wifi::{ControllerConfig, WifiController};

use crate::console::Console;
use crate::say;

/// Which network mode is starting the radio (named in the messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Station,
    AccessPoint,
}

impl Mode {
    /// The console command, which prefixes the mode's messages.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Station => "wifi",
            Mode::AccessPoint => "ap",
        }
    }
}

/// The Wi-Fi peripheral and the watchdog that bounds its start.
pub struct Radio {
    wifi: WIFI<'static>,
    watchdog: Wdt<TIMG1<'static>>,
}

impl Radio {
    pub fn new(wifi: WIFI<'static>, watchdog: Wdt<TIMG1<'static>>) -> Radio {
        Radio { wifi, watchdog }
    }

    /// Starts the Wi-Fi driver with `config`. Prints and returns `None` when the driver reports
    /// an error; a start that hangs for `timeout_s` resets the chip (see the module docs). The
    /// controller borrows the peripheral: drop it to stop Wi-Fi and lend the radio again.
    pub fn start(
        &mut self,
        console: &mut Console,
        mode: Mode,
        config: ControllerConfig,
        timeout_s: u32,
    ) -> Option<WifiController<'_>> {
        // 0 would reset the chip at once; the report keeps 24 bits of it.
        let timeout_s = crate::timeout_s(timeout_s);
        say!(console, "{}: starting the radio (at most {timeout_s} s)", mode.name());
        pending::set(mode, timeout_s);
        // The timeout first: enabling starts the count against whatever limit is set, and
        // makes stage 0 reset the whole system.
        self.watchdog.set_timeout(MwdtStage::Stage0, Duration::from_secs(u64::from(timeout_s)));
        self.watchdog.enable();
        self.watchdog.feed();
        let started = WifiController::new(self.wifi.reborrow(), config);
        self.watchdog.disable();
        pending::clear();
        match started {
            Ok(controller) => Some(controller),
            Err(e) => {
                say!(console, "error: {}: the radio driver did not start: {e:?}", mode.name());
                None
            }
        }
    }
}

/// After the banner: if the last reset was this watchdog ending a radio start, prints which mode
/// it was and returns true (the console then waits for a person instead of running `all`).
pub fn report_watchdog_reset(console: &mut Console) -> bool {
    let pending = pending::take();
    let by_watchdog = matches!(
        esp_hal::system::reset_reason(),
        Some(SocResetReason::CoreMwdt1 | SocResetReason::Cpu0Mwdt1)
    );
    match pending {
        Some((mode, timeout_s)) if by_watchdog => {
            say!(
                console,
                "error: {}: the radio did not start in {timeout_s} s; the watchdog reset the board",
                mode.name()
            );
            true
        }
        _ => false,
    }
}

/// The radio start in progress, in RTC fast memory: zeroed at power-on, kept across a watchdog
/// reset. Three words: a magic number, the mode and timeout, and a check word, so that memory a
/// reset caught half-written is never taken for a report.
mod pending {
    use super::Mode;

    const MAGIC: u32 = 0x5544_5241; // "UDRA"

    #[esp_hal::ram(unstable(rtc_fast, persistent))]
    static mut PENDING: [u32; 3] = [0; 3];

    fn write(words: [u32; 3]) {
        // SAFETY: one thread (the console's) touches PENDING, never re-entrantly; raw pointers,
        // so no reference to the `static mut` is ever formed.
        unsafe { core::ptr::write_volatile(&raw mut PENDING, words) }
    }

    fn read() -> [u32; 3] {
        // SAFETY: as in `write`; any bit pattern is a valid `[u32; 3]`.
        unsafe { core::ptr::read_volatile(&raw const PENDING) }
    }

    fn check(word: u32) -> u32 {
        !(MAGIC ^ word.rotate_left(7))
    }

    pub fn set(mode: Mode, timeout_s: u32) {
        let code = match mode {
            Mode::Station => 1,
            Mode::AccessPoint => 2,
        };
        let word = (timeout_s << 8) | code;
        write([MAGIC, word, check(word)]);
    }

    pub fn clear() {
        write([0; 3]);
    }

    /// The start that was in progress at the last reset, if any; clears it.
    pub fn take() -> Option<(Mode, u32)> {
        let [magic, word, sum] = read();
        clear();
        if magic != MAGIC || sum != check(word) {
            return None;
        }
        let mode = match word & 0xff {
            1 => Mode::Station,
            2 => Mode::AccessPoint,
            _ => return None,
        };
        Some((mode, word >> 8))
    }
}
