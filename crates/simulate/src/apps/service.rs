//! TCP services that scans and brute force meet: an OpenSSH server (banner, key exchange,
//! the `none` request answered at once, password authentication that fails after a delay,
//! disconnection after MaxAuthTries) and a
//! small HTTP server. SSH packets follow RFC 4253 §6 (length, padding length, payload,
//! padding); after NEWKEYS they are "encrypted" (random bytes) with an encrypt-then-MAC
//! (hmac-sha2-256-etm) tag, so the packet length stays in clear as on the wire.

use std::collections::HashMap;

use rand_chacha::ChaCha8Rng;

use super::App;
use crate::net::{AppId, HostId, Net, Note, SockId};
use crate::rng::Rand;
use crate::scenario::{Scenario, ServiceKind};

/// The banner OpenSSH on Ubuntu 18.04 sends.
pub const SSH_SERVER_BANNER: &[u8] = b"SSH-2.0-OpenSSH_7.6p1 Ubuntu-4ubuntu0.3\r\n";
/// MAC length of hmac-sha2-256-etm@openssh.com.
pub const MAC_LEN: usize = 32;

fn name_list(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// An SSH_MSG_KEXINIT payload (RFC 4253 §7.1) with OpenSSH's (server) or libssh's (client)
/// algorithm lists.
pub fn kexinit(rng: &mut ChaCha8Rng, server: bool) -> Vec<u8> {
    let mut p = vec![20u8];
    rng.extend_bytes(&mut p, 16);
    let kex = if server {
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,diffie-hellman-group14-sha1"
    } else {
        "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1"
    };
    let hostkey = if server {
        "ssh-rsa,rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"
    } else {
        "ssh-ed25519,ecdsa-sha2-nistp256,ssh-rsa"
    };
    let cipher = "aes128-ctr,aes192-ctr,aes256-ctr";
    let mac = "hmac-sha2-256-etm@openssh.com,hmac-sha2-256,hmac-sha1";
    let comp = "none,zlib@openssh.com";
    for s in [kex, hostkey, cipher, cipher, mac, mac, comp, comp, "", ""] {
        name_list(&mut p, s);
    }
    p.push(0); // first_kex_packet_follows
    p.extend_from_slice(&[0; 4]);
    p
}

/// One SSH binary packet around `payload` (padding to a multiple of 16, at least 4 bytes);
/// `encrypted`: payload and padding replaced by random bytes and a MAC appended.
pub fn ssh_packet(rng: &mut ChaCha8Rng, payload: &[u8], encrypted: bool) -> Vec<u8> {
    // With EtM the length field is not part of the padded block (RFC 4253 §6 as amended by
    // OpenSSH's PROTOCOL); without it the whole packet is.
    let base = if encrypted {
        1 + payload.len()
    } else {
        5 + payload.len()
    };
    let mut pad = 16 - base % 16;
    if pad < 4 {
        pad += 16;
    }
    let len = 1 + payload.len() + pad;
    let mut out = Vec::with_capacity(4 + len + MAC_LEN);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    if encrypted {
        rng.extend_bytes(&mut out, len + MAC_LEN);
    } else {
        out.push(pad as u8);
        out.extend_from_slice(payload);
        rng.extend_bytes(&mut out, pad);
    }
    out
}

/// Splits what arrived into the peer's banner and SSH packets.
#[derive(Default)]
pub struct SshReader {
    /// The peer's banner line was read.
    pub banner_seen: bool,
    /// Packets from the peer carry a MAC (after its NEWKEYS).
    pub mac: bool,
}

/// One piece read by [`SshReader`].
pub enum SshPiece {
    /// The identification line.
    Banner,
    /// A binary packet: its message type when in clear, and its `packet_length` field.
    Packet(Option<u8>, usize),
}

/// An SSH string (RFC 4251 §5): length, then the bytes.
pub fn ssh_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// `n` random bytes.
pub fn random_bytes(rng: &mut ChaCha8Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    rng.extend_bytes(&mut out, n);
    out
}

/// SSH_MSG_KEX_ECDH_INIT (RFC 5656 §4) with a curve25519 public key Q_C.
pub fn kex_ecdh_init(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut p = vec![30u8];
    ssh_string(&mut p, &random_bytes(rng, 32));
    p
}

/// SSH_MSG_KEX_ECDH_REPLY (RFC 5656 §4): an ssh-ed25519 host key blob (RFC 8709 §4, 51 bytes),
/// Q_S (32 bytes) and an ssh-ed25519 signature blob (RFC 8709 §6, 83 bytes).
pub fn kex_ecdh_reply(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut key = Vec::with_capacity(51);
    ssh_string(&mut key, b"ssh-ed25519");
    ssh_string(&mut key, &random_bytes(rng, 32));
    let mut sig = Vec::with_capacity(83);
    ssh_string(&mut sig, b"ssh-ed25519");
    ssh_string(&mut sig, &random_bytes(rng, 64));
    let mut p = vec![31u8];
    ssh_string(&mut p, &key);
    ssh_string(&mut p, &random_bytes(rng, 32));
    ssh_string(&mut p, &sig);
    p
}

/// Length field of an encrypted packet around a payload of `payload_len` bytes (see
/// [`ssh_packet`]); a client tells a USERAUTH_FAILURE from a DISCONNECT by it.
pub fn encrypted_len(payload_len: usize) -> usize {
    let base = 1 + payload_len;
    let mut pad = 16 - base % 16;
    if pad < 4 {
        pad += 16;
    }
    1 + payload_len + pad
}

/// Payload length of the server's SSH_MSG_USERAUTH_FAILURE ("publickey,password", FALSE).
pub const USERAUTH_FAILURE_LEN: usize = 24;
/// Payload length of the server's SSH_MSG_DISCONNECT "Too many authentication failures".
pub const DISCONNECT_LEN: usize = 44;
/// Payload length of SSH_MSG_SERVICE_ACCEPT "ssh-userauth".
pub const SERVICE_ACCEPT_LEN: usize = 17;

impl SshReader {
    /// Takes complete pieces out of `rx`.
    pub fn read(&mut self, rx: &mut Vec<u8>) -> Vec<SshPiece> {
        let mut out = Vec::new();
        let mut used = 0;
        loop {
            let rest = &rx[used..];
            if !self.banner_seen {
                let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                    break;
                };
                used += end + 1;
                self.banner_seen = true;
                out.push(SshPiece::Banner);
                continue;
            }
            if rest.len() < 5 {
                break;
            }
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let total = 4 + len.min(35_000) + if self.mac { MAC_LEN } else { 0 };
            if rest.len() < total {
                break;
            }
            let ty = (!self.mac).then(|| rest[5]);
            used += total;
            out.push(SshPiece::Packet(ty, len));
            if ty == Some(21) {
                // After the peer's NEWKEYS its packets carry a MAC, from the very next one.
                self.mac = true;
            }
        }
        rx.drain(..used);
        out
    }
}

struct SshSession {
    reader: SshReader,
    packets: u32,
    failures: u32,
    client_newkeys: bool,
}

/// OpenSSH server behaviour.
pub struct SshServer {
    host: HostId,
    port: u16,
    rng: ChaCha8Rng,
    sessions: HashMap<SockId, SshSession>,
    /// Delay before a failed password is reported (PAM's fail delay), ns.
    pub fail_delay_ns: i64,
    /// MaxAuthTries.
    pub max_auth_tries: u32,
}

impl SshServer {
    /// A server on `host:port`.
    pub fn new(host: HostId, port: u16, rng: ChaCha8Rng) -> SshServer {
        SshServer {
            host,
            port,
            rng,
            sessions: HashMap::new(),
            fail_delay_ns: 2_000_000_000,
            max_auth_tries: 6,
        }
    }
}

impl App for SshServer {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.listen(self.host, self.port, me);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        match note {
            Note::Accepted(sock) => {
                self.sessions.insert(
                    sock,
                    SshSession {
                        reader: SshReader::default(),
                        packets: 0,
                        failures: 0,
                        client_newkeys: false,
                    },
                );
                net.send(sock, SSH_SERVER_BANNER);
            }
            Note::Data(sock) => {
                let Some(sess) = self.sessions.get_mut(&sock) else {
                    return;
                };
                let mut rx = net
                    .sock_mut(sock)
                    .map(|s| std::mem::take(&mut s.rx))
                    .unwrap_or_default();
                let pieces = sess.reader.read(&mut rx);
                if let Some(s) = net.sock_mut(sock) {
                    s.rx = rx;
                }
                for piece in pieces {
                    let sess = self.sessions.get_mut(&sock).expect("present");
                    match piece {
                        SshPiece::Banner => {
                            let k = kexinit(&mut self.rng, true);
                            net.send(sock, &ssh_packet(&mut self.rng, &k, false));
                        }
                        SshPiece::Packet(ty, _) => {
                            sess.packets += 1;
                            match ty {
                                Some(30) => {
                                    // KEX_ECDH_REPLY, then NEWKEYS.
                                    let reply = kex_ecdh_reply(&mut self.rng);
                                    let mut out = ssh_packet(&mut self.rng, &reply, false);
                                    out.extend(ssh_packet(&mut self.rng, &[21], false));
                                    net.send(sock, &out);
                                }
                                Some(21) => {
                                    sess.client_newkeys = true;
                                    sess.reader.mac = true;
                                }
                                None if sess.client_newkeys => {
                                    let sess_packets = sess.packets;
                                    if sess_packets == 4 {
                                        // SERVICE_ACCEPT "ssh-userauth".
                                        let p = ssh_packet(
                                            &mut self.rng,
                                            &[0; SERVICE_ACCEPT_LEN],
                                            true,
                                        );
                                        net.send(sock, &p);
                                    } else if sess_packets == 5 {
                                        // The client's "none" request (it asks for the
                                        // methods first): answered at once, not counted.
                                        let p = ssh_packet(
                                            &mut self.rng,
                                            &[0; USERAUTH_FAILURE_LEN],
                                            true,
                                        );
                                        net.send(sock, &p);
                                    } else {
                                        sess.failures += 1;
                                        let token =
                                            (sock as u64) << 8 | u64::from(sess.failures.min(255));
                                        net.timer(me, net.now + self.fail_delay_ns, token);
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
            Note::Timer(token) => {
                let sock = (token >> 8) as SockId;
                let Some(sess) = self.sessions.get(&sock) else {
                    return;
                };
                if sess.failures >= self.max_auth_tries {
                    // SSH_MSG_DISCONNECT "Too many authentication failures".
                    let p = ssh_packet(&mut self.rng, &[0; DISCONNECT_LEN], true);
                    net.send(sock, &p);
                    net.close(sock);
                } else {
                    // USERAUTH_FAILURE "publickey,password".
                    let p = ssh_packet(&mut self.rng, &[0; USERAUTH_FAILURE_LEN], true);
                    net.send(sock, &p);
                }
            }
            Note::PeerClosed(sock) => net.close(sock),
            Note::Reset(sock) | Note::Closed(sock) => {
                self.sessions.remove(&sock);
            }
            _ => {}
        }
    }
}

/// A minimal HTTP/1.0 server (what nmap's version probes meet on port 80).
pub struct HttpServer {
    host: HostId,
    port: u16,
}

impl App for HttpServer {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.listen(self.host, self.port, me);
    }

    fn on(&mut self, net: &mut Net, _me: AppId, note: Note) {
        match note {
            Note::Data(sock) => {
                let done = net
                    .sock(sock)
                    .is_some_and(|s| s.rx.windows(4).any(|w| w == b"\r\n\r\n"));
                if done {
                    let body = "<html><body><h1>It works!</h1></body></html>\n";
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nServer: Apache/2.4.29 (Ubuntu)\r\nContent-Length: {}\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    net.send(sock, resp.as_bytes());
                    net.close(sock);
                }
            }
            Note::PeerClosed(sock) => net.close(sock),
            _ => {}
        }
    }
}

/// Adds the scenario's services to `apps`.
pub fn add_services(
    scn: &Scenario,
    hosts: &HashMap<&str, HostId>,
    apps: &mut Vec<Box<dyn App>>,
    seed: u64,
    prefix: &str,
) {
    for s in &scn.services {
        let host = hosts[s.host.as_str()];
        match s.kind {
            ServiceKind::Ssh => {
                let r = crate::rng::derive(seed, &format!("{prefix}service/{}/{}", s.host, s.port));
                apps.push(Box::new(SshServer::new(host, s.port, r)));
            }
            ServiceKind::Http => apps.push(Box::new(HttpServer { host, port: s.port })),
        }
    }
}
