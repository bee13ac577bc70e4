//! Rows of a feature set into models' batches: a [`RowSink`] that reads each cell once, encodes
//! it for every model of the set ([`mqtt_ids_learn::RowEncoder`], the table reader's rules) and
//! keeps the row's context (which traffic it describes) beside it. Nothing is allocated per row
//! once the batches have grown to their size.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use mqtt_ids_features::sets::flows::FlowRows;
use mqtt_ids_features::{RowOrigin, RowSink};
use mqtt_ids_flows::{BiFlow, FlowKey, FlowSink, UniFlow};
use mqtt_ids_learn::{Cell, ColumnUse};

use crate::model::LoadedModel;

/// What a row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// One packet (`packet`, `mqttset`, `context`).
    Packet,
    /// A flow that ended (timeout, FIN/RST, eviction, end of input).
    FlowEnd,
    /// A flow still running, reported at its update interval.
    FlowUpdate,
    /// A connection that ended (`session`: RST, FIN from both sides, idle timeout, eviction,
    /// port reuse, end of input).
    SessionEnd,
    /// A connection still open, reported at its update interval (`session`).
    SessionUpdate,
}

impl RowKind {
    /// Name in alerts.
    pub fn name(self) -> &'static str {
        match self {
            RowKind::Packet => "packet",
            RowKind::FlowEnd => "flow_end",
            RowKind::FlowUpdate => "flow_update",
            RowKind::SessionEnd => "session_end",
            RowKind::SessionUpdate => "session_update",
        }
    }
}

/// The traffic a row describes: its 5-tuple (a flow's forward direction), the time of its
/// latest packet and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowCtx {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol (6, 17; 0 when the packet had none).
    pub proto: u8,
    /// Time of the latest packet the row covers (the decisive packet), ns.
    pub ts_ns: i64,
    /// Packet or flow row.
    pub kind: RowKind,
}

impl Default for RowCtx {
    fn default() -> Self {
        RowCtx {
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            src_port: 0,
            dst_port: 0,
            proto: 0,
            ts_ns: 0,
            kind: RowKind::Packet,
        }
    }
}

impl RowCtx {
    /// The context of a `session` row: client → server of a TCP connection.
    pub fn of_connection(origin: &RowOrigin) -> RowCtx {
        RowCtx {
            src: origin.client.0,
            dst: origin.server.0,
            src_port: origin.client.1,
            dst_port: origin.server.1,
            proto: 6,
            ts_ns: origin.ts_ns,
            kind: if origin.last {
                RowKind::SessionEnd
            } else {
                RowKind::SessionUpdate
            },
        }
    }

    /// The context of a flow row.
    pub fn of_flow(key: &FlowKey, last_ts_ns: i64, kind: RowKind) -> RowCtx {
        RowCtx {
            src: key.src,
            dst: key.dst,
            src_port: key.src_port,
            dst_port: key.dst_port,
            proto: key.proto,
            ts_ns: last_ts_ns,
            kind,
        }
    }
}

/// One model's pending rows.
pub(crate) struct Batch {
    /// Index of the model in the engine.
    pub model: usize,
    /// Row-major records (`n_features` each).
    pub data: Vec<f32>,
    pub ctx: Vec<RowCtx>,
    pub n_features: usize,
    /// Rows scored so far.
    pub scored: u64,
    /// Per column, how this model reads it (the fast paths of numbers and absent cells).
    uses: Vec<ColumnUse>,
    /// The model's value of an absent cell.
    missing: f32,
}

/// Rows of one feature set, for every model reading that set.
pub struct SetSink {
    pub(crate) batches: Vec<Batch>,
    /// Per column: some model reads it; some model needs its text.
    used: Vec<bool>,
    text: Vec<bool>,
    col: usize,
    /// The context of the rows being written (set by the engine before each packet or flow).
    pub ctx: RowCtx,
    hex: String,
    number: String,
    /// Cells that a model's encoding refused (text in a numeric column): the missing value was
    /// used.
    pub refused: u64,
}

impl SetSink {
    /// A sink for the models `models[i]` for `i` in `which` (all of one set).
    pub(crate) fn new(models: &[LoadedModel], which: &[usize], batch_rows: usize) -> SetSink {
        let n_cols = models[which[0]].encoder.n_columns();
        let used = (0..n_cols)
            .map(|j| which.iter().any(|&m| models[m].encoder.is_used(j)))
            .collect();
        let text = (0..n_cols)
            .map(|j| which.iter().any(|&m| models[m].encoder.wants_text(j)))
            .collect();
        let batches = which
            .iter()
            .map(|&m| {
                let encoder = &models[m].encoder;
                let d = encoder.n_features();
                Batch {
                    model: m,
                    data: Vec::with_capacity(batch_rows * d),
                    ctx: Vec::with_capacity(batch_rows),
                    n_features: d,
                    scored: 0,
                    uses: (0..n_cols).map(|j| encoder.column_use(j)).collect(),
                    missing: encoder.missing_value(),
                }
            })
            .collect();
        SetSink {
            batches,
            used,
            text,
            col: 0,
            ctx: RowCtx::default(),
            hex: String::with_capacity(256),
            number: String::with_capacity(32),
            refused: 0,
        }
    }

    /// Rows waiting in the fullest batch.
    pub(crate) fn pending(&self) -> usize {
        self.batches.iter().map(|b| b.ctx.len()).max().unwrap_or(0)
    }
}

/// A [`SetSink`] with the models whose encoders it applies, for the duration of one packet.
pub struct Rows<'s, 'm> {
    pub(crate) sink: &'s mut SetSink,
    pub(crate) models: &'m [LoadedModel],
}

impl Rows<'_, '_> {
    /// The next column; at the first, a fresh zeroed record in every batch (zero is also every
    /// one-hot indicator's "not set"). `None` when no model reads the column.
    #[inline]
    fn column(&mut self) -> Option<usize> {
        let j = self.sink.col;
        if j == 0 {
            for b in &mut self.sink.batches {
                let start = b.data.len();
                b.data.resize(start + b.n_features, 0.0);
            }
        }
        self.sink.col += 1;
        self.sink.used.get(j).copied().unwrap_or(false).then_some(j)
    }

    #[inline]
    fn put(&mut self, j: usize, cell: Cell<'_>) {
        for b in &mut self.sink.batches {
            let start = b.data.len() - b.n_features;
            let record = &mut b.data[start..];
            if self.models[b.model].encoder.put(j, cell, record).is_err() {
                self.sink.refused += 1;
            }
        }
    }

    #[inline]
    fn number(&mut self, v: f64) {
        let Some(j) = self.column() else {
            return;
        };
        if self.sink.text[j] {
            // A hashed or one-hot column reads a number as the text a CSV prints for it.
            use std::fmt::Write;
            let mut text = std::mem::take(&mut self.sink.number);
            text.clear();
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                let _ = write!(text, "{}", v as i64);
            } else {
                let _ = write!(text, "{v}");
            }
            self.put(j, Cell::Text(&text));
            self.sink.number = text;
        } else {
            // No model reads this column as text: a plain feature takes the number as the
            // table reader does (`number_of`: finite as f32, else the missing value).
            for b in &mut self.sink.batches {
                match b.uses.get(j) {
                    Some(ColumnUse::Plain(i)) => {
                        let start = b.data.len() - b.n_features;
                        b.data[start + i] = if v.is_finite() { v as f32 } else { b.missing };
                    }
                    Some(ColumnUse::Unused) | None => {}
                    Some(_) => {
                        let start = b.data.len() - b.n_features;
                        let record = &mut b.data[start..];
                        if self.models[b.model]
                            .encoder
                            .put(j, Cell::Number(v), record)
                            .is_err()
                        {
                            self.sink.refused += 1;
                        }
                    }
                }
            }
        }
    }
}

impl RowSink for Rows<'_, '_> {
    fn origin(&mut self, origin: &RowOrigin) {
        self.sink.ctx = RowCtx::of_connection(origin);
    }
    fn null(&mut self) {
        let Some(j) = self.column() else {
            return;
        };
        // An absent cell is the missing value in a plain or hashed feature (`number_of`,
        // `hash_of`); one-hot columns go through the encoder.
        for b in &mut self.sink.batches {
            match b.uses.get(j) {
                Some(ColumnUse::Plain(i) | ColumnUse::Hashed(i)) => {
                    let start = b.data.len() - b.n_features;
                    b.data[start + i] = b.missing;
                }
                Some(ColumnUse::Unused) | None => {}
                Some(ColumnUse::OneHot) => {
                    let start = b.data.len() - b.n_features;
                    let record = &mut b.data[start..];
                    let _ = self.models[b.model].encoder.put(j, Cell::Missing, record);
                }
            }
        }
    }
    fn uint(&mut self, v: u64) {
        self.number(v as f64);
    }
    fn int(&mut self, v: i64) {
        self.number(v as f64);
    }
    fn float(&mut self, v: f64) {
        self.number(v);
    }
    fn str(&mut self, v: &str) {
        if let Some(j) = self.column() {
            self.put(j, Cell::Text(v));
        }
    }
    fn bytes(&mut self, v: &[u8]) {
        let Some(j) = self.column() else {
            return;
        };
        // As the CSV prints bytes and the table reader reads Parquet bytes: lower-case hex,
        // `<MISSING>` when empty.
        let mut hex = std::mem::take(&mut self.sink.hex);
        hex.clear();
        if v.is_empty() {
            hex.push_str("<MISSING>");
        } else {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            for &b in v {
                hex.push(DIGITS[usize::from(b >> 4)] as char);
                hex.push(DIGITS[usize::from(b & 15)] as char);
            }
        }
        self.put(j, Cell::Text(&hex));
        self.sink.hex = hex;
    }
    fn end_row(&mut self) -> io::Result<()> {
        if self.sink.col == 0 {
            return Ok(());
        }
        self.sink.col = 0;
        let ctx = self.sink.ctx;
        for b in &mut self.sink.batches {
            b.ctx.push(ctx);
        }
        Ok(())
    }
}

/// Flow rows from the table to the flow sets' sinks, with each row's context.
pub(crate) struct FlowOut<'a, 's, 'm> {
    pub rows: FlowRows<'a, Rows<'s, 'm>, Rows<'s, 'm>>,
}

impl FlowOut<'_, '_, '_> {
    fn uni_ctx(&mut self, flow: &UniFlow, kind: RowKind) {
        if let Some(s) = self.rows.uniflow.as_deref_mut() {
            s.sink.ctx = RowCtx::of_flow(&flow.key, flow.last_ts_ns, kind);
        }
    }
    fn bi_ctx(&mut self, flow: &BiFlow, kind: RowKind) {
        if let Some(s) = self.rows.biflow.as_deref_mut() {
            s.sink.ctx = RowCtx::of_flow(&flow.key, flow.last_ts_ns, kind);
        }
    }
}

impl FlowSink for FlowOut<'_, '_, '_> {
    fn uniflow(&mut self, flow: &UniFlow) {
        self.uni_ctx(flow, RowKind::FlowEnd);
        self.rows.uniflow(flow);
    }
    fn biflow(&mut self, flow: &BiFlow) {
        self.bi_ctx(flow, RowKind::FlowEnd);
        self.rows.biflow(flow);
    }
    fn interim_uniflow(&mut self, flow: &UniFlow) {
        self.uni_ctx(flow, RowKind::FlowUpdate);
        self.rows.uniflow(flow);
    }
    fn interim_biflow(&mut self, flow: &BiFlow) {
        self.bi_ctx(flow, RowKind::FlowUpdate);
        self.rows.biflow(flow);
    }
}
