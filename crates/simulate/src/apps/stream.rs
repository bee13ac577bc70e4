//! A constant-rate UDP stream: VLC sending a camera feed as MPEG-TS over RTP (Hindy et al.'s
//! camera). Each datagram carries a 12-byte RTP header (version 2, payload type 33 = MP2T,
//! sequence number, 90 kHz timestamp, SSRC) and transport-stream packets (0x47 sync bytes).

use rand_chacha::ChaCha8Rng;

use super::App;
use crate::net::{AppId, HostId, Net, Note, TagId};
use crate::rng::Rand;

/// A running stream.
pub struct UdpStream {
    from: HostId,
    to: std::net::Ipv4Addr,
    ports: (u16, u16),
    payload_len: usize,
    gap_ns: i64,
    tag: TagId,
    seq: u16,
    ssrc: u32,
    rng: ChaCha8Rng,
    ip_id: u16,
}

impl UdpStream {
    /// A stream of `payload_len`-byte datagrams at `rate_pps`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        from: HostId,
        to: std::net::Ipv4Addr,
        ports: (u16, u16),
        payload_len: usize,
        rate_pps: f64,
        tag: TagId,
        mut rng: ChaCha8Rng,
    ) -> UdpStream {
        UdpStream {
            from,
            to,
            ports,
            payload_len: payload_len.max(12),
            gap_ns: (1e9 / rate_pps.max(1e-3)) as i64,
            tag,
            seq: rng.below(65536) as u16,
            ssrc: rng.next_u32(),
            ip_id: rng.below(65536) as u16,
            rng,
        }
    }

    fn datagram(&mut self, now: i64) -> Vec<u8> {
        let mut p = Vec::with_capacity(self.payload_len);
        p.extend_from_slice(&[0x80, 33]);
        p.extend_from_slice(&self.seq.to_be_bytes());
        let ts = (now / 1_000_000 * 90) as u32; // 90 kHz clock
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        while p.len() < self.payload_len {
            p.push(0x47);
            let n = (self.payload_len - p.len()).min(187);
            self.rng.extend_bytes(&mut p, n);
        }
        self.seq = self.seq.wrapping_add(1);
        p
    }
}

impl App for UdpStream {
    fn start(&mut self, net: &mut Net, me: AppId) {
        let at = net.now + self.rng.below(self.gap_ns as u64) as i64;
        net.timer(me, at, 0);
    }

    fn on(&mut self, net: &mut Net, me: AppId, note: Note) {
        if let Note::Timer(_) = note {
            let now = net.now;
            let d = self.datagram(now);
            // Linux gives unconnected UDP datagrams without DF an IP id from a per-destination
            // counter; one counter per stream is the same thing here.
            self.ip_id = self.ip_id.wrapping_add(1);
            net.send_udp(
                now,
                self.from,
                self.ports.0,
                self.to,
                self.ports.1,
                d,
                self.tag,
                self.ip_id,
                None,
            );
            net.timer(me, now + self.gap_ns, 0);
        }
    }
}

/// A receiver that consumes datagrams (the camera viewer).
pub struct UdpSink {
    host: HostId,
    port: u16,
}

impl UdpSink {
    /// Binds `port` on `host`.
    pub fn new(host: HostId, port: u16) -> UdpSink {
        UdpSink { host, port }
    }
}

impl App for UdpSink {
    fn start(&mut self, net: &mut Net, me: AppId) {
        net.bind_udp(self.host, self.port, me);
    }
    fn on(&mut self, _net: &mut Net, _me: AppId, _note: Note) {}
}
