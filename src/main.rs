//! The kellect command line: parse ([`cli::parse`]: clap, then the `--config` file),
//! validate into a library config, run, map errors to exit codes (0 ok, 1 error, 2 usage;
//! `record -- CMD` exits with CMD's status).

mod cli;

use std::process::ExitCode;

use kellect::replayer;

fn main() -> ExitCode {
    match cli::parse().and_then(cli::run) {
        Ok(code) => code,
        Err(e) if replayer::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.is::<cli::UsageError>() => {
            eprintln!("kellect: error: {e}\n(see kellect --help)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("kellect: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
