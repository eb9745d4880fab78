//! The one error type of the crate.
//!
//! Variants mirror MLflow's error codes where one applies, so that a caller
//! (or a REST front end) can map them one to one; the rest say where on disk
//! something went wrong.

use std::path::PathBuf;

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// MLflow's error codes, as they appear in its REST error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    InvalidState,
    InternalError,
    DataLoss,
}

impl ErrorCode {
    /// The code exactly as MLflow spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::DataLoss => "DATA_LOSS",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in runstore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A caller gave a value MLflow would reject (bad key, bad filter, limit broken).
    #[error("{0}")]
    InvalidParameterValue(String),

    /// Creating something whose name or id is already taken.
    #[error("{0}")]
    ResourceAlreadyExists(String),

    /// Naming a run, experiment, tag or artifact that does not exist.
    #[error("{0}")]
    ResourceDoesNotExist(String),

    /// A request that MLflow answers with INTERNAL_ERROR (duplicate order_by keys).
    #[error("{0}")]
    Internal(String),

    /// The store refuses writes: a previous write or fsync failed, or it is read-only.
    #[error("{0}")]
    InvalidState(String),

    /// A file of the store is damaged; `offset` is where the damage was found.
    #[error("damaged store file {}: {reason} (at byte offset {offset})", path.display())]
    Corruption {
        path: PathBuf,
        offset: u64,
        reason: String,
    },

    /// A file given to import (an MLflow store, a JSON Lines file) is
    /// malformed; `offset` is the byte where the problem is.
    #[error("bad input file {}: {reason} (at byte offset {offset})", path.display())]
    BadInput {
        path: PathBuf,
        offset: u64,
        reason: String,
    },

    /// An I/O operation on a store file failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The MLflow error code this error maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidParameterValue(_) => ErrorCode::InvalidParameterValue,
            Error::ResourceAlreadyExists(_) => ErrorCode::ResourceAlreadyExists,
            Error::ResourceDoesNotExist(_) => ErrorCode::ResourceDoesNotExist,
            Error::Internal(_) => ErrorCode::InternalError,
            Error::InvalidState(_) => ErrorCode::InvalidState,
            Error::Corruption { .. } => ErrorCode::DataLoss,
            Error::BadInput { .. } => ErrorCode::InvalidParameterValue,
            Error::Io { .. } => ErrorCode::InternalError,
        }
    }

    /// Shorthand for [`Error::InvalidParameterValue`].
    pub fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidParameterValue(msg.into())
    }

    /// Shorthand for [`Error::ResourceDoesNotExist`].
    pub fn not_found(msg: impl Into<String>) -> Error {
        Error::ResourceDoesNotExist(msg.into())
    }

    /// Shorthand for [`Error::Corruption`].
    pub fn corrupt(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corruption {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::BadInput`].
    pub fn bad_input(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Error {
        Error::BadInput {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
