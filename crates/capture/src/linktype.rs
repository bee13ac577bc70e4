//! Link-layer header types (the LINKTYPE_ registry used by pcap and pcapng) that mqtt-ids decodes.

use std::fmt;

/// A link-layer header type as stored in a pcap header or a pcapng Interface Description Block.
///
/// Only the low 16 bits carry the type; pcap's upper bits (FCS length flags) are masked off when a
/// file is read.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: Self = Self(0);
    /// Ethernet II / 802.3, possibly with 802.1Q / 802.1ad tags.
    pub const ETHERNET: Self = Self(1);
    /// Raw IP as OpenBSD's DLT_RAW (12) writes it into pcap files.
    pub const RAW_OPENBSD: Self = Self(12);
    /// Raw IP as BSD/OS's DLT_RAW (14) writes it into pcap files.
    pub const RAW_BSDOS: Self = Self(14);
    /// Raw IPv4 or IPv6, version taken from the first nibble.
    pub const RAW: Self = Self(101);
    /// OpenBSD loopback: like [`LinkType::NULL`] but the family is big-endian.
    pub const LOOP: Self = Self(108);
    /// Linux "cooked" capture, version 1 (16-byte header).
    pub const LINUX_SLL: Self = Self(113);
    /// Raw IPv4.
    pub const IPV4: Self = Self(228);
    /// Raw IPv6.
    pub const IPV6: Self = Self(229);
    /// Linux "cooked" capture, version 2 (20-byte header).
    pub const LINUX_SLL2: Self = Self(276);

    /// The link types [`crate::decode`] understands.
    pub const SUPPORTED: [LinkType; 10] = [
        Self::NULL,
        Self::ETHERNET,
        Self::RAW_OPENBSD,
        Self::RAW_BSDOS,
        Self::RAW,
        Self::LOOP,
        Self::LINUX_SLL,
        Self::IPV4,
        Self::IPV6,
        Self::LINUX_SLL2,
    ];

    /// Whether [`crate::decode`] can decode frames of this link type.
    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    /// The registry name without its `LINKTYPE_` prefix (`ETHERNET`, `LINUX_SLL`, …), or
    /// `LINKTYPE_<n>` for a type mqtt-ids does not know.
    pub fn name(self) -> String {
        match self.known_name() {
            Some(name) => name.to_string(),
            None => format!("LINKTYPE_{}", self.0),
        }
    }

    fn known_name(self) -> Option<&'static str> {
        Some(match self {
            Self::NULL => "NULL",
            Self::ETHERNET => "ETHERNET",
            Self::RAW_OPENBSD | Self::RAW_BSDOS | Self::RAW => "RAW",
            Self::LOOP => "LOOP",
            Self::LINUX_SLL => "LINUX_SLL",
            Self::IPV4 => "IPV4",
            Self::IPV6 => "IPV6",
            Self::LINUX_SLL2 => "LINUX_SLL2",
            _ => return None,
        })
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known_name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "LINKTYPE_{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(LinkType::ETHERNET.name(), "ETHERNET");
        assert_eq!(LinkType(147).name(), "LINKTYPE_147");
        assert_eq!(LinkType::LINUX_SLL.to_string(), "LINUX_SLL (113)");
        assert!(LinkType::LINUX_SLL2.is_supported());
        assert!(!LinkType(147).is_supported());
    }
}
