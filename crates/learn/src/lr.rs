//! Multinomial logistic regression like scikit-learn's `LogisticRegression(solver="lbfgs")`:
//! L2 penalty `1/(2C)·‖W‖²` on the weights (not the intercepts), softmax over all classes,
//! stopping at `max_iter` iterations or a largest gradient component ≤ `tol`. Features are
//! standardised inside the model (scikit-learn users add a `StandardScaler` for the same reason).
//! Same objective and stopping rule as scikit-learn's, but L-BFGS is preconditioned with the
//! Hessian's per-class blocks taken on a sample of rows, so it needs far fewer iterations
//! where features are correlated.

use crate::dataset::{Dataset, Matrix};
use crate::error::{invalid, Result};
use crate::exp::exp_nonpositive;
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

/// Rows per task in the loss; fixed so sums are taken in the same order on any number of threads.
const BLOCK: usize = 4096;

/// Rows whose logits are exponentiated together (a contiguous run of `ROWS·k` values: one
/// vectorised loop) and whose f64 copies stay in L1.
const ROWS: usize = 16;

/// Mean cross-entropy of the softmax over `k` classes of rows `xs` (n×d, row-major) with
/// weights `w` (row c = [weights of class c…, intercept]); its gradient is written to `grad`
/// (same layout). One pass over the f32 records: each run of [`ROWS`] rows is widened to f64
/// once, its logits taken, exponentiated together, and its gradient terms added while the rows
/// are still in L1. Rows are summed in fixed blocks, so the result does not depend on the
/// number of threads; the AVX2 and SSE2 builds of the kernel give the same bits.
fn cross_entropy(
    xs: &[f32],
    d: usize,
    targets: &[usize],
    k: usize,
    w: &[f64],
    grad: &mut [f64],
) -> f64 {
    let n = targets.len();
    let width = d + 1;
    let parts: Vec<(f64, Vec<f64>)> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let (lo, hi) = (b * BLOCK, ((b + 1) * BLOCK).min(n));
            block_sums_dispatch(&xs[lo * d..hi * d], d, &targets[lo..hi], k, w)
        })
        .collect();
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut loss = 0.0;
    for (l, g) in parts {
        loss += l;
        for (a, b) in grad.iter_mut().zip(&g) {
            *a += b;
        }
    }
    let inv_n = 1.0 / n as f64;
    grad.iter_mut().for_each(|g| *g *= inv_n);
    debug_assert_eq!(grad.len(), k * width);
    loss * inv_n
}

/// [`block_sums`] compiled for AVX2 where the processor has it (four f64 lanes per
/// instruction instead of SSE2's two). Multiplies and adds stay separate (Rust never fuses
/// them), so both builds give the same bits.
fn block_sums_dispatch(
    rows: &[f32],
    d: usize,
    targets: &[usize],
    k: usize,
    w: &[f64],
) -> (f64, Vec<f64>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2 (checked just above), the only requirement
            // of a `target_feature(enable = "avx2")` function.
            #[allow(unsafe_code)]
            return unsafe { block_sums_avx2(rows, d, targets, k, w) };
        }
    }
    block_sums(rows, d, targets, k, w)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn block_sums_avx2(
    rows: &[f32],
    d: usize,
    targets: &[usize],
    k: usize,
    w: &[f64],
) -> (f64, Vec<f64>) {
    block_sums(rows, d, targets, k, w)
}

/// Loss sum and gradient sum (layout of `w`) over `rows`. Inside, rows and weights are
/// padded with zeros to a multiple of four features, so every dot product and update is
/// whole four-lane steps.
#[inline(always)]
fn block_sums(rows: &[f32], d: usize, targets: &[usize], k: usize, w: &[f64]) -> (f64, Vec<f64>) {
    let width = d + 1;
    let d4 = d.div_ceil(4) * 4;
    let mut wp = vec![0.0f64; k * d4];
    for (dst, src) in wp.chunks_exact_mut(d4).zip(w.chunks_exact(width)) {
        dst[..d].copy_from_slice(&src[..d]);
    }
    let mut loss = 0.0;
    let mut gp = vec![0.0f64; k * d4];
    let mut gb = vec![0.0f64; k];
    let mut x64 = vec![0.0f64; ROWS * d4];
    let mut z = vec![0.0f64; ROWS * k];
    let mut mx = [0.0f64; ROWS];
    for (run, ts) in rows.chunks(ROWS * d).zip(targets.chunks(ROWS)) {
        let m = ts.len();
        for (a, b) in x64.chunks_exact_mut(d4).zip(run.chunks_exact(d)) {
            for (a, &b) in a.iter_mut().zip(b) {
                *a = b as f64;
            }
        }
        let x64 = &x64[..m * d4];
        let z = &mut z[..m * k];
        // Logits two rows at a time (each weight step loaded once for both) and four classes
        // at a time: eight independent sums instead of one chain of adds.
        let mut i = 0;
        while i < m {
            let pair = i + 1 < m;
            let rows_here = if pair { 2 } else { 1 };
            let (za, zb) = z[i * k..(i + rows_here) * k].split_at_mut(k);
            let xa = &x64[i * d4..(i + 1) * d4];
            let xb = if pair {
                &x64[(i + 1) * d4..(i + 2) * d4]
            } else {
                xa
            };
            let mut c = 0;
            while c < k {
                let take = (k - c).min(4);
                let wc = &wp[c * d4..(c + take) * d4];
                let (oa, ob) = (&mut za[c..c + take], &mut zb[..]);
                macro_rules! run {
                    ($n:literal) => {
                        if pair {
                            dots2::<$n>(xa, xb, wc, oa, &mut ob[c..c + take])
                        } else {
                            dots::<$n>(xa, wc, oa)
                        }
                    };
                }
                match take {
                    4 => run!(4),
                    3 => run!(3),
                    2 => run!(2),
                    _ => run!(1),
                }
                c += take;
            }
            i += rows_here;
        }
        for (zi, mi) in z.chunks_exact_mut(k).zip(&mut mx) {
            for (zc, src) in zi.iter_mut().zip(w.chunks_exact(width)) {
                *zc += src[d];
            }
            *mi = zi.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v));
        }
        for (i, &t) in ts.iter().enumerate() {
            loss += mx[i] - z[i * k + t];
        }
        for (zi, &mi) in z.chunks_exact_mut(k).zip(&mx) {
            for v in zi.iter_mut() {
                *v -= mi;
            }
        }
        for v in z.iter_mut() {
            *v = exp_nonpositive(*v);
        }
        // Σ ln(sum) as one ln of the product: each sum is in [1, k], so 16 of them cannot
        // overflow, and one logarithm per run is cheaper than sixteen.
        let mut product = 1.0f64;
        for (zi, &t) in z.chunks_exact_mut(k).zip(ts) {
            let sum: f64 = zi.iter().sum();
            product *= sum;
            // zi becomes p − y.
            let inv = 1.0 / sum;
            for v in zi.iter_mut() {
                *v *= inv;
            }
            zi[t] -= 1.0;
        }
        // Gradient terms two rows at a time: each gradient step loaded and stored once for both.
        let mut i = 0;
        while i < m {
            let xa = &x64[i * d4..(i + 1) * d4];
            let ea = &z[i * k..(i + 1) * k];
            if i + 1 < m {
                let xb = &x64[(i + 1) * d4..(i + 2) * d4];
                let eb = &z[(i + 1) * k..(i + 2) * k];
                for (((&a, &b), gc), gbc) in
                    ea.iter().zip(eb).zip(gp.chunks_exact_mut(d4)).zip(&mut gb)
                {
                    for ((g4, a4), b4) in gc
                        .chunks_exact_mut(4)
                        .zip(xa.chunks_exact(4))
                        .zip(xb.chunks_exact(4))
                    {
                        for l in 0..4 {
                            g4[l] += a * a4[l] + b * b4[l];
                        }
                    }
                    *gbc += a + b;
                }
                i += 2;
            } else {
                for ((&a, gc), gbc) in ea.iter().zip(gp.chunks_exact_mut(d4)).zip(&mut gb) {
                    for (g4, a4) in gc.chunks_exact_mut(4).zip(xa.chunks_exact(4)) {
                        for l in 0..4 {
                            g4[l] += a * a4[l];
                        }
                    }
                    *gbc += a;
                }
                i += 1;
            }
        }
        loss += product.ln();
    }
    let mut g = vec![0.0f64; k * width];
    for c in 0..k {
        g[c * width..c * width + d].copy_from_slice(&gp[c * d4..c * d4 + d]);
        g[c * width + d] = gb[c];
    }
    (loss, g)
}

/// Bounds on the rows sampled (evenly spaced) for the preconditioner's Hessian blocks.
const HESSIAN_ROWS_MIN: usize = 2048;
const HESSIAN_ROWS_MAX: usize = 8192;

/// Per class c, `Σ pᵢc(1 − pᵢc)·x̃ᵢx̃ᵢᵀ / m` (x̃ = [x, 1], (d+1)×(d+1), row-major) over the m
/// rows `0, stride, 2·stride, …` of `xs`, at weights `w`; summed in fixed blocks of rows, so
/// the result does not depend on the number of threads.
fn class_hessians(xs: &[f32], d: usize, k: usize, w: &[f64], stride: usize) -> Vec<Vec<f64>> {
    let width = d + 1;
    let rows: Vec<&[f32]> = xs.chunks_exact(d).step_by(stride).collect();
    let m = rows.len();
    let parts: Vec<Vec<f64>> = rows
        .par_chunks(1024)
        .map(|rows| {
            let mut h = vec![0.0f64; k * width * width];
            let mut x = vec![1.0f64; width];
            let mut z = vec![0.0f64; k];
            for row in rows {
                for (a, &b) in x.iter_mut().zip(row.iter()) {
                    *a = b as f64;
                }
                for (zc, wc) in z.iter_mut().zip(w.chunks_exact(width)) {
                    *zc = wc.iter().zip(&x).map(|(a, b)| a * b).sum();
                }
                let top = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                let mut sum = 0.0;
                for v in z.iter_mut() {
                    *v = (*v - top).exp();
                    sum += *v;
                }
                for (hc, &e) in h.chunks_exact_mut(width * width).zip(&z) {
                    let p = e / sum;
                    let a = p * (1.0 - p);
                    for i in 0..width {
                        let xi = a * x[i];
                        for (hij, &xj) in hc[i * width..=i * width + i].iter_mut().zip(&x) {
                            *hij += xi * xj;
                        }
                    }
                }
            }
            h
        })
        .collect();
    let mut h = vec![0.0f64; k * width * width];
    for part in parts {
        for (a, b) in h.iter_mut().zip(&part) {
            *a += b;
        }
    }
    let inv_m = 1.0 / m.max(1) as f64;
    h.chunks_exact(width * width)
        .map(|hc| {
            let mut full = vec![0.0f64; width * width];
            for i in 0..width {
                for j in 0..=i {
                    full[i * width + j] = hc[i * width + j] * inv_m;
                    full[j * width + i] = full[i * width + j];
                }
            }
            full
        })
        .collect()
}

/// Cholesky factor (lower triangle, row-major) of `m + ridge·I` for the symmetric
/// positive-semidefinite `m` (d×d); pivots are kept ≥ 1e-12 so constant features cannot
/// make it fail.
fn cholesky(mut m: Vec<f64>, d: usize, ridge: f64) -> Vec<f64> {
    for j in 0..d {
        m[j * d + j] += ridge;
    }
    for j in 0..d {
        let mut s = m[j * d + j];
        for k in 0..j {
            s -= m[j * d + k] * m[j * d + k];
        }
        let ljj = s.max(1e-12).sqrt();
        m[j * d + j] = ljj;
        for i in j + 1..d {
            let mut s = m[i * d + j];
            for k in 0..j {
                s -= m[i * d + k] * m[j * d + k];
            }
            m[i * d + j] = s / ljj;
        }
    }
    m
}

/// Solves `L Lᵀ v = b` in place for the factor `l` of [`cholesky`].
fn cholesky_solve(l: &[f64], d: usize, v: &mut [f64]) {
    for i in 0..d {
        let mut s = v[i];
        for k in 0..i {
            s -= l[i * d + k] * v[k];
        }
        v[i] = s / l[i * d + i];
    }
    for i in (0..d).rev() {
        let mut s = v[i];
        for k in i + 1..d {
            s -= l[k * d + i] * v[k];
        }
        v[i] = s / l[i * d + i];
    }
}

/// `out[c]` = x · w_c for the `C` rows of `w` (each as long as `x`, whole four-lane steps),
/// each with four running sums added as (s0 + s1) + (s2 + s3).
#[inline(always)]
fn dots<const C: usize>(x: &[f64], w: &[f64], out: &mut [f64]) {
    let len = x.len();
    let rows: [&[f64]; C] = std::array::from_fn(|c| &w[c * len..(c + 1) * len]);
    let mut acc = [[0.0f64; 4]; C];
    for (j, x4) in x.chunks_exact(4).enumerate() {
        for c in 0..C {
            let w4 = &rows[c][4 * j..4 * j + 4];
            for l in 0..4 {
                acc[c][l] += x4[l] * w4[l];
            }
        }
    }
    for (o, a) in out.iter_mut().zip(&acc) {
        *o = (a[0] + a[1]) + (a[2] + a[3]);
    }
}

/// [`dots`] for two rows `xa`, `xb` at once (the same sums, in the same order, per row).
#[inline(always)]
fn dots2<const C: usize>(xa: &[f64], xb: &[f64], w: &[f64], oa: &mut [f64], ob: &mut [f64]) {
    let len = xa.len();
    let rows: [&[f64]; C] = std::array::from_fn(|c| &w[c * len..(c + 1) * len]);
    let mut acc_a = [[0.0f64; 4]; C];
    let mut acc_b = [[0.0f64; 4]; C];
    for (j, (a4, b4)) in xa.chunks_exact(4).zip(xb.chunks_exact(4)).enumerate() {
        for c in 0..C {
            let w4 = &rows[c][4 * j..4 * j + 4];
            for l in 0..4 {
                acc_a[c][l] += a4[l] * w4[l];
                acc_b[c][l] += b4[l] * w4[l];
            }
        }
    }
    for (o, a) in oa.iter_mut().zip(&acc_a) {
        *o = (a[0] + a[1]) + (a[2] + a[3]);
    }
    for (o, a) in ob.iter_mut().zip(&acc_b) {
        *o = (a[0] + a[1]) + (a[2] + a[3]);
    }
}

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
        let xs = x.as_slice();
        // Objective: mean cross-entropy + alpha/2 ‖W‖² (scikit-learn's, divided by n).
        let objective = |w: &[f64], grad: &mut [f64]| -> f64 {
            let mut loss = cross_entropy(xs, d, targets, k, w, grad);
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
        // Preconditioner: each class's Hessian block is Σ pᵢ(1 − pᵢ)·xᵢxᵢᵀ/n + alpha·I, so
        // (XᵀX/n + alpha·I)⁻¹ is its inverse up to the scale L-BFGS estimates. Standardising
        // leaves correlated features correlated; without this the curvature along such
        // directions took L-BFGS ~94 iterations on the benchmark table, with it ~11.
        // Preconditioner: the Hessian's diagonal blocks, one per class,
        // Σ pᵢc(1 − pᵢc)·x̃ᵢx̃ᵢᵀ/m + alpha·I (x̃ = [x, 1]), taken on m evenly spaced rows at the
        // current weights and applied through their Cholesky factors as L-BFGS's initial
        // inverse Hessian. Standardising leaves correlated features correlated, and plain
        // L-BFGS spent most of its iterations learning that curvature: 94 iterations on the 150k
        // benchmark table, 6 with this (PERFORMANCE-NOTES.md). m = n/32 (at least 2,048, at
        // most 8,192 rows) keeps a block computation under ~1/4 of a loss evaluation; blocks are
        // recomputed at each of the first 10 iterates, then every 10th.
        let stride = n.div_ceil((n / 32).clamp(HESSIAN_ROWS_MIN.min(n), HESSIAN_ROWS_MAX));
        let mut factors: Vec<Vec<f64>> = Vec::new();
        let mut iterate: Vec<f64> = Vec::new();
        let mut iterates = 0usize;
        let precondition = |w: &[f64], v: &mut [f64]| {
            if iterate != w {
                iterate = w.to_vec();
                iterates += 1;
                if iterates <= 10 || iterates % 10 == 1 {
                    factors = class_hessians(xs, d, k, w, stride)
                        .into_iter()
                        .map(|h| cholesky(h, width, alpha))
                        .collect();
                }
            }
            for (block, f) in v.chunks_exact_mut(width).zip(&factors) {
                cholesky_solve(f, width, block);
            }
        };
        // scipy's L-BFGS-B as scikit-learn calls it: pgtol = tol, ftol = 64 · machine epsilon.
        let (w, n_iter, _) = lbfgs::minimize(
            objective,
            vec![0.0; k * width],
            precondition,
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
    fn gradient_matches_finite_differences() {
        let ds = blobs(40, 9);
        let x = ds.records.as_slice();
        let (k, d) = (3, 4);
        let w: Vec<f64> = (0..k * (d + 1)).map(|i| 0.1 * i as f64 - 0.7).collect();
        let mut g = vec![0.0; w.len()];
        let f0 = cross_entropy(x, d, &ds.targets, k, &w, &mut g);
        for i in 0..w.len() {
            let mut wp = w.clone();
            wp[i] += 1e-6;
            let fp = cross_entropy(x, d, &ds.targets, k, &wp, &mut vec![0.0; w.len()]);
            let numeric = (fp - f0) / 1e-6;
            assert!((numeric - g[i]).abs() < 1e-4, "{i}: {numeric} vs {}", g[i]);
        }
    }

    #[test]
    fn correlated_features_converge_in_few_iterations() {
        // Running sums of the blob features and four near-copies of their total: correlated
        // columns make the Hessian badly conditioned, which the preconditioner takes out.
        let ds = blobs(3000, 11);
        let mut rng = crate::rng::Rng::new(5);
        let n = ds.n_rows();
        let mut data = Vec::with_capacity(n * 8);
        for row in ds.records.rows() {
            let mut sum = 0.0f32;
            for &v in row {
                sum += v;
                data.push(sum);
            }
            for &v in row {
                data.push(sum + 0.1 * v + (0.01 * rng.normal()) as f32);
            }
        }
        let wide = Dataset::new(
            Matrix::new(n, 8, data).unwrap(),
            ds.targets.clone(),
            ds.classes.clone(),
            (0..8).map(|j| format!("f{j}")).collect(),
        )
        .unwrap();
        let p = LogisticRegressionParams::default().max_iter(1000);
        let m = p.check().unwrap().fit(&wide).unwrap();
        // 9 iterations with the preconditioner; plain L-BFGS (P = identity) took 18.
        assert!(m.n_iter <= 12, "{} iterations", m.n_iter);
        let acc = crate::metrics::accuracy(&wide.targets, &m.predict(&wide.records).unwrap());
        assert!(acc > 0.9, "{acc}");
    }

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
