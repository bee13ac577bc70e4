//! Helpers of the detection tests: the shared captures, extract → table → model in process, and
//! running the detector over a capture.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mqtt_ids_capture::{open, ReaderOptions};
use mqtt_ids_detect::{feed_reader, DetectConfig, Engine, LoadedModel, Summary};
use mqtt_ids_features::{extract, CsvSink, ExtractOptions, Labeler, Output, Outputs, SetKind};
use mqtt_ids_flows::FlowConfig;
use mqtt_ids_learn::table::{read_files, TableOptions};
use mqtt_ids_learn::{CellEncoding, FeatureSchema, ModelFile, ModelParams};

/// `../shared/data/mqttset-train`, or `None` outside CI when it is not there.
pub fn mqttset_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mqttset-train");
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var_os("CI").is_some() {
        panic!("{} is missing: CI must run beside shared/", dir.display());
    } else {
        eprintln!("skipping: {} not found", dir.display());
        None
    }
}

/// A fresh temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mqtt-ids-detect-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `mqtt-ids extract --set SET --label CLASS` of one capture into `dir/SET_CLASS.csv`, as the
/// CLI writes it (absent mqttset fields `0`, others empty).
pub fn extract_csv(
    capture: &Path,
    set: SetKind,
    class: &str,
    flows: FlowConfig,
    dir: &Path,
) -> PathBuf {
    let options = ExtractOptions {
        flows,
        ..ExtractOptions::default()
    };
    extract_csv_with(capture, set, class, options, dir)
}

/// [`extract_csv`] with other options (the label is `class`'s).
pub fn extract_csv_with(
    capture: &Path,
    set: SetKind,
    class: &str,
    options: ExtractOptions,
    dir: &Path,
) -> PathBuf {
    let path = dir.join(format!("{}_{class}.csv", set.name()));
    let file = std::fs::File::create(&path).unwrap();
    let absent = if set == SetKind::Mqttset { "0" } else { "" };
    let sink = CsvSink::new(
        Box::new(file) as Box<dyn mqtt_ids_features::LineOut + Send>,
        set.schema(),
        absent,
    )
    .unwrap();
    let mut outputs = Outputs::default();
    *outputs.slot(set) = Some(Output::Csv(sink));
    let options = ExtractOptions {
        labels: Labeler {
            class: Some(class.to_string()),
            ..Labeler::default()
        },
        ..options
    };
    let mut reader = open(capture.to_str().unwrap(), ReaderOptions::default()).unwrap();
    extract(&mut reader, &options, &mut outputs, &mut |_| {}).unwrap();
    outputs.slot(set).take().unwrap().finish().unwrap();
    path
}

/// Table options of the tests for a set: the class from the file name (flows, packets) or the
/// `target` column (mqttset, context, session), addresses and ports left out, the
/// packet `protocol` one-hot encoded, the mqttset text fields hashed, the context and session
/// sets' `conn_id` a group column (as `--group-by conn_id`), not a feature.
pub fn table_options(set: SetKind) -> TableOptions {
    match set {
        SetKind::Mqttset => TableOptions::mqttset2020(),
        SetKind::Context | SetKind::Session => {
            let mut o = TableOptions::with_label_column("target");
            o.exclude.push("conn_id".into());
            o.group_columns.push("conn_id".into());
            o
        }
        _ => {
            let mut o = TableOptions::hindy2020();
            // The class is the file's (`biflow_bruteforce.csv` → `bruteforce`).
            o.label = mqtt_ids_learn::table::LabelSource::FileName;
            o.exclude.push("is_attack".into());
            if set == SetKind::Packet {
                o.one_hot = vec!["protocol".into()];
            }
            o
        }
    }
}

/// Fits `params` on the tables and wraps the model as `train` does (feature set and encoding
/// recorded).
pub fn train(
    tables: &[PathBuf],
    set: SetKind,
    options: &TableOptions,
    params: &ModelParams,
) -> ModelFile {
    let ds = read_files(tables, options).unwrap();
    let model = params.fit(&ds).unwrap();
    ModelFile::new(
        params.clone(),
        model,
        FeatureSchema {
            feature_set: Some(set.name().into()),
            schema_version: Some(set.schema().version),
            encoding: Some(CellEncoding::from(options)),
            producer_config: None,
        },
    )
}

/// Runs the detector over captures (one engine, in order); returns the summary and the alerts.
pub fn detect(
    models: Vec<LoadedModel>,
    config: DetectConfig,
    captures: &[PathBuf],
) -> (Summary, Vec<serde_json::Value>) {
    let mut engine = Engine::new(models, config, Vec::new()).unwrap();
    for c in captures {
        let mut reader = open(c.to_str().unwrap(), ReaderOptions::default()).unwrap();
        assert!(feed_reader(&mut engine, &mut reader, &mut |_| {})
            .unwrap()
            .is_none());
    }
    let (summary, out) = engine.finish().unwrap();
    let alerts = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (summary, alerts)
}
