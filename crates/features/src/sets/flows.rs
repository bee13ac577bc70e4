//! The `uniflow` and `biflow` sets: rows of the flow table ([`mqtt_ids_flows`]), in the published
//! MQTT-IoT-IDS2020 column orders, with `is_attack`.

use std::io;
use std::net::IpAddr;

use mqtt_ids_flows::{BiFlow, FlowKey, FlowSink, UniFlow, UniStats};

use crate::label::{Labeler, Subject};
use crate::schema::{Column, ColumnType::*, Schema};
use crate::sets::packet::push_addr;
use crate::sink::{push_decimal, write_float_py, CsvRow, RowSink};

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

/// A row's cells, written through a sink's cell calls ([`SinkCells`]) or appended to an open
/// CSV row ([`LineCells`]); the rows' layouts are written once, over this.
trait Cells {
    /// An address (text CSV never quotes).
    fn ip(&mut self, addr: IpAddr);
    fn uint(&mut self, v: u64);
    fn float(&mut self, v: f64);
    fn null(&mut self);
}

/// Cells as calls of a sink (Parquet, a detector's rows, a sink without [`RowSink::csv_row`]).
struct SinkCells<'a, S: RowSink> {
    sink: &'a mut S,
    text: &'a mut String,
}

impl<S: RowSink> Cells for SinkCells<'_, S> {
    #[inline]
    fn ip(&mut self, addr: IpAddr) {
        // The same text as `Display` (dotted quad, RFC 5952), IPv4 without the formatter.
        push_addr(self.text, addr);
        self.sink.str_plain(self.text);
    }
    #[inline]
    fn uint(&mut self, v: u64) {
        self.sink.uint(v);
    }
    #[inline]
    fn float(&mut self, v: f64) {
        self.sink.float(v);
    }
    #[inline]
    fn null(&mut self) {
        self.sink.null();
    }
}

/// Cells appended to an open CSV row ([`RowSink::csv_row`]): the bytes the CSV sink's cell calls
/// write for the flow schemas' `Str`, `UInt` and `Float` columns, without its per-cell column
/// look-up.
struct LineCells<'a> {
    line: &'a mut Vec<u8>,
    absent: &'static str,
    /// Cells in the row so far (a `,` goes before every cell but the row's first).
    cells: usize,
}

impl LineCells<'_> {
    #[inline]
    fn separator(&mut self) {
        if self.cells > 0 {
            self.line.push(b',');
        }
        self.cells += 1;
    }
}

impl Cells for LineCells<'_> {
    #[inline]
    fn ip(&mut self, addr: IpAddr) {
        self.separator();
        push_addr_bytes(self.line, addr);
    }
    #[inline]
    fn uint(&mut self, v: u64) {
        self.separator();
        push_decimal(self.line, v);
    }
    #[inline]
    fn float(&mut self, v: f64) {
        self.separator();
        write_float_py(self.line, v);
    }
    #[inline]
    fn null(&mut self) {
        self.separator();
        self.line.extend_from_slice(self.absent.as_bytes());
    }
}

/// An address as `Display` writes it (dotted quad, RFC 5952), IPv4 without the formatter.
#[inline]
fn push_addr_bytes(line: &mut Vec<u8>, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => {
            let mut buf = [0u8; 16];
            let mut n = 0;
            for octet in a.octets() {
                buf[n] = b'0' + octet / 100;
                n += usize::from(octet >= 100);
                buf[n] = b'0' + octet / 10 % 10;
                n += usize::from(octet >= 10);
                buf[n] = b'0' + octet % 10;
                buf[n + 1] = b'.';
                n += 2;
            }
            // The last octet's `.` is cut off.
            line.extend_from_slice(&buf[..n - 1]);
        }
        IpAddr::V6(a) => {
            use std::io::Write as _;
            let _ = write!(line, "{a}");
        }
    }
}

fn key_columns(cells: &mut impl Cells, key: &FlowKey) {
    cells.ip(key.src);
    cells.ip(key.dst);
    cells.uint(key.src_port.into());
    cells.uint(key.dst_port.into());
    cells.uint(key.proto.into());
}

fn is_attack(labels: &Labeler, key: &FlowKey, ts_ns: i64) -> Option<bool> {
    labels
        .label(&Subject {
            src: key.src,
            dst: key.dst,
            src_port: key.src_port,
            dst_port: key.dst_port,
            ts_ns,
        })
        .is_attack
}

/// A `uniflow` row's cells (19).
fn uniflow_cells(cells: &mut impl Cells, flow: &UniFlow, attack: Option<bool>) {
    let s: &UniStats = &flow.stats;
    key_columns(cells, &flow.key);
    cells.uint(s.num_pkts);
    cells.float(s.mean_iat);
    cells.float(s.std_iat);
    cells.float(s.min_iat);
    cells.float(s.max_iat);
    cells.float(s.mean_pkt_len);
    cells.uint(s.num_bytes);
    cells.uint(s.num_psh_flags);
    cells.uint(s.num_rst_flags);
    cells.uint(s.num_urg_flags);
    cells.float(s.std_pkt_len);
    cells.float(s.min_pkt_len);
    cells.float(s.max_pkt_len);
    match attack {
        Some(a) => cells.uint(a.into()),
        None => cells.null(),
    }
}

/// A `biflow` row's cells (32).
fn biflow_cells(cells: &mut impl Cells, flow: &BiFlow, attack: Option<bool>) {
    let (f, b) = (&flow.fwd, &flow.bwd);
    key_columns(cells, &flow.key);
    cells.uint(f.num_pkts);
    cells.uint(b.num_pkts);
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
        cells.float(x);
        cells.float(y);
    }
    for (x, y) in [
        (f.num_bytes, b.num_bytes),
        (f.num_psh_flags, b.num_psh_flags),
        (f.num_rst_flags, b.num_rst_flags),
        (f.num_urg_flags, b.num_urg_flags),
    ] {
        cells.uint(x);
        cells.uint(y);
    }
    match attack {
        Some(a) => cells.uint(a.into()),
        None => cells.null(),
    }
}

/// Appends a row's cells to an open CSV row and records them.
#[inline]
fn append(row: CsvRow<'_>, write: impl FnOnce(&mut LineCells<'_>)) {
    let start = row.column();
    let mut cells = LineCells {
        line: &mut *row.line,
        absent: row.absent,
        cells: start,
    };
    write(&mut cells);
    let n = cells.cells - start;
    row.wrote(n);
}

impl<U: RowSink, B: RowSink> FlowSink for FlowRows<'_, U, B> {
    fn uniflow(&mut self, flow: &UniFlow) {
        let Some(sink) = self.uniflow.as_deref_mut() else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        let attack = is_attack(self.labels, &flow.key, flow.first_ts_ns);
        if let Some(row) = sink.csv_row() {
            append(row, |cells| uniflow_cells(cells, flow, attack));
        } else {
            let mut cells = SinkCells {
                sink: &mut *sink,
                text: &mut self.text,
            };
            uniflow_cells(&mut cells, flow, attack);
        }
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
        let attack = is_attack(self.labels, &flow.key, flow.first_ts_ns);
        if let Some(row) = sink.csv_row() {
            append(row, |cells| biflow_cells(cells, flow, attack));
        } else {
            let mut cells = SinkCells {
                sink: &mut *sink,
                text: &mut self.text,
            };
            biflow_cells(&mut cells, flow, attack);
        }
        if let Err(e) = sink.end_row() {
            self.error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::Net;
    use crate::sink::{CellsOnly, CsvSink};

    /// Random flows: IPv4 addresses of every width (1 to 3 digits an octet), IPv6, ports and
    /// counts of every size, floats of every kind (integral, fractions, tiny, huge, -0.0).
    fn random_flows(n: usize) -> Vec<(UniFlow, BiFlow)> {
        let mut x = 0x853c_49e6_748f_ea9bu64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let addr = |next: &mut dyn FnMut() -> u64| -> IpAddr {
            match next() % 4 {
                0 => IpAddr::from(std::net::Ipv6Addr::from(
                    u128::from(next()) << 64 | u128::from(next() % 3),
                )),
                1 => IpAddr::from([0, 0, 0, (next() % 10) as u8]),
                _ => IpAddr::from((next() as u32).to_be_bytes()),
            }
        };
        let float = |next: &mut dyn FnMut() -> u64| -> f64 {
            match next() % 6 {
                0 => (next() % 2000) as f64,
                1 => (next() % 1_000_000) as f64 / (1 + next() % 997) as f64,
                2 => f64::from_bits(next()),
                3 => (next() % 1000) as f64 * 2f64.powi(-22),
                4 => -0.0,
                _ => 0.0,
            }
        };
        let stats = |next: &mut dyn FnMut() -> u64| UniStats {
            num_pkts: next() >> (next() % 64),
            mean_iat: float(next),
            std_iat: float(next),
            min_iat: float(next),
            max_iat: float(next),
            mean_pkt_len: float(next),
            std_pkt_len: float(next),
            min_pkt_len: float(next),
            max_pkt_len: float(next),
            num_bytes: next() >> (next() % 64),
            num_psh_flags: next() % 100_001,
            num_rst_flags: next() % 10,
            num_urg_flags: next() >> (next() % 64),
        };
        (0..n)
            .map(|_| {
                let src = addr(&mut next);
                let dst = if next() % 2 == 0 {
                    addr(&mut next)
                } else {
                    src
                };
                let key = FlowKey {
                    src,
                    dst,
                    src_port: next() as u16,
                    dst_port: [1883, 0, 9, 65_535][(next() % 4) as usize],
                    proto: [6, 17][(next() % 2) as usize],
                };
                let ts = next() as i64 >> 2;
                let uni = UniFlow {
                    key,
                    first_packet: next() % 1000,
                    first_ts_ns: ts,
                    last_ts_ns: ts,
                    stats: stats(&mut next),
                };
                let bi = BiFlow {
                    key,
                    first_packet: uni.first_packet,
                    first_ts_ns: ts,
                    last_ts_ns: ts,
                    fwd: stats(&mut next),
                    bwd: stats(&mut next),
                    bwd_copied: false,
                };
                (uni, bi)
            })
            .collect()
    }

    #[test]
    fn appended_csv_rows_are_the_cell_calls_rows() {
        let flows = random_flows(20_000);
        let attacker = Labeler {
            attackers: vec![Net::parse("128.0.0.0/1").unwrap()],
            ..Labeler::default()
        };
        for (labels, absent) in [(Labeler::default(), "0"), (attacker, "")] {
            let sink = |schema| CsvSink::new(Vec::new(), schema, absent).unwrap();
            let (mut uni, mut bi) = (sink(UNIFLOW_SCHEMA), sink(BIFLOW_SCHEMA));
            let mut uni_cells = CellsOnly(sink(UNIFLOW_SCHEMA));
            let mut bi_cells = CellsOnly(sink(BIFLOW_SCHEMA));
            {
                let mut direct = FlowRows::new(Some(&mut uni), Some(&mut bi), &labels);
                let mut by_cell = FlowRows::new(Some(&mut uni_cells), Some(&mut bi_cells), &labels);
                for (u, b) in &flows {
                    direct.uniflow(u);
                    direct.biflow(b);
                    by_cell.uniflow(u);
                    by_cell.biflow(b);
                }
                assert!(direct.take_error().is_none() && by_cell.take_error().is_none());
            }
            let text = |sink: CsvSink<Vec<u8>>| String::from_utf8(sink.finish().unwrap()).unwrap();
            let (uni, uni_cells) = (text(uni), text(uni_cells.0));
            assert_eq!(uni.lines().count(), flows.len() + 1);
            for (a, b) in uni.lines().zip(uni_cells.lines()) {
                assert_eq!(a, b);
            }
            assert_eq!(uni, uni_cells);
            let (bi, bi_cells) = (text(bi), text(bi_cells.0));
            for (a, b) in bi.lines().zip(bi_cells.lines()) {
                assert_eq!(a, b);
            }
            assert_eq!(bi, bi_cells);
        }
    }

    #[test]
    fn addresses_render_as_display() {
        let mut line = Vec::new();
        for a in 0..=255u8 {
            for addr in [[a, 0, 10, 255], [1, a, 99, 100], [a, a, a, a], [0, 0, 0, a]] {
                let addr = IpAddr::from(addr);
                line.clear();
                push_addr_bytes(&mut line, addr);
                assert_eq!(std::str::from_utf8(&line).unwrap(), addr.to_string());
            }
        }
        for text in [
            "::1",
            "fe80::1:2",
            "2001:db8::8a2e:370:7334",
            "::ffff:10.0.0.1",
        ] {
            let addr: IpAddr = text.parse().unwrap();
            line.clear();
            push_addr_bytes(&mut line, addr);
            assert_eq!(std::str::from_utf8(&line).unwrap(), text);
        }
    }

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
