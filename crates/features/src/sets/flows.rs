//! The `uniflow` and `biflow` sets: rows of the flow table ([`mqtt_ids_flows`]), in the published
//! MQTT-IoT-IDS2020 column orders, with `is_attack`.

use std::io;
use std::net::IpAddr;

use mqtt_ids_flows::{BiFlow, FlowKey, FlowSink, UniFlow, UniStats};

use crate::label::{Labeler, Subject};
use crate::schema::{Column, ColumnType::*, Schema};
use crate::sets::packet::push_addr;
use crate::sink::RowSink;

static UNIFLOW_COLUMNS: [Column; 19] = [
    Column::new("ip_src", Str),
    Column::new("ip_dst", Str),
    Column::new("prt_src", UInt),
    Column::new("prt_dst", UInt),
    Column::new("proto", UInt),
    Column::new("num_pkts", UInt),
    Column::new("mean_iat", Float),
    Column::new("std_iat", Float),
    Column::new("min_iat", Float),
    Column::new("max_iat", Float),
    Column::new("mean_pkt_len", Float),
    Column::new("num_bytes", UInt),
    Column::new("num_psh_flags", UInt),
    Column::new("num_rst_flags", UInt),
    Column::new("num_urg_flags", UInt),
    Column::new("std_pkt_len", Float),
    Column::new("min_pkt_len", Float),
    Column::new("max_pkt_len", Float),
    Column::new("is_attack", UInt),
];

/// Schema of the `uniflow` set (the published uniflow CSVs' order).
pub const UNIFLOW_SCHEMA: Schema = Schema {
    set: "uniflow",
    version: 1,
    columns: &UNIFLOW_COLUMNS,
};

static BIFLOW_COLUMNS: [Column; 32] = [
    Column::new("ip_src", Str),
    Column::new("ip_dst", Str),
    Column::new("prt_src", UInt),
    Column::new("prt_dst", UInt),
    Column::new("proto", UInt),
    Column::new("fwd_num_pkts", UInt),
    Column::new("bwd_num_pkts", UInt),
    Column::new("fwd_mean_iat", Float),
    Column::new("bwd_mean_iat", Float),
    Column::new("fwd_std_iat", Float),
    Column::new("bwd_std_iat", Float),
    Column::new("fwd_min_iat", Float),
    Column::new("bwd_min_iat", Float),
    Column::new("fwd_max_iat", Float),
    Column::new("bwd_max_iat", Float),
    Column::new("fwd_mean_pkt_len", Float),
    Column::new("bwd_mean_pkt_len", Float),
    Column::new("fwd_std_pkt_len", Float),
    Column::new("bwd_std_pkt_len", Float),
    Column::new("fwd_min_pkt_len", Float),
    Column::new("bwd_min_pkt_len", Float),
    Column::new("fwd_max_pkt_len", Float),
    Column::new("bwd_max_pkt_len", Float),
    Column::new("fwd_num_bytes", UInt),
    Column::new("bwd_num_bytes", UInt),
    Column::new("fwd_num_psh_flags", UInt),
    Column::new("bwd_num_psh_flags", UInt),
    Column::new("fwd_num_rst_flags", UInt),
    Column::new("bwd_num_rst_flags", UInt),
    Column::new("fwd_num_urg_flags", UInt),
    Column::new("bwd_num_urg_flags", UInt),
    Column::new("is_attack", UInt),
];

/// Schema of the `biflow` set (the published biflow CSVs' order: fwd/bwd interleaved).
pub const BIFLOW_SCHEMA: Schema = Schema {
    set: "biflow",
    version: 1,
    columns: &BIFLOW_COLUMNS,
};

/// Writes flow rows to the requested sinks. [`FlowSink`] cannot fail, so the first output error
/// is kept and later rows are dropped; the driver checks [`FlowRows::take_error`].
pub struct FlowRows<'a, U: RowSink, B: RowSink> {
    /// `uniflow` output, when requested.
    pub uniflow: Option<&'a mut U>,
    /// `biflow` output, when requested.
    pub biflow: Option<&'a mut B>,
    /// Labels.
    pub labels: &'a Labeler,
    error: Option<io::Error>,
    text: String,
}

impl<'a, U: RowSink, B: RowSink> FlowRows<'a, U, B> {
    /// Rows go to these sinks.
    pub fn new(uniflow: Option<&'a mut U>, biflow: Option<&'a mut B>, labels: &'a Labeler) -> Self {
        FlowRows {
            uniflow,
            biflow,
            labels,
            error: None,
            text: String::with_capacity(48),
        }
    }

    /// Rows go to these sinks; `text` is reused as the address buffer (a detector making one
    /// writer per packet passes the buffer from one to the next: see [`FlowRows::into_buffer`]).
    pub fn with_buffer(
        uniflow: Option<&'a mut U>,
        biflow: Option<&'a mut B>,
        labels: &'a Labeler,
        text: String,
    ) -> Self {
        FlowRows {
            uniflow,
            biflow,
            labels,
            error: None,
            text,
        }
    }

    /// The address buffer, for the next writer.
    pub fn into_buffer(self) -> String {
        self.text
    }

    /// The first output error, if any.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }
}

fn ip<S: RowSink>(sink: &mut S, text: &mut String, addr: IpAddr) {
    // The same text as `Display` (dotted quad, RFC 5952), IPv4 without the formatter.
    push_addr(text, addr);
    sink.str(text);
}

fn key_columns<S: RowSink>(sink: &mut S, text: &mut String, key: &FlowKey) {
    ip(sink, text, key.src);
    ip(sink, text, key.dst);
    sink.uint(key.src_port.into());
    sink.uint(key.dst_port.into());
    sink.uint(key.proto.into());
}

fn is_attack<S: RowSink>(sink: &mut S, labels: &Labeler, key: &FlowKey, ts_ns: i64) {
    let label = labels.label(&Subject {
        src: key.src,
        dst: key.dst,
        src_port: key.src_port,
        dst_port: key.dst_port,
        ts_ns,
    });
    match label.is_attack {
        Some(a) => sink.uint(a.into()),
        None => sink.null(),
    }
}

impl<U: RowSink, B: RowSink> FlowSink for FlowRows<'_, U, B> {
    fn uniflow(&mut self, flow: &UniFlow) {
        let Some(sink) = self.uniflow.as_deref_mut() else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        let s: &UniStats = &flow.stats;
        key_columns(sink, &mut self.text, &flow.key);
        sink.uint(s.num_pkts);
        sink.float(s.mean_iat);
        sink.float(s.std_iat);
        sink.float(s.min_iat);
        sink.float(s.max_iat);
        sink.float(s.mean_pkt_len);
        sink.uint(s.num_bytes);
        sink.uint(s.num_psh_flags);
        sink.uint(s.num_rst_flags);
        sink.uint(s.num_urg_flags);
        sink.float(s.std_pkt_len);
        sink.float(s.min_pkt_len);
        sink.float(s.max_pkt_len);
        is_attack(sink, self.labels, &flow.key, flow.first_ts_ns);
        if let Err(e) = sink.end_row() {
            self.error = Some(e);
        }
    }

    fn biflow(&mut self, flow: &BiFlow) {
        let Some(sink) = self.biflow.as_deref_mut() else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        let (f, b) = (&flow.fwd, &flow.bwd);
        key_columns(sink, &mut self.text, &flow.key);
        sink.uint(f.num_pkts);
        sink.uint(b.num_pkts);
        for (x, y) in [
            (f.mean_iat, b.mean_iat),
            (f.std_iat, b.std_iat),
            (f.min_iat, b.min_iat),
            (f.max_iat, b.max_iat),
            (f.mean_pkt_len, b.mean_pkt_len),
            (f.std_pkt_len, b.std_pkt_len),
            (f.min_pkt_len, b.min_pkt_len),
            (f.max_pkt_len, b.max_pkt_len),
        ] {
            sink.float(x);
            sink.float(y);
        }
        for (x, y) in [
            (f.num_bytes, b.num_bytes),
            (f.num_psh_flags, b.num_psh_flags),
            (f.num_rst_flags, b.num_rst_flags),
            (f.num_urg_flags, b.num_urg_flags),
        ] {
            sink.uint(x);
            sink.uint(y);
        }
        is_attack(sink, self.labels, &flow.key, flow.first_ts_ns);
        if let Err(e) = sink.end_row() {
            self.error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_orders_are_the_published_ones() {
        // Feature columns come from the flows crate's published orders; `is_attack` is last.
        let uni: Vec<&str> = UNIFLOW_SCHEMA.names().collect();
        assert_eq!(&uni[..uni.len() - 1], &mqtt_ids_flows::UNIFLOW_COLUMNS[..]);
        assert_eq!(uni.last(), Some(&"is_attack"));
        let bi: Vec<&str> = BIFLOW_SCHEMA.names().collect();
        assert_eq!(&bi[..bi.len() - 1], &mqtt_ids_flows::BIFLOW_COLUMNS[..]);
        assert_eq!(bi.len(), 32);
    }
}
