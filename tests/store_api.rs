//! The storage core through its public API: MLflow's rules, durability
//! across reopen and checkpoint, and the field reports about writes.

use runstore::{Durability, ErrorCode, Metric, NewRun, Options, Param, RunStatus, RunTag, Store};

fn open(dir: &std::path::Path) -> Store {
    let options = Options {
        durability: Durability::SyncEach,
        ..Options::default()
    };
    Store::open(dir, options).unwrap()
}

fn new_run(store: &Store, exp: &str, name: &str) -> String {
    let info = store
        .create_run(NewRun {
            experiment_id: exp.into(),
            run_name: Some(name.into()),
            start_time: Some(1000),
            ..NewRun::default()
        })
        .unwrap();
    info.run_id
}

#[test]
fn a_new_store_has_the_default_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let default = store.get_experiment("0").unwrap();
    assert_eq!(default.name, "Default");
    assert_eq!(store.create_experiment("first", None, &[]).unwrap(), "1");
    assert_eq!(store.create_experiment("second", None, &[]).unwrap(), "2");
}

#[test]
fn experiment_names_are_unique_even_when_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let id = store.create_experiment("e", None, &[]).unwrap();
    let err = store.create_experiment("e", None, &[]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ResourceAlreadyExists);
    store.delete_experiment(&id).unwrap();
    let err = store.create_experiment("e", None, &[]).unwrap_err();
    assert!(err.to_string().contains("deleted state"), "{err}");
}

#[test]
fn field_report_b03_names_with_quotes_are_plain_names() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let a = store.create_experiment("it's", None, &[]).unwrap();
    store
        .create_experiment("x' OR name = 'y", None, &[])
        .unwrap();
    let err = store
        .create_experiment("x' OR name = 'y", None, &[])
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ResourceAlreadyExists);
    assert_eq!(
        store.get_experiment_by_name("it's").unwrap().experiment_id,
        a
    );
}

#[test]
fn run_name_and_tag_stay_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let id = new_run(&store, "0", "first");
    assert_eq!(
        store.get_run(&id).unwrap().tags.get("mlflow.runName"),
        Some("first")
    );

    store
        .set_tag(&id, RunTag::new("mlflow.runName", "second"))
        .unwrap();
    assert_eq!(store.get_run(&id).unwrap().info.run_name, "second");

    store
        .update_run_info(&id, None, None, Some("third"))
        .unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.info.run_name, "third");
    assert_eq!(run.tags.get("mlflow.runName"), Some("third"));

    store.delete_tag(&id, "mlflow.runName").unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.info.run_name, "third");
    assert!(!run.tags.contains_key("mlflow.runName"));

    let conflict = store.create_run(NewRun {
        experiment_id: "0".into(),
        run_name: Some("a".into()),
        tags: vec![RunTag::new("mlflow.runName", "b")],
        ..NewRun::default()
    });
    assert_eq!(
        conflict.unwrap_err().code(),
        ErrorCode::InvalidParameterValue
    );
}

#[test]
fn params_are_write_once_and_a_bad_batch_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let id = new_run(&store, "0", "r");
    store.log_param(&id, Param::new("lr", "0.1")).unwrap();
    store.log_param(&id, Param::new("lr", "0.1")).unwrap();
    let err = store.log_param(&id, Param::new("lr", "0.10")).unwrap_err();
    assert!(
        err.to_string()
            .contains("Changing param values is not allowed")
    );

    // A batch whose param conflicts writes none of its metrics or tags.
    let err = store
        .log_batch(
            &id,
            &[Metric::new("m", 1.0, 10, 0)],
            &[Param::new("lr", "0.2")],
            &[RunTag::new("t", "v")],
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameterValue);
    let run = store.get_run(&id).unwrap();
    assert!(run.metrics.is_empty() && !run.tags.contains_key("t"));

    // Duplicate keys inside one batch are rejected even with equal values.
    let dup = store.log_batch(&id, &[], &[Param::new("a", "1"), Param::new("a", "1")], &[]);
    assert!(
        dup.unwrap_err()
            .to_string()
            .contains("Duplicate parameter keys")
    );

    // Over the limits.
    let many: Vec<Metric> = (0..1001).map(|i| Metric::new("m", 1.0, i, i)).collect();
    let err = store.log_batch(&id, &many, &[], &[]).unwrap_err();
    assert!(err.to_string().contains("at most 1000 metrics"), "{err}");
    assert!(store.metric_history(&id, "m").unwrap().is_empty());
}

#[test]
fn field_report_b25_param_length_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let id = new_run(&store, "0", "r");
    let wide = "学".repeat(6000);
    store.log_param(&id, Param::new("p6000", &wide)).unwrap();
    assert_eq!(store.get_run(&id).unwrap().params["p6000"], wide);
    let err = store
        .log_param(&id, Param::new("p6001", "x".repeat(6001)))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameterValue);
    assert!(err.to_string().contains("p6001"), "{err}");
}

#[test]
fn writes_to_deleted_runs_are_rejected_but_reads_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let id = new_run(&store, "0", "r");
    store.delete_run(&id).unwrap();
    store.delete_run(&id).unwrap();
    let err = store
        .log_metric(&id, Metric::new("m", 1.0, 1, 0))
        .unwrap_err();
    assert!(err.to_string().contains("must be in the 'active' state"));
    assert_eq!(
        store.get_run(&id).unwrap().info.lifecycle_stage,
        runstore::LifecycleStage::Deleted
    );
    let missing = store
        .get_run("0123456789abcdef0123456789abcdef")
        .unwrap_err();
    assert_eq!(missing.code(), ErrorCode::ResourceDoesNotExist);
}

#[test]
fn field_report_b33_experiment_delete_and_restore_cascade() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let e = store.create_experiment("E1", None, &[]).unwrap();
    let r1 = new_run(&store, &e, "r1");
    let r2 = new_run(&store, &e, "r2");
    store.delete_run(&r1).unwrap();
    store.delete_experiment(&e).unwrap();
    store.delete_experiment(&e).unwrap();
    for r in [&r1, &r2] {
        assert_eq!(
            store.get_run(r).unwrap().info.lifecycle_stage.as_str(),
            "deleted"
        );
    }
    store.restore_experiment(&e).unwrap();
    for r in [&r1, &r2] {
        assert_eq!(
            store.get_run(r).unwrap().info.lifecycle_stage.as_str(),
            "active"
        );
    }
}

#[test]
fn field_report_b09_non_finite_values_are_kept_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let store = open(&path);
    let id = new_run(&store, "0", "r");
    let values = [1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    for (step, v) in values.iter().enumerate() {
        store
            .log_metric(&id, Metric::new("m", *v, 100 + step as i64, step as i64))
            .unwrap();
    }
    let check = |store: &Store| {
        let h = store.metric_history(&id, "m").unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!(h[0].value, 1.0);
        assert!(h[1].value.is_nan());
        assert_eq!(h[2].value, f64::INFINITY);
        assert_eq!(h[3].value, f64::NEG_INFINITY);
        assert_eq!(
            store.get_run(&id).unwrap().metrics["m"].value,
            f64::NEG_INFINITY
        );
    };
    check(&store);
    store.close().unwrap();
    check(&open(&path));
}

#[test]
fn field_report_b13_steps_going_back_keep_every_point() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let id = new_run(&store, "0", "r");
    let mut points: Vec<Metric> = (0..5)
        .map(|s| Metric::new("m", s as f64, 10 + s, s))
        .collect();
    points.push(Metric::new("m", 9.0, 20, 2));
    points.push(Metric::new("m", 5.0, 21, 5));
    store.log_batch(&id, &points, &[], &[]).unwrap();
    let h = store.metric_history(&id, "m").unwrap();
    assert_eq!(h.len(), 7);
    assert_eq!(h.iter().filter(|p| p.step == 2).count(), 2);
    assert_eq!(store.get_run(&id).unwrap().metrics["m"].value, 5.0);
}

#[test]
fn latest_value_follows_step_then_timestamp_then_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let id = new_run(&store, "0", "r");
    let hist = [
        (0, 100, 1000.0),
        (3, 40, 100.0),
        (3, 50, 10.0),
        (3, 50, 20.0),
        (-3, 900, 900.0),
    ];
    let metrics: Vec<Metric> = hist
        .iter()
        .map(|&(s, t, v)| Metric::new("h", v, t, s))
        .collect();
    store.log_batch(&id, &metrics, &[], &[]).unwrap();
    assert_eq!(store.get_run(&id).unwrap().metrics["h"].value, 20.0);

    // NaN counts as 0 in the tie-break: it beats -1 but loses to 5.
    store
        .log_batch(
            &id,
            &[
                Metric::new("t1", 5.0, 10, 0),
                Metric::new("t1", f64::NAN, 10, 0),
            ],
            &[],
            &[],
        )
        .unwrap();
    store
        .log_batch(
            &id,
            &[
                Metric::new("t2", -1.0, 10, 0),
                Metric::new("t2", f64::NAN, 10, 0),
            ],
            &[],
            &[],
        )
        .unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.metrics["t1"].value, 5.0);
    assert!(run.metrics["t2"].value.is_nan());
}

#[test]
fn field_report_b23_exact_duplicate_points_collapse() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let id = new_run(&store, "0", "r");
    let twice = [
        Metric::new("m", 0.5, 1000, 3),
        Metric::new("m", 0.5, 1000, 3),
    ];
    store.log_batch(&id, &twice, &[], &[]).unwrap();
    let nan = [
        Metric::new("n", f64::NAN, 1000, 0),
        Metric::new("n", f64::NAN, 1000, 0),
    ];
    store.log_batch(&id, &nan, &[], &[]).unwrap();
    store.log_batch(&id, &twice[..1], &[], &[]).unwrap();
    assert_eq!(store.metric_history(&id, "m").unwrap().len(), 1);
    assert_eq!(store.metric_history(&id, "n").unwrap().len(), 1);
}

#[test]
fn field_report_b07_and_b31_keys_are_exact_and_unicode_safe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let store = open(&path);
    let id = new_run(&store, "0", "r");
    store
        .log_batch(
            &id,
            &[
                Metric::new("loss", 1.0, 1, 0),
                Metric::new("Loss", 2.0, 1, 0),
            ],
            &[Param::new("学习率", "中文")],
            &[
                RunTag::new("emoji", "🚀"),
                RunTag::new("é", "é"),
                RunTag::new("nfd", "e\u{301}"),
            ],
        )
        .unwrap();
    store.close().unwrap();
    let run = open(&path).get_run(&id).unwrap();
    assert_eq!(run.metrics["loss"].value, 1.0);
    assert_eq!(run.metrics["Loss"].value, 2.0);
    assert_eq!(run.params.get("学习率"), Some("中文"));
    assert_eq!(run.tags.get("emoji"), Some("🚀"));
    assert_eq!(run.tags.get("é"), Some("é"));
    assert_eq!(run.tags.get("nfd"), Some("e\u{301}"));
    assert_ne!(run.tags["é"], run.tags["nfd"], "no normalisation");
    // A combining mark is not a word character to MLflow either: an NFD key is rejected.
    let store = open(&path);
    let err = store
        .set_tag(&id, RunTag::new("e\u{301}", "x"))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameterValue);
}

#[test]
fn everything_survives_reopen_with_and_without_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let ids: Vec<String>;
    {
        let store = open(&path);
        let e = store
            .create_experiment("exp", None, &[("team".into(), "ml".into())])
            .unwrap();
        ids = (0..20)
            .map(|i| new_run(&store, &e, &format!("run-{i}")))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let m: Vec<Metric> = (0..50)
                .map(|s| Metric::new("loss", 1.0 / (s + 1) as f64, s, s))
                .collect();
            store
                .log_batch(id, &m, &[Param::new("i", i.to_string())], &[])
                .unwrap();
        }
        store.checkpoint().unwrap();
        // More after the checkpoint: must be replayed from the log.
        store
            .update_run_info(&ids[0], Some(RunStatus::Finished), Some(5000), None)
            .unwrap();
        store
            .log_metric(&ids[1], Metric::new("late", 7.0, 1, 1))
            .unwrap();
        store.delete_run(&ids[2]).unwrap();
    }
    let store = open(&path);
    assert_eq!(store.run_ids().unwrap(), ids);
    let r0 = store.get_run(&ids[0]).unwrap();
    assert_eq!(r0.info.status, RunStatus::Finished);
    assert_eq!(r0.info.end_time, Some(5000));
    assert_eq!(store.metric_history(&ids[3], "loss").unwrap().len(), 50);
    assert_eq!(store.get_run(&ids[1]).unwrap().metrics["late"].value, 7.0);
    assert_eq!(
        store
            .get_run(&ids[2])
            .unwrap()
            .info
            .lifecycle_stage
            .as_str(),
        "deleted"
    );
    assert_eq!(store.get_run(&ids[7]).unwrap().params.get("i"), Some("7"));
    assert_eq!(
        store.get_experiment_by_name("exp").unwrap().tags["team"],
        "ml"
    );

    // Losing the catalog only costs a full replay.
    drop(store);
    std::fs::remove_file(path.join("catalog.redb")).unwrap();
    let store = open(&path);
    assert_eq!(store.metric_history(&ids[3], "loss").unwrap().len(), 50);
    assert_eq!(store.get_run(&ids[1]).unwrap().metrics["late"].value, 7.0);
}

#[test]
fn two_writers_share_a_store_and_readers_follow_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let a = open(&path);
    let b = open(&path);
    let run_a = new_run(&a, "0", "from-a");
    let run_b = new_run(&b, "0", "from-b");

    // Each writer sees the other's run once it catches up; a write to a run
    // the handle has not seen yet catches up by itself.
    b.set_tag(&run_a, RunTag::new("seen-by", "b")).unwrap();
    a.refresh().unwrap();
    assert_eq!(a.get_run(&run_a).unwrap().tags.get("seen-by"), Some("b"));
    assert_eq!(a.get_run(&run_b).unwrap().info.run_name, "from-b");

    // Experiment names stay unique across writers.
    let e = a.get_or_create_experiment("shared").unwrap();
    assert_eq!(b.get_or_create_experiment("shared").unwrap(), e);
    let err = b.create_experiment("shared", None, &[]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ResourceAlreadyExists);

    // A read-only handle sees both streams, and refuses writes.
    let reader = Store::open(&path, Options::read_only()).unwrap();
    assert_eq!(reader.run_ids().unwrap().len(), 2);
    let err = reader.create_experiment("x", None, &[]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidState);

    // Both close (checkpoint) and everything is there after reopening.
    a.close().unwrap();
    b.close().unwrap();
    let store = open(&path);
    assert_eq!(
        store.get_run(&run_a).unwrap().tags.get("seen-by"),
        Some("b")
    );
    assert_eq!(store.get_run(&run_b).unwrap().info.run_name, "from-b");
}

#[test]
fn the_later_write_wins_whatever_order_streams_are_read_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let a = open(&path);
    let b = open(&path);
    let run = new_run(&a, "0", "r");
    b.refresh().unwrap();
    b.set_tag(&run, RunTag::new("stage", "from-b")).unwrap();
    // a has not seen b's write; its own comes a few milliseconds later.
    std::thread::sleep(std::time::Duration::from_millis(3));
    a.set_tag(&run, RunTag::new("stage", "from-a")).unwrap();
    assert_eq!(b.get_run(&run).unwrap().tags.get("stage"), Some("from-b"));
    b.refresh().unwrap();
    a.refresh().unwrap();
    assert_eq!(a.get_run(&run).unwrap().tags.get("stage"), Some("from-a"));
    assert_eq!(b.get_run(&run).unwrap().tags.get("stage"), Some("from-a"));
    drop((a, b));
    assert_eq!(
        open(&path).get_run(&run).unwrap().tags.get("stage"),
        Some("from-a")
    );
}

#[test]
fn opening_a_missing_store_read_only_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path().join("nothing"), Options::read_only())
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::ResourceDoesNotExist);
}

#[test]
fn artifacts_stay_inside_their_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s"));
    let id = new_run(&store, "0", "r");
    store.log_artifact(&id, "plots/roc.png", b"png").unwrap();
    store.log_artifact(&id, "model.pkl", b"12345").unwrap();
    let root = store.list_artifacts(&id, "").unwrap();
    let paths: Vec<_> = root
        .iter()
        .map(|a| (a.path.as_str(), a.is_dir, a.file_size))
        .collect();
    assert_eq!(
        paths,
        vec![("model.pkl", false, Some(5)), ("plots", true, None)]
    );
    assert_eq!(store.read_artifact(&id, "plots/roc.png").unwrap(), b"png");
    for bad in ["../escape", "/abs", "a/../../b"] {
        let err = store.log_artifact(&id, bad, b"x").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidParameterValue, "{bad}");
    }
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}
