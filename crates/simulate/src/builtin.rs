//! The built-in scenarios: the papers' testbeds as published.
//!
//! `mqttset2020` — Vaccari et al. 2020: broker 10.16.100.73:1883 (Mosquitto, no
//! authentication), the ten sensors of Table 2 with their addresses and topics, MQTT 3.1.1;
//! attacks of Table 3. Where Table 2 and the published capture disagree the capture wins and
//! docs/simulate.md says so: the "random" motion, smoke and door sensors publish about once a
//! second in `benign-5mb` (2,761 PUBLISH in 2,761 s each), the periodic ones every 60 s
//! (temperature, humidity: 47 in 2,761 s), light ~172 s, fan ~120 s; every client pings each
//! 60 s. The attack hosts are those of the attack captures (192.168.1.90 macOS, 192.168.1.100,
//! 10.16.120.44).
//!
//! `hindy2020` — Hindy et al. 2020: twelve sensors, a broker, a camera feed over UDP, a Kali
//! attacker at 192.168.2.5, link loss 0.2 %, 1 % and 0.13 % on the three emulated links (see
//! [`hindy2020`] for what is published and what is chosen).

use crate::attacks::{self, AttackKind};
use crate::scenario::*;

/// Parses the scenario's RFC 3339 start into ns since the epoch.
pub fn parse_start(text: &str) -> Result<i64, String> {
    parse_rfc3339(text).ok_or_else(|| {
        format!("start `{text}` is not an RFC 3339 time such as 2020-05-22T11:40:00Z")
    })
}

fn parse_rfc3339(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d, hh, mm, ss) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    if !(1970..=2105).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || hh > 23
        || mm > 59
        || ss > 59
    {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000)
}

fn host(name: &str, ip: [u8; 4], os: Os) -> HostSpec {
    HostSpec {
        name: name.into(),
        ip: ip.into(),
        mac: None,
        os,
        link: LinkSpec::default(),
        ack_delay_ms: 40.0,
        app_latency_ms: 0.04,
        stack_delay: Default::default(),
    }
}

fn sensor(
    name: &str,
    host: &str,
    topic: &str,
    payload: PayloadSpec,
    interval: IntervalSpec,
    subscribe: &[&str],
) -> SensorSpec {
    SensorSpec {
        name: name.into(),
        host: host.into(),
        client_id: None,
        topic: topic.into(),
        payload,
        interval,
        qos: 0,
        subscribe: subscribe.iter().map(|s| s.to_string()).collect(),
        keep_alive: 60,
        credentials: None,
        connection: ConnectionMode::Persistent,
    }
}

fn periodic(period: f64) -> IntervalSpec {
    IntervalSpec::Periodic {
        period,
        jitter: period * 0.01,
    }
}

fn attack(class: &str, attacker: &str, target: &str, start: f64, attack: AttackKind) -> AttackSpec {
    AttackSpec {
        class: class.into(),
        attacker: attacker.into(),
        target: target.into(),
        start,
        duration: None,
        attack,
    }
}

/// MQTTset (Vaccari et al. 2020).
pub fn mqttset2020() -> Scenario {
    let mut hosts = vec![host("broker", [10, 16, 100, 73], Os::Linux)];
    let table2: [(&str, [u8; 4]); 10] = [
        ("temperature", [192, 168, 0, 151]),
        ("light", [192, 168, 0, 150]),
        ("humidity", [192, 168, 0, 152]),
        ("motion1", [192, 168, 0, 154]),
        ("co_gas", [192, 168, 0, 155]),
        ("smoke", [192, 168, 0, 180]),
        ("fan_speed", [192, 168, 0, 173]),
        ("door_lock", [192, 168, 0, 176]),
        ("fan_sensor", [192, 168, 0, 178]),
        ("motion2", [192, 168, 0, 174]),
    ];
    for (name, ip) in table2 {
        hosts.push(host(name, ip, Os::Linux));
    }
    hosts.push(host("attacker", [192, 168, 1, 90], Os::Macos));
    hosts.push(host("flooder", [192, 168, 1, 100], Os::Linux));
    hosts.push(host("slowite", [10, 16, 120, 44], Os::Linux));
    for h in &mut hosts {
        // The published captures acknowledge every segment at once (quick ACKs).
        h.ack_delay_ms = 0.0;
    }
    let binary = || PayloadSpec::Choice {
        values: vec!["0".into(), "1".into()],
    };
    let sensors = vec![
        sensor(
            "temperature",
            "temperature",
            "Temperature",
            PayloadSpec::Integer { min: -50, max: 150 },
            periodic(60.0),
            &[],
        ),
        sensor(
            "light",
            "light",
            "Light",
            PayloadSpec::Integer { min: 0, max: 1000 },
            periodic(172.0),
            &["Light Intensity"],
        ),
        sensor(
            "humidity",
            "humidity",
            "Humidity",
            PayloadSpec::Integer { min: 0, max: 100 },
            periodic(60.0),
            &[],
        ),
        sensor(
            "motion1",
            "motion1",
            "Movement",
            binary(),
            periodic(1.05),
            &["Movement"],
        ),
        sensor(
            "co_gas",
            "co_gas",
            "CO-Gas",
            PayloadSpec::Integer { min: 0, max: 1000 },
            IntervalSpec::Random { max: 3600.0 },
            &[],
        ),
        sensor(
            "smoke",
            "smoke",
            "Smoke",
            binary(),
            periodic(1.05),
            &["Smoke"],
        ),
        sensor(
            "fan_speed",
            "fan_speed",
            "Fan",
            PayloadSpec::Integer { min: 0, max: 5 },
            periodic(120.0),
            &["Fan Speed"],
        ),
        sensor(
            "door_lock",
            "door_lock",
            "Door",
            binary(),
            periodic(1.05),
            &["Door Lock"],
        ),
        sensor(
            "fan_sensor",
            "fan_sensor",
            "Fan",
            binary(),
            periodic(60.0),
            &[],
        ),
        sensor(
            "motion2",
            "motion2",
            "Movement",
            binary(),
            IntervalSpec::Random { max: 3600.0 },
            &["Movement"],
        ),
    ];
    let b = "broker";
    let capture = |name: &str, attacks: Vec<AttackSpec>| CaptureSpec {
        name: name.into(),
        duration: None,
        background: true,
        broker_auth: None,
        attacks,
    };
    let mut bruteforce = capture(
        "bruteforce",
        vec![attack(
            "bruteforce",
            "attacker",
            b,
            5.0,
            AttackKind::MqttBruteforce(attacks::mqtt_bruteforce::Params {
                interval_ms: 1370.0,
                ..Default::default()
            }),
        )],
    );
    // The brute-force capture needs a broker that checks passwords; the sensors know theirs.
    bruteforce.broker_auth = Some(Credentials {
        username: "user".into(),
        password: "S3nsor!pass".into(),
    });
    Scenario {
        name: "mqttset2020".into(),
        description: "MQTTset (Vaccari et al., Sensors 2020): IoT-Flock sensors of Table 2, broker 10.16.100.73:1883, the attacks of Table 3".into(),
        start: "2020-05-22T11:40:00Z".into(),
        duration: 60.0,
        mqtt_version: crate::encode::MqttVersion::V311,
        benign_class: "legitimate".into(),
        hosts,
        broker: BrokerSpec { host: b.into(), port: 1883, auth: None },
        sensors,
        streams: Vec::new(),
        services: Vec::new(),
        captures: vec![
            capture("legitimate", Vec::new()),
            capture("dos", vec![attack("dos", "attacker", b, 5.0, AttackKind::FloodDos(attacks::flood_dos::Params {
                think_ms: 100.0,
                ..Default::default()
            }))]),
            capture("flood", vec![attack("flood", "flooder", b, 5.0, AttackKind::PublishFlood(Default::default()))]),
            capture("slowite", vec![attack("slowite", "slowite", b, 5.0, AttackKind::Slowite(Default::default()))]),
            capture("malformed", vec![attack("malformed", "attacker", b, 5.0, AttackKind::Malformed(Default::default()))]),
            bruteforce,
        ],
    }
}

/// MQTT-IoT-IDS2020 (Hindy et al. 2020).
///
/// Published: twelve MQTT sensors (Tiny Core Linux), a broker, a camera feed over UDP from
/// VLC (Ubuntu camera and feed server), a Kali attacker at 192.168.2.5 (the dataset's
/// description), three link emulators dropping 0.2 %, 1 % and 0.13 % of packets; five
/// recordings `normal`, `scan_A`, `scan_sU`, `sparta`, `mqtt_bruteforce`, each attack over the
/// running normal traffic. Not published, chosen here and said so in docs/simulate.md: the other
/// addresses (192.168.2.10 broker, .11–.22 sensors, .30 camera, .31 feed server), which
/// emulator sits where (sensors 1–6 behind the 0.2 % one, 7–12 behind 1 %, the camera pair behind
/// 0.13 %), the sensors' timing and sizes, the camera's rate. Each sensor opens one connection per
/// message (CONNECT, PUBLISH, DISCONNECT, as `mosquitto_pub` does): Table 2's normal file has
/// 12.3 packets per bi-directional flow and two uni-flows per bi-flow, which is what such
/// connections give and a long-lived connection cannot.
pub fn hindy2020() -> Scenario {
    let mut hosts = vec![host("broker", [192, 168, 2, 10], Os::Linux)];
    let creds = Credentials {
        username: "sensor".into(),
        password: "Mqtt!Sens0r".into(),
    };
    let mut sensors = Vec::new();
    for i in 1..=12u8 {
        let name = format!("sensor{i}");
        let mut h = host(&name, [192, 168, 2, 10 + i], Os::Linux);
        h.link.loss = if i <= 6 { 0.002 } else { 0.01 };
        hosts.push(h);
        // "The length of the messages is different between sensors": 8–32 characters for the
        // first, up to 96–120 for the twelfth; random text, as "randomly generated".
        let min = 8 * usize::from(i);
        let mut s = sensor(
            &name,
            &name,
            &format!("sensors/{name}"),
            PayloadSpec::Text {
                min_len: min,
                max_len: min + 24,
            },
            IntervalSpec::Random { max: 1.0 },
            &[],
        );
        s.connection = ConnectionMode::PerMessage;
        sensors.push(s);
    }
    for (name, ip) in [
        ("camera", [192, 168, 2, 30]),
        ("camera_server", [192, 168, 2, 31]),
    ] {
        let mut h = host(name, ip, Os::Linux);
        h.link.loss = 0.0013;
        hosts.push(h);
    }
    hosts.push(host("attacker", [192, 168, 2, 5], Os::Linux));
    let b = "broker";
    let capture = |name: &str, attacks: Vec<AttackSpec>| CaptureSpec {
        name: name.into(),
        duration: None,
        background: true,
        broker_auth: None,
        attacks,
    };
    let start = 10.0;
    Scenario {
        name: "hindy2020".into(),
        description: "MQTT-IoT-IDS2020 (Hindy et al. 2020): 12 MQTT sensors, a broker, a VLC camera feed over UDP, a Kali attacker at 192.168.2.5, link loss 0.2 / 1 / 0.13 %; nmap -A, nmap -sU, Sparta SSH brute force, MQTT-PWN brute force".into(),
        start: "2020-02-10T10:00:00Z".into(),
        duration: 120.0,
        mqtt_version: crate::encode::MqttVersion::V311,
        benign_class: "normal".into(),
        hosts,
        broker: BrokerSpec {
            host: b.into(),
            port: 1883,
            auth: Some(creds),
        },
        sensors,
        streams: vec![UdpStreamSpec {
            name: "camera".into(),
            from: "camera".into(),
            to: "camera_server".into(),
            src_port: 50_004,
            dst_port: 5004,
            // RTP header + 7 MPEG-TS packets (VLC's default TS-over-RTP datagram).
            payload_len: 12 + 7 * 188,
            rate_pps: 20.0,
        }],
        services: vec![ServiceSpec {
            host: b.into(),
            port: 22,
            kind: ServiceKind::Ssh,
        }],
        captures: vec![
            capture("normal", Vec::new()),
            capture(
                "scan_A",
                vec![attack(
                    "scan_A",
                    "attacker",
                    b,
                    start,
                    AttackKind::AggressiveScan(Default::default()),
                )],
            ),
            capture(
                "scan_sU",
                vec![attack(
                    "scan_sU",
                    "attacker",
                    b,
                    start,
                    AttackKind::UdpScan(Default::default()),
                )],
            ),
            capture(
                "sparta",
                vec![attack(
                    "sparta",
                    "attacker",
                    b,
                    start,
                    AttackKind::SshBruteforce(Default::default()),
                )],
            ),
            capture(
                "mqtt_bruteforce",
                vec![attack(
                    "mqtt_bruteforce",
                    "attacker",
                    b,
                    start,
                    AttackKind::MqttBruteforce(attacks::mqtt_bruteforce::Params {
                        usernames: vec!["admin".into()],
                        interval_ms: 100.0,
                        ..Default::default()
                    }),
                )],
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_start_times() {
        // date -u -d 2020-05-22T11:40:00Z +%s → 1590147600
        assert_eq!(
            parse_start("2020-05-22T11:40:00Z").unwrap(),
            1_590_147_600_000_000_000
        );
        assert!(parse_start("2020-13-22T11:40:00Z").is_err());
        assert!(parse_start("yesterday").is_err());
    }

    #[test]
    fn scan_parameters_are_checked() {
        let mut s = hindy2020();
        if let AttackKind::UdpScan(p) = &mut s.captures[2].attacks[0].attack {
            p.rate_pps = 0.0;
        }
        assert!(s.validate().unwrap_err().contains("rate_pps"));
        let mut s = hindy2020();
        if let AttackKind::AggressiveScan(p) = &mut s.captures[1].attacks[0].attack {
            p.ports = "http".into();
        }
        assert!(s.validate().unwrap_err().contains("ports"));
    }

    #[test]
    fn builtins_validate() {
        for name in Scenario::BUILTIN {
            if let Some(s) = Scenario::builtin(name) {
                s.validate().unwrap();
                // And survive a TOML round trip unchanged.
                let again = Scenario::from_toml(&s.to_toml()).unwrap();
                assert_eq!(again.to_toml(), s.to_toml());
            }
        }
    }
}
