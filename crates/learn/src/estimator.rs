//! Every classifier behind one name: [`ModelParams`] (kind + hyper-parameters, built from a name
//! and a paper preset as the CLI spells them) fits to a [`Model`], which predicts whatever its
//! kind. This is the one place a new classifier is registered.

use crate::dataset::{Dataset, Matrix};
use crate::dt::{DecisionTree, DecisionTreeParams};
use crate::error::{invalid, Result};
use crate::gb::{GradientBoosting, GradientBoostingParams};
use crate::knn::{KNeighbors, KNeighborsParams};
use crate::lr::{LogisticRegression, LogisticRegressionParams};
use crate::mlp::{Mlp, MlpParams};
use crate::model::{no_progress, Classifier, Fit, ParamGuard, Progress};
use crate::nb::{GaussianNb, GaussianNbParams};
use crate::rf::{RandomForest, RandomForestParams};
use crate::svm_linear::{LinearSvc, LinearSvcParams};
use crate::svm_rbf::{Svc, SvcParams};
use serde::{Deserialize, Serialize};

/// Hyper-parameters of any classifier, tagged with its kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "kebab-case")]
pub enum ModelParams {
    Nb(GaussianNbParams),
    Lr(LogisticRegressionParams),
    Dt(DecisionTreeParams),
    Rf(RandomForestParams),
    Gb(GradientBoostingParams),
    Knn(KNeighborsParams),
    SvmLinear(LinearSvcParams),
    Mlp(MlpParams),
    SvmRbf(SvcParams),
}

/// The kinds, as the CLI names them.
pub const KINDS: &[&str] = &[
    "lr",
    "knn",
    "svm-rbf",
    "svm-linear",
    "nb",
    "dt",
    "rf",
    "gb",
    "mlp",
];

/// Presets: `default` (scikit-learn's defaults, seed 0) for every kind, and the papers' where
/// they used the kind: `hindy2020` (random_state 0) and `mqttset2020` (seed 7); `keras` is
/// Vaccari et al.'s 50-30-20 network.
pub fn presets(kind: &str) -> &'static [&'static str] {
    match kind {
        "lr" | "knn" | "svm-rbf" | "svm-linear" => &["default", "hindy2020"],
        "nb" | "dt" | "rf" => &["default", "hindy2020", "mqttset2020"],
        "gb" => &["default", "mqttset2020"],
        "mlp" => &["default", "mqttset2020", "keras"],
        _ => &[],
    }
}

impl ModelParams {
    /// Parameters of `kind` (see [`KINDS`]) under `preset` (see [`presets`]; `None` = `default`).
    pub fn from_name(kind: &str, preset: Option<&str>) -> Result<ModelParams> {
        let preset = preset.unwrap_or("default");
        if !KINDS.contains(&kind) {
            return Err(invalid(
                "model",
                format!("unknown model `{kind}`; known: {}", KINDS.join(", ")),
            ));
        }
        let p = match (kind, preset) {
            ("nb", "default" | "hindy2020" | "mqttset2020") => {
                ModelParams::Nb(GaussianNbParams::default())
            }
            ("lr", "default" | "hindy2020") => ModelParams::Lr(LogisticRegressionParams::default()),
            ("knn", "default" | "hindy2020") => ModelParams::Knn(KNeighborsParams::default()),
            ("svm-linear", "default" | "hindy2020") => {
                ModelParams::SvmLinear(LinearSvcParams::default())
            }
            ("svm-rbf", "default" | "hindy2020") => ModelParams::SvmRbf(SvcParams::default()),
            ("dt", "default") => ModelParams::Dt(DecisionTreeParams::default()),
            ("dt", "hindy2020") => ModelParams::Dt(DecisionTreeParams::hindy2020()),
            ("dt", "mqttset2020") => ModelParams::Dt(DecisionTreeParams::mqttset2020()),
            ("rf", "default") => ModelParams::Rf(RandomForestParams::default()),
            ("rf", "hindy2020") => ModelParams::Rf(RandomForestParams::hindy2020()),
            ("rf", "mqttset2020") => ModelParams::Rf(RandomForestParams::mqttset2020()),
            ("gb", "default") => ModelParams::Gb(GradientBoostingParams::default()),
            ("gb", "mqttset2020") => ModelParams::Gb(GradientBoostingParams::mqttset2020()),
            ("mlp", "default") => ModelParams::Mlp(MlpParams::default()),
            ("mlp", "mqttset2020") => ModelParams::Mlp(MlpParams::mqttset2020()),
            ("mlp", "keras") => ModelParams::Mlp(MlpParams::keras_50_30_20()),
            _ => {
                return Err(invalid(
                    "preset",
                    format!(
                        "`{kind}` has no preset `{preset}`; it has: {}",
                        presets(kind).join(", ")
                    ),
                ))
            }
        };
        Ok(p)
    }

    /// The kind's CLI name.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelParams::Nb(_) => "nb",
            ModelParams::Lr(_) => "lr",
            ModelParams::Dt(_) => "dt",
            ModelParams::Rf(_) => "rf",
            ModelParams::Gb(_) => "gb",
            ModelParams::Knn(_) => "knn",
            ModelParams::SvmLinear(_) => "svm-linear",
            ModelParams::Mlp(_) => "mlp",
            ModelParams::SvmRbf(_) => "svm-rbf",
        }
    }

    /// The same parameters with another seed (kinds without randomness ignore it).
    pub fn with_seed(mut self, seed: u64) -> Self {
        match &mut self {
            ModelParams::Dt(p) => p.random_state = seed,
            ModelParams::Rf(p) => p.random_state = seed,
            ModelParams::Gb(p) => p.random_state = seed,
            ModelParams::SvmLinear(p) => p.random_state = seed,
            ModelParams::Mlp(p) => p.random_state = seed,
            ModelParams::SvmRbf(p) => p.random_state = seed,
            ModelParams::Nb(_) | ModelParams::Lr(_) | ModelParams::Knn(_) => {}
        }
        self
    }

    /// Checks the parameters, then fits.
    pub fn fit(&self, ds: &Dataset) -> Result<Model> {
        self.fit_with_progress(ds, &no_progress)
    }

    /// Checks the parameters, then fits, reporting `progress(done, total)` per tree (rf),
    /// stage (gb), epoch (mlp), L-BFGS iteration (lr), pass (svm-linear), pair of classes
    /// (svm-rbf) or rows settled in leaves (dt); nb and knn, whose fits are one pass over the
    /// rows, report `(1, 1)` once fitted. The last report is always `(total, total)`.
    pub fn fit_with_progress(&self, ds: &Dataset, progress: Progress) -> Result<Model> {
        let model = match self {
            ModelParams::Nb(p) => {
                let m = Model::Nb(p.clone().check()?.fit(ds)?);
                progress(1, 1);
                m
            }
            ModelParams::Knn(p) => {
                let m = Model::Knn(p.clone().check()?.fit(ds)?);
                progress(1, 1);
                m
            }
            ModelParams::Lr(p) => Model::Lr(p.clone().check()?.fit_with_progress(ds, progress)?),
            ModelParams::Dt(p) => Model::Dt(p.clone().check()?.fit_with_progress(ds, progress)?),
            ModelParams::Rf(p) => Model::Rf(p.clone().check()?.fit_with_progress(ds, progress)?),
            ModelParams::Gb(p) => Model::Gb(p.clone().check()?.fit_with_progress(ds, progress)?),
            ModelParams::SvmLinear(p) => {
                Model::SvmLinear(p.clone().check()?.fit_with_progress(ds, progress)?)
            }
            ModelParams::Mlp(p) => Model::Mlp(p.clone().check()?.fit_with_progress(ds, progress)?),
            ModelParams::SvmRbf(p) => {
                Model::SvmRbf(p.clone().check()?.fit_with_progress(ds, progress)?)
            }
        };
        Ok(model)
    }
}

/// A fitted classifier of any kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "model", rename_all = "kebab-case")]
pub enum Model {
    Nb(GaussianNb),
    Lr(LogisticRegression),
    Dt(DecisionTree),
    Rf(RandomForest),
    Gb(GradientBoosting),
    Knn(KNeighbors),
    SvmLinear(LinearSvc),
    Mlp(Mlp),
    SvmRbf(Svc),
}

impl Model {
    fn inner(&self) -> &dyn Classifier {
        match self {
            Model::Nb(m) => m,
            Model::Lr(m) => m,
            Model::Dt(m) => m,
            Model::Rf(m) => m,
            Model::Gb(m) => m,
            Model::Knn(m) => m,
            Model::SvmLinear(m) => m,
            Model::Mlp(m) => m,
            Model::SvmRbf(m) => m,
        }
    }

    /// Impurity-based importances (summing to 1) for trees, forests and boosting.
    pub fn feature_importances(&self) -> Option<&[f64]> {
        match self {
            Model::Dt(m) => Some(&m.feature_importances),
            Model::Rf(m) => Some(&m.feature_importances),
            Model::Gb(m) => Some(&m.feature_importances),
            _ => None,
        }
    }
}

impl Classifier for Model {
    fn classes(&self) -> &[String] {
        self.inner().classes()
    }
    fn feature_names(&self) -> &[String] {
        self.inner().feature_names()
    }
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix> {
        self.inner().predict_proba(records)
    }
    fn predict(&self, records: &Matrix) -> Result<Vec<usize>> {
        self.inner().predict(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;
    use std::sync::Mutex;

    #[test]
    fn every_kind_reports_progress_ending_at_its_total() {
        let ds = blobs(60, 3);
        for kind in KINDS {
            let params = ModelParams::from_name(kind, None).unwrap();
            let calls = Mutex::new(Vec::new());
            params
                .fit_with_progress(&ds, &|done, total| {
                    calls.lock().unwrap().push((done, total))
                })
                .unwrap();
            let calls = calls.into_inner().unwrap();
            let &(done, total) = calls.last().unwrap_or_else(|| panic!("{kind}: no report"));
            assert_eq!(done, total, "{kind}: last report {calls:?}");
            assert!(calls.iter().all(|&(d, t)| d <= t && t == total), "{kind}");
            // Iterative kinds report more than the final step.
            if !matches!(*kind, "nb" | "knn") {
                assert!(calls.len() > 1, "{kind}: {calls:?}");
            }
        }
    }

    #[test]
    fn every_kind_and_preset_builds_and_unknown_names_are_explained() {
        for kind in KINDS {
            for preset in presets(kind) {
                let p = ModelParams::from_name(kind, Some(preset)).unwrap();
                assert_eq!(p.kind(), *kind);
            }
        }
        let e = ModelParams::from_name("gb", Some("hindy2020"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("default, mqttset2020"), "{e}");
        let e = ModelParams::from_name("xgb", None).unwrap_err().to_string();
        assert!(e.contains("unknown model `xgb`"), "{e}");
        match ModelParams::from_name("rf", Some("hindy2020"))
            .unwrap()
            .with_seed(9)
        {
            ModelParams::Rf(p) => assert_eq!((p.n_estimators, p.random_state), (10, 9)),
            other => panic!("{other:?}"),
        }
    }
}
