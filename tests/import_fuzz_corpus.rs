//! Runs the fuzz targets' entry points over their seed corpus and over every
//! metric file of the fixtures, so the invariants are checked on every
//! `cargo test`, not only under cargo-fuzz.

use std::fs;
use std::path::{Path, PathBuf};

use runstore::import::{fuzz_jsonl_line, fuzz_metric_line};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        match path.is_dir() {
            true => files_under(&path, out),
            false => out.push(path),
        }
    }
}

fn corpus(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(&root().join("fuzz/corpus").join(target), &mut files);
    assert!(files.len() >= 5, "seed corpus of {target} is missing");
    files
}

#[test]
fn jsonl_seeds_keep_the_round_trip_invariant() {
    for seed in corpus("jsonl_line") {
        let data = fs::read(&seed).unwrap();
        assert_eq!(fuzz_jsonl_line(&data), Ok(()), "{}", seed.display());
        for cut in 0..data.len() {
            assert_eq!(
                fuzz_jsonl_line(&data[..cut]),
                Ok(()),
                "{} cut at {cut}",
                seed.display()
            );
        }
    }
}

#[test]
fn metric_seeds_and_fixture_metric_files_keep_the_invariant() {
    let mut files = corpus("metric_line");
    let mut fixture_metrics = Vec::new();
    files_under(
        &root().join("tests/data/fixtures/public/mlruns"),
        &mut fixture_metrics,
    );
    fixture_metrics.retain(|p| p.components().any(|c| c.as_os_str() == "metrics"));
    assert!(fixture_metrics.len() > 300);
    files.extend(fixture_metrics);

    for file in files {
        let data = fs::read(&file).unwrap();
        assert_eq!(fuzz_metric_line(&data), Ok(()), "{}", file.display());
    }
}

#[test]
fn metric_lines_accept_python_floats_and_reject_the_rest() {
    use runstore::import::mlflow_dir::parse_metric_line;

    let value = |line: &str| parse_metric_line(line).unwrap().value;
    assert!(value("1 nan 3").is_nan());
    assert_eq!(value("1 inf 3"), f64::INFINITY);
    assert_eq!(value("1 -inf"), f64::NEG_INFINITY);
    assert_eq!(value("1 1e-05 2 toy a5357541"), 1e-5);
    assert_eq!(parse_metric_line("7 2.5").unwrap().step, 0);
    for bad in ["1 x 3", "1 2 3 4", "1", "1  2 3", "1.5 2 3", "1 2 3.0"] {
        assert!(parse_metric_line(bad).is_err(), "{bad}");
    }
}

/// Lines shaped like metric lines, valid or not (field counts 2 to 5).
const METRIC_LIKE_LINE: &str =
    "-?[0-9]{1,20}( -?[0-9.e+-]{1,12}| nan| inf| -inf)( [0-9]{1,5}){0,3}";

proptest::proptest! {
    #[test]
    fn random_bytes_never_break_the_parsers(data in proptest::collection::vec(0u8..=255, 0..300)) {
        proptest::prop_assert_eq!(fuzz_metric_line(&data), Ok(()));
        proptest::prop_assert_eq!(fuzz_jsonl_line(&data), Ok(()));
    }

    #[test]
    fn metric_like_lines_keep_the_invariant(
        lines in proptest::collection::vec(METRIC_LIKE_LINE, 0..6),
    ) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        proptest::prop_assert_eq!(fuzz_metric_line(text.as_bytes()), Ok(()));
    }
}
