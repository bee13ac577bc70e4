//! Offline detection throughput on one core: the ≥ 1 M-packet capture of the extraction
//! benchmark (the seven MQTTset training captures copied with new hosts) through the detector
//! with a 100-tree random forest (mqttset2020 preset) trained here on the MQTTset training
//! captures — per packet on the `mqttset` set, per flow on `biflow`, per packet on `context`, per
//! connection on `session` (at its end and every second while it lasts, the detector's default;
//! the session forest is trained on rows extracted with the same interval) — with and without
//! the score cache, beside `extract --set mqttset` (rows rendered as CSV into a sink) on the
//! same file in the same run. CPU time of this process (getrusage) and wall time, medians of 3 runs;
//! rayon is held to one thread so the figures are per core.
//!
//! `cargo bench -p mqtt-ids-detect --bench detect`; the table is also written to
//! `target/bench-data/detect-bench.md`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::*;
use mqtt_ids_capture::{open, ReaderOptions};
use mqtt_ids_detect::{feed_reader, DetectConfig, Engine, LoadedModel, DEFAULT_SESSION_UPDATE_NS};
use mqtt_ids_features::{extract, CsvSink, ExtractOptions, Output, Outputs, SetKind};
use mqtt_ids_flows::{FlowConfig, FlowMode};
use mqtt_ids_learn::ModelParams;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes one `rusage` into the zeroed value we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn online_flows() -> FlowConfig {
    FlowConfig {
        mode: FlowMode::Timeout {
            idle_ns: 60_000_000_000,
            active_ns: Some(300_000_000_000),
        },
        ..FlowConfig::default()
    }
}

/// (wall s, CPU s, result) medians of `runs` runs.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let (c0, w0) = (cpu_seconds(), Instant::now());
        last = Some(f());
        walls.push(w0.elapsed().as_secs_f64());
        cpus.push(cpu_seconds() - c0);
    }
    walls.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    (walls[runs / 2], cpus[runs / 2], last.unwrap())
}

fn extract_mqttset(path: &Path) -> u64 {
    let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let mut outputs = Outputs::default();
    let sink: Box<dyn mqtt_ids_features::LineOut + Send> = Box::new(std::io::sink());
    *outputs.slot(SetKind::Mqttset) = Some(Output::Csv(
        CsvSink::new(sink, SetKind::Mqttset.schema(), "0").unwrap(),
    ));
    let options = ExtractOptions {
        flows: online_flows(),
        ..ExtractOptions::default()
    };
    extract(&mut reader, &options, &mut outputs, &mut |_| {})
        .unwrap()
        .packets
}

fn detect(path: &Path, model: &LoadedModel, cache: usize) -> (u64, u64, u64, u64) {
    let model = LoadedModel::new(model.name.clone(), model.file.clone(), 0.5).unwrap();
    let config = DetectConfig {
        flows: online_flows(),
        score_cache: cache,
        ..DetectConfig::default()
    };
    let mut engine = Engine::new(vec![model], config, std::io::sink()).unwrap();
    let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    feed_reader(&mut engine, &mut reader, &mut |_| {}).unwrap();
    let (s, _) = engine.finish().unwrap();
    let (_, hits, misses, _) = s.score_cache[0].clone();
    (s.packets, s.alerts.written, hits, misses)
}

fn main() {
    // One core: the forest's batch prediction would otherwise use every thread.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let path =
        mqtt_ids_capture::replicate::mqttset_bench_capture("extract-mqttset-1m.pcapng", 1_000_000);
    let data = mqttset_dir().expect("the benchmark needs ../shared/data/mqttset-train");
    let dir = temp_dir("bench");
    let captures: Vec<(PathBuf, &str)> = [
        ("benign-train.pcap", "legitimate"),
        ("bruteforce-train.pcapng", "bruteforce"),
        ("flood-train.pcap", "flood"),
        ("malariados-train.pcap", "malariados"),
        ("malformed-train.pcap", "malformed"),
        ("slowite-train.pcap", "slowite"),
    ]
    .iter()
    .map(|(f, c)| (data.join(f), *c))
    .collect();
    let params = ModelParams::from_name("rf", Some("mqttset2020")).unwrap();
    let mut models = Vec::new();
    for set in [
        SetKind::Mqttset,
        SetKind::Biflow,
        SetKind::Context,
        SetKind::Session,
    ] {
        let tables: Vec<PathBuf> = captures
            .iter()
            .map(|(c, class)| {
                let options = ExtractOptions {
                    flows: online_flows(),
                    session_update_ns: Some(DEFAULT_SESSION_UPDATE_NS),
                    ..ExtractOptions::default()
                };
                extract_csv_with(c, set, class, options, &dir)
            })
            .collect();
        let file = train(&tables, set, &table_options(set), &params);
        models.push(LoadedModel::new(format!("rf-{}", set.name()), file, 0.5).unwrap());
    }
    let (w, c, packets) = time(3, || extract_mqttset(&path));
    let mut rows = vec![format!(
        "| `extract --set mqttset` (CSV into a sink) | {w:.3} | {c:.3} | {:.2} M | 1 | — | — |",
        packets as f64 / c / 1e6
    )];
    let reference_cpu = c;
    eprintln!("{}", rows[0]);
    for model in &models {
        for cache in [1 << 16, 0] {
            let (w, c, (packets, alerts, hits, misses)) = time(3, || detect(&path, model, cache));
            let row =
                format!(
                "| detect, 100-tree {} {} | {w:.3} | {c:.3} | {:.2} M | {:.1}× | {alerts} | {} |",
                model.name,
                if cache > 0 { "with score cache" } else { "no cache" },
                packets as f64 / c / 1e6,
                c / reference_cpu,
                if cache > 0 {
                    format!(
                        "{:.2} % of {} rows",
                        100.0 * hits as f64 / (hits + misses).max(1) as f64,
                        hits + misses
                    )
                } else {
                    format!("{misses} rows computed")
                },
            );
            eprintln!("{row}");
            rows.push(row);
        }
    }
    let table = format!(
        "{packets} packets, `{}`\n\n| run | wall s | CPU s | packets per CPU s | CPU vs extract | alerts | score cache |\n|---|---:|---:|---:|---:|---:|---|\n{}\n",
        path.display(),
        rows.join("\n")
    );
    println!("{table}");
    let out = path.with_file_name("detect-bench.md");
    std::fs::write(&out, &table).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
