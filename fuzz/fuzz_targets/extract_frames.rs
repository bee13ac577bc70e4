//! Fuzz target: the whole extractor (decode, MQTT tracker, flow table, every feature set of
//! `SetKind::ALL`, CSV rendering) on a capture of raw-IP frames built from the input: each frame
//! is a 2-byte big-endian length and that many bytes; frames are 1 ms apart. Nothing may panic, and every
//! row must have its schema's number of fields (the CSV sink checks that in debug builds).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ids_capture::{from_reader, ReaderOptions};
use mqtt_ids_features::label::{Labeler, Net};
use mqtt_ids_features::{extract, CsvSink, ExtractOptions, LineOut, Output, Outputs, SetKind};
use mqtt_ids_flows::{FlowConfig, FlowMode};

fn pcap(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 24 + data.len() / 2);
    // Classic pcap, microseconds, little-endian, link type 101 (raw IP).
    for word in [0xa1b2_c3d4u32] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    let mut rest = data;
    let mut i = 0u32;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = &rest[2..2 + len];
        rest = &rest[2 + len..];
        out.extend_from_slice(&(1_600_000_000 + i / 1000).to_le_bytes());
        out.extend_from_slice(&((i % 1000) * 1000).to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(frame);
        i += 1;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = from_reader(
        "fuzz",
        Box::new(std::io::Cursor::new(pcap(data))),
        ReaderOptions::default(),
    ) else {
        return;
    };
    let csv = |set: SetKind| {
        let sink: Box<dyn LineOut + Send> = Box::new(std::io::sink());
        Some(Output::Csv(CsvSink::new(sink, set.schema(), "0").unwrap()))
    };
    // Every set, so a new one is fuzzed as soon as it exists.
    let mut outputs = Outputs::default();
    for set in SetKind::ALL {
        *outputs.slot(set) = csv(set);
    }
    // A small table, so evictions are exercised; online flows (timeouts) and `session` update
    // rows every 3 ms (what `detect` scores) when the last byte is odd.
    let online = data.last().is_some_and(|b| b & 1 == 1);
    let options = ExtractOptions {
        session_update_ns: online.then_some(3_000_000),
        flows: FlowConfig {
            mode: if online {
                FlowMode::Timeout {
                    idle_ns: 2_000_000,
                    active_ns: Some(5_000_000),
                }
            } else {
                FlowMode::Capture
            },
            max_flows: 8,
        },
        labels: Labeler {
            attackers: vec![Net::parse("10.0.0.0/8").unwrap()],
            ..Labeler::default()
        },
        ..ExtractOptions::default()
    };
    extract(&mut reader, &options, &mut outputs, &mut |_| {}).unwrap();
});
