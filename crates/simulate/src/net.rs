//! The discrete-event network: a heap of timed events, hosts on a star around one capture
//! point, a small TCP endpoint model shared by every application, UDP and ICMP.
//!
//! Each host hangs on the switch by its own link (delay, loss, bandwidth). A packet leaves its
//! sender when the sender's interface is free, crosses the sender's link (it may be lost there,
//! before the capture point, and is then neither captured nor delivered), is captured at the
//! switch, crosses the receiver's link (lost there, it was captured but is not delivered) and
//! arrives. TCP recovers losses by retransmission after its RTO, as a real stack does.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::rc::Rc;

use rand_chacha::ChaCha8Rng;

use crate::rng::Rand;
use crate::scenario::Os;
use crate::wire::{self, flags, IpFields, TcpFields, TcpOptions};

/// Index of a host.
pub type HostId = usize;
/// Index of an application.
pub type AppId = usize;
/// Index of a TCP socket.
pub type SockId = usize;
/// Index of a ground-truth tag (class, attacker, phase).
pub type TagId = u32;

/// What an application is told.
#[derive(Debug)]
pub enum Note {
    /// A timer it set fired.
    Timer(u64),
    /// A listener accepted a connection (three-way handshake done).
    Accepted(SockId),
    /// An active open completed.
    Connected(SockId),
    /// New in-order bytes wait in the socket's `rx`.
    Data(SockId),
    /// The peer sent FIN.
    PeerClosed(SockId),
    /// The connection was reset or refused, or gave up retransmitting.
    Reset(SockId),
    /// The socket is gone; its id may be reused.
    Closed(SockId),
    /// A UDP datagram for a bound port.
    Udp {
        /// Sender address.
        from: Ipv4Addr,
        /// Sender port.
        from_port: u16,
        /// Our port.
        port: u16,
        /// Payload.
        data: Vec<u8>,
    },
    /// A packet for the host's raw observer (a scanner): a TCP segment no socket owns, or an
    /// ICMP message.
    Raw(RawSeen),
}

/// A packet a raw observer sees.
#[derive(Clone, Copy, Debug)]
pub enum RawSeen {
    /// TCP segment with no socket.
    Tcp {
        /// Source address.
        from: Ipv4Addr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Flags.
        flags: u8,
    },
    /// ICMP message about one of our UDP datagrams.
    Icmp {
        /// Who sent it.
        from: Ipv4Addr,
        /// Type and code.
        icmp_type: u8,
        /// Code.
        code: u8,
        /// Destination port of the datagram it quotes.
        quoted_dport: u16,
    },
}

/// Per-host runtime state.
pub struct Host {
    /// Name from the scenario.
    pub name: String,
    /// Address.
    pub ip: Ipv4Addr,
    /// MAC address.
    pub mac: [u8; 6],
    /// Stack personality.
    pub os: Os,
    delay_ns: i64,
    loss: f64,
    ps_per_byte: i64,
    nic_free: i64,
    global_ip_id: u16,
    loss_rng: ChaCha8Rng,
    next_port: u16,
    ts_offset: u32,
    /// Delayed-ACK timeout; 0 = acknowledge every segment at once.
    pub ack_delay_ns: i64,
    /// Application processing latency before a reply leaves.
    pub app_latency_ns: i64,
    raw_observer: Option<AppId>,
    stack_rng: ChaCha8Rng,
    /// Stack delay: median ns, sigma of its logarithm, cap ns.
    stack_delay: (f64, f64, i64),
    icmp_tokens: HashMap<Ipv4Addr, (i64, i64)>,
}

/// Link and stack parameters of a host.
pub struct HostParams {
    /// Name.
    pub name: String,
    /// Address.
    pub ip: Ipv4Addr,
    /// MAC.
    pub mac: [u8; 6],
    /// OS personality.
    pub os: Os,
    /// One-way delay of the host's link to the switch.
    pub delay_ns: i64,
    /// Loss probability of the link (each direction).
    pub loss: f64,
    /// Link rate, bits per second.
    pub bandwidth_bps: u64,
    /// Delayed-ACK timeout (0 = quick ACKs).
    pub ack_delay_ns: i64,
    /// Application latency.
    pub app_latency_ns: i64,
    /// Per-packet stack delay (log-normal): median ns, sigma of its logarithm, cap ns.
    pub stack_delay_ns: (f64, f64, i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    SynSent,
    SynRcvd,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

/// How long a socket stays in TIME_WAIT (Linux's `TCP_TIMEWAIT_LEN`, 60 s).
const TIME_WAIT_NS: i64 = 60_000_000_000;

struct Sent {
    seq: u32,
    flags: u8,
    payload: Rc<[u8]>,
}

/// One TCP endpoint.
pub struct Sock {
    /// Owning host.
    pub host: HostId,
    /// Local port.
    pub lport: u16,
    /// Remote address.
    pub rip: Ipv4Addr,
    /// Remote port.
    pub rport: u16,
    app: Option<AppId>,
    /// Ground-truth tag of the packets this socket sends.
    pub tag: TagId,
    state: St,
    snd_una: u32,
    snd_nxt: u32,
    rcv_nxt: u32,
    ts_ok: bool,
    ts_recent: u32,
    ws_ok: bool,
    sack_ok: bool,
    mss: u16,
    ip_id: u16,
    unacked: VecDeque<Sent>,
    rto_ns: i64,
    /// Incarnation of the socket id (events of an earlier socket with this id are ignored).
    rto_gen: u32,
    rto_armed: bool,
    /// When the retransmission timer expires.
    rto_at: i64,
    /// Time of the earliest timer event in the heap for this socket (`i64::MAX`: none); the
    /// timer moves without a new event until it would have to fire earlier.
    rto_event_at: i64,
    retries: u32,
    ack_pending: u32,
    ack_gen: u32,
    ooo: Vec<(u32, Rc<[u8]>, bool)>,
    /// In-order bytes received and not yet consumed by the application.
    pub rx: Vec<u8>,
    last_emit: i64,
}

enum Body {
    Tcp {
        f: TcpFields,
        payload: Rc<[u8]>,
    },
    Udp {
        sport: u16,
        dport: u16,
        payload: Vec<u8>,
        quoted: [u8; 28],
    },
    Icmp {
        icmp_type: u8,
        code: u8,
        quoted_dport: u16,
    },
}

struct Pkt {
    src_ip: Ipv4Addr,
    dst_host: HostId,
    tag: TagId,
    body: Body,
}

/// The 5-tuple of a captured packet, for per-connection ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// IP protocol.
    pub proto: u8,
    /// Source.
    pub src: (Ipv4Addr, u16),
    /// Destination.
    pub dst: (Ipv4Addr, u16),
}

enum EvKind {
    App(AppId, Note),
    Arrive(Box<Pkt>),
    Capture {
        frame: Vec<u8>,
        tag: TagId,
        key: FlowKey,
        flags: u8,
    },
    Rto(SockId, u32),
    DelAck(SockId, u32),
}

/// A due event: its time and the slot of its [`EvKind`] in `Net::slab`.
struct Ev {
    at: i64,
    slot: u32,
}

/// The event queue: a radix heap (Ahuja, Mehlhorn, Orlin, Tarjan 1990) over 128-bit keys
/// (time since the start << 64 | insertion number). Simulated time never goes back, so the
/// queue is monotone, and a radix heap moves each entry O(log range) times in total instead of
/// sifting a binary heap on every push and pop; ties keep insertion order.
#[derive(Default)]
struct RadixQueue {
    last: u128,
    len: usize,
    buckets: Vec<Vec<(u128, u32)>>,
}

impl RadixQueue {
    fn bucket(&self, key: u128) -> usize {
        (128 - (key ^ self.last).leading_zeros()) as usize
    }

    fn push(&mut self, time: u64, seq: u64, slot: u32) {
        if self.buckets.is_empty() {
            self.buckets.resize_with(129, Vec::new);
        }
        let key = (u128::from(time) << 64 | u128::from(seq)).max(self.last);
        let b = self.bucket(key);
        self.buckets[b].push((key, slot));
        self.len += 1;
    }

    /// The earliest entry: (time, slot).
    fn pop(&mut self) -> Option<(u64, u32)> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].is_empty() {
            let i = self.buckets.iter().position(|b| !b.is_empty())?;
            let items = std::mem::take(&mut self.buckets[i]);
            self.last = items.iter().map(|e| e.0).min()?;
            for e in &items {
                let b = self.bucket(e.0);
                self.buckets[b].push(*e);
            }
            // Keep the emptied bucket's allocation.
            let mut items = items;
            items.clear();
            if self.buckets[i].is_empty() {
                self.buckets[i] = items;
            }
        }
        let (key, slot) = self.buckets[0].pop()?;
        self.len -= 1;
        Some(((key >> 64) as u64, slot))
    }
}

/// A captured frame handed to the recorder.
pub struct Captured<'a> {
    /// Capture time, ns since the epoch.
    pub ts_ns: i64,
    /// The Ethernet frame.
    pub frame: &'a [u8],
    /// Ground-truth tag.
    pub tag: TagId,
    /// 5-tuple.
    pub key: FlowKey,
    /// TCP flags (0 for other protocols).
    pub tcp_flags: u8,
}

/// The network: hosts, sockets, the event heap.
pub struct Net {
    /// Current simulated time, ns since the epoch.
    pub now: i64,
    start: i64,
    end: i64,
    heap: RadixQueue,
    slab: Vec<Option<EvKind>>,
    free_slots: Vec<u32>,
    seq: u64,
    /// Hosts.
    pub hosts: Vec<Host>,
    by_ip: HashMap<Ipv4Addr, HostId, foldhash::fast::FixedState>,
    socks: Vec<Option<Sock>>,
    free_socks: Vec<SockId>,
    sock_map: HashMap<(HostId, u16, Ipv4Addr, u16), SockId, foldhash::fast::FixedState>,
    listeners: HashMap<(HostId, u16), AppId, foldhash::fast::FixedState>,
    udp_binds: HashMap<(HostId, u16), AppId, foldhash::fast::FixedState>,
    pending: VecDeque<(AppId, Note)>,
    pool: Vec<Vec<u8>>,
    /// MQTT messages sent per (tag, packet type).
    pub mqtt_sent: HashMap<(TagId, u8), u64>,
    /// Segments sent again by TCP (RTO expiry, SYN-ACK repeated for a repeated SYN).
    pub retransmissions: u64,
    incarnation: u32,
}

fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
fn seq_le(a: u32, b: u32) -> bool {
    !seq_lt(b, a)
}

/// Parameters of a raw TCP segment (a scanner's crafted packet or a socket's segment).
pub struct RawTcp<'a> {
    /// Sending host.
    pub host: HostId,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// TCP header.
    pub tcp: TcpFields,
    /// IP id.
    pub ip_id: u16,
    /// TTL.
    pub ttl: u8,
    /// DF flag.
    pub df: bool,
    /// Payload.
    pub payload: &'a [u8],
    /// Ground-truth tag.
    pub tag: TagId,
}

impl Net {
    /// An empty network starting at `start` ns and ending at `end` ns.
    pub fn new(start: i64, end: i64) -> Net {
        Net {
            now: start,
            start,
            end,
            heap: RadixQueue::default(),
            slab: Vec::new(),
            free_slots: Vec::new(),
            seq: 0,
            hosts: Vec::new(),
            by_ip: HashMap::default(),
            socks: Vec::new(),
            free_socks: Vec::new(),
            sock_map: HashMap::default(),
            listeners: HashMap::default(),
            udp_binds: HashMap::default(),
            pending: VecDeque::new(),
            pool: Vec::new(),
            mqtt_sent: HashMap::new(),
            retransmissions: 0,
            incarnation: 0,
        }
    }

    /// End of the recording.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// Adds a host; its random streams come from `rng`.
    pub fn add_host(&mut self, p: HostParams, rng: &mut ChaCha8Rng) -> HostId {
        let id = self.hosts.len();
        let bps = p.bandwidth_bps.max(1_000);
        self.by_ip.insert(p.ip, id);
        self.hosts.push(Host {
            name: p.name,
            ip: p.ip,
            mac: p.mac,
            os: p.os,
            delay_ns: p.delay_ns.max(0),
            loss: p.loss.clamp(0.0, 1.0),
            ps_per_byte: (8_000_000_000_000u64 / bps) as i64,
            nic_free: 0,
            global_ip_id: rng.below(65536) as u16,
            loss_rng: rng.fork(),
            next_port: 32768 + rng.below(28232) as u16,
            ts_offset: rng.next_u32(),
            ack_delay_ns: p.ack_delay_ns,
            app_latency_ns: p.app_latency_ns,
            stack_rng: rng.fork(),
            stack_delay: p.stack_delay_ns,
            raw_observer: None,
            icmp_tokens: HashMap::new(),
        });
        id
    }

    /// The host with address `ip`.
    pub fn host_by_ip(&self, ip: Ipv4Addr) -> Option<HostId> {
        self.by_ip.get(&ip).copied()
    }

    /// Accepts TCP connections to `port` on `host` for `app`.
    pub fn listen(&mut self, host: HostId, port: u16, app: AppId) {
        self.listeners.insert((host, port), app);
    }

    /// Delivers UDP datagrams for `port` on `host` to `app`.
    pub fn bind_udp(&mut self, host: HostId, port: u16, app: AppId) {
        self.udp_binds.insert((host, port), app);
    }

    /// Sends packets no socket owns on `host` (replies to raw probes, ICMP) to `app`.
    pub fn set_raw_observer(&mut self, host: HostId, app: AppId) {
        self.hosts[host].raw_observer = Some(app);
    }

    /// Schedules `Note::Timer(token)` for `app` at `at`.
    pub fn timer(&mut self, app: AppId, at: i64, token: u64) {
        self.push(at.max(self.now), EvKind::App(app, Note::Timer(token)));
    }

    fn push(&mut self, at: i64, kind: EvKind) {
        if at >= self.end {
            // Past the end of the recording: it would never be run.
            if let EvKind::Capture { frame, .. } = kind {
                self.pool.push(frame);
            }
            return;
        }
        self.seq += 1;
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(kind);
                slot
            }
            None => {
                self.slab.push(Some(kind));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap
            .push((at.max(self.now) - self.start) as u64, self.seq, slot);
    }

    /// Runs until the heap is empty or the end time, feeding captured frames to `record` and
    /// notes to `dispatch`.
    pub fn run(
        &mut self,
        record: &mut dyn FnMut(Captured<'_>) -> std::io::Result<()>,
        dispatch: &mut dyn FnMut(&mut Net, AppId, Note),
    ) -> std::io::Result<()> {
        while let Some((at, slot)) = self.heap.pop() {
            let at = self.start + at as i64;
            if at >= self.end {
                break;
            }
            self.now = at;
            let ev = Ev { at, slot };
            let Some(kind) = self.slab[ev.slot as usize].take() else {
                continue;
            };
            self.free_slots.push(ev.slot);
            match kind {
                EvKind::App(app, note) => dispatch(self, app, note),
                EvKind::Arrive(pkt) => self.arrive(*pkt),
                EvKind::Capture {
                    frame,
                    tag,
                    key,
                    flags,
                } => {
                    record(Captured {
                        ts_ns: ev.at,
                        frame: &frame,
                        tag,
                        key,
                        tcp_flags: flags,
                    })?;
                    if self.pool.len() < 4096 {
                        self.pool.push(frame);
                    }
                }
                EvKind::Rto(sid, gen) => self.on_rto(sid, gen),
                EvKind::DelAck(sid, gen) => {
                    if let Some(s) = self.socks.get(sid).and_then(Option::as_ref) {
                        if s.ack_gen == gen && s.ack_pending > 0 {
                            self.send_ack(sid);
                        }
                    }
                }
            }
            while let Some((app, note)) = self.pending.pop_front() {
                dispatch(self, app, note);
            }
        }
        Ok(())
    }

    fn note(&mut self, app: Option<AppId>, note: Note) {
        if let Some(app) = app {
            self.pending.push_back((app, note));
        }
    }

    // ---- emission ----------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        at: i64,
        src: HostId,
        dst_ip: Ipv4Addr,
        tag: TagId,
        body: Body,
        ip_id: u16,
        ttl: u8,
        df: bool,
    ) {
        let mut frame = self.pool.pop().unwrap_or_default();
        let h = &self.hosts[src];
        let ip = IpFields {
            src: h.ip,
            dst: dst_ip,
            id: ip_id,
            ttl,
            df,
        };
        let dst_host = self.by_ip.get(&dst_ip).copied();
        let dst_mac = dst_host.map_or([0x02, 0, 0, 0, 0, 1], |d| self.hosts[d].mac);
        let macs = (h.mac, dst_mac);
        let (key, tcp_flags) = match &body {
            Body::Tcp { f, payload } => {
                wire::tcp_frame(&mut frame, macs, &ip, f, payload);
                (
                    FlowKey {
                        proto: wire::PROTO_TCP,
                        src: (h.ip, f.src_port),
                        dst: (dst_ip, f.dst_port),
                    },
                    f.flags,
                )
            }
            Body::Udp {
                sport,
                dport,
                payload,
                ..
            } => {
                wire::udp_frame(&mut frame, macs, &ip, (*sport, *dport), payload);
                (
                    FlowKey {
                        proto: wire::PROTO_UDP,
                        src: (h.ip, *sport),
                        dst: (dst_ip, *dport),
                    },
                    0,
                )
            }
            Body::Icmp { .. } => unreachable!("ICMP frames are built by emit_icmp"),
        };
        let mut body = body;
        if let Body::Udp { quoted, .. } = &mut body {
            quoted.copy_from_slice(&frame[wire::ETH_LEN..wire::ETH_LEN + 28]);
        }
        self.send_frame(
            at,
            src,
            frame,
            key,
            tcp_flags,
            tag,
            dst_host.map(|d| Pkt {
                src_ip: ip.src,
                dst_host: d,
                tag,
                body,
            }),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn send_frame(
        &mut self,
        at: i64,
        src: HostId,
        frame: Vec<u8>,
        key: FlowKey,
        tcp_flags: u8,
        tag: TagId,
        pkt: Option<Pkt>,
    ) {
        let h = &mut self.hosts[src];
        // The host's stack delay, then its one transmit queue: a packet never leaves before one
        // handed over earlier, whatever their delays, so streams keep their order.
        let (median, sigma, cap) = h.stack_delay;
        let stack = if median > 0.0 {
            ((median * (sigma * h.stack_rng.normal()).exp()) as i64).clamp(0, cap)
        } else {
            0
        };
        let t = (at + stack).max(h.nic_free);
        h.nic_free = t + (frame.len() as i64 + 24) * h.ps_per_byte / 1000;
        let lost_src = h.loss > 0.0 && h.loss_rng.unit() < h.loss;
        if lost_src {
            self.pool.push(frame);
            return;
        }
        let cap_t = t + h.delay_ns;
        self.push(
            cap_t,
            EvKind::Capture {
                frame,
                tag,
                key,
                flags: tcp_flags,
            },
        );
        if let Some(pkt) = pkt {
            let d = &mut self.hosts[pkt.dst_host];
            if d.loss > 0.0 && d.loss_rng.unit() < d.loss {
                return;
            }
            let arrive = cap_t + d.delay_ns;
            self.push(arrive, EvKind::Arrive(Box::new(pkt)));
        }
    }

    /// Sends a raw TCP segment (no socket): a scanner's probe or a kernel RST.
    pub fn send_raw_tcp(&mut self, at: i64, r: RawTcp<'_>) {
        let payload: Rc<[u8]> = Rc::from(r.payload);
        self.emit(
            at,
            r.host,
            r.dst,
            r.tag,
            Body::Tcp { f: r.tcp, payload },
            r.ip_id,
            r.ttl,
            r.df,
        );
    }

    /// Sends a UDP datagram from `host:sport`.
    #[allow(clippy::too_many_arguments)]
    pub fn send_udp(
        &mut self,
        at: i64,
        host: HostId,
        sport: u16,
        dst: Ipv4Addr,
        dport: u16,
        payload: Vec<u8>,
        tag: TagId,
        ip_id: u16,
        ttl: Option<u8>,
    ) {
        let ttl = ttl.unwrap_or(self.hosts[host].os.ttl());
        self.emit(
            at,
            host,
            dst,
            tag,
            Body::Udp {
                sport,
                dport,
                payload,
                quoted: [0; 28],
            },
            ip_id,
            ttl,
            false,
        );
    }

    /// The next IP id of `host` for packets not tied to a socket.
    pub fn host_ip_id(&mut self, host: HostId) -> u16 {
        let h = &mut self.hosts[host];
        h.global_ip_id = h.global_ip_id.wrapping_add(1);
        h.global_ip_id
    }

    // ---- arrival -----------------------------------------------------------------------

    fn arrive(&mut self, pkt: Pkt) {
        let host = pkt.dst_host;
        match pkt.body {
            Body::Tcp { f, payload } => self.tcp_arrive(host, pkt.src_ip, pkt.tag, f, payload),
            Body::Udp {
                sport,
                dport,
                payload,
                quoted,
            } => {
                if let Some(&app) = self.udp_binds.get(&(host, dport)) {
                    self.note(
                        Some(app),
                        Note::Udp {
                            from: pkt.src_ip,
                            from_port: sport,
                            port: dport,
                            data: payload,
                        },
                    );
                } else {
                    self.port_unreachable(host, pkt.src_ip, pkt.tag, &quoted);
                }
            }
            Body::Icmp {
                icmp_type,
                code,
                quoted_dport,
            } => {
                let obs = self.hosts[host].raw_observer;
                self.note(
                    obs,
                    Note::Raw(RawSeen::Icmp {
                        from: pkt.src_ip,
                        icmp_type,
                        code,
                        quoted_dport,
                    }),
                );
            }
        }
    }

    /// ICMP port unreachable, rate-limited per destination as Linux does
    /// (`inet_peer_xrlim_allow`: one token per `icmp_ratelimit` = 1 s, burst of 6).
    fn port_unreachable(&mut self, host: HostId, to: Ipv4Addr, tag: TagId, quoted: &[u8; 28]) {
        let now = self.now;
        let h = &mut self.hosts[host];
        if h.os == Os::Linux {
            let entry = h.icmp_tokens.entry(to).or_insert((now, 6_000_000_000));
            let credit = (entry.1 + (now - entry.0)).min(6_000_000_000);
            entry.0 = now;
            if credit < 1_000_000_000 {
                entry.1 = credit;
                return;
            }
            entry.1 = credit - 1_000_000_000;
        }
        let mut frame = self.pool.pop().unwrap_or_default();
        let h = &self.hosts[host];
        let ip = IpFields {
            src: h.ip,
            dst: to,
            id: 0,
            ttl: h.os.ttl(),
            df: false,
        };
        let dst_host = self.by_ip.get(&to).copied();
        let dst_mac = dst_host.map_or([0x02, 0, 0, 0, 0, 1], |d| self.hosts[d].mac);
        // Linux quotes as much of the datagram as fits in 576 bytes; our quote is its IP header
        // and the 8-byte UDP header (RFC 792's minimum).
        wire::icmp_frame(&mut frame, (h.mac, dst_mac), &ip, 3, 3, [0; 4], quoted);
        let quoted_dport = u16::from_be_bytes([quoted[22], quoted[23]]);
        let key = FlowKey {
            proto: wire::PROTO_ICMP,
            src: (h.ip, 0),
            dst: (to, 0),
        };
        let pkt = dst_host.map(|d| Pkt {
            src_ip: ip.src,
            dst_host: d,
            tag,
            body: Body::Icmp {
                icmp_type: 3,
                code: 3,
                quoted_dport,
            },
        });
        self.send_frame(now, host, frame, key, 0, tag, pkt);
    }

    // ---- TCP ---------------------------------------------------------------------------

    /// The socket `id`.
    pub fn sock(&self, id: SockId) -> Option<&Sock> {
        self.socks.get(id).and_then(Option::as_ref)
    }

    /// The socket `id`, mutably.
    pub fn sock_mut(&mut self, id: SockId) -> Option<&mut Sock> {
        self.socks.get_mut(id).and_then(Option::as_mut)
    }

    /// Whether the socket exists and can send data.
    pub fn can_send(&self, id: SockId) -> bool {
        self.sock(id)
            .is_some_and(|s| matches!(s.state, St::Established | St::CloseWait))
    }

    fn new_sock(&mut self, s: Sock) -> SockId {
        let key = (s.host, s.lport, s.rip, s.rport);
        let id = if let Some(id) = self.free_socks.pop() {
            self.socks[id] = Some(s);
            id
        } else {
            self.socks.push(Some(s));
            self.socks.len() - 1
        };
        self.sock_map.insert(key, id);
        id
    }

    fn free_sock(&mut self, id: SockId, notify: bool) {
        if let Some(s) = self.socks.get_mut(id).and_then(Option::take) {
            self.sock_map.remove(&(s.host, s.lport, s.rip, s.rport));
            self.free_socks.push(id);
            if notify {
                self.note(s.app, Note::Closed(id));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn blank_sock(
        &mut self,
        host: HostId,
        lport: u16,
        rip: Ipv4Addr,
        rport: u16,
        app: Option<AppId>,
        tag: TagId,
        iss: u32,
    ) -> Sock {
        let ip_id = self.hosts[host].loss_rng.below(65536) as u16;
        self.incarnation = self.incarnation.wrapping_add(1);
        Sock {
            host,
            lport,
            rip,
            rport,
            app,
            tag,
            state: St::SynSent,
            snd_una: iss,
            snd_nxt: iss,
            rcv_nxt: 0,
            ts_ok: false,
            ts_recent: 0,
            ws_ok: false,
            sack_ok: false,
            mss: 1460,
            ip_id,
            unacked: VecDeque::new(),
            rto_ns: 1_000_000_000,
            rto_gen: self.incarnation,
            rto_armed: false,
            rto_at: 0,
            rto_event_at: i64::MAX,
            retries: 0,
            ack_pending: 0,
            ack_gen: 0,
            ooo: Vec::new(),
            rx: Vec::new(),
            last_emit: 0,
        }
    }

    /// A free ephemeral port on `host` (Linux range 32768–60999).
    pub fn ephemeral_port(&mut self, host: HostId) -> u16 {
        let h = &mut self.hosts[host];
        h.next_port = if h.next_port >= 60999 {
            32768
        } else {
            h.next_port + 1
        };
        h.next_port
    }

    /// Opens a TCP connection from `host` to `dst:dport` (sends the SYN now + `delay`).
    pub fn connect(
        &mut self,
        app: AppId,
        host: HostId,
        dst: Ipv4Addr,
        dport: u16,
        tag: TagId,
        sport: Option<u16>,
    ) -> SockId {
        let mut lport = sport.unwrap_or_else(|| self.ephemeral_port(host));
        while self.sock_map.contains_key(&(host, lport, dst, dport)) {
            lport = self.ephemeral_port(host);
        }
        let iss = self.hosts[host].loss_rng.next_u32();
        let mut s = self.blank_sock(host, lport, dst, dport, Some(app), tag, iss);
        s.snd_nxt = iss.wrapping_add(1);
        s.unacked.push_back(Sent {
            seq: iss,
            flags: flags::SYN,
            payload: Rc::from(&[][..]),
        });
        let id = self.new_sock(s);
        self.transmit(id, iss, flags::SYN, Rc::from(&[][..]), self.now);
        self.arm_rto(id);
        id
    }

    /// Queues `data` on the socket after the host's application latency; returns false when
    /// the socket cannot send.
    pub fn send(&mut self, id: SockId, data: &[u8]) -> bool {
        if !self.can_send(id) {
            return false;
        }
        let (host, mss) = {
            let s = self.sock(id).expect("checked");
            (s.host, usize::from(s.mss).max(1))
        };
        let at = self.now + self.hosts[host].app_latency_ns;
        let n = data.len().div_ceil(mss).max(1);
        for (i, chunk) in data.chunks(mss).enumerate() {
            let psh = if i + 1 == n { flags::PSH } else { 0 };
            let payload: Rc<[u8]> = Rc::from(chunk);
            let s = self.sock_mut(id).expect("checked");
            let seq = s.snd_nxt;
            s.snd_nxt = seq.wrapping_add(chunk.len() as u32);
            s.unacked.push_back(Sent {
                seq,
                flags: flags::ACK | psh,
                payload: payload.clone(),
            });
            self.transmit(id, seq, flags::ACK | psh, payload, at);
        }
        self.arm_rto(id);
        true
    }

    /// Sends one MQTT message and counts it under its packet type for the ground truth.
    pub fn send_mqtt(&mut self, id: SockId, message: &[u8]) -> bool {
        let tag = self.sock(id).map(|s| s.tag);
        let ok = self.send(id, message);
        if let (true, Some(tag), Some(&first)) = (ok, tag, message.first()) {
            *self.mqtt_sent.entry((tag, first >> 4)).or_insert(0) += 1;
        }
        ok
    }

    /// Closes the sending side (FIN).
    pub fn close(&mut self, id: SockId) {
        let Some(s) = self.sock_mut(id) else { return };
        let next = match s.state {
            St::Established => St::FinWait1,
            St::CloseWait => St::LastAck,
            St::SynSent => {
                self.free_sock(id, true);
                return;
            }
            _ => return,
        };
        s.state = next;
        let seq = s.snd_nxt;
        s.snd_nxt = seq.wrapping_add(1);
        s.unacked.push_back(Sent {
            seq,
            flags: flags::FIN | flags::ACK,
            payload: Rc::from(&[][..]),
        });
        let host = s.host;
        let at = self.now + self.hosts[host].app_latency_ns;
        self.transmit(id, seq, flags::FIN | flags::ACK, Rc::from(&[][..]), at);
        self.arm_rto(id);
    }

    /// Aborts the connection with RST and frees the socket (no note).
    pub fn abort(&mut self, id: SockId) {
        let Some(s) = self.sock(id) else { return };
        if s.state != St::SynSent {
            let seq = s.snd_nxt;
            let at = self.now + self.hosts[s.host].app_latency_ns;
            self.transmit(id, seq, flags::RST | flags::ACK, Rc::from(&[][..]), at);
        }
        self.free_sock(id, false);
    }

    /// Emits one segment of socket `id` (ACK field = current rcv_nxt).
    fn transmit(&mut self, id: SockId, seq: u32, fl: u8, payload: Rc<[u8]>, at: i64) {
        let now = self.now;
        let Some(s) = self.socks.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        let h = &mut self.hosts[s.host];
        let os = h.os;
        let at = at.max(s.last_emit);
        s.last_emit = at;
        let syn = fl & flags::SYN != 0;
        let ts_val = ((at / 1_000_000) as u32).wrapping_add(h.ts_offset);
        let options = if syn {
            TcpOptions {
                mss: Some(1460),
                // A SYN-ACK offers SACK only to a peer that offered it.
                sack_permitted: fl & flags::ACK == 0 || s.sack_ok,
                timestamps: (os.timestamps() && (fl & flags::ACK == 0 || s.ts_ok))
                    .then_some((ts_val, if fl & flags::ACK != 0 { s.ts_recent } else { 0 })),
                window_scale: (fl & flags::ACK == 0 || s.ws_ok).then_some(os.window_scale()),
                raw: None,
            }
        } else if s.ts_ok && fl & flags::RST == 0 {
            TcpOptions {
                timestamps: Some((ts_val, s.ts_recent)),
                ..TcpOptions::default()
            }
        } else {
            TcpOptions::default()
        };
        let ack_flag = fl & flags::ACK != 0;
        let window = if fl & flags::RST != 0 {
            0
        } else if syn {
            os.syn_window()
        } else if s.ws_ok {
            os.scaled_window()
        } else {
            os.syn_window()
        };
        let f = TcpFields {
            src_port: s.lport,
            dst_port: s.rport,
            seq,
            ack: if ack_flag { s.rcv_nxt } else { 0 },
            flags: fl,
            window,
            options,
        };
        if ack_flag {
            s.ack_pending = 0;
            s.ack_gen = s.ack_gen.wrapping_add(1);
        }
        let ip_id = match os.ip_id_mode() {
            IpIdMode::PerSocket => {
                if syn && ack_flag || fl & flags::RST != 0 {
                    0
                } else {
                    s.ip_id = s.ip_id.wrapping_add(1);
                    s.ip_id
                }
            }
            IpIdMode::Global => {
                h.global_ip_id = h.global_ip_id.wrapping_add(1);
                h.global_ip_id
            }
            IpIdMode::Zero => 0,
        };
        let (host, rip, tag) = (s.host, s.rip, s.tag);
        let _ = now;
        self.emit(
            at,
            host,
            rip,
            tag,
            Body::Tcp { f, payload },
            ip_id,
            os.ttl(),
            true,
        );
    }

    fn send_ack(&mut self, id: SockId) {
        let Some(s) = self.sock(id) else { return };
        let seq = s.snd_nxt;
        self.transmit(id, seq, flags::ACK, Rc::from(&[][..]), self.now);
    }

    fn arm_rto(&mut self, id: SockId) {
        let now = self.now;
        let Some(s) = self.sock_mut(id) else { return };
        if s.unacked.is_empty() {
            s.rto_armed = false;
            return;
        }
        s.rto_armed = true;
        s.rto_at = now + s.rto_ns;
        self.schedule_rto(id);
    }

    /// Makes sure a timer event is due no later than the socket's `rto_at`.
    fn schedule_rto(&mut self, id: SockId) {
        let Some(s) = self.sock_mut(id) else { return };
        if s.rto_event_at > s.rto_at {
            s.rto_event_at = s.rto_at;
            let (at, gen) = (s.rto_at, s.rto_gen);
            self.push(at, EvKind::Rto(id, gen));
        }
    }

    fn on_rto(&mut self, id: SockId, gen: u32) {
        let now = self.now;
        let Some(s) = self.sock_mut(id) else { return };
        if s.rto_gen != gen || s.rto_event_at != now {
            return; // another socket's, or superseded by an earlier event
        }
        s.rto_event_at = i64::MAX;
        if !s.rto_armed {
            return;
        }
        if now < s.rto_at {
            // Moved later since this event was scheduled.
            self.schedule_rto(id);
            return;
        }
        if s.state == St::TimeWait {
            self.free_sock(id, false);
            return;
        }
        let Some(first) = s.unacked.front() else {
            s.rto_armed = false;
            return;
        };
        s.retries += 1;
        if s.retries > 6 {
            let app = s.app;
            self.note(app, Note::Reset(id));
            self.free_sock(id, true);
            return;
        }
        s.rto_ns = (s.rto_ns * 2).min(60_000_000_000);
        let (seq, fl, payload) = (first.seq, first.flags, first.payload.clone());
        let now = self.now;
        self.retransmissions += 1;
        self.transmit(id, seq, fl, payload, now);
        self.arm_rto(id);
    }

    fn tcp_arrive(
        &mut self,
        host: HostId,
        src: Ipv4Addr,
        tag: TagId,
        f: TcpFields,
        payload: Rc<[u8]>,
    ) {
        if let Some(&id) = self.sock_map.get(&(host, f.dst_port, src, f.src_port)) {
            let time_wait = self.sock(id).is_some_and(|s| s.state == St::TimeWait);
            if !(time_wait && f.flags & (flags::SYN | flags::ACK) == flags::SYN) {
                self.sock_input(id, f, payload);
                return;
            }
            // A new SYN for a 4-tuple in TIME_WAIT starts a new connection (Linux
            // tcp_timewait_state_process, TCP_TW_SYN).
            self.free_sock(id, false);
        }
        if f.flags & flags::RST != 0 {
            let obs = self.hosts[host].raw_observer;
            self.note(
                obs,
                Note::Raw(RawSeen::Tcp {
                    from: src,
                    sport: f.src_port,
                    dport: f.dst_port,
                    flags: f.flags,
                }),
            );
            return;
        }
        let listening = self.listeners.contains_key(&(host, f.dst_port));
        if listening
            && f.flags & flags::ACK == 0
            && (f.flags & flags::SYN == 0 || f.flags & flags::FIN != 0)
        {
            // A listening socket drops a segment with neither SYN nor ACK, and SYN with FIN,
            // without a reply (Linux tcp_rcv_state_process, TCP_LISTEN; nmap's T2 and T3).
            return;
        }
        if f.flags & (flags::SYN | flags::ACK) == flags::SYN {
            if let Some(&app) = self.listeners.get(&(host, f.dst_port)) {
                let iss = self.hosts[host].loss_rng.next_u32();
                let os = self.hosts[host].os;
                let mut s = self.blank_sock(host, f.dst_port, src, f.src_port, Some(app), tag, iss);
                s.state = St::SynRcvd;
                s.rcv_nxt = f.seq.wrapping_add(1);
                s.snd_nxt = iss.wrapping_add(1);
                s.ts_ok = f.options.timestamps.is_some() && os.timestamps();
                if let Some((val, _)) = f.options.timestamps {
                    s.ts_recent = val;
                }
                s.ws_ok = f.options.window_scale.is_some();
                s.sack_ok = f.options.sack_permitted;
                s.mss = f.options.mss.unwrap_or(536).min(1460);
                s.unacked.push_back(Sent {
                    seq: iss,
                    flags: flags::SYN | flags::ACK,
                    payload: Rc::from(&[][..]),
                });
                let id = self.new_sock(s);
                self.transmit(
                    id,
                    iss,
                    flags::SYN | flags::ACK,
                    Rc::from(&[][..]),
                    self.now,
                );
                self.arm_rto(id);
                return;
            }
        }
        // No socket: a raw observer sees it, and the kernel answers with RST (RFC 9293 §3.10.7.1).
        let obs = self.hosts[host].raw_observer;
        self.note(
            obs,
            Note::Raw(RawSeen::Tcp {
                from: src,
                sport: f.src_port,
                dport: f.dst_port,
                flags: f.flags,
            }),
        );
        let h = &self.hosts[host];
        let (seq, ack, fl) = if f.flags & flags::ACK != 0 {
            (f.ack, 0, flags::RST)
        } else {
            let len = payload.len() as u32
                + u32::from(f.flags & flags::SYN != 0)
                + u32::from(f.flags & flags::FIN != 0);
            (0, f.seq.wrapping_add(len), flags::RST | flags::ACK)
        };
        let ip_id = if h.os.ip_id_mode() == IpIdMode::Global {
            self.host_ip_id(host)
        } else {
            0
        };
        let ttl = self.hosts[host].os.ttl();
        self.send_raw_tcp(
            self.now,
            RawTcp {
                host,
                dst: src,
                tcp: TcpFields {
                    src_port: f.dst_port,
                    dst_port: f.src_port,
                    seq,
                    ack,
                    flags: fl,
                    window: 0,
                    options: TcpOptions::default(),
                },
                ip_id,
                ttl,
                df: true,
                payload: &[],
                tag,
            },
        );
    }

    /// TIME_WAIT: the application is told the connection is over; the socket stays for
    /// [`TIME_WAIT_NS`] to acknowledge a repeated FIN and to keep its 4-tuple from reuse.
    fn enter_time_wait(&mut self, id: SockId) {
        let now = self.now;
        let Some(s) = self.sock_mut(id) else { return };
        s.state = St::TimeWait;
        s.unacked.clear();
        s.ooo.clear();
        s.rx = Vec::new();
        let app = s.app.take();
        s.rto_armed = true;
        s.rto_at = now + TIME_WAIT_NS;
        self.note(app, Note::Closed(id));
        self.schedule_rto(id);
    }

    fn sock_input(&mut self, id: SockId, f: TcpFields, payload: Rc<[u8]>) {
        let now = self.now;
        let Some(s) = self.sock_mut(id) else { return };
        if f.flags & flags::RST != 0 {
            let app = s.app;
            let notify = s.state != St::SynRcvd;
            if notify {
                self.note(app, Note::Reset(id));
            }
            self.free_sock(id, notify);
            return;
        }
        if let Some((val, _)) = f.options.timestamps {
            if s.ts_ok && seq_le(f.seq, s.rcv_nxt) {
                s.ts_recent = val;
            }
        }
        match s.state {
            St::SynSent => {
                if f.flags & (flags::SYN | flags::ACK) == (flags::SYN | flags::ACK)
                    && f.ack == s.snd_nxt
                {
                    s.state = St::Established;
                    s.rcv_nxt = f.seq.wrapping_add(1);
                    s.snd_una = f.ack;
                    s.unacked.clear();
                    s.rto_armed = false;
                    s.retries = 0;
                    s.rto_ns = 200_000_000;
                    s.ts_ok = f.options.timestamps.is_some();
                    if let Some((val, _)) = f.options.timestamps {
                        s.ts_recent = val;
                    }
                    s.ws_ok = f.options.window_scale.is_some();
                    s.mss = f.options.mss.unwrap_or(536).min(1460);
                    let app = s.app;
                    self.send_ack(id);
                    self.note(app, Note::Connected(id));
                }
                return;
            }
            St::SynRcvd => {
                if f.flags & flags::SYN != 0 {
                    // Our SYN-ACK was lost: the client repeated its SYN.
                    let seq = s.snd_una;
                    let p = Rc::from(&[][..]);
                    self.retransmissions += 1;
                    self.transmit(id, seq, flags::SYN | flags::ACK, p, now);
                    return;
                }
                if f.flags & flags::ACK == 0 || f.ack != s.snd_nxt {
                    return;
                }
                s.state = St::Established;
                s.snd_una = f.ack;
                s.unacked.clear();
                s.rto_armed = false;
                s.retries = 0;
                s.rto_ns = 200_000_000;
                let app = s.app;
                self.note(app, Note::Accepted(id));
            }
            _ => {}
        }
        let Some(s) = self.sock_mut(id) else { return };
        // ACK processing.
        if f.flags & flags::ACK != 0 && seq_lt(s.snd_una, f.ack) && seq_le(f.ack, s.snd_nxt) {
            s.snd_una = f.ack;
            while let Some(front) = s.unacked.front() {
                let end = front.seq.wrapping_add(
                    front.payload.len() as u32
                        + u32::from(front.flags & (flags::SYN | flags::FIN) != 0),
                );
                if seq_le(end, f.ack) {
                    s.unacked.pop_front();
                } else {
                    break;
                }
            }
            s.retries = 0;
            s.rto_ns = 200_000_000;
            let fin_acked = f.ack == s.snd_nxt;
            match s.state {
                St::FinWait1 if fin_acked => s.state = St::FinWait2,
                St::Closing if fin_acked => {
                    self.enter_time_wait(id);
                    return;
                }
                St::LastAck if fin_acked => {
                    self.free_sock(id, true);
                    return;
                }
                _ => {}
            }
            if s.unacked.is_empty() {
                s.rto_armed = false;
            } else {
                self.arm_rto(id);
            }
        }
        let Some(s) = self.sock_mut(id) else { return };
        let fin = f.flags & flags::FIN != 0;
        if payload.is_empty() && !fin {
            return;
        }
        let host = s.host;
        if f.seq == s.rcv_nxt {
            let mut got = !payload.is_empty();
            s.rx.extend_from_slice(&payload);
            s.rcv_nxt = s.rcv_nxt.wrapping_add(payload.len() as u32);
            let mut fin_now = fin;
            // Segments that arrived early and now fit.
            while let Some(pos) = s.ooo.iter().position(|(q, _, _)| *q == s.rcv_nxt) {
                let (_, p, fin2) = s.ooo.swap_remove(pos);
                s.rx.extend_from_slice(&p);
                s.rcv_nxt = s.rcv_nxt.wrapping_add(p.len() as u32);
                got |= !p.is_empty();
                fin_now |= fin2;
            }
            let app = s.app;
            if fin_now {
                s.rcv_nxt = s.rcv_nxt.wrapping_add(1);
                s.ooo.clear();
                let state = s.state;
                s.state = match state {
                    St::Established => St::CloseWait,
                    St::FinWait1 => St::Closing,
                    other => other,
                };
                self.send_ack(id);
                if got {
                    self.note(app, Note::Data(id));
                }
                if state == St::FinWait2 {
                    self.enter_time_wait(id);
                } else if state == St::TimeWait {
                    // A repeated FIN (our ACK was lost): re-acknowledged above.
                } else {
                    self.note(app, Note::PeerClosed(id));
                }
                return;
            }
            s.ack_pending += 1;
            let delay = self.hosts[host].ack_delay_ns;
            let s = self.sock_mut(id).expect("present");
            // Linux acknowledges at once every second full-sized segment; otherwise it
            // waits for a reply to carry the ACK, up to the delayed-ACK timeout.
            if delay == 0 || (s.ack_pending >= 2 && payload.len() >= usize::from(s.mss)) {
                self.send_ack(id);
            } else if s.ack_pending == 1 {
                let gen = s.ack_gen;
                self.push(now + delay, EvKind::DelAck(id, gen));
            }
            if got {
                self.note(app, Note::Data(id));
            }
        } else if seq_lt(s.rcv_nxt, f.seq) {
            if s.ooo.len() < 256 {
                s.ooo.push((f.seq, payload, fin));
            }
            self.send_ack(id); // duplicate ACK at once (RFC 5681 §4.2)
        } else {
            self.send_ack(id); // an old segment again: re-acknowledge
        }
    }
}

/// How a stack numbers the IP identification field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpIdMode {
    /// Linux: a counter per connection from a random start; SYN-ACK and RST carry 0.
    PerSocket,
    /// Windows: one counter per host.
    Global,
    /// macOS with DF: always 0 (as MQTTset's attacker host shows).
    Zero,
}
