//! Message bodies: one parser per control packet type, each working on exactly the body slice its
//! fixed header framed. Fields borrow from that slice; lists (subscriptions, reason codes,
//! properties) are kept as validated byte ranges and decoded lazily by iterators, so parsing
//! allocates nothing.
//!
//! Promise: a body parser never reads outside its body and never asks for more bytes. A field that
//! does not fit is a [`FieldError`] (the message becomes [`Packet::Malformed`], with
//! `field_overrun` and `malformed_traffic`); every other oddity is a finding on an otherwise parsed
//! message.

use super::header::FixedHeader;
use super::properties::{read_properties, Properties, Property};
use super::reader::{FieldError, Reader};
use super::types::{MqttStr, PacketType, ProtocolVersion, QoS, Secret};
use crate::finding::{FindingKind, FindingSet};

/// One parsed MQTT control packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The fixed header.
    pub header: FixedHeader,
    /// The typed body.
    pub packet: Packet<'a>,
    /// Anomalies found in this message alone (connection-level ones are added by the connection).
    pub findings: FindingSet,
    /// The whole message as on the wire (fixed header included).
    pub frame: &'a [u8],
}

impl Message<'_> {
    /// The control packet type from the fixed header.
    #[inline]
    pub fn packet_type(&self) -> PacketType {
        self.header.packet_type()
    }

    /// The packet identifier, for types that carry one and when it was present.
    pub fn packet_id(&self) -> Option<u16> {
        match &self.packet {
            Packet::Publish(p) => p.packet_id,
            Packet::Puback(a) | Packet::Pubrec(a) | Packet::Pubrel(a) | Packet::Pubcomp(a) => {
                Some(a.packet_id)
            }
            Packet::Subscribe(s) => Some(s.packet_id),
            Packet::Suback(s) => Some(s.packet_id),
            Packet::Unsubscribe(u) => Some(u.packet_id),
            Packet::Unsuback(u) => Some(u.packet_id),
            _ => None,
        }
    }
}

/// A typed message body. CONNECT, the largest body by far and a rare message, is boxed so
/// that every other message moves a third of the bytes (the flood profile spent a third of its
/// time in `memmove` of 152-byte bodies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// CONNECT.
    Connect(Box<Connect<'a>>),
    /// CONNACK.
    Connack(Connack<'a>),
    /// PUBLISH.
    Publish(Publish<'a>),
    /// PUBACK.
    Puback(PubAck<'a>),
    /// PUBREC.
    Pubrec(PubAck<'a>),
    /// PUBREL.
    Pubrel(PubAck<'a>),
    /// PUBCOMP.
    Pubcomp(PubAck<'a>),
    /// SUBSCRIBE.
    Subscribe(Subscribe<'a>),
    /// SUBACK.
    Suback(Suback<'a>),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe<'a>),
    /// UNSUBACK.
    Unsuback(Unsuback<'a>),
    /// PINGREQ (no body).
    Pingreq,
    /// PINGRESP (no body).
    Pingresp,
    /// DISCONNECT.
    Disconnect(Disconnect<'a>),
    /// AUTH (5.0).
    Auth(Auth<'a>),
    /// Type 0, or type 15 on a connection known to be older than 5.0: body kept unparsed.
    Unassigned {
        /// The body bytes.
        body: &'a [u8],
    },
    /// A body whose fields overran it. The type is in the fixed header.
    Malformed {
        /// The first field that did not fit.
        error: FieldError,
        /// The body bytes.
        body: &'a [u8],
    },
}

/// CONNECT flags byte (3.1.1 §3.1.2.3), kept raw with accessors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectFlags(pub u8);

impl ConnectFlags {
    /// Bit 7: a user name follows.
    pub fn username(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// Bit 6: a password follows.
    pub fn password(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// Bit 5: will retain.
    pub fn will_retain(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// Bits 4–3: will QoS (3 is invalid).
    pub fn will_qos_bits(self) -> u8 {
        (self.0 >> 3) & 0x03
    }
    /// Bit 2: a will message follows.
    pub fn will(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// Bit 1: clean session (3.x) / clean start (5.0).
    pub fn clean_session(self) -> bool {
        self.0 & 0x02 != 0
    }
    /// Bit 0: reserved, must be 0.
    pub fn reserved(self) -> bool {
        self.0 & 0x01 != 0
    }
}

/// The will message of a CONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Will<'a> {
    /// Will properties (5.0; empty before).
    pub properties: Properties<'a>,
    /// Will topic.
    pub topic: MqttStr<'a>,
    /// Will payload.
    pub payload: &'a [u8],
}

/// CONNECT. The password is a [`Secret`]: its `Debug` shows only the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connect<'a> {
    /// "MQTT" or "MQIsdp" (or whatever was sent).
    pub protocol_name: MqttStr<'a>,
    /// Protocol level byte as sent (bit 7 is the bridge bit some brokers set).
    pub protocol_level: u8,
    /// Version the level maps to (bridge bit ignored), if known.
    pub version: Option<ProtocolVersion>,
    /// Connect flags.
    pub flags: ConnectFlags,
    /// Keep alive in seconds.
    pub keep_alive: u16,
    /// CONNECT properties (5.0; empty before).
    pub properties: Properties<'a>,
    /// Client identifier.
    pub client_id: MqttStr<'a>,
    /// Will, when the will flag is set.
    pub will: Option<Will<'a>>,
    /// User name, when the user name flag is set.
    pub username: Option<MqttStr<'a>>,
    /// Password, when the password flag is set.
    pub password: Option<Secret<'a>>,
}

/// CONNACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connack<'a> {
    /// Bit 0 of the acknowledge flags.
    pub session_present: bool,
    /// Return code (3.x) or reason code (5.0); 0 is success in every version.
    pub return_code: u8,
    /// CONNACK properties (5.0).
    pub properties: Properties<'a>,
}

/// PUBLISH. DUP, QoS and RETAIN are in the fixed header ([`FixedHeader::dup`], …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish<'a> {
    /// Topic name.
    pub topic: MqttStr<'a>,
    /// Packet identifier, present when QoS > 0.
    pub packet_id: Option<u16>,
    /// PUBLISH properties (5.0).
    pub properties: Properties<'a>,
    /// Application payload.
    pub payload: &'a [u8],
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PubAck<'a> {
    /// Packet identifier of the PUBLISH being acknowledged.
    pub packet_id: u16,
    /// Reason code (5.0, absent when the remaining length is 2, which means 0 = success).
    pub reason_code: Option<u8>,
    /// Properties (5.0).
    pub properties: Properties<'a>,
}

/// Subscription options byte (5.0 §3.8.3.1; in 3.x only the QoS bits are defined).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionOptions(pub u8);

impl SubscriptionOptions {
    /// Requested maximum QoS bits (3 is invalid).
    pub fn qos_bits(self) -> u8 {
        self.0 & 0x03
    }
    /// Requested maximum QoS.
    pub fn qos(self) -> Option<QoS> {
        QoS::from_bits(self.qos_bits())
    }
    /// No Local (5.0).
    pub fn no_local(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// Retain As Published (5.0).
    pub fn retain_as_published(self) -> bool {
        self.0 & 0x08 != 0
    }
    /// Retain Handling (5.0), 0–2 (3 is invalid).
    pub fn retain_handling(self) -> u8 {
        (self.0 >> 4) & 0x03
    }
}

/// One SUBSCRIBE entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription<'a> {
    /// Topic filter.
    pub filter: MqttStr<'a>,
    /// Options (requested QoS in 3.x).
    pub options: SubscriptionOptions,
}

/// SUBSCRIBE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties<'a>,
    /// The subscriptions, validated.
    pub subscriptions: Subscriptions<'a>,
}

/// Validated SUBSCRIBE payload, decoded lazily.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Subscriptions<'a> {
    raw: &'a [u8],
    count: u32,
}

impl<'a> Subscriptions<'a> {
    /// Number of topic filters.
    pub fn len(&self) -> usize {
        self.count as usize
    }
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The entries in wire order.
    pub fn iter(&self) -> impl Iterator<Item = Subscription<'a>> + 'a {
        let mut r = Reader::new(self.raw);
        core::iter::from_fn(move || {
            let filter = MqttStr::new(r.binary("topic_filter").ok()?);
            let options = SubscriptionOptions(r.u8("subscription_options").ok()?);
            Some(Subscription { filter, options })
        })
    }
}

impl core::fmt::Debug for Subscriptions<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// SUBACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suback<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties<'a>,
    /// Granted QoS (3.x: 0, 1, 2 or 0x80 failure) or reason codes (5.0), one per filter.
    pub return_codes: &'a [u8],
}

/// UNSUBSCRIBE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties<'a>,
    /// Topic filters, validated.
    pub filters: TopicFilters<'a>,
}

/// Validated UNSUBSCRIBE payload, decoded lazily.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TopicFilters<'a> {
    raw: &'a [u8],
    count: u32,
}

impl<'a> TopicFilters<'a> {
    /// Number of filters.
    pub fn len(&self) -> usize {
        self.count as usize
    }
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The filters in wire order.
    pub fn iter(&self) -> impl Iterator<Item = MqttStr<'a>> + 'a {
        let mut r = Reader::new(self.raw);
        core::iter::from_fn(move || Some(MqttStr::new(r.binary("topic_filter").ok()?)))
    }
}

impl core::fmt::Debug for TopicFilters<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// UNSUBACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsuback<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties<'a>,
    /// Reason codes, one per filter (5.0; empty before).
    pub reason_codes: &'a [u8],
}

/// DISCONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disconnect<'a> {
    /// Reason code (5.0; absent with remaining length 0, meaning 0 = normal disconnection).
    pub reason_code: Option<u8>,
    /// Properties (5.0).
    pub properties: Properties<'a>,
}

/// AUTH (5.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Auth<'a> {
    /// Reason code (absent with remaining length 0, meaning 0 = success).
    pub reason_code: Option<u8>,
    /// Properties (authentication method and data).
    pub properties: Properties<'a>,
}

/// Parse a body framed by `header`. `version` is the connection's protocol version; `None` when no
/// CONNECT was seen (mid-stream pickup), in which case the layout is guessed from the remaining
/// length (v5 acknowledgements are longer than 2 bytes).
pub(crate) fn parse_body<'a>(
    header: &FixedHeader,
    body: &'a [u8],
    version: Option<ProtocolVersion>,
    findings: &mut FindingSet,
) -> Packet<'a> {
    let ptype = header.packet_type();
    // Guessing only matters without a CONNECT; an explicit version is always obeyed.
    let v5 = match version {
        Some(v) => v.is_v5(),
        None => match ptype {
            PacketType::Connack
            | PacketType::Puback
            | PacketType::Pubrec
            | PacketType::Pubrel
            | PacketType::Pubcomp
            | PacketType::Unsuback => body.len() > 2,
            PacketType::Disconnect | PacketType::Auth => true,
            _ => false,
        },
    };
    let mut r = Reader::new(body);
    let result = match ptype {
        PacketType::Reserved => {
            findings.insert(FindingKind::UnassignedMsgType);
            Ok(Packet::Unassigned { body })
        }
        PacketType::Auth if matches!(version, Some(v) if !v.is_v5()) => {
            findings.insert(FindingKind::UnassignedMsgType);
            Ok(Packet::Unassigned { body })
        }
        PacketType::Connect => {
            parse_connect(&mut r, findings).map(|c| Packet::Connect(Box::new(c)))
        }
        PacketType::Connack => parse_connack(&mut r, v5, findings).map(Packet::Connack),
        PacketType::Publish => parse_publish(header, &mut r, v5, findings).map(Packet::Publish),
        PacketType::Puback => parse_puback(ptype, &mut r, v5, findings).map(Packet::Puback),
        PacketType::Pubrec => parse_puback(ptype, &mut r, v5, findings).map(Packet::Pubrec),
        PacketType::Pubrel => parse_puback(ptype, &mut r, v5, findings).map(Packet::Pubrel),
        PacketType::Pubcomp => parse_puback(ptype, &mut r, v5, findings).map(Packet::Pubcomp),
        PacketType::Subscribe => parse_subscribe(&mut r, v5, findings).map(Packet::Subscribe),
        PacketType::Suback => parse_suback(&mut r, v5, findings).map(Packet::Suback),
        PacketType::Unsubscribe => parse_unsubscribe(&mut r, v5, findings).map(Packet::Unsubscribe),
        PacketType::Unsuback => parse_unsuback(&mut r, v5, findings).map(Packet::Unsuback),
        PacketType::Pingreq => Ok(Packet::Pingreq),
        PacketType::Pingresp => Ok(Packet::Pingresp),
        PacketType::Disconnect => {
            parse_reason_and_properties(&mut r, v5, findings).map(|(reason_code, properties)| {
                if let Some(code) = reason_code {
                    check_reason_code(ptype, true, code, findings);
                }
                Packet::Disconnect(Disconnect {
                    reason_code,
                    properties,
                })
            })
        }
        PacketType::Auth => {
            parse_reason_and_properties(&mut r, true, findings).map(|(reason_code, properties)| {
                if let Some(code) = reason_code {
                    check_reason_code(ptype, true, code, findings);
                }
                Packet::Auth(Auth {
                    reason_code,
                    properties,
                })
            })
        }
    };
    match result {
        Ok(packet) => {
            if !r.is_empty() && !matches!(packet, Packet::Unassigned { .. }) {
                findings.insert(FindingKind::TrailingBytes);
            }
            packet
        }
        Err(error) => {
            findings.insert(FindingKind::FieldOverrun);
            findings.insert(FindingKind::MalformedTraffic);
            Packet::Malformed { error, body }
        }
    }
}

fn parse_connect<'a>(
    r: &mut Reader<'a>,
    findings: &mut FindingSet,
) -> Result<Connect<'a>, FieldError> {
    let protocol_name = r.string("protocol_name", findings)?;
    let protocol_level = r.u8("protocol_level")?;
    // Bit 7 of the level is set by Mosquitto bridges ("try_private"); the version is in the low
    // bits.
    let version = ProtocolVersion::from_level(protocol_level & 0x7f);
    match (protocol_name.as_bytes(), version) {
        (_, None) => findings.insert(FindingKind::UnknownProtocolLevel),
        (b"MQIsdp", Some(ProtocolVersion::V3_1))
        | (b"MQTT", Some(ProtocolVersion::V3_1_1 | ProtocolVersion::V5)) => {}
        _ => findings.insert(FindingKind::ProtocolNameMismatch),
    }
    let flags = ConnectFlags(r.u8("connect_flags")?);
    if flags.reserved() {
        findings.insert(FindingKind::ConnectReservedFlagSet);
    }
    if flags.will_qos_bits() == 3 {
        findings.insert(FindingKind::InvalidQosLevel);
    }
    // "If the Will Flag is set to 0, then the Will QoS MUST be set to 0" and "Will Retain MUST be
    // set to 0" (3.1.1 §3.1.2.6/7); "If the User Name Flag is set to 0, the Password Flag MUST be
    // set to 0" (3.1.1 §3.1.2.9, lifted in 5.0).
    if (!flags.will() && (flags.will_qos_bits() != 0 || flags.will_retain()))
        || (flags.password() && !flags.username() && version != Some(ProtocolVersion::V5))
    {
        findings.insert(FindingKind::InvalidConnectFlags);
    }
    let keep_alive = r.u16("keep_alive")?;
    let v5 = version == Some(ProtocolVersion::V5);
    let properties = if v5 {
        read_properties(r, "properties", findings)?
    } else {
        Properties::default()
    };
    let client_id = r.string("client_id", findings)?;
    let will = if flags.will() {
        let properties = if v5 {
            read_properties(r, "will_properties", findings)?
        } else {
            Properties::default()
        };
        let topic = r.string("will_topic", findings)?;
        let payload = r.binary("will_payload")?;
        Some(Will {
            properties,
            topic,
            payload,
        })
    } else {
        None
    };
    let username = if flags.username() {
        Some(r.string("username", findings)?)
    } else {
        None
    };
    let password = if flags.password() {
        Some(Secret::new(r.binary("password")?))
    } else {
        None
    };
    Ok(Connect {
        protocol_name,
        protocol_level,
        version,
        flags,
        keep_alive,
        properties,
        client_id,
        will,
        username,
        password,
    })
}

fn parse_connack<'a>(
    r: &mut Reader<'a>,
    v5: bool,
    findings: &mut FindingSet,
) -> Result<Connack<'a>, FieldError> {
    let ack_flags = r.u8("connect_acknowledge_flags")?;
    if ack_flags & 0xfe != 0 {
        findings.insert(FindingKind::ReservedBitsSet);
    }
    let return_code = r.u8("return_code")?;
    check_reason_code(PacketType::Connack, v5, return_code, findings);
    let properties = if v5 && !r.is_empty() {
        read_properties(r, "properties", findings)?
    } else {
        Properties::default()
    };
    Ok(Connack {
        session_present: ack_flags & 0x01 != 0,
        return_code,
        properties,
    })
}

/// Whether `code` is defined for `ptype`: 3.1.1 §3.2.2.3 (CONNACK 0–5) and §3.9.3 (SUBACK 0, 1, 2,
/// 0x80); 5.0 the reason code tables of §3.2.2.2, §3.4.2.1, §3.5.2.1, §3.6.2.1, §3.7.2.1, §3.9.3,
/// §3.11.3, §3.14.2.1 (DISCONNECT) and §3.15.2.1 (AUTH).
fn reason_code_defined(ptype: PacketType, v5: bool, code: u8) -> bool {
    use PacketType as T;
    match (ptype, v5) {
        (T::Connack, false) => code <= 5,
        (T::Connack, true) => matches!(
            code,
            0x00 | 0x80..=0x8a | 0x8c | 0x90 | 0x95 | 0x97 | 0x99..=0x9d | 0x9f
        ),
        (T::Suback, false) => matches!(code, 0x00 | 0x01 | 0x02 | 0x80),
        (T::Suback, true) => matches!(
            code,
            0x00 | 0x01 | 0x02 | 0x80 | 0x83 | 0x87 | 0x8f | 0x91 | 0x97 | 0x9e | 0xa1 | 0xa2
        ),
        (T::Puback | T::Pubrec, true) => matches!(
            code,
            0x00 | 0x10 | 0x80 | 0x83 | 0x87 | 0x90 | 0x91 | 0x97 | 0x99
        ),
        (T::Pubrel | T::Pubcomp, true) => matches!(code, 0x00 | 0x92),
        (T::Unsuback, true) => matches!(code, 0x00 | 0x11 | 0x80 | 0x83 | 0x87 | 0x8f | 0x91),
        (T::Disconnect, true) => matches!(
            code,
            0x00 | 0x04 | 0x80..=0x83 | 0x87 | 0x89 | 0x8b | 0x8d..=0x90 | 0x93..=0xa2
        ),
        (T::Auth, true) => matches!(code, 0x00 | 0x18 | 0x19),
        _ => true,
    }
}

fn check_reason_code(ptype: PacketType, v5: bool, code: u8, findings: &mut FindingSet) {
    if !reason_code_defined(ptype, v5, code) {
        findings.insert(FindingKind::UnknownReasonCode);
    }
}

fn check_packet_id(packet_id: u16, findings: &mut FindingSet) {
    // "SUBSCRIBE, UNSUBSCRIBE, and PUBLISH (in cases where QoS > 0) Control Packets MUST contain a
    // non-zero 16-bit Packet Identifier" (3.1.1 §2.3.1).
    if packet_id == 0 {
        findings.insert(FindingKind::ZeroPacketId);
    }
}

/// Read a packet identifier; its absence is Suricata's `missing_msg_id` as well as a field overrun.
fn read_packet_id(r: &mut Reader<'_>, findings: &mut FindingSet) -> Result<u16, FieldError> {
    r.u16("packet_id").inspect_err(|_| {
        findings.insert(FindingKind::MissingMsgId);
    })
}

fn parse_publish<'a>(
    header: &FixedHeader,
    r: &mut Reader<'a>,
    v5: bool,
    findings: &mut FindingSet,
) -> Result<Publish<'a>, FieldError> {
    if header.qos_bits() == 3 {
        // "A PUBLISH Packet MUST NOT have both QoS bits set to 1" (3.1.1 §3.3.1.2).
        findings.insert(FindingKind::InvalidQosLevel);
    }
    if header.qos_bits() == 0 && header.dup() {
        findings.insert(FindingKind::InvalidDupFlag);
    }
    let topic = r.string("topic_name", findings)?;
    let packet_id = if header.qos_bits() > 0 {
        let id = read_packet_id(r, findings)?;
        check_packet_id(id, findings);
        Some(id)
    } else {
        None
    };
    let properties = if v5 {
        read_properties(r, "properties", findings)?
    } else {
        Properties::default()
    };
    let payload = r.rest();
    if topic.as_bytes().iter().any(|b| *b == b'+' || *b == b'#') {
        // "The Topic Name in the PUBLISH Packet MUST NOT contain wildcard characters" (3.1.1
        // §3.3.2.1).
        findings.insert(FindingKind::WildcardInTopicName);
    }
    if topic.is_empty()
        && !(v5
            && properties
                .iter()
                .any(|p| matches!(p, Property::TopicAlias(_))))
    {
        findings.insert(FindingKind::EmptyTopicName);
    }
    Ok(Publish {
        topic,
        packet_id,
        properties,
        payload,
    })
}

fn parse_puback<'a>(
    ptype: PacketType,
    r: &mut Reader<'a>,
    v5: bool,
    findings: &mut FindingSet,
) -> Result<PubAck<'a>, FieldError> {
    let packet_id = read_packet_id(r, findings)?;
    check_packet_id(packet_id, findings);
    let (reason_code, properties) = parse_reason_and_properties(r, v5, findings)?;
    if let Some(code) = reason_code {
        check_reason_code(ptype, v5, code, findings);
    }
    Ok(PubAck {
        packet_id,
        reason_code,
        properties,
    })
}

/// The optional "reason code, then optional properties" tail shared by v5 PUBACK…PUBCOMP,
/// DISCONNECT and AUTH: "If the Remaining Length is less than 2/4, … the value of 0x00 is used / no
/// properties".
fn parse_reason_and_properties<'a>(
    r: &mut Reader<'a>,
    v5: bool,
    findings: &mut FindingSet,
) -> Result<(Option<u8>, Properties<'a>), FieldError> {
    if !v5 || r.is_empty() {
        return Ok((None, Properties::default()));
    }
    let reason_code = r.u8("reason_code")?;
    let properties = if r.is_empty() {
        Properties::default()
    } else {
        read_properties(r, "properties", findings)?
    };
    Ok((Some(reason_code), properties))
}

fn parse_subscribe<'a>(
    r: &mut Reader<'a>,
    v5: bool,
    findings: &mut FindingSet,
) -> Result<Subscribe<'a>, FieldError> {
    let packet_id = read_packet_id(r, findings)?;
    check_packet_id(packet_id, findings);
    let properties = if v5 {
        read_properties(r, "properties", findings)?
    } else {
        Properties::default()
    };
    let raw = r.rest();
    let mut list = Reader::new(raw);
    let mut count: u32 = 0;
    while !list.is_empty() {
        list.string("topic_filter", findings)?;
        let options = SubscriptionOptions(list.u8("subscription_options")?);
        if options.qos_bits() == 3 {
            findings.insert(FindingKind::InvalidQosLevel);
        }
        // 3.x: "The upper 6 bits of the Requested QoS byte … MUST be 0"; 5.0: bits 7–6 reserved and
        // Retain Handling 3 is a protocol error.
        let reserved_mask = if v5 { 0xc0 } else { 0xfc };
        if options.0 & reserved_mask != 0 || (v5 && options.retain_handling() == 3) {
            findings.insert(FindingKind::ReservedBitsSet);
        }
        count += 1;
    }
    if count == 0 {
        findings.insert(FindingKind::EmptyTopicList);
    }
    Ok(Subscribe {
        packet_id,
        properties,
        subscriptions: Subscriptions { raw, count },
    })
}

fn parse_suback<'a>(
    r: &mut Reader<'a>,
    v5: bool,
    findings: &mut FindingSet,
) -> Result<Suback<'a>, FieldError> {
    let packet_id = read_packet_id(r, findings)?;
    let properties = if v5 {
        read_properties(r, "properties", findings)?
    } else {
        Properties::default()
    };
    let return_codes = r.rest();
    if return_codes.is_empty() {
        findings.insert(FindingKind::EmptyTopicList);
    }
    for code in return_codes {
        check_reason_code(PacketType::Suback, v5, *code, findings);
    }
    Ok(Suback {
        packet_id,
        properties,
        return_codes,
    })
}

fn parse_unsubscribe<'a>(
    r: &mut Reader<'a>,
    v5: bool,
    findings: &mut FindingSet,
) -> Result<Unsubscribe<'a>, FieldError> {
    let packet_id = read_packet_id(r, findings)?;
    check_packet_id(packet_id, findings);
    let properties = if v5 {
        read_properties(r, "properties", findings)?
    } else {
        Properties::default()
    };
    let raw = r.rest();
    let mut list = Reader::new(raw);
    let mut count: u32 = 0;
    while !list.is_empty() {
        list.string("topic_filter", findings)?;
        count += 1;
    }
    if count == 0 {
        findings.insert(FindingKind::EmptyTopicList);
    }
    Ok(Unsubscribe {
        packet_id,
        properties,
        filters: TopicFilters { raw, count },
    })
}

fn parse_unsuback<'a>(
    r: &mut Reader<'a>,
    v5: bool,
    findings: &mut FindingSet,
) -> Result<Unsuback<'a>, FieldError> {
    let packet_id = read_packet_id(r, findings)?;
    if !v5 {
        return Ok(Unsuback {
            packet_id,
            properties: Properties::default(),
            reason_codes: &[],
        });
    }
    let properties = read_properties(r, "properties", findings)?;
    let reason_codes = r.rest();
    if reason_codes.is_empty() {
        findings.insert(FindingKind::EmptyTopicList);
    }
    for code in reason_codes {
        check_reason_code(PacketType::Unsuback, v5, *code, findings);
    }
    Ok(Unsuback {
        packet_id,
        properties,
        reason_codes,
    })
}
