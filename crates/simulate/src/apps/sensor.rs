//! An MQTT sensor (IoT-Flock / paho behaviour): connect, subscribe, publish on its timing, ping
//! every keep-alive, answer the QoS 1/2 handshakes in both directions, reconnect after a drop.

use std::collections::HashMap;

use mqtt_ids_mqtt::{parse_message, Decoded, Packet, ParseOptions};
use rand_chacha::ChaCha8Rng;

use super::App;
use crate::encode::{self, kind, MqttVersion};
use crate::net::{AppId, HostId, Net, Note, SockId, TagId};
use crate::rng::Rand;
use crate::scenario::{ConnectionMode, IntervalSpec, PayloadSpec, SensorSpec};

const CONNECT: u64 = 1;
const PUBLISH: u64 = 2;
const PING: u64 = 3;

/// A running sensor.
pub struct Sensor {
    spec: SensorSpec,
    host: HostId,
    broker: (std::net::Ipv4Addr, u16),
    version: MqttVersion,
    client_id: String,
    rng: ChaCha8Rng,
    tag: TagId,
    rate: f64,
    sock: Option<SockId>,
    connected: bool,
    next_id: u16,
    epoch: u64,
    me: AppId,
    /// Per-message connections in flight: the message each one carries.
    shots: HashMap<SockId, Vec<u8>>,
    pid: u32,
}

impl Sensor {
    /// A sensor on `host` talking to the broker at `broker`; `rate` multiplies its publish rate.
    pub fn new(
        spec: SensorSpec,
        host: HostId,
        broker: (std::net::Ipv4Addr, u16),
        version: MqttVersion,
        mut rng: ChaCha8Rng,
        tag: TagId,
        rate: f64,
    ) -> Sensor {
        let client_id = spec
            .client_id
            .clone()
            .unwrap_or_else(|| super::hex_id(&mut rng, 23));
        Sensor {
            spec,
            host,
            broker,
            version,
            client_id,
            rng,
            tag,
            rate: rate.max(1e-6),
            sock: None,
            connected: false,
            next_id: 0,
            epoch: 0,
            me: usize::MAX,
            shots: HashMap::new(),
            pid: 0,
        }
    }

    fn interval_ns(&mut self) -> i64 {
        let secs = match self.spec.interval {
            IntervalSpec::Periodic { period, jitter } => {
                period + jitter * (2.0 * self.rng.unit() - 1.0)
            }
            IntervalSpec::Random { max } => max * (1.0 - self.rng.unit()),
        };
        ((secs / self.rate).max(1e-4) * 1e9) as i64
    }

    fn payload(&mut self) -> Vec<u8> {
        match &self.spec.payload {
            PayloadSpec::Integer { min, max } => {
                let span = (max - min).max(0) as u64;
                (min + self.rng.range(0, span) as i64)
                    .to_string()
                    .into_bytes()
            }
            PayloadSpec::Choice { values } => {
                let i = self.rng.below(values.len() as u64) as usize;
                values[i].clone().into_bytes()
            }
            PayloadSpec::Text { min_len, max_len } => {
                let n = self
                    .rng
                    .range(*min_len as u64, (*max_len).max(*min_len) as u64)
                    as usize;
                (0..n)
                    .map(|_| {
                        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            [self.rng.below(62) as usize]
                    })
                    .collect()
            }
        }
    }

    // Timer tokens carry the connection epoch so a dropped connection's timers go quiet.
    fn token(&self, what: u64) -> u64 {
        self.epoch << 8 | what
    }

    fn on_data(&mut self, net: &mut Net, sock: SockId) {
        let mut buf = match net.sock_mut(sock) {
            Some(s) => std::mem::take(&mut s.rx),
            None => return,
        };
        let mut used = 0;
        let opts = ParseOptions::default();
        while used < buf.len() {
            match parse_message(&buf[used..], &opts) {
                Decoded::Incomplete(_) => break,
                Decoded::TooLarge(_) => {
                    used = buf.len();
                    break;
                }
                Decoded::Parsed { message, consumed } => {
                    used += consumed;
                    let qos = (message.header.first_byte >> 1) & 3;
                    match message.packet {
                        Packet::Connack(c) if !self.connected => {
                            if c.return_code != 0 {
                                net.close(sock);
                                continue;
                            }
                            self.connected = true;
                            if !self.spec.subscribe.is_empty() {
                                self.next_id = self.next_id.wrapping_add(1).max(1);
                                let filters: Vec<(&[u8], u8)> = self
                                    .spec
                                    .subscribe
                                    .iter()
                                    .map(|f| (f.as_bytes(), self.spec.qos))
                                    .collect();
                                let m = encode::subscribe(self.version, self.next_id, &filters);
                                net.send_mqtt(sock, &m);
                            }
                            let now = net.now;
                            let first = self.interval_ns();
                            net.timer(self.me, now + first, self.token(PUBLISH));
                            let ka = i64::from(self.spec.keep_alive) * 1_000_000_000;
                            if ka > 0 {
                                net.timer(self.me, now + ka, self.token(PING));
                            }
                        }
                        Packet::Publish(p) => match (qos, p.packet_id) {
                            (1, Some(id)) => {
                                net.send_mqtt(sock, &encode::ack(kind::PUBACK, id));
                            }
                            (2, Some(id)) => {
                                net.send_mqtt(sock, &encode::ack(kind::PUBREC, id));
                            }
                            _ => {}
                        },
                        Packet::Pubrec(a) => {
                            net.send_mqtt(sock, &encode::ack(kind::PUBREL, a.packet_id));
                        }
                        Packet::Pubrel(a) => {
                            net.send_mqtt(sock, &encode::ack(kind::PUBCOMP, a.packet_id));
                        }
                        _ => {}
                    }
                }
            }
        }
        buf.drain(..used.min(buf.len()));
        if let Some(s) = net.sock_mut(sock) {
            buf.extend_from_slice(&s.rx);
            s.rx = buf;
        }
    }

    fn per_message(&self) -> bool {
        self.spec.connection == ConnectionMode::PerMessage
    }

    /// The next message: a PUBLISH with the sensor's topic, payload and QoS.
    fn next_publish(&mut self) -> Vec<u8> {
        let payload = self.payload();
        let qos = self.spec.qos;
        let id = if qos > 0 {
            self.next_id = self.next_id.wrapping_add(1).max(1);
            self.next_id
        } else {
            0
        };
        encode::publish(
            self.version,
            self.spec.topic.as_bytes(),
            &payload,
            qos,
            false,
            id,
        )
    }

    /// A per-message connection's traffic: CONNACK → PUBLISH (→ DISCONNECT at once for QoS 0),
    /// PUBACK / PUBCOMP → DISCONNECT, PUBREC → PUBREL.
    fn shot_data(&mut self, net: &mut Net, sock: SockId) {
        for m in crate::attacks::drain_messages(net, sock) {
            let quit = match m.kind {
                kind::CONNACK if m.return_code != 0 => {
                    net.close(sock);
                    false
                }
                kind::CONNACK => {
                    let msg = self.shots.get(&sock).cloned().unwrap_or_default();
                    net.send_mqtt(sock, &msg);
                    self.spec.qos == 0
                }
                kind::PUBREC => {
                    net.send_mqtt(sock, &encode::ack(kind::PUBREL, m.packet_id));
                    false
                }
                kind::PUBACK | kind::PUBCOMP => true,
                _ => false,
            };
            if quit {
                net.send_mqtt(sock, &encode::empty(kind::DISCONNECT));
                net.close(sock);
            }
        }
    }

    fn reconnect_later(&mut self, net: &mut Net) {
        self.sock = None;
        self.connected = false;
        self.epoch += 1;
        let at = net.now + 5_000_000_000;
        net.timer(self.me, at, self.token(CONNECT));
    }
}

impl App for Sensor {
    fn start(&mut self, net: &mut Net, me: AppId) {
        self.me = me;
        // Sensors boot within the first second, in a random order.
        let at = net.now + (self.rng.unit() * 1e9) as i64;
        if self.per_message() {
            net.timer(me, at, self.token(PUBLISH));
        } else {
            net.timer(me, at, self.token(CONNECT));
        }
    }

    fn on(&mut self, net: &mut Net, _me: AppId, note: Note) {
        match note {
            Note::Timer(token) => {
                if token >> 8 != self.epoch {
                    return;
                }
                match token & 0xff {
                    CONNECT => {
                        let sock = net.connect(
                            self.me,
                            self.host,
                            self.broker.0,
                            self.broker.1,
                            self.tag,
                            None,
                        );
                        self.sock = Some(sock);
                    }
                    PUBLISH if self.per_message() => {
                        let sock = net.connect(
                            self.me,
                            self.host,
                            self.broker.0,
                            self.broker.1,
                            self.tag,
                            None,
                        );
                        let m = self.next_publish();
                        self.shots.insert(sock, m);
                        let next = net.now + self.interval_ns();
                        net.timer(self.me, next, self.token(PUBLISH));
                    }
                    PUBLISH => {
                        let Some(sock) = self.sock.filter(|_| self.connected) else {
                            return;
                        };
                        let payload = self.payload();
                        let qos = self.spec.qos;
                        let id = if qos > 0 {
                            self.next_id = self.next_id.wrapping_add(1).max(1);
                            self.next_id
                        } else {
                            0
                        };
                        let m = encode::publish(
                            self.version,
                            self.spec.topic.as_bytes(),
                            &payload,
                            qos,
                            false,
                            id,
                        );
                        net.send_mqtt(sock, &m);
                        let next = net.now + self.interval_ns();
                        net.timer(self.me, next, self.token(PUBLISH));
                    }
                    PING => {
                        let Some(sock) = self.sock.filter(|_| self.connected) else {
                            return;
                        };
                        net.send_mqtt(sock, &encode::empty(kind::PINGREQ));
                        let next = net.now + i64::from(self.spec.keep_alive) * 1_000_000_000;
                        net.timer(self.me, next, self.token(PING));
                    }
                    _ => {}
                }
            }
            Note::Connected(sock) if self.shots.contains_key(&sock) => {
                // mosquitto_pub's client id: mosqpub|<pid>-<host name>.
                self.pid = self.pid.wrapping_add(1);
                let id = format!("mosqpub|{}-{}", 1000 + self.pid % 30_000, self.spec.host);
                let creds = self.spec.credentials.clone();
                let m = encode::connect(&encode::Connect {
                    version: self.version,
                    client_id: id.as_bytes(),
                    keep_alive: self.spec.keep_alive,
                    clean: true,
                    username: creds.as_ref().map(|c| c.username.as_bytes()),
                    password: creds.as_ref().map(|c| c.password.as_bytes()),
                    will: None,
                });
                net.send_mqtt(sock, &m);
            }
            Note::Data(sock) if self.shots.contains_key(&sock) => self.shot_data(net, sock),
            Note::PeerClosed(sock) if self.shots.contains_key(&sock) => net.close(sock),
            Note::Reset(sock) | Note::Closed(sock) if self.shots.contains_key(&sock) => {
                self.shots.remove(&sock);
            }
            Note::Connected(sock) if Some(sock) == self.sock => {
                let creds = self.spec.credentials.clone();
                let m = encode::connect(&encode::Connect {
                    version: self.version,
                    client_id: self.client_id.as_bytes(),
                    keep_alive: self.spec.keep_alive,
                    clean: true,
                    username: creds.as_ref().map(|c| c.username.as_bytes()),
                    password: creds.as_ref().map(|c| c.password.as_bytes()),
                    will: None,
                });
                net.send_mqtt(sock, &m);
            }
            Note::Data(sock) if Some(sock) == self.sock => self.on_data(net, sock),
            Note::PeerClosed(sock) if Some(sock) == self.sock => {
                net.close(sock);
                self.reconnect_later(net);
            }
            Note::Reset(sock) if Some(sock) == self.sock => self.reconnect_later(net),
            Note::Closed(sock) if Some(sock) == self.sock => self.reconnect_later(net),
            _ => {}
        }
    }
}
