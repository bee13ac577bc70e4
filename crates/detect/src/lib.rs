//! Online detection for mqtt-ids: one engine for capture files and live interfaces.
//!
//! Packets go through the same machinery as `mqtt-ids extract` ([`mqtt_ids_features::Pass`]:
//! MQTT tracker, the per-packet sets, the flow table with idle/active timeouts and FIN/RST ends
//! on the packet clock), so a model sees exactly the rows it was trained on: each model file
//! names its feature set and how the table's cells were read, and a [`sink::SetSink`] encodes
//! each row of that set with [`mqtt_ids_learn::RowEncoder`] (the table reader's own rules)
//! straight into a batch for `predict_proba`. Flow models are scored when a flow ends and, for
//! long-lived flows, at every update interval; packet models per packet. Rows classified as a
//! non-benign class with enough probability, and the dissector's protocol findings, become
//! alerts shaped like Suricata's EVE JSON ([`alert`]), rate-limited per flow and signature.
#![warn(missing_docs)]

pub mod alert;
#[cfg(target_os = "linux")]
pub mod bpf;
pub mod engine;
#[cfg(target_os = "linux")]
pub mod live;
pub mod memo;
pub mod model;
pub mod observer;
pub mod sink;

pub use alert::{AlertConfig, AlertCounts};
pub use engine::{feed_reader, DetectConfig, Engine, Summary, Tap};
pub use model::LoadedModel;
