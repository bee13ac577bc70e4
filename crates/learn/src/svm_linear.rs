//! Linear SVM like scikit-learn's `LinearSVC` (liblinear's dual coordinate descent for the
//! L2-regularised squared-hinge loss, Hsieh et al. 2008, with liblinear's shrinking): one-vs-rest
//! for more than two classes, an intercept learnt as a weight on a constant feature of 1
//! (`intercept_scaling = 1`, regularised as in liblinear). Features are standardised inside the
//! model. `predict_proba` is a softmax of the decision values: a ranking, not a calibrated
//! probability (scikit-learn's `LinearSVC` offers none).

use crate::dataset::{Dataset, Matrix};
use crate::error::{invalid, Result};
use crate::model::{
    map_rows, no_progress, softmax_into, Classifier, Fit, FitInfo, ParamGuard, Progress,
};
use crate::rng::Rng;
use crate::scaler::StandardScaler;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Unchecked hyper-parameters of [`LinearSvc`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearSvcParams {
    pub c: f64,
    /// Stop when the projected-gradient spread of a pass is ≤ `tol` (liblinear's `eps`).
    pub tol: f64,
    /// Passes over the data per binary problem.
    pub max_iter: usize,
    pub random_state: u64,
}

impl Default for LinearSvcParams {
    /// scikit-learn's defaults: `C=1, tol=1e-4, max_iter=1000`; seed 0.
    fn default() -> Self {
        LinearSvcParams {
            c: 1.0,
            tol: 1e-4,
            max_iter: 1000,
            random_state: 0,
        }
    }
}

impl LinearSvcParams {
    pub fn c(mut self, c: f64) -> Self {
        self.c = c;
        self
    }
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    pub fn random_state(mut self, s: u64) -> Self {
        self.random_state = s;
        self
    }
}

/// Checked hyper-parameters of [`LinearSvc`].
#[derive(Clone, Debug, PartialEq)]
pub struct LinearSvcValidParams(LinearSvcParams);

impl ParamGuard for LinearSvcParams {
    type Checked = LinearSvcValidParams;
    fn check(self) -> Result<Self::Checked> {
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(invalid("C", format!("{} is not > 0", self.c)));
        }
        if self.tol.is_nan() || self.tol <= 0.0 {
            return Err(invalid("tol", format!("{} is not > 0", self.tol)));
        }
        if self.max_iter == 0 {
            return Err(invalid("max_iter", "must be ≥ 1"));
        }
        Ok(LinearSvcValidParams(self))
    }
}

/// A fitted linear SVM: one weight vector (and intercept) per score column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearSvc {
    pub info: FitInfo,
    pub scaler: StandardScaler,
    /// One row per class (one row for two classes: the second class's score).
    pub coef: Vec<Vec<f64>>,
    pub intercept: Vec<f64>,
    /// Passes each binary problem took (`max_iter` means it stopped unconverged).
    pub n_iter: Vec<usize>,
}

/// Dot product of f64 weights with an f32 row, four running sums (vectorisable).
#[inline]
fn dot(w: &[f64], x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (cw, cx) = (w.chunks_exact(4), x.chunks_exact(4));
    let (rw, rx) = (cw.remainder(), cx.remainder());
    for (a, b) in cw.zip(cx) {
        for l in 0..4 {
            acc[l] += a[l] * b[l] as f64;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (a, b) in rw.iter().zip(rx) {
        s += a * *b as f64;
    }
    s
}

/// Dual coordinate descent for one binary problem; `x` is n×d row-major without a bias column
/// (f32: the passes visit rows in random order, so bytes per row set the speed), `y[i]` is ±1.
/// `on_pass()` is called after each pass. Returns (w, b, passes).
#[allow(clippy::too_many_arguments)]
fn solve_binary(
    x: &[f32],
    d: usize,
    y: &[f64],
    c: f64,
    eps: f64,
    max_iter: usize,
    seed: u64,
    on_pass: &(dyn Fn() + Sync),
) -> (Vec<f64>, f64, usize) {
    let n = y.len();
    let diag = 0.5 / c; // squared hinge: D_ii = 1/(2C), no upper bound on alpha.
    let q: Vec<f64> = x
        .chunks_exact(d)
        .map(|r| r.iter().map(|&v| v as f64 * v as f64).sum::<f64>() + 1.0 + diag)
        .collect();
    let mut w = vec![0.0f64; d];
    let mut b = 0.0f64;
    let mut alpha = vec![0.0f64; n];
    // Active variables in ascending order (shrinking removes, never reorders). Each pass
    // visits them in random order by chunks: the chunks in shuffled order, each chunk shuffled,
    // so consecutive visits stay within a few kilobytes of rows (a fully random order spends
    // most of its time waiting for memory); liblinear permutes all of them.
    const CHUNK: usize = 64;
    let mut active: Vec<usize> = (0..n).collect();
    let mut shrunk = vec![false; n];
    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut chunks: Vec<usize> = Vec::new();
    let mut rng = Rng::new(seed);
    // Without an upper bound on alpha (squared hinge) only the lower-bound shrinking applies.
    let mut pg_max_old = f64::INFINITY;
    let mut iter = 0;
    while iter < max_iter {
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        chunks.clear();
        chunks.extend(0..active.len().div_ceil(CHUNK));
        rng.shuffle(&mut chunks);
        order.clear();
        for &ch in &chunks {
            let from = order.len();
            order.extend_from_slice(&active[ch * CHUNK..((ch + 1) * CHUNK).min(active.len())]);
            rng.shuffle(&mut order[from..]);
        }
        let mut any_shrunk = false;
        for &i in &order {
            let r = &x[i * d..(i + 1) * d];
            let yi = y[i];
            let g = yi * (b + dot(&w, r)) - 1.0 + alpha[i] * diag;
            let mut pg = 0.0;
            if alpha[i] == 0.0 {
                if g > pg_max_old {
                    // Shrink: this variable is at its bound and likely to stay there.
                    shrunk[i] = true;
                    any_shrunk = true;
                    continue;
                } else if g < 0.0 {
                    pg = g;
                }
            } else {
                pg = g;
            }
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (alpha[i] - g / q[i]).max(0.0);
                let step = (alpha[i] - old) * yi;
                for (wj, &v) in w.iter_mut().zip(r) {
                    *wj += step * v as f64;
                }
                b += step;
            }
        }
        if any_shrunk {
            active.retain(|&i| !shrunk[i]);
        }
        iter += 1;
        on_pass();
        if pg_max - pg_min <= eps {
            if active.len() == n {
                break;
            }
            // Converged on the shrunk set: check every variable once more.
            active.clear();
            active.extend(0..n);
            shrunk.iter_mut().for_each(|s| *s = false);
            pg_max_old = f64::INFINITY;
            continue;
        }
        pg_max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
    }
    (w, b, iter)
}

impl Fit for LinearSvcValidParams {
    type Fitted = LinearSvc;
    fn fit(&self, ds: &Dataset) -> Result<LinearSvc> {
        self.fit_with_progress(ds, &no_progress)
    }
}

impl LinearSvcValidParams {
    /// [`Fit::fit`], reporting each pass over the rows of each one-vs-rest problem (out of
    /// `max_iter` per problem; a problem that converges sooner reports its remaining passes
    /// at once).
    pub fn fit_with_progress(&self, ds: &Dataset, progress: Progress) -> Result<LinearSvc> {
        ds.check_fittable()?;
        let p = &self.0;
        let scaler = StandardScaler::fit(&ds.records);
        let x = scaler.transform(&ds.records);
        let d = x.n_cols();
        let k = ds.n_classes();
        let columns: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
        let total = columns.len() * p.max_iter;
        let done = AtomicUsize::new(0);
        let advance = |passes: usize| {
            let now = done.fetch_add(passes, Ordering::Relaxed) + passes;
            progress(now, total);
        };
        let solved: Vec<(Vec<f64>, f64, usize)> = columns
            .par_iter()
            .map(|&c| {
                let y: Vec<f64> = ds
                    .targets
                    .iter()
                    .map(|&t| if t == c { 1.0 } else { -1.0 })
                    .collect();
                let solved = solve_binary(
                    x.as_slice(),
                    d,
                    &y,
                    p.c,
                    p.tol,
                    p.max_iter,
                    Rng::derive(p.random_state, c as u64).next_u64(),
                    &|| advance(1),
                );
                if solved.2 < p.max_iter {
                    advance(p.max_iter - solved.2);
                }
                solved
            })
            .collect();
        Ok(LinearSvc {
            info: FitInfo::of(ds),
            scaler,
            coef: solved.iter().map(|s| s.0.clone()).collect(),
            intercept: solved.iter().map(|s| s.1).collect(),
            n_iter: solved.iter().map(|s| s.2).collect(),
        })
    }
}

impl LinearSvc {
    /// Decision value of each score column for one record.
    fn decision(&self, row: &[f32], out: &mut [f64]) {
        for ((o, w), b) in out.iter_mut().zip(&self.coef).zip(&self.intercept) {
            let mut s = *b;
            for (j, &v) in row.iter().enumerate() {
                s += w[j] * (v as f64 - self.scaler.mean[j]) / self.scaler.scale[j];
            }
            *o = s;
        }
    }

    /// scikit-learn's `decision_function`: one column per class (one column for two classes).
    pub fn decision_function(&self, records: &Matrix) -> Result<Matrix> {
        self.info.check_records(records)?;
        let n_cols = self.coef.len();
        Ok(map_rows(records, n_cols, n_cols, |row, out, z| {
            self.decision(row, z);
            for (o, v) in out.iter_mut().zip(z.iter()) {
                *o = *v as f32;
            }
        }))
    }
}

impl Classifier for LinearSvc {
    fn classes(&self) -> &[String] {
        &self.info.classes
    }
    fn feature_names(&self) -> &[String] {
        &self.info.feature_names
    }
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix> {
        self.info.check_records(records)?;
        let k = self.info.classes.len();
        let n_cols = self.coef.len();
        Ok(map_rows(records, k, n_cols, |row, out, z| {
            self.decision(row, z);
            if n_cols == 1 {
                softmax_into(&[0.0, z[0]], out);
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
    fn separable_problem_reaches_the_kkt_conditions() {
        let ds = blobs(100, 13);
        let m = LinearSvcParams::default()
            .check()
            .unwrap()
            .fit(&ds)
            .unwrap();
        let acc = crate::metrics::accuracy(&ds.targets, &m.predict(&ds.records).unwrap());
        assert!(acc > 0.9, "{acc}");
        assert!(m.n_iter.iter().all(|&i| i < 1000), "{:?}", m.n_iter);
        assert_eq!(m.coef.len(), 3);
        assert!(LinearSvcParams::default().c(-1.0).check().is_err());
    }
}
