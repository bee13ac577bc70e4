//! Random forest like scikit-learn's `RandomForestClassifier`: bootstrap rows per tree, a fresh
//! random subset of `max_features` (√n by default) features at every split, class probabilities
//! averaged over trees. Trees grow in parallel with rayon; tree i's randomness comes from
//! `(random_state, i)` only, so the forest does not depend on the number of threads.

use crate::dataset::{Dataset, Matrix};
use crate::dt::{check_tree_params, class_frequencies, MaxFeatures};
use crate::error::{invalid, Result};
use crate::model::{no_progress, Classifier, Fit, FitInfo, ParamGuard, Progress, ROW_BLOCK};
use crate::rng::Rng;
use crate::tree::{self, Binned, Criterion, GrowParams, Target, Tree};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Unchecked hyper-parameters of [`RandomForest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomForestParams {
    pub n_estimators: usize,
    pub criterion: Criterion,
    pub max_depth: Option<usize>,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub max_features: MaxFeatures,
    pub bootstrap: bool,
    pub random_state: u64,
}

impl Default for RandomForestParams {
    /// scikit-learn's defaults: 100 trees, gini, unlimited depth, √n features, bootstrap; seed 0.
    fn default() -> Self {
        RandomForestParams {
            n_estimators: 100,
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            random_state: 0,
        }
    }
}

impl RandomForestParams {
    /// Hindy et al. 2020: 10 trees (scikit-learn 0.21's default), entropy, `random_state=0`.
    pub fn hindy2020() -> Self {
        RandomForestParams {
            n_estimators: 10,
            criterion: Criterion::Entropy,
            ..Default::default()
        }
    }
    /// Vaccari et al. 2020: scikit-learn's defaults (100 trees), seed 7.
    pub fn mqttset2020() -> Self {
        RandomForestParams {
            random_state: 7,
            ..Default::default()
        }
    }
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.n_estimators = n;
        self
    }
    pub fn criterion(mut self, c: Criterion) -> Self {
        self.criterion = c;
        self
    }
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        self.max_depth = d;
        self
    }
    pub fn random_state(mut self, s: u64) -> Self {
        self.random_state = s;
        self
    }
}

/// Checked hyper-parameters of [`RandomForest`].
#[derive(Clone, Debug, PartialEq)]
pub struct RandomForestValidParams(RandomForestParams);

impl ParamGuard for RandomForestParams {
    type Checked = RandomForestValidParams;
    fn check(self) -> Result<Self::Checked> {
        if self.n_estimators == 0 {
            return Err(invalid("n_estimators", "must be ≥ 1"));
        }
        check_tree_params(
            self.criterion,
            self.max_depth,
            self.min_samples_split,
            self.min_samples_leaf,
            self.max_features,
        )?;
        Ok(RandomForestValidParams(self))
    }
}

/// A fitted random forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomForest {
    pub info: FitInfo,
    pub trees: Vec<Tree>,
    pub feature_importances: Vec<f64>,
}

impl Fit for RandomForestValidParams {
    type Fitted = RandomForest;
    fn fit(&self, ds: &Dataset) -> Result<RandomForest> {
        self.fit_with_progress(ds, &no_progress)
    }
}

impl RandomForestValidParams {
    /// [`Fit::fit`], reporting each finished tree.
    pub fn fit_with_progress(&self, ds: &Dataset, progress: Progress) -> Result<RandomForest> {
        ds.check_fittable()?;
        let p = &self.0;
        let (n, d, k) = (ds.n_rows(), ds.n_features(), ds.n_classes());
        let binned = Binned::fit(&ds.records, p.random_state);
        let target = Target::Classes {
            y: &ds.targets,
            n_classes: k,
        };
        let grow = GrowParams {
            criterion: p.criterion,
            max_depth: p.max_depth,
            min_samples_split: p.min_samples_split,
            min_samples_leaf: p.min_samples_leaf,
            max_features: p.max_features.resolve(d),
            exact_below: 0,
        };
        let done = AtomicUsize::new(0);
        let grown: Vec<(Tree, Vec<f64>)> = (0..p.n_estimators)
            .into_par_iter()
            .map(|t| {
                let grown = {
                    let mut rng = Rng::derive(p.random_state, t as u64);
                    let mut weights = vec![0f32; n];
                    if p.bootstrap {
                        for _ in 0..n {
                            weights[rng.below(n)] += 1.0;
                        }
                    } else {
                        weights.iter_mut().for_each(|w| *w = 1.0);
                    }
                    let rows: Vec<u32> = (0..n as u32)
                        .filter(|&r| weights[r as usize] > 0.0)
                        .collect();
                    let mut g = tree::grow(
                        &binned,
                        None,
                        &target,
                        &weights,
                        rows,
                        &grow,
                        k,
                        rng.next_u64(),
                        class_frequencies,
                    );
                    tree::normalise(&mut g.importances);
                    (g.tree, g.importances)
                };
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, p.n_estimators);
                grown
            })
            .collect();
        let mut feature_importances = vec![0.0; d];
        for (_, imp) in &grown {
            for (a, b) in feature_importances.iter_mut().zip(imp) {
                *a += b;
            }
        }
        tree::normalise(&mut feature_importances);
        Ok(RandomForest {
            info: FitInfo::of(ds),
            trees: grown.into_iter().map(|(t, _)| t).collect(),
            feature_importances,
        })
    }
}

impl Classifier for RandomForest {
    fn classes(&self) -> &[String] {
        &self.info.classes
    }
    fn feature_names(&self) -> &[String] {
        &self.info.feature_names
    }
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix> {
        self.info.check_records(records)?;
        let k = self.info.classes.len();
        let scale = 1.0 / self.trees.len() as f32;
        let mut out = Matrix::zeros(records.n_rows(), k);
        // Trees outer, rows inner within a block, so a tree's nodes stay in cache for the whole
        // block; blocks as large as the threads allow. Each row sums the trees in order, so the
        // block size does not change any result.
        let block = (records.n_rows() / (4 * rayon::current_num_threads()))
            .clamp(ROW_BLOCK, 16 * ROW_BLOCK);
        out.as_mut_slice()
            .par_chunks_mut(k * block)
            .enumerate()
            .for_each(|(b, chunk)| {
                let first = b * block;
                for t in &self.trees {
                    for (i, o) in chunk.chunks_mut(k).enumerate() {
                        for (a, v) in o.iter_mut().zip(t.leaf(records.row(first + i))) {
                            *a += v;
                        }
                    }
                }
                chunk.iter_mut().for_each(|v| *v *= scale);
            });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;

    #[test]
    fn forest_generalises_and_is_deterministic() {
        let train = blobs(150, 7);
        let test = blobs(100, 8);
        let params = RandomForestParams::default()
            .n_estimators(20)
            .check()
            .unwrap();
        let m = params.fit(&train).unwrap();
        let acc = crate::metrics::accuracy(&test.targets, &m.predict(&test.records).unwrap());
        assert!(acc > 0.85, "{acc}");
        assert_eq!(m, params.fit(&train).unwrap());
        let other = RandomForestParams::default()
            .n_estimators(20)
            .random_state(1)
            .check()
            .unwrap();
        assert_ne!(m.trees, other.fit(&train).unwrap().trees);
        assert!((m.feature_importances.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(RandomForestParams::default()
            .n_estimators(0)
            .check()
            .is_err());
    }
}
