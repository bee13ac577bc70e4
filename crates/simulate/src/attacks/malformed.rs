//! MQTTSA's malformed-data test (MQTTset): one connection per probe, each carrying one
//! anomaly in a CONNECT or PUBLISH — odd topics (wildcards, empty, invalid UTF-8, `$`), bad
//! fixed-header flags (QoS 3, SUBSCRIBE without 0010), reserved CONNECT flags, a wrong protocol
//! name or level, remaining lengths that lie, messages before the CONNACK — plus MQTTSA's
//! information gathering (SUBSCRIBE `#` and `$SYS/#`). The broker answers or drops each.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{drain_messages, AttackCtx};
use crate::apps::App;
use crate::encode::{self, kind, MqttVersion};
use crate::net::{AppId, Net, Note, SockId};

/// Phases: the information-gathering probes and the malformed messages.
pub const PHASES: &[&str] = &["gather", "malformed"];

/// Parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Time between probes, ms.
    pub interval_ms: f64,
    /// How long a probe connection stays open, ms.
    pub hold_ms: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            interval_ms: 1000.0,
            hold_ms: 1000.0,
        }
    }
}

/// Names of the probes, in the order they run (then again).
pub const PROBES: &[&str] = &[
    "subscribe_all",
    "publish_before_connack",
    "dollar_client_id",
    "reserved_connect_flag",
    "bad_protocol_level",
    "bad_protocol_name",
    "publish_qos3",
    "wildcard_topic",
    "empty_topic",
    "invalid_utf8_topic",
    "length_too_long",
    "length_too_short",
    "subscribe_bad_flags",
    "will_qos_without_will",
    "publish_qos1_id0",
];

fn connect_with(v: MqttVersion, id: &[u8]) -> Vec<u8> {
    encode::connect(&encode::Connect {
        version: v,
        client_id: id,
        keep_alive: 60,
        clean: true,
        ..Default::default()
    })
}

/// The bytes of probe `i`: what is sent on connect, and what after a CONNACK 0; and whether it
/// is malformed (for the phase tag).
pub fn probe(v: MqttVersion, i: usize) -> (Vec<u8>, Option<Vec<u8>>, bool) {
    let good = connect_with(v, b"");
    match PROBES[i % PROBES.len()] {
        "subscribe_all" => (
            good,
            Some(encode::subscribe(v, 1, &[(b"#", 0), (b"$SYS/#", 0)])),
            false,
        ),
        "publish_before_connack" => {
            let mut m = connect_with(v, b"test");
            m.extend(encode::publish(v, b"Topic1", b"test", 0, false, 0));
            (m, None, true)
        }
        "dollar_client_id" => (
            connect_with(v, b"$"),
            Some(encode::publish(v, b"Topic1", b"test", 0, false, 0)),
            false,
        ),
        "reserved_connect_flag" => {
            let mut m = good;
            m[9] |= 0x01; // connect flags byte: fixed header (2) + "MQTT" (6) + level (1)
            (m, None, true)
        }
        "bad_protocol_level" => {
            let mut m = good;
            m[8] = 7;
            (m, None, true)
        }
        "bad_protocol_name" => {
            let mut m = good;
            m[7] = b'X';
            (m, None, true)
        }
        "publish_qos3" => {
            let mut p = encode::publish(v, b"Topic1", b"test", 1, false, 1);
            p[0] |= 0x06;
            (good, Some(p), true)
        }
        "wildcard_topic" => (
            good,
            Some(encode::publish(v, b"Topic1/#", b"test", 0, false, 0)),
            true,
        ),
        "empty_topic" => (
            good,
            Some(encode::publish(v, b"", b"test", 0, false, 0)),
            true,
        ),
        "invalid_utf8_topic" => (
            good,
            Some(encode::publish(
                v,
                &[0xc3, 0x28, b'a'],
                b"test",
                0,
                false,
                0,
            )),
            true,
        ),
        "length_too_long" => {
            let mut p = encode::publish(v, b"Topic1", b"test", 0, false, 0);
            p[1] += 10; // claims ten bytes that never come
            (good, Some(p), true)
        }
        "length_too_short" => {
            let mut p = encode::publish(v, b"Topic1", b"test", 0, false, 0);
            p[1] -= 3; // the last three payload bytes become a bogus next message
            (good, Some(p), true)
        }
        "subscribe_bad_flags" => {
            let mut s = encode::subscribe(v, 2, &[(b"Topic1", 0)]);
            s[0] = kind::SUBSCRIBE << 4;
            (good, Some(s), true)
        }
        "will_qos_without_will" => {
            let mut m = good;
            m[9] |= 0x08;
            (m, None, true)
        }
        "publish_qos1_id0" => (
            good,
            Some(encode::publish(v, b"Topic1", b"test", 1, false, 0)),
            true,
        ),
        _ => unreachable!("every probe is listed"),
    }
}

/// The running attack.
pub struct Attack {
    p: Params,
    ctx: AttackCtx,
    next: usize,
    open: HashMap<SockId, (Option<Vec<u8>>, bool)>,
    idx: HashMap<SockId, usize>,
}

impl Attack {
    /// A new attack.
    pub fn new(p: Params, ctx: AttackCtx) -> Attack {
        Attack {
            p,
            ctx,
            next: 0,
            open: HashMap::new(),
            idx: HashMap::new(),
        }
    }
}

const NEXT: u64 = u64::MAX;

fn count(net: &mut Net, tag: u32, bytes: &[u8], malformed: bool) {
    if !malformed {
        *net.mqtt_sent.entry((tag, bytes[0] >> 4)).or_insert(0) += 1;
    }
}

impl App for Attack {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.timer(me, self.ctx.start, NEXT);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Timer(NEXT) => {
                if net.now >= self.ctx.end {
                    return;
                }
                let (_, _, bad) = probe(self.ctx.version, self.next);
                let tag = self.ctx.tags[usize::from(bad)];
                let sock = net.connect(
                    me,
                    self.ctx.host,
                    self.ctx.target,
                    self.ctx.mqtt_port,
                    tag,
                    None,
                );
                self.open.insert(sock, (None, bad));
                let i = self.next;
                self.next += 1;
                if let Some(e) = self.open.get_mut(&sock) {
                    e.0 = probe(self.ctx.version, i).1;
                }
                self.idx.insert(sock, i);
                let gap = self.p.interval_ms / self.ctx.scale.max(1e-6);
                net.timer(me, net.now + (gap * 1e6) as i64, NEXT);
            }
            Note::Timer(sock) => {
                let sock = sock as SockId;
                if self.open.contains_key(&sock) {
                    net.close(sock);
                }
            }
            Note::Connected(sock) => {
                let Some(&i) = self.idx.get(&sock) else {
                    return;
                };
                let (first, _, bad) = probe(self.ctx.version, i);
                let tag = net.sock(sock).map_or(0, |s| s.tag);
                // A malformed CONNECT is not counted as a message: tshark flags it instead.
                let connect_bad = bad && self.open.get(&sock).is_some_and(|e| e.0.is_none());
                if connect_bad && PROBES[i % PROBES.len()] == "publish_before_connack" {
                    count(net, tag, &first, false);
                    *net.mqtt_sent.entry((tag, kind::PUBLISH)).or_insert(0) += 1;
                } else {
                    count(net, tag, &first, connect_bad);
                }
                net.send(sock, &first);
                net.timer(me, net.now + (self.p.hold_ms * 1e6) as i64, sock as u64);
            }
            Note::Data(sock) => {
                for m in drain_messages(net, sock) {
                    if m.kind == kind::CONNACK && m.return_code == 0 {
                        if let Some((Some(next), bad)) =
                            self.open.get_mut(&sock).map(|e| (e.0.take(), e.1))
                        {
                            let tag = net.sock(sock).map_or(0, |s| s.tag);
                            count(net, tag, &next, bad);
                            net.send(sock, &next);
                        }
                    }
                }
            }
            Note::PeerClosed(sock) => net.close(sock),
            Note::Reset(sock) | Note::Closed(sock) => {
                self.open.remove(&sock);
                self.idx.remove(&sock);
            }
            _ => {}
        }
    }
}
