//! Builds the live benchmark's input: captures rewritten for replay on the loopback interface
//! — Ethernet frames (Linux-cooked headers replaced) addressed to a MAC that is not the
//! interface's, so the kernel's IP stack drops them (no RST answers) while packet sockets still
//! see them, and IPv4 addresses moved into 127.0.0.0/8 (`a.b.c.d` → `127.k.c.d` for copy `k`,
//! header checksum recomputed), copied until the output has at least MIN_PACKETS packets.
//!
//! `cargo run --release -p mqtt-ids-detect --example loopback_capture -- OUT.pcap MIN_PACKETS IN…`
//! then `tcpreplay --topspeed -i lo OUT.pcap` beside `mqtt-ids detect --interface lo`.

use std::io::BufWriter;

use mqtt_ids_capture::{open, LinkType, PcapWriter, ReaderOptions};

/// Offset of the IP header in a frame of `link`, when it is IPv4.
fn ipv4_at(link: LinkType, data: &[u8]) -> Option<usize> {
    let (at, ether_type) = match link {
        LinkType::ETHERNET => {
            let mut at = 12;
            let mut t = u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]);
            while t == 0x8100 || t == 0x88a8 {
                at += 4;
                t = u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]);
            }
            (at + 2, t)
        }
        LinkType::LINUX_SLL => (16, u16::from_be_bytes([*data.get(14)?, *data.get(15)?])),
        LinkType::LINUX_SLL2 => (20, u16::from_be_bytes([*data.first()?, *data.get(1)?])),
        _ => return None,
    };
    (ether_type == 0x0800 && data.get(at)? >> 4 == 4 && data.len() >= at + 20).then_some(at)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: loopback_capture OUT.pcap MIN_PACKETS IN…");
        std::process::exit(64);
    }
    let min: u64 = args[1].parse().expect("MIN_PACKETS: a number");
    let out = BufWriter::new(std::fs::File::create(&args[0])?);
    let mut w = PcapWriter::new(out, LinkType::ETHERNET, 262_144, true)?;
    let (mut written, mut skipped) = (0u64, 0u64);
    let mut frame = Vec::with_capacity(65_536);
    let mut copy = 0u8;
    while written < min {
        copy = copy.checked_add(1).expect("more than 255 copies needed");
        for input in &args[2..] {
            let mut reader = open(input, ReaderOptions::default()).expect("readable capture");
            while let Some(f) = reader.next_frame().expect("readable capture") {
                let Some(at) = ipv4_at(f.link_type, f.data) else {
                    skipped += 1;
                    continue;
                };
                frame.clear();
                frame.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
                let ip = frame.len();
                frame.extend_from_slice(&f.data[at..]);
                for a in [ip + 12, ip + 16] {
                    frame[a] = 127;
                    frame[a + 1] = copy;
                }
                let ihl = usize::from(frame[ip] & 0x0f) * 4;
                if ihl >= 20 && frame.len() >= ip + ihl {
                    frame[ip + 10] = 0;
                    frame[ip + 11] = 0;
                    let sum: u32 = frame[ip..ip + ihl]
                        .chunks(2)
                        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                        .sum();
                    let sum = (sum & 0xffff) + (sum >> 16);
                    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
                    frame[ip + 10..ip + 12].copy_from_slice(&sum.to_be_bytes());
                }
                let orig = f.orig_len as usize - at + 14;
                w.write_packet(f.ts_ns, orig as u32, &frame)?;
                written += 1;
            }
        }
    }
    w.into_inner()?;
    eprintln!(
        "{}: {written} packets in {copy} copies ({skipped} non-IPv4 frames left out)",
        args[0]
    );
    Ok(())
}
