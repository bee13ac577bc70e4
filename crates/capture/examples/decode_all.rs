//! Reads and decodes every packet of the given captures and prints counts; a profiling aid
//! (`perf record target/release/examples/decode_all FILE`).
use mqtt_ids_capture::{decode, open, ReaderOptions, Summary};

fn main() {
    for file in std::env::args().skip(1) {
        let mut r = open(&file, ReaderOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let mut s = Summary::default();
        while let Some(f) = r.next_frame().unwrap_or_else(|e| panic!("{e}")) {
            s.add(&decode(f));
        }
        println!("{file}: {} packets, {} tcp", s.packets, s.tcp);
    }
}
