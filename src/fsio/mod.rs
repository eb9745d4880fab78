//! The file layer of the durable-write paths: creating, writing, syncing,
//! renaming and removing files and folders, and syncing folders.
//!
//! Log segments, checkpoint files (run image, series file), the rewrite of
//! compaction and purge, and artifacts all write through here, so that one
//! place sees every step that changes the disk. Tests use that to fail any
//! step ([`fault`], `crate::testing`) and check that the store still opens
//! to the right content. Unarmed, each operation is the `std` call plus one
//! relaxed atomic load. Reads do not go through the layer: they change
//! nothing a failure could leave half done.
//!
//! The functions keep `std`'s signatures (`io::Result`), so callers wrap
//! errors with the path as they did before.

mod fault;

use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fault::Verdict;
pub use fault::testing;

/// A file opened for writing through the layer: every write and sync is
/// one operation that a test can fail.
#[derive(Debug)]
pub(crate) struct File {
    file: std::fs::File,
    path: PathBuf,
}

/// Runs `op` unless an armed fault fails it first.
fn guarded<T>(op: &str, path: &Path, run: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    match fault::next(op, path) {
        Verdict::Go => run(),
        Verdict::Fail(e) | Verdict::Torn(e) => Err(e),
    }
}

/// Creates (or truncates) the file at `path` for writing.
pub(crate) fn create(path: &Path) -> io::Result<File> {
    let file = guarded("create", path, || std::fs::File::create(path))?;
    Ok(File::new(file, path))
}

/// Creates the file at `path` for appending; fails if it exists.
pub(crate) fn create_new_append(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create_new(true);
    let file = guarded("create", path, || options.open(path))?;
    Ok(File::new(file, path))
}

/// Opens an existing file with `options` (not an operation: opening
/// changes nothing on disk; what is done with the file is).
pub(crate) fn open(path: &Path, options: &std::fs::OpenOptions) -> io::Result<File> {
    Ok(File::new(options.open(path)?, path))
}

/// `std::fs::rename`.
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    guarded("rename", from, || std::fs::rename(from, to))
}

/// `std::fs::remove_file`.
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    guarded("remove", path, || std::fs::remove_file(path))
}

/// `std::fs::remove_dir_all`. Armed, the folder is removed entry by entry,
/// each removal an operation, so a fault can leave it half removed.
pub(crate) fn remove_dir_all(path: &Path) -> io::Result<()> {
    if !fault::armed() {
        return std::fs::remove_dir_all(path);
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_dir_all(&entry.path())?;
        } else {
            remove_file(&entry.path())?;
        }
    }
    guarded("remove", path, || std::fs::remove_dir(path))
}

/// `std::fs::create_dir_all`, one operation.
pub(crate) fn create_dir_all(path: &Path) -> io::Result<()> {
    guarded("mkdir", path, || std::fs::create_dir_all(path))
}

/// fsyncs the folder `dir`, so entries created, renamed or removed in it
/// survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    guarded("sync-dir", dir, || std::fs::File::open(dir)?.sync_all())
}

/// A step whose I/O happens outside the layer (the catalog's redb commit):
/// one operation, so a test can fail the work just before or after it.
pub(crate) fn step(what: &str, path: &Path) -> io::Result<()> {
    guarded(what, path, || Ok(()))
}

impl File {
    fn new(file: std::fs::File, path: &Path) -> File {
        File {
            file,
            path: path.to_path_buf(),
        }
    }

    /// `std::fs::File::sync_all`.
    pub(crate) fn sync_all(&self) -> io::Result<()> {
        guarded("sync", &self.path, || self.file.sync_all())
    }

    /// `std::fs::File::sync_data`.
    pub(crate) fn sync_data(&self) -> io::Result<()> {
        guarded("sync", &self.path, || self.file.sync_data())
    }

    /// `std::fs::File::set_len`.
    pub(crate) fn set_len(&self, len: u64) -> io::Result<()> {
        guarded("truncate", &self.path, || self.file.set_len(len))
    }
}

/// Each `write` call is one operation and writes its whole buffer (so the
/// count of operations does not depend on how the system splits writes).
impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match fault::next("write", &self.path) {
            Verdict::Go => (&self.file).write_all(buf).map(|()| buf.len()),
            Verdict::Fail(e) => Err(e),
            Verdict::Torn(e) => {
                (&self.file).write_all(&buf[..buf.len() / 2])?;
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.file).flush()
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

/// Moving the cursor changes nothing on disk: not an operation.
impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}
