//! Anomalies as data: every oddity the dissector, the reassembler or the connection state notices
//! is a [`FindingKind`] with a stable snake_case name. Findings are counted and never fatal.
//!
//! Names follow Suricata's `MQTTEvent` where one exists (`rust/src/mqtt/mqtt.rs`, surfaced as
//! `app-layer-event:mqtt.<name>`), so rules and features written against Suricata read the same
//! here.

use core::fmt;

macro_rules! findings {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )+) => {
        /// One kind of anomaly. The discriminant is the bit index in a [`FindingSet`];
        /// [`FindingKind::name`] is the stable external name (used as JSON keys and feature names —
        /// never rename one).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum FindingKind {
            $( $(#[$doc])* $variant, )+
        }

        impl FindingKind {
            /// Every kind, in declaration (bit) order.
            pub const ALL: &'static [FindingKind] = &[ $( FindingKind::$variant, )+ ];
            /// Number of kinds.
            pub const COUNT: usize = Self::ALL.len();

            /// The stable snake_case name.
            pub const fn name(self) -> &'static str {
                match self { $( FindingKind::$variant => $name, )+ }
            }

            /// Inverse of [`FindingKind::name`].
            pub fn from_name(name: &str) -> Option<FindingKind> {
                match name { $( $name => Some(FindingKind::$variant), )+ _ => None }
            }
        }
    };
}

findings! {
    // ---- Suricata `MQTTEvent` names ----
    /// A CONNACK without a CONNECT before it on the connection (Suricata `missing_connect`).
    MissingConnect = "missing_connect",
    /// PUBACK/PUBREC/PUBREL/PUBCOMP whose packet id matches no outstanding PUBLISH (Suricata
    /// `missing_publish`).
    MissingPublish = "missing_publish",
    /// SUBACK whose packet id matches no outstanding SUBSCRIBE (Suricata `missing_subscribe`).
    MissingSubscribe = "missing_subscribe",
    /// UNSUBACK whose packet id matches no outstanding UNSUBSCRIBE (Suricata
    /// `missing_unsubscribe`).
    MissingUnsubscribe = "missing_unsubscribe",
    /// A second CONNECT on one connection (Suricata `double_connect`).
    DoubleConnect = "double_connect",
    /// A message other than CONNECT/CONNACK/DISCONNECT before CONNECT and CONNACK were both seen
    /// (Suricata `unintroduced_message`).
    UnintroducedMessage = "unintroduced_message",
    /// QoS 3 in a PUBLISH header, a will QoS or a subscription option (Suricata
    /// `invalid_qos_level`).
    InvalidQosLevel = "invalid_qos_level",
    /// A message that needs a packet identifier has none (Suricata `missing_msg_id`).
    MissingMsgId = "missing_msg_id",
    /// Control packet type 0, or 15 (AUTH) before MQTT 5.0 (Suricata `unassigned_msg_type`).
    UnassignedMsgType = "unassigned_msg_type",
    /// More outstanding packet ids than the configured bound; the oldest was forgotten
    /// (Suricata `too_many_transactions`).
    TooManyTransactions = "too_many_transactions",
    /// The body could not be parsed as its type (Suricata `malformed_traffic`); a more specific
    /// finding (`field_overrun`, `property_length_overrun`, …) says why.
    MalformedTraffic = "malformed_traffic",
    /// A message whose remaining length runs beyond the data: its stream ended, or a gap was
    /// declared, before the message was complete. The partial message is discarded.
    TruncatedMsg = "truncated_msg",

    // ---- ours: fixed header ----
    /// Fixed-header flags differ from the value the spec requires for the type (PUBREL, SUBSCRIBE
    /// and UNSUBSCRIBE need 0b0010, all others but PUBLISH need 0).
    ReservedFlagsSet = "reserved_flags_set",
    /// The remaining-length varint does not end within 4 bytes; framing is lost (the stream
    /// resyncs).
    InvalidRemainingLength = "invalid_remaining_length",
    /// A varint not encoded in the minimum number of bytes ("MUST use the minimum number of bytes",
    /// MQTT 5.0 §1.5.5).
    NonMinimalVarint = "non_minimal_varint",
    /// A message larger than the configured `max_message_len`: its body was skipped unparsed.
    OversizedMessage = "oversized_message",

    // ---- ours: body ----
    /// A length-prefixed field or fixed-size field runs past the end of its message.
    FieldOverrun = "field_overrun",
    /// Bytes left in the message after its last field.
    TrailingBytes = "trailing_bytes",
    /// A UTF-8 encoded string (topic, client id, …) is not valid UTF-8. The bytes are kept as they
    /// are.
    InvalidUtf8 = "invalid_utf8",
    /// A string contains U+0000, which "MUST NOT include an encoding of the null character"
    /// (§1.5.4).
    NullCharacter = "null_character",
    /// CONNECT protocol name and level disagree ("MQIsdp" must be level 3, "MQTT" level 4 or 5) or
    /// the name is neither.
    ProtocolNameMismatch = "protocol_name_mismatch",
    /// CONNECT protocol level other than 3, 4 or 5.
    UnknownProtocolLevel = "unknown_protocol_level",
    /// The CONNECT reserved flag (bit 0) is set ("The Server MUST validate that the reserved flag
    /// in the CONNECT Control Packet is set to zero", 3.1.1 §3.1.2.3).
    ConnectReservedFlagSet = "connect_reserved_flag_set",
    /// Inconsistent connect flags: will QoS/retain without the will flag, or a password without a
    /// user name before 5.0.
    InvalidConnectFlags = "invalid_connect_flags",
    /// A v5 property length, or a property value, runs past its message.
    PropertyLengthOverrun = "property_length_overrun",
    /// A v5 property identifier not defined by the spec (its length is unknown, the rest of the
    /// list is skipped).
    UnknownProperty = "unknown_property",
    /// A non-zero packet identifier was required and 0 was sent.
    ZeroPacketId = "zero_packet_id",
    /// SUBSCRIBE/UNSUBSCRIBE without any topic filter, or SUBACK/UNSUBACK (v5) without a code.
    EmptyTopicList = "empty_topic_list",
    /// A PUBLISH topic name contains a wildcard (`+` or `#`).
    WildcardInTopicName = "wildcard_in_topic_name",
    /// A PUBLISH topic name is empty (legal in 5.0 only together with a topic alias).
    EmptyTopicName = "empty_topic_name",
    /// Reserved bits in a field other than the fixed header (CONNACK acknowledge flags,
    /// subscription options) are set.
    ReservedBitsSet = "reserved_bits_set",
    /// A PUBLISH with QoS 0 has the DUP flag set ("The DUP flag MUST be set to 0 for all QoS 0
    /// messages", 3.1.1 §3.3.1.1).
    InvalidDupFlag = "invalid_dup_flag",
    /// A return/reason code the spec does not define for the packet type at the connection's
    /// version (e.g. CONNACK return code 6 in 3.1.1, SUBACK granted QoS 3).
    UnknownReasonCode = "unknown_reason_code",

    // ---- ours: connection ----
    /// A client-only message sent by the server, or a server-only message sent by the client.
    WrongDirection = "wrong_direction",
    /// A message after a DISCONNECT in the same direction.
    MessageAfterDisconnect = "message_after_disconnect",

    // ---- ours: reassembly ----
    /// Sequence space that never arrived (lost in capture or network); parsing resumed after it.
    StreamGap = "stream_gap",
    /// Bytes skipped while searching for the next plausible fixed header after a gap, a mid-stream
    /// pickup or lost framing.
    ResyncSkippedBytes = "resync_skipped_bytes",
    /// A per-stream or global buffer cap forced data to be dropped (partial message or out-of-order
    /// segment).
    BufferCapDrop = "buffer_cap_drop",
    /// The capture started mid-connection (no SYN seen for this direction).
    MidstreamPickup = "midstream_pickup",
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A small set of findings attached to one message: a bitset, so carrying it costs nothing and
/// never allocates.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FindingSet(u64);

const _: () = assert!(FindingKind::COUNT <= 64, "FindingSet is a u64 bitset");

impl FindingSet {
    /// The empty set.
    pub const EMPTY: FindingSet = FindingSet(0);

    /// Add one finding.
    #[inline]
    pub fn insert(&mut self, kind: FindingKind) {
        self.0 |= 1 << kind as u8;
    }

    /// Whether `kind` is in the set.
    #[inline]
    pub fn contains(self, kind: FindingKind) -> bool {
        self.0 & (1 << kind as u8) != 0
    }

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Union of two sets.
    #[inline]
    pub fn union(self, other: FindingSet) -> FindingSet {
        FindingSet(self.0 | other.0)
    }

    /// The kinds in the set, in bit order. Walks set bits only (an empty set costs one test).
    pub fn iter(self) -> impl Iterator<Item = FindingKind> {
        let mut bits = self.0;
        core::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            FindingKind::ALL.get(i).copied()
        })
    }

    /// Number of kinds in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
}

impl fmt::Debug for FindingSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(FindingKind::name))
            .finish()
    }
}

impl FromIterator<FindingKind> for FindingSet {
    fn from_iter<I: IntoIterator<Item = FindingKind>>(iter: I) -> Self {
        let mut set = FindingSet::EMPTY;
        for kind in iter {
            set.insert(kind);
        }
        set
    }
}

/// Occurrence counts per finding kind (a fixed array: no allocation, cheap to merge).
#[derive(Clone, PartialEq, Eq)]
pub struct FindingCounts([u64; FindingKind::COUNT]);

impl Default for FindingCounts {
    fn default() -> Self {
        FindingCounts([0; FindingKind::COUNT])
    }
}

impl FindingCounts {
    /// Count one occurrence.
    #[inline]
    pub fn add(&mut self, kind: FindingKind) {
        self.add_n(kind, 1);
    }

    /// Count `n` occurrences.
    #[inline]
    pub fn add_n(&mut self, kind: FindingKind, n: u64) {
        let slot = &mut self.0[kind as usize];
        *slot = slot.saturating_add(n);
    }

    /// Count each kind of a set once.
    #[inline]
    pub fn add_set(&mut self, set: FindingSet) {
        for kind in set.iter() {
            self.add(kind);
        }
    }

    /// Occurrences of one kind.
    pub fn get(&self, kind: FindingKind) -> u64 {
        self.0[kind as usize]
    }

    /// Add all counts of `other`.
    pub fn merge(&mut self, other: &FindingCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// Total occurrences of all kinds.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Non-zero counts, in bit order.
    pub fn iter(&self) -> impl Iterator<Item = (FindingKind, u64)> + '_ {
        FindingKind::ALL
            .iter()
            .map(|k| (*k, self.0[*k as usize]))
            .filter(|(_, n)| *n != 0)
    }
}

impl fmt::Debug for FindingCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, n)| (k.name(), n)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for kind in FindingKind::ALL {
            let name = kind.name();
            assert!(seen.insert(name), "duplicate name {name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
                "{name} is not snake_case"
            );
            assert_eq!(FindingKind::from_name(name), Some(*kind));
        }
        assert_eq!(FindingKind::from_name("no_such_finding"), None);
    }

    /// Every event Suricata's MQTT parser can raise (the `app-layer-event:mqtt.*` keywords listed
    /// in the suricata-verify `test.rules` files and `rules/mqtt-events.rules`) has a counterpart
    /// with the same name.
    #[test]
    fn suricata_event_names_exist() {
        for name in [
            "missing_connect",
            "missing_publish",
            "missing_subscribe",
            "missing_unsubscribe",
            "double_connect",
            "unintroduced_message",
            "invalid_qos_level",
            "missing_msg_id",
            "unassigned_msg_type",
            "too_many_transactions",
            "malformed_traffic",
        ] {
            assert!(FindingKind::from_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn set_and_counts() {
        let mut set = FindingSet::EMPTY;
        assert!(set.is_empty());
        set.insert(FindingKind::InvalidUtf8);
        set.insert(FindingKind::MidstreamPickup);
        set.insert(FindingKind::InvalidUtf8);
        assert_eq!(set.len(), 2);
        assert!(set.contains(FindingKind::MidstreamPickup));
        assert!(!set.contains(FindingKind::StreamGap));
        assert_eq!(
            format!("{set:?}"),
            r#"{"invalid_utf8", "midstream_pickup"}"#
        );
        let mut counts = FindingCounts::default();
        counts.add_set(set);
        counts.add_n(FindingKind::InvalidUtf8, 2);
        assert_eq!(counts.get(FindingKind::InvalidUtf8), 3);
        assert_eq!(counts.total(), 4);
        let mut other = FindingCounts::default();
        other.merge(&counts);
        assert_eq!(other, counts);
    }
}
