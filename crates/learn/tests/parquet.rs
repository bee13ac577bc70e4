//! Parquet input: a file written here with the parquet crate's `ArrowWriter` and a CSV with the
//! same content give identical datasets under the same table options.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, DictionaryArray, Float32Array, Float64Array,
    Int64Array, RecordBatch, StringArray, UInt16Array,
};
use mqtt_ids_learn::table::{read_files, LabelSource, TableOptions, TextPolicy};
use parquet::arrow::ArrowWriter;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mqtt-ids-learn-pq-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    // Two row groups, so reading crosses a batch boundary.
    writer.write(&batch.slice(0, 3)).unwrap();
    writer.flush().unwrap();
    writer.write(&batch.slice(3, batch.num_rows() - 3)).unwrap();
    writer.close().unwrap();
}

/// Integers (with a null), floats (with NaN), f32, booleans, unsigned ports, plain and
/// dictionary strings, `0x…` text, a hashed payload and the label.
fn mixed_columns() -> Vec<(&'static str, ArrayRef)> {
    vec![
        (
            "tcp.len",
            Arc::new(Int64Array::from(vec![
                Some(10),
                None,
                Some(0),
                Some(1460),
                Some(7),
            ])) as ArrayRef,
        ),
        (
            "ratio",
            Arc::new(Float64Array::from(vec![0.5, f64::NAN, 1.25, -3.0, 1e-3])),
        ),
        (
            "weight",
            Arc::new(Float32Array::from(vec![2.5f32, 0.1, 3.0, 0.0, 7.75])),
        ),
        (
            "retain",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
                Some(false),
            ])),
        ),
        (
            "dst_port",
            Arc::new(UInt16Array::from(vec![1883u16, 1883, 22, 443, 1883])),
        ),
        (
            "protocol",
            Arc::new(StringArray::from(vec![
                Some("MQTT"),
                Some("TCP"),
                None,
                Some("TCP"),
                Some("MQTT"),
            ])),
        ),
        (
            "kind",
            Arc::new(
                vec!["publish", "ack", "ack", "connect", "publish"]
                    .into_iter()
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
        ),
        (
            "tcp.flags",
            Arc::new(StringArray::from(vec![
                "0x00000018",
                "0x00000010",
                "0x00000002",
                "0x00000018",
                "0x00000011",
            ])),
        ),
        (
            "mqtt.msg",
            Arc::new(StringArray::from(vec![
                Some("3130"),
                None,
                Some(""),
                Some("6f6e"),
                Some("3130"),
            ])),
        ),
        (
            "target",
            Arc::new(StringArray::from(vec![
                "legitimate",
                "dos",
                "legitimate",
                "bruteforce",
                "dos",
            ])),
        ),
    ]
}

/// The same rows as a CSV writer (pandas, our features crate) would print them.
const MIXED_CSV: &str =
    "tcp.len,ratio,weight,retain,dst_port,protocol,kind,tcp.flags,mqtt.msg,target\n\
10,0.5,2.5,True,1883,MQTT,publish,0x00000018,3130,legitimate\n\
,NaN,0.1,False,1883,TCP,ack,0x00000010,,dos\n\
0,1.25,3.0,,22,,ack,0x00000002,,legitimate\n\
1460,-3.0,0.0,True,443,TCP,connect,0x00000018,6f6e,bruteforce\n\
7,0.001,7.75,False,1883,MQTT,publish,0x00000011,3130,dos\n";

#[test]
fn parquet_and_csv_with_the_same_content_give_identical_datasets() {
    let d = temp_dir("mixed");
    let pq = d.join("train.parquet");
    let csv = d.join("train.csv");
    write_parquet(&pq, mixed_columns());
    std::fs::write(&csv, MIXED_CSV).unwrap();
    let options = TableOptions {
        hash_columns: vec!["mqtt.msg".into()],
        one_hot: vec!["protocol".into(), "kind".into()],
        ..TableOptions::with_label_column("target")
    };
    let from_parquet = read_files(&[&pq], &options).unwrap();
    let from_csv = read_files(&[&csv], &options).unwrap();
    assert_eq!(from_parquet, from_csv);
    assert_eq!(
        from_parquet.classes,
        vec!["bruteforce", "dos", "legitimate"]
    );
    assert_eq!(
        from_parquet.feature_names,
        vec![
            "tcp.len",
            "ratio",
            "weight",
            "retain",
            "dst_port",
            "protocol=MQTT",
            "protocol=TCP",
            "kind=ack",
            "kind=connect",
            "kind=publish",
            "tcp.flags",
            "mqtt.msg",
        ]
    );
    // Null and NaN are the missing value (0 here); booleans 0/1; hex text an integer.
    assert_eq!(from_parquet.records.row(1)[..4], [0.0, 0.0, 0.1, 0.0]);
    assert_eq!(from_parquet.records.row(0)[3], 1.0);
    assert_eq!(from_parquet.records.row(0)[10], 24.0);
    // Excluding columns works on both alike, and the files may be mixed.
    let mut fewer = options.clone();
    fewer.exclude = vec!["ratio".into(), "tcp.*".into()];
    let both = read_files(&[&pq, &csv], &fewer).unwrap();
    assert_eq!(both.n_rows(), 10);
    assert_eq!(both.records.row(2), both.records.row(7));
    assert!(!both.feature_names.iter().any(|n| n.starts_with("tcp.")));
}

/// Our features output: byte fields are Parquet Binary and absent values null, where the CSV
/// prints lower-case hex, `<MISSING>` for an empty value and `0` for an absent one.
#[test]
fn byte_fields_and_absent_values_read_as_the_mqttset_csv_prints_them() {
    let d = temp_dir("bytes");
    let pq = d.join("mqttset_flood.parquet");
    write_parquet(
        &pq,
        vec![
            (
                "mqtt.msg",
                Arc::new(BinaryArray::from(vec![
                    Some(&b"10"[..]),
                    None,
                    Some(&b""[..]),
                    Some(&[0xde, 0xad][..]),
                    Some(&b"10"[..]),
                ])) as ArrayRef,
            ),
            (
                "mqtt.protoname",
                Arc::new(StringArray::from(vec![
                    Some("MQTT"),
                    None,
                    None,
                    Some("MQTT"),
                    None,
                ])),
            ),
            (
                "mqtt.len",
                Arc::new(Int64Array::from(vec![
                    Some(2),
                    None,
                    Some(0),
                    Some(2),
                    Some(2),
                ])),
            ),
            (
                "target",
                Arc::new(StringArray::from(vec![
                    "flood",
                    "legitimate",
                    "flood",
                    "flood",
                    "legitimate",
                ])),
            ),
        ],
    );
    let csv = d.join("mqttset_flood.csv");
    std::fs::write(
        &csv,
        "mqtt.msg,mqtt.protoname,mqtt.len,target\n\
         3130,MQTT,2,flood\n0,0,0,legitimate\n<MISSING>,0,0,flood\n\
         dead,MQTT,2,flood\n3130,0,2,legitimate\n",
    )
    .unwrap();
    let options = TableOptions::mqttset2020();
    let a = read_files(&[&pq], &options).unwrap();
    let b = read_files(&[&csv], &options).unwrap();
    assert_eq!(a, b);
    // Absent (null, or `0` in the CSV) is the missing value; an empty payload is a category.
    assert_eq!(a.records.row(1)[..2], [0.0, 0.0]);
    assert_ne!(a.records.row(2)[0], 0.0);
    assert_eq!(a.records.row(0)[0], a.records.row(4)[0]);
}

#[test]
fn hindy_style_labels_and_groups_read_the_same_from_parquet() {
    let d = temp_dir("hindy");
    let columns = || -> Vec<(&'static str, ArrayRef)> {
        vec![
            (
                "ip_src",
                Arc::new(StringArray::from(vec![
                    "10.0.0.9", "10.0.0.1", "10.0.0.9", "10.0.0.3",
                ])) as ArrayRef,
            ),
            (
                "prt_src",
                Arc::new(Int64Array::from(vec![4000, 5000, 4000, 6000])),
            ),
            (
                "fwd_num_pkts",
                Arc::new(Int64Array::from(vec![Some(1), Some(5), None, Some(2)])),
            ),
            ("is_attack", Arc::new(Int64Array::from(vec![1, 0, 1, 1]))),
        ]
    };
    let pq = d.join("biflow_scan_A.parquet");
    write_parquet(&pq, columns());
    let csv = d.join("biflow_scan_A.csv");
    std::fs::write(
        &csv,
        "ip_src,prt_src,fwd_num_pkts,is_attack\n10.0.0.9,4000,1,1\n10.0.0.1,5000,5,0\n\
         10.0.0.9,4000,,1\n10.0.0.3,6000,2,1\n",
    )
    .unwrap();
    let mut options = TableOptions::hindy2020();
    options.label = LabelSource::FileNameWhereAttack {
        column: "is_attack".into(),
        benign: "normal".into(),
    };
    options.group_columns = vec!["ip_src".into(), "prt_src".into()];
    let a = read_files(&[&pq], &options).unwrap();
    let b = read_files(&[&csv], &options).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.classes, vec!["normal", "scan_A"]);
    assert_eq!(a.feature_names, vec!["fwd_num_pkts"]);
    assert_eq!(a.records.row(2), &[-1.0]);
    let g = a.groups.as_ref().unwrap();
    assert_eq!(g[0], g[2]);
    assert_ne!(g[0], g[1]);
}

#[test]
fn parquet_errors_name_the_file_row_and_column() {
    let d = temp_dir("errors");
    let pq = d.join("bad.parquet");
    write_parquet(
        &pq,
        vec![
            (
                "len",
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
            ),
            (
                "note",
                Arc::new(StringArray::from(vec!["1", "2", "x", "4"])),
            ),
            ("day", Arc::new(Date32Array::from(vec![1, 2, 3, 4]))),
            (
                "target",
                Arc::new(StringArray::from(vec!["a", "b", "a", "b"])),
            ),
        ],
    );
    let mut options = TableOptions::with_label_column("target");
    options.exclude = vec!["day".into()];
    let err = read_files(&[&pq], &options).unwrap_err().to_string();
    assert!(
        err.contains("bad.parquet") && err.contains("row 3") && err.contains("`note`"),
        "{err}"
    );
    // Text read as the options say: hashed, it is accepted.
    options.text = TextPolicy::Hash;
    assert_eq!(read_files(&[&pq], &options).unwrap().n_rows(), 4);
    // A column of another type is refused when used, by name and type.
    options.exclude.clear();
    let err = read_files(&[&pq], &options).unwrap_err().to_string();
    assert!(err.contains("`day`") && err.contains("Date32"), "{err}");
    // Not a Parquet file at all.
    let fake = d.join("fake.parquet");
    std::fs::write(&fake, "len,target\n1,a\n").unwrap();
    let err = read_files(&[&fake], &options).unwrap_err().to_string();
    assert!(err.contains("fake.parquet"), "{err}");
}
