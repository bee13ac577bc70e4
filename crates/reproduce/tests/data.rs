//! `reproduce --data DIR`: on the real MQTTset captures, and on tables shaped like the published
//! dataset CSVs.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::*;
use mqtt_ids_features::SetKind;
use mqtt_ids_reproduce::inputs::discover;

#[test]
fn real_captures_give_every_table_and_figure_and_the_same_numbers_twice() {
    let data = shared_data().join("mqttset-train");
    assert!(
        data.is_dir(),
        "{} is missing (see shared/data/README.md)",
        data.display()
    );
    let out = temp_dir("captures");
    let r = quick_run(Some(data.clone()), &out, 3);
    check_report(&out);
    assert_eq!(r.provenance.source, "captures");
    assert_eq!(r.provenance.inputs.len(), 7);
    // benign and benign-5mb are one class; malariados is the paper's DoS.
    let h = r.hindy2020.as_ref().unwrap();
    let classes: Vec<&str> = h.levels[2]
        .table
        .classes
        .iter()
        .map(|c| c.class.as_str())
        .collect();
    assert_eq!(
        classes,
        [
            "bruteforce",
            "flood",
            "legitimate",
            "malariados",
            "malformed",
            "slowite"
        ]
    );
    let m = r.mqttset2020.as_ref().unwrap();
    assert_eq!(m.variants.len(), 2);
    assert!(m.variants.iter().all(|v| v.models.len() == 6));
    assert!(h.levels.iter().all(|l| l.models.len() == 7));
    // The balanced dataset: every attack class at the legitimate count / 5.
    let b = &m.variants[1].table.classes;
    let legit = b.iter().find(|c| c.class == "legitimate").unwrap().rows;
    assert!(
        b.iter()
            .filter(|c| c.class != "legitimate")
            .all(|c| c.rows == legit / 5),
        "{b:?}"
    );
    // Same seed, same numbers.
    let out2 = temp_dir("captures-again");
    let r2 = quick_run(Some(data), &out2, 3);
    assert_eq!(scores(&r), scores(&r2));
    remove_dirs(&[&out, &out2]);
}

fn fixture_value(class: usize, row: usize, col: usize) -> f64 {
    // Deterministic, class-dependent values with some overlap between classes.
    let noise = ((row * 7919 + col * 104_729) % 97) as f64 / 97.0;
    (class as f64 + 1.0) * (col as f64 + 1.0) * 0.5 + 3.0 * noise
}

/// Writes tables with the published column names (taken from our schemas, which are the
/// published headers), and MQTTset's train70/test30 pair.
fn write_published_fixtures(dir: &Path) {
    let hindy = ["normal", "scan_A", "scan_sU", "sparta", "mqtt_bruteforce"];
    for (set, prefix) in [
        (SetKind::Packet, ""),
        (SetKind::Uniflow, "uniflow_"),
        (SetKind::Biflow, "biflow_"),
    ] {
        let schema = set.schema();
        let names: Vec<&str> = schema.columns.iter().map(|c| c.name).collect();
        for (k, file) in hindy.iter().enumerate() {
            let mut s = names.join(",");
            s.push('\n');
            for row in 0..60 {
                let cells: Vec<String> = names
                    .iter()
                    .enumerate()
                    .map(|(j, n)| match *n {
                        "is_attack" => ((k > 0) as u8).to_string(),
                        "timestamp" => format!("{}.5", 1_590_000_000 + row),
                        "src_ip" | "dst_ip" | "ip_src" | "ip_dst" => format!("192.168.2.{}", k + 1),
                        "protocol" => "TCP".into(),
                        "ip_flags" | "tcp_flags" | "mqtt_flags" => "0x00".into(),
                        _ => format!("{:.3}", fixture_value(k, row, j)),
                    })
                    .collect();
                let _ = writeln!(s, "{}", cells.join(","));
            }
            std::fs::write(dir.join(format!("{prefix}{file}.csv")), s).unwrap();
        }
    }
    let schema = SetKind::Mqttset.schema();
    let names: Vec<&str> = schema.columns.iter().map(|c| c.name).collect();
    let classes = [
        "bruteforce",
        "dos",
        "flood",
        "legitimate",
        "malformed",
        "slowite",
    ];
    for (file, rows) in [("train70.csv", 70), ("test30.csv", 30)] {
        let mut s = names.join(",");
        s.push('\n');
        for (k, class) in classes.iter().enumerate() {
            let n = if *class == "legitimate" {
                rows * 4
            } else {
                rows / 2
            };
            for row in 0..n {
                let cells: Vec<String> = names
                    .iter()
                    .enumerate()
                    .map(|(j, n)| match *n {
                        "target" => class.to_string(),
                        "tcp.flags" => format!("0x{:08x}", 0x10 + k),
                        "mqtt.msg" | "mqtt.protoname" | "mqtt.willmsg" | "mqtt.willtopic" => {
                            if k % 2 == 0 {
                                "MQTT".into()
                            } else {
                                "0".into()
                            }
                        }
                        _ => format!("{:.3}", fixture_value(k, row + file.len(), j)),
                    })
                    .collect();
                let _ = writeln!(s, "{}", cells.join(","));
            }
        }
        std::fs::write(dir.join(file), s).unwrap();
    }
    std::fs::write(dir.join("notes.csv"), "a,b\n1,2\n").unwrap();
}

#[test]
fn published_csvs_are_recognised_by_columns_and_names_and_reported() {
    let data = temp_dir("published-in");
    write_published_fixtures(&data);
    let d = discover(&data).unwrap();
    assert_eq!(
        d.hindy_tables.iter().map(Vec::len).collect::<Vec<_>>(),
        [5, 5, 5]
    );
    assert_eq!(d.mqttset_pairs.len(), 1);
    assert!(d.captures.is_empty());
    assert_eq!(d.ignored.len(), 1, "{:?}", d.ignored);
    let out = temp_dir("published-out");
    let r = quick_run(Some(data.clone()), &out, 0);
    check_report(&out);
    assert_eq!(r.provenance.source, "published-csv");
    let h = r.hindy2020.as_ref().unwrap();
    assert_eq!(h.levels.len(), 3);
    let classes: Vec<&str> = h.levels[0]
        .table
        .classes
        .iter()
        .map(|c| c.paper_class.as_deref().unwrap())
        .collect();
    assert_eq!(
        classes,
        ["MQTT_BF", "Benign", "Scan_A", "Scan_sU", "Sparta"]
    );
    let un = &r.mqttset2020.as_ref().unwrap().variants[0];
    assert!(un.how.starts_with("published split"), "{}", un.how);
    // The published split: 70 + 30 rows per unit as written.
    let m = &un.models[0];
    assert_eq!(m.splits[0].n_test, 30 * 4 + 5 * 15);
    assert!(r
        .provenance
        .reductions
        .iter()
        .any(|x| x.contains("notes.csv")));
    remove_dirs(&[&data, &out]);
}

#[test]
fn an_empty_data_directory_is_an_error_that_says_what_is_expected() {
    let data = temp_dir("empty");
    std::fs::write(data.join("readme.txt"), "nothing").unwrap();
    let config = mqtt_ids_reproduce::Config::new(
        vec![mqtt_ids_reproduce::Paper::Hindy2020],
        true,
        0,
        Some(data.clone()),
        temp_dir("empty-out"),
    );
    let out = config.out_dir.clone();
    let e = mqtt_ids_reproduce::run(&config, &|_| {}).unwrap_err();
    assert!(
        e.contains("no capture and no published table") && e.contains("readme.txt"),
        "{e}"
    );
    remove_dirs(&[&data, &out]);
}
