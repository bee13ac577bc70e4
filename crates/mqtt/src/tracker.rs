//! From decoded capture packets to MQTT connections: a bounded table of TCP connections, with
//! MQTT recognised by the server port (1883 by default, more configurable) or, on any other port,
//! by a CONNECT opening the client's first payload (nDPI finds MQTT on 17501, for one).
//!
//! One entry per connection, keyed by (client address and port, server address and port); the
//! segment's direction is read from which end sent it. A client SYN with a new initial sequence
//! number on a known key is a new connection (port reuse). The table holds at most
//! `max_connections` entries; beyond that the oldest is finished and evicted, and counted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use mqtt_ids_capture::{Packet, TcpFlags, Transport};

use crate::connection::{Connection, Visitor};
use crate::probe::{probe_connect, Probe};
use crate::stream::{Direction, MemoryBudget, ReassemblyConfig, Segment, DEFAULT_GLOBAL_BUFFER};

/// The IANA port of MQTT over plain TCP.
pub const MQTT_PORT: u16 = 1883;
/// Default cap on connections tracked at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100_000;
/// Closed connections remembered so that their stray last segments (the final ACK after both
/// FINs, a repeated RST) are not taken for new connections picked up mid-stream.
const CLOSED_REMEMBERED: usize = 4096;

/// How packets are mapped to MQTT connections.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    /// Server ports whose TCP traffic is MQTT (default: 1883; add 8883 for plaintext on the TLS
    /// port).
    pub ports: Vec<u16>,
    /// Also recognise MQTT on any other port by a CONNECT at the start of a client payload.
    pub probe_other_ports: bool,
    /// Connections tracked at once; the oldest is evicted beyond it.
    pub max_connections: usize,
    /// Per-connection reassembly limits.
    pub reassembly: ReassemblyConfig,
    /// Global cap on bytes buffered by all connections.
    pub buffer_limit: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            ports: vec![MQTT_PORT],
            probe_other_ports: true,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            reassembly: ReassemblyConfig::default(),
            buffer_limit: DEFAULT_GLOBAL_BUFFER,
        }
    }
}

/// What the tracker did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Connections seen (each port-reused connection counts again).
    pub connections: u64,
    /// Of those, recognised by a CONNECT on a port not configured as MQTT.
    pub found_by_probe: u64,
    /// Connections finished early because the table was full.
    pub evicted: u64,
    /// TCP segments handed to MQTT connections.
    pub segments: u64,
    /// Bytes the global buffer cap refused (the connections count what they dropped).
    pub buffer_refused: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    client: (IpAddr, u16),
    server: (IpAddr, u16),
}

/// A connection's two endpoints in a fixed order, whichever of them sent the packet: one
/// look-up finds the connection from either direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pair {
    lo: End,
    hi: End,
}

/// One endpoint as words (an IPv4 address in the low bits, IPv6 flagged beside the port), so
/// that ordering, comparing and hashing a pair are a few integer operations: with `IpAddr`
/// they were ~100 instructions a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct End {
    addr: [u64; 2],
    /// The port, and bit 16 set for IPv6.
    port: u32,
}

impl End {
    #[inline]
    fn of((addr, port): (IpAddr, u16)) -> Self {
        let (addr, v6) = match addr {
            IpAddr::V4(a) => ([0, u64::from(u32::from(a))], 0),
            IpAddr::V6(a) => {
                let a = u128::from(a);
                ([(a >> 64) as u64, a as u64], 1 << 16)
            }
        };
        End {
            addr,
            port: u32::from(port) | v6,
        }
    }
}

impl Pair {
    /// The pair of a packet from `a` to `b`, and whether `a` is its `lo` end.
    #[inline]
    fn new(a: (IpAddr, u16), b: (IpAddr, u16)) -> (Self, bool) {
        let (a, b) = (End::of(a), End::of(b));
        if a <= b {
            (Pair { lo: a, hi: b }, true)
        } else {
            (Pair { lo: b, hi: a }, false)
        }
    }
}

impl Hash for Pair {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.lo.addr[0]);
        h.write_u64(self.lo.addr[1]);
        h.write_u64(self.hi.addr[0]);
        h.write_u64(self.hi.addr[1]);
        h.write_u64(u64::from(self.lo.port) << 32 | u64::from(self.hi.port));
    }
}

struct Entry {
    /// Boxed: a connection is ~1.1 KB, and the table's slots are moved when it grows.
    conn: Box<Connection>,
    /// The client's end of the connection (the other end of its `Pair` is the server).
    client: (IpAddr, u16),
    /// Whether the client is the `lo` end of the `Pair`: a packet's direction is then one
    /// comparison with the order of its own ends (comparing `IpAddr`s was ~15 instructions).
    client_lo: bool,
    /// Creation stamp, matched against the eviction queue.
    id: u64,
    /// Initial sequence number of the client's SYN, when seen.
    client_isn: Option<u32>,
}

/// Maps decoded packets to per-connection MQTT state and hands every message and finding to a
/// [`Visitor`].
pub struct Tracker {
    config: TrackerConfig,
    budget: MemoryBudget,
    // foldhash, not SipHash: SipHash was ~8 % of `extract`'s time. Keys are attacker-chosen, but
    // the seed is random per process and the table is capped (`max_connections`).
    conns: HashMap<Pair, Entry, foldhash::fast::RandomState>,
    /// Keys in creation order, with their creation stamps (stale stamps are skipped).
    order: VecDeque<(Pair, u64)>,
    next_id: u64,
    /// Recently closed connections, oldest first, and the same keys for look-up.
    closed: VecDeque<Key>,
    closed_keys: HashSet<Key, foldhash::fast::RandomState>,
    stats: TrackerStats,
    /// Tests only: every segment through `Connection::on_segment_general`, to compare the fast
    /// path against.
    #[cfg(test)]
    general: bool,
}

impl Tracker {
    /// An empty table.
    pub fn new(config: TrackerConfig) -> Self {
        let budget = MemoryBudget::new(config.buffer_limit);
        Tracker {
            config,
            budget,
            conns: HashMap::default(),
            order: VecDeque::new(),
            next_id: 0,
            closed: VecDeque::new(),
            closed_keys: HashSet::default(),
            stats: TrackerStats::default(),
            #[cfg(test)]
            general: false,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TrackerStats {
        TrackerStats {
            buffer_refused: self.budget.refused(),
            ..self.stats
        }
    }

    /// Connections currently tracked.
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Feeds one packet. Returns whether it belonged to an MQTT connection.
    pub fn on_packet<V: Visitor>(&mut self, packet: &Packet<'_>, visitor: &mut V) -> bool {
        // Matched by reference: the IP header is not copied out of the packet.
        let (
            Some(ip),
            &Transport::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                ..
            },
        ) = (&packet.ip, &packet.transport)
        else {
            return false;
        };
        let src = (ip.src, src_port);
        let dst = (ip.dst, dst_port);
        let (pair, src_lo) = Pair::new(src, dst);
        #[cfg(test)]
        let general = self.general;
        #[cfg(not(test))]
        let general = false;
        let syn = flags.has(TcpFlags::SYN);
        let is_client_syn = syn && !flags.has(TcpFlags::ACK);
        let segment = || Segment {
            seq,
            syn,
            fin: flags.has(TcpFlags::FIN),
            rst: flags.has(TcpFlags::RST),
            ack: flags.has(TcpFlags::ACK).then_some(ack),
            payload: packet.payload,
            packet: packet.frame.number,
            ts_ns: packet.frame.ts_ns,
        };
        let mut reused = false;
        // A packet of a known connection: one look-up, from either direction.
        if let Some(entry) = self.conns.get_mut(&pair) {
            // `client == src`: the client is the end the packet came from. (With src == dst both
            // are `lo`, and such a connection was created by a packet taken as to the server, so
            // `client_lo` holds and the answer is `ToServer`, as comparing addresses gave.)
            let direction = if entry.client_lo == src_lo {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            // A pure ACK, in order and telling nothing new (57 % of the 1M bench file's
            // packets): counted without building a `Segment` or entering the connection's
            // general code (`Connection::on_pure_ack`). It cannot end the connection.
            if packet.payload.is_empty()
                && !flags.has(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
                && !general
                && entry.conn.on_pure_ack(
                    direction,
                    seq,
                    flags.has(TcpFlags::ACK).then_some(ack),
                    packet.frame.number,
                    packet.frame.ts_ns,
                )
            {
                self.stats.segments += 1;
                return true;
            }
            let client_syn = (is_client_syn && direction == Direction::ToServer).then_some(seq);
            // Port reuse: a client SYN with another initial sequence number starts a new
            // connection (below).
            let new_isn =
                client_syn.is_some_and(|isn| entry.client_isn.is_some_and(|old| old != isn));
            if !new_isn {
                if entry.client_isn.is_none() {
                    entry.client_isn = client_syn;
                }
                if general {
                    entry
                        .conn
                        .on_segment_general(direction, &segment(), visitor);
                } else {
                    entry.conn.on_segment(direction, &segment(), visitor);
                }
                self.stats.segments += 1;
                if entry.conn.is_closed() {
                    let key = Key {
                        client: entry.client,
                        server: if entry.client == src { dst } else { src },
                    };
                    // Both directions ended and nothing is left to deliver: free the entry now.
                    if let Some(mut done) = self.conns.remove(&pair) {
                        done.conn
                            .finish(packet.frame.number, packet.frame.ts_ns, visitor);
                    }
                    self.remember_closed(key);
                }
                return true;
            }
            if let Some(mut old) = self.conns.remove(&pair) {
                old.conn
                    .finish(packet.frame.number, packet.frame.ts_ns, visitor);
            }
            reused = true;
        }
        // A new connection (or a reused one, removed above): which side is the server.
        let to_server = Key {
            client: src,
            server: dst,
        };
        let to_client = Key {
            client: dst,
            server: src,
        };
        // (A reused connection's SYN came from its client.)
        let (key, direction) = if reused || self.config.ports.contains(&dst_port) {
            (to_server, Direction::ToServer)
        } else if self.config.ports.contains(&src_port) {
            (to_client, Direction::ToClient)
        } else if self.config.probe_other_ports && probe_connect(packet.payload) == Probe::Mqtt {
            self.stats.found_by_probe += 1;
            (to_server, Direction::ToServer)
        } else {
            return false;
        };
        let client_syn = (is_client_syn && direction == Direction::ToServer).then_some(seq);
        if !reused && client_syn.is_none() && self.closed_keys.contains(&key) {
            // A straggler of a connection that already ended: nothing more to dissect.
            return true;
        }
        self.make_room(packet, visitor);
        let id = self.next_id;
        self.next_id += 1;
        self.order.push_back((pair, id));
        self.stats.connections += 1;
        let mut entry = Entry {
            conn: Box::new(Connection::new(self.config.reassembly, self.budget.clone())),
            id,
            client: key.client,
            client_lo: End::of(key.client) == pair.lo,
            client_isn: client_syn,
        };
        if general {
            entry
                .conn
                .on_segment_general(direction, &segment(), visitor);
        } else {
            entry.conn.on_segment(direction, &segment(), visitor);
        }
        self.stats.segments += 1;
        if entry.conn.is_closed() {
            entry
                .conn
                .finish(packet.frame.number, packet.frame.ts_ns, visitor);
            self.remember_closed(key);
        } else {
            self.conns.insert(pair, entry);
        }
        true
    }

    fn remember_closed(&mut self, key: Key) {
        if self.closed_keys.insert(key) {
            self.closed.push_back(key);
            if self.closed.len() > CLOSED_REMEMBERED {
                if let Some(old) = self.closed.pop_front() {
                    self.closed_keys.remove(&old);
                }
            }
        }
    }

    /// Finishes every open connection (end of capture), oldest first.
    pub fn finish<V: Visitor>(&mut self, last_packet: u64, ts_ns: i64, visitor: &mut V) {
        while let Some((key, id)) = self.order.pop_front() {
            if self.conns.get(&key).is_some_and(|e| e.id == id) {
                if let Some(mut entry) = self.conns.remove(&key) {
                    entry.conn.finish(last_packet, ts_ns, visitor);
                }
            }
        }
        // Entries replaced by port reuse were finished when replaced.
        self.conns.clear();
    }

    /// Evicts the oldest connections until one more fits.
    fn make_room<V: Visitor>(&mut self, packet: &Packet<'_>, visitor: &mut V) {
        while self.conns.len() >= self.config.max_connections.max(1) {
            let Some((key, id)) = self.order.pop_front() else {
                return;
            };
            if self.conns.get(&key).is_some_and(|e| e.id == id) {
                if let Some(mut entry) = self.conns.remove(&key) {
                    entry
                        .conn
                        .finish(packet.frame.number, packet.frame.ts_ns, visitor);
                    self.stats.evicted += 1;
                }
            }
        }
        // Stale stamps of replaced connections would otherwise pile up in the queue.
        if self.order.len() > 2 * self.config.max_connections.max(1) {
            let conns = &self.conns;
            self.order
                .retain(|(k, id)| conns.get(k).is_some_and(|e| e.id == *id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Summary;
    use mqtt_ids_capture::{decode, Frame, LinkType};

    /// Raw IPv4 + TCP frame bytes: 10.0.0.1:port_a → 10.0.0.2:port_b.
    fn ipv4_tcp(a: u16, b: u16, seq: u32, flags: u8, payload: &[u8], reverse: bool) -> Vec<u8> {
        let total = 40 + payload.len();
        let (s, d) = if reverse { (2, 1) } else { (1, 2) };
        let (sp, dp) = if reverse { (b, a) } else { (a, b) };
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
            10,
            0,
            0,
            s,
            10,
            0,
            0,
            d,
        ];
        v.extend_from_slice(&sp.to_be_bytes());
        v.extend_from_slice(&dp.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 1, 0, 0, 0, 0, 0]);
        v.extend_from_slice(payload);
        v
    }

    fn feed(t: &mut Tracker, s: &mut Summary, n: u64, bytes: &[u8]) -> bool {
        let frame = Frame {
            number: n,
            offset: 0,
            ts_ns: n as i64,
            interface: 0,
            link_type: LinkType::RAW,
            orig_len: bytes.len() as u32,
            data: bytes,
        };
        t.on_packet(&decode(frame), s)
    }

    const CONNECT: [u8; 15] = [
        0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'c',
    ];
    const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

    #[test]
    fn port_and_direction() {
        let mut t = Tracker::new(TrackerConfig::default());
        let mut s = Summary::default();
        assert!(feed(
            &mut t,
            &mut s,
            1,
            &ipv4_tcp(40000, 1883, 1, 0x02, b"", false)
        ));
        assert!(feed(
            &mut t,
            &mut s,
            2,
            &ipv4_tcp(40000, 1883, 9, 0x12, b"", true)
        ));
        assert!(feed(
            &mut t,
            &mut s,
            3,
            &ipv4_tcp(40000, 1883, 2, 0x18, &CONNECT, false)
        ));
        assert!(feed(
            &mut t,
            &mut s,
            4,
            &ipv4_tcp(40000, 1883, 10, 0x18, &CONNACK, true)
        ));
        // Not MQTT: another port, and no CONNECT in it.
        assert!(!feed(
            &mut t,
            &mut s,
            5,
            &ipv4_tcp(40001, 80, 1, 0x18, b"GET /", false)
        ));
        t.finish(6, 6, &mut s);
        assert_eq!(
            s.by_type_named().collect::<Vec<_>>(),
            [("CONNECT", 1), ("CONNACK", 1)]
        );
        assert_eq!(s.by_direction, [1, 1]);
        assert_eq!(t.stats().connections, 1);
    }

    #[test]
    fn connect_on_another_port_is_found_by_probe() {
        let mut t = Tracker::new(TrackerConfig::default());
        let mut s = Summary::default();
        assert!(feed(
            &mut t,
            &mut s,
            1,
            &ipv4_tcp(40000, 17501, 1, 0x18, &CONNECT, false)
        ));
        assert!(feed(
            &mut t,
            &mut s,
            2,
            &ipv4_tcp(40000, 17501, 1, 0x18, &CONNACK, true)
        ));
        t.finish(3, 3, &mut s);
        assert_eq!(s.by_type[1] + s.by_type[2], 2);
        assert_eq!(t.stats().found_by_probe, 1);
        let mut t = Tracker::new(TrackerConfig {
            probe_other_ports: false,
            ..TrackerConfig::default()
        });
        assert!(!feed(
            &mut t,
            &mut s,
            1,
            &ipv4_tcp(40000, 17501, 1, 0x18, &CONNECT, false)
        ));
    }

    #[test]
    fn port_reuse_starts_a_new_connection() {
        let mut t = Tracker::new(TrackerConfig::default());
        let mut s = Summary::default();
        feed(
            &mut t,
            &mut s,
            1,
            &ipv4_tcp(40000, 1883, 100, 0x02, b"", false),
        );
        feed(
            &mut t,
            &mut s,
            2,
            &ipv4_tcp(40000, 1883, 101, 0x18, &CONNECT, false),
        );
        feed(
            &mut t,
            &mut s,
            3,
            &ipv4_tcp(40000, 1883, 100, 0x02, b"", false),
        ); // retransmitted SYN
        assert_eq!(t.stats().connections, 1);
        feed(
            &mut t,
            &mut s,
            4,
            &ipv4_tcp(40000, 1883, 5000, 0x02, b"", false),
        ); // new ISN
        feed(
            &mut t,
            &mut s,
            5,
            &ipv4_tcp(40000, 1883, 5001, 0x18, &CONNECT, false),
        );
        t.finish(6, 6, &mut s);
        assert_eq!(t.stats().connections, 2);
        assert_eq!(s.by_type[1], 2);
        assert_eq!(s.findings.get(crate::FindingKind::DoubleConnect), 0);
    }

    #[test]
    fn closed_connections_leave_the_table_and_stragglers_are_ignored() {
        let mut t = Tracker::new(TrackerConfig::default());
        let mut s = Summary::default();
        feed(
            &mut t,
            &mut s,
            1,
            &ipv4_tcp(40000, 1883, 1, 0x02, b"", false),
        ); // SYN
        feed(
            &mut t,
            &mut s,
            2,
            &ipv4_tcp(40000, 1883, 9, 0x12, b"", true),
        ); // SYN-ACK
        feed(
            &mut t,
            &mut s,
            3,
            &ipv4_tcp(40000, 1883, 2, 0x18, &CONNECT, false),
        );
        feed(
            &mut t,
            &mut s,
            4,
            &ipv4_tcp(40000, 1883, 10, 0x18, &CONNACK, true),
        );
        feed(
            &mut t,
            &mut s,
            5,
            &ipv4_tcp(40000, 1883, 17, 0x11, b"", false),
        ); // FIN
        feed(
            &mut t,
            &mut s,
            6,
            &ipv4_tcp(40000, 1883, 14, 0x11, b"", true),
        ); // FIN
        assert_eq!(t.open_connections(), 0, "closed on the second FIN");
        assert!(feed(
            &mut t,
            &mut s,
            7,
            &ipv4_tcp(40000, 1883, 18, 0x10, b"", false)
        )); // last ACK
        assert_eq!(t.open_connections(), 0);
        assert_eq!(t.stats().connections, 1);
        assert_eq!(s.findings.get(crate::FindingKind::MidstreamPickup), 0);
        // The port is reused by a new connection.
        feed(
            &mut t,
            &mut s,
            8,
            &ipv4_tcp(40000, 1883, 900, 0x02, b"", false),
        );
        assert_eq!((t.open_connections(), t.stats().connections), (1, 2));
    }

    /// Everything a visitor is told, as text (the message itself included), in order.
    #[derive(Default)]
    struct Transcript(Vec<String>);

    impl Visitor for Transcript {
        fn on_message(&mut self, e: &crate::MessageEvent<'_>) {
            self.0.push(format!("{e:?}"));
        }
        fn on_finding(&mut self, e: &crate::FindingEvent) {
            self.0.push(format!("{e:?}"));
        }
    }

    /// Every capture under ../shared/data (MQTTset, Suricata's and Zeek's test captures), sorted;
    /// panics when fewer than 40 are there (the tests below must not pass on an empty list).
    fn shared_captures() -> Vec<std::path::PathBuf> {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
        let mut files = Vec::new();
        let mut dirs = vec![data];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.to_string_lossy().contains(".pcap") {
                    files.push(path);
                }
            }
        }
        files.sort();
        assert!(
            files.len() >= 40,
            "shared captures missing: {}",
            files.len()
        );
        files
    }

    /// Every shared capture (../shared/data: MQTTset, Suricata's and Zeek's test captures)
    /// through the tracker with the half streams' in-order fast path and without it: the same
    /// messages, findings and counters, in the same order, attributed to the same packets.
    #[test]
    fn fast_path_matches_the_general_path_on_the_shared_captures() {
        let files = shared_captures();
        let mut messages = 0;
        for file in &files {
            let name = file.to_string_lossy().into_owned();
            let run = |general: bool| {
                let mut reader =
                    mqtt_ids_capture::open(&name, Default::default()).expect("capture opens");
                let mut t = Tracker::new(TrackerConfig::default());
                t.general = general;
                let mut seen = Transcript::default();
                let mut last = (0, 0);
                while let Ok(Some(frame)) = reader.next_frame() {
                    let packet = decode(frame);
                    last = (packet.frame.number, packet.frame.ts_ns);
                    let mqtt = t.on_packet(&packet, &mut seen);
                    seen.0.push(format!("{} {mqtt}", packet.frame.number));
                }
                t.finish(last.0, last.1, &mut seen);
                (seen.0, t.stats())
            };
            let (fast, general) = (run(false), run(true));
            assert_eq!(fast.1, general.1, "{name}");
            assert_eq!(fast.0.len(), general.0.len(), "{name}");
            for (a, b) in fast.0.iter().zip(&general.0) {
                assert_eq!(a, b, "{name}");
            }
            messages += fast
                .0
                .iter()
                .filter(|l| l.starts_with("MessageEvent"))
                .count();
        }
        assert!(messages > 50_000, "{messages} messages");
    }

    /// Every message of the shared captures, through the small fixed-size message shortcut
    /// (`codec::parse_small_fixed`) and through the general parser, at every protocol level and
    /// as the start of a longer input: where the shortcut answers, it answers the same.
    #[test]
    fn small_fixed_shortcut_matches_the_general_parser_on_the_shared_captures() {
        use crate::codec::{parse_message_general, parse_small_fixed, Decoded, ParseOptions};
        #[derive(Default)]
        struct Frames(Vec<Vec<u8>>);
        impl Visitor for Frames {
            fn on_message(&mut self, e: &crate::MessageEvent<'_>) {
                if let Some(m) = e.message {
                    self.0.push(m.frame.to_vec());
                }
            }
        }
        let files = shared_captures();
        let (mut messages, mut taken) = (0, 0);
        let mut seen = std::collections::HashSet::new();
        for file in &files {
            let name = file.to_string_lossy().into_owned();
            let mut reader = mqtt_ids_capture::open(&name, Default::default()).expect("opens");
            let mut t = Tracker::new(TrackerConfig::default());
            let mut frames = Frames::default();
            let mut last = (0, 0);
            while let Ok(Some(frame)) = reader.next_frame() {
                let packet = decode(frame);
                last = (packet.frame.number, packet.frame.ts_ns);
                t.on_packet(&packet, &mut frames);
            }
            t.finish(last.0, last.1, &mut frames);
            messages += frames.0.len();
            for frame in frames.0 {
                if !seen.insert(frame.clone()) {
                    continue;
                }
                let mut longer = frame.clone();
                longer.extend_from_slice(&[0x30, 0x00]);
                for version in [
                    None,
                    Some(crate::codec::ProtocolVersion::V3_1),
                    Some(crate::codec::ProtocolVersion::V3_1_1),
                    Some(crate::codec::ProtocolVersion::V5),
                ] {
                    let o = ParseOptions {
                        version,
                        ..ParseOptions::default()
                    };
                    for input in [&frame[..], &longer[..]] {
                        if let Some((message, consumed)) = parse_small_fixed(input, &o) {
                            assert_eq!(
                                Decoded::Parsed { message, consumed },
                                parse_message_general(input, &o),
                                "{name}: {input:02x?} {version:?}"
                            );
                            taken += 1;
                        }
                    }
                }
            }
        }
        assert!(messages > 50_000, "{messages} messages");
        assert!(taken > 1_000, "{taken} distinct small messages taken");
    }

    #[test]
    fn the_table_is_bounded_and_evictions_counted() {
        let mut t = Tracker::new(TrackerConfig {
            max_connections: 3,
            ..TrackerConfig::default()
        });
        let mut s = Summary::default();
        for port in 0..10u16 {
            let frame = ipv4_tcp(40000 + port, 1883, 1, 0x18, &CONNECT, false);
            feed(&mut t, &mut s, u64::from(port) + 1, &frame);
            assert!(t.open_connections() <= 3);
        }
        t.finish(11, 11, &mut s);
        let stats = t.stats();
        assert_eq!((stats.connections, stats.evicted), (10, 7));
        assert_eq!(
            s.by_type[1], 10,
            "evicted connections still deliver their messages"
        );
    }
}
