//! One direction's running statistics: O(1) state per uni-flow, whatever its packet count, that
//! gives the reference extractor's numbers without keeping per-packet timestamps or lengths.

/// A uni-flow's statistics, named as the published MQTT-IoT-IDS2020 columns.
///
/// Inter-arrival times are in seconds, lengths in bytes (IP total length). With one packet the
/// four IAT values are 0.0, as in the reference script.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UniStats {
    pub num_pkts: u64,
    /// `sum(t_diff) / (num_pkts - 1)`.
    pub mean_iat: f64,
    /// Population standard deviation (`np.std`, ddof 0) of the inter-arrival times.
    pub std_iat: f64,
    pub min_iat: f64,
    pub max_iat: f64,
    /// `num_bytes / num_pkts`.
    pub mean_pkt_len: f64,
    /// Population standard deviation (`np.std`, ddof 0) of the packet lengths.
    pub std_pkt_len: f64,
    pub min_pkt_len: f64,
    pub max_pkt_len: f64,
    /// Sum of the IP total lengths.
    pub num_bytes: u64,
    /// TCP packets with PSH set (0 for UDP).
    pub num_psh_flags: u64,
    /// TCP packets with RST set (0 for UDP).
    pub num_rst_flags: u64,
    /// TCP packets with URG set (0 for UDP).
    pub num_urg_flags: u64,
}

/// A timestamp as the reference script sees it: dpkt's float seconds.
///
/// dpkt's pcap reader yields `tv_sec + tv_usec / 1e6` (a Python int plus a correctly rounded
/// float quotient, the sum rounded once more). For a nanosecond capture that is
/// `sec + nsec / 1e9`. Both are this function: `sub_ns / 1e9` and `(sub_ns / 1000) / 1e6` are
/// correctly rounded quotients of the same rational number when `sub_ns` is a whole number of
/// microseconds, so they are the same `f64` (tested for every microsecond value). pcapng input
/// gets the same formula: the value the script would see after `editcap -F pcap`. (dpkt's own
/// pcapng reader divides the whole 64-bit count at once, which rounds differently in the last
/// place; the script never read pcapng.)
///
/// Inter-arrival times are differences of these values, so they carry the same quantisation
/// (about 0.24 µs for present-day epochs) as the script's.
#[inline]
pub fn reference_seconds(ts_ns: i64) -> f64 {
    if let Ok(ts) = u64::try_from(ts_ns) {
        // After the epoch (every capture): unsigned division, fewer instructions than the
        // Euclidean one, the same quotient and remainder.
        // Through i64 (both parts fit): one conversion instruction each, the same value.
        return (ts / 1_000_000_000) as i64 as f64 + (ts % 1_000_000_000) as i64 as f64 / 1e9;
    }
    let sec = ts_ns.div_euclid(1_000_000_000);
    let sub_ns = ts_ns.rem_euclid(1_000_000_000);
    sec as f64 + sub_ns as f64 / 1e9
}

/// Running statistics of one direction.
///
/// - IATs: the reference sorts a flow's times and takes `abs(diff)`; for times that arrive in
///   non-decreasing order those are exactly the successive arrival differences, so a running
///   sum, Welford mean and M2, min and max give the same values (the sum in another order: equal
///   to within rounding). A timestamp earlier than the previous one cannot be sorted in here:
///   the flow then uses `abs` of arrival-order differences ([`Accumulator::add`] says so, for
///   the table to count it).
/// - Lengths: exact integer sums (and sum of squares) give the mean exactly and the population
///   variance from one exact integer numerator.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Accumulator {
    /// Packets so far (0: this direction has not been seen).
    pub count: u64,
    /// The table's arrival sequence number of the first packet (orders flows).
    pub seq: u64,
    /// Frame number of the first packet.
    pub first_packet: u64,
    pub first_ts_ns: i64,
    /// Timestamp of the last packet in arrival order.
    pub last_ts_ns: i64,
    iat_sum: f64,
    iat_mean: f64,
    iat_m2: f64,
    iat_min: f64,
    iat_max: f64,
    len_sum: u64,
    /// Sum of squared lengths as two halves (a `u128` field would align the whole entry to 16).
    len_sum_sq: [u64; 2],
    len_min: u32,
    len_max: u32,
    psh: u64,
    rst: u64,
    urg: u64,
}

/// The per-packet facts a direction's statistics need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PacketFacts {
    pub seq: u64,
    pub number: u64,
    pub ts_ns: i64,
    /// IP total length.
    pub len: u32,
    /// TCP flags (0 for UDP).
    pub flags: u16,
}

const PSH: u16 = mqtt_ids_capture::TcpFlags::PSH;
const RST: u16 = mqtt_ids_capture::TcpFlags::RST;
const URG: u16 = mqtt_ids_capture::TcpFlags::URG;

impl Accumulator {
    /// Adds one packet. Returns true when its timestamp is before the previous packet's.
    #[inline(always)]
    pub fn add(&mut self, p: &PacketFacts) -> bool {
        let mut backwards = false;
        if self.count == 0 {
            self.seq = p.seq;
            self.first_packet = p.number;
            self.first_ts_ns = p.ts_ns;
            self.len_min = p.len;
            self.len_max = p.len;
        } else {
            backwards = p.ts_ns < self.last_ts_ns;
            let d = (reference_seconds(p.ts_ns) - reference_seconds(self.last_ts_ns)).abs();
            // `count` is the number of differences once this one is in.
            let k = self.count as f64;
            self.iat_sum += d;
            let delta = d - self.iat_mean;
            self.iat_mean += delta / k;
            self.iat_m2 += delta * (d - self.iat_mean);
            if self.count == 1 {
                self.iat_min = d;
                self.iat_max = d;
            } else {
                self.iat_min = self.iat_min.min(d);
                self.iat_max = self.iat_max.max(d);
            }
            self.len_min = self.len_min.min(p.len);
            self.len_max = self.len_max.max(p.len);
        }
        self.count += 1;
        self.last_ts_ns = p.ts_ns;
        self.len_sum += u64::from(p.len);
        let sq = u64::from(p.len) * u64::from(p.len);
        let (lo, carry) = self.len_sum_sq[0].overflowing_add(sq);
        self.len_sum_sq = [lo, self.len_sum_sq[1] + u64::from(carry)];
        self.psh += u64::from(p.flags & PSH != 0);
        self.rst += u64::from(p.flags & RST != 0);
        self.urg += u64::from(p.flags & URG != 0);
        backwards
    }

    /// The published statistics.
    pub fn stats(&self) -> UniStats {
        let n = self.count;
        let (mean_iat, std_iat, min_iat, max_iat) = if n > 1 {
            let diffs = (n - 1) as f64;
            (
                self.iat_sum / diffs,
                (self.iat_m2 / diffs).max(0.0).sqrt(),
                self.iat_min,
                self.iat_max,
            )
        } else {
            (0.0, 0.0, 0.0, 0.0)
        };
        UniStats {
            num_pkts: n,
            mean_iat,
            std_iat,
            min_iat,
            max_iat,
            mean_pkt_len: if n == 0 {
                0.0
            } else {
                self.len_sum as f64 / n as f64
            },
            std_pkt_len: self.std_len(),
            min_pkt_len: f64::from(self.len_min),
            max_pkt_len: f64::from(self.len_max),
            num_bytes: self.len_sum,
            num_psh_flags: self.psh,
            num_rst_flags: self.rst,
            num_urg_flags: self.urg,
        }
    }

    /// Population standard deviation of the lengths: `sqrt((n·Σx² − (Σx)²) / n²)` with an exact
    /// integer numerator (in `f64` only past 2^47 packets, where the products leave `u128`).
    fn std_len(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let n = u128::from(self.count);
        let s = u128::from(self.len_sum);
        let sq = (u128::from(self.len_sum_sq[1]) << 64) | u128::from(self.len_sum_sq[0]);
        match (n.checked_mul(sq), n.checked_mul(n)) {
            (Some(nsq), Some(nn)) => ((nsq - s * s) as f64 / nn as f64).sqrt(),
            _ => {
                let (n, mean) = (n as f64, s as f64 / n as f64);
                (sq as f64 / n - mean * mean).max(0.0).sqrt()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(seq: u64, ts_ns: i64, len: u32, flags: u16) -> PacketFacts {
        PacketFacts {
            seq,
            number: seq + 1,
            ts_ns,
            len,
            flags,
        }
    }

    /// numpy's population standard deviation, two-pass, for comparison.
    fn np_std(v: &[f64]) -> f64 {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    }

    #[test]
    fn reference_seconds_is_dpkts_float_for_every_microsecond() {
        let sec: i64 = 1_585_173_935;
        for usec in 0..1_000_000i64 {
            let dpkt = sec as f64 + usec as f64 / 1e6;
            assert_eq!(
                reference_seconds(sec * 1_000_000_000 + usec * 1000).to_bits(),
                dpkt.to_bits(),
                "{usec}"
            );
        }
        // Nanosecond captures: sec + nsec / 1e9; before the epoch, floor seconds.
        assert_eq!(
            reference_seconds(1_500_000_000_123_456_789),
            1_500_000_000.0 + 0.123456789
        );
        assert_eq!(reference_seconds(-1), -1.0 + 0.999999999);
        assert_eq!(reference_seconds(0), 0.0);
        // The unsigned path (after the epoch) is the Euclidean formula.
        let euclid =
            |t: i64| t.div_euclid(1_000_000_000) as f64 + t.rem_euclid(1_000_000_000) as f64 / 1e9;
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for t in [
                x as i64,
                (x >> 1) as i64,
                (x % 4_000_000_000_000_000_000) as i64,
                -((x >> 2) as i64),
            ] {
                assert_eq!(reference_seconds(t).to_bits(), euclid(t).to_bits(), "{t}");
            }
        }
        for t in [
            i64::MIN,
            i64::MAX,
            -1_000_000_000,
            999_999_999,
            1_000_000_000,
        ] {
            assert_eq!(reference_seconds(t).to_bits(), euclid(t).to_bits(), "{t}");
        }
    }

    #[test]
    fn one_packet() {
        let mut a = Accumulator::default();
        a.add(&facts(0, 5_000_000_000, 60, PSH));
        let s = a.stats();
        assert_eq!(
            s,
            UniStats {
                num_pkts: 1,
                mean_pkt_len: 60.0,
                min_pkt_len: 60.0,
                max_pkt_len: 60.0,
                num_bytes: 60,
                num_psh_flags: 1,
                ..UniStats::default()
            }
        );
    }

    #[test]
    fn two_packets() {
        let mut a = Accumulator::default();
        a.add(&facts(0, 1_000_000_000, 40, 0));
        a.add(&facts(1, 1_500_000_000, 100, RST | URG));
        let s = a.stats();
        assert_eq!(
            (s.mean_iat, s.std_iat, s.min_iat, s.max_iat),
            (0.5, 0.0, 0.5, 0.5)
        );
        // lengths 40, 100: mean 70, population std 30
        assert_eq!((s.mean_pkt_len, s.std_pkt_len), (70.0, 30.0));
        assert_eq!(
            (s.min_pkt_len, s.max_pkt_len, s.num_bytes),
            (40.0, 100.0, 140)
        );
        assert_eq!(
            (s.num_psh_flags, s.num_rst_flags, s.num_urg_flags),
            (0, 1, 1)
        );
    }

    #[test]
    fn three_packets_with_uneven_gaps() {
        // Times 10 s, 11 s, 14 s: gaps 1 and 3 → mean 2, population std 1.
        // Lengths 52, 52, 100: mean 68, population std sqrt(512) = 22.627…
        let mut a = Accumulator::default();
        a.add(&facts(0, 10_000_000_000, 52, 0));
        a.add(&facts(1, 11_000_000_000, 52, 0));
        a.add(&facts(2, 14_000_000_000, 100, 0));
        let s = a.stats();
        assert_eq!(
            (s.mean_iat, s.std_iat, s.min_iat, s.max_iat),
            (2.0, 1.0, 1.0, 3.0)
        );
        assert_eq!(s.mean_pkt_len, 68.0);
        assert!((s.std_pkt_len - 512f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn running_values_equal_sorted_two_pass_values() {
        // Irregular microsecond timestamps at a present-day epoch: the quantisation of the
        // absolute seconds is what the script sees.
        let base = 1_585_066_890_253_974_000i64;
        let mut ts = vec![base];
        let mut x = 12345u64;
        for _ in 0..999 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ts.push(ts.last().unwrap() + ((x >> 40) % 5_000_000) as i64 * 1000);
        }
        let mut a = Accumulator::default();
        let mut lens = Vec::new();
        for (i, t) in ts.iter().enumerate() {
            let len = 40 + (i as u32 * 37) % 1460;
            lens.push(len as f64);
            a.add(&facts(i as u64, *t, len, 0));
        }
        let mut secs: Vec<f64> = ts.iter().map(|t| reference_seconds(*t)).collect();
        secs.sort_by(|a, b| b.total_cmp(a));
        let diffs: Vec<f64> = secs.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
        let s = a.stats();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
        assert!(close(
            s.mean_iat,
            diffs.iter().sum::<f64>() / diffs.len() as f64
        ));
        assert!(
            close(s.std_iat, np_std(&diffs)),
            "{} {}",
            s.std_iat,
            np_std(&diffs)
        );
        assert_eq!(
            s.min_iat,
            diffs.iter().copied().fold(f64::INFINITY, f64::min)
        );
        assert_eq!(s.max_iat, diffs.iter().copied().fold(0.0, f64::max));
        assert!(close(s.std_pkt_len, np_std(&lens)));
    }

    #[test]
    fn backward_timestamp_is_reported_and_uses_arrival_order() {
        let mut a = Accumulator::default();
        assert!(!a.add(&facts(0, 10_000_000_000, 40, 0)));
        assert!(a.add(&facts(1, 8_000_000_000, 40, 0)));
        assert!(!a.add(&facts(2, 9_000_000_000, 40, 0)));
        let s = a.stats();
        // arrival-order gaps |−2|, 1 (sorted, the script would see 1, 1)
        assert_eq!((s.mean_iat, s.min_iat, s.max_iat), (1.5, 1.0, 2.0));
    }

    #[test]
    fn length_variance_never_overflows() {
        let mut a = Accumulator::default();
        for i in 0..10u64 {
            a.add(&facts(i, i as i64, u32::MAX, 0));
        }
        assert_eq!(a.stats().std_pkt_len, 0.0);
        assert_eq!(a.stats().max_pkt_len, f64::from(u32::MAX));
    }
}
