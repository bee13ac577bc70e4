//! Feature extraction for mqtt-ids: the four feature sets of the two papers, from one streaming
//! pass over a capture.
//!
//! - `packet` — Hindy et al. 2020, Table 1, packet level (the published MQTT-IoT-IDS2020 packet
//!   CSVs' columns);
//! - `uniflow`, `biflow` — the same paper's uni- and bi-directional flow features, as its
//!   reference extractor computes them ([`mqtt_ids_flows`]);
//! - `mqttset` — Vaccari et al. 2020, Table 4: 33 tshark fields as tshark renders them, and
//!   `target`.
//!
//! The pipeline is capture → decode → (MQTT tracker, flow table) → rows: [`extract::extract`]
//! drives it, feature sets ([`sets`]) turn packets, MQTT messages and flows into rows, and a
//! [`sink::RowSink`] renders them as CSV ([`sink::CsvSink`]) or typed Parquet
//! ([`parquet::ParquetSink`]). Labels come from [`label::Labeler`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod extract;
pub mod label;
pub mod metadata;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod pass;
pub mod schema;
pub mod sets;
pub mod sink;
pub mod write_behind;

pub use extract::{
    extract, extract_parallel, plan_passes, ExtractOptions, ExtractReport, Output, Outputs,
};
pub use label::{Label, Labeler, Subject};
pub use pass::{FrameOuts, Pass, PassParts, PassStats};
pub use schema::{Column, ColumnType, Schema};
pub use sets::SetKind;
pub use sink::{CsvSink, LineOut, RowOrigin, RowSink};
pub use write_behind::{Handover, WriteBehind};
