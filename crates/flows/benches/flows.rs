//! Flow table throughput over a ≥ 1 M-packet pcapng built from the real MQTTset captures: the
//! seven training captures back to back, copied with the second and third octets of every IPv4
//! address set to the copy number (as crates/capture/examples/replicate.rs does), so each
//! copy's flows are new flows rather than longer old ones.
//!
//! - `on_packet/capture`, `on_packet/timeout`: [`FlowTable::on_packet`] + `finish` alone, on
//!   packets decoded beforehand (the brief's figure: the table's own cost).
//! - `read+decode`, `read+decode+flows`: the whole extractor from the file, and the same without
//!   the table, in one run, so the table's share is visible.
//!
//! `cargo bench -p mqtt-ids-flows --bench flows` — leaves the capture at
//! `target/bench-data/flows-mqttset-replicated.pcapng` (or under `$CARGO_TARGET_DIR`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqtt_ids_capture::{decode, open, Frame, LinkType, ReaderOptions};
use mqtt_ids_flows::{BiFlow, FlowConfig, FlowMode, FlowSink, FlowTable, UniFlow};

const MIN_PACKETS: u64 = 1_000_000;
const S: i64 = 1_000_000_000;

/// Counts rows and touches their numbers, so that nothing is optimised away.
#[derive(Default)]
struct Count {
    uni: u64,
    bi: u64,
    packets: u64,
}

impl FlowSink for Count {
    fn uniflow(&mut self, flow: &UniFlow) {
        self.uni += 1;
        self.packets += flow.stats.num_pkts;
    }
    fn biflow(&mut self, flow: &BiFlow) {
        self.bi += 1;
        black_box(flow.fwd.mean_iat + flow.bwd.std_pkt_len);
    }
}

fn bench_file() -> PathBuf {
    mqtt_ids_capture::replicate::mqttset_bench_capture(
        "flows-mqttset-replicated.pcapng",
        MIN_PACKETS,
    )
}

/// A frame kept in memory, to be decoded once before the table benchmarks.
struct OwnedFrame {
    number: u64,
    ts_ns: i64,
    link_type: LinkType,
    orig_len: u32,
    data: Vec<u8>,
}

fn load(path: &Path) -> Vec<OwnedFrame> {
    let mut r = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        frames.push(OwnedFrame {
            number: f.number,
            ts_ns: f.ts_ns,
            link_type: f.link_type,
            orig_len: f.orig_len,
            data: f.data.to_vec(),
        });
    }
    frames
}

fn run_table(packets: &[mqtt_ids_capture::Packet<'_>], config: FlowConfig) -> Count {
    let mut table = FlowTable::new(config);
    let mut count = Count::default();
    for p in packets {
        table.on_packet(p, &mut count);
    }
    table.finish(&mut count);
    count
}

fn flows(c: &mut Criterion) {
    let path = bench_file();
    let file = path.to_str().unwrap().to_string();
    let owned = load(&path);
    let packets: Vec<_> = owned
        .iter()
        .map(|f| {
            decode(Frame {
                number: f.number,
                offset: 0,
                ts_ns: f.ts_ns,
                interface: 0,
                link_type: f.link_type,
                orig_len: f.orig_len,
                data: &f.data,
            })
        })
        .collect();
    let n = packets.len() as u64;
    let capture = FlowConfig::default();
    let timeout = FlowConfig {
        mode: FlowMode::Timeout {
            idle_ns: 120 * S,
            active_ns: Some(3600 * S),
        },
        ..FlowConfig::default()
    };
    for (name, config) in [("capture", capture), ("timeout", timeout)] {
        let mut table = FlowTable::new(config);
        let mut count = Count::default();
        for p in &packets {
            table.on_packet(p, &mut count);
        }
        table.finish(&mut count);
        let s = table.stats();
        eprintln!(
            "{}: {n} packets ({} in flows); {name} mode: {} uni-flows, {} bi-flows, \
             peak {} entries",
            path.display(),
            s.flow_packets,
            count.uni,
            count.bi,
            s.peak_entries
        );
    }

    let mut g = c.benchmark_group("flows");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(n));
    g.bench_function("on_packet/capture", |b| {
        b.iter(|| run_table(&packets, capture).packets)
    });
    g.bench_function("on_packet/timeout", |b| {
        b.iter(|| run_table(&packets, timeout).packets)
    });
    g.bench_function("read+decode", |b| {
        b.iter(|| {
            let mut r = open(&file, ReaderOptions::default()).unwrap();
            let mut n = 0u64;
            while let Some(f) = r.next_frame().unwrap() {
                // The whole packet, as the table reads it (not only the fields used here).
                black_box(decode(f));
                n += 1;
            }
            n
        })
    });
    g.bench_function("read+decode+flows", |b| {
        b.iter(|| {
            let mut r = open(&file, ReaderOptions::default()).unwrap();
            let mut table = FlowTable::new(capture);
            let mut count = Count::default();
            while let Some(f) = r.next_frame().unwrap() {
                table.on_packet(&decode(f), &mut count);
            }
            table.finish(&mut count);
            count.packets
        })
    });
    g.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
