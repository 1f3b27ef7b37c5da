//! What udplab hands to QEMU and to espflash: the command lines, and how to tell from
//! `-machine help` that a QEMU can emulate the ESP32-C3. Pure functions, so the tests can check
//! them without either tool.

use std::path::Path;

/// The QEMU program udplab looks for on `$PATH` (Espressif's builds name it so).
pub const QEMU_PROGRAM: &str = "qemu-system-riscv32";
/// The espflash program udplab looks for on `$PATH`.
pub const ESPFLASH_PROGRAM: &str = "espflash";
/// The machine Espressif's QEMU gives the ESP32-C3.
pub const MACHINE: &str = "esp32c3";
/// Where Espressif publishes QEMU release builds with that machine.
pub const RELEASES: &str = "https://github.com/espressif/qemu/releases";

/// Whether `-machine help` output lists the ESP32-C3 machine (a line whose first word is
/// `esp32c3`).
pub fn lists_esp32c3(machine_help: &str) -> bool {
    machine_help.lines().any(|l| l.split_whitespace().next() == Some(MACHINE))
}

/// The QEMU command line (without the program name) that boots the merged flash image `image`:
/// no display, deterministic guest time (`-icount 3`), the serial port on QEMU's own stdin and
/// stdout (pipes, not a socket: some QEMU UART models drop bytes on a slow socket), no monitor
/// and no network device, so nothing can send traffic anywhere.
pub fn qemu_args(image: &Path) -> Vec<String> {
    // QEMU's option syntax doubles a comma inside a value.
    let file = image.display().to_string().replace(',', ",,");
    [
        "-nographic",
        "-M",
        MACHINE,
        "-icount",
        "3",
        "-drive",
        &format!("file={file},if=mtd,format=raw"),
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-nic",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The espflash command line (without the program name) that merges bootloader, partition table
/// and the app `elf` into one flash image `out`, padded to the flash size, as QEMU boots it.
pub fn merge_args(elf: &Path, out: &Path) -> Vec<String> {
    let s = |p: &Path| p.display().to_string();
    vec!["save-image".into(), "--chip".into(), MACHINE.into(), "--merge".into(), s(elf), s(out)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_esp32c3_machine_is_found_in_machine_help() {
        let espressif = "Supported machines are:\nesp32c3              Espressif ESP32-C3 machine\n\
                         none                 empty machine\n";
        assert!(lists_esp32c3(espressif));
        let upstream = "Supported machines are:\nopentitan            RISC-V Board compatible with OpenTitan\n\
                        virt                 RISC-V VirtIO board\nesp32c3x  not it\n";
        assert!(!lists_esp32c3(upstream));
        assert!(!lists_esp32c3(""));
    }

    #[test]
    fn qemu_boots_the_image_from_flash_with_deterministic_time_and_no_network() {
        let args = qemu_args(Path::new("/tmp/a,b/image.bin"));
        let pair = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
        assert_eq!(pair("-M").as_deref(), Some("esp32c3"));
        assert_eq!(pair("-icount").as_deref(), Some("3"));
        assert_eq!(pair("-drive").as_deref(), Some("file=/tmp/a,,b/image.bin,if=mtd,format=raw"));
        assert_eq!(pair("-serial").as_deref(), Some("stdio"));
        assert_eq!(pair("-monitor").as_deref(), Some("none"));
        assert_eq!(pair("-nic").as_deref(), Some("none"));
        assert!(!args.iter().any(|a| a == "-netdev" || a == "-net"));
    }

    #[test]
    fn espflash_merges_for_the_esp32c3() {
        assert_eq!(
            merge_args(Path::new("app.elf"), Path::new("out.bin")),
            ["save-image", "--chip", "esp32c3", "--merge", "app.elf", "out.bin"]
        );
    }
}
