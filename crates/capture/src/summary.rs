//! Per-input counters behind `mqtt-ids inspect`: what a capture holds and what could not be
//! decoded, by layer and reason.

use std::collections::BTreeMap;

use crate::decode::{DecodeError, Network, Packet, Transport};
use crate::linktype::LinkType;

/// Counts over the packets of one input. Add packets with [`Summary::add`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Packets read.
    pub packets: u64,
    /// Captured bytes (the sum of captured lengths, as capinfos' "data size").
    pub bytes: u64,
    /// Bytes on the wire (the sum of original lengths).
    pub wire_bytes: u64,
    /// Earliest and latest packet timestamps (ns since the epoch), as capinfos reports them.
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Packets per link type.
    pub link_types: BTreeMap<LinkType, u64>,
    pub ipv4: u64,
    pub ipv6: u64,
    pub arp: u64,
    /// Non-IP, non-ARP network protocols, by EtherType (or loopback family).
    pub other_network: BTreeMap<u16, u64>,
    pub tcp: u64,
    pub udp: u64,
    pub icmp: u64,
    pub icmpv6: u64,
    /// Other IP protocols, by protocol number.
    pub other_transport: BTreeMap<u8, u64>,
    /// IP fragments (transport not decoded).
    pub fragments: u64,
    /// Packets whose IP datagram extends past the captured bytes.
    pub truncated: u64,
    /// Packets that could not be decoded completely, by layer and reason, with the number of
    /// the first such packet.
    pub undecodable: BTreeMap<DecodeError, (u64, u64)>,
}

impl Summary {
    /// Counts one packet.
    pub fn add(&mut self, p: &Packet<'_>) {
        let f = &p.frame;
        self.packets += 1;
        self.bytes += f.data.len() as u64;
        self.wire_bytes += u64::from(f.orig_len);
        self.first_ts = Some(self.first_ts.map_or(f.ts_ns, |t| t.min(f.ts_ns)));
        self.last_ts = Some(self.last_ts.map_or(f.ts_ns, |t| t.max(f.ts_ns)));
        *self.link_types.entry(f.link_type).or_default() += 1;
        match p.network {
            Network::Ipv4 => self.ipv4 += 1,
            Network::Ipv6 => self.ipv6 += 1,
            Network::Arp => self.arp += 1,
            Network::Other(t) => *self.other_network.entry(t).or_default() += 1,
            Network::None => {}
        }
        match p.transport {
            Transport::Tcp { .. } => self.tcp += 1,
            Transport::Udp { .. } => self.udp += 1,
            Transport::Icmpv4 { .. } => self.icmp += 1,
            Transport::Icmpv6 { .. } => self.icmpv6 += 1,
            Transport::Other(proto) => *self.other_transport.entry(proto).or_default() += 1,
            Transport::None => {}
        }
        if p.ip.is_some_and(|ip| ip.fragment) {
            self.fragments += 1;
        }
        if p.truncated {
            self.truncated += 1;
        }
        if let Some(e) = p.error {
            self.undecodable.entry(e).or_insert((0, f.number)).0 += 1;
        }
    }

    /// Packets that could not be decoded completely.
    pub fn undecodable_total(&self) -> u64 {
        self.undecodable.values().map(|(n, _)| n).sum()
    }
}
