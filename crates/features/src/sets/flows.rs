//! The `uniflow` and `biflow` sets: rows of the flow table ([`mqtt_ids_flows`]), in the published
//! MQTT-IoT-IDS2020 column orders, with `is_attack`.

use std::collections::HashMap;
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
    /// The text of each CSV uni-flow row's key and float cells, for the bi-flow row that
    /// repeats them (used only when both sets are written as CSV).
    rendered: Rendered,
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
            rendered: Rendered::default(),
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
            rendered: Rendered::default(),
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

/// Most uni-flows whose rendered text [`Rendered`] keeps, and most bytes of that text (about
/// 50 MB together at the caps); beyond either it starts again empty.
const RENDERED_MAX_FLOWS: usize = 1 << 18;
const RENDERED_MAX_BYTES: usize = 1 << 25;

/// The text of CSV uni-flow rows, kept for the bi-flow rows that repeat their cells: a bi-flow
/// row has the forward uni-flow's key cells and the 8 float statistics of both uni-flows, so it
/// copies their text instead of rendering every float a second time.
///
/// A bi-flow row takes a uni-flow's text only when the key and the floats' bit patterns are the
/// ones that text was rendered from (the text is a function of those alone), so any row order,
/// a later flow of the same 5-tuple (timeout mode), or a flushed cache only costs the look-up:
/// the row is then rendered as before.
///
/// On the 1M bench file (71 k uni-flow, 36 k bi-flow rows) writing both sets was 357 M
/// instructions (uni-flow rows 190 M, bi-flow rows 167 M), now 295 M (240 M, 55 M).
#[derive(Default)]
struct Rendered {
    index: HashMap<KeyWords, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot>,
    text: Vec<u8>,
    /// Bi-flow rows written from kept text (tests check the copies are taken).
    #[cfg(test)]
    hits: usize,
}

/// One uni-flow row's text in [`Rendered::text`].
struct Slot {
    /// Bit patterns of the floats rendered ([`floats`]): `-0.0` and `0.0` render differently.
    floats: [u64; 8],
    start: u32,
    /// Length of the key cells (`ip_src,ip_dst,prt_src,prt_dst,proto`) at `start`.
    key_len: u16,
    /// Each float cell's start and end, from `start`.
    cells: [[u16; 2]; 8],
}

/// A uni-flow's float statistics, in the bi-flow set's column order (the uni-flow set's too,
/// with integer columns between the fifth and the sixth).
#[inline]
fn floats(s: &UniStats) -> [f64; 8] {
    [
        s.mean_iat,
        s.std_iat,
        s.min_iat,
        s.max_iat,
        s.mean_pkt_len,
        s.std_pkt_len,
        s.min_pkt_len,
        s.max_pkt_len,
    ]
}

#[inline]
fn float_bits(s: &UniStats) -> [u64; 8] {
    floats(s).map(f64::to_bits)
}

/// A 5-tuple as words, one to one (the address versions are in the last word).
#[derive(Clone, Copy, PartialEq, Eq)]
struct KeyWords([u64; 5]);

/// One `write_u64` a word: the array's `Hash` hashes a length and a byte slice, slower.
impl std::hash::Hash for KeyWords {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        for w in self.0 {
            h.write_u64(w);
        }
    }
}

impl KeyWords {
    #[inline]
    fn of(k: &FlowKey) -> Self {
        let words = |a: IpAddr| match a {
            IpAddr::V4(a) => ([0, u64::from(u32::from(a))], 0),
            IpAddr::V6(a) => {
                let a = u128::from(a);
                ([(a >> 64) as u64, a as u64], 1)
            }
        };
        let ((s, s6), (d, d6)) = (words(k.src), words(k.dst));
        KeyWords([
            s[0],
            s[1],
            d[0],
            d[1],
            u64::from(k.src_port)
                | u64::from(k.dst_port) << 16
                | u64::from(k.proto) << 32
                | s6 << 40
                | d6 << 41,
        ])
    }
}

/// Longest float cell (`-2.2250738585072014e-308`).
const FLOAT_MAX: usize = 24;
/// Width of the fixed-size copies of float cells.
const CELL_COPY: usize = 32;

impl Rendered {
    /// Keeps the text of a uni-flow row: `row` from its first key cell to the end of its last
    /// float cell, the key cells its first `key_len` bytes, the float cells at `cells`.
    fn keep(
        &mut self,
        key: &FlowKey,
        stats: &UniStats,
        row: &[u8],
        key_len: usize,
        cells: &[[usize; 2]; 8],
    ) {
        if self.slots.len() >= RENDERED_MAX_FLOWS || self.text.len() >= RENDERED_MAX_BYTES {
            self.index.clear();
            self.slots.clear();
            self.text.clear();
        }
        // A row is at most ~450 bytes (two IPv6 addresses, 20-digit counts, 24-byte floats):
        // the offsets fit in 16 bits.
        let end = cells[7][1];
        if end > row.len()
            || u16::try_from(end).is_err()
            || cells.iter().any(|&[a, b]| b.wrapping_sub(a) > FLOAT_MAX)
        {
            return;
        }
        if self.slots.is_empty() {
            // Past the first few hundred rehashes of a growing map.
            self.index.reserve(4096);
        }
        let start = self.text.len();
        self.text.extend_from_slice(&row[..end]);
        let i = self.slots.len();
        self.slots.push(Slot {
            floats: float_bits(stats),
            start: start as u32,
            key_len: key_len.min(end) as u16,
            cells: cells.map(|[a, b]| [a as u16, b as u16]),
        });
        self.index.insert(KeyWords::of(key), i as u32);
    }

    /// The slot of the uni-flow `key` if its text renders these statistics.
    #[inline]
    fn get(&self, key: &FlowKey, stats: &UniStats) -> Option<&Slot> {
        let &i = self.index.get(&KeyWords::of(key))?;
        let slot = self.slots.get(i as usize)?;
        (slot.floats == float_bits(stats)).then_some(slot)
    }

    /// The slots of a bi-flow's forward and backward statistics, when both are kept. A
    /// backward half whose floats are the forward's (a UDP flow without a reverse, a flow that
    /// is its own reverse) takes the forward text.
    #[inline]
    fn pair(&self, flow: &BiFlow) -> Option<(&Slot, &Slot)> {
        if self.slots.is_empty() {
            return None;
        }
        let fwd = self.get(&flow.key, &flow.fwd)?;
        let bwd = if fwd.floats == float_bits(&flow.bwd) {
            fwd
        } else {
            self.get(&flow.key.reverse(), &flow.bwd)?
        };
        Some((fwd, bwd))
    }

    /// Appends a slot's key cells to `line`.
    #[inline]
    fn push_key(&self, line: &mut Vec<u8>, slot: &Slot) {
        let start = slot.start as usize;
        push_bytes::<64>(line, &self.text, start, start + usize::from(slot.key_len));
    }

    /// Appends the 16 float cells of a bi-flow row (forward and backward interleaved, with the
    /// separators between them) to `line`: built in a local buffer, each cell one fixed-size
    /// copy, then one copy to `line`.
    #[inline]
    fn push_floats(&self, line: &mut Vec<u8>, fwd: &Slot, bwd: &Slot) {
        // Every kept cell is at most `FLOAT_MAX` bytes ([`Rendered::keep`]).
        let mut buf = [0u8; 16 * (FLOAT_MAX + 1) + CELL_COPY];
        let mut n = 0;
        for i in 0..8 {
            for slot in [fwd, bwd] {
                let start = slot.start as usize;
                let [a, b] = slot.cells[i];
                let (a, b) = (start + usize::from(a), start + usize::from(b));
                let len = b - a;
                match self
                    .text
                    .get(a..)
                    .and_then(|t| t.first_chunk::<CELL_COPY>())
                {
                    Some(chunk) => buf[n..n + CELL_COPY].copy_from_slice(chunk),
                    None => buf[n..n + len].copy_from_slice(&self.text[a..b]),
                }
                buf[n + len] = b',';
                n += len + 1;
            }
        }
        // Without the last separator.
        line.extend_from_slice(&buf[..n - 1]);
    }
}

/// Appends `text[a..b]`: when `text` has `W` bytes from `a` on, as a fixed-size copy and a cut
/// (inline moves, where a copy of variable length is a memcpy call).
#[inline(always)]
fn push_bytes<const W: usize>(line: &mut Vec<u8>, text: &[u8], a: usize, b: usize) {
    let len = b.saturating_sub(a);
    if len <= W {
        if let Some(chunk) = text.get(a..).and_then(|t| t.first_chunk::<W>()) {
            line.extend_from_slice(chunk);
            line.truncate(line.len() - (W - len));
            return;
        }
    }
    line.extend_from_slice(&text[a..b]);
}

/// A row's cells, written through a sink's cell calls ([`SinkCells`]) or appended to an open
/// CSV row ([`LineCells`]); the rows' layouts are written once, over this.
trait Cells {
    /// An address (text CSV never quotes).
    fn ip(&mut self, addr: IpAddr);
    fn uint(&mut self, v: u64);
    fn float(&mut self, v: f64);
    fn null(&mut self);
    /// The key cells are written (a mark for [`Rendered::keep`]).
    #[inline]
    fn key_written(&mut self) {}
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
    /// Where the row's first 8 float cells are in `line` (for [`Rendered::keep`]).
    floats: [[usize; 2]; 8],
    /// Float cells in the row so far.
    nfloats: usize,
    /// The end of the key cells in `line`.
    key_end: usize,
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
        let start = self.line.len();
        write_float_py(self.line, v);
        if let Some(at) = self.floats.get_mut(self.nfloats) {
            *at = [start, self.line.len()];
        }
        self.nfloats += 1;
    }
    #[inline]
    fn null(&mut self) {
        self.separator();
        self.line.extend_from_slice(self.absent.as_bytes());
    }
    #[inline]
    fn key_written(&mut self) {
        self.key_end = self.line.len();
    }
}

impl LineCells<'_> {
    #[inline]
    fn attack(&mut self, attack: Option<bool>) {
        match attack {
            Some(a) => self.uint(a.into()),
            None => self.null(),
        }
    }
}

/// Each octet's decimal digits (left-aligned) and their count in the last byte.
static OCTETS: [[u8; 4]; 256] = {
    let mut t = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let v = i as u8;
        let (h, d, o) = (b'0' + v / 100, b'0' + v / 10 % 10, b'0' + v % 10);
        t[i] = match v {
            0..10 => [o, 0, 0, 1],
            10..100 => [d, o, 0, 2],
            _ => [h, d, o, 3],
        };
        i += 1;
    }
    t
};

/// An address as `Display` writes it (dotted quad, RFC 5952), IPv4 without the formatter.
#[inline]
fn push_addr_bytes(line: &mut Vec<u8>, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => {
            // Each octet one table entry (4-byte copies) and a `.`; the text at most 15 bytes,
            // copied as 16 and cut: no division, no memcpy call (an IPv4 address was ~170
            // instructions, now ~40; 20 M of the 1M bench file's uni-flow rows).
            let mut buf = [0u8; 17];
            let mut n = 0;
            for octet in a.octets() {
                let [x, y, z, len] = OCTETS[usize::from(octet)];
                buf[n..n + 3].copy_from_slice(&[x, y, z]);
                n += usize::from(len);
                buf[n] = b'.';
                n += 1;
            }
            // The last octet's `.` is cut off.
            line.extend_from_slice(&buf[..16]);
            line.truncate(line.len() - 17 + n);
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
    cells.key_written();
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

/// A `biflow` row ([`biflow_cells`]) with its key and float cells copied from the forward and
/// backward uni-flows' rows ([`Rendered::pair`]).
fn biflow_text(
    cells: &mut LineCells<'_>,
    rendered: &Rendered,
    (fwd, bwd): (&Slot, &Slot),
    flow: &BiFlow,
    attack: Option<bool>,
) {
    let (f, b) = (&flow.fwd, &flow.bwd);
    cells.separator();
    rendered.push_key(cells.line, fwd);
    // The five key cells.
    cells.cells += 4;
    cells.uint(f.num_pkts);
    cells.uint(b.num_pkts);
    cells.separator();
    rendered.push_floats(cells.line, fwd, bwd);
    cells.cells += 15;
    for (x, y) in [
        (f.num_bytes, b.num_bytes),
        (f.num_psh_flags, b.num_psh_flags),
        (f.num_rst_flags, b.num_rst_flags),
        (f.num_urg_flags, b.num_urg_flags),
    ] {
        cells.uint(x);
        cells.uint(y);
    }
    cells.attack(attack);
}

/// Appends a row's cells to an open CSV row and records them.
#[inline]
fn append(row: CsvRow<'_>, write: impl FnOnce(&mut LineCells<'_>)) {
    let start = row.column();
    let mut cells = LineCells {
        line: &mut *row.line,
        absent: row.absent,
        cells: start,
        floats: [[0; 2]; 8],
        nfloats: 0,
        key_end: 0,
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
            if self.biflow.is_some() {
                // Kept for the bi-flow row (see `Rendered`).
                let rendered = &mut self.rendered;
                append(row, |cells| {
                    let start = cells.line.len() + usize::from(cells.cells > 0);
                    uniflow_cells(cells, flow, attack);
                    if cells.nfloats == 8 {
                        let key_len = cells.key_end.saturating_sub(start);
                        let at = cells
                            .floats
                            .map(|[a, b]| [a.saturating_sub(start), b.saturating_sub(start)]);
                        let row = cells.line.get(start..).unwrap_or_default();
                        rendered.keep(&flow.key, &flow.stats, row, key_len, &at);
                    }
                });
            } else {
                append(row, |cells| uniflow_cells(cells, flow, attack));
            }
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
            #[cfg(test)]
            {
                self.rendered.hits += usize::from(self.rendered.pair(flow).is_some());
            }
            if let Some(slots) = self.rendered.pair(flow) {
                let rendered = &self.rendered;
                // Copies of the uni-flow rows' cells (see `Rendered`).
                append(row, |cells| {
                    biflow_text(cells, rendered, slots, flow, attack)
                });
            } else {
                append(row, |cells| biflow_cells(cells, flow, attack));
            }
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

    /// Writes `flows` (in order) through a FlowRows with both sets as CSV (kept text copied
    /// into bi-flow rows) and through one seeing only cell calls (every cell rendered); returns
    /// both outputs, as (copies, rendered) for uniflow then biflow, and the copies made.
    fn both_ways(
        flows: &[Flow],
        labels: &Labeler,
        absent: &'static str,
    ) -> ([String; 2], [String; 2], usize) {
        let sink = |schema| CsvSink::new(Vec::new(), schema, absent).unwrap();
        let (mut uni, mut bi) = (sink(UNIFLOW_SCHEMA), sink(BIFLOW_SCHEMA));
        let mut uni_cells = CellsOnly(sink(UNIFLOW_SCHEMA));
        let mut bi_cells = CellsOnly(sink(BIFLOW_SCHEMA));
        let hits;
        {
            let mut direct = FlowRows::new(Some(&mut uni), Some(&mut bi), labels);
            let mut by_cell = FlowRows::new(Some(&mut uni_cells), Some(&mut bi_cells), labels);
            for flow in flows {
                for rows in [&mut direct as &mut dyn FlowSink, &mut by_cell] {
                    match flow {
                        Flow::Uni(u) => rows.uniflow(u),
                        Flow::Bi(b) => rows.biflow(b),
                    }
                }
            }
            assert!(direct.take_error().is_none() && by_cell.take_error().is_none());
            hits = direct.rendered.hits;
        }
        let text = |sink: CsvSink<Vec<u8>>| String::from_utf8(sink.finish().unwrap()).unwrap();
        (
            [text(uni), text(bi)],
            [text(uni_cells.0), text(bi_cells.0)],
            hits,
        )
    }

    enum Flow {
        Uni(UniFlow),
        Bi(BiFlow),
    }

    fn assert_same(copied: &[String; 2], rendered: &[String; 2], what: &str) {
        for (a, b) in copied.iter().zip(rendered) {
            for (x, y) in a.lines().zip(b.lines()) {
                assert_eq!(x, y, "{what}");
            }
            assert_eq!(a, b, "{what}");
        }
    }

    #[test]
    fn biflow_rows_from_kept_text_are_the_rendered_rows() {
        // Hostile cases: each bi-flow's halves are uni-flows written before it, or nearly
        // (one float's sign, one bit, one key field changed); the same 5-tuple again with other
        // statistics (a stale text); NaN, infinities, -0.0, subnormals, huge counts, IPv6; a
        // backward half copied from the forward one; a flow that is its own reverse; bi-flows
        // with no uni-flow before them.
        let base = random_flows(4000);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let special = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE / 3.0,
            -f64::MAX,
            -2.2250738585072014e-308,
            1e16,
            0.0001,
            0.00001234,
        ];
        let mut flows = Vec::new();
        for (i, (u, b)) in base.iter().enumerate() {
            let mut fwd = *u;
            if i % 7 == 0 {
                fwd.stats.std_iat = special[i % special.len()];
            }
            let mut bwd = UniFlow {
                key: fwd.key.reverse(),
                stats: b.bwd,
                ..fwd
            };
            if i % 11 == 0 {
                bwd.stats.max_pkt_len = special[(i / 11) % special.len()];
            }
            flows.push(Flow::Uni(fwd));
            if i % 5 != 4 {
                flows.push(Flow::Uni(bwd));
            }
            let mut bi = BiFlow {
                key: fwd.key,
                first_packet: fwd.first_packet,
                first_ts_ns: fwd.first_ts_ns,
                last_ts_ns: fwd.last_ts_ns,
                fwd: fwd.stats,
                bwd: bwd.stats,
                bwd_copied: false,
            };
            match next() % 10 {
                // A float of one half other than the one rendered: its sign, its last bit.
                0 => bi.fwd.mean_iat = -bi.fwd.mean_iat,
                1 => bi.bwd.min_iat = f64::from_bits(bi.bwd.min_iat.to_bits() ^ 1),
                // Another 5-tuple (the port one up).
                2 => bi.key.src_port = bi.key.src_port.wrapping_add(1),
                // The backward half copies the forward (UDP without a reverse).
                3 => {
                    bi.bwd = bi.fwd;
                    bi.bwd_copied = true;
                }
                // Integer columns are never from the text: change them all.
                4 => {
                    bi.fwd.num_pkts ^= next();
                    bi.bwd.num_bytes = u64::MAX;
                    bi.fwd.num_urg_flags = next();
                }
                _ => {}
            }
            flows.push(Flow::Bi(bi));
            if i % 13 == 0 {
                // The same 5-tuple again with other statistics: its old text must not be used.
                let mut again = fwd;
                again.stats.min_pkt_len += 1.0;
                flows.push(Flow::Bi(BiFlow {
                    fwd: again.stats,
                    ..bi
                }));
                flows.push(Flow::Uni(again));
                flows.push(Flow::Bi(BiFlow {
                    fwd: again.stats,
                    ..bi
                }));
            }
            if i % 17 == 0 {
                // Its own reverse.
                let mut own = fwd;
                own.key.dst = own.key.src;
                own.key.dst_port = own.key.src_port;
                flows.push(Flow::Uni(own));
                flows.push(Flow::Bi(BiFlow {
                    key: own.key,
                    fwd: own.stats,
                    bwd: own.stats,
                    ..bi
                }));
            }
        }
        let attacker = Labeler {
            attackers: vec![Net::parse("128.0.0.0/1").unwrap()],
            ..Labeler::default()
        };
        for (labels, absent) in [(Labeler::default(), "0"), (attacker, "")] {
            let (copied, rendered, hits) = both_ways(&flows, &labels, absent);
            assert_same(&copied, &rendered, "constructed flows");
            // Most bi-flows take the kept text; the changed ones do not.
            assert!(hits > 2000 && hits < 4000, "{hits}");
        }
    }

    #[test]
    fn kept_text_starts_again_when_full() {
        // More uni-flows than the cap: the bi-flows of the last ones still take kept text,
        // those of the first ones (flushed) are rendered again.
        let n = RENDERED_MAX_FLOWS + 1000;
        let mut flows = Vec::with_capacity(2 * n);
        let key = |i: usize| FlowKey {
            src: IpAddr::from((i as u32).to_be_bytes()),
            dst: "10.0.0.1".parse().unwrap(),
            src_port: 1,
            dst_port: 2,
            proto: 17,
        };
        for i in 0..n {
            let stats = UniStats {
                num_pkts: i as u64,
                mean_iat: i as f64 / 7.0,
                ..UniStats::default()
            };
            flows.push(Flow::Uni(UniFlow {
                key: key(i),
                first_packet: 0,
                first_ts_ns: 0,
                last_ts_ns: 0,
                stats,
            }));
        }
        for i in [0, 1, 500, n - 999, n - 1] {
            let Flow::Uni(u) = &flows[i] else { panic!() };
            let stats = u.stats;
            flows.push(Flow::Bi(BiFlow {
                key: key(i),
                first_packet: 0,
                first_ts_ns: 0,
                last_ts_ns: 0,
                fwd: stats,
                bwd: stats,
                bwd_copied: true,
            }));
        }
        let (copied, rendered, hits) = both_ways(&flows, &Labeler::default(), "");
        assert_same(&copied, &rendered, "past the cap");
        assert_eq!(hits, 2);
    }

    #[test]
    fn flow_rows_from_kept_text_on_the_shared_captures() {
        let Some(captures) = crate::sets::shared_captures() else {
            return;
        };
        let (mut rows, mut hits) = (0, 0);
        for (i, path) in captures.iter().enumerate() {
            // Capture mode, and timeout mode with a small table, in turn.
            let config = if i % 2 == 0 {
                mqtt_ids_flows::FlowConfig::default()
            } else {
                mqtt_ids_flows::FlowConfig {
                    mode: "2s,10s".parse().unwrap(),
                    max_flows: 3,
                }
            };
            let mut table = mqtt_ids_flows::FlowTable::new(config);
            let mut collect = Collect(Vec::new());
            let mut reader = mqtt_ids_capture::open(
                path.to_str().unwrap(),
                mqtt_ids_capture::ReaderOptions::default(),
            )
            .unwrap();
            while let Ok(Some(frame)) = reader.next_frame() {
                table.on_packet(&mqtt_ids_capture::decode(frame), &mut collect);
            }
            table.finish(&mut collect);
            let (copied, rendered, n) = both_ways(&collect.0, &Labeler::default(), "");
            assert_same(&copied, &rendered, &path.display().to_string());
            rows += copied[1].lines().count() - 1;
            hits += n;
        }
        // Nearly every bi-flow row (2,925 in the 47 captures) takes the uni-flows' text.
        assert!(rows > 2000 && hits * 10 > rows * 9, "{hits} of {rows}");
    }

    /// The flows a table emits, in order.
    struct Collect(Vec<Flow>);

    impl FlowSink for Collect {
        fn uniflow(&mut self, flow: &UniFlow) {
            self.0.push(Flow::Uni(*flow));
        }
        fn biflow(&mut self, flow: &BiFlow) {
            self.0.push(Flow::Bi(*flow));
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
