//! Protocol detection for ports other than 1883: does the first client payload of a TCP connection
//! start an MQTT CONNECT? (nDPI, for one, puts MQTT on 17501.)
//!
//! Promise: decides from the first bytes only, without needing the whole CONNECT (a SlowITe client
//! sends it in pieces), and never accepts a prefix that could not continue as a CONNECT.

use crate::codec::header::{parse_fixed_header, HeaderError};

/// Outcome of [`probe_connect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The bytes start a CONNECT with protocol name "MQTT" or "MQIsdp" and a known level.
    Mqtt,
    /// They cannot start a CONNECT.
    NotMqtt,
    /// Too few bytes to tell.
    NeedMore,
}

/// Probe the first client payload of a connection.
pub fn probe_connect(payload: &[u8]) -> Probe {
    if payload.is_empty() {
        return Probe::NeedMore;
    }
    // CONNECT with flags 0000.
    if payload[0] != 0x10 {
        return Probe::NotMqtt;
    }
    let header = match parse_fixed_header(payload) {
        Ok(h) => h,
        Err(HeaderError::Incomplete { .. }) => return Probe::NeedMore,
        Err(HeaderError::InvalidRemainingLength) => return Probe::NotMqtt,
    };
    let body = &payload[header.header_len as usize..];
    // Protocol name (length-prefixed) then the level byte.
    let expected: [&[u8]; 2] = [b"\x00\x04MQTT", b"\x00\x06MQIsdp"];
    let mut any_prefix = false;
    for name in expected {
        let n = name.len().min(body.len());
        if body[..n] != name[..n] {
            continue;
        }
        if body.len() <= name.len() {
            any_prefix = true;
            continue;
        }
        let level = body[name.len()] & 0x7f;
        let ok = if name.len() == 6 {
            matches!(level, 4 | 5)
        } else {
            level == 3
        };
        // The remaining length must at least hold the variable header and an empty client id.
        let minimum = name.len() as u32 + 6;
        return if ok && header.remaining_length >= minimum {
            Probe::Mqtt
        } else {
            Probe::NotMqtt
        };
    }
    if any_prefix {
        Probe::NeedMore
    } else {
        Probe::NotMqtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes() {
        let connect = [
            0x10, 0x0e, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x02,
            b'P', b'1',
        ];
        assert_eq!(probe_connect(&connect), Probe::Mqtt);
        // Every prefix up to the level byte needs more; from the level byte on it is decided.
        for n in 0..9 {
            assert_eq!(probe_connect(&connect[..n]), Probe::NeedMore, "{n}");
        }
        for n in 9..connect.len() {
            assert_eq!(probe_connect(&connect[..n]), Probe::Mqtt, "{n}");
        }
        let v31 = [
            0x10, 0x14, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03,
        ];
        assert_eq!(probe_connect(&v31), Probe::Mqtt);
        assert_eq!(probe_connect(b"GET / HTTP/1.1\r\n"), Probe::NotMqtt);
        assert_eq!(
            probe_connect(&[0x10, 0x0e, 0x00, 0x04, b'H']),
            Probe::NotMqtt
        );
        // "MQTT" with level 3 is not a known combination.
        let mut bad = connect;
        bad[8] = 3;
        assert_eq!(probe_connect(&bad), Probe::NotMqtt);
        // A PUBLISH first is not a connection start.
        assert_eq!(probe_connect(&[0x30, 0x02, 0x00, 0x00]), Probe::NotMqtt);
    }
}
