//! The Linux `TPACKET_V3` receive-ring block layout (linux/if_packet.h): a block descriptor, then
//! packets chained by `tp_next_offset`, each a `tpacket3_hdr`, a `sockaddr_ll` and the frame at
//! `tp_mac`. The live capture of `mqtt-ids detect` maps the ring and hands each filled block to
//! [`walk_block`]; this is safe code over the block's bytes that checks every offset and length
//! the kernel wrote before using it, so a corrupt block yields fewer packets, never a read
//! outside the block. Fuzzed (`fuzz/fuzz_targets/ring_block.rs`).

// `struct tpacket_block_desc` (linux/if_packet.h): version u32, offset_to_priv u32, then
// `struct tpacket_hdr_v1`.
/// Offset of `block_status` in a block: `TP_STATUS_USER` while the block is ours.
pub const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
const BLOCK_HEADER_LEN: usize = 48;
// `struct tpacket3_hdr` (48 bytes), then `struct sockaddr_ll` at TPACKET_ALIGN(48) = 48.
const PKT_NEXT_OFFSET: usize = 0;
const PKT_SEC: usize = 4;
const PKT_NSEC: usize = 8;
const PKT_SNAPLEN: usize = 12;
const PKT_LEN: usize = 16;
const PKT_MAC: usize = 24;
const PKT_SLL: usize = 48;
/// `sll_pkttype` inside `struct sockaddr_ll`.
const SLL_PKTTYPE: usize = 10;
/// `TPACKET3_HDRLEN`: packet header + `sockaddr_ll`.
const PKT_HEADER_LEN: usize = PKT_SLL + 20;

/// `PACKET_OUTGOING` in `sockaddr_ll.sll_pkttype`: sent by this host.
pub const PACKET_OUTGOING: u8 = 4;

/// What [`walk_block`] did with one block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockWalk {
    /// Packets handed to the callback.
    pub packets: u64,
    /// Packets skipped as outgoing duplicates.
    pub skipped_outgoing: u64,
    /// Packets the block announced but whose descriptor could not be read.
    pub bad: u64,
}

/// One packet of a ring block.
#[derive(Clone, Copy, Debug)]
pub struct RingPacket<'a> {
    /// Kernel receive time, ns since the Unix epoch.
    pub ts_ns: i64,
    /// Length on the wire.
    pub wire_len: u32,
    /// The captured bytes, from the link-layer header on.
    pub data: &'a [u8],
    /// `sll_pkttype` (host, broadcast, outgoing …).
    pub pkttype: u8,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Walks the packets of one `TPACKET_V3` block (`struct tpacket_block_desc` and its packets),
/// checking every offset and length against the block; `skip_outgoing` drops packets whose
/// `sll_pkttype` is `PACKET_OUTGOING` (on loopback every packet is seen leaving and arriving).
pub fn walk_block(
    block: &[u8],
    skip_outgoing: bool,
    mut on_packet: impl FnMut(RingPacket<'_>),
) -> BlockWalk {
    let mut walk = BlockWalk::default();
    let (Some(n), Some(first)) = (
        u32_at(block, BLOCK_NUM_PKTS),
        u32_at(block, BLOCK_FIRST_PKT),
    ) else {
        return walk;
    };
    let mut at = first as usize;
    for i in 0..u64::from(n) {
        let header = at
            .checked_add(PKT_HEADER_LEN)
            .and_then(|end| block.get(at..end));
        let Some(h) = header.filter(|_| at >= BLOCK_HEADER_LEN) else {
            walk.bad += u64::from(n) - i;
            break;
        };
        let (next, sec, nsec, snaplen, len, mac) = (
            u32_at(h, PKT_NEXT_OFFSET).unwrap_or(0) as usize,
            u32_at(h, PKT_SEC).unwrap_or(0),
            u32_at(h, PKT_NSEC).unwrap_or(0),
            u32_at(h, PKT_SNAPLEN).unwrap_or(0) as usize,
            u32_at(h, PKT_LEN).unwrap_or(0),
            usize::from(u16_at(h, PKT_MAC).unwrap_or(0)),
        );
        let pkttype = h[PKT_SLL + SLL_PKTTYPE];
        let data = at
            .checked_add(mac)
            .and_then(|s| Some((s, s.checked_add(snaplen)?)))
            .filter(|_| mac >= PKT_HEADER_LEN)
            .and_then(|(s, e)| block.get(s..e));
        match data {
            Some(data) if skip_outgoing && pkttype == PACKET_OUTGOING => {
                let _ = data;
                walk.skipped_outgoing += 1;
            }
            Some(data) => {
                walk.packets += 1;
                on_packet(RingPacket {
                    ts_ns: i64::from(sec) * 1_000_000_000 + i64::from(nsec),
                    wire_len: len,
                    data,
                    pkttype,
                });
            }
            None => walk.bad += 1,
        }
        if i + 1 < u64::from(n) {
            if next == 0 {
                walk.bad += u64::from(n) - i - 1;
                break;
            }
            at = match at.checked_add(next) {
                Some(a) => a,
                None => {
                    walk.bad += u64::from(n) - i - 1;
                    break;
                }
            };
        }
    }
    walk
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block as the kernel lays it out: descriptor, then packets each with a `tpacket3_hdr`,
    /// a `sockaddr_ll`, and the frame at `tp_mac`, `tp_next_offset` chaining them.
    fn block(packets: &[(&[u8], u8)]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[BLOCK_NUM_PKTS..BLOCK_NUM_PKTS + 4]
            .copy_from_slice(&(packets.len() as u32).to_ne_bytes());
        b[BLOCK_FIRST_PKT..BLOCK_FIRST_PKT + 4].copy_from_slice(&48u32.to_ne_bytes());
        let mut at = 48;
        for (i, (data, pkttype)) in packets.iter().enumerate() {
            let mac = 80usize; // TPACKET3_HDRLEN rounded up, as the kernel places tp_mac
            let total = (mac + data.len()).next_multiple_of(16);
            let next = if i + 1 < packets.len() {
                total as u32
            } else {
                0
            };
            b[at..at + 4].copy_from_slice(&next.to_ne_bytes());
            b[at + PKT_SEC..at + PKT_SEC + 4].copy_from_slice(&7u32.to_ne_bytes());
            b[at + PKT_NSEC..at + PKT_NSEC + 4].copy_from_slice(&(i as u32).to_ne_bytes());
            b[at + PKT_SNAPLEN..at + PKT_SNAPLEN + 4]
                .copy_from_slice(&(data.len() as u32).to_ne_bytes());
            b[at + PKT_LEN..at + PKT_LEN + 4]
                .copy_from_slice(&(data.len() as u32 + 1).to_ne_bytes());
            b[at + PKT_MAC..at + PKT_MAC + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
            b[at + PKT_SLL + SLL_PKTTYPE] = *pkttype;
            b[at + mac..at + mac + data.len()].copy_from_slice(data);
            at += total;
        }
        b
    }

    #[test]
    fn a_block_yields_its_packets_in_order() {
        let b = block(&[(b"first", 0), (b"dup", PACKET_OUTGOING), (b"third!", 0)]);
        let mut seen = Vec::new();
        let walk = walk_block(&b, true, |p| {
            seen.push((p.data.to_vec(), p.ts_ns, p.wire_len))
        });
        assert_eq!(
            walk,
            BlockWalk {
                packets: 2,
                skipped_outgoing: 1,
                bad: 0
            }
        );
        assert_eq!(
            seen,
            vec![
                (b"first".to_vec(), 7_000_000_000, 6),
                (b"third!".to_vec(), 7_000_000_002, 7)
            ]
        );
        // Not skipping outgoing frames (a real interface: our own traffic counts).
        assert_eq!(walk_block(&b, false, |_| {}).packets, 3);
    }

    #[test]
    fn corrupt_descriptors_never_read_outside_the_block() {
        let good = block(&[(b"abc", 0), (b"def", 0)]);
        // Every truncation, and every byte of the headers set to 0xff, in turn.
        for len in 0..good.len() {
            let w = walk_block(&good[..len], false, |p| assert!(p.data.len() <= 3));
            assert!(w.packets + w.bad <= 2);
        }
        for i in 0..200 {
            let mut b = good.clone();
            b[i] = 0xff;
            let w = walk_block(&b, false, |_| {});
            assert!(w.packets <= 2, "{i}: {w:?}");
        }
        // A block announcing more packets than it chains: the rest are counted as bad.
        let mut b = good.clone();
        b[BLOCK_NUM_PKTS..BLOCK_NUM_PKTS + 4].copy_from_slice(&5u32.to_ne_bytes());
        assert_eq!(
            walk_block(&b, false, |_| {}),
            BlockWalk {
                packets: 2,
                skipped_outgoing: 0,
                bad: 3
            }
        );
    }
}
