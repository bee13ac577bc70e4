//! The `context` set: one row per TCP packet carrying the packet's own fields and the running
//! state of its connection at that packet — TCP and MQTT session state, per-direction statistics
//! so far, findings so far — and the fan-out of the connection's client host in a sliding window.
//!
//! Why: most frames of brute force, SlowITe and malformed traffic are bare TCP segments whose own
//! fields are the same in every class; what tells them apart is the state of the connection they
//! belong to. Everything here is computed incrementally, in O(1) per packet (amortised for the
//! host window), from what the MQTT tracker delivers for the packet.
//!
//! The state machine ([`ContextSet`]) also feeds the `session` set ([`super::session`]: one row per
//! connection at its end, or at each update interval). It is driven per packet, so an online
//! detector uses it as `extract` does: MQTT messages and findings of the packet
//! ([`ContextSet::on_message`], [`ContextSet::on_finding`], or the [`Visitor`] impl), then
//! [`ContextSet::end_packet`]; [`ContextSet::advance`] on a timer; [`ContextSet::finish`] at the end.
//!
//! Promises (tests below and `tests/context.rs`):
//! - one `context` row per IPv4/IPv6 packet with a decoded TCP header, in capture order;
//! - no address, port, TTL, window, sequence number, timestamp, client id, topic or payload byte
//!   is a feature: only lengths, counts, flags, times relative to the connection, and
//!   statistics of those (`conn_id`, a per-pass connection index, is for grouping only);
//! - a connection is the pair of TCP endpoints; a client SYN with another initial sequence number
//!   starts a new one (port reuse), as does a packet after the connection ended by timeout or
//!   eviction. `fwd` is client → server: the client is the sender of the first SYN, else the side
//!   not on an MQTT port, else the first sender;
//! - the state in a row includes the packet itself (counts, statistics, TCP flags, messages it
//!   completes), except `since_mqtt`, the time since the previous MQTT message;
//! - MQTT messages the tracker delivers while handling a packet are counted on that packet's
//!   connection (a message of another connection delivered then, because the tracker evicted or
//!   replaced it, is counted here too: rare, and counted by the tracker's stats);
//! - memory is bounded: at most `max_connections` connections (oldest first out beyond it) and
//!   `max_hosts` client hosts, each with at most `max_host_events` window events; what the caps
//!   drop is counted in [`ContextStats`].

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::IpAddr;

use mqtt_ids_capture::{Packet, TcpFlags, Transport};
use mqtt_ids_mqtt::{
    Direction, FindingEvent, FindingKind, FindingSet, MessageEvent, Packet as MqttPacket,
    PacketType, Visitor,
};

use crate::label::{Labeler, Subject};
use crate::schema::{Column, ColumnType::*, Schema};
use crate::sink::{RowOrigin, RowSink};

/// Columns of the connection state, shared by `context` (state at the packet) and `session`
/// (state at the row's time). Documented one by one in docs/features.md.
pub const STATE_COLUMNS: [Column; 95] = [
    Column::new("age", Float),
    Column::new("since_mqtt", Float),
    Column::new("fwd_pkts", UInt),
    Column::new("bwd_pkts", UInt),
    Column::new("fwd_bytes", UInt),
    Column::new("bwd_bytes", UInt),
    Column::new("fwd_payload", UInt),
    Column::new("bwd_payload", UInt),
    Column::new("fwd_iat_mean", Float),
    Column::new("bwd_iat_mean", Float),
    Column::new("fwd_iat_std", Float),
    Column::new("bwd_iat_std", Float),
    Column::new("fwd_iat_min", Float),
    Column::new("bwd_iat_min", Float),
    Column::new("fwd_iat_max", Float),
    Column::new("bwd_iat_max", Float),
    Column::new("fwd_len_mean", Float),
    Column::new("bwd_len_mean", Float),
    Column::new("fwd_len_std", Float),
    Column::new("bwd_len_std", Float),
    Column::new("fwd_len_min", Float),
    Column::new("bwd_len_min", Float),
    Column::new("fwd_len_max", Float),
    Column::new("bwd_len_max", Float),
    Column::new("fwd_syn", UInt),
    Column::new("bwd_syn", UInt),
    Column::new("fwd_fin", UInt),
    Column::new("bwd_fin", UInt),
    Column::new("fwd_rst", UInt),
    Column::new("bwd_rst", UInt),
    Column::new("fwd_psh", UInt),
    Column::new("bwd_psh", UInt),
    Column::new("fwd_urg", UInt),
    Column::new("bwd_urg", UInt),
    Column::new("fwd_empty", UInt),
    Column::new("bwd_empty", UInt),
    Column::new("syn_seen", UInt),
    Column::new("synack_seen", UInt),
    Column::new("handshake_done", UInt),
    Column::new("midstream", UInt),
    Column::new("closed", UInt),
    Column::new("mqtt", UInt),
    Column::new("proto_level", UInt),
    Column::new("keep_alive", UInt),
    Column::new("connect_flags", UInt),
    Column::new("clean_session", UInt),
    Column::new("will_flag", UInt),
    Column::new("will_qos", UInt),
    Column::new("will_retain", UInt),
    Column::new("username_flag", UInt),
    Column::new("password_flag", UInt),
    Column::new("client_id_len", UInt),
    Column::new("username_len", UInt),
    Column::new("password_len", UInt),
    Column::new("will_topic_len", UInt),
    Column::new("will_payload_len", UInt),
    Column::new("connack_code", UInt),
    Column::new("session_present", UInt),
    Column::new("msgs_fwd", UInt),
    Column::new("msgs_bwd", UInt),
    Column::new("n_reserved", UInt),
    Column::new("n_connect", UInt),
    Column::new("n_connack", UInt),
    Column::new("n_publish", UInt),
    Column::new("n_puback", UInt),
    Column::new("n_pubrec", UInt),
    Column::new("n_pubrel", UInt),
    Column::new("n_pubcomp", UInt),
    Column::new("n_subscribe", UInt),
    Column::new("n_suback", UInt),
    Column::new("n_unsubscribe", UInt),
    Column::new("n_unsuback", UInt),
    Column::new("n_pingreq", UInt),
    Column::new("n_pingresp", UInt),
    Column::new("n_disconnect", UInt),
    Column::new("n_auth", UInt),
    Column::new("pub_payload_mean", Float),
    Column::new("pub_payload_std", Float),
    Column::new("pub_payload_min", Float),
    Column::new("pub_payload_max", Float),
    Column::new("pub_topic_mean", Float),
    Column::new("pub_topic_max", Float),
    Column::new("pub_qos0", UInt),
    Column::new("pub_qos1", UInt),
    Column::new("pub_qos2", UInt),
    Column::new("pub_retain", UInt),
    Column::new("pub_dup", UInt),
    Column::new("findings", UInt),
    Column::new("findings_malformed", UInt),
    Column::new("findings_protocol", UInt),
    Column::new("findings_session", UInt),
    Column::new("findings_stream", UInt),
    Column::new("host_conns", UInt),
    Column::new("host_ports", UInt),
    Column::new("host_open", UInt),
];

/// The packet's own columns (after `conn_id`, before the state).
const PACKET_COLUMNS: [Column; 12] = [
    Column::new("dir", UInt),
    Column::new("ip_len", UInt),
    Column::new("tcp_len", UInt),
    Column::new("tcp_flags", UInt),
    Column::new("iat", Float),
    Column::new("mqtt_msgs", UInt),
    Column::new("mqtt_type", UInt),
    Column::new("mqtt_hdr_flags", UInt),
    Column::new("mqtt_len", UInt),
    Column::new("pkt_publish", UInt),
    Column::new("pkt_publish_bytes", UInt),
    Column::new("pkt_findings", UInt),
];

const fn context_columns() -> [Column; 1 + 12 + 95 + 1] {
    let mut out = [Column::new("conn_id", UInt); 1 + 12 + 95 + 1];
    let mut i = 0;
    while i < PACKET_COLUMNS.len() {
        out[1 + i] = PACKET_COLUMNS[i];
        i += 1;
    }
    let mut j = 0;
    while j < STATE_COLUMNS.len() {
        out[1 + PACKET_COLUMNS.len() + j] = STATE_COLUMNS[j];
        j += 1;
    }
    out[out.len() - 1] = Column::new("target", Str);
    out
}

static COLUMNS: [Column; 1 + 12 + 95 + 1] = context_columns();

/// Schema of the `context` set.
pub const SCHEMA: Schema = Schema {
    set: "context",
    version: 1,
    columns: &COLUMNS,
};

/// Columns that identify a row's connection or carry its label: never features.
pub const NOT_FEATURES: [&str; 2] = ["conn_id", "target"];

/// Settings of the connection state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextConfig {
    /// Server ports of MQTT (the tracker's `ports`): which end is the client when no SYN says.
    pub mqtt_ports: Vec<u16>,
    /// Connections held at once; beyond it the oldest is ended early (counted).
    pub max_connections: usize,
    /// A connection without a packet for this long ends (its session row is written) and a
    /// later packet starts a new one.
    pub idle_timeout_ns: i64,
    /// An ended connection (RST, or FIN from both sides) is kept this long for its stray last
    /// packets, then forgotten.
    pub closed_linger_ns: i64,
    /// Sliding window of the client-host fan-out columns (`host_conns`, `host_ports`).
    pub host_window_ns: i64,
    /// Client hosts held at once (beyond it, hosts with nothing open are forgotten first).
    pub max_hosts: usize,
    /// Window events (connection starts) kept per host; beyond it the oldest is dropped early.
    pub max_host_events: usize,
    /// `session` rows also every this often while a connection lasts (live detection); `None`:
    /// one row per connection, at its end.
    pub update_interval_ns: Option<i64>,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            mqtt_ports: vec![mqtt_ids_mqtt::tracker::MQTT_PORT],
            max_connections: 100_000,
            idle_timeout_ns: 900_000_000_000,
            closed_linger_ns: 5_000_000_000,
            host_window_ns: 10_000_000_000,
            max_hosts: 65_536,
            max_host_events: 4096,
            update_interval_ns: None,
        }
    }
}

/// What the state machine did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextStats {
    /// `context` rows (TCP packets).
    pub packets: u64,
    /// Connections started.
    pub connections: u64,
    /// Of those, started by a SYN with a new initial sequence number on a known pair.
    pub ports_reused: u64,
    /// Connections ended early because the table was full.
    pub evicted: u64,
    /// Connections ended by the idle timeout.
    pub idle_ended: u64,
    /// Hosts forgotten while they still had open connections or window events (table full).
    pub hosts_evicted: u64,
    /// Window events dropped before they left the window (per-host cap).
    pub host_events_dropped: u64,
    /// `session` rows written.
    pub sessions: u64,
}

/// Running count, mean, variance (Welford), min and max of one quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Running {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Running {
    fn add(&mut self, x: f64) {
        self.n += 1;
        if self.n == 1 {
            (self.min, self.max) = (x, x);
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Chan et al.'s pairwise update: `self` becomes the statistics of both samples.
    fn merge(&mut self, o: &Running) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n as f64;
        self.m2 += o.m2 + d * d * (self.n as f64) * (o.n as f64) / n as f64;
        self.n = n;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    fn mean(&self) -> f64 {
        self.mean
    }

    /// Population standard deviation (as `np.std`), 0 below two values.
    fn std(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2 / self.n as f64).max(0.0).sqrt()
        }
    }

    fn min(&self) -> f64 {
        self.min
    }

    fn max(&self) -> f64 {
        self.max
    }
}

/// One direction of a connection.
#[derive(Clone, Copy, Debug, Default)]
struct DirStats {
    pkts: u64,
    bytes: u64,
    payload: u64,
    last_ts: i64,
    /// Seconds between this direction's packets, in arrival order.
    iat: Running,
    /// IP total lengths.
    len: Running,
    syn: u64,
    fin: u64,
    rst: u64,
    psh: u64,
    urg: u64,
    /// Packets without payload (bare ACK, SYN, FIN, RST).
    empty: u64,
}

/// The MQTT session of a connection.
#[derive(Clone, Copy, Debug, Default)]
struct Session {
    /// Level byte of the last CONNECT (0 before any).
    proto_level: u8,
    keep_alive: u16,
    connect_flags: u8,
    client_id_len: u32,
    username_len: u32,
    password_len: u32,
    will_topic_len: u32,
    will_payload_len: u32,
    connack_code: u8,
    session_present: bool,
    msgs: [u64; 2],
    by_type: [u64; 16],
    payload: Running,
    topic: Running,
    qos: [u64; 3],
    retain: u64,
    dup: u64,
    /// Total, then by [`finding_group`].
    findings: [u64; 5],
}

/// TCP state bits.
mod tcp {
    pub const SYN: u8 = 1;
    pub const SYNACK: u8 = 2;
    pub const HANDSHAKE: u8 = 4;
    pub const MIDSTREAM: u8 = 8;
    pub const FIN_FWD: u8 = 16;
    pub const FIN_BWD: u8 = 32;
    pub const RST: u8 = 64;
}

/// A TCP endpoint.
type Endpoint = (IpAddr, u16);

/// The two endpoints in a fixed order, so both directions find the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PairKey(Endpoint, Endpoint);

impl PairKey {
    fn of(a: Endpoint, b: Endpoint) -> PairKey {
        if a <= b {
            PairKey(a, b)
        } else {
            PairKey(b, a)
        }
    }
}

/// One connection's state.
#[derive(Clone, Debug)]
struct Conn {
    id: u64,
    client: Endpoint,
    server: Endpoint,
    client_isn: Option<u32>,
    first_ts: i64,
    last_ts: i64,
    last_mqtt_ts: Option<i64>,
    dirs: [DirStats; 2],
    tcp: u8,
    mqtt: bool,
    session: Session,
    /// When it ended (RST or both FINs): its final session row is written then.
    closed_at: Option<i64>,
    final_written: bool,
    last_row_ts: i64,
}

impl Conn {
    fn is_closed(&self) -> bool {
        self.tcp & tcp::RST != 0
            || self.tcp & (tcp::FIN_FWD | tcp::FIN_BWD) == tcp::FIN_FWD | tcp::FIN_BWD
    }
}

/// The four finding groups of the `findings_*` columns (index 1–4; 0 is the total). Every kind
/// is placed explicitly, so a new kind must be placed too.
fn finding_group(kind: FindingKind) -> usize {
    use FindingKind as K;
    match kind {
        // The message could not be read as its type, or its framing broke.
        K::MalformedTraffic
        | K::TruncatedMsg
        | K::InvalidRemainingLength
        | K::FieldOverrun
        | K::TrailingBytes
        | K::PropertyLengthOverrun
        | K::UnknownProperty
        | K::OversizedMessage => 1,
        // The message was read but breaks a rule of the spec.
        K::InvalidQosLevel
        | K::MissingMsgId
        | K::UnassignedMsgType
        | K::ReservedFlagsSet
        | K::NonMinimalVarint
        | K::InvalidUtf8
        | K::NullCharacter
        | K::ProtocolNameMismatch
        | K::UnknownProtocolLevel
        | K::ConnectReservedFlagSet
        | K::InvalidConnectFlags
        | K::ZeroPacketId
        | K::EmptyTopicList
        | K::WildcardInTopicName
        | K::EmptyTopicName
        | K::ReservedBitsSet
        | K::InvalidDupFlag
        | K::UnknownReasonCode => 2,
        // The message does not fit the session's state.
        K::MissingConnect
        | K::MissingPublish
        | K::MissingSubscribe
        | K::MissingUnsubscribe
        | K::DoubleConnect
        | K::UnintroducedMessage
        | K::TooManyTransactions
        | K::WrongDirection
        | K::MessageAfterDisconnect => 3,
        // The TCP stream: gaps, resynchronisation, caps, a capture starting mid-connection.
        K::StreamGap | K::ResyncSkippedBytes | K::BufferCapDrop | K::MidstreamPickup => 4,
    }
}

/// What the MQTT messages and findings of the packet being handled add up to (applied to its
/// connection at [`ContextSet::end_packet`]).
#[derive(Clone, Copy, Debug, Default)]
struct Pending {
    msgs: [u64; 2],
    by_type: [u64; 16],
    first: Option<(u8, u32)>,
    publish: u64,
    publish_bytes: u64,
    payload: Running,
    topic: Running,
    qos: [u64; 3],
    retain: u64,
    dup: u64,
    findings: [u64; 5],
    connect: Option<ConnectFacts>,
    connack: Option<(u8, bool)>,
}

#[derive(Clone, Copy, Debug, Default)]
struct ConnectFacts {
    level: u8,
    keep_alive: u16,
    flags: u8,
    client_id_len: u32,
    username_len: u32,
    password_len: u32,
    will_topic_len: u32,
    will_payload_len: u32,
}

impl Pending {
    fn add_findings(&mut self, set: FindingSet) {
        for kind in set.iter() {
            self.findings[0] += 1;
            self.findings[finding_group(kind)] += 1;
        }
    }
}

/// A client host's recent connection starts.
#[derive(Debug, Default)]
struct Host {
    /// (time, server port) of each connection start in the window, oldest first.
    events: VecDeque<(i64, u16)>,
    /// Events in the window per server port (its length is the distinct-port count).
    ports: HashMap<u16, u32, foldhash::fast::RandomState>,
    /// Connections of this host held and not ended.
    open: u64,
}

impl Host {
    fn drop_oldest(&mut self) {
        if let Some((_, port)) = self.events.pop_front() {
            if let Some(n) = self.ports.get_mut(&port) {
                *n -= 1;
                if *n == 0 {
                    self.ports.remove(&port);
                }
            }
        }
    }

    fn expire(&mut self, now: i64, window: i64) {
        while self
            .events
            .front()
            .is_some_and(|&(t, _)| now.saturating_sub(t) > window)
        {
            self.drop_oldest();
        }
    }
}

/// The connection state machine behind the `context` and `session` sets.
pub struct ContextSet {
    config: ContextConfig,
    // foldhash, not SipHash (SipHash was ~6 % of the context set's time): keys are
    // attacker-chosen, but the seed is random per process and both tables are capped.
    conns: HashMap<PairKey, Conn, foldhash::fast::RandomState>,
    /// Keys in creation order with their connection ids (stale pairs are skipped).
    order: VecDeque<(PairKey, u64)>,
    hosts: HashMap<IpAddr, Host, foldhash::fast::RandomState>,
    next_id: u64,
    pending: Pending,
    /// Packet clock and the time of the last sweep for idle and closed connections.
    now: i64,
    last_sweep: i64,
    stats: ContextStats,
    /// Reused by sweeps.
    ended: Vec<(u64, PairKey)>,
}

impl Default for ContextSet {
    fn default() -> Self {
        ContextSet::new(ContextConfig::default())
    }
}

impl Visitor for ContextSet {
    fn on_message(&mut self, event: &MessageEvent<'_>) {
        ContextSet::on_message(self, event);
    }
    fn on_finding(&mut self, event: &FindingEvent) {
        ContextSet::on_finding(self, event);
    }
}

/// Where `session` rows go: the sink (none: rows are not wanted) and the labels.
pub struct SessionOut<'a, S: RowSink> {
    /// The `session` output.
    pub sink: Option<&'a mut S>,
    /// Labels (of the connection's client → server endpoints at its first packet).
    pub labels: &'a Labeler,
}

impl ContextSet {
    /// An empty state machine.
    pub fn new(config: ContextConfig) -> Self {
        ContextSet {
            config,
            conns: HashMap::default(),
            order: VecDeque::new(),
            hosts: HashMap::default(),
            next_id: 0,
            pending: Pending::default(),
            now: i64::MIN,
            last_sweep: i64::MIN,
            stats: ContextStats::default(),
            ended: Vec::new(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ContextStats {
        self.stats
    }

    /// `session` rows also every `every` ns while a connection lasts (`None`: only at its
    /// end), from now on.
    pub fn set_update_interval(&mut self, every: Option<i64>) {
        self.config.update_interval_ns = every.filter(|&ns| ns > 0);
    }

    /// Connections held now.
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// One MQTT message completed while the current packet was handled.
    pub fn on_message(&mut self, event: &MessageEvent<'_>) {
        let p = &mut self.pending;
        p.msgs[event.direction.index()] += 1;
        let ty = event.header.first_byte >> 4;
        p.by_type[usize::from(ty)] += 1;
        if p.first.is_none() {
            p.first = Some((event.header.first_byte, event.header.remaining_length));
        }
        p.add_findings(event.findings);
        if event.packet_type() == PacketType::Publish {
            p.publish += 1;
            p.qos[usize::from(event.header.qos_bits().min(2))] += 1;
            p.retain += u64::from(event.header.retain());
            p.dup += u64::from(event.header.dup());
        }
        let Some(message) = &event.message else {
            return;
        };
        match &message.packet {
            MqttPacket::Publish(publish) => {
                p.publish_bytes += publish.payload.len() as u64;
                p.payload.add(publish.payload.len() as f64);
                p.topic.add(publish.topic.as_bytes().len() as f64);
            }
            MqttPacket::Connect(c) => {
                let len32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                p.connect = Some(ConnectFacts {
                    level: c.protocol_level,
                    keep_alive: c.keep_alive,
                    flags: c.flags.0,
                    client_id_len: len32(c.client_id.as_bytes().len()),
                    username_len: c.username.map_or(0, |u| len32(u.as_bytes().len())),
                    password_len: c.password.map_or(0, |s| len32(s.len())),
                    will_topic_len: c.will.map_or(0, |w| len32(w.topic.as_bytes().len())),
                    will_payload_len: c.will.map_or(0, |w| len32(w.payload.len())),
                });
            }
            MqttPacket::Connack(c) => p.connack = Some((c.return_code, c.session_present)),
            _ => {}
        }
    }

    /// One stream-level finding (gap, resync, cap drop, mid-stream pickup) noticed while the
    /// current packet was handled.
    pub fn on_finding(&mut self, event: &FindingEvent) {
        let mut set = FindingSet::default();
        set.insert(event.kind);
        self.pending.add_findings(set);
    }

    /// The packet is done: its connection's state is updated and, for a TCP packet, its
    /// `context` row written to `context` (when given); `session` rows of connections that
    /// ended (or reached an update interval) go to `session`. `mqtt` tells whether the tracker
    /// took the packet as MQTT.
    pub fn end_packet<C: RowSink, S: RowSink>(
        &mut self,
        packet: &Packet<'_>,
        mqtt: bool,
        labels: &Labeler,
        context: Option<&mut C>,
        session: &mut SessionOut<'_, S>,
    ) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let (
            Some(ip),
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                flags,
                ..
            },
        ) = (packet.ip, packet.transport)
        else {
            return Ok(());
        };
        let ts = packet.frame.ts_ns;
        self.advance(ts, session)?;
        self.stats.packets += 1;
        let src = (ip.src, src_port);
        let dst = (ip.dst, dst_port);
        let key = PairKey::of(src, dst);
        let syn = flags.has(TcpFlags::SYN);
        let client_syn = syn && !flags.has(TcpFlags::ACK);

        // Port reuse: a client SYN with another initial sequence number starts a new connection.
        let mut known = self.conns.contains_key(&key);
        if known && client_syn {
            let conn = &self.conns[&key];
            if conn.client_isn != Some(seq) || conn.client != src {
                self.end_connection(key, session)?;
                self.stats.ports_reused += 1;
                known = false;
            }
        }
        if !known {
            self.start_connection(key, src, dst, dst_port, src_port, flags, ts, session)?;
        }
        let window = self.config.host_window_ns;
        let conn = self.conns.get_mut(&key).expect("known or inserted above");
        if client_syn && conn.client_isn.is_none() && conn.client == src {
            conn.client_isn = Some(seq);
        }
        let dir = usize::from(src != conn.client);
        let iat_ns = if conn.dirs[0].pkts + conn.dirs[1].pkts == 0 {
            0
        } else {
            ts.saturating_sub(conn.last_ts)
        };
        let since_mqtt_ns = ts.saturating_sub(conn.last_mqtt_ts.unwrap_or(conn.first_ts));

        // TCP.
        let d = &mut conn.dirs[dir];
        if d.pkts > 0 {
            d.iat.add(ts.saturating_sub(d.last_ts) as f64 / 1e9);
        }
        d.pkts += 1;
        d.last_ts = ts;
        d.bytes += u64::from(ip.total_len);
        d.payload += packet.payload.len() as u64;
        d.len.add(f64::from(ip.total_len));
        d.syn += u64::from(syn);
        d.fin += u64::from(flags.has(TcpFlags::FIN));
        d.rst += u64::from(flags.has(TcpFlags::RST));
        d.psh += u64::from(flags.has(TcpFlags::PSH));
        d.urg += u64::from(flags.has(TcpFlags::URG));
        d.empty += u64::from(packet.payload.is_empty());
        if syn && !flags.has(TcpFlags::ACK) && dir == 0 {
            conn.tcp |= tcp::SYN;
        }
        if syn && flags.has(TcpFlags::ACK) && dir == 1 && conn.tcp & tcp::SYN != 0 {
            conn.tcp |= tcp::SYNACK;
        }
        if !syn && flags.has(TcpFlags::ACK) && dir == 0 && conn.tcp & tcp::SYNACK != 0 {
            conn.tcp |= tcp::HANDSHAKE;
        }
        if flags.has(TcpFlags::FIN) {
            conn.tcp |= if dir == 0 { tcp::FIN_FWD } else { tcp::FIN_BWD };
        }
        if flags.has(TcpFlags::RST) {
            conn.tcp |= tcp::RST;
        }
        conn.last_ts = conn.last_ts.max(ts);
        conn.mqtt |= mqtt;

        // MQTT.
        let s = &mut conn.session;
        for i in 0..2 {
            s.msgs[i] += pending.msgs[i];
        }
        for (n, add) in s.by_type.iter_mut().zip(pending.by_type) {
            *n += add;
        }
        s.payload.merge(&pending.payload);
        s.topic.merge(&pending.topic);
        for i in 0..3 {
            s.qos[i] += pending.qos[i];
        }
        s.retain += pending.retain;
        s.dup += pending.dup;
        for i in 0..5 {
            s.findings[i] += pending.findings[i];
        }
        if let Some(c) = pending.connect {
            s.proto_level = c.level;
            s.keep_alive = c.keep_alive;
            s.connect_flags = c.flags;
            s.client_id_len = c.client_id_len;
            s.username_len = c.username_len;
            s.password_len = c.password_len;
            s.will_topic_len = c.will_topic_len;
            s.will_payload_len = c.will_payload_len;
        }
        if let Some((code, present)) = pending.connack {
            s.connack_code = code;
            s.session_present = present;
        }
        if pending.msgs[0] + pending.msgs[1] > 0 {
            conn.last_mqtt_ts = Some(ts);
        }
        let closing = conn.closed_at.is_none() && conn.is_closed();
        if closing {
            conn.closed_at = Some(ts);
        }

        if let Some(h) = self.hosts.get_mut(&conn.client.0) {
            h.expire(ts, window);
            if closing {
                h.open = h.open.saturating_sub(1);
            }
        }
        if let Some(out) = context {
            let conn = &self.conns[&key];
            let host = self.hosts.get(&conn.client.0);
            out.uint(conn.id);
            out.uint(dir as u64);
            out.uint(u64::from(ip.total_len));
            out.uint(packet.payload.len() as u64);
            out.uint(u64::from(flags.0 & 0x0fff));
            out.float(iat_ns as f64 / 1e9);
            out.uint(pending.msgs[0] + pending.msgs[1]);
            let (first_byte, remaining) = pending.first.unwrap_or((0, 0));
            out.uint(u64::from(first_byte >> 4));
            out.uint(u64::from(first_byte & 0x0f));
            out.uint(u64::from(remaining));
            out.uint(pending.publish);
            out.uint(pending.publish_bytes);
            out.uint(pending.findings[0]);
            write_state(out, conn, host, ts, since_mqtt_ns);
            let label = labels.label(&Subject {
                src: ip.src,
                dst: ip.dst,
                src_port,
                dst_port,
                ts_ns: ts,
            });
            match label.class {
                Some(class) => out.str(class),
                None => out.null(),
            }
            out.end_row()?;
        }
        // Session rows: at the end, or at each update interval.
        let interval = self.config.update_interval_ns;
        let conn = &self.conns[&key];
        if closing {
            self.write_session(key, true, ts, session)?;
        } else if let Some(every) = interval {
            if !conn.final_written && ts.saturating_sub(conn.last_row_ts) >= every {
                self.write_session(key, false, ts, session)?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn start_connection<S: RowSink>(
        &mut self,
        key: PairKey,
        src: Endpoint,
        dst: Endpoint,
        dst_port: u16,
        src_port: u16,
        flags: TcpFlags,
        ts: i64,
        session: &mut SessionOut<'_, S>,
    ) -> io::Result<()> {
        while self.conns.len() >= self.config.max_connections.max(1) {
            let Some((old, id)) = self.order.pop_front() else {
                break;
            };
            if self.conns.get(&old).is_some_and(|c| c.id == id) {
                self.stats.evicted += 1;
                self.end_connection(old, session)?;
            }
        }
        if self.order.len() > 2 * self.config.max_connections.max(1) {
            let conns = &self.conns;
            self.order
                .retain(|(k, id)| conns.get(k).is_some_and(|c| c.id == *id));
        }
        let syn = flags.has(TcpFlags::SYN);
        let ack = flags.has(TcpFlags::ACK);
        let ports = &self.config.mqtt_ports;
        let sender_is_client = if syn {
            !ack
        } else if ports.contains(&dst_port) {
            true
        } else {
            !ports.contains(&src_port)
        };
        let (client, server) = if sender_is_client {
            (src, dst)
        } else {
            (dst, src)
        };
        let id = self.next_id;
        self.next_id += 1;
        self.stats.connections += 1;
        self.order.push_back((key, id));
        self.conns.insert(
            key,
            Conn {
                id,
                client,
                server,
                client_isn: None,
                first_ts: ts,
                last_ts: ts,
                last_mqtt_ts: None,
                dirs: [DirStats::default(); 2],
                tcp: if syn { 0 } else { tcp::MIDSTREAM },
                mqtt: false,
                session: Session::default(),
                closed_at: None,
                final_written: false,
                last_row_ts: ts,
            },
        );
        // The client host's window.
        if !self.hosts.contains_key(&client.0) {
            self.make_host_room(ts);
        }
        let window = self.config.host_window_ns;
        let max_events = self.config.max_host_events.max(1);
        let host = self.hosts.entry(client.0).or_default();
        host.expire(ts, window);
        if host.events.len() >= max_events {
            host.drop_oldest();
            self.stats.host_events_dropped += 1;
        }
        host.events.push_back((ts, server.1));
        *host.ports.entry(server.1).or_insert(0) += 1;
        host.open += 1;
        Ok(())
    }

    /// Frees host slots when the table is full: hosts with nothing open and nothing in the
    /// window first, then (counted) an eighth of the table at once so the cost stays amortised.
    fn make_host_room(&mut self, now: i64) {
        let max = self.config.max_hosts.max(1);
        if self.hosts.len() < max {
            return;
        }
        let window = self.config.host_window_ns;
        self.hosts.retain(|_, h| {
            h.expire(now, window);
            h.open > 0 || !h.events.is_empty()
        });
        if self.hosts.len() >= max {
            let drop: Vec<IpAddr> = self.hosts.keys().take(max.div_ceil(8)).copied().collect();
            for k in drop {
                self.hosts.remove(&k);
                self.stats.hosts_evicted += 1;
            }
        }
    }

    /// Ends a connection: its final session row (unless written at its close), out of the
    /// tables.
    fn end_connection<S: RowSink>(
        &mut self,
        key: PairKey,
        session: &mut SessionOut<'_, S>,
    ) -> io::Result<()> {
        let Some(conn) = self.conns.get(&key) else {
            return Ok(());
        };
        if !conn.final_written {
            let at = conn.last_ts;
            self.write_session(key, true, at, session)?;
        }
        if let Some(conn) = self.conns.remove(&key) {
            if conn.closed_at.is_none() {
                if let Some(h) = self.hosts.get_mut(&conn.client.0) {
                    h.open = h.open.saturating_sub(1);
                }
            }
        }
        Ok(())
    }

    /// Writes a session row of the connection as it stands at `at` (its last packet, or the
    /// clock's time for an update of a quiet connection).
    fn write_session<S: RowSink>(
        &mut self,
        key: PairKey,
        last: bool,
        at: i64,
        session: &mut SessionOut<'_, S>,
    ) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(&key) else {
            return Ok(());
        };
        conn.last_row_ts = at;
        conn.final_written |= last;
        self.stats.sessions += 1;
        let conn = &self.conns[&key];
        let Some(out) = session.sink.as_deref_mut() else {
            return Ok(());
        };
        let host = self.hosts.get(&conn.client.0);
        out.origin(&RowOrigin {
            client: conn.client,
            server: conn.server,
            ts_ns: at,
            last,
        });
        out.uint(conn.id);
        out.uint(u64::from(last));
        let since_mqtt = at.saturating_sub(conn.last_mqtt_ts.unwrap_or(conn.first_ts));
        write_state(out, conn, host, at, since_mqtt);
        let label = session.labels.label(&Subject {
            src: conn.client.0,
            dst: conn.server.0,
            src_port: conn.client.1,
            dst_port: conn.server.1,
            ts_ns: conn.first_ts,
        });
        match label.class {
            Some(class) => out.str(class),
            None => out.null(),
        }
        out.end_row()
    }

    /// Moves the packet clock to `now_ns` (never backwards). About once a second of packet
    /// time, connections idle longer than the idle timeout end (their session rows are
    /// written) and closed ones past their linger are forgotten; with an update interval,
    /// open connections due a row get one. [`ContextSet::end_packet`] calls it with each
    /// packet's time; a live reader also calls it on a timer.
    pub fn advance<S: RowSink>(
        &mut self,
        now_ns: i64,
        session: &mut SessionOut<'_, S>,
    ) -> io::Result<()> {
        self.now = self.now.max(now_ns);
        let now = self.now;
        if self.last_sweep != i64::MIN && now.saturating_sub(self.last_sweep) < 1_000_000_000 {
            return Ok(());
        }
        self.last_sweep = now;
        let (idle, linger) = (self.config.idle_timeout_ns, self.config.closed_linger_ns);
        let mut ended = std::mem::take(&mut self.ended);
        ended.clear();
        let mut due = Vec::new();
        for (key, c) in &self.conns {
            let quiet = now.saturating_sub(c.last_ts);
            let gone = match c.closed_at {
                Some(_) => quiet > linger,
                None => quiet > idle,
            };
            if gone {
                ended.push((c.id, *key));
            } else if let Some(every) = self.config.update_interval_ns {
                if !c.final_written && now.saturating_sub(c.last_row_ts) >= every {
                    due.push((c.id, *key));
                }
            }
        }
        // In connection order, whatever the map's: the output must not depend on hashing.
        ended.sort_unstable_by_key(|&(id, _)| id);
        due.sort_unstable_by_key(|&(id, _)| id);
        for (_, key) in ended.drain(..) {
            if self.conns.get(&key).is_some_and(|c| c.closed_at.is_none()) {
                self.stats.idle_ended += 1;
            }
            self.end_connection(key, session)?;
        }
        self.ended = ended;
        for (_, key) in due {
            self.write_session(key, false, now, session)?;
        }
        Ok(())
    }

    /// End of input: every connection still held ends, oldest first (its session row is
    /// written unless it was at its close).
    pub fn finish<S: RowSink>(&mut self, session: &mut SessionOut<'_, S>) -> io::Result<()> {
        while let Some((key, id)) = self.order.pop_front() {
            if self.conns.get(&key).is_some_and(|c| c.id == id) {
                self.end_connection(key, session)?;
            }
        }
        self.conns.clear();
        Ok(())
    }
}

/// Writes the [`STATE_COLUMNS`] of `conn` at time `now`.
fn write_state<S: RowSink>(
    out: &mut S,
    conn: &Conn,
    host: Option<&Host>,
    now: i64,
    since_mqtt_ns: i64,
) {
    let [f, b] = &conn.dirs;
    out.float(now.saturating_sub(conn.first_ts) as f64 / 1e9);
    out.float(since_mqtt_ns as f64 / 1e9);
    for (x, y) in [(f.pkts, b.pkts), (f.bytes, b.bytes), (f.payload, b.payload)] {
        out.uint(x);
        out.uint(y);
    }
    for stat in [Running::mean, Running::std, Running::min, Running::max] {
        out.float(stat(&f.iat));
        out.float(stat(&b.iat));
    }
    for stat in [Running::mean, Running::std, Running::min, Running::max] {
        out.float(stat(&f.len));
        out.float(stat(&b.len));
    }
    for (x, y) in [
        (f.syn, b.syn),
        (f.fin, b.fin),
        (f.rst, b.rst),
        (f.psh, b.psh),
        (f.urg, b.urg),
        (f.empty, b.empty),
    ] {
        out.uint(x);
        out.uint(y);
    }
    for bit in [tcp::SYN, tcp::SYNACK, tcp::HANDSHAKE, tcp::MIDSTREAM] {
        out.uint(u64::from(conn.tcp & bit != 0));
    }
    out.uint(u64::from(conn.is_closed()));
    out.uint(u64::from(conn.mqtt));
    let s = &conn.session;
    out.uint(u64::from(s.proto_level));
    out.uint(u64::from(s.keep_alive));
    let cf = s.connect_flags;
    out.uint(u64::from(cf));
    out.uint(u64::from(cf >> 1 & 1)); // clean session
    out.uint(u64::from(cf >> 2 & 1)); // will flag
    out.uint(u64::from(cf >> 3 & 3)); // will QoS
    out.uint(u64::from(cf >> 5 & 1)); // will retain
    out.uint(u64::from(cf >> 7 & 1)); // user name flag
    out.uint(u64::from(cf >> 6 & 1)); // password flag
    for n in [
        s.client_id_len,
        s.username_len,
        s.password_len,
        s.will_topic_len,
        s.will_payload_len,
    ] {
        out.uint(u64::from(n));
    }
    out.uint(u64::from(s.connack_code));
    out.uint(u64::from(s.session_present));
    out.uint(s.msgs[Direction::ToServer.index()]);
    out.uint(s.msgs[Direction::ToClient.index()]);
    for n in s.by_type {
        out.uint(n);
    }
    out.float(s.payload.mean());
    out.float(s.payload.std());
    out.float(s.payload.min());
    out.float(s.payload.max());
    out.float(s.topic.mean());
    out.float(s.topic.max());
    for n in s.qos {
        out.uint(n);
    }
    out.uint(s.retain);
    out.uint(s.dup);
    for n in s.findings {
        out.uint(n);
    }
    match host {
        Some(h) => {
            out.uint(h.events.len() as u64);
            out.uint(h.ports.len() as u64);
            out.uint(h.open);
        }
        None => {
            for _ in 0..3 {
                out.uint(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::CsvSink;
    use mqtt_ids_capture::{decode, Frame, LinkType};
    use mqtt_ids_mqtt::{Tracker, TrackerConfig};

    const SYN: u8 = 0x02;
    const SYNACK: u8 = 0x12;
    const ACK: u8 = 0x10;
    const PSHACK: u8 = 0x18;
    const FINACK: u8 = 0x11;
    const RST: u8 = 0x04;

    /// A raw IPv4 + TCP frame (20-byte headers, no options).
    fn tcp(
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let total = 40 + payload.len();
        let mut v = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        v.extend_from_slice(&src.0);
        v.extend_from_slice(&dst.0);
        v.extend_from_slice(&src.1.to_be_bytes());
        v.extend_from_slice(&dst.1.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v.extend_from_slice(payload);
        v
    }

    /// Tracker and state machine driven as `extract` drives them, rows into memory.
    struct Run {
        tracker: Tracker,
        set: ContextSet,
        context: CsvSink<Vec<u8>>,
        session: CsvSink<Vec<u8>>,
        labels: Labeler,
        n: u64,
    }

    impl Run {
        fn new(config: ContextConfig) -> Run {
            Run {
                tracker: Tracker::new(TrackerConfig::default()),
                set: ContextSet::new(config),
                context: CsvSink::new(Vec::new(), SCHEMA, "").unwrap(),
                session: CsvSink::new(Vec::new(), super::super::session::SCHEMA, "").unwrap(),
                labels: Labeler::default(),
                n: 0,
            }
        }

        fn feed(&mut self, ts_ms: i64, bytes: &[u8]) {
            self.n += 1;
            let frame = Frame {
                number: self.n,
                offset: 0,
                ts_ns: ts_ms * 1_000_000,
                interface: 0,
                link_type: LinkType::RAW,
                orig_len: bytes.len() as u32,
                data: bytes,
            };
            let packet = decode(frame);
            let mqtt = self.tracker.on_packet(&packet, &mut self.set);
            let mut out = SessionOut {
                sink: Some(&mut self.session),
                labels: &self.labels,
            };
            self.set
                .end_packet(
                    &packet,
                    mqtt,
                    &self.labels,
                    Some(&mut self.context),
                    &mut out,
                )
                .unwrap();
        }

        fn finish(mut self) -> (Vec<Row>, Vec<Row>, ContextStats) {
            let mut out = SessionOut {
                sink: Some(&mut self.session),
                labels: &self.labels,
            };
            self.set.finish(&mut out).unwrap();
            let stats = self.set.stats();
            (
                rows(self.context.finish().unwrap()),
                rows(self.session.finish().unwrap()),
                stats,
            )
        }
    }

    type Row = HashMap<String, String>;

    fn rows(csv: Vec<u8>) -> Vec<Row> {
        let text = String::from_utf8(csv).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        lines
            .map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                assert_eq!(cells.len(), header.len(), "{l}");
                header
                    .iter()
                    .map(|h| h.to_string())
                    .zip(cells.iter().map(|c| c.to_string()))
                    .collect()
            })
            .collect()
    }

    fn get(row: &Row, column: &str) -> f64 {
        row.get(column)
            .unwrap_or_else(|| panic!("no column {column}"))
            .parse()
            .unwrap()
    }

    const C: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
    const S: ([u8; 4], u16) = ([10, 0, 0, 2], 1883);
    // CONNECT 3.1.1: clean session, keep alive 60, client id "c".
    const CONNECT: [u8; 15] = [
        0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'c',
    ];
    const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

    /// PUBLISH QoS 0 on topic "t" with `n` payload bytes.
    fn publish(n: usize) -> Vec<u8> {
        let mut m = vec![0x30, (3 + n) as u8, 0, 1, b't'];
        m.extend(std::iter::repeat_n(b'x', n));
        m
    }

    /// A whole MQTT connection: handshake, CONNECT/CONNACK, two PUBLISH, FINs, last ACK.
    fn session_packets(c: ([u8; 4], u16), s: ([u8; 4], u16)) -> Vec<(i64, Vec<u8>)> {
        vec![
            (0, tcp(c, s, 100, SYN, b"")),
            (10, tcp(s, c, 900, SYNACK, b"")),
            (20, tcp(c, s, 101, ACK, b"")),
            (30, tcp(c, s, 101, PSHACK, &CONNECT)),
            (40, tcp(s, c, 901, PSHACK, &CONNACK)),
            (1040, tcp(c, s, 116, PSHACK, &publish(10))),
            (3040, tcp(c, s, 131, PSHACK, &publish(20))),
            (3050, tcp(c, s, 156, FINACK, b"")),
            (3060, tcp(s, c, 905, FINACK, b"")),
            (3070, tcp(c, s, 157, ACK, b"")),
        ]
    }

    #[test]
    fn a_connection_state_grows_packet_by_packet() {
        let mut run = Run::new(ContextConfig::default());
        for (t, p) in session_packets(C, S) {
            run.feed(t, &p);
        }
        let (ctx, ses, stats) = run.finish();
        assert_eq!(ctx.len(), 10);
        assert!(ctx
            .iter()
            .all(|r| r["conn_id"] == "0" && r["target"].is_empty()));
        let col = |c: &str| ctx.iter().map(|r| get(r, c)).collect::<Vec<f64>>();
        assert_eq!(col("dir"), [0., 1., 0., 0., 1., 0., 0., 0., 1., 0.]);
        assert_eq!(col("fwd_pkts"), [1., 1., 2., 3., 3., 4., 5., 6., 6., 7.]);
        assert_eq!(col("bwd_pkts"), [0., 1., 1., 1., 2., 2., 2., 2., 3., 3.]);
        assert_eq!(col("syn_seen"), [1.; 10]);
        assert_eq!(col("synack_seen"), [0., 1., 1., 1., 1., 1., 1., 1., 1., 1.]);
        assert_eq!(
            col("handshake_done"),
            [0., 0., 1., 1., 1., 1., 1., 1., 1., 1.]
        );
        assert_eq!(col("closed"), [0., 0., 0., 0., 0., 0., 0., 0., 1., 1.]);
        assert_eq!(col("midstream"), [0.; 10]);
        assert_eq!(col("mqtt_type"), [0., 0., 0., 1., 2., 3., 3., 0., 0., 0.]);
        assert_eq!(col("mqtt_msgs"), [0., 0., 0., 1., 1., 1., 1., 0., 0., 0.]);
        assert_eq!(col("n_publish"), [0., 0., 0., 0., 0., 1., 2., 2., 2., 2.]);
        assert_eq!(
            col("pkt_publish_bytes"),
            [0., 0., 0., 0., 0., 10., 20., 0., 0., 0.]
        );
        assert_eq!(col("keep_alive")[3..], [60.; 7]);
        assert_eq!(col("keep_alive")[..3], [0.; 3]);
        assert_eq!(col("proto_level")[9], 4.0);
        assert_eq!(col("clean_session")[9], 1.0);
        assert_eq!(col("client_id_len")[9], 1.0);
        assert_eq!(col("mqtt"), [1.; 10]);
        // Times: iat since the connection's previous packet; age since its first; since_mqtt
        // since the previous MQTT message (the connection's start before any).
        assert_eq!(
            col("iat"),
            [0., 0.01, 0.01, 0.01, 0.01, 1.0, 2.0, 0.01, 0.01, 0.01]
        );
        assert_eq!(col("age")[9], 3.07);
        assert_eq!(
            col("since_mqtt"),
            [0., 0.01, 0.02, 0.03, 0.01, 1.0, 2.0, 0.01, 0.02, 0.03]
        );
        // PUBLISH payloads 10 and 20: mean 15, population std 5.
        let last = &ctx[9];
        assert_eq!(
            [
                "pub_payload_mean",
                "pub_payload_std",
                "pub_payload_min",
                "pub_payload_max",
                "pub_topic_max"
            ]
            .map(|c| get(last, c)),
            [15.0, 5.0, 10.0, 20.0, 1.0]
        );
        // Forward IP lengths: SYN, ACK, CONNECT (15 bytes), PUBLISH (15, 25), FIN, ACK.
        let fwd_lens = [40.0, 40.0, 55.0, 55.0, 65.0, 40.0, 40.0];
        let mean = fwd_lens.iter().sum::<f64>() / 7.0;
        let std = (fwd_lens
            .iter()
            .map(|x| (x - mean) * (x - mean))
            .sum::<f64>()
            / 7.0)
            .sqrt();
        assert!((get(last, "fwd_len_mean") - mean).abs() < 1e-9);
        assert!((get(last, "fwd_len_std") - std).abs() < 1e-9);
        assert_eq!(get(last, "fwd_len_max"), 65.0);
        assert_eq!(get(last, "fwd_bytes"), fwd_lens.iter().sum::<f64>());
        // Forward IATs: 20, 10, 1010, 2000, 10, 20 ms.
        let iats = [0.02, 0.01, 1.01, 2.0, 0.01, 0.02];
        let m = iats.iter().sum::<f64>() / 6.0;
        assert!((get(last, "fwd_iat_mean") - m).abs() < 1e-9);
        assert_eq!(
            (get(last, "fwd_iat_min"), get(last, "fwd_iat_max")),
            (0.01, 2.0)
        );
        assert_eq!(
            (
                get(last, "host_conns"),
                get(last, "host_ports"),
                get(last, "host_open")
            ),
            (1., 1., 0.)
        );
        // One session row, written with the second FIN (final), not again at the end.
        assert_eq!(ses.len(), 1);
        assert_eq!(ses[0]["final"], "1");
        assert_eq!(get(&ses[0], "fwd_pkts"), 6.0);
        assert_eq!(get(&ses[0], "age"), 3.06);
        assert_eq!(
            (stats.connections, stats.sessions, stats.packets),
            (1, 1, 10)
        );
    }

    #[test]
    fn port_reuse_rst_and_midstream_start_new_connections() {
        let mut run = Run::new(ContextConfig::default());
        run.feed(0, &tcp(C, S, 100, SYN, b""));
        run.feed(1, &tcp(C, S, 100, SYN, b"")); // retransmission: same connection
        run.feed(2, &tcp(C, S, 5000, SYN, b"")); // new ISN: port reuse
        run.feed(3, &tcp(S, C, 1, RST | ACK, b""));
        // Another pair picked up mid-stream, not MQTT.
        let (a, b) = (([10, 0, 0, 3], 5555), ([10, 0, 0, 4], 80));
        run.feed(4, &tcp(a, b, 7, PSHACK, b"GET /"));
        let (ctx, ses, stats) = run.finish();
        let ids: Vec<&str> = ctx.iter().map(|r| r["conn_id"].as_str()).collect();
        assert_eq!(ids, ["0", "0", "1", "1", "2"]);
        assert_eq!(
            (ctx[4]["mqtt"].as_str(), ctx[4]["midstream"].as_str()),
            ("0", "1")
        );
        assert_eq!(ctx[3]["closed"], "1");
        assert_eq!(ctx[3]["bwd_rst"], "1");
        assert_eq!(stats.ports_reused, 1);
        // Sessions: conn 0 at its replacement, conn 1 at its RST, conn 2 at the end.
        let ids: Vec<&str> = ses.iter().map(|r| r["conn_id"].as_str()).collect();
        assert_eq!(ids, ["0", "1", "2"]);
        assert_eq!(ses[0]["fwd_syn"], "2");
        // The host fan-out: 10.0.0.1 opened two connections to one port in the window.
        assert_eq!(
            (get(&ctx[2], "host_conns"), get(&ctx[2], "host_ports")),
            (2.0, 1.0)
        );
    }

    #[test]
    fn host_fan_out_counts_a_sliding_window() {
        let mut run = Run::new(ContextConfig {
            host_window_ns: 1_000_000_000,
            ..ContextConfig::default()
        });
        // One host opens connections to ports 1..=5 at 0, 100, …, 400 ms, then one more at 1.3 s.
        for i in 0..5u16 {
            run.feed(
                i64::from(i) * 100,
                &tcp(C, ([10, 0, 0, 2], 1 + i), 1, SYN, b""),
            );
        }
        run.feed(1300, &tcp(C, ([10, 0, 0, 2], 1), 9, SYN, b""));
        let (ctx, _, _) = run.finish();
        let conns: Vec<f64> = ctx.iter().map(|r| get(r, "host_conns")).collect();
        let ports: Vec<f64> = ctx.iter().map(|r| get(r, "host_ports")).collect();
        let open: Vec<f64> = ctx.iter().map(|r| get(r, "host_open")).collect();
        assert_eq!(conns, [1., 2., 3., 4., 5., 3.]); // 0..=200 ms left the window at 1.3 s
        assert_eq!(ports, [1., 2., 3., 4., 5., 3.]); // ports 4, 5 and 1 again
        assert_eq!(open, [1., 2., 3., 4., 5., 5.]); // port 1 reused: one ended, one opened
    }

    #[test]
    fn caps_end_connections_early_and_count_it() {
        let mut run = Run::new(ContextConfig {
            max_connections: 2,
            max_host_events: 3,
            ..ContextConfig::default()
        });
        for i in 0..6u16 {
            run.feed(
                i64::from(i),
                &tcp(C, ([10, 0, 0, 2], 1000 + i), 1, SYN, b""),
            );
            assert!(run.set.open_connections() <= 2);
        }
        let (ctx, ses, stats) = run.finish();
        assert_eq!(ctx.len(), 6);
        assert_eq!(ses.len(), 6, "every connection has its row, evicted or not");
        assert_eq!((stats.evicted, stats.host_events_dropped), (4, 3));
        assert_eq!(get(&ctx[5], "host_conns"), 3.0);
    }

    #[test]
    fn update_interval_writes_rows_while_a_connection_lasts() {
        let mut run = Run::new(ContextConfig {
            update_interval_ns: Some(1_000_000_000),
            ..ContextConfig::default()
        });
        let packets = session_packets(C, S);
        for (t, p) in &packets[..7] {
            run.feed(*t, p);
        }
        // Quiet, then the clock moves on: one more update row, written by the sweep.
        let mut out = SessionOut {
            sink: Some(&mut run.session),
            labels: &run.labels,
        };
        run.set.advance(10_000_000_000, &mut out).unwrap();
        let (_, ses, _) = run.finish();
        let finals: Vec<&str> = ses.iter().map(|r| r["final"].as_str()).collect();
        // Updates at 1.04 s and 3.04 s (packets), at 10 s (sweep), then the final row.
        assert_eq!(finals, ["0", "0", "0", "1"]);
        assert_eq!(get(&ses[2], "age"), 10.0);
        assert_eq!(get(&ses[2], "since_mqtt"), 10.0 - 3.04);
    }

    #[test]
    fn idle_connections_end_on_the_packet_clock() {
        let mut run = Run::new(ContextConfig {
            idle_timeout_ns: 5_000_000_000,
            ..ContextConfig::default()
        });
        run.feed(0, &tcp(C, S, 1, SYN, b""));
        run.feed(10_000, &tcp(([10, 0, 0, 9], 1), S, 1, SYN, b""));
        assert_eq!(run.set.open_connections(), 1);
        run.feed(10_001, &tcp(C, S, 2, ACK, b"")); // the old pair again: a new connection
        let (ctx, ses, stats) = run.finish();
        assert_eq!(ctx[2]["conn_id"], "2");
        assert_eq!(ses.len(), 3);
        assert_eq!(stats.idle_ended, 1);
    }

    #[test]
    fn rows_do_not_depend_on_addresses_or_ports() {
        let run_with = |c: ([u8; 4], u16), s: ([u8; 4], u16)| {
            let mut run = Run::new(ContextConfig::default());
            for (t, p) in session_packets(c, s) {
                run.feed(t, &p);
            }
            let (ctx, ses, _) = run.finish();
            (ctx, ses)
        };
        let a = run_with(C, S);
        let b = run_with(([192, 168, 7, 9], 51234), ([172, 16, 0, 1], 1883));
        assert_eq!(a, b);
    }

    #[test]
    fn merged_statistics_equal_one_pass() {
        let xs = [3.0, 7.5, 1.0, 9.0, 2.5, 2.5, 100.0];
        let mut one = Running::default();
        xs.iter().for_each(|&x| one.add(x));
        let mut a = Running::default();
        let mut b = Running::default();
        xs[..3].iter().for_each(|&x| a.add(x));
        xs[3..].iter().for_each(|&x| b.add(x));
        a.merge(&b);
        // python3 -c 'import numpy as np; x=[3,7.5,1,9,2.5,2.5,100]; print(np.mean(x), np.std(x))'
        // 17.928571428571427 33.61486551621871
        for r in [one, a] {
            assert!((r.mean() - 17.928571428571427).abs() < 1e-12);
            assert!((r.std() - 33.61486551621871).abs() < 1e-12);
            assert_eq!((r.min(), r.max()), (1.0, 100.0));
        }
    }

    #[test]
    fn every_finding_kind_has_a_group() {
        for &kind in FindingKind::ALL {
            assert!((1..=4).contains(&finding_group(kind)));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut run = Run::new(ContextConfig {
            max_connections: 8,
            max_hosts: 4,
            ..ContextConfig::default()
        });
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..3000 {
            let mut p = tcp(
                ([10, 0, 0, (x % 5) as u8], (x >> 8) as u16 % 4),
                ([10, 0, 1, (x >> 16) as u8 % 3], 1883),
                (x >> 24) as u32,
                (x >> 32) as u8,
                &[],
            );
            for _ in 0..(x >> 40) % 40 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p.push(x as u8);
            }
            let total = p.len();
            p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            run.feed(i, &p);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        let (ctx, _, _) = run.finish();
        assert!(!ctx.is_empty());
    }
}
