//! Fuzz target: a whole capture file (pcap, pcapng, gzip of either) read and every frame
//! decoded. The reader must end with `Ok(None)` or one error, never panic, and never deliver
//! a frame longer than its cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ids_capture::{decode, from_reader, ReaderOptions};

fuzz_target!(|data: &[u8]| {
    let opts = ReaderOptions {
        max_packet_len: 4096,
        max_block_len: 8192,
    };
    let Ok(mut reader) = from_reader("fuzz", Box::new(std::io::Cursor::new(data.to_vec())), opts)
    else {
        return;
    };
    loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                assert!(frame.data.len() <= 4096);
                let _ = decode(frame);
            }
            Ok(None) | Err(_) => break,
        }
    }
    assert!(reader.next_frame().unwrap().is_none());
});
