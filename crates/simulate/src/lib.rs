//! The mqtt-ids testbed simulator: the papers' MQTT networks and their attacks as labelled
//! captures, from a discrete-event simulation (one seeded random stream per host, sensor and
//! attack; a small TCP model shared by every application; frames written with crates/capture).
//!
//! ```no_run
//! use mqtt_ids_simulate::{simulate, Scenario, SimOptions};
//! let scenario = Scenario::builtin("mqttset2020").unwrap();
//! let report = simulate(&scenario, &SimOptions::default(), std::path::Path::new("sim")).unwrap();
//! for c in &report.captures {
//!     println!("{} ({}): {} packets, labels in {}", c.name, c.class, c.packets, c.labels.display());
//! }
//! ```
//!
//! Same scenario, options and seed give byte-identical files; a different seed gives
//! different traffic.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use serde::Serialize;

pub mod apps;
pub mod attacks;
pub mod builtin;
pub mod encode;
pub mod live;
pub mod net;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod wire;

pub use attacks::AttackKind;
pub use encode::MqttVersion;
pub use scenario::{
    AttackSpec, CaptureSpec, HostSpec, Scenario, SensorSpec, StackDelaySpec, UdpStreamSpec,
};
pub use sim::{AttackReport, CaptureReport};

/// Capture file format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Classic pcap, Ethernet, nanosecond timestamps.
    #[default]
    Pcap,
    /// pcapng, one Ethernet interface, nanosecond timestamps.
    PcapNg,
}

/// Run options.
#[derive(Clone, Debug, Serialize)]
pub struct SimOptions {
    /// Seed of every random stream.
    pub seed: u64,
    /// Length of each capture, seconds (default: the scenario's); attack start times and
    /// durations stretch with it.
    pub duration: Option<f64>,
    /// Traffic multiplier: sensors publish, streams send and attacks act `scale` times as often.
    pub scale: f64,
    /// Output format.
    pub format: Format,
    /// Captures to write (empty: all).
    pub captures: Vec<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 0,
            duration: None,
            scale: 1.0,
            format: Format::Pcap,
            captures: Vec::new(),
        }
    }
}

/// What a run wrote.
#[derive(Clone, Debug, Serialize)]
pub struct SimReport {
    /// `mqtt-ids-simulate` version.
    pub tool_version: String,
    /// Scenario name.
    pub scenario: String,
    /// Options used.
    pub options: SimOptions,
    /// Output directory.
    pub out_dir: PathBuf,
    /// One entry per capture, in scenario order.
    pub captures: Vec<CaptureReport>,
    /// The run record (`simulate.json`).
    pub record: PathBuf,
}

impl SimReport {
    /// Total packets written.
    pub fn packets(&self) -> u64 {
        self.captures.iter().map(|c| c.packets).sum()
    }
}

/// Why a run failed.
#[derive(Debug)]
pub enum SimError {
    /// The scenario is invalid.
    Scenario(String),
    /// Options are invalid.
    Options(String),
    /// A file could not be written.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl SimError {
    fn io(path: &Path, source: std::io::Error) -> SimError {
        SimError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Scenario(e) => write!(f, "invalid scenario: {e}"),
            SimError::Options(e) => write!(f, "invalid options: {e}"),
            SimError::Io { path, source } => {
                write!(f, "{}: cannot write: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for SimError {}

/// Simulates every capture of `scenario` (or those in `options.captures`) into `out_dir`.
pub fn simulate(
    scenario: &Scenario,
    options: &SimOptions,
    out_dir: &Path,
) -> Result<SimReport, SimError> {
    simulate_with_progress(scenario, options, out_dir, &mut |_, _, _| {})
}

/// [`simulate`], calling `progress(capture, seconds simulated, packets written)` now and then.
pub fn simulate_with_progress(
    scenario: &Scenario,
    options: &SimOptions,
    out_dir: &Path,
    progress: &mut dyn FnMut(&str, f64, u64),
) -> Result<SimReport, SimError> {
    scenario.validate().map_err(SimError::Scenario)?;
    if !(options.scale > 0.0 && options.scale <= 1e6) {
        return Err(SimError::Options(format!(
            "scale must be in (0, 1e6], found {}",
            options.scale
        )));
    }
    if let Some(d) = options.duration {
        if !(d > 0.0 && d <= 1e7) {
            return Err(SimError::Options(format!(
                "duration must be in (0, 1e7] seconds, found {d}"
            )));
        }
    }
    for name in &options.captures {
        if !scenario.captures.iter().any(|c| &c.name == name) {
            let known: Vec<&str> = scenario.captures.iter().map(|c| c.name.as_str()).collect();
            return Err(SimError::Options(format!(
                "scenario {} has no capture `{name}` (it has: {})",
                scenario.name,
                known.join(", ")
            )));
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|e| SimError::io(out_dir, e))?;
    let mut start = builtin::parse_start(&scenario.start).map_err(SimError::Scenario)?;
    let mut captures = Vec::new();
    for cap in &scenario.captures {
        let secs = options
            .duration
            .or(cap.duration)
            .unwrap_or(scenario.duration);
        let dur_ns = (secs * 1e9) as i64;
        if options.captures.is_empty() || options.captures.contains(&cap.name) {
            let name = cap.name.clone();
            let r = sim::run_capture(
                scenario,
                cap,
                options,
                out_dir,
                start,
                dur_ns,
                &mut |t, n| progress(&name, t, n),
            )?;
            captures.push(r);
        }
        // Recordings follow each other, a minute apart.
        start += dur_ns + 60_000_000_000;
    }
    let record = out_dir.join("simulate.json");
    let mut report = SimReport {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        scenario: scenario.name.clone(),
        options: options.clone(),
        out_dir: out_dir.to_path_buf(),
        captures,
        record: record.clone(),
    };
    let json = serde_json::json!({
        "tool": "mqtt-ids simulate",
        "tool_version": report.tool_version,
        "scenario": scenario,
        "options": report.options,
        "captures": report.captures,
    });
    let text = serde_json::to_string_pretty(&json).unwrap_or_default();
    std::fs::write(&record, text + "\n").map_err(|e| SimError::io(&record, e))?;
    report.record = record;
    Ok(report)
}
