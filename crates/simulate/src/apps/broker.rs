//! The MQTT broker, with Mosquitto's observable behaviour: CONNACK (0, 1 unacceptable
//! protocol, 2 identifier rejected, 5 / 0x87 not authorized), the QoS 1 and 2 handshakes,
//! SUBACK, PINGRESP, fan-out to matching subscriptions, disconnection on a protocol violation
//! or after 1.5 × keep-alive of silence. Messages are parsed with crates/mqtt's codec.

use std::collections::HashMap;

use mqtt_ids_mqtt::{parse_message, Decoded, Packet, ParseOptions, ProtocolVersion};

use super::App;
use crate::encode::{self, kind, MqttVersion};
use crate::net::{AppId, HostId, Net, Note, SockId};
use crate::scenario::Credentials;

#[derive(Default)]
struct Session {
    connected: bool,
    version: MqttVersion,
    keep_alive_ns: i64,
    last_rx: i64,
    next_id: u16,
    closing: bool,
}

/// Broker state.
pub struct Broker {
    host: HostId,
    port: u16,
    auth: Option<Credentials>,
    sessions: HashMap<SockId, Session>,
    subs: Vec<(SockId, String, u8)>,
}

impl Broker {
    /// A broker on `host:port`; `auth` = the credentials it accepts (None: anonymous).
    pub fn new(host: HostId, port: u16, auth: Option<Credentials>) -> Broker {
        Broker {
            host,
            port,
            auth,
            sessions: HashMap::new(),
            subs: Vec::new(),
        }
    }

    fn drop_session(&mut self, sock: SockId) {
        self.sessions.remove(&sock);
        self.subs.retain(|(s, _, _)| *s != sock);
    }

    fn fail(&mut self, net: &mut Net, sock: SockId) {
        if let Some(s) = self.sessions.get_mut(&sock) {
            s.closing = true;
        }
        self.subs.retain(|(s, _, _)| *s != sock);
        net.close(sock);
    }

    fn on_data(&mut self, net: &mut Net, me: AppId, sock: SockId) {
        let mut buf = match net.sock_mut(sock) {
            Some(s) => std::mem::take(&mut s.rx),
            None => return,
        };
        let mut used = 0;
        while used < buf.len() {
            let Some(session) = self.sessions.get(&sock) else {
                break;
            };
            if session.closing {
                used = buf.len();
                break;
            }
            let opts = ParseOptions {
                version: Some(match session.version {
                    MqttVersion::V311 => ProtocolVersion::V3_1_1,
                    MqttVersion::V5 => ProtocolVersion::V5,
                }),
                max_message_len: 1 << 28,
            };
            match parse_message(&buf[used..], &opts) {
                Decoded::Incomplete(_) => break,
                Decoded::TooLarge(_) => {
                    used = buf.len();
                    self.fail(net, sock);
                    break;
                }
                Decoded::Parsed { message, consumed } => {
                    used += consumed;
                    if !message.findings.is_empty() {
                        // Mosquitto answers a protocol violation by closing the connection.
                        self.fail(net, sock);
                        used = buf.len();
                        break;
                    }
                    let now = net.now;
                    let session = self.sessions.get_mut(&sock).expect("checked");
                    session.last_rx = now;
                    let connected = session.connected;
                    match message.packet {
                        Packet::Connect(c) if !connected => {
                            let v = if c.protocol_level == 5 {
                                MqttVersion::V5
                            } else {
                                MqttVersion::V311
                            };
                            session.version = v;
                            let code = if !matches!(c.protocol_level, 3..=5) {
                                1
                            } else if c.client_id.as_bytes().is_empty() && !c.flags.clean_session()
                            {
                                2
                            } else if let Some(auth) = &self.auth {
                                let ok = c
                                    .username
                                    .is_some_and(|u| u.as_bytes() == auth.username.as_bytes())
                                    && c.password
                                        .is_some_and(|p| p.expose() == auth.password.as_bytes());
                                if ok {
                                    0
                                } else {
                                    v.not_authorized()
                                }
                            } else {
                                0
                            };
                            net.send_mqtt(sock, &encode::connack(v, false, code));
                            if code == 0 {
                                session.connected = true;
                                session.keep_alive_ns = i64::from(c.keep_alive) * 1_500_000_000;
                                if c.keep_alive > 0 {
                                    net.timer(me, now + session.keep_alive_ns, sock as u64);
                                }
                            } else {
                                // Refused: Mosquitto drops the client after the CONNACK.
                                session.closing = true;
                                used = buf.len();
                                net.close(sock);
                                break;
                            }
                        }
                        _ if !connected => {
                            // Anything but CONNECT first (or a second CONNECT) is a violation.
                            self.fail(net, sock);
                            used = buf.len();
                            break;
                        }
                        Packet::Connect(_) => {
                            self.fail(net, sock);
                            used = buf.len();
                            break;
                        }
                        Packet::Publish(p) => {
                            let qos = (message.header.first_byte >> 1) & 3;
                            let v = session.version;
                            match (qos, p.packet_id) {
                                (1, Some(id)) => {
                                    net.send_mqtt(sock, &encode::ack(kind::PUBACK, id));
                                }
                                (2, Some(id)) => {
                                    net.send_mqtt(sock, &encode::ack(kind::PUBREC, id));
                                }
                                _ => {}
                            }
                            let topic = p.topic.as_bytes().to_vec();
                            let payload = p.payload.to_vec();
                            let _ = v;
                            self.fan_out(net, &topic, &payload, qos);
                        }
                        Packet::Pubrel(a) => {
                            net.send_mqtt(sock, &encode::ack(kind::PUBCOMP, a.packet_id));
                        }
                        Packet::Pubrec(a) => {
                            net.send_mqtt(sock, &encode::ack(kind::PUBREL, a.packet_id));
                        }
                        Packet::Subscribe(s) => {
                            let v = session.version;
                            let mut codes = Vec::new();
                            for f in s.subscriptions.iter() {
                                let qos = f.options.qos_bits();
                                codes.push(qos.min(2));
                                if let Ok(text) = std::str::from_utf8(f.filter.as_bytes()) {
                                    self.subs.push((sock, text.to_string(), qos.min(2)));
                                }
                            }
                            net.send_mqtt(sock, &encode::suback(v, s.packet_id, &codes));
                        }
                        Packet::Pingreq => {
                            net.send_mqtt(sock, &encode::empty(kind::PINGRESP));
                        }
                        Packet::Disconnect(_) => {
                            self.fail(net, sock);
                            used = buf.len();
                            break;
                        }
                        _ => {}
                    }
                }
            }
        }
        buf.drain(..used.min(buf.len()));
        if let Some(s) = net.sock_mut(sock) {
            // Keep what is left of an incomplete message in front of newer bytes.
            buf.extend_from_slice(&s.rx);
            s.rx = buf;
        }
    }

    fn fan_out(&mut self, net: &mut Net, topic: &[u8], payload: &[u8], qos: u8) {
        let Ok(topic) = std::str::from_utf8(topic) else {
            return;
        };
        if self.subs.is_empty() {
            return;
        }
        let targets: Vec<(SockId, u8)> = self
            .subs
            .iter()
            .filter(|(_, f, _)| topic_matches(f, topic))
            .map(|(s, _, q)| (*s, (*q).min(qos)))
            .collect();
        for (sock, q) in targets {
            let Some(session) = self.sessions.get_mut(&sock) else {
                continue;
            };
            if !session.connected || session.closing {
                continue;
            }
            session.next_id = session.next_id.wrapping_add(1).max(1);
            let m = encode::publish(
                session.version,
                topic.as_bytes(),
                payload,
                q,
                false,
                session.next_id,
            );
            net.send_mqtt(sock, &m);
        }
    }
}

/// MQTT topic filter matching (3.1.1 §4.7): `+` one level, `#` the rest; `$` topics only
/// match filters that start with `$`.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') != filter.starts_with('$') {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl App for Broker {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.listen(self.host, self.port, me);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Accepted(sock) => {
                self.sessions.insert(sock, Session::default());
            }
            Note::Data(sock) => self.on_data(net, me, sock),
            Note::PeerClosed(sock) => {
                self.fail(net, sock);
            }
            Note::Reset(sock) | Note::Closed(sock) => self.drop_session(sock),
            Note::Timer(token) => {
                let sock = token as SockId;
                let now = net.now;
                if let Some(s) = self.sessions.get(&sock) {
                    if s.closing || s.keep_alive_ns == 0 {
                        return;
                    }
                    let due = s.last_rx + s.keep_alive_ns;
                    if now >= due {
                        self.fail(net, sock);
                    } else {
                        net.timer(me, due, token);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::topic_matches;

    #[test]
    fn filters_match_as_the_spec_examples() {
        // MQTT 3.1.1 §4.7.1.2–3 examples.
        assert!(topic_matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1"
        ));
        assert!(topic_matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(topic_matches("sport/#", "sport"));
        assert!(topic_matches("sport/+/player1", "sport/tennis/player1"));
        assert!(!topic_matches("sport/+", "sport/tennis/player1"));
        assert!(topic_matches("+/+", "/finance"));
        assert!(!topic_matches("#", "$SYS/broker/uptime"));
        assert!(topic_matches("$SYS/#", "$SYS/broker/uptime"));
    }
}
