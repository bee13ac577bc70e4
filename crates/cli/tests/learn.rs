//! `mqtt-ids train` and `mqtt-ids evaluate` on the learning engine's fixed reference table.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mqtt-ids"))
}

fn table() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../learn/tests/data/synthetic_5c.csv")
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mqtt-ids-learn-{}-{name}", std::process::id()))
}

#[test]
fn train_writes_a_loadable_model_file() {
    let out = temp("nb.json");
    let status = bin()
        .args(["train", "--model", "nb", "--table", "label:target", "-o"])
        .arg(&out)
        .arg(table())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let file = mqtt_ids_learn::ModelFile::load(&out).unwrap();
    assert_eq!(file.classes.len(), 5);
    assert_eq!(file.feature_names.len(), 12);
    let _ = std::fs::remove_file(out);
}

#[test]
fn evaluate_prints_and_writes_the_same_numbers() {
    let json = temp("ev.json");
    let csv = temp("ev.csv");
    let out = bin()
        .args(["evaluate", "--models", "nb,dt", "--protocol", "mqttset2020"])
        .args(["--table", "label:target", "--json"])
        .arg(&json)
        .arg("--csv")
        .arg(&csv)
        .arg(table())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let evals = v["evaluations"].as_array().unwrap();
    assert_eq!(evals.len(), 2);
    for e in evals {
        let acc = e["hold_out"]["report"]["accuracy"].as_f64().unwrap();
        let line = format!("{:.2}%", 100.0 * acc);
        assert!(text.contains(&line), "{line} not in\n{text}");
        // 70/30 hold-out of 8,000 rows.
        assert_eq!(e["hold_out"]["n_test"], 2400);
    }
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert!(csv_text.starts_with("model,class,precision,recall,f1,support\n"));
    assert_eq!(csv_text.lines().count(), 1 + 2 * (5 + 2));
    let _ = std::fs::remove_file(json);
    let _ = std::fs::remove_file(csv);
}

#[test]
fn unknown_model_or_table_is_a_usage_error() {
    let out = bin()
        .args(["train", "--model", "bogus", "-o", "/dev/null"])
        .arg(table())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let out = bin()
        .args(["evaluate", "--models", "nb", "--protocol", "nope"])
        .arg(table())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

/// Piped standard error gets no progress bar: `train` writes its one summary line, `evaluate`
/// nothing (no carriage returns, no terminal escapes).
#[test]
fn progress_stays_quiet_when_piped() {
    let model = temp("quiet.json");
    let out = bin()
        .args(["train", "--model", "lr", "--table", "label:target", "-o"])
        .arg(&model)
        .arg(table())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("fitted in"), "{err:?}");
    assert!(!err.contains(['\r', '\x1b']), "{err:?}");
    let out = bin()
        .args(["evaluate", "--models", "nb,lr", "--protocol", "mqttset2020"])
        .args(["--table", "label:target"])
        .arg(table())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(model);
}

/// On a terminal (util-linux `script` gives the command one) the bar is drawn: the fit's steps
/// appear as `done/total`. Skipped where `script` is missing.
#[test]
fn progress_is_drawn_on_a_terminal() {
    let Ok(probe) = Command::new("script").arg("--version").output() else {
        eprintln!("skipped: no `script` command");
        return;
    };
    if !probe.status.success() {
        eprintln!("skipped: `script` did not run");
        return;
    }
    let model = temp("tty.json");
    let command = format!(
        "{} train --model svm-linear --table label:target -o {} {}",
        env!("CARGO_BIN_EXE_mqtt-ids"),
        model.display(),
        table().display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("fitting svm-linear"), "{screen:?}");
    assert!(screen.contains("fitted in"), "{screen:?}");
    let _ = std::fs::remove_file(model);
}

/// A text column is refused with a way out; `--one-hot` turns it into indicator columns that the
/// model file lists; naming it in `--exclude` too is a usage error.
#[test]
fn one_hot_encodes_a_text_column_and_text_is_otherwise_refused() {
    let csv = temp("packets.csv");
    let mut text = String::from("length,protocol,target\n");
    for i in 0..60 {
        let (protocol, class) = if i % 3 == 0 {
            ("MQTT", "scan")
        } else {
            ("TCP", "normal")
        };
        text.push_str(&format!("{},{protocol},{class}\n", 40 + i % 7));
    }
    std::fs::write(&csv, text).unwrap();
    let model = temp("onehot.json");
    let run = |extra: &[&str]| {
        bin()
            .args(["train", "--model", "dt", "--table", "label:target", "-o"])
            .arg(&model)
            .args(extra)
            .arg(&csv)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`protocol`") && err.contains("one-hot"),
        "{err}"
    );
    let out = run(&["--one-hot", "protocol"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let file = mqtt_ids_learn::ModelFile::load(&model).unwrap();
    assert_eq!(
        file.feature_names,
        vec!["length", "protocol=MQTT", "protocol=TCP"]
    );
    let out = run(&["--one-hot", "protocol", "--exclude", "protocol"]);
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let _ = std::fs::remove_file(csv);
    let _ = std::fs::remove_file(model);
}
