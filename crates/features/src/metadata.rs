//! What every output records about how it was made: tool and version, set and schema version,
//! columns, input, configuration, and (in the CSV sidecar, written at the end) what the run saw.

use serde_json::{json, Value};

use crate::schema::Schema;

/// The tool's name in outputs.
pub const TOOL: &str = "mqtt-ids";

/// Provenance of one output file.
#[derive(Clone, Debug)]
pub struct Provenance {
    /// Tool version (the CLI passes its own).
    pub tool_version: String,
    /// The set's schema.
    pub schema: Schema,
    /// Input file as given.
    pub input: String,
    /// Options that shape the rows (labels, flow mode, ports, absent text), as JSON.
    pub config: Value,
}

impl Provenance {
    /// Parquet key-value metadata: `mqtt-ids.*` keys, the config as a JSON string.
    pub fn key_values(&self) -> Vec<(String, String)> {
        vec![
            ("mqtt-ids.tool".into(), TOOL.into()),
            ("mqtt-ids.version".into(), self.tool_version.clone()),
            ("mqtt-ids.set".into(), self.schema.set.into()),
            (
                "mqtt-ids.schema_version".into(),
                self.schema.version.to_string(),
            ),
            ("mqtt-ids.input".into(), self.input.clone()),
            ("mqtt-ids.config".into(), self.config.to_string()),
        ]
    }

    /// The CSV sidecar's JSON: provenance, columns, and the run's counters (`run`).
    pub fn sidecar(&self, run: Value) -> Value {
        json!({
            "tool": TOOL,
            "version": self.tool_version,
            "set": self.schema.set,
            "schema_version": self.schema.version,
            "columns": self.schema.columns.iter().map(|c| json!({
                "name": c.name,
                "type": format!("{:?}", c.ty),
            })).collect::<Vec<_>>(),
            "input": self.input,
            "config": self.config,
            "run": run,
        })
    }
}
