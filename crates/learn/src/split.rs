//! Splitting and resampling rows, all seeded: stratified k-fold, hold-out, grouped hold-out and
//! k-fold (a group — a connection, a flow — never sits on both sides), duplicate removal like
//! `np.unique(axis=0)`, and class balancing by replication (Vaccari et al.'s balanced dataset).

use crate::dataset::Dataset;
use crate::error::{invalid, Result};
use crate::rng::Rng;
use std::collections::{HashMap, HashSet};

/// Row indices of one train/test split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

fn indices_by_class(targets: &[usize]) -> Vec<Vec<usize>> {
    let k = targets.iter().max().map_or(0, |&m| m + 1);
    let mut by_class = vec![Vec::new(); k];
    for (i, &t) in targets.iter().enumerate() {
        by_class[t].push(i);
    }
    by_class
}

fn complement(n: usize, test: &[usize]) -> Vec<usize> {
    let mut in_test = vec![false; n];
    for &i in test {
        in_test[i] = true;
    }
    (0..n).filter(|&i| !in_test[i]).collect()
}

/// Stratified k-fold like scikit-learn's `StratifiedKFold`: each class's rows (shuffled when
/// `shuffle`) are dealt round the folds, the dealing of each class starting where the previous
/// class stopped, so every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉ rows of class c and fold sizes differ
/// by at most one. Test folds are disjoint and cover every row once.
pub fn stratified_k_fold(
    targets: &[usize],
    n_splits: usize,
    shuffle: bool,
    seed: u64,
) -> Result<Vec<Split>> {
    if n_splits < 2 || n_splits > targets.len() {
        return Err(invalid(
            "n_splits",
            format!("{n_splits} folds for {} rows", targets.len()),
        ));
    }
    let mut rng = Rng::new(seed);
    let mut folds = vec![Vec::new(); n_splits];
    let mut next = 0;
    for mut rows in indices_by_class(targets) {
        if shuffle {
            rng.shuffle(&mut rows);
        }
        for i in rows {
            folds[next].push(i);
            next = (next + 1) % n_splits;
        }
    }
    Ok(folds
        .into_iter()
        .map(|mut test| {
            test.sort_unstable();
            Split {
                train: complement(targets.len(), &test),
                test,
            }
        })
        .collect())
}

fn n_test_rows(n: usize, test_size: f64) -> Result<usize> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(invalid(
            "test_size",
            format!("{test_size} is not in (0, 1)"),
        ));
    }
    // scikit-learn: n_test = ceil(test_size * n), n_train = n - n_test.
    let n_test = (test_size * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(invalid(
            "test_size",
            format!("{test_size} of {n} rows leaves an empty side"),
        ));
    }
    Ok(n_test)
}

/// Seeded hold-out like `train_test_split(test_size, random_state, stratify)`: `ceil(test_size·n)`
/// rows in test; with `stratify`, each class contributes its share (rounded) to the test side.
pub fn train_test_split(
    targets: &[usize],
    test_size: f64,
    stratify: bool,
    seed: u64,
) -> Result<Split> {
    let n = targets.len();
    let n_test = n_test_rows(n, test_size)?;
    let mut rng = Rng::new(seed);
    let mut test = if stratify {
        let mut test = Vec::with_capacity(n_test);
        for mut rows in indices_by_class(targets) {
            rng.shuffle(&mut rows);
            let take = ((rows.len() as f64) * test_size).round() as usize;
            test.extend_from_slice(&rows[..take.min(rows.len())]);
        }
        test
    } else {
        let mut rows: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut rows);
        rows.truncate(n_test);
        rows
    };
    test.sort_unstable();
    Ok(Split {
        train: complement(n, &test),
        test,
    })
}

fn unique_groups_in_order(groups: &[u64]) -> (Vec<u64>, HashMap<u64, usize>) {
    let mut order = Vec::new();
    let mut size: HashMap<u64, usize> = HashMap::new();
    for &g in groups {
        let e = size.entry(g).or_insert(0);
        if *e == 0 {
            order.push(g);
        }
        *e += 1;
    }
    (order, size)
}

/// Hold-out by group: groups are shuffled and moved to the test side until it holds at least
/// `ceil(test_size·n)` rows, so no group is on both sides.
pub fn group_train_test_split(groups: &[u64], test_size: f64, seed: u64) -> Result<Split> {
    let n = groups.len();
    let target = n_test_rows(n, test_size)?;
    let (mut order, size) = unique_groups_in_order(groups);
    if order.len() < 2 {
        return Err(invalid(
            "groups",
            "a grouped split needs at least two groups",
        ));
    }
    Rng::new(seed).shuffle(&mut order);
    let mut chosen = HashSet::new();
    let mut rows = 0;
    for g in &order[..order.len() - 1] {
        if rows >= target {
            break;
        }
        chosen.insert(*g);
        rows += size[g];
    }
    let test: Vec<usize> = (0..n).filter(|&i| chosen.contains(&groups[i])).collect();
    Ok(Split {
        train: complement(n, &test),
        test,
    })
}

/// K-fold by group like scikit-learn's `GroupKFold`: groups (shuffled by `seed` to break ties)
/// are taken largest first and each goes to the fold with the fewest rows so far.
pub fn group_k_fold(groups: &[u64], n_splits: usize, seed: u64) -> Result<Vec<Split>> {
    let (mut order, size) = unique_groups_in_order(groups);
    if n_splits < 2 || n_splits > order.len() {
        return Err(invalid(
            "n_splits",
            format!("{n_splits} folds for {} groups", order.len()),
        ));
    }
    Rng::new(seed).shuffle(&mut order);
    order.sort_by_key(|g| std::cmp::Reverse(size[g]));
    let mut fold_rows = vec![0usize; n_splits];
    let mut fold_of: HashMap<u64, usize> = HashMap::new();
    for g in order {
        let f = (0..n_splits).min_by_key(|&f| fold_rows[f]).unwrap_or(0);
        fold_rows[f] += size[&g];
        fold_of.insert(g, f);
    }
    Ok((0..n_splits)
        .map(|f| {
            let test: Vec<usize> = (0..groups.len())
                .filter(|&i| fold_of[&groups[i]] == f)
                .collect();
            Split {
                train: complement(groups.len(), &test),
                test,
            }
        })
        .collect())
}

/// Rows with the same features and class kept once, first occurrence first, like
/// `np.unique(axis=0)` over features and label (the order differs: `np.unique` sorts).
pub fn dedupe(ds: &Dataset) -> Dataset {
    let mut seen: HashSet<(Vec<u32>, usize)> = HashSet::with_capacity(ds.n_rows());
    let keep: Vec<usize> = (0..ds.n_rows())
        .filter(|&i| {
            // Bit patterns, with -0.0 read as 0.0 as numpy compares them equal.
            let key: Vec<u32> = ds
                .records
                .row(i)
                .iter()
                .map(|&v| if v == 0.0 { 0 } else { v.to_bits() })
                .collect();
            seen.insert((key, ds.targets[i]))
        })
        .collect();
    ds.select(&keep)
}

/// Every class brought to `n_per_class` rows (default: the largest class's size) by whole
/// copies plus a seeded sample without replacement for the remainder; a class larger than
/// `n_per_class` is subsampled. Classes without rows stay empty. Rows come out shuffled.
pub fn balance_replicate(ds: &Dataset, n_per_class: Option<usize>, seed: u64) -> Result<Dataset> {
    let by_class = indices_by_class(&ds.targets);
    let target = n_per_class.unwrap_or_else(|| by_class.iter().map(Vec::len).max().unwrap_or(0));
    if target == 0 {
        return Err(invalid("n_per_class", "0 rows per class"));
    }
    let mut rng = Rng::new(seed);
    let mut rows = Vec::new();
    for class_rows in by_class.into_iter().filter(|r| !r.is_empty()) {
        let m = class_rows.len();
        for _ in 0..target / m {
            rows.extend_from_slice(&class_rows);
        }
        let mut rest = class_rows;
        rng.shuffle(&mut rest);
        rows.extend_from_slice(&rest[..target % m]);
    }
    rng.shuffle(&mut rows);
    Ok(ds.select(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Dataset, Matrix};

    fn targets() -> Vec<usize> {
        // 23 rows of class 0, 11 of class 1, 6 of class 2, interleaved.
        let mut t = Vec::new();
        t.extend(std::iter::repeat_n(0, 23));
        t.extend(std::iter::repeat_n(1, 11));
        t.extend(std::iter::repeat_n(2, 6));
        Rng::new(3).shuffle(&mut t);
        t
    }

    #[test]
    fn stratified_folds_are_disjoint_cover_all_and_are_stratified() {
        let t = targets();
        let folds = stratified_k_fold(&t, 5, true, 0).unwrap();
        assert_eq!(folds.len(), 5);
        let mut seen = vec![0; t.len()];
        for f in &folds {
            for &i in &f.test {
                seen[i] += 1;
            }
            assert_eq!(f.train.len() + f.test.len(), t.len());
            assert!(f.train.iter().all(|i| !f.test.contains(i)));
            for (c, n_c) in [(0, 23), (1, 11), (2, 6)] {
                let in_fold = f.test.iter().filter(|&&i| t[i] == c).count();
                assert!(
                    in_fold == n_c / 5 || in_fold == n_c / 5 + 1,
                    "class {c}: {in_fold}"
                );
            }
            assert!(
                (8..=8).contains(&f.test.len()),
                "fold size {}",
                f.test.len()
            );
        }
        assert!(seen.iter().all(|&s| s == 1));
        // Same seed, same folds; another seed, other folds.
        assert_eq!(folds, stratified_k_fold(&t, 5, true, 0).unwrap());
        assert_ne!(folds, stratified_k_fold(&t, 5, true, 1).unwrap());
        assert!(stratified_k_fold(&t, 1, true, 0).is_err());
    }

    #[test]
    fn hold_out_sizes_like_scikit_learn() {
        let t = targets();
        let s = train_test_split(&t, 0.25, false, 42).unwrap();
        assert_eq!(s.test.len(), 10);
        assert_eq!(s.train.len(), 30);
        assert_eq!(s, train_test_split(&t, 0.25, false, 42).unwrap());
        let s = train_test_split(&t, 0.3, true, 7).unwrap();
        let test_c2 = s.test.iter().filter(|&&i| t[i] == 2).count();
        assert_eq!(test_c2, 2); // round(6 · 0.3)
        assert!(train_test_split(&t, 1.0, false, 0).is_err());
    }

    #[test]
    fn groups_never_straddle_a_split() {
        let groups: Vec<u64> = (0..60).map(|i| (i * 7 % 13) as u64).collect();
        let s = group_train_test_split(&groups, 0.3, 1).unwrap();
        let test_groups: HashSet<u64> = s.test.iter().map(|&i| groups[i]).collect();
        assert!(s.train.iter().all(|&i| !test_groups.contains(&groups[i])));
        assert!(s.test.len() >= 18 && !s.train.is_empty());
        let folds = group_k_fold(&groups, 4, 0).unwrap();
        let mut seen = vec![0; 60];
        for f in &folds {
            let tg: HashSet<u64> = f.test.iter().map(|&i| groups[i]).collect();
            assert!(f.train.iter().all(|&i| !tg.contains(&groups[i])));
            f.test.iter().for_each(|&i| seen[i] += 1);
        }
        assert!(seen.iter().all(|&s| s == 1));
    }

    fn tiny() -> Dataset {
        let rows = vec![
            vec![1.0, 2.0],
            vec![1.0, 2.0],
            vec![1.0, 2.0],
            vec![0.0, 1.0],
            vec![-0.0, 1.0],
            vec![5.0, 5.0],
        ];
        Dataset::new(
            Matrix::from_rows(&rows).unwrap(),
            vec![0, 0, 1, 0, 0, 1],
            vec!["n".into(), "a".into()],
            vec!["x".into(), "y".into()],
        )
        .unwrap()
    }

    #[test]
    fn dedupe_keeps_first_of_equal_rows_per_label() {
        let d = dedupe(&tiny());
        // (1,2,n) twice → once; (1,2,a) differs by label; (0,1) and (-0,1) are equal.
        assert_eq!(d.n_rows(), 4);
        assert_eq!(d.targets, vec![0, 1, 0, 1]);
    }

    #[test]
    fn balance_replicates_every_class_to_the_same_size() {
        let d = balance_replicate(&tiny(), Some(7), 3).unwrap();
        assert_eq!(d.class_counts(), vec![7, 7]);
        // Class a has rows 2 and 5: 7 = 3 whole copies + 1 sampled.
        let copies_of_5 = (0..d.n_rows())
            .filter(|&i| d.records.row(i) == [5.0, 5.0])
            .count();
        assert!(copies_of_5 == 3 || copies_of_5 == 4);
        let d = balance_replicate(&tiny(), None, 3).unwrap();
        assert_eq!(d.class_counts(), vec![4, 4]);
    }
}
