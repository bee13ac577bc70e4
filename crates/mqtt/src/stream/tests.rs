//! Reassembly and connection-state cases: splits, floods, reordering, retransmission, gaps,
//! mid-stream pickup, caps, sequence wrap, and the connection-level findings.

use super::*;
use crate::codec::header::encode_varint;
use crate::codec::PacketType;
use crate::connection::{Connection, FindingEvent, MessageEvent, Phase, Visitor};
use crate::finding::{FindingKind as K, FindingSet};
use crate::PacketType as T;

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

/// What a test visitor saw of one message.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    direction: Direction,
    ptype: PacketType,
    first_packet: u64,
    last_packet: u64,
    findings: FindingSet,
    parsed: bool,
    /// Topic for PUBLISH, client id for CONNECT.
    name: Vec<u8>,
}

#[derive(Default)]
struct Collect {
    messages: Vec<Seen>,
    findings: Vec<FindingEvent>,
}

impl Visitor for Collect {
    fn on_message(&mut self, e: &MessageEvent<'_>) {
        let name = match e.message.map(|m| &m.packet) {
            Some(Packet::Publish(p)) => p.topic.as_bytes().to_vec(),
            Some(Packet::Connect(c)) => c.client_id.as_bytes().to_vec(),
            _ => Vec::new(),
        };
        self.messages.push(Seen {
            direction: e.direction,
            ptype: e.packet_type(),
            first_packet: e.first_packet,
            last_packet: e.last_packet,
            findings: e.findings,
            parsed: e.message.is_some(),
            name,
        });
    }
    fn on_finding(&mut self, e: &FindingEvent) {
        self.findings.push(*e);
    }
}

impl Collect {
    fn types(&self) -> Vec<PacketType> {
        self.messages.iter().map(|m| m.ptype).collect()
    }
    fn stream_findings(&self, kind: FindingKind) -> Vec<FindingEvent> {
        self.findings
            .iter()
            .filter(|f| f.kind == kind)
            .copied()
            .collect()
    }
}

/// Build a message: first byte + varint remaining length + body.
fn frame(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut len = [0u8; 4];
    let n = encode_varint(body.len() as u32, &mut len).unwrap();
    let mut out = vec![first_byte];
    out.extend_from_slice(&len[..n]);
    out.extend_from_slice(body);
    out
}

/// CONNECT 3.1.1 with the given client id.
fn connect(client_id: &[u8], level: u8) -> Vec<u8> {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', level, 0x02, 0x00, 0x3c];
    if level == 5 {
        body.push(0x00); // properties length 0
    }
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id);
    frame(0x10, &body)
}

fn connack() -> Vec<u8> {
    vec![0x20, 0x02, 0x00, 0x00]
}

/// PUBLISH QoS 0 with topic and payload.
fn publish(topic: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut body = (topic.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(topic);
    body.extend_from_slice(payload);
    frame(0x30, &body)
}

/// A connection with a clean handshake already fed (packets 1 and 2), client seq base `cs`.
struct Harness {
    conn: Connection,
    seen: Collect,
    seq: [u32; 2],
    packet: u64,
}

impl Harness {
    fn new(config: ReassemblyConfig) -> Self {
        Self::with_budget(config, MemoryBudget::default())
    }

    fn with_budget(config: ReassemblyConfig, budget: MemoryBudget) -> Self {
        Harness {
            conn: Connection::new(config, budget),
            seen: Collect::default(),
            seq: [1000, 5000],
            packet: 0,
        }
    }

    /// Open both directions with SYNs (no data).
    fn open(&mut self) {
        for d in [C, S] {
            let seq = self.seq[d.index()];
            self.raw(d, seq, true, false, &[]);
            self.seq[d.index()] = seq.wrapping_add(1);
        }
    }

    /// Send `data` in order as one segment.
    fn send(&mut self, d: Direction, data: &[u8]) -> u64 {
        let seq = self.seq[d.index()];
        self.seq[d.index()] = seq.wrapping_add(data.len() as u32);
        self.raw(d, seq, false, false, data)
    }

    fn raw(&mut self, d: Direction, seq: u32, syn: bool, fin: bool, data: &[u8]) -> u64 {
        self.packet += 1;
        let seg = Segment {
            seq,
            syn,
            fin,
            rst: false,
            ack: None,
            payload: data,
            packet: self.packet,
            ts_ns: self.packet as i64 * 1000,
        };
        self.conn.on_segment(d, &seg, &mut self.seen);
        self.packet
    }

    fn handshake(&mut self) {
        self.open();
        self.send(C, &connect(b"c", 4));
        self.send(S, &connack());
    }

    fn finish(&mut self) {
        self.packet += 1;
        self.conn.finish(self.packet, 0, &mut self.seen);
    }
}

#[test]
fn slowite_connect_split_30_plus_2() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.open();
    // 2 (fixed header) + 10 (variable header) + 2 + 18 (client id) = 32 bytes.
    let c = connect(b"slowite-client-000", 4);
    assert_eq!(c.len(), 32);
    let p1 = h.send(C, &c[..30]);
    assert!(
        h.seen.messages.is_empty(),
        "nothing before the last 2 bytes"
    );
    let p2 = h.send(C, &c[30..]);
    assert_eq!(h.seen.messages.len(), 1);
    let m = &h.seen.messages[0];
    assert_eq!((m.ptype, m.direction), (T::Connect, C));
    assert_eq!((m.first_packet, m.last_packet), (p1, p2));
    assert_eq!(m.name, b"slowite-client-000");
    assert_eq!(h.conn.buffered(), 0);
    assert_eq!(h.conn.phase(), Phase::Connecting);
}

#[test]
fn every_split_point_of_a_message_pair_gives_the_same_messages() {
    let mut both = connect(b"split", 4);
    both.extend_from_slice(&publish(b"a/b", b"payload"));
    for cut in 0..=both.len() {
        let mut h = Harness::new(ReassemblyConfig::default());
        h.open();
        h.send(C, &both[..cut]);
        h.send(C, &both[cut..]);
        assert_eq!(h.seen.types(), [T::Connect, T::Publish], "cut {cut}");
        assert_eq!(h.seen.messages[1].name, b"a/b");
        assert_eq!(h.conn.buffered(), 0);
    }
    // And byte by byte.
    let mut h = Harness::new(ReassemblyConfig::default());
    h.open();
    for b in &both {
        h.send(C, std::slice::from_ref(b));
    }
    assert_eq!(h.seen.types(), [T::Connect, T::Publish]);
    let m = &h.seen.messages[1];
    assert_eq!(
        m.last_packet - m.first_packet + 1,
        publish(b"a/b", b"payload").len() as u64
    );
}

#[test]
fn flood_1927_publish_in_one_32k_segment() {
    // MQTTset flood: one 32 KB frame carries up to 1,927 PUBLISH messages.
    let one = publish(b"flood/topic", &[0x55; 0]); // 2 + 2 + 11 = 15 bytes
    let mut seg = Vec::new();
    for _ in 0..1927 {
        seg.extend_from_slice(&one);
    }
    seg.extend_from_slice(&one[..7]); // and the start of the 1,928th
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    let p = h.send(C, &seg);
    let publishes: Vec<_> = h
        .seen
        .messages
        .iter()
        .filter(|m| m.ptype == T::Publish)
        .collect();
    assert_eq!(publishes.len(), 1927);
    assert!(publishes
        .iter()
        .all(|m| m.first_packet == p && m.last_packet == p));
    assert!(publishes.iter().all(|m| m.findings.is_empty()));
    // Only the 7-byte tail is buffered.
    assert_eq!(h.conn.buffered(), 7);
    let p2 = h.send(C, &one[7..]);
    let last = h.seen.messages.last().unwrap();
    assert_eq!(
        (last.ptype, last.first_packet, last.last_packet),
        (T::Publish, p, p2)
    );
    assert_eq!(h.conn.buffered(), 0);
}

#[test]
fn out_of_order_segments_are_reordered() {
    let m1 = publish(b"t/1", b"x");
    let m2 = publish(b"t/2", b"y");
    let m3 = publish(b"t/3", b"z");
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    let base = h.seq[0];
    let s2 = base.wrapping_add(m1.len() as u32);
    let s3 = s2.wrapping_add(m2.len() as u32);
    // Arrival order: 3, 2, 1.
    h.raw(C, s3, false, false, &m3);
    h.raw(C, s2, false, false, &m2);
    assert_eq!(h.seen.messages.len(), 2, "only the handshake so far");
    assert!(h.conn.buffered() > 0);
    h.raw(C, base, false, false, &m1);
    let topics: Vec<_> = h.seen.messages[2..]
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(topics, [b"t/1".to_vec(), b"t/2".to_vec(), b"t/3".to_vec()]);
    assert_eq!(h.conn.buffered(), 0);
    assert_eq!(h.conn.stats().streams[0].out_of_order_segments, 2);
}

#[test]
fn retransmissions_and_overlaps_are_deduplicated() {
    let m1 = publish(b"t/1", b"xxxx");
    let m2 = publish(b"t/2", b"yyyy");
    let mut both = m1.clone();
    both.extend_from_slice(&m2);
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    let base = h.seq[0];
    h.raw(C, base, false, false, &m1);
    // Exact retransmission of m1.
    h.raw(C, base, false, false, &m1);
    // Overlapping segment: the last 3 bytes of m1 and all of m2.
    let start = m1.len() - 3;
    h.raw(
        C,
        base.wrapping_add(start as u32),
        false,
        false,
        &both[start..],
    );
    // A retransmission of everything.
    h.raw(C, base, false, false, &both);
    let publishes: Vec<_> = h
        .seen
        .messages
        .iter()
        .filter(|m| m.ptype == T::Publish)
        .collect();
    assert_eq!(publishes.len(), 2);
    assert_eq!(
        h.conn.stats().streams[0].retransmitted_bytes,
        (m1.len() + 3 + both.len()) as u64
    );
}

#[test]
fn sequence_numbers_wrap() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.seq = [u32::MAX - 10, u32::MAX];
    h.handshake();
    for i in 0..10u8 {
        h.send(C, &publish(b"w", &[i; 7]));
    }
    assert_eq!(h.seen.messages.len(), 12);
    // Out of order across the wrap.
    let m1 = publish(b"a", b"1");
    let m2 = publish(b"b", b"2");
    let base = h.seq[0];
    h.raw(C, base.wrapping_add(m1.len() as u32), false, false, &m2);
    h.raw(C, base, false, false, &m1);
    assert_eq!(h.seen.messages.len(), 14);
}

#[test]
fn gap_is_declared_when_out_of_order_cap_is_hit_and_framing_resyncs() {
    let config = ReassemblyConfig {
        max_ooo_segments: 4,
        ..ReassemblyConfig::default()
    };
    let mut h = Harness::new(config);
    h.handshake();
    let lost = publish(b"lost", b"never seen");
    let msgs: Vec<_> = (0..8u8).map(|i| publish(b"after", &[b'0' + i])).collect();
    let mut seq = h.seq[0].wrapping_add(lost.len() as u32);
    for m in &msgs {
        h.raw(C, seq, false, false, m);
        seq = seq.wrapping_add(m.len() as u32);
    }
    // The 5th early segment exceeded the cap of 4: the lost bytes are skipped and everything after
    // them is parsed (after resynchronising on a clean fixed header).
    let after: Vec<_> = h
        .seen
        .messages
        .iter()
        .filter(|m| m.name == b"after")
        .collect();
    assert_eq!(after.len(), 8);
    let gaps = h.seen.stream_findings(K::StreamGap);
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].bytes, lost.len() as u64);
    assert_eq!(h.conn.stats().streams[0].gap_bytes, lost.len() as u64);
    assert_eq!(h.conn.findings().get(K::StreamGap), 1);
    assert_eq!(h.conn.buffered(), 0);
}

#[test]
fn gap_inside_a_known_message_keeps_framing() {
    // A 3-segment PUBLISH whose middle segment is lost: the message is truncated, the next is
    // parsed without resynchronising.
    let big = publish(b"big", &[b'x'; 300]);
    let next = publish(b"next", b"1");
    let mut h = Harness::new(ReassemblyConfig {
        max_ooo_segments: 1,
        ..ReassemblyConfig::default()
    });
    h.handshake();
    let base = h.seq[0];
    h.raw(C, base, false, false, &big[..100]);
    let s3 = base.wrapping_add(200);
    h.raw(C, s3, false, false, &big[200..]);
    h.raw(C, base.wrapping_add(big.len() as u32), false, false, &next);
    assert_eq!(h.seen.messages.last().unwrap().name, b"next");
    assert_eq!(h.conn.findings().get(K::TruncatedMsg), 1);
    assert_eq!(h.conn.findings().get(K::ResyncSkippedBytes), 0);
    assert_eq!(h.conn.stats().streams[0].gap_bytes, 100);
}

#[test]
fn gap_at_end_of_capture_is_flushed_by_finish() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    let lost = publish(b"lost", b"x");
    let kept = publish(b"kept", b"y");
    h.raw(
        C,
        h.seq[0].wrapping_add(lost.len() as u32),
        false,
        false,
        &kept,
    );
    assert_eq!(h.seen.messages.len(), 2);
    h.finish();
    assert_eq!(h.seen.messages.last().unwrap().name, b"kept");
    assert_eq!(h.conn.findings().get(K::StreamGap), 1);
}

#[test]
fn midstream_pickup_resyncs_on_the_next_clean_header() {
    let mut stream = publish(b"first", b"payload-of-the-first");
    let skip = 9; // the capture starts 9 bytes into the first message
    stream.extend_from_slice(&publish(b"second", b"2"));
    stream.extend_from_slice(&publish(b"third", b"3"));
    let mut h = Harness::new(ReassemblyConfig::default());
    h.raw(C, 77_777, false, false, &stream[skip..]);
    let names: Vec<_> = h.seen.messages.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, [b"second".to_vec(), b"third".to_vec()]);
    assert_eq!(h.conn.findings().get(K::MidstreamPickup), 1);
    let skipped: u64 = h
        .seen
        .stream_findings(K::ResyncSkippedBytes)
        .iter()
        .map(|f| f.bytes)
        .sum();
    assert_eq!(
        skipped as usize,
        publish(b"first", b"payload-of-the-first").len() - skip
    );
    // No CONNECT: the version is unknown and messages are unintroduced.
    assert!(h.seen.messages[0].findings.contains(K::UnintroducedMessage));
}

#[test]
fn a_false_candidate_waiting_for_bytes_is_rejected_at_the_end() {
    // 0x32 0x40: a plausible QoS 1 PUBLISH header announcing 64 bytes, followed by only a PINGREQ:
    // the candidate waits for bytes that never come; at the end it is rejected and the PINGREQ
    // found.
    let mut h = Harness::new(ReassemblyConfig::default());
    h.raw(
        C,
        5,
        false,
        false,
        &[0x32, 0x40, 0x00, 0x01, b't', 0xc0, 0x00],
    );
    assert!(h.seen.messages.is_empty());
    assert!(h.conn.buffered() > 0);
    h.finish();
    assert_eq!(h.seen.types(), [T::Pingreq]);
    assert_eq!(h.conn.buffered(), 0);
}

#[test]
fn midstream_pickup_at_a_boundary_with_a_split_message() {
    // suricata-verify mqtt-midstream-split: the server's CONNACK split over two segments is the
    // first thing captured.
    let mut h = Harness::new(ReassemblyConfig::default());
    h.raw(S, 42, false, false, &[0x20]);
    h.raw(S, 43, false, false, &[0x02, 0x00, 0x00]);
    h.raw(S, 46, false, false, &publish(b"topicX", b"x"));
    assert_eq!(h.seen.types(), [T::Connack, T::Publish]);
    assert_eq!(h.seen.messages[0].first_packet, 1);
    assert!(h.seen.messages[0].findings.contains(K::MissingConnect));
    assert!(!h.seen.messages[1].findings.contains(K::UnintroducedMessage));
}

#[test]
fn announced_256_mb_publish_is_skipped_not_buffered() {
    let budget = MemoryBudget::new(4 << 20);
    let mut h = Harness::with_budget(ReassemblyConfig::default(), budget.clone());
    h.handshake();
    // PUBLISH announcing 268,435,455 bytes (FF FF FF 7F), topic "t", then the body streams past.
    let mut head = vec![0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, b't'];
    let total_body = 268_435_455usize;
    let chunk = vec![b'z'; 64 << 10];
    head.extend_from_slice(&chunk[..1000]);
    let first = h.send(C, &head);
    let mut sent = head.len() - 5;
    let mut max_buffered = 0;
    while sent < total_body {
        let n = chunk.len().min(total_body - sent);
        h.send(C, &chunk[..n]);
        sent += n;
        max_buffered = max_buffered.max(h.conn.buffered());
    }
    h.send(C, &[0xc0, 0x00]); // PINGREQ right after
    assert_eq!(max_buffered, 0);
    assert_eq!(budget.used(), 0);
    let oversized = &h.seen.messages[2];
    assert_eq!((oversized.ptype, oversized.parsed), (T::Publish, false));
    assert_eq!(oversized.first_packet, first);
    assert!(oversized.findings.contains(K::OversizedMessage));
    assert_eq!(h.seen.messages[3].ptype, T::Pingreq);
    assert_eq!(h.conn.stats().streams[0].skipped_bytes, 268_435_460);
    assert_eq!(h.conn.stats().oversized, 1);
}

#[test]
fn oversized_header_split_across_segments_is_skipped() {
    let mut h = Harness::new(ReassemblyConfig {
        max_message_len: 100,
        ..ReassemblyConfig::default()
    });
    h.handshake();
    let big = publish(b"t", &[1; 200]);
    h.send(C, &big[..1]);
    h.send(C, &big[1..50]);
    h.send(C, &big[50..]);
    h.send(C, &publish(b"small", b""));
    assert_eq!(h.seen.types()[2..], [T::Publish, T::Publish]);
    assert!(!h.seen.messages[2].parsed);
    assert_eq!(h.seen.messages[3].name, b"small");
}

#[test]
fn per_stream_cap_drops_are_counted_and_framing_kept() {
    let mut h = Harness::new(ReassemblyConfig {
        max_stream_buffer: 64,
        ..ReassemblyConfig::default()
    });
    h.handshake();
    let big = publish(b"t", &[1; 200]);
    // 150 bytes of a 205-byte message cannot be held under a 64-byte cap.
    h.send(C, &big[..150]);
    h.send(C, &big[150..]);
    h.send(C, &publish(b"after", b""));
    assert_eq!(h.conn.findings().get(K::BufferCapDrop), 1);
    assert_eq!(h.seen.messages.last().unwrap().name, b"after");
    assert_eq!(h.conn.stats().streams[0].dropped_bytes, 150);
}

#[test]
fn global_budget_is_shared_and_released_on_drop() {
    let budget = MemoryBudget::new(100);
    let mut a = Harness::with_budget(ReassemblyConfig::default(), budget.clone());
    let mut b = Harness::with_budget(ReassemblyConfig::default(), budget.clone());
    a.handshake();
    b.handshake();
    let big = publish(b"t", &[1; 200]);
    a.send(C, &big[..80]);
    assert_eq!(budget.used(), 80);
    b.send(C, &big[..80]); // refused: 160 > 100
    assert_eq!(b.conn.findings().get(K::BufferCapDrop), 1);
    assert_eq!(budget.refused(), 1);
    drop(a);
    assert_eq!(budget.used(), 0);
}

#[test]
fn fin_and_rst_with_partial_message_count_truncated() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    let m = publish(b"cut", b"off");
    let seq = h.seq[0];
    h.raw(C, seq, false, true, &m[..4]);
    assert_eq!(h.conn.findings().get(K::TruncatedMsg), 1);
    assert_eq!(h.conn.buffered(), 0);
    // Data after FIN is ignored.
    h.raw(C, seq.wrapping_add(4), false, false, &m[4..]);
    assert_eq!(h.seen.messages.len(), 2);
    assert!(!h.conn.is_closed());
    let sseq = h.seq[1];
    h.raw(S, sseq, false, true, &[]);
    assert!(h.conn.is_closed());

    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    h.send(S, &m[..4]);
    h.packet += 1;
    let rst = Segment {
        seq: h.seq[0],
        syn: false,
        fin: false,
        rst: true,
        ack: None,
        payload: &[],
        packet: h.packet,
        ts_ns: 0,
    };
    h.conn.on_segment(C, &rst, &mut h.seen);
    assert_eq!(
        h.conn.findings().get(K::TruncatedMsg),
        1,
        "RST aborts both directions"
    );
}

#[test]
fn invalid_remaining_length_resyncs() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    let mut data = vec![0x30, 0xff, 0xff, 0xff, 0xff, 0x01];
    data.extend_from_slice(&publish(b"ok", b"1"));
    h.send(C, &data);
    assert_eq!(h.conn.findings().get(K::InvalidRemainingLength), 1);
    assert_eq!(h.seen.messages.last().unwrap().name, b"ok");
}

// ---------------------------------------------------------------- connection state

fn has(h: &Harness, i: usize, kind: FindingKind) -> bool {
    h.seen.messages[i].findings.contains(kind)
}

#[test]
fn unintroduced_double_connect_and_missing_connect() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.open();
    h.send(C, &publish(b"early", b"")); // before CONNECT
    h.send(C, &connect(b"c", 4));
    h.send(C, &publish(b"eager", b"")); // before CONNACK
    h.send(S, &connack());
    h.send(C, &connect(b"c", 4)); // second CONNECT
    h.send(S, &connack()); // answers nothing
    assert!(has(&h, 0, K::UnintroducedMessage));
    assert!(!has(&h, 1, K::UnintroducedMessage));
    assert!(has(&h, 2, K::UnintroducedMessage));
    assert!(has(&h, 4, K::DoubleConnect));
    assert!(has(&h, 5, K::MissingConnect));
    assert_eq!(h.conn.findings().get(K::UnintroducedMessage), 2);
}

#[test]
fn missing_publish_subscribe_unsubscribe_and_matching_ids() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    // QoS 1 PUBLISH id 7 from the client, PUBACK 7 from the server: fine. PUBACK 8:
    // missing_publish.
    h.send(C, &frame(0x32, &[0x00, 0x01, b't', 0x00, 0x07]));
    h.send(S, &[0x40, 0x02, 0x00, 0x07]);
    h.send(S, &[0x40, 0x02, 0x00, 0x08]);
    assert!(!has(&h, 3, K::MissingPublish));
    assert!(has(&h, 4, K::MissingPublish));
    // QoS 2 from the server: PUBLISH 9 → PUBREC (client) → PUBREL (server) → PUBCOMP (client).
    h.send(S, &frame(0x34, &[0x00, 0x01, b't', 0x00, 0x09]));
    h.send(C, &[0x50, 0x02, 0x00, 0x09]);
    h.send(S, &[0x62, 0x02, 0x00, 0x09]);
    h.send(C, &[0x70, 0x02, 0x00, 0x09]);
    h.send(C, &[0x70, 0x02, 0x00, 0x09]); // second PUBCOMP: nothing outstanding
    assert!((5..=8).all(|i| !has(&h, i, K::MissingPublish)));
    assert!(has(&h, 9, K::MissingPublish));
    // SUBSCRIBE 1 / SUBACK 1 fine; SUBACK 2 and UNSUBACK 3 answer nothing.
    h.send(C, &frame(0x82, &[0x00, 0x01, 0x00, 0x01, b'a', 0x00]));
    h.send(S, &[0x90, 0x03, 0x00, 0x01, 0x00]);
    h.send(S, &[0x90, 0x03, 0x00, 0x02, 0x00]);
    h.send(S, &[0xb0, 0x02, 0x00, 0x03]);
    assert!(!has(&h, 11, K::MissingSubscribe));
    assert!(has(&h, 12, K::MissingSubscribe));
    assert!(has(&h, 13, K::MissingUnsubscribe));
    h.send(C, &frame(0xa2, &[0x00, 0x04, 0x00, 0x01, b'a']));
    h.send(S, &[0xb0, 0x02, 0x00, 0x04]);
    assert!(!has(&h, 15, K::MissingUnsubscribe));
}

#[test]
fn too_many_transactions() {
    let mut h = Harness::new(ReassemblyConfig {
        max_outstanding_ids: 3,
        ..ReassemblyConfig::default()
    });
    h.handshake();
    for id in 1..=4u16 {
        let [a, b] = id.to_be_bytes();
        h.send(C, &frame(0x32, &[0x00, 0x01, b't', a, b]));
    }
    assert!(has(&h, 5, K::TooManyTransactions));
    // The oldest (1) was forgotten.
    h.send(S, &[0x40, 0x02, 0x00, 0x01]);
    assert!(has(&h, 6, K::MissingPublish));
}

#[test]
fn wrong_direction_and_after_disconnect() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    h.send(S, &[0xc0, 0x00]); // PINGREQ from the server
    h.send(C, &[0xd0, 0x00]); // PINGRESP from the client
    h.send(C, &[0xe0, 0x00]); // DISCONNECT
    h.send(C, &publish(b"late", b""));
    assert!(has(&h, 2, K::WrongDirection) && has(&h, 3, K::WrongDirection));
    assert!(has(&h, 5, K::MessageAfterDisconnect));
    assert_eq!(h.conn.phase(), Phase::Disconnected);
}

#[test]
fn protocol_level_from_connect_drives_later_parsing() {
    // The same PUBLISH bytes: at 5.0 the byte after the topic is a property length (0) and the
    // payload is "p"; at 3.1.1 the payload is "\0p".
    let bytes = [0x30, 0x05, 0x00, 0x01, b't', 0x00, b'p'];
    for (level, payload_len) in [(5u8, 1usize), (4, 2), (3, 2)] {
        let mut h = Harness::new(ReassemblyConfig::default());
        h.open();
        h.send(C, &connect(b"v", level));
        let ack = if level == 5 {
            vec![0x20, 0x03, 0x00, 0x00, 0x00]
        } else {
            connack()
        };
        h.send(S, &ack);
        let mut len = None;
        let seg = Segment {
            seq: h.seq[0],
            syn: false,
            fin: false,
            rst: false,
            ack: None,
            payload: &bytes,
            packet: 9,
            ts_ns: 0,
        };
        h.conn.on_segment(C, &seg, &mut |e: &MessageEvent<'_>| {
            if let Some(Packet::Publish(p)) = e.message.map(|m| &m.packet) {
                len = Some(p.payload.len());
            }
        });
        assert_eq!(len, Some(payload_len), "level {level}");
        assert_eq!(
            h.conn.version().map(|v| v.level()),
            Some(if level == 3 { 3 } else { level })
        );
    }
}

#[test]
fn midstream_version_is_inferred_from_connack_length() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.raw(S, 10, false, false, &[0x20, 0x03, 0x00, 0x00, 0x00]);
    assert_eq!(h.conn.version(), Some(ProtocolVersion::V5));
}

#[test]
fn both_directions_share_one_code_path() {
    // Mirror the same split scenario in each direction: identical results.
    let m = publish(b"mirror", b"1234567890");
    let mut results = Vec::new();
    for d in [C, S] {
        let mut h = Harness::new(ReassemblyConfig::default());
        h.handshake();
        h.send(d, &m[..5]);
        h.send(d, &m[5..]);
        let last = h.seen.messages.last().unwrap().clone();
        results.push((
            last.ptype,
            last.last_packet - last.first_packet,
            last.direction,
        ));
    }
    assert_eq!(results[0].0, results[1].0);
    assert_eq!(results[0].1, results[1].1);
    assert_eq!((results[0].2, results[1].2), (C, S));
}

#[test]
fn out_of_order_data_waits_at_most_max_ooo_wait() {
    let mut h = Harness::new(ReassemblyConfig {
        max_ooo_wait_ns: 10_000,
        ..ReassemblyConfig::default()
    });
    h.handshake();
    let lost = publish(b"lost", b"x");
    let kept = publish(b"kept", b"y");
    h.raw(
        C,
        h.seq[0].wrapping_add(lost.len() as u32),
        false,
        false,
        &kept,
    );
    assert_eq!(h.seen.messages.len(), 2, "waiting for the hole");
    // Server-side segments carry the clock forward (the harness uses packet * 1000 ns).
    for _ in 0..12 {
        h.send(S, &[0xd0, 0x00]);
    }
    assert!(h.seen.messages.iter().any(|m| m.name == b"kept"));
    assert_eq!(h.conn.findings().get(K::StreamGap), 1);
    assert_eq!(h.conn.buffered(), 0);
}

#[test]
fn zero_out_of_order_cap_declares_gaps_immediately() {
    let mut h = Harness::new(ReassemblyConfig {
        max_ooo_segments: 0,
        ..ReassemblyConfig::default()
    });
    h.handshake();
    let lost = publish(b"lost", b"x");
    h.raw(
        C,
        h.seq[0].wrapping_add(lost.len() as u32),
        false,
        false,
        &publish(b"kept", b"y"),
    );
    assert_eq!(h.seen.messages.last().unwrap().name, b"kept");
    assert_eq!(h.conn.findings().get(K::StreamGap), 1);
}

// ---------------------------------------------------------------- every finding, through a
// connection

/// Findings counted by a connection that saw a clean handshake at `level`, then `bytes` from `dir`.
fn after_handshake(level: u8, dir: Direction, bytes: &[u8]) -> crate::finding::FindingCounts {
    let mut h = Harness::new(ReassemblyConfig {
        max_message_len: 1000,
        max_stream_buffer: 1500,
        max_outstanding_ids: 1,
        ..ReassemblyConfig::default()
    });
    h.open();
    h.send(C, &connect(b"c", level));
    h.send(S, &connack());
    h.send(dir, bytes);
    h.finish();
    h.conn.findings().clone()
}

/// Every `FindingKind` is produced by at least one input here, through the public `Connection` API;
/// adding a kind without a way to reach it fails this test.
#[test]
fn every_finding_kind_is_reachable_through_a_connection() {
    let v4 = |d: Direction, b: &[u8]| after_handshake(4, d, b);
    let mut cases: Vec<(FindingKind, crate::finding::FindingCounts)> = vec![
        (K::MissingConnect, v4(S, &connack())),
        (K::MissingPublish, v4(S, &[0x40, 0x02, 0x00, 0x01])),
        (K::MissingSubscribe, v4(S, &[0x90, 0x03, 0x00, 0x01, 0x00])),
        (K::MissingUnsubscribe, v4(S, &[0xb0, 0x02, 0x00, 0x01])),
        (K::DoubleConnect, v4(C, &connect(b"again", 4))),
        (
            K::InvalidQosLevel,
            v4(C, &[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]),
        ),
        (K::MissingMsgId, v4(C, &[0x32, 0x03, 0x00, 0x01, b't'])),
        (K::UnassignedMsgType, v4(C, &[0x00, 0x00])),
        (
            K::TooManyTransactions,
            v4(C, &[0x32, 5, 0, 1, b't', 0, 1, 0x32, 5, 0, 1, b't', 0, 2]),
        ),
        (K::MalformedTraffic, v4(C, &[0x30, 0x03, 0x00, 0x09, b't'])),
        (K::TruncatedMsg, v4(C, &publish(b"t", b"x")[..4])),
        (K::ReservedFlagsSet, v4(C, &[0xc1, 0x00])),
        (
            K::InvalidRemainingLength,
            v4(C, &[0x30, 0xff, 0xff, 0xff, 0xff]),
        ),
        (K::NonMinimalVarint, v4(C, &[0xc0, 0x80, 0x00])),
        (K::OversizedMessage, v4(C, &publish(b"t", &[0; 1200]))),
        (K::FieldOverrun, v4(C, &[0x30, 0x03, 0x00, 0x09, b't'])),
        (K::TrailingBytes, v4(C, &[0xc0, 0x01, 0x00])),
        (K::InvalidUtf8, v4(C, &publish(b"\xff", b""))),
        (K::NullCharacter, v4(C, &publish(b"a\0b", b""))),
        (K::ProtocolNameMismatch, v4(C, &connect(b"x", 3))),
        (K::UnknownProtocolLevel, v4(C, &connect(b"x", 9))),
        (K::ConnectReservedFlagSet, {
            let mut c = connect(b"x", 4);
            c[9] |= 1;
            v4(C, &c)
        }),
        (K::InvalidConnectFlags, {
            let mut c = connect(b"x", 4);
            c[9] |= 0x20; // will retain without will
            v4(C, &c)
        }),
        (
            K::PropertyLengthOverrun,
            after_handshake(5, C, &[0x30, 0x04, 0x00, 0x01, b't', 0x09]),
        ),
        (
            K::UnknownProperty,
            after_handshake(5, C, &[0x30, 0x05, 0x00, 0x01, b't', 0x01, 0x7f]),
        ),
        (
            K::ZeroPacketId,
            v4(C, &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00]),
        ),
        (K::EmptyTopicList, v4(C, &[0x82, 0x02, 0x00, 0x01])),
        (K::WildcardInTopicName, v4(C, &publish(b"a/#", b""))),
        (K::EmptyTopicName, v4(C, &publish(b"", b"x"))),
        (K::ReservedBitsSet, v4(S, &[0x20, 0x02, 0x80, 0x00])),
        (K::InvalidDupFlag, v4(C, &[0x38, 0x03, 0x00, 0x01, b't'])),
        (K::UnknownReasonCode, v4(S, &[0x90, 0x03, 0x00, 0x01, 0x07])),
        (K::WrongDirection, v4(S, &[0xc0, 0x00])),
        (K::MessageAfterDisconnect, v4(C, &[0xe0, 0x00, 0xc0, 0x00])),
        // A segment 3 bytes ahead of the stream whose hole is never filled.
        (K::StreamGap, {
            let mut h = Harness::new(ReassemblyConfig::default());
            h.handshake();
            h.raw(C, h.seq[0].wrapping_add(3), false, false, &[0xc0, 0x00]);
            h.finish();
            h.conn.findings().clone()
        }),
        (
            K::ResyncSkippedBytes,
            v4(C, &[0x30, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00]),
        ),
        (K::BufferCapDrop, {
            let mut h = Harness::new(ReassemblyConfig {
                max_stream_buffer: 10,
                ..ReassemblyConfig::default()
            });
            h.handshake();
            h.send(C, &publish(b"t", &[0; 50])[..20]);
            h.conn.findings().clone()
        }),
        (K::MidstreamPickup, {
            let mut h = Harness::new(ReassemblyConfig::default());
            h.raw(C, 9, false, false, &[0xc0, 0x00]);
            h.conn.findings().clone()
        }),
    ];
    // Unintroduced: a message before CONNECT.
    let mut h = Harness::new(ReassemblyConfig::default());
    h.open();
    h.send(C, &[0xc0, 0x00]);
    cases.push((K::UnintroducedMessage, h.conn.findings().clone()));

    for (kind, counts) in &cases {
        assert!(counts.get(*kind) > 0, "{kind} not raised: {counts:?}");
    }
    let covered: FindingSet = cases.iter().map(|(k, _)| *k).collect();
    let missing: Vec<_> = FindingKind::ALL
        .iter()
        .filter(|k| !covered.contains(**k))
        .collect();
    assert!(missing.is_empty(), "no case for {missing:?}");
}

#[test]
fn peer_ack_over_unseen_data_declares_the_gap_at_once() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    // The client's SUBSCRIBE segment is lost in capture; the next one (another SUBSCRIBE) arrives.
    let lost = frame(0x82, &[0x00, 0x01, 0x00, 0x01, b'a', 0x00]);
    let sub2 = frame(0x82, &[0x00, 0x02, 0x00, 0x01, b'b', 0x00]);
    let base = h.seq[0];
    h.raw(C, base.wrapping_add(lost.len() as u32), false, false, &sub2);
    assert_eq!(h.seen.messages.len(), 2, "held behind the hole");
    // The server acknowledges both: the hole is lost, SUBSCRIBE 2 is parsed before the SUBACK that
    // carries the ACK, so the SUBACK matches it.
    h.packet += 1;
    let ack = base.wrapping_add((lost.len() + sub2.len()) as u32);
    let suback = [0x90, 0x03, 0x00, 0x02, 0x00];
    let seg = Segment {
        seq: h.seq[1],
        syn: false,
        fin: false,
        rst: false,
        ack: Some(ack),
        payload: &suback,
        packet: h.packet,
        ts_ns: 0,
    };
    h.conn.on_segment(S, &seg, &mut h.seen);
    assert_eq!(h.seen.types()[2..], [T::Subscribe, T::Suback]);
    assert!(!h.seen.messages[3].findings.contains(K::MissingSubscribe));
    let gaps = h.seen.stream_findings(K::StreamGap);
    assert_eq!((gaps.len(), gaps[0].bytes), (1, lost.len() as u64));
    assert_eq!(gaps[0].direction, C);
}

#[test]
fn ack_of_a_fin_behind_a_hole_counts_only_the_hole() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.handshake();
    let seq = h.seq[0];
    let lost = [0xc0, 0x00]; // PINGREQ, never captured
    let disconnect = [0xe0, 0x00];
    h.raw(C, seq.wrapping_add(2), false, true, &disconnect); // DISCONNECT + FIN, early
    h.packet += 1;
    let seg = Segment {
        seq: h.seq[1],
        syn: false,
        fin: false,
        rst: false,
        ack: Some(seq.wrapping_add(5)), // 2 lost + 2 data bytes + the FIN
        payload: &[],
        packet: h.packet,
        ts_ns: 0,
    };
    h.conn.on_segment(S, &seg, &mut h.seen);
    let gaps = h.seen.stream_findings(K::StreamGap);
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].bytes, lost.len() as u64);
    assert_eq!(h.seen.messages.last().unwrap().ptype, T::Disconnect);
}

#[test]
fn a_malformed_connack_still_completes_the_handshake() {
    let mut h = Harness::new(ReassemblyConfig::default());
    h.open();
    h.send(C, &connect(b"c", 5));
    // CONNACK 5.0, reason 0, property length 9 with 1 byte of properties.
    h.send(S, &[0x20, 0x04, 0x00, 0x00, 0x09, 0x22]);
    h.send(C, &[0xc0, 0x00]);
    assert!(h.seen.messages[1].findings.contains(K::MalformedTraffic));
    assert_eq!(h.conn.phase(), Phase::Connected);
    assert!(!h.seen.messages[2].findings.contains(K::UnintroducedMessage));
}

#[test]
fn connection_state_stays_small() {
    // Per-connection memory before any buffering: the fixed part of a flow-table entry.
    let size = std::mem::size_of::<Connection>();
    println!("size_of::<Connection>() = {size}");
    assert!(size <= 2048, "{size}");
}

/// Everything a visitor is told, as text (the message itself included), in order.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Visitor for Transcript {
    fn on_message(&mut self, e: &MessageEvent<'_>) {
        self.0.push(format!("{e:?}"));
    }
    fn on_finding(&mut self, e: &FindingEvent) {
        self.0.push(format!("{e:?}"));
    }
}

/// xorshift64*: seeded, so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A byte stream of messages, well-formed and not: plain and QoS 1 PUBLISH, CONNECT, CONNACK,
/// PUBACK, a header announcing ~256 MB, a remaining length that never ends, a type byte
/// alone, a truncated varint, and random bytes.
fn hostile_stream(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < len {
        match rng.below(12) {
            0..=4 => out.extend(publish(b"sensors/temp/01", b"{\"t\":21.5}")),
            5 => out.extend(frame(0x32, b"\x00\x03a/b\x00\x07qos1")),
            6 => out.extend(connect(b"dev", if rng.below(2) == 0 { 4 } else { 5 })),
            7 => out.extend(connack()),
            8 => out.extend([0x40, 0x02, 0x00, 0x07]),
            9 => out.extend(match rng.below(4) {
                0 => &[0x30, 0xff, 0xff, 0xff, 0x7f][..], // ~256 MB PUBLISH
                1 => &[0x30, 0xff, 0xff, 0xff, 0xff, 0x01][..], // invalid remaining length
                2 => &[0x30][..],                         // type byte alone
                _ => &[0x30, 0x80][..],                   // truncated varint
            }),
            10 => out.extend(publish(b"x".repeat(200).as_slice(), &[7; 300])),
            _ => out.extend((0..rng.below(20)).map(|_| rng.next() as u8)),
        }
    }
    out
}

/// Segments in the `fuzzing::replay_stream` format, cut from two hostile streams: mostly in
/// order (the fast path), with pure ACKs, overlaps, retransmissions, holes, reordering, SYN, FIN
/// and RST mixed in.
fn hostile_segments(seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let streams = [
        hostile_stream(&mut rng, 3000),
        hostile_stream(&mut rng, 3000),
    ];
    let mut at = [0usize; 2];
    let mut out = Vec::new();
    let mut dir = 0;
    for _ in 0..400 {
        if rng.below(4) == 0 {
            dir ^= 1;
        }
        let mut control = dir as u8;
        if rng.below(8) != 0 {
            control |= 0x10; // ACK
        }
        if rng.below(20) == 0 {
            control |= 0x20; // ACK shifted: data acknowledged but not seen
        }
        match rng.below(200) {
            0..=3 => control |= 0x02,    // SYN
            4..=5 => control |= 0x04,    // FIN
            6 => control |= 0x08 | 0xf0, // RST
            _ => {}
        }
        let shift: i8 = match rng.below(10) {
            0 => rng.below(41) as i8 - 20,
            _ => 0,
        };
        let len = match rng.below(3) {
            0 => 0, // pure ACK
            _ => rng.below(60) as usize,
        };
        let from = at[dir].min(streams[dir].len());
        let chunk = &streams[dir][from..(from + len).min(streams[dir].len())];
        at[dir] = from + chunk.len();
        if shift == 0 && !chunk.is_empty() && control & 0x0e == 0 && rng.below(40) == 0 {
            // A hole that only time closes: early data, then a long quiet stretch of pure ACKs
            // (no ACK numbers) from the other side, during which `max_ooo_wait_ns` expires.
            out.extend([control & 1, 5, chunk.len() as u8]);
            out.extend_from_slice(chunk);
            for _ in 0..rng.below(100) {
                out.extend([(control & 1) ^ 1, 0, 0]);
            }
            continue;
        }
        if shift == 0 && chunk.len() >= 2 && control & 0x0e == 0 && rng.below(6) == 0 {
            // Reordered: the second part first (held), then the first part in order, which
            // drains it; the next segment resumes after both.
            let (first, second) = chunk.split_at(1 + rng.below(chunk.len() as u64 - 1) as usize);
            let back = -((first.len() + second.len()) as i64) as i8;
            out.extend([control, first.len() as u8, second.len() as u8]);
            out.extend_from_slice(second);
            out.extend([control, back as u8, first.len() as u8]);
            out.extend_from_slice(first);
            out.extend([control | 0x10, second.len() as u8, 0]);
            continue;
        }
        out.extend([control, shift as u8, chunk.len() as u8]);
        out.extend_from_slice(chunk);
    }
    out
}

/// The in-order fast path of `HalfStream::on_segment` gives what the general path gives: the
/// same messages (with packets, timestamps, findings), stream findings, counters and finding
/// counts, on hostile segment sequences, with and without ACK-driven gaps.
#[test]
fn fast_path_matches_the_general_path_on_hostile_segments() {
    let mut messages = 0;
    for seed in 0..300u64 {
        let input = hostile_segments(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for acks in [true, false] {
            let (mut fast, mut general) = (Transcript::default(), Transcript::default());
            let a = crate::fuzzing::replay_stream_with(&input, acks, false, &mut fast);
            let b = crate::fuzzing::replay_stream_with(&input, acks, true, &mut general);
            assert_eq!(fast.0, general.0, "seed {seed} acks {acks}");
            assert_eq!(a, b, "seed {seed} acks {acks}");
            messages += fast.0.len();
        }
    }
    assert!(messages > 10_000, "the cases deliver messages: {messages}");
}

/// The same comparison on the classic cases fed by hand: in-order data after a held
/// out-of-order segment, a FIN behind a hole, retransmission of delivered data.
#[test]
fn fast_path_matches_the_general_path_around_held_data() {
    let msgs: Vec<u8> = [
        publish(b"a", b"1"),
        publish(b"b", b"2"),
        publish(b"c", b"3"),
    ]
    .concat();
    let run = |general: bool| {
        let mut h = Harness::new(ReassemblyConfig::default());
        let mut t = Transcript::default();
        let base = 1000u32;
        // Three 6-byte PUBLISH, 18 bytes from `base + 1`.
        let segs: [(u32, bool, &[u8]); 7] = [
            (base, true, b""),                 // SYN
            (base + 1, false, &msgs[..4]),     // in order
            (base + 9, false, &msgs[8..12]),   // early: held
            (base + 5, false, &msgs[4..8]),    // fills the hole, drains
            (base + 1, false, &msgs[..6]),     // retransmission
            (base + 15, false, &msgs[14..]),   // early again
            (base + 13, false, &msgs[12..14]), // in order while data is held; drains
        ];
        for (i, (seq, syn, data)) in segs.into_iter().enumerate() {
            let seg = Segment {
                seq,
                syn,
                fin: false,
                rst: false,
                ack: Some(5000),
                payload: data,
                packet: i as u64 + 1,
                ts_ns: i as i64,
            };
            if general {
                h.conn.on_segment_general(C, &seg, &mut t);
            } else {
                h.conn.on_segment(C, &seg, &mut t);
            }
        }
        h.conn.finish(100, 100, &mut t);
        (t.0, h.conn.stats())
    };
    let (fast, general) = (run(false), run(true));
    assert_eq!(fast, general);
    assert_eq!(fast.0.len(), 3, "{:?}", fast.0);
}
