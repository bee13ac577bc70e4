//! nmap's UDP scan (`nmap -sU`, Hindy et al.'s `scan_sU`): nmap's top 1,000 UDP ports on every
//! target, in a random order, from one random source port (source port + try number on
//! retries), a random TTL in 37–59, a random IP id. Most probes are empty; ports with a payload in
//! nmap's `nmap-payloads` get it (53: DNS status request, 123: NTP request). A closed port
//! answers ICMP port unreachable — but Linux sends at most one per second per destination after
//! a burst of six (`icmp_ratelimit` = 1000 ms, `XRLIM_BURST_FACTOR` 6, modelled in
//! [`crate::net`]), so most probes go unanswered and are sent again `retries` times after
//! `retry_wait_ms`, as nmap retransmits probes it has no answer for.
//!
//! Phase: `probe`.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::nmap::{raw_ttl, scan_ports, TOP_UDP};
use super::AttackCtx;
use crate::apps::App;
use crate::net::{AppId, Net, Note, RawSeen};
use crate::rng::Rand;

/// Phases.
pub const PHASES: &[&str] = &["probe"];

/// Parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// `top1000` or a port list `1,3-4,…`.
    pub ports: String,
    /// Ports scanned besides.
    pub extra_ports: Vec<u16>,
    /// Scan every host of the scenario, not only the attack's target.
    pub all_hosts: bool,
    /// Probes per second.
    pub rate_pps: f64,
    /// Times an unanswered probe is sent again.
    pub retries: u32,
    /// Wait before unanswered probes are sent again, ms.
    pub retry_wait_ms: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            ports: "top1000".into(),
            extra_ports: Vec::new(),
            all_hosts: true,
            rate_pps: 400.0,
            retries: 1,
            retry_wait_ms: 1000.0,
        }
    }
}

/// nmap-payloads' DNSStatusRequest (udp 53).
const DNS_STATUS: &[u8] = &[0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// nmap-payloads' NTPRequest (udp 123): 48 bytes, transmit time c54f234b71b152f3.
const NTP_REQUEST: [u8; 48] = [
    0xe3, 0x00, 0x04, 0xfa, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc5, 0x4f, 0x23, 0x4b, 0x71, 0xb1,
    0x52, 0xf3,
];

/// The payload nmap sends to `port`.
pub fn payload(port: u16) -> Vec<u8> {
    match port {
        53 => DNS_STATUS.to_vec(),
        123 => NTP_REQUEST.to_vec(),
        _ => Vec::new(),
    }
}

/// The running scan.
pub struct Attack {
    p: Params,
    ctx: AttackCtx,
    targets: Vec<Ipv4Addr>,
    ports: Vec<u16>,
    base_port: u16,
    queue: Vec<(Ipv4Addr, u16)>,
    next: usize,
    tryno: u32,
    gap_ns: i64,
    closed: HashSet<(Ipv4Addr, u16)>,
}

const T_SEND: u64 = 1;
const T_PASS: u64 = 2;

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
        let ports = scan_ports(&p.ports, TOP_UDP, &p.extra_ports, &mut ctx.rng);
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
            closed: HashSet::new(),
        }
    }

    fn start_pass(&mut self, net: &mut Net, me: AppId) {
        self.queue.clear();
        for &port in &self.ports {
            for &ip in &self.targets {
                if !self.closed.contains(&(ip, port)) {
                    self.queue.push((ip, port));
                }
            }
        }
        self.next = 0;
        if !self.queue.is_empty() {
            net.timer(me, net.now, T_SEND);
        }
    }
}

impl App for Attack {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.set_raw_observer(self.ctx.host, me);
        net.timer(me, self.ctx.start, T_PASS);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Timer(T_PASS) if net.now < self.ctx.end => self.start_pass(net, me),
            Note::Timer(T_SEND) => {
                if net.now >= self.ctx.end {
                    return;
                }
                if let Some(&(ip, port)) = self.queue.get(self.next) {
                    self.next += 1;
                    let ip_id = self.ctx.rng.below(65536) as u16;
                    let ttl = raw_ttl(&mut self.ctx.rng);
                    net.send_udp(
                        net.now,
                        self.ctx.host,
                        self.base_port.wrapping_add(self.tryno as u16),
                        ip,
                        port,
                        payload(port),
                        self.ctx.tags[0],
                        ip_id,
                        Some(ttl),
                    );
                }
                if self.next < self.queue.len() {
                    net.timer(me, net.now + self.gap_ns, T_SEND);
                } else if self.tryno < self.p.retries {
                    self.tryno += 1;
                    let wait = (self.p.retry_wait_ms * 1e6) as i64;
                    net.timer(me, net.now + wait, T_PASS);
                }
            }
            Note::Raw(RawSeen::Icmp {
                from,
                icmp_type: 3,
                code: 3,
                quoted_dport,
            }) => {
                self.closed.insert((from, quoted_dport));
            }
            _ => {}
        }
    }
}
