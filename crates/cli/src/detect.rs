//! `mqtt-ids detect`: run models over captures or a live interface and write alerts as
//! EVE-shaped JSON lines.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mqtt_ids_capture::{self as capture, ReaderOptions};
use mqtt_ids_detect::alert::CAPTURE_FINDINGS;
use mqtt_ids_detect::{
    feed_reader, AlertConfig, DetectConfig, Engine, LoadedModel, Summary, DEFAULT_SESSION_UPDATE_NS,
};
use mqtt_ids_features::SetKind;
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
    #[arg(
        long = "read",
        value_name = "FILE",
        num_args = 1..,
        required_unless_present = "interface",
        conflicts_with = "interface"
    )]
    read: Vec<String>,
    /// Capture live on this interface (AF_PACKET; needs CAP_NET_RAW). Ctrl-C stops with a
    /// summary.
    #[arg(long, short = 'i', value_name = "IF")]
    interface: Option<String>,
    /// Live capture only: a tcpdump filter expression (compiled by libpcap, loaded at run time;
    /// Debian package libpcap0.8), run in the kernel.
    #[arg(long, value_name = "EXPR", requires = "interface")]
    filter: Option<String>,
    /// Live capture: print packets/s, alerts/s and drops on stderr this often.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    stats_interval: String,
    /// Live capture: the kernel's receive ring, MiB (1 MiB blocks).
    #[arg(long, default_value_t = 32, value_name = "MIB")]
    ring_mb: usize,
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
    /// `session` models: score open connections every this long (packet time), so connections
    /// held open (SlowITe, floods) are reported while they last; `0` only when they end.
    /// Default: the interval the model's rows were extracted with (`extract
    /// --session-interval`), else 10s.
    #[arg(long, value_name = "DURATION")]
    session_interval: Option<String>,
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
    /// Rows whose class probabilities each model remembers (exact: tree models are keyed by
    /// the interval of every feature between the model's split thresholds, others by the row's
    /// bits); `0` scores every row.
    #[arg(long, default_value_t = 65_536, value_name = "ROWS")]
    score_cache: usize,
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
    let session = match &args.session_interval {
        Some(text) => duration_or_zero(text).map_err(|e| format!("--session-interval: {e}"))?,
        None => models
            .iter()
            .filter(|m| m.set == SetKind::Session)
            .filter_map(|m| m.file.schema.producer_config.as_ref())
            .find_map(|c| c.get("session_interval_ns")?.as_i64())
            .unwrap_or(DEFAULT_SESSION_UPDATE_NS),
    };
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
        session_update_ns: (session > 0).then_some(session),
        alerts: AlertConfig {
            rate_window_ns: rate,
            top_features: args.top_features,
            findings: findings(&args.findings)?,
            interface: args.interface.clone(),
        },
        // Live: rows wait at most 10 ms for a batch to fill (alert latency); files: 50 ms
        // never matters, batches fill first.
        max_delay: Duration::from_millis(if args.interface.is_some() { 10 } else { 50 }),
        score_cache: args.score_cache,
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
    if let Some(interface) = &args.interface {
        return live(args, interface, engine, start);
    }
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

#[cfg(target_os = "linux")]
fn live(args: &Args, interface: &str, mut engine: Engine<Box<dyn Write>>, start: Instant) -> u8 {
    use mqtt_ids_detect::live::{self, LiveCapture, LiveConfig};
    let every = match parse_duration(&args.stats_interval) {
        Ok(ns) if ns > 0 => Duration::from_nanos(ns as u64),
        _ => {
            eprintln!("mqtt-ids detect: --stats-interval: a duration such as 10s is expected");
            return EXIT_USAGE;
        }
    };
    if !(1..=4096).contains(&args.ring_mb) {
        eprintln!("mqtt-ids detect: --ring-mb must be between 1 and 4096");
        return EXIT_USAGE;
    }
    let config = LiveConfig {
        interface: interface.to_string(),
        filter: args.filter.clone(),
        block_count: args.ring_mb,
        ..LiveConfig::default()
    };
    let stop = match live::stop_on_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqtt-ids detect: cannot install the Ctrl-C handler: {e}");
            return EXIT_FAILURE;
        }
    };
    let mut capture = match LiveCapture::open(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mqtt-ids detect: {e}");
            return EXIT_FAILURE;
        }
    };
    eprintln!(
        "listening on {interface} ({}, {} MiB ring{}); Ctrl-C stops",
        capture.link_type().name(),
        args.ring_mb,
        args.filter
            .as_deref()
            .map(|f| format!(", filter `{f}`"))
            .unwrap_or_default()
    );
    let result = live::run(&mut engine, &mut capture, &stop, every, &mut |r| {
        eprintln!("{}", r.line(interface))
    });
    let last = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mqtt-ids detect: {interface}: {e}");
            return EXIT_FAILURE;
        }
    };
    let (summary, _) = match engine.finish() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqtt-ids detect: writing alerts: {e}");
            return EXIT_FAILURE;
        }
    };
    // The last report after the engine finished: flows still open at the stop were scored.
    let mut last = last;
    last.total_alerts = summary.alerts.written;
    last.alerts = summary.alerts.written;
    eprintln!("stopped: {}", last.line(interface));
    report(&summary, start.elapsed());
    if let Some(path) = &args.summary_json {
        let mut json = summary_json(&summary, start.elapsed());
        let c = last.capture;
        json["live"] = serde_json::json!({
            "interface": interface,
            "filter": args.filter,
            "frames": c.frames,
            "bytes": c.bytes,
            "kernel_packets": c.kernel_packets,
            "kernel_drops": c.kernel_drops,
            "ring_freezes": c.ring_freezes,
            "user_drops": c.user_drops,
            "interface_drops": c.interface_drops,
            "loopback_duplicates_skipped": c.outgoing_duplicates,
        });
        if let Err(e) = std::fs::write(path, json.to_string()) {
            eprintln!("mqtt-ids detect: cannot write {}: {e}", path.display());
            return EXIT_FAILURE;
        }
    }
    EXIT_OK
}

#[cfg(not(target_os = "linux"))]
fn live(_: &Args, _: &str, _: Engine<Box<dyn Write>>, _: Instant) -> u8 {
    eprintln!("mqtt-ids detect: live capture (--interface) is implemented for Linux only; capture with tcpdump -w and use --read");
    EXIT_USAGE
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
        "context": s.pass.context.map(|c| serde_json::json!({
            "connections": c.connections,
            "sessions": c.sessions,
            "connections_evicted": c.evicted,
            "idle_ended": c.idle_ended,
            "hosts_evicted": c.hosts_evicted,
            "host_events_dropped": c.host_events_dropped,
        })),
        "score_cache": s.score_cache.iter().map(|(name, hits, misses, clears)| serde_json::json!({
            "model": name, "hits": hits, "misses": misses, "clears": clears,
        })).collect::<Vec<_>>(),
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
    for (((name, rows), (_, hits)), (_, cached, computed, _)) in
        s.rows_scored.iter().zip(&s.detections).zip(&s.score_cache)
    {
        eprintln!(
            "  model {name}: {rows} rows scored, {hits} classified as attacks; score cache: \
             {cached} rows answered, {computed} computed ({:.1} % hits)",
            100.0 * *cached as f64 / (*cached + *computed).max(1) as f64
        );
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
    if let Some(c) = s.pass.context {
        eprintln!(
            "  context/session: {} connections, {} session rows; caps: {} connections ended \
             early, {} client hosts forgotten, {} fan-out window events dropped",
            c.connections, c.sessions, c.evicted, c.hosts_evicted, c.host_events_dropped
        );
    }
}
