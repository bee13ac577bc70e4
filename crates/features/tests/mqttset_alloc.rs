//! The `mqttset` set allocates nothing per packet once its buffers have grown: a counting global
//! allocator watches the set's calls (messages in, rows out through the CSV sink) over a second
//! pass of the same traffic — three conversations (IPv4 and IPv6), CONNECT with a will, PUBLISH
//! of every QoS, two messages in one segment, SUBSCRIBE, odd strings.
//!
//! This file is its own test binary, so the allocator only affects it. It counts per thread: the
//! test harness's own threads allocate now and then (timing-dependent), and must not count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io;
use std::net::IpAddr;

use mqtt_ids_capture::{decode, Frame, LinkType};
use mqtt_ids_features::label::Net;
use mqtt_ids_features::sets::mqttset::{MqttsetSet, SCHEMA};
use mqtt_ids_features::sets::FrameSet;
use mqtt_ids_features::{CsvSink, Labeler};
use mqtt_ids_mqtt::{parse_message, Decoded, Direction, FindingSet, MessageEvent, ParseOptions};

struct Counting;

thread_local! {
    // Const-initialised and without a destructor: touching it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    ALLOCATIONS.with(|n| n.set(n.get() + 1));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn mqtt(first: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 128);
    [&[first, body.len() as u8][..], body].concat()
}

fn s(bytes: &[u8]) -> Vec<u8> {
    [&(bytes.len() as u16).to_be_bytes()[..], bytes].concat()
}

/// A raw-IP frame with one TCP segment (ACK|PSH).
fn segment(src: (IpAddr, u16), dst: (IpAddr, u16), payload: &[u8]) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&src.1.to_be_bytes());
    tcp.extend_from_slice(&dst.1.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let mut ip = Vec::new();
    match (src.0, dst.0) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            ip.extend_from_slice(&[0x45, 0]);
            ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
            ip.extend_from_slice(&a.octets());
            ip.extend_from_slice(&b.octets());
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            ip.extend_from_slice(&[0x60, 0, 0, 0]);
            ip.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            ip.extend_from_slice(&[6, 64]);
            ip.extend_from_slice(&a.octets());
            ip.extend_from_slice(&b.octets());
        }
        _ => unreachable!(),
    }
    ip.extend_from_slice(&tcp);
    ip
}

#[test]
fn rows_are_built_without_allocating() {
    let ends: [((IpAddr, u16), (IpAddr, u16)); 3] = [
        (
            ("10.0.0.1".parse().unwrap(), 40000),
            ("10.0.0.2".parse().unwrap(), 1883),
        ),
        (
            ("10.0.0.3".parse().unwrap(), 40001),
            ("10.0.0.2".parse().unwrap(), 1883),
        ),
        (
            ("fd00::1".parse().unwrap(), 40002),
            ("fd00::2".parse().unwrap(), 1883),
        ),
    ];
    let connect = mqtt(
        0x10,
        &[
            &s(b"MQ\tTT\xff")[..],
            &[4, 0xe6, 0, 60],
            &s(b"id"),
            &s(b"will,topic"),
            &s(b"bye"),
            &s(b"user"),
        ]
        .concat(),
    );
    let payloads: Vec<(bool, Vec<u8>)> = vec![
        (true, connect),
        (false, mqtt(0x20, &[1, 0])),
        (
            true,
            mqtt(
                0x82,
                &[&[0, 1][..], &s(b"a/#"), &[1], &s(b"b"), &[2]].concat(),
            ),
        ),
        (false, mqtt(0x90, &[0, 1, 1, 2])),
        (true, mqtt(0x31, &[&s(b"t")[..], b"payload"].concat())),
        (
            true,
            mqtt(0x3a, &[&s(b"t")[..], &[0, 7], &[0xab; 100]].concat()),
        ),
        (true, mqtt(0x34, &[&s(b"t")[..], &[0, 8]].concat())),
        (
            false,
            [mqtt(0x40, &[0, 7]), mqtt(0x50, &[0, 8]), mqtt(0xd0, &[])].concat(),
        ),
        (true, Vec::new()),
    ];
    let mut frames = Vec::new();
    for _ in 0..20 {
        for (client, server) in ends {
            for (from_client, payload) in &payloads {
                let (src, dst) = if *from_client {
                    (client, server)
                } else {
                    (server, client)
                };
                frames.push((*from_client, segment(src, dst, payload)));
            }
        }
    }

    // The default table, and one of two conversations for three (an eviction on most packets).
    for max_streams in [mqtt_ids_features::sets::mqttset::DEFAULT_MAX_STREAMS, 2] {
        let (rows, counted, open) = run(&frames, MqttsetSet::with_max_streams(max_streams));
        assert_eq!(rows, 2 * frames.len() as u64);
        assert_eq!(
            counted, 0,
            "allocations in the second pass, {max_streams} streams"
        );
        assert_eq!(open, 3.min(max_streams as u64));
    }
}

/// Two passes over `frames`: (rows, allocations in the second pass, conversations held).
fn run(frames: &[(bool, Vec<u8>)], mut set: MqttsetSet) -> (u64, u64, u64) {
    let mut sink = CsvSink::new(io::sink(), SCHEMA, "0").unwrap();
    let labels = Labeler {
        attackers: vec![Net::parse("10.0.0.3").unwrap()],
        class: Some("flood".into()),
        ..Labeler::default()
    };
    let options = ParseOptions::default();
    let mut counted = 0u64;
    let mut rows = 0u64;
    for pass in 0..2 {
        for (i, (from_client, data)) in frames.iter().enumerate() {
            let number = (pass * frames.len() + i + 1) as u64;
            let frame = Frame {
                number,
                offset: 0,
                ts_ns: number as i64 * 1_000,
                interface: 0,
                link_type: LinkType::RAW,
                orig_len: data.len() as u32,
                data,
            };
            let packet = decode(frame);
            let mut rest = packet.payload;
            let before = allocations();
            while let Decoded::Parsed { message, consumed } = parse_message(rest, &options) {
                let event = MessageEvent {
                    direction: if *from_client {
                        Direction::ToServer
                    } else {
                        Direction::ToClient
                    },
                    first_packet: number,
                    last_packet: number,
                    ts_ns: frame.ts_ns,
                    header: message.header,
                    message: Some(&message),
                    findings: FindingSet::EMPTY,
                };
                set.on_message(&event);
                rest = &rest[consumed..];
            }
            set.end_packet(&packet, true, &labels, &mut sink).unwrap();
            rows += 1;
            if pass == 1 {
                counted += allocations() - before;
            }
        }
    }
    (rows, counted, set.stats().open_streams)
}
