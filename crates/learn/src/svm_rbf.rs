//! Kernel SVM with an RBF kernel like scikit-learn's `SVC(kernel="rbf", gamma="scale")`:
//! libsvm's SMO (second-order working-set selection, Fan et al. 2005) on each pair of classes
//! (one-vs-one, majority vote; ties go to the first class), kernel columns kept in an LRU cache
//! of `cache_size_mb`. Features are standardised inside the model.
//!
//! Row limit: training is O(n²) in time, so at most `max_train_rows` rows (20,000 by default)
//! are used. A larger table is cut to a seeded, stratified subsample of that many rows (each
//! class keeps its share, at least one row); the model records how many rows it was fitted on.
//! `predict_proba` returns each class's share of the one-vs-one votes, not a calibrated
//! probability (scikit-learn's `SVC` without `probability=True` has none either).

use crate::dataset::{Dataset, Matrix};
use crate::error::{invalid, Result};
use crate::gemm::sgemm;
use crate::model::{no_progress, Classifier, Fit, FitInfo, ParamGuard, Progress};
use crate::rng::Rng;
use crate::scaler::StandardScaler;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Unchecked hyper-parameters of [`Svc`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SvcParams {
    pub c: f64,
    /// `None`: scikit-learn's `"scale"`, 1 / (n_features · variance of the standardised rows).
    pub gamma: Option<f64>,
    /// Stopping tolerance on the KKT gap (libsvm's `eps`).
    pub tol: f64,
    pub cache_size_mb: usize,
    pub max_train_rows: usize,
    pub random_state: u64,
}

impl Default for SvcParams {
    /// scikit-learn's defaults (`C=1, gamma="scale", tol=1e-3`, 200 MB cache); 20,000 rows; seed 0.
    fn default() -> Self {
        SvcParams {
            c: 1.0,
            gamma: None,
            tol: 1e-3,
            cache_size_mb: 200,
            max_train_rows: 20_000,
            random_state: 0,
        }
    }
}

impl SvcParams {
    pub fn c(mut self, c: f64) -> Self {
        self.c = c;
        self
    }
    pub fn max_train_rows(mut self, n: usize) -> Self {
        self.max_train_rows = n;
        self
    }
    pub fn random_state(mut self, s: u64) -> Self {
        self.random_state = s;
        self
    }
}

/// Checked hyper-parameters of [`Svc`].
#[derive(Clone, Debug, PartialEq)]
pub struct SvcValidParams(SvcParams);

impl ParamGuard for SvcParams {
    type Checked = SvcValidParams;
    fn check(self) -> Result<Self::Checked> {
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(invalid("C", format!("{} is not > 0", self.c)));
        }
        if let Some(g) = self.gamma {
            if !(g > 0.0 && g.is_finite()) {
                return Err(invalid("gamma", format!("{g} is not > 0")));
            }
        }
        if self.tol.is_nan() || self.tol <= 0.0 {
            return Err(invalid("tol", format!("{} is not > 0", self.tol)));
        }
        if self.max_train_rows < 2 {
            return Err(invalid("max_train_rows", "must be ≥ 2"));
        }
        Ok(SvcValidParams(self))
    }
}

/// The decision function of one pair of classes: `Σ dual_coef · K(sv, x) − rho`, positive for
/// `positive`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairModel {
    pub positive: usize,
    pub negative: usize,
    /// Indices into [`Svc::support_vectors`].
    pub support: Vec<u32>,
    pub dual_coef: Vec<f64>,
    pub rho: f64,
}

/// A fitted RBF SVM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Svc {
    pub info: FitInfo,
    pub scaler: StandardScaler,
    pub gamma: f64,
    /// Standardised support vectors shared by all pairs.
    pub support_vectors: Matrix,
    pub pairs: Vec<PairModel>,
    /// Rows the model was fitted on (fewer than the table's when it was subsampled).
    pub n_train_rows: usize,
}

/// Dot product with eight running sums (vectorisable; a plain `sum()` of f32 is not).
#[inline]
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Kernel columns of one binary problem, least recently used evicted first.
struct KernelCache<'a> {
    x: &'a [f32],
    d: usize,
    norms: Vec<f32>,
    gamma: f32,
    columns: HashMap<usize, (Rc<Vec<f32>>, u64)>,
    capacity: usize,
    clock: u64,
}

impl KernelCache<'_> {
    fn column(&mut self, i: usize) -> Rc<Vec<f32>> {
        self.clock += 1;
        if let Some((c, stamp)) = self.columns.get_mut(&i) {
            *stamp = self.clock;
            return c.clone();
        }
        let (d, x, norms, gamma) = (self.d, self.x, &self.norms, self.gamma);
        let xi = &x[i * d..(i + 1) * d];
        let mut col = vec![0f32; norms.len()];
        col.par_chunks_mut(4096).enumerate().for_each(|(b, chunk)| {
            for (k, out) in chunk.iter_mut().enumerate() {
                let t = b * 4096 + k;
                let xt = &x[t * d..(t + 1) * d];
                let dot = dot8(xi, xt);
                *out = (-gamma * (norms[i] + norms[t] - 2.0 * dot).max(0.0)).exp();
            }
        });
        if self.columns.len() >= self.capacity {
            if let Some((&old, _)) = self.columns.iter().min_by_key(|(_, (_, s))| *s) {
                self.columns.remove(&old);
            }
        }
        let col = Rc::new(col);
        self.columns.insert(i, (col.clone(), self.clock));
        col
    }
}

/// libsvm's C-SVC solver on rows `x` (row-major, d columns) with labels ±1. Returns (alpha·y, rho).
fn smo(
    x: &[f32],
    d: usize,
    y: &[f64],
    c: f64,
    gamma: f64,
    eps: f64,
    cache_mb: usize,
) -> (Vec<f64>, f64) {
    let n = y.len();
    let norms: Vec<f32> = x
        .chunks_exact(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    let capacity = ((cache_mb << 20) / (4 * n.max(1))).max(2);
    let mut cache = KernelCache {
        x,
        d,
        norms,
        gamma: gamma as f32,
        columns: HashMap::new(),
        capacity,
        clock: 0,
    };
    const TAU: f64 = 1e-12;
    let mut alpha = vec![0.0f64; n];
    let mut g = vec![-1.0f64; n];
    let max_iter = 10_000_000usize.max(100 * n);
    for _ in 0..max_iter {
        // Working set: i maximises −y·G over I_up, j minimises the second-order objective.
        let mut gmax = f64::NEG_INFINITY;
        let mut i = usize::MAX;
        for t in 0..n {
            if y[t] > 0.0 {
                if alpha[t] < c && -g[t] >= gmax {
                    gmax = -g[t];
                    i = t;
                }
            } else if alpha[t] > 0.0 && g[t] >= gmax {
                gmax = g[t];
                i = t;
            }
        }
        if i == usize::MAX {
            break;
        }
        let ki = cache.column(i);
        let mut gmax2 = f64::NEG_INFINITY;
        let mut j = usize::MAX;
        let mut obj_min = f64::INFINITY;
        for t in 0..n {
            let quad = |k_it: f64| {
                let q = 2.0 - 2.0 * k_it; // K_ii + K_tt − 2 K_it with K_tt = 1 (RBF)
                if q > 0.0 {
                    q
                } else {
                    TAU
                }
            };
            if y[t] > 0.0 {
                if alpha[t] > 0.0 {
                    gmax2 = gmax2.max(g[t]);
                    let diff = gmax + g[t];
                    if diff > 0.0 {
                        let obj = -diff * diff / quad(ki[t] as f64);
                        if obj <= obj_min {
                            obj_min = obj;
                            j = t;
                        }
                    }
                }
            } else if alpha[t] < c {
                gmax2 = gmax2.max(-g[t]);
                let diff = gmax - g[t];
                if diff > 0.0 {
                    let obj = -diff * diff / quad(ki[t] as f64);
                    if obj <= obj_min {
                        obj_min = obj;
                        j = t;
                    }
                }
            }
        }
        if gmax + gmax2 < eps || j == usize::MAX {
            break;
        }
        let kj = cache.column(j);
        let (yi, yj) = (y[i], y[j]);
        let kij = ki[j] as f64;
        let (old_i, old_j) = (alpha[i], alpha[j]);
        let (mut ai, mut aj) = (old_i, old_j);
        if yi != yj {
            let quad = (2.0 + 2.0 * kij).max(TAU);
            let delta = (-g[i] - g[j]) / quad;
            let diff = ai - aj;
            ai += delta;
            aj += delta;
            if diff > 0.0 {
                if aj < 0.0 {
                    aj = 0.0;
                    ai = diff;
                }
            } else if ai < 0.0 {
                ai = 0.0;
                aj = -diff;
            }
            if diff > 0.0 {
                if ai > c {
                    ai = c;
                    aj = c - diff;
                }
            } else if aj > c {
                aj = c;
                ai = c + diff;
            }
        } else {
            let quad = (2.0 - 2.0 * kij).max(TAU);
            let delta = (g[i] - g[j]) / quad;
            let sum = ai + aj;
            ai -= delta;
            aj += delta;
            if sum > c {
                if ai > c {
                    ai = c;
                    aj = sum - c;
                }
            } else if aj < 0.0 {
                aj = 0.0;
                ai = sum;
            }
            if sum > c {
                if aj > c {
                    aj = c;
                    ai = sum - c;
                }
            } else if ai < 0.0 {
                ai = 0.0;
                aj = sum;
            }
        }
        alpha[i] = ai;
        alpha[j] = aj;
        let (dai, daj) = (ai - old_i, aj - old_j);
        // G_t += Q_ti Δα_i + Q_tj Δα_j with Q_ts = y_t y_s K_ts.
        for t in 0..n {
            g[t] += y[t] * (yi * ki[t] as f64 * dai + yj * kj[t] as f64 * daj);
        }
    }
    // rho: mean of y·G over free vectors, else the middle of the feasible interval.
    let (mut ub, mut lb, mut sum, mut n_free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for t in 0..n {
        let yg = y[t] * g[t];
        let at_upper = alpha[t] >= c;
        let at_lower = alpha[t] <= 0.0;
        if at_upper {
            if y[t] < 0.0 {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else if at_lower {
            if y[t] > 0.0 {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else {
            n_free += 1;
            sum += yg;
        }
    }
    let rho = if n_free > 0 {
        sum / n_free as f64
    } else {
        (ub + lb) / 2.0
    };
    (alpha.iter().zip(y).map(|(a, y)| a * y).collect(), rho)
}

/// (positive class, negative class, support rows, dual coefficients, rho).
type SolvedPair = (usize, usize, Vec<usize>, Vec<f64>, f64);

/// Seeded stratified subsample of `limit` rows (each class keeps its share, at least one row).
fn stratified_subsample(
    targets: &[usize],
    n_classes: usize,
    limit: usize,
    seed: u64,
) -> Vec<usize> {
    let n = targets.len();
    let mut by_class = vec![Vec::new(); n_classes];
    for (i, &t) in targets.iter().enumerate() {
        by_class[t].push(i);
    }
    let mut rng = Rng::new(seed);
    let mut keep = Vec::with_capacity(limit);
    for rows in by_class.iter_mut().filter(|r| !r.is_empty()) {
        rng.shuffle(rows);
        let share = ((rows.len() as f64) * limit as f64 / n as f64).floor() as usize;
        keep.extend_from_slice(&rows[..share.clamp(1, rows.len())]);
    }
    keep.sort_unstable();
    keep
}

impl Fit for SvcValidParams {
    type Fitted = Svc;
    fn fit(&self, ds: &Dataset) -> Result<Svc> {
        self.fit_with_progress(ds, &no_progress)
    }
}

impl SvcValidParams {
    /// [`Fit::fit`], reporting each solved one-vs-one pair of classes.
    pub fn fit_with_progress(&self, ds: &Dataset, progress: Progress) -> Result<Svc> {
        ds.check_fittable()?;
        let p = &self.0;
        let k = ds.n_classes();
        let rows: Vec<usize> = if ds.n_rows() > p.max_train_rows {
            stratified_subsample(&ds.targets, k, p.max_train_rows, p.random_state)
        } else {
            (0..ds.n_rows()).collect()
        };
        let sub = ds.select(&rows);
        let scaler = StandardScaler::fit(&sub.records);
        let x = scaler.transform(&sub.records);
        let d = x.n_cols();
        let gamma = p.gamma.unwrap_or_else(|| {
            let v = x.as_slice();
            let mean = v.iter().map(|&a| a as f64).sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|&a| (a as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
            if var > 0.0 {
                1.0 / (d as f64 * var)
            } else {
                1.0
            }
        });
        let present: Vec<usize> = (0..k).filter(|&c| sub.targets.contains(&c)).collect();
        let mut pair_list = Vec::new();
        for (a, &ca) in present.iter().enumerate() {
            for &cb in &present[a + 1..] {
                pair_list.push((ca, cb));
            }
        }
        let done = AtomicUsize::new(0);
        let solved: Vec<SolvedPair> = pair_list
            .par_iter()
            .map(|&(ca, cb)| {
                let idx: Vec<usize> = (0..sub.n_rows())
                    .filter(|&i| sub.targets[i] == ca || sub.targets[i] == cb)
                    .collect();
                // Rows padded with zeros to a multiple of 8 values: whole vector lanes in `dot8`.
                let d8 = d.div_ceil(8) * 8;
                let mut xs = vec![0f32; idx.len() * d8];
                for (o, &i) in xs.chunks_exact_mut(d8).zip(&idx) {
                    o[..d].copy_from_slice(x.row(i));
                }
                let y: Vec<f64> = idx
                    .iter()
                    .map(|&i| if sub.targets[i] == ca { 1.0 } else { -1.0 })
                    .collect();
                let (coef, rho) = smo(&xs, d8, &y, p.c, gamma, p.tol, p.cache_size_mb);
                let (sv, coef): (Vec<usize>, Vec<f64>) = idx
                    .iter()
                    .zip(coef)
                    .filter(|(_, c)| *c != 0.0)
                    .map(|(&i, c)| (i, c))
                    .unzip();
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, pair_list.len());
                (ca, cb, sv, coef, rho)
            })
            .collect();
        // Shared support-vector matrix.
        let mut position: HashMap<usize, u32> = HashMap::new();
        let mut sv_rows = Vec::new();
        for (_, _, sv, _, _) in &solved {
            for &i in sv {
                position.entry(i).or_insert_with(|| {
                    sv_rows.push(i);
                    (sv_rows.len() - 1) as u32
                });
            }
        }
        let pairs = solved
            .into_iter()
            .map(|(ca, cb, sv, coef, rho)| PairModel {
                positive: ca,
                negative: cb,
                support: sv.iter().map(|i| position[i]).collect(),
                dual_coef: coef,
                rho,
            })
            .collect();
        Ok(Svc {
            info: FitInfo::of(ds),
            scaler,
            gamma,
            support_vectors: x.select_rows(&sv_rows),
            pairs,
            n_train_rows: rows.len(),
        })
    }
}

impl Svc {
    /// One-vs-one votes of each record, per class.
    fn votes(&self, records: &Matrix) -> Result<Matrix> {
        self.info.check_records(records)?;
        let x = self.scaler.transform(records);
        let d = x.n_cols();
        let k = self.info.classes.len();
        let sv = self.support_vectors.as_slice();
        let n_sv = self.support_vectors.n_rows();
        let sv_norms: Vec<f32> = self
            .support_vectors
            .rows()
            .map(|r| r.iter().map(|v| v * v).sum())
            .collect();
        let gamma = self.gamma as f32;
        const BLOCK: usize = 128;
        let parts: Vec<Vec<f32>> = x
            .as_slice()
            .par_chunks(BLOCK * d.max(1))
            .map(|xs| {
                let m = xs.len() / d.max(1);
                let mut kern = vec![0f32; m * n_sv];
                sgemm(m, d, n_sv, 1.0, xs, false, sv, true, 0.0, &mut kern);
                let mut votes = vec![0f32; m * k];
                for i in 0..m {
                    let xn: f32 = xs[i * d..(i + 1) * d].iter().map(|v| v * v).sum();
                    let row = &mut kern[i * n_sv..(i + 1) * n_sv];
                    for (kv, sn) in row.iter_mut().zip(&sv_norms) {
                        *kv = (-gamma * (xn + sn - 2.0 * *kv).max(0.0)).exp();
                    }
                    for pm in &self.pairs {
                        let mut f = -pm.rho;
                        for (&s, c) in pm.support.iter().zip(&pm.dual_coef) {
                            f += c * row[s as usize] as f64;
                        }
                        let winner = if f > 0.0 { pm.positive } else { pm.negative };
                        votes[i * k + winner] += 1.0;
                    }
                }
                votes
            })
            .collect();
        Matrix::new(records.n_rows(), k, parts.concat())
    }
}

impl Classifier for Svc {
    fn classes(&self) -> &[String] {
        &self.info.classes
    }
    fn feature_names(&self) -> &[String] {
        &self.info.feature_names
    }
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix> {
        let mut v = self.votes(records)?;
        let total = self.pairs.len().max(1) as f32;
        v.as_mut_slice().iter_mut().for_each(|x| *x /= total);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;

    #[test]
    fn separates_blobs_and_subsamples_beyond_the_row_limit() {
        let train = blobs(100, 16);
        let test = blobs(50, 17);
        let m = SvcParams::default().check().unwrap().fit(&train).unwrap();
        assert_eq!(m.pairs.len(), 3);
        assert_eq!(m.n_train_rows, 300);
        let acc = crate::metrics::accuracy(&test.targets, &m.predict(&test.records).unwrap());
        assert!(acc > 0.9, "{acc}");
        // Box constraints hold: 0 ≤ |α| ≤ C.
        assert!(m
            .pairs
            .iter()
            .flat_map(|p| &p.dual_coef)
            .all(|c| c.abs() <= 1.0 + 1e-12));
        let small = SvcParams::default()
            .max_train_rows(90)
            .check()
            .unwrap()
            .fit(&train)
            .unwrap();
        assert_eq!(small.n_train_rows, 90);
        assert!(SvcParams::default().c(0.0).check().is_err());
    }
}
