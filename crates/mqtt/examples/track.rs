//! The tracker alone over a capture, with a visitor that only counts: how the tracker's own
//! cost is measured (the feature sets' callbacks are not included).
//!
//! ```text
//! cargo build --release -p mqtt-ids-mqtt --example track
//! valgrind --tool=callgrind --toggle-collect='*track::track_one*' \
//!   target/release/examples/track FILE
//! ```
//! `Ir` of the run is then the tracker's instructions; divide by the packet count printed.

use mqtt_ids_capture::{decode, open, Packet, ReaderOptions};
use mqtt_ids_mqtt::{FindingEvent, MessageEvent, Tracker, TrackerConfig, Visitor};

#[derive(Default)]
struct Count {
    messages: u64,
    bytes: u64,
    findings: u64,
}

impl Visitor for Count {
    fn on_message(&mut self, event: &MessageEvent<'_>) {
        self.messages += 1;
        self.bytes += event.last_packet - event.first_packet;
    }
    fn on_finding(&mut self, _event: &FindingEvent) {
        self.findings += 1;
    }
}

/// One packet through the tracker, out of line so that callgrind can count it alone.
#[inline(never)]
fn track_one(tracker: &mut Tracker, packet: &Packet<'_>, count: &mut Count) -> bool {
    tracker.on_packet(packet, count)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: track CAPTURE (pcap or pcapng)")?;
    let mut reader = open(&path, ReaderOptions::default())?;
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut count = Count::default();
    let (mut packets, mut mqtt, mut last) = (0u64, 0u64, (0, 0));
    while let Some(frame) = reader.next_frame()? {
        let packet = decode(frame);
        last = (packet.frame.number, packet.frame.ts_ns);
        packets += 1;
        mqtt += u64::from(track_one(&mut tracker, &packet, &mut count));
    }
    tracker.finish(last.0, last.1, &mut count);
    println!(
        "{packets} packets, {mqtt} MQTT, {} messages, {} findings, {} reassembled-span",
        count.messages, count.findings, count.bytes
    );
    Ok(())
}
