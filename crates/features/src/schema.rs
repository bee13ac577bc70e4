//! Column schemas: names in the published order, and a type that fixes both the Parquet column
//! type and the CSV rendering.

/// How a column is stored (Parquet) and rendered (CSV).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Unsigned integer: Parquet UInt64, CSV decimal.
    UInt,
    /// Signed integer: Parquet Int64, CSV decimal.
    Int,
    /// Float: Parquet Float64, CSV as Python's `repr` writes it (`0.0`, `1e-05`), the way the
    /// papers' pandas scripts wrote their CSVs.
    Float,
    /// Float with a fixed number of decimals in CSV (tshark's `tcp.time_delta`: 9); Parquet
    /// Float64.
    Fixed(u8),
    /// Unsigned integer rendered as tshark renders a hex field: `0x` and at least this many
    /// lower-case digits (`tcp.flags` → `0x0018`); Parquet UInt64 (the value, not the text).
    Hex(u8),
    /// Text: Parquet Utf8, CSV quoted per RFC 4180 when needed.
    Str,
    /// Bytes rendered as lower-case hex without separators, as tshark renders byte fields (an
    /// empty value as `<MISSING>`, tshark's text for it); Parquet Binary.
    Bytes,
}

/// One column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Header name, exactly as in the published dataset.
    pub name: &'static str,
    /// Storage and rendering.
    pub ty: ColumnType,
}

impl Column {
    /// Shorthand for tables of columns.
    pub const fn new(name: &'static str, ty: ColumnType) -> Self {
        Column { name, ty }
    }
}

/// A feature set's schema: name, version (bumped whenever a column or its arithmetic changes)
/// and columns in output order, label columns included.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    /// Set name as given to `--set` (`packet`, `uniflow`, `biflow`, `mqttset`).
    pub set: &'static str,
    /// Schema version of this set, recorded in every output.
    pub version: u32,
    /// Columns in output order.
    pub columns: &'static [Column],
}

impl Schema {
    /// Header names in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.name)
    }
}
