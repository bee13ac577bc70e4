//! The MQTT codec: fixed header and varint ([`header`]), vocabulary ([`types`]), message bodies
//! ([`message`]) and v5 properties ([`properties`]), for MQTT 3.1, 3.1.1 and 5.0.
//!
//! [`parse_message`] is the single entry point. It is bounded and total: for any input it returns
//! one of three outcomes — need more bytes, too large (skip and count), parsed (with bytes
//! consumed) — and never panics or allocates.

pub mod header;
pub mod message;
pub mod properties;
mod reader;
pub mod types;

pub use header::{FixedHeader, HeaderError, MAX_VARINT};
pub use message::{
    Auth, Connack, Connect, ConnectFlags, Disconnect, Message, Packet, PubAck, Publish, Suback,
    Subscribe, Subscription, SubscriptionOptions, Subscriptions, TopicFilters, Unsuback,
    Unsubscribe, Will,
};
pub use properties::{Properties, PropertiesIter, Property};
pub use reader::FieldError;
pub use types::{MqttStr, PacketType, ProtocolVersion, QoS, Secret};

use crate::finding::{FindingKind, FindingSet};

/// Default largest message we parse: 1 MiB (Suricata's `app-layer.protocols.mqtt.max-msg-length`
/// default). Larger messages are skipped, never buffered.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1 << 20;

/// How to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// Protocol version of the connection (from its CONNECT); `None` to guess per message.
    /// CONNECT itself is always parsed by its own protocol level.
    pub version: Option<ProtocolVersion>,
    /// Whole-message size (fixed header included) above which a message is reported as
    /// [`TooLarge::Oversized`] instead of parsed.
    pub max_message_len: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            version: None,
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
        }
    }
}

/// How many more bytes a parse needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needed {
    /// Exactly this many more bytes complete the message (its fixed header is known).
    Size(usize),
    /// The fixed header itself is incomplete; at least one more byte is needed.
    Unknown,
}

/// A message that will not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TooLarge {
    /// The declared message is larger than `max_message_len`: skip `frame_len` bytes (they may not
    /// all be here yet) and count it (`oversized_message`).
    Oversized {
        /// The fixed header that announced it.
        header: FixedHeader,
        /// Fixed header plus remaining length.
        frame_len: usize,
    },
    /// The remaining length does not end within 4 bytes, i.e. it exceeds 268,435,455: the message
    /// boundary is unknown and the stream must resynchronise (`invalid_remaining_length`).
    InvalidRemainingLength {
        /// The type/flags byte that started it.
        first_byte: u8,
    },
}

impl TooLarge {
    /// The finding this outcome stands for.
    pub fn finding(&self) -> FindingKind {
        match self {
            TooLarge::Oversized { .. } => FindingKind::OversizedMessage,
            TooLarge::InvalidRemainingLength { .. } => FindingKind::InvalidRemainingLength,
        }
    }
}

/// Outcome of [`parse_message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole message was parsed from the first `consumed` bytes.
    Parsed {
        /// The message, borrowing from the input.
        message: Message<'a>,
        /// Bytes consumed (its frame length).
        consumed: usize,
    },
    /// The input ends inside the message.
    Incomplete(Needed),
    /// The message is not parsed; see [`TooLarge`].
    TooLarge(TooLarge),
}

/// Parse one message from the start of `input`.
///
/// The body is parsed on exactly `remaining_length` bytes, so a parsed message never depends on
/// what follows it and a malformed body never asks for more input.
pub fn parse_message<'a>(input: &'a [u8], options: &ParseOptions) -> Decoded<'a> {
    let header = match header::parse_fixed_header(input) {
        Ok(h) => h,
        Err(HeaderError::Incomplete { .. }) => return Decoded::Incomplete(Needed::Unknown),
        Err(HeaderError::InvalidRemainingLength) => {
            return Decoded::TooLarge(TooLarge::InvalidRemainingLength {
                first_byte: input[0],
            })
        }
    };
    let frame_len = header.frame_len();
    if frame_len > options.max_message_len {
        return Decoded::TooLarge(TooLarge::Oversized { header, frame_len });
    }
    let Some(frame) = input.get(..frame_len) else {
        return Decoded::Incomplete(Needed::Size(frame_len - input.len()));
    };
    let body = &frame[header.header_len as usize..];
    if let Some(message) = plain_publish(header, frame, body, options.version) {
        return Decoded::Parsed {
            message,
            consumed: frame_len,
        };
    }
    Decoded::Parsed {
        message: parse_framed(header, frame, body, options.version),
        consumed: frame_len,
    }
}

/// [`parse_message`]'s PUBLISH shortcut on its own, for the reassembler's in-place loop: the
/// message is built in the caller's frame instead of being moved out through [`Decoded`]. `Some`
/// exactly when [`parse_message`] would take the shortcut, with the same message and length;
/// `None` sends the caller to [`parse_message`] (tested beside `parse_message_general`).
#[inline(always)]
pub(crate) fn parse_plain_publish<'a>(
    input: &'a [u8],
    options: &ParseOptions,
) -> Option<(Message<'a>, usize)> {
    // Anything but PUBLISH leaves at once (`plain_publish` checks the type again).
    if input.first()? >> 4 != 3 {
        return None;
    }
    let header = header::parse_fixed_header(input).ok()?;
    let frame_len = header.frame_len();
    if frame_len > options.max_message_len {
        return None;
    }
    let frame = input.get(..frame_len)?;
    let body = &frame[header.header_len as usize..];
    plain_publish(header, frame, body, options.version).map(|message| (message, frame_len))
}

/// The reassembler's shortcut for the small fixed-size messages that follow every PUBLISH at
/// QoS > 0 or open and close a session: PUBACK, PUBREC, PUBREL, PUBCOMP with a 2-byte body (the
/// 3.x form, and the 5.0 form for success), PINGREQ, PINGRESP, DISCONNECT without a body, and a
/// CONNACK accepting the connection. Each is recognised from its exact first two bytes (type with
/// its required flags, one-byte remaining length) and built in the caller's frame; through
/// `parse_message` each cost ~320 instructions (header, dispatch on the type, `Reader`, the
/// v5 guess, reason-code tables, the move out of [`Decoded`]). `Some` only when the general parser
/// would give this message with no finding: a zero packet id, CONNACK flags or return codes
/// other than 0, any other length or flags, or a message above `max_message_len` return `None`
/// for [`parse_message`] (tested against `parse_message_general` beside it and on the shared
/// captures in `tracker.rs`).
#[inline(always)]
pub(crate) fn parse_small_fixed<'a>(
    input: &'a [u8],
    options: &ParseOptions,
) -> Option<(Message<'a>, usize)> {
    let (packet, frame_len) = match *input {
        // The body ends after the packet id, so the v5 reason code is absent (0 = success) and
        // there are no properties, whatever the version or its guess.
        [first @ (0x40 | 0x50 | 0x62 | 0x70), 0x02, hi, lo, ..] => {
            let ack = PubAck {
                packet_id: match u16::from_be_bytes([hi, lo]) {
                    0 => return None,
                    id => id,
                },
                reason_code: None,
                properties: Properties::default(),
            };
            let packet = match first {
                0x40 => Packet::Puback(ack),
                0x50 => Packet::Pubrec(ack),
                0x62 => Packet::Pubrel(ack),
                _ => Packet::Pubcomp(ack),
            };
            (packet, 4)
        }
        // Return code 0 is defined in every version; with a 2-byte body v5 has no properties.
        [0x20, 0x02, ack_flags @ (0x00 | 0x01), 0x00, ..] => (
            Packet::Connack(Connack {
                session_present: ack_flags == 0x01,
                return_code: 0,
                properties: Properties::default(),
            }),
            4,
        ),
        [0xc0, 0x00, ..] => (Packet::Pingreq, 2),
        [0xd0, 0x00, ..] => (Packet::Pingresp, 2),
        [0xe0, 0x00, ..] => (
            Packet::Disconnect(Disconnect {
                reason_code: None,
                properties: Properties::default(),
            }),
            2,
        ),
        _ => return None,
    };
    if frame_len > options.max_message_len {
        return None;
    }
    let frame = input.get(..frame_len)?;
    Some((
        Message {
            header: FixedHeader {
                first_byte: frame[0],
                remaining_length: frame_len as u32 - 2,
                header_len: 2,
                minimal_length: true,
            },
            packet,
            findings: FindingSet::EMPTY,
            frame,
        },
        frame_len,
    ))
}

/// [`parse_message`] without the PUBLISH shortcut: every message through the general parser.
/// The fuzz target `mqtt_message` and the tests check that both give the same result.
#[doc(hidden)]
pub fn parse_message_general<'a>(input: &'a [u8], options: &ParseOptions) -> Decoded<'a> {
    match parse_message(input, options) {
        Decoded::Parsed { message, consumed } => {
            let body = &message.frame[message.header.header_len as usize..];
            Decoded::Parsed {
                message: parse_framed(message.header, message.frame, body, options.version),
                consumed,
            }
        }
        other => other,
    }
}

/// Whether every byte of a topic is ASCII without NUL (1..=0x7f) and no wildcard (`+`, `#`):
/// eight bytes at a time (SWAR), with one test at the end; the byte loop was ~90 instructions a
/// PUBLISH on the bench capture. `topic` may be of any length.
#[inline]
fn plain_topic(topic: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // `+` (0x2b) and `#` (0x23) differ only in bit 3: with that bit set, both are 0x2b.
    const BIT3: u64 = ONES * 0x08;
    const WILD: u64 = ONES * 0x2b;
    // The high bit of some byte of the result is set iff some byte of `w` has its high bit set,
    // is zero, or is `+` or `#`. (`(x - ONES) & !x & HIGHS` is nonzero exactly when some byte of
    // `x` is zero; a borrow can only add false bits above a true one.)
    let flags = |w: u64| {
        let wild = (w | BIT3) ^ WILD;
        w | (w.wrapping_sub(ONES) & !w) | (wild.wrapping_sub(ONES) & !wild)
    };
    let word = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
    if topic.len() < 8 {
        return topic
            .iter()
            .all(|&b| b.wrapping_sub(1) < 0x7f && b | 0x08 != b'+');
    }
    let mut acc = 0;
    let mut chunks = topic.chunks_exact(8);
    for chunk in &mut chunks {
        acc |= flags(word(chunk));
    }
    // The tail: the last eight bytes (overlapping bytes already seen).
    acc |= flags(word(&topic[topic.len() - 8..]));
    acc & HIGHS == 0
}

/// The shortcut for the commonest message of all (floods are nothing else): a 3.x PUBLISH with a
/// clean ASCII topic and nothing to report, built where it is returned. The general path builds
/// the same message through three nested returns, and moving the packet between them stalled
/// store forwarding on every message (perf on the flood capture: a third of `parse_message`).
/// Anything unusual (v5, QoS 3, DUP at QoS 0, a topic that is empty, non-ASCII, holds NUL or a
/// wildcard, a missing or zero packet id, a non-minimal length) returns `None` for the general
/// path, so the result is always identical to [`parse_framed`]'s (`parse_message_general`).
#[inline(always)]
fn plain_publish<'a>(
    header: FixedHeader,
    frame: &'a [u8],
    body: &'a [u8],
    version: Option<ProtocolVersion>,
) -> Option<Message<'a>> {
    let qos = header.qos_bits();
    if header.first_byte >> 4 != 3
        || !header.minimal_length
        || matches!(version, Some(v) if v.is_v5())
        || qos == 3
        || (qos == 0 && header.dup())
    {
        return None;
    }
    let [hi, lo, rest @ ..] = body else {
        return None;
    };
    let (topic, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes([*hi, *lo])))?;
    if topic.is_empty() || !plain_topic(topic) {
        return None;
    }
    let (packet_id, payload) = if qos > 0 {
        let [a, b, payload @ ..] = rest else {
            return None;
        };
        match u16::from_be_bytes([*a, *b]) {
            0 => return None,
            id => (Some(id), payload),
        }
    } else {
        (None, rest)
    };
    Some(Message {
        header,
        packet: Packet::Publish(Publish {
            topic: MqttStr::new(topic),
            packet_id,
            properties: Properties::default(),
            payload,
        }),
        findings: FindingSet::EMPTY,
        frame,
    })
}

/// Parse a message whose frame is complete (`frame` = header + body).
fn parse_framed<'a>(
    header: FixedHeader,
    frame: &'a [u8],
    body: &'a [u8],
    version: Option<ProtocolVersion>,
) -> Message<'a> {
    let mut findings = FindingSet::EMPTY;
    if !header.flags_valid() {
        findings.insert(FindingKind::ReservedFlagsSet);
    }
    if !header.minimal_length {
        findings.insert(FindingKind::NonMinimalVarint);
    }
    let packet = message::parse_body(&header, body, version, &mut findings);
    Message {
        header,
        packet,
        findings,
        frame,
    }
}

#[cfg(test)]
mod tests;
