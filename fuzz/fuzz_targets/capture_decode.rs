//! Fuzz target: one frame of any supported link type through the decoder. The first byte picks
//! the link type; the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ids_capture::{decode, Frame, LinkType};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let link_type = LinkType::SUPPORTED[usize::from(pick) % LinkType::SUPPORTED.len()];
    let p = decode(Frame {
        number: 1,
        offset: 0,
        ts_ns: 0,
        interface: 0,
        link_type,
        orig_len: bytes.len() as u32,
        data: bytes,
    });
    assert!(p.payload.len() <= bytes.len());
});
