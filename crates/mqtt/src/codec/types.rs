//! Basic MQTT vocabulary: control packet types, protocol versions, QoS, and zero-copy string and
//! secret wrappers that borrow from the captured bytes.

use core::fmt;

/// MQTT control packet type: the high nibble of the first fixed-header byte. All 16 values are
/// representable; 0 is reserved in every version and 15 (AUTH) exists only in 5.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PacketType {
    /// 0: "Reserved" (forbidden) in every version.
    Reserved = 0,
    /// 1: client request to connect.
    Connect = 1,
    /// 2: connect acknowledgement.
    Connack = 2,
    /// 3: publish message.
    Publish = 3,
    /// 4: publish acknowledgement (QoS 1).
    Puback = 4,
    /// 5: publish received (QoS 2, part 1).
    Pubrec = 5,
    /// 6: publish release (QoS 2, part 2).
    Pubrel = 6,
    /// 7: publish complete (QoS 2, part 3).
    Pubcomp = 7,
    /// 8: subscribe request.
    Subscribe = 8,
    /// 9: subscribe acknowledgement.
    Suback = 9,
    /// 10: unsubscribe request.
    Unsubscribe = 10,
    /// 11: unsubscribe acknowledgement.
    Unsuback = 11,
    /// 12: ping request.
    Pingreq = 12,
    /// 13: ping response.
    Pingresp = 13,
    /// 14: disconnect notification.
    Disconnect = 14,
    /// 15: authentication exchange (5.0); reserved before.
    Auth = 15,
}

impl PacketType {
    /// All sixteen types in numeric order.
    pub const ALL: [PacketType; 16] = [
        PacketType::Reserved,
        PacketType::Connect,
        PacketType::Connack,
        PacketType::Publish,
        PacketType::Puback,
        PacketType::Pubrec,
        PacketType::Pubrel,
        PacketType::Pubcomp,
        PacketType::Subscribe,
        PacketType::Suback,
        PacketType::Unsubscribe,
        PacketType::Unsuback,
        PacketType::Pingreq,
        PacketType::Pingresp,
        PacketType::Disconnect,
        PacketType::Auth,
    ];

    /// The type in the high nibble of a fixed header's first byte.
    #[inline]
    pub const fn from_first_byte(byte: u8) -> PacketType {
        PacketType::ALL[(byte >> 4) as usize]
    }

    /// Numeric value (0–15), as tshark's `mqtt.msgtype`.
    #[inline]
    pub const fn value(self) -> u8 {
        self as u8
    }

    /// Upper-case name as in the spec (`CONNECT`, `PUBLISH`, …; `RESERVED` for 0).
    pub const fn name(self) -> &'static str {
        match self {
            PacketType::Reserved => "RESERVED",
            PacketType::Connect => "CONNECT",
            PacketType::Connack => "CONNACK",
            PacketType::Publish => "PUBLISH",
            PacketType::Puback => "PUBACK",
            PacketType::Pubrec => "PUBREC",
            PacketType::Pubrel => "PUBREL",
            PacketType::Pubcomp => "PUBCOMP",
            PacketType::Subscribe => "SUBSCRIBE",
            PacketType::Suback => "SUBACK",
            PacketType::Unsubscribe => "UNSUBSCRIBE",
            PacketType::Unsuback => "UNSUBACK",
            PacketType::Pingreq => "PINGREQ",
            PacketType::Pingresp => "PINGRESP",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Auth => "AUTH",
        }
    }

    /// The fixed-header flags the spec requires, or `None` for PUBLISH (whose flags carry
    /// DUP/QoS/RETAIN). "Where a flag bit is marked as Reserved … it MUST be set to the value
    /// listed" (3.1.1 §2.2.2).
    pub const fn required_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::Pubrel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }

    /// Who may send this type: `Some(true)` client only, `Some(false)` server only, `None` either.
    pub const fn sent_by_client(self) -> Option<bool> {
        match self {
            PacketType::Connect
            | PacketType::Subscribe
            | PacketType::Unsubscribe
            | PacketType::Pingreq => Some(true),
            PacketType::Connack
            | PacketType::Suback
            | PacketType::Unsuback
            | PacketType::Pingresp => Some(false),
            _ => None,
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// MQTT protocol version, as chosen by the CONNECT protocol level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1, protocol name "MQIsdp", level 3.
    V3_1,
    /// MQTT 3.1.1, protocol name "MQTT", level 4.
    V3_1_1,
    /// MQTT 5.0, protocol name "MQTT", level 5.
    V5,
}

impl ProtocolVersion {
    /// The version of a CONNECT protocol level byte, if known.
    pub const fn from_level(level: u8) -> Option<ProtocolVersion> {
        match level {
            3 => Some(ProtocolVersion::V3_1),
            4 => Some(ProtocolVersion::V3_1_1),
            5 => Some(ProtocolVersion::V5),
            _ => None,
        }
    }

    /// The CONNECT protocol level byte.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V3_1 => 3,
            ProtocolVersion::V3_1_1 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// Whether this version carries v5 reason codes and properties.
    #[inline]
    pub const fn is_v5(self) -> bool {
        matches!(self, ProtocolVersion::V5)
    }
}

/// Quality of service of a PUBLISH, a will, or a subscription. QoS 3 is not a value of this type:
/// it is kept as raw bits plus an `invalid_qos_level` finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QoS {
    /// 0: at most once.
    AtMostOnce = 0,
    /// 1: at least once.
    AtLeastOnce = 1,
    /// 2: exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// QoS from its two-bit value; `None` for the invalid 3.
    pub const fn from_bits(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// An MQTT "UTF-8 encoded string" exactly as it was on the wire. Validity was checked once at parse
/// time (an `invalid_utf8` finding if not); the bytes are never lossily replaced.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MqttStr<'a>(&'a [u8]);

impl<'a> MqttStr<'a> {
    /// Wrap raw string bytes.
    #[inline]
    pub const fn new(bytes: &'a [u8]) -> Self {
        MqttStr(bytes)
    }

    /// The raw bytes.
    #[inline]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The string, if it is valid UTF-8.
    #[inline]
    pub fn to_str(&self) -> Result<&'a str, core::str::Utf8Error> {
        core::str::from_utf8(self.0)
    }

    /// Length in bytes.
    #[inline]
    pub const fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for MqttStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_str() {
            Ok(s) => fmt::Debug::fmt(s, f),
            // Escaped, never replaced: the reader sees exactly which bytes were sent.
            Err(_) => write!(f, "b\"{}\"", self.0.escape_ascii()),
        }
    }
}

/// Secret bytes (password, authentication data). `Debug` shows only the length, so secrets never
/// reach logs by accident; [`Secret::expose`] is the one explicit way to read them.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Secret<'a>(&'a [u8]);

impl<'a> Secret<'a> {
    /// Wrap secret bytes.
    #[inline]
    pub const fn new(bytes: &'a [u8]) -> Self {
        Secret(bytes)
    }

    /// Length in bytes (safe to log).
    #[inline]
    pub const fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The secret bytes. Call only where exposing them is intended (e.g. an opt-in log field).
    #[inline]
    pub const fn expose(&self) -> &'a [u8] {
        self.0
    }
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_type_round_trip() {
        for (i, t) in PacketType::ALL.iter().enumerate() {
            assert_eq!(t.value() as usize, i);
            assert_eq!(PacketType::from_first_byte((i as u8) << 4 | 0x0f), *t);
        }
        assert_eq!(PacketType::Subscribe.required_flags(), Some(2));
        assert_eq!(PacketType::Publish.required_flags(), None);
        assert_eq!(PacketType::Connack.to_string(), "CONNACK");
    }

    #[test]
    fn secret_debug_is_redacted_and_str_is_never_lossy() {
        let s = Secret::new(b"hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<7 bytes redacted>)");
        assert_eq!(s.expose(), b"hunter2");
        let bad = MqttStr::new(b"a\xffb");
        assert!(bad.to_str().is_err());
        assert_eq!(bad.as_bytes(), b"a\xffb");
        assert_eq!(format!("{bad:?}"), r#"b"a\xffb""#);
        assert_eq!(format!("{:?}", MqttStr::new(b"t/1")), r#""t/1""#);
    }
}
