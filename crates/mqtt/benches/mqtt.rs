//! Throughput of the codec and of reassembly: messages/s parsing a buffer of PUBLISH and a mix of
//! types, and bytes/s through a `Connection` fed MSS-sized and 32 KB segments.
//!
//! Run: `cargo bench -p mqtt-ids-mqtt`. Numbers are machine-specific; record them with the machine.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqtt_ids_mqtt::codec::header::encode_varint;
use mqtt_ids_mqtt::{
    parse_message, Connection, Decoded, Direction, MemoryBudget, MessageEvent, ParseOptions,
    ProtocolVersion, ReassemblyConfig, Segment,
};

fn frame(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut len = [0u8; 4];
    let n = encode_varint(body.len() as u32, &mut len).unwrap();
    let mut out = vec![first_byte];
    out.extend_from_slice(&len[..n]);
    out.extend_from_slice(body);
    out
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut v = (s.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

/// A QoS 0 PUBLISH like MQTTset's sensors: 15-byte topic, 24-byte payload (43 bytes on the wire).
fn publish(i: u32) -> Vec<u8> {
    let mut body = string(b"sensors/temp/01");
    body.extend_from_slice(format!("{{\"t\":{:>14}}}", i % 10_000).as_bytes());
    frame(0x30, &body)
}

fn mixed() -> Vec<Vec<u8>> {
    let mut connect = string(b"MQTT");
    connect.extend_from_slice(&[4, 0xc2, 0, 60]);
    connect.extend_from_slice(&string(b"client-0001"));
    connect.extend_from_slice(&string(b"user"));
    connect.extend_from_slice(&string(b"password"));
    let mut sub = vec![0, 1];
    sub.extend_from_slice(&string(b"sensors/#"));
    sub.push(1);
    let mut pub1 = string(b"a/b");
    pub1.extend_from_slice(&[0, 9]);
    pub1.extend_from_slice(b"payload");
    vec![
        frame(0x10, &connect),
        vec![0x20, 2, 0, 0],
        frame(0x82, &sub),
        vec![0x90, 3, 0, 1, 1],
        frame(0x32, &pub1),
        vec![0x40, 2, 0, 9],
        publish(1),
        vec![0xc0, 0],
        vec![0xd0, 0],
        vec![0xe0, 0],
    ]
}

fn parse_all(buf: &[u8], options: &ParseOptions) -> usize {
    let mut rest = buf;
    let mut n = 0;
    while let Decoded::Parsed { message, consumed } = parse_message(rest, options) {
        black_box(&message);
        n += 1;
        rest = &rest[consumed..];
    }
    n
}

fn codec(c: &mut Criterion) {
    let options = ParseOptions {
        version: Some(ProtocolVersion::V3_1_1),
        ..ParseOptions::default()
    };
    let count: usize = 10_000;
    let publishes: Vec<u8> = (0..count as u32).flat_map(publish).collect();
    let mixed_one: Vec<u8> = mixed().concat();
    let per_round = mixed().len();
    let mixed_buf: Vec<u8> = (0..count / per_round)
        .flat_map(|_| mixed_one.clone())
        .collect();

    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(count as u64));
    g.bench_function("parse 10k PUBLISH (43 B)", |b| {
        b.iter(|| assert_eq!(parse_all(black_box(&publishes), &options), count))
    });
    g.throughput(Throughput::Elements((count / per_round * per_round) as u64));
    g.bench_function("parse 10k mixed types", |b| {
        b.iter(|| parse_all(black_box(&mixed_buf), &options))
    });
    g.finish();
}

/// Feed `stream` (client → server, after a handshake) in segments of `mss` bytes.
fn reassemble(stream: &[u8], mss: usize) -> u64 {
    let mut conn = Connection::new(ReassemblyConfig::default(), MemoryBudget::default());
    let mut messages = 0u64;
    let mut count = |e: &MessageEvent<'_>| {
        black_box(e);
        messages += 1;
    };
    let mut seq = 1u32;
    for (i, chunk) in stream.chunks(mss).enumerate() {
        let seg = Segment {
            seq,
            syn: false,
            fin: false,
            rst: false,
            ack: None,
            payload: chunk,
            packet: i as u64 + 1,
            ts_ns: 0,
        };
        conn.on_segment(Direction::ToServer, &seg, &mut count);
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    messages
}

fn reassembly(c: &mut Criterion) {
    let mut stream = mixed()[0].clone();
    let count = 100_000u32;
    for i in 0..count {
        stream.extend_from_slice(&publish(i));
    }
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    for mss in [1448usize, 32 * 1024] {
        g.bench_function(format!("100k PUBLISH in {mss}-byte segments"), |b| {
            b.iter(|| assert_eq!(reassemble(black_box(&stream), mss), count as u64 + 1))
        });
    }
    g.finish();
}

criterion_group!(benches, codec, reassembly);
criterion_main!(benches);
