//! Helpers for the simulator's tests: run a scenario into a fresh directory, read a capture
//! back with crates/capture and crates/mqtt, find tshark.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mqtt_ids_capture::{decode, open, ReaderOptions, Transport};
use mqtt_ids_mqtt::{MessageEvent, Packet, Tracker, TrackerConfig};
use mqtt_ids_simulate::{simulate, Scenario, SimOptions, SimReport};

/// A fresh output directory for one test.
pub fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mqtt-ids-sim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs `scenario` into a fresh directory.
pub fn run(scenario: &Scenario, options: &SimOptions, name: &str) -> SimReport {
    simulate(scenario, options, &out_dir(name)).unwrap()
}

/// What a capture holds, as crates/capture and crates/mqtt read it.
#[derive(Default, Debug)]
pub struct Seen {
    pub frames: u64,
    pub undecodable: u64,
    pub messages: Vec<u8>,
    pub connack_codes: Vec<u8>,
    pub keep_alives: Vec<u16>,
    pub max_publish_len: usize,
    pub findings: u64,
    pub frame_hash: u64,
    /// Per (src, sport, dst, dport): TCP flags of every segment.
    pub tcp: HashMap<(String, u16, String, u16), Vec<u16>>,
    /// ICMP (type, code) counts.
    pub icmp: HashMap<(u8, u8), u64>,
    pub udp: u64,
    pub ttl_by_src: HashMap<String, Vec<u8>>,
}

/// Type, CONNACK code, CONNECT keep-alive, PUBLISH payload length, findings.
type Event = (u8, Option<u8>, Option<u16>, usize, u64);

/// Reads a capture back.
pub fn read_capture(path: &Path) -> Seen {
    let mut r = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut seen = Seen::default();
    let mut events: Vec<Event> = Vec::new();
    let mut visit = |e: &MessageEvent<'_>| {
        let (code, ka, len) = match &e.message {
            Some(m) => match &m.packet {
                Packet::Connack(c) => (Some(c.return_code), None, 0),
                Packet::Connect(c) => (None, Some(c.keep_alive), 0),
                Packet::Publish(p) => (None, None, p.payload.len()),
                _ => (None, None, 0),
            },
            None => (None, None, 0),
        };
        events.push((
            e.header.first_byte >> 4,
            code,
            ka,
            len,
            e.findings.len() as u64,
        ));
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    while let Some(frame) = r.next_frame().unwrap() {
        seen.frames += 1;
        for b in frame.data {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ frame.ts_ns as u64).wrapping_mul(0x0100_0000_01b3);
        let p = decode(frame);
        if p.error.is_some() {
            seen.undecodable += 1;
            continue;
        }
        let ip = p.ip.unwrap();
        seen.ttl_by_src
            .entry(ip.src.to_string())
            .or_default()
            .push(ip.ttl);
        match p.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                flags,
                ..
            } => {
                seen.tcp
                    .entry((ip.src.to_string(), src_port, ip.dst.to_string(), dst_port))
                    .or_default()
                    .push(flags.0);
            }
            Transport::Udp { .. } => seen.udp += 1,
            Transport::Icmpv4 { icmp_type, code } => {
                *seen.icmp.entry((icmp_type, code)).or_insert(0) += 1
            }
            _ => {}
        }
        tracker.on_packet(&p, &mut visit);
    }
    tracker.finish(seen.frames + 1, i64::MAX, &mut visit);
    seen.frame_hash = h;
    for (ty, code, ka, len, findings) in events {
        seen.messages.push(ty);
        if let Some(c) = code {
            seen.connack_codes.push(c);
        }
        if let Some(k) = ka {
            seen.keep_alives.push(k);
        }
        seen.max_publish_len = seen.max_publish_len.max(len);
        seen.findings += findings;
    }
    seen
}

/// Whether tshark runs; outside CI a missing tshark skips the test with a message.
pub fn have_tshark() -> bool {
    let ok = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is required in CI (.ci/run installs it)"
        );
        eprintln!("skipping: tshark not found (install wireshark's tshark to run this check)");
    }
    ok
}

/// `a` and `b` (one seed) wrote byte-identical files; `c` (another seed) a different capture.
pub fn assert_deterministic(a: &SimReport, b: &SimReport, c: &SimReport) {
    assert_eq!(a.captures.len(), b.captures.len());
    for ((x, y), z) in a.captures.iter().zip(&b.captures).zip(&c.captures) {
        for (p, q) in [
            (&x.capture, &y.capture),
            (&x.truth, &y.truth),
            (&x.connections, &y.connections),
            (&x.labels, &y.labels),
        ] {
            assert_eq!(
                std::fs::read(p).unwrap(),
                std::fs::read(q).unwrap(),
                "{} differs between two runs with one seed",
                p.display()
            );
        }
        assert_ne!(
            std::fs::read(&x.capture).unwrap(),
            std::fs::read(&z.capture).unwrap(),
            "{}: the two seeds gave the same capture",
            x.name
        );
    }
}
