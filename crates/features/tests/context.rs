//! The `context` and `session` sets on every shared capture, against independent references:
//! - MQTT messages by type, summed over the session rows (plus those the tracker completes only
//!   at the end of the capture, which have no packet), equal tshark's counts
//!   (`crates/mqtt/tests/reference/expected_by_type.tsv`, made by `make_expected.py` there with
//!   `tshark -n -r FILE -Y mqtt -T fields -e mqtt.msgtype -E occurrence=a`);
//! - per connection, the packet, byte and flag counts and the length statistics of both
//!   directions after its last packet equal those of the `biflow` set (the flows crate, itself checked against the
//!   paper's dpkt + numpy extractor) wherever connections and bi-flows are the same thing;
//! - one `context` row per TCP frame (the `mqttset` set's rows, which tshark checks);
//! - every `session` row is the state of some `context` row of its connection;
//! - the `extract` driver writes exactly the rows of a plain per-packet loop (the way an online
//!   detector drives the state machine);
//! - rows do not change when every address and client port is replaced by another.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use mqtt_ids_capture::{decode, open, ReaderOptions, Transport};
use mqtt_ids_features::sets::context::{ContextConfig, ContextSet, SessionOut, STATE_COLUMNS};
use mqtt_ids_features::{CsvSink, ExtractOptions, Labeler, SetKind};
use mqtt_ids_mqtt::{MessageEvent, Tracker, TrackerConfig};

mod common;
use common::{csv_records, run_set, shared_data};

/// Rows of one capture through a plain per-packet loop.
struct Rows {
    context: Vec<Vec<String>>,
    session: Vec<Vec<String>>,
    header_context: Vec<String>,
    header_session: Vec<String>,
    /// Messages the tracker completed only at the end of the capture, by type.
    at_finish: [u64; 16],
    connections: u64,
    ports_reused: u64,
}

/// Replaces addresses and non-MQTT ports by others, one for one, in order of appearance.
#[derive(Default)]
struct Remap {
    addrs: HashMap<IpAddr, IpAddr>,
    ports: HashMap<u16, u16>,
}

impl Remap {
    fn addr(&mut self, a: IpAddr) -> IpAddr {
        let n = self.addrs.len() as u32;
        *self.addrs.entry(a).or_insert_with(|| match a {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(0xC6_33_00_00 + n * 7919 % 65_521)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(n))),
        })
    }

    fn port(&mut self, p: u16) -> u16 {
        if p == 1883 {
            return p;
        }
        let n = self.ports.len() as u32;
        // 2000 + n·7 mod 60000 never meets 1883 and is one for one up to 60000 ports.
        *self
            .ports
            .entry(p)
            .or_insert_with(|| (2000 + (n * 7) % 60_000) as u16)
    }
}

fn run_loop(path: &Path, probe: bool, mut remap: Option<&mut Remap>) -> Rows {
    let tracker_config = TrackerConfig {
        probe_other_ports: probe,
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(tracker_config.clone());
    let mut set = ContextSet::new(ContextConfig {
        mqtt_ports: tracker_config.ports.clone(),
        ..ContextConfig::default()
    });
    let labels = Labeler::default();
    let mut context = CsvSink::new(Vec::new(), SetKind::Context.schema(), "").unwrap();
    let mut session = CsvSink::new(Vec::new(), SetKind::Session.schema(), "").unwrap();
    let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let (mut last_number, mut last_ts) = (0, 0);
    while let Some(frame) = reader.next_frame().unwrap() {
        let mut packet = decode(frame);
        if let Some(r) = remap.as_deref_mut() {
            if let Some(ip) = packet.ip.as_mut() {
                ip.src = r.addr(ip.src);
                ip.dst = r.addr(ip.dst);
            }
            if let Transport::Tcp {
                src_port, dst_port, ..
            } = &mut packet.transport
            {
                *src_port = r.port(*src_port);
                *dst_port = r.port(*dst_port);
            }
        }
        (last_number, last_ts) = (packet.frame.number, packet.frame.ts_ns);
        let mqtt = tracker.on_packet(&packet, &mut set);
        let mut out = SessionOut {
            sink: Some(&mut session),
            labels: &labels,
        };
        set.end_packet(&packet, mqtt, &labels, Some(&mut context), &mut out)
            .unwrap();
    }
    let mut at_finish = [0u64; 16];
    let mut count = |e: &MessageEvent<'_>| at_finish[usize::from(e.header.first_byte >> 4)] += 1;
    tracker.finish(last_number, last_ts, &mut count);
    let mut out = SessionOut {
        sink: Some(&mut session),
        labels: &labels,
    };
    set.finish(&mut out).unwrap();
    let stats = set.stats();
    let mut context = csv_records(&String::from_utf8(context.finish().unwrap()).unwrap());
    let mut session = csv_records(&String::from_utf8(session.finish().unwrap()).unwrap());
    Rows {
        header_context: context.remove(0),
        header_session: session.remove(0),
        context,
        session,
        at_finish,
        connections: stats.connections,
        ports_reused: stats.ports_reused,
    }
}

/// tshark's message counts by type per capture (path relative to shared/data).
fn tshark_by_type() -> BTreeMap<String, [u64; 16]> {
    let text = include_str!("../../mqtt/tests/reference/expected_by_type.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut cells = l.split('\t');
            let path = cells.next().unwrap().to_string();
            let mut counts = [0u64; 16];
            for (c, v) in counts.iter_mut().zip(cells) {
                *c = v.parse().unwrap();
            }
            (path, counts)
        })
        .collect()
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

const TYPE_COLUMNS: [&str; 16] = [
    "n_reserved",
    "n_connect",
    "n_connack",
    "n_publish",
    "n_puback",
    "n_pubrec",
    "n_pubrel",
    "n_pubcomp",
    "n_subscribe",
    "n_suback",
    "n_unsubscribe",
    "n_unsuback",
    "n_pingreq",
    "n_pingresp",
    "n_disconnect",
    "n_auth",
];

#[test]
fn message_counts_by_type_equal_tsharks_on_every_shared_capture() {
    let Some(data) = shared_data() else { return };
    let expected = tshark_by_type();
    assert!(expected.len() >= 40);
    for (rel, want) in &expected {
        // tshark dissects MQTT on port 1883 only.
        let rows = run_loop(&data.join(rel), false, None);
        let cols: Vec<usize> = TYPE_COLUMNS
            .iter()
            .map(|n| column(&rows.header_session, n))
            .collect();
        let final_col = column(&rows.header_session, "final");
        let mut got = rows.at_finish;
        for row in rows.session.iter().filter(|r| r[final_col] == "1") {
            for (t, &c) in cols.iter().enumerate() {
                got[t] += row[c].parse::<u64>().unwrap();
            }
        }
        assert_eq!(&got, want, "{rel}");
    }
}

#[test]
fn one_context_row_per_tcp_frame_and_sessions_are_context_states() {
    let Some(data) = shared_data() else { return };
    for entry in std::fs::read_dir(data.join("mqttset-train")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e == "txt") || path.file_name().unwrap() == "LICENSE" {
            continue;
        }
        let rows = run_loop(&path, true, None);
        let (mqttset, _) = run_set(&path, SetKind::Mqttset, &ExtractOptions::default());
        assert_eq!(
            rows.context.len() + 1,
            csv_records(&mqttset).len(),
            "{}",
            path.display()
        );
        // Each session row's state columns are those of a context row of its connection (the
        // one that ended it, or its last), but for the two whose time differs: `since_mqtt` of a
        // context row is measured before its packet, and the host window moves on after the
        // connection's last packet.
        let state = |header: &[String], row: &[String]| -> Vec<String> {
            STATE_COLUMNS
                .iter()
                .filter(|c| c.name != "since_mqtt" && !c.name.starts_with("host_"))
                .map(|c| row[column(header, c.name)].clone())
                .collect()
        };
        let (hc, hs) = (&rows.header_context, &rows.header_session);
        let mut by_conn: HashMap<&str, Vec<Vec<String>>> = HashMap::new();
        for r in &rows.context {
            by_conn.entry(r[0].as_str()).or_default().push(state(hc, r));
        }
        assert_eq!(rows.session.len(), by_conn.len(), "{}", path.display());
        assert_eq!(rows.connections as usize, by_conn.len());
        for s in &rows.session {
            let want = state(hs, s);
            assert!(
                by_conn[s[0].as_str()].contains(&want),
                "{}: session of connection {} is no context state",
                path.display(),
                s[0]
            );
        }
    }
}

#[test]
fn connection_statistics_equal_the_biflow_sets() {
    let Some(data) = shared_data() else { return };
    let mut compared = 0;
    for entry in std::fs::read_dir(data.join("mqttset-train")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "LICENSE" {
            continue;
        }
        let rows = run_loop(&path, true, None);
        let (biflow, _) = run_set(&path, SetKind::Biflow, &ExtractOptions::default());
        let biflow = csv_records(&biflow);
        // A bi-flow spans every packet of an endpoint pair; a connection ends at port reuse.
        if rows.ports_reused > 0 || biflow.len() - 1 != rows.session.len() {
            eprintln!("{}: connections are not bi-flows here", path.display());
            continue;
        }
        let pairs = [
            ("num_pkts", "pkts"),
            ("num_bytes", "bytes"),
            ("num_psh_flags", "psh"),
            ("num_rst_flags", "rst"),
            ("num_urg_flags", "urg"),
            ("mean_pkt_len", "len_mean"),
            ("std_pkt_len", "len_std"),
            ("min_pkt_len", "len_min"),
            ("max_pkt_len", "len_max"),
        ];
        let num = |s: &str| s.parse::<f64>().unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
        // Directions as an unordered pair: a bi-flow's forward is the first sender, ours the client.
        let side = |header: &[String], row: &[String], prefix: &str, names: &[&str]| -> Vec<f64> {
            names
                .iter()
                .map(|n| num(&row[column(header, &format!("{prefix}_{n}"))]))
                .collect()
        };
        let key = |a: Vec<f64>, b: Vec<f64>| {
            let mut v = [a, b];
            v.sort_by(|x, y| x.partial_cmp(y).unwrap());
            v
        };
        let bh = &biflow[0];
        let bnames: Vec<&str> = pairs.iter().map(|p| p.0).collect();
        let snames: Vec<&str> = pairs.iter().map(|p| p.1).collect();
        let mut theirs: Vec<[Vec<f64>; 2]> = biflow[1..]
            .iter()
            .map(|r| key(side(bh, r, "fwd", &bnames), side(bh, r, "bwd", &bnames)))
            .collect();
        // The connection's state after its last packet: its last context row (the session row
        // is written at the packet that closes it, before a stray last ACK).
        let hc = &rows.header_context;
        let mut last: BTreeMap<u64, &Vec<String>> = BTreeMap::new();
        for r in &rows.context {
            last.insert(r[0].parse().unwrap(), r);
        }
        let mut ours: Vec<[Vec<f64>; 2]> = last
            .values()
            .map(|r| key(side(hc, r, "fwd", &snames), side(hc, r, "bwd", &snames)))
            .collect();
        let order = |a: &[Vec<f64>; 2], b: &[Vec<f64>; 2]| a.partial_cmp(b).unwrap();
        theirs.sort_by(order);
        ours.sort_by(order);
        for (o, t) in ours.iter().zip(&theirs) {
            for (x, y) in o.iter().flatten().zip(t.iter().flatten()) {
                assert!(close(*x, *y), "{}: {o:?} vs {t:?}", path.display());
            }
        }
        compared += ours.len();
    }
    assert!(compared > 2000, "{compared} connections compared");
}

#[test]
fn extract_writes_the_rows_of_the_per_packet_loop() {
    let Some(data) = shared_data() else { return };
    let path = data.join("mqttset-train/malformed-train.pcap");
    let rows = run_loop(&path, true, None);
    let (context, _) = run_set(&path, SetKind::Context, &ExtractOptions::default());
    let (session, report) = run_set(&path, SetKind::Session, &ExtractOptions::default());
    let context = csv_records(&context);
    let session = csv_records(&session);
    assert_eq!(context[1..], rows.context[..]);
    assert_eq!(session[1..], rows.session[..]);
    let stats = report.context.unwrap();
    assert_eq!(stats.connections, rows.connections);
    assert_eq!(stats.sessions as usize, rows.session.len());
}

#[test]
fn rows_are_the_same_with_other_addresses_and_client_ports() {
    let Some(data) = shared_data() else { return };
    for name in [
        "mqttset-train/bruteforce-train.pcapng",
        "mqttset-train/malformed-train.pcap",
        "mqttset-train/benign-train.pcap",
    ] {
        let path = data.join(name);
        let plain = run_loop(&path, true, None);
        let mut remap = Remap::default();
        let moved = run_loop(&path, true, Some(&mut remap));
        assert!(remap.addrs.len() >= 2 && remap.ports.len() >= 2);
        assert_eq!(plain.context, moved.context, "{name}");
        assert_eq!(plain.session, moved.session, "{name}");
    }
}
