//! TCP stream reassembly for one direction of an MQTT connection, and the bounded memory it may
//! use.
//!
//! Promises:
//! - one code path for both directions: a half stream knows nothing of which side it carries;
//! - in-order data is parsed straight from the segment payload (no copy, no allocation); only the
//!   incomplete tail of a message, and out-of-order segments, are buffered;
//! - retransmissions and overlaps are trimmed by sequence number (wrapping arithmetic, first
//!   copy wins);
//! - buffered bytes are capped per stream and globally ([`MemoryBudget`]); a message larger than
//!   `max_message_len` is never buffered: its body is skipped as it streams past;
//! - after a gap, a mid-stream pickup or lost framing, parsing resumes at the next fixed header
//!   that parses cleanly (and is followed by a plausible one), instead of giving up on the
//!   connection.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::codec::header::parse_fixed_header;
use crate::codec::{
    parse_message, parse_plain_publish, parse_small_fixed, Decoded, FixedHeader, HeaderError,
    Message, Packet, ParseOptions, ProtocolVersion, TooLarge, DEFAULT_MAX_MESSAGE_LEN,
};
use crate::finding::FindingKind;

/// Which way a segment travels. The server is the side listening on the MQTT port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (CONNECT, SUBSCRIBE, …).
    ToServer,
    /// Server to client (CONNACK, SUBACK, …).
    ToClient,
}

impl Direction {
    /// The other direction.
    #[inline]
    pub const fn opposite(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// 0 for `ToServer`, 1 for `ToClient` (index into per-direction arrays).
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One TCP segment of a connection, as the capture layer decoded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    /// TCP sequence number of the first byte (of the SYN, when `syn` is set).
    pub seq: u32,
    /// SYN flag: the next byte is `seq + 1`.
    pub syn: bool,
    /// FIN flag: the sender has no more data after this payload.
    pub fin: bool,
    /// RST flag: the connection is aborted; buffered partial data is discarded.
    pub rst: bool,
    /// Acknowledgement number when the ACK flag is set. Data of the other direction acknowledged
    /// here but never seen was lost in capture: it becomes a gap at once instead of holding the
    /// stream (`None` disables this; gaps are then found by the out-of-order caps only).
    pub ack: Option<u32>,
    /// TCP payload.
    pub payload: &'a [u8],
    /// 1-based frame number in the capture.
    pub packet: u64,
    /// Capture timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
}

/// Limits of reassembly. The defaults hold one maximal message plus a window of out-of-order data
/// per direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Largest message (fixed header included) that is buffered and parsed; larger ones are skipped
    /// and counted as `oversized_message`. Default 1 MiB (Suricata's `max-msg-length` default).
    pub max_message_len: usize,
    /// Cap on bytes buffered by one direction (partial message + out-of-order segments).
    /// Default 2 MiB.
    pub max_stream_buffer: usize,
    /// Out-of-order segments held per direction before the missing data is declared lost (a gap).
    /// Default 64.
    pub max_ooo_segments: usize,
    /// How long (capture time, ns) the earliest out-of-order segment waits for the data before it;
    /// after that the missing data is declared lost. Checked whenever a segment of the connection
    /// arrives. Default 2 s (beyond Linux's 200 ms minimum retransmission timeout, so a hole that
    /// TCP would repair usually is repaired first).
    pub max_ooo_wait_ns: i64,
    /// Outstanding packet ids remembered per kind and direction for `missing_publish`/
    /// `missing_subscribe`/`missing_unsubscribe`; beyond it the oldest is forgotten and
    /// `too_many_transactions` is counted. Default 1024.
    pub max_outstanding_ids: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            max_stream_buffer: 2 << 20,
            max_ooo_segments: 64,
            max_ooo_wait_ns: 2_000_000_000,
            max_outstanding_ids: 1024,
        }
    }
}

/// Default global cap on bytes buffered by all connections sharing one [`MemoryBudget`]: 256 MiB.
pub const DEFAULT_GLOBAL_BUFFER: usize = 256 << 20;

#[derive(Debug)]
struct BudgetInner {
    limit: usize,
    used: AtomicUsize,
    refused: AtomicU64,
}

/// A global cap on buffered bytes, shared (cheaply cloned) by every connection of a run. Each
/// connection returns what it holds when it is dropped.
#[derive(Clone, Debug)]
pub struct MemoryBudget(Arc<BudgetInner>);

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::new(DEFAULT_GLOBAL_BUFFER)
    }
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        MemoryBudget(Arc::new(BudgetInner {
            limit,
            used: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        }))
    }

    /// The cap.
    pub fn limit(&self) -> usize {
        self.0.limit
    }

    /// Bytes currently held by all connections.
    pub fn used(&self) -> usize {
        self.0.used.load(Ordering::Relaxed)
    }

    /// How many reservations were refused so far.
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }

    fn try_reserve(&self, n: usize) -> bool {
        let ok = self
            .0
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|total| *total <= self.0.limit)
            })
            .is_ok();
        if !ok {
            self.0.refused.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    fn release(&self, n: usize) {
        self.0.used.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Per-direction reassembly counters (bytes unless noted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Segments seen (with or without payload).
    pub segments: u64,
    /// Payload bytes delivered in order to the parser.
    pub bytes: u64,
    /// Payload bytes that duplicated data already received (retransmissions, overlaps).
    pub retransmitted_bytes: u64,
    /// Segments that arrived ahead of the next expected sequence number (count).
    pub out_of_order_segments: u64,
    /// Sequence space declared lost.
    pub gap_bytes: u64,
    /// Gaps declared (count).
    pub gaps: u64,
    /// Bytes of oversized messages skipped unparsed.
    pub skipped_bytes: u64,
    /// Bytes discarded while resynchronising.
    pub resync_bytes: u64,
    /// Bytes dropped because a buffer cap was reached.
    pub dropped_bytes: u64,
    /// Bytes of partial messages discarded at a gap or at the end of the stream.
    pub truncated_bytes: u64,
}

/// What a half stream tells its connection. Implemented by the connection; keeps the reassembler
/// ignorant of connection state and of the caller's visitor.
pub(crate) trait Deliver {
    /// Protocol version to parse with.
    fn version(&self) -> Option<ProtocolVersion>;
    /// A parsed message that started in `first_packet` and completed in `last_packet`.
    fn message(&mut self, first_packet: u64, last_packet: u64, ts_ns: i64, message: &Message<'_>);
    /// An oversized message announced by `header` in `packet`, whose body will be skipped. `prefix`
    /// is what is at hand of it (fixed header included), e.g. to read a PUBLISH packet id.
    fn oversized(&mut self, packet: u64, ts_ns: i64, header: FixedHeader, prefix: &[u8]);
    /// A stream-level finding; `bytes` is how much data it concerns (0 when not applicable).
    fn finding(&mut self, packet: u64, ts_ns: i64, kind: FindingKind, bytes: u64);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Message boundaries are known.
    Framed,
    /// Searching for the next plausible fixed header; `partial` holds unverified bytes.
    Resync,
}

#[derive(Debug)]
struct OooSegment {
    seq: u32,
    data: Vec<u8>,
    packet: u64,
    ts_ns: i64,
}

/// Reassembly state of one direction.
#[derive(Debug)]
pub(crate) struct HalfStream {
    next_seq: Option<u32>,
    mode: Mode,
    /// Framed: the incomplete message at the head of the stream. Resync: unverified bytes.
    partial: Vec<u8>,
    partial_first_packet: u64,
    /// Bytes of an oversized message still to skip.
    skip_remaining: usize,
    ooo: Vec<OooSegment>,
    /// Bytes counted against the budgets (partial + out-of-order data).
    buffered: usize,
    finished: bool,
    fin_seen: bool,
    /// Sequence number of the FIN (it occupies one, which an ACK covers but no data fills).
    fin_seq: Option<u32>,
    /// The packet being handled now (whose arrival completes messages) and its timestamp: a
    /// message's `last_packet`. Bytes may come from earlier, buffered packets, so this is not the
    /// carrier.
    now_packet: u64,
    now_ts_ns: i64,
    pub(crate) stats: StreamStats,
}

impl HalfStream {
    pub(crate) fn new() -> Self {
        HalfStream {
            next_seq: None,
            mode: Mode::Framed,
            partial: Vec::new(),
            partial_first_packet: 0,
            skip_remaining: 0,
            ooo: Vec::new(),
            buffered: 0,
            finished: false,
            fin_seen: false,
            fin_seq: None,
            now_packet: 0,
            now_ts_ns: 0,
            stats: StreamStats::default(),
        }
    }

    /// Whether this direction ended (FIN with nothing outstanding, RST, or `finish`).
    #[inline]
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Bytes this direction holds against the budgets.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    fn reserve(&mut self, n: usize, cfg: &ReassemblyConfig, budget: &MemoryBudget) -> bool {
        if self.buffered.saturating_add(n) > cfg.max_stream_buffer || !budget.try_reserve(n) {
            return false;
        }
        self.buffered += n;
        true
    }

    fn release(&mut self, n: usize, budget: &MemoryBudget) {
        let n = n.min(self.buffered);
        self.buffered -= n;
        budget.release(n);
    }

    /// Record the packet being handled; packet numbers only move forward.
    #[inline]
    fn set_now(&mut self, packet: u64, ts_ns: i64) {
        if packet >= self.now_packet {
            self.now_packet = packet;
            self.now_ts_ns = ts_ns;
        }
    }

    /// Return everything to the budget (the connection is going away).
    pub(crate) fn release_all(&mut self, budget: &MemoryBudget) {
        let n = self.buffered;
        self.release(n, budget);
        self.partial = Vec::new();
        self.ooo = Vec::new();
    }

    fn clear_partial(&mut self, budget: &MemoryBudget) {
        let n = self.partial.len();
        self.partial.clear();
        self.release(n, budget);
    }

    /// Feed one segment. `FAST` enables the in-order fast path ([`HalfStream::in_order`]); `false`
    /// sends every segment through the general path, which the tests compare it against.
    #[inline(always)]
    pub(crate) fn on_segment<const FAST: bool>(
        &mut self,
        seg: &Segment<'_>,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        // The common case: a plain segment exactly at the expected sequence number, with nothing
        // early held and no FIN pending. Pure ACKs (57 % of the 1M bench file's packets) stop at
        // the bookkeeping; data goes straight to the parser, which frames messages in place and
        // buffers only an incomplete tail. The general path does the same for such a segment
        // (`accept` finds offset 0, `drain_out_of_order` nothing to drain and no FIN to run), but
        // through the SYN/mid-stream/offset/FIN logic and two more calls.
        if FAST && self.in_order(seg) {
            self.stats.segments += 1;
            self.set_now(seg.packet, seg.ts_ns);
            if !seg.payload.is_empty() {
                self.next_seq = Some(seg.seq.wrapping_add(seg.payload.len() as u32));
                self.stats.bytes += seg.payload.len() as u64;
                self.process(seg.payload, seg.packet, seg.ts_ns, cfg, budget, out);
            }
            return;
        }
        self.on_segment_general(seg, cfg, budget, out);
    }

    /// Whether `seg` may take the fast path of [`HalfStream::on_segment`]: no SYN, FIN or RST, it
    /// starts at the next expected byte, no out-of-order data is held, and the stream has neither
    /// ended nor seen a FIN. (Partial messages, skipping and resynchronisation are left to
    /// `process`, which both paths share.)
    #[inline(always)]
    fn in_order(&self, seg: &Segment<'_>) -> bool {
        !(seg.syn | seg.fin | seg.rst)
            && self.next_seq == Some(seg.seq)
            && self.ooo.is_empty()
            && !(self.finished | self.fin_seen)
    }

    /// [`HalfStream::on_segment`] for any segment.
    #[inline(never)]
    fn on_segment_general(
        &mut self,
        seg: &Segment<'_>,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        self.stats.segments += 1;
        self.set_now(seg.packet, seg.ts_ns);
        if self.finished {
            return;
        }
        // The SYN occupies one sequence number before the data.
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if self.next_seq.is_none() {
            if seg.syn {
                self.next_seq = Some(data_seq);
            } else if !seg.payload.is_empty() {
                // Capture started mid-connection: we may be inside a message.
                self.next_seq = Some(data_seq);
                self.mode = Mode::Resync;
                self.partial_first_packet = seg.packet;
                out.finding(seg.packet, seg.ts_ns, FindingKind::MidstreamPickup, 0);
            }
        }
        if !seg.payload.is_empty() && self.next_seq.is_some() {
            self.accept(
                data_seq,
                seg.payload,
                seg.packet,
                seg.ts_ns,
                cfg,
                budget,
                out,
            );
        }
        if seg.rst {
            self.finish(seg.packet, seg.ts_ns, cfg, budget, out);
        } else if seg.fin {
            self.fin_seen = true;
            self.fin_seq = Some(data_seq.wrapping_add(seg.payload.len() as u32));
            if self.ooo.is_empty() {
                self.finish(seg.packet, seg.ts_ns, cfg, budget, out);
            }
        }
    }

    /// Place payload at `seq`: trim what was already received, buffer what is early, parse what is
    /// next.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn accept(
        &mut self,
        seq: u32,
        payload: &[u8],
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        // A gap declared on the way here may have run the deferred FIN and finished the stream.
        if self.finished {
            return;
        }
        let Some(next) = self.next_seq else { return };
        // Signed distance in sequence space (RFC 793 modular comparison).
        let offset = seq.wrapping_sub(next) as i32;
        let mut payload = payload;
        if offset < 0 {
            let overlap = offset.unsigned_abs() as usize;
            if overlap >= payload.len() {
                self.stats.retransmitted_bytes += payload.len() as u64;
                return;
            }
            self.stats.retransmitted_bytes += overlap as u64;
            payload = &payload[overlap..];
        } else if offset > 0 {
            self.buffer_out_of_order(seq, payload, packet, ts_ns, cfg, budget, out);
            return;
        }
        self.deliver(payload, packet, ts_ns, cfg, budget, out);
        self.drain_out_of_order(cfg, budget, out);
    }

    /// Deliver in-order bytes and advance `next_seq`.
    #[inline]
    fn deliver(
        &mut self,
        payload: &[u8],
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        if let Some(next) = self.next_seq {
            self.next_seq = Some(next.wrapping_add(payload.len() as u32));
        }
        self.stats.bytes += payload.len() as u64;
        self.process(payload, packet, ts_ns, cfg, budget, out);
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn buffer_out_of_order(
        &mut self,
        seq: u32,
        payload: &[u8],
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        self.stats.out_of_order_segments += 1;
        // A retransmitted early segment: keep the first copy.
        if self
            .ooo
            .iter()
            .any(|s| s.seq == seq && s.data.len() >= payload.len())
        {
            self.stats.retransmitted_bytes += payload.len() as u64;
            return;
        }
        if self.ooo.len() >= cfg.max_ooo_segments {
            // Waited long enough: what is missing before the earliest early segment is lost. With
            // no room at all (a cap of 0), the hole before this segment is.
            if self.ooo.is_empty() {
                self.gap_until(seq, packet, ts_ns, cfg, budget, out);
            } else {
                self.declare_gap(cfg, budget, out);
            }
            // The gap moved `next_seq`; this segment may now be in order, early, or old.
            self.accept(seq, payload, packet, ts_ns, cfg, budget, out);
            return;
        }
        if !self.reserve(payload.len(), cfg, budget) {
            self.stats.dropped_bytes += payload.len() as u64;
            out.finding(
                packet,
                ts_ns,
                FindingKind::BufferCapDrop,
                payload.len() as u64,
            );
            return;
        }
        let next = self.next_seq.unwrap_or(seq);
        let key = seq.wrapping_sub(next);
        let at = self
            .ooo
            .partition_point(|s| s.seq.wrapping_sub(next) <= key);
        self.ooo.insert(
            at,
            OooSegment {
                seq,
                data: payload.to_vec(),
                packet,
                ts_ns,
            },
        );
    }

    /// Deliver buffered early segments that have become in order.
    fn drain_out_of_order(
        &mut self,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        while let (Some(next), Some(first)) = (self.next_seq, self.ooo.first()) {
            if (first.seq.wrapping_sub(next) as i32) > 0 {
                break;
            }
            let seg = self.ooo.remove(0);
            self.release(seg.data.len(), budget);
            let overlap = next.wrapping_sub(seg.seq) as usize;
            if overlap >= seg.data.len() {
                self.stats.retransmitted_bytes += seg.data.len() as u64;
                continue;
            }
            self.stats.retransmitted_bytes += overlap as u64;
            self.deliver(
                &seg.data[overlap..],
                seg.packet,
                seg.ts_ns,
                cfg,
                budget,
                out,
            );
        }
        if self.fin_seen && self.ooo.is_empty() && !self.finished {
            let (packet, ts_ns) = (self.now_packet, self.now_ts_ns);
            self.finish(packet, ts_ns, cfg, budget, out);
        }
    }

    /// The other side acknowledged this direction's data up to `ack`: whatever of it was not seen
    /// is lost in capture. Declare it a gap now, so the stream does not wait for it.
    #[inline]
    pub(crate) fn on_peer_ack(
        &mut self,
        ack: u32,
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        // Nearly always nothing was lost: the first round of the loop below, inline.
        if let Some(ack) = self.acked_unseen(ack) {
            self.declare_acked_gaps(ack, packet, ts_ns, cfg, budget, out)
        }
    }

    /// `ack` clamped to the FIN, when it acknowledges data this direction has not seen (that is,
    /// when [`HalfStream::on_peer_ack`] has anything to do).
    #[inline(always)]
    fn acked_unseen(&self, ack: u32) -> Option<u32> {
        // The FIN's sequence number is acknowledged but carries no data.
        let ack = match self.fin_seq {
            Some(fin) if (ack.wrapping_sub(fin) as i32) > 0 => fin,
            _ => ack,
        };
        match self.next_seq {
            Some(next) if !self.finished && (ack.wrapping_sub(next) as i32) > 0 => Some(ack),
            _ => None,
        }
    }

    /// The segment without payload nor SYN/FIN/RST that [`Connection::on_pure_ack`] handles: when
    /// it is in order on this direction (`self`), acknowledges nothing unseen of the other
    /// (`peer`), and neither holds out-of-order data (so nothing expires), all it does is count
    /// the segment and move the clock. Returns whether it was such a segment (and was counted).
    ///
    /// [`Connection::on_pure_ack`]: crate::Connection
    #[inline(always)]
    pub(crate) fn pure_ack(
        &mut self,
        peer: &HalfStream,
        seq: u32,
        ack: Option<u32>,
        packet: u64,
        ts_ns: i64,
    ) -> bool {
        let quiet = self.next_seq == Some(seq)
            && self.ooo.is_empty()
            && peer.ooo.is_empty()
            && !(self.finished | self.fin_seen)
            && ack.is_none_or(|ack| peer.acked_unseen(ack).is_none());
        if quiet {
            self.stats.segments += 1;
            self.set_now(packet, ts_ns);
        }
        quiet
    }

    /// [`HalfStream::on_peer_ack`] once data is known to be missing (`ack` clamped to the FIN).
    #[cold]
    #[inline(never)]
    fn declare_acked_gaps(
        &mut self,
        ack: u32,
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        loop {
            let Some(next) = self.next_seq else { return };
            if self.finished {
                return;
            }
            let ahead = ack.wrapping_sub(next) as i32;
            if ahead <= 0 {
                return;
            }
            self.set_now(packet, ts_ns);
            let until = match self.ooo.first() {
                Some(first) if (first.seq.wrapping_sub(next) as i32) <= ahead => first.seq,
                _ => ack,
            };
            self.gap_until(until, packet, ts_ns, cfg, budget, out);
        }
    }

    /// Whether early (out-of-order) segments are held, i.e. `expire` has anything to do.
    #[inline(always)]
    pub(crate) fn holds_out_of_order(&self) -> bool {
        !self.ooo.is_empty()
    }

    /// Declare gaps for out-of-order data that has waited longer than `max_ooo_wait_ns` at
    /// `now_ns`.
    #[inline]
    pub(crate) fn expire(
        &mut self,
        packet: u64,
        now_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        if !self.ooo.is_empty() {
            self.expire_out_of_order(packet, now_ns, cfg, budget, out);
        }
    }

    #[cold]
    #[inline(never)]
    fn expire_out_of_order(
        &mut self,
        packet: u64,
        now_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        self.set_now(packet, now_ns);
        while let Some(first) = self.ooo.first() {
            if now_ns.saturating_sub(first.ts_ns) <= cfg.max_ooo_wait_ns {
                break;
            }
            self.declare_gap(cfg, budget, out);
        }
    }

    /// The bytes before the earliest buffered segment will not come: skip them and go on.
    fn declare_gap(
        &mut self,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        if let Some(first) = self.ooo.first() {
            let (seq, packet, ts_ns) = (first.seq, first.packet, first.ts_ns);
            self.gap_until(seq, packet, ts_ns, cfg, budget, out);
        }
    }

    /// Declare the bytes from `next_seq` up to `seq` lost, then deliver what became in order.
    #[inline(never)]
    fn gap_until(
        &mut self,
        seq: u32,
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        let Some(next) = self.next_seq else { return };
        let gap = seq.wrapping_sub(next) as usize;
        self.stats.gaps += 1;
        self.stats.gap_bytes += gap as u64;
        out.finding(packet, ts_ns, FindingKind::StreamGap, gap as u64);
        self.skip_lost_bytes(gap, ts_ns, budget, out);
        self.next_seq = Some(seq);
        self.drain_out_of_order(cfg, budget, out);
    }

    /// Account for `lost` bytes that will never be seen, keeping framing when the loss falls inside
    /// a message whose length is known.
    fn skip_lost_bytes(
        &mut self,
        lost: usize,
        ts_ns: i64,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        if self.mode == Mode::Resync {
            // Unverified bytes before a gap cannot be verified any more.
            self.stats.resync_bytes += self.partial.len() as u64;
            self.clear_partial(budget);
            return;
        }
        if self.skip_remaining > 0 {
            if lost <= self.skip_remaining {
                self.skip_remaining -= lost;
                return;
            }
            self.skip_remaining = 0;
            self.mode = Mode::Resync;
            return;
        }
        if self.partial.is_empty() {
            // The gap starts at a message boundary; where the next message starts is unknown.
            self.mode = Mode::Resync;
            return;
        }
        let frame_len = match parse_fixed_header(&self.partial) {
            Ok(h) => Some(h.frame_len()),
            Err(_) => None,
        };
        let have = self.partial.len();
        self.stats.truncated_bytes += have as u64;
        out.finding(
            self.partial_first_packet,
            ts_ns,
            FindingKind::TruncatedMsg,
            have as u64,
        );
        self.clear_partial(budget);
        match frame_len {
            // The loss is inside this message: skip its rest and stay framed.
            Some(len) if have + lost <= len => self.skip_remaining = len - have - lost,
            _ => self.mode = Mode::Resync,
        }
    }

    /// End of this direction (FIN, RST, or end of capture): deliver what can be delivered, then
    /// account for what never completed.
    #[inline(never)]
    pub(crate) fn finish(
        &mut self,
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        if self.finished {
            return;
        }
        self.set_now(packet, ts_ns);
        while !self.ooo.is_empty() {
            self.declare_gap(cfg, budget, out);
        }
        // No more data will come: candidates still waiting for bytes are rejected, so messages held
        // behind a false candidate are still found.
        while self.mode == Mode::Resync && !self.partial.is_empty() {
            self.resync(&[], packet, ts_ns, cfg, budget, out, true);
        }
        self.finished = true;
        if !self.partial.is_empty() {
            let have = self.partial.len() as u64;
            match self.mode {
                Mode::Framed => {
                    self.stats.truncated_bytes += have;
                    out.finding(
                        self.partial_first_packet,
                        ts_ns,
                        FindingKind::TruncatedMsg,
                        have,
                    );
                }
                Mode::Resync => {
                    self.stats.resync_bytes += have;
                    out.finding(packet, ts_ns, FindingKind::ResyncSkippedBytes, have);
                }
            }
            self.clear_partial(budget);
        }
        self.release_all(budget);
    }

    /// Parse in-order bytes.
    #[inline]
    fn process(
        &mut self,
        mut data: &[u8],
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        while !data.is_empty() {
            if self.skip_remaining > 0 {
                let n = self.skip_remaining.min(data.len());
                self.skip_remaining -= n;
                self.stats.skipped_bytes += n as u64;
                data = &data[n..];
                continue;
            }
            match self.mode {
                Mode::Resync => data = self.resync(data, packet, ts_ns, cfg, budget, out, false),
                Mode::Framed if self.partial.is_empty() => {
                    data = self.parse_in_place(data, packet, ts_ns, cfg, budget, out)
                }
                Mode::Framed => data = self.complete_partial(data, packet, ts_ns, cfg, budget, out),
            }
        }
    }

    fn options(&self, cfg: &ReassemblyConfig, out: &impl Deliver) -> ParseOptions {
        ParseOptions {
            version: out.version(),
            max_message_len: cfg.max_message_len,
        }
    }

    /// The fast path: parse messages straight from the segment; buffer only an incomplete tail.
    #[inline]
    fn parse_in_place<'d>(
        &mut self,
        mut data: &'d [u8],
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) -> &'d [u8] {
        loop {
            if data.is_empty() {
                return data;
            }
            let options = self.options(cfg, out);
            // The commonest message, built here and lent to `out` without passing through
            // `Decoded` (same result as `parse_message`: see `parse_plain_publish`).
            if let Some((message, consumed)) = parse_plain_publish(data, &options) {
                out.message(packet, self.now_packet, self.now_ts_ns, &message);
                data = &data[consumed..];
                continue;
            }
            // The small fixed-size messages likewise (see `parse_small_fixed`).
            if let Some((message, consumed)) = parse_small_fixed(data, &options) {
                out.message(packet, self.now_packet, self.now_ts_ns, &message);
                data = &data[consumed..];
                continue;
            }
            // Matched by reference: binding `message` by value would copy the whole decoded
            // message out of the return slot, a store-forwarding stall on every message
            // (measured: 20 % of the flood profile's `process`).
            let decoded = parse_message(data, &options);
            match &decoded {
                Decoded::Parsed { message, consumed } => {
                    out.message(packet, self.now_packet, self.now_ts_ns, message);
                    data = &data[*consumed..];
                }
                Decoded::Incomplete(_) => {
                    self.start_partial(data, packet, ts_ns, cfg, budget, out);
                    return &[];
                }
                Decoded::TooLarge(too_large) => {
                    self.too_large(*too_large, data, packet, ts_ns, out);
                    return if self.mode == Mode::Resync {
                        // The first byte cannot start a message; search from the next one.
                        self.stats.resync_bytes += 1;
                        &data[1..]
                    } else {
                        data
                    };
                }
            }
        }
    }

    #[inline(never)]
    fn too_large(
        &mut self,
        t: TooLarge,
        prefix: &[u8],
        packet: u64,
        ts_ns: i64,
        out: &mut impl Deliver,
    ) {
        match t {
            TooLarge::Oversized { header, frame_len } => {
                out.oversized(packet, ts_ns, header, prefix);
                self.skip_remaining = frame_len;
            }
            TooLarge::InvalidRemainingLength { .. } => {
                out.finding(packet, ts_ns, FindingKind::InvalidRemainingLength, 0);
                self.mode = Mode::Resync;
            }
        }
    }

    /// Buffer the incomplete message at the end of a segment (its length was checked against
    /// `max_message_len` by the parser, so this is bounded).
    #[inline(never)]
    fn start_partial(
        &mut self,
        data: &[u8],
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) {
        if !self.reserve(data.len(), cfg, budget) {
            self.drop_message(data, packet, ts_ns, out);
            return;
        }
        self.partial.extend_from_slice(data);
        self.partial_first_packet = packet;
    }

    /// A cap refused to buffer the start of a message: skip that message (framing is kept when its
    /// length is known).
    #[inline(never)]
    fn drop_message(&mut self, data: &[u8], packet: u64, ts_ns: i64, out: &mut impl Deliver) {
        self.stats.dropped_bytes += data.len() as u64;
        out.finding(packet, ts_ns, FindingKind::BufferCapDrop, data.len() as u64);
        match parse_fixed_header(data) {
            Ok(h) => self.skip_remaining = h.frame_len() - data.len(),
            Err(_) => self.mode = Mode::Resync,
        }
    }

    /// Add bytes to the buffered incomplete message; parse it once whole.
    #[inline(never)]
    fn complete_partial<'d>(
        &mut self,
        data: &'d [u8],
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
    ) -> &'d [u8] {
        let header = match parse_fixed_header(&self.partial) {
            Ok(h) => h,
            Err(HeaderError::Incomplete { .. }) => {
                // Grow the header one byte at a time so no byte of the next message is taken.
                let (first, rest) = data.split_at(1);
                if !self.reserve(1, cfg, budget) {
                    let mut held = std::mem::take(&mut self.partial);
                    held.push(first[0]);
                    self.release(held.len() - 1, budget);
                    self.drop_message(&held, packet, ts_ns, out);
                    return rest;
                }
                self.partial.push(first[0]);
                return rest;
            }
            Err(HeaderError::InvalidRemainingLength) => {
                let first_byte = self.partial[0];
                self.stats.resync_bytes += self.partial.len() as u64;
                self.clear_partial(budget);
                self.too_large(
                    TooLarge::InvalidRemainingLength { first_byte },
                    &[],
                    packet,
                    ts_ns,
                    out,
                );
                return data;
            }
        };
        let frame_len = header.frame_len();
        if frame_len > cfg.max_message_len {
            // Announced by a header that arrived in pieces: skip the message.
            let have = self.partial.len();
            out.oversized(self.partial_first_packet, ts_ns, header, &self.partial);
            self.clear_partial(budget);
            self.stats.skipped_bytes += have as u64;
            self.skip_remaining = frame_len - have;
            return data;
        }
        let take = (frame_len - self.partial.len()).min(data.len());
        if !self.reserve(take, cfg, budget) {
            let have = self.partial.len();
            self.clear_partial(budget);
            self.stats.dropped_bytes += have as u64;
            out.finding(packet, ts_ns, FindingKind::BufferCapDrop, have as u64);
            self.skip_remaining = frame_len - have;
            return data;
        }
        self.partial.extend_from_slice(&data[..take]);
        if self.partial.len() == frame_len {
            let options = self.options(cfg, out);
            if let Decoded::Parsed { message, .. } = parse_message(&self.partial, &options) {
                out.message(
                    self.partial_first_packet,
                    self.now_packet,
                    self.now_ts_ns,
                    &message,
                );
            }
            self.clear_partial(budget);
        }
        &data[take..]
    }

    /// Resynchronisation: hold bytes until a candidate fixed header can be verified by parsing its
    /// whole message cleanly. Positions that fail are skipped and counted. On the `final_pass` (end
    /// of stream) a candidate that still lacks bytes is rejected instead of waited for.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn resync<'d>(
        &mut self,
        data: &'d [u8],
        packet: u64,
        ts_ns: i64,
        cfg: &ReassemblyConfig,
        budget: &MemoryBudget,
        out: &mut impl Deliver,
        final_pass: bool,
    ) -> &'d [u8] {
        // Unverified bytes are held in `partial`; bounded because a candidate is only waited for
        // when its whole frame fits in `max_message_len`.
        if self.partial.is_empty() {
            self.partial_first_packet = packet;
        }
        if !self.reserve(data.len(), cfg, budget) {
            self.stats.dropped_bytes += data.len() as u64;
            out.finding(packet, ts_ns, FindingKind::BufferCapDrop, data.len() as u64);
            return &[];
        }
        self.partial.extend_from_slice(data);
        let options = self.options(cfg, out);
        let mut skip = 0;
        let accepted = loop {
            let Some(candidate) = self.partial.get(skip..).filter(|c| !c.is_empty()) else {
                break false;
            };
            match verdict(candidate, &options) {
                Verdict::Reject => skip += 1,
                Verdict::Undetermined if final_pass => skip += 1,
                Verdict::Undetermined => break false,
                Verdict::Accept => break true,
            }
        };
        if skip > 0 {
            self.stats.resync_bytes += skip as u64;
            out.finding(packet, ts_ns, FindingKind::ResyncSkippedBytes, skip as u64);
        }
        let held = std::mem::take(&mut self.partial);
        let held_len = held.len();
        self.release(held_len, budget);
        if accepted {
            self.mode = Mode::Framed;
            // Replay the verified bytes through the framed path. Held bytes do not remember their
            // packets: every message replayed here gets the packet that started the held bytes as
            // `first_packet` (exact for the first, an approximation for later ones).
            let first = self.partial_first_packet;
            let rest = &held[skip..];
            let mut replay = rest;
            while let Decoded::Parsed { message, consumed } =
                parse_message(replay, &self.options(cfg, out))
            {
                out.message(first, self.now_packet, self.now_ts_ns, &message);
                replay = &replay[consumed..];
            }
            // Whatever did not parse whole here continues through the general path.
            self.process(replay, packet, ts_ns, cfg, budget, out);
        } else {
            // Keep the undetermined candidate (and what follows) for the next segment.
            let keep = &held[skip.min(held_len)..];
            if !keep.is_empty() && self.reserve(keep.len(), cfg, budget) {
                self.partial.extend_from_slice(keep);
            } else if !keep.is_empty() {
                self.stats.dropped_bytes += keep.len() as u64;
                out.finding(packet, ts_ns, FindingKind::BufferCapDrop, keep.len() as u64);
            }
        }
        &[]
    }
}

/// Outcome of checking a resynchronisation candidate.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Reject,
    Undetermined,
    Accept,
}

/// Findings that mark a candidate as not a real message boundary.
fn implausible(message: &Message<'_>) -> bool {
    use FindingKind as K;
    if matches!(
        message.packet,
        Packet::Malformed { .. } | Packet::Unassigned { .. }
    ) {
        return true;
    }
    [
        K::ReservedFlagsSet,
        K::TrailingBytes,
        K::InvalidUtf8,
        K::InvalidQosLevel,
        K::NonMinimalVarint,
        K::PropertyLengthOverrun,
        K::UnknownProperty,
        K::ProtocolNameMismatch,
        K::UnknownProtocolLevel,
        K::NullCharacter,
    ]
    .iter()
    .any(|k| message.findings.contains(*k))
}

/// Whether the first byte could start a message (type 1–15 with the flags its type requires).
fn plausible_first_byte(byte: u8) -> bool {
    let ptype = crate::codec::PacketType::from_first_byte(byte);
    match ptype.required_flags() {
        _ if ptype == crate::codec::PacketType::Reserved => false,
        Some(flags) => byte & 0x0f == flags,
        None => (byte >> 1) & 0x03 != 3,
    }
}

/// Largest message a resynchronisation waits for: a candidate announcing more is rejected, which
/// bounds the work and memory an adversarial byte stream can cause while framing is unknown.
const MAX_RESYNC_CANDIDATE: usize = 64 << 10;

/// Whether a remaining length is plausible for the type (checked before waiting for the body, so a
/// random byte announcing a long message does not hold the stream). `None` version: either layout.
fn plausible_length(header: &FixedHeader, version: Option<ProtocolVersion>) -> bool {
    use crate::codec::PacketType as T;
    let rl = header.remaining_length;
    // A v5 reason code + properties tail; generous but bounded.
    let v5_tail = version.is_none_or(|v| v.is_v5()) && (3..=1024).contains(&rl);
    match header.packet_type() {
        T::Reserved => false,
        T::Connect => rl >= 12,
        T::Connack | T::Puback | T::Pubrec | T::Pubrel | T::Pubcomp | T::Unsuback => {
            rl == 2 || v5_tail
        }
        T::Publish => rl >= if header.qos_bits() > 0 { 4 } else { 2 },
        T::Subscribe => rl >= 5,
        T::Suback => rl >= 3,
        T::Unsubscribe => rl >= 4,
        T::Pingreq | T::Pingresp => rl == 0,
        T::Disconnect => rl == 0 || v5_tail || (rl == 1 && version.is_none_or(|v| v.is_v5())),
        T::Auth => version.is_none_or(|v| v.is_v5()) && rl <= 1024,
    }
}

/// For the short v5 forms (acknowledgements, DISCONNECT, AUTH) the property length sits a few bytes
/// into the body and must fill the message exactly: checkable before the rest arrives.
fn plausible_v5_tail(header: &FixedHeader, candidate: &[u8]) -> bool {
    use crate::codec::PacketType as T;
    let (props_at, exact) = match header.packet_type() {
        T::Connack => (2, true),
        T::Puback | T::Pubrec | T::Pubrel | T::Pubcomp => (3, true),
        T::Unsuback => (2, false),
        T::Disconnect | T::Auth => (1, true),
        _ => return true,
    };
    let rl = header.remaining_length as usize;
    if rl <= props_at {
        return true;
    }
    let at = header.header_len as usize + props_at;
    match crate::codec::header::decode_varint(candidate.get(at..).unwrap_or(&[])) {
        Ok(v) => {
            let end = props_at + v.len as usize + v.value as usize;
            if exact {
                end == rl
            } else {
                end <= rl
            }
        }
        Err(crate::codec::header::VarintError::Incomplete) => true,
        Err(crate::codec::header::VarintError::TooLong) => false,
    }
}

fn verdict(candidate: &[u8], options: &ParseOptions) -> Verdict {
    if !plausible_first_byte(candidate[0]) {
        return Verdict::Reject;
    }
    match parse_fixed_header(candidate) {
        Err(HeaderError::Incomplete { .. }) => return Verdict::Undetermined,
        Err(HeaderError::InvalidRemainingLength) => return Verdict::Reject,
        Ok(h) if !plausible_length(&h, options.version) => return Verdict::Reject,
        Ok(h) if !plausible_v5_tail(&h, candidate) => return Verdict::Reject,
        Ok(_) => {}
    }
    let options = ParseOptions {
        max_message_len: options.max_message_len.min(MAX_RESYNC_CANDIDATE),
        ..*options
    };
    match parse_message(candidate, &options) {
        Decoded::Incomplete(_) => Verdict::Undetermined,
        Decoded::TooLarge(_) => Verdict::Reject,
        Decoded::Parsed { message, consumed } => {
            if implausible(&message) {
                return Verdict::Reject;
            }
            // A real message is followed by another (or by the end of what we have).
            match candidate.get(consumed) {
                Some(&next) if !plausible_first_byte(next) => Verdict::Reject,
                _ => Verdict::Accept,
            }
        }
    }
}

#[cfg(test)]
mod tests;
