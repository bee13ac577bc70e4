//! MQTT credential brute force (MQTTSA in MQTTset, MQTT-PWN in MQTT-IoT-IDS2020): one TCP
//! connection per guess, CONNECT with the user name and the next password of the word list,
//! CONNACK 5 "not authorized" (3.1.1; 0x87 in 5.0), the tool closes first; next guess.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{drain_messages, AttackCtx};
use crate::apps::App;
use crate::encode::{self, kind};
use crate::net::{AppId, Net, Note, SockId};
use crate::rng::Rand;

/// Phases: every packet is a guess.
pub const PHASES: &[&str] = &["guess"];

/// The head of rockyou.txt (the word list MQTTset used), in its order.
pub const ROCKYOU_HEAD: &[&str] = &[
    "123456",
    "12345",
    "123456789",
    "password",
    "iloveyou",
    "princess",
    "1234567",
    "rockyou",
    "12345678",
    "abc123",
    "nicole",
    "daniel",
    "babygirl",
    "monkey",
    "lovely",
    "jessica",
    "654321",
    "michael",
    "ashley",
    "qwerty",
    "111111",
    "iloveu",
    "000000",
    "michelle",
    "tigger",
    "sunshine",
    "chocolate",
    "password1",
    "soccer",
    "anthony",
    "friends",
    "butterfly",
    "purple",
    "angel",
    "jordan",
    "liverpool",
    "justin",
    "loveme",
    "123123",
    "football",
    "secret",
    "andrea",
    "carlos",
    "jennifer",
    "joshua",
    "bubbles",
    "1234567890",
    "superman",
    "hannah",
    "amanda",
    "loveyou",
    "pretty",
    "basketball",
    "andrew",
    "angels",
    "tweety",
    "flower",
    "playboy",
    "hello",
    "elizabeth",
];

/// Parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// User names tried (each with every password).
    pub usernames: Vec<String>,
    /// Passwords, in order; empty = the head of rockyou.txt.
    pub wordlist: Vec<String>,
    /// Time between guesses, ms (MQTTset Table 3: 14,501 packets in 30 min at ~11 per guess
    /// is one guess every ~1.37 s).
    pub interval_ms: f64,
    /// Client id sent with each guess (empty: MQTTSA's empty id is refused by 3.1.1 brokers
    /// only without clean session, so it is accepted).
    pub client_id: String,
    /// Stop at the first accepted password.
    pub stop_on_success: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            usernames: vec!["user".into()],
            wordlist: Vec::new(),
            interval_ms: 1370.0,
            client_id: String::new(),
            stop_on_success: true,
        }
    }
}

/// The running attack.
pub struct Attack {
    p: Params,
    ctx: AttackCtx,
    next: usize,
    open: HashMap<SockId, usize>,
    done: bool,
}

impl Attack {
    /// A new attack.
    pub fn new(mut p: Params, ctx: AttackCtx) -> Attack {
        if p.wordlist.is_empty() {
            p.wordlist = ROCKYOU_HEAD.iter().map(|s| s.to_string()).collect();
        }
        if p.usernames.is_empty() {
            p.usernames.push("admin".into());
        }
        Attack {
            p,
            ctx,
            next: 0,
            open: HashMap::new(),
            done: false,
        }
    }

    fn guess(&self, i: usize) -> (&str, &str) {
        let n = self.p.wordlist.len();
        let user = &self.p.usernames[(i / n) % self.p.usernames.len()];
        (user, &self.p.wordlist[i % n])
    }
}

impl App for Attack {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.timer(me, self.ctx.start, 0);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Timer(_) => {
                if self.done || net.now >= self.ctx.end {
                    return;
                }
                let sock = net.connect(
                    me,
                    self.ctx.host,
                    self.ctx.target,
                    self.ctx.mqtt_port,
                    self.ctx.tags[0],
                    None,
                );
                self.open.insert(sock, self.next);
                self.next += 1;
                let gap = self.p.interval_ms / self.ctx.scale.max(1e-6);
                let jitter = 0.9 + 0.2 * self.ctx.rng.unit();
                net.timer(me, net.now + (gap * jitter * 1e6) as i64, 0);
            }
            Note::Connected(sock) => {
                let Some(&i) = self.open.get(&sock) else {
                    return;
                };
                let (user, pass) = self.guess(i);
                let m = encode::connect(&encode::Connect {
                    version: self.ctx.version,
                    client_id: self.p.client_id.as_bytes(),
                    keep_alive: 60,
                    clean: true,
                    username: Some(user.as_bytes()),
                    password: Some(pass.as_bytes()),
                    will: None,
                });
                net.send_mqtt(sock, &m);
            }
            Note::Data(sock) => {
                for m in drain_messages(net, sock) {
                    if m.kind == kind::CONNACK {
                        if m.return_code == 0 {
                            net.send_mqtt(sock, &encode::empty(kind::DISCONNECT));
                            self.done = self.p.stop_on_success;
                        }
                        net.close(sock);
                    }
                }
            }
            Note::PeerClosed(sock) => net.close(sock),
            Note::Reset(sock) | Note::Closed(sock) => {
                self.open.remove(&sock);
            }
            _ => {}
        }
    }
}
