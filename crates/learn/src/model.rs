//! The traits every classifier follows (linfa's shape, scikit-learn's words): unchecked params
//! → [`ParamGuard::check`] → [`Fit::fit`] → a fitted [`Classifier`] with `predict`,
//! `predict_proba`, its classes, feature names and feature count.

use crate::dataset::{Dataset, Matrix};
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Validation of hyper-parameters before any data is touched.
pub trait ParamGuard {
    type Checked;
    /// The same parameters, validated; an invalid one is an [`Error::InvalidParam`] naming it.
    fn check(self) -> Result<Self::Checked>;
}

/// Fitting checked parameters to a dataset returns a separate fitted model.
pub trait Fit {
    type Fitted: Classifier;
    fn fit(&self, dataset: &Dataset) -> Result<Self::Fitted>;
}

/// Progress of a long fit: `progress(done, total)` after each step (tree, stage, epoch,
/// iteration, pass: see [`crate::ModelParams::fit_with_progress`]); called from worker threads,
/// so it must be `Sync`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// A progress callback that ignores its reports.
pub fn no_progress(_done: usize, _total: usize) {}

/// A fitted classifier.
pub trait Classifier {
    /// Class names, in the order of `predict_proba`'s columns.
    fn classes(&self) -> &[String];
    /// Feature names, in the order the records' columns must have.
    fn feature_names(&self) -> &[String];
    fn n_features(&self) -> usize {
        self.feature_names().len()
    }
    /// One row per record, one column per class, each row summing to 1.
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix>;
    /// Class index (into [`Classifier::classes`]) of each record.
    fn predict(&self, records: &Matrix) -> Result<Vec<usize>> {
        Ok(self.predict_proba(records)?.argmax_rows())
    }
}

/// What every fitted model remembers about the table it was fitted on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    pub classes: Vec<String>,
    pub feature_names: Vec<String>,
}

impl FitInfo {
    pub(crate) fn of(ds: &Dataset) -> Self {
        FitInfo {
            classes: ds.classes.clone(),
            feature_names: ds.feature_names.clone(),
        }
    }
    pub(crate) fn check_records(&self, records: &Matrix) -> Result<()> {
        if records.n_cols() != self.feature_names.len() {
            return Err(Error::NFeatures {
                expected: self.feature_names.len(),
                found: records.n_cols(),
            });
        }
        Ok(())
    }
}

/// Rows per parallel task when mapping records.
pub(crate) const ROW_BLOCK: usize = 1024;

/// Applies `f(record, output_row, scratch)` to every record in parallel; `scratch` is a buffer
/// of `n_scratch` values reused within a block of rows. The result is independent of the
/// number of threads.
pub(crate) fn map_rows<F>(records: &Matrix, n_out: usize, n_scratch: usize, f: F) -> Matrix
where
    F: Fn(&[f32], &mut [f32], &mut [f64]) + Sync,
{
    let mut out = Matrix::zeros(records.n_rows(), n_out);
    if n_out == 0 {
        return out;
    }
    out.as_mut_slice()
        .par_chunks_mut(n_out * ROW_BLOCK)
        .enumerate()
        .for_each(|(block, chunk)| {
            let mut scratch = vec![0.0f64; n_scratch];
            for (k, o) in chunk.chunks_mut(n_out).enumerate() {
                f(records.row(block * ROW_BLOCK + k), o, &mut scratch);
            }
        });
    out
}

/// In-place softmax of `v` (f64 for stability) written to `out`.
pub(crate) fn softmax_into(v: &[f64], out: &mut [f32]) {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for &x in v {
        s += (x - m).exp();
    }
    for (o, &x) in out.iter_mut().zip(v) {
        *o = ((x - m).exp() / s) as f32;
    }
}
