//! IoT-Flock's publish flood: one connection that publishes large payloads again and again
//! (MQTTset Table 3: 8.2 MB in 5 min, 613 packets as captured with segmentation offload).

use serde::{Deserialize, Serialize};

use super::{drain_messages, AttackCtx};
use crate::apps::App;
use crate::encode;
use crate::net::{AppId, Net, Note, SockId};
use crate::rng::Rand;

/// Phases.
pub const PHASES: &[&str] = &["flood"];

/// Parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Topic (IoT-Flock reused a sensor's topic).
    pub topic: String,
    /// Payload bytes per PUBLISH.
    pub payload_len: usize,
    /// Time between publishes, ms.
    pub interval_ms: f64,
    /// QoS.
    pub qos: u8,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            topic: "Temperature".into(),
            payload_len: 32_768,
            interval_ms: 1200.0,
            qos: 0,
        }
    }
}

/// The running attack.
pub struct Attack {
    p: Params,
    ctx: AttackCtx,
    sock: Option<SockId>,
    ready: bool,
    id: u16,
}

impl Attack {
    /// A new attack.
    pub fn new(p: Params, ctx: AttackCtx) -> Attack {
        Attack {
            p,
            ctx,
            sock: None,
            ready: false,
            id: 0,
        }
    }
}

impl App for Attack {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.timer(me, self.ctx.start, 0);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Timer(_) => {
                if net.now >= self.ctx.end {
                    if let Some(s) = self.sock.take() {
                        net.close(s);
                    }
                    return;
                }
                match (self.sock, self.ready) {
                    (None, _) => {
                        self.sock = Some(net.connect(
                            me,
                            self.ctx.host,
                            self.ctx.target,
                            self.ctx.mqtt_port,
                            self.ctx.tags[0],
                            None,
                        ));
                    }
                    (Some(sock), true) => {
                        let payload: Vec<u8> = (0..self.p.payload_len)
                            .map(|_| b'0' + self.ctx.rng.below(10) as u8)
                            .collect();
                        self.id = self.id.wrapping_add(1).max(1);
                        let m = encode::publish(
                            self.ctx.version,
                            self.p.topic.as_bytes(),
                            &payload,
                            self.p.qos.min(2),
                            false,
                            self.id,
                        );
                        net.send_mqtt(sock, &m);
                        let gap = self.p.interval_ms / self.ctx.scale.max(1e-6);
                        net.timer(me, net.now + (gap * 1e6) as i64, 0);
                    }
                    _ => {}
                }
            }
            Note::Connected(sock) if Some(sock) == self.sock => {
                let id = crate::apps::hex_id(&mut self.ctx.rng, 23);
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
                    if m.kind == encode::kind::CONNACK && m.return_code == 0 && !self.ready {
                        self.ready = true;
                        net.timer(me, net.now, 0);
                    }
                }
            }
            Note::PeerClosed(sock) => net.close(sock),
            Note::Reset(sock) | Note::Closed(sock) if Some(sock) == self.sock => {
                self.sock = None;
                self.ready = false;
                net.timer(me, net.now + 1_000_000_000, 0);
            }
            _ => {}
        }
    }
}
