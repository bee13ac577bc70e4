//! hindy2020 end to end: determinism, the published labelling rule (every packet to or from
//! 192.168.2.5 is an attack) equal to the ground truth, each attack's signature read back with
//! crates/capture and crates/mqtt, loss and retransmission, and tshark's reading of every capture.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use common::{assert_deterministic, have_tshark, read_capture, run, Seen};
use mqtt_ids_capture::{decode, open, ReaderOptions, Transport};
use mqtt_ids_mqtt::codec::PacketType;
use mqtt_ids_simulate::{AttackKind, CaptureReport, Scenario, SimOptions};

const ATTACKER: Ipv4Addr = Ipv4Addr::new(192, 168, 2, 5);

fn opts(seed: u64, secs: f64) -> SimOptions {
    SimOptions {
        seed,
        duration: Some(secs),
        ..SimOptions::default()
    }
}

fn lossless() -> Scenario {
    let mut s = Scenario::builtin("hindy2020").unwrap();
    for h in &mut s.hosts {
        h.link.loss = 0.0;
    }
    s
}

/// One decoded packet: time, addresses, ports, TCP flags, TTL, ICMP type/code.
struct Pkt {
    ts: i64,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    tcp_flags: Option<u16>,
    udp: bool,
    icmp: Option<(u8, u8)>,
    ttl: u8,
    window: u16,
    seq: u32,
}

fn packets(path: &Path) -> Vec<Pkt> {
    let mut r = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let mut out = Vec::new();
    while let Some(frame) = r.next_frame().unwrap() {
        let ts = frame.ts_ns;
        let p = decode(frame);
        let ip = p.ip.unwrap();
        let (src, dst) = match (ip.src, ip.dst) {
            (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => (a, b),
            _ => panic!("IPv6 in a simulated capture"),
        };
        let mut pk = Pkt {
            ts,
            src,
            dst,
            sport: 0,
            dport: 0,
            tcp_flags: None,
            udp: false,
            icmp: None,
            ttl: ip.ttl,
            window: 0,
            seq: 0,
        };
        match p.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                flags,
                window,
                seq,
                ..
            } => {
                pk.sport = src_port;
                pk.dport = dst_port;
                pk.tcp_flags = Some(flags.0);
                pk.window = window;
                pk.seq = seq;
            }
            Transport::Udp {
                src_port, dst_port, ..
            } => {
                pk.sport = src_port;
                pk.dport = dst_port;
                pk.udp = true;
            }
            Transport::Icmpv4 { icmp_type, code } => pk.icmp = Some((icmp_type, code)),
            _ => {}
        }
        out.push(pk);
    }
    out
}

/// The truth file's class per frame.
fn truth_classes(c: &CaptureReport) -> Vec<(String, String)> {
    std::fs::read_to_string(&c.truth)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_string(), f[5].to_string())
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_traffic() {
    let s = Scenario::builtin("hindy2020").unwrap();
    let a = run(&s, &opts(7, 15.0), "h-det-a");
    let b = run(&s, &opts(7, 15.0), "h-det-b");
    let c = run(&s, &opts(8, 15.0), "h-det-c");
    assert_eq!(a.captures.len(), 5);
    assert_deterministic(&a, &b, &c);
}

#[test]
fn captures_are_named_and_labelled_as_the_published_dataset() {
    let s = Scenario::builtin("hindy2020").unwrap();
    let names: Vec<&str> = s.captures.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["normal", "scan_A", "scan_sU", "sparta", "mqtt_bruteforce"]
    );
    assert_eq!(s.sensors.len(), 12);
    assert_eq!(s.host("attacker").unwrap().ip, ATTACKER);
    let mut losses: Vec<f64> = s.hosts.iter().map(|h| h.link.loss).collect();
    losses.sort_by(f64::total_cmp);
    losses.dedup();
    assert_eq!(losses, [0.0, 0.0013, 0.002, 0.01]);
    assert_eq!(s.streams.len(), 1);
}

#[test]
fn every_attack_shows_its_signature_and_the_truth_is_the_published_rule() {
    let mut s = Scenario::builtin("hindy2020").unwrap();
    // At its default 400 probes/s the UDP scan needs ~38 s for one pass over 15 hosts; a
    // faster one reaches its retries within this test's 40 s.
    for c in &mut s.captures {
        for a in &mut c.attacks {
            if let AttackKind::UdpScan(p) = &mut a.attack {
                p.rate_pps = 1500.0;
            }
        }
    }
    let r = run(&s, &opts(1, 40.0), "h-sig");
    for c in &r.captures {
        let seen: Seen = read_capture(&c.capture);
        assert_eq!(seen.frames, c.packets, "{}", c.name);
        assert_eq!(seen.undecodable, 0, "{}", c.name);
        let pk = packets(&c.capture);
        let truth = truth_classes(c);
        assert_eq!(truth.len(), pk.len());
        // MQTT-IoT-IDS2020's rule: a packet is an attack iff 192.168.2.5 sent or receives it.
        for (i, (p, (class, _))) in pk.iter().zip(&truth).enumerate() {
            let by_address = p.src == ATTACKER || p.dst == ATTACKER;
            assert_eq!(
                class != "normal",
                by_address,
                "{} frame {}: class {class}",
                c.name,
                i + 1
            );
        }
        let normal = c.packets_by_class["normal"];
        assert!(normal > 3000, "{}: background runs ({normal})", c.name);
        // Background: one TCP connection per message, ~12 packets each (Table 2: 12.3 per
        // bi-flow in normal.pcap).
        let per_conn = normal as f64 / c.connections_by_class["normal"] as f64;
        assert!((9.0..15.0).contains(&per_conn), "{}: {per_conn}", c.name);
        let udp_background = pk.iter().filter(|p| p.udp && p.dport == 5004).count();
        assert!(udp_background > 500, "{}: camera feed", c.name);
        let from_attacker: Vec<&Pkt> = pk.iter().filter(|p| p.src == ATTACKER).collect();
        let phases: HashSet<&str> = truth
            .iter()
            .filter(|(cl, _)| cl != "normal")
            .map(|(_, ph)| ph.as_str())
            .collect();
        match c.name.as_str() {
            "normal" => assert!(from_attacker.is_empty()),
            "scan_A" => scan_a(&pk, &phases),
            "scan_sU" => scan_su(&pk, c),
            "sparta" => sparta(&pk, c),
            "mqtt_bruteforce" => {
                // MQTT-PWN's guesses are refused with CONNACK 5 (3.1.1 §3.2.2.3); the sensors
                // log in (0).
                let guesses = c.mqtt_messages["mqtt_bruteforce"]["CONNECT"];
                assert!(guesses > 100, "{guesses}");
                let refused = seen.connack_codes.iter().filter(|&&x| x == 5).count() as u64;
                assert_eq!(refused, c.mqtt_messages["mqtt_bruteforce"]["CONNACK"]);
                assert!(seen.connack_codes.iter().all(|&x| x == 0 || x == 5));
            }
            other => panic!("unexpected capture {other}"),
        }
    }
}

fn scan_a(pk: &[Pkt], phases: &HashSet<&str>) {
    assert_eq!(
        phases,
        &HashSet::from(["syn_scan", "service", "os"]),
        "scan_A phases"
    );
    // SYN scan probes: window 1024, TTL 37–59; every one is answered with RST/ACK (closed) or
    // SYN/ACK (open), and each SYN/ACK draws a RST from the scanner's kernel.
    let probes: Vec<&Pkt> = pk
        .iter()
        .filter(|p| p.src == ATTACKER && p.tcp_flags == Some(0x002) && p.window == 1024)
        .collect();
    assert!(probes.len() >= 10_000, "{} SYN probes", probes.len());
    assert!(probes.iter().all(|p| (37..=59).contains(&p.ttl)));
    let ports: HashSet<u16> = probes.iter().map(|p| p.dport).collect();
    assert!(ports.len() >= 990, "{} ports probed", ports.len());
    let mut replies: HashMap<(Ipv4Addr, u16, u16), u16> = HashMap::new();
    for p in pk.iter().filter(|p| p.dst == ATTACKER) {
        if let Some(f) = p.tcp_flags {
            replies.insert((p.src, p.sport, p.dport), f);
        }
    }
    let mut open = Vec::new();
    let mut closed = 0;
    let mut lost = Vec::new();
    for p in &probes {
        match replies.get(&(p.dst, p.dport, p.sport)) {
            Some(0x014) => closed += 1,
            Some(0x012) => open.push((p.dst, p.dport, p.sport)),
            None => lost.push(p),
            other => panic!("probe to {}:{} answered {other:?}", p.dst, p.dport),
        }
    }
    assert!(closed >= 10_000);
    // The links drop up to 1 %: a probe or its answer may be lost; nmap sends it again from
    // the next source port.
    assert!(lost.len() * 50 < probes.len(), "{} unanswered", lost.len());
    let first_sport = probes[0].sport;
    for p in lost.iter().filter(|p| p.sport == first_sport) {
        assert!(
            probes
                .iter()
                .any(|q| q.dst == p.dst && q.dport == p.dport && q.sport == first_sport + 1),
            "no retry for {}:{}",
            p.dst,
            p.dport
        );
    }
    let broker = Ipv4Addr::new(192, 168, 2, 10);
    assert!(
        open.iter()
            .any(|(ip, port, _)| *ip == broker && *port == 22),
        "{open:?}"
    );
    for (ip, port, sport) in &open {
        assert!(
            pk.iter().any(|p| p.src == ATTACKER
                && p.dst == *ip
                && p.dport == *port
                && p.sport == *sport
                && p.tcp_flags == Some(0x004)),
            "no RST from the scanner after the SYN/ACK of {ip}:{port}"
        );
    }
    // Version detection: a full connection to 22 that receives the SSH banner.
    assert!(pk.iter().any(|p| p.src == broker
        && p.dst == ATTACKER
        && p.sport == 22
        && p.tcp_flags == Some(0x018)));
    // OS detection: the ECN probe (SYN|ECE|CWR) and T7 (FIN|PSH|URG) go out.
    assert!(pk
        .iter()
        .any(|p| p.src == ATTACKER && p.tcp_flags == Some(0x0c2)));
    assert!(pk
        .iter()
        .any(|p| p.src == ATTACKER && p.tcp_flags == Some(0x029)));
}

fn scan_su(pk: &[Pkt], c: &CaptureReport) {
    let probes: Vec<&Pkt> = pk.iter().filter(|p| p.src == ATTACKER && p.udp).collect();
    assert!(probes.len() >= 5000, "{} UDP probes", probes.len());
    assert!(probes.iter().all(|p| (37..=59).contains(&p.ttl)));
    // ICMP port unreachable, at most 6 + 1 per second per destination (Linux's token bucket).
    let secs = c.span.1 - c.span.0;
    let mut by_host: BTreeMap<Ipv4Addr, Vec<i64>> = BTreeMap::new();
    for p in pk.iter().filter(|p| p.dst == ATTACKER) {
        assert_eq!(p.icmp, Some((3, 3)), "only port unreachable comes back");
        by_host.entry(p.src).or_default().push(p.ts);
    }
    assert!(by_host.len() >= 10, "{} hosts answered", by_host.len());
    for (host, times) in &by_host {
        assert!(
            times.len() as f64 <= 6.0 + secs + 1.0,
            "{host}: {} ICMP in {secs} s",
            times.len()
        );
        // Within any one second after the burst, at most one more.
        for w in times.windows(8) {
            assert!(
                w[7] - w[0] >= 1_000_000_000,
                "{host}: 8 ICMP within a second"
            );
        }
    }
    // Unanswered probes are sent again from the next source port.
    let sports: HashSet<u16> = probes.iter().map(|p| p.sport).collect();
    assert_eq!(sports.len(), 2, "first tries and retries");
}

fn sparta(pk: &[Pkt], c: &CaptureReport) {
    // hydra's 16 tasks: connections to 22 that each carry several password attempts.
    let conns: HashSet<u16> = pk
        .iter()
        .filter(|p| p.src == ATTACKER && p.dport == 22 && p.tcp_flags == Some(0x002))
        .map(|p| p.sport)
        .collect();
    assert!(conns.len() >= 16, "{} SSH connections", conns.len());
    assert!(c.connections_by_class["sparta"] as usize >= conns.len());
    // The server ends each connection after MaxAuthTries: its FIN comes first.
    let server_fins = pk
        .iter()
        .filter(|p| p.sport == 22 && p.dst == ATTACKER && p.tcp_flags == Some(0x011))
        .count();
    assert!(server_fins >= 16, "{server_fins}");
    let per_conn = c.packets_by_class["sparta"] as f64 / conns.len() as f64;
    assert!(per_conn > 20.0, "{per_conn} packets per connection");
}

#[test]
fn lost_segments_are_retransmitted_and_tshark_sees_retransmissions() {
    let mut s = Scenario::builtin("hindy2020").unwrap();
    for h in &mut s.hosts {
        if h.name.starts_with("sensor") {
            h.link.loss = 0.05;
        }
    }
    let mut o = opts(2, 20.0);
    o.captures = vec!["normal".into()];
    let r = run(&s, &o, "h-loss");
    let c = &r.captures[0];
    assert!(
        c.retransmissions > 20,
        "{} retransmissions",
        c.retransmissions
    );
    if !have_tshark() {
        return;
    }
    let count = |filter: &str| {
        let out = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&c.capture)
            .args(["-Y", filter])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count() as u64
    };
    let seen = count("tcp.analysis.retransmission");
    assert!(seen > 0, "tshark sees no retransmission");
    assert!(seen <= c.retransmissions, "{seen} > {}", c.retransmissions);
    assert_eq!(count("_ws.malformed"), 0);
}

/// tshark's expert warnings a hindy2020 capture may have, and why.
const EXPECTED_WARNINGS: &[&str] = &[
    // Loss before the capture point (the emulated links).
    "Previous segment(s) not captured",
    "ACKed segment that wasn't captured",
    "out-of-order segment",
    // The SYN scan's RSTs, closed ports.
    "Connection reset (RST)",
    // nmap's T2/T4/T6/T7 OS probes carry an MSS option without SYN.
    "The non-SYN packet does contain a MSS option",
    // tshark decodes only the type of an ssh-ed25519 signature blob (OpenSSH's own too).
    "Decoded 19 bytes, but packet legnth is 83 bytes",
];

#[test]
fn tshark_reads_every_capture_and_counts_the_messages_sent() {
    if !have_tshark() {
        return;
    }
    let lossy = run(
        &Scenario::builtin("hindy2020").unwrap(),
        &opts(4, 30.0),
        "h-tshark",
    );
    for c in &lossy.captures {
        let out = Command::new("tshark")
            .args(["-n", "-q", "-r"])
            .arg(&c.capture)
            .args(["-z", "expert,warn"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("Errors ("), "{}: {text}", c.name);
        let mut in_table = false;
        for line in text.lines() {
            if line.starts_with("Warns") {
                in_table = true;
                continue;
            }
            if line.starts_with("Notes") || line.starts_with("Chats") {
                in_table = false;
            }
            let line = line.trim();
            if !in_table || line.is_empty() || line.starts_with('=') || line.starts_with("Freq") {
                continue;
            }
            assert!(
                EXPECTED_WARNINGS.iter().any(|w| line.contains(w)),
                "{}: unexpected warning {line}",
                c.name
            );
        }
        let malformed = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&c.capture)
            .args(["-Y", "_ws.malformed"])
            .output()
            .unwrap();
        assert!(malformed.stdout.is_empty(), "{}", c.name);
    }
    // Without loss, tshark's MQTT messages by type equal what the simulation sent.
    let clean = run(&lossless(), &opts(4, 30.0), "h-tshark-clean");
    for c in &clean.captures {
        let out = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&c.capture)
            .args([
                "-Y",
                "mqtt",
                "-T",
                "fields",
                "-e",
                "mqtt.msgtype",
                "-E",
                "occurrence=a",
            ])
            .output()
            .unwrap();
        let mut by_type: BTreeMap<u64, u64> = BTreeMap::new();
        for t in String::from_utf8_lossy(&out.stdout)
            .split([',', '\n'])
            .filter(|s| !s.is_empty())
        {
            *by_type.entry(t.parse().unwrap()).or_insert(0) += 1;
        }
        let mut sent: BTreeMap<u64, u64> = BTreeMap::new();
        for per_class in c.mqtt_messages.values() {
            for (ty, n) in per_class {
                let code = PacketType::ALL.iter().position(|p| p.name() == ty).unwrap() as u64;
                *sent.entry(code).or_insert(0) += n;
            }
        }
        assert_eq!(by_type, sent, "{}", c.name);
    }
}

/// SYN to SYN-ACK gaps at the capture point (ns), and whether every TCP direction's sequence
/// numbers only go forward (no segment reordered; the scenario is lossless, so no
/// retransmission either).
fn handshake_gaps_and_order(s: &Scenario, name: &str) -> (Vec<i64>, bool) {
    let r = run(s, &opts(3, 60.0), name);
    let pk = packets(&r.captures[0].capture);
    let mut syn_at = HashMap::new();
    let mut gaps = Vec::new();
    let mut last_seq: HashMap<(Ipv4Addr, u16, Ipv4Addr, u16), u32> = HashMap::new();
    let mut in_order = true;
    for p in &pk {
        let Some(fl) = p.tcp_flags else { continue };
        let key = (p.src, p.sport, p.dst, p.dport);
        if fl & 0x12 == 0x02 {
            syn_at.insert(key, p.ts);
        } else if fl & 0x12 == 0x12 {
            if let Some(t) = syn_at.remove(&(p.dst, p.dport, p.src, p.sport)) {
                gaps.push(p.ts - t);
            }
        }
        if fl & 0x04 == 0 {
            if let Some(&prev) = last_seq.get(&key) {
                in_order &= (p.seq.wrapping_sub(prev) as i32) >= 0;
            }
            last_seq.insert(key, p.seq);
        }
    }
    (gaps, in_order)
}

#[test]
fn stack_delay_varies_timings_and_keeps_streams_in_order() {
    let (gaps, in_order) = handshake_gaps_and_order(&lossless(), "h-stack-on");
    assert!(in_order, "a TCP segment left before one sent earlier");
    assert!(gaps.len() >= 20, "only {} handshakes", gaps.len());
    let distinct: HashSet<i64> = gaps.iter().copied().collect();
    assert!(
        distinct.len() * 10 >= gaps.len() * 9,
        "{} distinct SYN/SYN-ACK gaps in {}",
        distinct.len(),
        gaps.len()
    );
    // The responder's stack delay is log-normal with a 100 µs median: the gaps' median is the
    // links' 2 x 0.1 ms plus about that (a sample median: wide bounds).
    let mut sorted = gaps.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    assert!(
        (250_000..=400_000).contains(&median),
        "median SYN/SYN-ACK gap {median} ns"
    );

    let mut off = lossless();
    for h in &mut off.hosts {
        h.stack_delay.median_us = 0.0;
    }
    let (gaps, in_order) = handshake_gaps_and_order(&off, "h-stack-off");
    assert!(in_order);
    let distinct: HashSet<i64> = gaps.iter().copied().collect();
    // Without it the gap is the links' fixed 200 µs, except behind another packet in the
    // broker's transmit queue.
    let fixed = gaps.iter().filter(|&&g| g == 200_000).count();
    assert!(
        fixed * 10 >= gaps.len() * 8,
        "without stack delay {fixed} of {} gaps are 200 µs ({} distinct)",
        gaps.len(),
        distinct.len()
    );
}
