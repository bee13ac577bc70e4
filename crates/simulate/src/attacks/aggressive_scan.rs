//! nmap's aggressive scan (`nmap -A`, Hindy et al.'s `scan_A`), as seen on the wire:
//!
//! 1. **SYN scan** (`-sS`) of nmap's top 1,000 TCP ports on every target, in a random order, from
//!    one random source port, raw SYNs with window 1024, MSS 1460 only, a random TTL in 37–59 and
//!    a random IP id. Closed ports answer RST/ACK; open ports answer SYN/ACK, which the scanner's
//!    own kernel resets (nmap sent the SYN from a raw socket). Unanswered probes are sent again
//!    (`retries` times, from source port + try number) after `retry_wait_ms`.
//! 2. **Version detection** (`-sV`) on each open port: a full TCP connection; nmap's NULL probe
//!    waits for a banner (SSH answers with its identification line, which is enough), otherwise
//!    nmap's `GetRequest` probe is sent. On the MQTT port the `mqtt-subscribe` script (a
//!    `version` script, run by `-sV`) sends CONNECT and, when accepted, SUBSCRIBE `$SYS/#`, then
//!    DISCONNECT.
//! 3. **OS detection** (`-O`) on each host with an open port: the six SEQ SYNs 100 ms apart with
//!    nmap's option orders and windows, the ECN probe, T2–T7 (open port: null flags,
//!    SYN|FIN|URG|PSH, ACK; closed port: SYN, ACK, FIN|PSH|URG) and U1 (300 bytes of `C` to a
//!    closed UDP port, IP id 0x1042). ICMP echo probes (IE) and ARP host discovery are not
//!    modelled.
//!
//! Phases: `syn_scan`, `service`, `os`.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::nmap::{raw_ttl, scan_ports, TOP_TCP};
use super::{drain_messages, AttackCtx};
use crate::apps::App;
use crate::encode::{self, kind};
use crate::net::{AppId, Net, Note, RawSeen, RawTcp, SockId};
use crate::rng::Rand;
use crate::wire::{flags, TcpFields, TcpOptions};

/// Phases.
pub const PHASES: &[&str] = &["syn_scan", "service", "os"];

/// Parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// `top1000` or a port list `1,3-4,…`.
    pub ports: String,
    /// Ports scanned besides (`-p` additions; 1883 is not in nmap's top 1,000).
    pub extra_ports: Vec<u16>,
    /// Scan every host of the scenario (nmap on the subnet, as the dataset's ~20,000 attack
    /// flows in `scan_A` show), not only the attack's target.
    pub all_hosts: bool,
    /// SYN probes per second.
    pub rate_pps: f64,
    /// Times an unanswered SYN is sent again.
    pub retries: u32,
    /// Wait before the unanswered probes are sent again, ms.
    pub retry_wait_ms: f64,
    /// How long the NULL probe waits for a banner, ms (nmap: 6,000 under -T3; 5,000 here).
    pub banner_wait_ms: f64,
    /// Run the OS-detection probes.
    pub os_detection: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            ports: "top1000".into(),
            extra_ports: Vec::new(),
            all_hosts: true,
            rate_pps: 1000.0,
            retries: 1,
            retry_wait_ms: 1000.0,
            banner_wait_ms: 5000.0,
            os_detection: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortState {
    Open,
    Closed,
}

struct Probe {
    ip: Ipv4Addr,
    port: u16,
}

struct Service {
    port: u16,
    got_banner: bool,
    sent_get: bool,
}

// Timer kinds (high byte of the token).
const T_SYN: u64 = 1;
const T_RETRY: u64 = 2;
const T_SERVICE_WAIT: u64 = 3;
const T_SERVICE_DONE: u64 = 4;
const T_OS: u64 = 5;
const T_MQTT_QUIT: u64 = 6;

fn token(kind: u64, value: u64) -> u64 {
    kind << 56 | (value & ((1 << 56) - 1))
}

/// nmap's OS-detection SEQ probes: (window, option bytes), from nmap's documentation of its
/// TCP/IP fingerprinting ("Sequence generation (SEQ, OPS, WIN, and T1)").
const SEQ_PROBES: [(u16, &[u8]); 6] = [
    (
        1,
        &[
            3, 3, 10, 1, 2, 4, 0x05, 0xb4, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 4, 2,
        ],
    ),
    (
        63,
        &[
            2, 4, 0x05, 0x78, 3, 3, 0, 4, 2, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0,
        ],
    ),
    (
        4,
        &[
            8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 1, 3, 3, 5, 1, 2, 4, 0x02, 0x80,
        ],
    ),
    (
        4,
        &[4, 2, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 3, 3, 10, 0],
    ),
    (
        16,
        &[
            2, 4, 0x02, 0x18, 4, 2, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 3, 3, 10, 0,
        ],
    ),
    (
        512,
        &[
            2, 4, 0x01, 0x09, 4, 2, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
        ],
    ),
];
/// Options of the ECN probe: WS 10, NOP, MSS 1460, SACK permitted, NOP, NOP.
const ECN_OPTIONS: &[u8] = &[3, 3, 10, 1, 2, 4, 0x05, 0xb4, 4, 2, 1, 1];
/// Options of T2–T7: WS 10, NOP, MSS 265, timestamps, SACK permitted.
const T_OPTIONS: &[u8] = &[
    3, 3, 10, 1, 2, 4, 0x01, 0x09, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 4, 2,
];
/// nmap's `GetRequest` service probe.
const GET_REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

/// The running scan.
pub struct Attack {
    p: Params,
    ctx: AttackCtx,
    targets: Vec<Ipv4Addr>,
    ports: Vec<u16>,
    base_port: u16,
    /// Probes of the current pass and the next one to send.
    queue: Vec<Probe>,
    next: usize,
    tryno: u32,
    gap_ns: i64,
    answered: HashMap<(Ipv4Addr, u16), PortState>,
    services: HashMap<SockId, Service>,
    service_phase_over: bool,
    os_started: bool,
}

impl Attack {
    /// A new scan.
    pub fn new(p: Params, mut ctx: AttackCtx) -> Attack {
        let mut targets: Vec<Ipv4Addr> = if p.all_hosts {
            ctx.hosts.clone()
        } else {
            vec![ctx.target]
        };
        targets.sort();
        targets.dedup();
        let ports = scan_ports(&p.ports, TOP_TCP, &p.extra_ports, &mut ctx.rng);
        let base_port = 33_000 + ctx.rng.below(30_000) as u16;
        let gap_ns = (1e9 / (p.rate_pps * ctx.scale).max(1e-3)) as i64;
        Attack {
            p,
            ctx,
            targets,
            ports,
            base_port,
            queue: Vec::new(),
            next: 0,
            tryno: 0,
            gap_ns: gap_ns.max(1),
            answered: HashMap::new(),
            services: HashMap::new(),
            service_phase_over: false,
            os_started: false,
        }
    }

    fn raw(&mut self, net: &mut Net, dst: Ipv4Addr, tcp: TcpFields, df: bool, phase: usize) {
        let ip_id = self.ctx.rng.below(65536) as u16;
        let ttl = raw_ttl(&mut self.ctx.rng);
        let tag = self.ctx.tags[phase];
        net.send_raw_tcp(
            net.now,
            RawTcp {
                host: self.ctx.host,
                dst,
                tcp,
                ip_id,
                ttl,
                df,
                payload: &[],
                tag,
            },
        );
    }

    fn send_syn(&mut self, net: &mut Net, ip: Ipv4Addr, port: u16) {
        let seq = self.ctx.rng.next_u32();
        let sport = self.base_port.wrapping_add(self.tryno as u16);
        let tcp = TcpFields {
            src_port: sport,
            dst_port: port,
            seq,
            ack: 0,
            flags: flags::SYN,
            window: 1024,
            options: TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            },
        };
        self.raw(net, ip, tcp, false, 0);
    }

    fn start_pass(&mut self, net: &mut Net, me: AppId) {
        self.queue = if self.tryno == 0 {
            // nmap interleaves the hosts of a host group; each host's ports in a random order.
            let mut q = Vec::with_capacity(self.targets.len() * self.ports.len());
            for &port in &self.ports {
                for &ip in &self.targets {
                    q.push(Probe { ip, port });
                }
            }
            q
        } else {
            let mut q = Vec::new();
            for &port in &self.ports {
                for &ip in &self.targets {
                    if !self.answered.contains_key(&(ip, port)) {
                        q.push(Probe { ip, port });
                    }
                }
            }
            q
        };
        self.next = 0;
        if self.queue.is_empty() {
            self.start_services(net, me);
        } else {
            net.timer(me, net.now, token(T_SYN, 0));
        }
    }

    fn start_services(&mut self, net: &mut Net, me: AppId) {
        let mut open: Vec<(Ipv4Addr, u16)> = self
            .answered
            .iter()
            .filter(|(_, s)| **s == PortState::Open)
            .map(|(k, _)| *k)
            .collect();
        open.sort();
        for (ip, port) in open {
            let sock = net.connect(me, self.ctx.host, ip, port, self.ctx.tags[1], None);
            self.services.insert(
                sock,
                Service {
                    port,
                    got_banner: false,
                    sent_get: false,
                },
            );
        }
        // Whatever is still open after two banner waits and a probe is given up on.
        let wait = (self.p.banner_wait_ms * 2.5 * 1e6) as i64;
        net.timer(me, net.now + wait, token(T_SERVICE_DONE, 0));
        if self.services.is_empty() {
            self.start_os(net, me);
        }
    }

    fn start_os(&mut self, net: &mut Net, me: AppId) {
        if self.os_started {
            return;
        }
        self.os_started = true;
        self.service_phase_over = true;
        if !self.p.os_detection {
            return;
        }
        // One OS-detection round per host with an open port, hosts 1 s apart.
        let mut at = net.now;
        for (i, &ip) in self.targets.iter().enumerate() {
            if self
                .ports
                .iter()
                .any(|&p| self.answered.get(&(ip, p)) == Some(&PortState::Open))
            {
                net.timer(me, at, token(T_OS, (i as u64) << 8));
                at += 1_000_000_000;
            }
        }
    }

    /// One OS-detection probe to `ip`: steps 0–5 are the SEQ SYNs (100 ms apart), 6 the ECN
    /// probe, 7–12 T2–T7 (10 ms apart), 13 U1. Returns the delay to the next step.
    fn os_probe(&mut self, net: &mut Net, ip: Ipv4Addr, step: u64) -> Option<i64> {
        let open = self
            .ports
            .iter()
            .copied()
            .find(|&p| self.answered.get(&(ip, p)) == Some(&PortState::Open))?;
        let closed = self
            .ports
            .iter()
            .copied()
            .find(|&p| self.answered.get(&(ip, p)) == Some(&PortState::Closed))
            .unwrap_or(1);
        let full = TcpOptions {
            mss: Some(1460),
            sack_permitted: true,
            timestamps: Some((u32::MAX, 0)),
            window_scale: Some(10),
            raw: None,
        };
        let sport = self.base_port.wrapping_add(100).wrapping_add(step as u16);
        let t_opts = TcpOptions {
            raw: Some(T_OPTIONS),
            ..full
        };
        let (port, fl, window, df, options) = match step {
            0..=5 => {
                let (window, opts) = SEQ_PROBES[step as usize];
                (
                    open,
                    flags::SYN,
                    window,
                    false,
                    TcpOptions {
                        raw: Some(opts),
                        ..full
                    },
                )
            }
            6 => (
                open,
                flags::SYN | 0x40 | 0x80, // ECE | CWR
                3,
                false,
                TcpOptions {
                    raw: Some(ECN_OPTIONS),
                    timestamps: None,
                    ..full
                },
            ),
            7 => (open, 0, 128, true, t_opts),
            8 => (
                open,
                flags::SYN | flags::FIN | flags::URG | flags::PSH,
                256,
                false,
                t_opts,
            ),
            9 => (open, flags::ACK, 1024, true, t_opts),
            10 => (closed, flags::SYN, 31337, false, t_opts),
            11 => (closed, flags::ACK, 32768, true, t_opts),
            12 => (
                closed,
                flags::FIN | flags::PSH | flags::URG,
                65535,
                false,
                t_opts,
            ),
            13 => {
                // U1: 300 bytes of 'C' to a closed UDP port, IP id 0x1042.
                let uport = 40_000 + self.ctx.rng.below(20_000) as u16;
                let ttl = raw_ttl(&mut self.ctx.rng);
                net.send_udp(
                    net.now,
                    self.ctx.host,
                    sport,
                    ip,
                    uport,
                    vec![b'C'; 300],
                    self.ctx.tags[2],
                    0x1042,
                    Some(ttl),
                );
                return None;
            }
            _ => return None,
        };
        let tcp = TcpFields {
            src_port: sport,
            dst_port: port,
            seq: self.ctx.rng.next_u32(),
            ack: if fl & flags::ACK != 0 {
                self.ctx.rng.next_u32()
            } else {
                0
            },
            flags: fl,
            window,
            options,
        };
        self.raw(net, ip, tcp, df, 2);
        Some(if step < 6 { 100_000_000 } else { 10_000_000 })
    }

    fn service_data(&mut self, net: &mut Net, me: AppId, sock: SockId) {
        let Some(svc) = self.services.get_mut(&sock) else {
            return;
        };
        if svc.port == self.ctx.mqtt_port {
            for m in drain_messages(net, sock) {
                match m.kind {
                    kind::CONNACK if m.return_code == 0 => {
                        let sub = encode::subscribe(self.ctx.version, 1, &[(b"$SYS/#", 0)]);
                        net.send_mqtt(sock, &sub);
                        net.timer(me, net.now + 1_000_000_000, token(T_MQTT_QUIT, sock as u64));
                    }
                    kind::CONNACK => net.close(sock),
                    _ => {}
                }
            }
        } else {
            if let Some(s) = net.sock_mut(sock) {
                s.rx.clear();
            }
            svc.got_banner = true;
            net.close(sock);
        }
    }

    fn service_gone(&mut self, net: &mut Net, me: AppId, sock: SockId) {
        if self.services.remove(&sock).is_some() && self.services.is_empty() {
            self.start_os(net, me);
        }
    }
}

impl App for Attack {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.set_raw_observer(self.ctx.host, me);
        net.timer(me, self.ctx.start, token(T_RETRY, 0));
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Timer(t) => {
                let value = t & ((1 << 56) - 1);
                match t >> 56 {
                    T_RETRY if net.now < self.ctx.end => self.start_pass(net, me),
                    T_SYN => {
                        if net.now >= self.ctx.end {
                            return;
                        }
                        if let Some(p) = self.queue.get(self.next) {
                            let (ip, port) = (p.ip, p.port);
                            self.next += 1;
                            self.send_syn(net, ip, port);
                        }
                        if self.next < self.queue.len() {
                            net.timer(me, net.now + self.gap_ns, token(T_SYN, 0));
                        } else if self.tryno < self.p.retries {
                            self.tryno += 1;
                            let wait = (self.p.retry_wait_ms * 1e6) as i64;
                            net.timer(me, net.now + wait, token(T_RETRY, 0));
                        } else {
                            let wait = (self.p.retry_wait_ms * 1e6) as i64;
                            net.timer(me, net.now + wait, token(T_SERVICE_WAIT, u64::MAX >> 8));
                        }
                    }
                    T_SERVICE_WAIT if value == u64::MAX >> 8 && net.now < self.ctx.end => {
                        self.start_services(net, me);
                    }
                    T_SERVICE_WAIT if value == u64::MAX >> 8 => {}
                    T_SERVICE_WAIT => {
                        let sock = value as SockId;
                        let Some(svc) = self.services.get_mut(&sock) else {
                            return;
                        };
                        if svc.got_banner {
                            return;
                        }
                        if svc.sent_get {
                            net.close(sock);
                        } else {
                            svc.sent_get = true;
                            net.send(sock, GET_REQUEST);
                            let wait = (self.p.banner_wait_ms * 1e6) as i64;
                            net.timer(me, net.now + wait, token(T_SERVICE_WAIT, sock as u64));
                        }
                    }
                    T_MQTT_QUIT => {
                        let sock = value as SockId;
                        if self.services.contains_key(&sock) && net.can_send(sock) {
                            net.send_mqtt(sock, &encode::empty(kind::DISCONNECT));
                            net.close(sock);
                        }
                    }
                    T_SERVICE_DONE if !self.service_phase_over && net.now < self.ctx.end => {
                        let socks: Vec<SockId> = self.services.keys().copied().collect();
                        for s in socks {
                            net.abort(s);
                        }
                        self.services.clear();
                        self.start_os(net, me);
                    }
                    T_OS => {
                        let (host, step) = (value >> 8, value & 0xff);
                        if net.now < self.ctx.end {
                            if let Some(&ip) = self.targets.get(host as usize) {
                                if let Some(gap) = self.os_probe(net, ip, step) {
                                    let next = token(T_OS, host << 8 | (step + 1));
                                    net.timer(me, net.now + gap, next);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            Note::Raw(RawSeen::Tcp {
                from,
                sport,
                dport,
                flags: fl,
            }) => {
                // Replies to the SYN scan come to base port + try number.
                if dport.wrapping_sub(self.base_port) > self.p.retries as u16 {
                    return;
                }
                let state = if fl & (flags::SYN | flags::ACK) == flags::SYN | flags::ACK {
                    PortState::Open
                } else if fl & flags::RST != 0 {
                    PortState::Closed
                } else {
                    return;
                };
                self.answered.entry((from, sport)).or_insert(state);
            }
            Note::Connected(sock) => {
                let Some(svc) = self.services.get(&sock) else {
                    return;
                };
                if svc.port == self.ctx.mqtt_port {
                    // mqtt-subscribe: CONNECT with its own client id.
                    let id = format!("nmap{}", self.ctx.rng.range(10_000, 99_999));
                    let m = encode::connect(&encode::Connect {
                        version: self.ctx.version,
                        client_id: id.as_bytes(),
                        keep_alive: 60,
                        clean: true,
                        ..encode::Connect::default()
                    });
                    net.send_mqtt(sock, &m);
                } else {
                    let wait = (self.p.banner_wait_ms * 1e6) as i64;
                    net.timer(me, net.now + wait, token(T_SERVICE_WAIT, sock as u64));
                }
            }
            Note::Data(sock) => self.service_data(net, me, sock),
            Note::PeerClosed(sock) => net.close(sock),
            Note::Reset(sock) | Note::Closed(sock) => self.service_gone(net, me, sock),
            _ => {}
        }
    }
}
