//! The `nicsrs-batch` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    nicsrs_batch::cli::main().into()
}
