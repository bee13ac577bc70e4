//! The `packet` set allocates nothing per packet once its buffers have grown: a counting global
//! allocator watches the set's own calls (messages in, rows out through the CSV sink) over a
//! second pass of real traffic — a nanosecond pcapng (the exact double rounding of pyshark's
//! timestamps), IPv6 MQTT 5 with the IPv6 columns filled, and the many addresses of MQTTset's
//! benign capture.
//!
//! This file is its own test binary, so the allocator only affects it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use mqtt_ids_capture::{decode, open, Frame, LinkType, ReaderOptions};
use mqtt_ids_features::label::Net;
use mqtt_ids_features::sets::packet::{PacketOptions, PacketSet, SCHEMA};
use mqtt_ids_features::sets::FrameSet;
use mqtt_ids_features::{CsvSink, Labeler};
use mqtt_ids_mqtt::{MessageEvent, Tracker, TrackerConfig};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// (frame number, timestamp, link type, bytes) of every frame of the captures.
type Frames = Vec<(u64, i64, LinkType, Vec<u8>)>;

fn frames(root: &Path, captures: &[&str]) -> Frames {
    let mut out = Vec::new();
    for capture in captures {
        let path = root.join(capture);
        let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
        while let Some(f) = reader.next_frame().unwrap() {
            out.push((f.number, f.ts_ns, f.link_type, f.data.to_vec()));
        }
    }
    out
}

/// Runs the frames through a tracker and the set; returns the allocations made inside the
/// set's calls, and the rows written.
fn pass(
    set: &mut PacketSet,
    frames: &Frames,
    labels: &Labeler,
    sink: &mut CsvSink<std::io::Sink>,
) -> (u64, u64) {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut inside = 0;
    let rows = sink.rows();
    for (number, ts_ns, link_type, data) in frames {
        let packet = decode(Frame {
            number: *number,
            offset: 0,
            ts_ns: *ts_ns,
            interface: 0,
            link_type: *link_type,
            orig_len: data.len() as u32,
            data,
        });
        let mqtt = tracker.on_packet(&packet, &mut |e: &MessageEvent<'_>| {
            let before = allocations();
            set.on_message(e);
            inside += allocations() - before;
        });
        let before = allocations();
        set.end_packet(&packet, mqtt, labels, sink).unwrap();
        inside += allocations() - before;
    }
    (inside, sink.rows() - rows)
}

#[test]
fn no_allocation_per_packet() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if !root.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "shared data missing in CI"
        );
        return;
    }
    let frames = frames(
        &root,
        &[
            "mqttset-train/bruteforce-train.pcapng",
            "mqttset-train/benign-train.pcap",
            "corpus/suricata-verify/tests/mqtt5-pub-qos2/input.pcap",
        ],
    );
    let labels = Labeler {
        attackers: vec![Net::parse("192.168.1.90").unwrap()],
        ..Labeler::default()
    };
    let mut set = PacketSet::with_options(PacketOptions { ipv6: true });
    let mut sink = CsvSink::new(std::io::sink(), SCHEMA, "").unwrap();
    let (growing, rows) = pass(&mut set, &frames, &labels, &mut sink);
    assert!(
        growing > 0,
        "the counter sees the set's buffers grow on the first pass"
    );
    let (allocated, again) = pass(&mut set, &frames, &labels, &mut sink);
    assert_eq!(rows, again);
    assert!(rows > 10_000, "{rows}");
    assert_eq!(
        allocated, 0,
        "allocations in the set's calls over {rows} rows"
    );
}
