//! Helpers for the CLI tests: run the built binary, import the fixture.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_runstore");

/// The public MLflow file-store fixture.
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixtures/public/mlruns")
}

/// What one run of the binary printed.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    /// Asserts success and returns self.
    pub fn ok(self) -> Ran {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `runstore --store STORE ARGS...` (no store flag when `store` is None).
pub fn run(store: Option<&Path>, args: &[&str]) -> Ran {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("RUNSTORE_PATH");
    if let Some(store) = store {
        cmd.arg("--store").arg(store);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.args(args).output().unwrap();
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// A new store holding the imported fixture.
pub fn imported_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture();
    let fixture = fixture.to_str().unwrap();
    run(Some(dir.path()), &["import", fixture]).ok();
    dir
}

/// One imported store shared by the tests that only read.
pub fn shared_store() -> &'static Path {
    static STORE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STORE.get_or_init(imported_store).path()
}

/// The fixture's truth file.
pub fn truth() -> serde_json::Value {
    let path = fixture().with_extension("truth.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A run of the fixture with a 60-point `train_loss` history.
pub const GBDT: &str = "106d36fdd0614e4b9a2ef66f62b6b94d";
/// Another run of the same experiment, with different params.
pub const CHAMPION: &str = "1ae671ba12894d54bb67491f253d997d";
/// A run whose latest `train_loss` is NaN and `grad_norm` +inf.
pub const NONFINITE: &str = "baf7a893a2e64a7991303cfdb7e6e386";
