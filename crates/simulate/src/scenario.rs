//! Scenarios: the network (hosts, links, broker, sensors, UDP streams, services) and the
//! recordings to make of it (normal operation, each attack with background traffic).
//! Everything here is public and deserialisable from TOML so other players (the `--live` mode)
//! can reuse it; see `docs/simulate.md` for the file format.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::attacks::AttackKind;
use crate::encode::MqttVersion;

/// A whole testbed and what to record of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (file names, seeds).
    pub name: String,
    /// What it reproduces.
    #[serde(default)]
    pub description: String,
    /// Wall-clock time of the first capture's start, RFC 3339.
    pub start: String,
    /// Default length of each capture, seconds.
    pub duration: f64,
    /// MQTT version of every client.
    #[serde(default)]
    pub mqtt_version: MqttVersion,
    /// Class of traffic no attack causes (`normal` for Hindy, `legitimate` for MQTTset).
    #[serde(default = "default_benign")]
    pub benign_class: String,
    /// Hosts on the network.
    pub hosts: Vec<HostSpec>,
    /// The MQTT broker.
    pub broker: BrokerSpec,
    /// MQTT sensors.
    #[serde(default)]
    pub sensors: Vec<SensorSpec>,
    /// Extra UDP streams (e.g. a camera feed).
    #[serde(default)]
    pub streams: Vec<UdpStreamSpec>,
    /// Other TCP services (SSH, HTTP) that scans and brute force meet.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// The captures to write, in order.
    pub captures: Vec<CaptureSpec>,
}

fn default_benign() -> String {
    "legitimate".into()
}

/// Stack personality: TTL, TCP options and window, IP-id numbering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// Linux (TTL 64, timestamps, window scale 7, per-connection IP id).
    #[default]
    Linux,
    /// Windows 10 (TTL 128, no timestamps, window scale 8, one IP-id counter).
    Windows,
    /// macOS (TTL 64, timestamps, window scale 6, IP id 0).
    Macos,
}

impl Os {
    /// Initial TTL.
    pub fn ttl(self) -> u8 {
        match self {
            Os::Windows => 128,
            _ => 64,
        }
    }
    /// Whether the stack offers TCP timestamps.
    pub fn timestamps(self) -> bool {
        self != Os::Windows
    }
    /// Window-scale shift offered on SYN.
    pub fn window_scale(self) -> u8 {
        match self {
            Os::Linux => 7,
            Os::Windows => 8,
            Os::Macos => 6,
        }
    }
    /// Window field of a SYN.
    pub fn syn_window(self) -> u16 {
        match self {
            Os::Macos => 65535,
            _ => 64240,
        }
    }
    /// Window field after the handshake (already shifted).
    pub fn scaled_window(self) -> u16 {
        match self {
            Os::Linux => 502,
            Os::Windows => 1026,
            Os::Macos => 4096,
        }
    }
    /// IP-id numbering.
    pub fn ip_id_mode(self) -> crate::net::IpIdMode {
        match self {
            Os::Linux => crate::net::IpIdMode::PerSocket,
            Os::Windows => crate::net::IpIdMode::Global,
            Os::Macos => crate::net::IpIdMode::Zero,
        }
    }
}

/// One host.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Name other entries refer to.
    pub name: String,
    /// IPv4 address.
    pub ip: Ipv4Addr,
    /// MAC address `aa:bb:cc:dd:ee:ff`; default 08:00:27 (VirtualBox) + the address's last 3 bytes.
    #[serde(default)]
    pub mac: Option<String>,
    /// Stack personality.
    #[serde(default)]
    pub os: Os,
    /// The host's link to the switch where the capture is taken.
    #[serde(default)]
    pub link: LinkSpec,
    /// Delayed-ACK timeout, ms (0: every segment acknowledged at once, as the MQTTset
    /// captures show). Default 40 (Linux's minimum delayed-ACK time).
    #[serde(default = "default_ack_delay")]
    pub ack_delay_ms: f64,
    /// Time an application takes to answer, ms.
    #[serde(default = "default_latency")]
    pub app_latency_ms: f64,
    /// Processing delay of the host's stack, added to every packet it sends (kernel,
    /// scheduler, hypervisor), drawn per packet; the default is a loaded VM's.
    #[serde(default)]
    pub stack_delay: StackDelaySpec,
}

/// Log-normal per-packet delay between an application or the kernel handing a packet over and
/// the packet leaving the host: `median · exp(sigma · Z)`, Z standard normal, capped at `max_us`.
/// Packets of a host still leave in the order they were handed over (one transmit queue), so a
/// TCP stream is never reordered. The defaults (median 100 µs, sigma 0.8: 90th percentile
/// ≈ 280 µs, 99th ≈ 640 µs, cap 10 ms) are those of a loaded virtual machine; `median_us = 0`
/// turns the delay off.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackDelaySpec {
    /// Median delay, µs.
    #[serde(default = "default_stack_median")]
    pub median_us: f64,
    /// Standard deviation of the delay's logarithm.
    #[serde(default = "default_stack_sigma")]
    pub sigma: f64,
    /// Largest delay, µs.
    #[serde(default = "default_stack_max")]
    pub max_us: f64,
}

fn default_stack_median() -> f64 {
    100.0
}
fn default_stack_sigma() -> f64 {
    0.8
}
fn default_stack_max() -> f64 {
    10_000.0
}

impl Default for StackDelaySpec {
    fn default() -> Self {
        StackDelaySpec {
            median_us: default_stack_median(),
            sigma: default_stack_sigma(),
            max_us: default_stack_max(),
        }
    }
}

fn default_ack_delay() -> f64 {
    40.0
}
fn default_latency() -> f64 {
    0.04
}

impl HostSpec {
    /// The MAC address, given or derived.
    pub fn mac_bytes(&self) -> Result<[u8; 6], String> {
        match &self.mac {
            None => {
                let o = self.ip.octets();
                Ok([0x08, 0x00, 0x27, o[1], o[2], o[3]])
            }
            Some(text) => {
                let parts: Vec<u8> = text
                    .split(':')
                    .map(|p| u8::from_str_radix(p, 16))
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("host {}: `{text}` is not a MAC address", self.name))?;
                parts
                    .try_into()
                    .map_err(|_| format!("host {}: `{text}` is not a MAC address", self.name))
            }
        }
    }
}

/// A link between a host and the switch.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One-way delay, ms.
    #[serde(default = "default_delay")]
    pub delay_ms: f64,
    /// Probability that a packet is dropped (each direction), e.g. 0.002 for 0.2 %.
    #[serde(default)]
    pub loss: f64,
    /// Rate, Mbit/s.
    #[serde(default = "default_bw")]
    pub bandwidth_mbps: f64,
}

fn default_delay() -> f64 {
    0.1
}
fn default_bw() -> f64 {
    100.0
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec {
            delay_ms: default_delay(),
            loss: 0.0,
            bandwidth_mbps: default_bw(),
        }
    }
}

/// User name and password.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// The MQTT broker (Mosquitto's observable behaviour).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSpec {
    /// Host name.
    pub host: String,
    /// TCP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Accepted credentials; `None` = anonymous access (authentication off).
    #[serde(default)]
    pub auth: Option<Credentials>,
}

fn default_port() -> u16 {
    1883
}

/// How a sensor's payloads look.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PayloadSpec {
    /// A decimal integer in `min..=max` as text (temperature, humidity).
    Integer {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// One of the given texts (door open/closed, motion 0/1).
    Choice {
        /// Values.
        values: Vec<String>,
    },
    /// Random alphanumeric text of a length in `min_len..=max_len` (Hindy's sensors).
    Text {
        /// Shortest.
        min_len: usize,
        /// Longest.
        max_len: usize,
    },
}

/// When a sensor publishes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IntervalSpec {
    /// Every `period` seconds (± `jitter`).
    Periodic {
        /// Seconds.
        period: f64,
        /// Uniform jitter, seconds.
        #[serde(default)]
        jitter: f64,
    },
    /// After a random time uniform in (0, `max`] seconds, again and again (MQTTset's "random").
    Random {
        /// Seconds.
        max: f64,
    },
}

/// One MQTT sensor: a client that publishes, and possibly subscribes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorSpec {
    /// Name.
    pub name: String,
    /// Host it runs on.
    pub host: String,
    /// Client identifier; default 23 random hex characters (as paho / IoT-Flock).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Topic it publishes to.
    pub topic: String,
    /// Payloads.
    pub payload: PayloadSpec,
    /// Timing.
    pub interval: IntervalSpec,
    /// QoS of its publishes (0, 1, 2).
    #[serde(default)]
    pub qos: u8,
    /// Topic filters it subscribes to (empty: publisher only).
    #[serde(default)]
    pub subscribe: Vec<String>,
    /// Keep-alive, seconds; PINGREQ is sent every keep-alive.
    #[serde(default = "default_keep_alive")]
    pub keep_alive: u16,
    /// Credentials to connect with (when the broker requires them).
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// One long-lived connection (`persistent`, IoT-Flock / paho) or a new connection for each
    /// message (`per_message`: CONNECT, PUBLISH, DISCONNECT, as `mosquitto_pub` in a loop).
    #[serde(default)]
    pub connection: ConnectionMode,
}

/// How a sensor uses its TCP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMode {
    /// Connect once, publish on it, ping at the keep-alive, reconnect after a drop.
    #[default]
    Persistent,
    /// Connect, publish one message (and finish its QoS handshake), DISCONNECT, close.
    PerMessage,
}

fn default_keep_alive() -> u16 {
    60
}

/// A constant-rate UDP stream (VLC's camera feed: MPEG-TS over RTP).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpStreamSpec {
    /// Name.
    pub name: String,
    /// Sending host.
    pub from: String,
    /// Receiving host.
    pub to: String,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// UDP payload bytes per datagram.
    pub payload_len: usize,
    /// Datagrams per second.
    pub rate_pps: f64,
}

/// What a service answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// OpenSSH: banner, key exchange, password authentication that fails.
    Ssh,
    /// An HTTP server answering any request with a small page.
    Http,
}

/// A TCP service on a host.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Kind.
    pub kind: ServiceKind,
}

/// One capture file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSpec {
    /// File stem (`normal`, `scan_A`, `slowite`…).
    pub name: String,
    /// Length, seconds (default: the scenario's).
    #[serde(default)]
    pub duration: Option<f64>,
    /// Whether sensors and streams run (true: attacks happen over normal operation).
    #[serde(default = "default_true")]
    pub background: bool,
    /// Credentials the broker requires during this capture (overrides the broker's; the
    /// sensors then log in with them). MQTTset's brute-force capture needs one.
    #[serde(default)]
    pub broker_auth: Option<Credentials>,
    /// Attacks during this capture.
    #[serde(default)]
    pub attacks: Vec<AttackSpec>,
}

fn default_true() -> bool {
    true
}

/// One attack: who, on whom, when, as what class, and the tool's parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackSpec {
    /// Ground-truth class of its traffic (the dataset's label).
    pub class: String,
    /// Attacking host.
    pub attacker: String,
    /// Target host.
    pub target: String,
    /// Start, seconds after the capture starts.
    #[serde(default)]
    pub start: f64,
    /// Length, seconds (default: until the capture ends).
    #[serde(default)]
    pub duration: Option<f64>,
    /// The attack and its parameters.
    pub attack: AttackKind,
}

impl Scenario {
    /// A built-in scenario: `hindy2020` or `mqttset2020`.
    pub fn builtin(name: &str) -> Option<Scenario> {
        match name {
            "hindy2020" => Some(crate::builtin::hindy2020()),
            "mqttset2020" => Some(crate::builtin::mqttset2020()),
            _ => None,
        }
    }

    /// Names of the built-in scenarios.
    pub const BUILTIN: [&'static str; 2] = ["hindy2020", "mqttset2020"];

    /// Parses a TOML scenario; errors name the line and column.
    pub fn from_toml(text: &str) -> Result<Scenario, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        s.validate()?;
        Ok(s)
    }

    /// Reads a TOML scenario file.
    pub fn from_file(path: &std::path::Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read the scenario: {e}", path.display()))?;
        Scenario::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The scenario as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Checks references and values; the message says what is wrong and where.
    pub fn validate(&self) -> Result<(), String> {
        crate::builtin::parse_start(&self.start)?;
        if !(self.duration > 0.0 && self.duration.is_finite()) {
            return Err(format!(
                "duration must be > 0 seconds, found {}",
                self.duration
            ));
        }
        let mut ips = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for h in &self.hosts {
            if !names.insert(h.name.as_str()) {
                return Err(format!("host `{}` is defined twice", h.name));
            }
            if !ips.insert(h.ip) {
                return Err(format!("host `{}`: address {} is used twice", h.name, h.ip));
            }
            h.mac_bytes()?;
            let d = &h.stack_delay;
            if ![d.median_us, d.sigma, d.max_us]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
            {
                return Err(format!(
                    "host `{}`: stack_delay median_us, sigma and max_us must be finite and >= 0",
                    h.name
                ));
            }
            if !(0.0..=1.0).contains(&h.link.loss) {
                return Err(format!("host `{}`: loss must be in 0..1", h.name));
            }
            if h.link.bandwidth_mbps <= 0.0 || h.link.delay_ms < 0.0 {
                return Err(format!(
                    "host `{}`: bandwidth must be > 0 and delay >= 0",
                    h.name
                ));
            }
        }
        let need = |what: &str, name: &str| -> Result<(), String> {
            if self.host(name).is_none() {
                Err(format!(
                    "{what} refers to host `{name}`, which is not in [[hosts]]"
                ))
            } else {
                Ok(())
            }
        };
        need("the broker", &self.broker.host)?;
        for s in &self.sensors {
            need(&format!("sensor `{}`", s.name), &s.host)?;
            if s.qos > 2 {
                return Err(format!("sensor `{}`: qos must be 0, 1 or 2", s.name));
            }
            match &s.interval {
                IntervalSpec::Periodic { period, .. } if *period <= 0.0 => {
                    return Err(format!("sensor `{}`: period must be > 0", s.name))
                }
                IntervalSpec::Random { max } if *max <= 0.0 => {
                    return Err(format!("sensor `{}`: max must be > 0", s.name))
                }
                _ => {}
            }
            if let PayloadSpec::Choice { values } = &s.payload {
                if values.is_empty() {
                    return Err(format!("sensor `{}`: choice needs values", s.name));
                }
            }
        }
        for s in &self.streams {
            need(&format!("stream `{}`", s.name), &s.from)?;
            need(&format!("stream `{}`", s.name), &s.to)?;
            if s.rate_pps <= 0.0 || s.payload_len > 1472 {
                return Err(format!(
                    "stream `{}`: rate must be > 0 and payload at most 1472 bytes",
                    s.name
                ));
            }
        }
        for s in &self.services {
            need("a service", &s.host)?;
        }
        if self.captures.is_empty() {
            return Err("the scenario has no [[captures]]".into());
        }
        let sensor_hosts: std::collections::HashSet<&str> =
            self.sensors.iter().map(|s| s.host.as_str()).collect();
        for c in &self.captures {
            if c.name.is_empty() || c.name.contains(['/', '\\']) || c.name.starts_with('.') {
                return Err(format!("capture name `{}` is not a file stem", c.name));
            }
            for a in &c.attacks {
                need(&format!("an attack in capture `{}`", c.name), &a.attacker)?;
                need(&format!("an attack in capture `{}`", c.name), &a.target)?;
                if a.attacker == self.broker.host || sensor_hosts.contains(a.attacker.as_str()) {
                    return Err(format!(
                        "capture `{}`: attacker `{}` also runs the broker or a sensor; give the \
                         attacker its own host so its traffic can be labelled by address",
                        c.name, a.attacker
                    ));
                }
                if a.class.is_empty() || a.class.contains(',') {
                    return Err(format!("capture `{}`: bad class `{}`", c.name, a.class));
                }
                a.attack
                    .validate()
                    .map_err(|e| format!("capture `{}`, attack {}: {e}", c.name, a.class))?;
            }
        }
        Ok(())
    }
}
