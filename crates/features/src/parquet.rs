//! Typed Parquet output: one Arrow column builder per schema column, written in row groups of
//! [`BATCH_ROWS`] rows, snappy-compressed, with the run's metadata as key-value metadata.

use std::fs::File;
use std::io;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, Float64Builder, Int64Builder, StringBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::schema::{ColumnType, Schema};
use crate::sink::RowSink;

/// Rows buffered before they are written as one record batch.
pub const BATCH_ROWS: usize = 65_536;

enum Builder {
    UInt(UInt64Builder),
    Int(Int64Builder),
    Float(Float64Builder),
    Str(StringBuilder),
    Bytes(BinaryBuilder),
}

impl Builder {
    fn new(ty: ColumnType) -> Builder {
        match ty {
            ColumnType::UInt | ColumnType::Hex(_) => Builder::UInt(UInt64Builder::new()),
            ColumnType::Int => Builder::Int(Int64Builder::new()),
            ColumnType::Float | ColumnType::Fixed(_) => Builder::Float(Float64Builder::new()),
            ColumnType::Str => Builder::Str(StringBuilder::new()),
            ColumnType::Bytes => Builder::Bytes(BinaryBuilder::new()),
        }
    }

    fn data_type(ty: ColumnType) -> DataType {
        match ty {
            ColumnType::UInt | ColumnType::Hex(_) => DataType::UInt64,
            ColumnType::Int => DataType::Int64,
            ColumnType::Float | ColumnType::Fixed(_) => DataType::Float64,
            ColumnType::Str => DataType::Utf8,
            ColumnType::Bytes => DataType::Binary,
        }
    }

    fn null(&mut self) {
        match self {
            Builder::UInt(b) => b.append_null(),
            Builder::Int(b) => b.append_null(),
            Builder::Float(b) => b.append_null(),
            Builder::Str(b) => b.append_null(),
            Builder::Bytes(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::UInt(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Bytes(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Builder::UInt(b) => b.len(),
            Builder::Int(b) => b.len(),
            Builder::Float(b) => b.len(),
            Builder::Str(b) => b.len(),
            Builder::Bytes(b) => b.len(),
        }
    }
}

/// Writes rows of one schema to a Parquet file.
pub struct ParquetSink {
    writer: Option<ArrowWriter<File>>,
    arrow: Arc<ArrowSchema>,
    schema: Schema,
    builders: Vec<Builder>,
    column: usize,
    rows_in_batch: usize,
    rows: u64,
}

fn to_io(e: parquet::errors::ParquetError) -> io::Error {
    match e {
        parquet::errors::ParquetError::External(inner) => io::Error::other(inner),
        other => io::Error::other(other),
    }
}

impl ParquetSink {
    /// A sink writing to `file`; `metadata` becomes the file's key-value metadata.
    pub fn new(file: File, schema: Schema, metadata: Vec<(String, String)>) -> io::Result<Self> {
        let fields: Vec<Field> = schema
            .columns
            .iter()
            .map(|c| Field::new(c.name, Builder::data_type(c.ty), true))
            .collect();
        let arrow = Arc::new(ArrowSchema::new(fields));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(
                metadata
                    .into_iter()
                    .map(|(k, v)| KeyValue::new(k, v))
                    .collect(),
            ))
            .build();
        let writer = ArrowWriter::try_new(file, arrow.clone(), Some(props)).map_err(to_io)?;
        Ok(ParquetSink {
            writer: Some(writer),
            arrow,
            schema,
            builders: schema.columns.iter().map(|c| Builder::new(c.ty)).collect(),
            column: 0,
            rows_in_batch: 0,
            rows: 0,
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        if self.rows_in_batch == 0 {
            return Ok(());
        }
        debug_assert!(self.builders.iter().all(|b| b.len() == self.rows_in_batch));
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(self.arrow.clone(), columns).map_err(io::Error::other)?;
        self.rows_in_batch = 0;
        match self.writer.as_mut() {
            Some(w) => w.write(&batch).map_err(to_io),
            None => Err(io::Error::other("Parquet writer already closed")),
        }
    }

    /// Writes what is buffered and the file footer.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush_batch()?;
        match self.writer.take() {
            Some(w) => w.close().map(|_| ()).map_err(to_io),
            None => Ok(()),
        }
    }

    fn next(&mut self) -> Option<&mut Builder> {
        let i = self.column;
        self.column += 1;
        self.builders.get_mut(i)
    }
}

impl RowSink for ParquetSink {
    fn null(&mut self) {
        if let Some(b) = self.next() {
            b.null();
        }
    }

    fn uint(&mut self, v: u64) {
        match self.next() {
            Some(Builder::UInt(b)) => b.append_value(v),
            Some(Builder::Int(b)) => b.append_value(i64::try_from(v).unwrap_or(i64::MAX)),
            Some(Builder::Float(b)) => b.append_value(v as f64),
            Some(other) => other.null(),
            None => {}
        }
    }

    fn int(&mut self, v: i64) {
        match self.next() {
            Some(Builder::Int(b)) => b.append_value(v),
            Some(Builder::Float(b)) => b.append_value(v as f64),
            Some(other) => other.null(),
            None => {}
        }
    }

    fn float(&mut self, v: f64) {
        match self.next() {
            Some(Builder::Float(b)) => b.append_value(v),
            Some(other) => other.null(),
            None => {}
        }
    }

    fn str(&mut self, v: &str) {
        match self.next() {
            Some(Builder::Str(b)) => b.append_value(v),
            Some(Builder::Bytes(b)) => b.append_value(v.as_bytes()),
            Some(other) => other.null(),
            None => {}
        }
    }

    fn bytes(&mut self, v: &[u8]) {
        match self.next() {
            Some(Builder::Bytes(b)) => b.append_value(v),
            Some(Builder::Str(b)) => b.append_value(String::from_utf8_lossy(v)),
            Some(other) => other.null(),
            None => {}
        }
    }

    fn end_row(&mut self) -> io::Result<()> {
        debug_assert_eq!(
            self.column,
            self.schema.columns.len(),
            "row of set {} has the wrong number of fields",
            self.schema.set
        );
        // A short row (a set bug) must not misalign the columns: pad it.
        while self.column < self.builders.len() {
            self.null();
        }
        self.column = 0;
        self.rows += 1;
        self.rows_in_batch += 1;
        if self.rows_in_batch >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, UInt64Type};
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    static COLUMNS: [Column; 4] = [
        Column::new("n", ColumnType::UInt),
        Column::new("flags", ColumnType::Hex(4)),
        Column::new("x", ColumnType::Float),
        Column::new("s", ColumnType::Str),
    ];
    const SCHEMA: Schema = Schema {
        set: "test",
        version: 3,
        columns: &COLUMNS,
    };

    #[test]
    fn rows_round_trip_with_types_nulls_and_metadata() {
        let dir = std::env::temp_dir().join(format!("mqtt-ids-parquet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.parquet");
        let mut sink = ParquetSink::new(
            File::create(&path).unwrap(),
            SCHEMA,
            vec![("mqtt-ids.set".into(), "test".into())],
        )
        .unwrap();
        let n = BATCH_ROWS + 10; // more than one batch
        for i in 0..n {
            sink.uint(i as u64);
            sink.uint(0x18);
            if i % 2 == 0 {
                sink.float(i as f64 / 2.0);
            } else {
                sink.null();
            }
            sink.str("a,b");
            sink.end_row().unwrap();
        }
        assert_eq!(sink.rows(), n as u64);
        sink.finish().unwrap();

        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        let kv = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .cloned()
            .unwrap_or_default();
        assert!(kv
            .iter()
            .any(|k| k.key == "mqtt-ids.set" && k.value.as_deref() == Some("test")));
        let schema = builder.schema().clone();
        assert_eq!(schema.field(1).data_type(), &DataType::UInt64);
        assert_eq!(schema.field(3).data_type(), &DataType::Utf8);
        let mut rows = 0;
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            let ns = batch.column(0).as_primitive::<UInt64Type>();
            let xs = batch.column(2).as_primitive::<Float64Type>();
            for r in 0..batch.num_rows() {
                let i = ns.value(r) as usize;
                assert_eq!(i, rows + r);
                assert_eq!(xs.is_null(r), i % 2 == 1);
                if i % 2 == 0 {
                    assert_eq!(xs.value(r), i as f64 / 2.0);
                }
            }
            rows += batch.num_rows();
        }
        assert_eq!(rows, n);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
