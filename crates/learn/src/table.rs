//! Reading feature tables from CSV, one record at a time: our own feature CSVs and the published
//! dataset CSVs unchanged (MQTTset `train70*.csv` with a `target` column; MQTT-IoT-IDS2020 packet,
//! `uniflow_*` and `biflow_*` CSVs whose class comes from the file name and the `is_attack` column).

use crate::dataset::{Dataset, Matrix};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the class of a row comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelSource {
    /// A column holding the class name (MQTTset: `target`).
    Column(String),
    /// The file's class (see [`class_from_file_name`]) for every row.
    FileName,
    /// The file's class where `column` (MQTT-IoT-IDS2020: `is_attack`) is non-zero, `benign` elsewhere:
    /// the attack captures of MQTT-IoT-IDS2020 also hold the background traffic.
    FileNameWhereAttack { column: String, benign: String },
    /// The file's class, keeping only the rows that agree with it: rows with `column` = 0 from
    /// the file whose class is `benign`, rows with `column` ≠ 0 from the others; the rest are
    /// skipped. This is what Hindy et al.'s code does (`load_file(…, is_attack)`): the background
    /// traffic inside the attack captures is left out.
    FileNameMatchingAttack { column: String, benign: String },
}

/// What to do with a cell that is neither a number, a `0x…` hexadecimal integer, `True`/`False` nor empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextPolicy {
    /// Stop with an error naming the file, line and column.
    Error,
    /// Replace the text by a stable 24-bit hash (FNV-1a), exact in `f32`: a category code that does
    /// not depend on the data seen, so a saved model reads new files the same way.
    Hash,
}

/// How to turn CSV files into a [`Dataset`].
#[derive(Clone, Debug, PartialEq)]
pub struct TableOptions {
    pub label: LabelSource,
    /// Columns left out of the features: exact names, or a prefix followed by `*` (`mqtt_flag_*`).
    pub exclude: Vec<String>,
    pub text: TextPolicy,
    /// Columns whose non-empty cells are always hashed as text (see [`TextPolicy::Hash`]), even
    /// when a cell happens to look like a number: payload hex such as `mqtt.msg` `3130`.
    pub hash_columns: Vec<String>,
    /// Value for an empty cell or `nan` (the published CSVs leave absent fields empty or 0).
    pub missing_value: f32,
    /// Columns whose values, with the file, identify a row's group (e.g. `tcp.stream`, or the
    /// addresses and ports of a connection); they may also be excluded from the features.
    pub group_columns: Vec<String>,
}

impl TableOptions {
    /// Label from `column`, nothing excluded, text is an error, empty cells are 0.
    pub fn with_label_column(column: &str) -> Self {
        TableOptions {
            label: LabelSource::Column(column.to_string()),
            exclude: Vec::new(),
            text: TextPolicy::Error,
            hash_columns: Vec::new(),
            missing_value: 0.0,
            group_columns: Vec::new(),
        }
    }

    /// MQTTset (Vaccari et al. 2020) CSVs: label column `target`; the 33 published fields are all
    /// kept (the authors already removed addresses, ports, times, `tcp.stream`, checksums, client
    /// ids, topics); `0x…` flags are read as integers and the text fields (`mqtt.msg`,
    /// `mqtt.protoname`, `mqtt.willmsg`, `mqtt.willtopic`) are hashed to category codes.
    pub fn mqttset2020() -> Self {
        TableOptions {
            text: TextPolicy::Hash,
            hash_columns: [
                "mqtt.msg",
                "mqtt.protoname",
                "mqtt.willmsg",
                "mqtt.willtopic",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            ..TableOptions::with_label_column("target")
        }
    }

    /// MQTT-IoT-IDS2020 (Hindy et al. 2020) packet (`normal.csv`…), uni-flow (`uniflow_*.csv`)
    /// and bi-flow (`biflow_*.csv`) CSVs, read as the authors' code does: class from the file
    /// name, keeping `is_attack = 0` rows of `normal` and `is_attack = 1` rows of the attack
    /// files, empty cells as −1 (`fillna(-1)`). Dropped: "source and destination IP addresses,
    /// protocol, and MQTT flags" as the paper says, and with them ports, the timestamp and the
    /// text summaries `ip_flags`/`tcp_flags`/`mqtt_flags` (the per-bit columns stay). Their code
    /// kept ports and one-hot encoded the packet `protocol`; this preset does not.
    pub fn hindy2020() -> Self {
        TableOptions {
            label: LabelSource::FileNameMatchingAttack {
                column: "is_attack".into(),
                benign: "normal".into(),
            },
            exclude: [
                "timestamp",
                "src_ip",
                "dst_ip",
                "ip_src",
                "ip_dst",
                "src_port",
                "dst_port",
                "prt_src",
                "prt_dst",
                "proto",
                "protocol",
                "ip_flags",
                "tcp_flags",
                "mqtt_flags",
                "mqtt_flag_*",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            text: TextPolicy::Error,
            hash_columns: Vec::new(),
            missing_value: -1.0,
            group_columns: Vec::new(),
        }
    }

    fn is_excluded(&self, name: &str) -> bool {
        self.exclude
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == pattern,
            })
    }
}

/// The class a file stands for: its stem without a `biflow_`/`uniflow_` prefix and a
/// `-train`/`-test`/`_train`/`_test` suffix (`biflow_scan_A.csv` → `scan_A`).
pub fn class_from_file_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = stem.as_str();
    for prefix in ["biflow_", "uniflow_"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    for suffix in ["-train", "-test", "_train", "_test"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest;
        }
    }
    s.to_string()
}

fn fnv1a_24(text: &str) -> f32 {
    let mut h: u32 = 0x811C_9DC5;
    for b in text.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    // Fold to 24 bits so the code is exact in an f32 mantissa.
    ((h >> 24) ^ (h & 0x00FF_FFFF)) as f32
}

/// Parses one cell. `Err(hint)` when it is text and the policy says so.
fn parse_cell(raw: &str, options: &TableOptions) -> std::result::Result<f32, &'static str> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(options.missing_value);
    }
    if let Ok(v) = s.parse::<f64>() {
        return Ok(if v.is_finite() {
            v as f32
        } else {
            options.missing_value
        });
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16)
            .map(|v| v as f32)
            .map_err(|_| "bad hexadecimal integer");
    }
    match s {
        "True" | "true" | "TRUE" => return Ok(1.0),
        "False" | "false" | "FALSE" => return Ok(0.0),
        _ => {}
    }
    match options.text {
        TextPolicy::Hash => Ok(fnv1a_24(s)),
        TextPolicy::Error => Err("text; exclude the column or hash text columns"),
    }
}

fn group_id(file_index: usize, values: &[&str]) -> u64 {
    let mut h: u64 =
        0xCBF2_9CE4_8422_2325 ^ (file_index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for v in values {
        for b in v.trim().bytes().chain(std::iter::once(0x1F)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01B3);
        }
    }
    h
}

/// Reads and concatenates CSV files into one dataset. Every file must have the same feature
/// columns (after exclusion) in the same order. Classes are sorted by name.
pub fn read_csv_files<P: AsRef<Path>>(paths: &[P], options: &TableOptions) -> Result<Dataset> {
    if paths.is_empty() {
        return Err(Error::Empty("no CSV file given".into()));
    }
    let mut feature_names: Option<(PathBuf, Vec<String>)> = None;
    let mut data: Vec<f32> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut groups: Vec<u64> = Vec::new();
    for (file_index, path) in paths.iter().enumerate() {
        let path = path.as_ref();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|source| Error::Csv {
                path: path.to_path_buf(),
                source,
            })?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|source| Error::Csv {
                path: path.to_path_buf(),
                source,
            })?
            .iter()
            .map(|s| s.trim().to_string())
            .collect();
        let find = |name: &str| -> Result<usize> {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| Error::MissingColumn {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    available: header.join(", "),
                })
        };
        let file_class = class_from_file_name(path);
        let (label_col, attack_col) = match &options.label {
            LabelSource::Column(c) => (Some(find(c)?), None),
            LabelSource::FileName => (None, None),
            LabelSource::FileNameWhereAttack { column, .. }
            | LabelSource::FileNameMatchingAttack { column, .. } => (None, Some(find(column)?)),
        };
        let group_cols: Vec<usize> = options
            .group_columns
            .iter()
            .map(|c| find(c))
            .collect::<Result<_>>()?;
        let feature_cols: Vec<usize> = (0..header.len())
            .filter(|&j| Some(j) != label_col && Some(j) != attack_col)
            .filter(|&j| !options.is_excluded(&header[j]))
            .collect();
        let names: Vec<String> = feature_cols.iter().map(|&j| header[j].clone()).collect();
        let hashed: Vec<bool> = names
            .iter()
            .map(|n| options.hash_columns.contains(n))
            .collect();
        match &feature_names {
            None => feature_names = Some((path.to_path_buf(), names)),
            Some((first, expected)) if *expected != names => {
                return Err(Error::HeaderMismatch {
                    path: path.to_path_buf(),
                    first: first.display().to_string(),
                    detail: format!(
                        "expected [{}], found [{}]",
                        expected.join(", "),
                        names.join(", ")
                    ),
                })
            }
            Some(_) => {}
        }
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(source) => {
                    return Err(Error::Csv {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            }
            let line = record.position().map_or(0, |p| p.line());
            let label = match (&options.label, label_col, attack_col) {
                (_, Some(j), _) => record.get(j).unwrap_or("").trim().to_string(),
                (LabelSource::FileNameWhereAttack { benign, .. }, _, Some(j)) => {
                    let raw = record.get(j).unwrap_or("");
                    let flag = parse_cell(raw, options).map_err(|hint| Error::Parse {
                        path: path.to_path_buf(),
                        line,
                        column: header[j].clone(),
                        value: raw.chars().take(40).collect(),
                        hint,
                    })?;
                    if flag != 0.0 {
                        file_class.clone()
                    } else {
                        benign.clone()
                    }
                }
                (LabelSource::FileNameMatchingAttack { benign, .. }, _, Some(j)) => {
                    let raw = record.get(j).unwrap_or("");
                    let flag = parse_cell(raw, options).map_err(|hint| Error::Parse {
                        path: path.to_path_buf(),
                        line,
                        column: header[j].clone(),
                        value: raw.chars().take(40).collect(),
                        hint,
                    })?;
                    if (flag != 0.0) == (file_class != *benign) {
                        file_class.clone()
                    } else {
                        continue;
                    }
                }
                _ => file_class.clone(),
            };
            for (&j, &hash) in feature_cols.iter().zip(&hashed) {
                let raw = record.get(j).unwrap_or("");
                if hash {
                    let t = raw.trim();
                    data.push(if t.is_empty() {
                        options.missing_value
                    } else {
                        fnv1a_24(t)
                    });
                    continue;
                }
                let v = parse_cell(raw, options).map_err(|hint| Error::Parse {
                    path: path.to_path_buf(),
                    line,
                    column: header[j].clone(),
                    value: raw.chars().take(40).collect(),
                    hint,
                })?;
                data.push(v);
            }
            labels.push(label);
            if !group_cols.is_empty() {
                let values: Vec<&str> = group_cols
                    .iter()
                    .map(|&j| record.get(j).unwrap_or(""))
                    .collect();
                groups.push(group_id(file_index, &values));
            }
        }
    }
    let (_, feature_names) = feature_names.expect("at least one file was read");
    let mut class_index: BTreeMap<String, usize> = labels.iter().map(|l| (l.clone(), 0)).collect();
    for (i, v) in class_index.values_mut().enumerate() {
        *v = i;
    }
    let targets: Vec<usize> = labels.iter().map(|l| class_index[l]).collect();
    let classes: Vec<String> = class_index.into_keys().collect();
    let n_rows = targets.len();
    let records = Matrix::new(n_rows, feature_names.len(), data)?;
    let ds = Dataset::new(records, targets, classes, feature_names)?;
    if options.group_columns.is_empty() {
        Ok(ds)
    } else {
        ds.with_groups(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mqtt-ids-learn-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn mqttset_like_csv_with_hex_and_text() {
        let d = temp_dir("mqttset");
        let p = write(
            &d,
            "train70_reduced.csv",
            "tcp.flags,tcp.len,mqtt.protoname,mqtt.msg,target\n\
             0x00000018,10,MQTT,0,legitimate\n\
             0x00000010,0,0,,dos\n\
             0x00000018,2.5,MQTT,3130,legitimate\n",
        );
        let ds = read_csv_files(&[&p], &TableOptions::mqttset2020()).unwrap();
        assert_eq!(ds.classes, vec!["dos", "legitimate"]);
        assert_eq!(ds.targets, vec![1, 0, 1]);
        assert_eq!(
            ds.feature_names,
            vec!["tcp.flags", "tcp.len", "mqtt.protoname", "mqtt.msg"]
        );
        assert_eq!(ds.records.row(0)[0], 24.0);
        assert_eq!(ds.records.row(1)[0], 16.0);
        assert_eq!(ds.records.row(2)[1], 2.5);
        assert_eq!(ds.records.row(1)[3], 0.0); // empty cell → missing value
        assert_eq!(ds.records.row(0)[2], ds.records.row(2)[2]); // same text → same code
        assert_ne!(ds.records.row(0)[2], 0.0);
        // mqtt.msg is always text: `3130` (the payload "10") is hashed, not read as a number.
        assert_eq!(ds.records.row(2)[3], fnv1a_24("3130"));
        // The same file with text refused names the line and the column.
        let err = read_csv_files(&[&p], &TableOptions::with_label_column("target")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("line 2") && msg.contains("mqtt.protoname") && msg.contains("MQTT"),
            "{msg}"
        );
    }

    #[test]
    fn hindy_biflow_class_from_file_and_is_attack_with_exclusions_and_groups() {
        let d = temp_dir("hindy");
        let head = "ip_src,ip_dst,prt_src,prt_dst,proto,fwd_num_pkts,bwd_num_pkts,is_attack\n";
        let a = write(
            &d,
            "biflow_normal.csv",
            &format!("{head}10.0.0.1,10.0.0.2,5000,1883,6,3,,0\n"),
        );
        let b = write(
            &d,
            "biflow_scan_A.csv",
            &format!(
                "{head}10.0.0.9,10.0.0.2,4000,22,6,1,0,1\n10.0.0.1,10.0.0.2,5000,1883,6,5,5,0\n"
            ),
        );
        let mut opts = TableOptions::hindy2020();
        opts.group_columns = vec!["ip_src".into(), "prt_src".into()];
        // As the authors' code: the background row (is_attack = 0) of the attack file is left out.
        let ds = read_csv_files(&[&a, &b], &opts).unwrap();
        assert_eq!(ds.feature_names, vec!["fwd_num_pkts", "bwd_num_pkts"]);
        assert_eq!(ds.classes, vec!["normal", "scan_A"]);
        assert_eq!(ds.targets, vec![0, 1]);
        assert_eq!(ds.records.row(1), &[1.0, 0.0]);
        assert_eq!(ds.records.row(0), &[3.0, -1.0]); // empty cell → −1 (`fillna(-1)`)
                                                     // Labelled by is_attack instead, the background row is `normal`.
        let mut by_flag = opts.clone();
        by_flag.label = LabelSource::FileNameWhereAttack {
            column: "is_attack".into(),
            benign: "normal".into(),
        };
        let ds = read_csv_files(&[&a, &b], &by_flag).unwrap();
        assert_eq!(ds.targets, vec![0, 1, 0]);
        let g = ds.groups.as_ref().unwrap();
        // Same addresses in two different files are two different groups.
        assert_ne!(g[0], g[2]);
        assert_ne!(g[1], g[2]);
        // A file whose columns differ is refused with both file names.
        let c = write(
            &d,
            "biflow_sparta.csv",
            "ip_src,prt_src,fwd_num_pkts,is_attack\n1,2,3,1\n",
        );
        let err = read_csv_files(&[&a, &c], &opts).unwrap_err().to_string();
        assert!(
            err.contains("biflow_sparta.csv") && err.contains("biflow_normal.csv"),
            "{err}"
        );
        // A missing label column is named.
        let err = read_csv_files(&[&a], &TableOptions::mqttset2020())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`target`"), "{err}");
    }

    #[test]
    fn class_names_from_files() {
        assert_eq!(
            class_from_file_name(Path::new("x/biflow_scan_A.csv")),
            "scan_A"
        );
        assert_eq!(
            class_from_file_name(Path::new("uniflow_mqtt_bruteforce.csv")),
            "mqtt_bruteforce"
        );
        assert_eq!(class_from_file_name(Path::new("flood-train.csv")), "flood");
        assert_eq!(class_from_file_name(Path::new("sparta.csv")), "sparta");
    }
}
