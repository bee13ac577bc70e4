//! Shared by the reproduce tests: running a quick reproduction into a temporary directory and
//! checking that the report agrees with `results.json`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mqtt_ids_reproduce::render::{figure_specs, matrices, tables};
use mqtt_ids_reproduce::{run, write_report, Config, Paper, Results};

/// `../shared/data/` relative to the repository root.
pub fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mqtt-ids-reproduce-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Removes a test's temporary directories once it passed (a failed test leaves them to look
/// at): a quick run writes ~230 MB of captures and features.
pub fn remove_dirs(dirs: &[&Path]) {
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A quick run of both papers, its report written to `out`.
pub fn quick_run(data: Option<PathBuf>, out: &Path, seed: u64) -> Results {
    let config = Config::new(
        vec![Paper::Hindy2020, Paper::Mqttset2020],
        true,
        seed,
        data,
        out.to_path_buf(),
    );
    let results = run(&config, &|_| {}).unwrap_or_else(|e| panic!("reproduce failed: {e}"));
    write_report(&results, out).unwrap_or_else(|e| panic!("report failed: {e}"));
    results
}

/// The scores of a run without anything measured in seconds or depending on the machine.
pub fn scores(r: &Results) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|k, _| !k.contains("seconds") && k != "provenance" && k != "files");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

/// Every table and figure the report must hold, by file stem.
pub fn expected_files(r: &Results) -> (Vec<String>, Vec<String>) {
    let mut t = Vec::new();
    let mut f = Vec::new();
    if let Some(h) = &r.hindy2020 {
        t.push("hindy_table3_accuracy".to_string());
        t.push("hindy_table3_holdout".to_string());
        if !h.beyond.is_empty() {
            t.push("beyond_hindy_context_session".to_string());
            f.push("beyond_hindy".to_string());
        }
        for (m, n) in [
            ("lr", 4),
            ("knn", 4),
            ("dt", 4),
            ("rf", 5),
            ("svm-rbf", 5),
            ("nb", 5),
            ("svm-linear", 6),
        ] {
            t.push(format!("hindy_table{n}_{m}"));
        }
        for id in [
            "hindy_fig2_accuracy",
            "hindy_fig3_benign",
            "hindy_fig4_mqtt_bf",
            "hindy_fig5_weighted",
        ] {
            f.push(id.to_string());
        }
    }
    if let Some(m) = &r.mqttset2020 {
        if !m.beyond.is_empty() {
            t.push("beyond_mqttset_context_session".to_string());
            f.push("beyond_mqttset".to_string());
        }
        t.push("mqttset_table5_unbalanced".into());
        t.push("mqttset_table12_balanced".into());
        f.push("mqttset_scores".into());
        for v in ["unbalanced", "balanced"] {
            for m in ["nn", "rf", "nb", "dt", "gb", "mlp"] {
                t.push(format!("mqttset_cm_{v}_{m}"));
                f.push(format!("mqttset_cm_{v}_{m}"));
            }
        }
    }
    (t, f)
}

/// Checks that the report holds every table and figure, and that every number of the CSV
/// tables is the one in `results.json` (read back from the file).
pub fn check_report(out: &Path) {
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    let r: Results = serde_json::from_str(&json).unwrap();
    let (want_tables, want_figures) = expected_files(&r);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for t in &want_tables {
        assert!(
            out.join("tables").join(format!("{t}.csv")).is_file(),
            "table {t} missing"
        );
    }
    for f in &want_figures {
        for ext in ["svg", "png"] {
            let p = out.join("figures").join(format!("{f}.{ext}"));
            assert!(
                std::fs::metadata(&p)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{} missing or empty",
                p.display()
            );
        }
        assert!(
            md.contains(&format!("figures/{f}.png")),
            "report.md lacks figure {f}"
        );
    }
    // The HTML is self-contained: every figure inline, nothing fetched.
    let n_img = html.matches("<img ").count();
    assert_eq!(n_img, want_figures.len(), "one inline image per figure");
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), n_img);
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external asset"
    );
    for heading in [
        "Table 3",
        "Table 4",
        "Table 5",
        "Table 6",
        "Table 12",
        "Figure 2",
        "Figure 3",
        "Figure 4",
        "Figure 5",
        "Provenance",
        "Conclusions",
        "75/25 hold-out",
    ] {
        if heading == "75/25 hold-out" && r.hindy2020.is_none() {
            continue;
        }
        if (heading.starts_with("Table 12") || heading == "Table 5") && r.mqttset2020.is_none() {
            continue;
        }
        if r.hindy2020.is_none()
            && (heading.starts_with("Figure")
                || heading == "Table 3"
                || heading == "Table 4"
                || heading == "Table 6")
        {
            continue;
        }
        assert!(md.contains(heading), "report.md lacks {heading}");
        assert!(html.contains(heading), "report.html lacks {heading}");
    }
    // Every compared number in the CSV tables is the JSON's, recomputed from the JSON.
    let specs = tables(&r);
    assert_eq!(specs.len() + matrices(&r).len(), want_tables.len());
    for t in &specs {
        let text =
            std::fs::read_to_string(out.join("tables").join(format!("{}.csv", t.id))).unwrap();
        let mut lines = text.lines();
        lines.next();
        let mut cells: HashMap<(String, String), (String, String)> = HashMap::new();
        for line in lines {
            let f = split_csv(line);
            cells.insert((f[0].clone(), f[1].clone()), (f[2].clone(), f[3].clone()));
        }
        for (row, values) in &t.rows {
            for ((col, _), c) in t.columns.iter().zip(values) {
                let (ours, paper) = &cells[&(row.clone(), col.clone())];
                let parse = |s: &str| (!s.is_empty()).then(|| s.parse::<f64>().unwrap());
                assert_eq!(parse(ours), c.ours, "{} {row} {col}", t.id);
                assert_eq!(parse(paper), c.paper, "{} {row} {col}", t.id);
                // And the Markdown shows the same number, rounded as stated.
                if let Some(v) = c.ours {
                    let shown = match t.columns[0].1 {
                        mqtt_ids_reproduce::render::Unit::Percent => format!("{:.2}", 100.0 * v),
                        _ => String::new(),
                    };
                    assert!(
                        shown.is_empty() || md.contains(&shown),
                        "{} {row} {col}: {shown} not in report.md",
                        t.id
                    );
                }
            }
        }
    }
    // Accuracy in Table 3 is the JSON's report accuracy, straight from the raw JSON text.
    let raw: serde_json::Value = serde_json::from_str(&json).unwrap();
    if let Some(levels) = raw["hindy2020"]["levels"].as_array() {
        let t3 = std::fs::read_to_string(out.join("tables/hindy_table3_accuracy.csv")).unwrap();
        for l in levels {
            for m in l["models"].as_array().unwrap() {
                let acc = m["report"]["accuracy"].as_f64().unwrap();
                assert!(t3.contains(&format!(",{acc},")), "{acc} not in Table 3 CSV");
            }
        }
    }
    assert!(!figure_specs(&r).is_empty());
    // The further sets are marked as beyond the papers wherever they appear.
    let beyond = r.hindy2020.as_ref().is_some_and(|h| !h.beyond.is_empty())
        || r.mqttset2020.as_ref().is_some_and(|m| !m.beyond.is_empty());
    if beyond {
        for text in [&md, &html] {
            assert!(text.contains("Beyond the papers: the context and session sets"));
            assert!(text.contains("Beyond the paper — Hindy") || r.hindy2020.is_none());
        }
    }
    // The hold-out table holds the JSON's hold-out accuracies.
    if let Some(levels) = raw["hindy2020"]["levels"].as_array() {
        let t = std::fs::read_to_string(out.join("tables/hindy_table3_holdout.csv")).unwrap();
        for l in levels {
            for m in l["models"].as_array().unwrap() {
                let split = m["splits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["split"] == "hold-out")
                    .expect("the hold-out split is run");
                let acc = split["accuracy"].as_f64().unwrap();
                assert!(
                    t.contains(&format!(",{acc},")),
                    "{acc} not in the hold-out CSV"
                );
            }
        }
    }
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}
