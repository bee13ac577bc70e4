//! Capture-layer throughput: read, and read + decode, over a ≥ 1 M-packet pcapng built by
//! replicating the real MQTTset captures (Linux-cooked and Ethernet interfaces mixed).
//!
//! `read+etherparse` decodes the same frames with etherparse's lax slicer, for comparison.
//!
//! `cargo bench -p mqtt-ids-capture --bench read` — also leaves the capture at
//! `target/bench-data/mqttset-replicated.pcapng` for `scripts/bench-capture.sh`, which times
//! whole commands (mqtt-ids inspect, capinfos, cat) on the same file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::{EtherType, LaxSlicedPacket, TransportSlice};
use mqtt_ids_capture::{decode, open, LinkType, PcapNgWriter, ReaderOptions, Transport};

const MIN_PACKETS: u64 = 1_000_000;

fn bench_file() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let path = target.join("bench-data/mqttset-replicated.pcapng");
    if path.exists() {
        return path;
    }
    let shared = root.join("../shared/data/mqttset-train");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&shared)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the benchmark needs ../shared/data)",
                shared.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    inputs.sort();
    let mut frames: Vec<(LinkType, u32, Vec<u8>)> = Vec::new();
    for p in &inputs {
        let mut r = open(p.to_str().unwrap(), ReaderOptions::default()).unwrap();
        while let Some(f) = r.next_frame().unwrap() {
            frames.push((f.link_type, f.orig_len, f.data.to_vec()));
        }
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension("tmp");
    let out = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
    let mut w = PcapNgWriter::new(out).unwrap();
    let sll = w.add_interface(LinkType::LINUX_SLL, 0).unwrap();
    let eth = w.add_interface(LinkType::ETHERNET, 0).unwrap();
    let mut ts = 1_600_000_000_000_000_000i64;
    let mut n = 0u64;
    while n < MIN_PACKETS {
        for (lt, orig, data) in &frames {
            let iface = if *lt == LinkType::LINUX_SLL { sll } else { eth };
            w.write_packet(iface, ts, *orig, data).unwrap();
            ts += 1_000;
            n += 1;
        }
    }
    w.into_inner().unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn count(path: &Path) -> u64 {
    let mut r = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let mut n = 0;
    while r.next_frame().unwrap().is_some() {
        n += 1;
    }
    n
}

fn capture(c: &mut Criterion) {
    let path = bench_file();
    let packets = count(&path);
    let bytes = std::fs::metadata(&path).unwrap().len();
    eprintln!("{}: {packets} packets, {bytes} bytes", path.display());
    let file = path.to_str().unwrap().to_string();
    let mut g = c.benchmark_group("capture");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for (name, throughput) in [
        ("packets", Throughput::Elements(packets)),
        ("bytes", Throughput::Bytes(bytes)),
    ] {
        g.throughput(throughput);
        g.bench_function(format!("read/{name}"), |b| {
            b.iter(|| {
                let mut r = open(&file, ReaderOptions::default()).unwrap();
                let mut captured = 0usize;
                while let Some(f) = r.next_frame().unwrap() {
                    captured += f.data.len();
                }
                captured
            })
        });
        g.bench_function(format!("read+decode/{name}"), |b| {
            b.iter(|| {
                let mut r = open(&file, ReaderOptions::default()).unwrap();
                let mut payload = 0usize;
                while let Some(f) = r.next_frame().unwrap() {
                    let p = decode(f);
                    if let Transport::Tcp { .. } = p.transport {
                        payload += p.payload.len();
                    }
                }
                payload
            })
        });
    }
    // The same read + decode through etherparse's lax slicer (SLL stripped by hand, as it rejects
    // loopback cooked headers): the measurement behind writing our own decoder.
    g.throughput(Throughput::Elements(packets));
    g.bench_function("read+etherparse/packets", |b| {
        b.iter(|| {
            let mut r = open(&file, ReaderOptions::default()).unwrap();
            let mut payload = 0usize;
            while let Some(f) = r.next_frame().unwrap() {
                let sliced = match f.link_type {
                    LinkType::LINUX_SLL if f.data.len() >= 16 => {
                        let proto = u16::from_be_bytes([f.data[14], f.data[15]]);
                        LaxSlicedPacket::from_ether_type(EtherType(proto), &f.data[16..])
                    }
                    _ => match LaxSlicedPacket::from_ethernet(f.data) {
                        Ok(s) => s,
                        Err(_) => continue,
                    },
                };
                if let Some(TransportSlice::Tcp(t)) = &sliced.transport {
                    payload += t.payload().len();
                }
            }
            payload
        })
    });
    g.finish();
}

criterion_group!(benches, capture);
criterion_main!(benches);
