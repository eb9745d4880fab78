//! Reader of an MLflow SQLite tracking database, opened read-only.
//!
//! Values are taken as MLflow's SQL store returns them: NaN from `is_nan`,
//! and ±inf as the ±1.7976931348623157e308 the store clamped them to when
//! they were logged (the original infinity is not recoverable). Exact
//! duplicate points were already collapsed by the table's primary key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::SourceRun;
use super::mlflow_dir::list_artifacts;
use crate::error::{Error, Result};
use crate::model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, MetricPoint, RunInfo, RunRecord,
    RunStatus,
};

/// How to find the artifacts of runs whose `artifact_uri` names a folder of
/// the machine the database came from.
#[derive(Debug, Clone, Default)]
pub struct ArtifactRoot {
    /// Prefix of the recorded URIs (`/srv/mlflow/artifacts`, scheme optional).
    pub original: Option<String>,
    /// Local folder that holds what was under `original`.
    pub local: Option<PathBuf>,
}

/// An open MLflow SQLite database.
pub struct MlflowSqlite {
    path: PathBuf,
    conn: Connection,
    artifact_root: ArtifactRoot,
    has_inputs: bool,
    has_input_tags: bool,
}

impl MlflowSqlite {
    /// Opens `path` read-only and checks it looks like an MLflow database.
    pub fn open(path: impl AsRef<Path>, artifact_root: ArtifactRoot) -> Result<MlflowSqlite> {
        let path = path.as_ref().to_path_buf();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| sql(&path, e))?;
        let mut db = MlflowSqlite {
            path,
            conn,
            artifact_root,
            has_inputs: false,
            has_input_tags: false,
        };
        for table in ["experiments", "runs", "metrics", "params", "tags"] {
            if !db.has_table(table)? {
                return Err(Error::bad_input(
                    &db.path,
                    0,
                    format!("not an MLflow tracking database (no '{table}' table)"),
                ));
            }
        }
        db.has_inputs = db.has_table("inputs")? && db.has_table("datasets")?;
        db.has_input_tags = db.has_table("input_tags")?;
        Ok(db)
    }

    /// The schema revision MLflow recorded, if the table exists.
    pub fn alembic_version(&self) -> Result<Option<String>> {
        if !self.has_table("alembic_version")? {
            return Ok(None);
        }
        self.conn
            .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
            .optional()
            .map_err(|e| sql(&self.path, e))
    }

    fn has_table(&self, name: &str) -> Result<bool> {
        let query = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1";
        let count: i64 = self
            .conn
            .query_row(query, [name], |r| r.get(0))
            .map_err(|e| sql(&self.path, e))?;
        Ok(count > 0)
    }

    /// Every experiment with its tags, by id.
    pub fn experiments(&self) -> Result<Vec<Experiment>> {
        let query = "SELECT experiment_id, name, artifact_location, lifecycle_stage, \
                     creation_time, last_update_time FROM experiments ORDER BY experiment_id";
        let mut stmt = self.conn.prepare(query).map_err(|e| sql(&self.path, e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })
            .map_err(|e| sql(&self.path, e))?;

        let mut experiments = Vec::new();
        for row in rows {
            let (id, name, location, stage, created, updated) =
                row.map_err(|e| sql(&self.path, e))?;
            experiments.push(Experiment {
                experiment_id: id.to_string(),
                name,
                artifact_location: location.unwrap_or_default(),
                lifecycle_stage: self.stage(stage)?,
                creation_time: created,
                last_update_time: updated,
                tags: self.key_values(
                    "SELECT key, value FROM experiment_tags WHERE experiment_id = ?1",
                    &id.to_string(),
                )?,
            });
        }
        Ok(experiments)
    }

    /// Ids of every run, sorted.
    pub fn run_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT run_uuid FROM runs ORDER BY run_uuid")
            .map_err(|e| sql(&self.path, e))?;
        let ids = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| sql(&self.path, e))?;
        Ok(ids)
    }

    /// Reads one whole run, with the files of its artifacts if they are found.
    pub fn read_run(&self, run_id: &str) -> Result<SourceRun> {
        let info = self.run_info(run_id)?;
        let tags = self.key_values("SELECT key, value FROM tags WHERE run_uuid = ?1", run_id)?;
        let mut record = RunRecord {
            info,
            params: self.key_values("SELECT key, value FROM params WHERE run_uuid = ?1", run_id)?,
            tags,
            metrics: self.metrics(run_id)?,
            inputs: self.inputs(run_id)?,
        };
        super::name_from_tag(&mut record);
        let artifacts = match self.artifact_dir(&record.info) {
            Some(dir) => list_artifacts(&dir)?,
            None => Vec::new(),
        };
        Ok(SourceRun { record, artifacts })
    }

    fn run_info(&self, run_id: &str) -> Result<RunInfo> {
        let query = "SELECT run_uuid, experiment_id, name, user_id, status, start_time, \
                     end_time, lifecycle_stage, artifact_uri, deleted_time \
                     FROM runs WHERE run_uuid = ?1";
        let row = self
            .conn
            .query_row(query, [run_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                ))
            })
            .optional()
            .map_err(|e| sql(&self.path, e))?
            .ok_or_else(|| Error::not_found(format!("Run '{run_id}' not found")))?;
        let (run_id, experiment_id, name, user, status, start, end, stage, uri, deleted) = row;
        let status = match status {
            Some(s) => RunStatus::parse(&s).map_err(|e| self.bad(&run_id, e))?,
            None => RunStatus::Running,
        };
        Ok(RunInfo {
            experiment_id: experiment_id.to_string(),
            run_name: name.unwrap_or_default(),
            user_id: user.unwrap_or_default(),
            status,
            start_time: start.unwrap_or(0),
            end_time: end,
            lifecycle_stage: self.stage(stage)?,
            artifact_uri: uri.unwrap_or_default(),
            deleted_time: deleted,
            run_id,
        })
    }

    /// Every point of every key, in the order MLflow's SQL store returns a
    /// history: by timestamp, step, then the stored value (a NaN, stored as
    /// 0 with `is_nan`, sorts as 0). That is the order its truth files hold.
    fn metrics(&self, run_id: &str) -> Result<BTreeMap<String, Vec<MetricPoint>>> {
        let query = "SELECT key, step, timestamp, value, is_nan FROM metrics \
                     WHERE run_uuid = ?1 ORDER BY key, timestamp, step, value";
        let mut stmt = self.conn.prepare(query).map_err(|e| sql(&self.path, e))?;
        let rows = stmt
            .query_map([run_id], |r| {
                let is_nan: bool = r.get(4)?;
                let value: f64 = r.get(3)?;
                let point = MetricPoint {
                    step: r.get(1)?,
                    timestamp: r.get(2)?,
                    value: if is_nan { f64::NAN } else { value },
                };
                Ok((r.get::<_, String>(0)?, point))
            })
            .map_err(|e| sql(&self.path, e))?;

        let mut metrics: BTreeMap<String, Vec<MetricPoint>> = BTreeMap::new();
        for row in rows {
            let (key, point) = row.map_err(|e| sql(&self.path, e))?;
            metrics.entry(key).or_default().push(point);
        }
        Ok(metrics)
    }

    /// Dataset inputs of a run, ordered by dataset (name, digest); input tags by name.
    fn inputs(&self, run_id: &str) -> Result<Vec<DatasetInput>> {
        if !self.has_inputs {
            return Ok(Vec::new());
        }
        let query = "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, \
                     d.dataset_source, d.dataset_schema, d.dataset_profile \
                     FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id \
                     WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' \
                     AND i.destination_id = ?1 ORDER BY d.name, d.digest";
        let mut stmt = self.conn.prepare(query).map_err(|e| sql(&self.path, e))?;
        let rows = stmt
            .query_map([run_id], |r| {
                let dataset = Dataset {
                    name: r.get(1)?,
                    digest: r.get(2)?,
                    source_type: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    source: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    schema: r.get(5)?,
                    profile: r.get(6)?,
                };
                Ok((r.get::<_, String>(0)?, dataset))
            })
            .map_err(|e| sql(&self.path, e))?;

        let mut inputs = Vec::new();
        for row in rows {
            let (input_id, dataset) = row.map_err(|e| sql(&self.path, e))?;
            let tags = match self.has_input_tags {
                true => self.key_values(
                    "SELECT name, value FROM input_tags WHERE input_uuid = ?1",
                    &input_id,
                )?,
                false => BTreeMap::new(),
            };
            let tags = tags
                .into_iter()
                .map(|(key, value)| InputTag { key, value })
                .collect();
            inputs.push(DatasetInput { dataset, tags });
        }
        Ok(inputs)
    }

    /// `(key, value)` rows of `query` for one owner id, sorted by key
    /// (a NULL value reads as empty, as MLflow returns it).
    fn key_values(&self, query: &str, owner: &str) -> Result<BTreeMap<String, String>> {
        let mut stmt = self.conn.prepare(query).map_err(|e| sql(&self.path, e))?;
        let rows = stmt
            .query_map(params![owner], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(|e| sql(&self.path, e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (key, value) = row.map_err(|e| sql(&self.path, e))?;
            out.insert(key, value.unwrap_or_default());
        }
        Ok(out)
    }

    fn stage(&self, stage: Option<String>) -> Result<LifecycleStage> {
        match stage {
            Some(s) => LifecycleStage::parse(&s)
                .map_err(|e| Error::bad_input(&self.path, 0, e.to_string())),
            None => Ok(LifecycleStage::Active),
        }
    }

    fn bad(&self, run_id: &str, e: Error) -> Error {
        Error::bad_input(&self.path, 0, format!("run {run_id}: {e}"))
    }

    /// The local folder of a run's artifacts, tried in this order:
    /// 1. the URI with `artifact_root.original` replaced by `artifact_root.local`;
    /// 2. the URI itself, when it names an existing local folder;
    /// 3. its last three parts (`<experiment>/<run_id>/artifacts`) under
    ///    `artifact_root.local`, else under `db_artifacts/` next to the database.
    fn artifact_dir(&self, info: &RunInfo) -> Option<PathBuf> {
        let uri = strip_file_scheme(&info.artifact_uri);
        if let (Some(original), Some(local)) =
            (&self.artifact_root.original, &self.artifact_root.local)
        {
            let original = strip_file_scheme(original).trim_end_matches('/');
            if let Some(rest) = uri.strip_prefix(original) {
                return Some(local.join(rest.trim_start_matches('/'))).filter(|p| p.is_dir());
            }
        }
        if !uri.is_empty() && Path::new(uri).is_dir() {
            return Some(PathBuf::from(uri));
        }
        let tail: Vec<&str> = uri.rsplit('/').take(3).collect();
        if tail.len() < 3 {
            return None;
        }
        let base = match &self.artifact_root.local {
            Some(local) => local.clone(),
            None => self.path.parent()?.join("db_artifacts"),
        };
        let dir = tail.iter().rev().fold(base, |p, part| p.join(part));
        dir.is_dir().then_some(dir)
    }
}

fn strip_file_scheme(uri: &str) -> &str {
    uri.strip_prefix("file://")
        .or_else(|| uri.strip_prefix("file:"))
        .unwrap_or(uri)
}

fn sql(path: &Path, e: rusqlite::Error) -> Error {
    Error::bad_input(path, 0, format!("cannot read MLflow SQLite database: {e}"))
}
