//! MQTT-malaria's flooding DoS (MQTTset): many connections at once, client ids
//! `beem.loadr-<host>-<pid>-<n>`, each publishing QoS 1 messages to
//! `mqtt-malaria/<client id>/data/<i>/<count>` and sending the next as soon as the PUBACK is
//! back (one message in flight), DISCONNECT after `messages`; rounds repeat until the window ends.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{drain_messages, AttackCtx};
use crate::apps::App;
use crate::encode::{self, kind};
use crate::net::{AppId, Net, Note, SockId};
use crate::rng::Rand;

/// Phases.
pub const PHASES: &[&str] = &["flood"];

/// Parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Parallel connections (malaria's `-P`).
    pub connections: u32,
    /// Messages per connection (malaria's `-n`).
    pub messages: u32,
    /// Payload length range, bytes.
    pub payload_min: usize,
    /// Longest payload.
    pub payload_max: usize,
    /// QoS.
    pub qos: u8,
    /// Pause after each PUBACK, ms (0 = as fast as the broker answers; MQTTset's 130,223
    /// packets in 5 min correspond to a broker answering ~10 messages/s per connection).
    pub think_ms: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            connections: 10,
            messages: 10_000,
            payload_min: 100,
            payload_max: 120,
            qos: 1,
            think_ms: 0.0,
        }
    }
}

struct Client {
    n: u32,
    sent: u32,
    ready: bool,
}

/// The running attack.
pub struct Attack {
    p: Params,
    ctx: AttackCtx,
    pid: u32,
    clients: HashMap<SockId, Client>,
    next_n: u32,
    me: AppId,
}

impl Attack {
    /// A new attack.
    pub fn new(p: Params, mut ctx: AttackCtx) -> Attack {
        let pid = 1000 + ctx.rng.below(60_000) as u32;
        Attack {
            p,
            ctx,
            pid,
            clients: HashMap::new(),
            next_n: 0,
            me: usize::MAX,
        }
    }

    fn client_id(&self, n: u32) -> String {
        format!("beem.loadr-{}-{}-{n}", self.ctx.host_name, self.pid)
    }

    fn publish(&mut self, net: &mut Net, sock: SockId) {
        let (n, i) = match self.clients.get_mut(&sock) {
            Some(c) => {
                c.sent += 1;
                (c.n, c.sent)
            }
            None => return,
        };
        if i > self.p.messages {
            net.send_mqtt(sock, &encode::empty(kind::DISCONNECT));
            net.close(sock);
            return;
        }
        let topic = format!(
            "mqtt-malaria/{}/data/{i}/{}",
            self.client_id(n),
            self.p.messages
        );
        let len = self.ctx.rng.range(
            self.p.payload_min as u64,
            self.p.payload_max.max(self.p.payload_min) as u64,
        ) as usize;
        let payload: Vec<u8> = (0..len)
            .map(|_| b"abcdefghijklmnopqrstuvwxyz0123456789"[self.ctx.rng.below(36) as usize])
            .collect();
        let m = encode::publish(
            self.ctx.version,
            topic.as_bytes(),
            &payload,
            self.p.qos.min(2),
            false,
            (i % 65535 + 1) as u16,
        );
        net.send_mqtt(sock, &m);
        if self.p.qos == 0 {
            // Nothing comes back: pace by the think time alone.
            let gap = (self.p.think_ms.max(0.05) * 1e6) as i64;
            net.timer(self.me, net.now + gap, sock as u64);
        }
    }

    fn open_round(&mut self, net: &mut Net, me: AppId) {
        let total = (f64::from(self.p.connections) * self.ctx.scale)
            .round()
            .max(1.0) as u32;
        for _ in 0..total {
            let sock = net.connect(
                me,
                self.ctx.host,
                self.ctx.target,
                self.ctx.mqtt_port,
                self.ctx.tags[0],
                None,
            );
            self.clients.insert(
                sock,
                Client {
                    n: self.next_n,
                    sent: 0,
                    ready: false,
                },
            );
            self.next_n += 1;
        }
    }
}

const ROUND: u64 = u64::MAX;

impl App for Attack {
    fn start(&mut self, net: &mut Net, me: AppId) {
        self.me = me;
        net.timer(me, self.ctx.start, ROUND);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Timer(ROUND) if net.now < self.ctx.end => self.open_round(net, me),
            Note::Timer(ROUND) => {}
            Note::Timer(sock) => {
                if net.now < self.ctx.end {
                    self.publish(net, sock as SockId);
                } else if self.clients.contains_key(&(sock as SockId)) {
                    net.close(sock as SockId);
                }
            }
            Note::Connected(sock) => {
                let Some(c) = self.clients.get(&sock) else {
                    return;
                };
                let id = self.client_id(c.n);
                let m = encode::connect(&encode::Connect {
                    version: self.ctx.version,
                    client_id: id.as_bytes(),
                    keep_alive: 60,
                    clean: true,
                    ..Default::default()
                });
                net.send_mqtt(sock, &m);
            }
            Note::Data(sock) => {
                for m in drain_messages(net, sock) {
                    let Some(c) = self.clients.get_mut(&sock) else {
                        break;
                    };
                    let go = match m.kind {
                        kind::CONNACK if !c.ready && m.return_code == 0 => {
                            c.ready = true;
                            true
                        }
                        kind::PUBACK => true,
                        kind::PUBREC => {
                            net.send_mqtt(sock, &encode::ack(kind::PUBREL, m.packet_id));
                            false
                        }
                        kind::PUBCOMP => true,
                        _ => false,
                    };
                    if go {
                        if self.p.think_ms > 0.0 || m.kind == kind::CONNACK && self.p.qos == 0 {
                            net.timer(me, net.now + (self.p.think_ms * 1e6) as i64, sock as u64);
                        } else if net.now < self.ctx.end {
                            self.publish(net, sock);
                        } else {
                            net.close(sock);
                        }
                    }
                }
            }
            Note::PeerClosed(sock) => net.close(sock),
            Note::Reset(sock) | Note::Closed(sock)
                if self.clients.remove(&sock).is_some()
                    && self.clients.is_empty()
                    && net.now < self.ctx.end =>
            {
                net.timer(me, net.now + 500_000_000, ROUND);
            }
            _ => {}
        }
    }
}
