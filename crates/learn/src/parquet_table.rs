//! Reading feature tables from Parquet files (our `features` output), with the same
//! [`TableOptions`](crate::table::TableOptions) semantics as CSV: integer, float and boolean
//! columns are numbers (booleans 0/1, nulls the missing value), string columns are text read
//! exactly as a CSV cell would be (class names, categories, hashed fields, `0x…` integers),
//! and binary columns (our features output's byte fields, e.g. `mqtt.msg`) are the lower-case
//! hex text that tshark and our CSV output print for them — an empty value as `<MISSING>`,
//! tshark's text for an empty byte field. Only the columns the options use are decoded.

use crate::error::{Error, Result};
use crate::table::{Cell, TableBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use std::path::Path;

/// Rows decoded at a time.
const BATCH_ROWS: usize = 8192;

/// What tshark (and our CSV output) prints for an empty byte field.
const EMPTY_BYTES: &str = "<MISSING>";

/// One decoded column of a batch.
enum Values<'a> {
    /// Numbers (nulls are [`Cell::Missing`] through `array.is_null`).
    Numbers(Vec<f64>, &'a dyn Array),
    /// Text: plain, large, view or dictionary-encoded strings.
    Text(Box<dyn Fn(usize) -> Option<&'a str> + 'a>),
    /// Bytes as lower-case hex text (one string per row, built once per batch).
    Hex(Vec<Option<String>>),
}

impl Values<'_> {
    fn cell(&self, i: usize) -> Cell<'_> {
        match self {
            Values::Numbers(v, array) => {
                if array.is_null(i) {
                    Cell::Missing
                } else {
                    Cell::Number(v[i])
                }
            }
            Values::Text(get) => get(i).map_or(Cell::Missing, Cell::Text),
            Values::Hex(v) => v[i].as_deref().map_or(Cell::Missing, Cell::Text),
        }
    }
}

/// The column as numbers, or `None` when it is not of a numeric or boolean type.
fn numbers(a: &dyn Array) -> Option<Vec<f64>> {
    macro_rules! primitive {
        ($t:ty) => {
            a.as_primitive::<$t>()
                .values()
                .iter()
                .map(|&v| v as f64)
                .collect()
        };
    }
    Some(match a.data_type() {
        DataType::Int8 => primitive!(Int8Type),
        DataType::Int16 => primitive!(Int16Type),
        DataType::Int32 => primitive!(Int32Type),
        DataType::Int64 => primitive!(Int64Type),
        DataType::UInt8 => primitive!(UInt8Type),
        DataType::UInt16 => primitive!(UInt16Type),
        DataType::UInt32 => primitive!(UInt32Type),
        DataType::UInt64 => primitive!(UInt64Type),
        DataType::Float32 => primitive!(Float32Type),
        DataType::Float64 => primitive!(Float64Type),
        DataType::Boolean => {
            let b = a.as_boolean();
            (0..b.len()).map(|i| b.value(i) as u8 as f64).collect()
        }
        _ => return None,
    })
}

/// Text access to a string column, or `None` when it is not one.
#[allow(clippy::type_complexity)]
fn text<'a>(a: &'a ArrayRef) -> Option<Box<dyn Fn(usize) -> Option<&'a str> + 'a>> {
    match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            Some(Box::new(move |i| (!s.is_null(i)).then(|| s.value(i))))
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            Some(Box::new(move |i| (!s.is_null(i)).then(|| s.value(i))))
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            Some(Box::new(move |i| (!s.is_null(i)).then(|| s.value(i))))
        }
        DataType::Dictionary(_, value) if matches!(**value, DataType::Utf8) => {
            let d = a.as_any_dictionary();
            let keys = d.normalized_keys();
            let values = d.values().as_string::<i32>();
            Some(Box::new(move |i| {
                (!d.keys().is_null(i)).then(|| values.value(keys[i]))
            }))
        }
        _ => None,
    }
}

/// A binary column as hex text, or `None` when it is not binary.
fn hex(a: &ArrayRef) -> Option<Vec<Option<String>>> {
    fn render(bytes: &[u8]) -> String {
        if bytes.is_empty() {
            return EMPTY_BYTES.to_string();
        }
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(2 * bytes.len());
        for &b in bytes {
            s.push(DIGITS[(b >> 4) as usize] as char);
            s.push(DIGITS[(b & 15) as usize] as char);
        }
        s
    }
    let rows = 0..a.len();
    Some(match a.data_type() {
        DataType::Binary => {
            let b = a.as_binary::<i32>();
            rows.map(|i| (!b.is_null(i)).then(|| render(b.value(i))))
                .collect()
        }
        DataType::LargeBinary => {
            let b = a.as_binary::<i64>();
            rows.map(|i| (!b.is_null(i)).then(|| render(b.value(i))))
                .collect()
        }
        DataType::BinaryView => {
            let b = a.as_binary_view();
            rows.map(|i| (!b.is_null(i)).then(|| render(b.value(i))))
                .collect()
        }
        _ => return None,
    })
}

/// Reads one Parquet file into `builder`.
pub(crate) fn read_parquet_into(builder: &mut TableBuilder, path: &Path) -> Result<()> {
    let parquet_error = |e: parquet::errors::ParquetError| Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
    let schema = reader.schema().clone();
    let header: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().trim().to_string())
        .collect();
    let layout = builder.start_file(path, header.clone(), "row")?;
    let used = layout.used_columns();
    for &j in &used {
        let t = schema.field(j).data_type();
        let readable = matches!(
            t,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Float32
                | DataType::Float64
                | DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
        ) || matches!(t, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8));
        if !readable {
            return Err(Error::ColumnType {
                path: path.to_path_buf(),
                column: header[j].clone(),
                data_type: t.to_string(),
            });
        }
    }
    // Decode only the used columns; a nested column would be refused above.
    let mask = ProjectionMask::roots(reader.parquet_schema(), used.iter().copied());
    let batches = reader
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(parquet_error)?;
    let mut row = 0u64;
    for batch in batches {
        let batch = batch.map_err(|e| Error::Parquet {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        // The batch's columns are the used ones in file order.
        let arrays: Vec<&ArrayRef> = batch.columns().iter().collect();
        let mut values: Vec<Option<Values>> = (0..header.len()).map(|_| None).collect();
        for (&j, a) in used.iter().zip(&arrays) {
            values[j] = Some(match (numbers(a.as_ref()), hex(a)) {
                (Some(v), _) => Values::Numbers(v, a.as_ref()),
                (None, Some(h)) => Values::Hex(h),
                (None, None) => Values::Text(text(a).expect("column types were checked")),
            });
        }
        for i in 0..batch.num_rows() {
            row += 1;
            builder.push_row(&layout, row, |j| {
                values[j]
                    .as_ref()
                    .expect("only used columns are asked for")
                    .cell(i)
            })?;
        }
    }
    Ok(())
}

/// The producer record in a Parquet file's key-value metadata (`mqtt-ids.set`,
/// `mqtt-ids.schema_version`, `mqtt-ids.config`), when it has one.
pub(crate) fn producer_of(path: &Path) -> Result<Option<crate::encode::Producer>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let Some(kv) = reader.metadata().file_metadata().key_value_metadata() else {
        return Ok(None);
    };
    let get = |key: &str| {
        kv.iter()
            .find(|e| e.key == key)
            .and_then(|e| e.value.clone())
    };
    if get("mqtt-ids.tool").as_deref() != Some("mqtt-ids") {
        return Ok(None);
    }
    Ok(Some(crate::encode::Producer {
        set: get("mqtt-ids.set"),
        schema_version: get("mqtt-ids.schema_version").and_then(|v| v.parse().ok()),
        config: get("mqtt-ids.config").and_then(|v| serde_json::from_str(&v).ok()),
    }))
}
