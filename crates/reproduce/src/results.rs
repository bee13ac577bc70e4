//! The machine-readable results (`results.json`): everything measured, how, on what, and the
//! papers' numbers beside it. Every report file is rendered from this alone.

use mqtt_ids_learn::metrics::ClassificationReport;
use mqtt_ids_learn::{ModelParams, Protocol};
use serde::{Deserialize, Serialize};

use crate::published::Published;

/// Version of this file's layout.
pub const SCHEMA: &str = "mqtt-ids-reproduce/2";

/// Everything one `reproduce` run produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub schema: String,
    pub provenance: Provenance,
    pub hindy2020: Option<HindyRun>,
    pub mqttset2020: Option<MqttsetRun>,
    /// The papers' conclusions, checked against this run.
    pub conclusions: Vec<Conclusion>,
    /// The papers' numbers, as embedded in the tool.
    pub published: Published,
}

/// What was run, where, with what, and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub tool: String,
    pub tool_version: String,
    /// The command line.
    pub command: Vec<String>,
    /// `hindy2020`, `mqttset2020`.
    pub papers: Vec<String>,
    pub quick: bool,
    /// Seeds the simulation and the row subsampling; the protocols keep the papers' seeds
    /// (Hindy 0, MQTTset 7).
    pub seed: u64,
    /// `simulated`, `captures` or `published-csv`.
    pub source: String,
    /// The `--data` directory, when given.
    pub data_dir: Option<String>,
    /// The simulated scenarios (name, duration, captures), when the data was simulated.
    pub simulation: Vec<serde_json::Value>,
    /// Every input file used, with how it was read.
    pub inputs: Vec<InputRecord>,
    /// What a quick run or a row cap reduced, and other departures from the papers.
    pub reductions: Vec<String>,
    pub machine: Machine,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    pub stages: Vec<StageTime>,
    pub wall_seconds: f64,
}

/// One input file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputRecord {
    pub path: String,
    /// `capture`, `hindy-packet-csv`, `hindy-uniflow-csv`, `hindy-biflow-csv`,
    /// `mqttset-train-csv`, `mqttset-test-csv`, `mqttset-csv`.
    pub kind: String,
    /// The class of a capture (or how its rows are labelled).
    pub label: String,
    pub bytes: u64,
}

/// The machine the run was measured on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub os: String,
    pub arch: String,
    pub cpu: String,
    pub threads: usize,
    pub memory_bytes: Option<u64>,
    /// The load average when the run started (other work on a shared machine).
    pub load_average: Option<String>,
}

/// Wall time of one stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageTime {
    pub stage: String,
    pub seconds: f64,
}

/// A feature table as used by a protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    pub files: Vec<String>,
    /// Rows read (after the table's own label rules).
    pub rows_read: usize,
    /// Rows given to the protocol (Hindy: distinct rows; after the row cap).
    pub rows_used: usize,
    /// Rows after the protocol's de-duplication (Hindy) — what was cross-validated.
    pub rows_evaluated: usize,
    pub features: Vec<String>,
    pub classes: Vec<ClassCount>,
}

/// Rows of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassCount {
    pub class: String,
    /// The paper's name for it, when the paper has the class.
    pub paper_class: Option<String>,
    pub rows: usize,
}

/// One classifier under one protocol on one table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRun {
    /// `lr`, `knn`, …, `nn` (MQTTset's Keras network).
    pub model: String,
    /// The paper's name.
    pub label: String,
    pub preset: String,
    pub params: ModelParams,
    /// Pooled cross-validation (Hindy) or the hold-out split (MQTTset).
    pub report: ClassificationReport,
    pub splits: Vec<SplitRun>,
    /// Summed over the splits.
    pub fit_seconds: f64,
    pub predict_seconds: f64,
}

/// One split of a protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitRun {
    pub split: String,
    pub n_train: usize,
    pub n_test: usize,
    pub fit_seconds: f64,
    pub predict_seconds: f64,
    pub accuracy: f64,
}

/// Hindy et al.'s experiment: 7 classifiers × 3 feature levels (and any further sets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HindyRun {
    pub protocol: Protocol,
    pub levels: Vec<LevelRun>,
    /// Beyond the paper: the same classifiers and protocol, grouped by connection, on this
    /// tool's `context` and `session` sets (issue 9).
    #[serde(default)]
    pub beyond: Vec<LevelRun>,
}

/// One feature level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelRun {
    /// `packet`, `uniflow`, `biflow` (the paper's), or a further set of this tool.
    pub level: String,
    pub table: TableInfo,
    pub models: Vec<ModelRun>,
}

/// Vaccari et al.'s experiment: 6 classifiers, hold-out, unbalanced and balanced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MqttsetRun {
    pub protocol: Protocol,
    pub variants: Vec<VariantRun>,
    /// Beyond the paper: the same classifiers and protocol, grouped by connection, on this
    /// tool's `context` and `session` sets (issue 9).
    #[serde(default)]
    pub beyond: Vec<SetRun>,
}

/// One of this tool's further feature sets under the MQTTset protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetRun {
    /// `context` or `session`.
    pub set: String,
    pub variants: Vec<VariantRun>,
}

/// The unbalanced or the balanced dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantRun {
    /// `unbalanced` or `balanced`.
    pub variant: String,
    /// How the rows were split and balanced.
    pub how: String,
    pub table: TableInfo,
    pub models: Vec<ModelRun>,
}

/// One of the papers' conclusions, checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conclusion {
    pub paper: String,
    pub claim: String,
    /// `None`: this run cannot tell (e.g. the class is absent from the data).
    pub holds: Option<bool>,
    pub evidence: String,
}

impl Results {
    /// The Hindy level named `level`.
    pub fn hindy_level(&self, level: &str) -> Option<&LevelRun> {
        self.hindy2020
            .as_ref()?
            .levels
            .iter()
            .find(|l| l.level == level)
    }

    /// The MQTTset variant named `variant`.
    pub fn mqttset_variant(&self, variant: &str) -> Option<&VariantRun> {
        self.mqttset2020
            .as_ref()?
            .variants
            .iter()
            .find(|v| v.variant == variant)
    }
}
