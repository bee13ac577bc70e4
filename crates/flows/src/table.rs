//! The flow table: one entry per unordered endpoint pair and protocol, holding the running
//! statistics of both directions, in bounded memory, with the reference's output orders.
//!
//! Entries live in a slab (`Vec`, freed slots reused) indexed by a `hashbrown` table of slot
//! numbers, and are threaded on two intrusive lists: by last packet (least recently seen first:
//! idle timeouts and eviction) and by creation (oldest first: active timeouts). Every list and
//! table operation is O(1) amortised and nothing is allocated per packet once the table has
//! grown to its working size.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use mqtt_ids_capture::{Packet, TcpFlags, Transport};

use crate::key::{FlowKey, PairKey, PROTO_TCP, PROTO_UDP};
use crate::stats::{Accumulator, PacketFacts, UniStats};

/// Default cap on entries (endpoint pairs) held at once. Measured at this cap
/// (`tests/memory.rs`, counting allocator): 371 bytes of heap per entry (a 328-byte slab entry,
/// 16 bytes of list links, the hash table's 4-byte slot and control byte at its load factor,
/// and the `Vec`s' growth slack), so the full default table takes about 371 MB.
pub const DEFAULT_MAX_FLOWS: usize = 1_000_000;

/// When flows end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowMode {
    /// The paper's: a flow is every packet of its 5-tuple over the whole capture, emitted by
    /// [`FlowTable::finish`] (or early, when the table is full).
    #[default]
    Capture,
    /// Online: an entry ends when no packet came for longer than `idle_ns`, when it began
    /// longer than `active_ns` ago, or (TCP) with the packet that completes a FIN from both
    /// sides or carries an RST. A later packet of the same 5-tuple starts a new flow.
    Timeout {
        idle_ns: i64,
        active_ns: Option<i64>,
    },
}

/// Parses a duration — `120`, `120s`, `500ms`, `250us`, `2m`, `1h`, `1.5s` (no unit: seconds) —
/// into nanoseconds; it must be positive and below 1e18 ns.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (like 120s, 500ms, 2m, 1h)"))?;
    let scale = match unit {
        "" | "s" => 1e9,
        "ms" => 1e6,
        "us" => 1e3,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use ms, s, m or h)"
            ))
        }
    };
    let ns = value * scale;
    if !(1.0..1e18).contains(&ns) {
        return Err(format!("`{text}`: the duration must be positive"));
    }
    Ok(ns.round() as i64)
}

impl std::str::FromStr for FlowMode {
    type Err = String;

    /// `capture`, or `IDLE[,ACTIVE]` as durations ([`parse_duration`]: `120`, `15s,30m`): the
    /// value of a `--flow-timeout` option.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "capture" {
            return Ok(FlowMode::Capture);
        }
        let mut parts = s.split(',');
        let idle_ns = parse_duration(parts.next().unwrap_or(""))?;
        let active_ns = parts.next().map(parse_duration).transpose()?;
        if parts.next().is_some() {
            return Err(format!("`{s}`: expected IDLE or IDLE,ACTIVE"));
        }
        Ok(FlowMode::Timeout { idle_ns, active_ns })
    }
}

/// Flow table settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    pub mode: FlowMode,
    /// Entries held at once; beyond it the least recently seen entry is ended early and
    /// emitted (counted in [`FlowStats::evicted`]). At least 1.
    pub max_flows: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            mode: FlowMode::Capture,
            max_flows: DEFAULT_MAX_FLOWS,
        }
    }
}

/// One uni-directional flow: every packet of one exact 5-tuple.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UniFlow {
    pub key: FlowKey,
    /// Frame number of its first packet.
    pub first_packet: u64,
    /// Timestamps of its first and last packet, in arrival order.
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub stats: UniStats,
}

/// One bi-directional flow: a uni-flow and its reverse, or a UDP uni-flow with no reverse whose
/// backward statistics copy the forward ones (`bwd_copied`), as in the reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BiFlow {
    /// The forward direction: the one seen first.
    pub key: FlowKey,
    /// Frame number of the forward direction's first packet.
    pub first_packet: u64,
    /// First packet of the forward direction; last packet of either direction.
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub fwd: UniStats,
    pub bwd: UniStats,
    /// No reverse flow: `bwd` is a copy of `fwd` (UDP only; TCP uni-flows without a reverse
    /// have no bi-flow row).
    pub bwd_copied: bool,
}

/// Receives flows as they end.
pub trait FlowSink {
    fn uniflow(&mut self, flow: &UniFlow);
    fn biflow(&mut self, flow: &BiFlow);
    /// An interim report of a uni-flow still held (see [`FlowTable::set_update_interval`]):
    /// its statistics so far. Default: ignored.
    fn interim_uniflow(&mut self, _flow: &UniFlow) {}
    /// An interim report of a bi-flow still held. Default: ignored.
    fn interim_biflow(&mut self, _flow: &BiFlow) {}
}

/// What the table did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Packets offered to [`FlowTable::on_packet`].
    pub packets: u64,
    /// Of those, counted in a flow (IPv4/IPv6 with a TCP or UDP header).
    pub flow_packets: u64,
    /// No IP header (ARP, other EtherTypes, undecodable link layer).
    pub skipped_not_ip: u64,
    /// IP fragments (their transport header is not decoded).
    pub skipped_fragments: u64,
    /// IP packets that are not TCP or UDP (ICMP, IGMP, …), or whose TCP/UDP header is cut.
    pub skipped_not_tcp_udp: u64,
    /// Uni-flows started.
    pub flows: u64,
    /// Rows emitted.
    pub uniflows_emitted: u64,
    pub biflows_emitted: u64,
    /// Entries ended by the idle timeout, the active timeout, TCP FIN/RST.
    pub ended_idle: u64,
    pub ended_active: u64,
    pub ended_tcp: u64,
    /// Entries ended early because the table was full.
    pub evicted: u64,
    /// TCP uni-flows without a reverse: a uni-flow row, no bi-flow row (as the reference).
    pub tcp_unpaired_dropped: u64,
    /// UDP uni-flows without a reverse: bi-flow rows whose backward half copies the forward.
    pub udp_unpaired_copied: u64,
    /// Uni-flows with a timestamp earlier than their previous packet's: their IATs follow
    /// arrival order (the reference sorts; a stream cannot).
    pub out_of_order_flows: u64,
    /// Most entries held at once.
    pub peak_entries: u64,
    /// Interim reports of entries still held (update interval).
    pub interim_reports: u64,
}

/// Why an entry ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Idle,
    Active,
    Tcp,
    Evicted,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// By last packet, least recently seen first.
    Lru = 0,
    /// By creation, oldest first.
    Age = 1,
}

struct Entry {
    key: PairKey,
    /// Side 0: the direction from the key's lower endpoint; side 1 the other. `count == 0`: not
    /// seen. A self-reverse flow uses side 0 only.
    sides: [Accumulator; 2],
    /// Latest timestamp seen on either side (idle timeout).
    last_seen_ns: i64,
    /// FIN seen: bit 0 on side 0, bit 1 on side 1 (a self-reverse flow: first and second FIN).
    fins: u8,
    /// Side 0 (bit 0) or 1 (bit 1) has had a timestamp before its previous packet's.
    out_of_order: u8,
}

impl Entry {
    fn new(key: PairKey, ts_ns: i64) -> Self {
        Entry {
            key,
            sides: [Accumulator::default(); 2],
            last_seen_ns: ts_ns,
            fins: 0,
            out_of_order: 0,
        }
    }

    /// Arrival sequence number of the entry's first packet.
    fn first_seq(&self) -> u64 {
        self.sides
            .iter()
            .filter(|s| s.count > 0)
            .map(|s| s.seq)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Timestamp of the entry's first packet (active timeout).
    fn created_ns(&self) -> i64 {
        match self.sides {
            [a, b] if b.count > 0 && (a.count == 0 || b.seq < a.seq) => b.first_ts_ns,
            [a, _] => a.first_ts_ns,
        }
    }
}

/// Streaming flow table: feed decoded packets with [`FlowTable::on_packet`], then call
/// [`FlowTable::finish`]; ended flows go to a [`FlowSink`].
pub struct FlowTable {
    config: FlowConfig,
    max_flows: usize,
    hasher: foldhash::fast::RandomState,
    index: HashTable<u32>,
    entries: Vec<Entry>,
    /// The two list links of each slab slot, apart from the entries: moving an entry in the
    /// recency list writes its neighbours' links, which then sit in a dense, cache-friendly
    /// array rather than in two more scattered 344-byte entries.
    links: Vec<[Link; 2]>,
    free: Vec<u32>,
    lists: [List; 2],
    /// Arrival sequence number of the next flow packet (orders flows by first packet).
    next_seq: u64,
    /// The packet clock: the latest timestamp seen.
    now_ns: i64,
    stats: FlowStats,
    /// Interim reports: an entry is reported again once this long has passed on the packet
    /// clock since its start or its last report, at its next packet.
    update_ns: Option<i64>,
    /// Per slab slot: when the entry was last reported (or created); kept apart from the
    /// entries, whose size is guarded, and only grown when an update interval is set.
    reported_ns: Vec<i64>,
}

impl FlowTable {
    /// An empty table.
    pub fn new(config: FlowConfig) -> Self {
        FlowTable {
            config,
            // Slot numbers are u32 with one value reserved for "none".
            max_flows: config.max_flows.clamp(1, (NIL - 1) as usize),
            hasher: foldhash::fast::RandomState::default(),
            index: HashTable::new(),
            entries: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            lists: [List {
                head: NIL,
                tail: NIL,
            }; 2],
            next_seq: 0,
            now_ns: i64::MIN,
            stats: FlowStats::default(),
            update_ns: None,
            reported_ns: Vec::new(),
        }
    }

    /// Reports every entry held for longer than `interval_ns` (on the packet clock, since it
    /// began or since its last report) at its next packet, through
    /// [`FlowSink::interim_uniflow`] and [`FlowSink::interim_biflow`], without ending it: an
    /// online detector then sees long-lived flows while they last. `None` (the default): no
    /// interim reports. Set it before the first packet.
    pub fn set_update_interval(&mut self, interval_ns: Option<i64>) {
        self.update_ns = interval_ns.filter(|&n| n > 0);
    }

    /// The settings.
    pub fn config(&self) -> FlowConfig {
        self.config
    }

    /// Counters so far.
    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// Entries (endpoint pairs) held now.
    pub fn entries(&self) -> usize {
        self.index.len()
    }

    /// Feeds one packet; flows it ends go to `sink`. Returns whether the packet was counted in a
    /// flow (IPv4/IPv6 with a decoded TCP or UDP header).
    pub fn on_packet<S: FlowSink>(&mut self, packet: &Packet<'_>, sink: &mut S) -> bool {
        self.stats.packets += 1;
        let Some(ip) = packet.ip else {
            self.stats.skipped_not_ip += 1;
            return false;
        };
        let (src_port, dst_port, flags, proto) = match packet.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                flags,
                ..
            } => (src_port, dst_port, flags.0, PROTO_TCP),
            Transport::Udp {
                src_port, dst_port, ..
            } => (src_port, dst_port, 0, PROTO_UDP),
            _ => {
                if ip.fragment {
                    self.stats.skipped_fragments += 1;
                } else {
                    self.stats.skipped_not_tcp_udp += 1;
                }
                return false;
            }
        };
        let ts = packet.frame.ts_ns;
        self.advance(ts, sink);
        let (key, side) = PairKey::of(ip.src, ip.dst, src_port, dst_port, proto);
        let hash = self.hasher.hash_one(key);
        let entries = &self.entries;
        let mut found = self
            .index
            .find(hash, |&i| entries[i as usize].key == key)
            .copied();
        if let (Some(i), FlowMode::Timeout { .. }) = (found, self.config.mode) {
            if let Some(why) = self.expired_at(i, ts) {
                self.end(i, why, sink);
                found = None;
            }
        }
        let i = match found {
            Some(i) => i,
            None => self.insert(key, hash, ts, sink),
        };
        let facts = PacketFacts {
            seq: self.next_seq,
            number: packet.frame.number,
            ts_ns: ts,
            len: ip.total_len,
            flags,
        };
        self.next_seq += 1;
        self.stats.flow_packets += 1;
        let entry = &mut self.entries[i as usize];
        let acc = &mut entry.sides[side];
        self.stats.flows += u64::from(acc.count == 0);
        if acc.add(&facts) && entry.out_of_order & (1 << side) == 0 {
            entry.out_of_order |= 1 << side;
            self.stats.out_of_order_flows += 1;
        }
        entry.last_seen_ns = entry.last_seen_ns.max(ts);
        if let FlowMode::Timeout { .. } = self.config.mode {
            if proto == PROTO_TCP && flags & (TcpFlags::FIN | TcpFlags::RST) != 0 {
                if flags & TcpFlags::FIN != 0 {
                    let bit = if entry.key.is_self_reverse() && entry.fins & 1 != 0 {
                        2
                    } else {
                        1 << side
                    };
                    entry.fins |= bit;
                }
                if flags & TcpFlags::RST != 0 || entry.fins == 3 {
                    self.end(i, End::Tcp, sink);
                    return true;
                }
            }
        }
        self.touch(i);
        if let Some(update_ns) = self.update_ns {
            let slot = i as usize;
            if ts.saturating_sub(self.reported_ns[slot]) >= update_ns {
                self.reported_ns[slot] = ts;
                self.report(i, sink);
            }
        }
        true
    }

    /// Interim rows of a held entry: its uni-flows, then its bi-flow (same pairing rules as
    /// when it ends, without counting in the end-of-flow statistics).
    fn report<S: FlowSink>(&mut self, i: u32, sink: &mut S) {
        let e = &self.entries[i as usize];
        for side in side_order(&e.sides) {
            if e.sides[side].count > 0 {
                sink.interim_uniflow(&uniflow(&e.key, side, &e.sides[side]));
            }
        }
        if let Pairing::Row(flow) = pair(&e.key, &e.sides) {
            sink.interim_biflow(&flow);
        }
        self.stats.interim_reports += 1;
    }

    /// Moves the packet clock to `now_ns` (never backwards) and, in timeout mode, ends the
    /// entries idle or active for longer than their timeouts. [`FlowTable::on_packet`] calls it
    /// with each packet's timestamp; a live reader calls it on a timer when no packet comes.
    pub fn advance<S: FlowSink>(&mut self, now_ns: i64, sink: &mut S) {
        self.now_ns = self.now_ns.max(now_ns);
        let FlowMode::Timeout { idle_ns, active_ns } = self.config.mode else {
            return;
        };
        loop {
            let head = self.lists[Order::Lru as usize].head;
            if head == NIL
                || self
                    .now_ns
                    .saturating_sub(self.entries[head as usize].last_seen_ns)
                    <= idle_ns
            {
                break;
            }
            self.end(head, End::Idle, sink);
        }
        if let Some(active_ns) = active_ns {
            loop {
                let head = self.lists[Order::Age as usize].head;
                if head == NIL
                    || self
                        .now_ns
                        .saturating_sub(self.entries[head as usize].created_ns())
                        <= active_ns
                {
                    break;
                }
                self.end(head, End::Active, sink);
            }
        }
    }

    /// Emits every entry still held, in the reference's orders, and empties the table:
    /// uni-flows by first packet; then bi-flows of the pairs (and self-reverse flows) by the
    /// forward direction's first packet; then UDP uni-flows without a reverse, by first packet.
    pub fn finish<S: FlowSink>(&mut self, sink: &mut S) {
        let mut live: Vec<u32> = Vec::with_capacity(self.index.len());
        let mut at = self.lists[Order::Age as usize].head;
        while at != NIL {
            live.push(at);
            at = self.links[at as usize][Order::Age as usize].next;
        }
        // Uni-flows by first packet (every flow packet has its own sequence number: the key alone
        // orders them).
        let mut unis: Vec<(u64, u32, u8)> = Vec::with_capacity(live.len() * 2);
        for &i in &live {
            for (side, acc) in self.entries[i as usize].sides.iter().enumerate() {
                if acc.count > 0 {
                    unis.push((acc.seq, i, side as u8));
                }
            }
        }
        unis.sort_unstable_by_key(|&(seq, _, _)| seq);
        for &(_, i, side) in &unis {
            let e = &self.entries[i as usize];
            let flow = uniflow(&e.key, usize::from(side), &e.sides[usize::from(side)]);
            sink.uniflow(&flow);
        }
        self.stats.uniflows_emitted += unis.len() as u64;
        // Pass 1 (pairs) in the forward flow's order, then pass 2 (UDP without a reverse). An
        // entry is made by its first packet and is then appended to the creation list: that
        // list is in the order of the entries' first packets, which is the order of their
        // forward flows.
        debug_assert!(live
            .windows(2)
            .all(|w| self.entries[w[0] as usize].first_seq()
                < self.entries[w[1] as usize].first_seq()));
        for paired in [true, false] {
            for &i in &live {
                let e = &self.entries[i as usize];
                if paired == (e.key.is_self_reverse() || e.sides.iter().all(|s| s.count > 0)) {
                    emit_biflow(&e.key, &e.sides, &mut self.stats, sink);
                }
            }
        }
        self.index.clear();
        self.entries.clear();
        self.links.clear();
        self.free.clear();
        self.lists = [List {
            head: NIL,
            tail: NIL,
        }; 2];
    }

    /// Whether a held entry has timed out by the time of a packet at `ts`.
    fn expired_at(&self, i: u32, ts: i64) -> Option<End> {
        let FlowMode::Timeout { idle_ns, active_ns } = self.config.mode else {
            return None;
        };
        let e = &self.entries[i as usize];
        if ts.saturating_sub(e.last_seen_ns) > idle_ns {
            Some(End::Idle)
        } else if active_ns.is_some_and(|a| ts.saturating_sub(e.created_ns()) > a) {
            Some(End::Active)
        } else {
            None
        }
    }

    /// A new entry for `key`, making room first if the table is full.
    fn insert<S: FlowSink>(&mut self, key: PairKey, hash: u64, ts: i64, sink: &mut S) -> u32 {
        if self.index.len() >= self.max_flows {
            let victim = self.lists[Order::Lru as usize].head;
            self.end(victim, End::Evicted, sink);
        }
        let entry = Entry::new(key, ts);
        let i = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = entry;
                i
            }
            None => {
                self.entries.push(entry);
                self.links.push([UNLINKED; 2]);
                (self.entries.len() - 1) as u32
            }
        };
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .insert_unique(hash, i, |&j| hasher.hash_one(entries[j as usize].key));
        self.push_back(i, Order::Lru);
        self.push_back(i, Order::Age);
        if self.update_ns.is_some() {
            if self.reported_ns.len() <= i as usize {
                self.reported_ns.resize(i as usize + 1, ts);
            }
            self.reported_ns[i as usize] = ts;
        }
        self.stats.peak_entries = self.stats.peak_entries.max(self.index.len() as u64);
        i
    }

    /// Emits an entry's rows and frees it.
    fn end<S: FlowSink>(&mut self, i: u32, why: End, sink: &mut S) {
        let e = &self.entries[i as usize];
        let (key, sides) = (e.key, e.sides);
        for side in side_order(&sides) {
            if sides[side].count > 0 {
                sink.uniflow(&uniflow(&key, side, &sides[side]));
                self.stats.uniflows_emitted += 1;
            }
        }
        emit_biflow(&key, &sides, &mut self.stats, sink);
        let hash = self.hasher.hash_one(key);
        if let Ok(slot) = self.index.find_entry(hash, |&j| j == i) {
            slot.remove();
        }
        self.unlink(i, Order::Lru);
        self.unlink(i, Order::Age);
        self.free.push(i);
        match why {
            End::Idle => self.stats.ended_idle += 1,
            End::Active => self.stats.ended_active += 1,
            End::Tcp => self.stats.ended_tcp += 1,
            End::Evicted => self.stats.evicted += 1,
        }
    }

    #[inline]
    fn touch(&mut self, i: u32) {
        if self.lists[Order::Lru as usize].tail != i {
            self.unlink(i, Order::Lru);
            self.push_back(i, Order::Lru);
        }
    }

    fn push_back(&mut self, i: u32, order: Order) {
        let o = order as usize;
        let tail = self.lists[o].tail;
        self.links[i as usize][o] = Link {
            prev: tail,
            next: NIL,
        };
        if tail == NIL {
            self.lists[o].head = i;
        } else {
            self.links[tail as usize][o].next = i;
        }
        self.lists[o].tail = i;
    }

    fn unlink(&mut self, i: u32, order: Order) {
        let o = order as usize;
        let Link { prev, next } = self.links[i as usize][o];
        if prev == NIL {
            self.lists[o].head = next;
        } else {
            self.links[prev as usize][o].next = next;
        }
        if next == NIL {
            self.lists[o].tail = prev;
        } else {
            self.links[next as usize][o].prev = prev;
        }
        self.links[i as usize][o] = UNLINKED;
    }
}

fn uniflow(key: &PairKey, side: usize, acc: &Accumulator) -> UniFlow {
    UniFlow {
        key: key.flow_key(side),
        first_packet: acc.first_packet,
        first_ts_ns: acc.first_ts_ns,
        last_ts_ns: acc.last_ts_ns,
        stats: acc.stats(),
    }
}

/// The order an entry's uni-flows are written in: the side seen first, first.
fn side_order(sides: &[Accumulator; 2]) -> [usize; 2] {
    if sides[1].count > 0 && (sides[0].count == 0 || sides[1].seq < sides[0].seq) {
        [1, 0]
    } else {
        [0, 1]
    }
}

/// What an entry's bi-flow is.
#[allow(clippy::large_enum_variant)] // built and matched at once, never stored
enum Pairing {
    Row(BiFlow),
    /// One TCP direction only: no row.
    TcpUnpaired,
    Empty,
}

/// The bi-flow of one entry, by the reference's rules: both directions → forward is the one
/// seen first; a self-reverse flow pairs with itself; one UDP direction → backward copies
/// forward; one TCP direction → no row.
fn pair(key: &PairKey, sides: &[Accumulator; 2]) -> Pairing {
    let seen = [sides[0].count > 0, sides[1].count > 0];
    let (fwd, bwd, copied) = match seen {
        [true, true] if sides[1].seq < sides[0].seq => (1, 0, false),
        [true, true] => (0, 1, false),
        [false, false] => return Pairing::Empty,
        [a, _] => {
            let side = if a { 0 } else { 1 };
            if key.is_self_reverse() {
                (side, side, false)
            } else if key.proto() == PROTO_UDP {
                (side, side, true)
            } else {
                return Pairing::TcpUnpaired;
            }
        }
    };
    let (f, b) = (&sides[fwd], &sides[bwd]);
    Pairing::Row(BiFlow {
        key: key.flow_key(fwd),
        first_packet: f.first_packet,
        first_ts_ns: f.first_ts_ns,
        last_ts_ns: f.last_ts_ns.max(b.last_ts_ns),
        fwd: f.stats(),
        bwd: b.stats(),
        bwd_copied: copied,
    })
}

/// Emits the bi-flow row of an ending entry ([`pair`]), counting unpaired directions.
fn emit_biflow<S: FlowSink>(
    key: &PairKey,
    sides: &[Accumulator; 2],
    stats: &mut FlowStats,
    sink: &mut S,
) {
    match pair(key, sides) {
        Pairing::Row(flow) => {
            if flow.bwd_copied {
                stats.udp_unpaired_copied += 1;
            }
            sink.biflow(&flow);
            stats.biflows_emitted += 1;
        }
        Pairing::TcpUnpaired => stats.tcp_unpaired_dropped += 1,
        Pairing::Empty => {}
    }
}

/// Bytes of one slab entry (guarded by a test; part of the figure in [`DEFAULT_MAX_FLOWS`]).
#[cfg(test)]
pub(crate) fn entry_size() -> usize {
    std::mem::size_of::<Entry>()
}
