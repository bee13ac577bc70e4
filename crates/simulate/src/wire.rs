//! Frame building: Ethernet II, IPv4, TCP (with options), UDP and ICMP, checksums included.
//! Every frame is written into a caller-supplied buffer, so the simulator reuses its buffers.

use std::net::Ipv4Addr;

/// Ethernet header length.
pub const ETH_LEN: usize = 14;
/// IPv4 header length (no options).
pub const IPV4_LEN: usize = 20;
/// TCP header length without options.
pub const TCP_LEN: usize = 20;
/// UDP header length.
pub const UDP_LEN: usize = 8;

/// TCP flag bits (RFC 9293 §3.1).
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
}

/// IP protocol numbers.
pub const PROTO_ICMP: u8 = 1;
/// TCP.
pub const PROTO_TCP: u8 = 6;
/// UDP.
pub const PROTO_UDP: u8 = 17;

/// The IPv4 header fields a sender chooses.
#[derive(Clone, Copy, Debug)]
pub struct IpFields {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Identification.
    pub id: u16,
    /// Time to live.
    pub ttl: u8,
    /// Don't-fragment flag.
    pub df: bool,
}

/// TCP options in the order Linux writes them on a SYN: MSS, SACK-permitted, timestamps,
/// NOP, window scale. Absent options are `None`/`false`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpOptions {
    /// Maximum segment size (SYN only).
    pub mss: Option<u16>,
    /// SACK permitted (SYN only).
    pub sack_permitted: bool,
    /// Timestamps: (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// Window scale shift (SYN only).
    pub window_scale: Option<u8>,
    /// Option bytes written verbatim instead of the fields above (a length that is a multiple
    /// of 4; nmap's OS probes order their options their own way). The fields above still tell
    /// the receiving stack what was offered.
    pub raw: Option<&'static [u8]>,
}

impl TcpOptions {
    /// Encoded length, padded to 32 bits.
    pub fn len(&self) -> usize {
        if let Some(raw) = self.raw {
            return raw.len();
        }
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        match (self.sack_permitted, self.timestamps.is_some()) {
            (true, true) => n += 12,  // SACK_PERM (2) + TS (10)
            (true, false) => n += 4,  // NOP NOP SACK_PERM
            (false, true) => n += 12, // NOP NOP TS
            (false, false) => {}
        }
        if self.window_scale.is_some() {
            n += 4; // NOP WS
        }
        n
    }

    /// Whether no option is present.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self, out: &mut Vec<u8>) {
        if let Some(raw) = self.raw {
            out.extend_from_slice(raw);
            return;
        }
        if let Some(mss) = self.mss {
            out.extend_from_slice(&[2, 4]);
            out.extend_from_slice(&mss.to_be_bytes());
        }
        match (self.sack_permitted, self.timestamps) {
            (true, Some((val, ecr))) => {
                out.extend_from_slice(&[4, 2, 8, 10]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr.to_be_bytes());
            }
            (true, None) => out.extend_from_slice(&[1, 1, 4, 2]),
            (false, Some((val, ecr))) => {
                out.extend_from_slice(&[1, 1, 8, 10]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr.to_be_bytes());
            }
            (false, None) => {}
        }
        if let Some(ws) = self.window_scale {
            out.extend_from_slice(&[1, 3, 3, ws]);
        }
    }
}

/// The TCP header fields of one segment.
#[derive(Clone, Copy, Debug)]
pub struct TcpFields {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: u32,
    /// Flags (see [`flags`]).
    pub flags: u8,
    /// Window field (already scaled down).
    pub window: u16,
    /// Options.
    pub options: TcpOptions,
}

fn ethernet(out: &mut Vec<u8>, src_mac: [u8; 6], dst_mac: [u8; 6]) {
    out.extend_from_slice(&dst_mac);
    out.extend_from_slice(&src_mac);
    out.extend_from_slice(&0x0800u16.to_be_bytes());
}

fn ipv4(out: &mut Vec<u8>, ip: &IpFields, proto: u8, payload_len: usize) -> usize {
    let start = out.len();
    let total = (IPV4_LEN + payload_len) as u16;
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&ip.id.to_be_bytes());
    out.extend_from_slice(&(if ip.df { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&[ip.ttl, proto, 0, 0]);
    out.extend_from_slice(&ip.src.octets());
    out.extend_from_slice(&ip.dst.octets());
    let sum = checksum(&out[start..start + IPV4_LEN], 0);
    out[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
    start
}

fn pseudo_header_sum(ip: &IpFields, proto: u8, len: usize) -> u32 {
    let s = ip.src.octets();
    let d = ip.dst.octets();
    u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(proto)
        + len as u32
}

/// The Internet checksum (RFC 1071) of `data` with `initial` folded in.
pub fn checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = u64::from(initial);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes an Ethernet + IPv4 + TCP frame into `out` (cleared first).
pub fn tcp_frame(
    out: &mut Vec<u8>,
    macs: ([u8; 6], [u8; 6]),
    ip: &IpFields,
    tcp: &TcpFields,
    payload: &[u8],
) {
    out.clear();
    ethernet(out, macs.0, macs.1);
    let opt_len = tcp.options.len();
    let seg_len = TCP_LEN + opt_len + payload.len();
    ipv4(out, ip, PROTO_TCP, seg_len);
    let start = out.len();
    out.extend_from_slice(&tcp.src_port.to_be_bytes());
    out.extend_from_slice(&tcp.dst_port.to_be_bytes());
    out.extend_from_slice(&tcp.seq.to_be_bytes());
    out.extend_from_slice(&tcp.ack.to_be_bytes());
    out.push((((TCP_LEN + opt_len) / 4) as u8) << 4);
    out.push(tcp.flags);
    out.extend_from_slice(&tcp.window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    tcp.options.write(out);
    out.extend_from_slice(payload);
    let sum = checksum(&out[start..], pseudo_header_sum(ip, PROTO_TCP, seg_len));
    out[start + 16..start + 18].copy_from_slice(&sum.to_be_bytes());
}

/// Writes an Ethernet + IPv4 + UDP frame into `out` (cleared first).
pub fn udp_frame(
    out: &mut Vec<u8>,
    macs: ([u8; 6], [u8; 6]),
    ip: &IpFields,
    ports: (u16, u16),
    payload: &[u8],
) {
    out.clear();
    ethernet(out, macs.0, macs.1);
    let len = UDP_LEN + payload.len();
    ipv4(out, ip, PROTO_UDP, len);
    let start = out.len();
    out.extend_from_slice(&ports.0.to_be_bytes());
    out.extend_from_slice(&ports.1.to_be_bytes());
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let mut sum = checksum(&out[start..], pseudo_header_sum(ip, PROTO_UDP, len));
    if sum == 0 {
        sum = 0xffff; // RFC 768: a computed zero is sent as all ones
    }
    out[start + 6..start + 8].copy_from_slice(&sum.to_be_bytes());
}

/// Writes an Ethernet + IPv4 + ICMP frame (`icmp` = type, code, 4 header bytes, then body).
pub fn icmp_frame(
    out: &mut Vec<u8>,
    macs: ([u8; 6], [u8; 6]),
    ip: &IpFields,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
) {
    out.clear();
    ethernet(out, macs.0, macs.1);
    ipv4(out, ip, PROTO_ICMP, 8 + body.len());
    let start = out.len();
    out.extend_from_slice(&[icmp_type, code, 0, 0]);
    out.extend_from_slice(&rest);
    out.extend_from_slice(body);
    let sum = checksum(&out[start..], 0);
    out[start + 2..start + 4].copy_from_slice(&sum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (one's complement 220d).
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0),
            0x220d
        );
    }

    #[test]
    fn tcp_frame_decodes_with_the_capture_layer() {
        let ip = IpFields {
            src: Ipv4Addr::new(192, 168, 0, 151),
            dst: Ipv4Addr::new(10, 16, 100, 73),
            id: 0x1234,
            ttl: 64,
            df: true,
        };
        let tcp = TcpFields {
            src_port: 40000,
            dst_port: 1883,
            seq: 1000,
            ack: 0,
            flags: flags::SYN,
            window: 64240,
            options: TcpOptions {
                mss: Some(1460),
                sack_permitted: true,
                timestamps: Some((1, 0)),
                window_scale: Some(7),
                raw: None,
            },
        };
        let mut out = Vec::new();
        tcp_frame(&mut out, ([2; 6], [4; 6]), &ip, &tcp, b"");
        assert_eq!(out.len(), 14 + 20 + 40);
        // The IPv4 header checksums to zero when the stored checksum is included.
        assert_eq!(checksum(&out[14..34], 0), 0);
        let frame = mqtt_ids_capture::Frame {
            number: 1,
            offset: 0,
            ts_ns: 0,
            interface: 0,
            link_type: mqtt_ids_capture::LinkType::ETHERNET,
            orig_len: out.len() as u32,
            data: &out,
        };
        let p = mqtt_ids_capture::decode(frame);
        assert!(p.error.is_none(), "{:?}", p.error);
        assert_eq!(p.transport.ports(), Some((40000, 1883)));
    }
}
