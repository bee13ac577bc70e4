//! The `packet` set's `protocol` column: the highest layer Wireshark's dissection reaches, named
//! as pyshark's `highest_layer` names it (the last layer of tshark's dissection, upper-cased;
//! `DATA` for undissected bytes; `_WS.MALFORMED` when the dissector hit the end of its data).
//!
//! Wireshark decides with per-conversation state, reassembly and hundreds of dissectors; this is
//! a stateless table of the protocols an IoT/MQTT capture carries, each entry checked against
//! tshark 4.0.17 on crafted packets (the `protocol_table_agrees_with_tshark` test) and on the
//! shared captures. In order:
//!
//! 1. TCP on a connection the MQTT tracker took: `MQTT` when the packet completes at least one
//!    MQTT message (tshark dissects a reassembled message in the frame that completes it),
//!    `_WS.MALFORMED` when the last of them overran its body (tshark's exception), else `TCP`
//!    (empty, or a piece of a message still incomplete).
//! 2. No payload: `TCP` or `UDP`.
//! 3. The lower port, then the higher one (tshark's order), through the port table below; an
//!    entry may reject the payload, which moves on to the next port.
//! 4. Heuristics on the payload (TCP): an HTTP request or status line → HTTP (below); a TLS
//!    handshake or application-data record header (type 22 or 23, version 3.0–3.4) → `TLS`.
//! 5. `DATA`.
//! 6. A packet cut by the snap length with some payload captured: `_WS.SHORT` (tshark's
//!    exception for reading past the captured bytes; it does not reassemble such segments, so
//!    entries that would wait for more dissect them too) when MQTT or a dissector from the
//!    table had it, except SSH (its banner parser stops at the captured end); `DATA` and `UDP`
//!    stay. Whether a dissector really reads past the cut depends on the bytes (a TLS record
//!    announcing more than the segment holds shows as `TLS`): measured cases only.
//!
//! | port | TCP | UDP |
//! |---|---|---|
//! | 21 | `FTP` | |
//! | 22 | `SSH` | |
//! | 23 | `TELNET` | |
//! | 25 | `SMTP` once a line is complete, else `TCP` (tshark waits for the line) | |
//! | 53 | `DNS` once the length-prefixed message is complete, else `TCP` | `DNS` (`_WS.MALFORMED` under 12 bytes) |
//! | 67, 68 | | `DHCP` (`_WS.MALFORMED` under 240 bytes) |
//! | 69 | | `TFTP` |
//! | 80, 3128, 8080, 8088 | HTTP (below); other bytes: `TCP` (tshark waits for a header) | |
//! | 110 | `POP` | |
//! | 123 | | `NTP` (`_WS.MALFORMED` under 48 bytes) |
//! | 137 | | `NBNS` (`_WS.MALFORMED` under 12 bytes) |
//! | 138 | | `NBDGM` |
//! | 161, 162 | | `SNMP` when it starts as a BER sequence (0x30), else rejected |
//! | 443, 8883 | `TLS` (any bytes) | |
//! | 514 | | `SYSLOG` |
//! | 520 | | `RIP` |
//! | 554 | `RTSP` | |
//! | 1194 | | `OPENVPN` |
//! | 1883 | `MQTT` (only when the tracker is not configured for 1883) | |
//! | 1900 | | `SSDP` for HTTP-like text, else `UDP` (tshark shows no layer) |
//! | 4500 | | `UDPENCAP` |
//! | 5060 | | `SIP` for a SIP request or status line, else rejected |
//! | 5353 | | `MDNS` (`_WS.MALFORMED` under 12 bytes) |
//! | 5355 | | `LLMNR` (`_WS.MALFORMED` under 12 bytes) |
//! | 5683 | | `COAP` |
//!
//! HTTP (tshark reassembles headers and bodies, so an incomplete message is `TCP` in the frames
//! before the one completing it): headers not yet ended by an empty line → `TCP`; a body
//! announced by `Content-Length` but not all here → `TCP`; a chunked body without its last chunk
//! → `TCP`; a response with neither (body until close) → `TCP` unless its status has no body
//! (1xx, 204, 304); no body → `HTTP`; else the body's media type as tshark's media dissectors
//! name it: JSON (`application/json`, `+json`), XML (`application/xml`, `text/xml`, `+xml`),
//! `DATA-TEXT-LINES` (other `text/*`), `URLENCODED-FORM`, `DATA` (no type,
//! `application/octet-stream`), `MEDIA` (anything else; tshark names some types more precisely,
//! e.g. `IMAGE-JFIF`).
//!
//! What a stateless table cannot know (measured on the shared captures in `tests/packet.rs`):
//! a TLS or HTTP message spread over several segments (tshark: `TCP` until the last); a
//! conversation tshark adopted after its first packet (a TLS ClientHello on an unusual port makes
//! the whole conversation TLS, even records our heuristic accepts anyway); dissectors registered
//! for ports not in the table; malformed payloads beyond the length checks above; tunnels (the
//! outer UDP/TCP is what we see); reassembled IP fragments (we have no row for them).

use mqtt_ids_capture::{Packet, Transport};

/// What the MQTT tracker made of the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MqttLayer {
    /// The packet is not on a connection the tracker took as MQTT.
    None,
    /// On an MQTT connection, but it completes no message.
    Segment,
    /// It completes one or more MQTT messages.
    Messages {
        /// The last of them overran its body (tshark's `_ws.malformed` follows it).
        last_malformed: bool,
    },
}

/// Layer names, as pyshark's `highest_layer` spells them.
pub mod layer {
    #![allow(missing_docs)]
    pub const TCP: &str = "TCP";
    pub const UDP: &str = "UDP";
    pub const DATA: &str = "DATA";
    pub const MQTT: &str = "MQTT";
    pub const MALFORMED: &str = "_WS.MALFORMED";
    pub const SHORT: &str = "_WS.SHORT";
    pub const HTTP: &str = "HTTP";
    pub const TLS: &str = "TLS";
    pub const JSON: &str = "JSON";
    pub const XML: &str = "XML";
    pub const TEXT_LINES: &str = "DATA-TEXT-LINES";
    pub const URLENCODED_FORM: &str = "URLENCODED-FORM";
    pub const MEDIA: &str = "MEDIA";
}

/// The highest layer of a TCP or UDP packet; `None` for other packets (the set has no row for
/// them).
#[inline(always)]
pub fn highest_layer(packet: &Packet<'_>, mqtt: MqttLayer) -> Option<&'static str> {
    // Inlined: a packet on an MQTT connection (most) needs no table.
    let layer = match (packet.transport, mqtt) {
        (Transport::Tcp { .. }, MqttLayer::Messages { last_malformed }) => {
            if last_malformed {
                layer::MALFORMED
            } else {
                layer::MQTT
            }
        }
        (Transport::Tcp { .. }, MqttLayer::Segment) => layer::TCP,
        (Transport::Tcp { .. } | Transport::Udp { .. }, _) => return by_payload(packet, mqtt),
        _ => return None,
    };
    // As below: MQTT reads past the captured bytes.
    if packet.truncated && !packet.payload.is_empty() {
        return Some(layer::SHORT);
    }
    Some(layer)
}

/// [`highest_layer`], every case.
#[inline(never)]
fn by_payload(packet: &Packet<'_>, mqtt: MqttLayer) -> Option<&'static str> {
    let payload = packet.payload;
    let layer = match packet.transport {
        Transport::Tcp {
            src_port, dst_port, ..
        } => match mqtt {
            MqttLayer::Messages {
                last_malformed: true,
            } => layer::MALFORMED,
            MqttLayer::Messages { .. } => layer::MQTT,
            MqttLayer::Segment => layer::TCP,
            MqttLayer::None if payload.is_empty() => layer::TCP,
            MqttLayer::None => by_ports(src_port, dst_port, |p| tcp_port(p, payload))
                .or_else(|| tcp_heuristics(payload))
                .unwrap_or(layer::DATA),
        },
        Transport::Udp {
            src_port, dst_port, ..
        } => {
            if payload.is_empty() {
                layer::UDP
            } else {
                by_ports(src_port, dst_port, |p| udp_port(p, payload)).unwrap_or(layer::DATA)
            }
        }
        _ => return None,
    };
    // Cut by the snap length: tshark hands the captured bytes to the dissector without
    // reassembly (so a table entry waiting for more, `TCP` here, dissects them too), and one
    // that reads past them ends in `_ws.short`. MQTT always does (the message runs on past the
    // capture); undissected bytes and SSH's banner do not.
    let dissected = mqtt != MqttLayer::None || !matches!(layer, layer::UDP | layer::DATA | "SSH");
    if packet.truncated && !payload.is_empty() && dissected {
        return Some(layer::SHORT);
    }
    Some(layer)
}

/// tshark tries the lower port's dissector first, then the higher one's.
fn by_ports(
    a: u16,
    b: u16,
    mut table: impl FnMut(u16) -> Option<&'static str>,
) -> Option<&'static str> {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    table(low).or_else(|| if high != low { table(high) } else { None })
}

/// Ports whose TCP dissector tshark registers (as far as this table goes). `None`: no entry, or
/// the entry rejects the payload.
fn tcp_port(port: u16, payload: &[u8]) -> Option<&'static str> {
    Some(match port {
        21 => "FTP",
        22 => "SSH",
        23 => "TELNET",
        25 if find(payload, b"\r\n").is_some() => "SMTP",
        25 => layer::TCP,
        53 => {
            let complete = payload.len() >= 2
                && payload.len() - 2 >= usize::from(u16::from_be_bytes([payload[0], payload[1]]));
            if complete {
                "DNS"
            } else {
                layer::TCP
            }
        }
        80 | 3128 | 8080 | 8088 => http(payload).unwrap_or(layer::TCP),
        110 => "POP",
        443 | 8883 => layer::TLS,
        554 => "RTSP",
        1883 => layer::MQTT,
        _ => return None,
    })
}

/// Ports whose UDP dissector tshark registers (as far as this table goes).
fn udp_port(port: u16, payload: &[u8]) -> Option<&'static str> {
    // The fixed part tshark reads before anything else; shorter is an exception.
    let at_least = |min: usize, name: &'static str| {
        if payload.len() < min {
            layer::MALFORMED
        } else {
            name
        }
    };
    Some(match port {
        53 => at_least(12, "DNS"),
        67 | 68 => at_least(240, "DHCP"),
        69 => "TFTP",
        123 => at_least(48, "NTP"),
        137 => at_least(12, "NBNS"),
        138 => "NBDGM",
        161 | 162 if payload.first() == Some(&0x30) => "SNMP",
        514 => "SYSLOG",
        520 => "RIP",
        1194 => "OPENVPN",
        1900 if http_start(payload) || payload.starts_with(b"M-SEARCH ") => "SSDP",
        1900 => layer::UDP,
        4500 => "UDPENCAP",
        5060 if sip_start(payload) => "SIP",
        5353 => at_least(12, "MDNS"),
        5355 => at_least(12, "LLMNR"),
        5683 => "COAP",
        _ => return None,
    })
}

/// tshark's enabled TCP heuristics that IoT captures meet: HTTP and TLS.
fn tcp_heuristics(payload: &[u8]) -> Option<&'static str> {
    if http_start(payload) {
        return http(payload);
    }
    match payload {
        [22 | 23, 3, 0..=4, _, _, ..] => Some(layer::TLS),
        _ => None,
    }
}

const HTTP_METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"TRACE ",
    b"CONNECT ",
];

/// An HTTP/1.x request line (method, target, version) or status line at the start.
fn http_start(payload: &[u8]) -> bool {
    if payload.starts_with(b"HTTP/1.") {
        return true;
    }
    if !HTTP_METHODS.iter().any(|m| payload.starts_with(m)) && !payload.starts_with(b"NOTIFY ") {
        return false;
    }
    let line = match find(payload, b"\r\n") {
        Some(end) => &payload[..end],
        None => payload,
    };
    find(line, b" HTTP/1.").is_some()
}

fn sip_start(payload: &[u8]) -> bool {
    const METHODS: [&[u8]; 8] = [
        b"SIP/2.0 ",
        b"INVITE ",
        b"ACK ",
        b"BYE ",
        b"CANCEL ",
        b"OPTIONS ",
        b"REGISTER ",
        b"NOTIFY ",
    ];
    METHODS.iter().any(|m| payload.starts_with(m))
}

/// An HTTP message on an HTTP port or found by the heuristic: `None` when the bytes are not an
/// HTTP message start.
fn http(payload: &[u8]) -> Option<&'static str> {
    if !http_start(payload) {
        return None;
    }
    let Some(header_end) = find(payload, b"\r\n\r\n").map(|i| i + 4) else {
        return Some(layer::TCP);
    };
    let head = &payload[..header_end];
    let body = &payload[header_end..];
    let mut content_length: Option<usize> = None;
    let mut content_type: Option<&[u8]> = None;
    let mut chunked = false;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            content_length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
        } else if name.eq_ignore_ascii_case(b"content-type") {
            content_type = Some(value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = find_ignore_case(value, b"chunked");
        }
    }
    let response = payload.starts_with(b"HTTP/");
    Some(if chunked {
        if body.ends_with(b"0\r\n\r\n") {
            media(content_type)
        } else {
            layer::TCP
        }
    } else if let Some(n) = content_length {
        if body.len() < n {
            layer::TCP
        } else if n == 0 {
            layer::HTTP
        } else {
            media(content_type)
        }
    } else if response && !status_without_body(payload) {
        layer::TCP
    } else {
        layer::HTTP
    })
}

/// 1xx, 204 and 304 responses never have a body.
fn status_without_body(payload: &[u8]) -> bool {
    match payload.get(9..12) {
        Some([b'1', _, _]) => true,
        Some(code) => code == b"204" || code == b"304",
        None => false,
    }
}

/// The layer tshark's media-type table gives an HTTP body.
fn media(content_type: Option<&[u8]>) -> &'static str {
    let Some(ct) = content_type else {
        return layer::DATA;
    };
    let ct = trim(ct.split(|&b| b == b';').next().unwrap_or(ct));
    let is = |t: &[u8]| ct.eq_ignore_ascii_case(t);
    let ends = |s: &[u8]| ct.len() >= s.len() && ct[ct.len() - s.len()..].eq_ignore_ascii_case(s);
    if is(b"application/json") || ends(b"+json") {
        layer::JSON
    } else if is(b"application/xml") || is(b"text/xml") || ends(b"+xml") {
        layer::XML
    } else if ct.len() >= 5 && ct[..5].eq_ignore_ascii_case(b"text/") {
        layer::TEXT_LINES
    } else if is(b"application/x-www-form-urlencoded") {
        layer::URLENCODED_FORM
    } else if is(b"application/octet-stream") {
        layer::DATA
    } else {
        layer::MEDIA
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &v[start..end.max(start)]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    //! The rules one by one; `tests/packet.rs` holds the full table with tshark's answers.
    use super::*;
    use mqtt_ids_capture::{decode, Frame, LinkType};

    fn layer_of(
        protocol: u8,
        ports: (u16, u16),
        payload: &[u8],
        mqtt: MqttLayer,
    ) -> Option<&'static str> {
        let mut l4 = Vec::new();
        l4.extend_from_slice(&ports.0.to_be_bytes());
        l4.extend_from_slice(&ports.1.to_be_bytes());
        if protocol == 6 {
            l4.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 1, 0, 0, 0, 0, 0]);
        } else {
            l4.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
            l4.extend_from_slice(&[0, 0]);
        }
        l4.extend_from_slice(payload);
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(20 + l4.len() as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        ip.extend_from_slice(&l4);
        let frame = Frame {
            number: 1,
            offset: 0,
            ts_ns: 0,
            interface: 0,
            link_type: LinkType::RAW,
            orig_len: ip.len() as u32,
            data: &ip,
        };
        highest_layer(&decode(frame), mqtt)
    }

    fn tcp(ports: (u16, u16), payload: &[u8]) -> &'static str {
        layer_of(6, ports, payload, MqttLayer::None).unwrap()
    }

    fn udp(ports: (u16, u16), payload: &[u8]) -> &'static str {
        layer_of(17, ports, payload, MqttLayer::None).unwrap()
    }

    #[test]
    fn mqtt_comes_from_the_tracker() {
        let m = |mqtt| layer_of(6, (40000, 1883), b"\x30\x02\x00\x00", mqtt);
        assert_eq!(
            m(MqttLayer::Messages {
                last_malformed: false
            }),
            Some("MQTT")
        );
        assert_eq!(
            m(MqttLayer::Messages {
                last_malformed: true
            }),
            Some("_WS.MALFORMED")
        );
        assert_eq!(m(MqttLayer::Segment), Some("TCP"));
        // Not taken by the tracker (e.g. configured for other ports): the port table.
        assert_eq!(m(MqttLayer::None), Some("MQTT"));
    }

    #[test]
    fn empty_payloads_and_other_protocols() {
        assert_eq!(tcp((22, 40000), b""), "TCP");
        assert_eq!(udp((53, 40000), b""), "UDP");
        assert_eq!(layer_of(1, (0x0800, 0), b"", MqttLayer::None), None);
    }

    #[test]
    fn lower_port_first_and_rejections_fall_through() {
        assert_eq!(tcp((22, 80), b"SSH-2.0-x\r\n"), "SSH");
        assert_eq!(tcp((80, 22), b"SSH-2.0-x\r\n"), "SSH");
        assert_eq!(udp((53, 123), &[0; 48]), "DNS");
        assert_eq!(udp((123, 5353), &[0; 48]), "NTP");
        // SNMP rejects what is not BER; nothing else claims port 40000.
        assert_eq!(udp((161, 40000), b"\x01\x02"), "DATA");
        assert_eq!(udp((161, 40000), b"\x30\x00"), "SNMP");
        assert_eq!(udp((40000, 40001), b"x"), "DATA");
        assert_eq!(tcp((40000, 40001), b"x"), "DATA");
    }

    #[test]
    fn fixed_parts_shorter_than_tshark_reads_are_malformed() {
        assert_eq!(udp((40000, 53), &[0; 11]), "_WS.MALFORMED");
        assert_eq!(udp((40000, 53), &[0; 12]), "DNS");
        assert_eq!(udp((68, 67), &[0; 239]), "_WS.MALFORMED");
        assert_eq!(udp((68, 67), &[0; 240]), "DHCP");
        assert_eq!(udp((40000, 123), &[0; 47]), "_WS.MALFORMED");
    }

    #[test]
    fn http_waits_for_whole_messages() {
        assert_eq!(tcp((40000, 80), b"GET / HTTP/1.1\r\nHost: x\r\n"), "TCP");
        assert_eq!(
            tcp((40000, 80), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            "HTTP"
        );
        assert_eq!(tcp((40000, 80), b"not http\r\n\r\n"), "TCP");
        let post =
            b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(tcp((40000, 80), post), "TCP");
        assert_eq!(tcp((40000, 80), &[&post[..], b"{}"].concat()), "JSON");
        assert_eq!(
            tcp((80, 40000), b"HTTP/1.1 304 Not Modified\r\n\r\n"),
            "HTTP"
        );
        assert_eq!(tcp((80, 40000), b"HTTP/1.1 200 OK\r\n\r\nbody"), "TCP");
        // The heuristic needs a version on the request line.
        assert_eq!(tcp((40000, 40001), b"GET / HTTP/1.0\r\n\r\n"), "HTTP");
        assert_eq!(tcp((40000, 40001), b"GET /\r\n\r\n"), "DATA");
    }

    #[test]
    fn media_types() {
        let cases: [(Option<&[u8]>, &str); 9] = [
            (None, "DATA"),
            (Some(b"application/json"), "JSON"),
            (Some(b"Application/JSON ; charset=utf-8"), "JSON"),
            (Some(b"application/vnd.api+json"), "JSON"),
            (Some(b"text/xml"), "XML"),
            (Some(b"text/html"), "DATA-TEXT-LINES"),
            (
                Some(b"application/x-www-form-urlencoded"),
                "URLENCODED-FORM",
            ),
            (Some(b"application/octet-stream"), "DATA"),
            (Some(b"image/jpeg"), "MEDIA"),
        ];
        for (ct, want) in cases {
            assert_eq!(media(ct), want, "{ct:?}");
        }
    }

    #[test]
    fn tls_records_found_anywhere() {
        assert_eq!(tcp((40000, 443), b"\x01"), "TLS");
        assert_eq!(tcp((40000, 40001), b"\x17\x03\x03\x00\x10"), "TLS");
        assert_eq!(tcp((40000, 40001), b"\x17\x03\x05\x00\x10"), "DATA");
        assert_eq!(tcp((40000, 40001), b"\x15\x03\x03\x00\x02"), "DATA");
        assert_eq!(tcp((40000, 40001), b"\x16\x03\x01\x00"), "DATA");
    }

    #[test]
    fn any_payload_never_panics() {
        let mut payload = Vec::new();
        for n in 0..600u32 {
            payload.push((n.wrapping_mul(2_654_435_761) >> 13) as u8);
            for ports in [(80, 1), (53, 1), (25, 1), (1900, 1), (5060, 1), (1, 2)] {
                let _ = layer_of(6, ports, &payload, MqttLayer::None);
                let _ = layer_of(17, ports, &payload, MqttLayer::None);
            }
        }
        for text in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nContent-Type:\r\n:\r\n\r\n",
        ] {
            let _ = tcp((80, 40000), text);
        }
    }
}
