use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = udplab::cli::Args::parse();
    udplab::cli::main(args)
}
