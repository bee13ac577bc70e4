//! The papers' conclusions, checked against a run: each claim, whether this run supports it,
//! and the numbers that say so.

use crate::published::paper_class;
use crate::results::{Conclusion, LevelRun, ModelRun, Results};

fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

/// F1 of the class the paper calls `paper_name`, if the run has it.
pub fn class_f1(m: &ModelRun, paper: &str, paper_name: &str) -> Option<f64> {
    m.report
        .per_class
        .iter()
        .find(|c| paper_class(paper, &c.class) == Some(paper_name) && c.support > 0)
        .map(|c| c.f1)
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn level_mean(level: Option<&LevelRun>, f: &dyn Fn(&ModelRun) -> Option<f64>) -> Option<f64> {
    let v: Vec<f64> = level?.models.iter().filter_map(f).collect();
    mean(&v)
}

/// Every checked conclusion of the papers run.
pub fn conclusions(r: &Results) -> Vec<Conclusion> {
    let mut out = Vec::new();
    if r.hindy2020.is_some() {
        hindy(r, &mut out);
    }
    if r.mqttset2020.is_some() {
        mqttset(r, &mut out);
    }
    out
}

/// Mean over the published classifiers of the mean F1 of `classes` at `level`.
fn published_f1(r: &Results, classes: &[&str], level: usize) -> f64 {
    let cs = &r.published.hindy2020.classifiers;
    let per: Vec<f64> = cs
        .iter()
        .map(|c| {
            let v: Vec<f64> = c
                .rows
                .iter()
                .filter(|row| classes.contains(&row.class.as_str()))
                .filter_map(|row| row.f1[level])
                .collect();
            mean(&v).unwrap_or(0.0)
        })
        .collect();
    mean(&per).unwrap_or(0.0)
}

fn hindy(r: &Results, out: &mut Vec<Conclusion>) {
    let paper = "hindy2020";
    let bf = ["Benign", "MQTT_BF"];
    let generic_classes = ["Scan_A", "Scan_sU", "Sparta"];
    let (p, u, b) = (
        r.hindy_level("packet"),
        r.hindy_level("uniflow"),
        r.hindy_level("biflow"),
    );
    let claim = |claim: &str, holds: Option<bool>, evidence: String| Conclusion {
        paper: paper.into(),
        claim: claim.into(),
        holds,
        evidence,
    };
    // 1. Flow features separate Benign and MQTT brute force; packet features do not.
    let pair = |m: &ModelRun| -> Option<f64> {
        Some((class_f1(m, paper, "Benign")? + class_f1(m, paper, "MQTT_BF")?) / 2.0)
    };
    let (mp, mu, mb) = (
        level_mean(p, &pair),
        level_mean(u, &pair),
        level_mean(b, &pair),
    );
    out.push(match (mp, mu, mb) {
        (Some(mp), Some(mu), Some(mb)) => {
            let wins = |l: Option<&LevelRun>| {
                let (Some(l), Some(pk)) = (l, p) else { return 0 };
                l.models
                    .iter()
                    .filter(|m| {
                        let other = pk.models.iter().find(|x| x.model == m.model);
                        matches!((pair(m), other.and_then(pair)), (Some(a), Some(b)) if a > b)
                    })
                    .count()
            };
            claim(
                "Flow features beat packet features at telling benign traffic from MQTT brute force",
                Some(mu > mp && mb > mp),
                format!(
                    "mean F1 of Benign and MQTT_BF over the classifiers: packet {}, uni-flow {}, \
                     bi-flow {} (paper: {}, {}, {}); uni-flow better than packet for {} \
                     of {} classifiers, bi-flow for {}",
                    pct(mp),
                    pct(mu),
                    pct(mb),
                    pct(published_f1(r, &bf, 0)),
                    pct(published_f1(r, &bf, 1)),
                    pct(published_f1(r, &bf, 2)),
                    wins(u),
                    p.map_or(0, |l| l.models.len()),
                    wins(b)
                ),
            )
        }
        _ => claim(
            "Flow features beat packet features at telling benign traffic from MQTT brute force",
            None,
            "the data has no benign and MQTT brute-force classes at all three levels".into(),
        ),
    });
    // 2. Accuracy rises with flow features (Table 3).
    let acc = |m: &ModelRun| Some(m.report.accuracy);
    if let (Some(ap), Some(au), Some(ab)) = (
        level_mean(p, &acc),
        level_mean(u, &acc),
        level_mean(b, &acc),
    ) {
        out.push(claim(
            "Overall accuracy rises from packet to uni- and bi-flow features (Table 3)",
            Some(au > ap && ab > ap),
            format!(
                "mean accuracy over the classifiers: packet {}, uni-flow {}, bi-flow {} (paper: \
                 75.31%, 93.77%, 98.85%)",
                pct(ap),
                pct(au),
                pct(ab)
            ),
        ));
        let prec = |m: &ModelRun| Some(m.report.weighted_avg.precision);
        if let (Some(pp), Some(pu), Some(pb)) = (
            level_mean(p, &prec),
            level_mean(u, &prec),
            level_mean(b, &prec),
        ) {
            out.push(claim(
                "Weighted precision rises from packet to flow features (Section 4: 72.37% → 97.19%, 99.04%)",
                Some(pu > pp && pb > pp),
                format!("mean weighted precision: packet {}, uni-flow {}, bi-flow {}", pct(pp), pct(pu), pct(pb)),
            ));
        }
    }
    // 3. Generic attacks are already distinctive at packet level.
    let generic = |m: &ModelRun| -> Option<f64> {
        let v: Vec<f64> = generic_classes
            .iter()
            .filter_map(|c| class_f1(m, paper, c))
            .collect();
        mean(&v)
    };
    out.push(match level_mean(p, &generic) {
        Some(g) => claim(
            "Packet features suffice for the generic attacks (scans, SSH brute force)",
            Some(g >= 0.9),
            format!(
                "mean F1 of the scan and Sparta classes at packet level: {} (paper: {}; holds \
                 at 90% or more)",
                pct(g),
                pct(published_f1(r, &generic_classes, 0))
            ),
        ),
        None => claim(
            "Packet features suffice for the generic attacks (scans, SSH brute force)",
            None,
            "the data has no scan or Sparta class".into(),
        ),
    });
}

fn mqttset(r: &Results, out: &mut Vec<Conclusion>) {
    let paper = "mqttset2020";
    let claim = |claim: &str, holds: Option<bool>, evidence: String| Conclusion {
        paper: paper.into(),
        claim: claim.into(),
        holds,
        evidence,
    };
    let un = r.mqttset_variant("unbalanced");
    let ba = r.mqttset_variant("balanced");
    let list = |v: &crate::results::VariantRun| -> String {
        v.models
            .iter()
            .map(|m| format!("{} {:.4}", m.model, m.report.accuracy))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let (Some(un), Some(ba)) = (un, ba) {
        let lower: Vec<&str> = un
            .models
            .iter()
            .filter(|m| {
                ba.models
                    .iter()
                    .find(|b| b.model == m.model)
                    .is_some_and(|b| b.report.accuracy < m.report.accuracy)
            })
            .map(|m| m.model.as_str())
            .collect();
        out.push(claim(
            "Accuracy on the balanced dataset is lower than on the unbalanced one (Table 12 vs 5)",
            Some(lower.len() == un.models.len()),
            format!(
                "lower for {} of {} classifiers ({}); unbalanced: {}; balanced: {}",
                lower.len(),
                un.models.len(),
                lower.join(", "),
                list(un),
                list(ba)
            ),
        ));
        let weakest = ba
            .models
            .iter()
            .min_by(|a, b| a.report.accuracy.total_cmp(&b.report.accuracy));
        if let Some(w) = weakest {
            out.push(claim(
                "Naive Bayes is the weakest classifier on the balanced dataset (0.644 against 0.88-0.92)",
                Some(w.model == "nb"),
                format!("lowest balanced accuracy: {} ({:.4})", w.label, w.report.accuracy),
            ));
        }
        let slow: Vec<String> = ba
            .models
            .iter()
            .filter(|m| ["nn", "rf", "nb"].contains(&m.model.as_str()))
            .filter_map(|m| {
                m.report
                    .per_class
                    .iter()
                    .find(|c| paper_class(paper, &c.class) == Some("SlowITe") && c.support > 0)
                    .map(|c| (m.model.clone(), c.recall))
            })
            .map(|(m, rec)| format!("{m} {}", pct(rec)))
            .collect();
        let all_high = ba
            .models
            .iter()
            .filter(|m| ["nn", "rf", "nb"].contains(&m.model.as_str()))
            .all(|m| {
                m.report
                    .per_class
                    .iter()
                    .find(|c| paper_class(paper, &c.class) == Some("SlowITe") && c.support > 0)
                    .is_some_and(|c| c.recall >= 0.99)
            });
        out.push(claim(
            "SlowITe is identified without error on the balanced dataset (Tables 13-15)",
            (!slow.is_empty()).then_some(all_high),
            if slow.is_empty() {
                "the data has no SlowITe class".into()
            } else {
                format!("SlowITe recall (holds at 99% or more): {}", slow.join(", "))
            },
        ));
    }
    if let Some(un) = un {
        let min = un
            .models
            .iter()
            .map(|m| m.report.accuracy)
            .fold(f64::INFINITY, f64::min);
        out.push(claim(
            "Every classifier is above 94% accurate on the unbalanced dataset (0.947-0.994)",
            Some(min >= 0.94),
            format!("unbalanced accuracy: {}", list(un)),
        ));
        if let Some(best) = un
            .models
            .iter()
            .max_by(|a, b| a.report.accuracy.total_cmp(&b.report.accuracy))
        {
            out.push(claim(
                "Random forest is the most accurate on the unbalanced dataset (0.9943)",
                Some(best.model == "rf"),
                format!(
                    "most accurate: {} ({:.4})",
                    best.label, best.report.accuracy
                ),
            ));
        }
    }
}
