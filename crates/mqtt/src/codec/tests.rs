//! Hand-built fixtures for every control packet type at every protocol level, each finding the
//! codec raises, and every truncation length.

use super::*;
use crate::finding::FindingKind as K;

const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1);
const V4: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1_1);
const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

fn opts(version: Option<ProtocolVersion>) -> ParseOptions {
    ParseOptions {
        version,
        ..ParseOptions::default()
    }
}

/// Parse a whole message that must be complete; return it.
fn parse(bytes: &[u8], version: Option<ProtocolVersion>) -> Message<'_> {
    match parse_message(bytes, &opts(version)) {
        Decoded::Parsed { message, consumed } => {
            assert_eq!(consumed, bytes.len(), "consumed");
            message
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

// ---------------------------------------------------------------- fixtures (wire bytes, field by
// field)

/// CONNECT, MQTT 3.1 ("MQIsdp", level 3) with will, user name and password.
const CONNECT_V3: &[u8] = &[
    0x10, 0x29, // CONNECT, remaining length 41
    0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', // protocol name "MQIsdp"
    0x03, // protocol level 3
    0xee, // flags: user, password, will retain, will QoS 1, will, clean session (1110 1110)
    0x00, 0x3c, // keep alive 60
    0x00, 0x02, b'c', b'1', // client id "c1"
    0x00, 0x03, b'w', b'/', b't', // will topic "w/t"
    0x00, 0x04, b'g', b'o', b'n', b'e', // will payload "gone"
    0x00, 0x04, b'u', b's', b'e', b'r', // user name "user"
    0x00, 0x06, b's', b'e', b'c', b'r', b'e', b't', // password "secret"
];

/// CONNECT, MQTT 3.1.1 ("MQTT", level 4), clean session, client id only.
const CONNECT_V4: &[u8] = &[
    0x10, 0x0e, // CONNECT, remaining length 14
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04, // level 4
    0x02, // flags: clean session
    0x00, 0x3c, // keep alive 60
    0x00, 0x02, b'P', b'1', // client id "P1"
];

/// CONNECT, MQTT 5.0 with properties, will (with will properties), user name and password.
const CONNECT_V5: &[u8] = &[
    0x10, 0x2a, // CONNECT, remaining length 42
    0x00, 0x04, b'M', b'Q', b'T', b'T', // "MQTT"
    0x05, // level 5
    0xc6, // flags: user, password, will (QoS 0), clean start (1100 0110)
    0x00, 0x0a, // keep alive 10
    0x05, // properties length 5
    0x11, 0x00, 0x00, 0x00, 0x78, // session expiry interval 120
    0x00, 0x00, // client id "" (empty)
    0x05, // will properties length 5
    0x18, 0x00, 0x00, 0x00, 0x05, // will delay interval 5
    0x00, 0x01, b'w', // will topic "w"
    0x00, 0x01, b'x', // will payload "x"
    0x00, 0x04, b'u', b's', b'e', b'r', // user name "user"
    0x00, 0x04, b'p', b'a', b's', b's', // password "pass"
];

/// CONNACK 3.x: session present, return code 0.
const CONNACK_V4: &[u8] = &[0x20, 0x02, 0x01, 0x00];
/// CONNACK 5.0: no session, reason 0, properties (topic alias maximum 10), as in suricata-verify.
const CONNACK_V5: &[u8] = &[0x20, 0x06, 0x00, 0x00, 0x03, 0x22, 0x00, 0x0a];

/// PUBLISH QoS 0, 3.x: topic "a/b", payload "hi".
const PUBLISH_QOS0_V4: &[u8] = &[
    0x30, 0x07, // PUBLISH, DUP 0, QoS 0, RETAIN 0; remaining length 7
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
    b'h', b'i', // payload
];
/// PUBLISH QoS 1 retained, 3.x: topic "t", packet id 10, payload "x".
const PUBLISH_QOS1_V4: &[u8] = &[
    0x33, 0x06, // PUBLISH, QoS 1, RETAIN; remaining length 6
    0x00, 0x01, b't', // topic "t"
    0x00, 0x0a, // packet id 10
    b'x', // payload
];
/// PUBLISH QoS 2 with DUP, 5.0: topic "t", packet id 7, properties (payload format 1, topic alias
/// 3).
const PUBLISH_QOS2_V5: &[u8] = &[
    0x3c, 0x0c, // PUBLISH, DUP 1, QoS 2; remaining length 12
    0x00, 0x01, b't', // topic "t"
    0x00, 0x07, // packet id 7
    0x05, // properties length 5
    0x01, 0x01, // payload format indicator 1
    0x23, 0x00, 0x03, // topic alias 3
    b'!', // payload
];

/// PUBACK/PUBREC/PUBCOMP 3.x and the short 5.0 form: packet id 10.
const PUBACK: &[u8] = &[0x40, 0x02, 0x00, 0x0a];
const PUBREC: &[u8] = &[0x50, 0x02, 0x00, 0x0a];
/// PUBREL carries flags 0010.
const PUBREL: &[u8] = &[0x62, 0x02, 0x00, 0x0a];
const PUBCOMP: &[u8] = &[0x70, 0x02, 0x00, 0x0a];
/// PUBACK 5.0 with reason code 0x10 (no matching subscribers) and no properties.
const PUBACK_V5_REASON: &[u8] = &[0x40, 0x03, 0x00, 0x0a, 0x10];
/// PUBREC 5.0 with reason code 0x80 and a reason string "no".
const PUBREC_V5_PROPS: &[u8] = &[
    0x50, 0x09, // PUBREC, remaining length 9
    0x00, 0x0a, // packet id 10
    0x80, // reason code: unspecified error
    0x05, // properties length 5
    0x1f, 0x00, 0x02, b'n', b'o', // reason string "no"
];

/// SUBSCRIBE 3.x: packet id 1, filters "a/#" QoS 1 and "b" QoS 0.
const SUBSCRIBE_V4: &[u8] = &[
    0x82, 0x0c, // SUBSCRIBE (flags 0010), remaining length 12
    0x00, 0x01, // packet id 1
    0x00, 0x03, b'a', b'/', b'#', 0x01, // "a/#", QoS 1
    0x00, 0x01, b'b', 0x00, // "b", QoS 0
];
/// SUBSCRIBE 5.0: packet id 2, subscription identifier 5, "s" with no-local + retain handling 2 +
/// QoS 2.
const SUBSCRIBE_V5: &[u8] = &[
    0x82, 0x09, // SUBSCRIBE, remaining length 9
    0x00, 0x02, // packet id 2
    0x02, 0x0b, 0x05, // properties: subscription identifier 5
    0x00, 0x01, b's', // filter "s"
    0x26, // options 0010 0110: retain handling 2, no local, QoS 2
];
/// SUBACK 3.x: packet id 1, granted QoS 1 and failure 0x80.
const SUBACK_V4: &[u8] = &[0x90, 0x04, 0x00, 0x01, 0x01, 0x80];
/// SUBACK 5.0: packet id 2, no properties, reason code 2 (granted QoS 2).
const SUBACK_V5: &[u8] = &[0x90, 0x04, 0x00, 0x02, 0x00, 0x02];
/// UNSUBSCRIBE 3.x: packet id 3, filters "a/#" and "b".
const UNSUBSCRIBE_V4: &[u8] = &[
    0xa2, 0x0a, // UNSUBSCRIBE (flags 0010), remaining length 10
    0x00, 0x03, // packet id 3
    0x00, 0x03, b'a', b'/', b'#', // "a/#"
    0x00, 0x01, b'b', // "b"
];
/// UNSUBSCRIBE 5.0: packet id 4, user property k=v, filter "s".
const UNSUBSCRIBE_V5: &[u8] = &[
    0xa2, 0x0d, // UNSUBSCRIBE, remaining length 13
    0x00, 0x04, // packet id 4
    0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // properties: user property k=v
    0x00, 0x01, b's', // "s"
];
/// UNSUBACK 3.x: packet id 3.
const UNSUBACK_V4: &[u8] = &[0xb0, 0x02, 0x00, 0x03];
/// UNSUBACK 5.0: packet id 4, no properties, reason codes 0x00 and 0x11 (no subscription existed).
const UNSUBACK_V5: &[u8] = &[0xb0, 0x05, 0x00, 0x04, 0x00, 0x00, 0x11];
const PINGREQ: &[u8] = &[0xc0, 0x00];
const PINGRESP: &[u8] = &[0xd0, 0x00];
/// DISCONNECT without body (3.x, and 5.0 meaning reason 0).
const DISCONNECT: &[u8] = &[0xe0, 0x00];
/// DISCONNECT 5.0: reason 0x8e (session taken over), properties: reason string "x".
const DISCONNECT_V5: &[u8] = &[0xe0, 0x06, 0x8e, 0x04, 0x1f, 0x00, 0x01, b'x'];
/// AUTH 5.0: reason 0x18 (continue authentication), method "m", data "d".
const AUTH_V5: &[u8] = &[
    0xf0, 0x0a, // AUTH, remaining length 10
    0x18, // reason code: continue authentication
    0x08, // properties length 8
    0x15, 0x00, 0x01, b'm', // authentication method "m"
    0x16, 0x00, 0x01, b'd', // authentication data "d"
    0x30, // first byte of the next message: outside the frame
];

/// Every fixture that must parse cleanly, with the versions it is valid at.
/// (name, wire bytes, versions it is valid at, expected type).
type Fixture = (
    &'static str,
    &'static [u8],
    Vec<Option<ProtocolVersion>>,
    PacketType,
);

fn clean_fixtures() -> Vec<Fixture> {
    let all = vec![V3, V4, V5, None];
    let v3x = vec![V3, V4, None];
    let v5 = vec![V5];
    vec![
        (
            "CONNECT 3.1.1",
            CONNECT_V4,
            all.clone(),
            PacketType::Connect,
        ),
        ("CONNECT 5.0", CONNECT_V5, all.clone(), PacketType::Connect),
        ("CONNACK 3.x", CONNACK_V4, v3x.clone(), PacketType::Connack),
        (
            "CONNACK 5.0",
            CONNACK_V5,
            vec![V5, None],
            PacketType::Connack,
        ),
        (
            "PUBLISH QoS 0",
            PUBLISH_QOS0_V4,
            v3x.clone(),
            PacketType::Publish,
        ),
        (
            "PUBLISH QoS 1",
            PUBLISH_QOS1_V4,
            v3x.clone(),
            PacketType::Publish,
        ),
        (
            "PUBLISH QoS 2 5.0",
            PUBLISH_QOS2_V5,
            v5.clone(),
            PacketType::Publish,
        ),
        ("PUBACK", PUBACK, all.clone(), PacketType::Puback),
        ("PUBREC", PUBREC, all.clone(), PacketType::Pubrec),
        ("PUBREL", PUBREL, all.clone(), PacketType::Pubrel),
        ("PUBCOMP", PUBCOMP, all.clone(), PacketType::Pubcomp),
        (
            "PUBACK 5.0 reason",
            PUBACK_V5_REASON,
            vec![V5, None],
            PacketType::Puback,
        ),
        (
            "PUBREC 5.0 props",
            PUBREC_V5_PROPS,
            vec![V5, None],
            PacketType::Pubrec,
        ),
        (
            "SUBSCRIBE 3.x",
            SUBSCRIBE_V4,
            v3x.clone(),
            PacketType::Subscribe,
        ),
        (
            "SUBSCRIBE 5.0",
            SUBSCRIBE_V5,
            v5.clone(),
            PacketType::Subscribe,
        ),
        ("SUBACK 3.x", SUBACK_V4, v3x.clone(), PacketType::Suback),
        ("SUBACK 5.0", SUBACK_V5, v5.clone(), PacketType::Suback),
        (
            "UNSUBSCRIBE 3.x",
            UNSUBSCRIBE_V4,
            v3x.clone(),
            PacketType::Unsubscribe,
        ),
        (
            "UNSUBSCRIBE 5.0",
            UNSUBSCRIBE_V5,
            v5.clone(),
            PacketType::Unsubscribe,
        ),
        (
            "UNSUBACK 3.x",
            UNSUBACK_V4,
            v3x.clone(),
            PacketType::Unsuback,
        ),
        (
            "UNSUBACK 5.0",
            UNSUBACK_V5,
            vec![V5, None],
            PacketType::Unsuback,
        ),
        ("PINGREQ", PINGREQ, all.clone(), PacketType::Pingreq),
        ("PINGRESP", PINGRESP, all.clone(), PacketType::Pingresp),
        (
            "DISCONNECT",
            DISCONNECT,
            all.clone(),
            PacketType::Disconnect,
        ),
        (
            "DISCONNECT 5.0",
            DISCONNECT_V5,
            vec![V5, None],
            PacketType::Disconnect,
        ),
        ("AUTH 5.0", &AUTH_V5[..12], vec![V5, None], PacketType::Auth),
    ]
}

#[test]
fn every_type_at_every_level_parses_cleanly() {
    for (name, bytes, versions, ptype) in clean_fixtures() {
        for version in versions {
            let m = parse(bytes, version);
            assert_eq!(m.packet_type(), ptype, "{name} at {version:?}");
            assert!(
                m.findings.is_empty(),
                "{name} at {version:?}: {:?}",
                m.findings
            );
            assert!(!matches!(m.packet, Packet::Malformed { .. }), "{name}");
            assert_eq!(m.frame, bytes);
        }
    }
}

/// Every prefix of every fixture is `Incomplete` with the exact number of missing bytes once the
/// fixed header is known, and `Unknown` before.
#[test]
fn every_truncation_length_is_incomplete_with_exact_need() {
    for (name, bytes, versions, _) in clean_fixtures() {
        let header_len = header::parse_fixed_header(bytes).unwrap().header_len as usize;
        for n in 0..bytes.len() {
            let expected = if n < header_len {
                Needed::Unknown
            } else {
                Needed::Size(bytes.len() - n)
            };
            assert_eq!(
                parse_message(&bytes[..n], &opts(versions[0])),
                Decoded::Incomplete(expected),
                "{name} cut at {n}"
            );
        }
    }
}

/// A framed body cut short inside the message (remaining length says the body is shorter than its
/// fields) is a malformed message of the right type, never `Incomplete`.
#[test]
fn every_body_truncation_inside_the_frame_is_malformed_not_incomplete() {
    for (name, bytes, versions, ptype) in clean_fixtures() {
        let header_len = header::parse_fixed_header(bytes).unwrap().header_len as usize;
        let body = &bytes[header_len..];
        for cut in 0..body.len() {
            let mut framed = vec![bytes[0], cut as u8];
            framed.extend_from_slice(&body[..cut]);
            for version in &versions {
                match parse_message(&framed, &opts(*version)) {
                    Decoded::Parsed { message, consumed } => {
                        assert_eq!(consumed, framed.len());
                        assert_eq!(message.packet_type(), ptype);
                        // Either a shorter valid form (v5 acks, empty lists) or malformed with
                        // findings.
                        if let Packet::Malformed { error, .. } = message.packet {
                            assert!(message.findings.contains(K::FieldOverrun), "{name} {cut}");
                            assert!(message.findings.contains(K::MalformedTraffic));
                            assert!(error.needed > error.available, "{name} {cut}: {error}");
                        }
                    }
                    other => panic!("{name} cut {cut}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn connect_fields_v3_1() {
    let m = parse(CONNECT_V3, None);
    let Packet::Connect(c) = &m.packet else {
        panic!()
    };
    assert_eq!(c.protocol_name.as_bytes(), b"MQIsdp");
    assert_eq!((c.protocol_level, c.version), (3, V3));
    assert!(c.flags.username() && c.flags.password() && c.flags.will() && c.flags.will_retain());
    assert!(c.flags.clean_session() && !c.flags.reserved());
    assert_eq!(c.flags.will_qos_bits(), 1);
    assert_eq!(c.keep_alive, 60);
    assert_eq!(c.client_id.to_str(), Ok("c1"));
    let will = c.will.unwrap();
    assert_eq!(
        (will.topic.as_bytes(), will.payload),
        (&b"w/t"[..], &b"gone"[..])
    );
    assert_eq!(c.username.unwrap().as_bytes(), b"user");
    assert_eq!(c.password.unwrap().expose(), b"secret");
    assert!(m.findings.is_empty(), "{:?}", m.findings);
    // Debug never shows the password.
    let debug = format!("{m:?}");
    assert!(
        !debug.contains("secret") && debug.contains("6 bytes redacted"),
        "{debug}"
    );
    // Bytes after the declared length belong to the next message and are not consumed.
    let mut two = CONNECT_V3.to_vec();
    two.extend_from_slice(PINGREQ);
    assert!(matches!(
        parse_message(&two, &opts(None)),
        Decoded::Parsed { consumed: 43, .. }
    ));
}

#[test]
fn connect_fields_v5() {
    // CONNECT is parsed by its own level, whatever the connection says.
    let m = parse(CONNECT_V5, V4);
    let Packet::Connect(c) = m.packet else {
        panic!()
    };
    assert_eq!(c.version, V5);
    assert_eq!(c.keep_alive, 10);
    assert_eq!(
        c.properties.iter().collect::<Vec<_>>(),
        [Property::SessionExpiryInterval(120)]
    );
    assert!(c.client_id.is_empty());
    let will = c.will.unwrap();
    assert_eq!(
        will.properties.iter().next(),
        Some(Property::WillDelayInterval(5))
    );
    assert_eq!(will.topic.as_bytes(), b"w");
    assert_eq!(c.password.unwrap().len(), 4);
}

#[test]
fn connack_publish_and_ack_fields() {
    let Packet::Connack(c) = parse(CONNACK_V4, V4).packet else {
        panic!()
    };
    assert!(c.session_present);
    assert_eq!(c.return_code, 0);
    let Packet::Connack(c) = parse(CONNACK_V5, None).packet else {
        panic!()
    };
    assert_eq!(
        c.properties.iter().next(),
        Some(Property::TopicAliasMaximum(10))
    );

    let m = parse(PUBLISH_QOS1_V4, V4);
    assert!(m.header.retain() && !m.header.dup());
    assert_eq!(m.header.qos(), Some(QoS::AtLeastOnce));
    let Packet::Publish(p) = m.packet else {
        panic!()
    };
    assert_eq!(
        (p.topic.as_bytes(), p.packet_id, p.payload),
        (&b"t"[..], Some(10), &b"x"[..])
    );
    assert_eq!(m.packet_id(), Some(10));

    let m = parse(PUBLISH_QOS2_V5, V5);
    assert!(m.header.dup());
    let Packet::Publish(p) = m.packet else {
        panic!()
    };
    assert_eq!(p.packet_id, Some(7));
    assert_eq!(p.properties.len(), 2);
    assert_eq!(p.payload, b"!");
    // The same bytes at 3.1.1 read the properties as payload: the version matters.
    let Packet::Publish(p) = parse(PUBLISH_QOS2_V5, V4).packet else {
        panic!()
    };
    assert_eq!(p.payload.len(), 7);

    let Packet::Puback(a) = parse(PUBACK_V5_REASON, V5).packet else {
        panic!()
    };
    assert_eq!((a.packet_id, a.reason_code), (10, Some(0x10)));
    let Packet::Pubrec(a) = parse(PUBREC_V5_PROPS, V5).packet else {
        panic!()
    };
    assert_eq!(a.reason_code, Some(0x80));
    assert_eq!(
        a.properties.iter().next(),
        Some(Property::ReasonString(MqttStr::new(b"no")))
    );
    let Packet::Pubrel(a) = parse(PUBREL, V4).packet else {
        panic!()
    };
    assert_eq!((a.packet_id, a.reason_code), (10, None));
    // A v5 ack at 3.1.1 has trailing bytes.
    assert!(parse(PUBACK_V5_REASON, V4)
        .findings
        .contains(K::TrailingBytes));
}

#[test]
fn subscribe_family_fields() {
    let Packet::Subscribe(s) = parse(SUBSCRIBE_V4, V4).packet else {
        panic!()
    };
    assert_eq!(s.packet_id, 1);
    let subs: Vec<_> = s.subscriptions.iter().collect();
    assert_eq!(subs.len(), 2);
    assert_eq!(
        (subs[0].filter.as_bytes(), subs[0].options.qos()),
        (&b"a/#"[..], Some(QoS::AtLeastOnce))
    );
    assert_eq!(subs[1].options.qos_bits(), 0);

    let Packet::Subscribe(s) = parse(SUBSCRIBE_V5, V5).packet else {
        panic!()
    };
    assert_eq!(
        s.properties.iter().next(),
        Some(Property::SubscriptionIdentifier(5))
    );
    let o = s.subscriptions.iter().next().unwrap().options;
    assert!(o.no_local() && !o.retain_as_published());
    assert_eq!((o.retain_handling(), o.qos_bits()), (2, 2));
    // The 5.0 bytes read at 3.1.1: the property length becomes a topic filter length that overruns.
    assert!(parse(SUBSCRIBE_V5, V4).findings.contains(K::FieldOverrun));
    // A 3.1.1 subscription with 5.0 option bits: reserved bits set.
    let f = findings_of(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x26], V4);
    assert!(f.contains(K::ReservedBitsSet));

    let Packet::Suback(s) = parse(SUBACK_V4, V4).packet else {
        panic!()
    };
    assert_eq!((s.packet_id, s.return_codes), (1, &[0x01, 0x80][..]));
    let Packet::Suback(s) = parse(SUBACK_V5, V5).packet else {
        panic!()
    };
    assert_eq!(s.return_codes, &[0x02]);

    let Packet::Unsubscribe(u) = parse(UNSUBSCRIBE_V4, V3).packet else {
        panic!()
    };
    assert_eq!(
        u.filters.iter().map(|f| f.as_bytes()).collect::<Vec<_>>(),
        [&b"a/#"[..], b"b"]
    );
    let Packet::Unsubscribe(u) = parse(UNSUBSCRIBE_V5, V5).packet else {
        panic!()
    };
    assert_eq!(u.filters.len(), 1);
    assert_eq!(u.properties.len(), 1);
    let Packet::Unsuback(u) = parse(UNSUBACK_V5, V5).packet else {
        panic!()
    };
    assert_eq!((u.packet_id, u.reason_codes), (4, &[0x00, 0x11][..]));
}

#[test]
fn disconnect_and_auth() {
    // 5.0 DISCONNECT without a body (rumqttc rejects it; the spec allows it).
    let Packet::Disconnect(d) = parse(DISCONNECT, V5).packet else {
        panic!()
    };
    assert_eq!(d.reason_code, None);
    let Packet::Disconnect(d) = parse(DISCONNECT_V5, V5).packet else {
        panic!()
    };
    assert_eq!(d.reason_code, Some(0x8e));
    assert!(parse(DISCONNECT_V5, V4).findings.contains(K::TrailingBytes));
    let m = parse(&AUTH_V5[..12], V5);
    let Packet::Auth(a) = m.packet else { panic!() };
    assert_eq!(a.reason_code, Some(0x18));
    assert!(!format!("{m:?}").contains("\"d\""));
    // The 13th fixture byte is outside the declared frame.
    assert!(matches!(
        parse_message(AUTH_V5, &opts(V5)),
        Decoded::Parsed { consumed: 12, .. }
    ));
}

// ---------------------------------------------------------------- findings

fn findings_of(bytes: &[u8], version: Option<ProtocolVersion>) -> FindingSet {
    parse(bytes, version).findings
}

#[test]
fn unassigned_types() {
    // Type 0 with a 1-byte body (as in suricata-verify mqtt-events-unassigned-msgtype: `00 18 …`).
    let m = parse(&[0x00, 0x01, 0xaa], V4);
    assert_eq!(m.packet, Packet::Unassigned { body: &[0xaa] });
    assert!(m.findings.contains(K::UnassignedMsgType));
    // AUTH (15) before 5.0.
    assert!(findings_of(&[0xf0, 0x00], V4).contains(K::UnassignedMsgType));
    assert!(!findings_of(&[0xf0, 0x00], V5).contains(K::UnassignedMsgType));
}

#[test]
fn fixed_header_findings() {
    // SUBSCRIBE with flags 0000 instead of 0010.
    let mut s = SUBSCRIBE_V4.to_vec();
    s[0] = 0x80;
    assert!(findings_of(&s, V4).contains(K::ReservedFlagsSet));
    // PINGREQ with a flag set.
    assert!(findings_of(&[0xc1, 0x00], V4).contains(K::ReservedFlagsSet));
    // PUBLISH QoS 3 (0x36): invalid_qos_level; the packet id is still read.
    let f = findings_of(&[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01], V4);
    assert!(f.contains(K::InvalidQosLevel));
    // Remaining length 0 encoded in two bytes.
    assert!(findings_of(&[0xc0, 0x80, 0x00], V4).contains(K::NonMinimalVarint));
}

#[test]
fn remaining_length_boundaries() {
    // 268,435,455 (FF FF FF 7F) is a valid length: here it is over the cap and reported as
    // oversized from the header alone, without the data.
    let big = [0x30, 0xff, 0xff, 0xff, 0x7f];
    match parse_message(&big, &opts(V4)) {
        Decoded::TooLarge(TooLarge::Oversized { header, frame_len }) => {
            assert_eq!(header.remaining_length, 268_435_455);
            assert_eq!(frame_len, 268_435_460);
        }
        other => panic!("{other:?}"),
    }
    // With an unlimited cap it is just incomplete, with the exact need.
    let unlimited = ParseOptions {
        version: V4,
        max_message_len: usize::MAX,
    };
    assert_eq!(
        parse_message(&big, &unlimited),
        Decoded::Incomplete(Needed::Size(268_435_455))
    );
    // FF FF FF 80: a fifth length byte. Fails whatever follows.
    for tail in [&[][..], &[0x01], &[0x00, 0x00]] {
        let mut b = vec![0x30, 0xff, 0xff, 0xff, 0x80];
        b.extend_from_slice(tail);
        assert_eq!(
            parse_message(&b, &unlimited),
            Decoded::TooLarge(TooLarge::InvalidRemainingLength { first_byte: 0x30 })
        );
    }
    assert_eq!(
        TooLarge::InvalidRemainingLength { first_byte: 0 }.finding(),
        K::InvalidRemainingLength
    );
}

#[test]
fn connect_findings() {
    let mut c = CONNECT_V4.to_vec();
    c[9] = 0x03; // clean session + reserved bit
    assert!(findings_of(&c, None).contains(K::ConnectReservedFlagSet));
    c[9] = 0x1a; // will QoS 3 with will flag 0: invalid QoS and inconsistent flags
    let f = findings_of(&c, None);
    assert!(f.contains(K::InvalidQosLevel) && f.contains(K::InvalidConnectFlags));
    c[9] = 0x42; // password without user name in 3.1.1; the password field is then missing
    let m = parse(&c, None);
    assert!(m.findings.contains(K::InvalidConnectFlags));
    assert!(m.findings.contains(K::FieldOverrun) && m.findings.contains(K::MalformedTraffic));
    let Packet::Malformed { error, .. } = m.packet else {
        panic!()
    };
    assert_eq!(
        (error.field, error.offset, error.needed, error.available),
        ("password", 14, 2, 0)
    );
    // Name/level mismatch: "MQTT" with level 3; unknown level 6.
    let mut c = CONNECT_V4.to_vec();
    c[8] = 3;
    assert!(findings_of(&c, None).contains(K::ProtocolNameMismatch));
    c[8] = 6;
    assert!(findings_of(&c, None).contains(K::UnknownProtocolLevel));
    // Mosquitto bridge bit: level 0x84 is 3.1.1.
    c[8] = 0x84;
    let Packet::Connect(p) = parse(&c, None).packet else {
        panic!()
    };
    assert_eq!(p.version, V4);
    // Client id with invalid UTF-8 and a null character: kept as-is, flagged.
    let mut c = CONNECT_V4.to_vec();
    c[14] = 0xff;
    let m = parse(&c, None);
    assert!(m.findings.contains(K::InvalidUtf8));
    let Packet::Connect(p) = m.packet else {
        panic!()
    };
    assert_eq!(p.client_id.as_bytes(), b"\xff1");
    c[14] = 0x00;
    assert!(findings_of(&c, None).contains(K::NullCharacter));
}

#[test]
fn excessive_property_length_is_malformed() {
    // CONNECT 5.0 from suricata-verify mqtt5-excessiveproplen: properties length A1 FE 03 (65,313)
    // in a 47-byte message.
    let bytes = [
        0x10, 0x0f, // CONNECT, remaining length 15
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, // "MQTT" level 5
        0xc2, 0x00, 0x3c, // flags, keep alive
        0xa1, 0xfe, 0x03, 0x00, 0x00, // properties length 65,313, then 2 bytes
    ];
    let m = parse(&bytes, None);
    assert!(matches!(m.packet, Packet::Malformed { error, .. } if error.field == "properties"));
    assert!(m.findings.contains(K::PropertyLengthOverrun));
    assert!(m.findings.contains(K::MalformedTraffic));
}

#[test]
fn publish_and_ack_findings() {
    // QoS 1 PUBLISH whose body ends after the topic: missing_msg_id.
    let f = findings_of(&[0x32, 0x03, 0x00, 0x01, b't'], V4);
    assert!(f.contains(K::MissingMsgId) && f.contains(K::MalformedTraffic));
    // PUBACK with only one byte of packet id.
    assert!(findings_of(&[0x40, 0x01, 0x00], V4).contains(K::MissingMsgId));
    // Packet id 0.
    assert!(findings_of(&[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00], V4).contains(K::ZeroPacketId));
    // Wildcard and empty topic names.
    assert!(findings_of(&[0x30, 0x03, 0x00, 0x01, b'#'], V4).contains(K::WildcardInTopicName));
    assert!(findings_of(&[0x30, 0x02, 0x00, 0x00], V4).contains(K::EmptyTopicName));
    // 5.0: empty topic with a topic alias is legal.
    let aliased = [0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01];
    assert!(findings_of(&aliased, V5).is_empty());
    // Unknown property id inside a PUBLISH.
    let f = findings_of(&[0x30, 0x05, 0x00, 0x01, b't', 0x01, 0x7f], V5);
    assert!(f.contains(K::UnknownProperty));
    // Topic length running past the message.
    let f = findings_of(&[0x30, 0x03, 0x00, 0x09, b't'], V4);
    assert!(f.contains(K::FieldOverrun));
    // Trailing bytes after PINGREQ.
    assert!(findings_of(&[0xc0, 0x01, 0x00], V4).contains(K::TrailingBytes));
    // CONNACK reserved acknowledge flag bits.
    assert!(findings_of(&[0x20, 0x02, 0x02, 0x00], V4).contains(K::ReservedBitsSet));
}

#[test]
fn subscribe_findings() {
    // No topic filter.
    assert!(findings_of(&[0x82, 0x02, 0x00, 0x01], V4).contains(K::EmptyTopicList));
    assert!(findings_of(&[0xa2, 0x02, 0x00, 0x01], V4).contains(K::EmptyTopicList));
    assert!(findings_of(&[0x90, 0x02, 0x00, 0x01], V4).contains(K::EmptyTopicList));
    // Requested QoS 3.
    let f = findings_of(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03], V4);
    assert!(f.contains(K::InvalidQosLevel));
    // Upper bits of the 3.x requested QoS byte.
    let f = findings_of(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x40], V4);
    assert!(f.contains(K::ReservedBitsSet));
    // Filter without its options byte.
    let f = findings_of(&[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'], V4);
    assert!(f.contains(K::FieldOverrun));
}

#[test]
fn no_panic_on_small_inputs_exhaustively() {
    // Every 1- and 2-byte input, and every 3-byte input with a small remaining length, at each
    // version.
    for version in [V3, V4, V5, None] {
        let o = opts(version);
        for a in 0..=255u8 {
            let _ = parse_message(&[a], &o);
            for b in 0..=255u8 {
                let _ = parse_message(&[a, b], &o);
                if b < 4 {
                    for c in 0..=255u8 {
                        let _ = parse_message(&[a, b, c, c, c], &o);
                    }
                }
            }
        }
    }
}

#[test]
fn dup_flag_and_reason_codes() {
    // PUBLISH QoS 0 with DUP (0x38).
    assert!(findings_of(&[0x38, 0x02, 0x00, 0x00], V4).contains(K::InvalidDupFlag));
    // CONNACK 3.1.1 return code 5 (not authorized) is defined, 6 is not.
    assert!(findings_of(&[0x20, 0x02, 0x00, 0x05], V4).is_empty());
    assert!(findings_of(&[0x20, 0x02, 0x00, 0x06], V4).contains(K::UnknownReasonCode));
    // CONNACK 5.0 reason 0x86 (bad user name or password) defined; 0x05 is a 3.x code only.
    assert!(findings_of(&[0x20, 0x03, 0x00, 0x86, 0x00], V5).is_empty());
    assert!(findings_of(&[0x20, 0x03, 0x00, 0x05, 0x00], V5).contains(K::UnknownReasonCode));
    // SUBACK granted QoS 3.
    assert!(findings_of(&[0x90, 0x03, 0x00, 0x01, 0x03], V4).contains(K::UnknownReasonCode));
    // PUBCOMP 5.0 may only say 0x00 or 0x92.
    assert!(findings_of(&[0x70, 0x03, 0x00, 0x01, 0x92], V5).is_empty());
    assert!(findings_of(&[0x70, 0x03, 0x00, 0x01, 0x10], V5).contains(K::UnknownReasonCode));
    // UNSUBACK 5.0 reason 0x11 (no subscription existed) is defined.
    assert!(findings_of(&[0xb0, 0x04, 0x00, 0x01, 0x00, 0x11], V5).is_empty());
    // DISCONNECT 5.0: 0x8e (session taken over) defined, 0x01 not; AUTH: only 0x00, 0x18, 0x19.
    assert!(findings_of(&[0xe0, 0x01, 0x8e], V5).is_empty());
    assert!(findings_of(&[0xe0, 0x01, 0x01], V5).contains(K::UnknownReasonCode));
    assert!(findings_of(&[0xf0, 0x01, 0x19], V5).is_empty());
    assert!(findings_of(&[0xf0, 0x01, 0x87], V5).contains(K::UnknownReasonCode));
}

/// The PUBLISH shortcut of `parse_message` gives exactly what the general parser gives, on the
/// cases it takes (clean 3.x PUBLISH) and on every near miss it must leave to the general path
/// (each condition of `plain_publish` broken once), at every protocol level and every
/// truncation. The fuzz target `mqtt_message` checks the same on arbitrary bytes.
#[test]
fn publish_shortcut_equals_the_general_parser() {
    let topics: [&[u8]; 9] = [
        b"Temperature",
        b"a",
        b"",
        b"a/+",
        b"#",
        b"t\0",
        b"\xc3\xa9",
        b"\xff",
        b"\x7f~",
    ];
    let (mut cases, mut shortcut) = (0, 0);
    for first in 0x30..=0x3fu8 {
        for topic in topics {
            for id in [None, Some(0u16), Some(1), Some(0xffff)] {
                for payload in [&b""[..], b"21.5", &[0u8; 200]] {
                    let mut body = Vec::new();
                    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
                    body.extend_from_slice(topic);
                    if let Some(id) = id {
                        body.extend_from_slice(&id.to_be_bytes());
                    }
                    body.extend_from_slice(payload);
                    let mut len = [0u8; 4];
                    let n = header::encode_varint(body.len() as u32, &mut len).unwrap();
                    // Minimal and (for short bodies) non-minimal remaining lengths.
                    let mut encodings = vec![len[..n].to_vec()];
                    if n == 1 {
                        encodings.push(vec![len[0] | 0x80, 0x00]);
                    }
                    for length in encodings {
                        let mut frame = vec![first];
                        frame.extend_from_slice(&length);
                        frame.extend_from_slice(&body);
                        for version in [None, V3, V4, V5] {
                            let o = opts(version);
                            for end in 0..=frame.len() {
                                let input = &frame[..end];
                                let general = parse_message_general(input, &o);
                                assert_eq!(
                                    parse_message(input, &o),
                                    general,
                                    "{input:02x?} {version:?}"
                                );
                                // The reassembler's shortcut: when it answers, it answers the
                                // same (message and length); a small cap turns it away.
                                for max_message_len in [o.max_message_len, end.saturating_sub(1)] {
                                    let o = ParseOptions {
                                        max_message_len,
                                        ..o
                                    };
                                    if let Some((message, consumed)) =
                                        parse_plain_publish(input, &o)
                                    {
                                        assert_eq!(
                                            Decoded::Parsed { message, consumed },
                                            parse_message_general(input, &o),
                                            "{input:02x?} {version:?} {max_message_len}"
                                        );
                                        shortcut += 1;
                                    }
                                }
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(cases > 100_000, "{cases}");
    assert!(shortcut > 500, "{shortcut}");
    // The shortcut's own case parses as the general path says it must.
    let m = parse(b"\x32\x0f\x00\x0bTemperature\x00\x07", V4);
    assert_eq!(m.findings, FindingSet::EMPTY);
    match m.packet {
        Packet::Publish(p) => {
            assert_eq!(p.topic.as_bytes(), b"Temperature");
            assert_eq!(p.packet_id, Some(7));
            assert!(p.payload.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

/// The small fixed-size message shortcut (`parse_small_fixed`) answers exactly what the general
/// parser answers whenever it answers: every first byte (all types, all flags), remaining lengths
/// around the 2-byte and empty bodies (and non-minimal ones), packet ids and CONNACK bytes at
/// their edges, a following byte, every truncation, every protocol level and small caps on the
/// message length. It must also take each of its cases (counted per first byte).
#[test]
fn small_fixed_shortcut_equals_the_general_parser() {
    let fields = [0x00u8, 0x01, 0x02, 0x05, 0x7f, 0x80, 0xff];
    let (mut cases, mut taken) = (0, std::collections::BTreeMap::new());
    for first in 0..=0xffu8 {
        for length in [
            &[0x00u8][..],
            &[0x01],
            &[0x02],
            &[0x03],
            &[0x82, 0x00],
            &[0x80, 0x00],
        ] {
            for a in fields {
                for b in fields {
                    for tail in [&[][..], &[0x30u8][..]] {
                        let mut frame = vec![first];
                        frame.extend_from_slice(length);
                        frame.extend_from_slice(&[a, b]);
                        frame.extend_from_slice(tail);
                        for version in [None, V3, V4, V5] {
                            let o = opts(version);
                            for end in 0..=frame.len() {
                                let input = &frame[..end];
                                for max_message_len in [o.max_message_len, 1, 2, 3, 4] {
                                    let o = ParseOptions {
                                        max_message_len,
                                        ..o
                                    };
                                    if let Some((message, consumed)) = parse_small_fixed(input, &o)
                                    {
                                        assert_eq!(
                                            Decoded::Parsed { message, consumed },
                                            parse_message_general(input, &o),
                                            "{input:02x?} {version:?} {max_message_len}"
                                        );
                                        *taken.entry(first).or_insert(0) += 1;
                                    }
                                    cases += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(cases > 1_000_000, "{cases}");
    let firsts: Vec<u8> = taken.keys().copied().collect();
    assert_eq!(
        firsts,
        [0x20, 0x40, 0x50, 0x62, 0x70, 0xc0, 0xd0, 0xe0],
        "{taken:?}"
    );
    // The cases it takes are the clean ones the general path parses without a finding.
    for bytes in [
        &b"\x40\x02\x00\x01"[..],
        b"\x50\x02\xff\xff",
        b"\x62\x02\x01\x00",
        b"\x70\x02\x00\x07",
        b"\x20\x02\x01\x00",
        b"\xc0\x00",
        b"\xd0\x00",
        b"\xe0\x00",
    ] {
        for version in [None, V3, V4, V5] {
            let (message, consumed) = parse_small_fixed(bytes, &opts(version)).expect("taken");
            assert_eq!(
                (message.findings, consumed),
                (FindingSet::EMPTY, bytes.len())
            );
        }
    }
}

#[test]
fn word_topic_check_matches_the_byte_loop() {
    let bytewise = |t: &[u8]| {
        t.iter()
            .all(|&b| b.wrapping_sub(1) < 0x7f && b != b'+' && b != b'#')
    };
    // Every length to 24, every byte value at every position in an otherwise plain topic.
    for len in 0..24 {
        let mut topic = vec![b'a'; len];
        assert!(super::plain_topic(&topic));
        for at in 0..len {
            for b in 0..=255u8 {
                topic[at] = b;
                assert_eq!(
                    super::plain_topic(&topic),
                    bytewise(&topic),
                    "{len} {at} {b}"
                );
            }
            topic[at] = b'a';
        }
    }
}

#[test]
fn word_topic_check_matches_the_byte_loop_on_byte_pairs() {
    // Two unusual bytes at once (a borrow out of one byte must not hide or fake another), at every
    // pair of positions of topics that span one to three words.
    let bytewise = |t: &[u8]| {
        t.iter()
            .all(|&b| b.wrapping_sub(1) < 0x7f && b != b'+' && b != b'#')
    };
    let values = [
        0u8, 1, 0x08, 0x22, 0x23, 0x24, 0x2a, 0x2b, 0x2c, 0x7f, 0x80, 0x81, 0xab, 0xff, b'a',
    ];
    for len in [7, 8, 9, 15, 16, 17, 23] {
        for i in 0..len {
            for j in i + 1..len {
                for &x in &values {
                    for &y in &values {
                        let mut topic = vec![b'a'; len];
                        topic[i] = x;
                        topic[j] = y;
                        assert_eq!(
                            super::plain_topic(&topic),
                            bytewise(&topic),
                            "{len} {i}={x:#x} {j}={y:#x}"
                        );
                    }
                }
            }
        }
    }
}
