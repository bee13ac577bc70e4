//! SSH password brute force (Sparta driving hydra's `ssh` module, Hindy et al.'s `sparta`):
//! `tasks` parallel connections; each does what libssh does for hydra — TCP connect, its
//! identification line, KEXINIT, KEX_ECDH_INIT (curve25519), NEWKEYS with the encrypted
//! SERVICE_REQUEST `ssh-userauth`, a `none` authentication request, then one encrypted
//! password USERAUTH_REQUEST per USERAUTH_FAILURE until the server (OpenSSH,
//! [`crate::apps::service::SshServer`]: 2 s PAM fail delay, MaxAuthTries 6) disconnects; then
//! the task reconnects with the next password. Packet sizes follow RFC 4253 §6 with
//! aes128-ctr + hmac-sha2-256-etm framing.
//!
//! Phase: `guess`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::mqtt_bruteforce::ROCKYOU_HEAD;
use super::AttackCtx;
use crate::apps::service::{
    encrypted_len, kex_ecdh_init, kexinit, ssh_packet, ssh_string, SshPiece, SshReader,
    DISCONNECT_LEN,
};
use crate::apps::App;
use crate::net::{AppId, Net, Note, SockId};

/// Phases.
pub const PHASES: &[&str] = &["guess"];

/// Parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// SSH port.
    pub port: u16,
    /// Parallel connections (hydra `-t`; hydra's default is 16).
    pub tasks: u32,
    /// User names (each with every password).
    pub usernames: Vec<String>,
    /// Passwords, in order; empty = the head of rockyou.txt. The list is cycled until the
    /// attack window ends.
    pub wordlist: Vec<String>,
    /// The client's identification line (hydra 9.0 on Kali links libssh 0.9).
    pub client_banner: String,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            port: 22,
            tasks: 16,
            usernames: vec!["root".into()],
            wordlist: Vec::new(),
            client_banner: "SSH-2.0-libssh_0.9.3".into(),
        }
    }
}

struct Conn {
    reader: SshReader,
    encrypted_seen: u32,
}

/// The running attack.
pub struct Attack {
    p: Params,
    ctx: AttackCtx,
    conns: HashMap<SockId, Conn>,
    next_guess: usize,
}

impl Attack {
    /// A new attack.
    pub fn new(mut p: Params, ctx: AttackCtx) -> Attack {
        if p.wordlist.is_empty() {
            p.wordlist = ROCKYOU_HEAD.iter().map(|s| s.to_string()).collect();
        }
        if p.usernames.is_empty() {
            p.usernames.push("root".into());
        }
        Attack {
            p,
            ctx,
            conns: HashMap::new(),
            next_guess: 0,
        }
    }

    fn open(&mut self, net: &mut Net, me: AppId) {
        if net.now >= self.ctx.end {
            return;
        }
        let sock = net.connect(
            me,
            self.ctx.host,
            self.ctx.target,
            self.p.port,
            self.ctx.tags[0],
            None,
        );
        self.conns.insert(
            sock,
            Conn {
                reader: SshReader::default(),
                encrypted_seen: 0,
            },
        );
    }

    fn userauth(&mut self, method_password: bool) -> Vec<u8> {
        let n = self.p.wordlist.len();
        let i = self.next_guess;
        let user = self.p.usernames[(i / n) % self.p.usernames.len()].clone();
        let mut p = vec![50u8]; // SSH_MSG_USERAUTH_REQUEST
        ssh_string(&mut p, user.as_bytes());
        ssh_string(&mut p, b"ssh-connection");
        if method_password {
            ssh_string(&mut p, b"password");
            p.push(0); // FALSE: not a password change
            ssh_string(&mut p, self.p.wordlist[i % n].as_bytes());
            self.next_guess += 1;
        } else {
            ssh_string(&mut p, b"none");
        }
        p
    }

    fn on_data(&mut self, net: &mut Net, sock: SockId) {
        let Some(conn) = self.conns.get_mut(&sock) else {
            return;
        };
        let mut rx = net
            .sock_mut(sock)
            .map(|s| std::mem::take(&mut s.rx))
            .unwrap_or_default();
        let pieces = conn.reader.read(&mut rx);
        if let Some(s) = net.sock_mut(sock) {
            rx.extend_from_slice(&s.rx);
            s.rx = rx;
        }
        for piece in pieces {
            let rng = &mut self.ctx.rng;
            match piece {
                SshPiece::Banner => {
                    let k = kexinit(rng, false);
                    net.send(sock, &ssh_packet(rng, &k, false));
                }
                SshPiece::Packet(Some(20), _) => {
                    let init = kex_ecdh_init(rng);
                    net.send(sock, &ssh_packet(rng, &init, false));
                }
                SshPiece::Packet(Some(21), _) => {
                    // NEWKEYS, then SERVICE_REQUEST "ssh-userauth" under the new keys.
                    let mut out = ssh_packet(rng, &[21], false);
                    let mut req = vec![5u8];
                    ssh_string(&mut req, b"ssh-userauth");
                    out.extend(ssh_packet(rng, &req, true));
                    net.send(sock, &out);
                }
                SshPiece::Packet(Some(_), _) => {}
                SshPiece::Packet(None, len) => {
                    let Some(conn) = self.conns.get_mut(&sock) else {
                        return;
                    };
                    conn.encrypted_seen += 1;
                    let first = conn.encrypted_seen == 1;
                    if len == encrypted_len(DISCONNECT_LEN) {
                        net.close(sock);
                        return;
                    }
                    // SERVICE_ACCEPT → "none" (libssh asks for the methods first); each
                    // USERAUTH_FAILURE → the next password.
                    let req = self.userauth(!first);
                    let pkt = ssh_packet(&mut self.ctx.rng, &req, true);
                    net.send(sock, &pkt);
                }
            }
        }
    }
}

impl App for Attack {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.timer(me, self.ctx.start, 0);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Timer(1) => self.open(net, me),
            Note::Timer(_) => {
                let tasks = (f64::from(self.p.tasks) * self.ctx.scale).round().max(1.0) as u32;
                for _ in 0..tasks {
                    self.open(net, me);
                }
            }
            Note::Connected(sock) => {
                let mut banner = self.p.client_banner.clone().into_bytes();
                banner.extend_from_slice(b"\r\n");
                net.send(sock, &banner);
            }
            Note::Data(sock) => self.on_data(net, sock),
            Note::PeerClosed(sock) => net.close(sock),
            // hydra's task reconnects for the next password.
            Note::Closed(sock) if self.conns.remove(&sock).is_some() => self.open(net, me),
            // Refused or reset: the task tries again a second later.
            Note::Reset(sock) if self.conns.remove(&sock).is_some() => {
                net.timer(me, net.now + 1_000_000_000, 1);
            }
            _ => {}
        }
    }
}
