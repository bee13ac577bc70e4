//! The report, rendered from `results.json` alone: `report.md`, a self-contained `report.html`
//! (figures inline as data URIs), `tables/*.csv` (every compared number at full precision) and
//! `figures/*.{svg,png}`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::figures::{self, DotPanel, Figure, Heatmap, LinePanel, Panels};
use crate::published::{paper_class, HindyClassRow, HINDY_CLASSES, MQTTSET_CLASSES};
use crate::results::{ModelRun, Results, VariantRun};

/// How a column's numbers are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A fraction shown as a percentage (Hindy's tables).
    Percent,
    /// A fraction shown with four decimals (MQTTset's tables).
    Fraction,
    Seconds,
}

/// One compared number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cmp {
    pub ours: Option<f64>,
    pub paper: Option<f64>,
}

impl Cmp {
    pub fn difference(&self) -> Option<f64> {
        Some(self.ours? - self.paper?)
    }
}

/// A table of compared numbers.
#[derive(Clone, Debug)]
pub struct Table {
    /// File stem under `tables/`.
    pub id: String,
    pub title: String,
    pub note: String,
    pub row_header: String,
    pub columns: Vec<(String, Unit)>,
    pub rows: Vec<(String, Vec<Cmp>)>,
    /// Beyond the papers: no published number to compare, cells show this run's only.
    pub ours_only: bool,
}

/// A confusion matrix beside the paper's.
#[derive(Clone, Debug)]
pub struct MatrixTable {
    pub id: String,
    pub title: String,
    /// Our class names, in our order.
    pub classes: Vec<String>,
    pub ours: Vec<Vec<u64>>,
    /// The paper's table number and counts in [`MQTTSET_CLASSES`] order.
    pub paper: Option<(u8, Vec<Vec<u64>>)>,
}

fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{:.2}", 100.0 * v),
        Unit::Fraction => format!("{v:.4}"),
        Unit::Seconds => format!("{v:.3}"),
    }
}

fn fmt_diff(d: f64, unit: Unit) -> String {
    let s = match unit {
        Unit::Percent => format!("{:+.2}", 100.0 * d),
        Unit::Fraction => format!("{d:+.4}"),
        Unit::Seconds => format!("{d:+.1}"),
    };
    s.replace('-', "−")
}

/// `ours / paper (Δ)`, the way every compared cell reads.
pub fn cell_text(c: &Cmp, unit: Unit) -> String {
    let ours = c.ours.map_or("—".to_string(), |v| fmt_value(v, unit));
    let paper = c.paper.map_or("—".to_string(), |v| fmt_value(v, unit));
    match c.difference() {
        Some(d) if unit != Unit::Seconds => format!("{ours} / {paper} ({})", fmt_diff(d, unit)),
        _ => format!("{ours} / {paper}"),
    }
}

const LEVEL_NAMES: [&str; 3] = ["Packet", "Uni-flow", "Bi-flow"];

fn hindy_model<'a>(r: &'a Results, level: &str, model: &str) -> Option<&'a ModelRun> {
    r.hindy_level(level)?
        .models
        .iter()
        .find(|m| m.model == model)
}

/// Our class rows for the paper's class `paper_name` (or our own class name).
fn class_metric(m: &ModelRun, name: &str, paper: bool, metric: usize) -> Option<f64> {
    let row = m.report.per_class.iter().find(|c| {
        if paper {
            paper_class("hindy2020", &c.class) == Some(name)
        } else {
            c.class == name
        }
    })?;
    Some([row.recall, row.precision, row.f1][metric])
}

fn weighted_metric(m: &ModelRun, metric: usize) -> f64 {
    let w = &m.report.weighted_avg;
    [w.recall, w.precision, w.f1][metric]
}

/// Every table of the report.
pub fn tables(r: &Results) -> Vec<Table> {
    let mut out = Vec::new();
    if let Some(h) = &r.hindy2020 {
        let levels: Vec<&str> = h.levels.iter().map(|l| l.level.as_str()).collect();
        let level_label = |l: &str| match l {
            "packet" => "Packet".to_string(),
            "uniflow" => "Uni-flow".to_string(),
            "biflow" => "Bi-flow".to_string(),
            other => other.to_string(),
        };
        let paper_level = |l: &str| ["packet", "uniflow", "biflow"].iter().position(|x| *x == l);
        let mut t3 = Table {
            id: "hindy_table3_accuracy".into(),
            title: "Hindy et al. Table 3 — overall accuracy (%), 5-fold cross-validation".into(),
            note: "Each cell: this run / paper (difference in percentage points).".into(),
            row_header: "classifier".into(),
            columns: levels
                .iter()
                .map(|l| (level_label(l), Unit::Percent))
                .collect(),
            rows: Vec::new(),
            ours_only: false,
        };
        for c in &r.published.hindy2020.classifiers {
            let cells = levels
                .iter()
                .map(|l| Cmp {
                    ours: hindy_model(r, l, &c.model).map(|m| m.report.accuracy),
                    paper: paper_level(l).and_then(|i| c.accuracy[i]),
                })
                .collect();
            t3.rows.push((c.label.clone(), cells));
        }
        out.push(t3);
        if let Some(t) = hindy_holdout_table(r, &levels) {
            out.push(t);
        }
        // Tables 4–6: per classifier.
        for c in &r.published.hindy2020.classifiers {
            let mut columns = Vec::new();
            for metric in ["Recall", "Precision", "F1"] {
                for l in &levels {
                    columns.push((format!("{metric} {}", level_label(l)), Unit::Percent));
                }
            }
            let mut t = Table {
                id: format!("hindy_table{}_{}", c.table, c.model),
                title: format!(
                    "Hindy et al. Table {} — {}: recall, precision and F1 per class (%)",
                    c.table, c.label
                ),
                note: if c.model == "svm-linear" {
                    "Each cell: this run / paper (difference). The paper's Table 6 is printed with \
                     shuffled columns; see the provenance notes for how it was reconstructed (its \
                     per-class bi-flow recall is lost)."
                        .into()
                } else {
                    "Each cell: this run / paper (difference in percentage points).".into()
                },
                row_header: "class".into(),
                columns,
                rows: Vec::new(),
                ours_only: false,
            };
            let paper_row =
                |name: &str| -> Option<&HindyClassRow> { c.rows.iter().find(|r| r.class == name) };
            // The paper's classes, then ours that the paper does not have, then the average.
            let mut names: Vec<(String, bool)> = HINDY_CLASSES
                .iter()
                .map(|s| (s.to_string(), true))
                .collect();
            for l in &levels {
                if let Some(m) = hindy_model(r, l, &c.model) {
                    for pc in &m.report.per_class {
                        if paper_class("hindy2020", &pc.class).is_none()
                            && !names.iter().any(|(n, _)| *n == pc.class)
                        {
                            names.push((pc.class.clone(), false));
                        }
                    }
                }
            }
            for (name, is_paper) in names {
                let mut cells = Vec::new();
                for metric in 0..3 {
                    for l in &levels {
                        let ours = hindy_model(r, l, &c.model)
                            .and_then(|m| class_metric(m, &name, is_paper, metric));
                        let paper = if is_paper {
                            paper_level(l).and_then(|i| {
                                paper_row(&name)
                                    .and_then(|row| [row.recall, row.precision, row.f1][metric][i])
                            })
                        } else {
                            None
                        };
                        cells.push(Cmp { ours, paper });
                    }
                }
                if cells.iter().any(|c| c.ours.is_some() || c.paper.is_some()) {
                    t.rows.push((name, cells));
                }
            }
            let mut cells = Vec::new();
            for metric in 0..3 {
                for l in &levels {
                    cells.push(Cmp {
                        ours: hindy_model(r, l, &c.model).map(|m| weighted_metric(m, metric)),
                        paper: paper_level(l).and_then(|i| {
                            paper_row("Weighted Average")
                                .and_then(|row| [row.recall, row.precision, row.f1][metric][i])
                        }),
                    });
                }
            }
            t.rows.push(("Weighted Average".into(), cells));
            out.push(t);
        }
    }
    if let Some(m) = &r.mqttset2020 {
        for v in &m.variants {
            let (table, published) = if v.variant == "balanced" {
                (12, &r.published.mqttset2020.table12)
            } else {
                (5, &r.published.mqttset2020.table5)
            };
            let mut t = Table {
                id: format!("mqttset_table{table}_{}", v.variant),
                title: format!(
                    "Vaccari et al. Table {table} — {} dataset: accuracy, F1, training and testing time",
                    v.variant
                ),
                note: "Each cell: this run / paper (difference). F1 is the support-weighted F1. \
                       Times are seconds: the paper's on a 2017 laptop with millions of rows, ours \
                       on this machine with the rows in the data section."
                    .into(),
                row_header: "classifier".into(),
                columns: vec![
                    ("Accuracy".into(), Unit::Fraction),
                    ("F1".into(), Unit::Fraction),
                    ("Training time (s)".into(), Unit::Seconds),
                    ("Testing time (s)".into(), Unit::Seconds),
                ],
                rows: Vec::new(),
                ours_only: false,
            };
            for p in published {
                let ours = v.models.iter().find(|x| x.model == p.model);
                t.rows.push((
                    p.label.clone(),
                    vec![
                        Cmp {
                            ours: ours.map(|m| m.report.accuracy),
                            paper: Some(p.accuracy),
                        },
                        Cmp {
                            ours: ours.map(|m| m.report.weighted_avg.f1),
                            paper: Some(p.f1),
                        },
                        Cmp {
                            ours: ours.map(|m| m.fit_seconds),
                            paper: Some(p.train_seconds),
                        },
                        Cmp {
                            ours: ours.map(|m| m.predict_seconds),
                            paper: Some(p.test_seconds),
                        },
                    ],
                ));
            }
            out.push(t);
        }
    }
    out.extend(beyond_tables(r));
    out
}

/// Accuracy of a run's split named `split`.
fn split_accuracy(m: &ModelRun, split: &str) -> Option<f64> {
    m.splits
        .iter()
        .find(|s| s.split == split)
        .map(|s| s.accuracy)
}

/// Table 3 beside the 75/25 hold-out: the split the paper's text names ("The data is split into
/// 75% and 25% for training and testing"), where Table 3's own caption does not say which.
fn hindy_holdout_table(r: &Results, levels: &[&str]) -> Option<Table> {
    let any = levels.iter().any(|l| {
        r.hindy_level(l).is_some_and(|l| {
            l.models
                .iter()
                .any(|m| split_accuracy(m, "hold-out").is_some())
        })
    });
    if !any {
        return None;
    }
    let paper_level = |l: &str| ["packet", "uniflow", "biflow"].iter().position(|x| *x == l);
    let mut t = Table {
        id: "hindy_table3_holdout".into(),
        title: "Hindy et al. Table 3 beside the 75/25 hold-out — overall accuracy (%)".into(),
        note:
            "Each cell: this run's accuracy on the 25 % hold-out (seed 42, not stratified, after \
               de-duplication; the split the paper's Section 3 names) / the paper's Table 3 \
               (difference). Table 3 above pools the 5-fold cross-validation."
                .into(),
        row_header: "classifier".into(),
        columns: levels
            .iter()
            .map(|l| (format!("{} hold-out", level_title(l)), Unit::Percent))
            .collect(),
        rows: Vec::new(),
        ours_only: false,
    };
    for c in &r.published.hindy2020.classifiers {
        let cells = levels
            .iter()
            .map(|l| Cmp {
                ours: hindy_model(r, l, &c.model).and_then(|m| split_accuracy(m, "hold-out")),
                paper: paper_level(l).and_then(|i| c.accuracy[i]),
            })
            .collect();
        t.rows.push((c.label.clone(), cells));
    }
    Some(t)
}

fn level_title(l: &str) -> String {
    match l {
        "packet" => "Packet".into(),
        "uniflow" => "Uni-flow".into(),
        "biflow" => "Bi-flow".into(),
        other => format!("`{other}`"),
    }
}

const BEYOND_NOTE: &str = "Beyond the papers: this tool's `context` (one row per TCP packet: \
    the packet and its connection's state so far) and `session` (one row per connection) sets, \
    under the same protocol with every split grouped by connection (a connection's rows never \
    sit on both sides); the paper's own sets of this run beside them. No published number \
    exists for these sets.";

/// The Hindy model `model` on the paper's level or a further set named `set`.
/// The beyond-the-paper tables' and figures' two headline metrics: 0 accuracy, 1 macro-F1.
fn accuracy_or_macro_f1(m: &ModelRun, metric: usize) -> f64 {
    if metric == 0 {
        m.report.accuracy
    } else {
        m.report.macro_avg.f1
    }
}

fn hindy_any<'a>(r: &'a Results, set: &str, model: &str) -> Option<&'a ModelRun> {
    let h = r.hindy2020.as_ref()?;
    h.levels
        .iter()
        .chain(&h.beyond)
        .find(|l| l.level == set)?
        .models
        .iter()
        .find(|m| m.model == model)
}

/// The MQTTset model `model` of `variant` on `mqttset` (the paper's set) or a further set.
fn mqttset_any<'a>(r: &'a Results, set: &str, variant: &str, model: &str) -> Option<&'a ModelRun> {
    let m = r.mqttset2020.as_ref()?;
    let variants = if set == "mqttset" {
        &m.variants
    } else {
        &m.beyond.iter().find(|s| s.set == set)?.variants
    };
    variants
        .iter()
        .find(|v| v.variant == variant)?
        .models
        .iter()
        .find(|x| x.model == model)
}

/// The sets of the beyond-the-paper comparisons: the paper's, then ours.
fn beyond_sets(r: &Results) -> (Vec<String>, Vec<String>) {
    let mut hindy = Vec::new();
    if let Some(h) = &r.hindy2020 {
        if !h.beyond.is_empty() {
            hindy.extend(h.levels.iter().map(|l| l.level.clone()));
            hindy.extend(h.beyond.iter().map(|l| l.level.clone()));
        }
    }
    let mut mqttset = Vec::new();
    if let Some(m) = &r.mqttset2020 {
        if !m.beyond.is_empty() {
            mqttset.push("mqttset".to_string());
            mqttset.extend(m.beyond.iter().map(|s| s.set.clone()));
        }
    }
    (hindy, mqttset)
}

/// One table per paper: its protocol on `context` and `session` beside its own sets.
fn beyond_tables(r: &Results) -> Vec<Table> {
    let mut out = Vec::new();
    let (hs, ms) = beyond_sets(r);
    if !hs.is_empty() {
        let mut columns = Vec::new();
        for metric in ["Accuracy", "Macro-F1"] {
            for set in &hs {
                columns.push((format!("{metric} {}", level_title(set)), Unit::Percent));
            }
        }
        let mut t = Table {
            id: "beyond_hindy_context_session".into(),
            title: "Beyond the paper — Hindy et al.'s protocol on the context and session sets: \
                    accuracy and macro-F1 (%), 5-fold cross-validation"
                .into(),
            note: format!(
                "{BEYOND_NOTE} Macro-F1 weighs every class the same, so it shows what accuracy \
                 hides when one class holds most rows."
            ),
            row_header: "classifier".into(),
            columns,
            rows: Vec::new(),
            ours_only: true,
        };
        for c in &r.published.hindy2020.classifiers {
            let mut cells = Vec::new();
            for metric in 0..2 {
                for set in &hs {
                    cells.push(Cmp {
                        ours: hindy_any(r, set, &c.model).map(|m| accuracy_or_macro_f1(m, metric)),
                        paper: None,
                    });
                }
            }
            t.rows.push((c.label.clone(), cells));
        }
        out.push(t);
    }
    if !ms.is_empty() {
        let mut columns = Vec::new();
        for variant in ["unbalanced", "balanced"] {
            for metric in ["Accuracy", "Macro-F1"] {
                for set in &ms {
                    columns.push((format!("{metric} `{set}` {variant}"), Unit::Fraction));
                }
            }
        }
        let mut t = Table {
            id: "beyond_mqttset_context_session".into(),
            title: "Beyond the paper — Vaccari et al.'s protocol on the context and session sets: \
                    accuracy and macro-F1, 70/30 hold-out"
                .into(),
            note: BEYOND_NOTE.into(),
            row_header: "classifier".into(),
            columns,
            rows: Vec::new(),
            ours_only: true,
        };
        for p in &r.published.mqttset2020.table5 {
            let mut cells = Vec::new();
            for variant in ["unbalanced", "balanced"] {
                for metric in 0..2 {
                    for set in &ms {
                        cells.push(Cmp {
                            ours: mqttset_any(r, set, variant, &p.model)
                                .map(|m| accuracy_or_macro_f1(m, metric)),
                            paper: None,
                        });
                    }
                }
            }
            t.rows.push((p.label.clone(), cells));
        }
        out.push(t);
    }
    out
}

/// Our matrix, and the paper's in our class order where every one of our classes maps to one of
/// the paper's.
pub fn matrices(r: &Results) -> Vec<MatrixTable> {
    let mut out = Vec::new();
    let Some(m) = &r.mqttset2020 else { return out };
    for v in &m.variants {
        let balanced = v.variant == "balanced";
        for model in &v.models {
            let cm = &model.report.confusion_matrix;
            // Our classes in the paper's order (those it lacks after them, by name).
            let mut order: Vec<usize> = (0..cm.classes.len()).collect();
            let rank = |c: &str| {
                paper_class("mqttset2020", c)
                    .and_then(|p| MQTTSET_CLASSES.iter().position(|x| *x == p))
                    .unwrap_or(usize::MAX)
            };
            order.sort_by(|&a, &b| {
                rank(&cm.classes[a])
                    .cmp(&rank(&cm.classes[b]))
                    .then(cm.classes[a].cmp(&cm.classes[b]))
            });
            let classes: Vec<String> = order.iter().map(|&i| cm.classes[i].clone()).collect();
            let counts: Vec<Vec<u64>> = order
                .iter()
                .map(|&i| order.iter().map(|&j| cm.counts[i][j]).collect())
                .collect();
            let paper = r
                .published
                .mqttset2020
                .matrices
                .iter()
                .find(|p| p.model == model.model && p.balanced == balanced)
                .map(|p| (p.table, p.counts.clone()));
            out.push(MatrixTable {
                id: format!("mqttset_cm_{}_{}", v.variant, model.model),
                title: format!(
                    "{} — {} dataset{}",
                    model.label,
                    v.variant,
                    paper
                        .as_ref()
                        .map_or(String::new(), |(t, _)| format!(" (paper: Table {t})"))
                ),
                classes,
                ours: counts,
                paper,
            });
        }
    }
    out
}

fn pct_series(v: impl Iterator<Item = Option<f64>>) -> Vec<Option<f64>> {
    v.map(|x| x.map(|x| 100.0 * x)).collect()
}

/// Every figure of the report.
pub fn figure_specs(r: &Results) -> Vec<Figure> {
    let mut out = Vec::new();
    if let Some(h) = &r.hindy2020 {
        let levels: Vec<String> = h.levels.iter().map(|l| l.level.clone()).collect();
        let x: Vec<String> = levels
            .iter()
            .map(|l| match l.as_str() {
                "packet" => "Packet".into(),
                "uniflow" => "Uni-flow".into(),
                "biflow" => "Bi-flow".into(),
                o => o.into(),
            })
            .collect();
        let paper_x: Vec<String> = LEVEL_NAMES.iter().map(|s| s.to_string()).collect();
        let pubs = &r.published.hindy2020.classifiers;
        let acc_paper = pubs
            .iter()
            .map(|c| (c.label.clone(), pct_series(c.accuracy.iter().copied())))
            .collect();
        let acc_ours = pubs
            .iter()
            .map(|c| {
                (
                    c.label.clone(),
                    pct_series(
                        levels
                            .iter()
                            .map(|l| hindy_model(r, l, &c.model).map(|m| m.report.accuracy)),
                    ),
                )
            })
            .collect();
        out.push(Figure {
            id: "hindy_fig2_accuracy".into(),
            title: "Hindy et al. Figure 2 — overall accuracy trend".into(),
            caption: "Accuracy (%) of the seven classifiers at each feature level: the paper (Table 3) and this run.".into(),
            cols: 2,
            panels: Panels::Lines(vec![
                LinePanel { title: "paper".into(), x: paper_x.clone(), y_label: "accuracy %".into(), series: acc_paper },
                LinePanel { title: "this run".into(), x: x.clone(), y_label: "accuracy %".into(), series: acc_ours },
            ]),
        });
        for (id, fig, name, caption) in [
            ("hindy_fig3_benign", 3, "Benign", "benign class"),
            ("hindy_fig4_mqtt_bf", 4, "MQTT_BF", "MQTT brute-force class"),
            (
                "hindy_fig5_weighted",
                5,
                "Weighted Average",
                "weighted averages",
            ),
        ] {
            let mut panels = Vec::new();
            for (metric, metric_name) in ["Recall", "Precision", "F1"].iter().enumerate() {
                let paper = pubs
                    .iter()
                    .map(|c| {
                        let row = c.rows.iter().find(|r| r.class == name);
                        (
                            c.label.clone(),
                            pct_series((0..3).map(|l| {
                                row.and_then(|r| [r.recall, r.precision, r.f1][metric][l])
                            })),
                        )
                    })
                    .collect();
                let ours = pubs
                    .iter()
                    .map(|c| {
                        (
                            c.label.clone(),
                            pct_series(levels.iter().map(|l| {
                                hindy_model(r, l, &c.model).and_then(|m| {
                                    if name == "Weighted Average" {
                                        Some(weighted_metric(m, metric))
                                    } else {
                                        class_metric(m, name, true, metric)
                                    }
                                })
                            })),
                        )
                    })
                    .collect();
                panels.push(LinePanel {
                    title: format!("{metric_name} — paper"),
                    x: paper_x.clone(),
                    y_label: format!("{metric_name} %"),
                    series: paper,
                });
                panels.push(LinePanel {
                    title: format!("{metric_name} — this run"),
                    x: x.clone(),
                    y_label: format!("{metric_name} %"),
                    series: ours,
                });
            }
            out.push(Figure {
                id: id.into(),
                title: format!("Hindy et al. Figure {fig} — {caption} trends"),
                caption: format!("Recall, precision and F1 (%) of the {caption} per classifier and feature level: the paper (Tables 4-6) and this run."),
                cols: 2,
                panels: Panels::Lines(panels),
            });
        }
    }
    if let Some(m) = &r.mqttset2020 {
        let mut panels = Vec::new();
        for v in &m.variants {
            let published = if v.variant == "balanced" {
                &r.published.mqttset2020.table12
            } else {
                &r.published.mqttset2020.table5
            };
            let cats: Vec<String> = published.iter().map(|p| p.model.to_uppercase()).collect();
            for (metric, mname) in [(0usize, "accuracy"), (1, "F1")] {
                let paper = pct_series(
                    published
                        .iter()
                        .map(|p| Some(if metric == 0 { p.accuracy } else { p.f1 })),
                );
                let ours = pct_series(published.iter().map(|p| {
                    v.models.iter().find(|x| x.model == p.model).map(|x| {
                        if metric == 0 {
                            x.report.accuracy
                        } else {
                            x.report.weighted_avg.f1
                        }
                    })
                }));
                panels.push(DotPanel {
                    title: format!("{} — {mname}", v.variant),
                    categories: cats.clone(),
                    y_label: format!("{mname} %"),
                    series: vec![("paper".into(), paper), ("this run".into(), ours)],
                });
            }
        }
        out.push(Figure {
            id: "mqttset_scores".into(),
            title: "Vaccari et al. Tables 5 and 12 — accuracy and F1 per classifier".into(),
            caption: "Accuracy and weighted F1 (%) per classifier, unbalanced and balanced: the paper (hollow) and this run (filled).".into(),
            cols: 2,
            panels: Panels::Dots(panels),
        });
        for t in matrices(r) {
            let mut panels = Vec::new();
            if let Some((table, counts)) = &t.paper {
                panels.push(Heatmap {
                    title: format!("paper (Table {table})"),
                    classes: MQTTSET_CLASSES.iter().map(|s| s.to_string()).collect(),
                    counts: counts.clone(),
                });
            }
            panels.push(Heatmap {
                title: "this run".into(),
                classes: t
                    .classes
                    .iter()
                    .map(|c| paper_class("mqttset2020", c).map_or(c.clone(), String::from))
                    .collect(),
                counts: t.ours.clone(),
            });
            let cols = panels.len();
            out.push(Figure {
                id: t.id.clone(),
                title: format!("Confusion matrix — {}", t.title),
                caption: "Rows: true class; columns: predicted. Colour: share of the true class's rows; numbers: rows.".into(),
                cols,
                panels: Panels::Heatmaps(panels),
            });
        }
    }
    out.extend(beyond_figures(r));
    out
}

/// The beyond-the-paper figures: each paper's protocol on every set of this run.
fn beyond_figures(r: &Results) -> Vec<Figure> {
    let mut out = Vec::new();
    let (hs, ms) = beyond_sets(r);
    if !hs.is_empty() {
        let x: Vec<String> = hs.iter().map(|s| level_title(s).replace('`', "")).collect();
        let panels = ["accuracy", "macro-F1"]
            .iter()
            .enumerate()
            .map(|(metric, name)| LinePanel {
                title: format!("{name} — this run"),
                x: x.clone(),
                y_label: format!("{name} %"),
                series: r
                    .published
                    .hindy2020
                    .classifiers
                    .iter()
                    .map(|c| {
                        (
                            c.label.clone(),
                            pct_series(hs.iter().map(|set| {
                                hindy_any(r, set, &c.model).map(|m| accuracy_or_macro_f1(m, metric))
                            })),
                        )
                    })
                    .collect(),
            })
            .collect();
        out.push(Figure {
            id: "beyond_hindy".into(),
            title: "Beyond the paper — Hindy et al.'s protocol on the paper's levels and on context and session".into(),
            caption: "Accuracy and macro-F1 (%) of the seven classifiers per feature set, this run only (no published numbers exist for context and session); splits grouped by connection for context and session.".into(),
            cols: 2,
            panels: Panels::Lines(panels),
        });
    }
    if !ms.is_empty() {
        let cats: Vec<String> = r
            .published
            .mqttset2020
            .table5
            .iter()
            .map(|p| p.model.to_uppercase())
            .collect();
        let mut panels = Vec::new();
        for variant in ["unbalanced", "balanced"] {
            for (metric, name) in ["accuracy", "macro-F1"].iter().enumerate() {
                panels.push(DotPanel {
                    title: format!("{variant} — {name}"),
                    categories: cats.clone(),
                    y_label: format!("{name} %"),
                    series: ms
                        .iter()
                        .map(|set| {
                            (
                                set.clone(),
                                pct_series(r.published.mqttset2020.table5.iter().map(|p| {
                                    mqttset_any(r, set, variant, &p.model)
                                        .map(|m| accuracy_or_macro_f1(m, metric))
                                })),
                            )
                        })
                        .collect(),
                });
            }
        }
        out.push(Figure {
            id: "beyond_mqttset".into(),
            title: "Beyond the paper — Vaccari et al.'s protocol on the mqttset, context and session sets".into(),
            caption: "Accuracy and macro-F1 (%) per classifier, unbalanced and balanced, this run only: the paper's mqttset set (hollow), context and session (filled); splits grouped by connection for context and session.".into(),
            cols: 2,
            panels: Panels::Dots(panels),
        });
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v}"))
}

/// One table as CSV: `row,column,ours,paper,difference` at full precision (fractions as
/// fractions, seconds as seconds).
pub fn table_csv(t: &Table) -> String {
    let mut s = format!(
        "{},column,ours,paper,difference\n",
        csv_field(&t.row_header)
    );
    for (row, cells) in &t.rows {
        for ((col, _), c) in t.columns.iter().zip(cells) {
            let _ = writeln!(
                s,
                "{},{},{},{},{}",
                csv_field(row),
                csv_field(col),
                opt(c.ours),
                opt(c.paper),
                opt(c.difference())
            );
        }
    }
    s
}

/// A confusion matrix as CSV: `true,predicted,ours,paper`.
pub fn matrix_csv(t: &MatrixTable) -> String {
    let mut s = String::from("true,predicted,ours,paper\n");
    let paper_index = |c: &str| {
        paper_class("mqttset2020", c).and_then(|p| MQTTSET_CLASSES.iter().position(|x| *x == p))
    };
    for (i, ti) in t.classes.iter().enumerate() {
        for (j, pj) in t.classes.iter().enumerate() {
            let paper = t
                .paper
                .as_ref()
                .and_then(|(_, counts)| Some(counts[paper_index(ti)?][paper_index(pj)?]));
            let _ = writeln!(
                s,
                "{},{},{},{}",
                csv_field(ti),
                csv_field(pj),
                t.ours[i][j],
                paper.map_or(String::new(), |p| p.to_string())
            );
        }
    }
    s
}

fn md_table(t: &Table) -> String {
    let mut s = format!("**{}**\n\n{}\n\n| {} |", t.title, t.note, t.row_header);
    for (c, _) in &t.columns {
        let _ = write!(s, " {c} |");
    }
    s.push_str("\n|---|");
    for _ in &t.columns {
        s.push_str("---:|");
    }
    s.push('\n');
    for (row, cells) in &t.rows {
        let _ = write!(s, "| {row} |");
        for ((_, unit), c) in t.columns.iter().zip(cells) {
            let text = if t.ours_only {
                c.ours.map_or("—".to_string(), |v| fmt_value(v, *unit))
            } else {
                cell_text(c, *unit)
            };
            let _ = write!(s, " {text} |");
        }
        s.push('\n');
    }
    s
}

fn md_matrix(t: &MatrixTable) -> String {
    let mut s = format!(
        "**Confusion matrix — {}** (rows: true class, columns: predicted)\n\n",
        t.title
    );
    let names: Vec<String> = t
        .classes
        .iter()
        .map(|c| paper_class("mqttset2020", c).map_or(c.clone(), String::from))
        .collect();
    let grid = |s: &mut String, title: &str, names: &[String], counts: &[Vec<u64>]| {
        let _ = write!(s, "| {title} |");
        for n in names {
            let _ = write!(s, " {n} |");
        }
        s.push_str("\n|---|");
        for _ in names {
            s.push_str("---:|");
        }
        s.push('\n');
        for (n, row) in names.iter().zip(counts) {
            let _ = write!(s, "| {n} |");
            for c in row {
                let _ = write!(s, " {c} |");
            }
            s.push('\n');
        }
        s.push('\n');
    };
    grid(&mut s, "this run", &names, &t.ours);
    if let Some((table, counts)) = &t.paper {
        let paper_names: Vec<String> = MQTTSET_CLASSES.iter().map(|s| s.to_string()).collect();
        grid(
            &mut s,
            &format!("paper, Table {table}"),
            &paper_names,
            counts,
        );
    }
    s
}

fn secs(s: f64) -> String {
    if s >= 90.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

fn holds_text(h: Option<bool>) -> &'static str {
    match h {
        Some(true) => "holds",
        Some(false) => "does not hold",
        None => "cannot be checked",
    }
}

/// The generated paragraph: which conclusions hold.
pub fn summary_paragraph(r: &Results) -> String {
    if r.conclusions.is_empty() {
        return "No paper was run, so no conclusion was checked.".into();
    }
    let n = r.conclusions.len();
    let held = r
        .conclusions
        .iter()
        .filter(|c| c.holds == Some(true))
        .count();
    let failed: Vec<&str> = r
        .conclusions
        .iter()
        .filter(|c| c.holds == Some(false))
        .map(|c| c.claim.as_str())
        .collect();
    let unknown = r.conclusions.iter().filter(|c| c.holds.is_none()).count();
    let mut s = format!(
        "On {} data ({}), {held} of the {n} checked conclusions of the papers hold",
        r.provenance.source,
        if r.provenance.quick {
            "a quick run"
        } else {
            "a full run"
        }
    );
    if failed.is_empty() {
        s.push('.');
    } else {
        let _ = write!(s, "; these do not: {}.", failed.join("; "));
    }
    if unknown > 0 {
        let _ = write!(
            s,
            " {unknown} cannot be checked on this data (a class the claim needs is absent)."
        );
    }
    s.push_str(" The absolute numbers differ from the papers' because the data differs (see the data section); the comparison is about the papers' conclusions, which depend on the protocols and feature levels rather than on the exact traffic.");
    s
}

/// The generated paragraph of the beyond-the-papers section: how the sets compare, in numbers.
pub fn beyond_paragraph(r: &Results) -> String {
    let mut parts = Vec::new();
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    if let Some(h) = &r.hindy2020 {
        let macro_of = |set: &str| {
            mean(
                r.published
                    .hindy2020
                    .classifiers
                    .iter()
                    .filter_map(|c| hindy_any(r, set, &c.model).map(|m| m.report.macro_avg.f1))
                    .collect(),
            )
        };
        let sets: Vec<String> = h
            .levels
            .iter()
            .chain(&h.beyond)
            .filter_map(|l| macro_of(&l.level).map(|v| format!("{} {:.2}%", l.level, 100.0 * v)))
            .collect();
        if !h.beyond.is_empty() {
            let packet = macro_of("packet");
            let context = macro_of("context");
            let better = r
                .published
                .hindy2020
                .classifiers
                .iter()
                .filter(|c| {
                    matches!(
                        (hindy_any(r, "context", &c.model), hindy_any(r, "packet", &c.model)),
                        (Some(a), Some(b)) if a.report.macro_avg.f1 > b.report.macro_avg.f1
                    )
                })
                .count();
            parts.push(format!(
                "Under Hindy et al.'s protocol, the mean macro-F1 over the seven classifiers is {}. \
                 Per packet, `context` {} the paper's packet features ({} of 7 classifiers have a \
                 higher macro-F1 with it).",
                sets.join(", "),
                match (context, packet) {
                    (Some(c), Some(p)) if c > p => "beats",
                    (Some(_), Some(_)) => "does not beat",
                    _ => "cannot be compared with",
                },
                better
            ));
        }
    }
    if let Some(m) = &r.mqttset2020 {
        for variant in ["unbalanced", "balanced"] {
            let sets: Vec<String> = std::iter::once("mqttset".to_string())
                .chain(m.beyond.iter().map(|s| s.set.clone()))
                .filter_map(|set| {
                    mean(
                        r.published
                            .mqttset2020
                            .table5
                            .iter()
                            .filter_map(|p| {
                                mqttset_any(r, &set, variant, &p.model)
                                    .map(|x| x.report.macro_avg.f1)
                            })
                            .collect(),
                    )
                    .map(|v| format!("{set} {v:.4}"))
                })
                .collect();
            if !m.beyond.is_empty() {
                parts.push(format!(
                    "Under Vaccari et al.'s protocol ({variant}), the mean macro-F1 over the six \
                     classifiers is {}.",
                    sets.join(", ")
                ));
            }
        }
    }
    if parts.is_empty() {
        return "The context and session sets need captures; this run had none.".into();
    }
    parts.push(
        "These sets are this tool's (issue 9), not the papers': the papers' conclusions above do \
         not depend on them."
            .into(),
    );
    parts.join(" ")
}

fn headline_rows(r: &Results) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if let Some(h) = &r.hindy2020 {
        for l in &h.levels {
            let best = l
                .models
                .iter()
                .max_by(|a, b| a.report.accuracy.total_cmp(&b.report.accuracy));
            let worst = l
                .models
                .iter()
                .min_by(|a, b| a.report.accuracy.total_cmp(&b.report.accuracy));
            if let (Some(b), Some(w)) = (best, worst) {
                rows.push((
                    format!("Hindy {}", l.level),
                    format!(
                        "best {} {:.2}%, worst {} {:.2}% ({} rows)",
                        b.label,
                        100.0 * b.report.accuracy,
                        w.label,
                        100.0 * w.report.accuracy,
                        l.table.rows_evaluated
                    ),
                ));
            }
        }
    }
    if let Some(m) = &r.mqttset2020 {
        for v in &m.variants {
            let list: Vec<String> = v
                .models
                .iter()
                .map(|x| format!("{} {:.4}", x.model, x.report.accuracy))
                .collect();
            rows.push((
                format!("MQTTset {}", v.variant),
                format!("accuracy {}", list.join(", ")),
            ));
        }
    }
    rows
}

/// The headline printed at the end of a run.
pub fn terminal_summary(r: &Results) -> String {
    let mut s = String::new();
    if let Some(h) = &r.hindy2020 {
        let _ = write!(
            s,
            "Hindy et al. 2020 — accuracy % (this run / paper)\n{:<22}",
            "classifier"
        );
        for l in &h.levels {
            let _ = write!(s, " {:>20}", l.level);
        }
        s.push('\n');
        for c in &r.published.hindy2020.classifiers {
            let _ = write!(s, "{:<22}", c.label);
            for l in &h.levels {
                let ours = hindy_model(r, &l.level, &c.model)
                    .map(|m| format!("{:.2}", 100.0 * m.report.accuracy))
                    .unwrap_or("—".into());
                let i = ["packet", "uniflow", "biflow"]
                    .iter()
                    .position(|x| *x == l.level);
                let paper = i
                    .and_then(|i| c.accuracy[i])
                    .map(|p| format!("{:.2}", 100.0 * p))
                    .unwrap_or("—".into());
                let _ = write!(s, " {:>20}", format!("{ours} / {paper}"));
            }
            s.push('\n');
        }
        s.push('\n');
    }
    if let Some(m) = &r.mqttset2020 {
        let _ = writeln!(s, "Vaccari et al. 2020 — accuracy (this run / paper)");
        let _ = write!(s, "{:<22}", "classifier");
        for v in &m.variants {
            let _ = write!(s, " {:>20}", v.variant);
        }
        s.push('\n');
        for (i, p) in r.published.mqttset2020.table5.iter().enumerate() {
            let _ = write!(s, "{:<22}", p.label);
            for v in &m.variants {
                let paper = if v.variant == "balanced" {
                    &r.published.mqttset2020.table12[i]
                } else {
                    p
                };
                let ours = v
                    .models
                    .iter()
                    .find(|x| x.model == p.model)
                    .map(|x| format!("{:.4}", x.report.accuracy))
                    .unwrap_or("—".into());
                let _ = write!(s, " {:>20}", format!("{ours} / {:.4}", paper.accuracy));
            }
            s.push('\n');
        }
        s.push('\n');
    }
    for c in &r.conclusions {
        let _ = writeln!(s, "[{}] {}", holds_text(c.holds), c.claim);
    }
    s
}

/// The paper's count of packets for a simulated capture: Hindy Table 2 (benign, attack packets
/// of the file), MQTTset Table 3 (the attack capture's packets).
fn paper_packets(r: &Results, scenario: &str, capture: &str) -> Option<String> {
    let n = |v: u64| {
        let s = v.to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    };
    match scenario {
        "hindy2020" => r
            .published
            .hindy2020
            .table2
            .iter()
            .find(|t| t.file.split_whitespace().next() == Some(capture))
            .map(|t| {
                format!(
                    "Table 2: {} benign + {} attack packets, {} + {} uni-flows, {} + {} bi-flows",
                    n(t.packets[0]),
                    n(t.packets[1]),
                    n(t.uniflows[0]),
                    n(t.uniflows[1]),
                    n(t.biflows[0]),
                    n(t.biflows[1])
                )
            })
            .or_else(|| {
                (capture == "mqtt_bruteforce")
                    .then(|| "Table 2: row missing from the published text".into())
            }),
        "mqttset2020" => {
            let name = match capture {
                "dos" => "flooding denial of service",
                "flood" => "MQTT Publish flood",
                "slowite" => "SlowITe",
                "malformed" => "malformed data",
                "bruteforce" => "brute force authentication",
                "legitimate" => {
                    return Some(
                        "≈ 11.75 M legitimate packets of the 11,915,716 (98.7 % of the test rows of Tables 6-11)"
                            .into(),
                    )
                }
                _ => return None,
            };
            r.published
                .mqttset2020
                .table3
                .iter()
                .find(|a| a.attack == name)
                .map(|a| format!("Table 3: {} packets in {}", n(a.packets), a.duration))
        }
        _ => None,
    }
}

/// The simulated captures: length, packets per class, and the paper's sizes beside them.
fn simulation_md(r: &Results) -> String {
    let mut s = String::new();
    let sims = &r.provenance.simulation;
    if sims.is_empty() {
        return s;
    }
    for sim in sims.iter().filter(|v| v.get("note").is_some()) {
        let _ = writeln!(s, "- {}", sim["note"].as_str().unwrap_or(""));
    }
    s.push('\n');
    s.push_str("| scenario | capture | seconds | packets | packets by class | the paper's |\n|---|---|---:|---:|---|---|\n");
    for sim in sims.iter().filter(|v| v.get("scenario").is_some()) {
        let scenario = sim["scenario"].as_str().unwrap_or("");
        for c in sim["captures"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or("");
            let by_class: Vec<String> = c["packets_by_class"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k} {}", v))
                .collect();
            let _ = writeln!(
                s,
                "| {scenario} (seed {}, scale {}) | {name} | {:.0} | {} | {} | {} |",
                sim["seed"],
                sim["scale"],
                c["seconds"].as_f64().unwrap_or(0.0),
                c["packets"],
                by_class.join(", "),
                paper_packets(r, scenario, name).unwrap_or_else(|| "—".into())
            );
        }
    }
    s.push('\n');
    s
}

fn data_section_md(r: &Results) -> String {
    let mut s = String::from("## Data\n\n");
    let p = &r.provenance;
    let _ = writeln!(
        s,
        "Source: **{}**{}.\n",
        p.source,
        p.data_dir
            .as_ref()
            .map_or(String::new(), |d| format!(" (`{d}`)"))
    );
    s.push_str(&simulation_md(r));
    if !p.inputs.is_empty() {
        s.push_str("| input | kind | labels | bytes |\n|---|---|---|---:|\n");
        for i in &p.inputs {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} |",
                i.path, i.kind, i.label, i.bytes
            );
        }
        s.push('\n');
    }
    let mut tables: Vec<(String, &crate::results::TableInfo)> = Vec::new();
    if let Some(h) = &r.hindy2020 {
        for l in &h.levels {
            tables.push((format!("Hindy {}", l.level), &l.table));
        }
        for l in &h.beyond {
            tables.push((format!("Hindy protocol, `{}` (beyond)", l.level), &l.table));
        }
    }
    if let Some(m) = &r.mqttset2020 {
        for v in &m.variants {
            tables.push((format!("MQTTset {}", v.variant), &v.table));
        }
        for set in &m.beyond {
            for v in &set.variants {
                tables.push((
                    format!("MQTTset protocol, `{}` {} (beyond)", set.set, v.variant),
                    &v.table,
                ));
            }
        }
    }
    if !tables.is_empty() {
        s.push_str("| table | rows read | rows used | rows evaluated | features | rows per class |\n|---|---:|---:|---:|---:|---|\n");
        for (name, t) in tables {
            let classes: Vec<String> = t
                .classes
                .iter()
                .map(|c| {
                    format!(
                        "{}{} {}",
                        c.class,
                        c.paper_class
                            .as_ref()
                            .map_or(String::new(), |p| format!(" ({p})")),
                        c.rows
                    )
                })
                .collect();
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} | {} | {} |",
                t.rows_read,
                t.rows_used,
                t.rows_evaluated,
                t.features.len(),
                classes.join(", ")
            );
        }
        s.push('\n');
    }
    if let Some(m) = &r.mqttset2020 {
        for v in &m.variants {
            let _ = writeln!(s, "- MQTTset {}: {}", v.variant, v.how);
        }
        s.push('\n');
    }
    s
}

fn provenance_md(r: &Results) -> String {
    let p = &r.provenance;
    let mut s = String::from("## Provenance\n\n");
    let _ = writeln!(s, "- tool: {} {}", p.tool, p.tool_version);
    let _ = writeln!(s, "- command: `{}`", p.command.join(" "));
    let _ = writeln!(s, "- papers: {}; quick: {}; seed: {} (simulation and row subsampling; the protocols keep the papers' seeds: Hindy 0, MQTTset 7)", p.papers.join(", "), p.quick, p.seed);
    let m = &p.machine;
    let _ = writeln!(
        s,
        "- machine: {} {}, {}, {} threads, {} memory, load average at start {}",
        m.os,
        m.arch,
        m.cpu,
        m.threads,
        m.memory_bytes.map_or("?".into(), |b| format!(
            "{:.1} GiB",
            b as f64 / (1u64 << 30) as f64
        )),
        m.load_average.as_deref().unwrap_or("?")
    );
    let _ = writeln!(s, "- wall time: {}", secs(p.wall_seconds));
    s.push_str("\n| stage | wall time |\n|---|---:|\n");
    for st in &p.stages {
        let _ = writeln!(s, "| {} | {} |", st.stage, secs(st.seconds));
    }
    s.push('\n');
    if !p.reductions.is_empty() {
        s.push_str("Reductions and departures from the papers:\n\n");
        for red in &p.reductions {
            let _ = writeln!(s, "- {red}");
        }
        s.push('\n');
    }
    s.push_str("Notes on the published numbers:\n\n");
    for n in r
        .published
        .hindy2020
        .notes
        .iter()
        .chain(&r.published.mqttset2020.notes)
    {
        let _ = writeln!(s, "- {n}");
    }
    s.push('\n');
    s
}

fn models_md(r: &Results) -> String {
    let mut s = String::new();
    let mut seen = Vec::new();
    let runs = r
        .hindy2020
        .iter()
        .flat_map(|h| h.levels.iter().flat_map(|l| l.models.iter()))
        .chain(
            r.mqttset2020
                .iter()
                .flat_map(|m| m.variants.iter().flat_map(|v| v.models.iter())),
        );
    for m in runs {
        let key = (m.model.clone(), m.preset.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let _ = writeln!(
            s,
            "- {} (`{}`, preset `{}`): `{}`",
            m.label,
            m.model,
            m.preset,
            serde_json::to_string(&m.params).unwrap_or_default()
        );
    }
    s
}

fn variant_of<'a>(r: &'a Results, name: &str) -> Option<&'a VariantRun> {
    r.mqttset_variant(name)
}

/// `report.md`.
pub fn markdown(
    r: &Results,
    tables: &[Table],
    matrices: &[MatrixTable],
    figures: &[Figure],
) -> String {
    let mut s = String::from("# mqtt-ids reproduce — both papers redone\n\n");
    let _ = writeln!(s, "{}\n", summary_paragraph(r));
    s.push_str("| | headline |\n|---|---|\n");
    for (k, v) in headline_rows(r) {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    s.push('\n');
    s.push_str("## Conclusions\n\n| paper | claim | verdict | evidence |\n|---|---|---|---|\n");
    for c in &r.conclusions {
        let _ = writeln!(
            s,
            "| {} | {} | **{}** | {} |",
            c.paper,
            c.claim,
            holds_text(c.holds),
            c.evidence
        );
    }
    s.push('\n');
    let fig = |s: &mut String, id: &str| {
        if let Some(f) = figures.iter().find(|f| f.id == id) {
            let _ = writeln!(
                s,
                "![{}](figures/{}.png)\n\n*{}* ([SVG](figures/{}.svg))\n",
                f.title, f.id, f.caption, f.id
            );
        }
    };
    if r.hindy2020.is_some() {
        s.push_str("## Hindy et al. 2020 (MQTT-IoT-IDS2020)\n\n");
        if let Some(h) = &r.hindy2020 {
            let _ = writeln!(s, "Protocol `{}`: duplicates removed, stratified 5-fold cross-validation (seed 0){}; seven classifiers with the paper's settings; one table per feature level.\n", h.protocol.name, if h.protocol.hold_out.is_some() { ", and the 75/25 hold-out (seed 42) shown beside Table 3" } else { "" });
        }
        for id in ["hindy_table3_accuracy", "hindy_table3_holdout"] {
            for t in tables.iter().filter(|t| t.id == id) {
                s.push_str(&md_table(t));
                s.push('\n');
            }
        }
        fig(&mut s, "hindy_fig2_accuracy");
        for t in tables
            .iter()
            .filter(|t| t.id.starts_with("hindy_table") && !t.id.starts_with("hindy_table3"))
            .filter(|t| !t.id.starts_with("beyond_"))
        {
            s.push_str(&md_table(t));
            s.push('\n');
        }
        for id in [
            "hindy_fig3_benign",
            "hindy_fig4_mqtt_bf",
            "hindy_fig5_weighted",
        ] {
            fig(&mut s, id);
        }
    }
    if r.mqttset2020.is_some() {
        s.push_str("## Vaccari et al. 2020 (MQTTset)\n\n");
        for name in ["unbalanced", "balanced"] {
            if let Some(v) = variant_of(r, name) {
                let _ = writeln!(s, "{}: {}.\n", name, v.how);
            }
        }
        for t in tables.iter().filter(|t| t.id.starts_with("mqttset_")) {
            s.push_str(&md_table(t));
            s.push('\n');
        }
        fig(&mut s, "mqttset_scores");
        for m in matrices {
            s.push_str(&md_matrix(m));
            fig(&mut s, &m.id);
        }
    }
    if tables.iter().any(|t| t.id.starts_with("beyond_")) {
        s.push_str("## Beyond the papers: the context and session sets\n\n");
        s.push_str(&beyond_paragraph(r));
        s.push_str("\n\n");
        for (t_id, f_id) in [
            ("beyond_hindy_context_session", "beyond_hindy"),
            ("beyond_mqttset_context_session", "beyond_mqttset"),
        ] {
            if let Some(t) = tables.iter().find(|t| t.id == t_id) {
                s.push_str(&md_table(t));
                s.push('\n');
                fig(&mut s, f_id);
            }
        }
    }
    s.push_str(&data_section_md(r));
    s.push_str("## Classifiers\n\n");
    s.push_str(&models_md(r));
    s.push('\n');
    s.push_str(&provenance_md(r));
    s.push_str("Every number above comes from `results.json`; `tables/*.csv` hold them at full precision.\n");
    s
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Markdown to HTML for the subset [`markdown`] writes (headings, tables, lists, emphasis, code,
/// images — images become inline data URIs).
fn md_to_html(md: &str, figures_dir: &Path) -> Result<String, String> {
    let mut out = String::new();
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    let inline = |t: &str| -> String {
        let mut s = html_escape(t);
        // `code`, **bold**, *italic*, [text](link)
        let mut res = String::new();
        let mut code = false;
        for (k, part) in s.split('`').enumerate() {
            if k > 0 {
                res.push_str(if code { "</code>" } else { "<code>" });
                code = !code;
            }
            res.push_str(part);
        }
        s = res;
        let mut res = String::new();
        for (k, part) in s.split("**").enumerate() {
            if k > 0 {
                res.push_str(if k % 2 == 1 { "<strong>" } else { "</strong>" });
            }
            res.push_str(part);
        }
        s = res;
        while let (Some(a), Some(b)) = (s.find("]("), s.find(')')) {
            let Some(open) = s[..a].rfind('[') else { break };
            let Some(close) = s[a..].find(')').map(|c| c + a) else {
                break;
            };
            if close < a {
                let _ = b;
                break;
            }
            let text = s[open + 1..a].to_string();
            let href = s[a + 2..close].to_string();
            s = format!(
                "{}<a href=\"{href}\">{text}</a>{}",
                &s[..open],
                &s[close + 1..]
            );
        }
        if s.starts_with('*') && s.ends_with('*') && s.len() > 2 {
            s = format!("<em>{}</em>", &s[1..s.len() - 1]);
        }
        s
    };
    while i < lines.len() {
        let l = lines[i];
        if let Some(h) = l.strip_prefix("# ") {
            let _ = writeln!(out, "<h1>{}</h1>", inline(h));
        } else if let Some(h) = l.strip_prefix("## ") {
            let _ = writeln!(out, "<h2>{}</h2>", inline(h));
        } else if l.starts_with("![") {
            let alt = &l[2..l.find("](").unwrap_or(2)];
            let src = l
                .find("](")
                .and_then(|a| l[a + 2..].find(')').map(|b| &l[a + 2..a + 2 + b]))
                .unwrap_or("");
            let file = figures_dir.join(Path::new(src).file_name().unwrap_or_default());
            let bytes =
                fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let data = base64::engine::general_purpose::STANDARD.encode(bytes);
            let _ = writeln!(
                out,
                "<figure><img alt=\"{}\" src=\"data:image/png;base64,{data}\">",
                html_escape(alt)
            );
            // The caption line follows after a blank line.
            if i + 2 < lines.len() && lines[i + 2].starts_with('*') {
                let _ = writeln!(out, "<figcaption>{}</figcaption>", inline(lines[i + 2]));
                i += 2;
            }
            out.push_str("</figure>\n");
        } else if l.starts_with('|') {
            out.push_str("<table>\n");
            let mut first = true;
            while i < lines.len() && lines[i].starts_with('|') {
                let row = lines[i];
                if row.starts_with("|---") {
                    i += 1;
                    continue;
                }
                let cells: Vec<&str> = row
                    .trim()
                    .trim_matches('|')
                    .split(" |")
                    .map(|c| c.trim().trim_start_matches("| "))
                    .collect();
                out.push_str("<tr>");
                for c in cells {
                    let tag = if first { "th" } else { "td" };
                    let class = if !first && c.contains(" / ") && c.contains('(') {
                        // Colour a compared cell by the size of its difference.
                        let d = c
                            .rsplit('(')
                            .next()
                            .unwrap_or("")
                            .trim_end_matches(')')
                            .replace('−', "-")
                            .replace('+', "");
                        match d.parse::<f64>() {
                            Ok(v) if v.abs() < 1.0 => " class=\"near\"",
                            Ok(v) if v.abs() < 5.0 => " class=\"mid\"",
                            Ok(_) => " class=\"far\"",
                            Err(_) => "",
                        }
                    } else {
                        ""
                    };
                    let _ = write!(out, "<{tag}{class}>{}</{tag}>", inline(c));
                }
                out.push_str("</tr>\n");
                first = false;
                i += 1;
            }
            out.push_str("</table>\n");
            continue;
        } else if let Some(item) = l.strip_prefix("- ") {
            out.push_str("<ul>\n");
            let _ = writeln!(out, "<li>{}</li>", inline(item));
            while i + 1 < lines.len() && lines[i + 1].starts_with("- ") {
                i += 1;
                let _ = writeln!(out, "<li>{}</li>", inline(&lines[i][2..]));
            }
            out.push_str("</ul>\n");
        } else if !l.trim().is_empty() {
            let _ = writeln!(out, "<p>{}</p>", inline(l));
        }
        i += 1;
    }
    Ok(out)
}

const CSS: &str = "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1250px;margin:2em auto;padding:0 1em;color:#1b1f24;line-height:1.45}\
h1{font-size:1.7em;border-bottom:2px solid #0b3d91;padding-bottom:.3em}h2{margin-top:2em;color:#0b3d91}\
table{border-collapse:collapse;margin:.8em 0 1.6em;font-size:.82em}th,td{border:1px solid #d0d7de;padding:.25em .5em}\
th{background:#f0f3f7;text-align:left}td{text-align:right;white-space:nowrap}td:first-child{text-align:left}\
td.near{background:#e6f4ea}td.mid{background:#fff4d6}td.far{background:#fde2e1}\
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #d0d7de}figcaption{font-size:.85em;color:#57606a}\
code{background:#f0f3f7;padding:0 .25em;border-radius:3px;font-size:.9em}";

/// `report.html`: the Markdown report as one self-contained page.
pub fn html(md: &str, figures_dir: &Path) -> Result<String, String> {
    let body = md_to_html(md, figures_dir)?;
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mqtt-ids reproduce</title>\
         <style>{CSS}</style></head><body>\n{body}\
         <p><small>Cell colours: difference to the paper below 1, below 5, and 5 or more (percentage points, or 0.0001 units for fractions shown as such).</small></p>\
         </body></html>\n"
    ))
}

/// The files a report consists of.
#[derive(Debug, Default)]
pub struct ReportFiles {
    pub results_json: PathBuf,
    pub markdown: PathBuf,
    pub html: PathBuf,
    pub tables: Vec<PathBuf>,
    pub figures: Vec<PathBuf>,
}

/// Writes `results.json`, then renders every other file from what was written.
pub fn write_report(results: &Results, dir: &Path) -> Result<ReportFiles, String> {
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let json_path = dir.join("results.json");
    let text = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    fs::write(&json_path, format!("{text}\n")).map_err(|e| io(&json_path, e))?;
    render_from_json(&json_path, dir)
}

/// Renders the report from a `results.json`.
pub fn render_from_json(json_path: &Path, dir: &Path) -> Result<ReportFiles, String> {
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    let text = fs::read_to_string(json_path)
        .map_err(|e| format!("cannot read {}: {e}", json_path.display()))?;
    let r: Results =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let mut files = ReportFiles {
        results_json: json_path.to_path_buf(),
        ..ReportFiles::default()
    };
    let tables_dir = dir.join("tables");
    let figures_dir = dir.join("figures");
    for d in [&tables_dir, &figures_dir] {
        fs::create_dir_all(d).map_err(|e| io(d, e))?;
    }
    let tables = tables(&r);
    let matrices = matrices(&r);
    for t in &tables {
        let p = tables_dir.join(format!("{}.csv", t.id));
        fs::write(&p, table_csv(t)).map_err(|e| io(&p, e))?;
        files.tables.push(p);
    }
    for m in &matrices {
        let p = tables_dir.join(format!("{}.csv", m.id));
        fs::write(&p, matrix_csv(m)).map_err(|e| io(&p, e))?;
        files.tables.push(p);
    }
    let figures = figure_specs(&r);
    for f in &figures {
        figures::write(f, &figures_dir)?;
        files
            .figures
            .push(figures_dir.join(format!("{}.svg", f.id)));
        files
            .figures
            .push(figures_dir.join(format!("{}.png", f.id)));
    }
    let md = markdown(&r, &tables, &matrices, &figures);
    files.markdown = dir.join("report.md");
    fs::write(&files.markdown, &md).map_err(|e| io(&files.markdown, e))?;
    files.html = dir.join("report.html");
    fs::write(&files.html, html(&md, &figures_dir)?).map_err(|e| io(&files.html, e))?;
    Ok(files)
}
