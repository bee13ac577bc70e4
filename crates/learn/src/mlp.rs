//! Dense multi-layer perceptron like scikit-learn's `MLPClassifier` (ReLU hidden layers, softmax
//! output, cross-entropy, L2 penalty `alpha`, Adam, shuffled mini-batches, stop after
//! `n_iter_no_change` epochs without a `tol` improvement of the training loss), with Keras's
//! `RandomNormal(0.05)` initialisation as an option for the Vaccari et al. network. Features are
//! standardised inside the model. Each mini-batch is cut into fixed 256-row slices whose
//! gradients are computed in parallel and summed in order, so results do not depend on threads.

use crate::dataset::{Dataset, Matrix};
use crate::error::{invalid, Result};
use crate::gemm::sgemm;
use crate::model::{no_progress, Classifier, Fit, FitInfo, ParamGuard, Progress};
use crate::rng::Rng;
use crate::scaler::StandardScaler;
use crate::thin::{self, Simd, LANES};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Weight initialisation of the hidden layers (the output layer is always Glorot-uniform).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// scikit-learn's: uniform in ±√(6 / (fan_in + fan_out)), biases too.
    GlorotUniform,
    /// Keras `kernel_initializer="normal"`: N(0, 0.05²) weights, zero biases.
    Normal,
}

/// Unchecked hyper-parameters of [`Mlp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpParams {
    pub hidden_layer_sizes: Vec<usize>,
    /// L2 penalty.
    pub alpha: f64,
    pub batch_size: usize,
    pub learning_rate_init: f64,
    /// Epochs.
    pub max_iter: usize,
    pub tol: f64,
    pub n_iter_no_change: usize,
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
    pub init: Init,
    pub random_state: u64,
}

impl Default for MlpParams {
    /// scikit-learn's defaults: one hidden layer of 100, alpha 1e-4, batch 200, Adam 1e-3,
    /// 200 epochs, tol 1e-4 over 10 epochs; seed 0.
    fn default() -> Self {
        MlpParams {
            hidden_layer_sizes: vec![100],
            alpha: 1e-4,
            batch_size: 200,
            learning_rate_init: 1e-3,
            max_iter: 200,
            tol: 1e-4,
            n_iter_no_change: 10,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            init: Init::GlorotUniform,
            random_state: 0,
        }
    }
}

impl MlpParams {
    /// Vaccari et al. 2020 `MLPClassifier(max_iter=130, batch_size=1000, activation="relu",
    /// solver="adam")`, seed 7.
    pub fn mqttset2020() -> Self {
        MlpParams {
            max_iter: 130,
            batch_size: 1000,
            random_state: 7,
            ..Default::default()
        }
    }
    /// Vaccari et al. 2020's Keras network: 50-30-20 ReLU with `normal` initialisation and a
    /// softmax output, Adam 1e-3, no penalty. The paper gives neither epochs nor batch size:
    /// Keras's default batch (32) and 10 epochs are this preset's choice.
    pub fn keras_50_30_20() -> Self {
        MlpParams {
            hidden_layer_sizes: vec![50, 30, 20],
            alpha: 0.0,
            batch_size: 32,
            max_iter: 10,
            init: Init::Normal,
            random_state: 7,
            ..Default::default()
        }
    }
    pub fn hidden_layer_sizes(mut self, h: Vec<usize>) -> Self {
        self.hidden_layer_sizes = h;
        self
    }
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    pub fn random_state(mut self, s: u64) -> Self {
        self.random_state = s;
        self
    }
}

/// Checked hyper-parameters of [`Mlp`].
#[derive(Clone, Debug, PartialEq)]
pub struct MlpValidParams(MlpParams);

impl ParamGuard for MlpParams {
    type Checked = MlpValidParams;
    fn check(self) -> Result<Self::Checked> {
        if self.hidden_layer_sizes.contains(&0) {
            return Err(invalid("hidden_layer_sizes", "a layer of 0 units"));
        }
        if self.alpha.is_nan() || self.alpha < 0.0 {
            return Err(invalid("alpha", format!("{} is not ≥ 0", self.alpha)));
        }
        if self.batch_size == 0 || self.max_iter == 0 {
            return Err(invalid("batch_size", "batch_size and max_iter must be ≥ 1"));
        }
        if !(self.learning_rate_init > 0.0 && self.learning_rate_init.is_finite()) {
            return Err(invalid("learning_rate_init", "must be > 0"));
        }
        Ok(MlpValidParams(self))
    }
}

/// One dense layer: `weights` is fan_in × fan_out, row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub fan_in: usize,
    pub fan_out: usize,
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

/// A fitted MLP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    pub info: FitInfo,
    pub scaler: StandardScaler,
    pub layers: Vec<Layer>,
    /// Training loss after each epoch.
    pub loss_curve: Vec<f64>,
}

const SLICE: usize = 256;

/// Rows ahead of the one being copied into a mini-batch whose loading is started early (the
/// rows are in random order: without it every copy waits for memory).
const PREFETCH: usize = 16;

/// Asks the processor to start loading `row` into the cache (a hint: results do not change).
#[inline(always)]
fn prefetch(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(first), Some(last)) = (row.first(), row.last()) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE, the only requirement of `_mm_prefetch`, is part of the x86-64
        // baseline; a prefetch never faults nor writes, whatever the address.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>((first as *const f32).cast());
            _mm_prefetch::<_MM_HINT_T0>((last as *const f32).cast());
        }
    }
}

/// Weight and bias gradients (or Adam moments) of every layer.
type LayerGrads = Vec<(Vec<f32>, Vec<f32>)>;

/// The output layer in `thin`'s layouts, when it has at most `thin::LANES` units (one per
/// class): its products then skip the general GEMM.
struct ThinOutput {
    simd: Simd,
    fan_in: usize,
    k: usize,
    padded: Vec<f32>,
    blocked: Vec<f32>,
}

impl ThinOutput {
    fn of(layers: &[Layer]) -> Option<Self> {
        let last = layers.last()?;
        (last.fan_out <= LANES).then(|| {
            let mut t = ThinOutput {
                simd: Simd::detect(),
                fan_in: last.fan_in,
                k: last.fan_out,
                padded: Vec::new(),
                blocked: Vec::new(),
            };
            t.refresh(last);
            t
        })
    }
    /// Re-lays out the output layer's weights (after an update).
    fn refresh(&mut self, last: &Layer) {
        thin::pad_and_transpose(
            &last.weights,
            self.fan_in,
            self.k,
            &mut self.padded,
            &mut self.blocked,
        );
    }
}

/// Columns of the output layer's activations and errors: padded to `thin::LANES` with a thin
/// output layer.
fn output_width(layers: &[Layer], thin: Option<&ThinOutput>) -> usize {
    thin.map_or_else(|| layers.last().map_or(0, |l| l.fan_out), |_| LANES)
}

/// Forward pass of `x` (m rows); returns the softmax output (m × classes).
fn forward(layers: &[Layer], x: &[f32], m: usize) -> Vec<f32> {
    let thin = ThinOutput::of(layers);
    let mut acts = vec![Vec::new(); layers.len()];
    forward_into(layers, thin.as_ref(), x, m, &mut acts);
    let out = acts.pop().expect("at least one layer");
    let k = layers.last().expect("at least one layer").fan_out;
    match thin {
        Some(_) => out
            .chunks_exact(LANES)
            .flat_map(|row| &row[..k])
            .copied()
            .collect(),
        None => out,
    }
}

/// Every layer's activations of `x` (m rows) into `acts` (one buffer per layer, resized to
/// m × fan_out, the last m × [`output_width`]; their capacity is reused from one mini-batch to
/// the next). The last is the softmax output.
fn forward_into(
    layers: &[Layer],
    thin: Option<&ThinOutput>,
    x: &[f32],
    m: usize,
    acts: &mut [Vec<f32>],
) {
    let width = output_width(layers, thin);
    for (l, layer) in layers.iter().enumerate() {
        let (done, rest) = acts.split_at_mut(l);
        let input: &[f32] = if l == 0 { x } else { &done[l - 1] };
        let z = &mut rest[0];
        let last = l + 1 == layers.len();
        match thin {
            Some(t) if last => {
                z.resize(m * LANES, 0.0);
                thin::forward(t.simd, input, layer.fan_in, &t.padded, z);
            }
            _ => {
                z.resize(m * layer.fan_out, 0.0);
                sgemm(
                    m,
                    layer.fan_in,
                    layer.fan_out,
                    1.0,
                    input,
                    false,
                    &layer.weights,
                    false,
                    0.0,
                    z,
                );
            }
        }
        if !last {
            // Bias and ReLU in one pass.
            for row in z.chunks_exact_mut(layer.fan_out) {
                for (v, b) in row.iter_mut().zip(&layer.bias) {
                    *v = (*v + b).max(0.0);
                }
            }
        } else {
            // Bias and softmax over the first fan_out columns (any padding stays 0).
            for row in z.chunks_exact_mut(width) {
                let row = &mut row[..layer.fan_out];
                let mut mx = f32::NEG_INFINITY;
                for (v, b) in row.iter_mut().zip(&layer.bias) {
                    *v += b;
                    mx = mx.max(*v);
                }
                let mut s = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - mx).exp();
                    s += *v;
                }
                row.iter_mut().for_each(|v| *v /= s);
            }
        }
    }
}

/// The buffers of one slice of a mini-batch (activations, back-propagated errors, gradients),
/// allocated once per fit and reused for every mini-batch.
struct Workspace {
    acts: Vec<Vec<f32>>,
    /// Errors of the layer being back-propagated and of the one below (rows × widest layer).
    delta: Vec<f32>,
    prev: Vec<f32>,
    /// A thin output layer's weight gradient, fan_in × `thin::LANES`.
    padded_grad: Vec<f32>,
    grads: LayerGrads,
    loss: f64,
}

impl Workspace {
    fn new(layers: &[Layer], rows: usize) -> Self {
        let widest = layers
            .iter()
            .map(|l| l.fan_out)
            .max()
            .unwrap_or(0)
            .max(LANES);
        let fan_in = layers.last().map_or(0, |l| l.fan_in);
        Workspace {
            acts: layers
                .iter()
                .map(|l| Vec::with_capacity(rows * l.fan_out.max(LANES)))
                .collect(),
            delta: vec![0f32; rows * widest],
            prev: vec![0f32; rows * widest],
            padded_grad: vec![0f32; fan_in * LANES],
            grads: layers
                .iter()
                .map(|l| (vec![0f32; l.weights.len()], vec![0f32; l.bias.len()]))
                .collect(),
            loss: 0.0,
        }
    }
}

/// Summed (not averaged) cross-entropy (into `ws.loss`) and gradients (into `ws.grads`,
/// overwritten) of one slice of rows.
fn slice_gradients(
    layers: &[Layer],
    thin: Option<&ThinOutput>,
    x: &[f32],
    y: &[usize],
    ws: &mut Workspace,
) {
    let m = y.len();
    forward_into(layers, thin, x, m, &mut ws.acts);
    let out = ws.acts.last().expect("at least one layer");
    let width = output_width(layers, thin);
    let mut loss = 0.0f64;
    let mut len = m * width;
    ws.delta[..len].copy_from_slice(out);
    for (i, &t) in y.iter().enumerate() {
        loss -= (out[i * width + t].max(1e-10) as f64).ln();
        ws.delta[i * width + t] -= 1.0;
    }
    ws.loss = loss;
    for l in (0..layers.len()).rev() {
        let layer = &layers[l];
        let input: &[f32] = if l == 0 { x } else { &ws.acts[l - 1] };
        let (gw, gb) = &mut ws.grads[l];
        let delta = &ws.delta[..len];
        let thin_layer = thin.filter(|_| l + 1 == layers.len());
        let stride = if thin_layer.is_some() {
            LANES
        } else {
            layer.fan_out
        };
        match thin_layer {
            Some(t) => {
                thin::weight_gradient(t.simd, input, layer.fan_in, delta, &mut ws.padded_grad);
                for (g, p) in gw
                    .chunks_exact_mut(layer.fan_out)
                    .zip(ws.padded_grad.chunks_exact(LANES))
                {
                    g.copy_from_slice(&p[..layer.fan_out]);
                }
            }
            None => sgemm(
                layer.fan_in,
                m,
                layer.fan_out,
                1.0,
                input,
                true,
                delta,
                false,
                0.0,
                gw,
            ),
        }
        gb.fill(0.0);
        for row in delta.chunks_exact(stride) {
            for (b, d) in gb.iter_mut().zip(row) {
                *b += d;
            }
        }
        // No error is propagated into the inputs.
        if l > 0 {
            let below = &ws.acts[l - 1];
            let prev = &mut ws.prev[..m * layer.fan_in];
            match thin_layer {
                Some(t) => thin::back_errors(t.simd, delta, &t.blocked, t.k, below, prev),
                None => {
                    sgemm(
                        m,
                        layer.fan_out,
                        layer.fan_in,
                        1.0,
                        delta,
                        false,
                        &layer.weights,
                        true,
                        0.0,
                        prev,
                    );
                    // ReLU's derivative: keep the error where the unit was active. A select,
                    // not a branch, so that the loop vectorises.
                    for (p, a) in prev.iter_mut().zip(below) {
                        *p = if *a > 0.0 { *p } else { 0.0 };
                    }
                }
            }
            len = m * layer.fan_in;
            std::mem::swap(&mut ws.delta, &mut ws.prev);
        }
    }
}

/// One Adam step on `params` (scikit-learn's `AdamOptimizer`): `grad` is the summed gradient of
/// the mini-batch, `alpha` its L2 penalty (0 for biases), `rows` the mini-batch's rows, `lr`
/// the bias-corrected step.
#[allow(clippy::too_many_arguments)]
fn adam_step(
    params: &mut [f32],
    grad: &[f32],
    ma: &mut [f32],
    va: &mut [f32],
    alpha: f32,
    rows: f32,
    lr: f32,
    (b1, b2, eps): (f32, f32, f32),
) {
    for (((w, g), m), v) in params.iter_mut().zip(grad).zip(ma).zip(va) {
        let g = (g + alpha * *w) / rows;
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        *w -= lr * *m / (v.sqrt() + eps);
    }
}

impl Fit for MlpValidParams {
    type Fitted = Mlp;
    fn fit(&self, ds: &Dataset) -> Result<Mlp> {
        self.fit_with_progress(ds, &no_progress)
    }
}

impl MlpValidParams {
    /// [`Fit::fit`], reporting each finished epoch (out of `max_iter`; early stopping ends sooner).
    pub fn fit_with_progress(&self, ds: &Dataset, progress: Progress) -> Result<Mlp> {
        self.fit_inner(ds, progress, true)
    }

    /// [`Self::fit_with_progress`]; `thin_output` false runs the output layer through the
    /// general GEMM even when it is thin (for the test that both paths agree).
    fn fit_inner(&self, ds: &Dataset, progress: Progress, thin_output: bool) -> Result<Mlp> {
        ds.check_fittable()?;
        let p = &self.0;
        let scaler = StandardScaler::fit(&ds.records);
        let x = scaler.transform(&ds.records);
        let (n, d, k) = (ds.n_rows(), ds.n_features(), ds.n_classes());
        let mut rng = Rng::new(p.random_state);
        let mut sizes = vec![d];
        sizes.extend_from_slice(&p.hidden_layer_sizes);
        sizes.push(k);
        let n_layers = sizes.len() - 1;
        let mut layers: Vec<Layer> = (0..n_layers)
            .map(|l| {
                let (fan_in, fan_out) = (sizes[l], sizes[l + 1]);
                let glorot = p.init == Init::GlorotUniform || l + 1 == n_layers;
                let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
                let mut draw = |_| -> f32 {
                    if glorot {
                        ((rng.unit_f64() * 2.0 - 1.0) * bound) as f32
                    } else {
                        (rng.normal() * 0.05) as f32
                    }
                };
                let weights = (0..fan_in * fan_out).map(&mut draw).collect();
                let bias = if glorot {
                    (0..fan_out).map(&mut draw).collect()
                } else {
                    vec![0.0; fan_out]
                };
                Layer {
                    fan_in,
                    fan_out,
                    weights,
                    bias,
                }
            })
            .collect();
        let zero_grads = |layers: &[Layer]| -> LayerGrads {
            layers
                .iter()
                .map(|l| (vec![0f32; l.weights.len()], vec![0f32; l.bias.len()]))
                .collect()
        };
        let mut m1 = zero_grads(&layers);
        let mut m2 = zero_grads(&layers);
        let mut t = 0i32;
        let batch_size = p.batch_size.min(n);
        let mut order: Vec<usize> = (0..n).collect();
        let mut loss_curve = Vec::new();
        let mut best_loss = f64::INFINITY;
        let mut no_improvement = 0;
        let mut xb = Vec::with_capacity(batch_size * d);
        let mut yb = Vec::with_capacity(batch_size);
        let mut work: Vec<Workspace> = (0..batch_size.div_ceil(SLICE))
            .map(|_| Workspace::new(&layers, SLICE.min(batch_size)))
            .collect();
        let serial = rayon::current_num_threads() == 1;
        let mut thin = ThinOutput::of(&layers).filter(|_| thin_output);
        for epoch in 0..p.max_iter {
            rng.shuffle(&mut order);
            let mut epoch_loss = 0.0;
            for batch in order.chunks(batch_size) {
                xb.clear();
                yb.clear();
                for (pos, &i) in batch.iter().enumerate() {
                    if let Some(&ahead) = batch.get(pos + PREFETCH) {
                        prefetch(x.row(ahead));
                    }
                    xb.extend_from_slice(x.row(i));
                    yb.push(ds.targets[i]);
                }
                // Fixed slices, gradients summed in slice order: the same model on any number
                // of threads. On one thread the slices run in turn, without rayon.
                let used = batch.len().div_ceil(SLICE);
                let slices = yb.chunks(SLICE).zip(xb.chunks(SLICE * d));
                if serial || used == 1 {
                    for (ws, (ys, xs)) in work.iter_mut().zip(slices) {
                        slice_gradients(&layers, thin.as_ref(), xs, ys, ws);
                    }
                } else {
                    work[..used]
                        .par_iter_mut()
                        .zip(yb.par_chunks(SLICE).zip(xb.par_chunks(SLICE * d)))
                        .for_each(|(ws, (ys, xs))| {
                            slice_gradients(&layers, thin.as_ref(), xs, ys, ws)
                        });
                }
                let (first, rest) = work[..used].split_first_mut().expect("a non-empty batch");
                let mut loss = first.loss;
                for ws in rest.iter() {
                    loss += ws.loss;
                    for ((aw, ab), (bw, bb)) in first.grads.iter_mut().zip(&ws.grads) {
                        aw.iter_mut().zip(bw).for_each(|(a, b)| *a += b);
                        ab.iter_mut().zip(bb).for_each(|(a, b)| *a += b);
                    }
                }
                let grads = &first.grads;
                // scikit-learn: (Σ loss + alpha/2 ‖W‖²) / batch, gradients (Σ g + alpha W) / batch.
                let bsz = batch.len() as f32;
                let alpha = p.alpha as f32;
                let penalty: f64 = layers
                    .iter()
                    .map(|l| l.weights.iter().map(|w| (*w as f64).powi(2)).sum::<f64>())
                    .sum();
                epoch_loss += loss + 0.5 * p.alpha * penalty;
                t += 1;
                let lr = (p.learning_rate_init * (1.0 - p.beta_2.powi(t)).sqrt()
                    / (1.0 - p.beta_1.powi(t))) as f32;
                let betas = (p.beta_1 as f32, p.beta_2 as f32, p.epsilon as f32);
                for (l, layer) in layers.iter_mut().enumerate() {
                    let (gw, gb) = &grads[l];
                    let (m1w, m1b) = &mut m1[l];
                    let (m2w, m2b) = &mut m2[l];
                    adam_step(&mut layer.weights, gw, m1w, m2w, alpha, bsz, lr, betas);
                    adam_step(&mut layer.bias, gb, m1b, m2b, 0.0, bsz, lr, betas);
                }
                if let (Some(t), Some(last)) = (thin.as_mut(), layers.last()) {
                    t.refresh(last);
                }
            }
            let epoch_loss = epoch_loss / n as f64;
            loss_curve.push(epoch_loss);
            progress(epoch + 1, p.max_iter);
            if epoch_loss > best_loss - p.tol {
                no_improvement += 1;
            } else {
                no_improvement = 0;
            }
            best_loss = best_loss.min(epoch_loss);
            if no_improvement > p.n_iter_no_change {
                break;
            }
        }
        if loss_curve.len() < p.max_iter {
            // Stopped early: the fit is complete.
            progress(p.max_iter, p.max_iter);
        }
        Ok(Mlp {
            info: FitInfo::of(ds),
            scaler,
            layers,
            loss_curve,
        })
    }
}

impl Classifier for Mlp {
    fn classes(&self) -> &[String] {
        &self.info.classes
    }
    fn feature_names(&self) -> &[String] {
        &self.info.feature_names
    }
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix> {
        self.info.check_records(records)?;
        let x = self.scaler.transform(records);
        let (d, k) = (x.n_cols(), self.info.classes.len());
        let parts: Vec<Vec<f32>> = x
            .as_slice()
            .par_chunks(SLICE * 4 * d.max(1))
            .map(|xs| {
                let m = xs.len() / d.max(1);
                forward(&self.layers, xs, m)
            })
            .collect();
        Matrix::new(records.n_rows(), k, parts.concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;

    /// The thin output-layer kernels and the general GEMM compute the same products (sums in
    /// another order): the two fits follow the same loss curve to float rounding.
    #[test]
    fn thin_output_layer_and_gemm_agree() {
        let train = blobs(300, 16);
        let params = MlpParams::default()
            .max_iter(15)
            .batch_size(100)
            .check()
            .unwrap();
        let thin = params.fit_inner(&train, &no_progress, true).unwrap();
        let gemm = params.fit_inner(&train, &no_progress, false).unwrap();
        assert_eq!(thin.loss_curve.len(), gemm.loss_curve.len());
        for (a, b) in thin.loss_curve.iter().zip(&gemm.loss_curve) {
            assert!((a - b).abs() <= 1e-4 * b.abs(), "{a} vs {b}");
        }
        assert_ne!(
            thin.loss_curve, gemm.loss_curve,
            "the two paths were not both taken"
        );
    }

    #[test]
    fn loss_falls_and_blobs_are_learnt() {
        let train = blobs(150, 14);
        let test = blobs(100, 15);
        let params = MlpParams::default()
            .max_iter(40)
            .batch_size(64)
            .check()
            .unwrap();
        let m = params.fit(&train).unwrap();
        assert!(
            m.loss_curve.last().unwrap() < &(m.loss_curve[0] * 0.5),
            "{:?}",
            m.loss_curve
        );
        let acc = crate::metrics::accuracy(&test.targets, &m.predict(&test.records).unwrap());
        assert!(acc > 0.85, "{acc}");
        assert_eq!(m, params.fit(&train).unwrap());
        let keras = MlpParams::keras_50_30_20()
            .check()
            .unwrap()
            .fit(&train)
            .unwrap();
        assert_eq!(keras.layers.len(), 4);
        assert_eq!(keras.layers[3].fan_out, 3);
        assert!(MlpParams::default()
            .hidden_layer_sizes(vec![0])
            .check()
            .is_err());
    }
}
