//! Memoised scoring. Most packets' rows repeat (bare ACKs, a sensor's identical PUBLISH
//! shapes), and a tree model's output depends on a row only through which side of each split
//! threshold every feature falls: for each feature, the number of the model's thresholds below
//! the value (the interval it lies in) decides every comparison `value <= threshold` of every
//! tree. So rows with the same interval per feature get the same class probabilities, exactly.
//! The cache keys tree models (decision tree, random forest) by those interval numbers and any
//! other model by the row's exact bits; it is bounded (cleared when full, counted) and exact —
//! a hit returns what the model would have computed.

use std::collections::HashMap;

use mqtt_ids_learn::{Classifier, Matrix, Model};

/// Key of a NaN value: no threshold comparison is true for it (it goes right everywhere).
const NAN_KEY: u32 = u32::MAX;

/// A bounded cache of one model's class probabilities.
pub struct ScoreCache {
    /// Of a tree model: the features some split tests, each with its sorted distinct
    /// thresholds (the others never change the output and are left out of the key); `None`:
    /// the key is the exact row.
    cuts: Option<Vec<(usize, Vec<f32>)>>,
    /// Per feature, its entry in `cuts` (tree models).
    position: Vec<Option<usize>>,
    map: HashMap<Box<[u32]>, Box<[f32]>, foldhash::fast::FixedState>,
    cap: usize,
    key: Vec<u32>,
    /// Rows answered from the cache.
    pub hits: u64,
    /// Rows the model computed.
    pub misses: u64,
    /// Times the cache was full and emptied.
    pub clears: u64,
}

impl ScoreCache {
    /// A cache of at most `cap` rows for `model` (0: no caching).
    pub fn new(model: &Model, n_features: usize, cap: usize) -> ScoreCache {
        let trees: Vec<&mqtt_ids_learn::tree::Tree> = match model {
            Model::Rf(f) => f.trees.iter().collect(),
            Model::Dt(t) => vec![&t.tree],
            _ => Vec::new(),
        };
        let cuts: Option<Vec<(usize, Vec<f32>)>> = (!trees.is_empty()).then(|| {
            let mut cuts = vec![Vec::new(); n_features];
            for t in trees {
                for n in t.nodes.iter().filter(|n| n.left != 0) {
                    if let Some(c) = cuts.get_mut(n.feature as usize) {
                        c.push(n.threshold);
                    }
                }
            }
            cuts.into_iter()
                .enumerate()
                .filter(|(_, c)| !c.is_empty())
                .map(|(j, mut c)| {
                    c.sort_by(f32::total_cmp);
                    c.dedup();
                    (j, c)
                })
                .collect()
        });
        let mut position: Vec<Option<usize>> = vec![None; n_features];
        if let Some(c) = &cuts {
            for (i, (j, _)) in c.iter().enumerate() {
                position[*j] = Some(i);
            }
        }
        ScoreCache {
            cuts,
            position,
            map: HashMap::default(),
            cap,
            key: Vec::with_capacity(n_features),
            hits: 0,
            misses: 0,
            clears: 0,
        }
    }

    /// Whether the key is the tree intervals (else the exact row).
    pub fn by_intervals(&self) -> bool {
        self.cuts.is_some()
    }

    /// Whether setting feature `j` from `a` to `b` can change the model's output: for a tree
    /// model, only when some split on `j` separates the two values (never for a feature no
    /// split tests); for other models, whenever the values differ.
    pub fn may_change(&self, j: usize, a: f32, b: f32) -> bool {
        let Some(cuts) = &self.cuts else {
            return (a + 0.0).to_bits() != (b + 0.0).to_bits();
        };
        let Some(Some(i)) = self.position.get(j) else {
            return false;
        };
        let c = &cuts[*i].1;
        let interval = |v: f32| {
            if v.is_nan() {
                NAN_KEY as usize
            } else {
                c.partition_point(|&t| t < v)
            }
        };
        interval(a) != interval(b)
    }

    fn make_key(cuts: &Option<Vec<(usize, Vec<f32>)>>, row: &[f32], key: &mut Vec<u32>) {
        key.clear();
        match cuts {
            Some(cuts) => key.extend(cuts.iter().map(|(j, c)| {
                let v = row.get(*j).copied().unwrap_or(f32::NAN);
                if v.is_nan() {
                    NAN_KEY
                } else {
                    // Thresholds t with t < v: every `v <= t` test is false for them and true
                    // for the rest.
                    c.partition_point(|&t| t < v) as u32
                }
            })),
            None => key.extend(row.iter().map(|v| {
                if v.is_nan() {
                    NAN_KEY
                } else {
                    // -0.0 and 0.0 compare equal everywhere.
                    (v + 0.0).to_bits()
                }
            })),
        }
    }

    fn value_key(&self, j: usize, v: f32) -> Option<(usize, u32)> {
        if v.is_nan() {
            return match &self.cuts {
                Some(_) => self
                    .position
                    .get(j)
                    .copied()
                    .flatten()
                    .map(|p| (p, NAN_KEY)),
                None => Some((j, NAN_KEY)),
            };
        }
        match &self.cuts {
            Some(cuts) => {
                let p = self.position.get(j).copied().flatten()?;
                Some((p, cuts[p].1.partition_point(|&t| t < v) as u32))
            }
            None => Some((j, (v + 0.0).to_bits())),
        }
    }

    /// The key of `record` with feature `j` set to `v`, from the record's key `base`.
    fn occluded_key(&self, base: &[u32], j: Option<usize>, v: f32, key: &mut Vec<u32>) {
        key.clear();
        key.extend_from_slice(base);
        if let Some((at, k)) = j.and_then(|j| self.value_key(j, v)) {
            key[at] = k;
        }
    }

    /// Class probabilities of `record` (row 0) and of `record` with each of `features` in turn
    /// set to `missing` (row 1 + m): the occlusion rows of an attribution. Their keys are the
    /// record's with one entry changed, so only one threshold search is made per row.
    pub fn occluded(
        &mut self,
        model: &Model,
        record: &[f32],
        features: &[usize],
        missing: f32,
    ) -> Result<Matrix, String> {
        let (n, d) = (features.len() + 1, record.len());
        let row_of = |r: usize, data: &mut Vec<f32>| {
            let start = data.len();
            data.extend_from_slice(record);
            if r > 0 {
                data[start + features[r - 1]] = missing;
            }
        };
        if self.cap == 0 {
            let mut data = Vec::with_capacity(n * d);
            (0..n).for_each(|r| row_of(r, &mut data));
            let m = Matrix::new(n, d, data).map_err(|e| e.to_string())?;
            return self.predict(model, &m);
        }
        let k = model.classes().len();
        let mut out = Matrix::zeros(n, k);
        Self::make_key(&self.cuts, record, &mut self.key);
        let base = self.key.clone();
        let mut key = Vec::with_capacity(base.len());
        let mut missed = Vec::new();
        for r in 0..n {
            self.occluded_key(&base, (r > 0).then(|| features[r - 1]), missing, &mut key);
            match self.map.get(key.as_slice()) {
                Some(p) => out.row_mut(r).copy_from_slice(p),
                None => missed.push(r),
            }
        }
        self.hits += (n - missed.len()) as u64;
        self.misses += missed.len() as u64;
        if missed.is_empty() {
            return Ok(out);
        }
        let mut data = Vec::with_capacity(missed.len() * d);
        missed.iter().for_each(|&r| row_of(r, &mut data));
        let m = Matrix::new(missed.len(), d, data).map_err(|e| e.to_string())?;
        let proba = model.predict_proba(&m).map_err(|e| e.to_string())?;
        for (i, &r) in missed.iter().enumerate() {
            let p = proba.row(i);
            out.row_mut(r).copy_from_slice(p);
            if self.map.len() >= self.cap {
                self.map.clear();
                self.clears += 1;
            }
            self.occluded_key(&base, (r > 0).then(|| features[r - 1]), missing, &mut key);
            self.map
                .insert(key.as_slice().into(), p.to_vec().into_boxed_slice());
        }
        Ok(out)
    }

    /// Class probabilities of `records`, from the cache where it can.
    pub fn predict(&mut self, model: &Model, records: &Matrix) -> Result<Matrix, String> {
        let proba = |m: &Matrix| model.predict_proba(m).map_err(|e| e.to_string());
        if self.cap == 0 {
            self.misses += records.n_rows() as u64;
            return proba(records);
        }
        let n = records.n_rows();
        let k = model.classes().len();
        let mut out = Matrix::zeros(n, k);
        let mut missed: Vec<usize> = Vec::new();
        for i in 0..n {
            Self::make_key(&self.cuts, records.row(i), &mut self.key);
            match self.map.get(self.key.as_slice()) {
                Some(p) => out.row_mut(i).copy_from_slice(p),
                None => missed.push(i),
            }
        }
        self.hits += (n - missed.len()) as u64;
        self.misses += missed.len() as u64;
        if missed.is_empty() {
            return Ok(out);
        }
        let d = records.n_cols();
        let mut data = Vec::with_capacity(missed.len() * d);
        for &i in &missed {
            data.extend_from_slice(records.row(i));
        }
        let miss = Matrix::new(missed.len(), d, data).map_err(|e| e.to_string())?;
        let proba = proba(&miss)?;
        for (j, &i) in missed.iter().enumerate() {
            let p = proba.row(j);
            out.row_mut(i).copy_from_slice(p);
            if self.map.len() >= self.cap {
                self.map.clear();
                self.clears += 1;
            }
            Self::make_key(&self.cuts, records.row(i), &mut self.key);
            self.map
                .insert(self.key.as_slice().into(), p.to_vec().into_boxed_slice());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_ids_learn::{Dataset, ModelParams};

    /// A forest on a small noisy table: cached answers equal the model's for rows that share
    /// intervals but differ in value, for NaN, and after the cache was cleared.
    #[test]
    fn cached_probabilities_equal_the_models() {
        let mut data = Vec::new();
        let mut y = Vec::new();
        let mut s = 7u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        for i in 0..600 {
            let (a, b, c) = (next() * 10.0, next() * 3.0, (i % 5) as f32);
            data.extend_from_slice(&[a, b, c]);
            y.push(usize::from(a + b > 6.0) + usize::from(c > 2.0 && next() > 0.3));
        }
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let classes: Vec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
        let ds = Dataset::new(Matrix::new(600, 3, data).unwrap(), y, classes, names).unwrap();
        for params in [
            ModelParams::from_name("rf", None).unwrap(),
            ModelParams::from_name("nb", None).unwrap(),
        ] {
            let model = params.fit(&ds).unwrap();
            let mut cache = ScoreCache::new(&model, 3, 50);
            assert_eq!(cache.by_intervals(), matches!(params, ModelParams::Rf(_)));
            let mut rows = Vec::new();
            for _ in 0..400 {
                rows.extend_from_slice(&[next() * 10.0, next() * 3.0, (next() * 5.0).floor()]);
            }
            rows.extend_from_slice(&[f32::NAN, 1.0, 2.0, 5.0, f32::NAN, 0.0, -0.0, 0.0, 4.0]);
            let m = Matrix::new(403, 3, rows).unwrap();
            let want = Classifier::predict_proba(&model, &m).unwrap();
            for _ in 0..3 {
                let got = cache.predict(&model, &m).unwrap();
                // Bit for bit (Gaussian NB answers NaN for a NaN feature, NaN != NaN).
                let same = |a: &[f32], b: &[f32]| {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
                };
                assert!(same(got.as_slice(), want.as_slice()), "{params:?}");
            }
            // Occlusion rows: the same as scoring the occluded records one by one.
            for r in [0usize, 7, 400, 401] {
                let record = m.row(r).to_vec();
                let features = [0usize, 1, 2];
                let got = cache.occluded(&model, &record, &features, 0.0).unwrap();
                let mut data = record.clone();
                for &j in &features {
                    let mut row = record.clone();
                    row[j] = 0.0;
                    data.extend_from_slice(&row);
                }
                let want =
                    Classifier::predict_proba(&model, &Matrix::new(4, 3, data).unwrap()).unwrap();
                let same = |a: &[f32], b: &[f32]| {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
                };
                assert!(same(got.as_slice(), want.as_slice()), "{params:?} row {r}");
            }
            assert!(
                cache.hits > 0 && cache.clears > 0,
                "{} {}",
                cache.hits,
                cache.clears
            );
        }
    }
}
