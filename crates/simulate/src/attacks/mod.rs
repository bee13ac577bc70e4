//! Attack modules, one file each, with the observable behaviour of the tool the papers used.
//! Adding an attack = adding a module with a parameter struct, a `phases` list and an
//! [`crate::apps::App`], and one variant in [`AttackKind`].

use std::net::Ipv4Addr;

use mqtt_ids_mqtt::{parse_message, Decoded, Packet, ParseOptions};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::apps::App;
use crate::encode::MqttVersion;
use crate::net::{HostId, Net, SockId, TagId};

pub mod aggressive_scan;
pub mod flood_dos;
pub mod malformed;
pub mod mqtt_bruteforce;
pub mod nmap;
pub mod publish_flood;
pub mod slowite;
pub mod ssh_bruteforce;
pub mod udp_scan;

/// The attacks, each with its tool's parameters (TOML: `attack = { kind = "slowite", … }`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttackKind {
    /// MQTT credential brute force (MQTTSA, MQTT-PWN): CONNECT per password, CONNACK 5.
    MqttBruteforce(mqtt_bruteforce::Params),
    /// MQTT-malaria flooding DoS: many connections, each publishing as fast as it can.
    FloodDos(flood_dos::Params),
    /// IoT-Flock publish flood: one connection, large payloads.
    PublishFlood(publish_flood::Params),
    /// SlowITe: many connections with a long keep-alive, held open.
    Slowite(slowite::Params),
    /// MQTTSA malformed data: CONNECT/PUBLISH anomalies.
    Malformed(malformed::Params),
    /// nmap `-A`: SYN scan of the top 1,000 TCP ports, version detection, OS detection.
    AggressiveScan(aggressive_scan::Params),
    /// nmap `-sU`: UDP probes to the top 1,000 UDP ports; ICMP port unreachable, rate-limited.
    UdpScan(udp_scan::Params),
    /// Sparta / hydra SSH password brute force.
    SshBruteforce(ssh_bruteforce::Params),
}

/// What an attack module is given.
pub struct AttackCtx {
    /// Attacking host.
    pub host: HostId,
    /// Target address.
    pub target: Ipv4Addr,
    /// The broker's port (MQTT attacks).
    pub mqtt_port: u16,
    /// MQTT version to speak.
    pub version: MqttVersion,
    /// Attack start, ns.
    pub start: i64,
    /// Attack end, ns.
    pub end: i64,
    /// Intensity multiplier (`--scale`).
    pub scale: f64,
    /// The attack's own random stream.
    pub rng: ChaCha8Rng,
    /// One tag per phase, in the order of [`AttackKind::phases`].
    pub tags: Vec<TagId>,
    /// Name of the attacking host (client ids, banners).
    pub host_name: String,
    /// Addresses of every other host of the scenario (what a subnet scan finds).
    pub hosts: Vec<Ipv4Addr>,
}

impl AttackKind {
    /// Short name (`aggressive_scan`, `slowite`…).
    pub fn name(&self) -> &'static str {
        match self {
            AttackKind::MqttBruteforce(_) => "mqtt_bruteforce",
            AttackKind::FloodDos(_) => "flood_dos",
            AttackKind::PublishFlood(_) => "publish_flood",
            AttackKind::Slowite(_) => "slowite",
            AttackKind::Malformed(_) => "malformed",
            AttackKind::AggressiveScan(_) => "aggressive_scan",
            AttackKind::UdpScan(_) => "udp_scan",
            AttackKind::SshBruteforce(_) => "ssh_bruteforce",
        }
    }

    /// The attack's phases; each packet of the attack is tagged with one.
    pub fn phases(&self) -> &'static [&'static str] {
        match self {
            AttackKind::MqttBruteforce(_) => mqtt_bruteforce::PHASES,
            AttackKind::FloodDos(_) => flood_dos::PHASES,
            AttackKind::PublishFlood(_) => publish_flood::PHASES,
            AttackKind::Slowite(_) => slowite::PHASES,
            AttackKind::Malformed(_) => malformed::PHASES,
            AttackKind::AggressiveScan(_) => aggressive_scan::PHASES,
            AttackKind::UdpScan(_) => udp_scan::PHASES,
            AttackKind::SshBruteforce(_) => ssh_bruteforce::PHASES,
        }
    }

    /// Checks the parameters of the scan and SSH modules (rates, retries, task counts) so a
    /// scenario file cannot ask for an endless or unbounded run.
    pub fn validate(&self) -> Result<(), String> {
        let rate = |r: f64| {
            if r > 0.0 && r <= 1e7 {
                Ok(())
            } else {
                Err(format!("rate_pps must be in (0, 1e7], found {r}"))
            }
        };
        let ports = |spec: &str| {
            if spec.eq_ignore_ascii_case("top1000") || !nmap::expand(spec).is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "ports must be `top1000` or a list such as `1-1024,8080`, found `{spec}`"
                ))
            }
        };
        match self {
            AttackKind::AggressiveScan(p) => {
                rate(p.rate_pps)?;
                ports(&p.ports)?;
                if p.retries > 10 {
                    return Err(format!("retries must be at most 10, found {}", p.retries));
                }
            }
            AttackKind::UdpScan(p) => {
                rate(p.rate_pps)?;
                ports(&p.ports)?;
                if p.retries > 10 {
                    return Err(format!("retries must be at most 10, found {}", p.retries));
                }
            }
            AttackKind::SshBruteforce(p) if p.tasks == 0 || p.tasks > 10_000 => {
                return Err(format!("tasks must be in 1..=10000, found {}", p.tasks));
            }
            _ => {}
        }
        Ok(())
    }

    /// The running attack.
    pub fn build(&self, ctx: AttackCtx) -> Box<dyn App> {
        match self {
            AttackKind::MqttBruteforce(p) => Box::new(mqtt_bruteforce::Attack::new(p.clone(), ctx)),
            AttackKind::FloodDos(p) => Box::new(flood_dos::Attack::new(p.clone(), ctx)),
            AttackKind::PublishFlood(p) => Box::new(publish_flood::Attack::new(p.clone(), ctx)),
            AttackKind::Slowite(p) => Box::new(slowite::Attack::new(p.clone(), ctx)),
            AttackKind::Malformed(p) => Box::new(malformed::Attack::new(p.clone(), ctx)),
            AttackKind::AggressiveScan(p) => Box::new(aggressive_scan::Attack::new(p.clone(), ctx)),
            AttackKind::UdpScan(p) => Box::new(udp_scan::Attack::new(p.clone(), ctx)),
            AttackKind::SshBruteforce(p) => Box::new(ssh_bruteforce::Attack::new(p.clone(), ctx)),
        }
    }
}

/// One MQTT message an attack tool received.
#[derive(Clone, Copy, Debug)]
pub struct Incoming {
    /// Packet type.
    pub kind: u8,
    /// CONNACK return code (0 otherwise).
    pub return_code: u8,
    /// Packet identifier, when the type has one.
    pub packet_id: u16,
    /// QoS of a PUBLISH.
    pub qos: u8,
}

/// Takes the complete MQTT messages out of a socket's receive buffer.
pub fn drain_messages(net: &mut Net, sock: SockId) -> Vec<Incoming> {
    let Some(s) = net.sock_mut(sock) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut used = 0;
    let opts = ParseOptions::default();
    while used < s.rx.len() {
        match parse_message(&s.rx[used..], &opts) {
            Decoded::Parsed { message, consumed } => {
                used += consumed;
                let (return_code, packet_id) = match message.packet {
                    Packet::Connack(c) => (c.return_code, 0),
                    _ => (0, message.packet_id().unwrap_or(0)),
                };
                out.push(Incoming {
                    kind: message.header.first_byte >> 4,
                    return_code,
                    packet_id,
                    qos: (message.header.first_byte >> 1) & 3,
                });
            }
            Decoded::Incomplete(_) => break,
            Decoded::TooLarge(_) => {
                used = s.rx.len();
            }
        }
    }
    s.rx.drain(..used);
    out
}
