//! A model ready for detection: its file, the feature set whose rows it reads, and the encoder
//! from that set's columns to its features.

use std::path::Path;

use mqtt_ids_features::label::is_benign_class;
use mqtt_ids_features::sets::{context, session};
use mqtt_ids_features::SetKind;
use mqtt_ids_learn::{Classifier, Matrix, ModelFile, RowEncoder};

/// A loaded model.
pub struct LoadedModel {
    /// Its name in alerts (the file name without `.json` / `.model.json`).
    pub name: String,
    /// The model file.
    pub file: ModelFile,
    /// The feature set whose rows it reads.
    pub set: SetKind,
    /// Set columns → model features.
    pub encoder: RowEncoder,
    /// Per class: whether it is benign traffic (no alert).
    pub benign: Vec<bool>,
    /// Minimum probability of the predicted class for an alert.
    pub threshold: f32,
}

impl LoadedModel {
    /// Loads and checks a model file.
    pub fn load(path: &Path, threshold: f32) -> Result<LoadedModel, String> {
        let file = ModelFile::load(path).map_err(|e| e.to_string())?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = name
            .strip_suffix(".model.json")
            .or_else(|| name.strip_suffix(".json"))
            .unwrap_or(&name)
            .to_string();
        LoadedModel::new(name, file, threshold).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A model from a model file already in memory.
    pub fn new(name: String, file: ModelFile, threshold: f32) -> Result<LoadedModel, String> {
        let Some(set_name) = file.schema.feature_set.as_deref() else {
            return Err(
                "the model does not record the feature set it was trained on (its \
                        tables had no mqtt-ids sidecar or Parquet metadata); train it on \
                        `mqtt-ids extract` output"
                    .into(),
            );
        };
        let set = SetKind::parse(set_name).ok_or_else(|| {
            format!(
                "the model was trained on feature set `{set_name}`, which this build does not know"
            )
        })?;
        // A row identifier is not a feature: `conn_id` counts connections from the start of
        // a run, so its values mean nothing in another run.
        let identifiers: &[&str] = match set {
            SetKind::Context => &context::NOT_FEATURES,
            SetKind::Session => &session::NOT_FEATURES,
            _ => &[],
        };
        if let Some(id) = file
            .feature_names
            .iter()
            .find(|f| identifiers.contains(&f.as_str()))
        {
            return Err(format!(
                "the model reads `{id}`, which identifies a connection within one run and is not \
                 a feature: retrain it with `--group-by {id}` (or `--exclude {id}`)"
            ));
        }
        let schema = set.schema();
        if let Some(v) = file.schema.schema_version {
            if v != schema.version {
                return Err(format!(
                    "the model was trained on `{set_name}` schema version {v}; this build computes \
                     version {}: retrain it on this build's `extract` output",
                    schema.version
                ));
            }
        }
        let encoding = file.schema.encoding.clone().unwrap_or_default();
        let header: Vec<&str> = schema.names().collect();
        let encoder =
            RowEncoder::new(&encoding, &header, &file.feature_names).map_err(|e| e.to_string())?;
        // Benign: the features crate's names for normal traffic, and `0`/`False` of a model trained
        // on an `is_attack` column.
        let benign = file
            .classes
            .iter()
            .map(|c| is_benign_class(c) || matches!(c.as_str(), "0" | "false" | "False"))
            .collect();
        Ok(LoadedModel {
            name,
            file,
            set,
            encoder,
            benign,
            threshold,
        })
    }

    /// Class probabilities of the records.
    pub fn predict_proba(&self, records: &Matrix) -> Result<Matrix, String> {
        self.file
            .model
            .predict_proba(records)
            .map_err(|e| e.to_string())
    }

    /// The features that drove the decision for `class` on `record`, strongest first: each
    /// feature's contribution is the drop in the class's probability when that feature alone is
    /// set to the table's missing value (occlusion), the only attribution every model kind
    /// supports. Features whose occlusion changes nothing are left out.
    pub fn top_contributions(
        &self,
        record: &[f32],
        class: usize,
        top: usize,
        cache: &mut crate::memo::ScoreCache,
    ) -> Vec<(usize, f32, f32)> {
        let d = record.len();
        if top == 0 || d == 0 {
            return Vec::new();
        }
        let missing = self
            .file
            .schema
            .encoding
            .as_ref()
            .map_or(0.0, |e| e.missing_value);
        // Only the features whose occlusion can change the output are scored (for a tree
        // model: those a split separates from the missing value); the others contribute 0.
        let changed: Vec<usize> = (0..d)
            .filter(|&j| record[j] != missing && cache.may_change(j, record[j], missing))
            .collect();
        let Ok(p) = cache.occluded(&self.file.model, record, &changed, missing) else {
            return Vec::new();
        };
        let base = p.get(0, class);
        let mut out: Vec<(usize, f32, f32)> = changed
            .iter()
            .enumerate()
            .map(|(k, &j)| (j, record[j], base - p.get(k + 1, class)))
            .filter(|&(_, _, c)| c.abs() > 1e-6)
            .collect();
        out.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
        out.truncate(top);
        out
    }
}
