//! `mqtt-ids detect`: run models over captures (and, later in this issue, live interfaces) and
//! write alerts as EVE-shaped JSON lines.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mqtt_ids_capture::{self as capture, ReaderOptions};
use mqtt_ids_detect::alert::CAPTURE_FINDINGS;
use mqtt_ids_detect::{feed_reader, AlertConfig, DetectConfig, Engine, LoadedModel, Summary};
use mqtt_ids_flows::{parse_duration, FlowConfig, FlowMode};
use mqtt_ids_mqtt::{FindingKind, TrackerConfig};

use crate::{progress, EXIT_FAILURE, EXIT_INPUT_ERROR, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model files from `mqtt-ids train` (repeat or comma-separate to run several at once; each
    /// reads the feature set it was trained on).
    #[arg(
        long = "model",
        required = true,
        value_delimiter = ',',
        value_name = "MODEL"
    )]
    models: Vec<PathBuf>,
    /// Capture files, read in order as one stream.
    #[arg(long = "read", required = true, value_name = "FILE", num_args = 1..)]
    read: Vec<String>,
    /// Where alerts go: a file, or `-` for standard output.
    #[arg(long, default_value = "-", value_name = "PATH|-")]
    alerts: String,
    /// Minimum probability of the predicted attack class for an alert.
    #[arg(long, default_value_t = 0.5)]
    threshold: f32,
    /// Flow timeouts IDLE[,ACTIVE] (default: the model's when it was trained on timed-out
    /// flows, else 60s,300s).
    #[arg(long, value_name = "IDLE[,ACTIVE]")]
    flow_timeout: Option<String>,
    /// Score running flows every this long (packet time); `0` only when they end.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    update_interval: String,
    /// At most one alert per flow and signature per this long (packet time); `0`: no limit.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    rate_limit: String,
    /// Findings that raise alerts: `default` (all but capture artefacts such as
    /// midstream_pickup, stream_gap), `all`, `none`, or names (comma-separated).
    #[arg(long, default_value = "default", value_delimiter = ',')]
    findings: Vec<String>,
    /// Features listed in each model alert (top contributions).
    #[arg(long, default_value_t = 5)]
    top_features: usize,
    /// Ports whose TCP traffic is MQTT.
    #[arg(long, default_value = "1883", value_delimiter = ',')]
    mqtt_ports: Vec<u16>,
    /// Write the run's summary as JSON here.
    #[arg(long, value_name = "PATH")]
    summary_json: Option<PathBuf>,
}

fn duration_or_zero(text: &str) -> Result<i64, String> {
    if text.trim() == "0" {
        Ok(0)
    } else {
        parse_duration(text)
    }
}

fn findings(names: &[String]) -> Result<Vec<FindingKind>, String> {
    match names {
        [one] if one == "default" => Ok(FindingKind::ALL
            .iter()
            .copied()
            .filter(|k| !CAPTURE_FINDINGS.contains(k))
            .collect()),
        [one] if one == "all" => Ok(FindingKind::ALL.to_vec()),
        [one] if one == "none" => Ok(Vec::new()),
        names => names
            .iter()
            .map(|n| {
                FindingKind::from_name(n)
                    .ok_or_else(|| format!("--findings: unknown finding `{n}`"))
            })
            .collect(),
    }
}

fn config(args: &Args, models: &[LoadedModel]) -> Result<DetectConfig, String> {
    let mode = match &args.flow_timeout {
        Some(spec) => spec
            .parse::<FlowMode>()
            .map_err(|e| format!("--flow-timeout: {e}"))?,
        None => models
            .iter()
            .filter_map(|m| m.file.schema.producer_config.as_ref())
            .filter_map(|c| c.get("flow_mode"))
            .find_map(|m| {
                Some(FlowMode::Timeout {
                    idle_ns: m.get("idle_ns")?.as_i64()?,
                    active_ns: m.get("active_ns").and_then(|a| a.as_i64()),
                })
            })
            .unwrap_or(DetectConfig::default().flows.mode),
    };
    if mode == FlowMode::Capture {
        return Err("--flow-timeout: detection needs timed-out flows (IDLE[,ACTIVE])".into());
    }
    let update =
        duration_or_zero(&args.update_interval).map_err(|e| format!("--update-interval: {e}"))?;
    let rate = duration_or_zero(&args.rate_limit).map_err(|e| format!("--rate-limit: {e}"))?;
    if !(0.0..=1.0).contains(&args.threshold) {
        return Err("--threshold must be between 0 and 1".into());
    }
    Ok(DetectConfig {
        tracker: TrackerConfig {
            ports: args.mqtt_ports.clone(),
            ..TrackerConfig::default()
        },
        flows: FlowConfig {
            mode,
            ..FlowConfig::default()
        },
        update_ns: (update > 0).then_some(update),
        alerts: AlertConfig {
            rate_window_ns: rate,
            top_features: args.top_features,
            findings: findings(&args.findings)?,
            interface: None,
        },
        ..DetectConfig::default()
    })
}

pub fn run(args: &Args) -> u8 {
    let mut models = Vec::new();
    for path in &args.models {
        match LoadedModel::load(path, args.threshold) {
            Ok(m) => models.push(m),
            Err(e) => {
                eprintln!("mqtt-ids detect: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let config = match config(args, &models) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mqtt-ids detect: {e}");
            return EXIT_USAGE;
        }
    };
    let out: Box<dyn Write> = if args.alerts == "-" {
        Box::new(BufWriter::new(io::stdout().lock()))
    } else {
        match File::create(&args.alerts) {
            Ok(f) => Box::new(BufWriter::new(f)),
            Err(e) => {
                eprintln!("mqtt-ids detect: cannot create {}: {e}", args.alerts);
                return EXIT_FAILURE;
            }
        }
    };
    for m in &models {
        eprintln!(
            "model {}: {} ({} features of set {}, classes {})",
            m.name,
            m.file.params.kind(),
            m.file.feature_names.len(),
            m.set.name(),
            m.file.classes.join(", ")
        );
    }
    let mut engine = match Engine::new(models, config, out) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("mqtt-ids detect: {e}");
            return EXIT_USAGE;
        }
    };
    let start = Instant::now();
    let mut status = EXIT_OK;
    for file in &args.read {
        let mut reader = match capture::open(file, ReaderOptions::default()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("mqtt-ids: {e}");
                status = EXIT_INPUT_ERROR;
                continue;
            }
        };
        let total = std::fs::metadata(file).ok().map(|m| m.len());
        let bar = progress::bytes(file, total);
        match feed_reader(&mut engine, &mut reader, &mut |read| bar.set_position(read)) {
            Ok(None) => {}
            Ok(Some(e)) => {
                eprintln!("mqtt-ids: {e}");
                status = EXIT_INPUT_ERROR;
            }
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("mqtt-ids detect: writing alerts: {e}");
                return EXIT_FAILURE;
            }
        }
        bar.finish_and_clear();
    }
    let (summary, _) = match engine.finish() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqtt-ids detect: writing alerts: {e}");
            return EXIT_FAILURE;
        }
    };
    report(&summary, start.elapsed());
    if let Some(path) = &args.summary_json {
        if let Err(e) = std::fs::write(path, summary_json(&summary, start.elapsed()).to_string()) {
            eprintln!("mqtt-ids detect: cannot write {}: {e}", path.display());
            return EXIT_FAILURE;
        }
    }
    status
}

fn summary_json(s: &Summary, elapsed: Duration) -> serde_json::Value {
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "packets": s.packets,
        "seconds": elapsed.as_secs_f64(),
        "rows_scored": s.rows_scored,
        "detections": s.detections,
        "alerts": s.alerts.written,
        "alerts_by_signature": s.alerts.by_signature,
        "suppressed": s.alerts.suppressed,
        "refused_cells": s.refused_cells,
        "unattributed_findings": s.unattributed_findings,
        "flows_evicted": s.pass.flows.evicted,
        "mqtt_connections_evicted": s.pass.mqtt.evicted,
    })
}

fn report(s: &Summary, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "{} packets in {secs:.3} s ({:.0} packets/s); {} alerts ({:.1}/s), {} suppressed by the rate limit",
        s.packets,
        s.packets as f64 / secs,
        s.alerts.written,
        s.alerts.written as f64 / secs,
        s.alerts.suppressed
    );
    for ((name, rows), (_, hits)) in s.rows_scored.iter().zip(&s.detections) {
        eprintln!("  model {name}: {rows} rows scored, {hits} classified as attacks");
    }
    for (sig, n) in &s.alerts.by_signature {
        eprintln!("  {n:>8}  {sig}");
    }
    if s.pass.flows.evicted > 0 || s.pass.mqtt.evicted > 0 {
        eprintln!(
            "  table caps: {} flows and {} MQTT connections ended early",
            s.pass.flows.evicted, s.pass.mqtt.evicted
        );
    }
}
