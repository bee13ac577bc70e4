//! k-nearest neighbours like scikit-learn's `KNeighborsClassifier` (uniform weights, Euclidean
//! distance, k = 5) by brute force: squared distances `‖x‖² + ‖t‖² − 2·x·t` for blocks of test
//! rows against blocks of training rows with one matrix product each, a running top-k per test
//! row, test blocks in parallel. Features are standardised inside the model by default (the
//! reference figures use scikit-learn with a `StandardScaler` in front).

use crate::dataset::{Dataset, Matrix};
use crate::error::{invalid, Result};
use crate::gemm::sgemm;
use crate::model::{Classifier, Fit, FitInfo, ParamGuard};
use crate::scaler::StandardScaler;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Unchecked hyper-parameters of [`KNeighbors`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KNeighborsParams {
    pub n_neighbors: usize,
    /// Standardise features before measuring distances.
    pub standardize: bool,
}

impl Default for KNeighborsParams {
    /// k = 5 (scikit-learn's default and Hindy et al.'s), standardised features.
    fn default() -> Self {
        KNeighborsParams {
            n_neighbors: 5,
            standardize: true,
        }
    }
}

impl KNeighborsParams {
    pub fn n_neighbors(mut self, k: usize) -> Self {
        self.n_neighbors = k;
        self
    }
    pub fn standardize(mut self, s: bool) -> Self {
        self.standardize = s;
        self
    }
}

/// Checked hyper-parameters of [`KNeighbors`].
#[derive(Clone, Debug, PartialEq)]
pub struct KNeighborsValidParams(KNeighborsParams);

impl ParamGuard for KNeighborsParams {
    type Checked = KNeighborsValidParams;
    fn check(self) -> Result<Self::Checked> {
        if self.n_neighbors == 0 {
            return Err(invalid("n_neighbors", "must be ≥ 1"));
        }
        Ok(KNeighborsValidParams(self))
    }
}

/// A fitted k-nearest-neighbours classifier: it keeps its (standardised) training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KNeighbors {
    pub info: FitInfo,
    pub n_neighbors: usize,
    pub scaler: Option<StandardScaler>,
    pub train: Matrix,
    pub targets: Vec<usize>,
}

impl Fit for KNeighborsValidParams {
    type Fitted = KNeighbors;
    fn fit(&self, ds: &Dataset) -> Result<KNeighbors> {
        ds.check_fittable()?;
        if self.0.n_neighbors > ds.n_rows() {
            return Err(invalid(
                "n_neighbors",
                format!(
                    "{} neighbours but {} training rows",
                    self.0.n_neighbors,
                    ds.n_rows()
                ),
            ));
        }
        let scaler = self.0.standardize.then(|| StandardScaler::fit(&ds.records));
        let train = match &scaler {
            Some(s) => s.transform(&ds.records),
            None => ds.records.clone(),
        };
        Ok(KNeighbors {
            info: FitInfo::of(ds),
            n_neighbors: self.0.n_neighbors,
            scaler,
            train,
            targets: ds.targets.clone(),
        })
    }
}

const TEST_BLOCK: usize = 256;
const TRAIN_BLOCK: usize = 2048;
/// Candidates per run in the top-k scan.
const SCAN: usize = 64;

fn squared_norms(x: &[f32], d: usize) -> Vec<f32> {
    x.chunks_exact(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect()
}

impl KNeighbors {
    /// Indices of the `n_neighbors` nearest training rows of each record, nearest first (ties:
    /// lower training index first).
    pub fn kneighbors(&self, records: &Matrix) -> Result<Vec<Vec<usize>>> {
        self.info.check_records(records)?;
        let x = match &self.scaler {
            Some(s) => s.transform(records),
            None => records.clone(),
        };
        let d = x.n_cols();
        let k = self.n_neighbors;
        let n_train = self.train.n_rows();
        let train = self.train.as_slice();
        let train_norms = squared_norms(train, d);
        let blocks: Vec<Vec<Vec<usize>>> = x
            .as_slice()
            .par_chunks(TEST_BLOCK * d)
            .map(|test| {
                let m = test.len() / d;
                let test_norms = squared_norms(test, d);
                // Per test row: (distance, index), sorted ascending, at most k.
                let mut best: Vec<Vec<(f32, usize)>> = vec![Vec::with_capacity(k + 1); m];
                let mut dots = vec![0f32; m * TRAIN_BLOCK];
                for start in (0..n_train).step_by(TRAIN_BLOCK) {
                    let nb = TRAIN_BLOCK.min(n_train - start);
                    let block = &train[start * d..(start + nb) * d];
                    let dots = &mut dots[..m * nb];
                    sgemm(m, d, nb, 1.0, test, false, block, true, 0.0, dots);
                    let norms = &train_norms[start..start + nb];
                    for (i, b) in best.iter_mut().enumerate() {
                        let row = &dots[i * nb..(i + 1) * nb];
                        let tn = test_norms[i];
                        for (c, (rc, nc)) in row.chunks(SCAN).zip(norms.chunks(SCAN)).enumerate() {
                            // Skip a whole run of candidates when even its nearest is no closer
                            // than the current k-th (the same expression as below, so the same
                            // rows are kept); the minimum is computed in eight lanes.
                            if b.len() == k {
                                let mut lanes = [f32::INFINITY; 8];
                                let (dc, ncc) = (rc.chunks_exact(8), nc.chunks_exact(8));
                                let (dr, nr) = (dc.remainder(), ncc.remainder());
                                for (d8, n8) in dc.zip(ncc) {
                                    for l in 0..8 {
                                        let v = tn + n8[l] - 2.0 * d8[l];
                                        lanes[l] = if v < lanes[l] { v } else { lanes[l] };
                                    }
                                }
                                let mut m = lanes.iter().cloned().fold(f32::INFINITY, f32::min);
                                for (&dot, &trn) in dr.iter().zip(nr) {
                                    m = m.min(tn + trn - 2.0 * dot);
                                }
                                if m >= b[k - 1].0 {
                                    continue;
                                }
                            }
                            for (jj, (&dot, &trn)) in rc.iter().zip(nc).enumerate() {
                                let dist = (tn + trn - 2.0 * dot).max(0.0);
                                if b.len() == k && dist >= b[k - 1].0 {
                                    continue;
                                }
                                let pos = b.partition_point(|&(bd, _)| bd <= dist);
                                b.insert(pos, (dist, start + c * SCAN + jj));
                                b.truncate(k);
                            }
                        }
                    }
                }
                best.into_iter()
                    .map(|b| b.into_iter().map(|(_, j)| j).collect())
                    .collect()
            })
            .collect();
        Ok(blocks.into_iter().flatten().collect())
    }
}

impl Classifier for KNeighbors {
    fn classes(&self) -> &[String] {
        &self.info.classes
    }
    fn feature_names(&self) -> &[String] {
        &self.info.feature_names
    }
    /// The fraction of the k neighbours in each class.
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix> {
        let neighbours = self.kneighbors(records)?;
        let kc = self.info.classes.len();
        let mut out = Matrix::zeros(records.n_rows(), kc);
        let w = 1.0 / self.n_neighbors as f32;
        for (i, nb) in neighbours.iter().enumerate() {
            let row = out.row_mut(i);
            for &j in nb {
                row[self.targets[j]] += w;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;

    #[test]
    fn neighbours_match_a_naive_search() {
        let train = blobs(200, 11);
        let test = blobs(30, 12);
        let m = KNeighborsParams::default()
            .standardize(false)
            .check()
            .unwrap()
            .fit(&train)
            .unwrap();
        let got = m.kneighbors(&test.records).unwrap();
        for (i, r) in test.records.rows().enumerate() {
            let mut all: Vec<(f64, usize)> = train
                .records
                .rows()
                .enumerate()
                .map(|(j, t)| {
                    (
                        r.iter().zip(t).map(|(a, b)| ((a - b) as f64).powi(2)).sum(),
                        j,
                    )
                })
                .collect();
            all.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let want: Vec<usize> = all[..5].iter().map(|p| p.1).collect();
            assert_eq!(got[i], want, "row {i}");
        }
        let p = m.predict_proba(&test.records).unwrap();
        assert!(p.rows().all(|r| (r.iter().sum::<f32>() - 1.0).abs() < 1e-6));
        assert!(KNeighborsParams::default().n_neighbors(0).check().is_err());
    }
}
