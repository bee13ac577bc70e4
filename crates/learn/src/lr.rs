//! Multinomial logistic regression like scikit-learn's `LogisticRegression(solver="lbfgs")`:
//! L2 penalty `1/(2C)·‖W‖²` on the weights (not the intercepts), softmax over all classes,
//! stopping at `max_iter` iterations or a largest gradient component ≤ `tol`. Features are
//! standardised inside the model (scikit-learn users add a `StandardScaler` for the same reason).

use crate::dataset::{Dataset, Matrix};
use crate::error::{invalid, Result};
use crate::lbfgs;
use crate::model::{
    map_rows, no_progress, softmax_into, Classifier, Fit, FitInfo, ParamGuard, Progress,
};
use crate::scaler::StandardScaler;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Unchecked hyper-parameters of [`LogisticRegression`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegressionParams {
    /// Inverse of regularisation strength.
    pub c: f64,
    pub max_iter: usize,
    pub tol: f64,
    pub fit_intercept: bool,
}

impl Default for LogisticRegressionParams {
    /// scikit-learn's defaults: `C=1.0, max_iter=100, tol=1e-4`.
    fn default() -> Self {
        LogisticRegressionParams {
            c: 1.0,
            max_iter: 100,
            tol: 1e-4,
            fit_intercept: true,
        }
    }
}

impl LogisticRegressionParams {
    pub fn c(mut self, c: f64) -> Self {
        self.c = c;
        self
    }
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    pub fn tol(mut self, t: f64) -> Self {
        self.tol = t;
        self
    }
}

/// Checked hyper-parameters of [`LogisticRegression`].
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticRegressionValidParams(LogisticRegressionParams);

impl ParamGuard for LogisticRegressionParams {
    type Checked = LogisticRegressionValidParams;
    fn check(self) -> Result<Self::Checked> {
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(invalid("C", format!("{} is not > 0", self.c)));
        }
        if self.max_iter == 0 {
            return Err(invalid("max_iter", "must be ≥ 1"));
        }
        if self.tol.is_nan() || self.tol <= 0.0 {
            return Err(invalid("tol", format!("{} is not > 0", self.tol)));
        }
        Ok(LogisticRegressionValidParams(self))
    }
}

/// A fitted multinomial logistic regression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    pub info: FitInfo,
    pub scaler: StandardScaler,
    /// `coef[c]`: weights of class c on standardised features.
    pub coef: Vec<Vec<f64>>,
    pub intercept: Vec<f64>,
    pub n_iter: usize,
}

/// Dot product with four running sums (vectorisable; a plain f64 `sum()` is not).
#[inline]
fn dot4(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Rows per task in the loss; fixed so sums are taken in the same order on any number of threads.
const BLOCK: usize = 4096;

impl Fit for LogisticRegressionValidParams {
    type Fitted = LogisticRegression;
    fn fit(&self, ds: &Dataset) -> Result<LogisticRegression> {
        self.fit_with_progress(ds, &no_progress)
    }
}

impl LogisticRegressionValidParams {
    /// [`Fit::fit`], reporting each L-BFGS iteration (out of `max_iter`; convergence ends
    /// sooner, and the last report is then `(max_iter, max_iter)`).
    pub fn fit_with_progress(
        &self,
        ds: &Dataset,
        progress: Progress,
    ) -> Result<LogisticRegression> {
        ds.check_fittable()?;
        let p = &self.0;
        let scaler = StandardScaler::fit(&ds.records);
        let x = scaler.transform(&ds.records);
        let (k, d, n) = (ds.n_classes(), ds.n_features(), ds.n_rows());
        let width = d + 1;
        let targets = &ds.targets;
        let alpha = 1.0 / (p.c * n as f64);
        let fit_intercept = p.fit_intercept;
        // Standardised rows in f64, once, for the matrix products of every evaluation.
        let x64: Vec<f64> = x.as_slice().iter().map(|&v| v as f64).collect();
        // Objective: mean cross-entropy + alpha/2 ‖W‖² (scikit-learn's, divided by n).
        let objective = |w: &[f64], grad: &mut [f64]| -> f64 {
            // Weights without intercepts, k×d; row c of `w` is [weights…, intercept].
            let mut wt = vec![0.0; d * k];
            for c in 0..k {
                wt[c * d..(c + 1) * d].copy_from_slice(&w[c * width..c * width + d]);
            }
            let parts: Vec<(f64, Vec<f64>, Vec<f64>)> = (0..n.div_ceil(BLOCK))
                .into_par_iter()
                .map(|b| {
                    let (lo, hi) = (b * BLOCK, ((b + 1) * BLOCK).min(n));
                    let m = hi - lo;
                    let xb = &x64[lo * d..hi * d];
                    let mut z = vec![0.0; m * k];
                    for (zi, xi) in z.chunks_exact_mut(k).zip(xb.chunks_exact(d)) {
                        for (zc, wc) in zi.iter_mut().zip(wt.chunks_exact(d)) {
                            *zc = dot4(xi, wc);
                        }
                    }
                    let mut loss = 0.0;
                    let mut gb = vec![0.0; k];
                    for (i, zi) in z.chunks_exact_mut(k).enumerate() {
                        for (c, v) in zi.iter_mut().enumerate() {
                            *v += w[c * width + d];
                        }
                        let mx = zi.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let t = targets[lo + i];
                        let zt = zi[t];
                        let mut sum = 0.0;
                        for v in zi.iter_mut() {
                            *v = (*v - mx).exp();
                            sum += *v;
                        }
                        loss += mx + sum.ln() - zt;
                        // zi becomes p − y.
                        for (c, v) in zi.iter_mut().enumerate() {
                            *v = *v / sum - (c == t) as u8 as f64;
                            gb[c] += *v;
                        }
                    }
                    // (p − y)ᵀ X: k×d, accumulated row by row (a product with k = 5 output
                    // rows spends more time packing than multiplying).
                    let mut gw = vec![0.0; k * d];
                    for (zi, xi) in z.chunks_exact(k).zip(xb.chunks_exact(d)) {
                        for (e, g) in zi.iter().zip(gw.chunks_exact_mut(d)) {
                            for (gj, xj) in g.iter_mut().zip(xi) {
                                *gj += e * xj;
                            }
                        }
                    }
                    (loss, gw, gb)
                })
                .collect();
            grad.iter_mut().for_each(|g| *g = 0.0);
            let mut loss = 0.0;
            for (l, gw, gb) in parts {
                loss += l;
                for c in 0..k {
                    for j in 0..d {
                        grad[c * width + j] += gw[c * d + j];
                    }
                    grad[c * width + d] += gb[c];
                }
            }
            let inv_n = 1.0 / n as f64;
            loss *= inv_n;
            grad.iter_mut().for_each(|g| *g *= inv_n);
            for c in 0..k {
                for j in 0..d {
                    let wj = w[c * width + j];
                    loss += 0.5 * alpha * wj * wj;
                    grad[c * width + j] += alpha * wj;
                }
                if !fit_intercept {
                    grad[c * width + d] = 0.0;
                }
            }
            loss
        };
        // scipy's L-BFGS-B as scikit-learn calls it: pgtol = tol, ftol = 64 · machine epsilon.
        let (w, n_iter, _) = lbfgs::minimize(
            objective,
            vec![0.0; k * width],
            p.max_iter,
            p.tol,
            64.0 * f64::EPSILON,
            |iter| progress(iter.min(p.max_iter - 1), p.max_iter),
        );
        progress(p.max_iter, p.max_iter);
        Ok(LogisticRegression {
            info: FitInfo::of(ds),
            scaler,
            coef: (0..k)
                .map(|c| w[c * width..c * width + d].to_vec())
                .collect(),
            intercept: (0..k).map(|c| w[c * width + d]).collect(),
            n_iter,
        })
    }
}

impl Classifier for LogisticRegression {
    fn classes(&self) -> &[String] {
        &self.info.classes
    }
    fn feature_names(&self) -> &[String] {
        &self.info.feature_names
    }
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix> {
        self.info.check_records(records)?;
        let k = self.coef.len();
        // Fold the scaler into the weights once: w·(x − m)/s = (w/s)·x − Σ w·m/s.
        let d = self.info.feature_names.len();
        let mut w = vec![0.0f64; k * d];
        let mut b = self.intercept.clone();
        for c in 0..k {
            for j in 0..d {
                let wj = self.coef[c][j] / self.scaler.scale[j];
                w[c * d + j] = wj;
                b[c] -= wj * self.scaler.mean[j];
            }
        }
        Ok(map_rows(records, k, k, |row, out, z| {
            for (c, zc) in z.iter_mut().enumerate() {
                let wc = &w[c * d..(c + 1) * d];
                *zc = b[c] + wc.iter().zip(row).map(|(a, &v)| a * v as f64).sum::<f64>();
            }
            softmax_into(z, out);
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;

    #[test]
    fn fits_blobs_and_reaches_a_stationary_point() {
        let ds = blobs(100, 5);
        let m = LogisticRegressionParams::default()
            .check()
            .unwrap()
            .fit(&ds)
            .unwrap();
        let acc = crate::metrics::accuracy(&ds.targets, &m.predict(&ds.records).unwrap());
        assert!(acc > 0.9, "{acc}");
        assert!(m.n_iter < 100, "did not converge: {} iterations", m.n_iter);
        // At the optimum the intercept gradient (mean of p - y per class) is ~0 → the mean
        // predicted probability of each class equals its frequency.
        let p = m.predict_proba(&ds.records).unwrap();
        for c in 0..3 {
            let mean: f64 = p.rows().map(|r| r[c] as f64).sum::<f64>() / ds.n_rows() as f64;
            assert!((mean - 1.0 / 3.0).abs() < 1e-3, "class {c}: {mean}");
        }
        assert!(LogisticRegressionParams::default().c(0.0).check().is_err());
    }
}
