//! The whole extractor: read + decode + MQTT dissection + flow table + rows of all four sets,
//! rendered as CSV into a sink that discards them, over a ≥ 1 M-packet pcapng built from the
//! seven MQTTset training captures (copies with new IPv4 hosts, so flows and connections grow as
//! in a long capture). Rows `one set` show each set's share.
//!
//! `cargo bench -p mqtt-ids-features --bench extract` — leaves the capture at
//! `target/bench-data/extract-mqttset-1m.pcapng` for `scripts/bench-extract.sh`, which times
//! `mqtt-ids extract` beside tshark's MQTTset export on the same file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqtt_ids_capture::{open, ReaderOptions};
use mqtt_ids_features::{extract, CsvSink, ExtractOptions, Output, Outputs, SetKind};

const MIN_PACKETS: u64 = 1_000_000;

fn bench_file() -> PathBuf {
    mqtt_ids_capture::replicate::mqttset_bench_capture("extract-mqttset-1m.pcapng", MIN_PACKETS)
}

fn csv(set: SetKind) -> Output {
    let sink: Box<dyn mqtt_ids_features::LineOut + Send> = Box::new(std::io::sink());
    Output::Csv(CsvSink::new(sink, set.schema(), "0").unwrap())
}

fn run(path: &Path, sets: &[SetKind]) -> u64 {
    let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let mut outputs = Outputs::default();
    for &set in sets {
        *outputs.slot(set) = Some(csv(set));
    }
    let report = extract(
        &mut reader,
        &ExtractOptions::default(),
        &mut outputs,
        &mut |_| {},
    )
    .unwrap();
    report.packets
}

fn bench(c: &mut Criterion) {
    let path = bench_file();
    let packets = run(&path, &[]);
    assert!(packets >= MIN_PACKETS);
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(packets));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    // The papers' four (`SetKind::ALL` also has `context` and `session`).
    let papers = [
        SetKind::Packet,
        SetKind::Uniflow,
        SetKind::Biflow,
        SetKind::Mqttset,
    ];
    g.bench_function("all four sets (csv)", |b| b.iter(|| run(&path, &papers)));
    for set in SetKind::ALL {
        g.bench_function(format!("one set: {}", set.name()), |b| {
            b.iter(|| run(&path, &[set]))
        });
    }
    g.bench_function("read only", |b| b.iter(|| run(&path, &[])));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
