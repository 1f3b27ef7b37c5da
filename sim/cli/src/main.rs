use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = udplab_cli::cli::Args::parse();
    udplab_cli::cli::main(args)
}
