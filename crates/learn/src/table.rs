//! Reading feature tables from CSV (and, through the same rules, Parquet: see
//! [`read_files`]), one record at a time: our own feature tables and the published dataset CSVs
//! unchanged (MQTTset `train70*.csv` with a `target` column; MQTT-IoT-IDS2020 packet,
//! `uniflow_*` and `biflow_*` CSVs whose class comes from the file name and the `is_attack` column).

use crate::dataset::{Dataset, Matrix};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};
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

/// What to do with a cell that is neither a number, a `0x…` hexadecimal integer, `True`/`False`
/// nor empty, in a column that is neither hashed ([`TableOptions::hash_columns`]) nor one-hot
/// encoded ([`TableOptions::one_hot`]). No text is ever dropped or turned into a number
/// silently: it is refused, or hashed because the options say so.
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
    /// Columns whose cells are always hashed as text (see [`TextPolicy::Hash`]), even when a
    /// cell happens to look like a number: payload hex such as `mqtt.msg` `3130`. An empty
    /// cell, a null and `0` — the published MQTTset CSVs' text for an absent field, never a
    /// hex byte string (odd length) — are the missing value, so a CSV and a Parquet file of
    /// the same rows (null where the CSV says `0`) read the same.
    pub hash_columns: Vec<String>,
    /// Value for an empty cell or `nan` (the published CSVs leave absent fields empty or 0).
    pub missing_value: f32,
    /// Columns whose values, with the file, identify a row's group (e.g. `tcp.stream`, or the
    /// addresses and ports of a connection); they may also be excluded from the features.
    pub group_columns: Vec<String>,
    /// Categorical columns (text such as the packet `protocol`, or codes) replaced by one
    /// indicator column per category seen, named `COLUMN=value`, in sorted order, where the
    /// column stood (pandas' `get_dummies`); an empty cell sets no indicator. A column named
    /// here must exist, and is kept even where `exclude` (a paper's preset) leaves it out.
    pub one_hot: Vec<String>,
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
            one_hot: Vec::new(),
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
    /// kept ports and one-hot encoded the packet `protocol`; this preset does not, but adding
    /// `protocol` to [`TableOptions::one_hot`] (`--one-hot protocol`) does it their way.
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
            one_hot: Vec::new(),
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

/// How a table's cells became features: the part of [`TableOptions`] that a model needs to read
/// new rows the same way (recorded in model files, see [`crate::FeatureSchema`]; the label
/// source and group columns are not needed to apply a model).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CellEncoding {
    /// [`TableOptions::exclude`].
    pub exclude: Vec<String>,
    /// [`TableOptions::hash_columns`].
    pub hash_columns: Vec<String>,
    /// [`TableOptions::text`] is [`TextPolicy::Hash`].
    pub hash_text: bool,
    /// [`TableOptions::missing_value`].
    pub missing_value: f32,
    /// [`TableOptions::one_hot`] (the categories are in the model's feature names).
    pub one_hot: Vec<String>,
}

impl From<&TableOptions> for CellEncoding {
    fn from(o: &TableOptions) -> Self {
        CellEncoding {
            exclude: o.exclude.clone(),
            hash_columns: o.hash_columns.clone(),
            hash_text: o.text == TextPolicy::Hash,
            missing_value: o.missing_value,
            one_hot: o.one_hot.clone(),
        }
    }
}

impl CellEncoding {
    /// Table options that read cells this way (the label source is irrelevant here).
    pub fn options(&self) -> TableOptions {
        TableOptions {
            exclude: self.exclude.clone(),
            hash_columns: self.hash_columns.clone(),
            text: if self.hash_text {
                TextPolicy::Hash
            } else {
                TextPolicy::Error
            },
            missing_value: self.missing_value,
            one_hot: self.one_hot.clone(),
            ..TableOptions::with_label_column("")
        }
    }
}

/// The text MQTTset's CSVs (and our mqttset CSV output) write for an absent field.
const ABSENT_TEXT: &str = "0";

/// The class a file stands for: its stem without a feature-set prefix (`biflow_`, `uniflow_`
/// as in MQTT-IoT-IDS2020; `packet_`, `mqttset_` as `mqtt-ids extract` also names its
/// output) and a `-train`/`-test`/`_train`/`_test` suffix (`biflow_scan_A.csv` → `scan_A`,
/// `packet_flood-train.parquet` → `flood`).
pub fn class_from_file_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = stem.as_str();
    for prefix in ["biflow_", "uniflow_", "packet_", "mqttset_"] {
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
        TextPolicy::Error => {
            Err("text: exclude the column, one-hot encode it or hash it (see TableOptions)")
        }
    }
}

fn group_id(file_index: usize, values: &[String]) -> u64 {
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

/// One cell as a file holds it: CSV cells are all text; typed files (Parquet) give numbers
/// directly. Text is read the same way whatever the file format.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// Empty, null or absent.
    Missing,
    /// A typed number.
    Number(f64),
    /// Text as a CSV cell holds it (byte fields as lower-case hex, `<MISSING>` when empty).
    Text(&'a str),
}

/// A number written as text the way a CSV writer would (`6`, not `6.0`), for class names,
/// group ids, hashed and one-hot columns that a typed file holds as numbers.
fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Cell<'_> {
    /// The cell as text (empty when missing).
    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Missing => "".into(),
            Cell::Number(v) => number_text(*v).into(),
            Cell::Text(s) => s.trim().into(),
        }
    }
}

/// A feature value from a cell of a plain column: numbers as they are (non-finite ones and
/// empty cells are the missing value), text by [`parse_cell`]. `Err(hint)` for refused text.
pub(crate) fn number_of(
    cell: Cell<'_>,
    options: &TableOptions,
) -> std::result::Result<f32, &'static str> {
    match cell {
        Cell::Missing => Ok(options.missing_value),
        Cell::Number(v) if v.is_finite() => Ok(v as f32),
        Cell::Number(_) => Ok(options.missing_value),
        Cell::Text(raw) => parse_cell(raw, options),
    }
}

/// A feature value from a cell of a hashed column: the text's code, or the missing value for
/// an empty cell, a null and `0` (see [`TableOptions::hash_columns`]).
pub(crate) fn hash_of(cell: Cell<'_>, options: &TableOptions) -> f32 {
    let t = cell.text();
    if t.is_empty() || t == ABSENT_TEXT {
        options.missing_value
    } else {
        fnv1a_24(&t)
    }
}

/// How a feature column of the input becomes columns of the dataset.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    /// One column: numbers as they are, text by [`TableOptions::text`].
    Number,
    /// One column: a stable hash of the text (see [`TableOptions::hash_columns`]).
    Hash,
    /// One indicator column per category (see [`TableOptions::one_hot`]); the index of the
    /// column's slot in [`TableBuilder::one_hot`].
    OneHot(usize),
}

/// How each column of one file is used.
pub(crate) struct Layout {
    path: PathBuf,
    /// What `line` counts in errors: `line` (CSV) or `row` (Parquet).
    unit: &'static str,
    header: Vec<String>,
    file_index: usize,
    file_class: String,
    label_col: Option<usize>,
    attack_col: Option<usize>,
    group_cols: Vec<usize>,
    /// Input columns that become features, in order, with their encoding.
    features: Vec<(usize, Encoding)>,
}

impl Layout {
    /// Input columns a reader must provide (label, flag, groups, features).
    pub(crate) fn used_columns(&self) -> Vec<usize> {
        let mut used: Vec<usize> = self
            .label_col
            .iter()
            .chain(&self.attack_col)
            .chain(&self.group_cols)
            .copied()
            .chain(self.features.iter().map(|&(j, _)| j))
            .collect();
        used.sort_unstable();
        used.dedup();
        used
    }
}

/// The categories seen in a one-hot column and each row's category.
struct OneHotColumn {
    name: String,
    index: HashMap<String, u32>,
    /// Category code of each row; `u32::MAX` for an empty cell (no indicator set).
    codes: Vec<u32>,
}

/// Assembles a [`Dataset`] from the rows of one or more files (CSV or Parquet), applying the
/// [`TableOptions`] the same way whatever the format.
pub(crate) struct TableBuilder<'o> {
    options: &'o TableOptions,
    /// Feature columns of the first file (one-hot columns under their own name).
    names: Option<(PathBuf, Vec<String>)>,
    /// Row-major values of the non-one-hot feature columns.
    data: Vec<f32>,
    labels: Vec<String>,
    groups: Vec<u64>,
    one_hot: Vec<OneHotColumn>,
    n_files: usize,
}

impl<'o> TableBuilder<'o> {
    pub(crate) fn new(options: &'o TableOptions) -> Self {
        TableBuilder {
            options,
            names: None,
            data: Vec::new(),
            labels: Vec::new(),
            groups: Vec::new(),
            one_hot: options
                .one_hot
                .iter()
                .map(|name| OneHotColumn {
                    name: name.clone(),
                    index: HashMap::new(),
                    codes: Vec::new(),
                })
                .collect(),
            n_files: 0,
        }
    }

    /// Decides the use of every column of a file from its header; every file must give the
    /// same feature columns in the same order.
    pub(crate) fn start_file(
        &mut self,
        path: &Path,
        header: Vec<String>,
        unit: &'static str,
    ) -> Result<Layout> {
        let options = self.options;
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
        // A column asked for by name must exist: a typo would otherwise drop nothing silently.
        for name in &options.one_hot {
            find(name)?;
        }
        let features: Vec<(usize, Encoding)> = (0..header.len())
            .filter(|&j| Some(j) != label_col && Some(j) != attack_col)
            .filter_map(|j| {
                let name = &header[j];
                if let Some(slot) = options.one_hot.iter().position(|c| c == name) {
                    // Named for one-hot encoding: kept even where a preset excludes it.
                    Some((j, Encoding::OneHot(slot)))
                } else if options.is_excluded(name) {
                    None
                } else if options.hash_columns.contains(name) {
                    Some((j, Encoding::Hash))
                } else {
                    Some((j, Encoding::Number))
                }
            })
            .collect();
        let names: Vec<String> = features.iter().map(|&(j, _)| header[j].clone()).collect();
        match &self.names {
            None => self.names = Some((path.to_path_buf(), names)),
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
        self.n_files += 1;
        Ok(Layout {
            path: path.to_path_buf(),
            unit,
            file_class: class_from_file_name(path),
            header,
            file_index: self.n_files - 1,
            label_col,
            attack_col,
            group_cols,
            features,
        })
    }

    /// Adds one row; `cell(j)` gives input column `j` (only [`Layout::used_columns`] are
    /// asked for). `line` names the row in errors (the CSV line, or the row number).
    pub(crate) fn push_row<'c>(
        &mut self,
        layout: &Layout,
        line: u64,
        cell: impl Fn(usize) -> Cell<'c>,
    ) -> Result<()> {
        let options = self.options;
        let number = |j: usize| -> Result<f32> {
            let c = cell(j);
            number_of(c, options).map_err(|hint| Error::Parse {
                path: layout.path.clone(),
                unit: layout.unit,
                line,
                column: layout.header[j].clone(),
                value: c.text().chars().take(40).collect(),
                hint,
            })
        };
        let label = match (&options.label, layout.label_col, layout.attack_col) {
            (_, Some(j), _) => cell(j).text().into_owned(),
            (LabelSource::FileNameWhereAttack { benign, .. }, _, Some(j)) => {
                if number(j)? != 0.0 {
                    layout.file_class.clone()
                } else {
                    benign.clone()
                }
            }
            (LabelSource::FileNameMatchingAttack { benign, .. }, _, Some(j)) => {
                if (number(j)? != 0.0) == (layout.file_class != *benign) {
                    layout.file_class.clone()
                } else {
                    return Ok(());
                }
            }
            _ => layout.file_class.clone(),
        };
        for &(j, encoding) in &layout.features {
            match encoding {
                Encoding::Number => self.data.push(number(j)?),
                Encoding::Hash => self.data.push(hash_of(cell(j), options)),
                Encoding::OneHot(slot) => {
                    let c = cell(j);
                    let t = c.text();
                    let column = &mut self.one_hot[slot];
                    let code = if t.is_empty() {
                        u32::MAX
                    } else if let Some(&code) = column.index.get(t.as_ref()) {
                        code
                    } else {
                        let code = column.index.len() as u32;
                        column.index.insert(t.into_owned(), code);
                        code
                    };
                    column.codes.push(code);
                }
            }
        }
        self.labels.push(label);
        if !layout.group_cols.is_empty() {
            let values: Vec<String> = layout
                .group_cols
                .iter()
                .map(|&j| cell(j).text().into_owned())
                .collect();
            self.groups.push(group_id(layout.file_index, &values));
        }
        Ok(())
    }

    /// The dataset: classes sorted by name, one-hot columns expanded in place into one
    /// indicator column `COLUMN=value` per category (categories sorted by text).
    pub(crate) fn finish(self) -> Result<Dataset> {
        let (_, base_names) = self
            .names
            .ok_or_else(|| Error::Empty("no table file given".into()))?;
        let mut class_index: BTreeMap<String, usize> =
            self.labels.iter().map(|l| (l.clone(), 0)).collect();
        for (i, v) in class_index.values_mut().enumerate() {
            *v = i;
        }
        let targets: Vec<usize> = self.labels.iter().map(|l| class_index[l]).collect();
        let classes: Vec<String> = class_index.into_keys().collect();
        let n_rows = targets.len();
        let (feature_names, data) = if self.one_hot.is_empty() {
            (base_names, self.data)
        } else {
            // Per one-hot column: its categories sorted, and each code's indicator position.
            let mut sorted: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
            for column in &self.one_hot {
                if column.index.is_empty() {
                    return Err(Error::Empty(format!(
                        "column `{}` is to be one-hot encoded but every cell is empty",
                        column.name
                    )));
                }
                let mut categories: Vec<(&String, u32)> =
                    column.index.iter().map(|(k, &v)| (k, v)).collect();
                categories.sort();
                let mut position = vec![0; categories.len()];
                for (p, &(_, code)) in categories.iter().enumerate() {
                    position[code as usize] = p;
                }
                let names = categories.into_iter().map(|(k, _)| k.clone()).collect();
                sorted.push((names, position));
            }
            let slot_of = |name: &String| self.one_hot.iter().position(|c| c.name == *name);
            let mut feature_names = Vec::new();
            for name in &base_names {
                match slot_of(name) {
                    Some(slot) => {
                        feature_names.extend(sorted[slot].0.iter().map(|v| format!("{name}={v}")))
                    }
                    None => feature_names.push(name.clone()),
                }
            }
            let n_plain = base_names.len() - self.one_hot.len();
            let mut data = Vec::with_capacity(n_rows * feature_names.len());
            for i in 0..n_rows {
                let mut plain = self.data[i * n_plain..(i + 1) * n_plain].iter();
                for name in &base_names {
                    match slot_of(name) {
                        Some(slot) => {
                            let (categories, position) = &sorted[slot];
                            let start = data.len();
                            data.resize(start + categories.len(), 0.0);
                            let code = self.one_hot[slot].codes[i];
                            if code != u32::MAX {
                                data[start + position[code as usize]] = 1.0;
                            }
                        }
                        None => data.push(*plain.next().expect("one value per plain column")),
                    }
                }
            }
            (feature_names, data)
        };
        let records = Matrix::new(n_rows, feature_names.len(), data)?;
        let ds = Dataset::new(records, targets, classes, feature_names)?;
        if self.options.group_columns.is_empty() {
            Ok(ds)
        } else {
            ds.with_groups(self.groups)
        }
    }
}

/// Reads one CSV file into `builder`.
fn read_csv_into(builder: &mut TableBuilder, path: &Path) -> Result<()> {
    let csv_error = |source| Error::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(csv_error)?;
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let layout = builder.start_file(path, header, "line")?;
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        let line = record.position().map_or(0, |p| p.line());
        builder.push_row(&layout, line, |j| Cell::Text(record.get(j).unwrap_or("")))?;
    }
    Ok(())
}

/// Reads and concatenates feature tables into one dataset: files whose name ends in `.parquet`
/// as Parquet, the others as CSV (the two may be mixed). Every file must have the same feature
/// columns (after exclusion) in the same order. Classes are sorted by name.
pub fn read_files<P: AsRef<Path>>(paths: &[P], options: &TableOptions) -> Result<Dataset> {
    if paths.is_empty() {
        return Err(Error::Empty("no table file given".into()));
    }
    let mut builder = TableBuilder::new(options);
    for path in paths {
        let path = path.as_ref();
        if is_parquet(path) {
            crate::parquet_table::read_parquet_into(&mut builder, path)?;
        } else {
            read_csv_into(&mut builder, path)?;
        }
    }
    builder.finish()
}

/// Whether a file is read as Parquet: its name ends in `.parquet` (any case).
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Reads and concatenates CSV files into one dataset, whatever their names. Every file must
/// have the same feature columns (after exclusion) in the same order. Classes are sorted by name.
pub fn read_csv_files<P: AsRef<Path>>(paths: &[P], options: &TableOptions) -> Result<Dataset> {
    if paths.is_empty() {
        return Err(Error::Empty("no CSV file given".into()));
    }
    let mut builder = TableBuilder::new(options);
    for path in paths {
        read_csv_into(&mut builder, path.as_ref())?;
    }
    builder.finish()
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
    fn text_columns_are_refused_hashed_or_one_hot_encoded_never_dropped() {
        let d = temp_dir("text");
        let p = write(
            &d,
            "packets.csv",
            "length,protocol,ttl,target
             60,TCP,64,normal
             75,MQTT,64,scan
             60,,128,normal
             90,TCP,64,scan
",
        );
        // By default text is an error naming the column, the line and the ways out.
        let err = read_csv_files(&[&p], &TableOptions::with_label_column("target"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("`protocol`") && err.contains("one-hot"),
            "{err}"
        );
        // Hashed on request: one code per text, the empty cell is the missing value.
        let hashed = TableOptions {
            text: TextPolicy::Hash,
            ..TableOptions::with_label_column("target")
        };
        let ds = read_csv_files(&[&p], &hashed).unwrap();
        assert_eq!(ds.feature_names, vec!["length", "protocol", "ttl"]);
        assert_eq!(ds.records.row(0)[1], fnv1a_24("TCP"));
        assert_eq!(ds.records.row(2)[1], 0.0);
        // One-hot: indicator columns in sorted order where the column stood; empty → none set.
        let one_hot = TableOptions {
            one_hot: vec!["protocol".into()],
            ..TableOptions::with_label_column("target")
        };
        let ds = read_csv_files(&[&p], &one_hot).unwrap();
        assert_eq!(
            ds.feature_names,
            vec!["length", "protocol=MQTT", "protocol=TCP", "ttl"]
        );
        assert_eq!(ds.records.row(0), &[60.0, 0.0, 1.0, 64.0]);
        assert_eq!(ds.records.row(1), &[75.0, 1.0, 0.0, 64.0]);
        assert_eq!(ds.records.row(2), &[60.0, 0.0, 0.0, 128.0]);
        assert_eq!(ds.records.row(3), &[90.0, 0.0, 1.0, 64.0]);
        // Numeric codes can be categories too (IP protocol numbers).
        let codes = TableOptions {
            one_hot: vec!["ttl".into(), "protocol".into()],
            ..TableOptions::with_label_column("target")
        };
        let ds = read_csv_files(&[&p], &codes).unwrap();
        assert_eq!(
            ds.feature_names,
            vec![
                "length",
                "protocol=MQTT",
                "protocol=TCP",
                "ttl=128",
                "ttl=64"
            ]
        );
        assert_eq!(ds.records.row(2), &[60.0, 0.0, 0.0, 1.0, 0.0]);
        // A misspelt column is an error, not a silent no-op.
        let typo = TableOptions {
            one_hot: vec!["protcol".into()],
            ..TableOptions::with_label_column("target")
        };
        let err = read_csv_files(&[&p], &typo).unwrap_err().to_string();
        assert!(err.contains("no column `protcol`"), "{err}");
    }

    #[test]
    fn hindy_preset_drops_protocol_unless_it_is_one_hot_encoded() {
        let d = temp_dir("hindy-protocol");
        let head = "timestamp,src_ip,dst_ip,protocol,ttl,ip_len,is_attack
";
        let a = write(
            &d,
            "normal.csv",
            &format!(
                "{head}1.0,10.0.0.1,10.0.0.2,MQTT,64,80,0
1.5,10.0.0.1,10.0.0.2,TCP,64,52,0
"
            ),
        );
        let b = write(
            &d,
            "scan_A.csv",
            &format!(
                "{head}2.0,10.0.0.9,10.0.0.2,TCP,48,44,1
"
            ),
        );
        let ds = read_csv_files(&[&a, &b], &TableOptions::hindy2020()).unwrap();
        assert_eq!(ds.feature_names, vec!["ttl", "ip_len"]);
        let mut opts = TableOptions::hindy2020();
        opts.one_hot.push("protocol".into());
        let ds = read_csv_files(&[&a, &b], &opts).unwrap();
        assert_eq!(
            ds.feature_names,
            vec!["protocol=MQTT", "protocol=TCP", "ttl", "ip_len"]
        );
        assert_eq!(ds.records.row(2), &[0.0, 1.0, 48.0, 44.0]);
        assert_eq!(ds.targets, vec![0, 0, 1]);
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
        assert_eq!(
            class_from_file_name(Path::new("out/packet_flood-train.parquet")),
            "flood"
        );
        assert_eq!(
            class_from_file_name(Path::new("mqttset_benign.csv")),
            "benign"
        );
    }
}
