//! MQTT 3.1.1 and 5.0 encoder for the messages the simulated clients, broker and attack tools
//! send (OASIS MQTT 3.1.1 §3, MQTT 5.0 §3). The crates/mqtt dissector reads every one of them
//! back in the tests below; the malformed-data attack builds its anomalies on top of these.

use serde::{Deserialize, Serialize};

/// The protocol version a client speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MqttVersion {
    /// MQTT 3.1.1 (protocol level 4), the papers' version.
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.0 (protocol level 5).
    #[serde(rename = "5.0")]
    V5,
}

impl MqttVersion {
    /// Protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            MqttVersion::V311 => 4,
            MqttVersion::V5 => 5,
        }
    }

    /// CONNACK code for bad credentials: 5 "not authorized" (3.1.1 §3.2.2.3) or 0x87
    /// "Not authorized" (5.0 §3.2.2.2).
    pub fn not_authorized(self) -> u8 {
        match self {
            MqttVersion::V311 => 5,
            MqttVersion::V5 => 0x87,
        }
    }
}

/// Control packet types (3.1.1 §2.2.1).
pub mod kind {
    /// CONNECT.
    pub const CONNECT: u8 = 1;
    /// CONNACK.
    pub const CONNACK: u8 = 2;
    /// PUBLISH.
    pub const PUBLISH: u8 = 3;
    /// PUBACK.
    pub const PUBACK: u8 = 4;
    /// PUBREC.
    pub const PUBREC: u8 = 5;
    /// PUBREL.
    pub const PUBREL: u8 = 6;
    /// PUBCOMP.
    pub const PUBCOMP: u8 = 7;
    /// SUBSCRIBE.
    pub const SUBSCRIBE: u8 = 8;
    /// SUBACK.
    pub const SUBACK: u8 = 9;
    /// PINGREQ.
    pub const PINGREQ: u8 = 12;
    /// PINGRESP.
    pub const PINGRESP: u8 = 13;
    /// DISCONNECT.
    pub const DISCONNECT: u8 = 14;
}

/// Upper-case name of a packet type (as `mqtt-ids inspect` prints them).
pub fn type_name(packet_type: u8) -> &'static str {
    match packet_type {
        1 => "CONNECT",
        2 => "CONNACK",
        3 => "PUBLISH",
        4 => "PUBACK",
        5 => "PUBREC",
        6 => "PUBREL",
        7 => "PUBCOMP",
        8 => "SUBSCRIBE",
        9 => "SUBACK",
        10 => "UNSUBSCRIBE",
        11 => "UNSUBACK",
        12 => "PINGREQ",
        13 => "PINGRESP",
        14 => "DISCONNECT",
        15 => "AUTH",
        _ => "RESERVED",
    }
}

/// Appends the variable-length "remaining length" (1–4 bytes, 3.1.1 §2.2.3).
pub fn remaining_length(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len().min(65535) as u16).to_be_bytes());
    out.extend_from_slice(&s[..s.len().min(65535)]);
}

/// A fixed header (`first` = type << 4 | flags) around `body`.
pub fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(first);
    remaining_length(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// CONNECT fields.
#[derive(Clone, Debug, Default)]
pub struct Connect<'a> {
    /// Version.
    pub version: MqttVersion,
    /// Client identifier.
    pub client_id: &'a [u8],
    /// Keep alive, seconds.
    pub keep_alive: u16,
    /// Clean session / clean start.
    pub clean: bool,
    /// User name.
    pub username: Option<&'a [u8]>,
    /// Password.
    pub password: Option<&'a [u8]>,
    /// Will (topic, message, QoS, retain).
    pub will: Option<(&'a [u8], &'a [u8], u8, bool)>,
}

/// CONNECT (3.1.1 §3.1).
pub fn connect(c: &Connect<'_>) -> Vec<u8> {
    let mut body = Vec::with_capacity(32 + c.client_id.len());
    string(&mut body, b"MQTT");
    body.push(c.version.level());
    let mut flags = 0u8;
    if c.clean {
        flags |= 0x02;
    }
    if let Some((_, _, qos, retain)) = c.will {
        flags |= 0x04 | (qos & 3) << 3;
        if retain {
            flags |= 0x20;
        }
    }
    if c.password.is_some() {
        flags |= 0x40;
    }
    if c.username.is_some() {
        flags |= 0x80;
    }
    body.push(flags);
    body.extend_from_slice(&c.keep_alive.to_be_bytes());
    if c.version == MqttVersion::V5 {
        body.push(0); // properties
    }
    string(&mut body, c.client_id);
    if let Some((topic, message, _, _)) = c.will {
        if c.version == MqttVersion::V5 {
            body.push(0); // will properties
        }
        string(&mut body, topic);
        string(&mut body, message);
    }
    if let Some(u) = c.username {
        string(&mut body, u);
    }
    if let Some(p) = c.password {
        string(&mut body, p);
    }
    frame(kind::CONNECT << 4, &body)
}

/// CONNACK (3.1.1 §3.2) with a return / reason code.
pub fn connack(version: MqttVersion, session_present: bool, code: u8) -> Vec<u8> {
    let mut body = vec![u8::from(session_present), code];
    if version == MqttVersion::V5 {
        body.push(0);
    }
    frame(kind::CONNACK << 4, &body)
}

/// PUBLISH (3.1.1 §3.3); `packet_id` is required for QoS 1 and 2.
pub fn publish(
    version: MqttVersion,
    topic: &[u8],
    payload: &[u8],
    qos: u8,
    retain: bool,
    packet_id: u16,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(topic.len() + payload.len() + 5);
    string(&mut body, topic);
    if qos > 0 {
        body.extend_from_slice(&packet_id.to_be_bytes());
    }
    if version == MqttVersion::V5 {
        body.push(0);
    }
    body.extend_from_slice(payload);
    frame(
        kind::PUBLISH << 4 | (qos & 3) << 1 | u8::from(retain),
        &body,
    )
}

/// PUBACK, PUBREC, PUBREL (flags 0010) or PUBCOMP with a packet identifier; MQTT 5.0 omits the
/// reason code for success (5.0 §3.4.2.1).
pub fn ack(packet_type: u8, packet_id: u16) -> Vec<u8> {
    let flags = if packet_type == kind::PUBREL { 0x02 } else { 0 };
    frame(packet_type << 4 | flags, &packet_id.to_be_bytes())
}

/// SUBSCRIBE (3.1.1 §3.8; fixed-header flags 0010).
pub fn subscribe(version: MqttVersion, packet_id: u16, filters: &[(&[u8], u8)]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    if version == MqttVersion::V5 {
        body.push(0);
    }
    for (f, qos) in filters {
        string(&mut body, f);
        body.push(*qos);
    }
    frame(kind::SUBSCRIBE << 4 | 0x02, &body)
}

/// SUBACK (3.1.1 §3.9) with one granted QoS / reason code per filter.
pub fn suback(version: MqttVersion, packet_id: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    if version == MqttVersion::V5 {
        body.push(0);
    }
    body.extend_from_slice(codes);
    frame(kind::SUBACK << 4, &body)
}

/// PINGREQ, PINGRESP or a 3.1.1 DISCONNECT: a type with an empty body.
pub fn empty(packet_type: u8) -> Vec<u8> {
    vec![packet_type << 4, 0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_ids_mqtt::{parse_message, Decoded, Packet, ParseOptions};

    fn parse(bytes: &[u8]) -> mqtt_ids_mqtt::Message<'_> {
        match parse_message(bytes, &ParseOptions::default()) {
            Decoded::Parsed { message, consumed } => {
                assert_eq!(consumed, bytes.len());
                assert!(message.findings.is_empty(), "{:?}", message.findings);
                message
            }
            other => panic!("not parsed: {other:?}"),
        }
    }

    #[test]
    fn remaining_length_boundaries() {
        // 3.1.1 Table 2.4: 127 → 7F, 128 → 80 01, 16383 → FF 7F, 268435455 → FF FF FF 7F.
        for (n, want) in [
            (0usize, vec![0u8]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (16_383, vec![0xff, 0x7f]),
            (16_384, vec![0x80, 0x80, 0x01]),
            (268_435_455, vec![0xff, 0xff, 0xff, 0x7f]),
        ] {
            let mut out = Vec::new();
            remaining_length(&mut out, n);
            assert_eq!(out, want, "{n}");
        }
    }

    #[test]
    fn connect_matches_the_mqttset_sensor_bytes() {
        // A 23-character client id and keep-alive 60 make the 35-byte body tshark shows for
        // MQTTset's sensors (`tshark -r benign-train.pcap -Y mqtt.msgtype==1 -T fields -e mqtt.len`).
        let m = connect(&Connect {
            client_id: b"2737c991dfe1433e8f75dd3",
            keep_alive: 60,
            clean: true,
            ..Connect::default()
        });
        assert_eq!(m[1], 35);
        let Packet::Connect(c) = parse(&m).packet else {
            panic!()
        };
        assert_eq!(c.keep_alive, 60);
        assert_eq!(c.protocol_level, 4);
        assert_eq!(c.client_id.as_bytes(), b"2737c991dfe1433e8f75dd3");
    }

    #[test]
    fn every_message_reads_back_in_both_versions() {
        for v in [MqttVersion::V311, MqttVersion::V5] {
            let opts = ParseOptions {
                version: Some(match v {
                    MqttVersion::V311 => mqtt_ids_mqtt::ProtocolVersion::V3_1_1,
                    MqttVersion::V5 => mqtt_ids_mqtt::ProtocolVersion::V5,
                }),
                ..ParseOptions::default()
            };
            let msgs = [
                connect(&Connect {
                    version: v,
                    client_id: b"c",
                    keep_alive: 65535,
                    clean: true,
                    username: Some(b"user"),
                    password: Some(b"123456"),
                    will: Some((b"w", b"gone", 1, true)),
                }),
                connack(v, false, v.not_authorized()),
                publish(v, b"Temperature", b"21", 0, false, 0),
                publish(v, b"a/b", &[7; 300], 1, true, 9),
                publish(v, b"a/b", b"x", 2, false, 10),
                ack(kind::PUBACK, 9),
                ack(kind::PUBREC, 10),
                ack(kind::PUBREL, 10),
                ack(kind::PUBCOMP, 10),
                subscribe(v, 5, &[(b"Movement", 0), (b"#", 2)]),
                suback(v, 5, &[0, 2]),
                empty(kind::PINGREQ),
                empty(kind::PINGRESP),
                empty(kind::DISCONNECT),
            ];
            for m in &msgs {
                match parse_message(m, &opts) {
                    Decoded::Parsed { message, consumed } => {
                        assert_eq!(consumed, m.len());
                        assert!(message.findings.is_empty(), "{v:?} {m:02x?}");
                        assert_eq!(message.packet_type() as u8, m[0] >> 4);
                    }
                    other => panic!("{v:?} {m:02x?}: {other:?}"),
                }
            }
        }
    }
}
