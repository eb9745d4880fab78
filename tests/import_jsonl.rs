//! The JSON Lines interchange format: round trips of every fixture run,
//! defaults of DESIGN.md, and errors that carry their line number.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use runstore::import::jsonl::{self, ExperimentRef, JsonLine};
use runstore::import::mlflow_sqlite::ArtifactRoot;
use runstore::import::{JsonlReader, MlflowDir, MlflowSqlite};
use runstore::{Error, Experiment, LifecycleStage, RunRecord, RunStatus};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fixtures")
        .join(path)
}

fn fixture_runs() -> (Vec<Experiment>, Vec<RunRecord>) {
    let mut experiments = Vec::new();
    let mut runs = Vec::new();
    for store in ["feature/mlruns", "public/mlruns"] {
        let dir = MlflowDir::open(fixture(store)).unwrap();
        for exp_dir in dir.experiment_dirs().unwrap() {
            let exp = dir.read_experiment(&exp_dir).unwrap();
            for run_dir in dir.run_dirs(&exp).unwrap() {
                runs.push(dir.read_run(&exp, &run_dir).unwrap().record);
            }
            experiments.push(exp.experiment);
        }
    }
    for db in ["feature/mlflow.db", "public/mlflow.db"] {
        let db = MlflowSqlite::open(fixture(db), ArtifactRoot::default()).unwrap();
        experiments.extend(db.experiments().unwrap());
        for id in db.run_ids().unwrap() {
            runs.push(db.read_run(&id).unwrap().record);
        }
    }
    (experiments, runs)
}

/// Equality where NaN equals NaN and -0.0 differs from 0.0 (bit-exact values).
fn same_record(a: &RunRecord, b: &RunRecord) -> bool {
    let same_points = a.metrics.len() == b.metrics.len()
        && a.metrics
            .iter()
            .zip(&b.metrics)
            .all(|((ka, pa), (kb, pb))| {
                ka == kb
                    && pa.len() == pb.len()
                    && pa.iter().zip(pb).all(|(x, y)| {
                        x.step == y.step
                            && x.timestamp == y.timestamp
                            && (x.value.to_bits() == y.value.to_bits()
                                || (x.value.is_nan() && y.value.is_nan()))
                    })
            });
    a.info == b.info
        && a.params == b.params
        && a.tags == b.tags
        && a.inputs == b.inputs
        && same_points
}

fn read_all(text: &str) -> Vec<Result<(u64, JsonLine), Error>> {
    JsonlReader::new(Cursor::new(text.as_bytes()), "test.jsonl").collect()
}

fn only_run(text: &str) -> jsonl::RunLine {
    match read_all(text).pop().unwrap().unwrap() {
        (_, JsonLine::Run(run)) => *run,
        other => panic!("expected a run line, got {other:?}"),
    }
}

fn experiment(id: &str) -> Experiment {
    Experiment {
        experiment_id: id.into(),
        name: "retention".into(),
        artifact_location: "s3://bucket/7/".into(),
        lifecycle_stage: LifecycleStage::Active,
        creation_time: Some(1),
        last_update_time: Some(2),
        tags: Default::default(),
    }
}

/// Export writes `experiment_id`; every field else is on the line itself.
fn lookup_by_id(reference: &ExperimentRef) -> Result<Experiment, Error> {
    match reference {
        ExperimentRef::Id(id) => Ok(experiment(id)),
        ExperimentRef::Name(name) => panic!("export names experiments by id, not '{name}'"),
    }
}

#[test]
fn every_fixture_run_survives_write_and_read() {
    let (experiments, runs) = fixture_runs();
    assert_eq!(runs.len(), 59 + 59 + 6 + 6);

    let mut out = Vec::new();
    for e in &experiments {
        jsonl::write_experiment(&mut out, e).unwrap();
    }
    for r in &runs {
        jsonl::write_run(&mut out, r).unwrap();
    }
    let lines = read_all(std::str::from_utf8(&out).unwrap());
    assert_eq!(lines.len(), experiments.len() + runs.len());

    let mut read_experiments = Vec::new();
    let mut read_runs = Vec::new();
    for (index, line) in lines.into_iter().enumerate() {
        let (line_no, line) = line.unwrap();
        assert_eq!(line_no, index as u64 + 1);
        match line {
            JsonLine::Experiment(e) => {
                let id = e.experiment_id.clone().unwrap();
                read_experiments.push(e.into_experiment(id));
            }
            JsonLine::Run(r) => read_runs.push(r.complete(lookup_by_id).unwrap()),
        }
    }
    assert_eq!(read_experiments, experiments);
    for (read, original) in read_runs.iter().zip(&runs) {
        assert!(
            same_record(read, original),
            "run {} changed",
            original.info.run_id
        );
    }
}

#[test]
fn missing_fields_take_the_documented_defaults() {
    let line = r#"{"experiment_id":"7","start_time":5,"end_time":9,
        "tags":{"mlflow.runName":"from-tag"},
        "metrics":{"loss":[{"step":1,"timestamp":6,"value":"NaN"},
                           {"step":2,"timestamp":7,"value":"-Infinity"}]},
        "inputs":[{"name":"d","digest":"x","source_type":"local","source":"s",
                   "context":"training"}]}"#
        .replace('\n', " ");
    let run = only_run(&line)
        .complete(|r| {
            assert_eq!(r, &ExperimentRef::Id("7".into()));
            Ok(experiment("7"))
        })
        .unwrap();

    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.info.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(run.info.run_name, "from-tag");
    assert_eq!(run.info.run_id.len(), 32);
    assert_eq!(
        run.info.artifact_uri,
        format!("s3://bucket/7/{}/artifacts", run.info.run_id)
    );
    assert!(run.metrics["loss"][0].value.is_nan());
    assert_eq!(run.metrics["loss"][1].value, f64::NEG_INFINITY);
    assert_eq!(run.inputs[0].context(), Some("training"));
}

#[test]
fn a_run_without_end_time_or_name_is_running_with_a_random_name() {
    let run = only_run(r#"{"experiment":"retention","start_time":5}"#)
        .complete(|r| {
            assert_eq!(r, &ExperimentRef::Name("retention".into()));
            Ok(experiment("3"))
        })
        .unwrap();
    assert_eq!(run.info.status, RunStatus::Running);
    assert_eq!(run.info.experiment_id, "3");
    assert!(
        run.info.run_name.split('-').count() == 3,
        "{}",
        run.info.run_name
    );
    assert!(run.tags.is_empty(), "import adds no mlflow.runName tag");
}

#[test]
fn a_failed_lookup_fails_the_run() {
    let err = only_run(r#"{"experiment_id":"404","start_time":5}"#)
        .complete(|_| Err(Error::not_found("no experiment 404")))
        .unwrap_err();
    assert!(matches!(err, Error::ResourceDoesNotExist(_)));
}

fn line_error(text: &str) -> (u64, String) {
    let err = read_all(text).into_iter().find_map(Result::err).unwrap();
    match err {
        Error::BadInput {
            path,
            offset,
            reason,
        } => {
            assert_eq!(path, Path::new("test.jsonl"));
            (offset, reason)
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[test]
fn bad_lines_are_errors_with_their_line_number_and_offset() {
    let good = "{\"experiment_id\":\"1\",\"start_time\":1}\n";
    let text = format!("{good}\n{good}{{\"experiment_id\":\"1\",\"start_time\":\n");
    let (offset, reason) = line_error(&text);
    assert_eq!(offset, (2 * good.len() + 1) as u64);
    assert!(reason.starts_with("line 4: "), "{reason}");
}

#[test]
fn unknown_fields_are_rejected() {
    let (_, reason) = line_error("{\"experiment_id\":\"1\",\"start_time\":1,\"colour\":\"red\"}\n");
    assert!(reason.contains("unknown field `colour`"), "{reason}");
    let (_, reason) = line_error("{\"kind\":\"experiment\",\"name\":\"x\",\"owner\":\"me\"}\n");
    assert!(reason.contains("unknown field `owner`"), "{reason}");
    let (_, reason) = line_error(
        "{\"experiment_id\":\"1\",\"start_time\":1,\"metrics\":{\"m\":[{\"step\":0,\
         \"timestamp\":0,\"value\":1,\"unit\":\"s\"}]}}\n",
    );
    assert!(reason.contains("unknown field `unit`"), "{reason}");
}

#[test]
fn required_fields_and_values_are_checked() {
    let cases = [
        ("{\"experiment_id\":\"1\"}", "missing field `start_time`"),
        ("{\"start_time\":1}", "needs experiment_id or experiment"),
        ("{\"kind\":\"experiment\"}", "missing field `name`"),
        (
            "{\"kind\":\"model\",\"name\":\"m\"}",
            "unknown kind 'model'",
        ),
        ("[1,2]", "must be a JSON object"),
        (
            "{\"experiment_id\":\"1\",\"start_time\":1,\"status\":\"DONE\"}",
            "unknown variant `DONE`",
        ),
        (
            "{\"experiment_id\":\"1\",\"start_time\":1,\"metrics\":{\"m\":[{\"step\":0,\
             \"timestamp\":0,\"value\":\"nan\"}]}}",
            "metric value 'nan' is not a number",
        ),
    ];
    for (line, expected) in cases {
        let (_, reason) = line_error(&format!("{line}\n"));
        assert!(reason.starts_with("line 1: "), "{reason}");
        assert!(reason.contains(expected), "{line}: {reason}");
    }
}

#[test]
fn an_experiment_line_reads_with_its_defaults() {
    let lines = read_all("{\"kind\":\"experiment\",\"name\":\"retention\",\"tags\":{\"t\":\"a\"}}");
    let (_, JsonLine::Experiment(line)) = lines.into_iter().next().unwrap().unwrap() else {
        panic!("expected an experiment line")
    };
    assert_eq!(line.experiment_id, None);
    let experiment = line.into_experiment("9".into());
    assert_eq!(experiment.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(experiment.tags["t"], "a");
    assert_eq!(experiment.artifact_location, "");
}

proptest::proptest! {
    #[test]
    fn any_run_survives_write_and_read(
        values in proptest::collection::vec(proptest::num::f64::ANY, 0..20),
        steps in proptest::collection::vec(proptest::num::i64::ANY, 20),
        key in "\\PC{1,12}",
        text in "\\PC{0,30}",
        end_time in proptest::option::of(proptest::num::i64::ANY),
    ) {
        let points = values
            .iter()
            .zip(&steps)
            .map(|(v, s)| runstore::MetricPoint { step: *s, timestamp: *s / -2, value: *v })
            .collect();
        let run = RunRecord {
            info: runstore::RunInfo {
                run_id: "r".into(),
                experiment_id: "7".into(),
                run_name: text.clone(),
                user_id: String::new(),
                status: RunStatus::Killed,
                start_time: i64::MIN,
                end_time,
                lifecycle_stage: LifecycleStage::Deleted,
                artifact_uri: text.clone(),
                deleted_time: end_time,
            },
            params: [(key.clone(), text.clone())].into(),
            tags: [(text.clone(), key.clone())].into(),
            metrics: [(key, points)].into(),
            inputs: Vec::new(),
        };
        let mut out = Vec::new();
        jsonl::write_run(&mut out, &run).unwrap();
        let back = only_run(std::str::from_utf8(&out).unwrap()).complete(lookup_by_id).unwrap();
        proptest::prop_assert!(same_record(&back, &run), "{}", String::from_utf8_lossy(&out));
    }
}
