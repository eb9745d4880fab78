//! Artifact files, stored inside the store under `artifacts/<run id>/`.
//!
//! Paths are checked the way MLflow's server checks them: relative, `/`
//! separated, no `..` or `.` segment, no `#`, no backslash, no drive prefix,
//! so a path can never leave its run's folder.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Store;
use super::open::sync_dir;
use super::runs::existing_run;
use crate::error::{Error, Result};
use crate::fsio;

/// A file (or folder) among a run's artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactInfo {
    /// Path relative to the run's artifact root, `/`-separated.
    pub path: String,
    pub is_dir: bool,
    /// Size in bytes; `None` for folders.
    pub file_size: Option<u64>,
}

/// Suffix of an artifact file while it is written. Listings skip such
/// files (a write that failed or was cut by a crash is not an artifact), so
/// artifact paths may not end in it.
const WRITING_SUFFIX: &str = ".runstore-tmp";

fn invalid_path(path: &str) -> Error {
    Error::invalid(format!("Invalid path: '{path}'"))
}

/// Checks an artifact path (empty means the root, allowed only for listing).
fn check_path(path: &str, allow_root: bool) -> Result<()> {
    if path.is_empty() {
        return if allow_root {
            Ok(())
        } else {
            Err(invalid_path(path))
        };
    }
    let drive = path.len() >= 2 && path.as_bytes()[1] == b':';
    if path.starts_with('/') || path.contains('\\') || path.contains('#') || drive {
        return Err(invalid_path(path));
    }
    let bad_segment = path
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == ".." || s.contains('\0'));
    if bad_segment {
        return Err(invalid_path(path));
    }
    Ok(())
}

impl Store {
    fn run_artifact_dir(&self, run_id: &str) -> Result<PathBuf> {
        let state = self.read();
        existing_run(&state, run_id)?;
        Ok(self.root.join("artifacts").join(run_id))
    }

    /// Stores `bytes` as artifact `path` of a run, durably (temporary file,
    /// fsync, rename).
    pub fn log_artifact(&self, run_id: &str, path: &str, bytes: &[u8]) -> Result<()> {
        check_path(path, false)?;
        if path.ends_with(WRITING_SUFFIX) {
            return Err(invalid_path(path));
        }
        if self.writer.is_none() {
            return Err(Error::InvalidState("the store is open read-only".into()));
        }
        let target = self.run_artifact_dir(run_id)?.join(path);
        let dir = target.parent().unwrap_or(Path::new("."));
        fsio::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;

        let mut tmp = target.clone().into_os_string();
        tmp.push(WRITING_SUFFIX);
        let tmp = PathBuf::from(tmp);
        if let Err(e) = write_then_rename(&tmp, &target, bytes) {
            // Best effort: a leftover is hidden from listings anyway.
            let _ = fsio::remove_file(&tmp);
            return Err(e);
        }
        sync_dir(dir)
    }

    /// Immediate children of `dir` ("" for the root), sorted by path; a
    /// folder that does not exist lists as empty.
    pub fn list_artifacts(&self, run_id: &str, dir: &str) -> Result<Vec<ArtifactInfo>> {
        check_path(dir, true)?;
        let base = self.run_artifact_dir(run_id)?;
        let folder = if dir.is_empty() { base } else { base.join(dir) };
        let Ok(entries) = fs::read_dir(&folder) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&folder, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
            if !meta.is_dir() && name.ends_with(WRITING_SUFFIX) {
                continue;
            }
            let path = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            out.push(ArtifactInfo {
                path,
                is_dir: meta.is_dir(),
                file_size: (!meta.is_dir()).then_some(meta.len()),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Every artifact file of a run, recursively, sorted by path.
    pub fn list_artifact_files(&self, run_id: &str) -> Result<Vec<ArtifactInfo>> {
        let mut files = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(dir) = pending.pop() {
            for item in self.list_artifacts(run_id, &dir)? {
                if item.is_dir {
                    pending.push(item.path);
                } else {
                    files.push(item);
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// The bytes of an artifact file.
    pub fn read_artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>> {
        check_path(path, false)?;
        let target = self.run_artifact_dir(run_id)?.join(path);
        if !target.is_file() {
            return Err(Error::not_found(format!(
                "Artifact '{path}' of run {run_id} does not exist"
            )));
        }
        fs::read(&target).map_err(|e| Error::io(&target, e))
    }
}

/// Writes `bytes` to `tmp`, fsyncs it and renames it to `target`.
fn write_then_rename(tmp: &Path, target: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = fsio::create(tmp).map_err(|e| Error::io(tmp, e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io(tmp, e))?;
    fsio::rename(tmp, target).map_err(|e| Error::io(target, e))
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn escaping_paths_are_rejected() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\\b",
            "a#b",
            "C:x",
            "a//b",
            "./a",
            "a/",
        ] {
            assert!(check_path(bad, false).is_err(), "{bad}");
        }
        for ok in ["model.pkl", "plots/roc.png", "a/b/c.txt", "..a"] {
            assert!(check_path(ok, false).is_ok(), "{ok}");
        }
        assert!(check_path("", true).is_ok());
        assert!(check_path("", false).is_err());
    }
}
