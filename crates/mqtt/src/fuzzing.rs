//! The decoding of fuzz inputs into TCP segments, shared by `fuzz/fuzz_targets/mqtt_stream.rs`
//! and the crash regressions in `tests/fuzz_regressions.rs`, so a crash replays exactly as it was
//! found. Not part of the stable API.

use crate::connection::{Connection, ConnectionStats, Visitor};
use crate::finding::FindingCounts;
use crate::stream::{Direction, MemoryBudget, ReassemblyConfig, Segment};

/// Replays `data` as one two-direction connection: a list of segments, each
/// `[control, seq_shift, len, data…]`. Control bit 0 = direction, bit 1 SYN, bit 2 FIN, bit 3
/// RST (only honoured when bits 4-7 are all set, so aborts stay rare), bit 4 = carries an ACK of
/// everything the other side sent so far (holes included), bit 5 = that ACK shifted by
/// `seq_shift`; `seq_shift` (i8) moves the segment relative to the next expected byte (overlaps,
/// retransmissions, holes, reordering). `acks: false` ignores bits 4-5 (the first format, in which
/// the first crashes were found). Small caps make every limit reachable. Panics when a memory
/// invariant breaks.
pub fn replay_stream<V: Visitor>(data: &[u8], acks: bool, visitor: &mut V) {
    replay_stream_with(data, acks, false, visitor);
}

/// [`replay_stream`], through [`Connection::on_segment_general`] (no in-order fast path) when
/// `general`; returns the connection's counters and findings, so that both paths can be compared.
pub fn replay_stream_with<V: Visitor>(
    data: &[u8],
    acks: bool,
    general: bool,
    visitor: &mut V,
) -> (ConnectionStats, FindingCounts) {
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
        let plain = !(segment.syn | segment.fin | segment.rst) && payload.is_empty();
        if general {
            conn.on_segment_general(direction, &segment, visitor);
        } else if !(plain && conn.on_pure_ack(direction, seq, segment.ack, packet, packet as i64)) {
            conn.on_segment(direction, &segment, visitor);
        }
        next[d] = seq
            .wrapping_add(payload.len() as u32)
            .wrapping_add(segment.syn as u32);
        assert!(budget.used() <= budget.limit());
        assert!(conn.buffered() <= 2 * config.max_stream_buffer);
    }
    conn.finish(packet + 1, 0, visitor);
    assert_eq!(conn.buffered(), 0);
    let result = (conn.stats(), conn.findings().clone());
    drop(conn);
    assert_eq!(budget.used(), 0);
    result
}
