//! Builds a large benchmark capture from small ones: `replicate IN[,IN…] OUT MIN_PACKETS` writes
//! the inputs back to back, copied until OUT (pcapng) holds at least MIN_PACKETS packets; every
//! copy's IPv4 hosts are new (see `mqtt_ids_capture::replicate`).
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, inputs, output, min] = &args[..] else {
        eprintln!("usage: replicate IN[,IN...] OUT MIN_PACKETS");
        std::process::exit(64);
    };
    let min: u64 = min.parse().expect("MIN_PACKETS is a number");
    let inputs: Vec<&Path> = inputs.split(',').map(Path::new).collect();
    match mqtt_ids_capture::replicate::replicate(&inputs, Path::new(output), min) {
        Ok(n) => eprintln!("{output}: {n} packets"),
        Err(e) => {
            eprintln!("replicate: {e}");
            std::process::exit(1);
        }
    }
}
