//! Classification metrics as scikit-learn defines them: accuracy, balanced accuracy, per-class
//! precision/recall/F1/support, macro and weighted averages, and the confusion matrix (rows are
//! true classes, columns predicted ones). A ratio with a zero denominator is 0, as scikit-learn's
//! `zero_division` default reports it.

use serde::{Deserialize, Serialize};

/// Counts of (true class, predicted class) pairs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub classes: Vec<String>,
    /// `counts[t][p]`: rows of true class `t` predicted as `p`.
    pub counts: Vec<Vec<u64>>,
}

/// Precision, recall, F1 and support of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// An average of per-class precision, recall and F1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// Every figure of a classification, like scikit-learn's `classification_report`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub per_class: Vec<ClassMetrics>,
    pub macro_avg: Averages,
    pub weighted_avg: Averages,
    pub confusion_matrix: ConfusionMatrix,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

impl ConfusionMatrix {
    /// Counts pairs; both slices hold indices into `classes`.
    pub fn new(y_true: &[usize], y_pred: &[usize], classes: &[String]) -> Self {
        assert_eq!(
            y_true.len(),
            y_pred.len(),
            "y_true and y_pred differ in length"
        );
        let k = classes.len();
        let mut counts = vec![vec![0u64; k]; k];
        for (&t, &p) in y_true.iter().zip(y_pred) {
            counts[t][p] += 1;
        }
        ConfusionMatrix {
            classes: classes.to_vec(),
            counts,
        }
    }

    /// Sums matrices of the same classes (e.g. over cross-validation folds).
    pub fn add(&mut self, other: &ConfusionMatrix) {
        assert_eq!(
            self.classes, other.classes,
            "confusion matrices of different classes"
        );
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let correct: u64 = (0..self.classes.len()).map(|i| self.counts[i][i]).sum();
        ratio(correct as f64, self.total() as f64)
    }

    /// Mean recall over the classes present in the true labels.
    pub fn balanced_accuracy(&self) -> f64 {
        let recalls: Vec<f64> = self
            .per_class()
            .iter()
            .filter(|m| m.support > 0)
            .map(|m| m.recall)
            .collect();
        ratio(recalls.iter().sum(), recalls.len() as f64)
    }

    pub fn per_class(&self) -> Vec<ClassMetrics> {
        let k = self.classes.len();
        (0..k)
            .map(|c| {
                let tp = self.counts[c][c] as f64;
                let support: u64 = self.counts[c].iter().sum();
                let predicted: u64 = (0..k).map(|t| self.counts[t][c]).sum();
                let precision = ratio(tp, predicted as f64);
                let recall = ratio(tp, support as f64);
                ClassMetrics {
                    class: self.classes[c].clone(),
                    precision,
                    recall,
                    f1: ratio(2.0 * precision * recall, precision + recall),
                    support,
                }
            })
            .collect()
    }

    /// Accuracy, balanced accuracy, per-class figures and their macro and weighted averages.
    pub fn report(&self) -> ClassificationReport {
        let per_class = self.per_class();
        let k = per_class.len() as f64;
        let total: u64 = per_class.iter().map(|m| m.support).sum();
        let avg = |f: &dyn Fn(&ClassMetrics) -> f64, weighted: bool| -> f64 {
            if weighted {
                ratio(
                    per_class.iter().map(|m| f(m) * m.support as f64).sum(),
                    total as f64,
                )
            } else {
                ratio(per_class.iter().map(f).sum(), k)
            }
        };
        let averages = |weighted| Averages {
            precision: avg(&|m| m.precision, weighted),
            recall: avg(&|m| m.recall, weighted),
            f1: avg(&|m| m.f1, weighted),
            support: total,
        };
        ClassificationReport {
            accuracy: self.accuracy(),
            balanced_accuracy: self.balanced_accuracy(),
            macro_avg: averages(false),
            weighted_avg: averages(true),
            per_class,
            confusion_matrix: self.clone(),
        }
    }
}

/// Fraction of equal labels.
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> f64 {
    assert_eq!(
        y_true.len(),
        y_pred.len(),
        "y_true and y_pred differ in length"
    );
    let same = y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count();
    ratio(same as f64, y_true.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn hand_computed_three_class_matrix() {
        // true:  a a a a b b b c c c    (supports 4, 3, 3)
        // pred:  a a b c b b a c c a
        let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let t = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
        let p = [0, 0, 1, 2, 1, 1, 0, 2, 2, 0];
        let cm = ConfusionMatrix::new(&t, &p, &classes);
        assert_eq!(cm.counts, vec![vec![2, 1, 1], vec![1, 2, 0], vec![1, 0, 2]]);
        let r = cm.report();
        close(r.accuracy, 6.0 / 10.0);
        close(accuracy(&t, &p), 0.6);
        // a: tp 2, predicted 4, support 4 → P .5 R .5 F .5
        // b: tp 2, predicted 3, support 3 → P 2/3 R 2/3 F 2/3
        // c: tp 2, predicted 3, support 3 → P 2/3 R 2/3 F 2/3
        close(r.per_class[0].precision, 0.5);
        close(r.per_class[0].recall, 0.5);
        close(r.per_class[1].precision, 2.0 / 3.0);
        close(r.per_class[2].f1, 2.0 / 3.0);
        assert_eq!(r.per_class[0].support, 4);
        close(r.balanced_accuracy, (0.5 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0);
        close(r.macro_avg.f1, (0.5 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0);
        close(
            r.weighted_avg.recall,
            (4.0 * 0.5 + 3.0 * 2.0 / 3.0 + 3.0 * 2.0 / 3.0) / 10.0,
        );
        assert_eq!(r.weighted_avg.support, 10);
    }

    #[test]
    fn never_predicted_class_and_absent_class_follow_scikit_learn() {
        // true: x x y y, pred: x x x x, class z absent everywhere.
        let classes: Vec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
        let cm = ConfusionMatrix::new(&[0, 0, 1, 1], &[0, 0, 0, 0], &classes);
        let r = cm.report();
        close(r.per_class[0].precision, 0.5);
        close(r.per_class[0].recall, 1.0);
        close(r.per_class[0].f1, 2.0 / 3.0);
        close(r.per_class[1].precision, 0.0); // zero_division → 0
        close(r.per_class[1].f1, 0.0);
        // balanced accuracy averages recall over classes present in y_true only (x: 1, y: 0).
        close(r.balanced_accuracy, 0.5);
        // macro averages over all listed classes, as scikit-learn with `labels=` does.
        close(r.macro_avg.recall, 1.0 / 3.0);
        close(r.weighted_avg.f1, (2.0 * 2.0 / 3.0) / 4.0);
        let mut sum = cm.clone();
        sum.add(&cm);
        assert_eq!(sum.total(), 8);
        close(sum.accuracy(), 0.5);
    }
}
