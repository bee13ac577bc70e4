//! Flow keys: the exact 5-tuple of a uni-flow, and the table's unordered endpoint pair that
//! holds both directions of a bi-flow in one entry.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// A uni-flow's exact 5-tuple (for a bi-flow: its forward direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// 6 (TCP) or 17 (UDP).
    pub proto: u8,
}

impl FlowKey {
    /// The opposite direction.
    pub fn reverse(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            proto: self.proto,
        }
    }

    /// Whether the flow is its own reverse (same address and port at both ends): the reference
    /// pairs such a flow with itself.
    pub fn is_self_reverse(&self) -> bool {
        self.src == self.dst && self.src_port == self.dst_port
    }
}

/// The table's key: both ends in a fixed order, so both directions find the same entry.
/// Side 0 of an entry is the direction whose source is the lower (address, port) end.
///
/// Addresses are two `u64` halves and the fields are flat: a `u128`'s 16-byte alignment or a
/// nested endpoint struct would pad every table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PairKey {
    lo_addr: [u64; 2],
    hi_addr: [u64; 2],
    lo_port: u16,
    hi_port: u16,
    proto: u8,
    /// Both addresses are IPv6 (an IPv4 address is kept in the low 32 bits).
    v6: bool,
}

/// Five words, one `write_u64` each: the derived `Hash` would hash each address as a
/// length-prefixed byte slice, several times slower with foldhash.
impl Hash for PairKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.lo_addr[0]);
        h.write_u64(self.lo_addr[1]);
        h.write_u64(self.hi_addr[0]);
        h.write_u64(self.hi_addr[1]);
        h.write_u64(
            u64::from(self.lo_port)
                | u64::from(self.hi_port) << 16
                | u64::from(self.proto) << 32
                | u64::from(self.v6) << 40,
        );
    }
}

fn bits(addr: IpAddr) -> [u64; 2] {
    match addr {
        IpAddr::V4(a) => [0, u64::from(u32::from(a))],
        IpAddr::V6(a) => {
            let a = u128::from(a);
            [(a >> 64) as u64, a as u64]
        }
    }
}

impl PairKey {
    /// The pair of a packet's 5-tuple and the side the packet travels on (0 or 1).
    /// Both addresses must be of one IP version (they come from one IP header).
    #[inline]
    pub fn of(src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16, proto: u8) -> (Self, usize) {
        let s = (bits(src), src_port);
        let d = (bits(dst), dst_port);
        // `s <= d` (addresses as [high, low] halves, then ports), compared as one 128-bit
        // number and a port: fewer branches than the tuple's comparison.
        let wide = |a: [u64; 2]| u128::from(a[0]) << 64 | u128::from(a[1]);
        let (sa, da) = (wide(s.0), wide(d.0));
        let s_first = sa < da || (sa == da && src_port <= dst_port);
        let (lo, hi, side) = if s_first { (s, d, 0) } else { (d, s, 1) };
        let key = PairKey {
            lo_addr: lo.0,
            hi_addr: hi.0,
            lo_port: lo.1,
            hi_port: hi.1,
            proto,
            v6: src.is_ipv6(),
        };
        (key, side)
    }

    pub fn proto(&self) -> u8 {
        self.proto
    }

    /// Both sides are the same endpoint: every packet is on side 0 and the flow pairs with
    /// itself.
    pub fn is_self_reverse(&self) -> bool {
        self.lo_addr == self.hi_addr && self.lo_port == self.hi_port
    }

    fn addr(&self, a: [u64; 2]) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from((u128::from(a[0]) << 64) | u128::from(a[1])))
        } else {
            IpAddr::V4(Ipv4Addr::from(a[1] as u32))
        }
    }

    /// The 5-tuple of one side.
    pub fn flow_key(&self, side: usize) -> FlowKey {
        let lo = (self.addr(self.lo_addr), self.lo_port);
        let hi = (self.addr(self.hi_addr), self.hi_port);
        let (s, d) = if side == 0 { (lo, hi) } else { (hi, lo) };
        FlowKey {
            src: s.0,
            dst: d.0,
            src_port: s.1,
            dst_port: d.1,
            proto: self.proto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_a_pair_and_round_trip() {
        let a: IpAddr = "10.16.100.1".parse().unwrap();
        let b: IpAddr = "10.16.100.73".parse().unwrap();
        let (k1, s1) = PairKey::of(b, a, 1883, 50000, PROTO_TCP);
        let (k2, s2) = PairKey::of(a, b, 50000, 1883, PROTO_TCP);
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
        let fwd = k1.flow_key(s1);
        assert_eq!(
            (fwd.src, fwd.dst, fwd.src_port, fwd.dst_port),
            (b, a, 1883, 50000)
        );
        assert_eq!(k1.flow_key(s2), fwd.reverse());
        // Same endpoints, other protocol: another pair.
        assert_ne!(PairKey::of(a, b, 50000, 1883, PROTO_UDP).0, k1);
    }

    #[test]
    fn ipv4_and_ipv6_never_share_a_pair() {
        let v4: IpAddr = "0.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        let (k4, _) = PairKey::of(v4, v4, 1, 2, PROTO_UDP);
        let (k6, _) = PairKey::of(v6, v6, 1, 2, PROTO_UDP);
        assert_ne!(k4, k6);
        assert_eq!(k6.flow_key(0).src, v6);
        assert_eq!(k4.flow_key(0).src, v4);
    }

    #[test]
    fn the_lower_endpoint_is_side_zero() {
        // Against the tuple order ([high, low] address halves, then port), on addresses and
        // ports that tie in every part.
        let addrs: Vec<IpAddr> = ["0.0.0.1", "0.0.1.0", "10.0.0.1", "255.255.255.255"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let v6: Vec<IpAddr> = ["::1", "::1:0:0:0:0", "1::", "1::1", "ffff::"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        for set in [addrs, v6] {
            for &a in &set {
                for &b in &set {
                    for (pa, pb) in [(1, 1), (1, 2), (2, 1), (0, 65_535)] {
                        let (key, side) = PairKey::of(a, b, pa, pb, PROTO_TCP);
                        let want = if (bits(a), pa) <= (bits(b), pb) { 0 } else { 1 };
                        assert_eq!(side, want, "{a} {pa} {b} {pb}");
                        assert_eq!(key.flow_key(side).src, a);
                        assert_eq!(key.flow_key(side).src_port, pa);
                    }
                }
            }
        }
    }

    #[test]
    fn self_reverse() {
        let a: IpAddr = "::1".parse().unwrap();
        let (k, side) = PairKey::of(a, a, 1883, 1883, PROTO_TCP);
        assert!(k.is_self_reverse() && side == 0);
        assert!(k.flow_key(0).is_self_reverse());
        assert!(!PairKey::of(a, a, 1883, 1884, PROTO_TCP).0.is_self_reverse());
    }
}
