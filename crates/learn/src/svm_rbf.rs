//! Kernel SVM with an RBF kernel like scikit-learn's `SVC(kernel="rbf", gamma="scale")`:
//! libsvm's SMO (second-order working-set selection, Fan et al. 2005) on each pair of classes
//! (one-vs-one, majority vote; ties go to the first class), kernel columns kept in an LRU cache
//! of `cache_size_mb`. Features are standardised inside the model. Kernel columns are computed
//! from a feature-major copy of the rows with an f32 exponential, and the working-set
//! selection and gradient update are branch-free loops (AVX2 where available, same bits).
//!
//! Row limit: training is O(n²) in time, so at most `max_train_rows` rows (20,000 by default)
//! are used. A larger table is cut to a seeded, stratified subsample of that many rows (each
//! class keeps its share, at least one row); the model records how many rows it was fitted on.
//! `predict_proba` returns each class's share of the one-vs-one votes, not a calibrated
//! probability (scikit-learn's `SVC` without `probability=True` has none either).

use crate::dataset::{Dataset, Matrix};
use crate::error::{invalid, Result};
use crate::exp::exp_nonpositive_f32;
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
    /// libsvm's shrinking heuristic (scikit-learn's `shrinking`). Same solution either way;
    /// off by default because it measured no faster on our benchmark data (see
    /// PERFORMANCE-NOTES.md), where many multipliers sit at the upper bound and each arrival
    /// there costs a full kernel column.
    #[serde(default)]
    pub shrinking: bool,
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
            shrinking: false,
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
    pub fn shrinking(mut self, on: bool) -> Self {
        self.shrinking = on;
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

/// Defines `$name` as a loop body compiled twice, for AVX2 where the processor has it (run-time
/// check) and for the build's baseline. Multiplies and adds stay separate (Rust never fuses
/// them) and every value is computed by the same operations in the same order, so both builds
/// give the same bits; only the vector width changes.
macro_rules! avx2_or_baseline {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(unsafe_code, clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the processor supports AVX2 (checked just above), the only
                    // requirement of a `target_feature(enable = "avx2")` function.
                    #[allow(unsafe_code)]
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// Kernel columns of one binary problem in the solver's position order (libsvm's `Cache`):
/// the column of row `r` holds K(r, row at position t) for the first `len` positions, so while
/// the active set is shrunk only its prefix is computed. The rows are also kept feature-major
/// in position order (`xt`), so a column is computed as `d` passes of multiply-adds along
/// contiguous runs of positions (no per-row horizontal sums). Least recently used columns are
/// evicted first once `budget` values are stored (a linked list over row ids: O(1) per use).
struct KernelCache<'a> {
    /// Rows by row id, row-major.
    x: &'a [f32],
    d: usize,
    n: usize,
    /// ‖x‖² by row id.
    norms: Vec<f32>,
    /// xt[j·n + t]: feature j of the row at position t.
    xt: Vec<f32>,
    /// ‖x‖² of the row at position t.
    norms_pos: Vec<f32>,
    gamma: f32,
    columns: Vec<Option<Rc<Vec<f32>>>>,
    /// LRU list over row ids (sentinel n): prev/next, least recently used first.
    prev: Vec<usize>,
    next: Vec<usize>,
    budget: usize,
    stored: usize,
}

impl<'a> KernelCache<'a> {
    /// `n` rows of `d` features in `x` (row-major), all in position order to start with.
    fn new(x: &'a [f32], n: usize, d: usize, gamma: f32, budget: usize) -> Self {
        let row = |r: usize| &x[r * d..(r + 1) * d];
        let norms: Vec<f32> = (0..n).map(|r| row(r).iter().map(|v| v * v).sum()).collect();
        let mut xt = vec![0f32; d * n];
        for t in 0..n {
            for (j, &v) in row(t).iter().enumerate() {
                xt[j * n + t] = v;
            }
        }
        KernelCache {
            x,
            d,
            n,
            norms_pos: norms.clone(),
            norms,
            xt,
            gamma,
            columns: vec![None; n],
            prev: vec![n; n + 1],
            next: vec![n; n + 1],
            budget,
            stored: 0,
        }
    }

    fn unlink(&mut self, r: usize) {
        let (p, q) = (self.prev[r], self.next[r]);
        self.next[p] = q;
        self.prev[q] = p;
    }

    fn push_back(&mut self, r: usize) {
        let s = self.n;
        let last = self.prev[s];
        self.next[last] = r;
        self.prev[r] = last;
        self.next[r] = s;
        self.prev[s] = r;
    }

    /// The column of row `r` over positions `0..len`.
    fn column(&mut self, r: usize, len: usize) -> Rc<Vec<f32>> {
        let mut col = match self.columns[r].take() {
            Some(c) => {
                self.unlink(r);
                self.stored -= c.len();
                c
            }
            None => Rc::new(Vec::new()),
        };
        let have = col.len();
        if have < len {
            let c = Rc::make_mut(&mut col);
            c.resize(len, 0.0);
            let (d, n, gamma) = (self.d, self.n, self.gamma);
            let xr = &self.x[r * d..(r + 1) * d];
            let nr = self.norms[r];
            let (xt, norms_pos) = (&self.xt[..], &self.norms_pos[..]);
            let tail = &mut c[have..];
            const PART: usize = 4096;
            if tail.len() >= 2 * PART {
                tail.par_chunks_mut(PART).enumerate().for_each(|(b, out)| {
                    kernel_positions(xt, n, xr, nr, norms_pos, gamma, have + b * PART, out)
                });
            } else {
                kernel_positions(xt, n, xr, nr, norms_pos, gamma, have, tail);
            }
        }
        while self.stored + col.len() > self.budget && self.next[self.n] != self.n {
            let old = self.next[self.n];
            self.unlink(old);
            if let Some(c) = self.columns[old].take() {
                self.stored -= c.len();
            }
        }
        self.stored += col.len();
        self.columns[r] = Some(col.clone());
        self.push_back(r);
        col
    }

    /// Positions `p < q` were swapped: swap them in the feature-major rows and in every stored
    /// column long enough, and cut the columns that cover `p` but not `q` back to `p` values.
    fn swap_positions(&mut self, p: usize, q: usize) {
        let n = self.n;
        for j in 0..self.d {
            self.xt.swap(j * n + p, j * n + q);
        }
        self.norms_pos.swap(p, q);
        let mut r = self.next[n];
        while r != n {
            if let Some(col) = self.columns[r].as_mut() {
                if col.len() > q {
                    Rc::make_mut(col).swap(p, q);
                } else if col.len() > p {
                    self.stored -= col.len() - p;
                    Rc::make_mut(col).truncate(p);
                }
            }
            r = self.next[r];
        }
    }
}

avx2_or_baseline! {
    /// `out[t − lo]` = K(x_r, row at position t) = exp(−γ‖x_r − x_t‖²) for positions
    /// `lo..lo + out.len()`: per tile of 256 positions, one multiply-add pass per feature along
    /// the feature-major rows, then the exponentials over the tile (f32, vectorised).
    fn kernel_positions(
        xt: &[f32],
        n: usize,
        xr: &[f32],
        nr: f32,
        norms_pos: &[f32],
        gamma: f32,
        lo: usize,
        out: &mut [f32],
    ) {
        const TILE: usize = 256;
        for (b, o) in out.chunks_mut(TILE).enumerate() {
            let t0 = lo + b * TILE;
            let m = o.len();
            o.fill(0.0);
            for (j, &a) in xr.iter().enumerate() {
                let col = &xt[j * n + t0..j * n + t0 + m];
                for (ov, &v) in o.iter_mut().zip(col) {
                    *ov += a * v;
                }
            }
            for (ov, &nt) in o.iter_mut().zip(&norms_pos[t0..t0 + m]) {
                *ov = exp_nonpositive_f32(-gamma * (nr + nt - 2.0 * *ov).max(0.0));
            }
        }
    }
}

/// Lanes of the selection loops (two AVX2 registers of f64 per running value).
const LANES: usize = 8;

/// Picks the best of per-lane (value, position) candidates: largest value, then largest
/// position, so the result is the last position with the largest value, as a scalar loop
/// with `>=` would give. Values are fractions `num / den` (den > 0), compared by
/// cross-multiplying; positions `usize::MAX` mark lanes without a candidate.
#[inline(always)]
fn best_of_lanes(num: &[f64; LANES], den: &[f64; LANES], at: &[usize; LANES]) -> (f64, usize) {
    let (mut bn, mut bd, mut p) = (0.0, 1.0, usize::MAX);
    for l in 0..LANES {
        if at[l] == usize::MAX {
            continue;
        }
        let (lhs, rhs) = (num[l] * bd, bn * den[l]);
        if p == usize::MAX || lhs > rhs || (lhs == rhs && at[l] > p) {
            (bn, bd, p) = (num[l], den[l], at[l]);
        }
    }
    (bn / bd, p)
}

avx2_or_baseline! {
    /// libsvm's first working-set index: the position maximising −y·G over
    /// I_up = {y = +1, α < C} ∪ {y = −1, α > 0} (the last one on ties), branch-free: the
    /// membership test is one comparison of the room left to the bound (C − α for y = +1,
    /// α for y = −1), so every mask stays as wide as the f64 lanes.
    /// Returns (−y·G there, position), or position `usize::MAX` if I_up is empty.
    fn select_i(y: &[f64], alpha: &[f64], g: &[f64], c: f64) -> (f64, usize) {
        let mut best = [f64::NEG_INFINITY; LANES];
        let mut at = [usize::MAX; LANES];
        let n = g.len();
        let whole = n - n % LANES;
        let lanes = y[..whole]
            .chunks_exact(LANES)
            .zip(alpha[..whole].chunks_exact(LANES))
            .zip(g[..whole].chunks_exact(LANES));
        for (b, ((yb, ab), gb)) in lanes.enumerate() {
            for l in 0..LANES {
                let room = if yb[l] > 0.0 { c - ab[l] } else { ab[l] };
                let v = -yb[l] * gb[l];
                let better = (room > 0.0) & (v >= best[l]);
                best[l] = if better { v } else { best[l] };
                at[l] = if better { b * LANES + l } else { at[l] };
            }
        }
        for t in whole..n {
            let l = t - whole;
            let room = if y[t] > 0.0 { c - alpha[t] } else { alpha[t] };
            let v = -y[t] * g[t];
            if room > 0.0 && v >= best[l] {
                best[l] = v;
                at[l] = t;
            }
        }
        best_of_lanes(&best, &[1.0; LANES], &at)
    }
}

avx2_or_baseline! {
    /// libsvm's second working-set index for the first one with −y·G = `gmax` and kernel column
    /// `ki`: over I_low = {y = +1, α > 0} ∪ {y = −1, α < C}, the position maximising
    /// (gmax + y·G)² / (2 − 2·K_it) among those with gmax + y·G > 0 (the last one on ties;
    /// a non-positive denominator is replaced by `tau`). Branch-free, and without a division
    /// per candidate: each lane keeps its best fraction and compares by cross-multiplying.
    /// Returns (max of y·G over I_low, position or `usize::MAX`).
    fn select_j(
        y: &[f64],
        alpha: &[f64],
        g: &[f64],
        ki: &[f32],
        c: f64,
        gmax: f64,
        tau: f64,
    ) -> (f64, usize) {
        let mut best_num = [-1.0f64; LANES];
        let mut best_den = [1.0f64; LANES];
        let mut at = [usize::MAX; LANES];
        let mut gmax2 = [f64::NEG_INFINITY; LANES];
        let n = g.len();
        let whole = n - n % LANES;
        let lanes = y[..whole]
            .chunks_exact(LANES)
            .zip(alpha[..whole].chunks_exact(LANES))
            .zip(g[..whole].chunks_exact(LANES))
            .zip(ki[..whole].chunks_exact(LANES));
        for (b, (((yb, ab), gb), kb)) in lanes.enumerate() {
            for l in 0..LANES {
                let room = if yb[l] > 0.0 { ab[l] } else { c - ab[l] };
                let low = room > 0.0;
                let yg = yb[l] * gb[l];
                gmax2[l] = gmax2[l].max(if low { yg } else { f64::NEG_INFINITY });
                let diff = gmax + yg;
                let q = 2.0 - 2.0 * kb[l] as f64;
                let q = if q > 0.0 { q } else { tau };
                let num = diff * diff;
                let better = low & (diff > 0.0) & (num * best_den[l] >= best_num[l] * q);
                best_num[l] = if better { num } else { best_num[l] };
                best_den[l] = if better { q } else { best_den[l] };
                at[l] = if better { b * LANES + l } else { at[l] };
            }
        }
        for t in whole..n {
            let l = t - whole;
            let room = if y[t] > 0.0 { alpha[t] } else { c - alpha[t] };
            let yg = y[t] * g[t];
            if room > 0.0 {
                gmax2[l] = gmax2[l].max(yg);
                let diff = gmax + yg;
                let q = 2.0 - 2.0 * ki[t] as f64;
                let q = if q > 0.0 { q } else { tau };
                let num = diff * diff;
                if diff > 0.0 && num * best_den[l] >= best_num[l] * q {
                    best_num[l] = num;
                    best_den[l] = q;
                    at[l] = t;
                }
            }
        }
        let top = gmax2.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        (top, best_of_lanes(&best_num, &best_den, &at).1)
    }
}

avx2_or_baseline! {
    /// G_t += y_t·(a·K_it + b·K_jt) on every position (a = y_i·Δα_i, b = y_j·Δα_j), and in
    /// the same pass the next first working-set index on the updated gradient, as
    /// [`select_i`] would return it (one pass over y, α and G instead of two).
    fn update_gradient_select_i(
        g: &mut [f64],
        y: &[f64],
        alpha: &[f64],
        ki: &[f32],
        kj: &[f32],
        a: f64,
        b: f64,
        c: f64,
    ) -> (f64, usize) {
        let mut best = [f64::NEG_INFINITY; LANES];
        let mut at = [usize::MAX; LANES];
        let n = g.len();
        let whole = n - n % LANES;
        let (g_whole, g_tail) = g.split_at_mut(whole);
        let lanes = g_whole
            .chunks_exact_mut(LANES)
            .zip(y[..whole].chunks_exact(LANES))
            .zip(alpha[..whole].chunks_exact(LANES))
            .zip(ki[..whole].chunks_exact(LANES))
            .zip(kj[..whole].chunks_exact(LANES));
        for (blk, ((((gb, yb), ab), kib), kjb)) in lanes.enumerate() {
            for l in 0..LANES {
                gb[l] += yb[l] * (a * kib[l] as f64 + b * kjb[l] as f64);
                let room = if yb[l] > 0.0 { c - ab[l] } else { ab[l] };
                let v = -yb[l] * gb[l];
                let better = (room > 0.0) & (v >= best[l]);
                best[l] = if better { v } else { best[l] };
                at[l] = if better { blk * LANES + l } else { at[l] };
            }
        }
        for (l, gt) in g_tail.iter_mut().enumerate() {
            let t = whole + l;
            *gt += y[t] * (a * ki[t] as f64 + b * kj[t] as f64);
            let room = if y[t] > 0.0 { c - alpha[t] } else { alpha[t] };
            let v = -y[t] * *gt;
            if room > 0.0 && v >= best[l] {
                best[l] = v;
                at[l] = t;
            }
        }
        best_of_lanes(&best, &[1.0; LANES], &at)
    }
}

/// libsvm's C-SVC solver (second-order working-set selection, Fan et al. 2005, with libsvm's
/// optional shrinking) on rows `x` (row-major, d columns) with labels ±1. Returns
/// (alpha·y, rho).
///
/// Shrinking: every min(n, 1000) iterations, variables at a bound whose gradient says they will
/// stay there are moved behind the active set; selection, gradient updates and kernel columns
/// then cover the active positions only. `g_bar` (Σ C·Q over variables at the upper bound)
/// lets the full gradient be rebuilt before the final optimality check, as libsvm does.
#[allow(clippy::too_many_arguments)]
fn smo(
    x: &[f32],
    d: usize,
    labels: &[f64],
    c: f64,
    gamma: f64,
    eps: f64,
    cache_mb: usize,
    shrinking: bool,
) -> (Vec<f64>, f64) {
    let n = labels.len();
    let mut cache = KernelCache::new(x, n, d, gamma as f32, ((cache_mb << 20) / 4).max(2 * n));
    const TAU: f64 = 1e-12;
    // Everything below is in position order; perm[t] is the row at position t.
    let mut perm: Vec<usize> = (0..n).collect();
    let mut y: Vec<f64> = labels.to_vec();
    let mut alpha = vec![0.0f64; n];
    let mut g = vec![-1.0f64; n];
    let mut g_bar = vec![0.0f64; n];
    let mut active = n;
    let mut unshrunk = false;
    let upper = |a: f64| a >= c;
    let lower = |a: f64| a <= 0.0;
    let max_iter = 10_000_000usize.max(100 * n);
    // Without shrinking the counter never runs out.
    let mut counter = if shrinking {
        n.min(1000) + 1
    } else {
        usize::MAX
    };
    let mut iter = 0;
    // The next first working-set index, found while the gradient was updated.
    let mut first: Option<(f64, usize)> = None;
    // Rebuilds g on the inactive positions from g_bar and the free variables' columns.
    let reconstruct = |active: usize,
                       cache: &mut KernelCache,
                       perm: &[usize],
                       alpha: &[f64],
                       y: &[f64],
                       g: &mut [f64],
                       g_bar: &[f64]| {
        if active == n {
            return;
        }
        for t in active..n {
            g[t] = g_bar[t] - 1.0;
        }
        for i in 0..active {
            if !upper(alpha[i]) && !lower(alpha[i]) {
                let ki = cache.column(perm[i], n);
                for t in active..n {
                    g[t] += alpha[i] * y[i] * y[t] * ki[t] as f64;
                }
            }
        }
    };
    while iter < max_iter {
        counter -= 1;
        if counter == 0 {
            first = None;
            counter = n.min(1000);
            // Shrinking (libsvm's do_shrinking).
            let (mut gmax1, mut gmax2) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
            for t in 0..active {
                if y[t] > 0.0 {
                    if !upper(alpha[t]) {
                        gmax1 = gmax1.max(-g[t]);
                    }
                    if !lower(alpha[t]) {
                        gmax2 = gmax2.max(g[t]);
                    }
                } else {
                    if !upper(alpha[t]) {
                        gmax2 = gmax2.max(-g[t]);
                    }
                    if !lower(alpha[t]) {
                        gmax1 = gmax1.max(g[t]);
                    }
                }
            }
            if !unshrunk && gmax1 + gmax2 <= eps * 10.0 {
                unshrunk = true;
                reconstruct(active, &mut cache, &perm, &alpha, &y, &mut g, &g_bar);
                active = n;
            }
            let be_shrunk = |t: usize, alpha: &[f64], y: &[f64], g: &[f64]| {
                if upper(alpha[t]) {
                    if y[t] > 0.0 {
                        -g[t] > gmax1
                    } else {
                        -g[t] > gmax2
                    }
                } else if lower(alpha[t]) {
                    if y[t] > 0.0 {
                        g[t] > gmax2
                    } else {
                        g[t] > gmax1
                    }
                } else {
                    false
                }
            };
            let mut t = 0;
            while t < active {
                if be_shrunk(t, &alpha, &y, &g) {
                    active -= 1;
                    while active > t {
                        if !be_shrunk(active, &alpha, &y, &g) {
                            perm.swap(t, active);
                            y.swap(t, active);
                            alpha.swap(t, active);
                            g.swap(t, active);
                            g_bar.swap(t, active);
                            cache.swap_positions(t, active);
                            break;
                        }
                        active -= 1;
                    }
                }
                t += 1;
            }
        }
        // Working set on the active positions: i maximises −y·G over I_up, j minimises the
        // second-order objective.
        let select = |active: usize,
                      cache: &mut KernelCache,
                      alpha: &[f64],
                      g: &[f64],
                      first: Option<(f64, usize)>| {
            let (gmax, i) =
                first.unwrap_or_else(|| select_i(&y[..active], &alpha[..active], &g[..active], c));
            if i == usize::MAX {
                return None;
            }
            let ki = cache.column(perm[i], active);
            let (gmax2, j) = select_j(
                &y[..active],
                &alpha[..active],
                &g[..active],
                &ki[..active],
                c,
                gmax,
                TAU,
            );
            if gmax + gmax2 < eps || j == usize::MAX {
                return None;
            }
            Some((i, j, ki))
        };
        let (i, j, ki) = match select(active, &mut cache, &alpha, &g, first.take()) {
            Some(w) => w,
            None => {
                // Optimal on the active set: rebuild the whole gradient and check again.
                reconstruct(active, &mut cache, &perm, &alpha, &y, &mut g, &g_bar);
                active = n;
                match select(active, &mut cache, &alpha, &g, None) {
                    Some(w) => {
                        counter = 1;
                        w
                    }
                    None => break,
                }
            }
        };
        iter += 1;
        let kj = cache.column(perm[j], active);
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
        // G_t += Q_ti Δα_i + Q_tj Δα_j with Q_ts = y_t y_s K_ts, on the active positions.
        first = Some(update_gradient_select_i(
            &mut g[..active],
            &y[..active],
            &alpha[..active],
            &ki[..active],
            &kj[..active],
            yi * dai,
            yj * daj,
            c,
        ));
        drop((ki, kj));
        // g_bar follows the variables that reached or left the upper bound (full columns);
        // only shrinking reads it.
        for (pos, old, new) in [(i, old_i, ai), (j, old_j, aj)] {
            if shrinking && upper(old) != upper(new) {
                let kp = cache.column(perm[pos], n);
                let sign = if upper(new) { c } else { -c };
                for t in 0..n {
                    g_bar[t] += sign * y[pos] * y[t] * kp[t] as f64;
                }
            }
        }
    }
    if active < n {
        reconstruct(active, &mut cache, &perm, &alpha, &y, &mut g, &g_bar);
    }
    // rho: mean of y·G over free vectors, else the middle of the feasible interval.
    let (mut ub, mut lb, mut sum, mut n_free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for t in 0..n {
        let yg = y[t] * g[t];
        if upper(alpha[t]) {
            if y[t] < 0.0 {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else if lower(alpha[t]) {
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
    let mut coef = vec![0.0; n];
    for t in 0..n {
        coef[perm[t]] = alpha[t] * y[t];
    }
    (coef, rho)
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
                let mut xs = Vec::with_capacity(idx.len() * d);
                for &i in &idx {
                    xs.extend_from_slice(x.row(i));
                }
                let y: Vec<f64> = idx
                    .iter()
                    .map(|&i| if sub.targets[i] == ca { 1.0 } else { -1.0 })
                    .collect();
                let (coef, rho) = smo(&xs, d, &y, p.c, gamma, p.tol, p.cache_size_mb, p.shrinking);
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
                        *kv = exp_nonpositive_f32(-gamma * (xn + sn - 2.0 * *kv).max(0.0));
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

    #[test]
    fn shrinking_reaches_the_same_solution() {
        // Overlapping classes (many multipliers at C) and more iterations than rows, so the
        // active set is shrunk and the gradient rebuilt several times.
        let mut train = blobs(400, 31);
        let n = train.n_rows();
        for (i, t) in train.targets.iter_mut().enumerate() {
            if i % 7 == 0 {
                *t = (*t + 1) % 3;
            }
        }
        let fit = |shrinking| {
            SvcParams::default()
                .c(10.0)
                .shrinking(shrinking)
                .check()
                .unwrap()
                .fit(&train)
                .unwrap()
        };
        let (plain, shrunk) = (fit(false), fit(true));
        for (a, b) in plain.pairs.iter().zip(&shrunk.pairs) {
            assert!((a.rho - b.rho).abs() < 1e-2, "rho {} vs {}", a.rho, b.rho);
            let (sa, sb): (f64, f64) = (a.dual_coef.iter().sum(), b.dual_coef.iter().sum());
            assert!((sa - sb).abs() < 1e-6, "Σ α·y {sa} vs {sb}");
        }
        let (pa, pb) = (
            plain.predict(&train.records).unwrap(),
            shrunk.predict(&train.records).unwrap(),
        );
        let agree = pa.iter().zip(&pb).filter(|(x, y)| x == y).count();
        assert!(agree * 100 >= n * 99, "{agree} of {n}");
    }
}
