//! Evaluation protocols: the papers' as named presets and the plain ones they are built from.
//! Each split is fitted and scored with fit/predict seconds and rows per second; cross-validation
//! folds are also pooled (confusion matrices summed) into one report.
//!
//! - `hindy2020`: duplicate rows removed (`np.unique`), stratified 5-fold CV (shuffled, seed 0)
//!   and a 75/25 hold-out (seed 42).
//! - `mqttset2020`: a 70/30 hold-out (seed 7); with `balance`, the training side's classes are
//!   replicated to the same size. Vaccari et al. replicated before splitting, which puts copies
//!   of a row on both sides; here only the training side is balanced, the test side is untouched.
//!
//! With `grouped`, rows carry a group id (a connection, a flow) and folds/hold-outs keep each
//! group on one side, so packets of one connection never sit on both sides.

use crate::dataset::Dataset;
use crate::error::{invalid, Result};
use crate::estimator::ModelParams;
use crate::metrics::{ClassificationReport, ConfusionMatrix};
use crate::model::{no_progress, Classifier, Progress};
use crate::split::{self, Split};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How rows are split for evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    pub name: String,
    /// Remove duplicate rows (features and class) before splitting.
    pub dedupe: bool,
    /// Stratified (or, with `grouped`, grouped) k-fold cross-validation: (folds, seed).
    pub k_fold: Option<(usize, u64)>,
    /// Hold-out: (test fraction, seed, stratified).
    pub hold_out: Option<(f64, u64, bool)>,
    /// Replicate the training side's classes to this many rows each (`Some(None)`: to the
    /// largest class's size).
    pub balance: Option<Option<usize>>,
    /// Keep each row group on one side of every split.
    pub grouped: bool,
}

/// Protocol names as the CLI spells them.
pub const PROTOCOLS: &[&str] = &["hindy2020", "mqttset2020"];

impl Protocol {
    /// Hindy et al. 2020: dedupe, 5-fold stratified CV (seed 0) and a 75/25 hold-out (seed 42).
    pub fn hindy2020() -> Self {
        Protocol {
            name: "hindy2020".into(),
            dedupe: true,
            k_fold: Some((5, 0)),
            hold_out: Some((0.25, 42, false)),
            balance: None,
            grouped: false,
        }
    }
    /// Vaccari et al. 2020: a 70/30 hold-out with seed 7.
    pub fn mqttset2020() -> Self {
        Protocol {
            name: "mqttset2020".into(),
            dedupe: false,
            k_fold: None,
            hold_out: Some((0.3, 7, false)),
            balance: None,
            grouped: false,
        }
    }
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "hindy2020" => Ok(Protocol::hindy2020()),
            "mqttset2020" => Ok(Protocol::mqttset2020()),
            _ => Err(invalid(
                "protocol",
                format!("unknown protocol `{name}`; known: {}", PROTOCOLS.join(", ")),
            )),
        }
    }
    /// The same protocol with the training side balanced by replication.
    pub fn balance_replicate(mut self, n_per_class: Option<usize>) -> Self {
        self.balance = Some(n_per_class);
        self
    }
    /// The same protocol splitting by row group.
    pub fn grouped(mut self, grouped: bool) -> Self {
        self.grouped = grouped;
        self
    }
}

/// One fitted and scored split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitResult {
    /// `fold 1` … `fold k`, or `hold-out`.
    pub split: String,
    pub n_train: usize,
    pub n_test: usize,
    pub fit_seconds: f64,
    pub predict_seconds: f64,
    pub fit_rows_per_second: f64,
    pub predict_rows_per_second: f64,
    pub report: ClassificationReport,
}

/// Everything measured for one model under one protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub model: String,
    pub params: ModelParams,
    pub protocol: Protocol,
    /// Rows after deduplication (if any), before balancing.
    pub n_rows: usize,
    pub folds: Vec<SplitResult>,
    /// The folds' confusion matrices summed, and the figures of that sum.
    pub cross_validation: Option<ClassificationReport>,
    pub hold_out: Option<SplitResult>,
}

fn run_split(
    params: &ModelParams,
    ds: &Dataset,
    s: &Split,
    name: String,
    balance: Option<Option<usize>>,
    seed: u64,
    fit_progress: Progress,
) -> Result<SplitResult> {
    let mut train = ds.select(&s.train);
    if let Some(n) = balance {
        train = split::balance_replicate(&train, n, seed)?;
    }
    let test = ds.select(&s.test);
    let t = Instant::now();
    let model = params.fit_with_progress(&train, fit_progress)?;
    let fit_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let pred = model.predict(&test.records)?;
    let predict_seconds = t.elapsed().as_secs_f64();
    let per_s = |rows: usize, s: f64| {
        if s > 0.0 {
            rows as f64 / s
        } else {
            f64::INFINITY
        }
    };
    Ok(SplitResult {
        split: name,
        n_train: train.n_rows(),
        n_test: test.n_rows(),
        fit_seconds,
        predict_seconds,
        fit_rows_per_second: per_s(train.n_rows(), fit_seconds),
        predict_rows_per_second: per_s(test.n_rows(), predict_seconds),
        report: ConfusionMatrix::new(&test.targets, &pred, &ds.classes).report(),
    })
}

/// Fits and scores `params` on every split of `protocol`. `progress(done, total, label)` is
/// called before each split and once at the end.
pub fn evaluate(
    params: &ModelParams,
    ds: &Dataset,
    protocol: &Protocol,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<Evaluation> {
    evaluate_with_progress(params, ds, protocol, progress, &no_progress)
}

/// [`evaluate`], also passing `fit_progress` to each split's fit (see
/// [`ModelParams::fit_with_progress`]): `progress` says which split is being fitted,
/// `fit_progress` how far its fit is.
pub fn evaluate_with_progress(
    params: &ModelParams,
    ds: &Dataset,
    protocol: &Protocol,
    progress: &mut dyn FnMut(usize, usize, &str),
    fit_progress: Progress,
) -> Result<Evaluation> {
    let deduped;
    let ds = if protocol.dedupe {
        deduped = split::dedupe(ds);
        &deduped
    } else {
        ds
    };
    let groups = if protocol.grouped {
        Some(ds.groups.as_ref().ok_or_else(|| {
            invalid(
                "grouped",
                "the table has no group column (e.g. a connection id)",
            )
        })?)
    } else {
        None
    };
    let mut plan: Vec<(String, Split, u64)> = Vec::new();
    if let Some((k, seed)) = protocol.k_fold {
        let folds = match groups {
            Some(g) => split::group_k_fold(g, k, seed)?,
            None => split::stratified_k_fold(&ds.targets, k, true, seed)?,
        };
        for (i, f) in folds.into_iter().enumerate() {
            plan.push((format!("fold {}", i + 1), f, seed));
        }
    }
    if let Some((test_size, seed, stratify)) = protocol.hold_out {
        let s = match groups {
            Some(g) => split::group_train_test_split(g, test_size, seed)?,
            None => split::train_test_split(&ds.targets, test_size, stratify, seed)?,
        };
        plan.push(("hold-out".into(), s, seed));
    }
    let total = plan.len();
    let mut folds = Vec::new();
    let mut hold_out = None;
    for (i, (name, s, seed)) in plan.into_iter().enumerate() {
        progress(i, total, &name);
        let r = run_split(params, ds, &s, name, protocol.balance, seed, fit_progress)?;
        if r.split == "hold-out" {
            hold_out = Some(r);
        } else {
            folds.push(r);
        }
    }
    progress(total, total, "done");
    let cross_validation = folds.first().map(|first| {
        let mut cm = first.report.confusion_matrix.clone();
        for f in &folds[1..] {
            cm.add(&f.report.confusion_matrix);
        }
        cm.report()
    });
    Ok(Evaluation {
        model: params.kind().to_string(),
        params: params.clone(),
        protocol: protocol.clone(),
        n_rows: ds.n_rows(),
        folds,
        cross_validation,
        hold_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::blobs;

    #[test]
    fn hindy_protocol_dedupes_runs_five_folds_and_a_hold_out() {
        let base = blobs(60, 21);
        // Duplicate ten rows: they must be removed before splitting.
        let idx: Vec<usize> = (0..base.n_rows()).chain(0..10).collect();
        let ds = base.select(&idx);
        let params = ModelParams::from_name("nb", Some("hindy2020")).unwrap();
        let mut calls = Vec::new();
        let e = evaluate(&params, &ds, &Protocol::hindy2020(), &mut |d, t, l| {
            calls.push((d, t, l.to_string()))
        })
        .unwrap();
        assert_eq!(e.n_rows, 180);
        assert_eq!(e.folds.len(), 5);
        assert!(e.folds.iter().all(|f| f.n_test == 36 && f.n_train == 144));
        let cv = e.cross_validation.as_ref().unwrap();
        assert_eq!(cv.confusion_matrix.total(), 180);
        let h = e.hold_out.as_ref().unwrap();
        assert_eq!((h.n_train, h.n_test), (135, 45));
        assert!(cv.accuracy > 0.85, "{}", cv.accuracy);
        assert_eq!(calls.len(), 7);
        assert_eq!(calls[6], (6, 6, "done".to_string()));
    }

    #[test]
    fn mqttset_protocol_balances_only_the_training_side_and_groups_are_required_when_asked() {
        let base = blobs(50, 22);
        let keep: Vec<usize> = (0..base.n_rows())
            .filter(|&i| base.targets[i] != 2 || i % 5 == 0)
            .collect();
        let ds = base.select(&keep);
        let params = ModelParams::from_name("dt", Some("mqttset2020")).unwrap();
        let p = Protocol::mqttset2020().balance_replicate(Some(40));
        let e = evaluate(&params, &ds, &p, &mut |_, _, _| {}).unwrap();
        let h = e.hold_out.unwrap();
        assert_eq!(h.n_train, 120);
        assert_eq!(h.n_test, (ds.n_rows() as f64 * 0.3).ceil() as usize);
        let err = evaluate(
            &params,
            &ds,
            &Protocol::mqttset2020().grouped(true),
            &mut |_, _, _| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("no group column"), "{err}");
        let groups: Vec<u64> = (0..ds.n_rows() as u64).map(|i| i / 4).collect();
        let gd = ds.clone().with_groups(groups).unwrap();
        let e = evaluate(
            &params,
            &gd,
            &Protocol::hindy2020().grouped(true),
            &mut |_, _, _| {},
        )
        .unwrap();
        assert_eq!(e.folds.len(), 5);
        assert!(Protocol::from_name("kdd99").is_err());
    }
}
