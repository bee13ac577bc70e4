//! Every input that crashed a fuzz target, replayed as a named test. The replay functions decode
//! inputs exactly as `fuzz/fuzz_targets/mqtt_*.rs` do; keep them in step.

use mqtt_ids_mqtt::{
    parse_message, Connection, Decoded, Direction, FindingEvent, MemoryBudget, MessageEvent,
    ReassemblyConfig, Segment, Visitor,
};

/// The visitor of the `mqtt_stream` target: checks the per-message invariants.
struct Check;

impl Visitor for Check {
    fn on_message(&mut self, e: &MessageEvent<'_>) {
        assert!(
            e.first_packet <= e.last_packet,
            "first_packet {} > last_packet {}",
            e.first_packet,
            e.last_packet
        );
        if let Some(m) = e.message {
            let _ = format!("{m:?}");
        }
    }
    fn on_finding(&mut self, _e: &FindingEvent) {}
}

/// Same decoding as `fuzz_targets/mqtt_stream.rs`: `[control, seq_shift (i8), len, data…]`. With
/// `acks` false: the first format (no ACK numbers), in which the first crashes were found; with
/// `acks` true: the current one (control bit 4 acknowledges everything the other side sent, bit 5
/// shifts that acknowledgement by `seq_shift`).
fn replay_stream(data: &[u8], acks: bool) {
    let budget = MemoryBudget::new(4096);
    let config = ReassemblyConfig {
        max_message_len: 512,
        max_stream_buffer: 2048,
        max_ooo_segments: 8,
        max_ooo_wait_ns: 64,
        max_outstanding_ids: 16,
    };
    let mut conn = Connection::new(config, budget.clone());
    let mut next = [1000u32, 900_000u32];
    let mut input = data;
    let mut packet = 0u64;
    while input.len() >= 3 {
        let (control, shift, len) = (input[0], input[1] as i8, input[2] as usize);
        let payload = input.get(3..3 + len).unwrap_or(&input[3..]);
        input = &input[3 + payload.len()..];
        let direction = if control & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let d = direction.index();
        let seq = next[d].wrapping_add(shift as i32 as u32);
        packet += 1;
        let segment = Segment {
            seq,
            syn: control & 2 != 0,
            fin: control & 4 != 0,
            rst: control & 8 != 0 && control >> 4 == 0xf,
            ack: (acks && control & 0x10 != 0).then(|| {
                let peer = next[1 - d];
                if control & 0x20 != 0 {
                    peer.wrapping_add(shift as i32 as u32)
                } else {
                    peer
                }
            }),
            payload,
            packet,
            ts_ns: packet as i64,
        };
        conn.on_segment(direction, &segment, &mut Check);
        next[d] = seq
            .wrapping_add(payload.len() as u32)
            .wrapping_add(segment.syn as u32);
        assert!(budget.used() <= budget.limit());
    }
    conn.finish(packet + 1, 0, &mut Check);
    assert_eq!(conn.buffered(), 0);
    drop(conn);
    assert_eq!(budget.used(), 0);
}

/// `mqtt_stream` crash-921b636e (2026-11-21): a message whose first byte arrived in a late
/// retransmission and whose last bytes sat in an earlier out-of-order segment was reported with
/// `last_packet` (the earlier segment) < `first_packet`. Fixed: `last_packet` is the packet whose
/// arrival completed the message.
#[test]
fn fuzz_stream_reordered_message_completed_by_earlier_packet() {
    replay_stream(
        &[
            0x02, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0a, 0x34, 0x00, 0x3c, 0x00, 0x06, 0x63,
            0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x04, 0x75, 0x73, 0x65, 0x72, 0x00, 0x04, 0x70,
            0x61, 0x73, 0x73, 0x32, 0x0e, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 0x0a, 0x70, 0x61,
            0x79, 0x6c, 0x6f, 0x61, 0x64, 0x82, 0x0c, 0x00, 0x01, 0x00, 0x23, 0x00, 0x01, 0x61,
            0x65, 0x72, 0x00, 0x04, 0x02, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0b, 0x34, 0x00,
            0x3c, 0x00, 0x06, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x19, 0x81, 0x03, 0xaa, 0xaa,
            0xaa, 0xaa, 0xaa, 0xaa, 0xab, 0x61, 0x2f, 0x23, 0x01, 0x00, 0x0f, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x0a, 0x90, 0x00, 0x00, 0x02, 0x03, 0x00, 0x01,
            0x01, 0x05, 0x00, 0x00,
        ],
        false,
    );
}

/// `mqtt_stream` crash-5c57d4ca (2026-11-21): a FIN waiting for out-of-order data; the out-of-order
/// cap declared a gap, the drained data ran the deferred FIN (finishing the stream), and the
/// segment that triggered the gap was then still parsed, leaving 3 bytes buffered in a finished
/// stream. Fixed: nothing is accepted once the stream is finished.
#[test]
fn fuzz_stream_segment_after_deferred_fin_is_not_buffered() {
    replay_stream(
        &[
            0x00, 0x00, 0x03, 0x22, 0x00, 0x0a, 0x01, 0x00, 0x08, 0x20, 0x06, 0x01, 0x01, 0x01,
            0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x41, 0x00,
            0x07, 0x05, 0x01, 0x01, 0x08, 0x20, 0x06, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
            0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
            0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0xf7, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00,
            0x00, 0x03, 0x22, 0x00, 0x00, 0x08, 0x20, 0x06, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
            0x01, 0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x25, 0x01, 0x01,
            0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0xf7, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
            0x00, 0x00, 0x03, 0x22, 0x00, 0x00, 0x08, 0x20, 0x06, 0x01, 0x01, 0x01, 0x01, 0x01,
            0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x41, 0x09, 0x00,
            0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4f, 0x05, 0x01, 0x27, 0x01, 0xfd,
            0x34, 0x41, 0x21,
        ],
        false,
    );
}

/// Guard for the `mqtt_message` target's loop: consecutive parsing always makes progress.
#[test]
fn fuzz_message_parse_loop_terminates_on_seeds() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/seeds-mqtt_message");
    let Ok(dir) = std::fs::read_dir(&seeds) else {
        return; // seeds live outside the crate; absent in a packaged crate
    };
    for entry in dir.flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        let mut input = data.get(1..).unwrap_or(&[]);
        let options = mqtt_ids_mqtt::ParseOptions::default();
        while let Decoded::Parsed { consumed, .. } = parse_message(input, &options) {
            assert!(consumed > 0);
            input = &input[consumed..];
        }
    }
}
