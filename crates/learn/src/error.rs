//! Errors of the learning engine: each one names the file, line, column or parameter it is about.

use std::path::PathBuf;

/// Everything that can go wrong while reading tables, fitting, predicting or loading models.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{}: {unit} {line}, column `{column}`: cannot read `{value}` as a number ({hint})", path.display())]
    Parse {
        path: PathBuf,
        /// `line` (CSV) or `row` (Parquet, counted from 1).
        unit: &'static str,
        line: u64,
        column: String,
        value: String,
        hint: &'static str,
    },
    #[error("{}: {reason}", path.display())]
    Parquet { path: PathBuf, reason: String },
    #[error("{}: column `{column}` has type {data_type}; expected integers, floats, booleans, strings or bytes", path.display())]
    ColumnType {
        path: PathBuf,
        column: String,
        data_type: String,
    },
    #[error("{}: no column `{column}`; the header has: {available}", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    #[error("{}: its feature columns differ from the first file's ({first}): {detail}", path.display())]
    HeaderMismatch {
        path: PathBuf,
        first: String,
        detail: String,
    },
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParam { name: &'static str, reason: String },
    #[error("the model expects features [{}] but the table has [{}]: missing {missing:?}, unexpected {unexpected:?}", expected.join(", "), found.join(", "))]
    FeatureMismatch {
        expected: Vec<String>,
        found: Vec<String>,
        missing: Vec<String>,
        unexpected: Vec<String>,
    },
    #[error("expected {expected} features per row, got {found}")]
    NFeatures { expected: usize, found: usize },
    #[error("empty data: {0}")]
    Empty(String),
    #[error("model file {}: {reason}", path.display())]
    ModelFile { path: PathBuf, reason: String },
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidParam {
        name,
        reason: reason.into(),
    }
}
