//! The `packet` set (Hindy et al. 2020, Table 1): one row per TCP or UDP packet, with the columns
//! of the published MQTT-IoT-IDS2020 packet CSVs, computed as the paper's script
//! (MQTT_ML `pcap_packet_features.py`, pyshark over tshark) computed them.
//!
//! Per packet, as the reference did:
//! - no row unless the packet has a TCP or UDP header (ARP, ICMP, IP fragments… are skipped);
//! - `timestamp`: pyshark's `sniff_time.strftime('%m/%d/%Y, %H:%M:%S:%f')` — **in UTC** (the
//!   reference wrote its machine's local time). pyshark turns the timestamp into a double and
//!   rounds that double's fraction to the microsecond, half to even; we do the same, so
//!   nanosecond captures round exactly as it did (…001500 ns becomes …000001, the double being
//!   just below); the comma makes the field quoted in CSV;
//! - `protocol`: the highest layer tshark's dissection reaches ([`super::protocol`]);
//!   a segment on an MQTT connection cut by the snap length is `_WS.SHORT` and its MQTT columns
//!   come from its captured bytes, as tshark dissects it on its own (no reassembly);
//! - `src_ip`, `dst_ip`, `ttl`, `ip_len` (total length), `ip_flag_df/mf/rb` (0/1): from IPv4
//!   only, as pyshark's `packet.ip` is IPv4. IPv6 packets leave them empty by default;
//!   [`PacketOptions::ipv6`] fills addresses, `ttl` (hop limit) and `ip_len` (40 + payload
//!   length) instead, leaving the flags empty (an extension: no published row has them);
//! - `src_port`, `dst_port`; for TCP the flags as tshark defines them: `tcp_flag_res` is
//!   tshark's `tcp.flags.res`, a boolean over the three reserved bits (1 when any is set),
//!   `tcp_flag_ns` (tshark 4: `tcp.flags.ae`), `cwr`, `ecn` (`tcp.flags.ece`), `urg`, `ack`,
//!   `push`, `reset`, `syn`, `fin`, each 0/1; empty for UDP;
//! - `mqtt_messagetype`, `mqtt_messagelength` (remaining length) of the first MQTT message the
//!   packet completes (pyshark's `packet.mqtt`: tshark dissects a reassembled message in the frame
//!   that completes it); the connect-flag columns only when that message is a CONNECT whose
//!   flags byte is there (also when a later field overran the body, as tshark shows it);
//! - `is_attack` from the [`Labeler`] (the reference: 1 when source or destination is the
//!   attacker, so `--attacker 192.168.2.5` reproduces it); empty when no label source is given.
//!   Labels also see IPv6 addresses (the reference wrote 0 for every IPv6 row).
//!
//! MQTT is whatever the tracker recognises: port 1883 by default, and with
//! `probe_other_ports` any port opening with a CONNECT (tshark: `DATA` there). Run with
//! `probe_other_ports: false` to compare with tshark, as `tests/packet.rs` does. A message that
//! overran its body makes the frame `_WS.MALFORMED` when it is the frame's last (tshark goes on
//! dissecting after its exception), except a CONNECT lacking only its user name or password,
//! which tshark does not read when no bytes remain.
//!
//! Agreement with tshark 4.0.17 (`tests/packet.rs`): every cell of the 63,468 rows of the 47
//! shared captures. The differences we know of, each shown on a crafted capture there:
//! - reordered segments: tshark dissects a segment that arrives ahead of a gap at once (when it
//!   starts a message) and skips the one filling the gap, which it calls a retransmission (nor
//!   does it ever dissect a message whose end came before its start); we reassemble in sequence
//!   order and give each message to the frame that completes it;
//! - `protocol` where a stateless table cannot know ([`super::protocol`]);
//! - messages a connection still delivers when the tracker evicts it (table full) or sees its
//!   port reused land on the packet that caused it (both counted in the tracker's stats).

use std::io;
use std::net::IpAddr;

use mqtt_ids_capture::{IpVersion, Packet, TcpFlags, Transport};
use mqtt_ids_mqtt::codec::FieldError;
use mqtt_ids_mqtt::{MessageEvent, Packet as MqttPacket, PacketType};

use crate::label::{Labeler, Subject};
use crate::schema::{Column, ColumnType::*, Schema};
use crate::sets::protocol::{highest_layer, MqttLayer};
use crate::sets::FrameSet;
use crate::sink::{NullRuns, RowSink};

static COLUMNS: [Column; 31] = [
    Column::new("timestamp", Str),
    Column::new("src_ip", Str),
    Column::new("dst_ip", Str),
    Column::new("protocol", Str),
    Column::new("ttl", UInt),
    Column::new("ip_len", UInt),
    Column::new("ip_flag_df", UInt),
    Column::new("ip_flag_mf", UInt),
    Column::new("ip_flag_rb", UInt),
    Column::new("src_port", UInt),
    Column::new("dst_port", UInt),
    Column::new("tcp_flag_res", UInt),
    Column::new("tcp_flag_ns", UInt),
    Column::new("tcp_flag_cwr", UInt),
    Column::new("tcp_flag_ecn", UInt),
    Column::new("tcp_flag_urg", UInt),
    Column::new("tcp_flag_ack", UInt),
    Column::new("tcp_flag_push", UInt),
    Column::new("tcp_flag_reset", UInt),
    Column::new("tcp_flag_syn", UInt),
    Column::new("tcp_flag_fin", UInt),
    Column::new("mqtt_messagetype", UInt),
    Column::new("mqtt_messagelength", UInt),
    Column::new("mqtt_flag_uname", UInt),
    Column::new("mqtt_flag_passwd", UInt),
    Column::new("mqtt_flag_retain", UInt),
    Column::new("mqtt_flag_qos", UInt),
    Column::new("mqtt_flag_willflag", UInt),
    Column::new("mqtt_flag_clean", UInt),
    Column::new("mqtt_flag_reserved", UInt),
    Column::new("is_attack", UInt),
];

/// Schema of the `packet` set.
pub const SCHEMA: Schema = Schema {
    set: "packet",
    version: 1,
    columns: &COLUMNS,
};

/// TCP flag columns, in schema order, with their bits in [`TcpFlags`].
const TCP_FLAG_COLUMNS: [u16; 10] = [
    TcpFlags::RESERVED,
    TcpFlags::NS,
    TcpFlags::CWR,
    TcpFlags::ECE,
    TcpFlags::URG,
    TcpFlags::ACK,
    TcpFlags::PSH,
    TcpFlags::RST,
    TcpFlags::SYN,
    TcpFlags::FIN,
];

/// Options of the `packet` set; the defaults reproduce the reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketOptions {
    /// Fill `src_ip`, `dst_ip`, `ttl` (hop limit) and `ip_len` (40 + payload length) for IPv6
    /// packets, which the reference leaves empty.
    pub ipv6: bool,
}

/// The first MQTT message a packet completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FirstMessage {
    packet_type: u8,
    remaining_length: u32,
    connect_flags: Option<u8>,
}

/// Builds `packet` rows.
#[derive(Debug, Default)]
pub struct PacketSet {
    options: PacketOptions,
    /// MQTT messages the current packet completed.
    messages: u32,
    first: Option<FirstMessage>,
    last_malformed: bool,
    /// Reused for every text field (no allocation per packet).
    text: String,
    clock: Clock,
    addresses: AddressCache,
}

impl PacketSet {
    /// A fresh set with the reference's behaviour.
    pub fn new() -> Self {
        PacketSet::default()
    }

    /// A fresh set with options.
    pub fn with_options(options: PacketOptions) -> Self {
        PacketSet {
            options,
            ..PacketSet::default()
        }
    }

    fn reset(&mut self) {
        self.messages = 0;
        self.first = None;
        self.last_malformed = false;
    }
}

impl FrameSet for PacketSet {
    fn on_message(&mut self, event: &MessageEvent<'_>) {
        let body = event.message.map(|m| &m.packet);
        self.last_malformed = match body {
            Some(MqttPacket::Malformed { error, .. }) => tshark_throws(error),
            _ => false,
        };
        self.messages = self.messages.saturating_add(1);
        if self.first.is_some() {
            return;
        }
        let connect_flags = match body {
            Some(MqttPacket::Connect(c)) => Some(c.flags.0),
            Some(MqttPacket::Malformed { body, .. })
                if event.packet_type() == PacketType::Connect =>
            {
                connect_flags_before_overrun(body)
            }
            _ => None,
        };
        self.first = Some(FirstMessage {
            packet_type: event.header.first_byte >> 4,
            remaining_length: event.header.remaining_length,
            connect_flags,
        });
    }

    fn end_packet<S: RowSink>(
        &mut self,
        packet: &Packet<'_>,
        mqtt: bool,
        labels: &Labeler,
        sink: &mut S,
    ) -> io::Result<()> {
        if mqtt && packet.truncated && !packet.payload.is_empty() {
            // tshark dissects a segment cut by the snap length on its own, from its first byte.
            self.first = captured_first_message(packet.payload);
        }
        let layer = match (mqtt, self.messages) {
            (false, _) => MqttLayer::None,
            (true, 0) => MqttLayer::Segment,
            (true, _) => MqttLayer::Messages {
                last_malformed: self.last_malformed,
            },
        };
        let (Some(protocol), Some((src_port, dst_port)), Some(ip)) = (
            highest_layer(packet, layer),
            packet.transport.ports(),
            packet.ip,
        ) else {
            self.reset();
            return Ok(());
        };

        let sink = &mut NullRuns::new(sink);
        self.clock.format(packet.frame.ts_ns, &mut self.text);
        sink.str(&self.text);
        let v4 = ip.version == IpVersion::V4;
        if v4 || self.options.ipv6 {
            for addr in [ip.src, ip.dst] {
                // Digits, dots, hex digits and colons: nothing CSV quotes.
                sink.str_plain(self.addresses.text(addr));
            }
            sink.str(protocol);
            sink.uint(u64::from(ip.ttl));
            sink.uint(u64::from(ip.total_len));
        } else {
            sink.null();
            sink.null();
            sink.str(protocol);
            sink.null();
            sink.null();
        }
        if v4 {
            sink.uints(&[ip.df, ip.mf, ip.rb].map(u64::from));
        } else {
            for _ in 0..3 {
                sink.null();
            }
        }
        sink.uint(u64::from(src_port));
        sink.uint(u64::from(dst_port));
        match packet.transport {
            Transport::Tcp { flags, .. } => {
                sink.uints(&TCP_FLAG_COLUMNS.map(|bit| u64::from(flags.has(bit))));
            }
            _ => {
                for _ in TCP_FLAG_COLUMNS {
                    sink.null();
                }
            }
        }
        match self.first {
            Some(m) => {
                sink.uint(u64::from(m.packet_type));
                sink.uint(u64::from(m.remaining_length));
                match m.connect_flags {
                    Some(f) => {
                        // uname, passwd, will retain, will QoS (2 bits), will flag, clean, reserved
                        let bit = |b: u8| u64::from((f >> b) & 1);
                        let qos = u64::from((f >> 3) & 3);
                        sink.uints(&[bit(7), bit(6), bit(5), qos, bit(2), bit(1), bit(0)]);
                    }
                    None => {
                        for _ in 0..7 {
                            sink.null();
                        }
                    }
                }
            }
            None => {
                for _ in 0..9 {
                    sink.null();
                }
            }
        }
        let label = labels.label(&Subject {
            src: ip.src,
            dst: ip.dst,
            src_port,
            dst_port,
            ts_ns: packet.frame.ts_ns,
        });
        match label.is_attack {
            Some(attack) => sink.uint(u64::from(attack)),
            None => sink.null(),
        }
        self.reset();
        sink.end_row()
    }
}

/// Whether tshark's MQTT dissector stops with an exception (`_ws.malformed`) where our codec
/// found a field overrunning the body. It does everywhere but at a CONNECT's user name and
/// password, which it reads only when bytes remain (packet-mqtt.c:
/// `(mqtt_con_flags & MQTT_CONMASK_USER) && (tvb_reported_length_remaining(tvb, offset) > 0)`).
fn tshark_throws(error: &FieldError) -> bool {
    !(matches!(error.field, "username" | "password") && error.available == 0)
}

/// The first message of a segment cut by the snap length, read from what was captured: the
/// fixed header, and the connect flags when the captured body reaches them.
fn captured_first_message(payload: &[u8]) -> Option<FirstMessage> {
    let (&first_byte, rest) = payload.split_first()?;
    let mut remaining_length = 0u32;
    for (i, &b) in rest.iter().take(4).enumerate() {
        remaining_length |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let body = &rest[i + 1..];
            let body = &body[..body.len().min(remaining_length as usize)];
            let packet_type = first_byte >> 4;
            return Some(FirstMessage {
                packet_type,
                remaining_length,
                connect_flags: (packet_type == 1)
                    .then(|| connect_flags_before_overrun(body))
                    .flatten(),
            });
        }
    }
    None
}

/// The connect flags of a CONNECT whose body overran: tshark shows them when the body holds the
/// protocol name (length-prefixed), the level byte and the flags byte.
fn connect_flags_before_overrun(body: &[u8]) -> Option<u8> {
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    body.get(2 + name_len + 1).copied()
}

/// The text of the last few addresses: a connection's two ends alternate, so most packets
/// format nothing.
#[derive(Debug, Default)]
struct AddressCache {
    slots: [(Option<IpAddr>, String); 4],
    next: usize,
}

impl AddressCache {
    fn text(&mut self, addr: IpAddr) -> &str {
        let i = match self.slots.iter().position(|(a, _)| *a == Some(addr)) {
            Some(i) => i,
            None => {
                let i = self.next;
                self.next = (i + 1) % self.slots.len();
                self.slots[i].0 = Some(addr);
                push_addr(&mut self.slots[i].1, addr);
                i
            }
        };
        &self.slots[i].1
    }
}

/// Writes an address as tshark shows it (dotted quad; IPv6 in RFC 5952 form).
pub(crate) fn push_addr(text: &mut String, addr: IpAddr) {
    text.clear();
    match addr {
        IpAddr::V4(a) => {
            let mut buf = [0u8; 15];
            let mut n = 0;
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if octet >= 100 {
                    buf[n] = b'0' + octet / 100;
                    n += 1;
                }
                if octet >= 10 {
                    buf[n] = b'0' + octet / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + octet % 10;
                n += 1;
            }
            text.push_str(ascii(&buf[..n]));
        }
        IpAddr::V6(a) => {
            use std::fmt::Write as _;
            let _ = write!(text, "{a}");
        }
    }
}

/// Bytes known to be ASCII digits and punctuation, as text.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Formats timestamps as `%m/%d/%Y, %H:%M:%S:%f` in UTC, keeping the text up to the seconds of
/// the last second seen (consecutive packets share it).
#[derive(Debug, Default)]
struct Clock {
    second: Option<i64>,
    /// `MM/DD/YYYY, HH:MM:SS:`
    prefix: String,
    /// The day of `prefix` and the length of its date part (`MM/DD/YYYY, `): a new second of
    /// the same day rewrites only the time.
    day: Option<(i64, usize)>,
    /// Decimal text of a timestamp, for the rare exact double conversion.
    scratch: String,
}

const NS_PER_S: i64 = 1_000_000_000;

impl Clock {
    fn format(&mut self, ts_ns: i64, out: &mut String) {
        let (second, micros) = self.sniff_time(ts_ns);
        if self.second != Some(second) {
            self.second = Some(second);
            let (days, of_day) = (second.div_euclid(86_400), second.rem_euclid(86_400));
            match self.day {
                Some((day, date_len)) if day == days => self.prefix.truncate(date_len),
                _ => {
                    self.prefix.clear();
                    let (year, month, day) = civil_from_days(days);
                    push_digits(&mut self.prefix, u64::from(month), 2);
                    self.prefix.push('/');
                    push_digits(&mut self.prefix, u64::from(day), 2);
                    self.prefix.push('/');
                    if year < 0 {
                        self.prefix.push('-');
                    }
                    push_digits(&mut self.prefix, year.unsigned_abs(), 4);
                    self.prefix.push_str(", ");
                    self.day = Some((days, self.prefix.len()));
                }
            }
            // Hours, minutes, seconds: each below 100, two digits.
            for (i, v) in [of_day / 3600, of_day / 60 % 60, of_day % 60]
                .into_iter()
                .enumerate()
            {
                if i > 0 {
                    self.prefix.push(':');
                }
                self.prefix.push(char::from(b'0' + (v / 10 % 10) as u8));
                self.prefix.push(char::from(b'0' + (v % 10) as u8));
            }
            self.prefix.push(':');
        }
        out.clear();
        out.push_str(&self.prefix);
        // Six digits, pushed as characters (no UTF-8 check of a digit buffer).
        let mut digits = [b'0'; 6];
        let mut v = micros.min(999_999);
        for d in digits.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        for d in digits {
            out.push(char::from(d));
        }
    }

    /// Seconds and microseconds as pyshark's `sniff_time` has them: `float(timestamp)`, then
    /// `datetime.fromtimestamp`, which splits the double with `modf` and rounds the fraction
    /// times 10⁶ half to even. For whole microseconds below 2³² s the double is within 0.24 µs,
    /// so that is exact and needs no double.
    fn sniff_time(&mut self, ts_ns: i64) -> (i64, u32) {
        let (second, nanos) = (ts_ns.div_euclid(NS_PER_S), ts_ns.rem_euclid(NS_PER_S));
        if nanos % 1000 == 0 && second.unsigned_abs() < 1 << 32 {
            return (second, (nanos / 1000) as u32);
        }
        if (0..1 << 32).contains(&second) {
            return sniff_time_exact(second, nanos);
        }
        self.sniff_time_parsed(ts_ns)
    }

    /// [`Clock::sniff_time`] through the decimal text, parsed as Python's `float()` parses it.
    fn sniff_time_parsed(&mut self, ts_ns: i64) -> (i64, u32) {
        // The exact decimal, parsed with correct rounding as Python's float() does.
        use std::fmt::Write as _;
        self.scratch.clear();
        let abs = ts_ns.unsigned_abs();
        let sign = if ts_ns < 0 { "-" } else { "" };
        let _ = write!(
            self.scratch,
            "{sign}{}.{:09}",
            abs / NS_PER_S as u64,
            abs % NS_PER_S as u64
        );
        let d: f64 = self.scratch.parse().unwrap_or(0.0);
        let mut whole = d.trunc();
        let mut fraction = ((d - whole) * 1e6).round_ties_even();
        if fraction >= 1e6 {
            fraction -= 1e6;
            whole += 1.0;
        } else if fraction < 0.0 {
            fraction += 1e6;
            whole -= 1.0;
        }
        (whole as i64, fraction as u32)
    }
}

/// [`Clock::sniff_time`] for `0 <= second < 2^32` without text: the double nearest to
/// `second.nanos` (ties to even, as a correctly rounded `float()` of the decimal) is `second` plus
/// a whole number of its units in the last place, and that fraction is exact in a double.
fn sniff_time_exact(second: i64, nanos: i64) -> (i64, u32) {
    let frac = if second == 0 {
        // Both operands exact: the quotient is correctly rounded.
        nanos as f64 / 1e9
    } else {
        // The double's unit in the last place is 2^-shift (`second` < 2^32, so shift >= 21).
        let shift = 52 - (63 - second.leading_zeros());
        let units = round_div_even((nanos as u128) << shift);
        // units <= 2^shift <= 2^52: exact, and scaling by 2^-shift is exact too.
        units as f64 * f64::from_bits(u64::from(1023 - shift) << 52)
    };
    let mut whole = second;
    // frac * 1e6 < 2^52, where adding and taking away 2^52 rounds to an integer half to even
    // (the default rounding mode; `round_ties_even` is a libm call on baseline x86-64).
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let mut fraction = (frac * 1e6 + TWO_52) - TWO_52;
    if fraction >= 1e6 {
        fraction -= 1e6;
        whole += 1;
    }
    (whole, fraction as u32)
}

/// `scaled / 10^9` rounded half to even; in 64 bits when it fits (nanoseconds times the unit of
/// any second from 2^19, so every real capture), where dividing by a constant is a multiply.
#[inline]
fn round_div_even(scaled: u128) -> u64 {
    const D: u64 = 1_000_000_000;
    let (q, r) = match u64::try_from(scaled) {
        Ok(s) => (s / D, s % D),
        // Below 2^82 / 10^9 < 2^53: the quotient fits.
        Err(_) => (
            (scaled / u128::from(D)) as u64,
            (scaled % u128::from(D)) as u64,
        ),
    };
    q + u64::from(r * 2 > D || (r * 2 == D && q % 2 == 1))
}

/// Zero-padded decimal of at least `width` digits (at most 20).
fn push_digits(out: &mut String, v: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut n = v;
    let mut len = 0;
    while n > 0 || len == 0 {
        digits[19 - len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
    }
    out.push_str(ascii(&digits[20 - len.max(width.min(20))..]));
}

/// (year, month, day) of a day count since 1970-01-01 in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::{parse_rules, Net};
    use mqtt_ids_capture::{decode, Frame, LinkType};
    use mqtt_ids_mqtt::{Tracker, TrackerConfig};

    /// Rows as text (absent = empty).
    #[derive(Default)]
    struct Text {
        row: Vec<String>,
        rows: Vec<Vec<String>>,
    }

    impl RowSink for Text {
        fn null(&mut self) {
            self.row.push(String::new());
        }
        fn uint(&mut self, v: u64) {
            self.row.push(v.to_string());
        }
        fn int(&mut self, v: i64) {
            self.row.push(v.to_string());
        }
        fn float(&mut self, v: f64) {
            self.row.push(v.to_string());
        }
        fn str(&mut self, v: &str) {
            self.row.push(v.to_string());
        }
        fn bytes(&mut self, _: &[u8]) {
            unreachable!("no byte columns")
        }
        fn end_row(&mut self) -> io::Result<()> {
            assert_eq!(self.row.len(), SCHEMA.columns.len());
            self.rows.push(std::mem::take(&mut self.row));
            Ok(())
        }
    }

    /// Column name → value, for readable assertions.
    fn named(row: &[String]) -> Vec<(&'static str, &str)> {
        SCHEMA
            .names()
            .zip(row)
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n, v.as_str()))
            .collect()
    }

    const T0: i64 = 1_600_000_000_000_000_000; // 2020-09-13 12:26:40 UTC

    fn ipv4(protocol: u8, src: [u8; 4], dst: [u8; 4], flags: u8, l4: &[u8]) -> Vec<u8> {
        let total = (20 + l4.len()) as u16;
        let mut v = vec![0x45, 0];
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&[0x12, 0x34, flags, 0, 63, protocol, 0, 0]); // TTL 63
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v.extend_from_slice(l4);
        v
    }

    fn tcp(src_port: u16, dst_port: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&src_port.to_be_bytes());
        v.extend_from_slice(&dst_port.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v.extend_from_slice(payload);
        v
    }

    fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&src_port.to_be_bytes());
        v.extend_from_slice(&dst_port.to_be_bytes());
        v.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(payload);
        v
    }

    const CLIENT: [u8; 4] = [192, 168, 2, 5];
    const BROKER: [u8; 4] = [10, 0, 0, 2];

    /// Runs raw-IP packets (timestamp, bytes) through a tracker (MQTT on 1883 only) and the set.
    fn run(
        packets: &[(i64, Vec<u8>)],
        labels: &Labeler,
        options: PacketOptions,
    ) -> Vec<Vec<String>> {
        let mut tracker = Tracker::new(TrackerConfig {
            probe_other_ports: false,
            ..TrackerConfig::default()
        });
        let mut set = PacketSet::with_options(options);
        let mut sink = Text::default();
        for (i, (ts_ns, data)) in packets.iter().enumerate() {
            let frame = Frame {
                number: i as u64 + 1,
                offset: 0,
                ts_ns: *ts_ns,
                interface: 0,
                link_type: LinkType::RAW,
                orig_len: data.len() as u32,
                data,
            };
            let packet = decode(frame);
            let mqtt = tracker.on_packet(&packet, &mut |e: &MessageEvent<'_>| set.on_message(e));
            set.end_packet(&packet, mqtt, labels, &mut sink).unwrap();
        }
        sink.rows
    }

    fn attacker() -> Labeler {
        Labeler {
            attackers: vec![Net::parse("192.168.2.5").unwrap()],
            ..Labeler::default()
        }
    }

    #[test]
    fn tcp_row_over_ipv4() {
        // SYN with ECE and CWR (ECN setup), DF set.
        let syn = ipv4(6, CLIENT, BROKER, 0x40, &tcp(40000, 1883, 7, 0xc2, b""));
        let rows = run(&[(T0, syn)], &attacker(), PacketOptions::default());
        assert_eq!(
            named(&rows[0]),
            [
                ("timestamp", "09/13/2020, 12:26:40:000000"),
                ("src_ip", "192.168.2.5"),
                ("dst_ip", "10.0.0.2"),
                ("protocol", "TCP"),
                ("ttl", "63"),
                ("ip_len", "40"),
                ("ip_flag_df", "1"),
                ("ip_flag_mf", "0"),
                ("ip_flag_rb", "0"),
                ("src_port", "40000"),
                ("dst_port", "1883"),
                ("tcp_flag_res", "0"),
                ("tcp_flag_ns", "0"),
                ("tcp_flag_cwr", "1"),
                ("tcp_flag_ecn", "1"),
                ("tcp_flag_urg", "0"),
                ("tcp_flag_ack", "0"),
                ("tcp_flag_push", "0"),
                ("tcp_flag_reset", "0"),
                ("tcp_flag_syn", "1"),
                ("tcp_flag_fin", "0"),
                ("is_attack", "1"),
            ]
        );
    }

    #[test]
    fn udp_row_has_no_tcp_flags() {
        // Reserved ("evil") bit set; a DNS query header.
        let query = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1];
        let dns = ipv4(17, BROKER, [10, 0, 0, 53], 0x80, &udp(5000, 53, &query));
        let rows = run(&[(T0, dns)], &attacker(), PacketOptions::default());
        assert_eq!(
            named(&rows[0]),
            [
                ("timestamp", "09/13/2020, 12:26:40:000000"),
                ("src_ip", "10.0.0.2"),
                ("dst_ip", "10.0.0.53"),
                ("protocol", "DNS"),
                ("ttl", "63"),
                ("ip_len", "45"),
                ("ip_flag_df", "0"),
                ("ip_flag_mf", "0"),
                ("ip_flag_rb", "1"),
                ("src_port", "5000"),
                ("dst_port", "53"),
                ("is_attack", "0"),
            ]
        );
    }

    fn ipv6_udp(payload: &[u8]) -> Vec<u8> {
        let l4 = udp(5353, 5353, payload);
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        v.extend_from_slice(&[17, 255]); // next header UDP, hop limit 255
        v.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
        v.extend_from_slice(&"fe80::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&l4);
        v
    }

    #[test]
    fn ipv6_rows_leave_ip_columns_empty_unless_asked() {
        let packet = ipv6_udp(&[0; 12]);
        let rows = run(
            &[(T0, packet.clone())],
            &attacker(),
            PacketOptions::default(),
        );
        assert_eq!(
            named(&rows[0]),
            [
                ("timestamp", "09/13/2020, 12:26:40:000000"),
                ("protocol", "MDNS"),
                ("src_port", "5353"),
                ("dst_port", "5353"),
                ("is_attack", "0"),
            ]
        );
        let rows = run(
            &[(T0, packet)],
            &Labeler::default(),
            PacketOptions { ipv6: true },
        );
        assert_eq!(
            named(&rows[0])[1..5],
            [
                ("src_ip", "::1"),
                ("dst_ip", "fe80::1"),
                ("protocol", "MDNS"),
                ("ttl", "255"),
            ]
        );
        assert_eq!(rows[0][column("ip_len")], "60");
        assert_eq!(rows[0][column("ip_flag_df")], "");
        assert_eq!(rows[0][column("is_attack")], "", "no label source");
    }

    fn column(name: &str) -> usize {
        SCHEMA.names().position(|n| n == name).unwrap()
    }

    #[test]
    fn packets_without_tcp_or_udp_have_no_row() {
        let icmp = ipv4(1, CLIENT, BROKER, 0, &[8, 0, 0, 0, 0, 1, 0, 1]);
        let igmp = ipv4(2, CLIENT, BROKER, 0, &[0x11, 0, 0, 0, 0, 0, 0, 0]);
        // First fragment of a UDP datagram: no transport header decoded.
        let fragment = ipv4(17, CLIENT, BROKER, 0x20, &udp(1, 2, b"abc"));
        let truncated_tcp = ipv4(6, CLIENT, BROKER, 0, &[0x9c, 0x40, 0x07]);
        let rows = run(
            &[
                (T0, icmp),
                (T0, igmp),
                (T0, fragment),
                (T0, truncated_tcp),
                (T0, vec![0x45]),
            ],
            &attacker(),
            PacketOptions::default(),
        );
        assert!(rows.is_empty(), "{rows:?}");
    }

    /// CONNECT 3.1.1, flags `f`, keep alive 60, client id "c", will topic "w" + message "m"
    /// when the will flag is set.
    fn connect(f: u8) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, f, 0, 60, 0, 1, b'c'];
        if f & 0x04 != 0 {
            body.extend_from_slice(&[0, 1, b'w', 0, 1, b'm']);
        }
        [&[0x10, body.len() as u8][..], &body].concat()
    }

    fn handshake(first: &[u8]) -> Vec<(i64, Vec<u8>)> {
        vec![
            (
                T0,
                ipv4(6, CLIENT, BROKER, 0, &tcp(40000, 1883, 9, 0x02, b"")),
            ),
            (
                T0,
                ipv4(6, CLIENT, BROKER, 0, &tcp(40000, 1883, 10, 0x18, first)),
            ),
        ]
    }

    fn mqtt_columns(row: &[String]) -> Vec<&str> {
        row[column("protocol")..=column("protocol")]
            .iter()
            .chain(&row[column("mqtt_messagetype")..=column("mqtt_flag_reserved")])
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn connect_flags_of_a_connect() {
        // Will retain, will QoS 2, will flag, clean session.
        let rows = run(
            &handshake(&connect(0x36)),
            &attacker(),
            PacketOptions::default(),
        );
        assert_eq!(
            mqtt_columns(&rows[1]),
            ["MQTT", "1", "19", "0", "0", "1", "2", "1", "1", "0"]
        );
        // No flag at all but the reserved one.
        let rows = run(
            &handshake(&connect(0x01)),
            &attacker(),
            PacketOptions::default(),
        );
        assert_eq!(
            mqtt_columns(&rows[1]),
            ["MQTT", "1", "13", "0", "0", "0", "0", "0", "0", "1"]
        );
        // The SYN has no MQTT columns.
        assert_eq!(
            mqtt_columns(&rows[0]),
            ["TCP", "", "", "", "", "", "", "", "", ""]
        );
    }

    #[test]
    fn first_message_of_a_frame_wins() {
        // PINGREQ then CONNECT in one segment: the CONNECT's flags are not shown.
        let two = [&[0xc0, 0x00][..], &connect(0x02)].concat();
        let rows = run(&handshake(&two), &attacker(), PacketOptions::default());
        assert_eq!(
            mqtt_columns(&rows[1]),
            ["MQTT", "12", "0", "", "", "", "", "", "", ""]
        );
        // CONNECT, then a PUBLISH whose start only is here: the CONNECT's.
        let split = [&connect(0x02)[..], &[0x30, 0x10, 0x00]].concat();
        let rows = run(&handshake(&split), &attacker(), PacketOptions::default());
        assert_eq!(mqtt_columns(&rows[1])[..3], ["MQTT", "1", "13"]);
    }

    #[test]
    fn overrunning_messages() {
        // User name and password flags, neither field: tshark reads them only when bytes remain.
        let rows = run(
            &handshake(&connect(0xc2)),
            &attacker(),
            PacketOptions::default(),
        );
        assert_eq!(
            mqtt_columns(&rows[1]),
            ["MQTT", "1", "13", "1", "1", "0", "0", "0", "1", "0"]
        );
        // Will flag, no will topic: an exception after the flags, which stay.
        let mut cut = connect(0x06)[..15].to_vec();
        cut[1] = 13; // remaining length: the body ends with the client id
        let rows = run(&handshake(&cut), &attacker(), PacketOptions::default());
        assert_eq!(
            mqtt_columns(&rows[1]),
            [
                "_WS.MALFORMED",
                "1",
                "13",
                "0",
                "0",
                "0",
                "0",
                "1",
                "1",
                "0"
            ]
        );
        // The same bytes under the full remaining length: incomplete, no message yet.
        let rows = run(
            &handshake(&connect(0x06)[..15]),
            &attacker(),
            PacketOptions::default(),
        );
        assert_eq!(mqtt_columns(&rows[1])[..2], ["TCP", ""]);
        // A CONNECT cut before its flags: no flags.
        let short = [0x10, 0x04, 0x00, 0x04, b'M', b'Q'];
        let rows = run(&handshake(&short), &attacker(), PacketOptions::default());
        assert_eq!(
            mqtt_columns(&rows[1]),
            ["_WS.MALFORMED", "1", "4", "", "", "", "", "", "", ""]
        );
        // A good message after a malformed one: tshark goes on after the exception, so the
        // frame's last layer is MQTT again (checked with tshark 4.0.17's PDML).
        let then_ping = [&short[..], &[0xc0, 0x00]].concat();
        let rows = run(
            &handshake(&then_ping),
            &attacker(),
            PacketOptions::default(),
        );
        assert_eq!(mqtt_columns(&rows[1])[..3], ["MQTT", "1", "4"]);
    }

    #[test]
    fn labels() {
        let syn = ipv4(6, CLIENT, BROKER, 0, &tcp(40000, 1883, 7, 0x02, b""));
        let other = ipv4(6, [10, 0, 0, 9], BROKER, 0, &tcp(40001, 1883, 7, 0x02, b""));
        let packets = [(T0, syn), (T0 + 5_000_000_000, other)];
        let is_attack = |labels: &Labeler| -> Vec<String> {
            run(&packets, labels, PacketOptions::default())
                .iter()
                .map(|r| r[column("is_attack")].clone())
                .collect()
        };
        assert_eq!(is_attack(&Labeler::default()), ["", ""]);
        assert_eq!(is_attack(&attacker()), ["1", "0"]);
        let whole_file = Labeler {
            class: Some("slowite".into()),
            ..Labeler::default()
        };
        assert_eq!(is_attack(&whole_file), ["1", "1"]);
        let by_time = Labeler {
            rules: parse_rules("dos,*,1883,2020-09-13T12:26:44Z,\nlegitimate,,,,").unwrap(),
            ..Labeler::default()
        };
        assert_eq!(is_attack(&by_time), ["0", "1"]);
    }

    #[test]
    fn timestamps_as_pyshark_rounds_them_in_utc() {
        // python3 -c "import datetime as d; print(d.datetime.fromtimestamp(float(S),
        //   tz=d.timezone.utc).strftime('%m/%d/%Y, %H:%M:%S:%f'))" for each S:
        let cases = [
            (1_592_812_177_370_831_104, "06/22/2020, 07:49:37:370831"),
            (1_600_000_000_000_000_500, "09/13/2020, 12:26:40:000000"),
            // The double of .0000015 lies below it: pyshark rounds down, not half to even.
            (1_600_000_000_000_001_500, "09/13/2020, 12:26:40:000001"),
            (1_600_000_000_000_002_500, "09/13/2020, 12:26:40:000002"),
            (1_600_000_000_999_999_600, "09/13/2020, 12:26:41:000000"),
            (1_234_567_890_123_456_789, "02/13/2009, 23:31:30:123457"),
            (0, "01/01/1970, 00:00:00:000000"),
            (-1_500_000_000, "12/31/1969, 23:59:58:500000"),
            (4_294_967_296_000_001_000, "02/07/2106, 06:28:16:000001"),
            (i64::MAX, "04/11/2262, 23:47:16:854776"),
            (1_582_934_400_000_000_000, "02/29/2020, 00:00:00:000000"),
        ];
        let mut clock = Clock::default();
        let mut text = String::new();
        for (ts, want) in cases {
            clock.format(ts, &mut text);
            assert_eq!(text, want, "{ts}");
        }
        // The exact path equals the decimal text parsed as a double, on nanosecond stamps.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..300_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ts = match i % 4 {
                0 => (x % (1 << 62)) as i64,
                1 => (x % 4_294_967_296_000_000_000) as i64,
                // Half a microsecond: where the rounding of the double decides.
                2 => 1_600_000_000_000_000_500 + (x % 1_000_000_000_000) as i64 / 1000 * 1000,
                _ => (x % 100_000_000_000) as i64,
            };
            let (second, nanos) = (ts.div_euclid(NS_PER_S), ts.rem_euclid(NS_PER_S));
            if second < 1 << 32 {
                assert_eq!(
                    sniff_time_exact(second, nanos),
                    clock.sniff_time_parsed(ts),
                    "{ts}"
                );
            }
        }
        // The cached second is replaced when the second changes, in either direction.
        clock.format(T0 + 1_000, &mut text);
        clock.format(T0 - 1_000, &mut text);
        assert_eq!(text, "09/13/2020, 12:26:39:999999");
        // A clock that saw earlier stamps writes what a fresh one writes: same second, next
        // second, across midnight, back to an earlier day and forward again.
        let day = 86_400 * NS_PER_S;
        let midnight = 1_591_920_000 * NS_PER_S;
        for ts in [
            midnight - 1_000,
            midnight - 500,
            midnight,
            midnight + NS_PER_S + 7_000,
            midnight + 3_599 * NS_PER_S,
            midnight + 3_600 * NS_PER_S,
            midnight - day + 45 * NS_PER_S,
            midnight + 45 * NS_PER_S,
            midnight + 9 * day + 86_399 * NS_PER_S,
            -1_500_000_000,
            0,
        ] {
            clock.format(ts, &mut text);
            let mut fresh = String::new();
            Clock::default().format(ts, &mut fresh);
            assert_eq!(text, fresh, "{ts}");
        }
        // In CSV the comma quotes the field.
        let mut csv = crate::sink::CsvSink::new(Vec::new(), SCHEMA, "").unwrap();
        let mut set = PacketSet::new();
        let syn = ipv4(6, CLIENT, BROKER, 0, &tcp(40000, 80, 7, 0x02, b""));
        let frame = Frame {
            number: 1,
            offset: 0,
            ts_ns: T0 + 123_456_000,
            interface: 0,
            link_type: LinkType::RAW,
            orig_len: syn.len() as u32,
            data: &syn,
        };
        set.end_packet(&decode(frame), false, &Labeler::default(), &mut csv)
            .unwrap();
        let text = String::from_utf8(csv.finish().unwrap()).unwrap();
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "\"09/13/2020, 12:26:40:123456\",192.168.2.5,10.0.0.2,TCP,63,40,0,0,0,40000,80,\
             0,0,0,0,0,0,0,0,1,0,,,,,,,,,,"
        );
    }

    #[test]
    fn header_is_the_published_one() {
        assert_eq!(
            SCHEMA.names().collect::<Vec<_>>().join(","),
            "timestamp,src_ip,dst_ip,protocol,ttl,ip_len,ip_flag_df,ip_flag_mf,ip_flag_rb,\
             src_port,dst_port,tcp_flag_res,tcp_flag_ns,tcp_flag_cwr,tcp_flag_ecn,tcp_flag_urg,\
             tcp_flag_ack,tcp_flag_push,tcp_flag_reset,tcp_flag_syn,tcp_flag_fin,\
             mqtt_messagetype,mqtt_messagelength,mqtt_flag_uname,mqtt_flag_passwd,\
             mqtt_flag_retain,mqtt_flag_qos,mqtt_flag_willflag,mqtt_flag_clean,\
             mqtt_flag_reserved,is_attack"
        );
    }

    #[test]
    fn hostile_frames_never_panic() {
        // Every prefix and every single-byte corruption of a frame carrying MQTT.
        let good = ipv4(
            6,
            CLIENT,
            BROKER,
            0,
            &tcp(40000, 1883, 10, 0x18, &connect(0xf6)),
        );
        let mut packets = Vec::new();
        for len in 0..=good.len() {
            packets.push((T0, good[..len].to_vec()));
        }
        for i in 0..good.len() {
            for b in [0x00, 0x7f, 0xff] {
                let mut bad = good.clone();
                bad[i] = b;
                packets.push((i64::MIN + i as i64, bad));
            }
        }
        let rows = run(&packets, &attacker(), PacketOptions { ipv6: true });
        assert!(!rows.is_empty());
    }
}
