//! The histogram-based tree learner shared by `dt`, `rf` and `gb`: features are quantised once to
//! ≤ 255 bins; a node's best split is found from per-feature histograms of its rows (the larger
//! child's histogram is the parent's minus the smaller child's: the subtraction trick), small
//! nodes are scanned by sorting their bins instead. Below a size set per model
//! ([`GrowParams::exact_below`], used by `dt`) nodes search exact thresholds between raw values as
//! scikit-learn does. Trees keep raw-value thresholds, so prediction reads unbinned records.

use crate::dataset::Matrix;
use crate::rng::Rng;
use crate::thin::Simd;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Counts whose i·ln(i) is tabulated for entropy (32 KB: a larger table, one entry per row,
/// cost a cache miss per lookup at a million rows).
const XLOGX_TABLE: usize = 4096;

/// Bytes of padding after the node-ordered bin codes, so that a row can be moved as one
/// fixed-size window (see `Ordered::partition`).
const ROW_WINDOW: usize = 64;

/// Most bins per feature (bin codes are `u8`).
pub const MAX_BINS: usize = 255;
/// Rows sampled per feature to choose quantile bin edges when a feature has more distinct
/// values than bins (scikit-learn's `HistGradientBoosting` samples 200,000 too).
const BIN_SUBSAMPLE: usize = 200_000;

/// Split quality measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    Gini,
    Entropy,
    /// Squared error (regression trees inside gradient boosting).
    SquaredError,
}

/// Bin edges per feature and the binned rows (row-major `u8`).
pub(crate) struct Binned {
    pub n_features: usize,
    pub bins: Vec<u8>,
    /// `thresholds[f][b]`: a value goes to bin ≤ b exactly when it is ≤ this edge.
    pub thresholds: Vec<Vec<f32>>,
}

fn bin_edges(mut values: Vec<f32>) -> Vec<f32> {
    values.retain(|v| !v.is_nan());
    values.sort_unstable_by(|a, b| a.total_cmp(b));
    let mut distinct = values.clone();
    distinct.dedup();
    let midpoint = |lo: f32, hi: f32| -> f32 {
        let m = ((lo as f64 + hi as f64) / 2.0) as f32;
        // Rounding may land on `hi`; the edge must stay below it.
        if m < hi {
            m
        } else {
            lo
        }
    };
    if distinct.len() <= MAX_BINS {
        return distinct.windows(2).map(|w| midpoint(w[0], w[1])).collect();
    }
    // Like scikit-learn's `np.percentile(..., method="midpoint")` at MAX_BINS-quantiles.
    let n = values.len();
    let mut edges: Vec<f32> = (1..MAX_BINS)
        .map(|q| {
            let pos = q as f64 * (n - 1) as f64 / MAX_BINS as f64;
            let (lo, hi) = (values[pos.floor() as usize], values[pos.ceil() as usize]);
            if lo == hi {
                lo
            } else {
                midpoint(lo, hi)
            }
        })
        .collect();
    edges.dedup();
    edges
}

impl Binned {
    /// Chooses edges from (a seeded subsample of) `x` and bins every row of `x`.
    pub fn fit(x: &Matrix, seed: u64) -> Binned {
        let (n, d) = (x.n_rows(), x.n_cols());
        let sample: Option<Vec<usize>> = (n > BIN_SUBSAMPLE).then(|| {
            let mut idx: Vec<usize> = (0..n).collect();
            let mut rng = Rng::new(seed);
            for i in 0..BIN_SUBSAMPLE {
                let j = i + rng.below(n - i);
                idx.swap(i, j);
            }
            idx.truncate(BIN_SUBSAMPLE);
            idx
        });
        let thresholds: Vec<Vec<f32>> = (0..d)
            .into_par_iter()
            .map(|f| {
                let col: Vec<f32> = match &sample {
                    Some(idx) => idx.iter().map(|&i| x.get(i, f)).collect(),
                    None => (0..n).map(|i| x.get(i, f)).collect(),
                };
                bin_edges(col)
            })
            .collect();
        let mut bins = vec![0u8; n * d];
        if d > 0 {
            bins.par_chunks_mut(d)
                .zip(x.as_slice().par_chunks(d))
                .for_each(|(b, r)| {
                    for f in 0..d {
                        b[f] = thresholds[f].partition_point(|&t| t < r[f]) as u8;
                    }
                });
        }
        Binned {
            n_features: d,
            bins,
            thresholds,
        }
    }

    fn n_bins(&self, f: usize) -> usize {
        self.thresholds[f].len() + 1
    }
}

/// What a tree is fitted to.
pub(crate) enum Target<'a> {
    /// Class index per row; statistics are weighted class counts.
    Classes { y: &'a [usize], n_classes: usize },
    /// A real value per row (a gradient-boosting residual); statistics are (Σ w·y, Σ w).
    Values { y: &'a [f64] },
}

impl Target<'_> {
    fn width(&self) -> usize {
        match self {
            Target::Classes { n_classes, .. } => *n_classes,
            Target::Values { .. } => 2,
        }
    }
}

/// Growth limits of one tree.
#[derive(Clone, Debug)]
pub(crate) struct GrowParams {
    pub criterion: Criterion,
    pub max_depth: Option<usize>,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    /// Features examined per split; fewer than all draws a fresh random subset at each node.
    pub max_features: usize,
    /// Nodes of at most this many rows search every threshold between distinct raw values, as
    /// scikit-learn's `BestSplitter` does, instead of the bin edges (0: never). Needs the raw
    /// records ([`grow`]'s `raw`) and all features per split.
    pub exact_below: usize,
}

/// One node: a leaf has `left == 0` and `right` indexes its values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    pub threshold: f32,
    pub left: u32,
    pub right: u32,
}

/// A fitted tree: records with `x[feature] <= threshold` go left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
    /// `n_outputs` values per leaf.
    pub values: Vec<f32>,
    pub n_outputs: usize,
}

impl Tree {
    /// The leaf values reached by `row`.
    pub fn leaf(&self, row: &[f32]) -> &[f32] {
        let mut i = 0;
        loop {
            let n = &self.nodes[i];
            if n.left == 0 {
                let o = n.right as usize * self.n_outputs;
                return &self.values[o..o + self.n_outputs];
            }
            i = if row[n.feature as usize] <= n.threshold {
                n.left as usize
            } else {
                n.right as usize
            };
        }
    }

    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.left == 0).count()
    }

    pub fn depth(&self) -> usize {
        fn go(t: &Tree, i: usize) -> usize {
            let n = &t.nodes[i];
            if n.left == 0 {
                0
            } else {
                1 + go(t, n.left as usize).max(go(t, n.right as usize))
            }
        }
        go(self, 0)
    }
}

/// Cost of a node's statistics, to be minimised summed over children: `w·impurity` for gini and
/// entropy (natural log), `-(Σy)²/w` for squared error (equal to `w·variance` up to a constant).
/// `xlogx[i]` = i·ln(i) for the whole-number counts that unit and bootstrap weights produce.
#[inline(always)]
fn cost(criterion: Criterion, s: &[f64], xlogx: &[f64]) -> f64 {
    match criterion {
        Criterion::Gini => {
            let w: f64 = s.iter().sum();
            if w <= 0.0 {
                return 0.0;
            }
            w - s.iter().map(|c| c * c).sum::<f64>() / w
        }
        Criterion::Entropy => {
            // Counts are whole numbers here (see `grow`): i·ln(i) of small ones comes from the
            // table (kept small enough to stay in cache), larger ones are computed the same way.
            let xl = |v: f64| match xlogx.get(v as usize) {
                Some(&t) => t,
                None => v * v.ln(),
            };
            let w: f64 = s.iter().sum();
            let mut e = xl(w);
            for &c in s {
                e -= xl(c);
            }
            e
        }
        Criterion::SquaredError => {
            if s[1] <= 0.0 {
                0.0
            } else {
                -s[0] * s[0] / s[1]
            }
        }
    }
}

/// The set bits of a 256-bit mask, in ascending order (a plain state machine: fewer
/// instructions per bit than a `flat_map` over the words).
fn set_bits(mask: &[u64; 4]) -> SetBits {
    SetBits {
        words: *mask,
        word: 0,
    }
}

struct SetBits {
    words: [u64; 4],
    word: usize,
}

impl Iterator for SetBits {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.word < 4 {
            let w = self.words[self.word];
            if w != 0 {
                self.words[self.word] = w & (w - 1);
                return Some(self.word * 64 + w.trailing_zeros() as usize);
            }
            self.word += 1;
        }
        None
    }
}

/// Whether score `a` beats `b` (fractions with positive denominators).
#[inline(always)]
fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 * b.1 > b.0 * a.1
}

#[derive(Clone, Debug)]
struct Candidate {
    feature: usize,
    bin: u8,
    /// `Some`: an exact split (raw value ≤ threshold goes left) rather than bin ≤ `bin`.
    threshold: Option<f32>,
    gain: f64,
    left: Vec<f64>,
}

/// The target of each row, in node order (see [`Ordered`]).
enum OrderedTarget {
    Classes(Vec<u32>),
    Values(Vec<f64>),
}

/// The rows being grown, each node's rows contiguous: bin codes (`d` per row), weight and
/// target, partitioned together with the row ids at every split. Histograms then read memory
/// in order instead of gathering scattered rows of the whole table (which, at a million rows,
/// made them wait on a cache miss per row).
struct Ordered {
    bins: Vec<u8>,
    weights: Vec<f64>,
    target: OrderedTarget,
    rows: Vec<u32>,
    /// Scratch for partitioning (the right side's entries, then copied back).
    scratch_bins: Vec<u8>,
    scratch_weights: Vec<f64>,
    scratch_classes: Vec<u32>,
    scratch_values: Vec<f64>,
    scratch_rows: Vec<u32>,
    /// Class targets with whole-number weights: every sum over a node's rows is exact, so the
    /// order of its rows cannot change any result, and [`Ordered::partition`] may swap rows in
    /// place instead of keeping their order.
    any_order: bool,
}

impl Ordered {
    fn new(binned: &Binned, target: &Target, weights: &[f32], rows: Vec<u32>) -> Ordered {
        let d = binned.n_features;
        let mut bins = Vec::with_capacity(rows.len() * d + ROW_WINDOW);
        for &r in &rows {
            let r = r as usize;
            bins.extend_from_slice(&binned.bins[r * d..(r + 1) * d]);
        }
        // Padding so that a fixed-size window starting at any row stays inside (`partition`).
        bins.resize(bins.len() + ROW_WINDOW, 0);
        let target = match target {
            Target::Classes { y, .. } => {
                OrderedTarget::Classes(rows.iter().map(|&r| y[r as usize] as u32).collect())
            }
            Target::Values { y } => {
                OrderedTarget::Values(rows.iter().map(|&r| y[r as usize]).collect())
            }
        };
        let weights: Vec<f64> = rows.iter().map(|&r| weights[r as usize] as f64).collect();
        // Sums of whole numbers are exact below 2^53.
        let any_order = matches!(target, OrderedTarget::Classes(_))
            && weights.iter().all(|w| w.fract() == 0.0)
            && weights.iter().sum::<f64>() < (1u64 << 53) as f64;
        Ordered {
            bins,
            weights,
            any_order,
            target,
            rows,
            scratch_bins: Vec::new(),
            scratch_weights: Vec::new(),
            scratch_classes: Vec::new(),
            scratch_values: Vec::new(),
            scratch_rows: Vec::new(),
        }
    }

    /// Partition of positions `start..end`: bin of `feature` ≤ `bin` first; order-keeping
    /// unless [`Ordered::any_order`] lets rows be swapped in place. Returns the position of
    /// the first row on the right.
    fn partition(&mut self, d: usize, start: usize, end: usize, feature: usize, bin: u8) -> usize {
        if self.any_order {
            return self.partition_in_place(d, start, end, feature, bin);
        }
        self.partition_by(d, start, end, feature, move |_, b| b <= bin)
    }

    /// [`Ordered::partition`] by swapping each row on the wrong side with one on the other
    /// wrong side (Hoare): only misplaced rows move, and no scratch. The order within each
    /// side changes, which is why it is kept for [`Ordered::any_order`].
    fn partition_in_place(
        &mut self,
        d: usize,
        start: usize,
        end: usize,
        feature: usize,
        bin: u8,
    ) -> usize {
        let OrderedTarget::Classes(classes) = &mut self.target else {
            return self.partition_by(d, start, end, feature, move |_, b| b <= bin);
        };
        let (mut i, mut j) = (start, end);
        loop {
            while i < j && self.bins[i * d + feature] <= bin {
                i += 1;
            }
            while i < j && self.bins[(j - 1) * d + feature] > bin {
                j -= 1;
            }
            if i == j {
                return i;
            }
            // Row i belongs right, row j − 1 left (so j − 1 > i).
            let k = j - 1;
            let (head, tail) = self.bins.split_at_mut(k * d);
            head[i * d..(i + 1) * d].swap_with_slice(&mut tail[..d]);
            self.weights.swap(i, k);
            self.rows.swap(i, k);
            classes.swap(i, k);
            i += 1;
            j = k;
        }
    }

    /// Stable partition of positions `start..end`: rows for which `left(row id, bin of
    /// feature)` holds first. Returns the position of the first row on the right.
    fn partition_by<P: Fn(u32, u8) -> bool + Copy>(
        &mut self,
        d: usize,
        start: usize,
        end: usize,
        feature: usize,
        left: P,
    ) -> usize {
        // Rows are moved as fixed-size windows of 32 or 64 bytes (a few vector moves instead
        // of a `memmove` call per row) when the row is at least half the window: a window
        // written at position lo < i then ends before row i + 1, so it only overwrites rows
        // already moved to the scratch side and the row being moved.
        match d {
            16..=32 => self.partition_rows::<32, P>(d, start, end, feature, left),
            33..=64 => self.partition_rows::<64, P>(d, start, end, feature, left),
            _ => self.partition_rows::<0, P>(d, start, end, feature, left),
        }
    }

    /// [`Ordered::partition`] moving rows as `W`-byte windows (`W` = 0: exactly `d` bytes).
    #[inline(always)]
    fn partition_rows<const W: usize, P: Fn(u32, u8) -> bool>(
        &mut self,
        d: usize,
        start: usize,
        end: usize,
        feature: usize,
        goes_left: P,
    ) -> usize {
        let need = (end - start) * d + ROW_WINDOW;
        if self.scratch_bins.len() < need {
            self.scratch_bins.resize(need, 0);
        }
        // The right side's entries are written by index into scratch kept at the largest size
        // seen (no capacity check per row, as a `push` has).
        let n = end - start;
        if self.scratch_rows.len() < n {
            self.scratch_weights.resize(n, 0.0);
            self.scratch_rows.resize(n, 0);
            match &self.target {
                OrderedTarget::Classes(_) => self.scratch_classes.resize(n, 0),
                OrderedTarget::Values(_) => self.scratch_values.resize(n, 0.0),
            }
        }
        let mut lo = start;
        let mut k = 0;
        for i in start..end {
            let left = goes_left(self.rows[i], self.bins[i * d + feature]);
            if left {
                if lo != i {
                    if W == 0 {
                        self.bins.copy_within(i * d..(i + 1) * d, lo * d);
                    } else {
                        let row: [u8; W] = self.bins[i * d..i * d + W].try_into().expect("W");
                        self.bins[lo * d..lo * d + W].copy_from_slice(&row);
                    }
                    self.weights[lo] = self.weights[i];
                    self.rows[lo] = self.rows[i];
                    match &mut self.target {
                        OrderedTarget::Classes(c) => c[lo] = c[i],
                        OrderedTarget::Values(v) => v[lo] = v[i],
                    }
                }
                lo += 1;
            } else {
                let w = if W == 0 { d } else { W };
                self.scratch_bins[k * d..k * d + w].copy_from_slice(&self.bins[i * d..i * d + w]);
                self.scratch_weights[k] = self.weights[i];
                self.scratch_rows[k] = self.rows[i];
                match &self.target {
                    OrderedTarget::Classes(c) => self.scratch_classes[k] = c[i],
                    OrderedTarget::Values(v) => self.scratch_values[k] = v[i],
                }
                k += 1;
            }
        }
        self.bins[lo * d..end * d].copy_from_slice(&self.scratch_bins[..k * d]);
        self.weights[lo..end].copy_from_slice(&self.scratch_weights[..k]);
        self.rows[lo..end].copy_from_slice(&self.scratch_rows[..k]);
        match &mut self.target {
            OrderedTarget::Classes(c) => c[lo..end].copy_from_slice(&self.scratch_classes[..k]),
            OrderedTarget::Values(v) => v[lo..end].copy_from_slice(&self.scratch_values[..k]),
        }
        lo
    }
}

/// Nodes of more rows than this find their histograms' occupied bins from the histograms
/// (a check per bin) rather than by marking a bit per row ([`Grower::feature_histograms_into`]).
const TRACK_BELOW: usize = 1024;

/// Bins of one feature's histogram a scan can visit.
const SCAN_BINS: usize = 256;

/// Scratch space of [`Grower::scan_gini_sparse`]: per occupied bin (in order) its bin code,
/// the left side's class statistics (class-major: `cum[c][k]`) and weight, Σ left²,
/// Σ right², and the split score's numerator and denominator.
struct GiniScratch {
    bins: [u8; SCAN_BINS],
    cum: [[f64; SCAN_BINS]; 8],
    wl: [f64; SCAN_BINS],
    sl: [f64; SCAN_BINS],
    sr: [f64; SCAN_BINS],
    num: [f64; SCAN_BINS],
    den: [f64; SCAN_BINS],
}

impl GiniScratch {
    fn new() -> Box<GiniScratch> {
        Box::new(GiniScratch {
            bins: [0; SCAN_BINS],
            cum: [[0.0; SCAN_BINS]; 8],
            wl: [0.0; SCAN_BINS],
            sl: [0.0; SCAN_BINS],
            sr: [0.0; SCAN_BINS],
            num: [0.0; SCAN_BINS],
            den: [0.0; SCAN_BINS],
        })
    }
}

struct Grower<'a> {
    binned: &'a Binned,
    params: &'a GrowParams,
    /// Statistics are (Σ w·y, Σ w) rather than class weights.
    values: bool,
    width: usize,
    /// Offsets of each feature's bins in a full histogram.
    offsets: Vec<usize>,
    hist_len: usize,
    xlogx: Vec<f64>,
    /// The processor has AVX2: the sparse gini scan runs in a copy compiled for it (the same
    /// bits: no fused multiply-adds, every sum in the same order).
    avx2: bool,
}

impl Grower<'_> {
    #[inline]
    fn add_position(&self, o: &Ordered, i: usize, s: &mut [f64]) {
        let w = o.weights[i];
        match &o.target {
            OrderedTarget::Classes(c) => s[c[i] as usize] += w,
            OrderedTarget::Values(v) => {
                s[0] += w * v[i];
                s[1] += w;
            }
        }
    }

    fn node_stats(&self, o: &Ordered, start: usize, end: usize) -> Vec<f64> {
        let mut s = vec![0.0; self.width];
        for i in start..end {
            self.add_position(o, i, &mut s);
        }
        s
    }

    /// Full histogram (every feature) of positions `start..end`.
    fn histogram(&self, o: &Ordered, start: usize, end: usize) -> Vec<f64> {
        let mut h = vec![0.0; self.hist_len];
        let d = self.binned.n_features;
        let w_ = self.width;
        let bins = o.bins[start * d..end * d].chunks_exact(d.max(1));
        let weights = &o.weights[start..end];
        match &o.target {
            OrderedTarget::Classes(c) => {
                for ((b, &w), &c) in bins.zip(weights).zip(&c[start..end]) {
                    let c = c as usize;
                    for (o, &bf) in self.offsets.iter().zip(b) {
                        h[o + bf as usize * w_ + c] += w;
                    }
                }
            }
            OrderedTarget::Values(v) => {
                for ((b, &w), &y) in bins.zip(weights).zip(&v[start..end]) {
                    let wy = w * y;
                    for (o, &bf) in self.offsets.iter().zip(b) {
                        let o = o + bf as usize * 2;
                        h[o] += wy;
                        h[o + 1] += w;
                    }
                }
            }
        }
        h
    }

    /// Histograms of the features `feats` over positions `start..end`, in one pass, added
    /// into `bufs[i]` (all zero on entry); `occupied[i]` gets a bit per bin that holds a row,
    /// so scanning and clearing cost the node's distinct bins, not every bin. This makes the
    /// histogram cheaper than sorting even for nodes of a few rows. Nodes of more than
    /// [`TRACK_BELOW`] rows find their occupied bins afterwards, from the histogram itself:
    /// cheaper than a bit per row there.
    fn feature_histograms_into(
        &self,
        o: &Ordered,
        start: usize,
        end: usize,
        feats: &[usize],
        bufs: &mut [Vec<f64>],
        occupied: &mut [[u64; 4]],
    ) {
        let bufs = &mut bufs[..feats.len()];
        let occupied = &mut occupied[..feats.len()];
        occupied.iter_mut().for_each(|m| *m = [0; 4]);
        let track = end - start <= TRACK_BELOW;
        macro_rules! classes {
            ($($w:literal)*) => {
                match (&o.target, self.width) {
                    $((OrderedTarget::Classes(c), $w) => {
                        if track {
                            self.class_histograms::<$w, true>(o, c, start, end, feats, bufs, occupied)
                        } else {
                            self.class_histograms::<$w, false>(o, c, start, end, feats, bufs, occupied)
                        }
                    })*
                    _ => self.any_histograms(o, start, end, feats, bufs, occupied),
                }
            };
        }
        classes!(1 2 3 4 5 6 7 8);
        if !track {
            // Bins that received a row (weights are > 0, so exactly the non-zero ones).
            let w_ = self.width;
            for ((h, &f), m) in bufs.iter().zip(feats).zip(occupied.iter_mut()) {
                let nb = self.binned.n_bins(f);
                for (b, hb) in h[..nb * w_].chunks_exact(w_).enumerate() {
                    if hb.iter().any(|&v| v != 0.0) {
                        m[b >> 6] |= 1 << (b & 63);
                    }
                }
            }
        }
    }

    /// [`Self::feature_histograms_into`] for `W` classes, setting occupied bits per row when
    /// `TRACK`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn class_histograms<const W: usize, const TRACK: bool>(
        &self,
        o: &Ordered,
        classes: &[u32],
        start: usize,
        end: usize,
        feats: &[usize],
        bufs: &mut [Vec<f64>],
        occupied: &mut [[u64; 4]],
    ) {
        let d = self.binned.n_features;
        let bins = o.bins[start * d..end * d].chunks_exact(d.max(1));
        let weights = &o.weights[start..end];
        for ((b, &w), &c) in bins.zip(weights).zip(&classes[start..end]) {
            let c = c as usize;
            for ((h, &f), m) in bufs.iter_mut().zip(feats).zip(occupied.iter_mut()) {
                let bf = b[f] as usize;
                h[bf * W + c] += w;
                if TRACK {
                    m[bf >> 6] |= 1 << (bf & 63);
                }
            }
        }
    }

    /// [`Self::feature_histograms_into`] for any target, always setting occupied bits per row.
    fn any_histograms(
        &self,
        o: &Ordered,
        start: usize,
        end: usize,
        feats: &[usize],
        bufs: &mut [Vec<f64>],
        occupied: &mut [[u64; 4]],
    ) {
        let d = self.binned.n_features;
        let w_ = self.width;
        let bins = o.bins[start * d..end * d].chunks_exact(d.max(1));
        let weights = &o.weights[start..end];
        match &o.target {
            OrderedTarget::Classes(c) => {
                for ((b, &w), &c) in bins.zip(weights).zip(&c[start..end]) {
                    let c = c as usize;
                    for ((h, &f), m) in bufs.iter_mut().zip(feats).zip(occupied.iter_mut()) {
                        let bf = b[f] as usize;
                        h[bf * w_ + c] += w;
                        m[bf >> 6] |= 1 << (bf & 63);
                    }
                }
            }
            OrderedTarget::Values(v) => {
                for ((b, &w), &y) in bins.zip(weights).zip(&v[start..end]) {
                    let wy = w * y;
                    for ((h, &f), m) in bufs.iter_mut().zip(feats).zip(occupied.iter_mut()) {
                        let bf = b[f] as usize;
                        h[bf * 2] += wy;
                        h[bf * 2 + 1] += w;
                        m[bf >> 6] |= 1 << (bf & 63);
                    }
                }
            }
        }
    }

    /// Best split of feature `f` given its histogram (`hist[b·width..]` per bin), visiting
    /// `bins` in ascending order; with `clear`, every visited bin is zeroed on the way (the
    /// buffer is then all zero again for the next feature, as [`Self::feature_histograms_into`]
    /// expects). Returns false when the feature is constant in the node.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        f: usize,
        hist: &mut [f64],
        bins: impl Iterator<Item = usize>,
        clear: bool,
        total: &[f64],
        parent_cost: f64,
        best: &mut Option<Candidate>,
    ) -> bool {
        // Statistics of up to 8 values live in registers (fixed-size arrays), not on the heap,
        // and the width is a constant of each copy, so a bin's values are read, summed and
        // cleared without loops or `memset` calls of a run-time length.
        macro_rules! fixed {
            ($($w:literal)*) => {
                match self.width {
                    $($w => self.scan_with([0.0f64; $w], f, hist, bins, clear, total, parent_cost, best),)*
                    w => self.scan_with(vec![0.0f64; w], f, hist, bins, clear, total, parent_cost, best),
                }
            };
        }
        fixed!(1 2 3 4 5 6 7 8)
    }

    /// [`Self::scan`] of a sparse histogram: `mask` lists its occupied bins, each cleared on
    /// the way.
    #[allow(clippy::too_many_arguments)]
    fn scan_sparse(
        &self,
        f: usize,
        hist: &mut [f64],
        mask: &[u64; 4],
        total: &[f64],
        parent_cost: f64,
        best: &mut Option<Candidate>,
        scratch: &mut GiniScratch,
    ) -> bool {
        if !self.values && self.params.criterion == Criterion::Gini {
            #[cfg(target_arch = "x86_64")]
            let done = if self.avx2 {
                // SAFETY: `avx2` is only true when `Simd::detect` found AVX2 on this processor
                // (see `grow`), the only requirement of a `target_feature(enable = "avx2")`
                // function.
                #[allow(unsafe_code)]
                unsafe {
                    self.scan_gini_sparse_avx2(f, hist, mask, total, parent_cost, best, scratch)
                }
            } else {
                self.scan_gini_by_width(f, hist, mask, total, parent_cost, best, scratch)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let done = self.scan_gini_by_width(f, hist, mask, total, parent_cost, best, scratch);
            if let Some(constant) = done {
                return constant;
            }
        }
        self.scan(f, hist, set_bits(mask), true, total, parent_cost, best)
    }

    /// [`Self::scan_gini_sparse`] for this tree's width; `None` for more than 8 classes.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn scan_gini_by_width(
        &self,
        f: usize,
        hist: &mut [f64],
        mask: &[u64; 4],
        total: &[f64],
        parent_cost: f64,
        best: &mut Option<Candidate>,
        scratch: &mut GiniScratch,
    ) -> Option<bool> {
        macro_rules! gini {
            ($($w:literal)*) => {
                match self.width {
                    $($w => Some(self.scan_gini_sparse::<$w>(f, hist, mask, total, parent_cost, best, scratch)),)*
                    _ => None,
                }
            };
        }
        gini!(1 2 3 4 5 6 7 8)
    }

    /// [`Self::scan_gini_by_width`] compiled for AVX2 (4 values a vector in the scan's by-bin
    /// passes).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code, clippy::too_many_arguments)]
    unsafe fn scan_gini_sparse_avx2(
        &self,
        f: usize,
        hist: &mut [f64],
        mask: &[u64; 4],
        total: &[f64],
        parent_cost: f64,
        best: &mut Option<Candidate>,
        scratch: &mut GiniScratch,
    ) -> Option<bool> {
        self.scan_gini_by_width(f, hist, mask, total, parent_cost, best, scratch)
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn scan_with<S: AsRef<[f64]> + AsMut<[f64]> + Clone>(
        &self,
        zero: S,
        f: usize,
        hist: &mut [f64],
        bins: impl Iterator<Item = usize>,
        clear: bool,
        total: &[f64],
        parent_cost: f64,
        best: &mut Option<Candidate>,
    ) -> bool {
        // `self.width`, but a compile-time constant for the fixed-size arrays.
        let w_ = zero.as_ref().len();
        let min_leaf = self.params.min_samples_leaf as f64;
        let values = self.values;
        let weight = |s: &[f64]| if values { s[1] } else { s.iter().sum() };
        let w_total = weight(total);
        let mut left = zero.clone();
        let mut right = zero.clone();
        let mut local: Option<((f64, f64), usize)> = None;
        // The left side's statistics at the local best (copied when it improves, instead of
        // summing the histogram up to it again afterwards).
        let mut local_left = zero;
        let mut wl = 0.0;
        let mut occupied = 0;
        let mut bins = bins;
        for b in bins.by_ref() {
            let hb = &mut hist[b * w_..(b + 1) * w_];
            let wb = weight(hb);
            if wb == 0.0 {
                continue;
            }
            occupied += 1;
            for (l, v) in left.as_mut().iter_mut().zip(hb.iter_mut()) {
                *l += *v;
                if clear {
                    *v = 0.0;
                }
            }
            wl += wb;
            if w_total - wl < min_leaf.max(1e-9) {
                break;
            }
            if wl < min_leaf {
                continue;
            }
            for ((r, t), l) in right.as_mut().iter_mut().zip(total).zip(left.as_ref()) {
                *r = t - l;
            }
            let score = self.split_score(left.as_ref(), right.as_ref(), wl, w_total - wl);
            if local.is_none_or(|(best, _)| better(score, best)) {
                local = Some((score, b));
                local_left = left.clone();
            }
        }
        if clear {
            // The bins after a stop (no cut beyond it leaves `min_samples_leaf` on the right).
            for b in bins {
                hist[b * w_..(b + 1) * w_].iter_mut().for_each(|v| *v = 0.0);
            }
        }
        if let Some((score, b)) = local {
            let gain = self.gain_of(parent_cost, w_total, score);
            if best.as_ref().is_none_or(|c| gain > c.gain) {
                *best = Some(Candidate {
                    feature: f,
                    bin: b as u8,
                    threshold: None,
                    gain,
                    left: local_left.as_ref().to_vec(),
                });
            }
        }
        occupied > 1
    }

    /// [`Self::scan`] of a sparse histogram (`mask`: its occupied bins, cleared on the way)
    /// for class statistics and gini, the case of `rf` and of `dt`'s random-feature splits,
    /// where most of a fit's time goes. Same result, bit for bit, computed in three passes
    /// instead of one: the running left-side statistics of every occupied bin (stored
    /// class-major in `scratch`), then the split scores of all bins at once (no branches, so
    /// the compiler vectorises it across bins), then the first best score in bin order.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn scan_gini_sparse<const W: usize>(
        &self,
        f: usize,
        hist: &mut [f64],
        mask: &[u64; 4],
        total: &[f64],
        parent_cost: f64,
        best: &mut Option<Candidate>,
        scratch: &mut GiniScratch,
    ) -> bool {
        let total: &[f64; W] = total.try_into().expect("statistics of the tree's width");
        let min_leaf = self.params.min_samples_leaf as f64;
        let w_total: f64 = total.iter().sum();
        let GiniScratch {
            bins,
            cum,
            wl: wls,
            sl,
            sr,
            num,
            den,
        } = scratch;
        let cum: &mut [[f64; SCAN_BINS]; W] = (&mut cum[..W]).try_into().expect("W ≤ 8");
        // Pass 1: left-side statistics after each occupied bin, as `scan_with` accumulates
        // them. At most 256 bits are set, so `k` fits a `u8` until the last one.
        let mut left = [0.0f64; W];
        let mut wl = 0.0;
        let mut k = 0usize;
        for b in set_bits(mask) {
            let hb: &mut [f64; W] = (&mut hist[b * W..(b + 1) * W])
                .try_into()
                .expect("W values per bin");
            let wb: f64 = hb.iter().sum();
            let at = k as u8 as usize;
            for c in 0..W {
                left[c] += hb[c];
                cum[c][at] = left[c];
            }
            *hb = [0.0; W];
            wl += wb;
            bins[at] = b as u8;
            wls[at] = wl;
            k += 1;
        }
        // A cut after bin j leaves `wls[j]` on the left: stop at the first j leaving less than
        // `min_samples_leaf` on the right (weights are ≥ 0, so `wls` never decreases).
        let stop = min_leaf.max(1e-9);
        let wls = &wls[..k];
        let end = wls.iter().position(|&wl| w_total - wl < stop).unwrap_or(k);
        // Pass 2: (Σ left² · w_right + Σ right² · w_left, w_left · w_right) per cut, as
        // `split_score` computes it (the same order of every sum).
        let (wls, num, den) = (&wls[..end], &mut num[..end], &mut den[..end]);
        let (sl, sr) = (&mut sl[..end], &mut sr[..end]);
        // Class 0 starts both sums (0 + x = x exactly), the other classes add to them.
        for ((l, sl), sr) in cum[0][..end].iter().zip(sl.iter_mut()).zip(sr.iter_mut()) {
            let r = total[0] - l;
            *sl = l * l;
            *sr = r * r;
        }
        for (col, &t) in cum.iter().zip(total).skip(1) {
            for ((l, sl), sr) in col[..end].iter().zip(sl.iter_mut()).zip(sr.iter_mut()) {
                let r = t - l;
                *sl += l * l;
                *sr += r * r;
            }
        }
        for ((((&wl, sl), sr), num), den) in wls
            .iter()
            .zip(sl.iter())
            .zip(sr.iter())
            .zip(num.iter_mut())
            .zip(den.iter_mut())
        {
            let wr = w_total - wl;
            *num = sl * wr + sr * wl;
            *den = wl * wr;
        }
        // Pass 3: the first best cut in bin order.
        let mut local: Option<(usize, (f64, f64))> = None;
        for (j, ((&wl, &n), &d)) in wls.iter().zip(num.iter()).zip(den.iter()).enumerate() {
            if wl < min_leaf {
                continue;
            }
            if local.is_none_or(|(_, b)| better((n, d), b)) {
                local = Some((j, (n, d)));
            }
        }
        if let Some((j, score)) = local {
            let gain = self.gain_of(parent_cost, w_total, score);
            if best.as_ref().is_none_or(|c| gain > c.gain) {
                *best = Some(Candidate {
                    feature: f,
                    bin: bins[j],
                    threshold: None,
                    gain,
                    left: cum.iter().map(|col| col[j]).collect(),
                });
            }
        }
        // Occupied bins up to the stop, as `scan_with` counts them: one means constant.
        (end + 1).min(k) > 1
    }

    /// Best split of feature `f` for a small node: its positions sorted by bin, no histogram.
    /// `keyed` is scratch space.
    #[allow(clippy::too_many_arguments)]
    fn scan_sorted(
        &self,
        o: &Ordered,
        start: usize,
        end: usize,
        f: usize,
        total: &[f64],
        parent_cost: f64,
        best: &mut Option<Candidate>,
        keyed: &mut Vec<(u8, u32)>,
    ) -> bool {
        let d = self.binned.n_features;
        keyed.clear();
        keyed.extend((start..end).map(|i| (o.bins[i * d + f], i as u32)));
        keyed.sort_unstable();
        if keyed.first().map(|k| k.0) == keyed.last().map(|k| k.0) {
            return false;
        }
        let w_total = self.weight(total);
        let local = self.best_cut(o, keyed, total, w_total);
        if let Some((score, end)) = local {
            let bin = keyed[end - 1].0;
            let gain = self.gain_of(parent_cost, w_total, score);
            if best.as_ref().is_none_or(|c| gain > c.gain) {
                let mut left = vec![0.0; self.width];
                for &(_, i) in &keyed[..end] {
                    self.add_position(o, i as usize, &mut left);
                }
                *best = Some(Candidate {
                    feature: f,
                    bin,
                    threshold: None,
                    gain,
                    left,
                });
            }
        }
        true
    }

    /// Total weight of statistics `s` (Σ w for values, the class weights' sum for classes).
    fn weight(&self, s: &[f64]) -> f64 {
        if self.values {
            s[1]
        } else {
            s.iter().sum()
        }
    }

    /// The best cut of positions sorted by key (`keyed`: key, position; equal keys never
    /// separated): its score and how many entries go left, or `None` when no cut leaves
    /// `min_samples_leaf` on both sides. Shared by the bin-sorted and the exact scans.
    fn best_cut<K: Copy + PartialEq>(
        &self,
        o: &Ordered,
        keyed: &[(K, u32)],
        total: &[f64],
        w_total: f64,
    ) -> Option<((f64, f64), usize)> {
        let min_leaf = self.params.min_samples_leaf as f64;
        let mut left = vec![0.0; self.width];
        let mut right = vec![0.0; self.width];
        let mut local: Option<((f64, f64), usize)> = None;
        let mut i = 0;
        while i < keyed.len() {
            let key = keyed[i].0;
            // For f32 keys -0.0 and 0.0 are one value, as for `<=`.
            while i < keyed.len() && keyed[i].0 == key {
                self.add_position(o, keyed[i].1 as usize, &mut left);
                i += 1;
            }
            if i == keyed.len() {
                break;
            }
            let wl = self.weight(&left);
            if wl < min_leaf {
                continue;
            }
            if w_total - wl < min_leaf.max(1e-9) {
                break;
            }
            for ((r, t), l) in right.iter_mut().zip(total).zip(&left) {
                *r = t - l;
            }
            let score = self.split_score(&left, &right, wl, w_total - wl);
            if local.is_none_or(|(best, _)| better(score, best)) {
                local = Some((score, i));
            }
        }
        local
    }

    /// Best exact split of feature `f` for positions `start..end`: every threshold halfway
    /// between two distinct raw values, as scikit-learn's `BestSplitter`. Falls back on
    /// [`Self::scan_sorted`] (bin edges) when the feature holds a NaN in the node. `keyed` is
    /// scratch space. Returns false when the feature is constant in the node.
    #[allow(clippy::too_many_arguments)]
    fn scan_exact(
        &self,
        raw: &Matrix,
        o: &Ordered,
        start: usize,
        end: usize,
        f: usize,
        total: &[f64],
        parent_cost: f64,
        best: &mut Option<Candidate>,
        keyed: &mut Vec<(f32, u32)>,
        keyed_bins: &mut Vec<(u8, u32)>,
    ) -> bool {
        keyed.clear();
        keyed.extend((start..end).map(|i| (raw.get(o.rows[i] as usize, f), i as u32)));
        if keyed.iter().any(|k| k.0.is_nan()) {
            return self.scan_sorted(o, start, end, f, total, parent_cost, best, keyed_bins);
        }
        // Positions are distinct, so the order (and the chosen split) is deterministic.
        keyed.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        if keyed.first().map(|k| k.0) == keyed.last().map(|k| k.0) {
            return false;
        }
        let w_total = self.weight(total);
        let local = self.best_cut(o, keyed, total, w_total);
        if let Some((score, end)) = local {
            let gain = self.gain_of(parent_cost, w_total, score);
            if best.as_ref().is_none_or(|c| gain > c.gain) {
                let mut left = vec![0.0; self.width];
                for &(_, i) in &keyed[..end] {
                    self.add_position(o, i as usize, &mut left);
                }
                let (lo, hi) = (keyed[end - 1].0, keyed[end].0);
                // Halfway in f64 as scikit-learn; rounding onto `hi` would send it left.
                let mid = ((lo as f64 + hi as f64) / 2.0) as f32;
                let threshold = if mid < hi && mid.is_finite() { mid } else { lo };
                *best = Some(Candidate {
                    feature: f,
                    bin: 0,
                    threshold: Some(threshold),
                    gain,
                    left,
                });
            }
        }
        true
    }

    /// A split's score as a fraction (numerator, denominator > 0), larger is better. For gini
    /// it is Σ left_c²/w_left + Σ right_c²/w_right kept as one fraction, so comparing two
    /// candidates ([`better`]) needs no division; the gain follows from it ([`Self::gain_of`]).
    #[inline(always)]
    fn split_score(&self, left: &[f64], right: &[f64], wl: f64, wr: f64) -> (f64, f64) {
        match self.params.criterion {
            Criterion::Gini => {
                let sl: f64 = left.iter().map(|c| c * c).sum();
                let sr: f64 = right.iter().map(|c| c * c).sum();
                (sl * wr + sr * wl, wl * wr)
            }
            c => (
                -(cost(c, left, &self.xlogx) + cost(c, right, &self.xlogx)),
                1.0,
            ),
        }
    }

    /// The cost decrease of a split with `score` (see [`Self::split_score`]).
    fn gain_of(&self, parent_cost: f64, w_total: f64, (num, den): (f64, f64)) -> f64 {
        match self.params.criterion {
            // Σ children (w − Σc²/w) = w_total − score.
            Criterion::Gini => parent_cost - w_total + num / den,
            _ => parent_cost + num / den,
        }
    }

    /// Whether sorting a node's bins beats filling and scanning histograms: a histogram costs
    /// about 3·width operations per bin, sorting about (log₂ n + width) per row.
    fn small(&self, n_rows: usize, _n_feats: usize) -> bool {
        let mean_bins = self.hist_len / self.width / self.binned.n_features.max(1);
        n_rows * 2 < mean_bins
    }
}

/// A grown tree, the total gain per feature, and the rows ending in each leaf.
pub(crate) struct Grown {
    pub tree: Tree,
    pub importances: Vec<f64>,
}

/// Grows one tree on `rows` (rows of weight 0 must not be listed). `leaf_value(rows, stats)`
/// gives a leaf's `n_outputs` values.
#[allow(clippy::too_many_arguments)]
pub(crate) fn grow<L>(
    binned: &Binned,
    raw: Option<&Matrix>,
    target: &Target,
    weights: &[f32],
    rows: Vec<u32>,
    params: &GrowParams,
    n_outputs: usize,
    seed: u64,
    mut leaf_value: L,
) -> Grown
where
    L: FnMut(&[u32], &[f64]) -> Vec<f32>,
{
    let d = binned.n_features;
    let width = target.width();
    let mut offsets = Vec::with_capacity(d);
    let mut hist_len = 0;
    for f in 0..d {
        offsets.push(hist_len);
        hist_len += binned.n_bins(f) * width;
    }
    let g = Grower {
        avx2: Simd::detect().avx2(),
        binned,
        params,
        values: matches!(target, Target::Values { .. }),
        width,
        offsets,
        hist_len,
        xlogx: if params.criterion == Criterion::Entropy {
            assert!(
                weights.iter().all(|w| w.fract() == 0.0),
                "entropy trees take whole-number row weights"
            );
            (0..XLOGX_TABLE)
                .map(|i| {
                    if i == 0 {
                        0.0
                    } else {
                        i as f64 * (i as f64).ln()
                    }
                })
                .collect()
        } else {
            Vec::new()
        },
    };
    let n_root = rows.len();
    let mut o = Ordered::new(binned, target, weights, rows);
    let all_features = params.max_features >= d;
    let mut rng = Rng::new(seed);
    let mut features: Vec<usize> = (0..d).collect();
    let mut tree = Tree {
        nodes: Vec::new(),
        values: Vec::new(),
        n_outputs,
    };
    let mut importances = vec![0.0; d];
    let mut keyed: Vec<(u8, u32)> = Vec::new();
    let mut keyed_raw: Vec<(f32, u32)> = Vec::new();
    // Whether a node of `n` rows searches exact thresholds.
    let exact_raw = raw.filter(|_| all_features && params.exact_below > 0);
    let exact = |n: usize| exact_raw.is_some() && n <= params.exact_below;
    // Zeroed histogram buffers for the random-feature path, cleared after each use.
    let max_bins = (0..d).map(|f| binned.n_bins(f)).max().unwrap_or(0);
    let mut hist_bufs: Vec<Vec<f64>> = if all_features {
        Vec::new()
    } else {
        vec![vec![0.0; max_bins * width]; params.max_features.min(d)]
    };
    let mut occupied = vec![[0u64; 4]; hist_bufs.len()];
    let mut scratch = GiniScratch::new();
    struct Pending {
        node: usize,
        start: usize,
        end: usize,
        depth: usize,
        stats: Vec<f64>,
        hist: Option<Vec<f64>>,
    }
    let root_stats = g.node_stats(&o, 0, n_root);
    let root_hist =
        (all_features && !g.small(n_root, d) && !exact(n_root)).then(|| g.histogram(&o, 0, n_root));
    tree.nodes.push(Node {
        feature: 0,
        threshold: 0.0,
        left: 0,
        right: 0,
    });
    let mut stack = vec![Pending {
        node: 0,
        start: 0,
        end: n_root,
        depth: 0,
        stats: root_stats,
        hist: root_hist,
    }];
    while let Some(mut p) = stack.pop() {
        let n = p.end - p.start;
        let pure = match target {
            Target::Classes { .. } => p.stats.iter().filter(|&&c| c > 0.0).count() <= 1,
            Target::Values { .. } => false,
        };
        let mut best: Option<Candidate> = None;
        let parent_cost = cost(params.criterion, &p.stats, &g.xlogx);
        let may_split =
            !pure && n >= params.min_samples_split && params.max_depth.is_none_or(|m| p.depth < m);
        if may_split {
            if let (Some(raw), true) = (exact_raw, exact(n)) {
                for f in 0..d {
                    g.scan_exact(
                        raw,
                        &o,
                        p.start,
                        p.end,
                        f,
                        &p.stats,
                        parent_cost,
                        &mut best,
                        &mut keyed_raw,
                        &mut keyed,
                    );
                }
            } else if all_features {
                match &mut p.hist {
                    Some(h) => {
                        for f in 0..d {
                            let nb = binned.n_bins(f);
                            let hf = &mut h[g.offsets[f]..g.offsets[f] + nb * width];
                            g.scan(f, hf, 0..nb, false, &p.stats, parent_cost, &mut best);
                        }
                    }
                    None => {
                        for f in 0..d {
                            g.scan_sorted(
                                &o,
                                p.start,
                                p.end,
                                f,
                                &p.stats,
                                parent_cost,
                                &mut best,
                                &mut keyed,
                            );
                        }
                    }
                }
            } else {
                // A fresh random order of features per node, examined until `max_features`
                // non-constant ones were seen: constant features do not count, as in scikit-learn.
                // Features are drawn in batches of the number still wanted, one pass per batch.
                let mut visited = 0;
                let mut drawn = 0;
                while visited < params.max_features && drawn < d {
                    let take = (params.max_features - visited).min(d - drawn);
                    for i in drawn..drawn + take {
                        let j = i + rng.below(d - i);
                        features.swap(i, j);
                    }
                    let batch = &features[drawn..drawn + take];
                    drawn += take;
                    g.feature_histograms_into(
                        &o,
                        p.start,
                        p.end,
                        batch,
                        &mut hist_bufs,
                        &mut occupied,
                    );
                    for ((&f, h), m) in batch.iter().zip(&mut hist_bufs).zip(&occupied) {
                        visited +=
                            g.scan_sparse(f, h, m, &p.stats, parent_cost, &mut best, &mut scratch)
                                as usize;
                    }
                }
            }
        }
        // scikit-learn splits on any improvement ≥ 0 (min_impurity_decrease = 0); a split of
        // equal cost can still lead to pure leaves further down.
        let best = best.filter(|c| c.gain >= -1e-9 * parent_cost.abs().max(1.0));
        let Some(c) = best else {
            let leaf_index = tree.values.len() / n_outputs.max(1);
            let v = leaf_value(&o.rows[p.start..p.end], &p.stats);
            debug_assert_eq!(v.len(), n_outputs);
            tree.values.extend_from_slice(&v);
            tree.nodes[p.node] = Node {
                feature: 0,
                threshold: 0.0,
                left: 0,
                right: leaf_index as u32,
            };
            continue;
        };
        // Partition the node's rows: bin ≤ c.bin first.
        let (mid, threshold) = match (c.threshold, exact_raw) {
            (Some(t), Some(raw)) => {
                let (f, cols, data) = (c.feature, raw.n_cols(), raw.as_slice());
                let left = move |r: u32, _| data[r as usize * cols + f] <= t;
                (o.partition_by(d, p.start, p.end, f, left), t)
            }
            _ => (
                o.partition(d, p.start, p.end, c.feature, c.bin),
                binned.thresholds[c.feature][c.bin as usize],
            ),
        };
        importances[c.feature] += c.gain.max(0.0);
        let right_stats: Vec<f64> = p.stats.iter().zip(&c.left).map(|(t, l)| t - l).collect();
        let (left_n, right_n) = (mid - p.start, p.end - mid);
        let (left_hist, right_hist) = match p.hist {
            Some(mut parent) if all_features && !(exact(left_n) && exact(right_n)) => {
                // Build the smaller child's histogram, subtract it from the parent's for the larger.
                let left_small = left_n <= right_n;
                let (s_start, s_end) = if left_small {
                    (p.start, mid)
                } else {
                    (mid, p.end)
                };
                let small_hist = g.histogram(&o, s_start, s_end);
                let large_n = left_n.max(right_n);
                let small_n = left_n.min(right_n);
                for (a, b) in parent.iter_mut().zip(&small_hist) {
                    *a -= b;
                }
                let large = (!g.small(large_n, d) && !exact(large_n)).then_some(parent);
                let small = (!g.small(small_n, d) && !exact(small_n)).then_some(small_hist);
                if left_small {
                    (small, large)
                } else {
                    (large, small)
                }
            }
            _ => (None, None),
        };
        let left_id = tree.nodes.len();
        let right_id = left_id + 1;
        let leaf = Node {
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
        };
        tree.nodes.push(leaf);
        tree.nodes.push(leaf);
        tree.nodes[p.node] = Node {
            feature: c.feature as u32,
            threshold,
            left: left_id as u32,
            right: right_id as u32,
        };
        stack.push(Pending {
            node: right_id,
            start: mid,
            end: p.end,
            depth: p.depth + 1,
            stats: right_stats,
            hist: right_hist,
        });
        stack.push(Pending {
            node: left_id,
            start: p.start,
            end: mid,
            depth: p.depth + 1,
            stats: c.left,
            hist: left_hist,
        });
    }
    Grown { tree, importances }
}

/// Normalises gains to sum 1 (all zero stays zero), as scikit-learn's `feature_importances_`.
pub(crate) fn normalise(v: &mut [f64]) {
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        v.iter_mut().for_each(|x| *x /= s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_edges_are_midpoints_or_quantiles() {
        assert_eq!(bin_edges(vec![3.0, 1.0, 1.0, 2.0]), vec![1.5, 2.5]);
        let many: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        let e = bin_edges(many);
        assert_eq!(e.len(), MAX_BINS - 1);
        assert!(e.windows(2).all(|w| w[0] < w[1]));
        // Roughly equal counts per bin.
        assert!((e[0] - 10_000.0 / 255.0).abs() < 1.0, "{}", e[0]);
    }

    #[test]
    fn binning_agrees_with_thresholds() {
        let x = Matrix::from_rows(&[vec![0.5], vec![1.5], vec![2.5], vec![1.5]]).unwrap();
        let b = Binned::fit(&x, 0);
        assert_eq!(b.bins, vec![0, 1, 2, 1]);
        for (i, &bin) in b.bins.iter().enumerate() {
            for (t, &edge) in b.thresholds[0].iter().enumerate() {
                assert_eq!(x.get(i, 0) <= edge, (bin as usize) <= t);
            }
        }
    }

    #[test]
    fn window_partitions_move_rows_exactly_like_the_plain_one() {
        for d in [16usize, 20, 32, 33, 40, 64] {
            let n = 300;
            let mut rng = Rng::new(d as u64);
            let rows: Vec<Vec<f32>> = (0..n)
                .map(|_| (0..d).map(|_| rng.below(50) as f32).collect())
                .collect();
            let x = Matrix::from_rows(&rows).unwrap();
            let b = Binned::fit(&x, 0);
            let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
            let target = Target::Classes {
                y: &y,
                n_classes: 3,
            };
            let w = vec![1.0f32; n];
            let ids: Vec<u32> = (0..n as u32).collect();
            let mut plain = Ordered::new(&b, &target, &w, ids.clone());
            let mut windowed = Ordered::new(&b, &target, &w, ids);
            // Two nested partitions, the second inside a sub-range.
            for (start, end, feature, bin) in [(0, n, 3, 20u8), (10, 200, 7, 30u8)] {
                let a = plain.partition_rows::<0, _>(d, start, end, feature, move |_, b| b <= bin);
                let c = windowed.partition_by(d, start, end, feature, move |_, b| b <= bin);
                assert_eq!(a, c, "d = {d}");
            }
            assert_eq!(plain.rows, windowed.rows, "d = {d}");
            assert_eq!(plain.bins[..n * d], windowed.bins[..n * d], "d = {d}");
            for (i, &r) in windowed.rows.iter().enumerate() {
                let r = r as usize;
                assert_eq!(
                    windowed.bins[i * d..(i + 1) * d],
                    b.bins[r * d..(r + 1) * d]
                );
            }
        }
    }

    #[test]
    fn xor_is_learned_to_purity_through_a_zero_gain_split() {
        // XOR: no single split improves gini at the root, yet an unlimited tree gets it right.
        let rows: Vec<Vec<f32>> = (0..40)
            .map(|i| vec![(i % 2) as f32, ((i / 2) % 2) as f32])
            .collect();
        let y: Vec<usize> = rows
            .iter()
            .map(|r| (r[0] as usize) ^ (r[1] as usize))
            .collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let b = Binned::fit(&x, 0);
        let target = Target::Classes {
            y: &y,
            n_classes: 2,
        };
        let params = GrowParams {
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: 2,
            exact_below: 0,
        };
        let grown = grow(
            &b,
            None,
            &target,
            &[1.0; 40],
            (0..40).collect(),
            &params,
            2,
            0,
            |_, s| {
                let w: f64 = s.iter().sum();
                s.iter().map(|c| (c / w) as f32).collect()
            },
        );
        for (r, &t) in x.rows().zip(&y) {
            assert_eq!(grown.tree.leaf(r)[t], 1.0);
        }
        assert_eq!(grown.tree.n_leaves(), 4);
        assert_eq!(grown.tree.depth(), 2);
    }

    /// 1,000 distinct values with alternating classes: 255 bins leave impure leaves, exact
    /// thresholds (scikit-learn's splitter) separate every row.
    #[test]
    fn exact_splits_separate_what_bins_cannot() {
        let n = 1000;
        let rows: Vec<Vec<f32>> = (0..n).map(|i| vec![i as f32 * 0.5]).collect();
        let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let b = Binned::fit(&x, 0);
        let target = Target::Classes {
            y: &y,
            n_classes: 2,
        };
        let fit = |exact_below: usize| {
            let params = GrowParams {
                criterion: Criterion::Gini,
                max_depth: None,
                min_samples_split: 2,
                min_samples_leaf: 1,
                max_features: 1,
                exact_below,
            };
            let leaf = |_: &[u32], s: &[f64]| {
                let w: f64 = s.iter().sum();
                s.iter().map(|c| (c / w) as f32).collect()
            };
            grow(
                &b,
                Some(&x),
                &target,
                &[1.0; 1000],
                (0..n as u32).collect(),
                &params,
                2,
                0,
                leaf,
            )
        };
        let correct = |t: &Tree| {
            x.rows()
                .zip(&y)
                .filter(|(r, &c)| t.leaf(r)[c] == 1.0)
                .count()
        };
        let binned_only = fit(0);
        assert!(
            correct(&binned_only.tree) < n,
            "bins alone cannot separate 1,000 values"
        );
        let exact = fit(usize::MAX);
        assert_eq!(correct(&exact.tree), n);
        // Every threshold lies halfway between two neighbouring values (k·0.5 + 0.25).
        for node in exact.tree.nodes.iter().filter(|nd| nd.left != 0) {
            assert_eq!(
                (node.threshold * 4.0).rem_euclid(2.0),
                1.0,
                "{}",
                node.threshold
            );
        }
        // Exact search from 64 rows down: the histogram above, exact below, still separates all.
        assert_eq!(correct(&fit(64).tree), n);
    }

    #[test]
    fn in_place_partition_keeps_each_side_s_rows_and_their_data() {
        // Whole-number weights and classes: `partition` swaps rows in place. Each side must
        // hold the same rows as after the order-keeping partition (nested splits too), each
        // row with its own bins, weight and class.
        for d in [3usize, 30, 40] {
            let n = 500;
            let mut rng = Rng::new(d as u64 + 7);
            let rows: Vec<Vec<f32>> = (0..n)
                .map(|_| (0..d).map(|_| rng.below(40) as f32).collect())
                .collect();
            let x = Matrix::from_rows(&rows).unwrap();
            let b = Binned::fit(&x, 0);
            let y: Vec<usize> = (0..n).map(|i| (i * 7) % 4).collect();
            let target = Target::Classes {
                y: &y,
                n_classes: 4,
            };
            let w: Vec<f32> = (0..n).map(|i| (1 + i % 3) as f32).collect();
            let ids: Vec<u32> = (0..n as u32).collect();
            let mut stable = Ordered::new(&b, &target, &w, ids.clone());
            let mut swapped = Ordered::new(&b, &target, &w, ids);
            assert!(swapped.any_order);
            // Segments split in turn: the whole, then each side of the first split.
            let mut segments = vec![(0, n)];
            for (k, (feature, bin)) in [(1, 15u8), (0, 5), (2, 30), (1, 0), (2, 39)]
                .into_iter()
                .enumerate()
            {
                let (start, end) = segments.remove(0);
                let a = stable.partition_by(d, start, end, feature, move |_, b| b <= bin);
                let c = swapped.partition(d, start, end, feature, bin);
                assert_eq!(a, c, "d = {d}, split {k}");
                segments.push((start, a));
                segments.push((a, end));
            }
            for &(start, end) in &segments {
                let mut p = stable.rows[start..end].to_vec();
                let mut q = swapped.rows[start..end].to_vec();
                p.sort_unstable();
                q.sort_unstable();
                assert_eq!(p, q, "d = {d}, rows {start}..{end}");
            }
            let OrderedTarget::Classes(classes) = &swapped.target else {
                panic!("class target")
            };
            for (i, &r) in swapped.rows.iter().enumerate() {
                let r = r as usize;
                assert_eq!(swapped.bins[i * d..(i + 1) * d], b.bins[r * d..(r + 1) * d]);
                assert_eq!(swapped.weights[i], w[r] as f64);
                assert_eq!(classes[i] as usize, y[r]);
            }
        }
        // Fractional weights or values keep the order-keeping partition.
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0]]).unwrap();
        let b = Binned::fit(&x, 0);
        let classes = Target::Classes {
            y: &[0, 1],
            n_classes: 2,
        };
        assert!(!Ordered::new(&b, &classes, &[0.5, 1.0], vec![0, 1]).any_order);
        let values = Target::Values { y: &[0.0, 1.0] };
        assert!(!Ordered::new(&b, &values, &[1.0, 1.0], vec![0, 1]).any_order);
    }

    /// A grower over `n_features` features of `n_bins` bins each, `width` classes.
    fn test_grower(binned: &Binned, params: &GrowParams, width: usize) -> Grower<'static> {
        let binned: &'static Binned = Box::leak(Box::new(Binned {
            n_features: binned.n_features,
            bins: binned.bins.clone(),
            thresholds: binned.thresholds.clone(),
        }));
        let params: &'static GrowParams = Box::leak(Box::new(params.clone()));
        let offsets: Vec<usize> = (0..binned.n_features)
            .map(|f| f * binned.n_bins(f) * width)
            .collect();
        Grower {
            binned,
            params,
            values: false,
            width,
            hist_len: binned.n_features * binned.n_bins(0) * width,
            offsets,
            xlogx: Vec::new(),
            avx2: false,
        }
    }

    fn params(min_samples_leaf: usize) -> GrowParams {
        GrowParams {
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf,
            max_features: 1,
            exact_below: 0,
        }
    }

    #[test]
    fn sparse_gini_scan_matches_the_general_scan_bit_for_bit() {
        // Random sparse histograms of 6 classes (whole and fractional weights, a few to all
        // 255 bins occupied): the three-pass scan must pick the same bin with the same gain and
        // left statistics, to the bit, report constancy the same way and leave the buffer zero.
        let binned = Binned {
            n_features: 1,
            bins: Vec::new(),
            thresholds: vec![vec![0.0; MAX_BINS - 1]],
        };
        let mut rng = Rng::new(11);
        let mut scratch = GiniScratch::new();
        for case in 0..1200 {
            let min_leaf = [1, 1, 3, 40][case % 4];
            let mut g = test_grower(&binned, &params(min_leaf), 6);
            // Both builds of the sparse scan (the AVX2 one where the processor has it).
            g.avx2 = case % 2 == 1 && Simd::detect().avx2();
            let occupied = [1, 2, 3, 17, 120, 255][case % 6];
            let mut hist = vec![0.0; MAX_BINS * 6];
            let mut mask = [0u64; 4];
            for _ in 0..occupied {
                let b = rng.below(MAX_BINS);
                mask[b >> 6] |= 1 << (b & 63);
                let c = rng.below(6);
                hist[b * 6 + c] += if case % 3 == 0 {
                    rng.unit_f64() * 3.0 + 0.01
                } else {
                    (1 + rng.below(4)) as f64
                };
            }
            let mut total = vec![0.0; 6];
            for b in set_bits(&mask) {
                for c in 0..6 {
                    total[c] += hist[b * 6 + c];
                }
            }
            let parent_cost = cost(Criterion::Gini, &total, &[]);
            let (mut h1, mut h2) = (hist.clone(), hist.clone());
            let (mut best1, mut best2) = (None, None);
            let r1 = g.scan(
                3,
                &mut h1,
                set_bits(&mask),
                true,
                &total,
                parent_cost,
                &mut best1,
            );
            let r2 = g.scan_sparse(
                3,
                &mut h2,
                &mask,
                &total,
                parent_cost,
                &mut best2,
                &mut scratch,
            );
            assert_eq!(r1, r2, "case {case}");
            match (best1, best2) {
                (None, None) => {}
                (Some(a), Some(b)) => {
                    assert_eq!((a.feature, a.bin), (b.feature, b.bin), "case {case}");
                    assert_eq!(a.gain.to_bits(), b.gain.to_bits(), "case {case}");
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a.left), bits(&b.left), "case {case}");
                }
                (a, b) => panic!("case {case}: {a:?} vs {b:?}"),
            }
            assert!(h1.iter().all(|&v| v == 0.0) && h2.iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn large_nodes_find_the_same_occupied_bins_without_a_bit_per_row() {
        // Above TRACK_BELOW rows the occupied bins come from the histogram, below from a bit
        // per row: both must give the bins the rows hold, and the same histogram.
        let (n, d) = (3 * TRACK_BELOW, 4);
        let mut rng = Rng::new(5);
        // Feature f uses only every (f+1)-th bin, so most bins stay empty.
        let bins: Vec<u8> = (0..n * d)
            .map(|i| (rng.below(60) * (i % d + 1)).min(MAX_BINS - 1) as u8)
            .collect();
        let binned = Binned {
            n_features: d,
            bins,
            thresholds: vec![vec![0.0; MAX_BINS - 1]; d],
        };
        let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let target = Target::Classes {
            y: &y,
            n_classes: 3,
        };
        let weights: Vec<f32> = (0..n).map(|i| (1 + i % 2) as f32).collect();
        let o = Ordered::new(&binned, &target, &weights, (0..n as u32).collect());
        let g = test_grower(&binned, &params(1), 3);
        let feats = [3, 0, 2];
        for (start, end) in [(0, n), (5, 5 + TRACK_BELOW), (7, 7 + TRACK_BELOW + 1)] {
            let mut bufs = vec![vec![0.0; MAX_BINS * 3]; 3];
            let mut occupied = vec![[0u64; 4]; 3];
            g.feature_histograms_into(&o, start, end, &feats, &mut bufs, &mut occupied);
            for (i, &f) in feats.iter().enumerate() {
                let mut want = [0u64; 4];
                let mut hist = vec![0.0; MAX_BINS * 3];
                for r in start..end {
                    let b = binned.bins[r * d + f] as usize;
                    want[b >> 6] |= 1 << (b & 63);
                    hist[b * 3 + y[r]] += weights[r] as f64;
                }
                assert_eq!(occupied[i], want, "rows {start}..{end}, feature {f}");
                assert_eq!(bufs[i], hist, "rows {start}..{end}, feature {f}");
            }
        }
    }
}
