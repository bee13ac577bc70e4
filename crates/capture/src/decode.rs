//! Decoding a [`Frame`] into a zero-copy [`Packet`]: link layer (Ethernet with 802.1Q/802.1ad
//! tags, Linux cooked v1/v2, raw IP, BSD loopback), IPv4 (options, fragments), IPv6 (extension
//! headers), TCP (options, all nine flags), UDP, ICMP and ICMPv6.
//!
//! Decoding is lax like etherparse's `LaxSlicedPacket`: it goes as far as the bytes go
//! (snaplen-truncated packets keep their headers) and says at which layer and why it stopped.
//! It is written here rather than taken from etherparse because, in one run of
//! `cargo bench -p mqtt-ids-capture --bench read` (docs/performance.md), read + etherparse ran at
//! 9.3 M packets/s against 17.2 M/s for read + this decoder (the decode stage alone 3.1x slower);
//! etherparse's SLL parser also refuses the loopback (ARPHRD 772) cooked captures MQTTset uses,
//! and it has no SLL2 or BSD loopback. etherparse remains the reference in a differential test
//! over every real frame.
//! TCP and UDP checksums are never validated (captures with checksum offload carry wrong ones).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

    /// Captured length.
    pub fn cap_len(&self) -> usize {
        self.frame.data.len()
    }
}

/// Ethernet: destination and source MAC, then the EtherType.
const ETHERNET_HEADER_LEN: usize = 14;
const ETHERTYPE_OFFSET: usize = 12;
/// An 802.1Q / 802.1ad tag: TCI, then the inner EtherType.
const VLAN_TAG_LEN: usize = 4;
/// More stacked tags than this is not traffic, it is an attack on the decoder.
const MAX_VLAN_TAGS: usize = 8;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88A8, 0x9100];

const IPV4_MIN_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
/// Extension headers walked before giving up (a chain longer than this is hostile).
const MAX_IPV6_EXTENSIONS: usize = 16;
const TCP_MIN_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;
const ICMP_HEADER_LEN: usize = 8;

const PROTO_ICMP: u8 = 1;
const PROTO_IGMP: u8 = 2;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;

fn fail<'a>(mut p: Packet<'a>, layer: Layer, reason: &'static str) -> Packet<'a> {
    p.error = Some(DecodeError { layer, reason });
    p
}

/// Decodes a frame. Never panics; what cannot be decoded is reported in [`Packet::error`].
///
/// Inlined into the caller, which gets the usual frame (IPv4 + TCP, not a fragment, behind an
/// Ethernet or Linux cooked header) from [`ipv4_tcp_fast`] and the field reads below; every
/// other frame takes [`decode_general`], out of line. decode was 216 M instructions on the 1M
/// bench file (215 a packet, 61 of them copies of the ~180-byte `Packet`), now ~113 M.
#[inline(always)]
pub fn decode(frame: Frame<'_>) -> Packet<'_> {
    let Some(Ipv4Tcp {
        ip: h,
        tcp: t,
        tcp_header_len,
        payload,
        truncated,
    }) = ipv4_tcp_fast(frame)
    else {
        return decode_general(frame);
    };
    let total_len = u16::from_be_bytes([h[2], h[3]]);
    let flags_frag = u16::from_be_bytes([h[6], h[7]]);
    Packet {
        frame,
        network: Network::Ipv4,
        ip: Some(IpHeader {
            version: IpVersion::V4,
            src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
            dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
            ttl: h[8],
            total_len: u32::from(total_len),
            df: flags_frag & 0x4000 != 0,
            mf: false,
            rb: flags_frag & 0x8000 != 0,
            id: u32::from(u16::from_be_bytes([h[4], h[5]])),
            fragment_offset: 0,
            protocol: PROTO_TCP,
            fragment: false,
        }),
        transport: Transport::Tcp {
            src_port: u16::from_be_bytes([t[0], t[1]]),
            dst_port: u16::from_be_bytes([t[2], t[3]]),
            seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
            ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
            flags: TcpFlags((u16::from(t[12] & 0x0F) << 8) | u16::from(t[13])),
            window: u16::from_be_bytes([t[14], t[15]]),
            header_len: tcp_header_len,
        },
        payload,
        truncated,
        error: None,
    }
}

/// What [`ipv4_tcp_fast`] found: the IPv4 and TCP headers' fixed parts, the TCP header length,
/// the TCP payload, and whether the IP packet goes past the capture.
struct Ipv4Tcp<'a> {
    ip: &'a [u8; IPV4_MIN_HEADER_LEN],
    tcp: &'a [u8; TCP_MIN_HEADER_LEN],
    tcp_header_len: u8,
    payload: &'a [u8],
    truncated: bool,
}

/// The checks of [`decode_general`] for the usual frame: Ethernet (no VLAN tag), Linux cooked
/// v1 or v2 carrying IPv4, a valid IPv4 header that is not a fragment, and a whole TCP header.
/// `None` for anything else (nothing is reported: the general path then decodes the frame and
/// says what was wrong). It reads the same fields under the same checks as the general path, so
/// the two agree on every frame it accepts (`tests::fast_path_agrees_with_the_general_path*`).
#[inline(always)]
fn ipv4_tcp_fast(frame: Frame<'_>) -> Option<Ipv4Tcp<'_>> {
    let data = frame.data;
    let net = match frame.link_type {
        LinkType::LINUX_SLL if be_u16(data, SLL_PROTOCOL_OFFSET)? == ETHERTYPE_IPV4 => {
            data.get(SLL_HEADER_LEN..)?
        }
        LinkType::ETHERNET if be_u16(data, ETHERTYPE_OFFSET)? == ETHERTYPE_IPV4 => {
            data.get(ETHERNET_HEADER_LEN..)?
        }
        LinkType::LINUX_SLL2 if be_u16(data, SLL2_PROTOCOL_OFFSET)? == ETHERTYPE_IPV4 => {
            data.get(SLL2_HEADER_LEN..)?
        }
        _ => return None,
    };
    let h: &[u8; IPV4_MIN_HEADER_LEN] = net.get(..IPV4_MIN_HEADER_LEN)?.try_into().ok()?;
    let header_len = usize::from(h[0] & 0x0F) * 4;
    let total_len = u16::from_be_bytes([h[2], h[3]]);
    let flags_frag = u16::from_be_bytes([h[6], h[7]]);
    // Version 4, no fragment (MF clear, offset 0), TCP, header length at least 20 and within the
    // capture, total length 0 (to the end) or at least the header length.
    if h[0] >> 4 != 4
        || flags_frag & 0x3FFF != 0
        || h[9] != PROTO_TCP
        || header_len < IPV4_MIN_HEADER_LEN
        || net.len() < header_len
        || (total_len != 0 && usize::from(total_len) < header_len)
    {
        return None;
    }
    let end = match usize::from(total_len) {
        0 => net.len(),
        n => n.min(net.len()),
    };
    let tcp = net.get(header_len..end)?;
    let t: &[u8; TCP_MIN_HEADER_LEN] = tcp.get(..TCP_MIN_HEADER_LEN)?.try_into().ok()?;
    let tcp_header_len = usize::from(t[12] >> 4) * 4;
    if tcp_header_len < TCP_MIN_HEADER_LEN {
        return None;
    }
    Some(Ipv4Tcp {
        ip: h,
        tcp: t,
        tcp_header_len: tcp_header_len as u8,
        payload: tcp.get(tcp_header_len..)?,
        truncated: usize::from(total_len) > net.len(),
    })
}

/// Decodes any frame (see [`decode`]).
#[inline(never)]
fn decode_general(frame: Frame<'_>) -> Packet<'_> {
    let data = frame.data;
    let mut packet = Packet::bare(frame);
    let (ether_type, net) = match frame.link_type {
        LinkType::ETHERNET => {
            let Some(mut ether_type) = be_u16(data, ETHERTYPE_OFFSET) else {
                return fail(packet, Layer::Link, "truncated Ethernet header");
            };
            let mut at = ETHERNET_HEADER_LEN;
            let mut tags = 0;
            while ETHERTYPE_VLAN.contains(&ether_type) {
                tags += 1;
                if tags > MAX_VLAN_TAGS {
                    return fail(packet, Layer::Link, "too many VLAN tags");
                }
                let Some(inner) = be_u16(data, at + 2) else {
                    return fail(packet, Layer::Link, "truncated VLAN tag");
                };
                ether_type = inner;
                at += VLAN_TAG_LEN;
            }
            (ether_type, &data[at..])
        }
        LinkType::LINUX_SLL => match be_u16(data, SLL_PROTOCOL_OFFSET) {
            Some(proto) => (proto, &data[SLL_HEADER_LEN..]),
            None => return fail(packet, Layer::Link, "truncated Linux cooked header"),
        },
        LinkType::LINUX_SLL2 => match (
            be_u16(data, SLL2_PROTOCOL_OFFSET),
            data.get(SLL2_HEADER_LEN..),
        ) {
            (Some(proto), Some(net)) => (proto, net),
            _ => return fail(packet, Layer::Link, "truncated Linux cooked v2 header"),
        },
        LinkType::NULL | LinkType::LOOP => {
            let Some(raw) = data.get(..NULL_HEADER_LEN) else {
                return fail(packet, Layer::Link, "truncated loopback header");
            };
            let raw = [raw[0], raw[1], raw[2], raw[3]];
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
            let net = &data[NULL_HEADER_LEN..];
            if family == AF_INET {
                (ETHERTYPE_IPV4, net)
            } else if AF_INET6.contains(&family) {
                (ETHERTYPE_IPV6, net)
            } else {
                packet.network = Network::Other(family as u16);
                return packet;
            }
        }
        LinkType::RAW | LinkType::RAW_OPENBSD | LinkType::RAW_BSDOS => match data.first() {
            Some(b) if b >> 4 == 4 => (ETHERTYPE_IPV4, data),
            Some(b) if b >> 4 == 6 => (ETHERTYPE_IPV6, data),
            Some(_) => return fail(packet, Layer::Network, "invalid IP version"),
            None => return fail(packet, Layer::Network, "truncated IP header"),
        },
        LinkType::IPV4 => (ETHERTYPE_IPV4, data),
        LinkType::IPV6 => (ETHERTYPE_IPV6, data),
        _ => return fail(packet, Layer::Link, "unsupported link type"),
    };
    let (protocol, ip_payload) = match ether_type {
        ETHERTYPE_IPV4 => match ipv4(net, &mut packet) {
            Ok(x) => x,
            Err(reason) => return fail(packet, Layer::Network, reason),
        },
        ETHERTYPE_IPV6 => match ipv6(net, &mut packet) {
            Ok(x) => x,
            Err(reason) => return fail(packet, Layer::Network, reason),
        },
        ETHERTYPE_ARP => {
            packet.network = Network::Arp;
            return packet;
        }
        other => {
            packet.network = Network::Other(other);
            return packet;
        }
    };
    packet.payload = ip_payload;
    if packet.ip.is_some_and(|ip| ip.fragment) {
        // A fragment's transport header is not decoded (no IP reassembly).
        return packet;
    }
    if let Err(reason) = transport(protocol, ip_payload, &mut packet) {
        return fail(packet, Layer::Transport, reason);
    }
    packet
}

/// IPv4 header → (protocol, payload). The payload ends at the total length, so Ethernet
/// padding is not payload; a total length of 0 (TCP segmentation offload) means "to the end of
/// the capture", as Wireshark reads it.
fn ipv4<'a>(b: &'a [u8], packet: &mut Packet<'a>) -> Result<(u8, &'a [u8]), &'static str> {
    let Some(h) = b.get(..IPV4_MIN_HEADER_LEN) else {
        return Err("truncated IPv4 header");
    };
    if h[0] >> 4 != 4 {
        return Err("invalid IPv4 header: version is not 4");
    }
    let header_len = usize::from(h[0] & 0x0F) * 4;
    if header_len < IPV4_MIN_HEADER_LEN {
        return Err("invalid IPv4 header: header length below 20");
    }
    if b.len() < header_len {
        return Err("truncated IPv4 header");
    }
    let total_len = u16::from_be_bytes([h[2], h[3]]);
    let end = match usize::from(total_len) {
        0 => b.len(),
        n if n < header_len => return Err("invalid IPv4 header: total length below header length"),
        n => n.min(b.len()),
    };
    packet.truncated = usize::from(total_len) > b.len();
    let flags_frag = u16::from_be_bytes([h[6], h[7]]);
    let fragment_offset = flags_frag & 0x1FFF;
    let mf = flags_frag & 0x2000 != 0;
    packet.network = Network::Ipv4;
    packet.ip = Some(IpHeader {
        version: IpVersion::V4,
        src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
        dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
        ttl: h[8],
        total_len: u32::from(total_len),
        df: flags_frag & 0x4000 != 0,
        mf,
        rb: flags_frag & 0x8000 != 0,
        id: u32::from(u16::from_be_bytes([h[4], h[5]])),
        fragment_offset,
        protocol: h[9],
        fragment: mf || fragment_offset != 0,
    });
    Ok((h[9], &b[header_len..end]))
}

/// IPv6 header and extension headers → (protocol, payload).
fn ipv6<'a>(b: &'a [u8], packet: &mut Packet<'a>) -> Result<(u8, &'a [u8]), &'static str> {
    let Some(h) = b.get(..IPV6_HEADER_LEN) else {
        return Err("truncated IPv6 header");
    };
    if h[0] >> 4 != 6 {
        return Err("invalid IPv6 header: version is not 6");
    }
    let payload_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    // A payload length of 0 is a jumbogram (or offload): read to the end of the capture.
    let end = if payload_len == 0 {
        b.len()
    } else {
        (IPV6_HEADER_LEN + payload_len).min(b.len())
    };
    packet.truncated = IPV6_HEADER_LEN + payload_len > b.len();
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let mut ip = IpHeader {
        version: IpVersion::V6,
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        ttl: h[7],
        total_len: (IPV6_HEADER_LEN + payload_len) as u32,
        df: false,
        mf: false,
        rb: false,
        id: 0,
        fragment_offset: 0,
        protocol: h[6],
        fragment: false,
    };
    packet.network = Network::Ipv6;
    let mut next = h[6];
    let mut rest = &b[IPV6_HEADER_LEN..end];
    let mut walked = 0;
    loop {
        let len = match next {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6: (len + 1) * 8.
            0 | 43 | 60 | 135 | 139 | 140 => match rest.get(1) {
                Some(&l) => (usize::from(l) + 1) * 8,
                None => {
                    packet.ip = Some(ip);
                    return Err("truncated IPv6 extension header");
                }
            },
            44 => {
                // Fragment header: offset and M flag; a fragment's payload is not decoded.
                let Some(f) = rest.get(..8) else {
                    packet.ip = Some(ip);
                    return Err("truncated IPv6 extension header");
                };
                let off_m = u16::from_be_bytes([f[2], f[3]]);
                ip.fragment_offset = off_m >> 3;
                ip.mf = off_m & 1 != 0;
                ip.fragment = ip.mf || ip.fragment_offset != 0;
                ip.id = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
                8
            }
            // Authentication header: (len + 2) * 4.
            51 => match rest.get(1) {
                Some(&l) => (usize::from(l) + 2) * 4,
                None => {
                    packet.ip = Some(ip);
                    return Err("truncated IP authentication header");
                }
            },
            _ => break,
        };
        walked += 1;
        if walked > MAX_IPV6_EXTENSIONS {
            packet.ip = Some(ip);
            return Err("too many IPv6 extension headers");
        }
        let Some(after) = rest.get(len..) else {
            packet.ip = Some(ip);
            return Err("truncated IPv6 extension header");
        };
        next = rest[0];
        rest = after;
    }
    ip.protocol = next;
    packet.ip = Some(ip);
    Ok((next, rest))
}

/// Transport header → [`Packet::transport`] and [`Packet::payload`].
fn transport<'a>(protocol: u8, b: &'a [u8], packet: &mut Packet<'a>) -> Result<(), &'static str> {
    match protocol {
        PROTO_TCP => {
            let Some(h) = b.get(..TCP_MIN_HEADER_LEN) else {
                return Err("truncated TCP header");
            };
            let header_len = usize::from(h[12] >> 4) * 4;
            if header_len < TCP_MIN_HEADER_LEN {
                return Err("invalid TCP header: data offset below 5");
            }
            let Some(payload) = b.get(header_len..) else {
                return Err("truncated TCP header");
            };
            packet.transport = Transport::Tcp {
                src_port: u16::from_be_bytes([h[0], h[1]]),
                dst_port: u16::from_be_bytes([h[2], h[3]]),
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                // Byte 12: data offset, 3 reserved bits, NS; byte 13: CWR .. FIN.
                flags: TcpFlags((u16::from(h[12] & 0x0F) << 8) | u16::from(h[13])),
                window: u16::from_be_bytes([h[14], h[15]]),
                header_len: header_len as u8,
            };
            packet.payload = payload;
        }
        PROTO_UDP => {
            let Some(h) = b.get(..UDP_HEADER_LEN) else {
                return Err("truncated UDP header");
            };
            let length = u16::from_be_bytes([h[4], h[5]]);
            // The UDP length bounds the payload when it is sane; the IP length already does.
            let end = match usize::from(length) {
                n if n >= UDP_HEADER_LEN && n <= b.len() => n,
                _ => b.len(),
            };
            packet.transport = Transport::Udp {
                src_port: u16::from_be_bytes([h[0], h[1]]),
                dst_port: u16::from_be_bytes([h[2], h[3]]),
                length,
            };
            packet.payload = &b[UDP_HEADER_LEN..end];
        }
        PROTO_ICMP | PROTO_ICMPV6 => {
            let Some(h) = b.get(..ICMP_HEADER_LEN) else {
                return Err(if protocol == PROTO_ICMP {
                    "truncated ICMP header"
                } else {
                    "truncated ICMPv6 header"
                });
            };
            let (icmp_type, code) = (h[0], h[1]);
            packet.transport = if protocol == PROTO_ICMP {
                Transport::Icmpv4 { icmp_type, code }
            } else {
                Transport::Icmpv6 { icmp_type, code }
            };
        }
        PROTO_IGMP => packet.transport = Transport::Other(PROTO_IGMP),
        other => packet.transport = Transport::Other(other),
    }
    Ok(())
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

    /// `decode` (its fast path) against the general path on `frame`; whether the fast path
    /// took the frame.
    fn fast_agrees(frame: Frame<'_>) -> bool {
        let general = format!("{:?}", decode_general(frame));
        assert_eq!(
            format!("{:?}", decode(frame)),
            general,
            "{:?} frame {:02x?}",
            frame.link_type,
            frame.data
        );
        ipv4_tcp_fast(frame).is_some()
    }

    #[test]
    fn fast_path_agrees_with_the_general_path_on_hostile_frames() {
        let mut ips = vec![
            ipv4_tcp(false, 0x00, 0x18, b"\x30\x05\x00\x01tabc"),
            ipv4_tcp(true, 0x0F, 0xFF, b""),
        ];
        // Total length 0 (offload: to the end of the capture), and one past the capture.
        let mut zero = ipv4_tcp(false, 0x01, 0x02, b"xyz");
        zero[2..4].copy_from_slice(&[0, 0]);
        ips.push(zero);
        let mut long = ipv4_tcp(false, 0x00, 0x10, b"xyz");
        long[3] += 9;
        ips.push(long);
        // TCP options (data offset 6).
        let mut opts = ipv4_tcp(false, 0x00, 0x10, b"\x01\x01\x01\x00data");
        opts[20 + 12] = 0x60;
        ips.push(opts);
        let mut frames = Vec::new();
        for ip in &ips {
            let mut eth = vec![0u8; 12];
            eth.extend_from_slice(&[0x08, 0x00]);
            frames.push((LinkType::ETHERNET, [&eth[..], ip].concat()));
            let mut vlan = vec![0u8; 12];
            vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
            frames.push((LinkType::ETHERNET, [&vlan[..], ip].concat()));
            let mut sll = vec![0u8; 14];
            sll[2..4].copy_from_slice(&772u16.to_be_bytes());
            sll.extend_from_slice(&[0x08, 0x00]);
            frames.push((LinkType::LINUX_SLL, [&sll[..], ip].concat()));
            let mut sll2 = vec![0x08, 0x00];
            sll2.extend_from_slice(&[0u8; 18]);
            frames.push((LinkType::LINUX_SLL2, [&sll2[..], ip].concat()));
            frames.push((LinkType::RAW, ip.clone()));
        }
        let (mut taken, mut compared) = (0u64, 0u64);
        let mut check = |lt: LinkType, data: &[u8]| {
            compared += 1;
            taken += u64::from(fast_agrees(frame(lt, data)));
        };
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (lt, data) in &frames {
            // Every truncation.
            for len in 0..=data.len() {
                check(*lt, &data[..len]);
            }
            // Every byte set to values that cross each check (versions, lengths, flags,
            // protocol numbers, EtherTypes).
            for at in 0..data.len() {
                for v in [
                    0x00, 0xFF, 0x01, 0x04, 0x06, 0x11, 0x20, 0x40, 0x45, 0x4F, 0x50, 0x80,
                ]
                .into_iter()
                .chain([data[at] ^ 0x01, data[at] ^ 0x10, data[at] ^ 0x80])
                {
                    let mut d = data.clone();
                    d[at] = v;
                    check(*lt, &d);
                }
            }
            // Random multi-byte damage, sometimes truncated.
            for _ in 0..2000 {
                let mut d = data.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() % d.len() as u64) as usize;
                    d[at] = next() as u8;
                }
                if next() % 4 == 0 {
                    d.truncate((next() % d.len() as u64) as usize);
                }
                check(*lt, &d);
            }
        }
        // The fast path must have taken a good share (else this compares nothing) and left
        // the rest to the general path.
        assert!(
            taken > 20_000 && compared - taken > 20_000,
            "{taken} of {compared}"
        );
    }

    #[test]
    fn fast_path_agrees_with_the_general_path_on_the_shared_captures() {
        use std::path::Path;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
        if !root.is_dir() {
            assert!(
                std::env::var_os("CI").is_none(),
                "shared data missing in CI"
            );
            return;
        }
        let list = include_str!("../tests/reference/expected.tsv");
        let (mut frames, mut taken) = (0u64, 0u64);
        for line in list.lines().filter(|l| !l.starts_with('#')) {
            let path = root.join(line.split('\t').next().unwrap());
            let mut r = crate::open(path.to_str().unwrap(), Default::default()).unwrap();
            while let Some(f) = r.next_frame().unwrap() {
                frames += 1;
                taken += u64::from(fast_agrees(f));
            }
        }
        assert!(
            taken > frames / 2,
            "fast path took {taken} of {frames} frames"
        );
    }

    #[test]
    fn unsupported_link_type_is_named() {
        let p = decode(frame(LinkType(147), b"anything"));
        assert_eq!(p.error.unwrap().to_string(), "link: unsupported link type");
    }
}
