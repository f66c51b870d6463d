//! The `whale-trader` binary: everything lives in the library so tests and benchmarks use the
//! daemon's own code.

fn main() -> std::process::ExitCode {
    whale_trader::cli::main()
}
