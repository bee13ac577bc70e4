//! Fuzz whole two-direction MQTT connections through reassembly. The input is a list of segments,
//! each `[control, seq_shift, len, data…]`: control bit 0 = direction, bit 1 SYN, bit 2 FIN, bit 3
//! RST (only honoured when bits 4-7 are all set, so aborts stay rare), bit 4 = carries an ACK of
//! everything the other side sent so far (holes included), bit 5 = that ACK shifted by `seq_shift`;
//! `seq_shift` (i8) moves the segment relative to the next expected byte (overlaps,
//! retransmissions, holes, reordering). Small caps make every limit reachable.
//! `crates/mqtt/tests/fuzz_regressions.rs` replays crashes with the same decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ids_mqtt::{
    Connection, Direction, FindingEvent, MemoryBudget, MessageEvent, ReassemblyConfig, Segment,
    Visitor,
};

struct Touch(u64);

impl Visitor for Touch {
    fn on_message(&mut self, e: &MessageEvent<'_>) {
        assert!(e.first_packet <= e.last_packet);
        if let Some(m) = e.message {
            self.0 += m.frame.len() as u64;
            let _ = format!("{m:?}");
        }
    }
    fn on_finding(&mut self, e: &FindingEvent) {
        self.0 += e.bytes;
    }
}

fuzz_target!(|data: &[u8]| {
    let budget = MemoryBudget::new(4096);
    let config = ReassemblyConfig {
        max_message_len: 512,
        max_stream_buffer: 2048,
        max_ooo_segments: 8,
        max_ooo_wait_ns: 64,
        max_outstanding_ids: 16,
    };
    let mut conn = Connection::new(config, budget.clone());
    let mut visitor = Touch(0);
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
            ack: (control & 0x10 != 0).then(|| {
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
        conn.on_segment(direction, &segment, &mut visitor);
        next[d] = seq
            .wrapping_add(payload.len() as u32)
            .wrapping_add(segment.syn as u32);
        assert!(budget.used() <= budget.limit());
        assert!(conn.buffered() <= 2 * config.max_stream_buffer);
    }
    conn.finish(packet + 1, 0, &mut visitor);
    assert_eq!(conn.buffered(), 0);
    drop(conn);
    assert_eq!(budget.used(), 0);
});
