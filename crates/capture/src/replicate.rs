//! Benchmark captures from small real ones: the inputs back to back, copied until the output
//! holds enough packets, each copy made of new hosts so its connections and flows are new ones.
//!
//! Used by the benchmarks and `examples/replicate.rs`; not part of the analysis pipeline.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use crate::{decode, open, LinkType, PcapNgWriter, ReaderOptions};

/// One frame kept for copying.
struct Kept {
    link_type: LinkType,
    orig_len: u32,
    data: Vec<u8>,
    /// Offset of the IPv4 header, when the frame has one.
    ipv4_at: Option<usize>,
    ts_ns: i64,
}

fn to_io(e: crate::ReadError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes `output` (pcapng): the frames of `inputs` in order — each input's times moved to
/// start 1 ms after the previous input's end, the first input's kept — copied until at least
/// `min_packets` are written. Copy `n` is shifted in time by `n` spans and has the second and
/// third octets of every IPv4 address set to `n`, so every copy's TCP connections and flows are
/// new rather than retransmissions of the first copy's. IP checksums are not recomputed (neither
/// we nor tshark check them by default). Returns the packets written.
pub fn replicate(inputs: &[&Path], output: &Path, min_packets: u64) -> io::Result<u64> {
    let mut frames: Vec<Kept> = Vec::new();
    let mut end: Option<i64> = None;
    for input in inputs {
        let name = input.to_string_lossy();
        let mut r = open(&name, ReaderOptions::default()).map_err(to_io)?;
        let mut shift: Option<i64> = None;
        let mut last = end.unwrap_or(i64::MIN);
        while let Some(f) = r.next_frame().map_err(to_io)? {
            let shift = *shift.get_or_insert(match end {
                Some(end) => end + 1_000_000 - f.ts_ns,
                None => 0,
            });
            let p = decode(f);
            let ipv4_at = p.ip.filter(|ip| ip.src.is_ipv4()).map(|ip| {
                // The IPv4 header starts where the payload's headers begin, counted back.
                let stop = p.payload.as_ptr() as usize - f.data.as_ptr() as usize + p.payload.len();
                stop.saturating_sub((ip.total_len as usize).min(stop))
            });
            last = last.max(f.ts_ns + shift);
            frames.push(Kept {
                link_type: f.link_type,
                orig_len: f.orig_len,
                data: f.data.to_vec(),
                ipv4_at,
                ts_ns: f.ts_ns + shift,
            });
        }
        end = Some(last);
    }
    if frames.is_empty() {
        return Err(io::Error::other("the inputs hold no packets"));
    }
    let first = frames.iter().map(|f| f.ts_ns).min().unwrap_or(0);
    let span = frames.iter().map(|f| f.ts_ns).max().unwrap_or(0) - first;
    let mut w = PcapNgWriter::new(BufWriter::new(File::create(output)?))?;
    let mut ifaces: Vec<(LinkType, u32)> = Vec::new();
    let (mut written, mut copy) = (0u64, 0u64);
    let mut bytes = Vec::new();
    while written < min_packets {
        for f in &frames {
            let iface = match ifaces.iter().find(|(l, _)| *l == f.link_type) {
                Some((_, i)) => *i,
                None => {
                    let i = w.add_interface(f.link_type, 0)?;
                    ifaces.push((f.link_type, i));
                    i
                }
            };
            bytes.clear();
            bytes.extend_from_slice(&f.data);
            if let Some(at) = f.ipv4_at {
                for addr in [at + 12, at + 16] {
                    if let Some(octets) = bytes.get_mut(addr + 1..addr + 3) {
                        octets.copy_from_slice(&[(copy >> 8) as u8, copy as u8]);
                    }
                }
            }
            let ts = f.ts_ns + copy as i64 * (span + 1_000_000);
            w.write_packet(iface, ts, f.orig_len, &bytes)?;
            written += 1;
        }
        copy += 1;
    }
    w.into_inner()?;
    Ok(written)
}

/// The benchmarks' capture `<target>/bench-data/NAME` (`$CARGO_TARGET_DIR` or the workspace's
/// `target`): the seven MQTTset training captures from `../shared/data/mqttset-train`, replicated
/// to at least `min_packets`; built on first use, then reused.
pub fn mqttset_bench_capture(name: &str, min_packets: u64) -> std::path::PathBuf {
    use std::path::PathBuf;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let path = target.join("bench-data").join(name);
    if path.exists() {
        return path;
    }
    let shared = root.join("../shared/data/mqttset-train");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&shared)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the benchmarks need ../shared/data)",
                shared.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    inputs.sort();
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let tmp = path.with_extension("tmp");
    replicate(&inputs, &tmp, min_packets).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transport;

    #[test]
    fn copies_are_new_hosts_later_in_time() {
        let dir = std::env::temp_dir().join(format!("mqtt-ids-replicate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("in.pcapng");
        {
            let mut w = PcapNgWriter::new(File::create(&input).unwrap()).unwrap();
            let i = w.add_interface(LinkType::RAW, 0).unwrap();
            // IPv4 UDP 10.1.2.3 -> 10.4.5.6, ports 1 -> 2, no payload.
            let pkt = [
                0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 2, 3, 10, 4, 5, 6, 0, 1, 0, 2, 0,
                8, 0, 0,
            ];
            w.write_packet(i, 1_000, 28, &pkt).unwrap();
            w.write_packet(i, 2_000, 28, &pkt).unwrap();
            w.into_inner().unwrap();
        }
        let output = dir.join("out.pcapng");
        assert_eq!(replicate(&[&input, &input], &output, 5).unwrap(), 8);
        let mut r = open(output.to_str().unwrap(), ReaderOptions::default()).unwrap();
        let mut seen = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            let p = decode(f);
            assert!(matches!(p.transport, Transport::Udp { .. }));
            seen.push((f.ts_ns, p.ip.unwrap().src.to_string()));
        }
        assert_eq!(seen.len(), 8);
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
        assert_eq!(seen[0].1, "10.0.0.3");
        assert_eq!(seen[4].1, "10.0.1.3");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
