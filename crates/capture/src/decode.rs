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
                if packet.error.is_none() {
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
