//! What the MQTT dissector tells the detector beside the feature rows: per connection, the
//! client id and the last message types (context for alerts), and protocol findings (alerts of
//! their own). Bounded: at most [`MAX_CONNECTIONS`] connections are remembered, oldest first out.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use mqtt_ids_mqtt::{FindingEvent, FindingKind, Message, MessageEvent, Packet, Visitor};

use crate::sink::RowCtx;

/// Connections whose context is kept.
pub const MAX_CONNECTIONS: usize = 65_536;
/// Message types remembered per connection.
const LAST: usize = 8;
/// Bytes of a client id kept for alerts.
const CLIENT_ID_MAX: usize = 128;
/// Findings waiting to become alerts after one packet (more are counted and dropped).
const PENDING_MAX: usize = 256;

/// A connection's key: both endpoints in a fixed order, and the protocol.
pub type ConnKey = ((IpAddr, u16), (IpAddr, u16));

/// The key of the connection a row belongs to.
pub fn conn_key(ctx: &RowCtx) -> ConnKey {
    let a = (ctx.src, ctx.src_port);
    let b = (ctx.dst, ctx.dst_port);
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// MQTT context of one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnInfo {
    /// The CONNECT's client id (invalid UTF-8 shown with replacement characters; at most
    /// 128 bytes).
    pub client_id: Option<String>,
    last: [u8; LAST],
    n: usize,
}

impl ConnInfo {
    fn push(&mut self, packet_type: u8) {
        self.last[self.n % LAST] = packet_type;
        self.n += 1;
    }

    /// The last message types, oldest first.
    pub fn last_messages(&self) -> Vec<&'static str> {
        let k = self.n.min(LAST);
        (self.n - k..self.n)
            .map(|i| mqtt_ids_mqtt::PacketType::from_first_byte(self.last[i % LAST] << 4).name())
            .collect()
    }
}

/// The detector's [`Visitor`] on the MQTT tracker.
#[derive(Default)]
pub struct Observer {
    conns: HashMap<ConnKey, ConnInfo, foldhash::fast::RandomState>,
    order: VecDeque<ConnKey>,
    /// The packet being processed (messages and findings belong to its connection).
    pub(crate) current: Option<RowCtx>,
    /// Findings of the current packet, to be alerted on.
    pub(crate) pending: Vec<(FindingKind, RowCtx)>,
    /// Findings that could not be attributed to a packet (end of input) or overflowed.
    pub unattributed_findings: u64,
    /// Which findings alert (by [`FindingKind`] index).
    wanted: Vec<bool>,
}

impl Observer {
    /// An observer alerting on `findings`.
    pub fn new(findings: &[FindingKind]) -> Observer {
        let mut wanted = vec![false; FindingKind::COUNT];
        for f in findings {
            wanted[*f as usize] = true;
        }
        Observer {
            wanted,
            ..Observer::default()
        }
    }

    /// The context of a connection, when known.
    pub fn conn(&self, ctx: &RowCtx) -> Option<&ConnInfo> {
        self.conns.get(&conn_key(ctx))
    }

    fn finding(&mut self, kind: FindingKind) {
        if !self.wanted.get(kind as usize).copied().unwrap_or(false) {
            return;
        }
        match self.current {
            Some(ctx) if self.pending.len() < PENDING_MAX => self.pending.push((kind, ctx)),
            _ => self.unattributed_findings += 1,
        }
    }
}

impl Visitor for Observer {
    fn on_message(&mut self, event: &MessageEvent<'_>) {
        for kind in event.findings.iter() {
            self.finding(kind);
        }
        let Some(ctx) = self.current else {
            return;
        };
        let key = conn_key(&ctx);
        if !self.conns.contains_key(&key) {
            if self.conns.len() >= MAX_CONNECTIONS {
                if let Some(old) = self.order.pop_front() {
                    self.conns.remove(&old);
                }
            }
            self.order.push_back(key);
        }
        let info = self.conns.entry(key).or_default();
        info.push(event.packet_type().value());
        if let Some(Message {
            packet: Packet::Connect(c),
            ..
        }) = event.message
        {
            let id = c.client_id.as_bytes();
            let id = &id[..id.len().min(CLIENT_ID_MAX)];
            info.client_id = Some(String::from_utf8_lossy(id).into_owned());
        }
    }

    fn on_finding(&mut self, event: &FindingEvent) {
        self.finding(event.kind);
    }
}
