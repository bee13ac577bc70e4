//! Flow table cases computed by hand: pairing and orders, flags, timeouts, eviction, skipped
//! packets, and random input that must never panic.

use std::net::IpAddr;

use mqtt_ids_capture::{
    Frame, IpHeader, IpVersion, LinkType, Network, Packet, TcpFlags, Transport,
};

use crate::*;

const S: i64 = 1_000_000_000;
const MQTT: u16 = 1883;

#[derive(Default)]
struct Rows {
    uni: Vec<UniFlow>,
    bi: Vec<BiFlow>,
}

impl FlowSink for Rows {
    fn uniflow(&mut self, flow: &UniFlow) {
        self.uni.push(*flow);
    }
    fn biflow(&mut self, flow: &BiFlow) {
        self.bi.push(*flow);
    }
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A decoded packet without bytes: the table reads only the headers.
struct Pkt {
    number: u64,
    ts_ns: i64,
    src: IpAddr,
    dst: IpAddr,
    len: u32,
    transport: Transport,
    fragment: bool,
}

impl Pkt {
    fn packet(&self) -> Packet<'static> {
        Packet {
            frame: Frame {
                number: self.number,
                offset: 0,
                ts_ns: self.ts_ns,
                interface: 0,
                link_type: LinkType::RAW,
                orig_len: self.len,
                data: &[],
            },
            network: if self.src.is_ipv4() {
                Network::Ipv4
            } else {
                Network::Ipv6
            },
            ip: Some(IpHeader {
                version: if self.src.is_ipv4() {
                    IpVersion::V4
                } else {
                    IpVersion::V6
                },
                src: self.src,
                dst: self.dst,
                ttl: 64,
                total_len: self.len,
                df: false,
                mf: self.fragment,
                rb: false,
                id: 0,
                fragment_offset: 0,
                protocol: match self.transport {
                    Transport::Udp { .. } => 17,
                    Transport::Icmpv4 { .. } => 1,
                    _ => 6,
                },
                fragment: self.fragment,
            }),
            transport: self.transport,
            payload: &[],
            truncated: false,
            error: None,
        }
    }
}

fn tcp(src_port: u16, dst_port: u16, flags: u16) -> Transport {
    Transport::Tcp {
        src_port,
        dst_port,
        seq: 0,
        ack: 0,
        flags: TcpFlags(flags),
        window: 0,
        header_len: 20,
    }
}

fn udp(src_port: u16, dst_port: u16) -> Transport {
    Transport::Udp {
        src_port,
        dst_port,
        length: 8,
    }
}

/// Feeds packets (number = position + 1) through one table; returns the rows and the table.
struct Run {
    table: FlowTable,
    rows: Rows,
    number: u64,
}

impl Run {
    fn new(config: FlowConfig) -> Self {
        Run {
            table: FlowTable::new(config),
            rows: Rows::default(),
            number: 0,
        }
    }

    fn capture() -> Self {
        Run::new(FlowConfig::default())
    }

    fn timeout(idle_s: i64, active_s: Option<i64>) -> Self {
        Run::new(FlowConfig {
            mode: FlowMode::Timeout {
                idle_ns: idle_s * S,
                active_ns: active_s.map(|a| a * S),
            },
            ..FlowConfig::default()
        })
    }

    fn send(&mut self, ts_ns: i64, src: &str, dst: &str, len: u32, t: Transport) -> bool {
        self.number += 1;
        let p = Pkt {
            number: self.number,
            ts_ns,
            src: addr(src),
            dst: addr(dst),
            len,
            transport: t,
            fragment: false,
        };
        self.table.on_packet(&p.packet(), &mut self.rows)
    }

    fn finish(mut self) -> (Rows, FlowStats) {
        self.table.finish(&mut self.rows);
        assert_eq!(self.table.entries(), 0);
        (self.rows, self.table.stats())
    }
}

const A: &str = "10.0.0.1";
const B: &str = "10.0.0.2";
const C: &str = "10.0.0.3";

#[test]
fn one_udp_packet_without_reverse_is_copied_backwards() {
    let mut r = Run::capture();
    assert!(r.send(7 * S, A, B, 60, udp(5000, 53)));
    let (rows, stats) = r.finish();
    assert_eq!(rows.uni.len(), 1);
    let u = rows.uni[0];
    assert_eq!(
        (
            u.key.src,
            u.key.dst,
            u.key.src_port,
            u.key.dst_port,
            u.key.proto
        ),
        (addr(A), addr(B), 5000, 53, 17)
    );
    assert_eq!(
        (u.first_packet, u.first_ts_ns, u.last_ts_ns),
        (1, 7 * S, 7 * S)
    );
    assert_eq!(
        u.stats,
        UniStats {
            num_pkts: 1,
            mean_pkt_len: 60.0,
            min_pkt_len: 60.0,
            max_pkt_len: 60.0,
            num_bytes: 60,
            ..UniStats::default()
        }
    );
    assert_eq!(rows.bi.len(), 1);
    let b = rows.bi[0];
    assert!(b.bwd_copied);
    assert_eq!((b.key, b.fwd, b.bwd), (u.key, u.stats, u.stats));
    assert_eq!(
        (
            stats.flows,
            stats.udp_unpaired_copied,
            stats.tcp_unpaired_dropped
        ),
        (1, 1, 0)
    );
}

#[test]
fn tcp_without_reverse_has_a_uniflow_but_no_biflow() {
    let mut r = Run::capture();
    r.send(S, A, B, 40, tcp(40000, MQTT, TcpFlags::SYN));
    r.send(2 * S, A, B, 40, tcp(40000, MQTT, TcpFlags::SYN));
    let (rows, stats) = r.finish();
    assert_eq!(rows.uni.len(), 1);
    assert_eq!(rows.uni[0].stats.num_pkts, 2);
    assert!(rows.bi.is_empty());
    assert_eq!(stats.tcp_unpaired_dropped, 1);
    assert_eq!(stats.biflows_emitted, 0);
}

#[test]
fn two_directions_pair_and_the_first_seen_is_forward() {
    // The server's packet (B→A) is seen first, so B→A is forward.
    let mut r = Run::capture();
    r.send(10 * S, B, A, 52, tcp(MQTT, 40000, TcpFlags::ACK));
    r.send(
        11 * S,
        A,
        B,
        100,
        tcp(40000, MQTT, TcpFlags::ACK | TcpFlags::PSH),
    );
    r.send(12 * S, A, B, 60, tcp(40000, MQTT, TcpFlags::ACK));
    r.send(
        15 * S,
        B,
        A,
        52,
        tcp(MQTT, 40000, TcpFlags::ACK | TcpFlags::RST),
    );
    let (rows, _) = r.finish();
    assert_eq!(rows.uni.len(), 2);
    assert_eq!(rows.uni[0].key.src, addr(B));
    assert_eq!(rows.uni[1].key.src, addr(A));
    assert_eq!(rows.bi.len(), 1);
    let b = rows.bi[0];
    assert_eq!(
        (b.key.src, b.key.src_port, b.key.dst_port),
        (addr(B), MQTT, 40000)
    );
    assert_eq!(
        (b.first_packet, b.first_ts_ns, b.last_ts_ns),
        (1, 10 * S, 15 * S)
    );
    assert!(!b.bwd_copied);
    // forward: 2 packets, gap 5 s, lengths 52, 52, one RST
    assert_eq!(
        (b.fwd.num_pkts, b.fwd.mean_iat, b.fwd.std_iat),
        (2, 5.0, 0.0)
    );
    assert_eq!(
        (b.fwd.num_bytes, b.fwd.std_pkt_len, b.fwd.num_rst_flags),
        (104, 0.0, 1)
    );
    // backward: 2 packets, gap 1 s, lengths 100, 60: mean 80, std 20, one PSH
    assert_eq!(
        (b.bwd.num_pkts, b.bwd.mean_iat, b.bwd.min_iat, b.bwd.max_iat),
        (2, 1.0, 1.0, 1.0)
    );
    assert_eq!(
        (b.bwd.mean_pkt_len, b.bwd.std_pkt_len, b.bwd.num_psh_flags),
        (80.0, 20.0, 1)
    );
    assert_eq!((b.bwd.min_pkt_len, b.bwd.max_pkt_len), (60.0, 100.0));
}

#[test]
fn self_reverse_flow_pairs_with_itself() {
    let mut r = Run::capture();
    r.send(S, "::1", "::1", 60, tcp(MQTT, MQTT, TcpFlags::SYN));
    r.send(3 * S, "::1", "::1", 60, tcp(MQTT, MQTT, TcpFlags::ACK));
    let (rows, stats) = r.finish();
    assert_eq!(rows.uni.len(), 1);
    assert_eq!(rows.bi.len(), 1);
    let b = rows.bi[0];
    assert!(!b.bwd_copied);
    assert_eq!(b.fwd, b.bwd);
    assert_eq!((b.fwd.num_pkts, b.fwd.mean_iat), (2, 2.0));
    assert_eq!(stats.tcp_unpaired_dropped, 0);
}

#[test]
fn flag_counts_are_per_packet_and_zero_for_udp() {
    let mut r = Run::capture();
    let all = TcpFlags::PSH | TcpFlags::RST | TcpFlags::URG;
    r.send(S, A, B, 40, tcp(1, 2, all));
    r.send(S, A, B, 40, tcp(1, 2, TcpFlags::PSH | TcpFlags::ACK));
    r.send(S, A, B, 40, tcp(1, 2, TcpFlags::URG | TcpFlags::FIN));
    r.send(
        S,
        A,
        B,
        40,
        tcp(
            1,
            2,
            TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR | TcpFlags::NS,
        ),
    );
    r.send(S, A, B, 40, udp(1, 2));
    let (rows, _) = r.finish();
    let s = rows.uni[0].stats;
    assert_eq!(
        (s.num_psh_flags, s.num_rst_flags, s.num_urg_flags),
        (2, 1, 2)
    );
    assert_eq!(rows.uni[1].key.proto, 17);
    let u = rows.uni[1].stats;
    assert_eq!(
        (u.num_psh_flags, u.num_rst_flags, u.num_urg_flags),
        (0, 0, 0)
    );
}

#[test]
fn output_orders_follow_the_reference() {
    // Uni-flows by first packet. Bi-flows: pass 1 (pairs, by the forward flow's first packet),
    // then pass 2 (unpaired UDP by first packet); unpaired TCP has no row.
    let mut r = Run::capture();
    r.send(S, A, C, 50, udp(7, 7)); // u1: UDP A→C, never answered (pass 2)
    r.send(2 * S, A, B, 40, tcp(1, 2, 0)); // u2: TCP A→B
    r.send(3 * S, C, A, 50, udp(9, 9)); // u3: UDP C→A:9 (not the reverse of u1: ports differ)
    r.send(4 * S, B, C, 40, tcp(3, 4, 0)); // u4: TCP B→C, never answered (dropped)
    r.send(5 * S, B, A, 40, tcp(2, 1, 0)); // u5: TCP B→A, the reverse of u2
    r.send(6 * S, A, C, 50, udp(9, 9)); // u6: the reverse of u3
    let (rows, stats) = r.finish();
    let uni: Vec<(IpAddr, u16)> = rows
        .uni
        .iter()
        .map(|u| (u.key.src, u.key.src_port))
        .collect();
    assert_eq!(
        uni,
        vec![
            (addr(A), 7),
            (addr(A), 1),
            (addr(C), 9),
            (addr(B), 3),
            (addr(B), 2),
            (addr(A), 9)
        ]
    );
    let bi: Vec<(IpAddr, u16, bool)> = rows
        .bi
        .iter()
        .map(|b| (b.key.src, b.key.src_port, b.bwd_copied))
        .collect();
    assert_eq!(
        bi,
        vec![(addr(A), 1, false), (addr(C), 9, false), (addr(A), 7, true)]
    );
    assert_eq!(
        (stats.tcp_unpaired_dropped, stats.udp_unpaired_copied),
        (1, 1)
    );
    assert_eq!(
        (stats.uniflows_emitted, stats.biflows_emitted, stats.flows),
        (6, 3, 6)
    );
}

#[test]
fn skipped_packets_are_counted() {
    let mut t = FlowTable::new(FlowConfig::default());
    let mut rows = Rows::default();
    let icmp = Pkt {
        number: 1,
        ts_ns: 0,
        src: addr(A),
        dst: addr(B),
        len: 84,
        transport: Transport::Icmpv4 {
            icmp_type: 8,
            code: 0,
        },
        fragment: false,
    };
    assert!(!t.on_packet(&icmp.packet(), &mut rows));
    let frag = Pkt {
        transport: Transport::None,
        fragment: true,
        ..icmp
    };
    assert!(!t.on_packet(&frag.packet(), &mut rows));
    let mut arp = frag.packet();
    arp.ip = None;
    arp.network = Network::Arp;
    assert!(!t.on_packet(&arp, &mut rows));
    let s = t.stats();
    assert_eq!(
        (
            s.packets,
            s.flow_packets,
            s.skipped_not_tcp_udp,
            s.skipped_fragments,
            s.skipped_not_ip
        ),
        (3, 0, 1, 1, 1)
    );
    t.finish(&mut rows);
    assert!(rows.uni.is_empty() && rows.bi.is_empty());
}

#[test]
fn idle_timeout_ends_the_entry_and_a_later_packet_starts_a_new_flow() {
    let mut r = Run::timeout(10, None);
    r.send(0, A, B, 60, udp(1, 2));
    r.send(S, B, A, 60, udp(2, 1));
    r.send(11 * S, A, B, 60, udp(1, 2)); // 10 s after the last: not longer than idle
    assert!(r.rows.uni.is_empty());
    r.send(22 * S, C, B, 60, udp(1, 2)); // another flow's packet moves the clock: A–B ends
    assert_eq!(r.rows.uni.len(), 2);
    assert_eq!(r.rows.bi.len(), 1);
    assert_eq!(r.rows.bi[0].fwd.num_pkts, 2);
    r.send(23 * S, A, B, 60, udp(1, 2)); // the same 5-tuple again: a new flow
    let (rows, stats) = r.finish();
    assert_eq!(stats.ended_idle, 1);
    assert_eq!(stats.flows, 4);
    let a_b: Vec<u64> = rows
        .uni
        .iter()
        .filter(|u| u.key.src == addr(A))
        .map(|u| u.stats.num_pkts)
        .collect();
    assert_eq!(a_b, vec![2, 1]);
}

#[test]
fn idle_timeout_is_checked_for_the_packets_own_entry() {
    // A backward timestamp puts Y (last seen at 0 s) behind X (10 s) in the recency list, so the
    // sweep stops at X; Y's own next packet (6 s, idle 5 s) still finds Y idle.
    let mut r = Run::timeout(5, None);
    r.send(10 * S, A, B, 60, udp(1, 2)); // X
    r.send(0, A, C, 60, udp(1, 2)); // Y
    r.send(6 * S, A, C, 60, udp(1, 2));
    assert_eq!(r.rows.uni.len(), 1);
    assert_eq!(r.rows.uni[0].key.dst, addr(C));
    let (rows, stats) = r.finish();
    assert_eq!(stats.ended_idle, 1);
    assert_eq!(rows.uni.len(), 3);
    assert!(rows.uni.iter().all(|u| u.stats.num_pkts == 1));
}

#[test]
fn tcp_ends_after_fin_from_both_sides() {
    let mut r = Run::timeout(3600, None);
    r.send(0, A, B, 40, tcp(40000, MQTT, TcpFlags::SYN));
    r.send(S, B, A, 40, tcp(MQTT, 40000, TcpFlags::SYN | TcpFlags::ACK));
    r.send(
        2 * S,
        A,
        B,
        40,
        tcp(40000, MQTT, TcpFlags::FIN | TcpFlags::ACK),
    );
    r.send(
        2 * S,
        A,
        B,
        40,
        tcp(40000, MQTT, TcpFlags::FIN | TcpFlags::ACK),
    ); // retransmitted
    assert!(r.rows.bi.is_empty());
    r.send(
        3 * S,
        B,
        A,
        40,
        tcp(MQTT, 40000, TcpFlags::FIN | TcpFlags::ACK),
    );
    assert_eq!(
        r.rows.bi.len(),
        1,
        "the second side's FIN ends the flow, included"
    );
    assert_eq!(
        (r.rows.bi[0].fwd.num_pkts, r.rows.bi[0].bwd.num_pkts),
        (3, 2)
    );
    // The last ACK starts a new flow: TCP without a reverse, so no bi-flow.
    r.send(4 * S, A, B, 40, tcp(40000, MQTT, TcpFlags::ACK));
    let (rows, stats) = r.finish();
    assert_eq!((stats.ended_tcp, stats.tcp_unpaired_dropped), (1, 1));
    assert_eq!((rows.uni.len(), rows.bi.len()), (3, 1));
}

#[test]
fn tcp_rst_ends_the_flow_with_the_rst_included() {
    let mut r = Run::timeout(3600, None);
    r.send(0, A, B, 40, tcp(40000, MQTT, TcpFlags::SYN));
    r.send(S, B, A, 40, tcp(MQTT, 40000, TcpFlags::RST | TcpFlags::ACK));
    assert_eq!(r.rows.bi.len(), 1);
    assert_eq!(r.rows.bi[0].bwd.num_rst_flags, 1);
    let (_, stats) = r.finish();
    assert_eq!(stats.ended_tcp, 1);
}

#[test]
fn fin_and_rst_do_not_end_flows_in_capture_mode() {
    let mut r = Run::capture();
    r.send(0, A, B, 40, tcp(40000, MQTT, TcpFlags::RST));
    r.send(S, A, B, 40, tcp(40000, MQTT, TcpFlags::SYN));
    let (rows, _) = r.finish();
    assert_eq!(rows.uni.len(), 1);
    assert_eq!(rows.uni[0].stats.num_pkts, 2);
}

#[test]
fn active_timeout_ends_long_flows() {
    let mut r = Run::timeout(100, Some(20));
    for t in 0..=20 {
        r.send(t * S, A, B, 60, udp(1, 2)); // one per second: never idle
    }
    assert!(r.rows.uni.is_empty(), "20 s is not longer than active");
    r.send(21 * S, A, B, 60, udp(1, 2)); // started 21 s ago: the entry ends, this starts anew
    assert_eq!(r.rows.uni.len(), 1);
    assert_eq!(r.rows.uni[0].stats.num_pkts, 21);
    // An entry with no more packets is ended by the clock alone.
    r.send(42 * S, C, B, 60, udp(1, 2));
    assert_eq!(r.rows.uni.len(), 2);
    let (_, stats) = r.finish();
    assert_eq!((stats.ended_active, stats.ended_idle), (2, 0));
}

#[test]
fn advance_ends_idle_entries_without_packets() {
    let mut r = Run::timeout(5, None);
    r.send(0, A, B, 60, udp(1, 2));
    r.table.advance(5 * S, &mut r.rows);
    assert!(r.rows.uni.is_empty());
    r.table.advance(6 * S, &mut r.rows);
    assert_eq!(r.rows.uni.len(), 1);
    assert_eq!(r.table.entries(), 0);
}

#[test]
fn eviction_at_the_cap_emits_the_least_recently_seen_entry() {
    let mut r = Run::new(FlowConfig {
        mode: FlowMode::Capture,
        max_flows: 2,
    });
    r.send(0, A, B, 60, udp(1, 1));
    r.send(S, A, B, 60, udp(2, 2));
    r.send(2 * S, B, A, 60, udp(1, 1)); // A–B:1 is now the most recently seen
    r.send(3 * S, A, B, 60, udp(3, 3)); // full: A–B:2 goes
    assert_eq!(r.table.entries(), 2);
    assert_eq!(r.rows.uni.len(), 1);
    assert_eq!(r.rows.uni[0].key.src_port, 2);
    assert!(r.rows.bi[0].bwd_copied);
    let (rows, stats) = r.finish();
    assert_eq!((stats.evicted, stats.peak_entries), (1, 2));
    assert_eq!(rows.uni.len(), 4);
    assert_eq!(rows.bi.len(), 3);
}

#[test]
fn out_of_order_timestamps_are_counted_once_per_flow() {
    let mut r = Run::capture();
    r.send(10 * S, A, B, 60, udp(1, 2));
    r.send(9 * S, A, B, 60, udp(1, 2));
    r.send(8 * S, A, B, 60, udp(1, 2));
    r.send(8 * S, B, A, 60, udp(2, 1));
    let (rows, stats) = r.finish();
    assert_eq!(stats.out_of_order_flows, 1);
    assert_eq!(rows.uni[0].stats.mean_iat, 1.0);
}

/// The slab entry is most of the table's memory per endpoint pair (tests/memory.rs measures
/// the whole). A change here must update the `DEFAULT_MAX_FLOWS` documentation.
#[test]
fn entry_size_is_guarded() {
    let slab = crate::table::entry_size();
    println!("entry: {slab} bytes in the slab");
    assert!(slab <= 328, "{slab}");
}

/// Random headers, timestamps (backwards too), lengths, flags and caps in every mode: no
/// panic, and every counted packet is in exactly one emitted uni-flow.
#[test]
fn random_packets_never_panic_and_every_packet_is_counted_once() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pool = [
        "10.0.0.1",
        "10.0.0.2",
        "::1",
        "fe80::1",
        "0.0.0.0",
        "255.255.255.255",
    ];
    let modes = [
        FlowMode::Capture,
        FlowMode::Timeout {
            idle_ns: 3 * S,
            active_ns: None,
        },
        FlowMode::Timeout {
            idle_ns: 0,
            active_ns: Some(0),
        },
        FlowMode::Timeout {
            idle_ns: i64::MAX,
            active_ns: Some(i64::MAX),
        },
    ];
    for mode in modes {
        for max_flows in [0, 1, 3, 1000] {
            let mut table = FlowTable::new(FlowConfig { mode, max_flows });
            let mut rows = Rows::default();
            let mut ts = 0i64;
            for n in 0..5000u64 {
                let r = next();
                ts = match r % 10 {
                    0 => ts.saturating_sub((r >> 40) as i64), // backwards
                    1 => i64::MIN + (r >> 50) as i64,
                    2 => i64::MAX - (r >> 50) as i64,
                    _ => ts.saturating_add((r >> 44) as i64),
                };
                let v6 = r & 0x100 != 0;
                let pick = |k: u64| {
                    let i = (k % 3) as usize;
                    addr(
                        pool[if v6 {
                            2 + i
                        } else if i == 2 {
                            4
                        } else {
                            i
                        }],
                    )
                };
                let (src, dst) = (pick(r >> 9), pick(r >> 11));
                let (sp, dp) = (((r >> 13) % 3) as u16, ((r >> 15) % 3) as u16);
                let transport = match (r >> 17) % 5 {
                    0 => udp(sp, dp),
                    1 => Transport::None,
                    2 => Transport::Icmpv4 {
                        icmp_type: 0,
                        code: 0,
                    },
                    _ => tcp(sp, dp, (r >> 20) as u16 & 0xFFF),
                };
                let p = Pkt {
                    number: n,
                    ts_ns: ts,
                    src,
                    dst,
                    len: (r >> 32) as u32,
                    transport,
                    fragment: (r >> 19) % 7 == 0,
                };
                let mut packet = p.packet();
                if (r >> 22) % 13 == 0 {
                    packet.ip = None;
                }
                table.on_packet(&packet, &mut rows);
                assert!(table.entries() <= max_flows.max(1));
            }
            table.finish(&mut rows);
            let s = table.stats();
            let counted: u64 = rows.uni.iter().map(|u| u.stats.num_pkts).sum();
            assert_eq!(counted, s.flow_packets, "{mode:?} {max_flows}");
            assert_eq!(rows.uni.len() as u64, s.flows);
            assert_eq!(
                s.packets,
                s.flow_packets + s.skipped_not_ip + s.skipped_fragments + s.skipped_not_tcp_udp
            );
            for u in &rows.uni {
                let st = u.stats;
                assert!(st.std_iat.is_finite() && st.std_pkt_len.is_finite());
                assert!(st.min_iat <= st.max_iat && st.min_pkt_len <= st.max_pkt_len);
            }
        }
    }
}

#[test]
fn flow_timeout_option_values() {
    assert_eq!("capture".parse::<FlowMode>(), Ok(FlowMode::Capture));
    assert_eq!(
        "120".parse::<FlowMode>(),
        Ok(FlowMode::Timeout {
            idle_ns: 120 * S,
            active_ns: None
        })
    );
    assert_eq!(
        "0.5,1800".parse::<FlowMode>(),
        Ok(FlowMode::Timeout {
            idle_ns: S / 2,
            active_ns: Some(1800 * S)
        })
    );
    assert_eq!(
        "500ms,2m".parse::<FlowMode>(),
        Ok(FlowMode::Timeout {
            idle_ns: S / 2,
            active_ns: Some(120 * S)
        })
    );
    for bad in [
        "",
        "-1",
        "0",
        "1,",
        "x",
        "1,2,3",
        "nan",
        "1e300",
        "5 parsecs",
        "1d",
        "-1s",
    ] {
        assert!(bad.parse::<FlowMode>().is_err(), "{bad:?}");
    }
}

#[test]
fn durations_take_units() {
    use crate::parse_duration;
    assert_eq!(parse_duration("120"), Ok(120 * S));
    assert_eq!(parse_duration("120s"), Ok(120 * S));
    assert_eq!(parse_duration("500ms"), Ok(S / 2));
    assert_eq!(parse_duration("250us"), Ok(250_000));
    assert_eq!(parse_duration("2m"), Ok(120 * S));
    assert_eq!(parse_duration("1.5s"), Ok(3 * S / 2));
    assert_eq!(parse_duration("1h"), Ok(3600 * S));
}

/// Interim reports: a long flow is reported at its first packet past each update interval,
/// with its statistics so far, and still ends once with everything.
#[test]
fn interim_reports_follow_the_update_interval_on_the_packet_clock() {
    #[derive(Default)]
    struct Interim {
        rows: Rows,
        uni: Vec<UniFlow>,
        bi: Vec<BiFlow>,
    }
    impl FlowSink for Interim {
        fn uniflow(&mut self, flow: &UniFlow) {
            self.rows.uniflow(flow);
        }
        fn biflow(&mut self, flow: &BiFlow) {
            self.rows.biflow(flow);
        }
        fn interim_uniflow(&mut self, flow: &UniFlow) {
            self.uni.push(*flow);
        }
        fn interim_biflow(&mut self, flow: &BiFlow) {
            self.bi.push(*flow);
        }
    }
    let mut table = FlowTable::new(FlowConfig {
        mode: FlowMode::Timeout {
            idle_ns: 60 * S,
            active_ns: None,
        },
        ..FlowConfig::default()
    });
    table.set_update_interval(Some(10 * S));
    let mut sink = Interim::default();
    // One packet a second each way for 25 s: reports at t = 10 and t = 20 (the first packet
    // at or past each interval since the last report), none for the reply direction alone.
    for t in 0..25 {
        for (src, dst, sp, dp) in [(A, B, 40000, MQTT), (B, A, MQTT, 40000)] {
            let p = Pkt {
                number: 0,
                ts_ns: t * S,
                src: addr(src),
                dst: addr(dst),
                len: 60,
                transport: tcp(sp, dp, TcpFlags::ACK),
                fragment: false,
            };
            table.on_packet(&p.packet(), &mut sink);
        }
    }
    assert_eq!(sink.bi.len(), 2, "{:?}", sink.bi);
    assert_eq!(sink.bi[0].fwd.num_pkts, 11);
    assert_eq!(sink.bi[0].bwd.num_pkts, 10);
    assert_eq!(sink.bi[1].last_ts_ns, 20 * S);
    assert_eq!(sink.uni.len(), 4);
    assert!(sink.rows.bi.is_empty(), "still held");
    assert_eq!(table.stats().interim_reports, 2);
    table.finish(&mut sink);
    assert_eq!(sink.rows.bi.len(), 1);
    assert_eq!(sink.rows.bi[0].fwd.num_pkts, 25);
    assert_eq!(table.stats().biflows_emitted, 1);
}
