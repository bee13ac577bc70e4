//! The `mqttset` set (Vaccari et al. 2020, Table 4): one row per TCP frame, with the 33 tshark
//! fields the MQTTset CSVs were made of, each rendered as tshark 4.0 renders it with `-T fields
//! -E occurrence=f`, and the `target` label.
//!
//! Promises, each checked against tshark on every shared capture (tests/mqttset.rs):
//! - one row per frame carrying a decoded TCP header (IPv4 or IPv6), in capture order;
//! - `tcp.flags` is the 12-bit flags field (`0x0018`), `tcp.len` the segment length the IP header
//!   announces, `tcp.time_delta` the time since the previous frame of the same TCP conversation
//!   (`0.000000000` for its first frame), conversations split as tshark splits them on port reuse
//!   (a SYN whose sequence number differs from the side's first one opens a new conversation);
//! - each `mqtt.*` field is its first occurrence among the MQTT messages the frame completes
//!   (a message split over segments belongs to the segment that completes it), read from the
//!   message exactly as tshark's MQTT dissector reads it: the same fields for the same protocol
//!   version (the level byte of the conversation's last CONNECT, 0 before any), and the same
//!   fields kept when a message ends early (every field that fits before the overrun);
//! - strings as tshark prints them: invalid UTF-8 replaced by U+FFFD per maximal subpart, cut at
//!   the first NUL, and `\b \f \n \r \t` escaped as two characters; byte fields as lower-case hex
//!   (an empty one, such as an empty PUBLISH payload, as `<MISSING>`).
//!
//! Which frames carry MQTT is the tracker's decision (port 1883, plus a CONNECT on any other port
//! unless `probe_other_ports` is off; tshark's dissector only knows port 1883). On all 47 shared
//! captures every field of every row equals tshark's. Where we knowingly differ, from TCP
//! reassembly and caps (tests/mqttset_fields.rs shows each against tshark):
//! - a segment captured ahead of a hole: tshark (no out-of-order reassembly by default)
//!   dissects it as if it were next and later skips the segment filling the hole as a
//!   retransmission; we hold it and deliver both at the filling segment, in stream order;
//! - a message above the tracker's `max_message_len` (1 MiB) is skipped unparsed: its row has
//!   what its fixed header says (type, flags, length), at the frame that announced it;
//! - broken framing — a remaining length cut between segments (tshark's dissector cannot read
//!   one), a capture starting inside a message, a remaining length over four bytes — makes
//!   tshark read garbage from there on, while the tracker resynchronises on the next plausible
//!   fixed header.
//!
//! Retransmissions, segments lost in capture and fixed headers cut after their first byte are
//! read as tshark reads them.
//!
//! State is bounded: conversations live in a table of at most `max_streams` entries (default
//! [`DEFAULT_MAX_STREAMS`]), one evicted beyond it by the CLOCK rule, an approximation of least
//! recently seen ([`MqttsetStats::evicted`]); a frame of an evicted conversation starts a new one
//! (`tcp.time_delta` 0 again, MQTT version unknown). Nothing is allocated per packet once the
//! buffers have grown to the largest frame's messages.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::io;
use std::net::IpAddr;

use mqtt_ids_capture::{Packet, TcpFlags, Transport};
use mqtt_ids_mqtt::MessageEvent;

use crate::label::{Labeler, Subject};
use crate::schema::{Column, ColumnType::*, Schema};
use crate::sets::FrameSet;
use crate::sink::{NullRuns, RowSink};

static COLUMNS: [Column; 34] = [
    Column::new("tcp.flags", Hex(4)),
    Column::new("tcp.time_delta", Fixed(9)),
    Column::new("tcp.len", UInt),
    Column::new("mqtt.conack.flags", Hex(2)),
    Column::new("mqtt.conack.flags.reserved", UInt),
    Column::new("mqtt.conack.flags.sp", UInt),
    Column::new("mqtt.conack.val", UInt),
    Column::new("mqtt.conflag.cleansess", UInt),
    Column::new("mqtt.conflag.passwd", UInt),
    Column::new("mqtt.conflag.qos", UInt),
    Column::new("mqtt.conflag.reserved", UInt),
    Column::new("mqtt.conflag.retain", UInt),
    Column::new("mqtt.conflag.uname", UInt),
    Column::new("mqtt.conflag.willflag", UInt),
    Column::new("mqtt.conflags", Hex(2)),
    Column::new("mqtt.dupflag", UInt),
    Column::new("mqtt.hdrflags", Hex(2)),
    Column::new("mqtt.kalive", UInt),
    Column::new("mqtt.len", UInt),
    Column::new("mqtt.msg", Bytes),
    Column::new("mqtt.msgid", UInt),
    Column::new("mqtt.msgtype", UInt),
    Column::new("mqtt.proto_len", UInt),
    Column::new("mqtt.protoname", Str),
    Column::new("mqtt.qos", UInt),
    Column::new("mqtt.retain", UInt),
    Column::new("mqtt.sub.qos", UInt),
    Column::new("mqtt.suback.qos", UInt),
    Column::new("mqtt.ver", UInt),
    Column::new("mqtt.willmsg", Bytes),
    Column::new("mqtt.willmsg_len", UInt),
    Column::new("mqtt.willtopic", Str),
    Column::new("mqtt.willtopic_len", UInt),
    Column::new("target", Str),
];

/// Schema of the `mqttset` set.
pub const SCHEMA: Schema = Schema {
    set: "mqttset",
    version: 1,
    columns: &COLUMNS,
};

/// The `mqtt.*` columns: all but `tcp.flags`, `tcp.time_delta`, `tcp.len` and `target`.
const MQTT_FIELDS: usize = COLUMNS.len() - 4;

/// Default cap on TCP conversations remembered for `tcp.time_delta` and the MQTT version.
pub const DEFAULT_MAX_STREAMS: usize = 1 << 18;

/// What the set did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MqttsetStats {
    /// Rows written (TCP frames).
    pub rows: u64,
    /// TCP conversations started (a port reuse or an eviction starts another).
    pub streams: u64,
    /// Conversations split off by a SYN with a new initial sequence number (port reuse).
    pub ports_reused: u64,
    /// Conversations forgotten because the table was full.
    pub evicted: u64,
    /// Conversations held now.
    pub open_streams: u64,
    /// MQTT messages read into rows.
    pub messages: u64,
    /// Messages larger than the tracker's `max_message_len`: only their fixed header was known,
    /// at the frame that announced them.
    pub oversized_messages: u64,
}

/// The MQTT control packet types the fields depend on.
mod msg_type {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
}

/// Protocol levels as tshark's dissector compares them (`runtime_proto_version`).
const MQTT_V31: u8 = 3;
const MQTT_V311: u8 = 4;
const MQTT_V50: u8 = 5;

/// A byte range of the per-packet message buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

/// The `mqtt.*` fields of one frame: first occurrences. Byte and string fields are spans of the
/// message buffer, rendered when the row is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Fields {
    hdrflags: Option<u8>,
    len: Option<u64>,
    dupflag: Option<bool>,
    qos: Option<u8>,
    retain: Option<bool>,
    /// The connect flags byte; `mqtt.conflag.*` are its bits (added with it, so first together).
    conflags: Option<u8>,
    conack_flags: Option<u8>,
    conack_flags_reserved: Option<bool>,
    conack_flags_sp: Option<bool>,
    conack_val: Option<u8>,
    kalive: Option<u16>,
    msg: Option<Span>,
    msgid: Option<u16>,
    proto_len: Option<u16>,
    protoname: Option<Span>,
    sub_qos: Option<u8>,
    suback_qos: Option<u8>,
    ver: Option<u8>,
    willmsg: Option<Span>,
    willmsg_len: Option<u16>,
    willtopic: Option<Span>,
    willtopic_len: Option<u16>,
}

/// Sets a field unless an earlier message of the frame set it (`-E occurrence=f`).
#[inline]
fn first<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// A message of the current frame, copied out of the reassembly buffers.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// The whole message (fixed header included), or just its fixed header when it was skipped
    /// as oversized.
    frame: Span,
    /// Length of the fixed header.
    header_len: u8,
    /// The remaining length the fixed header announced.
    remaining_length: u32,
    /// Only the fixed header is known.
    oversized: bool,
}

/// Reads a message the way tshark's dissector does: `None` is tshark's exception when a field
/// runs past the end of the message, which ends the message's dissection (fields added before it
/// stay).
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.buf.get(self.at)?;
        self.at += 1;
        Some(v)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.buf.get(self.at..self.at.checked_add(2)?)?;
        self.at += 2;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    /// `n` bytes as a span of the message buffer, whose offset is `base`.
    fn span(&mut self, n: usize, base: u32) -> Option<Span> {
        let end = self.at.checked_add(n)?;
        if end > self.buf.len() {
            return None;
        }
        let span = Span {
            start: base + self.at as u32,
            end: base + end as u32,
        };
        self.at = end;
        Some(span)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.at.checked_add(n)?;
        if end > self.buf.len() {
            return None;
        }
        self.at = end;
        Some(())
    }

    /// A varint as `tvb_get_varint(…, FT_VARINT_MAX_LEN, …, ENC_VARINT_PROTOBUF)` reads it: up to
    /// ten bytes; `(value, length)`, length 0 when ten bytes all continue.
    fn varint(&mut self) -> Option<(u64, usize)> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            value |= u64::from(b & 0x7f).checked_shl(7 * i as u32).unwrap_or(0);
            if b < 0x80 {
                return Some((value, i + 1));
            }
        }
        Some((value, 0))
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.at)
    }

    /// The v5 properties block as `dissect_mqtt_properties` walks it: every property must fit in
    /// the message, and the block then counts as its declared length (even if the last property
    /// ran past it).
    fn properties(&mut self) -> Option<()> {
        let start = self.at;
        let (declared, len_len) = self.varint()?;
        // tshark restarts from the property length's own offset plus its length.
        self.at = start + len_len;
        let end = u64::try_from(self.at).ok()?.checked_add(declared)?;
        let end = usize::try_from(end).ok()?;
        while self.at < end {
            let id = self.u8()?;
            match id {
                // Payload format indicator, request problem/response information, retain /
                // wildcard / subscription identifier / shared subscription available, maximum
                // QoS.
                0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a => self.skip(1)?,
                // Topic alias, server keep alive, receive maximum, topic alias maximum.
                0x13 | 0x21 | 0x22 | 0x23 => self.skip(2)?,
                // Publication expiry, session expiry, will delay, maximum packet size.
                0x02 | 0x11 | 0x18 | 0x27 => self.skip(4)?,
                // Subscription identifier: a varint.
                0x0b => {
                    let (_, n) = self.varint()?;
                    if n == 0 {
                        return None;
                    }
                }
                // Content type, and the other strings / binary data: u16 length + bytes.
                0x03 | 0x08 | 0x09 | 0x12 | 0x15 | 0x16 | 0x1a | 0x1c | 0x1f => {
                    let n = self.u16()?;
                    self.skip(usize::from(n))?;
                }
                // User property: two strings.
                0x26 => {
                    let n = self.u16()?;
                    self.skip(usize::from(n))?;
                    let n = self.u16()?;
                    self.skip(usize::from(n))?;
                }
                // Unknown: the rest of the declared block as one item.
                _ => self.skip(end - self.at)?,
            }
        }
        self.at = end;
        Some(())
    }
}

/// Reads one message's fields into `f` as tshark 4.0's `dissect_mqtt` adds them, updating the
/// conversation's protocol version on CONNECT. `frame` is the whole message; `base` its offset in
/// the message buffer.
fn read_message(
    frame: &[u8],
    base: u32,
    header_len: u8,
    remaining_length: u32,
    version: &mut u8,
    f: &mut Fields,
) {
    use msg_type::*;
    let Some(&h) = frame.first() else { return };
    let ty = h >> 4;
    first(&mut f.hdrflags, h);
    if ty == PUBLISH {
        first(&mut f.dupflag, h & 0x08 != 0);
        first(&mut f.qos, (h >> 1) & 0x03);
        first(&mut f.retain, h & 0x01 != 0);
    } else if *version == MQTT_V31 && matches!(ty, PUBREL | SUBSCRIBE | UNSUBSCRIBE) {
        // 3.1 gave these types a DUP flag and a QoS; bit 0 is reserved (`mqtt.retain_reserved`).
        first(&mut f.dupflag, h & 0x08 != 0);
        first(&mut f.qos, (h >> 1) & 0x03);
    }
    first(&mut f.len, u64::from(remaining_length));
    let mut c = Cursor {
        buf: frame,
        at: usize::from(header_len),
    };
    // `None`: the message ended inside a field; what was read so far stays.
    let _ = read_body(ty, h, &mut c, base, version, f);
}

fn read_body(
    ty: u8,
    h: u8,
    c: &mut Cursor<'_>,
    base: u32,
    version: &mut u8,
    f: &mut Fields,
) -> Option<()> {
    use msg_type::*;
    match ty {
        CONNECT => {
            let proto_len = c.u16()?;
            first(&mut f.proto_len, proto_len);
            let name = c.span(usize::from(proto_len), base)?;
            first(&mut f.protoname, name);
            let level = c.u8()?;
            *version = level;
            first(&mut f.ver, level);
            let flags = c.u8()?;
            first(&mut f.conflags, flags);
            first(&mut f.kalive, c.u16()?);
            if *version == MQTT_V50 {
                c.properties()?;
            }
            let client_id_len = c.u16()?;
            c.skip(usize::from(client_id_len))?;
            if flags & 0x04 != 0 {
                if *version == MQTT_V50 {
                    c.properties()?;
                }
                let topic_len = c.u16()?;
                first(&mut f.willtopic_len, topic_len);
                if topic_len > 0 {
                    let topic = c.span(usize::from(topic_len), base)?;
                    first(&mut f.willtopic, topic);
                }
                let msg_len = c.u16()?;
                first(&mut f.willmsg_len, msg_len);
                let msg = c.span(usize::from(msg_len), base)?;
                first(&mut f.willmsg, msg);
            }
            // User name and password carry no field of this set.
        }
        CONNACK => {
            let flags = c.u8()?;
            if *version == MQTT_V31 {
                // 3.1: a reserved byte, shown as one boolean over the whole byte.
                first(&mut f.conack_flags_reserved, flags != 0);
            } else {
                first(&mut f.conack_flags, flags);
                first(&mut f.conack_flags_reserved, flags & 0xfe != 0);
                first(&mut f.conack_flags_sp, flags & 0x01 != 0);
            }
            let code = c.u8()?;
            // Any other version (5, or unknown without a CONNECT) reads a v5 reason code.
            if *version == MQTT_V31 || *version == MQTT_V311 {
                first(&mut f.conack_val, code);
            }
        }
        PUBLISH => {
            let topic_len = c.u16()?;
            if topic_len > 0 {
                c.skip(usize::from(topic_len))?;
            }
            if h & 0x06 != 0 {
                first(&mut f.msgid, c.u16()?);
            }
            if *version == MQTT_V50 {
                c.properties()?;
            }
            let payload = c.span(c.remaining(), base)?;
            first(&mut f.msg, payload);
        }
        SUBSCRIBE => {
            first(&mut f.msgid, c.u16()?);
            // 5.0 has properties and subscription options, none of them in this set; before, the
            // first filter's requested QoS is the field's first occurrence.
            if *version != MQTT_V50 && c.remaining() > 0 {
                let topic_len = c.u16()?;
                if topic_len > 0 {
                    c.skip(usize::from(topic_len))?;
                }
                // The whole byte (reserved bits included): `mqtt.sub.qos` has no mask.
                first(&mut f.sub_qos, c.u8()?);
            }
        }
        SUBACK => {
            first(&mut f.msgid, c.u16()?);
            // Granted QoS in 3.1 and 3.1.1; reason codes otherwise (unknown version included).
            if (*version == MQTT_V31 || *version == MQTT_V311) && c.remaining() > 0 {
                first(&mut f.suback_qos, c.u8()?);
            }
        }
        PUBACK | PUBREC | PUBREL | PUBCOMP | UNSUBSCRIBE | UNSUBACK => {
            first(&mut f.msgid, c.u16()?);
        }
        // PINGREQ, PINGRESP, DISCONNECT, AUTH, reserved: no field of this set past the header.
        _ => {}
    }
    Some(())
}

/// The fields of a frame's messages (`pending`, copied into `buffer`), read in order, the
/// conversation's protocol version updated on CONNECT.
///
/// A PUBLISH after one that set every field a PUBLISH can set is not read unless `GENERAL`:
/// most frames with messages carry several (2.7 messages per such frame on the 1M bench file,
/// most of them PUBLISH), and only the first occurrence of each field counts
/// (`-E occurrence=f`). A PUBLISH changes no version; what it could set is its fixed header's
/// fields, the length, the payload and (QoS above 0) the message id. On the 1M bench file
/// `read_message` went from 1,173,008 calls to 477,152, and `end_packet` from 667.2 M to
/// 638.1 M instructions.
#[inline(always)]
fn read_pending<const GENERAL: bool>(
    pending: &[Pending],
    buffer: &[u8],
    version: &mut u8,
    stats: &mut MqttsetStats,
) -> Fields {
    let mut fields = Fields::default();
    for p in pending {
        stats.messages += 1;
        let Some(frame) = buffer.get(p.frame.start as usize..p.frame.end as usize) else {
            continue;
        };
        // An oversized message is only its first byte: type, flags and the announced length.
        let header_len = if p.oversized {
            stats.oversized_messages += 1;
            1
        } else {
            p.header_len
        };
        if !GENERAL {
            if let Some(&h) = frame.first() {
                if publish_adds_nothing(h, &fields) {
                    continue;
                }
            }
        }
        read_message(
            frame,
            p.frame.start,
            header_len,
            p.remaining_length,
            version,
            &mut fields,
        );
    }
    fields
}

/// Whether a message of first byte `h` is a PUBLISH that cannot add a field to `f`: every
/// field [`read_message`] may set for it is already set.
#[inline(always)]
fn publish_adds_nothing(h: u8, f: &Fields) -> bool {
    h >> 4 == msg_type::PUBLISH
        && f.hdrflags.is_some()
        && f.len.is_some()
        && f.dupflag.is_some()
        && f.qos.is_some()
        && f.retain.is_some()
        && f.msg.is_some()
        && (f.msgid.is_some() || h & 0x06 == 0)
}

/// Writes `raw` as tshark prints an `FT_STRING` field read with `ENC_UTF_8`: invalid sequences
/// become U+FFFD (one per maximal subpart, as `String::from_utf8_lossy`), the value ends at the
/// first NUL, and `-E escape=y` (tshark's default) writes backspace, form feed, line feed,
/// carriage return and tab as `\b \f \n \r \t`.
pub fn render_tshark_string(raw: &[u8], out: &mut String) {
    let raw = match raw.iter().position(|&b| b == 0) {
        Some(nul) => &raw[..nul],
        None => raw,
    };
    for chunk in raw.utf8_chunks() {
        for ch in chunk.valid().chars() {
            match ch {
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                _ => out.push(ch),
            }
        }
        if !chunk.invalid().is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

/// A TCP conversation's key: both ends in a fixed order (lower (address, port) first), so both
/// directions find one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StreamKey {
    lo_addr: [u64; 2],
    hi_addr: [u64; 2],
    ports: u64,
}

/// An address as one number that orders as its bytes do (tshark's `cmp_address`).
fn addr_word(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl StreamKey {
    /// The key of a segment and the side it travels on: 0 when its source is the lower (address,
    /// port) end. tshark splits a conversation into its `fwd`/`rev` flows the same way.
    ///
    /// IPv4 (most traffic) orders each end as one 48-bit number, address above port: the same
    /// order as the (address, port) pair's, without the 128-bit words (`end_packet` 638.1 M ->
    /// 626.7 M instructions on the 1M bench file).
    #[inline(always)]
    fn of(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> (StreamKey, usize) {
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
            let s = u64::from(u32::from(s)) << 16 | u64::from(src_port);
            let d = u64::from(u32::from(d)) << 16 | u64::from(dst_port);
            let (lo, hi, side) = if s <= d { (s, d, 0) } else { (d, s, 1) };
            return (
                StreamKey {
                    lo_addr: [0, lo >> 16],
                    hi_addr: [0, hi >> 16],
                    ports: (lo & 0xffff) << 16 | (hi & 0xffff),
                },
                side,
            );
        }
        StreamKey::of_general(src, src_port, dst, dst_port)
    }

    /// [`StreamKey::of`] for any addresses.
    fn of_general(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> (StreamKey, usize) {
        let s = (addr_word(src), src_port);
        let d = (addr_word(dst), dst_port);
        let (lo, hi, side) = if s <= d { (s, d, 0) } else { (d, s, 1) };
        let split = |a: u128| [(a >> 64) as u64, a as u64];
        (
            StreamKey {
                lo_addr: split(lo.0),
                hi_addr: split(hi.0),
                // IPv4 and IPv6 never share a conversation.
                ports: u64::from(lo.1) << 16 | u64::from(hi.1) | u64::from(src.is_ipv6()) << 32,
            },
            side,
        )
    }
}

/// The high and low halves of a 128-bit product, folded.
#[inline]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let p = u128::from(x) * u128::from(y);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The table's keyed hash: the key's words folded pairwise by 128-bit multiplies with random
/// per-table seeds (foldhash's construction). Traffic cannot aim conversations at one bucket
/// without the seeds, and a packet costs a few nanoseconds instead of SipHash's tens.
#[derive(Clone, Copy, Debug)]
struct KeyHash([u64; 3]);

impl KeyHash {
    fn random() -> Self {
        let state = RandomState::new();
        KeyHash([1u64, 2, 3].map(|i| state.hash_one(i)))
    }

    #[inline]
    fn of(&self, k: &StreamKey) -> u64 {
        let [s0, s1, s2] = self.0;
        let acc = folded_multiply(k.lo_addr[0] ^ s0, k.lo_addr[1] ^ s1);
        let acc = folded_multiply(k.hi_addr[0] ^ acc, k.hi_addr[1] ^ s2);
        folded_multiply(k.ports ^ acc, s1 ^ s2)
    }
}

/// A key with its hash, computed once per packet: the map hashes entries by it alone.
#[derive(Clone, Copy, Debug)]
struct Hashed {
    hash: u64,
    key: StreamKey,
}

impl PartialEq for Hashed {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Hashed {}

impl Hash for Hashed {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.hash);
    }
}

/// Hands a precomputed hash to the map.
#[derive(Clone, Copy, Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `Hashed`; kept total for any other caller.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// One TCP conversation as tshark keeps it, for this set's fields.
#[derive(Clone, Copy, Debug)]
struct Stream {
    /// Timestamp of its previous frame (`tcpd->ts_prev`).
    ts_prev: i64,
    /// Each side's base sequence number once known (`tcpd->flow{1,2}.base_seq`): a pure SYN
    /// with another sequence number starts a new conversation.
    base_seq: [Option<u32>; 2],
    /// The MQTT protocol level of the conversation's last CONNECT (0 before any).
    version: u8,
    /// Seen again since the eviction hand last passed.
    referenced: bool,
}

impl Stream {
    fn new(ts: i64) -> Self {
        Stream {
            ts_prev: ts,
            base_seq: [None; 2],
            version: 0,
            referenced: false,
        }
    }
}

/// A conversation's slot: its key and state.
#[derive(Clone, Copy, Debug)]
struct Slot {
    key: Hashed,
    stream: Stream,
}

/// Entries of the direct-mapped cache in front of the map ([`StreamTable::recent`]).
const RECENT: usize = 1 << 10;

/// Conversations by key, at most `max` of them. Beyond that one is evicted by the CLOCK rule
/// (an approximation of least recently seen): a hand sweeps the slots in the order they were
/// filled, sparing once each conversation seen again since it last passed, so a conversation
/// of a single frame (a scan) goes first. Nothing is allocated once the table is full.
///
/// The map (keyed hash, see [`KeyHash`]) gives a conversation's slot. In front of it a small
/// direct-mapped cache remembers the slot last found for each of [`RECENT`] buckets of a cheap
/// hash of the key: a frame of a conversation seen recently costs the cheap hash and one key
/// comparison instead of the keyed hash and a probe of the map (on the 1M bench file the map
/// is now asked 35,664 times, once per conversation; the set's `end_packet` went from 719.8 M
/// to 667.2 M instructions, `touch` alone was 95.8 M). The cache only ever points at slots
/// whose key is compared before use, so a stale or colliding entry is a miss and costs the
/// map's look-up as before: traffic that defeats the cache costs a few instructions more per
/// frame, never more probes of the map.
#[derive(Debug)]
struct StreamTable {
    /// The slot of each conversation held.
    index: HashMap<Hashed, u32, BuildHasherDefault<PassThrough>>,
    /// The conversations, in the order their slots were filled; the hand's track.
    slots: Vec<Slot>,
    hand: usize,
    max: usize,
    hasher: KeyHash,
    /// The slot last found for each bucket of [`StreamTable::bucket`] (`u32::MAX`: none yet).
    recent: Box<[u32; RECENT]>,
    /// Tests: every frame takes the map's look-up (the path the cache stands in front of).
    #[cfg(test)]
    general: bool,
}

impl StreamTable {
    fn new(max: usize) -> Self {
        StreamTable {
            index: HashMap::default(),
            slots: Vec::new(),
            hand: 0,
            // Slot numbers are `u32`.
            max: max.clamp(1, u32::MAX as usize),
            hasher: KeyHash::random(),
            recent: Box::new([u32::MAX; RECENT]),
            #[cfg(test)]
            general: false,
        }
    }

    /// The cache bucket of `key`: its words folded by xor and one multiply, seeded. Not a
    /// defence against chosen keys (the map's keyed hash is): collisions only cost misses.
    #[inline(always)]
    fn bucket(&self, key: &StreamKey) -> usize {
        let x = key.lo_addr[0]
            ^ key.lo_addr[1]
            ^ key.hi_addr[0]
            ^ key.hi_addr[1].rotate_left(23)
            ^ key.ports.rotate_left(41)
            ^ self.hasher.0[0];
        (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RECENT.trailing_zeros())) as usize
    }

    /// `key`'s conversation, a new one (evicting another when full) when absent.
    #[inline(always)]
    fn touch(&mut self, key: StreamKey, ts: i64, stats: &mut MqttsetStats) -> &mut Stream {
        #[cfg(test)]
        if self.general {
            let slot = self.find_or_insert(key, ts, stats);
            return &mut self.slots[slot].stream;
        }
        let bucket = self.bucket(&key);
        let cached = self.recent.get(bucket).copied().unwrap_or(u32::MAX);
        let slot = match self.slots.get_mut(cached as usize) {
            Some(slot) if slot.key.key == key => {
                slot.stream.referenced = true;
                cached as usize
            }
            _ => {
                let slot = self.find_or_insert(key, ts, stats);
                if let Some(r) = self.recent.get_mut(bucket) {
                    *r = slot as u32;
                }
                slot
            }
        };
        // `slot` is in range: checked above, or just found or filled.
        &mut self.slots[slot].stream
    }

    /// The map's look-up: `key`'s slot (marked as seen again), filled (evicting another when
    /// full) when absent.
    #[inline(never)]
    fn find_or_insert(&mut self, key: StreamKey, ts: i64, stats: &mut MqttsetStats) -> usize {
        let hashed = Hashed {
            hash: self.hasher.of(&key),
            key,
        };
        let full = self.slots.len() >= self.max;
        if full && !self.index.contains_key(&hashed) {
            self.evict_one();
            stats.evicted += 1;
        }
        match self.index.entry(hashed) {
            Entry::Occupied(e) => {
                let at = *e.get() as usize;
                if let Some(slot) = self.slots.get_mut(at) {
                    slot.stream.referenced = true;
                }
                at
            }
            Entry::Vacant(v) => {
                stats.streams += 1;
                let slot = Slot {
                    key: hashed,
                    stream: Stream::new(ts),
                };
                let at = if full {
                    // The slot the hand stopped at was freed for this one.
                    let at = self.hand;
                    self.slots[at] = slot;
                    self.hand = (self.hand + 1) % self.slots.len();
                    at
                } else {
                    self.slots.push(slot);
                    self.slots.len() - 1
                };
                v.insert(at as u32);
                at
            }
        }
    }

    /// Moves the hand to a conversation not seen since it last passed, clearing the marks of
    /// those it spares, and forgets that conversation (its slot is then reused).
    #[cold]
    #[inline(never)]
    fn evict_one(&mut self) {
        loop {
            let slot = &mut self.slots[self.hand];
            if slot.stream.referenced {
                slot.stream.referenced = false;
                self.hand = (self.hand + 1) % self.slots.len();
            } else {
                let key = slot.key;
                self.index.remove(&key);
                return;
            }
        }
    }
}

/// A segment's step in its conversation, as packet-tcp.c takes it: a new conversation when
/// ports are reused, the frame's `tcp.time_delta`, the sides' base sequence numbers.
fn advance(
    stream: &mut Stream,
    side: usize,
    ts: i64,
    (seq, ack, flags): (u32, u32, TcpFlags),
    stats: &mut MqttsetStats,
) -> i64 {
    // A SYN (without ACK) whose sequence number differs from the side's base sequence number
    // opens a new conversation on the same ports ("ports reused").
    let pure_syn = flags.0 & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN;
    if pure_syn && stream.base_seq[side].is_some_and(|base| base != seq) {
        *stream = Stream {
            referenced: true,
            ..Stream::new(ts)
        };
        stats.ports_reused += 1;
        stats.streams += 1;
    }
    let delta = ts.wrapping_sub(stream.ts_prev);
    stream.ts_prev = ts;
    // tcp_analyze_sequence_number: the sender's base from its first segment (the SYN's sequence
    // number, else one before), the peer's from the first acknowledgement.
    if stream.base_seq[side].is_none() {
        stream.base_seq[side] = Some(if flags.has(TcpFlags::SYN) {
            seq
        } else {
            seq.wrapping_sub(1)
        });
    }
    if stream.base_seq[1 - side].is_none() && flags.has(TcpFlags::ACK) {
        stream.base_seq[1 - side] = Some(ack.wrapping_sub(1));
    }
    delta
}

/// Builds `mqttset` rows.
#[derive(Debug)]
pub struct MqttsetSet {
    streams: StreamTable,
    /// The current frame's messages, copied (they borrow reassembly buffers).
    buffer: Vec<u8>,
    pending: Vec<Pending>,
    /// Rendering scratch for string fields.
    text: String,
    /// The end of a row without messages, made once per absent text and label.
    bare: BareTail,
    stats: MqttsetStats,
    /// Tests: the general paths (keys through 128-bit words, every message read).
    #[cfg(test)]
    general: bool,
}

impl Default for MqttsetSet {
    fn default() -> Self {
        MqttsetSet::with_max_streams(DEFAULT_MAX_STREAMS)
    }
}

impl MqttsetSet {
    /// A fresh set remembering up to [`DEFAULT_MAX_STREAMS`] TCP conversations.
    pub fn new() -> Self {
        MqttsetSet::default()
    }

    /// A fresh set remembering up to `max_streams` TCP conversations.
    pub fn with_max_streams(max_streams: usize) -> Self {
        MqttsetSet {
            streams: StreamTable::new(max_streams),
            buffer: Vec::new(),
            pending: Vec::new(),
            text: String::new(),
            bare: BareTail::default(),
            stats: MqttsetStats::default(),
            #[cfg(test)]
            general: false,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> MqttsetStats {
        MqttsetStats {
            open_streams: self.streams.index.len() as u64,
            ..self.stats
        }
    }

    fn clear_pending(&mut self) {
        self.buffer.clear();
        self.pending.clear();
    }

    /// The 30 `mqtt.*` columns of a frame that completed messages.
    fn mqtt_fields<S: RowSink>(&mut self, sink: &mut S, f: &Fields) {
        Self::opt_uint(sink, f.conack_flags.map(u64::from));
        Self::opt_bool(sink, f.conack_flags_reserved);
        Self::opt_bool(sink, f.conack_flags_sp);
        Self::opt_uint(sink, f.conack_val.map(u64::from));
        let bit = |mask: u8| f.conflags.map(|c| c & mask != 0);
        Self::opt_bool(sink, bit(0x02)); // cleansess
        Self::opt_bool(sink, bit(0x40)); // passwd
        Self::opt_uint(sink, f.conflags.map(|c| u64::from((c >> 3) & 0x03))); // qos
        Self::opt_bool(sink, bit(0x01)); // reserved
        Self::opt_bool(sink, bit(0x20)); // retain
        Self::opt_bool(sink, bit(0x80)); // uname
        Self::opt_bool(sink, bit(0x04)); // willflag
        Self::opt_uint(sink, f.conflags.map(u64::from));
        Self::opt_bool(sink, f.dupflag);
        Self::opt_uint(sink, f.hdrflags.map(u64::from));
        Self::opt_uint(sink, f.kalive.map(u64::from));
        Self::opt_uint(sink, f.len);
        self.opt_bytes(sink, f.msg);
        Self::opt_uint(sink, f.msgid.map(u64::from));
        Self::opt_uint(sink, f.hdrflags.map(|h| u64::from(h >> 4))); // msgtype
        Self::opt_uint(sink, f.proto_len.map(u64::from));
        self.opt_str(sink, f.protoname);
        Self::opt_uint(sink, f.qos.map(u64::from));
        Self::opt_bool(sink, f.retain);
        Self::opt_uint(sink, f.sub_qos.map(u64::from));
        Self::opt_uint(sink, f.suback_qos.map(u64::from));
        Self::opt_uint(sink, f.ver.map(u64::from));
        self.opt_bytes(sink, f.willmsg);
        Self::opt_uint(sink, f.willmsg_len.map(u64::from));
        self.opt_str(sink, f.willtopic);
        Self::opt_uint(sink, f.willtopic_len.map(u64::from));
    }

    #[inline]
    fn opt_uint<S: RowSink>(sink: &mut S, v: Option<u64>) {
        match v {
            Some(v) => sink.uint(v),
            None => sink.null(),
        }
    }

    #[inline]
    fn opt_bool<S: RowSink>(sink: &mut S, v: Option<bool>) {
        Self::opt_uint(sink, v.map(u64::from));
    }

    fn opt_bytes<S: RowSink>(&self, sink: &mut S, v: Option<Span>) {
        match v.and_then(|s| self.buffer.get(s.start as usize..s.end as usize)) {
            Some(b) => sink.bytes(b),
            None => sink.null(),
        }
    }

    fn opt_str<S: RowSink>(&mut self, sink: &mut S, v: Option<Span>) {
        match v.and_then(|s| self.buffer.get(s.start as usize..s.end as usize)) {
            Some(b) => {
                self.text.clear();
                render_tshark_string(b, &mut self.text);
                sink.str(&self.text);
            }
            None => sink.null(),
        }
    }
}

impl FrameSet for MqttsetSet {
    /// Copies the message: which fields it has depends on the conversation's protocol version,
    /// and the conversation is known only with the packet, at [`FrameSet::end_packet`].
    fn on_message(&mut self, event: &MessageEvent<'_>) {
        let (bytes, oversized): (&[u8], bool) = match &event.message {
            Some(m) => (m.frame, false),
            None => (&[event.header.first_byte], true),
        };
        let start = self.buffer.len();
        let Ok(end) = u32::try_from(start + bytes.len()) else {
            // Over 4 GiB of messages completed by one frame: cannot happen with the tracker's
            // caps; drop rather than wrap.
            return;
        };
        self.buffer.extend_from_slice(bytes);
        self.pending.push(Pending {
            frame: Span {
                start: start as u32,
                end,
            },
            header_len: event.header.header_len,
            remaining_length: event.header.remaining_length,
            oversized,
        });
    }

    fn end_packet<S: RowSink>(
        &mut self,
        packet: &Packet<'_>,
        _mqtt: bool,
        labels: &Labeler,
        sink: &mut S,
    ) -> io::Result<()> {
        let (
            Some(ip),
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                ..
            },
        ) = (packet.ip, packet.transport)
        else {
            self.clear_pending();
            return Ok(());
        };
        let ts = packet.frame.ts_ns;
        let (key, side) = StreamKey::of(ip.src, src_port, ip.dst, dst_port);
        #[cfg(test)]
        let (key, side) = if self.general {
            StreamKey::of_general(ip.src, src_port, ip.dst, dst_port)
        } else {
            (key, side)
        };
        let stream = self.streams.touch(key, ts, &mut self.stats);
        let delta_ns = advance(stream, side, ts, (seq, ack, flags), &mut self.stats);

        // Most frames complete no message: no fields to clear for them.
        let fields = (!self.pending.is_empty()).then(|| {
            let mut version = stream.version;
            #[cfg(test)]
            if self.general {
                let fields = read_pending::<true>(
                    &self.pending,
                    &self.buffer,
                    &mut version,
                    &mut self.stats,
                );
                stream.version = version;
                return fields;
            }
            let fields =
                read_pending::<false>(&self.pending, &self.buffer, &mut version, &mut self.stats);
            stream.version = version;
            fields
        });

        // tshark's tcp.len is what the IP header announces; when the capture cut the segment
        // (snap length), the bytes missing from the frame are added back.
        let mut tcp_len = packet.payload.len() as u64;
        if packet.truncated {
            tcp_len +=
                u64::from(packet.frame.orig_len).saturating_sub(packet.frame.data.len() as u64);
        }

        // Without rules or attackers every row's label is the run's class: no per-row call.
        let label = labels.fixed().unwrap_or_else(|| {
            labels.label(&Subject {
                src: ip.src,
                dst: ip.dst,
                src_port,
                dst_port,
                ts_ns: ts,
            })
        });
        let class = label.class;
        self.stats.rows += 1;
        let head = Head {
            flags: flags.0 & 0x0fff,
            delta_ns,
            tcp_len,
        };
        let result = self.write_row(sink, &head, fields.as_ref(), class);
        self.clear_pending();
        result
    }
}

/// The fields of a row before the `mqtt.*` ones.
#[derive(Clone, Copy, Debug)]
struct Head {
    /// The 12 TCP flag bits.
    flags: u16,
    delta_ns: i64,
    tcp_len: u64,
}

impl MqttsetSet {
    /// Writes a row: appended at once to a CSV sink's line ([`RowSink::csv_row`]), else cell
    /// by cell. `fields` is `None` for a frame without messages.
    fn write_row<S: RowSink>(
        &mut self,
        sink: &mut S,
        head: &Head,
        fields: Option<&Fields>,
        class: Option<&str>,
    ) -> io::Result<()> {
        if let Some(row) = sink.csv_row() {
            // The two absent texts the CLI writes; any other takes the cell calls.
            let zero = match row.absent {
                "0" => Some(true),
                "" => Some(false),
                _ => None,
            };
            if let (Some(zero), 0) = (zero, row.column()) {
                // Most rows (57 % on the bench file) have no message: their head, then the
                // tail made once for this absent text and label. On the 1M bench file the
                // whole command went 2,903.1 M -> 2,892.6 M instructions (`csv_row` 287 M ->
                // 188 M, `end_packet` 642 M -> 632 M with `bare_row` inlined).
                if fields.is_none() && bare_row(row.line, head, self.bare.get(zero, class)) {
                    row.wrote(COLUMNS.len());
                    return sink.end_row();
                }
                let (buffer, text) = (&self.buffer[..], &mut self.text);
                if zero {
                    csv_row::<true>(row.line, head, fields, buffer, text, class);
                } else {
                    csv_row::<false>(row.line, head, fields, buffer, text, class);
                }
                row.wrote(COLUMNS.len());
                return sink.end_row();
            }
        }
        self.cells(sink, head, fields, class)
    }

    /// The row through the sink's cell calls (Parquet, the online detector, other absent texts).
    fn cells<S: RowSink>(
        &mut self,
        sink: &mut S,
        head: &Head,
        fields: Option<&Fields>,
        class: Option<&str>,
    ) -> io::Result<()> {
        let Head {
            flags,
            delta_ns,
            tcp_len,
        } = *head;
        // Most rows are mostly absent fields: each run of them goes to the sink at once.
        let sink = &mut NullRuns::new(sink);
        sink.uint(u64::from(flags));
        sink.float(delta_ns as f64 / 1e9);
        sink.uint(tcp_len);
        match fields {
            Some(fields) => self.mqtt_fields(sink, fields),
            // No message completed in this frame (an ACK, a SYN, a segment of a longer
            // message): all 30 `mqtt.*` fields are absent, as `mqtt_fields` would write them.
            None => sink.nulls(MQTT_FIELDS),
        }
        match class {
            Some(class) => sink.str(class),
            None => sink.null(),
        }
        sink.end_row()
    }
}

/// Longest tail [`BareTail`] keeps: the 30 absent `mqtt.*` cells (60 bytes with `0`) and a
/// label of up to 66 bytes; a longer label takes [`csv_row`].
const BARE_TAIL: usize = 128;

/// Longest head [`bare_row`] writes: `0x0fff,` (7), `-999999.999999999` (17), `,` and eight
/// digits (9), and room for the last eight-byte store.
const BARE_HEAD: usize = 40;

/// The cells after `tcp.len` of a row without messages — 30 absent `mqtt.*` cells and the
/// `target` cell — as [`csv_row`] writes them, for the last absent text and label seen (a run
/// has one absent text and, without label rules, one label).
#[derive(Debug, Default)]
struct BareTail {
    /// Made at all; then for which absent text (`0` or empty) and label.
    made: bool,
    zero: bool,
    has_class: bool,
    class: Vec<u8>,
    tail: Vec<u8>,
    /// `tail` in a fixed-size array for one fixed-size copy; `None` when it is too long.
    fixed: Option<([u8; BARE_TAIL], usize)>,
}

impl BareTail {
    /// The tail for absent cells `0` (`zero`) or empty and label `class`.
    #[inline]
    fn get(&mut self, zero: bool, class: Option<&str>) -> Option<&([u8; BARE_TAIL], usize)> {
        let same = self.made
            && self.zero == zero
            && match class {
                Some(c) => self.has_class && self.class == c.as_bytes(),
                None => !self.has_class,
            };
        if !same {
            self.make(zero, class);
        }
        self.fixed.as_ref()
    }

    #[cold]
    fn make(&mut self, zero: bool, class: Option<&str>) {
        (self.made, self.zero, self.has_class) = (true, zero, class.is_some());
        self.class.clear();
        self.class.extend_from_slice(class.unwrap_or("").as_bytes());
        let absent: &[u8] = if zero { b",0" } else { b"," };
        self.tail.clear();
        for _ in 0..MQTT_FIELDS {
            self.tail.extend_from_slice(absent);
        }
        match class {
            Some(class) => {
                self.tail.push(b',');
                crate::sink::push_text(&mut self.tail, class.as_bytes());
            }
            None => self.tail.extend_from_slice(absent),
        }
        self.fixed = self
            .tail
            .get(..BARE_TAIL.min(self.tail.len()))
            .and_then(|t| {
                let mut fixed = [0u8; BARE_TAIL];
                fixed[..t.len()].copy_from_slice(t);
                (t.len() == self.tail.len()).then_some((fixed, t.len()))
            });
    }
}

/// The digits of `v < 10^8`, as [`CsvLine::digits`] writes them, stored at `at` in one eight-byte
/// store; the new cursor.
#[inline(always)]
fn put_digits8(buf: &mut [u8; BARE_HEAD], at: usize, v: u32) -> usize {
    if v < 10 {
        buf[at] = b'0' + v as u8;
        return at + 1;
    }
    let n = 2
        + usize::from(v >= 100)
        + usize::from(v >= 1_000)
        + usize::from(v >= 10_000)
        + usize::from(v >= 100_000)
        + usize::from(v >= 1_000_000)
        + usize::from(v >= 10_000_000);
    let word = (eight_digits(v) + ASCII_ZEROS) >> (8 * (8 - n));
    buf[at..at + 8].copy_from_slice(&word.to_le_bytes());
    at + n
}

/// Appends a row without messages — `tcp.flags`, `tcp.time_delta`, `tcp.len`, then `tail` —
/// to a CSV sink's line, byte for byte as [`csv_row`] writes it: the head in one fixed-size
/// array, the tail in one fixed-size copy, no chunk and no per-cell checks. False (nothing
/// written) when the row needs [`csv_row`]: a delta of 10^6 s or more (the formatter's text),
/// a `tcp.len` of 10^8 or more, a tail too long.
#[inline(always)]
fn bare_row(line: &mut Vec<u8>, head: &Head, tail: Option<&([u8; BARE_TAIL], usize)>) -> bool {
    let abs = head.delta_ns.unsigned_abs();
    let (Some((tail, tail_len)), true, true) = (
        tail,
        abs < 1_000_000_000_000_000,
        head.tcp_len < 100_000_000,
    ) else {
        return false;
    };
    let mut buf = [0u8; BARE_HEAD];
    let flags = usize::from(head.flags);
    buf[..8].copy_from_slice(&[
        b'0',
        b'x',
        b'0',
        HEX_DIGITS[flags >> 8 & 15],
        HEX_DIGITS[flags >> 4 & 15],
        HEX_DIGITS[flags & 15],
        b',',
        b'-',
    ]);
    let mut at = 7 + usize::from(head.delta_ns < 0);
    at = put_digits8(&mut buf, at, (abs / 1_000_000_000) as u32);
    let frac = (abs % 1_000_000_000) as u32;
    buf[at..at + 2].copy_from_slice(&[b'.', b'0' + (frac / 100_000_000) as u8]);
    buf[at + 2..at + 10]
        .copy_from_slice(&(eight_digits(frac % 100_000_000) + ASCII_ZEROS).to_le_bytes());
    buf[at + 10] = b',';
    at = put_digits8(&mut buf, at + 11, head.tcp_len as u32);
    let start = line.len();
    line.reserve(BARE_HEAD + BARE_TAIL);
    line.extend_from_slice(&buf);
    line.truncate(start + at);
    line.extend_from_slice(tail);
    line.truncate(start + at + tail_len);
    true
}

/// Runs of absent cells as the CSV sink writes them: `,0` each (the MQTTset CSVs' absent text)
/// or `,` (`--empty-absent`); the longest run is a row's 30 `mqtt.*` fields and its `target`.
const ABSENT_ZEROS: &[u8; 64] = b",0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0";
const ABSENT_EMPTY: &[u8; 32] = b",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,";

/// How tshark's `-T fields` writes a present, empty `FT_BYTES` field (an empty PUBLISH payload),
/// as the CSV sink writes it.
const EMPTY_BYTES: &[u8] = b"<MISSING>";

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Each byte's two lower-case hex digits.
static HEX_PAIRS: [[u8; 2]; 256] = {
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [HEX_DIGITS[i >> 4], HEX_DIGITS[i & 15]];
        i += 1;
    }
    pairs
};

/// `00` to `99`.
static DECIMAL_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    pairs
};

/// `'0'` in each byte of a word of eight digits.
const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `v < 10^8`, most significant first, one per byte of the result
/// read little-endian (values 0 to 9: add [`ASCII_ZEROS`] for text). Splits the number in
/// halves, quarters and digits with multiplications in parallel lanes instead of a division
/// per digit.
#[inline]
fn eight_digits(v: u32) -> u64 {
    debug_assert!(v < 100_000_000);
    let v = u64::from(v);
    // Two 32-bit lanes: the high four digits, the low four.
    let x = (v / 10_000) | ((v % 10_000) << 32);
    // Each lane split in two-digit halves (x / 100 is x * 10486 >> 20 below 43,699), into
    // four 16-bit lanes.
    let hi = ((x * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let x = hi | ((x - hi * 100) << 16);
    // Each 16-bit lane split in digits (x / 10 is x * 103 >> 10 below 179), into bytes.
    let hi = ((x * 103) >> 10) & 0x000f_000f_000f_000f;
    hi | ((x - hi * 10) << 8)
}

/// `bytes` in lower-case hex (not empty).
fn push_hex_bytes(line: &mut Vec<u8>, bytes: &[u8]) {
    line.reserve(2 * bytes.len());
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut text = [0u8; 16];
        for (pair, &b) in text.chunks_exact_mut(2).zip(chunk) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
        }
        line.extend_from_slice(&text);
    }
    for &b in chunks.remainder() {
        line.extend_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

/// Bytes of a row gathered before they go to the line, in one fixed-size copy.
const CHUNK: usize = 128;

/// Appends a row to a CSV sink's line ([`RowSink::csv_row`]), byte for byte as the set's cell
/// calls would make it, absent cells `0` when `ZERO` (else empty).
fn csv_row<const ZERO: bool>(
    line: &mut Vec<u8>,
    head: &Head,
    fields: Option<&Fields>,
    buffer: &[u8],
    text: &mut String,
    class: Option<&str>,
) {
    let mut chunk = [0u8; CHUNK];
    let mut out = CsvLine::<ZERO> {
        line,
        chunk: &mut chunk,
        at: 0,
    };
    out.row(head, fields, buffer, text, class);
    out.flush();
}

/// The chunk's first `at` bytes moved to the line: one fixed-size copy, cut to length.
#[inline(never)]
fn flush_chunk(line: &mut Vec<u8>, chunk: &[u8; CHUNK], at: usize) {
    let end = line.len() + at;
    line.extend_from_slice(chunk);
    line.truncate(end);
}

/// A row being appended to a CSV sink's line: the set's usual output without a call,
/// separator and column look-up per cell. Cells gather in a chunk (fixed-size stores at a
/// cursor held in a register: the chunk is another object, so its stores cannot move the
/// cursor) that goes to the line in one fixed-size copy; a cell of variable length (hex beyond
/// 16 bytes, text) goes to the line itself after the chunk. Every method is inlined into
/// [`csv_row`] but the rare paths, which take the cursor by value.
struct CsvLine<'a, const ZERO: bool> {
    line: &'a mut Vec<u8>,
    chunk: &'a mut [u8; CHUNK],
    /// Bytes used in `chunk`.
    at: usize,
}

impl<const ZERO: bool> CsvLine<'_, ZERO> {
    /// Moves the chunk's bytes to the line.
    #[inline(always)]
    fn flush(&mut self) {
        flush_chunk(self.line, self.chunk, self.at);
        self.at = 0;
    }

    /// Room for `n` more bytes in the chunk (`n` at most [`CHUNK`]).
    #[inline(always)]
    fn room(&mut self, n: usize) {
        if self.at + n > CHUNK {
            self.flush();
        }
    }

    /// Appends `bytes` (at most [`CHUNK`]; a constant length where it matters): one bounds
    /// check, the chunk moved to the line first when it is full.
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        match self.chunk.get_mut(self.at..self.at + bytes.len()) {
            Some(to) => {
                to.copy_from_slice(bytes);
                self.at += bytes.len();
            }
            None => {
                self.flush();
                if let Some(to) = self.chunk.get_mut(..bytes.len()) {
                    to.copy_from_slice(bytes);
                    self.at = bytes.len();
                }
            }
        }
    }

    /// Eight bytes written, `n` of them kept (the rest is overwritten or cut).
    #[inline(always)]
    fn put8(&mut self, word: u64, n: usize) {
        match self.chunk.get_mut(self.at..self.at + 8) {
            Some(to) => {
                to.copy_from_slice(&word.to_le_bytes());
                self.at += n;
            }
            None => {
                self.flush();
                self.chunk[..8].copy_from_slice(&word.to_le_bytes());
                self.at = n;
            }
        }
    }

    /// The decimal digits of `v`, as the CSV sink writes an unsigned cell, without the
    /// formatter: one byte below 10, a pair below 100, two pairs below 10^4 (flags, lengths,
    /// message ids), eight digits at once below 10^8, shifted past their leading zeros.
    #[inline(always)]
    fn digits(&mut self, v: u64) {
        if v < 10 {
            self.put(&[b'0' + v as u8]);
        } else if v < 100 {
            self.put(&DECIMAL_PAIRS[v as usize]);
        } else if v < 10_000 {
            let ([a, b], [c, d]) = (
                DECIMAL_PAIRS[(v / 100) as usize],
                DECIMAL_PAIRS[(v % 100) as usize],
            );
            let n = 3 + usize::from(v >= 1000);
            let word = u32::from_le_bytes([a, b, c, d]) >> (8 * (4 - n));
            self.put8(u64::from(word), n);
        } else if v < 100_000_000 {
            let n = 5
                + usize::from(v >= 100_000)
                + usize::from(v >= 1_000_000)
                + usize::from(v >= 10_000_000);
            self.put8((eight_digits(v as u32) + ASCII_ZEROS) >> (8 * (8 - n)), n);
        } else {
            self.flush();
            self.line
                .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        }
    }

    /// `ns` nanoseconds as seconds with nine decimals, as the CSV sink writes the `Fixed(9)`
    /// cell `ns as f64 / 1e9`: below 10^15 ns (10^6 s) that float is within a small fraction of
    /// a nanosecond of `ns`, so its nine-decimal text is `ns`'s digits; beyond, the formatter's
    /// text of the float, as the sink writes it.
    #[inline(always)]
    fn seconds(&mut self, ns: i64) {
        let abs = ns.unsigned_abs();
        if abs >= 1_000_000_000_000_000 {
            self.flush();
            push_float_seconds(self.line, ns);
            return;
        }
        if ns < 0 {
            self.put(b"-");
        }
        self.digits(abs / 1_000_000_000);
        let frac = (abs % 1_000_000_000) as u32;
        let mut text = [b'.'; 10];
        text[1] = b'0' + (frac / 100_000_000) as u8;
        text[2..].copy_from_slice(&(eight_digits(frac % 100_000_000) + ASCII_ZEROS).to_le_bytes());
        self.put(&text);
    }

    /// The whole row, without its line end (part of it may still be in the chunk).
    #[inline(always)]
    fn row(
        &mut self,
        head: &Head,
        fields: Option<&Fields>,
        buffer: &[u8],
        text: &mut String,
        class: Option<&str>,
    ) {
        let flags = usize::from(head.flags);
        self.put(&[
            b'0',
            b'x',
            b'0',
            HEX_DIGITS[flags >> 8 & 15],
            HEX_DIGITS[flags >> 4 & 15],
            HEX_DIGITS[flags & 15],
            b',',
        ]);
        self.seconds(head.delta_ns);
        self.put(b",");
        self.digits(head.tcp_len);
        match (fields, class) {
            (None, None) => return self.absent(MQTT_FIELDS + 1),
            (None, Some(_)) => self.absent(MQTT_FIELDS),
            (Some(f), _) => self.mqtt_fields(f, buffer, text),
        }
        match class {
            Some(class) => {
                self.flush();
                push_text_cell(self.line, class.as_bytes());
            }
            None => self.absent(1),
        }
    }

    /// The 30 `mqtt.*` cells, as [`MqttsetSet::mqtt_fields`] writes them.
    #[inline(always)]
    fn mqtt_fields(&mut self, f: &Fields, buffer: &[u8], text: &mut String) {
        if f.conack_flags.is_none()
            && f.conack_flags_reserved.is_none()
            && f.conack_flags_sp.is_none()
            && f.conack_val.is_none()
        {
            self.absent(4);
        } else {
            self.hex2(f.conack_flags);
            self.uint(f.conack_flags_reserved.map(u64::from));
            self.uint(f.conack_flags_sp.map(u64::from));
            self.uint(f.conack_val.map(u64::from));
        }
        match f.conflags {
            // cleansess, passwd, qos, reserved, retain, uname, willflag, then the byte.
            Some(c) => {
                let bit = |mask: u8| b'0' + u8::from(c & mask != 0);
                self.put(&[
                    b',',
                    bit(0x02),
                    b',',
                    bit(0x40),
                    b',',
                    b'0' + (c >> 3 & 0x03),
                    b',',
                    bit(0x01),
                    b',',
                    bit(0x20),
                    b',',
                    bit(0x80),
                    b',',
                    bit(0x04),
                ]);
                self.hex2(Some(c));
            }
            None => self.absent(8),
        }
        self.uint(f.dupflag.map(u64::from));
        self.hex2(f.hdrflags);
        self.uint(f.kalive.map(u64::from));
        self.uint(f.len);
        self.bytes(f.msg, buffer);
        self.uint(f.msgid.map(u64::from));
        self.uint(f.hdrflags.map(|h| u64::from(h >> 4))); // msgtype
        self.uint(f.proto_len.map(u64::from));
        self.text(f.protoname, buffer, text);
        self.uint(f.qos.map(u64::from));
        self.uint(f.retain.map(u64::from));
        self.uint(f.sub_qos.map(u64::from));
        self.uint(f.suback_qos.map(u64::from));
        self.uint(f.ver.map(u64::from));
        if f.willmsg.is_none()
            && f.willmsg_len.is_none()
            && f.willtopic.is_none()
            && f.willtopic_len.is_none()
        {
            self.absent(4);
        } else {
            self.bytes(f.willmsg, buffer);
            self.uint(f.willmsg_len.map(u64::from));
            self.text(f.willtopic, buffer, text);
            self.uint(f.willtopic_len.map(u64::from));
        }
    }

    /// `n` absent cells (at most 32), one fixed-size copy.
    #[inline(always)]
    fn absent(&mut self, n: usize) {
        if ZERO {
            self.put(&ABSENT_ZEROS[..2 * n]);
        } else {
            self.put(&ABSENT_EMPTY[..n]);
        }
    }

    #[inline(always)]
    fn uint(&mut self, v: Option<u64>) {
        match v {
            Some(v) => {
                self.put(b",");
                self.digits(v);
            }
            None => self.absent(1),
        }
    }

    /// A `Hex(2)` cell of a byte: `0x` and two digits.
    #[inline(always)]
    fn hex2(&mut self, v: Option<u8>) {
        match v {
            Some(v) => {
                let [hi, lo] = HEX_PAIRS[usize::from(v)];
                self.put(&[b',', b'0', b'x', hi, lo]);
            }
            None => self.absent(1),
        }
    }

    /// A `Bytes` cell: lower-case hex, `<MISSING>` when present but empty.
    #[inline(always)]
    fn bytes(&mut self, v: Option<Span>, buffer: &[u8]) {
        let Some(b) = v.and_then(|s| buffer.get(s.start as usize..s.end as usize)) else {
            return self.absent(1);
        };
        if b.len() > 16 {
            self.flush();
            self.line.push(b',');
            push_hex_bytes(self.line, b);
        } else {
            self.room(1 + EMPTY_BYTES.len().max(32));
            self.at = put_short_hex(self.chunk, self.at, b);
        }
    }

    /// A `Str` cell rendered as tshark prints the string.
    #[inline(always)]
    fn text(&mut self, v: Option<Span>, buffer: &[u8], text: &mut String) {
        match v.and_then(|s| buffer.get(s.start as usize..s.end as usize)) {
            Some(b) => {
                self.flush();
                push_tshark_text_cell(self.line, b, text);
            }
            None => self.absent(1),
        }
    }
}

/// `,` and at most 16 bytes in hex (`<MISSING>` for none) at `at`, which leaves room for them;
/// the new cursor.
#[inline(never)]
fn put_short_hex(chunk: &mut [u8; CHUNK], at: usize, bytes: &[u8]) -> usize {
    let mut cell = [0u8; 33];
    cell[0] = b',';
    let n = if bytes.is_empty() {
        cell[1..1 + EMPTY_BYTES.len()].copy_from_slice(EMPTY_BYTES);
        1 + EMPTY_BYTES.len()
    } else {
        for (pair, &b) in cell[1..].chunks_exact_mut(2).zip(bytes) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
        }
        1 + 2 * bytes.len().min(16)
    };
    match chunk.get_mut(at..at + cell.len()) {
        Some(to) => {
            to.copy_from_slice(&cell);
            at + n
        }
        None => at,
    }
}

/// `,` and `text` as a CSV cell, quoted as the sink's `str` quotes (the rare text cells:
/// protocol name, will topic, label).
#[inline(never)]
fn push_text_cell(line: &mut Vec<u8>, text: &[u8]) {
    line.push(b',');
    crate::sink::push_text(line, text);
}

/// `,` and `raw` as tshark prints a string, as a CSV cell.
#[inline(never)]
fn push_tshark_text_cell(line: &mut Vec<u8>, raw: &[u8], text: &mut String) {
    text.clear();
    render_tshark_string(raw, text);
    push_text_cell(line, text.as_bytes());
}

/// Seconds from 10^6 up, as the CSV sink writes `ns as f64 / 1e9` (the formatter).
#[inline(never)]
fn push_float_seconds(line: &mut Vec<u8>, ns: i64) {
    use std::io::Write as _;
    let _ = write!(line, "{:.9}", ns as f64 / 1e9);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_mqtt_fields_are_the_columns_between_tcp_len_and_target() {
        // The shortcut for frames without messages writes MQTT_FIELDS absent cells where
        // `mqtt_fields` writes one per column from `mqtt.conack.flags` to `mqtt.willtopic_len`.
        let names: Vec<&str> = SCHEMA.names().collect();
        let first = names
            .iter()
            .position(|&n| n == "mqtt.conack.flags")
            .unwrap();
        let last = names
            .iter()
            .position(|&n| n == "mqtt.willtopic_len")
            .unwrap();
        assert_eq!((first, last + 1 - first), (3, MQTT_FIELDS));
        assert_eq!(names[..3], ["tcp.flags", "tcp.time_delta", "tcp.len"]);
        assert_eq!(names[names.len() - 1], "target");

        // Both paths write the same row for a frame without messages.
        let mut set = MqttsetSet::new();
        let mut general = crate::sink::CsvSink::new(Vec::new(), SCHEMA, "0").unwrap();
        let mut shortcut = crate::sink::CsvSink::new(Vec::new(), SCHEMA, "0").unwrap();
        for sink in [&mut general, &mut shortcut] {
            sink.uint(0x10);
            sink.float(0.25);
            sink.uint(0);
        }
        set.mqtt_fields(&mut NullRuns::new(&mut general), &Fields::default());
        NullRuns::new(&mut shortcut).nulls(MQTT_FIELDS);
        for sink in [&mut general, &mut shortcut] {
            sink.null();
            sink.end_row().unwrap();
        }
        assert_eq!(general.finish().unwrap(), shortcut.finish().unwrap());
    }

    /// Rows written both ways: appended to the CSV line, and through the cell calls (the CSV
    /// sink seen as any other sink).
    fn both_ways(
        absent: &'static str,
        buffer: &[u8],
        rows: &[(Head, Option<Fields>, Option<&str>)],
    ) -> (String, String) {
        let mut direct = crate::sink::CsvSink::new(Vec::new(), SCHEMA, absent).unwrap();
        let mut cells =
            crate::sink::CellsOnly(crate::sink::CsvSink::new(Vec::new(), SCHEMA, absent).unwrap());
        let mut set = MqttsetSet::new();
        set.buffer.extend_from_slice(buffer);
        for (head, fields, class) in rows {
            set.write_row(&mut direct, head, fields.as_ref(), *class)
                .unwrap();
            set.write_row(&mut cells, head, fields.as_ref(), *class)
                .unwrap();
        }
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
        (
            text(direct.finish().unwrap()),
            text(cells.0.finish().unwrap()),
        )
    }

    /// A seeded xorshift.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Time deltas at the edges of the fast rendering (whole digits below 10^15 ns, the
    /// formatter above) and of its digit groups.
    const DELTAS: [i64; 22] = [
        0,
        1,
        9,
        12_000,
        99_999_999,
        100_000_000,
        999_999_999,
        1_000_000_000,
        1_000_000_001,
        86_400_123_456_789,
        999_999_999_999_999,
        1_000_000_000_000_000,
        1_000_000_000_000_001,
        4_503_599_627_370_497,
        9_007_199_254_740_993,
        i64::MAX,
        -1,
        -999_999_999,
        -1_000_000_000_000_000,
        -5_000_000_000_000_123,
        i64::MIN,
        123_456_789_012,
    ];

    #[test]
    fn direct_rows_equal_cell_rows_on_constructed_fields() {
        // The message buffer: a protocol name and a will topic needing CSV quotes and tshark
        // escapes, invalid UTF-8 and a NUL, payloads of 0, 1, 8, 16, 17 and 40 bytes.
        let mut buffer = Vec::new();
        let mut span = |bytes: &[u8]| {
            let start = buffer.len() as u32;
            buffer.extend_from_slice(bytes);
            Span {
                start,
                end: buffer.len() as u32,
            }
        };
        let plain_name = span(b"MQTT");
        let quoted_name = span(b"MQ\"T,T");
        let line_topic = span(b"a/b\nc\r\"d\"\xff\xfe/e\0tail");
        let comma_topic = span(b"x,y");
        let empty = span(b"");
        let payloads: Vec<Span> = [1usize, 8, 16, 17, 40]
            .iter()
            .map(|&n| span(&(0..n as u8).map(|i| i.wrapping_mul(37)).collect::<Vec<_>>()))
            .collect();
        let all_present = Fields {
            hdrflags: Some(0x3d),
            len: Some(268_435_455),
            dupflag: Some(true),
            qos: Some(3),
            retain: Some(true),
            conflags: Some(0xff),
            conack_flags: Some(0xab),
            conack_flags_reserved: Some(true),
            conack_flags_sp: Some(false),
            conack_val: Some(255),
            kalive: Some(65_535),
            msg: Some(payloads[4]),
            msgid: Some(65_535),
            proto_len: Some(65_535),
            protoname: Some(quoted_name),
            sub_qos: Some(255),
            suback_qos: Some(128),
            ver: Some(255),
            willmsg: Some(payloads[3]),
            willmsg_len: Some(65_535),
            willtopic: Some(line_topic),
            willtopic_len: Some(65_535),
        };
        let connect = Fields {
            hdrflags: Some(0x10),
            len: Some(35),
            conflags: Some(0x2e),
            kalive: Some(60),
            proto_len: Some(4),
            protoname: Some(plain_name),
            ver: Some(4),
            willtopic_len: Some(3),
            willtopic: Some(comma_topic),
            willmsg_len: Some(0),
            willmsg: Some(empty),
            ..Fields::default()
        };
        let publish = |msg: Span| Fields {
            hdrflags: Some(0x32),
            len: Some(1_000),
            dupflag: Some(false),
            qos: Some(1),
            retain: Some(false),
            msg: Some(msg),
            msgid: Some(7),
            ..Fields::default()
        };
        // 3.1 CONNACK: the reserved flag without the flags byte.
        let connack31 = Fields {
            hdrflags: Some(0x20),
            len: Some(2),
            conack_flags_reserved: Some(false),
            conack_val: Some(0),
            ..Fields::default()
        };
        // A span past the buffer renders as absent.
        let outside = Fields {
            hdrflags: Some(0x30),
            msg: Some(Span {
                start: 0,
                end: u32::MAX,
            }),
            protoname: Some(Span { start: 5, end: 1 }),
            ..Fields::default()
        };
        let mut fields = vec![
            None,
            Some(Fields::default()),
            Some(all_present),
            Some(connect),
            Some(connack31),
            Some(outside),
            Some(publish(empty)),
        ];
        fields.extend(payloads.iter().map(|&p| Some(publish(p))));
        // Random subsets of the all-present fields.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let mut f = all_present;
            macro_rules! maybe {
                ($($field:ident),*) => {$(
                    if rng.below(2) == 0 {
                        f.$field = None;
                    }
                )*};
            }
            maybe!(
                hdrflags,
                len,
                dupflag,
                qos,
                retain,
                conflags,
                conack_flags,
                conack_flags_reserved,
                conack_flags_sp,
                conack_val,
                kalive,
                msg,
                msgid,
                proto_len,
                protoname,
                sub_qos,
                suback_qos,
                ver,
                willmsg,
                willmsg_len,
                willtopic,
                willtopic_len
            );
            f.len = f.len.map(|_| rng.next() >> rng.below(64));
            f.kalive = f.kalive.map(|_| rng.next() as u16);
            f.conflags = f.conflags.map(|_| rng.next() as u8);
            f.msg = f.msg.map(|_| payloads[rng.below(5) as usize]);
            fields.push(Some(f));
        }
        let lens = [
            0,
            9,
            10,
            99,
            100,
            999,
            1000,
            1460,
            9999,
            10_000,
            99_999_999,
            100_000_000,
            u64::MAX,
        ];
        let classes = [None, Some("flood"), Some("a \"b\", c"), Some("")];
        let mut rows = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            for (j, &class) in classes.iter().enumerate() {
                let pick = i * 7 + j;
                let random = rng.next() as i64 >> rng.below(64);
                let head = Head {
                    flags: (rng.next() & 0x0fff) as u16,
                    delta_ns: if pick % 3 == 0 {
                        random
                    } else {
                        DELTAS[pick % DELTAS.len()]
                    },
                    tcp_len: lens[pick % lens.len()],
                };
                rows.push((head, *f, class));
            }
        }
        for absent in ["0", "", "NA"] {
            let (direct, cells) = both_ways(absent, &buffer, &rows);
            assert_eq!(direct.lines().count(), rows.len() + 1);
            for (i, (d, c)) in direct.lines().zip(cells.lines()).enumerate() {
                assert_eq!(d, c, "absent {absent:?}, line {i}");
            }
            assert_eq!(direct, cells, "absent {absent:?}");
        }
    }

    #[test]
    fn bare_rows_equal_general_rows() {
        // Rows without messages through `bare_row` (via `write_row`) and through `csv_row`
        // (the chunked general row), for both absent texts and labels needing quotes, empty,
        // at the tail's length limit and beyond it; heads at every digit-count edge and past
        // the fast rendering's limits (10^6 s, 10^8 bytes), which must fall back.
        let long = |n: usize| "l".repeat(n);
        let (fits, over) = (long(BARE_TAIL - 2 * MQTT_FIELDS - 1), long(BARE_TAIL));
        let quoted_fits = format!("\"{}", long(BARE_TAIL - 2 * MQTT_FIELDS - 5));
        let classes: Vec<Option<&str>> = vec![
            None,
            Some("flood"),
            Some("a \"b\", c"),
            Some(""),
            Some("x\ny"),
            Some(fits.as_str()),
            Some(quoted_fits.as_str()),
            Some(over.as_str()),
        ];
        let mut rng = Rng(0xdead_beef_1234_5678);
        let mut heads = Vec::new();
        let lens = (0..20u32).flat_map(|e| {
            let p = 10u64.pow(e);
            [p - 1, p, p + 1]
        });
        for (i, tcp_len) in lens.chain([u64::MAX]).enumerate() {
            for &delta_ns in DELTAS.iter() {
                heads.push(Head {
                    flags: (i * 97 % 4096) as u16,
                    delta_ns,
                    tcp_len,
                });
            }
        }
        for _ in 0..20_000 {
            heads.push(Head {
                flags: (rng.next() & 0x0fff) as u16,
                delta_ns: rng.next() as i64 >> rng.below(64),
                tcp_len: rng.next() >> rng.below(64),
            });
        }
        for (absent, zero) in [("0", true), ("", false)] {
            let mut set = MqttsetSet::new();
            let mut sink = crate::sink::CsvSink::new(Vec::new(), SCHEMA, absent).unwrap();
            let mut general = Vec::new();
            let mut text = String::new();
            let mut fast = 0;
            for (i, head) in heads.iter().enumerate() {
                // Labels change between rows (label rules): the tail is remade.
                let class = classes[(i / 3) % classes.len()];
                let tail = set.bare.get(zero, class).map(|&(t, n)| t[..n].to_vec());
                fast += usize::from(bare_row(&mut Vec::new(), head, set.bare.get(zero, class)));
                assert_eq!(
                    tail.is_some(),
                    class.map_or(0, str::len) < BARE_TAIL - 2 * MQTT_FIELDS
                );
                set.write_row(&mut sink, head, None, class).unwrap();
                if zero {
                    csv_row::<true>(&mut general, head, None, &[], &mut text, class);
                } else {
                    csv_row::<false>(&mut general, head, None, &[], &mut text, class);
                }
                general.push(b'\n');
            }
            assert!(
                fast > heads.len() / 4,
                "{fast} of {} rows fast",
                heads.len()
            );
            let direct = sink.finish().unwrap();
            let header_end = direct.iter().position(|&b| b == b'\n').unwrap() + 1;
            let (direct, general) = (
                String::from_utf8(direct[header_end..].to_vec()).unwrap(),
                String::from_utf8(general).unwrap(),
            );
            for (i, (d, g)) in direct.lines().zip(general.lines()).enumerate() {
                assert_eq!(d, g, "absent {absent:?}, row {i}: {:?}", heads[i]);
            }
            assert_eq!(direct, general, "absent {absent:?}");
        }
    }

    #[test]
    fn direct_time_deltas_render_as_the_sink_s_float() {
        // Every magnitude, both signs: the direct digits against `CsvSink::float`.
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut rows = Vec::new();
        for &delta_ns in DELTAS.iter() {
            rows.push(delta_ns);
        }
        for _ in 0..200_000 {
            let v = rng.next() as i64 >> rng.below(64);
            rows.push(v);
            rows.push(v % 1_000_000_000_000_000);
        }
        let rows: Vec<_> = rows
            .into_iter()
            .map(|delta_ns| {
                let head = Head {
                    flags: 0x18,
                    delta_ns,
                    tcp_len: 0,
                };
                (head, None, None)
            })
            .collect();
        let (direct, cells) = both_ways("0", &[], &rows);
        for (i, (d, c)) in direct.lines().zip(cells.lines()).enumerate() {
            assert_eq!(d, c, "line {i}");
        }
        assert_eq!(direct, cells);
    }

    #[test]
    fn direct_integers_render_as_the_sink_s_uint() {
        // Each digit count's edges, then random magnitudes, as `tcp.len`.
        let mut values: Vec<u64> = (0..20)
            .flat_map(|e| {
                let p = 10u64.pow(e);
                [p - 1, p, p + 1, 2 * p, 5 * p - 1]
            })
            .collect();
        values.extend([u64::MAX, u64::MAX - 1, 1 << 32, 1 << 53]);
        let mut rng = Rng(7);
        values.extend((0..100_000).map(|_| rng.next() >> rng.below(64)));
        let rows: Vec<_> = values
            .into_iter()
            .map(|tcp_len| {
                let head = Head {
                    flags: 0x10,
                    delta_ns: 12_000,
                    tcp_len,
                };
                (head, None, None)
            })
            .collect();
        let (direct, cells) = both_ways("", &[], &rows);
        for (i, (d, c)) in direct.lines().zip(cells.lines()).enumerate() {
            assert_eq!(d, c, "line {i}");
        }
        assert_eq!(direct, cells);
    }

    #[test]
    fn eight_digits_are_the_decimal_digits() {
        let mut rng = Rng(42);
        for v in (0..100_000).chain((0..100_000).map(|_| rng.below(100_000_000) as u32)) {
            let digits = (eight_digits(v) + ASCII_ZEROS).to_le_bytes();
            assert_eq!(digits, format!("{v:08}").as_bytes(), "{v}");
        }
        assert_eq!(
            &(eight_digits(99_999_999) + ASCII_ZEROS).to_le_bytes(),
            b"99999999"
        );
    }

    /// A table taking only the map's look-up, beside the usual one.
    fn general_table(max: usize) -> StreamTable {
        StreamTable {
            general: true,
            ..StreamTable::new(max)
        }
    }

    #[test]
    fn cached_stream_lookups_equal_map_lookups() {
        // Keys: a few busy conversations, a scan of one-frame ones, and keys chosen to share
        // one cache bucket (hostile traffic defeating the cache), with and without evictions.
        let key = |i: u64| {
            let a = std::net::Ipv4Addr::from(0x0a00_0000 | (i as u32 & 0xff));
            let b = std::net::Ipv4Addr::from(0xc0a8_0001);
            let (k, _) = StreamKey::of(a.into(), 1024 + (i >> 8) as u16, b.into(), 1883);
            k
        };
        let probe = StreamTable::new(1);
        let target = probe.bucket(&key(0));
        let colliding: Vec<StreamKey> = (1..200_000)
            .map(key)
            .filter(|k| probe.bucket(k) == target)
            .take(12)
            .collect();
        assert!(colliding.len() >= 4, "{} colliding keys", colliding.len());
        let v6 = |i: u64| {
            let a = std::net::Ipv6Addr::from(u128::from(i) << 64 | 1);
            let (k, _) = StreamKey::of(a.into(), 5000, std::net::Ipv6Addr::LOCALHOST.into(), 1883);
            k
        };
        let mut rng = Rng(0x5eed);
        let mut keys = Vec::new();
        for i in 0..20_000u64 {
            keys.push(match rng.below(10) {
                0..=3 => key(rng.below(4)),
                4 | 5 => colliding[rng.below(colliding.len() as u64) as usize],
                6 => key(100_000 + i),
                7 => v6(rng.below(3)),
                _ => key(rng.below(64)),
            });
        }
        for max in [1, 2, 3, 5, 8, 64, DEFAULT_MAX_STREAMS] {
            // One table is constructed from the other so both have the same seeds.
            let mut cached = StreamTable::new(max);
            let mut general = general_table(max);
            general.hasher = cached.hasher;
            let (mut a, mut b) = (MqttsetStats::default(), MqttsetStats::default());
            for (i, &k) in keys.iter().enumerate() {
                let ts = i as i64;
                let x = cached.touch(k, ts, &mut a);
                let y = general.touch(k, ts, &mut b);
                assert_eq!(
                    (x.ts_prev, x.referenced, x.version),
                    (y.ts_prev, y.referenced, y.version),
                    "max {max}, frame {i}"
                );
                (x.ts_prev, y.ts_prev) = (ts, ts);
                (x.version, y.version) = (i as u8, i as u8);
                assert_eq!(a, b, "max {max}, frame {i}");
            }
            assert_eq!(cached.hand, general.hand, "max {max}");
            assert_eq!(cached.index.len(), general.index.len(), "max {max}");
            let state = |t: &StreamTable| -> Vec<_> {
                t.slots
                    .iter()
                    .map(|s| (s.key.key, s.stream.ts_prev, s.stream.referenced))
                    .collect()
            };
            assert_eq!(state(&cached), state(&general), "max {max}");
            if max <= 8 {
                assert!(a.evicted > 1000, "max {max}: {a:?}");
            }
        }
    }

    #[test]
    fn skipping_publishes_equals_reading_every_message() {
        // Messages as (bytes, header length, announced remaining length, oversized): PUBLISH
        // of every QoS (3 included), cut inside each field, empty topic and payload, with v5
        // properties; the 3.1 types with a DUP flag and QoS; a CONNECT of each level (the
        // version changes mid-frame); others; an oversized PUBLISH; an empty frame.
        let m = |bytes: &[u8]| {
            (
                bytes.to_vec(),
                2u8,
                bytes.len().saturating_sub(2) as u32,
                false,
            )
        };
        let pool = [
            m(b"\x30\x06\x00\x03a/bx"),
            m(b"\x31\x05\x00\x03a/b"),
            m(b"\x32\x08\x00\x03a/b\x00\x07y"),
            m(b"\x3d\x09\x00\x03a/b\x01\x02zz"),
            m(b"\x36\x08\x00\x03a/b\x00\x09w"),
            m(b"\x32\x06\x00\x03a/b\x00"),
            m(b"\x32\x03\x00\x03"),
            m(b"\x30\x02\x00\x00"),
            m(b"\x32\x05\x00\x00\x00\x05q"),
            m(b"\x33\x0a\x00\x01t\x00\x03\x02\x01\x01p"),
            m(b"\x38\x01\x00"),
            (b"\x32\x20\x00\x03a/b\x00\x07".to_vec(), 2, 32, false),
            m(b"\x62\x02\x00\x05"),
            m(b"\x8a\x08\x00\x06\x00\x03a/b\x01"),
            m(b"\x40\x02\x00\x06"),
            m(b"\x90\x03\x00\x06\x00"),
            m(b"\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x00"),
            m(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"),
            m(b"\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x00"),
            m(b"\x20\x02\x01\x00"),
            m(b"\xc0\x00"),
            (b"\x32".to_vec(), 3, 2_000_000, true),
            (b"\x30".to_vec(), 2, 9, true),
            (Vec::new(), 2, 0, false),
        ];
        let mut rng = Rng(0xfeed);
        let (mut skipped, mut frames) = (0u64, 0u64);
        for _ in 0..200_000 {
            let (mut buffer, mut pending) = (Vec::new(), Vec::new());
            for _ in 0..1 + rng.below(6) {
                let (bytes, header_len, remaining_length, oversized) =
                    &pool[rng.below(pool.len() as u64) as usize];
                let start = buffer.len() as u32;
                buffer.extend_from_slice(bytes);
                pending.push(Pending {
                    frame: Span {
                        start,
                        end: buffer.len() as u32,
                    },
                    header_len: *header_len,
                    remaining_length: *remaining_length,
                    oversized: *oversized,
                });
            }
            let start = [0, 3, 4, 5, 7][rng.below(5) as usize];
            let (mut v1, mut v2) = (start, start);
            let (mut s1, mut s2) = (MqttsetStats::default(), MqttsetStats::default());
            let fast = read_pending::<false>(&pending, &buffer, &mut v1, &mut s1);
            let general = read_pending::<true>(&pending, &buffer, &mut v2, &mut s2);
            assert_eq!((fast, v1, s1), (general, v2, s2), "{pending:?} {buffer:?}");
            // How often the fast path skipped a message here.
            let mut f = Fields::default();
            let mut v = start;
            for p in &pending {
                let frame = &buffer[p.frame.start as usize..p.frame.end as usize];
                if frame.first().is_some_and(|&h| publish_adds_nothing(h, &f)) {
                    skipped += 1;
                }
                let header_len = if p.oversized { 1 } else { p.header_len };
                read_message(
                    frame,
                    p.frame.start,
                    header_len,
                    p.remaining_length,
                    &mut v,
                    &mut f,
                );
            }
            frames += 1;
        }
        assert!(skipped > frames / 4, "{skipped} skipped in {frames} frames");
    }

    #[test]
    fn ipv4_stream_keys_equal_general_keys() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        // Equal addresses (ports decide), equal ports, the extremes, and random pairs; IPv6 and
        // mixed pairs take the general path in both.
        let mut rng = Rng(0xabcd);
        let addrs = [
            0u32,
            1,
            0x7f00_0001,
            0xc0a8_0001,
            0xc0a8_0002,
            u32::MAX,
            u32::MAX - 1,
        ];
        let ports = [0u16, 1, 1883, 1884, 65_534, 65_535];
        let mut cases = Vec::new();
        for &a in &addrs {
            for &b in &addrs {
                for &p in &ports {
                    for &q in &ports {
                        cases.push((
                            IpAddr::from(Ipv4Addr::from(a)),
                            p,
                            Ipv4Addr::from(b).into(),
                            q,
                        ));
                    }
                }
            }
        }
        for _ in 0..100_000 {
            let a = rng.next() as u32 >> rng.below(32);
            let b = if rng.below(4) == 0 {
                a
            } else {
                rng.next() as u32
            };
            let (p, q) = (rng.next() as u16, rng.next() as u16);
            cases.push((Ipv4Addr::from(a).into(), p, Ipv4Addr::from(b).into(), q));
        }
        let v6 = IpAddr::from(Ipv6Addr::from(u128::MAX - 5));
        cases.push((v6, 1, Ipv4Addr::new(10, 0, 0, 1).into(), 2));
        cases.push((Ipv4Addr::new(10, 0, 0, 1).into(), 2, v6, 1));
        cases.push((v6, 1, IpAddr::from(Ipv6Addr::LOCALHOST), 1));
        for (src, sp, dst, dp) in cases {
            assert_eq!(
                StreamKey::of(src, sp, dst, dp),
                StreamKey::of_general(src, sp, dst, dp),
                "{src}:{sp} -> {dst}:{dp}"
            );
        }
    }

    /// Forwards the tracker's messages to both sets.
    struct Both<'a>(&'a mut MqttsetSet, &'a mut MqttsetSet);

    impl mqtt_ids_mqtt::Visitor for Both<'_> {
        fn on_message(&mut self, event: &MessageEvent<'_>) {
            self.0.on_message(event);
            self.1.on_message(event);
        }
    }

    #[test]
    fn direct_rows_equal_cell_rows_on_shared_captures() {
        use mqtt_ids_capture::{decode, open, ReaderOptions};
        let Some(captures) = crate::sets::shared_captures() else {
            return;
        };
        // No label, one class, and per-row rules (an attacker block: the labeler's call).
        let labelers = [
            Labeler::default(),
            Labeler {
                class: Some("flood".into()),
                ..Labeler::default()
            },
            Labeler {
                attackers: vec![crate::label::Net::parse("192.168.0.0/16").unwrap()],
                ..Labeler::default()
            },
        ];
        let (mut rows, mut messages) = (0, 0);
        for (i, path) in captures.iter().enumerate() {
            let labels = &labelers[i % labelers.len()];
            let absent = if i % 2 == 0 { "0" } else { "" };
            let mut direct = crate::sink::CsvSink::new(Vec::new(), SCHEMA, absent).unwrap();
            let mut cells = crate::sink::CellsOnly(
                crate::sink::CsvSink::new(Vec::new(), SCHEMA, absent).unwrap(),
            );
            // The general path: cell calls, and every conversation found through the map (some
            // captures with a tiny table, so that evictions happen).
            let max = if i % 4 == 3 { 4 } else { DEFAULT_MAX_STREAMS };
            let mut a = MqttsetSet::with_max_streams(max);
            let mut b = MqttsetSet {
                streams: general_table(max),
                general: true,
                ..MqttsetSet::new()
            };
            let mut tracker = mqtt_ids_mqtt::Tracker::new(mqtt_ids_mqtt::TrackerConfig::default());
            let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
            while let Ok(Some(frame)) = reader.next_frame() {
                let packet = decode(frame);
                let mqtt = tracker.on_packet(&packet, &mut Both(&mut a, &mut b));
                a.end_packet(&packet, mqtt, labels, &mut direct).unwrap();
                b.end_packet(&packet, mqtt, labels, &mut cells).unwrap();
            }
            assert_eq!(a.stats(), b.stats());
            if max == 4 {
                assert!(
                    a.stats().streams < 4 || a.stats().evicted > 0,
                    "{}",
                    path.display()
                );
            }
            rows += a.stats().rows;
            messages += a.stats().messages;
            let (direct, cells) = (direct.finish().unwrap(), cells.0.finish().unwrap());
            assert!(direct == cells, "{} differs", path.display());
        }
        assert!(
            rows > 50_000 && messages > 50_000,
            "{rows} rows, {messages} messages"
        );
    }
}
