//! Model files: a data-only, versioned JSON document (no code runs on load, unlike pickle) with
//! the fitted model and its scaler, the classes, the feature names it expects, the feature-set
//! name and schema version of the table, the hyper-parameters and the tool version. Loading
//! checks the format and version; applying a model to a table with other columns is an error.

use crate::dataset::{Dataset, Matrix};
use crate::error::{Error, Result};
use crate::estimator::{Model, ModelParams};
use crate::model::Classifier;
use serde::{Deserialize, Serialize};
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// The `format` field of every model file.
pub const FORMAT: &str = "mqtt-ids-model";
/// Version of the document layout; a reader refuses other versions.
pub const FORMAT_VERSION: u32 = 1;

/// Where the features came from, as the table's producer names it (e.g. `biflow` version 1),
/// and how its cells became features: what an online detector needs to compute the same
/// records from traffic (the row producer from `feature_set`, the cells through
/// [`crate::encode::RowEncoder`] with `encoding`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureSchema {
    pub feature_set: Option<String>,
    pub schema_version: Option<u32>,
    /// How cells were read (absent in files written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<crate::table::CellEncoding>,
    /// The table producer's configuration (our `extract`: flow mode, MQTT ports, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_config: Option<serde_json::Value>,
}

/// A fitted model with everything needed to apply it safely later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    pub format: String,
    pub format_version: u32,
    /// Version of mqtt-ids-learn that wrote the file.
    pub tool_version: String,
    pub schema: FeatureSchema,
    pub classes: Vec<String>,
    pub feature_names: Vec<String>,
    pub params: ModelParams,
    pub model: Model,
}

impl ModelFile {
    pub fn new(params: ModelParams, model: Model, schema: FeatureSchema) -> Self {
        ModelFile {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            schema,
            classes: model.classes().to_vec(),
            feature_names: model.feature_names().to_vec(),
            params,
            model,
        }
    }

    /// The document as bytes (compact JSON; the same model always gives the same bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a model file always serialises")
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut w = BufWriter::new(std::fs::File::create(path).map_err(io)?);
        w.write_all(&self.to_bytes()).map_err(io)?;
        w.flush().map_err(io)
    }

    /// Parses and checks a document.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::ModelFile {
            path: path.to_path_buf(),
            reason,
        };
        // Check the envelope first so an old or foreign file gets a plain answer.
        #[derive(Deserialize)]
        struct Envelope {
            format: Option<String>,
            format_version: Option<u32>,
            tool_version: Option<String>,
        }
        let env: Envelope =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not a model file: {e}")))?;
        if env.format.as_deref() != Some(FORMAT) {
            return Err(bad(format!(
                "format is {:?}, expected `{FORMAT}`",
                env.format
            )));
        }
        if env.format_version != Some(FORMAT_VERSION) {
            return Err(bad(format!(
                "format version {:?} (written by mqtt-ids-learn {}); this build reads version {FORMAT_VERSION}",
                env.format_version,
                env.tool_version.as_deref().unwrap_or("?")
            )));
        }
        let file: ModelFile =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("damaged model file: {e}")))?;
        if file.classes != file.model.classes() || file.feature_names != file.model.feature_names()
        {
            return Err(bad(
                "classes or feature names disagree with the model's".into()
            ));
        }
        Ok(file)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut BufReader::new(f), &mut bytes).map_err(|source| {
            Error::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
        ModelFile::from_bytes(&bytes, path)
    }

    /// The table's records in the model's column order. The table must have exactly the
    /// model's features (in any order); anything else is [`Error::FeatureMismatch`].
    pub fn records_for(&self, ds: &Dataset) -> Result<Matrix> {
        let expected = &self.feature_names;
        let found = &ds.feature_names;
        let missing: Vec<String> = expected
            .iter()
            .filter(|n| !found.contains(n))
            .cloned()
            .collect();
        let unexpected: Vec<String> = found
            .iter()
            .filter(|n| !expected.contains(n))
            .cloned()
            .collect();
        if !missing.is_empty() || !unexpected.is_empty() || expected.len() != found.len() {
            return Err(Error::FeatureMismatch {
                expected: expected.clone(),
                found: found.clone(),
                missing,
                unexpected,
            });
        }
        if expected == found {
            return Ok(ds.records.clone());
        }
        let cols: Vec<usize> = expected
            .iter()
            .map(|n| found.iter().position(|f| f == n).expect("checked above"))
            .collect();
        let mut data = Vec::with_capacity(ds.n_rows() * cols.len());
        for r in ds.records.rows() {
            data.extend(cols.iter().map(|&j| r[j]));
        }
        Matrix::new(ds.n_rows(), cols.len(), data)
    }

    /// The table's targets as indices into the model's classes; a class the model never saw
    /// is an error naming it.
    pub fn targets_for(&self, ds: &Dataset) -> Result<Vec<usize>> {
        let map: Vec<Option<usize>> = ds
            .classes
            .iter()
            .map(|c| self.classes.iter().position(|m| m == c))
            .collect();
        ds.targets
            .iter()
            .map(|&t| {
                map[t].ok_or_else(|| {
                    crate::error::invalid(
                        "classes",
                        format!(
                            "the table has class `{}` that the model does not know ({})",
                            ds.classes[t],
                            self.classes.join(", ")
                        ),
                    )
                })
            })
            .collect()
    }
}
