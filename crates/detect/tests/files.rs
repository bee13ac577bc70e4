//! Detection on capture files: the records a model sees online are the rows `extract` writes,
//! read by the table reader (every set); models trained on the real MQTTset captures raise the
//! right alerts, in EVE shape, several at once, with protocol findings and rate limits; benign
//! traffic they never saw is measured for false positives.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use mqtt_ids_detect::sink::RowKind;
use mqtt_ids_detect::{DetectConfig, Engine, LoadedModel};
use mqtt_ids_features::{ExtractOptions, SetKind};
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
/// the cell rules). `session` rows here only at each connection's end, as extract writes them
/// (interim rows: `session_rows_while_connections_last_end_as_extract_writes_them`).
#[test]
fn online_records_equal_extract_rows_read_as_a_table() {
    let Some(data) = mqttset_dir() else { return };
    let dir = temp_dir("records");
    let captures = [
        (data.join("benign-train.pcap"), "legitimate"),
        (data.join("malformed-train.pcap"), "malformed"),
    ];
    for set in SetKind::ALL {
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
                session_update_ns: None,
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

/// `session` rows while connections last: with the same update interval (1 s of packet time),
/// extract's rows (`extract --session-interval 1s`) read as a table equal the records the
/// detector scores, interim and final rows alike; interim rows are reported as
/// `session_update`, final ones as `session_end`, each with its connection's client → server
/// endpoints.
#[test]
fn session_rows_while_connections_last_equal_extract_rows_with_the_same_interval() {
    let Some(data) = mqttset_dir() else { return };
    let dir = temp_dir("session-interval");
    let every = 1_000_000_000;
    let captures = [
        (data.join("benign-train.pcap"), "legitimate"),
        (data.join("slowite-train.pcap"), "slowite"),
    ];
    let set = SetKind::Session;
    let tables: Vec<_> = captures
        .iter()
        .map(|(c, class)| {
            let options = ExtractOptions {
                session_update_ns: Some(every),
                ..ExtractOptions::default()
            };
            extract_csv_with(c, set, class, options, &dir)
        })
        .collect();
    let options = table_options(set);
    let ds = read_files(&tables, &options).unwrap();
    let model = train(
        &tables,
        set,
        &options,
        &ModelParams::from_name("nb", None).unwrap(),
    );
    let last = model
        .feature_names
        .iter()
        .position(|f| f == "final")
        .unwrap();
    let mut seen: Vec<(Vec<f32>, mqtt_ids_detect::sink::RowCtx)> = Vec::new();
    for (capture, _) in &captures {
        let loaded = LoadedModel::new("nb".into(), model.clone(), 0.0).unwrap();
        let config = DetectConfig {
            session_update_ns: Some(every),
            ..DetectConfig::default()
        };
        let rows = Rc::new(RefCell::new(Vec::new()));
        let tap_rows = rows.clone();
        let mut engine = Engine::new(vec![loaded], config, std::io::sink()).unwrap();
        engine.set_tap(Box::new(move |_, ctx, record, _| {
            tap_rows.borrow_mut().push((record.to_vec(), *ctx))
        }));
        let mut reader =
            mqtt_ids_capture::open(capture.to_str().unwrap(), Default::default()).unwrap();
        mqtt_ids_detect::feed_reader(&mut engine, &mut reader, &mut |_| {}).unwrap();
        let (summary, _) = engine.finish().unwrap();
        let context = summary.pass.context.unwrap();
        assert_eq!(context.sessions, rows.borrow().len() as u64);
        seen.extend(rows.borrow_mut().drain(..));
    }
    assert_eq!(seen.len(), ds.n_rows(), "rows");
    let interim = seen.iter().filter(|(r, _)| r[last] == 0.0).count();
    eprintln!("{} session rows, {interim} interim", seen.len());
    assert!(interim > 100, "{interim} interim rows");
    for (i, (record, ctx)) in seen.iter().enumerate() {
        assert_eq!(record.as_slice(), ds.records.row(i), "row {i}");
        let kind = if record[last] == 1.0 {
            RowKind::SessionEnd
        } else {
            RowKind::SessionUpdate
        };
        assert_eq!(ctx.kind, kind, "row {i}");
        assert_eq!(ctx.proto, 6);
        assert!(
            ctx.src_port != 0 && ctx.dst_port == 1883,
            "row {i}: {ctx:?}"
        );
    }
}

/// A model that reads `conn_id` (a per-run connection index, not a feature) is refused with
/// the fix in the message.
#[test]
fn a_model_reading_conn_id_is_refused() {
    let Some(data) = mqttset_dir() else { return };
    let dir = temp_dir("conn-id");
    let tables = [
        ("benign-train.pcap", "legitimate"),
        ("slowite-train.pcap", "slowite"),
    ]
    .map(|(c, class)| extract_csv(&data.join(c), SetKind::Context, class, online_flows(), &dir));
    let options = mqtt_ids_learn::table::TableOptions::with_label_column("target");
    let model = train(
        &tables,
        SetKind::Context,
        &options,
        &ModelParams::from_name("nb", None).unwrap(),
    );
    let Err(e) = LoadedModel::new("nb".into(), model, 0.5) else {
        panic!("a model reading conn_id was accepted");
    };
    assert!(e.contains("--group-by conn_id"), "{e}");
}

/// A forest on the mqttset set and one on biflow, trained on the MQTTset training captures
/// (benign-train and the five attacks), run together: each attack capture raises alerts of its
/// class from both; the flood's single long flow is reported while it runs (flow_update); the
/// malformed capture raises protocol-finding alerts; every alert has the EVE fields. The
/// held-out benign capture (benign-5mb-train, never trained on) gives the false-positive rate.
#[test]
fn mqttset_attacks_alert_and_unseen_benign_traffic_is_measured() {
    let Some(data) = mqttset_dir() else { return };
    let dir = temp_dir("mqttset");
    let classes = [
        "legitimate",
        "bruteforce",
        "flood",
        "malariados",
        "malformed",
        "slowite",
    ];
    let file = |class: &str| {
        let stem = if class == "legitimate" {
            "benign"
        } else {
            class
        };
        let pcap = data.join(format!("{stem}-train.pcap"));
        if pcap.exists() {
            pcap
        } else {
            data.join(format!("{stem}-train.pcapng"))
        }
    };
    let mut models = Vec::new();
    for set in [SetKind::Mqttset, SetKind::Biflow] {
        let tables: Vec<_> = classes
            .iter()
            .map(|c| extract_csv(&file(c), set, c, online_flows(), &dir))
            .collect();
        let params = match ModelParams::from_name("rf", Some("mqttset2020")).unwrap() {
            ModelParams::Rf(p) => ModelParams::Rf(p.n_estimators(30)),
            _ => unreachable!(),
        };
        let model = train(&tables, set, &table_options(set), &params);
        models.push((set, model));
    }
    let load = || {
        models
            .iter()
            .map(|(set, m)| LoadedModel::new(format!("rf-{}", set.name()), m.clone(), 0.7).unwrap())
            .collect::<Vec<_>>()
    };
    let config = DetectConfig {
        flows: online_flows(),
        update_ns: Some(5_000_000_000),
        ..DetectConfig::default()
    };
    let mut total_updates = 0;
    for class in &classes[1..] {
        let (summary, alerts) = detect(load(), config.clone(), &[file(class)]);
        let of = |model: &str| {
            alerts
                .iter()
                .filter(|a| a["mqtt_ids"]["model"] == *model && a["mqtt_ids"]["class"] == *class)
                .count()
        };
        let updates = alerts
            .iter()
            .filter(|a| a["mqtt_ids"]["row"] == "flow_update" && a["mqtt_ids"]["class"] == *class)
            .count();
        eprintln!(
            "{class}: {} packets, alerts {} (mqttset model {}, biflow model {} of which {updates} \
             while the flow ran), suppressed {}, detections {:?}, rows {:?}",
            summary.packets,
            alerts.len(),
            of("rf-mqttset"),
            of("rf-biflow"),
            summary.alerts.suppressed,
            summary.detections,
            summary.rows_scored,
        );
        assert!(of("rf-mqttset") > 0, "{class}: no mqttset-model alert");
        for a in &alerts {
            for key in [
                "timestamp",
                "flow_id",
                "src_ip",
                "src_port",
                "dest_ip",
                "dest_port",
                "proto",
            ] {
                assert!(!a[key].is_null(), "{key} missing in {a}");
            }
            assert_eq!(a["event_type"], "alert");
            for key in ["signature", "category", "severity", "signature_id"] {
                assert!(!a["alert"][key].is_null(), "{key} missing in {a}");
            }
        }
        total_updates += updates;
        if *class == "malformed" {
            assert!(alerts.iter().any(|a| a["mqtt_ids"]["source"] == "finding"));
        }
        if *class == "bruteforce" {
            let model_alert = alerts
                .iter()
                .find(|a| a["mqtt_ids"]["model"] == "rf-mqttset")
                .unwrap();
            assert!(!model_alert["mqtt_ids"]["top_features"]
                .as_array()
                .unwrap()
                .is_empty());
            assert!(alerts.iter().any(|a| !a["mqtt"]["client_id"].is_null()));
        }
        // The rate limit: at most one alert per flow, signature and minute of packet time.
        let mut seen = std::collections::HashMap::new();
        for a in &alerts {
            let key = (a["flow_id"].as_u64(), a["alert"]["signature_id"].as_u64());
            let t = a["timestamp"].as_str().unwrap().to_string();
            if let Some(prev) = seen.insert(key, t.clone()) {
                assert!(prev[..16] != t[..16] || prev == t, "{prev} {t}");
            }
        }
    }
    assert!(
        total_updates > 0,
        "long flows must be reported while they run (flow_update)"
    );
    // False positives on benign traffic no model saw.
    let (summary, alerts) = detect(load(), config, &[data.join("benign-5mb-train.pcap")]);
    let mut report = Vec::new();
    for ((name, rows), (_, detections)) in summary.rows_scored.iter().zip(&summary.detections) {
        let rate = *detections as f64 / (*rows).max(1) as f64;
        report.push(format!(
            "{name}: {detections} of {rows} rows ({:.4} %)",
            100.0 * rate
        ));
        // Measured 2026-11-21: rf-mqttset 1.11 % of packet rows; see docs/detect.md.
        assert!(rate < 0.02, "{name}: false-positive rate {rate}");
    }
    let model_alerts = alerts
        .iter()
        .filter(|a| a["mqtt_ids"]["source"] == "model")
        .count();
    eprintln!(
        "benign-5mb-train (held out): {} packets; false positives {}; model alerts after the rate limit {model_alerts}",
        summary.packets,
        report.join(", ")
    );
}
