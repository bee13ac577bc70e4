//! The in-order fast path allocates nothing: a counting global allocator watches a 32 KB segment of
//! 1,927 PUBLISH messages go through a `Connection` and a visitor. (A CONNECT allocates one box:
//! its body is boxed so that every other message moves fewer bytes; see `Packet::Connect`.)
//!
//! This file is its own test binary, so the allocator only affects it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use mqtt_ids_mqtt::{Connection, Direction, MemoryBudget, MessageEvent, ReassemblyConfig, Segment};

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

#[test]
fn in_order_segments_parse_without_allocating() {
    // CONNECT 3.1.1 "c", CONNACK, then 1,927 QoS 0 PUBLISH of 17 bytes (topic "flood/topic", 2-byte
    // payload) in one 32,759-byte segment.
    let connect = [
        0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, b'c',
    ];
    let connack = [0x20, 0x02, 0x00, 0x00];
    let one = [
        0x30, 0x0f, 0x00, 0x0b, b'f', b'l', b'o', b'o', b'd', b'/', b't', b'o', b'p', b'i', b'c',
        b'4', b'2',
    ];
    let flood: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1927).collect();

    let mut conn = Connection::new(ReassemblyConfig::default(), MemoryBudget::default());
    let mut publishes = 0u32;
    let mut visitor = |e: &MessageEvent<'_>| {
        if e.packet_type() == mqtt_ids_mqtt::PacketType::Publish && e.findings.is_empty() {
            publishes += 1;
        }
    };
    // (direction, seq, syn, payload): SYNs at seq 0, so data starts at 1.
    let segments: [(Direction, u32, bool, &[u8]); 5] = [
        (Direction::ToServer, 0, true, &[]),
        (Direction::ToClient, 0, true, &[]),
        (Direction::ToServer, 1, false, &connect),
        (Direction::ToClient, 1, false, &connack),
        (Direction::ToServer, 1 + connect.len() as u32, false, &flood),
    ];
    let mut before = 0;
    for (i, (direction, seq, syn, payload)) in segments.iter().enumerate() {
        if i == 4 {
            before = ALLOCATIONS.load(Ordering::Relaxed);
        }
        let segment = Segment {
            seq: *seq,
            syn: *syn,
            fin: false,
            rst: false,
            ack: None,
            payload,
            packet: i as u64 + 1,
            ts_ns: 0,
        };
        conn.on_segment(*direction, &segment, &mut visitor);
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0);
    assert_eq!(publishes, 1927);
}
