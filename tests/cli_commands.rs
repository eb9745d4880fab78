//! The `runstore` binary, command by command, checked on what it prints.

mod cli_common;

use cli_common::*;

/// `stats` of a store holding the imported fixture, its counts checked.
fn fixture_stats(store: &std::path::Path) -> serde_json::Value {
    let stats = run(Some(store), &["stats", "--format", "json"]).ok().json();
    assert_eq!(stats["runs"], 59);
    assert_eq!(stats["metric_points"], 4817);
    assert_eq!(stats["params"], 455);
    stats
}

#[test]
fn import_then_stats_counts_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture();
    let args = ["import", fixture.to_str().unwrap(), "--format", "table"];
    let imported = run(Some(dir.path()), &args).ok();
    assert!(
        imported
            .stdout
            .contains("59 runs, 4817 metric points, 87 artifacts")
    );
    assert!(imported.stdout.contains("skipped 0"));

    let stats = fixture_stats(dir.path());
    assert_eq!(stats["deleted_runs"], 2);
    assert_eq!(stats["artifact_bytes"], 200203);
    let per_point = stats["log_bytes"].as_u64().unwrap() / 4817;
    assert_eq!(stats["log_bytes_per_point"].as_u64().unwrap(), per_point);
}

#[test]
fn import_within_a_small_memory_budget_imports_the_same_runs() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture();
    let args = ["import", fixture.to_str().unwrap(), "--memory-budget", "1"];
    run(Some(dir.path()), &args).ok();
    fixture_stats(dir.path());

    let zero = ["import", fixture.to_str().unwrap(), "--memory-budget", "0"];
    let refused = run(Some(dir.path()), &zero);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.starts_with("error:"), "{}", refused.stderr);
}

#[test]
fn import_summary_as_json_and_skip_existing() {
    let dir = imported_store();
    let fixture = fixture();
    let again = run(
        Some(dir.path()),
        &[
            "import",
            fixture.to_str().unwrap(),
            "--skip-existing",
            "--format",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(again["runs"], 0);
    assert_eq!(again["skipped"].as_array().unwrap().len(), 59);
    assert!(again["points_per_second"].is_number());

    let refused = run(Some(dir.path()), &["import", fixture.to_str().unwrap()]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .starts_with("error: RESOURCE_ALREADY_EXISTS: "),
        "{}",
        refused.stderr
    );
}

#[test]
fn show_json_has_mlflow_run_shape() {
    let ran = run(Some(shared_store()), &["show", GBDT, "--format", "json"]).ok();
    let shown = ran.json();
    let info = &shown["run"]["info"];
    // Field order as MLflow's server prints it, read from the raw text.
    let position = |key: &str| ran.stdout.find(&format!("\"{key}\":")).unwrap();
    let mut keys: Vec<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_by_key(|k| position(k));
    assert_eq!(
        keys,
        [
            "run_uuid",
            "experiment_id",
            "run_name",
            "user_id",
            "status",
            "start_time",
            "end_time",
            "artifact_uri",
            "lifecycle_stage",
            "run_id"
        ]
    );
    assert_eq!(info["run_id"], GBDT);
    assert_eq!(info["run_name"], "gbdt-02");
    assert_eq!(info["status"], "FINISHED");

    let data = &shown["run"]["data"];
    let auc = data["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "auc")
        .unwrap();
    assert_eq!(auc["value"], 0.9940817332399376);
    assert_eq!(auc["step"], 0);
    let params = data["params"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["key"] == "model_type" && p["value"] == "gbdt")
    );
    let dataset = &shown["run"]["inputs"]["dataset_inputs"][0]["dataset"];
    assert_eq!(dataset["name"], "digits_even_rows_eval");
    assert_eq!(dataset["digest"], "94fe5e4a");
}

#[test]
fn show_json_writes_nan_and_infinity_as_strings() {
    let shown = run(
        Some(shared_store()),
        &["show", NONFINITE, "--format", "json"],
    )
    .ok()
    .json();
    let metrics = shown["run"]["data"]["metrics"].as_array().unwrap();
    let value = |key: &str| metrics.iter().find(|m| m["key"] == key).unwrap()["value"].clone();
    assert_eq!(value("train_loss"), "NaN");
    assert_eq!(value("grad_norm"), "Infinity");
}

#[test]
fn show_table_lists_fields_and_params() {
    let shown = run(Some(shared_store()), &["show", GBDT, "--format", "table"]).ok();
    assert!(shown.stdout.contains("name             gbdt-02"));
    assert!(shown.stdout.contains("model_type"));
    assert!(shown.stdout.contains("lifecycle_stage  active"));
}

#[test]
fn history_json_is_the_get_history_shape() {
    let args = ["history", GBDT, "train_loss", "--format", "json"];
    let history = run(Some(shared_store()), &args).ok().json();
    let points = history["metrics"].as_array().unwrap();
    assert_eq!(points.len(), 60);
    assert_eq!(points[0]["key"], "train_loss");
    assert_eq!(points[0]["step"], 1);
    assert_eq!(points[0]["timestamp"], 1796315676728_i64);
    assert_eq!(points[0]["value"], 1.8774978722788849);
    assert_eq!(points[59]["step"], 60);
}

#[test]
fn history_max_points_keeps_ends_and_extremes() {
    let args = [
        "history",
        GBDT,
        "train_loss",
        "--max-points",
        "8",
        "--format",
        "json",
    ];
    let history = run(Some(shared_store()), &args).ok().json();
    let steps: Vec<i64> = history["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["step"].as_i64().unwrap())
        .collect();
    assert!(steps.len() <= 8 && steps.len() >= 2, "{steps:?}");
    assert_eq!(steps.first(), Some(&1));
    assert_eq!(steps.last(), Some(&60));
    assert!(steps.windows(2).all(|w| w[0] < w[1]));

    // Fewer than the two ends cannot be kept: refused, not exceeded.
    for n in ["0", "1"] {
        let refused = run(
            Some(shared_store()),
            &["history", GBDT, "train_loss", "--max-points", n],
        );
        assert_ne!(refused.code, 0);
        assert!(refused.stderr.starts_with("error:"), "{}", refused.stderr);
    }
    let two = [
        "history",
        GBDT,
        "train_loss",
        "--max-points",
        "2",
        "--format",
        "json",
    ];
    let history = run(Some(shared_store()), &two).ok().json();
    assert_eq!(history["metrics"].as_array().unwrap().len(), 2);
}

#[test]
fn compare_marks_differing_rows() {
    let args = ["compare", GBDT, CHAMPION, "--format", "table"];
    let table = run(Some(shared_store()), &args).ok().stdout;
    let line = |key: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == key))
            .unwrap_or_else(|| panic!("no {key} row in\n{table}"))
            .to_string()
    };
    assert!(line("params.model_type").starts_with('*'));
    assert!(
        line("params.model_type").contains("gbdt") && line("params.model_type").contains("svc")
    );
    assert!(line("params.seed").starts_with(' '));
    assert!(
        line("params.C").starts_with('*'),
        "missing in one run counts as different"
    );
    assert!(line("metrics.auc").starts_with('*'));
    assert!(table.lines().next().unwrap().contains("gbdt-02"));

    let args = ["compare", GBDT, CHAMPION, "--format", "json"];
    let json = run(Some(shared_store()), &args).ok().json();
    assert_eq!(json["run_ids"][1], CHAMPION);
    let auc = json["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "auc")
        .unwrap();
    assert_eq!(auc["values"][0], 0.9940817332399376);
    assert_eq!(auc["differs"], true);
    let seed = json["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "seed")
        .unwrap();
    assert_eq!(seed["values"], serde_json::json!(["42", "42"]));
    assert_eq!(seed["differs"], false);
}

#[test]
fn export_writes_one_line_per_experiment_and_run() {
    let exported = run(Some(shared_store()), &["export"]).ok();
    let lines: Vec<&str> = exported.stdout.lines().collect();
    assert_eq!(lines.len(), 5 + 59);
    for line in &lines {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    assert_eq!(lines.iter().filter(|l| l.contains(GBDT)).count(), 1);

    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("all.jsonl");
    let to_file = run(
        Some(shared_store()),
        &["export", "--out", file.to_str().unwrap()],
    )
    .ok();
    assert!(to_file.stdout.contains("exported 59 runs"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), exported.stdout);
}

#[test]
fn experiments_json_is_the_search_shape() {
    let listed = run(Some(shared_store()), &["experiments", "--format", "json"])
        .ok()
        .json();
    let experiments = listed["experiments"].as_array().unwrap();
    let names: Vec<&str> = experiments
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Default",
            "essay_scoring",
            "knowledge_tracing",
            "student_retention_v2"
        ]
    );
    let essay = &experiments[1];
    assert_eq!(essay["experiment_id"], "594572455626096693");
    assert_eq!(essay["lifecycle_stage"], "active");
    assert_eq!(essay["creation_time"], 1796315668170_i64);
    let tags = essay["tags"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["key"] == "subject" && t["value"] == "reading")
    );

    let all = run(
        Some(shared_store()),
        &["experiments", "--view", "all", "--format", "json"],
    );
    let all = all.ok().json();
    let deleted = all["experiments"].as_array().unwrap().iter();
    let deleted: Vec<_> = deleted
        .filter(|e| e["lifecycle_stage"] == "deleted")
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["name"], "scratch_retention_debug");
}

#[test]
fn delete_and_restore_show_in_the_run() {
    let dir = imported_store();
    let stage = |dir: &std::path::Path| {
        let shown = run(Some(dir), &["show", GBDT, "--format", "json"])
            .ok()
            .json();
        shown["run"]["info"]["lifecycle_stage"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(stage(dir.path()), "active");

    let deleted = run(Some(dir.path()), &["delete", GBDT]).ok();
    assert!(deleted.stdout.contains(GBDT));
    assert_eq!(stage(dir.path()), "deleted");

    run(Some(dir.path()), &["restore", GBDT]).ok();
    assert_eq!(stage(dir.path()), "active");
}

#[test]
fn check_reports_what_it_read() {
    let dir = imported_store();
    run(Some(dir.path()), &["checkpoint"]).ok();
    let report = run(Some(dir.path()), &["check", "--format", "json"])
        .ok()
        .json();
    assert!(report["records"].as_u64().unwrap() > 0);
    assert!(report["log_bytes"].as_u64().unwrap() > 0);
    assert!(report["snapshot_bytes"].as_u64().unwrap() > 0);

    let table = run(Some(dir.path()), &["check", "--format", "table"])
        .ok()
        .stdout;
    assert!(table.contains("records"));
    assert!(table.contains("ok: every record and checkpoint file verified"));
}

#[test]
fn bad_run_id_is_one_error_line_with_its_code() {
    let failed = run(Some(shared_store()), &["show", "no-such-run"]);
    assert_eq!(failed.code, 1);
    assert!(failed.stdout.is_empty());
    assert_eq!(failed.stderr.lines().count(), 1, "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .starts_with("error: RESOURCE_DOES_NOT_EXIST: "),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("no-such-run"));
}

#[test]
fn read_commands_never_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    for args in [
        &["stats"][..],
        &["show", GBDT],
        &["experiments"],
        &["export"],
    ] {
        let failed = run(Some(&missing), args);
        assert_eq!(failed.code, 1, "{args:?}");
        assert_eq!(failed.stderr.lines().count(), 1, "{}", failed.stderr);
        assert!(
            failed
                .stderr
                .starts_with("error: RESOURCE_DOES_NOT_EXIST: "),
            "{}",
            failed.stderr
        );
    }
    assert!(!missing.exists());
}

#[test]
fn usage_errors_are_one_line_too() {
    let no_store = run(None, &["stats"]);
    assert_eq!(no_store.code, 1);
    assert_eq!(
        no_store.stderr,
        "error: no store given: pass --store PATH or set RUNSTORE_PATH\n"
    );

    let unknown = run(Some(shared_store()), &["frobnicate"]);
    assert_eq!(unknown.code, 2);
    assert_eq!(unknown.stderr.lines().count(), 1, "{}", unknown.stderr);
    assert!(unknown.stderr.starts_with("error: "));
}

#[test]
fn purge_removes_deleted_runs_and_compact_keeps_everything() {
    let store = imported_store();
    let ids = run(
        Some(store.path()),
        &["search", "--format", "ids", "--view", "all"],
    )
    .ok();
    let before = ids.stdout.lines().count();
    let victim = ids.stdout.lines().next().unwrap().to_string();
    run(Some(store.path()), &["delete", &victim]).ok();

    let compacted = run(Some(store.path()), &["--format", "json", "compact"])
        .ok()
        .json();
    assert_eq!(compacted["runs_removed"], 0);
    let all = run(
        Some(store.path()),
        &["search", "--format", "ids", "--view", "all"],
    )
    .ok();
    assert_eq!(all.stdout.lines().count(), before);

    let purged = run(Some(store.path()), &["--format", "json", "purge"])
        .ok()
        .json();
    assert!(purged["runs_removed"].as_u64().unwrap() >= 1, "{purged}");
    let shown = run(Some(store.path()), &["show", &victim]);
    assert_eq!(shown.code, 1);
    assert!(
        shown.stderr.starts_with("error: RESOURCE_DOES_NOT_EXIST"),
        "{}",
        shown.stderr
    );

    let missing = tempfile::tempdir().unwrap();
    let failed = run(Some(&missing.path().join("none")), &["purge"]);
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.starts_with("error: RESOURCE_DOES_NOT_EXIST"),
        "{}",
        failed.stderr
    );
}

/// `plot` of one metric of the GBDT run into `out`.
fn plot_gbdt(metric: &str, out: &std::path::Path) -> Ran {
    let out = out.to_str().unwrap();
    let args = ["plot", GBDT, "--metric", metric, "--out", out];
    run(Some(shared_store()), &args)
}

#[test]
fn plot_writes_an_svg_with_one_line_per_run() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("loss.svg");
    let args = [
        "plot",
        GBDT,
        CHAMPION,
        "--metric",
        "cv_score",
        "--out",
        file.to_str().unwrap(),
    ];
    run(Some(shared_store()), &args).ok();
    let svg = std::fs::read_to_string(&file).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("cv_score"), "the caption names the metric");
    assert!(
        svg.contains("champion_cv") && svg.contains("gbdt-02"),
        "one legend entry per run"
    );
    // gbdt-02 never logged cv_score; champion_cv did.
    assert!(svg.contains("gbdt-02 (106d36fd) (no points)"), "{svg}");
    assert!(!svg.contains("champion_cv (1ae671ba) (no points)"));
    assert!(svg.contains("<polyline"));

    let png = out.path().join("loss.png");
    plot_gbdt("train_loss", &png).ok();
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));

    let nothing = out.path().join("typo.svg");
    let failed = plot_gbdt("trian_loss", &nothing);
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.starts_with("error: RESOURCE_DOES_NOT_EXIST")
            && failed.stderr.lines().count() == 1,
        "{}",
        failed.stderr
    );
    assert!(!nothing.exists(), "no chart is written");

    let nowhere = out.path().join("no-such-folder").join("x.svg");
    let failed = plot_gbdt("train_loss", &nowhere);
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.starts_with("error: cannot draw the plot to ")
            && failed.stderr.contains(nowhere.to_str().unwrap())
            && failed.stderr.lines().count() == 1,
        "{}",
        failed.stderr
    );
}

#[test]
fn a_file_given_as_the_store_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afile");
    std::fs::write(&file, b"not a store").unwrap();
    let fixture = fixture();
    for args in [&["import", fixture.to_str().unwrap()][..], &["search"][..]] {
        let refused = run(Some(&file), args);
        assert_eq!(refused.code, 1);
        assert!(
            refused
                .stderr
                .starts_with("error: INVALID_PARAMETER_VALUE: ")
                && refused.stderr.contains("is a file, not a store folder"),
            "{}",
            refused.stderr
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"not a store");
}

#[test]
fn quickstart_imports_and_tours_a_fresh_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("qs");
    let tour = run(Some(&store), &["quickstart"]).ok();
    assert!(tour.stdout.contains("59 runs"), "{}", tour.stdout);
    assert!(tour.stdout.contains("== runstore compare"));
    assert!(tour.stdout.contains("== runstore history"));
    assert!(tour.stderr.is_empty(), "{}", tour.stderr);

    let stats = run(Some(&store), &["stats", "--format", "json"])
        .ok()
        .json();
    assert_eq!(stats["runs"], 59);

    let again = run(Some(&store), &["quickstart"]);
    assert_eq!(again.code, 1, "a store that is not empty is refused");
    assert!(
        again
            .stderr
            .starts_with("error: quickstart needs a new or empty store folder")
    );
}
