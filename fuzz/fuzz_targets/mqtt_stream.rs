//! Fuzz whole two-direction MQTT connections through reassembly. The input is a list of segments,
//! each `[control, seq_shift, len, data…]`: control bit 0 = direction, bit 1 SYN, bit 2 FIN, bit 3
//! RST (only honoured when bits 4-7 are all set, so aborts stay rare), bit 4 = carries an ACK of
//! everything the other side sent so far (holes included), bit 5 = that ACK shifted by `seq_shift`;
//! `seq_shift` (i8) moves the segment relative to the next expected byte (overlaps,
//! retransmissions, holes, reordering). Small caps make every limit reachable.
//! The decoding lives in `mqtt_ids_mqtt::fuzzing::replay_stream`, which
//! `crates/mqtt/tests/fuzz_regressions.rs` also calls, so crashes replay exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ids_mqtt::{FindingEvent, MessageEvent, Visitor};

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
    mqtt_ids_mqtt::fuzzing::replay_stream(data, true, &mut Touch(0));
});
