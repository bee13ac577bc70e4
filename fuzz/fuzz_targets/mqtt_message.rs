//! Fuzz the MQTT message parser: any bytes, any protocol version, any size cap. The first input byte
//! picks the version (bits 0-1) and a small `max_message_len` (bits 2-7, 0 = default); the rest is
//! parsed as consecutive messages, every lazily decoded list is walked, and every result equals the
//! general parser's (`parse_message_general`, without the PUBLISH shortcut).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ids_mqtt::codec::{parse_message_general, Needed, Packet, ParseOptions, ProtocolVersion};
use mqtt_ids_mqtt::{parse_message, Decoded, TooLarge};

fuzz_target!(|data: &[u8]| {
    let Some((&knob, mut input)) = data.split_first() else {
        return;
    };
    let version = [
        None,
        Some(ProtocolVersion::V3_1),
        Some(ProtocolVersion::V3_1_1),
        Some(ProtocolVersion::V5),
    ][(knob & 3) as usize];
    let cap = (knob >> 2) as usize * 16;
    let options = ParseOptions {
        version,
        max_message_len: if cap == 0 { 1 << 20 } else { cap },
    };
    while !input.is_empty() {
        let decoded = parse_message(input, &options);
        // The PUBLISH shortcut never changes a result.
        assert_eq!(decoded, parse_message_general(input, &options));
        match decoded {
            Decoded::Parsed { message, consumed } => {
                assert!(consumed >= 2 && consumed <= input.len());
                assert_eq!(message.frame.len(), consumed);
                walk(&message.packet);
                let _ = format!("{message:?}");
                input = &input[consumed..];
            }
            Decoded::Incomplete(Needed::Size(n)) => {
                assert!(n > 0);
                break;
            }
            Decoded::Incomplete(Needed::Unknown) => {
                assert!(input.len() < 5);
                break;
            }
            Decoded::TooLarge(TooLarge::Oversized { frame_len, .. }) => {
                assert!(frame_len > options.max_message_len);
                input = input.get(frame_len..).unwrap_or(&[]);
            }
            Decoded::TooLarge(TooLarge::InvalidRemainingLength { .. }) => input = &input[1..],
        }
    }
});

/// Walk every lazily decoded list so its iterator runs on fuzzed bytes.
fn walk(packet: &Packet<'_>) {
    let props = match packet {
        Packet::Connect(c) => {
            if let Some(w) = c.will {
                let _ = w.properties.iter().count();
            }
            c.properties
        }
        Packet::Connack(c) => c.properties,
        Packet::Publish(p) => p.properties,
        Packet::Puback(a) | Packet::Pubrec(a) | Packet::Pubrel(a) | Packet::Pubcomp(a) => {
            a.properties
        }
        Packet::Subscribe(s) => {
            assert_eq!(s.subscriptions.iter().count(), s.subscriptions.len());
            s.properties
        }
        Packet::Suback(s) => s.properties,
        Packet::Unsubscribe(u) => {
            assert_eq!(u.filters.iter().count(), u.filters.len());
            u.properties
        }
        Packet::Unsuback(u) => u.properties,
        Packet::Disconnect(d) => d.properties,
        Packet::Auth(a) => a.properties,
        _ => return,
    };
    assert_eq!(props.iter().count(), props.len());
}
