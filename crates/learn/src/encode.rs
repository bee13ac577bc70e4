//! One row at a time into a model's features, by the same rules as [`crate::table`] reads a
//! table: an online detector hands each cell of a feature-set row to a [`RowEncoder`] and gets
//! the record the model was fitted on (same exclusions, hashed columns, one-hot indicators,
//! missing value), without a table in between and without allocating per row.

use std::path::Path;

use crate::error::{Error, Result};
use crate::table::{hash_of, number_of, Cell, CellEncoding, TableOptions};

/// What one input column feeds.
#[derive(Clone, Debug, PartialEq)]
enum Slot {
    /// Not a feature of the model (label, excluded, or not in the model).
    Unused,
    /// A number at this feature index.
    Number(usize),
    /// A hashed text code at this feature index.
    Hash(usize),
    /// One-hot: the indicator of each category the model knows (a category it never saw sets
    /// none, as an empty cell).
    OneHot(Vec<(String, usize)>),
}

/// Maps the cells of one row (in the producer's column order) to a model's record.
#[derive(Clone, Debug)]
pub struct RowEncoder {
    options: TableOptions,
    slots: Vec<Slot>,
    one_hot_positions: Vec<usize>,
    n_features: usize,
}

impl RowEncoder {
    /// An encoder from rows with columns `header` to records with `feature_names` (a model's),
    /// cells read by `encoding`. Every feature must come from exactly one column (or one-hot
    /// category): otherwise [`Error::FeatureMismatch`] names what is missing.
    pub fn new(
        encoding: &CellEncoding,
        header: &[&str],
        feature_names: &[String],
    ) -> Result<RowEncoder> {
        let options = encoding.options();
        let mut slots = vec![Slot::Unused; header.len()];
        let mut one_hot_positions = Vec::new();
        let mut missing = Vec::new();
        for (i, name) in feature_names.iter().enumerate() {
            if let Some(j) = header.iter().position(|h| h == name) {
                if !matches!(slots[j], Slot::Unused) {
                    missing.push(name.clone());
                    continue;
                }
                slots[j] = if options.hash_columns.iter().any(|c| c == name) {
                    Slot::Hash(i)
                } else {
                    Slot::Number(i)
                };
                continue;
            }
            // `COLUMN=value` of a one-hot column (the column name itself has no `=` in our sets;
            // the longest one-hot column name that prefixes it wins).
            let column = options
                .one_hot
                .iter()
                .filter(|c| {
                    name.len() > c.len()
                        && name.starts_with(c.as_str())
                        && name[c.len()..].starts_with('=')
                })
                .max_by_key(|c| c.len());
            match column.and_then(|c| header.iter().position(|h| h == c).map(|j| (c, j))) {
                Some((c, j)) => {
                    let category = name[c.len() + 1..].to_string();
                    match &mut slots[j] {
                        Slot::OneHot(v) => v.push((category, i)),
                        slot @ Slot::Unused => *slot = Slot::OneHot(vec![(category, i)]),
                        _ => missing.push(name.clone()),
                    }
                    one_hot_positions.push(i);
                }
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(Error::FeatureMismatch {
                expected: feature_names.to_vec(),
                found: header.iter().map(|h| h.to_string()).collect(),
                missing,
                unexpected: Vec::new(),
            });
        }
        Ok(RowEncoder {
            options,
            slots,
            one_hot_positions,
            n_features: feature_names.len(),
        })
    }

    /// Features per record.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Input columns expected per row.
    pub fn n_columns(&self) -> usize {
        self.slots.len()
    }

    /// Whether input column `j` feeds the model at all (others need not be rendered).
    #[inline]
    pub fn is_used(&self, j: usize) -> bool {
        !matches!(self.slots.get(j), None | Some(Slot::Unused))
    }

    /// Whether column `j` needs the cell as text (hashed or one-hot), not only as a number.
    #[inline]
    pub fn wants_text(&self, j: usize) -> bool {
        matches!(self.slots.get(j), Some(Slot::Hash(_) | Slot::OneHot(_)))
    }

    /// How column `j` is read, for callers that fill records without [`RowEncoder::put`]'s
    /// dispatch: a plain numeric feature (`Plain(i)`: a finite number is the feature, anything
    /// absent or non-finite the missing value), a hashed feature (`Hashed(i)`), one-hot
    /// indicators, or unused.
    pub fn column_use(&self, j: usize) -> ColumnUse {
        match self.slots.get(j) {
            None | Some(Slot::Unused) => ColumnUse::Unused,
            Some(Slot::Number(i)) => ColumnUse::Plain(*i),
            Some(Slot::Hash(i)) => ColumnUse::Hashed(*i),
            Some(Slot::OneHot(_)) => ColumnUse::OneHot,
        }
    }

    /// The value of an absent cell in a plain or hashed feature.
    pub fn missing_value(&self) -> f32 {
        self.options.missing_value
    }

    /// Starts a record: clears its one-hot indicators (every other feature is written by its
    /// column).
    #[inline]
    pub fn begin(&self, record: &mut [f32]) {
        for &i in &self.one_hot_positions {
            record[i] = 0.0;
        }
    }

    /// Column `j`'s cell into `record`. `Err(hint)` when the cell is text the encoding refuses
    /// (the feature is then the missing value).
    #[inline]
    pub fn put(
        &self,
        j: usize,
        cell: Cell<'_>,
        record: &mut [f32],
    ) -> std::result::Result<(), &'static str> {
        match self.slots.get(j) {
            None | Some(Slot::Unused) => Ok(()),
            Some(Slot::Number(i)) => match number_of(cell, &self.options) {
                Ok(v) => {
                    record[*i] = v;
                    Ok(())
                }
                Err(hint) => {
                    record[*i] = self.options.missing_value;
                    Err(hint)
                }
            },
            Some(Slot::Hash(i)) => {
                record[*i] = hash_of(cell, &self.options);
                Ok(())
            }
            Some(Slot::OneHot(categories)) => {
                let text = cell.text();
                if let Some((_, i)) = categories.iter().find(|(c, _)| *c == *text) {
                    record[*i] = 1.0;
                }
                Ok(())
            }
        }
    }
}

/// How a column of the feature set is read ([`RowEncoder::column_use`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnUse {
    /// No feature reads it.
    Unused,
    /// A numeric feature at this index.
    Plain(usize),
    /// A hashed text feature at this index.
    Hashed(usize),
    /// One-hot indicators.
    OneHot,
}

/// What the producer of a feature table recorded about it (our `extract` output: the CSV's
/// JSON sidecar or the Parquet key-value metadata): set name, schema version, configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Producer {
    /// Feature-set name (`packet`, `uniflow`, `biflow`, `mqttset`).
    pub set: Option<String>,
    /// The set's schema version.
    pub schema_version: Option<u32>,
    /// The options that shaped the rows (flow mode, MQTT ports, …).
    pub config: Option<serde_json::Value>,
}

/// The producer record of a table file, when it has one (`None` for tables from elsewhere, such
/// as the published dataset CSVs). A sidecar that cannot be read is an error naming it.
pub fn producer_of(path: &Path) -> Result<Option<Producer>> {
    if crate::table::is_parquet(path) {
        return crate::parquet_table::producer_of(path);
    }
    let sidecar = path.with_extension("json");
    let Ok(bytes) = std::fs::read(&sidecar) else {
        return Ok(None);
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::ModelFile {
            path: sidecar.clone(),
            reason: format!("the table's sidecar is not JSON: {e}"),
        })?;
    if value.get("tool").and_then(|t| t.as_str()) != Some("mqtt-ids") {
        return Ok(None);
    }
    Ok(Some(Producer {
        set: value
            .get("set")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        schema_version: value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .and_then(|v| u32::try_from(v).ok()),
        config: value.get("config").cloned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{read_csv_files, TableOptions};

    /// The encoder gives, cell by cell, the records that reading the same rows as a table gives.
    #[test]
    fn rows_encode_as_the_table_reads_them() {
        let dir = std::env::temp_dir().join(format!("mqtt-ids-encode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.csv");
        let rows = [
            ["10.0.0.1", "60", "TCP", "0x18", "3130", "", "normal"],
            ["10.0.0.2", "75", "MQTT", "0x10", "0", "nan", "scan"],
            ["10.0.0.3", "", "", "0x02", "ff", "2.5", "scan"],
        ];
        let header = ["ip", "len", "protocol", "flags", "mqtt.msg", "x", "target"];
        let mut text = header.join(",") + "\n";
        for r in &rows {
            text += &(r.join(",") + "\n");
        }
        std::fs::write(&path, text).unwrap();
        let options = TableOptions {
            exclude: vec!["ip".into()],
            hash_columns: vec!["mqtt.msg".into()],
            one_hot: vec!["protocol".into()],
            missing_value: -1.0,
            ..TableOptions::with_label_column("target")
        };
        let ds = read_csv_files(&[&path], &options).unwrap();
        let encoding = CellEncoding::from(&options);
        let enc = RowEncoder::new(&encoding, &header, &ds.feature_names).unwrap();
        assert!(!enc.is_used(0) && enc.is_used(1) && !enc.is_used(6));
        let mut record = vec![9.0; enc.n_features()];
        for (r, row) in rows.iter().enumerate() {
            enc.begin(&mut record);
            for (j, cell) in row.iter().enumerate() {
                let cell = if cell.is_empty() {
                    Cell::Missing
                } else {
                    Cell::Text(cell)
                };
                enc.put(j, cell, &mut record).unwrap();
            }
            assert_eq!(record, ds.records.row(r), "row {r}");
        }
        // Typed cells (what a RowSink hands over) read as their text does.
        enc.begin(&mut record);
        for (j, cell) in [
            Cell::Text("x"),
            Cell::Number(60.0),
            Cell::Text("TCP"),
            Cell::Number(24.0),
            Cell::Text("3130"),
            Cell::Missing,
        ]
        .into_iter()
        .enumerate()
        {
            enc.put(j, cell, &mut record).unwrap();
        }
        assert_eq!(record, ds.records.row(0));
        // A model feature no column gives is named.
        let renamed = [
            "ip",
            "len",
            "protocol",
            "tcp.flags",
            "mqtt.msg",
            "x",
            "target",
        ];
        let err = RowEncoder::new(&encoding, &renamed, &ds.feature_names)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing [\"flags\"]"), "{err}");
    }
}
