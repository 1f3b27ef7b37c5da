//! udplab on the ESP32-C3 (and C6): a serial console that runs the embedded scenarios through
//! the deterministic core on the chip (`list`, `run NAME [SEED]`, `all`), or puts the udplab
//! app on real Wi-Fi as a station (`wifi`) or an access point (`ap`).
//!
//! Board-specific code is this file and the small modules below; everything else is the same
//! `no_std` code the host runs.
#![no_std]
#![no_main]

extern crate alloc;

mod ap;
mod console;
mod netapp;
mod radio_device;
mod scenario_mode;
mod settings;
mod wifi;

#[cfg(not(any(feature = "esp32c3", feature = "esp32c6")))]
compile_error!("choose a chip: --features esp32c3 (the default) or --no-default-features --features esp32c6");
#[cfg(all(feature = "esp32c3", feature = "esp32c6"))]
compile_error!("choose one chip: esp32c3 and esp32c6 are both enabled");

use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::timer::timg::TimerGroup;
use esp_hal::uart::{self, Uart};

use console::Console;

esp_bootloader_esp_idf::esp_app_desc!();

/// Heap in main RAM, on top of the 64 KiB reclaimed from the second-stage bootloader. Scenario
/// runs keep the whole trace in memory; Wi-Fi needs about 100 KiB of it for the driver.
const HEAP_SIZE: usize = 192 * 1024;
/// How long the board waits for a command after the banner before it runs `all`.
const DEFAULT_AFTER_US: u64 = 2_000_000;
const USAGE: &str = "list | run NAME [SEED] | all | wifi [NAME [SEED]] | ap [NAME [SEED]]";

enum Command<'a> {
    List,
    Run {
        name: &'a str,
        seed: Option<u64>,
    },
    All,
    /// Station mode, optionally with a scenario's links in the radio's path.
    Wifi(Option<(&'a str, Option<u64>)>),
    Ap(Option<(&'a str, Option<u64>)>),
    Help,
}

fn parse(line: &str) -> Result<Command<'_>, alloc::string::String> {
    let mut words = line.split_ascii_whitespace();
    let cmd = words.next().unwrap_or("");
    let command = match cmd {
        "list" => Command::List,
        "all" => Command::All,
        "wifi" => Command::Wifi(impairments(&mut words)?),
        "ap" => Command::Ap(impairments(&mut words)?),
        "help" => Command::Help,
        "run" => {
            let Some(name) = words.next() else {
                return Err("`run` needs a scenario name: run NAME [SEED]".into());
            };
            let seed = match words.next() {
                None => None,
                Some(s) => Some(parse_seed(s).ok_or_else(|| {
                    alloc::format!("bad seed `{s}`: expected 0..=18446744073709551615 or 0x...")
                })?),
            };
            Command::Run { name, seed }
        }
        other => return Err(alloc::format!("unknown command `{other}` ({USAGE})")),
    };
    if let Some(extra) = words.next() {
        return Err(alloc::format!("unexpected `{extra}` after `{cmd}` ({USAGE})"));
    }
    Ok(command)
}

/// `[NAME [SEED]]` after `wifi` or `ap`.
fn impairments<'a>(
    words: &mut impl Iterator<Item = &'a str>,
) -> Result<Option<(&'a str, Option<u64>)>, alloc::string::String> {
    let Some(name) = words.next() else { return Ok(None) };
    let seed = match words.next() {
        None => None,
        Some(s) => Some(parse_seed(s).ok_or_else(|| alloc::format!("bad seed `{s}`"))?),
    };
    Ok(Some((name, seed)))
}

fn parse_seed(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[esp_hal::main]
fn main() -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: HEAP_SIZE);

    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);

    // UART0 explicitly (esp-println could pick USB-Serial-JTAG): the devkit's TX/RX pins.
    #[cfg(feature = "esp32c3")]
    let (tx, rx) = (peripherals.GPIO21, peripherals.GPIO20);
    #[cfg(feature = "esp32c6")]
    let (tx, rx) = (peripherals.GPIO16, peripherals.GPIO17);
    let uart = Uart::new(peripherals.UART0, uart::Config::default().with_baudrate(115_200))
        .expect("115200 8N1 is a valid UART configuration")
        .with_tx(tx)
        .with_rx(rx);
    let mut console = Console::new(uart);
    let mut radio = Some(peripherals.WIFI);

    say!(console, "udplab-esp32 ready: {} scenarios ({USAGE})", scenario_mode::count());
    let deadline = netapp::now_us() + DEFAULT_AFTER_US;
    let mut waiting_for_first = true;
    loop {
        let Some(line) = console.poll_line() else {
            if waiting_for_first && netapp::now_us() >= deadline {
                waiting_for_first = false;
                scenario_mode::run_all(&mut console);
            }
            netapp::sleep_us(10_000);
            continue;
        };
        waiting_for_first = false;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                say!(console, "error: {}", e.message());
                continue;
            }
        };
        match parse(&line) {
            Err(msg) => say!(console, "error: {msg}"),
            Ok(Command::Help) => say!(console, "commands: {USAGE}"),
            Ok(Command::List) => scenario_mode::list(&mut console),
            Ok(Command::All) => scenario_mode::run_all(&mut console),
            Ok(Command::Run { name, seed }) => scenario_mode::run(&mut console, name, seed),
            Ok(Command::Wifi(_) | Command::Ap(_)) if radio.is_none() => {
                say!(console, "error: the radio was already started once; reset the board to try again")
            }
            Ok(Command::Wifi(impair)) => match netapp::Impairments::load(impair, true) {
                Err(e) => say!(console, "error: {e}"),
                Ok(impair) => {
                    if let Some(wifi) = radio.take() {
                        wifi::run(&mut console, wifi, impair);
                    }
                }
            },
            Ok(Command::Ap(impair)) => match netapp::Impairments::load(impair, false) {
                Err(e) => say!(console, "error: {e}"),
                Ok(impair) => {
                    if let Some(wifi) = radio.take() {
                        ap::run(&mut console, wifi, impair);
                    }
                }
            },
        }
    }
}
