//! Gradient boosting like scikit-learn's `GradientBoostingClassifier` (log-loss): the initial
//! score is the log of each class's prior; each stage fits one regression tree per class (a
//! single tree for two classes) to the residuals `y − p` on the histogram tree learner, leaf
//! values take one Newton step, and scores move by `learning_rate` × leaf value. A stage's
//! trees grow in parallel.

use crate::dataset::{Dataset, Matrix};
use crate::error::{invalid, Result};
use crate::model::{
    map_rows, no_progress, softmax_into, Classifier, Fit, FitInfo, ParamGuard, Progress,
};
use crate::tree::{self, Binned, Criterion, GrowParams, Target, Tree};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Unchecked hyper-parameters of [`GradientBoosting`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientBoostingParams {
    pub n_estimators: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub random_state: u64,
}

impl Default for GradientBoostingParams {
    /// scikit-learn's defaults: 100 stages, learning rate 0.1, depth 3; seed 0.
    fn default() -> Self {
        GradientBoostingParams {
            n_estimators: 100,
            learning_rate: 0.1,
            max_depth: 3,
            min_samples_split: 2,
            min_samples_leaf: 1,
            random_state: 0,
        }
    }
}

impl GradientBoostingParams {
    /// Vaccari et al. 2020: 20 estimators, otherwise scikit-learn's defaults, seed 7.
    pub fn mqttset2020() -> Self {
        GradientBoostingParams {
            n_estimators: 20,
            random_state: 7,
            ..Default::default()
        }
    }
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.n_estimators = n;
        self
    }
    pub fn learning_rate(mut self, r: f64) -> Self {
        self.learning_rate = r;
        self
    }
    pub fn max_depth(mut self, d: usize) -> Self {
        self.max_depth = d;
        self
    }
}

/// Checked hyper-parameters of [`GradientBoosting`].
#[derive(Clone, Debug, PartialEq)]
pub struct GradientBoostingValidParams(GradientBoostingParams);

impl ParamGuard for GradientBoostingParams {
    type Checked = GradientBoostingValidParams;
    fn check(self) -> Result<Self::Checked> {
        if self.n_estimators == 0 {
            return Err(invalid("n_estimators", "must be ≥ 1"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(invalid(
                "learning_rate",
                format!("{} is not > 0", self.learning_rate),
            ));
        }
        if self.max_depth == 0 {
            return Err(invalid("max_depth", "must be ≥ 1"));
        }
        if self.min_samples_split < 2 || self.min_samples_leaf < 1 {
            return Err(invalid(
                "min_samples_split",
                "needs min_samples_split ≥ 2 and min_samples_leaf ≥ 1",
            ));
        }
        Ok(GradientBoostingValidParams(self))
    }
}

/// A fitted gradient-boosting classifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientBoosting {
    pub info: FitInfo,
    /// Initial score per tree column (log priors; log-odds for two classes).
    pub init: Vec<f64>,
    pub learning_rate: f64,
    /// `stages[s][c]`: the tree of stage s for score column c.
    pub stages: Vec<Vec<Tree>>,
    pub feature_importances: Vec<f64>,
}

impl GradientBoosting {
    fn n_columns(&self) -> usize {
        self.init.len()
    }
    fn scores(&self, row: &[f32], z: &mut [f64]) {
        z.copy_from_slice(&self.init);
        for stage in &self.stages {
            for (zc, t) in z.iter_mut().zip(stage) {
                *zc += self.learning_rate * t.leaf(row)[0] as f64;
            }
        }
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Fit for GradientBoostingValidParams {
    type Fitted = GradientBoosting;
    fn fit(&self, ds: &Dataset) -> Result<GradientBoosting> {
        self.fit_with_progress(ds, &no_progress)
    }
}

impl GradientBoostingValidParams {
    /// [`Fit::fit`], reporting each finished stage.
    pub fn fit_with_progress(&self, ds: &Dataset, progress: Progress) -> Result<GradientBoosting> {
        ds.check_fittable()?;
        let p = &self.0;
        let (n, d, k) = (ds.n_rows(), ds.n_features(), ds.n_classes());
        let binned = Binned::fit(&ds.records, p.random_state);
        let counts = ds.class_counts();
        // Log-loss with two classes is a single score (log-odds of the second class).
        let binary = k == 2;
        let n_cols = if binary { 1 } else { k };
        let prior = |c: usize| (counts[c] as f64 / n as f64).max(1e-300);
        let init: Vec<f64> = if binary {
            vec![(prior(1) / prior(0)).ln()]
        } else {
            (0..k).map(|c| prior(c).ln()).collect()
        };
        let grow = GrowParams {
            criterion: Criterion::SquaredError,
            max_depth: Some(p.max_depth),
            min_samples_split: p.min_samples_split,
            min_samples_leaf: p.min_samples_leaf,
            max_features: d,
            exact_below: 0,
        };
        let weights = vec![1.0f32; n];
        // Scores per row, column-major by score column.
        let mut f: Vec<Vec<f64>> = init.iter().map(|&v| vec![v; n]).collect();
        let mut stages = Vec::with_capacity(p.n_estimators);
        let mut importances = vec![0.0; d];
        let mut prob = vec![vec![0.0f64; n]; n_cols];
        for stage_index in 0..p.n_estimators {
            // Probabilities of the current scores.
            if binary {
                for i in 0..n {
                    prob[0][i] = sigmoid(f[0][i]);
                }
            } else {
                let mut z = vec![0.0; k];
                for i in 0..n {
                    for c in 0..k {
                        z[c] = f[c][i];
                    }
                    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
                    for c in 0..k {
                        prob[c][i] = (z[c] - m).exp() / s;
                    }
                }
            }
            let grown: Vec<(Tree, Vec<f64>)> = (0..n_cols)
                .into_par_iter()
                .map(|c| {
                    let class = if binary { 1 } else { c };
                    let residual: Vec<f64> = (0..n)
                        .map(|i| (ds.targets[i] == class) as u8 as f64 - prob[c][i])
                        .collect();
                    let target = Target::Values { y: &residual };
                    let rows: Vec<u32> = (0..n as u32).collect();
                    let factor = if binary {
                        1.0
                    } else {
                        (k - 1) as f64 / k as f64
                    };
                    let newton = |leaf_rows: &[u32], _stats: &[f64]| -> Vec<f32> {
                        let (mut num, mut den) = (0.0, 0.0);
                        for &r in leaf_rows {
                            let r = r as usize;
                            num += residual[r];
                            den += if binary {
                                prob[c][r] * (1.0 - prob[c][r])
                            } else {
                                let a = residual[r].abs();
                                a * (1.0 - a)
                            };
                        }
                        vec![newton_step(num, den, factor)]
                    };
                    let mut g =
                        tree::grow(&binned, None, &target, &weights, rows, &grow, 1, 0, newton);
                    tree::normalise(&mut g.importances);
                    (g.tree, g.importances)
                })
                .collect();
            let mut stage = Vec::with_capacity(n_cols);
            for (c, (t, imp)) in grown.into_iter().enumerate() {
                for (a, b) in importances.iter_mut().zip(&imp) {
                    *a += b;
                }
                let fc = &mut f[c];
                fc.par_chunks_mut(4096).enumerate().for_each(|(b, chunk)| {
                    for (j, v) in chunk.iter_mut().enumerate() {
                        *v += p.learning_rate * t.leaf(ds.records.row(b * 4096 + j))[0] as f64;
                    }
                });
                stage.push(t);
            }
            stages.push(stage);
            progress(stage_index + 1, p.n_estimators);
        }
        tree::normalise(&mut importances);
        Ok(GradientBoosting {
            info: FitInfo::of(ds),
            init,
            learning_rate: p.learning_rate,
            stages,
            feature_importances: importances,
        })
    }
}

/// A leaf's value: the Newton step `factor · Σ residual / Σ p(1 − p)` of its rows.
fn newton_step(num: f64, den: f64, factor: f64) -> f32 {
    // scikit-learn: a denominator below 1e-150 gives a zero step.
    let v = if den.abs() < 1e-150 {
        0.0
    } else {
        factor * num / den
    };
    // Leaves are stored as f32: a near-certain wrong prediction (p(1 - p) tiny) gives a step
    // beyond f32's range, which would become ±inf and NaN scores after it; scikit-learn keeps
    // it finite in f64.
    v.clamp(f32::MIN as f64, f32::MAX as f64) as f32
}

impl Classifier for GradientBoosting {
    fn classes(&self) -> &[String] {
        &self.info.classes
    }
    fn feature_names(&self) -> &[String] {
        &self.info.feature_names
    }
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix> {
        self.info.check_records(records)?;
        let k = self.info.classes.len();
        let n_cols = self.n_columns();
        Ok(map_rows(records, k, n_cols, |row, out, z| {
            self.scores(row, z);
            if n_cols == 1 {
                let p1 = sigmoid(z[0]);
                out[0] = (1.0 - p1) as f32;
                out[1] = p1 as f32;
            } else {
                softmax_into(z, out);
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;

    #[test]
    fn boosting_learns_multi_class_and_binary() {
        let train = blobs(150, 9);
        let test = blobs(100, 10);
        let m = GradientBoostingParams::mqttset2020()
            .check()
            .unwrap()
            .fit(&train)
            .unwrap();
        assert_eq!(m.stages.len(), 20);
        assert_eq!(m.stages[0].len(), 3);
        let acc = crate::metrics::accuracy(&test.targets, &m.predict(&test.records).unwrap());
        assert!(acc > 0.85, "{acc}");
        // Two classes: one tree per stage.
        let keep: Vec<usize> = (0..train.n_rows())
            .filter(|&i| train.targets[i] < 2)
            .collect();
        let mut bin = train.select(&keep);
        bin.classes.truncate(2);
        let mb = GradientBoostingParams::default()
            .n_estimators(10)
            .check()
            .unwrap()
            .fit(&bin)
            .unwrap();
        assert_eq!(mb.stages[0].len(), 1);
        let acc = crate::metrics::accuracy(&bin.targets, &mb.predict(&bin.records).unwrap());
        assert!(acc > 0.9, "{acc}");
        assert!(GradientBoostingParams::default()
            .learning_rate(0.0)
            .check()
            .is_err());
    }

    #[test]
    fn newton_steps_beyond_f32_stay_finite() {
        // A leaf of rows predicted wrong with p ≈ 1e-45: Σ residual ≈ 1 per row, Σ p(1 − p)
        // ≈ 1e-45, a step of ~1e45 (commit 9a53ecb: it became +inf, the scores NaN and every
        // row was predicted as class 0).
        let up = newton_step(3.0, 3e-45, 0.8);
        let down = newton_step(-3.0, 3e-45, 0.8);
        assert_eq!((up, down), (f32::MAX, f32::MIN));
        // Ordinary steps pass through; a vanishing denominator gives no step, as scikit-learn.
        assert_eq!(newton_step(1.5, 3.0, 0.8), 0.4);
        assert_eq!(newton_step(1.0, 1e-160, 0.8), 0.0);
        // Scores built from the clamped step stay finite and order the classes.
        let z = [0.1 * up as f64, 0.0, 0.1 * down as f64];
        let mut out = [0.0f32; 3];
        softmax_into(&z, &mut out);
        assert!(out.iter().all(|p| p.is_finite()), "{out:?}");
        assert_eq!(out[0], 1.0);
    }
}
