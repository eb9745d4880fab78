//! The `runstore` command-line tool, written over the public library API
//! only, so it doubles as an example of embedding the store.
//!
//! `args` holds the clap definitions (the contract scripts rely on), `runs`
//! and `admin` the commands, `json` MLflow's REST shapes, `table` the
//! human output, `plot` the charts, and
//! `quickstart` the guided tour.

/// `print!` that reports a failed write instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => { $crate::cli::emit(&format!($($arg)*))? };
}

/// `println!` that reports a failed write instead of panicking.
macro_rules! sayln {
    ($($arg:tt)*) => { $crate::cli::emit(&(format!($($arg)*) + "\n"))? };
}

mod admin;
pub mod args;
mod bench;
pub mod json;
mod plot;
mod quickstart;
mod runs;
pub mod table;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub use args::{Cli, Command, Format};

use crate::error::Error;
use crate::store::{Options, Store};

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The store refused: printed with its MLflow error code.
    Store(Error),
    /// The command line asked for something impossible.
    Usage(String),
}

impl From<Error> for CliError {
    fn from(e: Error) -> CliError {
        CliError::Store(e)
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Store(e) => write!(f, "{}: {e}", e.code()),
            CliError::Usage(msg) => f.write_str(msg),
        }
    }
}

impl CliError {
    /// The one `error: ...` line printed on stderr: messages that span
    /// lines are joined so scripts can read the error with one `read`.
    pub fn line(&self) -> String {
        let text = self.to_string();
        let words: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        format!("error: {}", words.join(" "))
    }
}

/// Writes command output to stdout. A reader that went away (`| head`) is
/// not an error: the rest of the output is simply not wanted.
pub fn emit(text: &str) -> Result<(), CliError> {
    use std::io::Write;

    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("<standard output>", e).into())
        }
        _ => Ok(()),
    }
}

/// Runs one parsed command line, printing its results to stdout.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Context {
        store: cli.store,
        format: cli.format,
    };
    match cli.command {
        Command::Quickstart { fixture } => quickstart::run(&ctx, fixture),
        Command::Generate { .. } | Command::Bench { .. } => bench::run(&ctx, cli.command),
        Command::BenchWriters { .. } | Command::IngestWorker { .. } => {
            bench::writers(&ctx, cli.command)
        }
        Command::Import { .. } | Command::Export { .. } | Command::Experiments { .. } => {
            admin::run(&ctx, cli.command)
        }
        Command::Checkpoint | Command::Check | Command::Stats => admin::run(&ctx, cli.command),
        Command::Compact | Command::Purge => admin::run(&ctx, cli.command),
        other => runs::run(&ctx, other),
    }
}

/// What every command needs besides its own arguments.
pub struct Context {
    store: Option<PathBuf>,
    format: Option<Format>,
}

impl Context {
    fn store_path(&self) -> Result<&Path, CliError> {
        self.store.as_deref().ok_or_else(|| {
            CliError::Usage("no store given: pass --store PATH or set RUNSTORE_PATH".into())
        })
    }

    /// Opens an existing store read-only: reading never creates a store.
    fn open_read(&self) -> Result<Store, CliError> {
        Ok(Store::open(self.store_path()?, Options::read_only())?)
    }

    /// Opens the store for writing, creating it if the folder holds none.
    fn open_write(&self) -> Result<Store, CliError> {
        Ok(Store::open(self.store_path()?, Options::default())?)
    }

    /// The output format: as asked, else a table for people at a terminal
    /// and JSON for programs reading a pipe.
    fn format(&self) -> Format {
        self.format
            .unwrap_or(match std::io::stdout().is_terminal() {
                true => Format::Table,
                false => Format::Json,
            })
    }

    /// Like `format`, for commands that have no `ids` form.
    fn table_or_json(&self) -> Result<Format, CliError> {
        match self.format() {
            Format::Ids => Err(CliError::Usage("--format ids is for `search` only".into())),
            f => Ok(f),
        }
    }
}
