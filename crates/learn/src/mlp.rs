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

/// Weight and bias gradients (or Adam moments) of every layer.
type LayerGrads = Vec<(Vec<f32>, Vec<f32>)>;

/// Forward pass of `x` (m rows); returns every layer's activations (the last is softmax).
fn forward(layers: &[Layer], x: &[f32], m: usize) -> Vec<Vec<f32>> {
    let mut acts: Vec<Vec<f32>> = Vec::with_capacity(layers.len());
    for (l, layer) in layers.iter().enumerate() {
        let input: &[f32] = if l == 0 { x } else { &acts[l - 1] };
        let mut z = vec![0f32; m * layer.fan_out];
        for row in z.chunks_exact_mut(layer.fan_out) {
            row.copy_from_slice(&layer.bias);
        }
        sgemm(
            m,
            layer.fan_in,
            layer.fan_out,
            1.0,
            input,
            false,
            &layer.weights,
            false,
            1.0,
            &mut z,
        );
        if l + 1 < layers.len() {
            z.iter_mut().for_each(|v| *v = v.max(0.0));
        } else {
            for row in z.chunks_exact_mut(layer.fan_out) {
                let mx = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let mut s = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - mx).exp();
                    s += *v;
                }
                row.iter_mut().for_each(|v| *v /= s);
            }
        }
        acts.push(z);
    }
    acts
}

/// Summed (not averaged) cross-entropy and gradients of one slice of rows.
fn slice_gradients(
    layers: &[Layer],
    x: &[f32],
    y: &[usize],
    grads: &mut [(Vec<f32>, Vec<f32>)],
) -> f64 {
    let m = y.len();
    let acts = forward(layers, x, m);
    let out = acts.last().expect("at least one layer");
    let k = layers.last().expect("at least one layer").fan_out;
    let mut loss = 0.0f64;
    let mut delta = out.clone();
    for (i, &t) in y.iter().enumerate() {
        loss -= (out[i * k + t].max(1e-10) as f64).ln();
        delta[i * k + t] -= 1.0;
    }
    for l in (0..layers.len()).rev() {
        let layer = &layers[l];
        let input: &[f32] = if l == 0 { x } else { &acts[l - 1] };
        let (gw, gb) = &mut grads[l];
        sgemm(
            layer.fan_in,
            m,
            layer.fan_out,
            1.0,
            input,
            true,
            &delta,
            false,
            1.0,
            gw,
        );
        for row in delta.chunks_exact(layer.fan_out) {
            for (b, d) in gb.iter_mut().zip(row) {
                *b += d;
            }
        }
        if l > 0 {
            let mut prev = vec![0f32; m * layer.fan_in];
            sgemm(
                m,
                layer.fan_out,
                layer.fan_in,
                1.0,
                &delta,
                false,
                &layer.weights,
                true,
                0.0,
                &mut prev,
            );
            for (p, a) in prev.iter_mut().zip(&acts[l - 1]) {
                if *a <= 0.0 {
                    *p = 0.0;
                }
            }
            delta = prev;
        }
    }
    loss
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
        for epoch in 0..p.max_iter {
            rng.shuffle(&mut order);
            let mut epoch_loss = 0.0;
            for batch in order.chunks(batch_size) {
                xb.clear();
                yb.clear();
                for &i in batch {
                    xb.extend_from_slice(x.row(i));
                    yb.push(ds.targets[i]);
                }
                let parts: Vec<(f64, LayerGrads)> = yb
                    .par_chunks(SLICE)
                    .zip(xb.par_chunks(SLICE * d))
                    .map(|(ys, xs)| {
                        let mut g = zero_grads(&layers);
                        let loss = slice_gradients(&layers, xs, ys, &mut g);
                        (loss, g)
                    })
                    .collect();
                let mut grads = zero_grads(&layers);
                let mut loss = 0.0;
                for (l, g) in parts {
                    loss += l;
                    for ((aw, ab), (bw, bb)) in grads.iter_mut().zip(g) {
                        aw.iter_mut().zip(bw).for_each(|(a, b)| *a += b);
                        ab.iter_mut().zip(bb).for_each(|(a, b)| *a += b);
                    }
                }
                // scikit-learn: (Σ loss + alpha/2 ‖W‖²) / batch, gradients (Σ g + alpha W) / batch.
                let bsz = batch.len() as f32;
                let alpha = p.alpha as f32;
                let penalty: f64 = layers
                    .iter()
                    .map(|l| l.weights.iter().map(|w| (*w as f64).powi(2)).sum::<f64>())
                    .sum();
                epoch_loss += loss + 0.5 * p.alpha * penalty;
                t += 1;
                let lr = p.learning_rate_init * (1.0 - p.beta_2.powi(t)).sqrt()
                    / (1.0 - p.beta_1.powi(t));
                let (b1, b2, eps) = (p.beta_1 as f32, p.beta_2 as f32, p.epsilon as f32);
                for (l, layer) in layers.iter_mut().enumerate() {
                    let (gw, gb) = &grads[l];
                    let (m1w, m1b) = &mut m1[l];
                    let (m2w, m2b) = &mut m2[l];
                    let update = |params: &mut [f32],
                                  grad: &[f32],
                                  ma: &mut [f32],
                                  va: &mut [f32],
                                  penalised: bool| {
                        for i in 0..params.len() {
                            let g =
                                (grad[i] + if penalised { alpha * params[i] } else { 0.0 }) / bsz;
                            ma[i] = b1 * ma[i] + (1.0 - b1) * g;
                            va[i] = b2 * va[i] + (1.0 - b2) * g * g;
                            params[i] -= (lr as f32) * ma[i] / (va[i].sqrt() + eps);
                        }
                    };
                    update(&mut layer.weights, gw, m1w, m2w, true);
                    update(&mut layer.bias, gb, m1b, m2b, false);
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
                    .pop()
                    .expect("at least one layer")
            })
            .collect();
        Matrix::new(records.n_rows(), k, parts.concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;

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
