//! The `whale-trader` binary: everything lives in the library so tests and benchmarks use the
//! daemon's own code.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    whale_trader::cli::main()
}
