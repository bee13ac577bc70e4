//! Builds a large benchmark capture from a small one: `replicate IN OUT MIN_PACKETS` writes
//! copies of IN (pcapng, same link types) until OUT holds at least MIN_PACKETS packets. Each
//! copy is shifted in time and has the second and third octets of every IPv4 address set to
//! the copy number, so every copy's TCP connections are new connections rather than
//! retransmissions of the first copy's. IP checksums are not recomputed (nothing here checks
//! them; tshark does not by default).
use mqtt_ids_capture::{decode, open, LinkType, PcapNgWriter, ReaderOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output, min] = &args[..] else {
        eprintln!("usage: replicate IN OUT MIN_PACKETS");
        std::process::exit(64);
    };
    let min: u64 = min.parse().expect("MIN_PACKETS is a number");
    // (link type, original length, bytes, offset of the IPv4 header if any, timestamp)
    let mut frames = Vec::new();
    let mut r = open(input, ReaderOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    while let Some(f) = r.next_frame().unwrap_or_else(|e| panic!("{e}")) {
        let p = decode(f);
        let ip_at = p.ip.filter(|ip| ip.src.is_ipv4()).map(|_| {
            // The IPv4 header starts where the payload's headers begin, counted back.
            let ip_len = p.ip.unwrap().total_len as usize;
            let end = p.payload.as_ptr() as usize - f.data.as_ptr() as usize + p.payload.len();
            end.saturating_sub(ip_len.min(end))
        });
        frames.push((f.link_type, f.orig_len, f.data.to_vec(), ip_at, f.ts_ns));
    }
    assert!(!frames.is_empty(), "{input} has no packets");
    let span =
        frames.iter().map(|f| f.4).max().unwrap() - frames.iter().map(|f| f.4).min().unwrap();
    let out = std::io::BufWriter::new(std::fs::File::create(output).unwrap());
    let mut w = PcapNgWriter::new(out).unwrap();
    let mut ifaces: Vec<(LinkType, u32)> = Vec::new();
    let (mut written, mut copy) = (0u64, 0u64);
    while written < min {
        for (lt, orig, data, ip_at, ts) in &frames {
            let iface = match ifaces.iter().find(|(l, _)| l == lt) {
                Some((_, i)) => *i,
                None => {
                    let i = w.add_interface(*lt, 0).unwrap();
                    ifaces.push((*lt, i));
                    i
                }
            };
            let mut bytes = data.clone();
            if let Some(at) = ip_at {
                for addr in [at + 12, at + 16] {
                    if let Some(octets) = bytes.get_mut(addr + 1..addr + 3) {
                        octets.copy_from_slice(&[(copy >> 8) as u8, copy as u8]);
                    }
                }
            }
            let ts = ts + copy as i64 * (span + 1_000_000);
            w.write_packet(iface, ts, *orig, &bytes).unwrap();
            written += 1;
        }
        copy += 1;
    }
    w.into_inner().unwrap();
    eprintln!("{output}: {written} packets in {copy} copies");
}
