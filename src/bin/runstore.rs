//! The `runstore` command: parses the command line, runs it, and turns any
//! failure into one `error: ...` line on stderr and a non-zero exit.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use runstore::cli::{self, Cli};

/// The command line allocates and frees many small strings (a page of
/// search results is some 80 of them per run); mimalloc keeps that cheap
/// where the system allocator slows down as the heap fills. An application
/// embedding the library picks its own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            // Help goes to stdout; a closed pipe (`| head`) is no failure.
            let _ = cli::emit(&e.to_string());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
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

/// clap's message on one line: what is wrong and the arguments it names,
/// without the usage block and tips that follow.
fn one_line(text: &str) -> String {
    text.lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more"))
        .map(|line| line.trim().trim_start_matches("error:").trim())
        .filter(|line| !line.is_empty() && !line.starts_with("tip:"))
        .collect::<Vec<_>>()
        .join(" ")
}
