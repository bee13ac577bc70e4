//! Standardisation kept inside the models that need it, as scikit-learn's `StandardScaler`
//! computes it: mean and population standard deviation per feature, a constant feature scaled by 1.

use crate::dataset::Matrix;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Per-feature mean and scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl StandardScaler {
    /// Fitted on every row of `x` (two passes in f64, so large offsets do not lose precision).
    pub fn fit(x: &Matrix) -> Self {
        let d = x.n_cols();
        let n = x.n_rows().max(1) as f64;
        let mut mean = vec![0.0f64; d];
        for r in x.rows() {
            for (m, &v) in mean.iter_mut().zip(r) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; d];
        for r in x.rows() {
            for ((s, &v), m) in var.iter_mut().zip(r).zip(&mean) {
                let t = v as f64 - m;
                *s += t * t;
            }
        }
        let scale = var
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 10.0 * f64::EPSILON * 1.0f64.max(sd) && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        StandardScaler { mean, scale }
    }

    pub fn transform_row(&self, row: &[f32], out: &mut [f32]) {
        for (j, (o, &v)) in out.iter_mut().zip(row).enumerate() {
            *o = ((v as f64 - self.mean[j]) / self.scale[j]) as f32;
        }
    }

    pub fn transform(&self, x: &Matrix) -> Matrix {
        let d = x.n_cols();
        let mut out = Matrix::zeros(x.n_rows(), d);
        if d == 0 {
            return out;
        }
        out.as_mut_slice()
            .par_chunks_mut(d)
            .zip(x.as_slice().par_chunks(d))
            .for_each(|(o, r)| self.transform_row(r, o));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_zero_unit_variance_and_constant_feature_kept() {
        let x = Matrix::from_rows(&[vec![1.0, 5.0], vec![3.0, 5.0], vec![5.0, 5.0]]).unwrap();
        let s = StandardScaler::fit(&x);
        assert_eq!(s.mean, vec![3.0, 5.0]);
        assert!((s.scale[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(s.scale[1], 1.0);
        let t = s.transform(&x);
        assert_eq!(t.row(1), &[0.0, 0.0]);
        assert!((t.get(2, 0) - 1.224_744_9).abs() < 1e-6);
    }
}
