//! Model files: load(save(m)) predicts identically for every kind, the same seed gives the same
//! bytes, and a table with other columns or an unknown version is refused with a clear message.

use mqtt_ids_learn::table::{read_csv_files, TableOptions};
use mqtt_ids_learn::{Classifier, Dataset, FeatureSchema, ModelFile, ModelParams};
use std::path::{Path, PathBuf};

fn small() -> (Dataset, Dataset) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ds = read_csv_files(
        &[dir.join("tests/data/synthetic_5c.csv")],
        &TableOptions::with_label_column("target"),
    )
    .unwrap();
    let train: Vec<usize> = (0..600).collect();
    let test: Vec<usize> = (7000..7300).collect();
    (ds.select(&train), ds.select(&test))
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mqtt-ids-learn-files-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn quick(kind: &str) -> ModelParams {
    // Small settings keep the debug build fast; the format is what is under test.
    let p = ModelParams::from_name(kind, None).unwrap();
    match p {
        ModelParams::Rf(p) => ModelParams::Rf(p.n_estimators(5)),
        ModelParams::Gb(p) => ModelParams::Gb(p.n_estimators(5)),
        ModelParams::Mlp(p) => ModelParams::Mlp(p.max_iter(5)),
        other => other,
    }
}

#[test]
fn every_kind_round_trips_and_predicts_identically() {
    let (train, test) = small();
    for kind in mqtt_ids_learn::estimator::KINDS {
        let params = quick(kind).with_seed(3);
        let model = params.fit(&train).unwrap();
        let schema = FeatureSchema {
            feature_set: Some("synthetic".into()),
            schema_version: Some(1),
            ..FeatureSchema::default()
        };
        let file = ModelFile::new(params.clone(), model, schema);
        let path = temp(&format!("{kind}.json"));
        file.save(&path).unwrap();
        let back = ModelFile::load(&path).unwrap();
        assert_eq!(back, file, "{kind}");
        let a = file.model.predict_proba(&test.records).unwrap();
        let b = back.model.predict_proba(&test.records).unwrap();
        assert_eq!(a, b, "{kind}: probabilities differ after a round trip");
        assert_eq!(back.classes, train.classes);
        assert_eq!(back.feature_names, train.feature_names);
        // Same seed → same bytes.
        let again = ModelFile::new(
            params.clone(),
            params.fit(&train).unwrap(),
            file.schema.clone(),
        );
        assert_eq!(
            again.to_bytes(),
            file.to_bytes(),
            "{kind}: refit with the same seed differs"
        );
    }
}

#[test]
fn other_columns_and_other_versions_are_refused() {
    let (train, test) = small();
    let params = quick("nb");
    let file = ModelFile::new(
        params.clone(),
        params.fit(&train).unwrap(),
        FeatureSchema::default(),
    );
    // Same columns in another order are put back in the model's order.
    let mut shuffled = test.clone();
    let order: Vec<usize> = (0..test.n_features()).rev().collect();
    let rows: Vec<Vec<f32>> = test
        .records
        .rows()
        .map(|r| order.iter().map(|&j| r[j]).collect())
        .collect();
    shuffled.records = mqtt_ids_learn::Matrix::from_rows(&rows).unwrap();
    shuffled.feature_names = order
        .iter()
        .map(|&j| test.feature_names[j].clone())
        .collect();
    assert_eq!(file.records_for(&shuffled).unwrap(), test.records);
    // A renamed column is refused, naming what is missing and what is unexpected.
    let mut renamed = test.clone();
    renamed.feature_names[2] = "tcp.len".into();
    let e = file.records_for(&renamed).unwrap_err().to_string();
    assert!(
        e.contains("missing [\"f02\"]") && e.contains("unexpected [\"tcp.len\"]"),
        "{e}"
    );
    // Another format version is refused with both versions named.
    let text = String::from_utf8(file.to_bytes())
        .unwrap()
        .replace("\"format_version\":1", "\"format_version\":9");
    let e = ModelFile::from_bytes(text.as_bytes(), Path::new("m.json"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("format version Some(9)") && e.contains("reads version 1"),
        "{e}"
    );
    let e = ModelFile::from_bytes(b"{\"a\":1}", Path::new("m.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected `mqtt-ids-model`"), "{e}");
    // Targets map by class name.
    assert_eq!(file.targets_for(&test).unwrap(), test.targets);
}
