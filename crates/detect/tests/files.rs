//! Detection on capture files: the records a model sees online are the rows `extract` writes,
//! read by the table reader (every set); models trained on the real MQTTset captures raise the
//! right alerts, in EVE shape, several at once, with protocol findings and rate limits; benign
//! traffic they never saw is measured for false positives.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use mqtt_ids_detect::{DetectConfig, Engine, LoadedModel};
use mqtt_ids_features::SetKind;
use mqtt_ids_flows::{FlowConfig, FlowMode};
use mqtt_ids_learn::table::read_files;
use mqtt_ids_learn::ModelParams;

fn online_flows() -> FlowConfig {
    FlowConfig {
        mode: FlowMode::Timeout {
            idle_ns: 60_000_000_000,
            active_ns: Some(300_000_000_000),
        },
        ..FlowConfig::default()
    }
}

/// For every set: extract's CSV read by the table reader gives, row for row, the records the
/// detector computes from the same captures (one implementation of each feature set, one of
/// the cell rules).
#[test]
fn online_records_equal_extract_rows_read_as_a_table() {
    let Some(data) = mqttset_dir() else { return };
    let dir = temp_dir("records");
    let captures = [
        (data.join("benign-train.pcap"), "legitimate"),
        (data.join("malformed-train.pcap"), "malformed"),
    ];
    for set in [
        SetKind::Packet,
        SetKind::Uniflow,
        SetKind::Biflow,
        SetKind::Mqttset,
    ] {
        let tables: Vec<_> = captures
            .iter()
            .map(|(c, class)| extract_csv(c, set, class, online_flows(), &dir))
            .collect();
        let options = table_options(set);
        let ds = read_files(&tables, &options).unwrap();
        let model = train(
            &tables,
            set,
            &options,
            &ModelParams::from_name("nb", None).unwrap(),
        );
        let mut seen: Vec<Vec<f32>> = Vec::new();
        for (capture, _) in &captures {
            let loaded = LoadedModel::new("nb".into(), model.clone(), 0.0).unwrap();
            let config = DetectConfig {
                flows: online_flows(),
                update_ns: None,
                ..DetectConfig::default()
            };
            let rows = Rc::new(RefCell::new(Vec::new()));
            let tap_rows = rows.clone();
            let mut engine = Engine::new(vec![loaded], config, std::io::sink()).unwrap();
            engine.set_tap(Box::new(move |_, _, record, _| {
                tap_rows.borrow_mut().push(record.to_vec())
            }));
            let mut reader =
                mqtt_ids_capture::open(capture.to_str().unwrap(), Default::default()).unwrap();
            mqtt_ids_detect::feed_reader(&mut engine, &mut reader, &mut |_| {}).unwrap();
            let (summary, _) = engine.finish().unwrap();
            assert_eq!(summary.refused_cells, 0, "{set:?}");
            seen.extend(rows.borrow_mut().drain(..));
        }
        assert_eq!(seen.len(), ds.n_rows(), "{set:?}: rows");
        assert!(ds.n_rows() > 10, "{set:?}");
        for (i, record) in seen.iter().enumerate() {
            assert_eq!(
                record.as_slice(),
                ds.records.row(i),
                "{set:?} row {i}: {:?}",
                ds.feature_names
            );
        }
    }
}
