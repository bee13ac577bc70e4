//! The in-memory feature table: a dense row-major `f32` matrix with named columns, class targets as
//! indices into a sorted list of class names, and optional group ids (connection, flow) per row.

use crate::error::{invalid, Error, Result};
use serde::{Deserialize, Serialize};

/// A dense row-major matrix of `f32` (records are stored as `f32`; sums are taken in `f64`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    n_rows: usize,
    n_cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// A matrix from row-major `data`; its length must be `n_rows * n_cols`.
    pub fn new(n_rows: usize, n_cols: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != n_rows * n_cols {
            return Err(invalid(
                "data",
                format!(
                    "{} values do not make {n_rows} rows of {n_cols} columns",
                    data.len()
                ),
            ));
        }
        Ok(Matrix {
            n_rows,
            n_cols,
            data,
        })
    }

    pub fn zeros(n_rows: usize, n_cols: usize) -> Self {
        Matrix {
            n_rows,
            n_cols,
            data: vec![0.0; n_rows * n_cols],
        }
    }

    pub fn from_rows(rows: &[Vec<f32>]) -> Result<Self> {
        let n_cols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * n_cols);
        for r in rows {
            if r.len() != n_cols {
                return Err(Error::NFeatures {
                    expected: n_cols,
                    found: r.len(),
                });
            }
            data.extend_from_slice(r);
        }
        Matrix::new(rows.len(), n_cols, data)
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }
    /// The row-major values, for reuse as the buffer of the next matrix (an online detector
    /// builds one batch after another without allocating).
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.n_cols + j]
    }
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> + '_ {
        // `chunks_exact(0)` panics, so a matrix without columns yields empty rows explicitly.
        let n_cols = self.n_cols.max(1);
        let take = if self.n_cols == 0 { 0 } else { self.n_rows };
        self.data.chunks_exact(n_cols).take(take)
    }
    /// The rows at `indices`, in that order (repeats allowed).
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.n_cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            n_rows: indices.len(),
            n_cols: self.n_cols,
            data,
        }
    }
    /// Index of the largest value of each row (first one on ties).
    pub fn argmax_rows(&self) -> Vec<usize> {
        self.rows()
            .map(|r| {
                let mut best = 0;
                for (j, &v) in r.iter().enumerate() {
                    if v > r[best] {
                        best = j;
                    }
                }
                best
            })
            .collect()
    }
}

/// A table ready for learning: records, class targets, class names, feature names and optional groups.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub records: Matrix,
    /// Class of each row, an index into `classes`.
    pub targets: Vec<usize>,
    /// Class names, sorted (as scikit-learn's `classes_`).
    pub classes: Vec<String>,
    pub feature_names: Vec<String>,
    /// Group of each row (e.g. a connection id); rows of one group stay on one side of a split.
    pub groups: Option<Vec<u64>>,
}

impl Dataset {
    /// Checks that every part has the same number of rows and that targets index `classes`.
    pub fn new(
        records: Matrix,
        targets: Vec<usize>,
        classes: Vec<String>,
        feature_names: Vec<String>,
    ) -> Result<Self> {
        if targets.len() != records.n_rows() {
            return Err(invalid(
                "targets",
                format!("{} targets for {} rows", targets.len(), records.n_rows()),
            ));
        }
        if feature_names.len() != records.n_cols() {
            return Err(invalid(
                "feature_names",
                format!(
                    "{} names for {} columns",
                    feature_names.len(),
                    records.n_cols()
                ),
            ));
        }
        if let Some(&t) = targets.iter().find(|&&t| t >= classes.len()) {
            return Err(invalid(
                "targets",
                format!("class index {t} but only {} classes", classes.len()),
            ));
        }
        Ok(Dataset {
            records,
            targets,
            classes,
            feature_names,
            groups: None,
        })
    }

    /// The same dataset with a group id per row.
    pub fn with_groups(mut self, groups: Vec<u64>) -> Result<Self> {
        if groups.len() != self.n_rows() {
            return Err(invalid(
                "groups",
                format!("{} groups for {} rows", groups.len(), self.n_rows()),
            ));
        }
        self.groups = Some(groups);
        Ok(self)
    }

    pub fn n_rows(&self) -> usize {
        self.records.n_rows()
    }
    pub fn n_features(&self) -> usize {
        self.records.n_cols()
    }
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Number of rows of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.classes.len()];
        for &t in &self.targets {
            c[t] += 1;
        }
        c
    }

    /// The rows at `indices` (repeats allowed); classes and feature names are kept whole, so a
    /// model fitted on a subset still knows every class of the table.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            records: self.records.select_rows(indices),
            targets: indices.iter().map(|&i| self.targets[i]).collect(),
            classes: self.classes.clone(),
            feature_names: self.feature_names.clone(),
            groups: self
                .groups
                .as_ref()
                .map(|g| indices.iter().map(|&i| g[i]).collect()),
        }
    }

    /// Fails unless the dataset has at least one row and two classes present.
    pub(crate) fn check_fittable(&self) -> Result<()> {
        if self.n_rows() == 0 || self.n_features() == 0 {
            return Err(Error::Empty(format!(
                "cannot fit on {} rows × {} features",
                self.n_rows(),
                self.n_features()
            )));
        }
        if self.class_counts().iter().filter(|&&c| c > 0).count() < 2 {
            return Err(Error::Empty(
                "fitting needs rows of at least two classes".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small dataset for unit tests: three Gaussian blobs in 4 dimensions.
    pub(crate) fn blobs(n_per_class: usize, seed: u64) -> Dataset {
        let mut rng = crate::rng::Rng::new(seed);
        let centers = [
            [0.0, 0.0, 0.0, 0.0],
            [3.0, 3.0, 0.0, 1.0],
            [0.0, 3.0, 3.0, -1.0],
        ];
        let mut data = Vec::new();
        let mut targets = Vec::new();
        for i in 0..n_per_class * 3 {
            let c = i % 3;
            for &m in &centers[c] {
                data.push((m + rng.normal()) as f32);
            }
            targets.push(c);
        }
        Dataset::new(
            Matrix::new(n_per_class * 3, 4, data).unwrap(),
            targets,
            vec!["a".into(), "b".into(), "c".into()],
            (0..4).map(|j| format!("f{j}")).collect(),
        )
        .unwrap()
    }

    #[test]
    fn select_keeps_classes_and_rows() {
        let d = blobs(5, 1);
        let s = d.select(&[3, 3, 0]);
        assert_eq!(s.n_rows(), 3);
        assert_eq!(s.records.row(0), d.records.row(3));
        assert_eq!(s.records.row(1), d.records.row(3));
        assert_eq!(s.targets, vec![0, 0, 0]);
        assert_eq!(s.classes.len(), 3);
        assert!(Dataset::new(
            Matrix::zeros(2, 1),
            vec![0, 5],
            vec!["x".into()],
            vec!["f".into()]
        )
        .is_err());
    }
}
