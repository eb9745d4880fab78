//! MLflow's write-side rules: key names, value lengths, batch sizes.
//!
//! Every check returns the INVALID_PARAMETER_VALUE error MLflow would give,
//! with a message that starts the same way.

use crate::error::{Error, Result};

use super::types::{DatasetInput, Metric, Param, RunTag};

/// Longest metric, param or tag key.
pub const MAX_KEY_LEN: usize = 250;
/// Longest param value (MLflow truncates by default; we reject, see docs/semantics.md).
pub const MAX_PARAM_VALUE_LEN: usize = 6000;
/// Longest run tag value.
pub const MAX_TAG_VALUE_LEN: usize = 8000;
/// Longest experiment name.
pub const MAX_EXPERIMENT_NAME_LEN: usize = 500;
/// Longest experiment tag key and value.
pub const MAX_EXPERIMENT_TAG_KEY_LEN: usize = 250;
pub const MAX_EXPERIMENT_TAG_VALUE_LEN: usize = 20000;
/// Batch limits of `log_batch`.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_PER_BATCH: usize = 100;
pub const MAX_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
/// Dataset field limits.
pub const MAX_DATASET_NAME_LEN: usize = 500;
pub const MAX_DATASET_DIGEST_LEN: usize = 36;
pub const MAX_DATASET_SOURCE_LEN: usize = 65535;
pub const MAX_DATASET_SCHEMA_LEN: usize = 1_048_575;
pub const MAX_DATASET_PROFILE_LEN: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_LEN: usize = 255;
pub const MAX_INPUT_TAG_VALUE_LEN: usize = 500;

/// Checks a metric, param or tag key by MLflow's rules: word characters and
/// `/ . - : space`, a normalised relative path, at most 250 characters.
pub fn validate_key(what: &str, key: &str) -> Result<()> {
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ' ' | ':');
    if !key.chars().all(allowed) {
        return Err(Error::invalid(format!(
            "Invalid {what} name: '{key}'. Names may only contain alphanumerics, underscores (_), \
             dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )));
    }
    if !is_normal_relative_path(key) {
        return Err(Error::invalid(format!(
            "Invalid {what} name: '{key}'. Names may be treated as files in certain cases, and \
             must not resolve to other names when treated as such. This name would resolve to \
             '{}'",
            key.trim_matches('/')
        )));
    }
    check_len(&format!("{what} name"), key, MAX_KEY_LEN)
}

/// A key that POSIX path normalisation would leave unchanged and that stays
/// relative: no empty, `.` or `..` segment, no leading `/` or `..`.
fn is_normal_relative_path(key: &str) -> bool {
    if key.is_empty() || key.starts_with('/') || key.starts_with("..") {
        return false;
    }
    key.split('/')
        .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// Rejects a value longer than `max` characters, naming it.
pub fn check_len(what: &str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len > max {
        return Err(Error::invalid(format!(
            "'{what}' exceeds the maximum length of {max} characters (got {len})"
        )));
    }
    Ok(())
}

/// Checks one metric point: key rules and a non-negative timestamp.
/// NaN and ±infinity are legal values.
pub fn validate_metric(m: &Metric) -> Result<()> {
    validate_key("metric", &m.key)?;
    if m.timestamp < 0 {
        return Err(Error::invalid(format!(
            "Invalid timestamp for metric '{}': Timestamp must be a nonnegative long \
             (64-bit integer), got {}",
            m.key, m.timestamp
        )));
    }
    Ok(())
}

/// Checks a param's key and value length.
pub fn validate_param(p: &Param) -> Result<()> {
    validate_key("parameter", &p.key)?;
    check_len(&format!("Param value for key '{}'", p.key), &p.value, MAX_PARAM_VALUE_LEN)
}

/// Checks a run tag's key and value length.
pub fn validate_tag(t: &RunTag) -> Result<()> {
    validate_key("tag", &t.key)?;
    check_len(&format!("Tag value for key '{}'", t.key), &t.value, MAX_TAG_VALUE_LEN)
}

/// Checks an experiment tag (longer values than run tags, no truncation).
pub fn validate_experiment_tag(key: &str, value: &str) -> Result<()> {
    validate_key("tag", key)?;
    check_len("Tag key", key, MAX_EXPERIMENT_TAG_KEY_LEN)?;
    check_len(&format!("Tag value for key '{key}'"), value, MAX_EXPERIMENT_TAG_VALUE_LEN)
}

/// Checks an experiment name: non-blank, at most 500 characters.
pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid("Invalid experiment name: must not be empty or blank"));
    }
    check_len("Experiment name", name, MAX_EXPERIMENT_NAME_LEN)
}

/// Checks a supplied run id: first character alphanumeric, then up to 255 of `[A-Za-z0-9_-]`.
pub fn validate_run_id(run_id: &str) -> Result<()> {
    let mut chars = run_id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !first_ok || !rest_ok || run_id.len() > 256 {
        return Err(Error::invalid(format!("Invalid value '{run_id}' for parameter 'run_id'")));
    }
    Ok(())
}

/// Checks a supplied experiment id: `^[a-zA-Z0-9][\w\-]{0,63}$`.
pub fn validate_experiment_id(id: &str) -> Result<()> {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if !first_ok || !rest_ok || id.chars().count() > 64 {
        return Err(Error::invalid(format!("Invalid experiment ID: '{id}'")));
    }
    Ok(())
}

/// Checks the counts of a `log_batch` against MLflow's limits.
pub fn validate_batch_counts(metrics: usize, params: usize, tags: usize) -> Result<()> {
    let too_many = |what: &str, max: usize, got: usize| {
        Error::invalid(format!(
            "A batch logging request can contain at most {max} {what}. Got {got} {what}. \
             Please split up {what} across multiple requests and try again."
        ))
    };
    if metrics > MAX_METRICS_PER_BATCH {
        return Err(too_many("metrics", MAX_METRICS_PER_BATCH, metrics));
    }
    if params > MAX_PARAMS_PER_BATCH {
        return Err(too_many("params", MAX_PARAMS_PER_BATCH, params));
    }
    if tags > MAX_TAGS_PER_BATCH {
        return Err(too_many("tags", MAX_TAGS_PER_BATCH, tags));
    }
    let total = metrics + params + tags;
    if total > MAX_ENTITIES_PER_BATCH {
        return Err(too_many(
            "metrics, params, and tags",
            MAX_ENTITIES_PER_BATCH,
            total,
        ));
    }
    Ok(())
}

/// Checks a dataset input's field lengths.
pub fn validate_input(input: &DatasetInput) -> Result<()> {
    let d = &input.dataset;
    check_len("Dataset name", &d.name, MAX_DATASET_NAME_LEN)?;
    check_len("Dataset digest", &d.digest, MAX_DATASET_DIGEST_LEN)?;
    check_len("Dataset source", &d.source, MAX_DATASET_SOURCE_LEN)?;
    if let Some(schema) = &d.schema {
        check_len("Dataset schema", schema, MAX_DATASET_SCHEMA_LEN)?;
    }
    if let Some(profile) = &d.profile {
        check_len("Dataset profile", profile, MAX_DATASET_PROFILE_LEN)?;
    }
    for tag in &input.tags {
        check_len("Input tag key", &tag.key, MAX_INPUT_TAG_KEY_LEN)?;
        check_len("Input tag value", &tag.value, MAX_INPUT_TAG_VALUE_LEN)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_accepted_and_rejected_as_mlflow_does() {
        for ok in ["a b", "a/b", "a:b", "a.b", "a-b", "é", "max depth", "train/acc"] {
            assert!(validate_key("metric", ok).is_ok(), "{ok} should be accepted");
        }
        for bad in ["a@b", "a,b", "a%b", "a\\b", "", ".", "/a", "a/", "a//b", "a/./b", "../a", "..x"]
        {
            assert!(validate_key("metric", bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn key_length_limit_is_250_characters() {
        assert!(validate_key("param", &"k".repeat(250)).is_ok());
        assert!(validate_key("param", &"k".repeat(251)).is_err());
    }

    #[test]
    fn param_value_limit_counts_characters_not_bytes() {
        assert!(validate_param(&Param::new("p", "学".repeat(6000))).is_ok());
        assert!(validate_param(&Param::new("p", "x".repeat(6001))).is_err());
    }

    #[test]
    fn batch_limits() {
        assert!(validate_batch_counts(1000, 0, 0).is_ok());
        assert!(validate_batch_counts(1001, 0, 0).is_err());
        assert!(validate_batch_counts(0, 101, 0).is_err());
        assert!(validate_batch_counts(0, 0, 101).is_err());
        assert!(validate_batch_counts(900, 100, 1).is_err());
    }

    #[test]
    fn negative_timestamp_rejected() {
        assert!(validate_metric(&Metric::new("m", 1.0, -1, 0)).is_err());
        assert!(validate_metric(&Metric::new("m", f64::NAN, 0, -5)).is_ok());
    }
}
