//! The `runstore` command: parses the command line, runs it, and turns any
//! failure into one `error: ...` line on stderr and a non-zero exit.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use runstore::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            // Help goes to stdout; a closed pipe (`| head`) is no failure.
            let _ = cli::emit(&e.to_string());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message spans lines (usage, tips); its first line says what is wrong.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid command line");
            eprintln!("error: {}", first.trim_start_matches("error:").trim());
            return ExitCode::from(2);
        }
    };
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", e.line());
            ExitCode::FAILURE
        }
    }
}
