//! Golden test on the real captures in ../shared/data: MQTT message counts by type, after our TCP
//! reassembly, equal tshark's. Expected numbers were produced by
//!
//! ```text
//! tshark -r F -Y mqtt -T fields -e mqtt.msgtype -E occurrence=a | tr ',' '\n' | sort -n | uniq -c
//! ```
//!
//! (TShark 4.x, run on 2026-11-21.) Where we differ, the test says which frame and why.
//!
//! The packet decoding here is deliberately crude (Ethernet/SLL/raw → IPv4/IPv6 → TCP, port 1883 is
//! the server): it exists only to feed the reassembler; the capture crate is the real decoder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mqtt_ids_mqtt::{
    Connection, Direction, FindingCounts, FindingEvent, FindingKind, MemoryBudget, MessageEvent,
    Packet, ReassemblyConfig, Segment, Summary, Visitor,
};
use pcap_parser::{Block, PcapBlockOwned, PcapError};

const MQTT_PORT: u16 = 1883;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// A decoded TCP segment with its flow identity.
struct Tcp<'a> {
    src: (Vec<u8>, u16),
    dst: (Vec<u8>, u16),
    seq: u32,
    syn: bool,
    fin: bool,
    rst: bool,
    ack: Option<u32>,
    payload: &'a [u8],
}

fn decode_ip(mut p: &[u8]) -> Option<Tcp<'_>> {
    let version = p.first()? >> 4;
    let (src, dst, proto, body) = match version {
        4 => {
            let ihl = (p[0] & 0x0f) as usize * 4;
            let total = u16::from_be_bytes([*p.get(2)?, *p.get(3)?]) as usize;
            // Ethernet padding and truncated captures: trust the smaller.
            p = p.get(..total.min(p.len()))?;
            let frag = u16::from_be_bytes([p[6], p[7]]);
            if frag & 0x1fff != 0 {
                return None;
            }
            (
                p.get(12..16)?.to_vec(),
                p.get(16..20)?.to_vec(),
                p[9],
                p.get(ihl..)?,
            )
        }
        6 => {
            let plen = u16::from_be_bytes([*p.get(4)?, *p.get(5)?]) as usize;
            let mut next = *p.get(6)?;
            let src = p.get(8..24)?.to_vec();
            let dst = p.get(24..40)?.to_vec();
            let mut body = p.get(40..(40 + plen).min(p.len()))?;
            // Hop-by-hop, routing, destination options.
            while matches!(next, 0 | 43 | 60) {
                next = *body.first()?;
                let len = (*body.get(1)? as usize + 1) * 8;
                body = body.get(len..)?;
            }
            (src, dst, next, body)
        }
        _ => return None,
    };
    if proto != 6 {
        return None;
    }
    let t = body;
    let data_off = (*t.get(12)? >> 4) as usize * 4;
    let flags = *t.get(13)?;
    Some(Tcp {
        src: (src, u16::from_be_bytes([t[0], t[1]])),
        dst: (dst, u16::from_be_bytes([t[2], t[3]])),
        seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        syn: flags & 0x02 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        ack: (flags & 0x10 != 0).then(|| u32::from_be_bytes([t[8], t[9], t[10], t[11]])),
        payload: t.get(data_off..)?,
    })
}

fn decode_link(linktype: i32, frame: &[u8]) -> Option<Tcp<'_>> {
    match linktype {
        1 => {
            let mut ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
            let mut off = 14;
            while ethertype == 0x8100 || ethertype == 0x88a8 {
                ethertype = u16::from_be_bytes([*frame.get(off + 2)?, *frame.get(off + 3)?]);
                off += 4;
            }
            matches!(ethertype, 0x0800 | 0x86dd).then_some(())?;
            decode_ip(frame.get(off..)?)
        }
        113 => decode_ip(frame.get(16..)?),    // Linux cooked v1
        276 => decode_ip(frame.get(20..)?),    // Linux cooked v2
        101 | 12 | 14 => decode_ip(frame),     // raw IP
        0 | 108 => decode_ip(frame.get(4..)?), // BSD loopback
        _ => None,
    }
}

/// Counts messages by type and findings by name.
#[derive(Default)]
struct Tally {
    by_type: [u64; 16],
    findings: FindingCounts,
    /// (frame that completed it, type, direction, frame length, fixed header length) of every
    /// message, for pinpointing differences.
    messages: Vec<(u64, u8, Direction, usize, u8)>,
    /// Frame lengths of messages skipped as oversized.
    oversized: Vec<usize>,
    /// Client port of the connection being fed (set by `run` before each segment).
    client_port: u16,
    /// Zeek-log-like records: one line of text per CONNECT, CONNACK, PUBLISH, SUBSCRIBE, SUBACK.
    records: Vec<String>,
    /// The crate's own summary visitor, fed the same events.
    summary: Summary,
}

impl Visitor for Tally {
    fn on_message(&mut self, e: &MessageEvent<'_>) {
        self.summary.on_message(e);
        self.by_type[e.packet_type().value() as usize] += 1;
        if e.message.is_none() {
            self.oversized.push(e.header.frame_len());
        }
        let port = self.client_port;
        let record = match e.message.map(|m| &m.packet) {
            Some(Packet::Connect(c)) => Some(format!(
                "connect {port} {} {} {}",
                String::from_utf8_lossy(c.protocol_name.as_bytes()),
                c.protocol_level,
                String::from_utf8_lossy(c.client_id.as_bytes()),
            )),
            Some(Packet::Connack(c)) => Some(format!("connack {port} {}", c.return_code)),
            Some(Packet::Publish(p)) => Some(format!(
                "publish {port} from_client={} retain={} qos={} {} {:?} {}",
                e.direction == Direction::ToServer,
                e.header.retain(),
                e.header.qos_bits(),
                String::from_utf8_lossy(p.topic.as_bytes()),
                String::from_utf8_lossy(p.payload),
                p.payload.len(),
            )),
            Some(Packet::Subscribe(s)) => Some(format!(
                "subscribe {port} {}",
                s.subscriptions
                    .iter()
                    .map(|x| format!(
                        "{}:{}",
                        String::from_utf8_lossy(x.filter.as_bytes()),
                        x.options.qos_bits()
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            Some(Packet::Suback(s)) => Some(format!("suback {port} {:?}", s.return_codes)),
            _ => None,
        };
        self.records.extend(record);
        self.messages.push((
            e.last_packet,
            e.packet_type().value(),
            e.direction,
            e.header.frame_len(),
            e.header.header_len,
        ));
    }
    fn on_finding(&mut self, e: &FindingEvent) {
        self.summary.on_finding(e);
    }
}

/// (client address, client port, server address).
type FlowKey = (Vec<u8>, u16, Vec<u8>);

struct Run {
    tally: Tally,
    /// Reassembly counters summed over connections and directions.
    streams: mqtt_ids_mqtt::StreamStats,
    connections: usize,
    budget: MemoryBudget,
}

/// Damage to apply to a capture while reading it, to test loss handling on real traffic.
#[derive(Default)]
struct Edit {
    /// Frames (1-based) to drop, as if the capture had lost them.
    drop_frames: Vec<u64>,
    /// (frame, bytes): cut that many bytes off the end of a frame's TCP payload.
    trim_tail: Option<(u64, usize)>,
    /// Do not pass ACK numbers (gaps are then found by the out-of-order caps and at the end).
    no_acks: bool,
}

fn run(path: &Path, config: ReassemblyConfig) -> Run {
    run_edited(path, config, &Edit::default())
}

fn run_edited(path: &Path, config: ReassemblyConfig, edit: &Edit) -> Run {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = pcap_parser::create_reader(1 << 20, file).expect("pcap reader");
    let budget = MemoryBudget::default();
    let mut tally = Tally::default();
    // Flow key: (client addr, client port, server addr); value: (client ISN, connection).
    let mut flows: HashMap<FlowKey, (Option<u32>, Connection)> = HashMap::new();
    let mut finished: Vec<Connection> = Vec::new();
    let mut legacy_linktype = 1;
    let mut if_linktypes: Vec<i32> = Vec::new();
    let mut frame_no: u64 = 0;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let (linktype, data, ts_ns) = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = h.network.0;
                        (None, &[][..], 0)
                    }
                    PcapBlockOwned::Legacy(b) => (
                        Some(legacy_linktype),
                        b.data,
                        b.ts_sec as i64 * 1_000_000_000 + b.ts_usec as i64 * 1000,
                    ),
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        if_linktypes.clear();
                        (None, &[][..], 0)
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        if_linktypes.push(idb.linktype.0);
                        (None, &[][..], 0)
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => (
                        if_linktypes.get(epb.if_id as usize).copied(),
                        &epb.data[..(epb.caplen as usize).min(epb.data.len())],
                        ((epb.ts_high as i64) << 32 | epb.ts_low as i64).wrapping_mul(1000),
                    ),
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        (if_linktypes.first().copied(), spb.data, 0)
                    }
                    PcapBlockOwned::NG(_) => (None, &[][..], 0),
                };
                if let Some(linktype) = linktype {
                    frame_no += 1;
                    let decoded = decode_link(linktype, data)
                        .filter(|_| !edit.drop_frames.contains(&frame_no));
                    if let Some(mut tcp) = decoded {
                        if let Some((frame, n)) = edit.trim_tail {
                            if frame == frame_no {
                                tcp.payload = &tcp.payload[..tcp.payload.len().saturating_sub(n)];
                            }
                        }
                        let direction = if tcp.dst.1 == MQTT_PORT {
                            Direction::ToServer
                        } else if tcp.src.1 == MQTT_PORT {
                            Direction::ToClient
                        } else {
                            reader.consume(offset);
                            continue;
                        };
                        let (client, server) = match direction {
                            Direction::ToServer => (&tcp.src, &tcp.dst),
                            Direction::ToClient => (&tcp.dst, &tcp.src),
                        };
                        let key = (client.0.clone(), client.1, server.0.clone());
                        let new_isn =
                            (tcp.syn && direction == Direction::ToServer).then_some(tcp.seq);
                        let entry = flows
                            .entry(key)
                            .or_insert_with(|| (new_isn, Connection::new(config, budget.clone())));
                        // Port reuse: a client SYN with a new ISN starts a new connection.
                        if let (Some(isn), Some(old)) = (new_isn, entry.0) {
                            if isn != old {
                                let old_conn = std::mem::replace(
                                    &mut entry.1,
                                    Connection::new(config, budget.clone()),
                                );
                                finished.push(old_conn);
                                entry.0 = Some(isn);
                                let last = finished.last_mut().unwrap();
                                last.finish(frame_no, ts_ns, &mut tally);
                            }
                        }
                        if entry.0.is_none() {
                            entry.0 = new_isn;
                        }
                        let segment = Segment {
                            seq: tcp.seq,
                            syn: tcp.syn,
                            fin: tcp.fin,
                            rst: tcp.rst,
                            ack: tcp.ack.filter(|_| !edit.no_acks),
                            payload: tcp.payload,
                            packet: frame_no,
                            ts_ns,
                        };
                        tally.client_port = client.1;
                        entry.1.on_segment(direction, &segment, &mut tally);
                    }
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    let connections = flows.len() + finished.len();
    for (_, (_, mut c)) in flows {
        c.finish(frame_no, 0, &mut tally);
        finished.push(c);
    }
    let mut total = FindingCounts::default();
    let mut streams = mqtt_ids_mqtt::StreamStats::default();
    for c in &finished {
        total.merge(c.findings());
        for s in c.stats().streams {
            streams.segments += s.segments;
            streams.bytes += s.bytes;
            streams.retransmitted_bytes += s.retransmitted_bytes;
            streams.out_of_order_segments += s.out_of_order_segments;
            streams.gaps += s.gaps;
            streams.gap_bytes += s.gap_bytes;
            streams.resync_bytes += s.resync_bytes;
            streams.truncated_bytes += s.truncated_bytes;
            streams.skipped_bytes += s.skipped_bytes;
            streams.dropped_bytes += s.dropped_bytes;
        }
    }
    tally.findings = total;
    Run {
        tally,
        streams,
        connections,
        budget,
    }
}

/// tshark's counts: (file relative to ../shared/data, [(msgtype, count)]).
const TSHARK: &[(&str, &[(usize, u64)])] = &[
    (
        "mqttset-train/benign-5mb-train.pcap",
        &[
            (1, 7),
            (2, 7),
            (3, 19498),
            (8, 5),
            (9, 5),
            (12, 322),
            (13, 322),
        ],
    ),
    (
        "mqttset-train/benign-train.pcap",
        &[
            (1, 7),
            (2, 7),
            (3, 3871),
            (8, 5),
            (9, 5),
            (12, 63),
            (13, 63),
        ],
    ),
    (
        "mqttset-train/bruteforce-train.pcapng",
        &[(1, 889), (2, 889)],
    ),
    (
        "mqttset-train/flood-train.pcap",
        &[(1, 1), (2, 1), (3, 39452)],
    ),
    (
        "mqttset-train/malariados-train.pcap",
        &[(1, 10), (2, 10), (3, 3120), (4, 3119)],
    ),
    (
        "mqttset-train/malformed-train.pcap",
        &[
            (1, 552),
            (2, 552),
            (3, 2956),
            (4, 26),
            (5, 26),
            (8, 56),
            (9, 56),
        ],
    ),
    ("mqttset-train/slowite-train.pcap", &[(1, 716), (2, 716)]),
    (
        "corpus/zeek/mqtt.pcap",
        &[
            (1, 2),
            (2, 2),
            (3, 3),
            (8, 1),
            (9, 1),
            (12, 5),
            (13, 5),
            (14, 1),
        ],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-connect-rules-2/mqtt5_pub_jpeg_connack134.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-connect-rules/mqtt5_pub_jpeg.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-events-invalid-qos/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-events-missing-connect/input.pcap",
        &[
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 1),
            (5, 2),
            (6, 2),
            (7, 2),
            (8, 3),
            (9, 3),
            (14, 2),
        ],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-events-unassigned-msgtype/input.pcap",
        &[(0, 1), (1, 1), (2, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-events-unintroduced/input.pcap",
        &[(1, 1), (3, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-frames-truncated/input.pcap",
        &[(1, 1), (2, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-limit-2/input.pcap",
        &[(1, 1), (2, 1), (3, 4), (4, 3), (8, 1), (9, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-midstream-split/mqtt-midstream-split.pcap",
        &[(2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-ping/input.pcap",
        &[(12, 1), (13, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt-pub-rules/mqtt5_pub_jpeg.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt31-pub-qos1/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (4, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt31-pub-qos2/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (5, 1), (6, 1), (7, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt31-pub-userpass-auto-clientid/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt31-pub-userpass/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt31-sub-userpass/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt31-unsub-qos1/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 2), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt31-unsub-qos2/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 2), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt31-unsub-userpass/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 2), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt311-pub-qos1/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (4, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt311-pub-qos2/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (5, 1), (6, 1), (7, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt311-pub-userpass-auto-clientid/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt311-pub-userpass/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt311-sub-userpass/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt311-unsub-qos1/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 2), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt311-unsub-qos2/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 2), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt311-unsub-userpass/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 2), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-excessiveproplen/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-pub-mosquittoprops/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (4, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-pub-qos1/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (4, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-pub-qos2/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (5, 1), (6, 1), (7, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-pub-userpass-auto-clientid/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-pub-userpass/input.pcap",
        &[(1, 1), (2, 1), (3, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-sub-customauth/input.pcap",
        &[(1, 1), (2, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-sub-mosquittoprops/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-sub-userpass/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-unsub-qos1/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 2), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-unsub-qos2/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 2), (14, 1)],
    ),
    (
        "corpus/suricata-verify/tests/mqtt5-unsub-userpass/input.pcap",
        &[(1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 2), (14, 1)],
    ),
];

fn expected(counts: &[(usize, u64)]) -> [u64; 16] {
    let mut out = [0; 16];
    for (t, n) in counts {
        out[*t] = *n;
    }
    out
}

#[test]
fn message_counts_by_type_match_tshark() {
    let mut mismatches = Vec::new();
    for (file, counts) in TSHARK {
        let path = data_dir().join(file);
        let r = run(&path, ReassemblyConfig::default());
        let want = expected(counts);
        if r.tally.by_type != want {
            mismatches.push(format!(
                "{file}: ours {:?} tshark {:?} findings {:?}",
                r.tally.by_type, want, r.tally.findings
            ));
        }
        assert_eq!(r.budget.used(), 0, "{file}: buffers not released");
        // The streaming summary agrees with the per-connection counters.
        assert_eq!(r.tally.summary.by_type, r.tally.by_type, "{file}");
        assert_eq!(r.tally.summary.findings, r.tally.findings, "{file}");
        assert!(r.connections > 0, "{file}");
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

fn findings_of(file: &str) -> FindingCounts {
    run(&data_dir().join(file), ReassemblyConfig::default())
        .tally
        .findings
}

const SV: &str = "corpus/suricata-verify/tests";

/// Each anomaly event a suricata-verify test.yaml expects is raised by us on the same capture.
#[test]
fn suricata_verify_events_have_counterparts() {
    // (capture, finding, count in its test.yaml)
    let cases: &[(&str, FindingKind, u64)] = &[
        (
            "mqtt-events-invalid-qos/input.pcap",
            FindingKind::InvalidQosLevel,
            1,
        ),
        (
            "mqtt-events-missing-connect/input.pcap",
            FindingKind::MissingConnect,
            1,
        ),
        (
            "mqtt-events-unassigned-msgtype/input.pcap",
            FindingKind::UnassignedMsgType,
            1,
        ),
        (
            "mqtt-events-unintroduced/input.pcap",
            FindingKind::UnintroducedMessage,
            1,
        ),
        // A PINGREQ and a PINGRESP with no CONNECT before them.
        ("mqtt-ping/input.pcap", FindingKind::UnintroducedMessage, 2),
        // Suricata: `malformed_traffic`; ours adds the cause, `property_length_overrun`.
        (
            "mqtt5-excessiveproplen/input.pcap",
            FindingKind::MalformedTraffic,
            1,
        ),
        (
            "mqtt5-excessiveproplen/input.pcap",
            FindingKind::PropertyLengthOverrun,
            1,
        ),
    ];
    for (file, kind, count) in cases {
        let f = findings_of(&format!("{SV}/{file}"));
        assert_eq!(f.get(*kind), *count, "{file}: {kind} in {f:?}");
    }
}

/// suricata-verify mqtt-frames and mqtt-frames-xpdu check Suricata's frames (pdu = whole message,
/// header = fixed header, data = the rest) on two captures: a 49-byte pdu with a 2-byte header in
/// mqtt5-pub-userpass, and in mqtt5-unsub-userpass two 13-byte pdus (2 + 11) at `pcap_cnt` 12.
/// Difference: both UNSUBSCRIBEs travel in frame 10 (`tshark -r … -T fields -e frame.number -e
/// mqtt.msgtype`); Suricata inspects to-server stream data once the server has acknowledged it,
/// which happens in frame 12. We parse data when it arrives, so our `last_packet` is 10.
#[test]
fn suricata_frames_match_our_framing() {
    let r = run(
        &data_dir().join(format!("{SV}/mqtt5-pub-userpass/input.pcap")),
        ReassemblyConfig::default(),
    );
    assert!(r.tally.messages.iter().any(|m| m.3 == 49 && m.4 == 2));
    let r = run(
        &data_dir().join(format!("{SV}/mqtt5-unsub-userpass/input.pcap")),
        ReassemblyConfig::default(),
    );
    let in_10: Vec<_> = r.tally.messages.iter().filter(|m| m.0 == 10).collect();
    assert_eq!(in_10.len(), 2, "{in_10:?}");
    assert!(
        in_10.iter().all(|m| m.1 == 10 && m.3 == 13 && m.4 == 2),
        "{in_10:?}"
    );
}

/// suricata-verify mqtt-limit-1/2/3 run one capture with `max-msg-length` 50000, 500 and 50 and
/// expect PUBLISH messages logged as `truncated: true` with `skipped_length` 100011 and 100009
/// (limit-1); plus 1010 (limit-2); plus 109 (limit-3). Ours: `oversized_message` on exactly those
/// messages, whose frame length equals Suricata's `skipped_length`; they still count by type (the
/// header is known).
#[test]
fn suricata_max_msg_length_maps_to_oversized_message() {
    let file = data_dir().join(format!("{SV}/mqtt-limit-2/input.pcap"));
    let cases: &[(usize, &[usize])] = &[
        (1 << 20, &[]),
        (50_000, &[100_011, 100_009]),
        (500, &[100_011, 100_009, 1010]),
        (50, &[100_011, 100_009, 1010, 109]),
    ];
    for (max, oversized) in cases {
        let config = ReassemblyConfig {
            max_message_len: *max,
            ..ReassemblyConfig::default()
        };
        let r = run(&file, config);
        assert_eq!(r.tally.oversized, *oversized, "max {max}");
        assert_eq!(
            r.tally.findings.get(FindingKind::OversizedMessage),
            oversized.len() as u64
        );
        assert_eq!(r.tally.by_type[3], 4, "max {max}");
        assert_eq!(
            r.tally.by_type[4], 3,
            "max {max}: framing kept after skipping"
        );
        // The skipped QoS 1 PUBLISH's packet id was read from its prefix: its PUBACK is expected.
        assert_eq!(
            r.tally.findings.get(FindingKind::MissingPublish),
            0,
            "max {max}"
        );
    }
    // mqtt-frames-truncated: max-msg-length 60, a 30-byte CONNECT (`10 1c`) fits.
    let r = run(
        &data_dir().join(format!("{SV}/mqtt-frames-truncated/input.pcap")),
        ReassemblyConfig {
            max_message_len: 60,
            ..ReassemblyConfig::default()
        },
    );
    assert_eq!(r.tally.by_type[1], 1);
}

/// mqtt-midstream-split: the capture starts with the server's CONNACK split over two segments.
#[test]
fn midstream_split_connack_is_reassembled() {
    let r = run(
        &data_dir().join(format!(
            "{SV}/mqtt-midstream-split/mqtt-midstream-split.pcap"
        )),
        ReassemblyConfig::default(),
    );
    assert_eq!(r.tally.by_type[2], 1);
    let connack = r.tally.messages.iter().find(|m| m.1 == 2).unwrap();
    assert_eq!(connack.2, Direction::ToClient);
    assert_eq!(r.tally.findings.get(FindingKind::MissingConnect), 1);
}

/// Not an assertion: prints findings and reassembly counters per capture (`--nocapture`), the
/// numbers quoted in reviews.
#[test]
fn print_summary() {
    for (file, _) in TSHARK {
        let r = run(&data_dir().join(file), ReassemblyConfig::default());
        let total: u64 = r.tally.by_type.iter().sum();
        println!(
            "{file}: {} connections, {total} messages, findings {:?}\n    {:?}",
            r.connections, r.tally.findings, r.streams
        );
    }
}

/// Read the data lines of a Zeek log as tab-separated fields.
fn zeek_log(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(data_dir().join("corpus/zeek/baseline").join(name)).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Golden test against the Zeek MQTT analyzer's baseline logs for its test trace: client ids,
/// protocol names/versions, connect status, published topics/payloads/flags, subscriptions.
#[test]
fn zeek_baseline_logs_agree() {
    let r = run(
        &data_dir().join("corpus/zeek/mqtt.pcap"),
        ReassemblyConfig::default(),
    );
    let mut ours: Vec<String> = r.tally.records.clone();
    let mut zeek = Vec::new();
    // mqtt_connect.log: ts uid orig_h orig_p resp_h resp_p proto_name proto_version client_id
    // connect_status will_topic will_payload
    for f in zeek_log("mqtt_connect.log") {
        let level = match f[7].as_str() {
            "3.1" => 3,
            "3.1.1" => 4,
            "5.0" => 5,
            other => panic!("{other}"),
        };
        zeek.push(format!("connect {} {} {level} {}", f[3], f[6], f[8]));
        assert_eq!(f[9], "Connection Accepted");
        zeek.push(format!("connack {} 0", f[3]));
        assert_eq!((f[10].as_str(), f[11].as_str()), ("-", "-"), "no will");
    }
    // mqtt_publish.log: ts uid orig_h orig_p resp_h resp_p from_client retain qos status topic
    // payload payload_len
    for f in zeek_log("mqtt_publish.log") {
        let qos = match f[8].as_str() {
            "at most once" => 0,
            "at least once" => 1,
            "exactly once" => 2,
            other => panic!("{other}"),
        };
        zeek.push(format!(
            "publish {} from_client={} retain={} qos={qos} {} {:?} {}",
            f[3],
            f[6] == "T",
            f[7] == "T",
            f[10],
            f[11],
            f[12]
        ));
    }
    // mqtt_subscribe.log: ts uid orig_h orig_p resp_h resp_p action topics qos_levels
    // granted_qos_level ack
    for f in zeek_log("mqtt_subscribe.log") {
        assert_eq!(f[6], "MQTT::SUBSCRIBE");
        zeek.push(format!("subscribe {} {}:{}", f[3], f[7], f[8]));
        assert_eq!(f[10], "T");
        zeek.push(format!("suback {} [{}]", f[3], f[9]));
    }
    ours.sort();
    zeek.sort();
    assert_eq!(ours, zeek);
}

/// Loss on real traffic: MQTTset's flood capture (one connection, 32 KB segments of 17- or 18-byte
/// PUBLISH, each segment starting on a message boundary; per-frame counts from `tshark -r
/// flood-train.pcap -T fields -e frame.number -e mqtt.msgtype`).
#[test]
fn flood_capture_with_lost_and_cut_segments() {
    let path = data_dir().join("mqttset-train/flood-train.pcap");
    let total = 39_452;
    // Frame 23 (1,927 PUBLISH) lost: the server's ACK in frame 24 reveals the hole at once; parsing
    // resyncs on frame 25 and loses exactly frame 23's messages. Without ACK numbers the hole is
    // found later (out-of-order cap, end of capture) with the same result.
    for no_acks in [false, true] {
        let edit = Edit {
            drop_frames: vec![23],
            no_acks,
            ..Edit::default()
        };
        let r = run_edited(&path, ReassemblyConfig::default(), &edit);
        assert_eq!(r.tally.by_type[3], total - 1927, "no_acks {no_acks}");
        assert_eq!(r.tally.findings.get(FindingKind::StreamGap), 1);
        assert_eq!(r.streams.gap_bytes, 32_759);
        assert_eq!(r.tally.findings.get(FindingKind::ResyncSkippedBytes), 0);
    }
    // The last 5 bytes of frame 23 cut: the gap falls inside a message of known length, so only that
    // message is lost (truncated_msg) and framing is kept without resynchronising.
    let edit = Edit {
        trim_tail: Some((23, 5)),
        ..Edit::default()
    };
    let r = run_edited(&path, ReassemblyConfig::default(), &edit);
    assert_eq!(r.tally.by_type[3], total - 1);
    assert_eq!(r.tally.findings.get(FindingKind::TruncatedMsg), 1);
    assert_eq!(r.tally.findings.get(FindingKind::ResyncSkippedBytes), 0);
}

/// 1 % packet loss (every 100th frame dropped, all kinds: data, ACKs, handshakes) on two captures with
/// many small messages. Expected losses, from tshark:
/// - messages completed in a dropped frame: `tshark -r F -T fields -e frame.number -e mqtt.msgtype`,
///   summed over frames ≡ 0 (mod 100): benign-5mb 209 of 20,166, malariados 72 of 6,259;
/// - messages that start in a dropped frame and complete in a kept one (their start is lost too):
///   `tshark -r F -Y tcp.segment -T fields -e frame.number -e tcp.segment`, listing frame 301 built
///   from 300 and 301 in malariados (whose 1,460-byte segments cut messages), none in benign-5mb.
///
/// We lose exactly those, and resynchronise after every hole.
#[test]
fn one_percent_loss_loses_only_the_dropped_messages() {
    for (file, total, carried, spanning) in [
        (
            "mqttset-train/benign-5mb-train.pcap",
            20_166u64,
            209u64,
            0u64,
        ),
        ("mqttset-train/malariados-train.pcap", 6_259, 72, 1),
    ] {
        let edit = Edit {
            drop_frames: (1..=40_000).map(|i| i * 100).collect(),
            ..Edit::default()
        };
        let r = run_edited(&data_dir().join(file), ReassemblyConfig::default(), &edit);
        let ours: u64 = r.tally.by_type.iter().sum();
        assert_eq!(r.budget.used(), 0);
        assert_eq!(
            ours,
            total - carried - spanning,
            "{file}: {:?}",
            r.tally.findings
        );
    }
}

/// Mid-stream pickup on real traffic: the capture starts at frame N. Reference: tshark on the same
/// cut, `editcap -r F cut.pcap N-999999; tshark -r cut.pcap -Y mqtt -T fields -e mqtt.msgtype -E
/// occurrence=a`.
#[test]
fn midstream_pickup_on_real_captures_matches_tshark_on_the_cut() {
    // (file, first frame kept, tshark's counts by type on the cut)
    type Case = (&'static str, u64, &'static [(usize, u64)]);
    let cases: &[Case] = &[
        ("mqttset-train/flood-train.pcap", 20, &[(3, 29_813)]),
        (
            "mqttset-train/malariados-train.pcap",
            500,
            &[(3, 2_307), (4, 2_316)],
        ),
        (
            "mqttset-train/benign-5mb-train.pcap",
            10_000,
            &[(3, 13_396), (12, 224), (13, 224)],
        ),
    ];
    for (file, start, counts) in cases {
        let edit = Edit {
            drop_frames: (1..*start).collect(),
            ..Edit::default()
        };
        let r = run_edited(&data_dir().join(file), ReassemblyConfig::default(), &edit);
        println!(
            "{file} from {start}: {:?} {:?}",
            r.tally.by_type, r.tally.findings
        );
        assert_eq!(
            r.tally.by_type,
            expected(counts),
            "{file} from frame {start}"
        );
    }
}
