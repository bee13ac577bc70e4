//! The published column orders of the MQTT-IoT-IDS2020 uni-flow and bi-flow CSVs, and each
//! flow's values in that order (the features crate writes them and adds `is_attack`).

use std::net::IpAddr;

use crate::table::{BiFlow, UniFlow};
use crate::UniStats;

/// Uni-flow CSV columns in the published order (`is_attack` is added by the features crate).
pub const UNIFLOW_COLUMNS: [&str; 18] = [
    "ip_src",
    "ip_dst",
    "prt_src",
    "prt_dst",
    "proto",
    "num_pkts",
    "mean_iat",
    "std_iat",
    "min_iat",
    "max_iat",
    "mean_pkt_len",
    "num_bytes",
    "num_psh_flags",
    "num_rst_flags",
    "num_urg_flags",
    "std_pkt_len",
    "min_pkt_len",
    "max_pkt_len",
];

/// Bi-flow CSV columns in the published order: the 5-tuple of the forward direction, then each
/// statistic for the forward and the backward direction.
pub const BIFLOW_COLUMNS: [&str; 31] = [
    "ip_src",
    "ip_dst",
    "prt_src",
    "prt_dst",
    "proto",
    "fwd_num_pkts",
    "bwd_num_pkts",
    "fwd_mean_iat",
    "bwd_mean_iat",
    "fwd_std_iat",
    "bwd_std_iat",
    "fwd_min_iat",
    "bwd_min_iat",
    "fwd_max_iat",
    "bwd_max_iat",
    "fwd_mean_pkt_len",
    "bwd_mean_pkt_len",
    "fwd_std_pkt_len",
    "bwd_std_pkt_len",
    "fwd_min_pkt_len",
    "bwd_min_pkt_len",
    "fwd_max_pkt_len",
    "bwd_max_pkt_len",
    "fwd_num_bytes",
    "bwd_num_bytes",
    "fwd_num_psh_flags",
    "bwd_num_psh_flags",
    "fwd_num_rst_flags",
    "bwd_num_rst_flags",
    "fwd_num_urg_flags",
    "bwd_num_urg_flags",
];

/// One cell of a flow row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// `ip_src`, `ip_dst`.
    Addr(IpAddr),
    /// Ports, protocol, counts.
    Int(u64),
    /// Means, deviations, minima and maxima (lengths included: the reference writes them as
    /// floats).
    Float(f64),
}

/// The statistics of the bi-flow rows, in their published order (names without `fwd_`/`bwd_`).
const BIFLOW_STATS: [fn(&UniStats) -> Value; 13] = [
    |s| Value::Int(s.num_pkts),
    |s| Value::Float(s.mean_iat),
    |s| Value::Float(s.std_iat),
    |s| Value::Float(s.min_iat),
    |s| Value::Float(s.max_iat),
    |s| Value::Float(s.mean_pkt_len),
    |s| Value::Float(s.std_pkt_len),
    |s| Value::Float(s.min_pkt_len),
    |s| Value::Float(s.max_pkt_len),
    |s| Value::Int(s.num_bytes),
    |s| Value::Int(s.num_psh_flags),
    |s| Value::Int(s.num_rst_flags),
    |s| Value::Int(s.num_urg_flags),
];

impl UniFlow {
    /// The values in [`UNIFLOW_COLUMNS`] order.
    pub fn row(&self) -> [Value; 18] {
        let (k, s) = (&self.key, &self.stats);
        [
            Value::Addr(k.src),
            Value::Addr(k.dst),
            Value::Int(k.src_port.into()),
            Value::Int(k.dst_port.into()),
            Value::Int(k.proto.into()),
            Value::Int(s.num_pkts),
            Value::Float(s.mean_iat),
            Value::Float(s.std_iat),
            Value::Float(s.min_iat),
            Value::Float(s.max_iat),
            Value::Float(s.mean_pkt_len),
            Value::Int(s.num_bytes),
            Value::Int(s.num_psh_flags),
            Value::Int(s.num_rst_flags),
            Value::Int(s.num_urg_flags),
            Value::Float(s.std_pkt_len),
            Value::Float(s.min_pkt_len),
            Value::Float(s.max_pkt_len),
        ]
    }
}

impl BiFlow {
    /// The values in [`BIFLOW_COLUMNS`] order.
    pub fn row(&self) -> [Value; 31] {
        let k = &self.key;
        let mut row = [Value::Int(0); 31];
        row[..5].copy_from_slice(&[
            Value::Addr(k.src),
            Value::Addr(k.dst),
            Value::Int(k.src_port.into()),
            Value::Int(k.dst_port.into()),
            Value::Int(k.proto.into()),
        ]);
        for (i, stat) in BIFLOW_STATS.iter().enumerate() {
            row[5 + 2 * i] = stat(&self.fwd);
            row[6 + 2 * i] = stat(&self.bwd);
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FlowKey;

    fn stats(base: u64) -> UniStats {
        UniStats {
            num_pkts: base,
            mean_iat: base as f64 + 0.1,
            std_iat: base as f64 + 0.2,
            min_iat: base as f64 + 0.3,
            max_iat: base as f64 + 0.4,
            mean_pkt_len: base as f64 + 0.5,
            std_pkt_len: base as f64 + 0.6,
            min_pkt_len: base as f64 + 0.7,
            max_pkt_len: base as f64 + 0.8,
            num_bytes: base + 1,
            num_psh_flags: base + 2,
            num_rst_flags: base + 3,
            num_urg_flags: base + 4,
        }
    }

    fn key() -> FlowKey {
        FlowKey {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            src_port: 1,
            dst_port: 2,
            proto: 6,
        }
    }

    /// Each column's value is the field of its name (a name → value check, not a copy of the
    /// order).
    fn by_name(name: &str, k: &FlowKey, s: &UniStats) -> Value {
        match name {
            "ip_src" => Value::Addr(k.src),
            "ip_dst" => Value::Addr(k.dst),
            "prt_src" => Value::Int(k.src_port.into()),
            "prt_dst" => Value::Int(k.dst_port.into()),
            "proto" => Value::Int(k.proto.into()),
            "num_pkts" => Value::Int(s.num_pkts),
            "mean_iat" => Value::Float(s.mean_iat),
            "std_iat" => Value::Float(s.std_iat),
            "min_iat" => Value::Float(s.min_iat),
            "max_iat" => Value::Float(s.max_iat),
            "mean_pkt_len" => Value::Float(s.mean_pkt_len),
            "std_pkt_len" => Value::Float(s.std_pkt_len),
            "min_pkt_len" => Value::Float(s.min_pkt_len),
            "max_pkt_len" => Value::Float(s.max_pkt_len),
            "num_bytes" => Value::Int(s.num_bytes),
            "num_psh_flags" => Value::Int(s.num_psh_flags),
            "num_rst_flags" => Value::Int(s.num_rst_flags),
            "num_urg_flags" => Value::Int(s.num_urg_flags),
            other => panic!("unknown column {other}"),
        }
    }

    #[test]
    fn uniflow_row_follows_the_column_names() {
        let f = UniFlow {
            key: key(),
            first_packet: 1,
            first_ts_ns: 0,
            last_ts_ns: 0,
            stats: stats(10),
        };
        for (name, v) in UNIFLOW_COLUMNS.iter().zip(f.row()) {
            assert_eq!(v, by_name(name, &f.key, &f.stats), "{name}");
        }
    }

    #[test]
    fn biflow_row_follows_the_column_names() {
        let f = BiFlow {
            key: key(),
            first_packet: 1,
            first_ts_ns: 0,
            last_ts_ns: 0,
            fwd: stats(10),
            bwd: stats(20),
            bwd_copied: false,
        };
        for (name, v) in BIFLOW_COLUMNS.iter().zip(f.row()) {
            let want = if let Some(n) = name.strip_prefix("fwd_") {
                by_name(n, &f.key, &f.fwd)
            } else if let Some(n) = name.strip_prefix("bwd_") {
                by_name(n, &f.key, &f.bwd)
            } else {
                by_name(name, &f.key, &f.fwd)
            };
            assert_eq!(v, want, "{name}");
        }
    }
}
