//! Gaussian naive Bayes like scikit-learn's `GaussianNB`: per-class means and variances, every
//! variance enlarged by `var_smoothing` × the largest feature variance, priors from class frequencies.

use crate::dataset::{Dataset, Matrix};
use crate::error::{invalid, Result};
use crate::model::{map_rows, softmax_into, Classifier, Fit, FitInfo, ParamGuard};
use serde::{Deserialize, Serialize};

/// Unchecked hyper-parameters of [`GaussianNb`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussianNbParams {
    pub var_smoothing: f64,
}

impl Default for GaussianNbParams {
    /// scikit-learn's default: `var_smoothing = 1e-9`.
    fn default() -> Self {
        GaussianNbParams {
            var_smoothing: 1e-9,
        }
    }
}

impl GaussianNbParams {
    pub fn var_smoothing(mut self, v: f64) -> Self {
        self.var_smoothing = v;
        self
    }
}

/// Checked hyper-parameters of [`GaussianNb`].
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianNbValidParams(GaussianNbParams);

impl ParamGuard for GaussianNbParams {
    type Checked = GaussianNbValidParams;
    fn check(self) -> Result<GaussianNbValidParams> {
        if !(self.var_smoothing >= 0.0 && self.var_smoothing.is_finite()) {
            return Err(invalid(
                "var_smoothing",
                format!("{} is not ≥ 0", self.var_smoothing),
            ));
        }
        Ok(GaussianNbValidParams(self))
    }
}

/// A fitted Gaussian naive Bayes classifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussianNb {
    pub info: FitInfo,
    /// `theta[c][j]`: mean of feature j in class c.
    pub theta: Vec<Vec<f64>>,
    /// `var[c][j]`: smoothed variance.
    pub var: Vec<Vec<f64>>,
    pub class_prior: Vec<f64>,
    pub epsilon: f64,
}

impl Fit for GaussianNbValidParams {
    type Fitted = GaussianNb;
    fn fit(&self, ds: &Dataset) -> Result<GaussianNb> {
        ds.check_fittable()?;
        let (k, d) = (ds.n_classes(), ds.n_features());
        let mut count = vec![0f64; k];
        let mut sum = vec![vec![0f64; d]; k];
        for (r, &t) in ds.records.rows().zip(&ds.targets) {
            count[t] += 1.0;
            for (s, &v) in sum[t].iter_mut().zip(r) {
                *s += v as f64;
            }
        }
        let theta: Vec<Vec<f64>> = (0..k)
            .map(|c| sum[c].iter().map(|s| s / count[c].max(1.0)).collect())
            .collect();
        let mut var = vec![vec![0f64; d]; k];
        for (r, &t) in ds.records.rows().zip(&ds.targets) {
            for ((s, &v), m) in var[t].iter_mut().zip(r).zip(&theta[t]) {
                let e = v as f64 - m;
                *s += e * e;
            }
        }
        // epsilon = var_smoothing * max over features of the variance of the whole column.
        let n = ds.n_rows() as f64;
        let mut max_var = 0f64;
        for j in 0..d {
            let mean: f64 = (0..k).map(|c| sum[c][j]).sum::<f64>() / n;
            let v: f64 = ds
                .records
                .rows()
                .map(|r| {
                    let e = r[j] as f64 - mean;
                    e * e
                })
                .sum::<f64>()
                / n;
            max_var = max_var.max(v);
        }
        let epsilon = self.0.var_smoothing * max_var;
        for c in 0..k {
            for v in var[c].iter_mut() {
                *v = *v / count[c].max(1.0) + epsilon;
            }
        }
        Ok(GaussianNb {
            info: FitInfo::of(ds),
            theta,
            var,
            class_prior: count.iter().map(|c| c / n).collect(),
            epsilon,
        })
    }
}

impl GaussianNb {
    /// Joint log-likelihood of each class for one record; `norm[c]` is
    /// ln prior − ½ Σ ln(2π var), precomputed per call of `predict_proba`.
    fn joint_log_likelihood(&self, row: &[f32], norm: &[f64], out: &mut [f64]) {
        for (c, o) in out.iter_mut().enumerate() {
            if self.class_prior[c] == 0.0 {
                *o = f64::NEG_INFINITY;
                continue;
            }
            let mut s = 0.0;
            for ((&x, m), v) in row.iter().zip(&self.theta[c]).zip(&self.var[c]) {
                let e = x as f64 - m;
                s += e * e / v;
            }
            *o = norm[c] - 0.5 * s;
        }
    }
}

impl Classifier for GaussianNb {
    fn classes(&self) -> &[String] {
        &self.info.classes
    }
    fn feature_names(&self) -> &[String] {
        &self.info.feature_names
    }
    fn predict_proba(&self, records: &Matrix) -> Result<Matrix> {
        self.info.check_records(records)?;
        let k = self.info.classes.len();
        let norm: Vec<f64> = (0..k)
            .map(|c| {
                self.class_prior[c].ln()
                    - 0.5
                        * self.var[c]
                            .iter()
                            .map(|v| (2.0 * std::f64::consts::PI * v).ln())
                            .sum::<f64>()
            })
            .collect();
        Ok(map_rows(records, k, k, |row, out, jll| {
            self.joint_log_likelihood(row, &norm, jll);
            softmax_into(jll, out);
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;

    #[test]
    fn separates_blobs_and_matches_hand_computed_statistics() {
        let ds = blobs(100, 4);
        let m = GaussianNbParams::default()
            .check()
            .unwrap()
            .fit(&ds)
            .unwrap();
        let acc = crate::metrics::accuracy(&ds.targets, &m.predict(&ds.records).unwrap());
        assert!(acc > 0.9, "{acc}");
        // Class 0 mean of feature 0 is the plain average of its rows.
        let rows0: Vec<f64> = (0..ds.n_rows())
            .filter(|&i| ds.targets[i] == 0)
            .map(|i| ds.records.get(i, 0) as f64)
            .collect();
        let mean0 = rows0.iter().sum::<f64>() / rows0.len() as f64;
        assert!((m.theta[0][0] - mean0).abs() < 1e-9);
        let p = m.predict_proba(&ds.records).unwrap();
        assert!(p.rows().all(|r| (r.iter().sum::<f32>() - 1.0).abs() < 1e-5));
        assert!(GaussianNbParams::default()
            .var_smoothing(-1.0)
            .check()
            .is_err());
    }
}
