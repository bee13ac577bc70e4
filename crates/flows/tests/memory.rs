//! Measured memory of the flow table: heap bytes per entry at the default cap, counted by a
//! global allocator (its own test binary), and bounded memory under an endless stream of new
//! flows. The figure is quoted in the `DEFAULT_MAX_FLOWS` documentation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

use mqtt_ids_capture::{Frame, IpHeader, IpVersion, LinkType, Network, Packet, Transport};
use mqtt_ids_flows::{BiFlow, FlowConfig, FlowSink, FlowTable, UniFlow, DEFAULT_MAX_FLOWS};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwards to the system allocator with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Discard(u64);

impl FlowSink for Discard {
    fn uniflow(&mut self, _: &UniFlow) {
        self.0 += 1;
    }
    fn biflow(&mut self, _: &BiFlow) {}
}

/// A UDP packet of flow number `i` (every `i` a different 5-tuple).
fn packet(i: u32) -> Packet<'static> {
    let src = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | (i >> 8)));
    Packet {
        frame: Frame {
            number: u64::from(i) + 1,
            offset: 0,
            ts_ns: i64::from(i) * 1000,
            interface: 0,
            link_type: LinkType::RAW,
            orig_len: 60,
            data: &[],
        },
        network: Network::Ipv4,
        ip: Some(IpHeader {
            version: IpVersion::V4,
            src,
            dst: IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1)),
            ttl: 64,
            total_len: 60,
            df: false,
            mf: false,
            rb: false,
            id: 0,
            fragment_offset: 0,
            protocol: 17,
            fragment: false,
        }),
        transport: Transport::Udp {
            src_port: (i & 0xFF) as u16,
            dst_port: 5683,
            length: 40,
        },
        payload: &[],
        truncated: false,
        error: None,
    }
}

/// Both measurements in one test: the counters are process-wide.
#[test]
fn bytes_per_entry_at_the_default_cap_and_a_bounded_table_beyond_it() {
    let entries = DEFAULT_MAX_FLOWS as u32;
    let before = LIVE.load(Ordering::Relaxed);
    let mut table = FlowTable::new(FlowConfig::default());
    let mut sink = Discard(0);
    for i in 0..entries {
        table.on_packet(&packet(i), &mut sink);
    }
    assert_eq!(table.entries(), DEFAULT_MAX_FLOWS);
    let full = LIVE.load(Ordering::Relaxed) - before;
    let per_entry = full as f64 / f64::from(entries);
    println!("{entries} entries: {full} bytes, {per_entry:.0} bytes per entry");
    assert!(per_entry < 400.0, "{per_entry:.0} bytes per entry");

    // Twice as many flows again: the least recently seen are evicted and memory stays put.
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    for i in entries..3 * entries {
        table.on_packet(&packet(i), &mut sink);
    }
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert_eq!(table.stats().evicted, 2 * u64::from(entries));
    assert_eq!(sink.0, 2 * u64::from(entries));
    assert!(peak <= full + full / 100, "{peak} > {full}");
    table.finish(&mut sink);
}
