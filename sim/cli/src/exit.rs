//! Exit statuses shared by the commands (`run`, `tap`, `sweep`, `wokwi`, `qemu`), in one place so
//! that every command module uses them without depending on another.

/// Exit status: the scenario's expectations did not hold.
pub const EXIT_EXPECTATIONS: u8 = 1;
/// Exit status (`wokwi`, `qemu`): the chip's trace differs from the host's.
pub const EXIT_MISMATCH: u8 = 1;
/// Exit status: bad input (scenario file or arguments).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status: the output could not be written.
pub const EXIT_IO: u8 = 3;
/// Exit status: the environment lacks what the command needs (root, /dev/net/tun, a tool).
pub const EXIT_ENVIRONMENT: u8 = 4;
/// Exit status (`wokwi`, `qemu`): the emulator ran but failed (build, panic, timeout, truncated
/// or garbled log).
pub const EXIT_EMULATOR_FAILED: u8 = 5;
/// Exit status: a real-clock run stopped before it was done (Ctrl-C, SIGTERM, the TAP went
/// away): what happened is printed and written, marked INCOMPLETE, and nothing is judged.
pub const EXIT_INCOMPLETE: u8 = 6;
