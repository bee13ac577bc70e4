//! Uni- and bi-directional flow statistics of MQTT-IoT-IDS2020 (Hindy et al. 2020), computed
//! in a stream, in bounded memory, exactly as the paper's reference extractor computes them.
//!
//! # Reference semantics
//!
//! The reference is `pcap_parser.py` of AbertayMachineLearningGroup/MQTT_ML (dpkt + numpy).
//! `tests/reference/flows_ref.py` re-implements it literally and the `reference` test compares
//! this crate's output with it on every shared capture.
//!
//! - **Packets.** Only IPv4/IPv6 packets with a decoded TCP or UDP header count. Others (ARP,
//!   ICMP, IGMP, cut transport headers) and IP fragments (no transport header decoded, no
//!   reassembly) are skipped and counted in [`FlowStats`].
//! - **Uni-flow.** All packets of one exact 5-tuple (source and destination address and port,
//!   protocol) over the whole capture, no timeout. Uni-flows are output in first-seen order.
//! - **Length.** The IP total length ([`mqtt_ids_capture::IpHeader::total_len`]; for IPv6,
//!   40 + the payload length field).
//! - **Time.** The script's dpkt float seconds ([`reference_seconds`]); inter-arrival times are
//!   differences of those `f64` values, so they carry the script's quantisation.
//! - **Statistics** ([`UniStats`]). `num_pkts`; with more than one packet the times sorted
//!   descending, `t_diff = abs(diff)`, `mean_iat = sum(t_diff) / (n − 1)`,
//!   `std_iat = np.std(t_diff)` (population), `min_iat`, `max_iat`; with one packet all four
//!   are 0.0. `mean_pkt_len = sum(len) / n`, `std_pkt_len = np.std(len)`, `min_pkt_len`,
//!   `max_pkt_len` (floats), `num_bytes = sum(len)`, and the numbers of TCP packets with PSH,
//!   RST and URG (0 for UDP). `proto` is 6 or 17.
//! - **Bi-flows, pass 1.** Each unprocessed uni-flow, in first-seen order, is paired with its
//!   exact reverse (same protocol); the forward direction is the one seen first. A flow that is
//!   its own reverse (same address and port at both ends) pairs with itself. Rows in the order
//!   of the forward flow.
//! - **Bi-flows, pass 2** (after all pass-1 rows). Each unpaired UDP uni-flow, in first-seen
//!   order, becomes a bi-flow whose backward statistics copy the forward ones. Unpaired TCP
//!   uni-flows have no bi-flow row (counted in [`FlowStats::tcp_unpaired_dropped`]).
//!
//! # Streaming
//!
//! No per-packet data is kept: each direction holds O(1) running state (count, first and last
//! timestamp, running IAT sum with Welford mean/M2, min, max, exact integer length sums). For
//! timestamps in non-decreasing order within a flow this is the script's sort-then-diff. A
//! timestamp earlier than its flow's previous one cannot be sorted in a stream: that flow's IATs
//! use arrival order (`abs` of each difference) and it is counted in
//! [`FlowStats::out_of_order_flows`]. Captures from one interface are monotonic; none of the
//! shared captures has such a flow.
//!
//! # Where this differs from the script, on purpose
//!
//! - It reads pcapng and every link type the capture crate decodes, and counts IPv6 (the
//!   script reads classic Ethernet pcap and keeps IPv4 only: its flows are the IPv4 subset).
//! - Length is the IP header's total length; dpkt's `len(ip)` is the same unless the capture cut
//!   the packet (snaplen) or the header says 0 (segmentation offload).
//! - The script's `mean_offset` column is not computed: the published CSVs do not have it.
//!
//! # Online mode and memory
//!
//! [`FlowMode::Timeout`] ends entries on idle and active timeouts and TCP FIN/RST, and emits
//! them at once. [`FlowConfig::max_flows`] bounds the entries held (default
//! [`DEFAULT_MAX_FLOWS`], 371 bytes each as measured); beyond it the least recently seen entry is
//! ended early (counted in [`FlowStats::evicted`]). Memory grows only with entries held at
//! once, never with packets. An ended entry is emitted as one table of its own: its uni-flows,
//! then its bi-flow by the same pairing rules.
#![forbid(unsafe_code)]

mod columns;
mod key;
mod stats;
mod table;

pub use columns::{Value, BIFLOW_COLUMNS, UNIFLOW_COLUMNS};
pub use key::{FlowKey, PROTO_TCP, PROTO_UDP};
pub use stats::{reference_seconds, UniStats};
pub use table::{
    parse_duration, BiFlow, FlowConfig, FlowMode, FlowSink, FlowStats, FlowTable, UniFlow,
    DEFAULT_MAX_FLOWS,
};

#[cfg(test)]
mod tests;
