//! One MQTT-over-TCP connection: two half streams (`stream::HalfStream`) sharing one code path,
//! the protocol version learned from CONNECT, the session phase as a transition table with a single
//! mutation point, and the outstanding packet ids behind Suricata's `missing_*` events.
//!
//! Messages reach the caller through a [`Visitor`] while they still borrow the segment payload, so
//! the in-order fast path neither copies nor allocates.

use std::collections::VecDeque;

use crate::codec::{FixedHeader, Message, Packet, PacketType, ProtocolVersion};
use crate::finding::{FindingCounts, FindingKind, FindingSet};
use crate::stream::{
    Deliver, Direction, HalfStream, MemoryBudget, ReassemblyConfig, Segment, StreamStats,
};

/// A message delivered to the [`Visitor`].
#[derive(Clone, Copy, Debug)]
pub struct MessageEvent<'a> {
    /// Who sent it.
    pub direction: Direction,
    /// Frame number of the packet holding its first byte.
    pub first_packet: u64,
    /// Frame number of the packet whose arrival completed it: the latest of the packets it was
    /// built from (with reordering, its last byte may have come in an earlier, buffered packet).
    /// For a skipped message: the packet that announced it. Never less than `first_packet` when
    /// frame numbers grow in capture order.
    pub last_packet: u64,
    /// Timestamp of `last_packet`, ns since the Unix epoch.
    pub ts_ns: i64,
    /// Its fixed header.
    pub header: FixedHeader,
    /// The parsed message (borrowed: the event is passed around by value, a message is 100+
    /// bytes); `None` when it was larger than `max_message_len` and skipped.
    pub message: Option<&'a Message<'a>>,
    /// Findings on this message: its own plus connection-level ones (`unintroduced_message`, …).
    pub findings: FindingSet,
}

impl MessageEvent<'_> {
    /// The control packet type.
    pub fn packet_type(&self) -> PacketType {
        self.header.packet_type()
    }
}

/// A finding not tied to one message (gap, resync, cap drop, truncated partial message, mid-stream
/// pickup).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FindingEvent {
    /// Direction of the stream concerned.
    pub direction: Direction,
    /// Frame number where it was noticed.
    pub packet: u64,
    /// Timestamp, ns.
    pub ts_ns: i64,
    /// What.
    pub kind: FindingKind,
    /// Bytes concerned (0 when not applicable).
    pub bytes: u64,
}

/// Receives what a connection produces.
pub trait Visitor {
    /// One message (parsed or skipped), in stream order per direction.
    fn on_message(&mut self, event: &MessageEvent<'_>);
    /// One stream-level finding. Default: ignored (they are counted by the connection anyway).
    fn on_finding(&mut self, _event: &FindingEvent) {}
}

impl<F: FnMut(&MessageEvent<'_>)> Visitor for F {
    fn on_message(&mut self, event: &MessageEvent<'_>) {
        self(event)
    }
}

/// Session phase of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// No CONNECT or CONNACK seen yet.
    Idle,
    /// CONNECT seen, CONNACK pending.
    Connecting,
    /// CONNACK with return code 0 seen.
    Connected,
    /// CONNACK refused the connection.
    Refused,
    /// DISCONNECT seen.
    Disconnected,
}

/// What the phase table reacts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PhaseInput {
    Connect,
    Connack { accepted: bool },
    Auth,
    Disconnect,
    Other,
}

/// The transition table: `(phase, input) → (next phase, finding)`. Pure; applied only by
/// [`ConnState::set_phase`].
fn transition(phase: Phase, input: PhaseInput) -> (Phase, Option<FindingKind>) {
    use FindingKind as K;
    use Phase as P;
    use PhaseInput as I;
    match (phase, input) {
        (P::Idle, I::Connect) => (P::Connecting, None),
        (P::Connecting | P::Connected | P::Refused, I::Connect) => (phase, Some(K::DoubleConnect)),
        (P::Disconnected, I::Connect) => (phase, Some(K::MessageAfterDisconnect)),
        (P::Connecting, I::Connack { accepted: true }) => (P::Connected, None),
        (P::Connecting, I::Connack { accepted: false }) => (P::Refused, None),
        // A CONNACK answering no CONNECT (capture started mid-connection, or a second CONNACK). The
        // server's word is taken, so later messages are not all flagged as unintroduced.
        (P::Idle | P::Connected | P::Refused, I::Connack { accepted }) => (
            if accepted { P::Connected } else { P::Refused },
            Some(K::MissingConnect),
        ),
        (P::Disconnected, I::Connack { .. }) => (phase, Some(K::MessageAfterDisconnect)),
        // Enhanced authentication (5.0) happens between CONNECT and CONNACK.
        (P::Connecting | P::Connected, I::Auth) => (phase, None),
        (P::Idle | P::Refused, I::Auth | I::Other) => (phase, Some(K::UnintroducedMessage)),
        (P::Connecting, I::Other) => (phase, Some(K::UnintroducedMessage)),
        (P::Connected, I::Other) => (phase, None),
        (P::Disconnected, I::Auth | I::Other | I::Disconnect) => {
            (phase, Some(K::MessageAfterDisconnect))
        }
        (_, I::Disconnect) => (P::Disconnected, None),
    }
}

/// Connection counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Messages by control packet type (index = type value), both directions, skipped ones
    /// included.
    pub messages_by_type: [u64; 16],
    /// Messages per direction (index = [`Direction::index`]).
    pub messages: [u64; 2],
    /// Oversized messages skipped (both directions).
    pub oversized: u64,
    /// Reassembly counters per direction.
    pub streams: [StreamStats; 2],
}

/// Everything but the two streams: split out so a stream can borrow it mutably while parsing.
#[derive(Debug)]
struct ConnState {
    phase: Phase,
    version: Option<ProtocolVersion>,
    /// Whether the version came from a CONNECT (not inferred from a CONNACK's length).
    version_from_connect: bool,
    /// Outstanding ids per sender direction: QoS 1/2 PUBLISH (and PUBREC'd QoS 2), SUBSCRIBE,
    /// UNSUBSCRIBE.
    publish: [VecDeque<u16>; 2],
    subscribe: [VecDeque<u16>; 2],
    unsubscribe: [VecDeque<u16>; 2],
    max_outstanding: usize,
    findings: FindingCounts,
    /// Messages by type (index = type value).
    by_type: [u64; 16],
    /// Messages per direction.
    per_direction: [u64; 2],
    /// Oversized messages skipped.
    oversized: u64,
}

impl ConnState {
    fn new(max_outstanding: usize) -> Self {
        ConnState {
            phase: Phase::Idle,
            version: None,
            version_from_connect: false,
            publish: Default::default(),
            subscribe: Default::default(),
            unsubscribe: Default::default(),
            max_outstanding,
            findings: FindingCounts::default(),
            by_type: [0; 16],
            per_direction: [0; 2],
            oversized: 0,
        }
    }

    /// The single mutation point of the phase.
    fn set_phase(&mut self, input: PhaseInput, findings: &mut FindingSet) {
        let (next, finding) = transition(self.phase, input);
        if let Some(kind) = finding {
            findings.insert(kind);
        }
        self.phase = next;
    }

    fn remember(&mut self, which: Outstanding, dir: Direction, id: u16, findings: &mut FindingSet) {
        let max = self.max_outstanding;
        let list = self.list(which, dir);
        if list.contains(&id) {
            return; // a DUP retransmission, or an id reused before its acknowledgement
        }
        if list.len() >= max {
            list.pop_front();
            findings.insert(FindingKind::TooManyTransactions);
        }
        list.push_back(id);
    }

    /// Find `id` among those sent by `dir`; remove it when `remove`. Returns whether it was there.
    fn answer(&mut self, which: Outstanding, dir: Direction, id: u16, remove: bool) -> bool {
        let list = self.list(which, dir);
        match list.iter().position(|x| *x == id) {
            Some(i) => {
                if remove {
                    list.remove(i);
                }
                true
            }
            None => false,
        }
    }

    fn list(&mut self, which: Outstanding, dir: Direction) -> &mut VecDeque<u16> {
        let i = dir.index();
        match which {
            Outstanding::Publish => &mut self.publish[i],
            Outstanding::Subscribe => &mut self.subscribe[i],
            Outstanding::Unsubscribe => &mut self.unsubscribe[i],
        }
    }

    /// Connection-level findings for a message sent in `dir`, and state updates.
    #[inline]
    fn on_message(&mut self, dir: Direction, message: &Message<'_>) -> FindingSet {
        // The commonest message by far: a QoS 0 PUBLISH on an established session. Either
        // direction may send it, it moves no phase and carries no packet id: nothing to do.
        // (`on_message_general` gives the same answer; see the test
        // `qos0_publish_shortcut_matches_the_general_path`.)
        if self.phase == Phase::Connected
            && matches!(&message.packet, Packet::Publish(p) if p.packet_id.is_none())
        {
            return FindingSet::EMPTY;
        }
        self.on_message_general(dir, message)
    }

    /// [`ConnState::on_message`] without the QoS 0 PUBLISH shortcut.
    #[inline(never)]
    fn on_message_general(&mut self, dir: Direction, message: &Message<'_>) -> FindingSet {
        use Outstanding as O;
        let mut f = FindingSet::EMPTY;
        let ptype = message.packet_type();
        check_direction(ptype, dir, &mut f);
        let input = match &message.packet {
            Packet::Connect(c) => {
                if let Some(v) = c.version {
                    self.version = Some(v);
                    self.version_from_connect = true;
                }
                PhaseInput::Connect
            }
            Packet::Connack(c) => {
                if !self.version_from_connect {
                    // Mid-stream: a CONNACK longer than 2 bytes carries v5 properties.
                    self.version = Some(if message.header.remaining_length > 2 {
                        ProtocolVersion::V5
                    } else {
                        ProtocolVersion::V3_1_1
                    });
                }
                PhaseInput::Connack {
                    accepted: c.return_code == 0,
                }
            }
            Packet::Auth(_) => PhaseInput::Auth,
            Packet::Disconnect(_) => PhaseInput::Disconnect,
            // A malformed body still says what kind of step it was; a CONNACK's return code is its
            // second byte when present.
            Packet::Malformed { body, .. } => match ptype {
                PacketType::Connect => PhaseInput::Connect,
                PacketType::Connack => PhaseInput::Connack {
                    accepted: body.get(1) == Some(&0),
                },
                PacketType::Auth => PhaseInput::Auth,
                PacketType::Disconnect => PhaseInput::Disconnect,
                _ => PhaseInput::Other,
            },
            _ => PhaseInput::Other,
        };
        self.set_phase(input, &mut f);
        let peer = dir.opposite();
        use FindingKind as K;
        // (list, sender of the request, packet id, whether this answer completes it, finding if
        // absent). QoS 1: PUBLISH → PUBACK. QoS 2: PUBLISH → PUBREC → PUBREL (by the publisher)
        // → PUBCOMP.
        let answer = match &message.packet {
            Packet::Publish(p) => {
                if let Some(id) = p.packet_id {
                    self.remember(O::Publish, dir, id, &mut f);
                }
                None
            }
            Packet::Subscribe(s) => {
                self.remember(O::Subscribe, dir, s.packet_id, &mut f);
                None
            }
            Packet::Unsubscribe(u) => {
                self.remember(O::Unsubscribe, dir, u.packet_id, &mut f);
                None
            }
            Packet::Puback(a) | Packet::Pubcomp(a) => {
                Some((O::Publish, peer, a.packet_id, true, K::MissingPublish))
            }
            Packet::Pubrec(a) => Some((O::Publish, peer, a.packet_id, false, K::MissingPublish)),
            Packet::Pubrel(a) => Some((O::Publish, dir, a.packet_id, false, K::MissingPublish)),
            Packet::Suback(s) => Some((O::Subscribe, peer, s.packet_id, true, K::MissingSubscribe)),
            Packet::Unsuback(u) => Some((
                O::Unsubscribe,
                peer,
                u.packet_id,
                true,
                K::MissingUnsubscribe,
            )),
            _ => None,
        };
        if let Some((which, sender, id, complete, missing)) = answer {
            if !self.answer(which, sender, id, complete) {
                f.insert(missing);
            }
        }
        f
    }

    /// Connection-level findings and state for a message skipped as oversized: its type still moves
    /// the phase, and a QoS > 0 PUBLISH's packet id (when `prefix` holds it) is remembered so its
    /// acknowledgement is not reported as `missing_publish`.
    fn on_oversized(&mut self, dir: Direction, header: &FixedHeader, prefix: &[u8]) -> FindingSet {
        let mut f = FindingSet::EMPTY;
        let ptype = header.packet_type();
        check_direction(ptype, dir, &mut f);
        let input = match ptype {
            PacketType::Connect => PhaseInput::Connect,
            PacketType::Disconnect => PhaseInput::Disconnect,
            PacketType::Auth => PhaseInput::Auth,
            _ => PhaseInput::Other,
        };
        self.set_phase(input, &mut f);
        if ptype == PacketType::Publish && header.qos_bits() > 0 {
            // Body: topic name (u16 length + bytes), then the packet id.
            let body = prefix.get(header.header_len as usize..).unwrap_or(&[]);
            let id = body.get(..2).and_then(|len| {
                let at = 2 + u16::from_be_bytes([len[0], len[1]]) as usize;
                body.get(at..at + 2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]))
            });
            if let Some(id) = id {
                self.remember(Outstanding::Publish, dir, id, &mut f);
            }
        }
        f
    }

    #[inline]
    fn count_message(&mut self, dir: Direction, header: &FixedHeader, findings: FindingSet) {
        self.by_type[header.packet_type().value() as usize] += 1;
        self.per_direction[dir.index()] += 1;
        self.findings.add_set(findings);
    }
}

/// `wrong_direction` when a client-only type is sent by the server or the reverse.
fn check_direction(ptype: PacketType, dir: Direction, findings: &mut FindingSet) {
    if let Some(by_client) = ptype.sent_by_client() {
        if by_client != (dir == Direction::ToServer) {
            findings.insert(FindingKind::WrongDirection);
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Outstanding {
    Publish,
    Subscribe,
    Unsubscribe,
}

/// Adapter from a stream's deliveries to connection state and the caller's visitor.
struct Dispatch<'c, 'v, V: Visitor> {
    state: &'c mut ConnState,
    visitor: &'v mut V,
    direction: Direction,
}

impl<V: Visitor> Deliver for Dispatch<'_, '_, V> {
    fn version(&self) -> Option<ProtocolVersion> {
        self.state.version
    }

    fn message(&mut self, first_packet: u64, last_packet: u64, ts_ns: i64, message: &Message<'_>) {
        let findings = message
            .findings
            .union(self.state.on_message(self.direction, message));
        self.state
            .count_message(self.direction, &message.header, findings);
        self.visitor.on_message(&MessageEvent {
            direction: self.direction,
            first_packet,
            last_packet,
            ts_ns,
            header: message.header,
            message: Some(message),
            findings,
        });
    }

    fn oversized(&mut self, packet: u64, ts_ns: i64, header: FixedHeader, prefix: &[u8]) {
        let mut findings = self.state.on_oversized(self.direction, &header, prefix);
        findings.insert(FindingKind::OversizedMessage);
        if header.packet_type() == PacketType::Publish && header.qos_bits() == 3 {
            findings.insert(FindingKind::InvalidQosLevel);
        }
        self.state.oversized += 1;
        self.state.count_message(self.direction, &header, findings);
        self.visitor.on_message(&MessageEvent {
            direction: self.direction,
            first_packet: packet,
            last_packet: packet,
            ts_ns,
            header,
            message: None,
            findings,
        });
    }

    fn finding(&mut self, packet: u64, ts_ns: i64, kind: FindingKind, bytes: u64) {
        self.state.findings.add(kind);
        self.visitor.on_finding(&FindingEvent {
            direction: self.direction,
            packet,
            ts_ns,
            kind,
            bytes,
        });
    }
}

/// One MQTT connection: feed it both directions' segments in capture order.
#[derive(Debug)]
pub struct Connection {
    config: ReassemblyConfig,
    budget: MemoryBudget,
    streams: [HalfStream; 2],
    state: ConnState,
}

impl Connection {
    /// A connection with the given limits, drawing buffer space from `budget` (shared by all
    /// connections of a run).
    pub fn new(config: ReassemblyConfig, budget: MemoryBudget) -> Self {
        Connection {
            config,
            budget,
            streams: [HalfStream::new(), HalfStream::new()],
            state: ConnState::new(config.max_outstanding_ids),
        }
    }

    /// Feed one segment sent in `direction`. Messages it completes are passed to `visitor` before
    /// this returns.
    #[inline(never)]
    pub fn on_segment<V: Visitor>(
        &mut self,
        direction: Direction,
        segment: &Segment<'_>,
        visitor: &mut V,
    ) {
        self.on_segment_with::<V, true>(direction, segment, visitor);
    }

    /// The commonest segment, handled before a [`Segment`] is even built: an ACK (no payload, no
    /// SYN, FIN or RST) in order, acknowledging nothing unseen, with no out-of-order data held in
    /// either direction. It only counts the segment and moves the stream's clock; returns `false`
    /// (having done nothing) for any other, which the caller then passes to
    /// [`Connection::on_segment`]. 57 % of the 1M bench file's packets are pure ACKs.
    #[doc(hidden)]
    #[inline]
    pub fn on_pure_ack(
        &mut self,
        direction: Direction,
        seq: u32,
        ack: Option<u32>,
        packet: u64,
        ts_ns: i64,
    ) -> bool {
        let [to_server, to_client] = &mut self.streams;
        let (own, peer) = match direction {
            Direction::ToServer => (to_server, &*to_client),
            Direction::ToClient => (to_client, &*to_server),
        };
        own.pure_ack(peer, seq, ack, packet, ts_ns)
    }

    /// [`Connection::on_segment`] without the half streams' in-order fast path: every segment
    /// through the general reassembly path. For tests and the fuzz target, which check that both
    /// give the same messages, findings and counters.
    #[doc(hidden)]
    pub fn on_segment_general<V: Visitor>(
        &mut self,
        direction: Direction,
        segment: &Segment<'_>,
        visitor: &mut V,
    ) {
        self.on_segment_with::<V, false>(direction, segment, visitor);
    }

    /// Inlined into the tracker, so that the common segment (ACK, in order, no RST, nothing held
    /// out of order) costs a few tests; the rare work is out of line.
    #[inline(always)]
    fn on_segment_with<V: Visitor, const FAST: bool>(
        &mut self,
        direction: Direction,
        segment: &Segment<'_>,
        visitor: &mut V,
    ) {
        // An RST's acknowledgement number is not a statement about received data.
        if let Some(ack) = segment.ack.filter(|_| !segment.rst) {
            // Acknowledged data of the other direction that was never seen is lost: settle that
            // first, it was sent before this segment.
            let peer = direction.opposite();
            let mut dispatch = Dispatch {
                state: &mut self.state,
                visitor: &mut *visitor,
                direction: peer,
            };
            self.streams[peer.index()].on_peer_ack(
                ack,
                segment.packet,
                segment.ts_ns,
                &self.config,
                &self.budget,
                &mut dispatch,
            );
        }
        let mut dispatch = Dispatch {
            state: &mut self.state,
            visitor: &mut *visitor,
            direction,
        };
        self.streams[direction.index()].on_segment::<FAST>(
            segment,
            &self.config,
            &self.budget,
            &mut dispatch,
        );
        if segment.rst {
            // RST aborts both directions.
            self.abort_peer(direction, segment, visitor);
            return;
        }
        // Capture time drives the out-of-order wait, in both directions.
        if self.streams[0].holds_out_of_order() || self.streams[1].holds_out_of_order() {
            self.expire(segment, visitor);
        }
    }

    #[cold]
    #[inline(never)]
    fn abort_peer<V: Visitor>(
        &mut self,
        direction: Direction,
        segment: &Segment<'_>,
        visitor: &mut V,
    ) {
        let peer = direction.opposite();
        let mut dispatch = Dispatch {
            state: &mut self.state,
            visitor,
            direction: peer,
        };
        self.streams[peer.index()].finish(
            segment.packet,
            segment.ts_ns,
            &self.config,
            &self.budget,
            &mut dispatch,
        );
    }

    #[inline(never)]
    fn expire<V: Visitor>(&mut self, segment: &Segment<'_>, visitor: &mut V) {
        for d in [Direction::ToServer, Direction::ToClient] {
            let mut dispatch = Dispatch {
                state: &mut self.state,
                visitor: &mut *visitor,
                direction: d,
            };
            self.streams[d.index()].expire(
                segment.packet,
                segment.ts_ns,
                &self.config,
                &self.budget,
                &mut dispatch,
            );
        }
    }

    /// End of capture (or flow timeout): deliver buffered out-of-order data across its gaps and
    /// count incomplete messages as `truncated_msg`. Buffers are released.
    pub fn finish<V: Visitor>(&mut self, packet: u64, ts_ns: i64, visitor: &mut V) {
        for direction in [Direction::ToServer, Direction::ToClient] {
            let mut dispatch = Dispatch {
                state: &mut self.state,
                visitor: &mut *visitor,
                direction,
            };
            self.streams[direction.index()].finish(
                packet,
                ts_ns,
                &self.config,
                &self.budget,
                &mut dispatch,
            );
        }
    }

    /// Protocol version: from CONNECT, else inferred from a CONNACK, else unknown.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.state.version
    }

    /// Session phase.
    pub fn phase(&self) -> Phase {
        self.state.phase
    }

    /// All findings counted on this connection (per message and stream-level).
    pub fn findings(&self) -> &FindingCounts {
        &self.state.findings
    }

    /// Counters.
    pub fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            messages_by_type: self.state.by_type,
            messages: self.state.per_direction,
            oversized: self.state.oversized,
            streams: [self.streams[0].stats, self.streams[1].stats],
        }
    }

    /// Whether both directions ended (FIN/RST seen and nothing left to deliver): the caller may
    /// drop the connection from its flow table.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.streams[0].is_finished() && self.streams[1].is_finished()
    }

    /// Bytes this connection currently holds in buffers.
    pub fn buffered(&self) -> usize {
        self.streams[0].buffered() + self.streams[1].buffered()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for stream in &mut self.streams {
            stream.release_all(&self.budget);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{parse_message, Decoded, ParseOptions};

    /// The QoS 0 PUBLISH shortcut of `ConnState::on_message` answers as the general path does, in
    /// every phase, both directions, and leaves the same state behind; PUBLISH with a packet id
    /// and other types still reach the general path (their findings show it).
    #[test]
    fn qos0_publish_shortcut_matches_the_general_path() {
        let frames: [&[u8]; 7] = [
            b"\x30\x05\x00\x01t\x31\x32",                     // QoS 0 PUBLISH
            b"\x31\x03\x00\x01t",                             // QoS 0, retain
            b"\x32\x05\x00\x01t\x00\x07",                     // QoS 1, id 7
            b"\x40\x02\x00\x07",                              // PUBACK 7
            b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01c", // CONNECT
            b"\x20\x02\x00\x00",                              // CONNACK
            b"\xe0\x00",                                      // DISCONNECT
        ];
        let phases = [
            Phase::Idle,
            Phase::Connecting,
            Phase::Connected,
            Phase::Refused,
            Phase::Disconnected,
        ];
        let mut shortcut = 0;
        for frame in frames {
            let Decoded::Parsed { message, .. } = parse_message(frame, &ParseOptions::default())
            else {
                panic!("{frame:02x?}")
            };
            for phase in phases {
                for dir in [Direction::ToServer, Direction::ToClient] {
                    let mut fast = ConnState::new(4);
                    fast.phase = phase;
                    let mut general = ConnState::new(4);
                    general.phase = phase;
                    let (a, b) = (
                        fast.on_message(dir, &message),
                        general.on_message_general(dir, &message),
                    );
                    assert_eq!(a, b, "{frame:02x?} {phase:?} {dir:?}");
                    assert_eq!(
                        format!("{fast:?}"),
                        format!("{general:?}"),
                        "{frame:02x?} {phase:?} {dir:?}"
                    );
                    if phase == Phase::Connected && frame[0] >> 1 == 0x18 {
                        shortcut += 1;
                    }
                }
            }
        }
        assert_eq!(shortcut, 4);
        // Outside an established session a QoS 0 PUBLISH is still flagged.
        let Decoded::Parsed { message, .. } = parse_message(frames[0], &ParseOptions::default())
        else {
            panic!()
        };
        let mut idle = ConnState::new(4);
        assert!(idle
            .on_message(Direction::ToServer, &message)
            .contains(FindingKind::UnintroducedMessage));
    }

    #[test]
    fn transition_table_is_total_and_flags_suricata_events() {
        use FindingKind as K;
        use Phase as P;
        use PhaseInput as I;
        let inputs = [
            I::Connect,
            I::Connack { accepted: true },
            I::Connack { accepted: false },
            I::Auth,
            I::Disconnect,
            I::Other,
        ];
        for phase in [
            P::Idle,
            P::Connecting,
            P::Connected,
            P::Refused,
            P::Disconnected,
        ] {
            for input in inputs {
                let _ = transition(phase, input);
            }
        }
        assert_eq!(
            transition(P::Idle, I::Other),
            (P::Idle, Some(K::UnintroducedMessage))
        );
        assert_eq!(
            transition(P::Idle, I::Connack { accepted: true }),
            (P::Connected, Some(K::MissingConnect))
        );
        assert_eq!(
            transition(P::Connected, I::Connect).1,
            Some(K::DoubleConnect)
        );
        assert_eq!(transition(P::Connected, I::Other), (P::Connected, None));
        assert_eq!(
            transition(P::Connected, I::Disconnect),
            (P::Disconnected, None)
        );
        assert_eq!(
            transition(P::Disconnected, I::Other).1,
            Some(K::MessageAfterDisconnect)
        );
    }
}
