//! Every `mqttset` field on hand-made traffic: the expected values are written out by hand below,
//! frame by frame, and when tshark is on PATH the whole capture is also compared with tshark's
//! rows cell by cell — the cases the shared captures lack (MQTT 3.1 and 5.0 variants, malformed
//! messages, odd strings, port reuse, a snap-length cut, out-of-order segments) are checked
//! against the reference too.
//!
//! The capture is built in memory (Ethernet, IPv4 and IPv6, nanosecond pcap), written to a
//! temporary file, and read through the driver ([`extract`]) as the CLI reads it.

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use mqtt_ids_capture::{open, LinkType, PcapWriter, ReaderOptions};
use mqtt_ids_features::label::Net;
use mqtt_ids_features::sets::mqttset::{render_tshark_string, MqttsetSet, SCHEMA};
use mqtt_ids_features::sets::FrameSet;
use mqtt_ids_features::{extract, ExtractOptions, Labeler, Output, Outputs, RowSink, SetKind};
use mqtt_ids_mqtt::{ReassemblyConfig, TrackerConfig};

mod common;
use common::{csv_records, run_set, tshark_mqttset};

// ---------------------------------------------------------------------------------------------
// Building traffic

/// An MQTT message: `first` (type and flags), the remaining length as a varint, `body`.
fn mqtt(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut n = body.len();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A length-prefixed MQTT string or binary field.
fn s(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One TCP connection's endpoints and next sequence numbers.
#[derive(Clone, Copy)]
struct Conn {
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    client_seq: u32,
    server_seq: u32,
}

impl Conn {
    fn new(client: &str, client_port: u16, server: &str, server_port: u16) -> Self {
        Conn {
            client: (client.parse().unwrap(), client_port),
            server: (server.parse().unwrap(), server_port),
            client_seq: 1000,
            server_seq: 50_000,
        }
    }
}

struct Frame {
    ts_ns: i64,
    data: Vec<u8>,
    orig_len: u32,
}

const ACK: u16 = 0x010;
const PSH_ACK: u16 = 0x018;
const SYN: u16 = 0x002;
const SYN_ACK: u16 = 0x012;
const FIN_ACK: u16 = 0x011;

#[derive(Default)]
struct Capture {
    frames: Vec<Frame>,
    ts_ns: i64,
}

impl Capture {
    fn new() -> Self {
        Capture {
            frames: Vec::new(),
            // 2020-05-01T00:00:00Z
            ts_ns: 1_588_291_200_000_000_000,
        }
    }

    /// An Ethernet frame with one TCP segment; returns its frame number.
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        seq: u32,
        ack: u32,
        flags: u16,
        payload: &[u8],
        gap_ns: i64,
    ) -> u64 {
        self.ts_ns += gap_ns;
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&src.1.to_be_bytes());
        tcp.extend_from_slice(&dst.1.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        // Data offset 5, then the reserved bits and NS, then CWR … FIN.
        tcp.push(0x50 | (flags >> 8) as u8);
        tcp.push(flags as u8);
        tcp.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        tcp.extend_from_slice(payload);
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        match (src.0, dst.0) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                frame.extend_from_slice(&[0x08, 0x00]);
                let total = (20 + tcp.len()) as u16;
                frame.extend_from_slice(&[0x45, 0]);
                frame.extend_from_slice(&total.to_be_bytes());
                frame.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
                frame.extend_from_slice(&a.octets());
                frame.extend_from_slice(&b.octets());
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                frame.extend_from_slice(&[0x86, 0xdd]);
                frame.extend_from_slice(&[0x60, 0, 0, 0]);
                frame.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
                frame.extend_from_slice(&[6, 64]);
                frame.extend_from_slice(&a.octets());
                frame.extend_from_slice(&b.octets());
            }
            _ => panic!("mixed address families"),
        }
        frame.extend_from_slice(&tcp);
        // Ethernet pads short frames to 60 bytes: padding is not TCP payload.
        frame.resize(frame.len().max(60), 0);
        let orig_len = frame.len() as u32;
        self.frames.push(Frame {
            ts_ns: self.ts_ns,
            data: frame,
            orig_len,
        });
        self.frames.len() as u64
    }

    /// SYN, SYN-ACK, ACK.
    fn open(&mut self, c: &mut Conn) {
        self.segment(c.client, c.server, c.client_seq, 0, SYN, b"", 1_000_000);
        c.client_seq += 1;
        self.segment(
            c.server,
            c.client,
            c.server_seq,
            c.client_seq,
            SYN_ACK,
            b"",
            250_001,
        );
        c.server_seq += 1;
        self.segment(
            c.client,
            c.server,
            c.client_seq,
            c.server_seq,
            ACK,
            b"",
            1_000,
        );
    }

    fn client(&mut self, c: &mut Conn, payload: &[u8]) -> u64 {
        let n = self.segment(
            c.client,
            c.server,
            c.client_seq,
            c.server_seq,
            PSH_ACK,
            payload,
            1_250_000,
        );
        c.client_seq = c.client_seq.wrapping_add(payload.len() as u32);
        n
    }

    fn server(&mut self, c: &mut Conn, payload: &[u8]) -> u64 {
        let n = self.segment(
            c.server,
            c.client,
            c.server_seq,
            c.client_seq,
            PSH_ACK,
            payload,
            1_250_000,
        );
        c.server_seq = c.server_seq.wrapping_add(payload.len() as u32);
        n
    }

    /// FIN from each side, last ACK.
    fn close(&mut self, c: &mut Conn) {
        self.segment(
            c.client,
            c.server,
            c.client_seq,
            c.server_seq,
            FIN_ACK,
            b"",
            1_000,
        );
        c.client_seq += 1;
        self.segment(
            c.server,
            c.client,
            c.server_seq,
            c.client_seq,
            FIN_ACK,
            b"",
            1_000,
        );
        c.server_seq += 1;
        self.segment(
            c.client,
            c.server,
            c.client_seq,
            c.server_seq,
            ACK,
            b"",
            1_000,
        );
    }

    /// Cuts the last frame to its first `keep` bytes, as a snap length would.
    fn truncate_last(&mut self, keep: usize) {
        let last = self.frames.last_mut().unwrap();
        last.data.truncate(keep);
    }

    fn write(&self, path: &Path) {
        let file = std::fs::File::create(path).unwrap();
        let mut w =
            PcapWriter::new(io::BufWriter::new(file), LinkType::ETHERNET, 65535, true).unwrap();
        for f in &self.frames {
            w.write_packet(f.ts_ns, f.orig_len, &f.data).unwrap();
        }
        w.into_inner().unwrap().flush().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Reading rows back

/// Rows by frame number (every frame here is TCP), the 33 fields and `target`, absent empty.
fn our_rows(path: &Path, tracker: TrackerConfig, labels: Labeler) -> Vec<Vec<String>> {
    let options = ExtractOptions {
        tracker,
        labels,
        ..ExtractOptions::default()
    };
    let (text, _) = run_set(path, SetKind::Mqttset, &options);
    let mut records = csv_records(&text);
    assert_eq!(records.remove(0), SCHEMA.names().collect::<Vec<_>>());
    records
}

fn tshark_rows(path: &Path) -> Option<Vec<Vec<String>>> {
    tshark_mqttset(path, &[])
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mqtt-ids-{}-{name}.pcap", std::process::id()))
}

fn col(name: &str) -> usize {
    SCHEMA
        .names()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// Checks one frame's row: the listed columns have the given values and every other `mqtt.*`
/// field is absent.
#[track_caller]
fn expect(rows: &[Vec<String>], frame: u64, want: &[(&str, &str)]) {
    let row = &rows[frame as usize - 1];
    for (name, value) in want {
        assert_eq!(row[col(name)], *value, "frame {frame} {name}");
    }
    for (i, name) in SCHEMA.names().enumerate() {
        if name.starts_with("mqtt.") && !want.iter().any(|(n, _)| *n == name) {
            assert_eq!(row[i], "", "frame {frame} {name} should be absent");
        }
    }
}

/// Compares with tshark cell by cell (when it is on PATH); `differences` lists the cells (frame,
/// field, ours, tshark) where we knowingly differ, and each must occur.
#[track_caller]
fn compare_with_tshark(path: &Path, ours: &[Vec<String>], differences: &[(u64, &str, &str, &str)]) {
    let Some(theirs) = tshark_rows(path) else {
        eprintln!("tshark not on PATH: hand-written expectations only");
        return;
    };
    assert_eq!(ours.len(), theirs.len(), "rows");
    let mut bad = Vec::new();
    let mut seen = 0;
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        let frame = i as u64 + 1;
        for (name, (x, y)) in SCHEMA.names().zip(a.iter().zip(b)) {
            let known = differences
                .iter()
                .find(|(f, n, _, _)| *f == frame && *n == name);
            match known {
                Some((_, _, o, t)) if o == x && t == y => seen += 1,
                Some((_, _, o, t)) => bad.push(format!(
                    "frame {frame} {name}: expected the difference ours {o:?} tshark {t:?}, \
                     got ours {x:?} tshark {y:?}"
                )),
                None if x != y => {
                    bad.push(format!("frame {frame} {name}: ours {x:?} tshark {y:?}"))
                }
                None => {}
            }
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
    assert_eq!(seen, differences.len(), "every listed difference occurs");
}

fn port_1883_only() -> TrackerConfig {
    TrackerConfig {
        probe_other_ports: false,
        ..TrackerConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The cases

#[test]
fn mqtt_3_1_1_every_message_type() {
    let mut cap = Capture::new();
    let mut c = Conn::new("10.0.0.1", 40000, "10.0.0.2", 1883);
    cap.open(&mut c); // frames 1-3

    // CONNECT 3.1.1: user name, password, will (QoS 1, retain), clean session; keep alive 60.
    let connect_body = cat(&[
        &s(b"MQTT"),
        &[4, 0xee],
        &60u16.to_be_bytes(),
        &s(b"client-1"),
        &s(b"will/t"),
        &s(&[0x00, 0xff, b'a']),
        &s(b"user"),
        &s(b"pass"),
    ]);
    let f4 = cap.client(&mut c, &mqtt(0x10, &connect_body));
    let f5 = cap.server(&mut c, &mqtt(0x20, &[0x01, 0x00])); // CONNACK, session present
    let f6 = cap.client(&mut c, &mqtt(0x31, &cat(&[&s(b"a/b"), b"hi"]))); // QoS 0, retain
    let f7 = cap.client(&mut c, &mqtt(0x3a, &cat(&[&s(b"a/b"), &[0, 7], b"x"]))); // QoS 1, dup
    let f8 = cap.client(&mut c, &mqtt(0x34, &cat(&[&s(b"a/b"), &[0, 8]]))); // QoS 2, no payload
    let subscribe = cat(&[&[0, 9], &s(b"a/#"), &[1], &s(b"b/+"), &[2]]);
    let f9 = cap.client(&mut c, &mqtt(0x82, &subscribe));
    let f10 = cap.server(&mut c, &mqtt(0x90, &[0, 9, 0x01, 0x80]));
    // Two messages in one segment: each field is its first occurrence, so `mqtt.msgid` comes
    // from the second (a QoS 0 PUBLISH has none).
    let two = cat(&[
        &mqtt(0x30, &cat(&[&s(b"t"), b"first"])),
        &mqtt(0x40, &[0, 5]),
    ]);
    let f11 = cap.server(&mut c, &two);
    // A PUBLISH split over two segments belongs to the one that completes it.
    let split = mqtt(
        0x32,
        &cat(&[&s(b"long/topic"), &[0x12, 0x34], &[0xab; 150]]),
    );
    let f12 = cap.client(&mut c, &split[..40]);
    let f13 = cap.client(&mut c, &split[40..]);
    // A segment ending one message and starting the next.
    let ping_and_half = cat(&[&mqtt(0xc0, &[]), &mqtt(0x62, &[0, 8])[..2]]);
    let f14 = cap.client(&mut c, &ping_and_half);
    let f15 = cap.client(&mut c, &[0, 8]);
    let f16 = cap.server(&mut c, &mqtt(0x70, &[0, 8])); // PUBCOMP
    let f17 = cap.client(&mut c, &mqtt(0xa2, &cat(&[&[0, 10], &s(b"a/#")]))); // UNSUBSCRIBE
    let f18 = cap.server(&mut c, &mqtt(0xb0, &[0, 10])); // UNSUBACK
    let f19 = cap.server(&mut c, &mqtt(0xd0, &[])); // PINGRESP
    let f20 = cap.server(&mut c, &mqtt(0x50, &[0, 7])); // PUBREC
    let f21 = cap.client(&mut c, &mqtt(0xe0, &[])); // DISCONNECT
    cap.close(&mut c); // 22-24

    let path = temp_path("v311");
    cap.write(&path);
    let rows = our_rows(&path, port_1883_only(), Labeler::default());
    assert_eq!(rows.len(), 24);

    // The handshake: flags, the stream's time deltas (ns precision), no payload, no MQTT.
    expect(&rows, 1, &[]);
    assert_eq!(rows[0][..3], ["0x0002", "0.000000000", "0"]);
    assert_eq!(rows[1][..3], ["0x0012", "0.000250001", "0"]);
    assert_eq!(rows[2][..3], ["0x0010", "0.000001000", "0"]);
    expect(
        &rows,
        f4,
        &[
            ("mqtt.hdrflags", "0x10"),
            ("mqtt.msgtype", "1"),
            ("mqtt.len", "45"),
            ("mqtt.proto_len", "4"),
            ("mqtt.protoname", "MQTT"),
            ("mqtt.ver", "4"),
            ("mqtt.conflags", "0xee"),
            ("mqtt.conflag.uname", "1"),
            ("mqtt.conflag.passwd", "1"),
            ("mqtt.conflag.retain", "1"),
            ("mqtt.conflag.qos", "1"),
            ("mqtt.conflag.willflag", "1"),
            ("mqtt.conflag.cleansess", "1"),
            ("mqtt.conflag.reserved", "0"),
            ("mqtt.kalive", "60"),
            ("mqtt.willtopic_len", "6"),
            ("mqtt.willtopic", "will/t"),
            ("mqtt.willmsg_len", "3"),
            ("mqtt.willmsg", "00ff61"),
        ],
    );
    assert_eq!(rows[f4 as usize - 1][..3], ["0x0018", "0.001250000", "47"]);
    expect(
        &rows,
        f5,
        &[
            ("mqtt.hdrflags", "0x20"),
            ("mqtt.msgtype", "2"),
            ("mqtt.len", "2"),
            ("mqtt.conack.flags", "0x01"),
            ("mqtt.conack.flags.reserved", "0"),
            ("mqtt.conack.flags.sp", "1"),
            ("mqtt.conack.val", "0"),
        ],
    );
    expect(
        &rows,
        f6,
        &[
            ("mqtt.hdrflags", "0x31"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "7"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "0"),
            ("mqtt.retain", "1"),
            ("mqtt.msg", "6869"),
        ],
    );
    expect(
        &rows,
        f7,
        &[
            ("mqtt.hdrflags", "0x3a"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "8"),
            ("mqtt.dupflag", "1"),
            ("mqtt.qos", "1"),
            ("mqtt.retain", "0"),
            ("mqtt.msgid", "7"),
            ("mqtt.msg", "78"),
        ],
    );
    // An empty payload is present: tshark writes an empty byte field as `<MISSING>`.
    expect(
        &rows,
        f8,
        &[
            ("mqtt.hdrflags", "0x34"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "7"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "2"),
            ("mqtt.retain", "0"),
            ("mqtt.msgid", "8"),
            ("mqtt.msg", "<MISSING>"),
        ],
    );
    // SUBSCRIBE with two filters: the first filter's requested QoS; no DUP/QoS header fields
    // after 3.1.
    expect(
        &rows,
        f9,
        &[
            ("mqtt.hdrflags", "0x82"),
            ("mqtt.msgtype", "8"),
            ("mqtt.len", "14"),
            ("mqtt.msgid", "9"),
            ("mqtt.sub.qos", "1"),
        ],
    );
    expect(
        &rows,
        f10,
        &[
            ("mqtt.hdrflags", "0x90"),
            ("mqtt.msgtype", "9"),
            ("mqtt.len", "4"),
            ("mqtt.msgid", "9"),
            ("mqtt.suback.qos", "1"),
        ],
    );
    expect(
        &rows,
        f11,
        &[
            ("mqtt.hdrflags", "0x30"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "8"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "0"),
            ("mqtt.retain", "0"),
            ("mqtt.msg", &hex(b"first")),
            ("mqtt.msgid", "5"),
        ],
    );
    expect(&rows, f12, &[]);
    assert_eq!(rows[f12 as usize - 1][2], "40");
    expect(
        &rows,
        f13,
        &[
            ("mqtt.hdrflags", "0x32"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "164"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "1"),
            ("mqtt.retain", "0"),
            ("mqtt.msgid", "4660"),
            ("mqtt.msg", &hex(&[0xab; 150])),
        ],
    );
    assert_eq!(rows[f13 as usize - 1][2], (split.len() - 40).to_string());
    expect(
        &rows,
        f14,
        &[
            ("mqtt.hdrflags", "0xc0"),
            ("mqtt.msgtype", "12"),
            ("mqtt.len", "0"),
        ],
    );
    let ack = |first: &str, ty: &str, id: &str| {
        [
            ("mqtt.hdrflags", first.to_string()),
            ("mqtt.msgtype", ty.to_string()),
            ("mqtt.len", "2".to_string()),
            ("mqtt.msgid", id.to_string()),
        ]
    };
    let check = |frame: u64, a: [(&str, String); 4]| {
        let v: Vec<(&str, &str)> = a.iter().map(|(n, v)| (*n, v.as_str())).collect();
        expect(&rows, frame, &v);
    };
    check(f15, ack("0x62", "6", "8"));
    check(f16, ack("0x70", "7", "8"));
    expect(
        &rows,
        f17,
        &[
            ("mqtt.hdrflags", "0xa2"),
            ("mqtt.msgtype", "10"),
            ("mqtt.len", "7"),
            ("mqtt.msgid", "10"),
        ],
    );
    check(f18, ack("0xb0", "11", "10"));
    expect(
        &rows,
        f19,
        &[
            ("mqtt.hdrflags", "0xd0"),
            ("mqtt.msgtype", "13"),
            ("mqtt.len", "0"),
        ],
    );
    check(f20, ack("0x50", "5", "7"));
    expect(
        &rows,
        f21,
        &[
            ("mqtt.hdrflags", "0xe0"),
            ("mqtt.msgtype", "14"),
            ("mqtt.len", "0"),
        ],
    );
    assert_eq!(rows[21][0], "0x0011");
    for row in &rows {
        assert_eq!(row[col("target")], "", "unlabelled");
    }
    compare_with_tshark(&path, &rows, &[]);
    let _ = std::fs::remove_file(&path);
}

/// v3.1 (`MQIsdp`, level 3) and 5.0 change which fields a message has; without a CONNECT the
/// version is unknown (tshark's 0), which reads CONNACK and SUBACK as 5.0 does.
#[test]
fn versions_3_1_5_0_and_unknown() {
    let mut cap = Capture::new();
    // 3.1 over IPv4.
    let mut b = Conn::new("10.0.0.3", 40001, "10.0.0.2", 1883);
    cap.open(&mut b);
    let connect31 = cat(&[&s(b"MQIsdp"), &[3, 0x02], &30u16.to_be_bytes(), &s(b"c31")]);
    let b_connect = cap.client(&mut b, &mqtt(0x10, &connect31));
    let b_connack = cap.server(&mut b, &mqtt(0x20, &[0x00, 0x00]));
    let b_subscribe = cap.client(&mut b, &mqtt(0x82, &cat(&[&[0, 1], &s(b"q/#"), &[2]])));
    let b_suback = cap.server(&mut b, &mqtt(0x90, &[0, 1, 2]));
    let b_pubrel = cap.client(&mut b, &mqtt(0x6a, &[0, 2])); // 3.1: DUP and QoS on PUBREL
    let b_unsubscribe = cap.client(&mut b, &mqtt(0xa2, &cat(&[&[0, 3], &s(b"q/#")])));
    let b_connack2 = cap.server(&mut b, &mqtt(0x20, &[0x01, 0x02])); // 3.1's reserved byte set

    // 5.0 over IPv6, with properties everywhere.
    let mut c = Conn::new("fd00::1", 40002, "fd00::2", 1883);
    cap.open(&mut c);
    let props = cat(&[
        &[0x11, 0, 0, 0, 60],                 // session expiry interval
        &[0x21, 0, 20],                       // receive maximum
        &cat(&[&[0x26], &s(b"k"), &s(b"v")]), // user property
    ]);
    let will_props = cat(&[
        &[0x18, 0, 0, 0, 5],                 // will delay interval
        &cat(&[&[0x03], &s(b"text/plain")]), // content type
        &[0x01, 1],                          // payload format indicator
    ]);
    let connect5 = cat(&[
        &s(b"MQTT"),
        &[5, 0xd6],
        &10u16.to_be_bytes(),
        &[props.len() as u8],
        &props,
        &s(b"c5"),
        &[will_props.len() as u8],
        &will_props,
        &s(b"w/5"),
        &s(b"bye"),
        &s(b"u"),
        &s(b"p"),
    ]);
    let c_connect = cap.client(&mut c, &mqtt(0x10, &connect5));
    let connack_props = cat(&[&[0x22, 0, 10], &cat(&[&[0x12], &s(b"abc")])]);
    let connack5 = cat(&[&[0x00, 0x00, connack_props.len() as u8], &connack_props]);
    let c_connack = cap.server(&mut c, &mqtt(0x20, &connack5));
    let pub_props = cat(&[&[0x01, 1], &[0x23, 0, 1], &cat(&[&[0x09], &s(b"cd")])]);
    let publish5 = cat(&[
        &s(b"t/5"),
        &[0, 3],
        &[pub_props.len() as u8],
        &pub_props,
        b"pay",
    ]);
    let c_publish = cap.client(&mut c, &mqtt(0x32, &publish5));
    let sub_props = [0x0b, 0x81, 0x01]; // subscription identifier 129
    let subscribe5 = cat(&[&[0, 4], &[3], &sub_props, &s(b"x"), &[0x15]]);
    let c_subscribe = cap.client(&mut c, &mqtt(0x82, &subscribe5));
    let suback_props = cat(&[&[0x1f], &s(b"ok")]);
    let suback5 = cat(&[&[0, 4, suback_props.len() as u8], &suback_props, &[0x01]]);
    let c_suback = cap.server(&mut c, &mqtt(0x90, &suback5));
    let c_puback = cap.server(&mut c, &mqtt(0x40, &[0, 3, 0x10, 0]));
    // An unknown property id takes the rest of the block; the payload follows it.
    let odd = cat(&[&s(b"t"), &[4, 0x7f, 1, 2, 3], b"z"]);
    let c_odd = cap.client(&mut c, &mqtt(0x30, &odd));
    let c_disconnect = cap.client(&mut c, &mqtt(0xe0, &[0x04, 0]));

    // No CONNECT on this connection: version unknown.
    let mut d = Conn::new("10.0.0.4", 40003, "10.0.0.2", 1883);
    cap.open(&mut d);
    let d_connack = cap.server(&mut d, &mqtt(0x20, &[0x00, 0x00]));
    let d_subscribe = cap.client(&mut d, &mqtt(0x82, &cat(&[&[0, 5], &s(b"y"), &[1]])));
    let d_suback = cap.server(&mut d, &mqtt(0x90, &[0, 5, 1]));

    let path = temp_path("versions");
    cap.write(&path);
    let rows = our_rows(&path, port_1883_only(), Labeler::default());

    expect(
        &rows,
        b_connect,
        &[
            ("mqtt.hdrflags", "0x10"),
            ("mqtt.msgtype", "1"),
            ("mqtt.len", &connect31.len().to_string()),
            ("mqtt.proto_len", "6"),
            ("mqtt.protoname", "MQIsdp"),
            ("mqtt.ver", "3"),
            ("mqtt.conflags", "0x02"),
            ("mqtt.conflag.uname", "0"),
            ("mqtt.conflag.passwd", "0"),
            ("mqtt.conflag.retain", "0"),
            ("mqtt.conflag.qos", "0"),
            ("mqtt.conflag.willflag", "0"),
            ("mqtt.conflag.cleansess", "1"),
            ("mqtt.conflag.reserved", "0"),
            ("mqtt.kalive", "30"),
        ],
    );
    // 3.1's CONNACK has a reserved byte (one boolean over it) and a return code; no session
    // present flag.
    let connack31 = [
        ("mqtt.hdrflags", "0x20"),
        ("mqtt.msgtype", "2"),
        ("mqtt.len", "2"),
        ("mqtt.conack.flags.reserved", "0"),
        ("mqtt.conack.val", "0"),
    ];
    expect(&rows, b_connack, &connack31);
    expect(
        &rows,
        b_subscribe,
        &[
            ("mqtt.hdrflags", "0x82"),
            ("mqtt.msgtype", "8"),
            ("mqtt.len", "8"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "1"),
            ("mqtt.msgid", "1"),
            ("mqtt.sub.qos", "2"),
        ],
    );
    expect(
        &rows,
        b_suback,
        &[
            ("mqtt.hdrflags", "0x90"),
            ("mqtt.msgtype", "9"),
            ("mqtt.len", "3"),
            ("mqtt.msgid", "1"),
            ("mqtt.suback.qos", "2"),
        ],
    );
    expect(
        &rows,
        b_pubrel,
        &[
            ("mqtt.hdrflags", "0x6a"),
            ("mqtt.msgtype", "6"),
            ("mqtt.len", "2"),
            ("mqtt.dupflag", "1"),
            ("mqtt.qos", "1"),
            ("mqtt.msgid", "2"),
        ],
    );
    expect(
        &rows,
        b_unsubscribe,
        &[
            ("mqtt.hdrflags", "0xa2"),
            ("mqtt.msgtype", "10"),
            ("mqtt.len", "7"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "1"),
            ("mqtt.msgid", "3"),
        ],
    );
    expect(
        &rows,
        b_connack2,
        &[
            ("mqtt.hdrflags", "0x20"),
            ("mqtt.msgtype", "2"),
            ("mqtt.len", "2"),
            ("mqtt.conack.flags.reserved", "1"),
            ("mqtt.conack.val", "2"),
        ],
    );

    expect(
        &rows,
        c_connect,
        &[
            ("mqtt.hdrflags", "0x10"),
            ("mqtt.msgtype", "1"),
            ("mqtt.len", &connect5.len().to_string()),
            ("mqtt.proto_len", "4"),
            ("mqtt.protoname", "MQTT"),
            ("mqtt.ver", "5"),
            ("mqtt.conflags", "0xd6"),
            ("mqtt.conflag.uname", "1"),
            ("mqtt.conflag.passwd", "1"),
            ("mqtt.conflag.retain", "0"),
            ("mqtt.conflag.qos", "2"),
            ("mqtt.conflag.willflag", "1"),
            ("mqtt.conflag.cleansess", "1"),
            ("mqtt.conflag.reserved", "0"),
            ("mqtt.kalive", "10"),
            ("mqtt.willtopic_len", "3"),
            ("mqtt.willtopic", "w/5"),
            ("mqtt.willmsg_len", "3"),
            ("mqtt.willmsg", "627965"),
        ],
    );
    assert_eq!(
        rows[c_connect as usize - 1][2],
        (connect5.len() + 2).to_string()
    );
    // 5.0's CONNACK carries a reason code (`mqtt.connack.reason_code`), not `mqtt.conack.val`.
    let connack5_fields = [
        ("mqtt.hdrflags", "0x20"),
        ("mqtt.msgtype", "2"),
        ("mqtt.conack.flags", "0x00"),
        ("mqtt.conack.flags.reserved", "0"),
        ("mqtt.conack.flags.sp", "0"),
    ];
    let len = connack5.len().to_string();
    let with_len = |fields: &[(&'static str, &'static str)], len: &str| {
        let mut v: Vec<(String, String)> = fields
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        v.push(("mqtt.len".into(), len.into()));
        v
    };
    let check = |frame: u64, v: Vec<(String, String)>| {
        let v: Vec<(&str, &str)> = v.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        expect(&rows, frame, &v);
    };
    check(c_connack, with_len(&connack5_fields, &len));
    expect(
        &rows,
        c_publish,
        &[
            ("mqtt.hdrflags", "0x32"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", &publish5.len().to_string()),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "1"),
            ("mqtt.retain", "0"),
            ("mqtt.msgid", "3"),
            ("mqtt.msg", "706179"),
        ],
    );
    // 5.0 SUBSCRIBE has subscription options, SUBACK reason codes: neither is in the set.
    expect(
        &rows,
        c_subscribe,
        &[
            ("mqtt.hdrflags", "0x82"),
            ("mqtt.msgtype", "8"),
            ("mqtt.len", &subscribe5.len().to_string()),
            ("mqtt.msgid", "4"),
        ],
    );
    expect(
        &rows,
        c_suback,
        &[
            ("mqtt.hdrflags", "0x90"),
            ("mqtt.msgtype", "9"),
            ("mqtt.len", &suback5.len().to_string()),
            ("mqtt.msgid", "4"),
        ],
    );
    expect(
        &rows,
        c_puback,
        &[
            ("mqtt.hdrflags", "0x40"),
            ("mqtt.msgtype", "4"),
            ("mqtt.len", "4"),
            ("mqtt.msgid", "3"),
        ],
    );
    expect(
        &rows,
        c_odd,
        &[
            ("mqtt.hdrflags", "0x30"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", &odd.len().to_string()),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "0"),
            ("mqtt.retain", "0"),
            ("mqtt.msg", "7a"),
        ],
    );
    expect(
        &rows,
        c_disconnect,
        &[
            ("mqtt.hdrflags", "0xe0"),
            ("mqtt.msgtype", "14"),
            ("mqtt.len", "2"),
        ],
    );

    check(d_connack, with_len(&connack5_fields, "2"));
    expect(
        &rows,
        d_subscribe,
        &[
            ("mqtt.hdrflags", "0x82"),
            ("mqtt.msgtype", "8"),
            ("mqtt.len", "6"),
            ("mqtt.msgid", "5"),
            ("mqtt.sub.qos", "1"),
        ],
    );
    expect(
        &rows,
        d_suback,
        &[
            ("mqtt.hdrflags", "0x90"),
            ("mqtt.msgtype", "9"),
            ("mqtt.len", "3"),
            ("mqtt.msgid", "5"),
        ],
    );
    compare_with_tshark(&path, &rows, &[]);
    let _ = std::fs::remove_file(&path);
}

/// Malformed messages keep every field that fits before the overrun (tshark stops at the field
/// that does not fit); odd protocol levels, QoS 3, reserved types and strange strings.
#[test]
fn malformed_and_odd_messages() {
    let mut cap = Capture::new();
    let mut e = Conn::new("10.0.0.5", 40004, "10.0.0.2", 1883);
    cap.open(&mut e);
    // Protocol name longer than the message.
    let name_overrun = cat(&[&200u16.to_be_bytes(), b"MQ"]);
    let e1 = cap.client(&mut e, &mqtt(0x10, &name_overrun));
    // Will message longer than the message.
    let will_overrun = cat(&[
        &s(b"MQTT"),
        &[4, 0x04],
        &5u16.to_be_bytes(),
        &s(b"id"),
        &s(b"wt"),
        &50u16.to_be_bytes(),
        b"abc",
    ]);
    let e2 = cap.client(&mut e, &mqtt(0x10, &will_overrun));
    // A protocol name tshark must escape, cut and repair; level 0x84 (a bridge's 4).
    let name = b"M,Q\t\"\\\n\x01\x08\x0b\x0c\r\xc3\xa9\xff\xed\xa0\x80\x00zz";
    let odd_connect = cat(&[&s(name), &[0x84, 0x01], &0u16.to_be_bytes(), &s(b"")]);
    let e3 = cap.client(&mut e, &mqtt(0x10, &odd_connect));
    // The conversation's version is now 132: CONNACK reads a reason code.
    let e4 = cap.server(&mut e, &mqtt(0x20, &[0x00, 0x05]));
    // QoS 3; a topic longer than the message; reserved bits in a requested QoS; type 0; AUTH
    // before 5.0; PINGREQ with a body.
    let e5 = cap.client(&mut e, &mqtt(0x36, &cat(&[&s(b"q3"), &[0, 9], b"!"])));
    let e6 = cap.client(&mut e, &mqtt(0x30, &cat(&[&100u16.to_be_bytes(), b"ab"])));
    let e7 = cap.client(&mut e, &mqtt(0x82, &cat(&[&[0, 6], &s(b"r"), &[0x41]])));
    let e8 = cap.client(&mut e, &mqtt(0x00, &[]));
    let e9 = cap.client(&mut e, &mqtt(0xf0, &[0x00]));
    let e10 = cap.client(&mut e, &mqtt(0xc0, &[0xaa, 0xbb]));
    // 5.0 CONNECT whose property length runs past the message.
    let props_overrun = cat(&[&s(b"MQTT"), &[5, 0x06], &7u16.to_be_bytes(), &[0x40, 0x11]]);
    let e11 = cap.client(&mut e, &mqtt(0x10, &props_overrun));
    // In 5.0, a PUBLISH whose properties run past it has no payload field.
    let e12 = cap.client(&mut e, &mqtt(0x32, &cat(&[&s(b"p"), &[0, 1], &[9, 0x01]])));
    // A string property declared longer than the block it sits in (but within the message):
    // tshark reads the whole property, then resumes after the declared block.
    let e13 = cap.client(
        &mut e,
        &mqtt(0x30, &cat(&[&s(b"p"), &[2, 0x1f, 0, 3], b"xyz"])),
    );
    // An empty protocol name is present (and empty).
    let e14 = cap.client(&mut e, &mqtt(0x10, &cat(&[&s(b""), &[4, 0x02]])));
    // A remaining length of 2 bytes.
    let big = cat(&[&s(b"big"), &[0x5a; 300]]);
    let e15 = cap.client(&mut e, &mqtt(0x30, &big));

    let path = temp_path("malformed");
    cap.write(&path);
    let rows = our_rows(&path, port_1883_only(), Labeler::default());
    expect(
        &rows,
        e1,
        &[
            ("mqtt.hdrflags", "0x10"),
            ("mqtt.msgtype", "1"),
            ("mqtt.len", "4"),
            ("mqtt.proto_len", "200"),
        ],
    );
    expect(
        &rows,
        e2,
        &[
            ("mqtt.hdrflags", "0x10"),
            ("mqtt.msgtype", "1"),
            ("mqtt.len", &will_overrun.len().to_string()),
            ("mqtt.proto_len", "4"),
            ("mqtt.protoname", "MQTT"),
            ("mqtt.ver", "4"),
            ("mqtt.conflags", "0x04"),
            ("mqtt.conflag.uname", "0"),
            ("mqtt.conflag.passwd", "0"),
            ("mqtt.conflag.retain", "0"),
            ("mqtt.conflag.qos", "0"),
            ("mqtt.conflag.willflag", "1"),
            ("mqtt.conflag.cleansess", "0"),
            ("mqtt.conflag.reserved", "0"),
            ("mqtt.kalive", "5"),
            ("mqtt.willtopic_len", "2"),
            ("mqtt.willtopic", "wt"),
            ("mqtt.willmsg_len", "50"),
        ],
    );
    expect(
        &rows,
        e3,
        &[
            ("mqtt.hdrflags", "0x10"),
            ("mqtt.msgtype", "1"),
            ("mqtt.len", &odd_connect.len().to_string()),
            ("mqtt.proto_len", &name.len().to_string()),
            (
                "mqtt.protoname",
                "M,Q\\t\"\\\\n\u{1}\\b\u{b}\\f\\ré\u{fffd}\u{fffd}\u{fffd}\u{fffd}",
            ),
            ("mqtt.ver", "132"),
            ("mqtt.conflags", "0x01"),
            ("mqtt.conflag.uname", "0"),
            ("mqtt.conflag.passwd", "0"),
            ("mqtt.conflag.retain", "0"),
            ("mqtt.conflag.qos", "0"),
            ("mqtt.conflag.willflag", "0"),
            ("mqtt.conflag.cleansess", "0"),
            ("mqtt.conflag.reserved", "1"),
            ("mqtt.kalive", "0"),
        ],
    );
    expect(
        &rows,
        e4,
        &[
            ("mqtt.hdrflags", "0x20"),
            ("mqtt.msgtype", "2"),
            ("mqtt.len", "2"),
            ("mqtt.conack.flags", "0x00"),
            ("mqtt.conack.flags.reserved", "0"),
            ("mqtt.conack.flags.sp", "0"),
        ],
    );
    expect(
        &rows,
        e5,
        &[
            ("mqtt.hdrflags", "0x36"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "7"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "3"),
            ("mqtt.retain", "0"),
            ("mqtt.msgid", "9"),
            ("mqtt.msg", "21"),
        ],
    );
    expect(
        &rows,
        e6,
        &[
            ("mqtt.hdrflags", "0x30"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "4"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "0"),
            ("mqtt.retain", "0"),
        ],
    );
    // The requested QoS byte whole, reserved bits included.
    expect(
        &rows,
        e7,
        &[
            ("mqtt.hdrflags", "0x82"),
            ("mqtt.msgtype", "8"),
            ("mqtt.len", "6"),
            ("mqtt.msgid", "6"),
            ("mqtt.sub.qos", "65"),
        ],
    );
    expect(
        &rows,
        e8,
        &[
            ("mqtt.hdrflags", "0x00"),
            ("mqtt.msgtype", "0"),
            ("mqtt.len", "0"),
        ],
    );
    expect(
        &rows,
        e9,
        &[
            ("mqtt.hdrflags", "0xf0"),
            ("mqtt.msgtype", "15"),
            ("mqtt.len", "1"),
        ],
    );
    expect(
        &rows,
        e10,
        &[
            ("mqtt.hdrflags", "0xc0"),
            ("mqtt.msgtype", "12"),
            ("mqtt.len", "2"),
        ],
    );
    expect(
        &rows,
        e11,
        &[
            ("mqtt.hdrflags", "0x10"),
            ("mqtt.msgtype", "1"),
            ("mqtt.len", &props_overrun.len().to_string()),
            ("mqtt.proto_len", "4"),
            ("mqtt.protoname", "MQTT"),
            ("mqtt.ver", "5"),
            ("mqtt.conflags", "0x06"),
            ("mqtt.conflag.uname", "0"),
            ("mqtt.conflag.passwd", "0"),
            ("mqtt.conflag.retain", "0"),
            ("mqtt.conflag.qos", "0"),
            ("mqtt.conflag.willflag", "1"),
            ("mqtt.conflag.cleansess", "1"),
            ("mqtt.conflag.reserved", "0"),
            ("mqtt.kalive", "7"),
        ],
    );
    expect(
        &rows,
        e12,
        &[
            ("mqtt.hdrflags", "0x32"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "7"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "1"),
            ("mqtt.retain", "0"),
            ("mqtt.msgid", "1"),
        ],
    );
    // A block of 2 declared at body offset 3: the reason string (0x1f) runs to offset 10, but
    // the payload starts where the block was declared to end, offset 6 (the string's length
    // byte 3, then "xyz").
    expect(
        &rows,
        e13,
        &[
            ("mqtt.hdrflags", "0x30"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "10"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "0"),
            ("mqtt.retain", "0"),
            ("mqtt.msg", "0378797a"),
        ],
    );
    expect(
        &rows,
        e14,
        &[
            ("mqtt.hdrflags", "0x10"),
            ("mqtt.msgtype", "1"),
            ("mqtt.len", "4"),
            ("mqtt.proto_len", "0"),
            ("mqtt.protoname", ""),
            ("mqtt.ver", "4"),
            ("mqtt.conflags", "0x02"),
            ("mqtt.conflag.uname", "0"),
            ("mqtt.conflag.passwd", "0"),
            ("mqtt.conflag.retain", "0"),
            ("mqtt.conflag.qos", "0"),
            ("mqtt.conflag.willflag", "0"),
            ("mqtt.conflag.cleansess", "1"),
            ("mqtt.conflag.reserved", "0"),
        ],
    );
    expect(
        &rows,
        e15,
        &[
            ("mqtt.hdrflags", "0x30"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "305"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "0"),
            ("mqtt.retain", "0"),
            ("mqtt.msg", &hex(&[0x5a; 300])),
        ],
    );
    compare_with_tshark(&path, &rows, &[]);
    let _ = std::fs::remove_file(&path);
}

/// `tcp.time_delta` per conversation (interleaved), a port reused with a new initial sequence
/// number (a new conversation: delta 0, MQTT version forgotten), a retransmitted SYN (the same
/// conversation), every TCP flag bit, a segment cut by the snap length (`tcp.len` is what the IP
/// header announces), labels in `target`.
#[test]
fn conversations_flags_lengths_and_labels() {
    let mut cap = Capture::new();
    let mut a = Conn::new("192.168.1.10", 50000, "192.168.1.1", 1883);
    let mut b = Conn::new("192.168.1.11", 50001, "192.168.1.1", 1883);
    cap.open(&mut a); // 1-3
    cap.open(&mut b); // 4-6
    let a_connect = cat(&[&s(b"MQTT"), &[4, 0x02], &60u16.to_be_bytes(), &s(b"a")]);
    let f7 = cap.client(&mut a, &mqtt(0x10, &a_connect));
    let f8 = cap.client(&mut b, &mqtt(0xc0, &[]));
    let f9 = cap.server(&mut a, &mqtt(0x20, &[0, 0]));
    cap.close(&mut a); // 10-12

    // The same ports again with a new initial sequence number: a new conversation, whose
    // CONNACK (no CONNECT in it) has no return code field.
    a.client_seq = 777_777;
    a.server_seq = 888_888;
    cap.open(&mut a); // 13-15
    let f16 = cap.server(&mut a, &mqtt(0x20, &[0, 0]));
    // A retransmitted SYN (same sequence number) stays in its conversation.
    let f17 = cap.segment(a.client, a.server, 777_777, 0, SYN, b"", 3_000_000);
    // Every flag bit: SYN|ECE|CWR, then NS, the reserved bits, URG, RST.
    let f18 = cap.segment(b.client, b.server, b.client_seq, 0, 0x0c2, b"", 1);
    let f19 = cap.segment(b.client, b.server, b.client_seq, 0, 0xf30, b"", 1);
    let f20 = cap.segment(b.client, b.server, b.client_seq, 0, 0x004, b"", 1);
    // A web request cut by a 70-byte snap length.
    let mut w = Conn::new("192.168.1.12", 50002, "192.168.1.1", 80);
    cap.open(&mut w); // 21-23
    let f24 = cap.client(&mut w, &[b'G'; 200]);
    cap.truncate_last(70);

    let path = temp_path("conversations");
    cap.write(&path);
    let labels = Labeler {
        attackers: vec![Net::parse("192.168.1.11").unwrap()],
        class: Some("slowite".into()),
        ..Labeler::default()
    };
    let rows = our_rows(&path, port_1883_only(), labels);
    let tcp = |frame: u64| rows[frame as usize - 1][..3].to_vec();
    // Conversation a: 1, 2, 3, then its next frame 7 comes after 4-6 of b.
    assert_eq!(tcp(1), ["0x0002", "0.000000000", "0"]);
    assert_eq!(tcp(4), ["0x0002", "0.000000000", "0"]);
    assert_eq!(tcp(7), ["0x0018", "0.002501001", "15"]);
    assert_eq!(tcp(8), ["0x0018", "0.002500000", "2"]);
    assert_eq!(tcp(9), ["0x0018", "0.002500000", "4"]);
    assert_eq!(tcp(13)[..2], ["0x0002", "0.000000000"]);
    assert_eq!(tcp(17)[..2], ["0x0002", "0.003000000"]);
    // A SYN (with ECE and CWR) at b's next sequence number, not its first: tshark takes it for
    // a new conversation on reused ports too.
    assert_eq!(tcp(18), ["0x00c2", "0.000000000", "0"]);
    assert_eq!(tcp(19), ["0x0f30", "0.000000001", "0"]);
    assert_eq!(tcp(20), ["0x0004", "0.000000001", "0"]);
    assert_eq!(tcp(24), ["0x0018", "0.001250000", "200"]);
    let _ = (f7, f8, f17, f18, f19, f20, f24);
    expect(
        &rows,
        f9,
        &[
            ("mqtt.hdrflags", "0x20"),
            ("mqtt.msgtype", "2"),
            ("mqtt.len", "2"),
            ("mqtt.conack.flags", "0x00"),
            ("mqtt.conack.flags.reserved", "0"),
            ("mqtt.conack.flags.sp", "0"),
            ("mqtt.conack.val", "0"),
        ],
    );
    expect(
        &rows,
        f16,
        &[
            ("mqtt.hdrflags", "0x20"),
            ("mqtt.msgtype", "2"),
            ("mqtt.len", "2"),
            ("mqtt.conack.flags", "0x00"),
            ("mqtt.conack.flags.reserved", "0"),
            ("mqtt.conack.flags.sp", "0"),
        ],
    );
    // --attacker marks b's frames with the --label class, the others legitimate.
    let target = col("target");
    for (i, row) in rows.iter().enumerate() {
        let frame = i as u64 + 1;
        let want = if (4..=6).contains(&frame) || frame == 8 || (18..=20).contains(&frame) {
            "slowite"
        } else {
            "legitimate"
        };
        assert_eq!(row[target], want, "frame {frame}");
    }
    compare_with_tshark(&path, &rows, &[]);
    let _ = std::fs::remove_file(&path);
}

/// The one kind of difference with tshark: a segment captured ahead of the one before it.
/// tshark (no out-of-order reassembly by default) dissects the early segment as if it were next
/// in the stream, and skips the late one as a retransmission; we hold the early segment until
/// the hole is filled and deliver both at the filling segment, in stream order.
#[test]
fn out_of_order_segment_is_reassembled_where_tshark_skips_it() {
    let mut cap = Capture::new();
    let mut c = Conn::new("10.1.0.1", 41000, "10.1.0.2", 1883);
    cap.open(&mut c);
    cap.client(
        &mut c,
        &mqtt(0x10, &cat(&[&s(b"MQTT"), &[4, 2], &[0, 60], &s(b"o")])),
    );
    cap.server(&mut c, &mqtt(0x20, &[0, 0]));
    let first = mqtt(0x30, &cat(&[&s(b"a"), b"AAAA"]));
    let second = mqtt(0x32, &cat(&[&s(b"b"), &[0, 5], b"BBBB"]));
    let seq = c.client_seq;
    let early = cap.segment(
        c.client,
        c.server,
        seq + first.len() as u32,
        c.server_seq,
        PSH_ACK,
        &second,
        1_000,
    );
    let late = cap.segment(
        c.client,
        c.server,
        seq,
        c.server_seq,
        PSH_ACK,
        &first,
        1_000,
    );
    c.client_seq = seq + (first.len() + second.len()) as u32;
    let after = cap.client(&mut c, &mqtt(0xc0, &[]));

    let path = temp_path("ooo");
    cap.write(&path);
    let rows = our_rows(&path, port_1883_only(), Labeler::default());
    expect(&rows, early, &[]);
    // Both messages at the late segment: the fields of the first, the id of the second.
    expect(
        &rows,
        late,
        &[
            ("mqtt.hdrflags", "0x30"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", "7"),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "0"),
            ("mqtt.retain", "0"),
            ("mqtt.msg", "41414141"),
            ("mqtt.msgid", "5"),
        ],
    );
    expect(
        &rows,
        after,
        &[
            ("mqtt.hdrflags", "0xc0"),
            ("mqtt.msgtype", "12"),
            ("mqtt.len", "0"),
        ],
    );
    compare_with_tshark(
        &path,
        &rows,
        &[
            (early, "mqtt.hdrflags", "", "0x32"),
            (early, "mqtt.msgtype", "", "3"),
            (early, "mqtt.len", "", "9"),
            (early, "mqtt.dupflag", "", "0"),
            (early, "mqtt.qos", "", "1"),
            (early, "mqtt.retain", "", "0"),
            (early, "mqtt.msgid", "", "5"),
            (early, "mqtt.msg", "", "42424242"),
            (late, "mqtt.hdrflags", "0x30", ""),
            (late, "mqtt.msgtype", "3", ""),
            (late, "mqtt.len", "7", ""),
            (late, "mqtt.dupflag", "0", ""),
            (late, "mqtt.qos", "0", ""),
            (late, "mqtt.retain", "0", ""),
            (late, "mqtt.msgid", "5", ""),
            (late, "mqtt.msg", "41414141", ""),
        ],
    );
    let _ = std::fs::remove_file(&path);
}

/// A message above the tracker's `max_message_len` is skipped unparsed: its row has what the
/// fixed header says, at the frame that announced it (tshark, which has no such cap, dissects it
/// whole at the frame that completes it).
#[test]
fn oversized_message_gives_its_fixed_header_only() {
    let mut cap = Capture::new();
    let mut c = Conn::new("10.2.0.1", 42000, "10.2.0.2", 1883);
    cap.open(&mut c);
    cap.client(
        &mut c,
        &mqtt(0x10, &cat(&[&s(b"MQTT"), &[4, 2], &[0, 60], &s(b"o")])),
    );
    let big = mqtt(0x33, &cat(&[&s(b"big"), &[0, 1], &[0x11; 150]]));
    let head = cap.client(&mut c, &big[..60]);
    let tail = cap.client(&mut c, &big[60..]);
    let path = temp_path("oversized");
    cap.write(&path);
    let tracker = TrackerConfig {
        probe_other_ports: false,
        reassembly: ReassemblyConfig {
            max_message_len: 100,
            ..ReassemblyConfig::default()
        },
        ..TrackerConfig::default()
    };
    let rows = our_rows(&path, tracker, Labeler::default());
    let header = [
        ("mqtt.hdrflags", "0x33"),
        ("mqtt.msgtype", "3"),
        ("mqtt.len", "157"),
        ("mqtt.dupflag", "0"),
        ("mqtt.qos", "1"),
        ("mqtt.retain", "1"),
    ];
    expect(&rows, head, &header);
    expect(&rows, tail, &[]);
    let mut differences: Vec<(u64, &str, &str, &str)> =
        header.iter().map(|(n, v)| (head, *n, *v, "")).collect();
    differences.extend(header.iter().map(|(n, v)| (tail, *n, "", *v)));
    let payload = hex(&[0x11; 150]);
    differences.push((tail, "mqtt.msgid", "", "1"));
    differences.push((tail, "mqtt.msg", "", &payload));
    compare_with_tshark(&path, &rows, &differences);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn strings_render_as_tshark_prints_them() {
    let cases: &[(&[u8], &str)] = &[
        (b"MQTT", "MQTT"),
        (b"", ""),
        // The five escapes of `-E escape=y`; other control characters and backslash stay.
        (b"a\x08b\x0cc\nd\re\tf", "a\\bb\\fc\\nd\\re\\tf"),
        (b"\x01\x07\x0b\x1b\x7f\\", "\u{1}\u{7}\u{b}\u{1b}\u{7f}\\"),
        // The value ends at the first NUL.
        (b"ab\x00cd", "ab"),
        (b"\xe2\x00b", "\u{fffd}"),
        // Invalid UTF-8: one replacement character per maximal subpart.
        (b"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80b", "aé€😀b"),
        (b"\xed\xa0\x80", "\u{fffd}\u{fffd}\u{fffd}"),
        (b"\xc0\xaf", "\u{fffd}\u{fffd}"),
        (b"\xe2\x82b", "\u{fffd}b"),
        (b"\xf4\x90\x80\x80", "\u{fffd}\u{fffd}\u{fffd}\u{fffd}"),
        (b"\x80\xff", "\u{fffd}\u{fffd}"),
        (b"\xc2\x80\xe2\x80\xa8", "\u{80}\u{2028}"),
    ];
    for (raw, want) in cases {
        let mut out = String::new();
        render_tshark_string(raw, &mut out);
        assert_eq!(out, *want, "{raw:?}");
    }
}

/// Rows straight from the set, without a tracker (messages given by hand).
#[derive(Default)]
struct Cells {
    current: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl RowSink for Cells {
    fn null(&mut self) {
        self.current.push(String::new());
    }
    fn uint(&mut self, v: u64) {
        self.current.push(v.to_string());
    }
    fn int(&mut self, v: i64) {
        self.current.push(v.to_string());
    }
    fn float(&mut self, v: f64) {
        self.current.push(format!("{v:.9}"));
    }
    fn str(&mut self, v: &str) {
        self.current.push(v.to_string());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.current.push(hex(v));
    }
    fn end_row(&mut self) -> io::Result<()> {
        self.rows.push(std::mem::take(&mut self.current));
        Ok(())
    }
}

/// The conversation table is bounded: beyond `max_streams` one is forgotten (the CLOCK rule:
/// the hand spares once a conversation seen again since it last passed), counted, and its next
/// frame starts over.
#[test]
fn conversation_table_is_bounded_and_evictions_counted() {
    let mut cap = Capture::new();
    let a = Conn::new("10.9.0.1", 1000, "10.9.0.9", 80);
    let b = Conn::new("10.9.0.2", 1000, "10.9.0.9", 80);
    let c = Conn::new("10.9.0.3", 1000, "10.9.0.9", 80);
    for conn in [a, b, a, c, b, a] {
        cap.segment(conn.client, conn.server, 1, 1, ACK, b"", 1_000_000);
    }
    let mut set = MqttsetSet::with_max_streams(2);
    let mut sink = Cells::default();
    for (i, f) in cap.frames.iter().enumerate() {
        let frame = mqtt_ids_capture::Frame {
            number: i as u64 + 1,
            offset: 0,
            ts_ns: f.ts_ns,
            interface: 0,
            link_type: LinkType::ETHERNET,
            orig_len: f.orig_len,
            data: &f.data,
        };
        let packet = mqtt_ids_capture::decode(frame);
        set.end_packet(&packet, false, &Labeler::default(), &mut sink)
            .unwrap();
    }
    let deltas: Vec<&str> = sink.rows.iter().map(|r| r[1].as_str()).collect();
    // a, b, a (2 ms after a), c (the hand spares a, seen again, and evicts b), b (new again;
    // evicts a), a (new again; evicts c).
    assert_eq!(
        deltas,
        [
            "0.000000000",
            "0.000000000",
            "0.002000000",
            "0.000000000",
            "0.000000000",
            "0.000000000"
        ]
    );
    let stats = set.stats();
    assert_eq!(
        (stats.rows, stats.streams, stats.evicted, stats.open_streams),
        (6, 5, 3, 2)
    );
}

/// Reassembly cases where tshark and we agree: an exact retransmission (dissected once), a
/// segment lost in capture that the peer acknowledged (the next segment starts a message), and
/// a fixed header cut after its first byte.
#[test]
fn retransmission_lost_segment_and_header_cut_after_its_type() {
    let mut cap = Capture::new();
    let mut a = Conn::new("10.3.0.1", 43000, "10.3.0.2", 1883);
    cap.open(&mut a);
    cap.client(
        &mut a,
        &mqtt(0x10, &cat(&[&s(b"MQTT"), &[4, 2], &[0, 60], &s(b"a")])),
    );
    let publish = mqtt(0x30, &cat(&[&s(b"t"), b"one"]));
    let seq = a.client_seq;
    let original = cap.client(&mut a, &publish);
    let again = cap.segment(
        a.client,
        a.server,
        seq,
        a.server_seq,
        PSH_ACK,
        &publish,
        1_000,
    );
    // Lost: the server acknowledges bytes the capture never saw.
    let lost = mqtt(0x30, &cat(&[&s(b"t"), &[0x42; 50]]));
    a.client_seq += lost.len() as u32;
    cap.server(&mut a, &mqtt(0xd0, &[]));
    let after_gap = cap.client(&mut a, &mqtt(0x32, &cat(&[&s(b"u"), &[0, 9], b"after"])));
    let big = mqtt(0x30, &cat(&[&s(b"t"), &[0x41; 200]]));
    let head = cap.client(&mut a, &big[..1]);
    let rest = cap.client(&mut a, &big[1..]);
    let path = temp_path("agree");
    cap.write(&path);
    let rows = our_rows(&path, port_1883_only(), Labeler::default());
    let publish_fields = |hdr: &'static str, len: &'static str| {
        vec![
            ("mqtt.hdrflags", hdr),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", len),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", if hdr == "0x32" { "1" } else { "0" }),
            ("mqtt.retain", "0"),
        ]
    };
    let mut want = publish_fields("0x30", "6");
    want.push(("mqtt.msg", "6f6e65"));
    expect(&rows, original, &want);
    expect(&rows, again, &[]);
    let mut want = publish_fields("0x32", "10");
    want.extend([("mqtt.msgid", "9"), ("mqtt.msg", "6166746572")]);
    expect(&rows, after_gap, &want);
    expect(&rows, head, &[]);
    let payload = hex(&[0x41; 200]);
    let mut want = publish_fields("0x30", "203");
    want.push(("mqtt.msg", &payload));
    expect(&rows, rest, &want);
    compare_with_tshark(&path, &rows, &[]);
    let _ = std::fs::remove_file(&path);
}

/// Broken streams where tshark loses the message framing and we resynchronise on the next fixed
/// header that parses (and is followed by a plausible one). Each is a difference with tshark, by
/// design: the IDS keeps reading the connection.
/// - A remaining length cut between two segments: tshark's dissector cannot read a length split
///   over segments (a known limitation noted in packet-mqtt.c) and reads garbage from there on.
/// - A capture starting inside a message: tshark takes the first byte for a fixed header.
/// - A remaining length of five bytes (invalid; at most four): tshark reads up to ten length
///   bytes and takes the next segment's bytes as the body.
#[test]
fn broken_framing_is_resynchronised_where_tshark_loses_it() {
    let mut cap = Capture::new();
    let mut c = Conn::new("10.4.0.1", 44000, "10.4.0.2", 1883);
    cap.open(&mut c);
    cap.client(
        &mut c,
        &mqtt(0x10, &cat(&[&s(b"MQTT"), &[4, 2], &[0, 60], &s(b"c")])),
    );
    // 0x30, then the two length bytes 0xcb 0x01 (203) cut after the first.
    let big = mqtt(0x30, &cat(&[&s(b"t"), &[0x41; 200]]));
    let cut = cap.client(&mut c, &big[..2]);
    let rest = cap.client(&mut c, &big[2..]);
    let ping = cap.client(&mut c, &mqtt(0xc0, &[]));

    // The first captured segment of this connection starts 10 bytes into a PUBLISH.
    let mut m = Conn::new("10.5.0.1", 45000, "10.5.0.2", 1883);
    let inside = mqtt(0x30, &cat(&[&s(b"t"), &[0x43; 30]]));
    let picked_up = cap.client(&mut m, &cat(&[&inside[10..], &mqtt(0xc0, &[])]));
    let next = cap.client(&mut m, &mqtt(0x30, &cat(&[&s(b"v"), b"x"])));

    let mut e = Conn::new("10.6.0.1", 46000, "10.6.0.2", 1883);
    cap.open(&mut e);
    cap.client(
        &mut e,
        &mqtt(0x10, &cat(&[&s(b"MQTT"), &[4, 2], &[0, 60], &s(b"e")])),
    );
    let five = cap.client(
        &mut e,
        &[0x30, 0x85, 0x80, 0x80, 0x80, 0x00, 0, 1, b'w', b'z'],
    );
    let e_ping = cap.client(&mut e, &mqtt(0xc0, &[]));
    let e_publish = cap.client(&mut e, &mqtt(0x30, &cat(&[&s(b"w"), b"y"])));

    let path = temp_path("broken");
    cap.write(&path);
    let rows = our_rows(&path, port_1883_only(), Labeler::default());
    let ping_fields = [
        ("mqtt.hdrflags", "0xc0"),
        ("mqtt.msgtype", "12"),
        ("mqtt.len", "0"),
    ];
    let payload = hex(&[0x41; 200]);
    let publish = |len: &'static str, msg: &'static str| {
        [
            ("mqtt.hdrflags", "0x30"),
            ("mqtt.msgtype", "3"),
            ("mqtt.len", len),
            ("mqtt.dupflag", "0"),
            ("mqtt.qos", "0"),
            ("mqtt.retain", "0"),
            ("mqtt.msg", msg),
        ]
    };
    let mut rest_fields = publish("203", "").to_vec();
    rest_fields[6].1 = &payload;
    expect(&rows, cut, &[]);
    expect(&rows, rest, &rest_fields);
    expect(&rows, ping, &ping_fields);
    expect(&rows, picked_up, &ping_fields);
    expect(&rows, next, &publish("4", "78"));
    expect(&rows, five, &[]);
    expect(&rows, e_ping, &ping_fields);
    expect(&rows, e_publish, &publish("4", "79"));

    // tshark's rows, as it reads these streams.
    let mut owned: Vec<(u64, &str, String, String)> = Vec::new();
    let mut differ = |frame: u64, ours: &[(&str, &str)], theirs: &[(&str, &str)]| {
        for name in SCHEMA.names().filter(|n| n.starts_with("mqtt.")) {
            let value = |fields: &[(&str, &str)]| {
                fields
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(String::new(), |(_, v)| v.to_string())
            };
            let (a, b) = (value(ours), value(theirs));
            if a != b {
                owned.push((frame, name, a, b));
            }
        }
    };
    // The bytes after the cut read as type-0 messages and a PUBACK (0x41) with id 0x4141.
    differ(
        rest,
        &rest_fields,
        &[
            ("mqtt.hdrflags", "0x01"),
            ("mqtt.msgtype", "0"),
            ("mqtt.len", "0"),
            ("mqtt.msgid", "16705"),
        ],
    );
    differ(ping, &ping_fields, &[]);
    differ(picked_up, &ping_fields, &[]);
    differ(next, &publish("4", "78"), &[]);
    // A body of 5: the four bytes after the length, then the PINGREQ's first byte.
    differ(e_ping, &ping_fields, &publish("5", "7ac0"));
    differ(e_publish, &publish("4", "79"), &[]);
    let differences: Vec<(u64, &str, &str, &str)> = owned
        .iter()
        .map(|(f, n, a, b)| (*f, *n, a.as_str(), b.as_str()))
        .collect();
    compare_with_tshark(&path, &rows, &differences);
    let _ = std::fs::remove_file(&path);
}

/// Parquet columns are typed (hex fields as their numbers, the time delta in seconds, payloads as
/// binary, strings as UTF-8) and hold the same values the CSV renders, nulls where it is empty.
#[cfg(feature = "parquet")]
#[test]
fn parquet_holds_the_csv_values_typed() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, UInt64Type};
    use arrow_array::Array;
    use arrow_schema::DataType;
    use mqtt_ids_features::parquet::ParquetSink;
    use mqtt_ids_features::ColumnType;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let mut cap = Capture::new();
    let mut c = Conn::new("10.7.0.1", 47000, "10.7.0.2", 1883);
    cap.open(&mut c);
    let connect = cat(&[
        &s(b"MQTT"),
        &[4, 0x26],
        &[0, 30],
        &s(b"p"),
        &s(b"will,\"t\""),
        &s(b""),
    ]);
    cap.client(&mut c, &mqtt(0x10, &connect));
    cap.server(&mut c, &mqtt(0x20, &[0, 0]));
    cap.client(&mut c, &mqtt(0x3b, &cat(&[&s(b"a"), &[1, 2], b"\x00\xff"])));
    cap.client(&mut c, &mqtt(0x82, &cat(&[&[0, 3], &s(b"a"), &[2]])));
    cap.close(&mut c);
    let path = temp_path("parquet");
    cap.write(&path);
    let labels = Labeler {
        class: Some("benign".into()),
        ..Labeler::default()
    };
    let csv = our_rows(&path, port_1883_only(), labels.clone());

    let out = path.with_extension("parquet");
    let mut outputs = Outputs {
        mqttset: Some(Output::Parquet(Box::new(
            ParquetSink::new(std::fs::File::create(&out).unwrap(), SCHEMA, Vec::new()).unwrap(),
        ))),
        ..Outputs::default()
    };
    let options = ExtractOptions {
        tracker: port_1883_only(),
        labels,
        ..ExtractOptions::default()
    };
    let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    extract(&mut reader, &options, &mut outputs, &mut |_| {}).unwrap();
    outputs.mqttset.take().unwrap().finish().unwrap();

    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let mut row = 0;
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        for (i, column) in SCHEMA.columns.iter().enumerate() {
            let want_type = match column.ty {
                ColumnType::UInt | ColumnType::Hex(_) => DataType::UInt64,
                ColumnType::Fixed(_) => DataType::Float64,
                ColumnType::Bytes => DataType::Binary,
                ColumnType::Str => DataType::Utf8,
                other => panic!("{}: unexpected type {other:?}", column.name),
            };
            assert_eq!(schema.field(i).data_type(), &want_type, "{}", column.name);
            assert_eq!(schema.field(i).name(), column.name);
            let array = batch.column(i);
            for r in 0..batch.num_rows() {
                let text = if array.is_null(r) {
                    String::new()
                } else {
                    match column.ty {
                        ColumnType::UInt => array.as_primitive::<UInt64Type>().value(r).to_string(),
                        ColumnType::Hex(w) => format!(
                            "0x{:0w$x}",
                            array.as_primitive::<UInt64Type>().value(r),
                            w = usize::from(w)
                        ),
                        ColumnType::Fixed(d) => format!(
                            "{:.d$}",
                            array.as_primitive::<Float64Type>().value(r),
                            d = usize::from(d)
                        ),
                        ColumnType::Bytes => match array.as_binary::<i32>().value(r) {
                            [] => "<MISSING>".to_string(),
                            b => hex(b),
                        },
                        _ => array.as_string::<i32>().value(r).to_string(),
                    }
                };
                assert_eq!(text, csv[row + r][i], "row {} {}", row + r + 1, column.name);
            }
        }
        row += batch.num_rows();
    }
    assert_eq!(row, csv.len());
    // The will message is empty (present): an empty binary, not a null.
    assert_eq!(csv[3][col("mqtt.willmsg")], "<MISSING>");
    assert_eq!(csv[3][col("mqtt.willtopic")], "will,\"t\"");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&out);
}
