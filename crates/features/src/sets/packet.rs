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
use std::net::{IpAddr, Ipv4Addr};

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
    /// The direct CSV path's row, address and protocol texts.
    row: RowBytes,
    endpoints: EndpointCache,
    protocols: ProtocolCache,
    /// Rows written by the direct CSV path (tests check it ran).
    #[cfg(test)]
    direct_rows: u64,
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
            packet.ip.as_ref(),
        ) else {
            self.reset();
            return Ok(());
        };

        let label = labels.fixed().unwrap_or_else(|| {
            labels.label(&Subject {
                src: ip.src,
                dst: ip.dst,
                src_port,
                dst_port,
                ts_ns: packet.frame.ts_ns,
            })
        });
        let is_attack = label.is_attack;
        if let Some(protocol_slot) = self.protocols.slot(protocol) {
            if let Some(row) = sink.csv_row() {
                if let Some(absent) = Absent::of(row.absent) {
                    let cells = RowCells {
                        ts_ns: packet.frame.ts_ns,
                        ip,
                        protocol: protocol_slot,
                        ports: (src_port, dst_port),
                        tcp_flags: match packet.transport {
                            Transport::Tcp { flags, .. } => Some(flags),
                            _ => None,
                        },
                        is_attack,
                    };
                    let len = self.render_csv(&cells, absent, row.column() > 0);
                    row.line.extend_from_slice(&self.row.0[..len]);
                    row.wrote(COLUMNS.len());
                    #[cfg(test)]
                    {
                        self.direct_rows += 1;
                    }
                    self.reset();
                    return sink.end_row();
                }
            }
        }

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
        match is_attack {
            Some(attack) => sink.uint(u64::from(attack)),
            None => sink.null(),
        }
        self.reset();
        sink.end_row()
    }
}

/// The cells of a row the direct CSV path renders ([`PacketSet::render_csv`]).
struct RowCells<'a> {
    ts_ns: i64,
    ip: &'a mqtt_ids_capture::IpHeader,
    /// The [`ProtocolCache`] slot of `,` and the protocol's name.
    protocol: usize,
    ports: (u16, u16),
    tcp_flags: Option<TcpFlags>,
    is_attack: Option<bool>,
}

/// The absent-cell texts the direct CSV path writes: `""` (the CLI's) and `"0"` (MQTTset's, the
/// benchmark's). Other sinks' texts take the cell calls.
#[derive(Clone, Copy)]
enum Absent {
    Empty,
    Zero,
}

impl Absent {
    fn of(text: &str) -> Option<Absent> {
        match text {
            "" => Some(Absent::Empty),
            "0" => Some(Absent::Zero),
            _ => None,
        }
    }
}

/// Up to 31 bytes of text in a fixed-size array, copied as one 32-byte block.
#[derive(Clone, Copy, Debug)]
struct Padded {
    bytes: [u8; 32],
    len: u8,
}

impl Default for Padded {
    fn default() -> Self {
        Padded::EMPTY
    }
}

impl Padded {
    const EMPTY: Padded = Padded {
        bytes: [0; 32],
        len: 0,
    };

    /// The first 31 bytes of `text`.
    fn of(text: &[u8]) -> Padded {
        let mut padded = Padded::EMPTY;
        let n = text.len().min(31);
        padded.bytes[..n].copy_from_slice(&text[..n]);
        padded.len = n as u8;
        padded
    }
}

/// Bytes one row can take: a `,` (a row opened after cells), the quoted timestamp (≤ 32), two
/// IPv6 addresses (2 × 40), the protocol (≤ 31), `ttl` (4), `ip_len` (11), the IP flags (6),
/// the ports (12), the TCP flags (20), the MQTT cells (≤ 29), `is_attack` (2): 228, with room
/// after the end for the last fixed-size copy (≤ 40 bytes).
const ROW_BYTES: usize = 320;

/// The direct CSV path's row buffer (kept, so nothing is zeroed per row).
#[derive(Debug)]
struct RowBytes([u8; ROW_BYTES]);

impl Default for RowBytes {
    fn default() -> Self {
        RowBytes([0; ROW_BYTES])
    }
}

/// Writes text into a buffer: every piece is one fixed-size copy, the cursor then advanced by
/// the bytes that count (no length-dependent copy, no capacity check per cell). A local value,
/// so the cursor stays in a register.
struct Cursor<'a, const N: usize> {
    bytes: &'a mut [u8; N],
    len: usize,
}

/// `,0` runs and `,` runs for absent cells.
const ZERO_CELLS: &[u8; 32] = b",0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0";
const EMPTY_CELLS: &[u8; 32] = b",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,";

impl<'a, const N: usize> Cursor<'a, N> {
    fn new(bytes: &'a mut [u8; N]) -> Self {
        Cursor { bytes, len: 0 }
    }

    /// Writes all `K` bytes of `chunk`, keeps the first `used`.
    #[inline(always)]
    fn put<const K: usize>(&mut self, chunk: &[u8; K], used: usize) {
        debug_assert!(used <= K);
        self.bytes[self.len..self.len + K].copy_from_slice(chunk);
        self.len += used;
    }

    #[inline(always)]
    fn put_padded(&mut self, text: &Padded) {
        self.put(&text.bytes, usize::from(text.len));
    }

    /// `n` (at most 16) absent cells, each after its `,`.
    #[inline(always)]
    fn absent(&mut self, n: usize, absent: Absent) {
        debug_assert!(n <= 16);
        match absent {
            Absent::Empty => self.put(EMPTY_CELLS, n),
            Absent::Zero => self.put(ZERO_CELLS, 2 * n),
        }
    }

    /// `,` and the decimal digits of `v < 256`, from a table.
    #[inline(always)]
    fn comma_u8(&mut self, v: u8) {
        let entry = &COMMA_U8[usize::from(v)];
        self.put(entry, usize::from(entry[7]));
    }

    /// `,` and the decimal digits of `v`.
    #[inline(always)]
    fn comma_decimal(&mut self, v: u32) {
        if v < 256 {
            self.comma_u8(v as u8);
        } else if v < 100_000_000 {
            let (digits, n) = digits_below_1e8(v);
            self.put(b",", 1);
            self.put(&digits, n);
        } else {
            let (digits, n) = digits_below_1e8(v / 100_000_000);
            self.put(b",", 1);
            self.put(&digits, n);
            self.put(&eight_digits(v % 100_000_000).to_le_bytes(), 8);
        }
    }
}

/// `,` and the digits of each byte value, its length (2 to 4) in the last byte.
static COMMA_U8: [[u8; 8]; 256] = {
    let mut table = [[0u8; 8]; 256];
    let mut v = 0;
    while v < 256 {
        let e = &mut table[v];
        e[0] = b',';
        let (h, t, o) = ((v / 100) as u8, (v / 10 % 10) as u8, (v % 10) as u8);
        if v >= 100 {
            (e[1], e[2], e[3], e[7]) = (b'0' + h, b'0' + t, b'0' + o, 4);
        } else if v >= 10 {
            (e[1], e[2], e[7]) = (b'0' + t, b'0' + o, 3);
        } else {
            (e[1], e[7]) = (b'0' + o, 2);
        }
        v += 1;
    }
    table
};

/// The eight decimal digits of `v < 10^8`, zero-padded, most significant first in memory order
/// (SWAR: two 4-digit halves, split into 2-digit then 1-digit lanes by multiply-shift division).
#[inline(always)]
fn eight_digits(v: u32) -> u64 {
    debug_assert!(v < 100_000_000);
    let v = u64::from(v);
    // 4-digit halves in 32-bit lanes, the high half first.
    let halves = (v / 10_000) | ((v % 10_000) << 32);
    // Each lane / 100 (x * 10486 >> 20 is x / 100 for x < 10^4), then into 16-bit lanes.
    let hundreds = ((halves * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let pairs = hundreds | (halves - 100 * hundreds) << 16;
    // Each 16-bit lane / 10 (x * 103 >> 10 is x / 10 for x < 100), then into bytes.
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    let digits = tens | (pairs - 10 * tens) << 8;
    digits | 0x3030_3030_3030_3030
}

/// The decimal digits of `v < 10^8` (no leading zero), and how many.
#[inline(always)]
fn digits_below_1e8(v: u32) -> ([u8; 8], usize) {
    let digits = eight_digits(v);
    // Leading zero digits are the low zero bytes of the digit values; "0" keeps one.
    let zeros = ((digits ^ 0x3030_3030_3030_3030).trailing_zeros() / 8).min(7);
    ((digits >> (8 * zeros)).to_le_bytes(), 8 - zeros as usize)
}

/// `,` and `0`/`1` for the 8 low TCP flag bits (CWR … FIN, schema order), by flag byte.
static TCP_LOW_FLAGS: [[u8; 16]; 256] = {
    let mut table = [[0u8; 16]; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut i = 0;
        while i < 8 {
            table[byte][2 * i] = b',';
            table[byte][2 * i + 1] = b'0' + ((byte >> (7 - i)) & 1) as u8;
            i += 1;
        }
        byte += 1;
    }
    table
};

/// The text of the source and destination columns and of the two port columns, for recent IPv4
/// address and port pairs (a direct-mapped table: a connection's packets format nothing).
#[derive(Debug)]
struct EndpointCache {
    slots: Box<[Endpoints; ENDPOINT_SLOTS]>,
}

#[derive(Clone, Copy, Debug)]
struct Endpoints {
    /// Bit 96 set (an empty slot matches nothing), source, destination, ports.
    key: u128,
    /// `,src,dst` (at most 32 bytes)
    addresses: [u8; 32],
    /// `,src_port,dst_port` (at most 12 bytes)
    ports: [u8; 16],
    addresses_len: u8,
    ports_len: u8,
}

const ENDPOINT_SLOTS: usize = 1024;

impl Default for EndpointCache {
    fn default() -> Self {
        let empty = Endpoints {
            key: 0,
            addresses: [0; 32],
            ports: [0; 16],
            addresses_len: 0,
            ports_len: 0,
        };
        EndpointCache {
            slots: Box::new([empty; ENDPOINT_SLOTS]),
        }
    }
}

impl EndpointCache {
    #[inline]
    fn get(&mut self, src: Ipv4Addr, dst: Ipv4Addr, ports: (u16, u16)) -> &Endpoints {
        let addresses = u64::from(src.to_bits()) << 32 | u64::from(dst.to_bits());
        let ports_key = u32::from(ports.0) << 16 | u32::from(ports.1);
        let key = 1 << 96 | u128::from(addresses) << 32 | u128::from(ports_key);
        let hash = (addresses ^ u64::from(ports_key).rotate_left(29))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            >> (64 - ENDPOINT_SLOTS.trailing_zeros());
        let slot = &mut self.slots[hash as usize % ENDPOINT_SLOTS];
        if slot.key != key {
            slot.fill(key, src, dst, ports);
        }
        slot
    }
}

impl Endpoints {
    #[cold]
    fn fill(&mut self, key: u128, src: Ipv4Addr, dst: Ipv4Addr, ports: (u16, u16)) {
        self.key = key;
        let mut bytes = [0u8; 64];
        let mut text = Cursor::new(&mut bytes);
        for addr in [src, dst] {
            // `,a.b.c.d` (as tshark shows it): each octet from the `,ddd` table, its comma
            // turned into a dot after the first.
            for (i, octet) in addr.octets().into_iter().enumerate() {
                let at = text.len;
                text.comma_u8(octet);
                if i > 0 {
                    text.bytes[at] = b'.';
                }
            }
        }
        self.addresses_len = text.len as u8;
        self.addresses.copy_from_slice(&bytes[..32]);
        let mut text = Cursor::new(&mut bytes);
        text.comma_decimal(ports.0.into());
        text.comma_decimal(ports.1.into());
        self.ports_len = text.len as u8;
        self.ports.copy_from_slice(&bytes[..16]);
    }
}

/// `,` and the name of the last few protocols (highest layers) seen, padded for one fixed-size
/// copy; names CSV would quote (none of tshark's) or longer than 30 bytes have none.
#[derive(Debug, Default)]
struct ProtocolCache {
    names: [&'static str; 4],
    texts: [Padded; 4],
    next: usize,
}

impl ProtocolCache {
    /// The slot of the name's text.
    #[inline(always)]
    fn slot(&mut self, name: &'static str) -> Option<usize> {
        // The names are static: the same name is the same pointer (a different pointer to the
        // same text just takes a second slot). An empty slot's name is empty.
        let same = |n: &&str| std::ptr::eq(n.as_ptr(), name.as_ptr()) && n.len() == name.len();
        match self.names.iter().position(same) {
            Some(i) if !name.is_empty() => Some(i),
            _ => self.add(name),
        }
    }

    #[inline(never)]
    fn add(&mut self, name: &'static str) -> Option<usize> {
        let plain = !name.is_empty()
            && name.len() <= 30
            && !name
                .bytes()
                .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
        if !plain {
            return None;
        }
        let i = self.next;
        self.next = (i + 1) % self.names.len();
        self.names[i] = name;
        let mut text = [b','; 31];
        text[1..=name.len()].copy_from_slice(name.as_bytes());
        self.texts[i] = Padded::of(&text[..=name.len()]);
        Some(i)
    }
}

impl PacketSet {
    /// Renders a row as CSV into `self.row`, returns its length: the bytes the cell calls
    /// would write through a [`crate::sink::CsvSink`] with that absent text
    /// (`tests::direct_csv_rows_are_the_cell_calls_rows`).
    #[inline(always)]
    fn render_csv(&mut self, cells: &RowCells<'_>, absent: Absent, after_cells: bool) -> usize {
        let PacketSet {
            options,
            first,
            clock,
            addresses,
            row,
            endpoints,
            protocols,
            ..
        } = self;
        let mut row = Cursor::new(&mut row.0);
        if after_cells {
            row.put(b",", 1);
        }
        clock.put_quoted(cells.ts_ns, &mut row);
        let ip = cells.ip;
        let protocol = &protocols.texts[cells.protocol % 4];
        let v4 = ip.version == IpVersion::V4;
        let bit = |b: bool| b'0' + u8::from(b);
        match (&ip.src, &ip.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) if v4 => {
                let endpoints = endpoints.get(*src, *dst, cells.ports);
                row.put(&endpoints.addresses, usize::from(endpoints.addresses_len));
                row.put_padded(protocol);
                row.comma_u8(ip.ttl);
                row.comma_decimal(ip.total_len);
                row.put(&[b',', bit(ip.df), b',', bit(ip.mf), b',', bit(ip.rb)], 6);
                row.put(&endpoints.ports, usize::from(endpoints.ports_len));
            }
            _ => {
                if v4 || options.ipv6 {
                    for addr in [ip.src, ip.dst] {
                        // At most 39 bytes (IPv6).
                        let text = addresses.text(addr).as_bytes();
                        let mut chunk = [b','; 40];
                        let n = text.len().min(39);
                        chunk[1..=n].copy_from_slice(&text[..n]);
                        row.put(&chunk, n + 1);
                    }
                    row.put_padded(protocol);
                    row.comma_u8(ip.ttl);
                    row.comma_decimal(ip.total_len);
                } else {
                    row.absent(2, absent);
                    row.put_padded(protocol);
                    row.absent(2, absent);
                }
                if v4 {
                    row.put(&[b',', bit(ip.df), b',', bit(ip.mf), b',', bit(ip.rb)], 6);
                } else {
                    row.absent(3, absent);
                }
                row.comma_decimal(cells.ports.0.into());
                row.comma_decimal(cells.ports.1.into());
            }
        }
        match cells.tcp_flags {
            Some(flags) => {
                let has = |mask: u16| bit(flags.has(mask));
                row.put(&[b',', has(TcpFlags::RESERVED), b',', has(TcpFlags::NS)], 4);
                row.put(&TCP_LOW_FLAGS[usize::from(flags.0 as u8)], 16);
            }
            None => row.absent(TCP_FLAG_COLUMNS.len(), absent),
        }
        match first {
            Some(m) => {
                row.comma_u8(m.packet_type);
                row.comma_decimal(m.remaining_length);
                match m.connect_flags {
                    Some(f) => {
                        // uname, passwd, will retain, will QoS (2 bits), will flag, clean,
                        // reserved
                        let bit = |b: u8| b'0' + ((f >> b) & 1);
                        let qos = b'0' + ((f >> 3) & 3);
                        row.put(
                            &[
                                b',',
                                bit(7),
                                b',',
                                bit(6),
                                b',',
                                bit(5),
                                b',',
                                qos,
                                b',',
                                bit(2),
                                b',',
                                bit(1),
                                b',',
                                bit(0),
                            ],
                            14,
                        );
                    }
                    None => row.absent(7, absent),
                }
            }
            None => row.absent(9, absent),
        }
        match cells.is_attack {
            Some(attack) => row.put(&[b',', bit(attack)], 2),
            None => row.absent(1, absent),
        }
        row.len
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
    /// `"MM/DD/YYYY, HH:MM:SS:`: the quote the CSV cell starts with, then the text up to the
    /// seconds (at most 25 bytes: the years of `i64` nanoseconds have at most six digits).
    quoted: Padded,
    /// The day of `quoted` and the length of its date part (`"MM/DD/YYYY, `): a new second of
    /// the same day rewrites only the time.
    day: Option<(i64, usize)>,
    /// The first nanosecond of the last stamp's second, that second, and how far (ns) from a
    /// half microsecond its double may round otherwise than its decimal
    /// ([`Clock::sniff_time`]): stamps of the same second need no division.
    floor: (i64, i64, i64),
    /// Decimal text of a timestamp, for the rare exact double conversion.
    scratch: String,
}

const NS_PER_S: i64 = 1_000_000_000;

impl Clock {
    fn format(&mut self, ts_ns: i64, out: &mut String) {
        let micros = self.set_second(ts_ns);
        out.clear();
        out.push_str(ascii(&self.quoted.bytes[1..usize::from(self.quoted.len)]));
        out.push_str(ascii(&six_digits(micros)));
    }

    /// Writes the timestamp as its CSV cell: quoted, for its comma.
    #[inline(always)]
    fn put_quoted<const N: usize>(&mut self, ts_ns: i64, row: &mut Cursor<'_, N>) {
        let micros = self.set_second(ts_ns);
        row.put_padded(&self.quoted);
        // The six digits, the closing quote, one byte of padding: one 8-byte copy.
        let end = six_digits_word(micros) | u64::from(b'"') << 48;
        row.put(&end.to_le_bytes(), 7);
    }

    /// Makes `quoted` the text of the timestamp's second; returns its microseconds.
    #[inline(always)]
    fn set_second(&mut self, ts_ns: i64) -> u32 {
        let (second, micros) = self.sniff_time(ts_ns);
        if self.second != Some(second) {
            self.new_second(second);
        }
        micros
    }

    #[inline(never)]
    fn new_second(&mut self, second: i64) {
        self.second = Some(second);
        let (days, of_day) = (second.div_euclid(86_400), second.rem_euclid(86_400));
        let mut bytes = [0u8; 64];
        let mut text = Cursor::new(&mut bytes);
        match self.day {
            Some((day, date_len)) if day == days => {
                text.bytes[..date_len].copy_from_slice(&self.quoted.bytes[..date_len]);
                text.len = date_len;
            }
            _ => {
                let (year, month, day) = civil_from_days(days);
                text.put(b"\"", 1);
                text.put(&two_digits(month), 2);
                text.put(b"/", 1);
                text.put(&two_digits(day), 2);
                text.put(b"/", 1);
                if year < 0 {
                    text.put(b"-", 1);
                }
                // Zero-padded to four digits; at most six (`i64` nanoseconds).
                let year = year.unsigned_abs().min(99_999_999) as u32;
                let (digits, n) = digits_below_1e8(year);
                let digits = if n < 4 {
                    ((eight_digits(year) >> 32).to_le_bytes(), 4)
                } else {
                    (digits, n)
                };
                text.put(&digits.0, digits.1);
                text.put(b", ", 2);
                self.day = Some((days, text.len));
            }
        }
        // Hours, minutes, seconds: each below 100, two digits.
        let (h, m, s) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
        let [h, m, s] = [h, m, s].map(|v| two_digits(v as u32));
        text.put(&[h[0], h[1], b':', m[0], m[1], b':', s[0], s[1], b':'], 9);
        let len = text.len;
        self.quoted = Padded::of(&bytes[..len]);
    }

    /// Seconds and microseconds as pyshark's `sniff_time` has them: `float(timestamp)`, then
    /// `datetime.fromtimestamp`, which splits the double with `modf` and rounds the fraction
    /// times 10⁶ half to even. For whole microseconds below 2³² s the double is within 0.24 µs,
    /// so that is exact and needs no double; nor does a stamp farther from a half microsecond
    /// than the double's error.
    #[inline(always)]
    fn sniff_time(&mut self, ts_ns: i64) -> (i64, u32) {
        let (second, nanos, band) = match ts_ns.checked_sub(self.floor.0) {
            // The second of the last stamp (no division).
            Some(nanos) if (0..NS_PER_S).contains(&nanos) => (self.floor.1, nanos, self.floor.2),
            _ => self.new_floor(ts_ns),
        };
        // 0 <= nanos < 10^9: 32-bit division.
        let (micros, rest) = ((nanos as u32) / 1000, i64::from(nanos as u32 % 1000));
        if rest == 0 && second.unsigned_abs() < 1 << 32 {
            return (second, micros);
        }
        if (0..1 << 32).contains(&second) {
            // The double of `second.nanos` is within `band` ns of it: a stamp farther than that
            // from a half microsecond rounds as its decimal does
            // (`sniff_time_rounds_as_the_exact_double`).
            if rest < 500 - band {
                return (second, micros);
            }
            if rest > 500 + band {
                return match micros + 1 {
                    1_000_000 => (second + 1, 0),
                    up => (second, up),
                };
            }
            return sniff_time_exact(second, nanos);
        }
        self.sniff_time_parsed(ts_ns)
    }

    /// Sets `floor` to the second of `ts_ns`; returns that second, the nanoseconds into it, and
    /// the band.
    #[inline(never)]
    fn new_floor(&mut self, ts_ns: i64) -> (i64, i64, i64) {
        let second = ts_ns.div_euclid(NS_PER_S);
        let nanos = ts_ns.rem_euclid(NS_PER_S);
        // Half the double's unit in the last place, 2^(e - 53) s for `second` in [2^e, 2^(e+1)),
        // rounded up, plus 1 ns for the rounding of the fraction times 10^6 (2^-33 µs at most).
        // For second 0 the fraction is `nanos / 1e9`, correctly rounded. Only `0 <= second <
        // 2^32` (e <= 31, at most 239 ns) uses it.
        let band = match second {
            1..=0xffff_ffff => (NS_PER_S >> (53 - second.ilog2())) + 2,
            _ => 2,
        };
        self.floor = (ts_ns - nanos, second, band);
        (second, nanos, band)
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

/// The two digits of `v % 100`.
fn two_digits(v: u32) -> [u8; 2] {
    [b'0' + (v / 10 % 10) as u8, b'0' + (v % 10) as u8]
}

/// The six digits of `micros` (at most 999,999).
#[inline]
fn six_digits(micros: u32) -> [u8; 6] {
    let digits = six_digits_word(micros).to_le_bytes();
    [
        digits[0], digits[1], digits[2], digits[3], digits[4], digits[5],
    ]
}

/// The six digits of `micros` (at most 999,999) in the low six bytes (memory order), the top two
/// zero: two look-ups in a table of three-digit groups. Every row has its microseconds, and the
/// SWAR [`eight_digits`] took ~25 instructions of them: the whole command was 2,903 M
/// instructions on the 1M bench file, now 2,880 M (`PacketSet::end_packet` 434 M -> 413 M).
#[inline(always)]
fn six_digits_word(micros: u32) -> u64 {
    let micros = micros.min(999_999);
    let high = THREE_DIGITS[(micros / 1000) as usize];
    let low = THREE_DIGITS[(micros % 1000) as usize];
    u64::from(u32::from_le_bytes(high)) | u64::from(u32::from_le_bytes(low)) << 24
}

/// The three digits of each value below 1000, zero-padded, then a zero byte.
static THREE_DIGITS: [[u8; 4]; 1000] = {
    let mut table = [[0u8; 4]; 1000];
    let mut v = 0;
    while v < 1000 {
        table[v] = [
            b'0' + (v / 100) as u8,
            b'0' + (v / 10 % 10) as u8,
            b'0' + (v % 10) as u8,
            0,
        ];
        v += 1;
    }
    table
};

/// [`Clock::sniff_time`] for `0 <= second < 2^32` without text: the double nearest to
/// `second.nanos` (ties to even, as a correctly rounded `float()` of the decimal) is `second` plus
/// a whole number of its units in the last place, and that fraction is exact in a double.
#[inline(always)]
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

    /// The direct CSV rows and the cell calls' rows of the same packets, one set each behind
    /// one tracker (MQTT on any port opening with a CONNECT, as the CLI runs it).
    struct BothWays {
        tracker: Tracker,
        direct_set: PacketSet,
        cells_set: PacketSet,
        direct: crate::sink::CsvSink<Vec<u8>>,
        cells: crate::sink::CellsOnly<crate::sink::CsvSink<Vec<u8>>>,
    }

    impl BothWays {
        fn new(options: PacketOptions, absent: &'static str) -> Self {
            use crate::sink::{CellsOnly, CsvSink};
            BothWays {
                tracker: Tracker::new(TrackerConfig::default()),
                direct_set: PacketSet::with_options(options),
                cells_set: PacketSet::with_options(options),
                direct: CsvSink::new(Vec::new(), SCHEMA, absent).unwrap(),
                cells: CellsOnly(CsvSink::new(Vec::new(), SCHEMA, absent).unwrap()),
            }
        }

        fn feed(&mut self, frame: Frame<'_>, labels: &Labeler) {
            let packet = decode(frame);
            let (direct_set, cells_set) = (&mut self.direct_set, &mut self.cells_set);
            let mqtt = self
                .tracker
                .on_packet(&packet, &mut |e: &MessageEvent<'_>| {
                    direct_set.on_message(e);
                    cells_set.on_message(e);
                });
            direct_set
                .end_packet(&packet, mqtt, labels, &mut self.direct)
                .unwrap();
            cells_set
                .end_packet(&packet, mqtt, labels, &mut self.cells)
                .unwrap();
        }

        /// Both outputs, checked equal line by line; returns the rows.
        fn check(self, what: &str) -> u64 {
            let rows = self.direct.rows();
            assert_eq!(rows, self.cells.0.rows(), "{what}");
            let direct = String::from_utf8(self.direct.finish().unwrap()).unwrap();
            let cells = String::from_utf8(self.cells.0.finish().unwrap()).unwrap();
            for (i, (d, c)) in direct.lines().zip(cells.lines()).enumerate() {
                assert_eq!(d, c, "{what}: line {}", i + 1);
            }
            assert_eq!(direct, cells, "{what}");
            rows
        }
    }

    /// Raw-IP frames: (time, bytes, bytes the wire had).
    fn raw_frames(packets: &[(i64, Vec<u8>, u32)]) -> impl Iterator<Item = Frame<'_>> {
        packets
            .iter()
            .enumerate()
            .map(|(i, (ts_ns, data, orig_len))| Frame {
                number: i as u64 + 1,
                offset: 0,
                ts_ns: *ts_ns,
                interface: 0,
                link_type: LinkType::RAW,
                orig_len: *orig_len,
                data,
            })
    }

    fn ipv6(next: u8, src: &str, dst: &str, l4: &[u8]) -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        v.extend_from_slice(&[next, 255]);
        v.extend_from_slice(&src.parse::<std::net::Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&dst.parse::<std::net::Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(l4);
        v
    }

    fn labellers() -> Vec<Labeler> {
        vec![
            Labeler::default(),
            attacker(),
            Labeler {
                class: Some("legitimate".into()),
                ..Labeler::default()
            },
            Labeler {
                rules: parse_rules("dos,*,1883,2020-09-13T12:26:44Z,\nlegitimate,10.0.0.2,,,")
                    .unwrap(),
                ..Labeler::default()
            },
        ]
    }

    #[test]
    fn direct_csv_rows_are_the_cell_calls_rows() {
        let long_v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe";
        let publish = [0x30, 0x07, 0x00, 0x01, b't', b'h', b'e', b'l', b'o'];
        // A PUBLISH header claiming the largest remaining length, cut by the snap length.
        let huge = [0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, b't'];
        let day = 86_400 * NS_PER_S;
        let midnight = 1_591_920_000 * NS_PER_S;
        let mut packets: Vec<(i64, Vec<u8>, u32)> = Vec::new();
        let add = |packets: &mut Vec<(i64, Vec<u8>, u32)>, ts: i64, data: Vec<u8>| {
            let len = data.len() as u32;
            packets.push((ts, data, len));
        };
        // A connection: handshake, CONNECT with every flag pattern, PUBLISH, ACKs, FIN.
        add(
            &mut packets,
            T0,
            ipv4(6, CLIENT, BROKER, 0x40, &tcp(40000, 1883, 9, 0x02, b"")),
        );
        add(
            &mut packets,
            T0 + 7,
            ipv4(6, BROKER, CLIENT, 0x40, &tcp(1883, 40000, 99, 0x12, b"")),
        );
        let mut seq = 10;
        for (i, flags) in [0xf6u8, 0x02, 0xc2, 0x01, 0x3e].into_iter().enumerate() {
            let c = connect(flags);
            let ts = midnight - 2 * NS_PER_S + i as i64 * 600_000_123;
            add(
                &mut packets,
                ts,
                ipv4(6, CLIENT, BROKER, 0x40, &tcp(40000, 1883, seq, 0x18, &c)),
            );
            seq += c.len() as u32;
        }
        for (i, ts) in [
            midnight - 1_000,
            midnight - 500,
            midnight,
            midnight + 3_599 * NS_PER_S + 999_999_999,
            midnight + 3_600 * NS_PER_S,
            midnight - day + 45 * NS_PER_S + 123_456_789,
            midnight + 9 * day + 86_399 * NS_PER_S + 999_999_500,
            -1_500_000_000,
            -1,
            0,
            i64::MIN + 1,
            i64::MAX,
            1_600_000_000_000_000_500,
            1_600_000_000_000_001_500,
        ]
        .into_iter()
        .enumerate()
        {
            let flags = [0x18, 0x10, 0x18, 0x38][i % 4];
            add(
                &mut packets,
                ts,
                ipv4(
                    6,
                    CLIENT,
                    BROKER,
                    0x40,
                    &tcp(40000, 1883, seq, flags, &publish),
                ),
            );
            seq += publish.len() as u32;
            add(
                &mut packets,
                ts + 1,
                ipv4(6, BROKER, CLIENT, 0, &tcp(1883, 40000, 99, 0x10, b"")),
            );
        }
        // Every TCP flag, the reserved TCP bits and NS, the evil IP bit, then the end.
        let mut odd = tcp(40000, 1883, seq, 0xff, b"");
        odd[12] = 0x5f; // data offset 5, all reserved bits and NS
        add(&mut packets, T0, ipv4(6, CLIENT, BROKER, 0xc0, &odd));
        odd[12] = 0x52; // one reserved bit
        add(&mut packets, T0, ipv4(6, CLIENT, BROKER, 0x80, &odd));
        add(
            &mut packets,
            T0,
            ipv4(6, CLIENT, BROKER, 0, &tcp(40000, 1883, seq, 0x04, b"")),
        );
        // Another connection, its PUBLISH cut by the snap length: MQTT's header only, with a
        // remaining length of 9 digits (`_WS.SHORT`), then a CONNECT cut after its flags.
        add(
            &mut packets,
            T0,
            ipv4(6, CLIENT, BROKER, 0, &tcp(40002, 1883, 9, 0x02, b"")),
        );
        add(
            &mut packets,
            T0,
            ipv4(
                6,
                CLIENT,
                BROKER,
                0,
                &tcp(40002, 1883, 10, 0x18, &connect(0x02)),
            ),
        );
        // The IP length says 100 bytes more than were captured.
        let cut = |port: u16, seq: u32, payload: &[u8]| {
            let whole = [payload, &[0; 100]].concat();
            let mut data = ipv4(6, CLIENT, BROKER, 0, &tcp(port, 1883, seq, 0x18, &whole));
            let len = data.len() as u32;
            data.truncate(data.len() - 100);
            (T0, data, len)
        };
        packets.push(cut(40002, 23, &huge));
        add(
            &mut packets,
            T0,
            ipv4(6, CLIENT, BROKER, 0, &tcp(40003, 1883, 9, 0x02, b"")),
        );
        packets.push(cut(40003, 10, &connect(0xf6)[..10]));
        // UDP, non-MQTT TCP with and without payload, DNS.
        let query = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1];
        packets.push((
            T0,
            ipv4(17, BROKER, [10, 0, 0, 53], 0x80, &udp(5000, 53, &query)),
            45,
        ));
        packets.push((T0, ipv4(17, [255; 4], [0; 4], 0, &udp(0, 65535, b"")), 28));
        packets.push((
            T0,
            ipv4(
                6,
                [1, 22, 133, 4],
                BROKER,
                0,
                &tcp(80, 65535, 1, 0x18, b"GET / HTTP/1.1\r\n\r\n"),
            ),
            58,
        ));
        packets.push((
            T0,
            ipv4(6, [100, 10, 1, 0], BROKER, 0, &tcp(8080, 22, 1, 0x00, b"")),
            40,
        ));
        // IPv6: UDP, TCP with MQTT, the longest address text.
        let mut v6 = vec![
            ipv6(17, "::1", "fe80::1", &udp(5353, 5353, &[0; 12])),
            ipv6(17, long_v6, long_v6, &udp(65535, 65535, b"x")),
            ipv6(
                6,
                "2001:db8::1",
                "2001:db8::2",
                &tcp(50000, 1883, 9, 0x02, b""),
            ),
            ipv6(
                6,
                "2001:db8::1",
                "2001:db8::2",
                &tcp(50000, 1883, 10, 0x18, &connect(0xc2)),
            ),
            ipv6(
                6,
                "::ffff:1.2.3.4",
                long_v6,
                &tcp(50001, 1883, 10, 0x18, &connect(0x02)),
            ),
        ];
        // An IPv6 UDP datagram of the largest payload length (cut).
        let mut big = ipv6(17, long_v6, "::", &udp(1, 2, &[0; 8]));
        big[4..6].copy_from_slice(&0xffffu16.to_be_bytes());
        v6.push(big);
        for p in v6 {
            let len = p.len() as u32;
            packets.push((T0 + 3 * NS_PER_S, p, len));
        }
        for absent in ["", "0"] {
            for ipv6 in [false, true] {
                for labels in labellers() {
                    let mut both = BothWays::new(PacketOptions { ipv6 }, absent);
                    for frame in raw_frames(&packets) {
                        both.feed(frame, &labels);
                    }
                    assert!(both.direct_set.direct_rows > 0);
                    assert_eq!(both.cells_set.direct_rows, 0);
                    let what = format!("absent {absent:?}, ipv6 {ipv6}, {labels:?}");
                    assert!(both.check(&what) > 30, "{what}");
                }
            }
        }
    }

    #[test]
    fn direct_csv_rows_are_the_cell_calls_rows_on_hostile_frames() {
        // Every prefix and every single-byte corruption of MQTT frames over IPv4 and IPv6.
        let frames = [
            ipv4(
                6,
                CLIENT,
                BROKER,
                0,
                &tcp(40000, 1883, 10, 0x18, &connect(0xf6)),
            ),
            ipv6(
                6,
                "2001:db8::1",
                "ff02::fb",
                &tcp(40000, 1883, 10, 0x18, &connect(0xc2)),
            ),
        ];
        let mut packets = Vec::new();
        for good in frames {
            for len in 0..=good.len() {
                packets.push((T0, good[..len].to_vec(), good.len() as u32));
            }
            for i in 0..good.len() {
                for b in [0x00, 0x7f, 0x80, 0xff] {
                    let mut bad = good.clone();
                    bad[i] = b;
                    packets.push((T0 + i as i64 * 333, bad, good.len() as u32));
                }
            }
        }
        for (absent, ipv6) in [("", true), ("0", false)] {
            let mut both = BothWays::new(PacketOptions { ipv6 }, absent);
            for frame in raw_frames(&packets) {
                both.feed(frame, &attacker());
            }
            assert!(both.check("hostile") > 500);
        }
    }

    #[test]
    fn direct_csv_rows_are_the_cell_calls_rows_on_the_shared_captures() {
        let Some(captures) = crate::sets::shared_captures() else {
            return;
        };
        let mut rows = 0;
        for (i, path) in captures.iter().enumerate() {
            // Each capture once, with the options and labels in turn.
            let labels = &labellers()[i % 4];
            let options = PacketOptions { ipv6: i % 2 == 1 };
            let mut both = BothWays::new(options, ["", "0"][i / 2 % 2]);
            let mut reader = mqtt_ids_capture::open(
                path.to_str().unwrap(),
                mqtt_ids_capture::ReaderOptions::default(),
            )
            .unwrap();
            while let Ok(Some(frame)) = reader.next_frame() {
                both.feed(frame, labels);
            }
            rows += both.check(&path.display().to_string());
        }
        // The 47 captures have 63,468 rows (tests/packet.rs).
        assert!(rows > 60_000, "{rows}");
    }

    #[test]
    fn digits_render_like_to_string() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let edges = (0..=9).flat_map(|e| {
            let p = 10u64.pow(e);
            [p - 1, p, p + 1]
        });
        let random = (0..200_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> (x % 40)
        });
        for v in (0..100_000)
            .chain(edges)
            .chain(random)
            .chain([u32::MAX.into()])
        {
            let v = v.min(u64::from(u32::MAX)) as u32;
            let mut bytes = [0u8; 32];
            let mut text = Cursor::new(&mut bytes);
            text.comma_decimal(v);
            let len = text.len;
            assert_eq!(ascii(&bytes[..len]), format!(",{v}"), "{v}");
            if v < 100_000_000 {
                assert_eq!(ascii(&eight_digits(v).to_le_bytes()), format!("{v:08}"));
            }
        }
        for v in 0..=255u8 {
            let mut bytes = [0u8; 16];
            let mut text = Cursor::new(&mut bytes);
            text.comma_u8(v);
            let len = text.len;
            assert_eq!(ascii(&bytes[..len]), format!(",{v}"));
        }
        for v in 0..1_000_000 {
            assert_eq!(ascii(&six_digits(v)), format!("{v:06}"));
        }
    }

    #[test]
    fn sniff_time_rounds_as_the_exact_double() {
        // Stamps within the band around half a microsecond and just outside it, in seconds of
        // every binary magnitude, against the exact conversion.
        let mut clock = Clock::default();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut checked = 0;
        for e in 0..32 {
            for _ in 0..2_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let second = (1i64 << e) + (x % (1 << e)) as i64;
                let micros = (x >> 32) as i64 % 1_000_000;
                for rest in [
                    0, 1, 120, 121, 122, 259, 260, 261, 378, 379, 380, 381, 499, 500, 501,
                ]
                .into_iter()
                .flat_map(|r| [r, 1000 - r])
                .filter(|&r| r < 1000)
                {
                    let nanos = micros * 1000 + rest;
                    let ts = second * NS_PER_S + nanos;
                    assert_eq!(
                        clock.sniff_time(ts),
                        sniff_time_exact(second, nanos),
                        "{ts}"
                    );
                    checked += 1;
                }
            }
        }
        // Second 0 and the last microsecond of a second.
        for nanos in [
            0,
            1,
            499,
            500,
            501,
            999_999_499,
            999_999_500,
            999_999_501,
            999_999_999,
        ] {
            assert_eq!(
                clock.sniff_time(nanos),
                sniff_time_exact(0, nanos),
                "{nanos}"
            );
            let ts = T0 + nanos;
            assert_eq!(
                clock.sniff_time(ts),
                sniff_time_exact(T0 / NS_PER_S, nanos),
                "{ts}"
            );
        }
        assert!(checked > 1_000_000);
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
