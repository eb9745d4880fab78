//! Stores the crash and fault tests build, damage and reopen.

use runstore::{Metric, NewRun, Param, RunTag, Store};

/// Fills `store` with history on both sides of a checkpoint: `runs` runs in
/// experiment "e", each with a param, an artifact, and six rounds of 20
/// points with a tag (the checkpoint after the third round); then the first
/// run deleted. With `gone_experiment`, one more run goes into an
/// experiment "gone", which is deleted last.
pub fn fill_history_store(store: &Store, runs: usize, gone_experiment: bool) {
    let e = store.create_experiment("e", None, &[]).unwrap();
    let gone = gone_experiment.then(|| store.create_experiment("gone", None, &[]).unwrap());
    let mut ids = Vec::new();
    for i in 0..runs + usize::from(gone_experiment) {
        let experiment_id = match &gone {
            Some(gone) if i == runs => gone.clone(),
            _ => e.clone(),
        };
        let new = NewRun {
            experiment_id,
            ..NewRun::default()
        };
        let run = store.create_run(new).unwrap().run_id;
        store
            .log_param(&run, Param::new("i", i.to_string()))
            .unwrap();
        let text = format!("artifact {i}");
        store.log_artifact(&run, "a.txt", text.as_bytes()).unwrap();
        ids.push(run);
    }
    for round in 0..6i64 {
        if round == 3 {
            store.checkpoint().unwrap();
        }
        for run in &ids {
            let points: Vec<Metric> = (0..20)
                .map(|s| Metric::new("m", (round * 20 + s) as f64, 9, round * 20 + s))
                .collect();
            let tags = [RunTag::new("round", round.to_string())];
            store.log_batch(run, &points, &[], &tags).unwrap();
        }
    }
    store.delete_run(&ids[0]).unwrap();
    if let Some(gone) = gone {
        store.delete_experiment(&gone).unwrap();
    }
}
