//! The one pass: read → decode → MQTT tracker and flow table → rows of every requested set.
//!
//! Input faults stop the pass where they are and are reported; everything before them is
//! processed and every output is completed (flows held open are written at the end). Output
//! faults (disk full, closed pipe) end the pass with an error.

use std::io::{self, Write};

use mqtt_ids_capture::{self as capture, AnyReader, LinkType, ReadError};
use mqtt_ids_flows::{FlowConfig, FlowStats};
use mqtt_ids_mqtt::{TrackerConfig, TrackerStats};

use crate::label::Labeler;
#[cfg(feature = "parquet")]
use crate::parquet::ParquetSink;
use crate::pass::{FrameOuts, Ignore, Pass, PassParts};
use crate::sets::context::ContextStats;
use crate::sets::flows::FlowRows;
use crate::sets::mqttset::MqttsetStats;
use crate::sink::{CsvSink, RowSink};
use crate::SetKind;

/// Options shaping the rows.
#[derive(Clone, Debug, Default)]
pub struct ExtractOptions {
    /// How TCP connections are recognised as MQTT.
    pub tracker: TrackerConfig,
    /// Flow definition and caps.
    pub flows: FlowConfig,
    /// Labels.
    pub labels: Labeler,
    /// `session` rows also every this long (packet time) while a connection lasts, as online
    /// detection scores them; `None`: one row per connection, at its end.
    pub session_update_ns: Option<i64>,
}

/// One output: CSV to any writer, or Parquet to a file.
pub enum Output {
    /// CSV.
    Csv(CsvSink<Box<dyn Write + Send>>),
    /// Parquet.
    #[cfg(feature = "parquet")]
    Parquet(Box<ParquetSink>),
}

impl Output {
    /// Rows written.
    pub fn rows(&self) -> u64 {
        match self {
            Output::Csv(s) => s.rows(),
            #[cfg(feature = "parquet")]
            Output::Parquet(s) => s.rows(),
        }
    }

    /// Completes the output (flush; Parquet footer).
    pub fn finish(self) -> io::Result<()> {
        match self {
            Output::Csv(s) => s.finish().map(|_| ()),
            #[cfg(feature = "parquet")]
            Output::Parquet(s) => s.finish(),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Output::Csv($s) => $e,
            #[cfg(feature = "parquet")]
            Output::Parquet($s) => $e,
        }
    };
}

impl RowSink for Output {
    fn null(&mut self) {
        delegate!(self, s => s.null())
    }
    fn nulls(&mut self, n: usize) {
        delegate!(self, s => s.nulls(n))
    }
    fn uints(&mut self, vs: &[u64]) {
        delegate!(self, s => s.uints(vs))
    }
    fn uint(&mut self, v: u64) {
        delegate!(self, s => s.uint(v))
    }
    fn int(&mut self, v: i64) {
        delegate!(self, s => s.int(v))
    }
    fn float(&mut self, v: f64) {
        delegate!(self, s => s.float(v))
    }
    fn str(&mut self, v: &str) {
        delegate!(self, s => s.str(v))
    }
    fn bytes(&mut self, v: &[u8]) {
        delegate!(self, s => s.bytes(v))
    }
    fn end_row(&mut self) -> io::Result<()> {
        delegate!(self, s => s.end_row())
    }
}

/// The outputs of one pass; `None` for sets not requested.
#[derive(Default)]
pub struct Outputs {
    /// `packet` rows.
    pub packet: Option<Output>,
    /// `uniflow` rows.
    pub uniflow: Option<Output>,
    /// `biflow` rows.
    pub biflow: Option<Output>,
    /// `mqttset` rows.
    pub mqttset: Option<Output>,
    /// `context` rows.
    pub context: Option<Output>,
    /// `session` rows.
    pub session: Option<Output>,
}

impl Outputs {
    /// The output slot of `set`.
    pub fn slot(&mut self, set: SetKind) -> &mut Option<Output> {
        match set {
            SetKind::Packet => &mut self.packet,
            SetKind::Uniflow => &mut self.uniflow,
            SetKind::Biflow => &mut self.biflow,
            SetKind::Mqttset => &mut self.mqttset,
            SetKind::Context => &mut self.context,
            SetKind::Session => &mut self.session,
        }
    }
}

/// What one pass saw.
#[derive(Debug, Default)]
pub struct ExtractReport {
    /// Packets read.
    pub packets: u64,
    /// Input bytes consumed.
    pub bytes_read: u64,
    /// The fault that stopped reading, if any (everything before it was processed).
    pub input_error: Option<ReadError>,
    /// Link types met that cannot be decoded, with the first packet of each.
    pub unsupported_link_types: Vec<(LinkType, u64)>,
    /// MQTT tracker counters (zero when no set needs MQTT).
    pub mqtt: TrackerStats,
    /// Flow table counters (zero when no flow set was requested).
    pub flows: FlowStats,
    /// The mqttset set's counters (conversations, evictions), when it was requested.
    pub mqttset: Option<MqttsetStats>,
    /// The context/session state machine's counters, when either set was requested.
    pub context: Option<ContextStats>,
}

/// The sinks of one pass, all of one type.
struct Sinks<'a, S> {
    packet: Option<&'a mut S>,
    uniflow: Option<&'a mut S>,
    biflow: Option<&'a mut S>,
    mqttset: Option<&'a mut S>,
    context: Option<&'a mut S>,
    session: Option<&'a mut S>,
}

/// The CSV writer every output is when no Parquet was asked for.
type Csv = CsvSink<Box<dyn Write + Send>>;

/// Runs one pass over `reader`, writing every requested set to `outputs`. `progress` is called
/// now and then with the input bytes consumed so far.
pub fn extract(
    reader: &mut AnyReader,
    options: &ExtractOptions,
    outputs: &mut Outputs,
    progress: &mut dyn FnMut(u64),
) -> io::Result<ExtractReport> {
    let all_csv = SetKind::ALL
        .into_iter()
        .all(|set| matches!(outputs.slot(set), None | Some(Output::Csv(_))));
    if all_csv {
        // All CSV (the usual case): the sets write straight into `CsvSink`, whose calls then
        // inline into them, instead of through `Output`'s match per cell.
        fn csv(output: &mut Option<Output>) -> Option<&mut Csv> {
            match output.as_mut()? {
                Output::Csv(s) => Some(s),
                #[cfg(feature = "parquet")]
                Output::Parquet(_) => None,
            }
        }
        let sinks = Sinks {
            packet: csv(&mut outputs.packet),
            uniflow: csv(&mut outputs.uniflow),
            biflow: csv(&mut outputs.biflow),
            mqttset: csv(&mut outputs.mqttset),
            context: csv(&mut outputs.context),
            session: csv(&mut outputs.session),
        };
        return run(reader, options, sinks, progress);
    }
    let sinks = Sinks {
        packet: outputs.packet.as_mut(),
        uniflow: outputs.uniflow.as_mut(),
        biflow: outputs.biflow.as_mut(),
        mqttset: outputs.mqttset.as_mut(),
        context: outputs.context.as_mut(),
        session: outputs.session.as_mut(),
    };
    run(reader, options, sinks, progress)
}

fn run<S: RowSink>(
    reader: &mut AnyReader,
    options: &ExtractOptions,
    mut sinks: Sinks<'_, S>,
    progress: &mut dyn FnMut(u64),
) -> io::Result<ExtractReport> {
    let mut report = ExtractReport::default();
    let parts = PassParts {
        packet: sinks.packet.is_some(),
        mqttset: sinks.mqttset.is_some(),
        flows: sinks.uniflow.is_some() || sinks.biflow.is_some(),
        // `context` and `session` share one state machine.
        context: sinks.context.is_some() || sinks.session.is_some(),
        mqtt: false,
    };
    let mut pass = Pass::new(&options.tracker, options.flows, parts);
    if let Some(set) = pass.context_set() {
        set.set_update_interval(options.session_update_ns);
    }
    let labels = &options.labels;
    // One row writer for the whole pass (it keeps a text buffer: nothing allocated per packet).
    let mut flow_rows = FlowRows::new(sinks.uniflow, sinks.biflow, labels);
    let mut last_progress = 0u64;
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                report.input_error = Some(e);
                break;
            }
        };
        if !frame.link_type.is_supported()
            && !report
                .unsupported_link_types
                .iter()
                .any(|(l, _)| *l == frame.link_type)
        {
            report
                .unsupported_link_types
                .push((frame.link_type, frame.number));
        }
        let packet = capture::decode(frame);
        report.packets += 1;
        let out = FrameOuts {
            packet: sinks.packet.as_deref_mut(),
            mqttset: sinks.mqttset.as_deref_mut(),
            context: sinks.context.as_deref_mut(),
            session: sinks.session.as_deref_mut(),
        };
        pass.on_packet(&packet, labels, out, &mut flow_rows, &mut Ignore)?;
        if let Some(e) = flow_rows.take_error() {
            return Err(e);
        }
        let read = reader.bytes_read();
        if read - last_progress >= 1 << 20 {
            last_progress = read;
            progress(read);
        }
    }
    report.bytes_read = reader.bytes_read();
    progress(report.bytes_read);
    let stats = pass.finish(
        &mut flow_rows,
        sinks.session.as_deref_mut(),
        labels,
        &mut Ignore,
    )?;
    if let Some(e) = flow_rows.take_error() {
        return Err(e);
    }
    report.mqtt = stats.mqtt;
    report.flows = stats.flows;
    report.mqttset = stats.mqttset;
    report.context = stats.context;
    Ok(report)
}
