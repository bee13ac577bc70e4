//! `mqtt-ids extract`: the papers' feature sets from captures, all requested sets from one read of
//! each file, as CSV (with a JSON sidecar) or typed Parquet.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use mqtt_ids_capture::{self as capture, ReaderOptions};
use mqtt_ids_features::label::{Labeler, Net};
use mqtt_ids_features::metadata::Provenance;
use mqtt_ids_features::parquet::ParquetSink;
use mqtt_ids_features::{
    extract_parallel, CsvSink, ExtractOptions, ExtractReport, Handover, LineOut, Output, Outputs,
    SetKind, WriteBehind,
};
use mqtt_ids_flows::{parse_duration, FlowConfig, FlowMode, DEFAULT_MAX_FLOWS};
use mqtt_ids_mqtt::TrackerConfig;
use serde_json::{json, Value};

use crate::{progress, EXIT_FAILURE, EXIT_INPUT_ERROR, EXIT_OK, EXIT_USAGE};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a `.json` sidecar recording version, schema and configuration.
    Csv,
    /// Parquet with typed columns; the same record as key-value metadata.
    Parquet,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Feature sets to write: packet, uniflow, biflow, mqttset (the papers'), context, session
    /// (per packet / per connection with MQTT session state), or all (comma-separated; default
    /// the papers' four).
    #[arg(
        long = "set",
        value_delimiter = ',',
        default_value = "packet,uniflow,biflow,mqttset",
        value_name = "SET,..."
    )]
    sets: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Output directory (created if missing); files are named `<set>_<stem>.<ext>`.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    out_dir: PathBuf,
    /// Rows to or from these addresses (or CIDR blocks) are attacks; the others legitimate
    /// (how MQTT-IoT-IDS2020 was labelled; its attacker was 192.168.2.5).
    #[arg(long, value_delimiter = ',', value_name = "IP,...")]
    attacker: Vec<String>,
    /// Class of every row of the file (as MQTTset labelled its captures); with --attacker, the
    /// class of the attack rows. `is_attack` is 1 unless it is legitimate, benign or normal.
    #[arg(long, value_name = "CLASS")]
    label: Option<String>,
    /// Label rules `class,address,port,start,end` (first match wins; empty or * matches all;
    /// times as RFC 3339 or Unix seconds), for captures that mix classes.
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// Write fields a frame lacks as empty in the mqttset set (tshark's way), not `0` (the
    /// published MQTTset CSVs' way).
    #[arg(long)]
    empty_absent: bool,
    /// End flows after IDLE without packets (and, if given, ACTIVE after their first packet),
    /// and TCP flows at FIN from both sides or RST: the online definition used for detection.
    /// Durations like 120, 120s, 500ms, 2m, 1h. Default: the papers' (one flow per 5-tuple over
    /// the whole capture).
    #[arg(long, value_name = "IDLE[,ACTIVE]")]
    flow_timeout: Option<String>,
    /// `session` rows also every DURATION (packet time) while a connection lasts, as `detect`
    /// scores session models (`detect --session-interval`, which defaults to the interval the
    /// model's rows were extracted with); default: one row per connection, at its end.
    #[arg(long, value_name = "DURATION")]
    session_interval: Option<String>,
    /// Flow-table entries held at once; beyond it the least recently seen flow is written early
    /// (counted and reported).
    #[arg(long, default_value_t = DEFAULT_MAX_FLOWS, value_name = "N")]
    max_flows: usize,
    /// TCP server ports whose traffic is MQTT (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1883",
        value_name = "PORT,..."
    )]
    mqtt_ports: Vec<u16>,
    /// Do not look for MQTT on other ports (tshark's behaviour: by default a connection on any
    /// port whose client opens with an MQTT CONNECT is dissected too).
    #[arg(long)]
    no_mqtt_probe: bool,
    /// Run the requested sets in up to N passes over the file at once, one thread each (each
    /// pass reads and decodes the file again: more CPU time, less wall time when cores are
    /// free, slower on a busy machine; the output is the same). Standard input, FIFOs and
    /// other inputs that are not regular files are always read in one pass.
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,
    /// Capture files (pcap or pcapng, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
}

/// The file name without directory and capture/compression extensions:
/// `data/flood-train.pcap.gz` → `flood-train`; `-` → `stdin`.
pub fn stem(file: &str) -> String {
    if file == "-" {
        return "stdin".into();
    }
    let mut name = Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string());
    const EXTENSIONS: [&str; 7] = [".gz", ".pcapng", ".pcap", ".cap", ".dmp", ".ntar", ".gzip"];
    loop {
        let lower = name.to_ascii_lowercase();
        match EXTENSIONS.iter().find(|e| lower.ends_with(*e)) {
            Some(e) if name.len() > e.len() => name.truncate(name.len() - e.len()),
            _ => break,
        }
    }
    name
}

struct Plan {
    sets: Vec<SetKind>,
    options: ExtractOptions,
    config: Value,
}

fn plan(args: &Args) -> Result<Plan, String> {
    let mut sets = Vec::new();
    for name in &args.sets {
        let name = name.trim();
        if name == "all" {
            sets.extend(SetKind::ALL);
            continue;
        }
        let kind = SetKind::parse(name).ok_or_else(|| {
            format!(
                "unknown feature set `{name}`; expected packet, uniflow, biflow, mqttset, \
                 context, session or all"
            )
        })?;
        sets.push(kind);
    }
    sets.sort();
    sets.dedup();
    let mut labels = Labeler {
        class: args.label.clone(),
        ..Labeler::default()
    };
    for a in &args.attacker {
        labels
            .attackers
            .push(Net::parse(a).map_err(|e| format!("--attacker: {e}"))?);
    }
    if let Some(path) = &args.labels {
        labels.rules = Labeler::read_rules(path)?;
    }
    let mode = match &args.flow_timeout {
        None => FlowMode::Capture,
        Some(spec) => spec
            .parse::<FlowMode>()
            .map_err(|e| format!("--flow-timeout: {e}"))?,
    };
    if args.max_flows == 0 {
        return Err("--max-flows must be at least 1".into());
    }
    let session_interval = match &args.session_interval {
        None => None,
        Some(text) => match parse_duration(text) {
            Ok(ns) if ns > 0 => Some(ns),
            Ok(_) => return Err("--session-interval must be longer than 0".into()),
            Err(e) => return Err(format!("--session-interval: {e}")),
        },
    };
    let config = json!({
        "mqtt_ports": args.mqtt_ports,
        "mqtt_probe_other_ports": !args.no_mqtt_probe,
        "flow_mode": match mode {
            FlowMode::Capture => json!("capture"),
            FlowMode::Timeout { idle_ns, active_ns } =>
                json!({ "idle_ns": idle_ns, "active_ns": active_ns }),
        },
        "max_flows": args.max_flows,
        "session_interval_ns": session_interval,
        "attacker": args.attacker,
        "label": args.label,
        "labels": args.labels.as_ref().map(|p| p.display().to_string()),
        "label_rules": labels.rules.len(),
        "empty_absent": args.empty_absent,
    });
    Ok(Plan {
        sets,
        options: ExtractOptions {
            tracker: TrackerConfig {
                ports: args.mqtt_ports.clone(),
                probe_other_ports: !args.no_mqtt_probe,
                ..TrackerConfig::default()
            },
            flows: FlowConfig {
                mode,
                max_flows: args.max_flows,
            },
            labels,
            session_update_ns: session_interval,
        },
        config,
    })
}

pub fn run(args: &Args) -> u8 {
    let plan = match plan(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mqtt-ids extract: {e}");
            return EXIT_USAGE;
        }
    };
    // Two inputs with one stem would overwrite each other's outputs.
    let mut stems: HashMap<String, &str> = HashMap::new();
    for file in &args.files {
        if let Some(other) = stems.insert(stem(file), file) {
            eprintln!(
                "mqtt-ids extract: `{other}` and `{file}` would both write `<set>_{}` files; \
                 rename one or extract them in separate runs",
                stem(file)
            );
            return EXIT_USAGE;
        }
    }
    if let Err(e) = fs::create_dir_all(&args.out_dir) {
        eprintln!(
            "mqtt-ids extract: cannot create the output directory {}: {e}",
            args.out_dir.display()
        );
        return EXIT_FAILURE;
    }
    let mut status = EXIT_OK;
    for file in &args.files {
        match extract_file(file, args, &plan) {
            Ok(FileOutcome::Done) => {}
            Ok(FileOutcome::InputError) => status = status.max(EXIT_INPUT_ERROR),
            Err(e) => {
                eprintln!("mqtt-ids extract: {e}");
                return EXIT_FAILURE;
            }
        }
    }
    status
}

enum FileOutcome {
    Done,
    InputError,
}

/// One output being written: its final path and the temporary one it is written to.
struct Pending {
    set: SetKind,
    path: PathBuf,
    partial: PathBuf,
    provenance: Provenance,
}

fn extract_file(file: &str, args: &Args, plan: &Plan) -> Result<FileOutcome, String> {
    let mut reader = match capture::open(file, ReaderOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mqtt-ids: {e}");
            return Ok(FileOutcome::InputError);
        }
    };
    let stem = stem(file);
    let ext = match args.format {
        Format::Csv => "csv",
        Format::Parquet => "parquet",
    };
    let mut outputs = Outputs::default();
    let mut pending = Vec::new();
    for &set in &plan.sets {
        let path = args.out_dir.join(format!("{}_{stem}.{ext}", set.name()));
        let partial = path.with_extension(format!("{ext}.partial"));
        let provenance = Provenance {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            schema: set.schema(),
            input: file.to_string(),
            config: plan.config.clone(),
        };
        let created = File::create(&partial)
            .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
        let output = match args.format {
            Format::Csv => {
                let absent = if set == SetKind::Mqttset && !args.empty_absent {
                    "0"
                } else {
                    ""
                };
                // Rows are rendered while a thread of the output's own writes the last chunk,
                // handed over whole (no copy).
                let writer: Box<dyn LineOut + Send> =
                    Box::new(Handover(WriteBehind::new(created).map_err(|e| {
                        format!("cannot start writing {}: {e}", partial.display())
                    })?));
                Output::Csv(
                    CsvSink::new(writer, set.schema(), absent)
                        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?,
                )
            }
            Format::Parquet => Output::Parquet(Box::new(
                ParquetSink::new(created, set.schema(), provenance.key_values())
                    .map_err(|e| format!("cannot write {}: {e}", partial.display()))?,
            )),
        };
        *outputs.slot(set) = Some(output);
        pending.push(Pending {
            set,
            path,
            partial,
            provenance,
        });
    }
    let size = fs::metadata(file)
        .ok()
        .filter(|m| m.is_file() && !reader.compressed())
        .map(|m| m.len());
    let bar = progress::bytes(file, size);
    // Further passes open the file again: only a regular file reads the same twice (not
    // standard input, a FIFO or a process substitution).
    let threads = if file != "-" && fs::metadata(file).is_ok_and(|m| m.is_file()) {
        args.threads
    } else {
        1
    };
    let reopen = || capture::open(file, ReaderOptions::default());
    let result = extract_parallel(
        &mut reader,
        &reopen,
        threads,
        &plan.options,
        &mut outputs,
        &mut |bytes| bar.set_position(bytes),
    );
    bar.finish_and_clear();
    let cleanup = |pending: &[Pending]| {
        for p in pending {
            let _ = fs::remove_file(&p.partial);
        }
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            cleanup(&pending);
            return Err(format!(
                "{file}: writing the features failed: {e}; nothing of this input was kept"
            ));
        }
    };
    let mut rows = HashMap::new();
    for set in SetKind::ALL {
        if let Some(output) = outputs.slot(set).take() {
            rows.insert(set, output.rows());
            if let Err(e) = output.finish() {
                cleanup(&pending);
                return Err(format!(
                    "{file}: finishing the {} output failed: {e}",
                    set.name()
                ));
            }
        }
    }
    let run = run_json(&report, &rows);
    for p in &pending {
        fs::rename(&p.partial, &p.path)
            .map_err(|e| format!("cannot move {} into place: {e}", p.path.display()))?;
        if args.format == Format::Csv {
            let sidecar = p.path.with_extension("json");
            let mut text = serde_json::to_string_pretty(&p.provenance.sidecar(run.clone()))
                .expect("JSON of plain values");
            text.push('\n');
            fs::write(&sidecar, text)
                .map_err(|e| format!("cannot write {}: {e}", sidecar.display()))?;
        }
    }
    let mut outcome = FileOutcome::Done;
    for (link, packet) in &report.unsupported_link_types {
        eprintln!(
            "mqtt-ids: {file}: packet {packet}: link type {link} is not supported; its packets \
             have no rows"
        );
        outcome = FileOutcome::InputError;
    }
    if let Some(e) = &report.input_error {
        eprintln!("mqtt-ids: {e}; the rows before it were written");
        outcome = FileOutcome::InputError;
    }
    if report.flows.evicted > 0 {
        eprintln!(
            "mqtt-ids: {file}: {} flows were written early because more than {} were open at \
             once (raise --max-flows to keep them whole)",
            report.flows.evicted, args.max_flows
        );
    }
    if let Some(s) = report.mqttset.filter(|s| s.evicted > 0) {
        eprintln!(
            "mqtt-ids: {file}: {} TCP conversations were forgotten by the mqttset set because too \
             many were open at once; their later frames restart tcp.time_delta and the MQTT version",
            s.evicted
        );
    }
    if let Some(s) = report.context.filter(|s| s.evicted + s.hosts_evicted > 0) {
        eprintln!(
            "mqtt-ids: {file}: the context/session state ended {} connections early and forgot {} \
             client hosts because too many were held at once",
            s.evicted, s.hosts_evicted
        );
    }
    if report.mqtt.evicted > 0 {
        eprintln!(
            "mqtt-ids: {file}: {} MQTT connections were finished early because more than {} were \
             open at once",
            report.mqtt.evicted, plan.options.tracker.max_connections
        );
    }
    let summary: Vec<String> = pending
        .iter()
        .map(|p| {
            format!(
                "{} {} rows",
                p.path.display(),
                rows.get(&p.set).unwrap_or(&0)
            )
        })
        .collect();
    eprintln!(
        "mqtt-ids: {file}: {} packets → {}",
        report.packets,
        summary.join(", ")
    );
    Ok(outcome)
}

fn run_json(report: &ExtractReport, rows: &HashMap<SetKind, u64>) -> Value {
    let f = &report.flows;
    let m = &report.mqtt;
    json!({
        "packets": report.packets,
        "bytes_read": report.bytes_read,
        "rows": SetKind::ALL.into_iter().filter_map(|k| Some((k.name().to_string(), json!(rows.get(&k)?)))).collect::<serde_json::Map<_, _>>(),
        "input_error": report.input_error.as_ref().map(|e| e.to_string()),
        "unsupported_link_types": report.unsupported_link_types.iter()
            .map(|(l, p)| json!({ "link_type": l.to_string(), "first_packet": p }))
            .collect::<Vec<_>>(),
        "flows": {
            "flows": f.flows,
            "evicted": f.evicted,
            "skipped_not_tcp_udp": f.skipped_not_tcp_udp,
            "tcp_unpaired_dropped": f.tcp_unpaired_dropped,
            "out_of_order_flows": f.out_of_order_flows,
        },
        "mqttset": report.mqttset.map(|s| json!({
            "streams": s.streams,
            "ports_reused": s.ports_reused,
            "evicted": s.evicted,
            "messages": s.messages,
        })),
        "context": report.context.map(|s| json!({
            "connections": s.connections,
            "ports_reused": s.ports_reused,
            "evicted": s.evicted,
            "idle_ended": s.idle_ended,
            "hosts_evicted": s.hosts_evicted,
            "host_events_dropped": s.host_events_dropped,
            "sessions": s.sessions,
        })),
        "mqtt": {
            "connections": m.connections,
            "found_by_probe": m.found_by_probe,
            "evicted": m.evicted,
            "segments": m.segments,
            "buffer_refused": m.buffer_refused,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_directories_and_capture_extensions() {
        assert_eq!(stem("data/flood-train.pcap"), "flood-train");
        assert_eq!(stem("a/b/x.pcapng.gz"), "x");
        assert_eq!(stem("capture.2020-05-11.pcap"), "capture.2020-05-11");
        assert_eq!(stem("noext"), "noext");
        assert_eq!(stem(".pcap"), ".pcap");
        assert_eq!(stem("-"), "stdin");
    }
}
