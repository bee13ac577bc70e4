//! Decoding a [`Frame`] into a zero-copy [`Packet`]: link layer (Ethernet with 802.1Q/802.1ad
//! tags, Linux cooked v1/v2, raw IP, BSD loopback), IPv4 (options, fragments), IPv6 (extension
//! headers), TCP (options, all nine flags), UDP, ICMP and ICMPv6.
//!
//! etherparse's lax slicer does the IP and transport layers: it parses as far as the bytes go
//! (snaplen-truncated packets keep their headers) and says where and why it stopped. The link
//! headers it lacks or rejects are stripped here: etherparse's own SLL parser refuses the
//! loopback (ARPHRD 772) cooked captures MQTTset uses, and it has no SLL2 or BSD loopback.
//! TCP and UDP checksums are never validated (captures with checksum offload carry wrong ones).

use std::fmt;
use std::net::IpAddr;

use etherparse::{
    err::packet::SliceError, EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice,
};

use crate::linktype::LinkType;
use crate::reader::Frame;

/// Linux cooked capture v1 header: packet type, ARPHRD, address length, 8-byte address,
/// protocol (an EtherType for the ARPHRD types that carry IP).
const SLL_HEADER_LEN: usize = 16;
const SLL_PROTOCOL_OFFSET: usize = 14;
/// Linux cooked capture v2 header: protocol first, then reserved, ifindex, ARPHRD, packet type,
/// address length and an 8-byte address.
const SLL2_HEADER_LEN: usize = 20;
const SLL2_PROTOCOL_OFFSET: usize = 0;
/// BSD loopback: a 4-byte address family.
const NULL_HEADER_LEN: usize = 4;
const AF_INET: u32 = 2;
/// AF_INET6 differs between BSDs: NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
const AF_INET6: [u32; 3] = [24, 28, 30];

/// The layer at which decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// The link-layer header (Ethernet, VLAN, cooked, loopback).
    Link,
    /// The IPv4/IPv6 header or its extension headers.
    Network,
    /// The TCP/UDP/ICMP header.
    Transport,
}

impl Layer {
    /// `link`, `network` or `transport`.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Network => "network",
            Layer::Transport => "transport",
        }
    }
}

/// Why a packet could not be decoded completely. Everything decoded before the fault is kept in
/// the [`Packet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DecodeError {
    /// Where decoding stopped.
    pub layer: Layer,
    /// What was wrong there, as a short stable phrase (used as a counter key).
    pub reason: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.layer.name(), self.reason)
    }
}

/// IP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpVersion {
    V4,
    V6,
}

/// The IP header fields later stages use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHeader {
    pub version: IpVersion,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// IPv4 total length; for IPv6, 40 + the payload length field.
    pub total_len: u32,
    /// Don't-fragment flag (IPv4).
    pub df: bool,
    /// More-fragments flag (IPv4, or the IPv6 fragment header's M flag).
    pub mf: bool,
    /// The reserved ("evil") bit of IPv4.
    pub rb: bool,
    /// IPv4 identification (0 for IPv6).
    pub id: u32,
    /// Fragment offset in 8-byte units.
    pub fragment_offset: u16,
    /// The transport protocol number after all extension headers.
    pub protocol: u8,
    /// The packet is a fragment: its transport header is not decoded (no reassembly).
    pub fragment: bool,
}

/// TCP flags as tshark's `tcp.flags` holds them: 3 reserved bits, then NS (now AE), CWR, ECE,
/// URG, ACK, PSH, RST, SYN, FIN.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const NS: u16 = 0x100;
    pub const RESERVED: u16 = 0xE00;

    /// Whether any bit of `mask` is set.
    pub fn has(self, mask: u16) -> bool {
        self.0 & mask != 0
    }
}

/// The transport header fields later stages use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// No transport layer (not IP, a fragment, or decoding stopped before it).
    None,
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        window: u16,
        /// TCP header length in bytes, options included.
        header_len: u8,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        /// The UDP length field.
        length: u16,
    },
    Icmpv4 {
        icmp_type: u8,
        code: u8,
    },
    Icmpv6 {
        icmp_type: u8,
        code: u8,
    },
    /// An IP payload of another protocol (IGMP, ESP, GRE, SCTP…), by protocol number.
    Other(u8),
}

impl Transport {
    /// Source and destination ports for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match *self {
            Transport::Tcp {
                src_port, dst_port, ..
            }
            | Transport::Udp {
                src_port, dst_port, ..
            } => Some((src_port, dst_port)),
            _ => None,
        }
    }
}

/// The network layer carried by the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Network {
    /// Nothing could be decoded (see [`Packet::error`]).
    None,
    Ipv4,
    Ipv6,
    Arp,
    /// Another EtherType (or loopback family), not decoded further.
    Other(u16),
}

/// A decoded packet: the frame plus its headers and a slice of its transport payload. Borrowed
/// from the reader's buffer; nothing is copied.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// The frame as read (number, timestamp, interface, link type, lengths, bytes).
    pub frame: Frame<'a>,
    pub network: Network,
    pub ip: Option<IpHeader>,
    pub transport: Transport,
    /// TCP/UDP payload; for other IP protocols, the IP payload; otherwise empty.
    pub payload: &'a [u8],
    /// The IP packet extends past the captured bytes (snaplen truncation).
    pub truncated: bool,
    /// Where and why decoding stopped early, if it did.
    pub error: Option<DecodeError>,
}

impl<'a> Packet<'a> {
    fn bare(frame: Frame<'a>) -> Self {
        Packet {
            frame,
            network: Network::None,
            ip: None,
            transport: Transport::None,
            payload: &[],
            truncated: false,
            error: None,
        }
    }

    fn undecoded(frame: Frame<'a>, layer: Layer, reason: &'static str) -> Self {
        Packet {
            error: Some(DecodeError { layer, reason }),
            ..Packet::bare(frame)
        }
    }

    /// Captured length.
    pub fn cap_len(&self) -> usize {
        self.frame.data.len()
    }
}

/// Decodes a frame. Never panics; what cannot be decoded is reported in [`Packet::error`].
pub fn decode(frame: Frame<'_>) -> Packet<'_> {
    let data = frame.data;
    let sliced = match frame.link_type {
        LinkType::ETHERNET => match LaxSlicedPacket::from_ethernet(data) {
            Ok(s) => s,
            Err(_) => return Packet::undecoded(frame, Layer::Link, "truncated Ethernet header"),
        },
        LinkType::LINUX_SLL => {
            let Some(proto) = be_u16(data, SLL_PROTOCOL_OFFSET) else {
                return Packet::undecoded(frame, Layer::Link, "truncated Linux cooked header");
            };
            LaxSlicedPacket::from_ether_type(EtherType(proto), &data[SLL_HEADER_LEN..])
        }
        LinkType::LINUX_SLL2 => {
            let (Some(proto), true) = (
                be_u16(data, SLL2_PROTOCOL_OFFSET),
                data.len() >= SLL2_HEADER_LEN,
            ) else {
                return Packet::undecoded(frame, Layer::Link, "truncated Linux cooked v2 header");
            };
            LaxSlicedPacket::from_ether_type(EtherType(proto), &data[SLL2_HEADER_LEN..])
        }
        LinkType::NULL | LinkType::LOOP => {
            if data.len() < NULL_HEADER_LEN {
                return Packet::undecoded(frame, Layer::Link, "truncated loopback header");
            }
            let raw = [data[0], data[1], data[2], data[3]];
            let family = if frame.link_type == LinkType::LOOP {
                u32::from_be_bytes(raw)
            } else {
                // NULL stores the family in the capturing host's byte order; a family never
                // uses the upper 16 bits, so a value there means the other order.
                let le = u32::from_le_bytes(raw);
                if le & 0xFFFF_0000 != 0 {
                    le.swap_bytes()
                } else {
                    le
                }
            };
            if family != AF_INET && !AF_INET6.contains(&family) {
                return Packet {
                    network: Network::Other(family as u16),
                    ..Packet::bare(frame)
                };
            }
            match LaxSlicedPacket::from_ip(&data[NULL_HEADER_LEN..]) {
                Ok(s) => s,
                Err(_) => return Packet::undecoded(frame, Layer::Network, "invalid IP header"),
            }
        }
        LinkType::RAW
        | LinkType::RAW_OPENBSD
        | LinkType::RAW_BSDOS
        | LinkType::IPV4
        | LinkType::IPV6 => match LaxSlicedPacket::from_ip(data) {
            Ok(s) => s,
            Err(_) => return Packet::undecoded(frame, Layer::Network, "invalid IP header"),
        },
        _ => return Packet::undecoded(frame, Layer::Link, "unsupported link type"),
    };
    from_sliced(frame, &sliced)
}

fn from_sliced<'a>(frame: Frame<'a>, s: &LaxSlicedPacket<'a>) -> Packet<'a> {
    let mut packet = Packet {
        error: s.stop_err.as_ref().map(|(e, _)| slice_error(e)),
        ..Packet::bare(frame)
    };
    match &s.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let raw = h.slice();
            let p = v4.payload();
            packet.network = Network::Ipv4;
            packet.ip = Some(IpHeader {
                version: IpVersion::V4,
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                ttl: h.ttl(),
                total_len: u32::from(h.total_len()),
                df: h.dont_fragment(),
                mf: h.more_fragments(),
                rb: raw[6] & 0x80 != 0,
                id: u32::from(h.identification()),
                fragment_offset: h.fragments_offset().value(),
                protocol: p.ip_number.0,
                fragment: p.fragmented,
            });
            packet.truncated = p.incomplete;
            packet.payload = p.payload;
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let p = v6.payload();
            packet.network = Network::Ipv6;
            packet.ip = Some(IpHeader {
                version: IpVersion::V6,
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                ttl: h.hop_limit(),
                total_len: 40 + u32::from(h.payload_length()),
                df: false,
                mf: false,
                rb: false,
                id: 0,
                fragment_offset: 0,
                protocol: p.ip_number.0,
                fragment: p.fragmented,
            });
            packet.truncated = p.incomplete;
            packet.payload = p.payload;
        }
        Some(LaxNetSlice::Arp(_)) => packet.network = Network::Arp,
        None => {
            if let Some(ether) = s.ether_payload() {
                packet.network = Network::Other(ether.ether_type.0);
            }
        }
    }
    match &s.transport {
        Some(TransportSlice::Tcp(t)) => {
            let raw = t.header_slice();
            packet.transport = Transport::Tcp {
                src_port: t.source_port(),
                dst_port: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                // Byte 12 holds the data offset, 3 reserved bits and NS; byte 13 the rest.
                flags: TcpFlags((u16::from(raw[12] & 0x0F) << 8) | u16::from(raw[13])),
                window: t.window_size(),
                header_len: raw.len() as u8,
            };
            packet.payload = t.payload();
        }
        Some(TransportSlice::Udp(u)) => {
            packet.transport = Transport::Udp {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                length: u.length(),
            };
            packet.payload = u.payload();
        }
        Some(TransportSlice::Icmpv4(i)) => {
            packet.transport = Transport::Icmpv4 {
                icmp_type: i.type_u8(),
                code: i.code_u8(),
            }
        }
        Some(TransportSlice::Icmpv6(i)) => {
            packet.transport = Transport::Icmpv6 {
                icmp_type: i.type_u8(),
                code: i.code_u8(),
            }
        }
        Some(TransportSlice::Igmp(_)) => packet.transport = Transport::Other(2),
        None => {
            if let Some(ip) = &packet.ip {
                // A fragment's transport header is not decoded (no IP reassembly).
                if packet.error.is_none() && !ip.fragment {
                    packet.transport = Transport::Other(ip.protocol);
                }
            }
        }
    }
    packet
}

fn slice_error(e: &SliceError) -> DecodeError {
    use etherparse::err::Layer as L;
    let layer_of = |l: L| match l {
        L::LinuxSllHeader
        | L::Ethernet2Header
        | L::EtherPayload
        | L::VlanHeader
        | L::MacsecHeader
        | L::MacsecPacket
        | L::Arp => Layer::Link,
        L::IpHeader
        | L::Ipv4Header
        | L::Ipv4Packet
        | L::IpAuthHeader
        | L::Ipv6Header
        | L::Ipv6Packet
        | L::Ipv6ExtHeader
        | L::Ipv6HopByHopHeader
        | L::Ipv6DestOptionsHeader
        | L::Ipv6RouteHeader
        | L::Ipv6FragHeader => Layer::Network,
        _ => Layer::Transport,
    };
    match e {
        SliceError::Len(l) => DecodeError {
            layer: layer_of(l.layer),
            reason: match l.layer {
                L::Ethernet2Header => "truncated Ethernet header",
                L::VlanHeader => "truncated VLAN tag",
                L::Ipv4Header | L::IpHeader => "truncated IPv4 header",
                L::Ipv6Header => "truncated IPv6 header",
                L::Ipv6ExtHeader
                | L::Ipv6HopByHopHeader
                | L::Ipv6DestOptionsHeader
                | L::Ipv6RouteHeader
                | L::Ipv6FragHeader => "truncated IPv6 extension header",
                L::IpAuthHeader => "truncated IP authentication header",
                L::TcpHeader => "truncated TCP header",
                L::UdpHeader => "truncated UDP header",
                L::Icmpv4 | L::Icmpv4Timestamp | L::Icmpv4TimestampReply => "truncated ICMP header",
                L::Icmpv6 => "truncated ICMPv6 header",
                L::Arp => "truncated ARP packet",
                _ => "truncated header",
            },
        },
        SliceError::LinuxSll(_) => DecodeError {
            layer: Layer::Link,
            reason: "invalid Linux cooked header",
        },
        SliceError::Macsec(_) => DecodeError {
            layer: Layer::Link,
            reason: "invalid MACsec header",
        },
        SliceError::Ip(_) | SliceError::Ipv4(_) => DecodeError {
            layer: Layer::Network,
            reason: "invalid IPv4 header",
        },
        SliceError::Ipv6(_) => DecodeError {
            layer: Layer::Network,
            reason: "invalid IPv6 header",
        },
        SliceError::Ipv4Exts(_) => DecodeError {
            layer: Layer::Network,
            reason: "invalid IP authentication header",
        },
        SliceError::Ipv6Exts(_) => DecodeError {
            layer: Layer::Network,
            reason: "invalid IPv6 extension header",
        },
        SliceError::Tcp(_) => DecodeError {
            layer: Layer::Transport,
            reason: "invalid TCP header",
        },
        #[allow(unreachable_patterns)]
        _ => DecodeError {
            layer: Layer::Transport,
            reason: "invalid header",
        },
    }
}

fn be_u16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn frame(link_type: LinkType, data: &[u8]) -> Frame<'_> {
        Frame {
            number: 1,
            offset: 0,
            ts_ns: 0,
            interface: 0,
            link_type,
            orig_len: data.len() as u32,
            data,
        }
    }

    /// IPv4 (20-byte header, or 24 with one option word) + TCP (20 bytes) + payload.
    fn ipv4_tcp(options: bool, flags12: u8, flags13: u8, payload: &[u8]) -> Vec<u8> {
        let ihl = if options { 6 } else { 5 };
        let total = ihl * 4 + 20 + payload.len();
        let mut v = vec![
            0x40 | ihl as u8,
            0x00, // version 4, IHL; DSCP/ECN
            (total >> 8) as u8,
            total as u8, // total length
            0x12,
            0x34, // identification
            0x40,
            0x00, // flags: DF; fragment offset 0
            64,
            6, // TTL 64, protocol TCP
            0x00,
            0x00, // header checksum (never checked)
            10,
            16,
            100,
            1, // source 10.16.100.1
            10,
            16,
            100,
            73, // destination 10.16.100.73
        ];
        if options {
            v.extend_from_slice(&[0x01, 0x01, 0x01, 0x00]); // NOP NOP NOP EOL
        }
        v.extend_from_slice(&[
            0xC3,
            0x50, // source port 50000
            0x07,
            0x5B, // destination port 1883
            0,
            0,
            0,
            1, // sequence number
            0,
            0,
            0,
            2, // acknowledgment number
            0x50 | flags12,
            flags13, // data offset 5, reserved + NS; CWR..FIN
            0x01,
            0x00, // window 256
            0x00,
            0x00,
            0x00,
            0x00, // checksum (offloaded: wrong, ignored), urgent pointer
        ]);
        v.extend_from_slice(payload);
        v
    }

    fn ipv6_udp(hop_by_hop: bool, payload: &[u8]) -> Vec<u8> {
        let ext = if hop_by_hop { 8 } else { 0 };
        let plen = ext + 8 + payload.len();
        let mut v = vec![
            0x60,
            0,
            0,
            0, // version 6, traffic class, flow label
            (plen >> 8) as u8,
            plen as u8, // payload length
            if hop_by_hop { 0 } else { 17 },
            255, // next header, hop limit
        ];
        v.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        if hop_by_hop {
            v.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]); // next UDP, len 0, PadN
        }
        let ulen = 8 + payload.len();
        v.extend_from_slice(&[0x13, 0x88, 0x07, 0x5B, (ulen >> 8) as u8, ulen as u8, 0, 0]);
        v.extend_from_slice(payload);
        v
    }

    fn ethernet(ether_type: u16, vlans: &[u16], ip: &[u8]) -> Vec<u8> {
        let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]; // destination, source MAC
        for (i, _) in vlans.iter().enumerate() {
            // 802.1ad outer tag, then 802.1Q tags
            let tpid: u16 = if i == 0 && vlans.len() > 1 {
                0x88A8
            } else {
                0x8100
            };
            v.extend_from_slice(&tpid.to_be_bytes());
            v.extend_from_slice(&(vlans[i] & 0x0FFF).to_be_bytes());
        }
        v.extend_from_slice(&ether_type.to_be_bytes());
        v.extend_from_slice(ip);
        v
    }

    fn check_tcp(p: &Packet<'_>, payload: &[u8]) {
        assert_eq!(p.error, None);
        assert_eq!(p.network, Network::Ipv4);
        let ip = p.ip.unwrap();
        assert_eq!(ip.src, IpAddr::V4(Ipv4Addr::new(10, 16, 100, 1)));
        assert_eq!(ip.dst, IpAddr::V4(Ipv4Addr::new(10, 16, 100, 73)));
        assert_eq!(
            (ip.ttl, ip.df, ip.mf, ip.rb, ip.id),
            (64, true, false, false, 0x1234)
        );
        match p.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                window,
                ..
            } => assert_eq!(
                (src_port, dst_port, seq, ack, window),
                (50000, 1883, 1, 2, 256)
            ),
            t => panic!("{t:?}"),
        }
        assert_eq!(p.payload, payload);
    }

    #[test]
    fn every_link_type() {
        let ip = ipv4_tcp(false, 0, 0x18, b"\x30\x02\x00\x00");
        let mut sll = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]; // loopback ARPHRD 772
        sll.extend_from_slice(&0x0800u16.to_be_bytes());
        sll.extend_from_slice(&ip);
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6];
        sll2.extend_from_slice(&[0; 8]);
        sll2.extend_from_slice(&ip);
        let null_le = [&2u32.to_le_bytes()[..], &ip].concat();
        let null_be = [&2u32.to_be_bytes()[..], &ip].concat();
        let cases: Vec<(LinkType, Vec<u8>)> = vec![
            (LinkType::ETHERNET, ethernet(0x0800, &[], &ip)),
            (LinkType::ETHERNET, ethernet(0x0800, &[100], &ip)),
            (LinkType::ETHERNET, ethernet(0x0800, &[100, 200], &ip)),
            (LinkType::LINUX_SLL, sll),
            (LinkType::LINUX_SLL2, sll2),
            (LinkType::RAW, ip.clone()),
            (LinkType::RAW_OPENBSD, ip.clone()),
            (LinkType::RAW_BSDOS, ip.clone()),
            (LinkType::IPV4, ip.clone()),
            (LinkType::NULL, null_le),
            (LinkType::NULL, null_be.clone()),
            (LinkType::LOOP, null_be),
        ];
        for (lt, data) in &cases {
            let p = decode(frame(*lt, data));
            check_tcp(&p, b"\x30\x02\x00\x00");
        }
        let v6 = ipv6_udp(false, b"x");
        for (lt, data) in [
            (LinkType::IPV6, v6.clone()),
            (LinkType::RAW, v6.clone()),
            (LinkType::NULL, [&30u32.to_le_bytes()[..], &v6].concat()),
            (LinkType::ETHERNET, ethernet(0x86DD, &[], &v6)),
        ] {
            let p = decode(frame(lt, &data));
            assert_eq!(p.network, Network::Ipv6, "{lt}");
            assert_eq!(p.transport.ports(), Some((5000, 1883)), "{lt}");
            assert_eq!(p.ip.unwrap().ttl, 255);
            assert_eq!(p.ip.unwrap().total_len, 40 + 9);
        }
    }

    #[test]
    fn ipv6_extension_headers_are_walked() {
        let data = ipv6_udp(true, b"abc");
        let p = decode(frame(LinkType::IPV6, &data));
        assert_eq!(p.error, None);
        assert_eq!(p.ip.unwrap().protocol, 17);
        assert_eq!(p.payload, b"abc");
    }

    #[test]
    fn ipv4_options_and_all_nine_tcp_flags() {
        // NS (byte 12 bit 0) + all of byte 13; reserved bits set too.
        let data = ipv4_tcp(true, 0x0F, 0xFF, b"");
        let p = decode(frame(LinkType::RAW, &data));
        check_tcp(&p, b"");
        let Transport::Tcp { flags, .. } = p.transport else {
            panic!()
        };
        assert_eq!(flags.0, 0xFFF);
        for f in [
            TcpFlags::FIN,
            TcpFlags::SYN,
            TcpFlags::RST,
            TcpFlags::PSH,
            TcpFlags::ACK,
            TcpFlags::URG,
            TcpFlags::ECE,
            TcpFlags::CWR,
            TcpFlags::NS,
            TcpFlags::RESERVED,
        ] {
            assert!(flags.has(f));
        }
        let data = ipv4_tcp(false, 0, 0x12, b"");
        let p = decode(frame(LinkType::RAW, &data));
        let Transport::Tcp { flags, .. } = p.transport else {
            panic!()
        };
        assert_eq!(flags.0, 0x012); // SYN+ACK, as tshark's tcp.flags 0x0012
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        // A 54-byte SYN padded to the 60-byte Ethernet minimum.
        let mut data = ethernet(0x0800, &[], &ipv4_tcp(false, 0, 0x02, b""));
        data.extend_from_slice(&[0; 6]);
        let p = decode(frame(LinkType::ETHERNET, &data));
        assert_eq!(p.payload, b"");
    }

    #[test]
    fn fragments_are_flagged_not_decoded() {
        let mut ip = ipv4_tcp(false, 0, 0x18, b"data");
        ip[6] = 0x20; // MF
        let p = decode(frame(LinkType::RAW, &ip));
        let h = p.ip.unwrap();
        assert!(h.fragment && h.mf);
        assert_eq!(p.transport, Transport::None);
        assert_eq!(p.error, None);
        ip[6] = 0x80; // reserved bit, no fragmentation
        let p = decode(frame(LinkType::RAW, &ip));
        assert!(p.ip.unwrap().rb);
    }

    #[test]
    fn snaplen_truncation_keeps_headers() {
        let ip = ipv4_tcp(false, 0, 0x18, &[0x30; 100]);
        let p = decode(frame(LinkType::RAW, &ip[..50]));
        assert!(p.truncated);
        assert!(matches!(p.transport, Transport::Tcp { .. }));
        assert_eq!(p.payload.len(), 10);
        assert_eq!(p.ip.unwrap().total_len, 140);
    }

    #[test]
    fn icmp_and_other_protocols() {
        let mut ip = ipv4_tcp(false, 0, 0, b"");
        ip[9] = 1; // ICMP
        ip[20] = 3; // destination unreachable
        ip[21] = 3; // port unreachable
        let p = decode(frame(LinkType::RAW, &ip));
        assert_eq!(
            p.transport,
            Transport::Icmpv4 {
                icmp_type: 3,
                code: 3
            }
        );
        ip[9] = 47; // GRE
        let p = decode(frame(LinkType::RAW, &ip));
        assert_eq!(p.transport, Transport::Other(47));
        let mut v6 = ipv6_udp(false, b"");
        v6[6] = 58; // ICMPv6
        v6[40] = 128; // echo request
        v6[41] = 0; // code 0
        let p = decode(frame(LinkType::IPV6, &v6));
        assert_eq!(
            p.transport,
            Transport::Icmpv6 {
                icmp_type: 128,
                code: 0
            }
        );
        let arp = ethernet(
            0x0806,
            &[],
            &[
                0, 1, 8, 0, 6, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        );
        assert_eq!(
            decode(frame(LinkType::ETHERNET, &arp)).network,
            Network::Arp
        );
        let lldp = ethernet(0x88CC, &[], &[0; 10]);
        let p = decode(frame(LinkType::ETHERNET, &lldp));
        assert_eq!((p.network, p.error), (Network::Other(0x88CC), None));
    }

    /// Every prefix of every kind of frame decodes without panicking, and a cut inside a
    /// header is reported at the right layer.
    #[test]
    fn every_prefix_decodes_without_panic() {
        let ip = ipv4_tcp(true, 0, 0x18, b"\x30\x02\x00\x00");
        let frames = [
            (LinkType::ETHERNET, ethernet(0x0800, &[1, 2], &ip)),
            (
                LinkType::LINUX_SLL2,
                [&[0x08, 0x00][..], &[0; 18], &ip].concat(),
            ),
            (LinkType::NULL, [&2u32.to_le_bytes()[..], &ip].concat()),
            (LinkType::RAW, ipv6_udp(true, b"abc")),
        ];
        for (lt, data) in &frames {
            for len in 0..data.len() {
                let p = decode(frame(*lt, &data[..len]));
                if let Some(e) = p.error {
                    assert!(!e.reason.is_empty());
                }
            }
        }
        let p = decode(frame(LinkType::ETHERNET, &frames[0].1[..10]));
        assert_eq!(p.error.unwrap().layer, Layer::Link);
        let eth = &frames[0].1;
        let p = decode(frame(LinkType::ETHERNET, &eth[..22 + 10]));
        assert_eq!(p.error.unwrap().layer, Layer::Network);
        let p = decode(frame(LinkType::ETHERNET, &eth[..22 + 24 + 10]));
        assert_eq!(
            p.error.unwrap().to_string(),
            "transport: truncated TCP header"
        );
    }

    #[test]
    fn unsupported_link_type_is_named() {
        let p = decode(frame(LinkType(147), b"anything"));
        assert_eq!(p.error.unwrap().to_string(), "link: unsupported link type");
    }
}
