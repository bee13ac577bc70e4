//! `mqtt-ids reproduce`: both papers' experiments redone end to end — data (the simulated
//! testbeds, the user's captures or the published dataset CSVs), the feature sets, every
//! classifier under the papers' protocols — and a report beside the published numbers.
//!
//! The run ([`run::run`]) yields [`results::Results`], written first as `results.json`; the
//! report ([`render::write_report`]: Markdown, self-contained HTML, CSV tables, SVG/PNG
//! figures) is rendered from that file alone, so every number shown is one in the JSON.
#![forbid(unsafe_code)]

pub mod compare;
pub mod figures;
pub mod inputs;
pub mod published;
pub mod render;
pub mod results;
pub mod run;
pub mod simulation;

pub use render::{render_from_json, terminal_summary, write_report, ReportFiles};
pub use results::Results;
pub use run::{run, Config, Event, Observer, Paper};
