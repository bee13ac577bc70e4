//! Fuzz target: one `TPACKET_V3` ring block (descriptor, chained packet headers, frames) through
//! the live capture's block walker and each packet it yields through the decoder. The first byte
//! says whether outgoing packets are skipped (loopback).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ids_capture::ring::walk_block;
use mqtt_ids_capture::{decode, Frame, LinkType};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, block)) = data.split_first() else {
        return;
    };
    let walk = walk_block(block, pick & 1 == 1, |p| {
        assert!(p.data.len() <= block.len());
        let _ = decode(Frame {
            number: 1,
            offset: 0,
            ts_ns: p.ts_ns,
            interface: 0,
            link_type: LinkType::ETHERNET,
            orig_len: p.wire_len,
            data: p.data,
        });
    });
    assert!(walk.packets as usize <= block.len());
});
