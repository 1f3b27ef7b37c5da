//! The board-specific setup, in one place: CPU clock, heap, the console UART, and in a radio
//! build esp-rtos and the radio.

use esp_hal::clock::CpuClock;
#[cfg(feature = "radio")]
use esp_hal::timer::timg::TimerGroup;
use esp_hal::uart::{self, Uart};

use crate::Image;
use crate::console::Console;
#[cfg(feature = "radio")]
use crate::radio::Radio;

/// Heap in main RAM, on top of the 64 KiB reclaimed from the second-stage bootloader. Scenario
/// runs stream their trace (never held whole); Wi-Fi needs about 100 KiB of it for the driver.
const HEAP_SIZE: usize = 192 * 1024;

/// Sets the chip up and runs the console for ever: call it from your `#[esp_hal::main]`.
///
/// It takes the whole chip: the CPU at its top clock, a 256 KiB heap (64 KiB reclaimed from the
/// bootloader + 192 KiB of main RAM), UART0 at 115200 8N1 on the devkit's pins (C3: TX GPIO21,
/// RX GPIO20; C6: TX GPIO16, RX GPIO17), and with the `radio` feature esp-rtos on TIMG0 (the
/// Wi-Fi driver needs it), the radio, and TIMG1's watchdog (it bounds the radio's start,
/// `radio.rs`). Then it prints the banner and serves the commands (README.md, "Serial
/// protocol").
pub fn start(image: Image) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: HEAP_SIZE);

    #[cfg(feature = "radio")]
    {
        let timg0 = TimerGroup::new(peripherals.TIMG0);
        esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);
    }

    // UART0 explicitly (esp-println could pick USB-Serial-JTAG): the devkit's TX/RX pins.
    #[cfg(feature = "esp32c3")]
    let (tx, rx) = (peripherals.GPIO21, peripherals.GPIO20);
    #[cfg(feature = "esp32c6")]
    let (tx, rx) = (peripherals.GPIO16, peripherals.GPIO17);
    let uart = Uart::new(peripherals.UART0, uart::Config::default().with_baudrate(115_200))
        .expect("115200 8N1 is a valid UART configuration")
        .with_tx(tx)
        .with_rx(rx);
    #[cfg(feature = "radio")]
    {
        let watchdog = TimerGroup::new(peripherals.TIMG1).wdt;
        crate::shell::run(&image, Console::new(uart), Radio::new(peripherals.WIFI, watchdog))
    }
    #[cfg(not(feature = "radio"))]
    crate::shell::run(&image, Console::new(uart))
}
