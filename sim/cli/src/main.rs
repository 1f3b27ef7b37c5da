use std::process::ExitCode;

/// The plain `udplab` command: the built-in apps only. A lab binary is this line with its
/// apps attached (see `udplab_cli::Lab`).
fn main() -> ExitCode {
    udplab_cli::Lab::new().main()
}
