//! Online detection for mqtt-ids: one engine for capture files and live interfaces.
//!
//! Packets go through the same machinery as `mqtt-ids extract` ([`mqtt_ids_features::Pass`]:
//! MQTT tracker, the per-packet sets, the connection state machine of `context` and `session`,
//! the flow table with idle/active timeouts and FIN/RST ends on the packet clock), so a model
//! sees exactly the rows it was trained on: each model file names its feature set and how the
//! table's cells were read, and a [`sink::SetSink`] encodes each row of that set with
//! [`mqtt_ids_learn::RowEncoder`] (the table reader's own rules) straight into a batch for
//! `predict_proba`. Flow and session models are scored when a flow or connection ends and, for
//! long-lived ones, at every update interval; packet models (`packet`, `mqttset`, `context`)
//! per packet. Rows classified as a
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
pub use engine::{feed_reader, DetectConfig, Engine, Summary, Tap, DEFAULT_SESSION_UPDATE_NS};
pub use model::LoadedModel;
