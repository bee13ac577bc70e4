//! The one pass: read → decode → MQTT tracker and flow table → rows of every requested set.
//!
//! Input faults stop the pass where they are and are reported; everything before them is
//! processed and every output is completed (flows held open are written at the end). Output
//! faults (disk full, closed pipe) end the pass with an error.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

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
use crate::sink::{CsvSink, LineOut, RowSink};
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
    Csv(CsvSink<Box<dyn LineOut + Send>>),
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
    fn str_plain(&mut self, v: &str) {
        delegate!(self, s => s.str_plain(v))
    }
    fn bytes(&mut self, v: &[u8]) {
        delegate!(self, s => s.bytes(v))
    }
    fn end_row(&mut self) -> io::Result<()> {
        delegate!(self, s => s.end_row())
    }
    fn csv_row(&mut self) -> Option<crate::sink::CsvRow<'_>> {
        match self {
            Output::Csv(s) => s.csv_row(),
            #[cfg(feature = "parquet")]
            Output::Parquet(_) => None,
        }
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

/// Sets that share state and so always run in the same pass: the flow sets share the flow
/// table, `context` and `session` their state machine.
const UNITS: [&[SetKind]; 4] = [
    &[SetKind::Packet],
    &[SetKind::Mqttset],
    &[SetKind::Uniflow, SetKind::Biflow],
    &[SetKind::Context, SetKind::Session],
];

/// CPU cost per packet of one pass (reading and decoding), of the MQTT tracker in a pass that
/// needs it, and of each of [`UNITS`] on top, in nanoseconds: user + system time of `mqtt-ids
/// extract --set S` for each unit alone on `extract-mqttset-1m.pcapng` (`scripts/bench-extract.sh`
/// builds it), less the pass and tracker costs, one run each at load ~3 on 2026-11-21 (packet
/// 0.56 s, mqttset 0.49 s, uniflow,biflow 0.26 s, context,session 2.87 s for 1,004,608 packets).
/// Only their proportions matter.
const PASS_NS: u64 = 100;
const TRACKER_NS: u64 = 130;
const UNIT_NS: [u64; 4] = [330, 260, 160, 2640];

/// Whether a unit needs the MQTT tracker (everything but the flow sets).
fn unit_needs_tracker(unit: usize) -> bool {
    unit != 2
}

/// Cost of one pass running `units` (indices into [`UNITS`]).
fn units_cost(units: impl Iterator<Item = usize> + Clone) -> u64 {
    let tracker = units.clone().any(unit_needs_tracker);
    PASS_NS + if tracker { TRACKER_NS } else { 0 } + units.map(|u| UNIT_NS[u]).sum::<u64>()
}

/// The units (indices into [`UNITS`]) with a set in `sets`.
fn units_of(sets: &[SetKind]) -> impl Iterator<Item = usize> + Clone + '_ {
    (0..UNITS.len()).filter(|&u| UNITS[u].iter().any(|s| sets.contains(s)))
}

/// How the requested sets are split into at most `max_passes` passes over the same input, each
/// run on its own thread by [`extract_parallel`]: the split whose slowest pass is cheapest by
/// the measured costs above (each pass reads and decodes the input, and the passes that need
/// it track MQTT, on their own), fewer passes on a tie. Sets that share state stay together.
pub fn plan_passes(requested: &[SetKind], max_passes: usize) -> Vec<Vec<SetKind>> {
    let units: Vec<usize> = units_of(requested).collect();
    let passes = max_passes.clamp(1, units.len().max(1));
    // At most 4 units in at most 4 passes: every assignment is tried (≤ 256).
    let mut best: Option<(u64, usize, Vec<usize>)> = None;
    let combinations = passes.pow(units.len() as u32);
    for code in 0..combinations {
        let mut assign = Vec::with_capacity(units.len());
        let mut c = code;
        for _ in &units {
            assign.push(c % passes);
            c /= passes;
        }
        let used = (0..passes).filter(|p| assign.contains(p)).count();
        let slowest = (0..passes)
            .filter(|p| assign.contains(p))
            .map(|p| {
                let members = units.iter().zip(&assign).filter(move |(_, &a)| a == p);
                units_cost(members.map(|(&u, _)| u))
            })
            .max()
            .unwrap_or(0);
        if best
            .as_ref()
            .is_none_or(|(cost, n, _)| (slowest, used) < (*cost, *n))
        {
            best = Some((slowest, used, assign));
        }
    }
    let Some((_, _, assign)) = best else {
        return vec![requested.to_vec()];
    };
    let mut plan: Vec<Vec<SetKind>> = Vec::new();
    for p in 0..passes {
        let sets: Vec<SetKind> = SetKind::ALL
            .into_iter()
            .filter(|s| requested.contains(s))
            .filter(|s| {
                units
                    .iter()
                    .zip(&assign)
                    .any(|(&u, &a)| a == p && UNITS[u].contains(s))
            })
            .collect();
        if !sets.is_empty() {
            plan.push(sets);
        }
    }
    // The costliest pass first: it runs on the calling thread, beside the progress reports.
    plan.sort_by_key(|sets| std::cmp::Reverse(pass_cost(sets)));
    plan
}

fn pass_cost(sets: &[SetKind]) -> u64 {
    units_cost(units_of(sets))
}

/// Like [`extract`], but the requested sets are split into up to `threads` passes
/// ([`plan_passes`]) that run at once, each over its own reader of the same input: `reader`
/// for the first, `reopen()` for each further one (so the input must be a file that can be
/// opened again, not a pipe, and must not change while it is read). Every output holds exactly
/// the rows a single pass writes, since a set's rows depend only on the input; the passes repeat the reading and decoding (and the
/// MQTT tracking where two passes need it), so this spends more CPU time for less wall time.
/// When `threads` ≤ 1, one pass is enough, or `reopen` fails, this is [`extract`].
pub fn extract_parallel(
    reader: &mut AnyReader,
    reopen: &(dyn Fn() -> Result<AnyReader, ReadError> + Sync),
    threads: usize,
    options: &ExtractOptions,
    outputs: &mut Outputs,
    progress: &mut dyn FnMut(u64),
) -> io::Result<ExtractReport> {
    let requested: Vec<SetKind> = SetKind::ALL
        .into_iter()
        .filter(|&s| outputs.slot(s).is_some())
        .collect();
    let plan = plan_passes(&requested, threads);
    if plan.len() <= 1 {
        return extract(reader, options, outputs, progress);
    }
    let Ok(mut readers) = (1..plan.len())
        .map(|_| reopen())
        .collect::<Result<Vec<_>, _>>()
    else {
        return extract(reader, options, outputs, progress);
    };
    // Each pass gets its sets' outputs, and they go back in place afterwards.
    let mut pass_outputs: Vec<Outputs> = plan
        .iter()
        .map(|sets| {
            let mut o = Outputs::default();
            for &s in sets {
                *o.slot(s) = outputs.slot(s).take();
            }
            o
        })
        .collect();
    // Bytes consumed by each further pass, for progress: the slowest pass's position is shown.
    let positions: Vec<AtomicU64> = (1..plan.len()).map(|_| AtomicU64::new(0)).collect();
    let (first_outputs, more_outputs) = pass_outputs.split_at_mut(1);
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = readers
            .iter_mut()
            .zip(more_outputs.iter_mut())
            .zip(&positions)
            .map(|((r, o), position)| {
                scope.spawn(move || {
                    extract(r, options, o, &mut |bytes| {
                        position.store(bytes, Ordering::Relaxed)
                    })
                })
            })
            .collect();
        let first = extract(reader, options, &mut first_outputs[0], &mut |bytes| {
            let slowest = positions
                .iter()
                .map(|p| p.load(Ordering::Relaxed))
                .fold(bytes, u64::min);
            progress(slowest)
        });
        let mut results = vec![first];
        for h in handles {
            results.push(
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        results
    });
    for o in &mut pass_outputs {
        for s in SetKind::ALL {
            if let Some(output) = o.slot(s).take() {
                *outputs.slot(s) = Some(output);
            }
        }
    }
    let mut merged: Option<ExtractReport> = None;
    for (sets, result) in plan.iter().zip(results) {
        let report = result?;
        let tracker = units_of(sets).any(unit_needs_tracker);
        match merged.as_mut() {
            None => merged = Some(report),
            Some(m) => {
                // The same input: packets, bytes, faults and link types are the same in every
                // pass; each set's own counters come from the pass that ran it.
                if tracker {
                    m.mqtt = report.mqtt;
                }
                if sets.contains(&SetKind::Uniflow) || sets.contains(&SetKind::Biflow) {
                    m.flows = report.flows;
                }
                m.mqttset = m.mqttset.or(report.mqttset);
                m.context = m.context.or(report.context);
            }
        }
    }
    let report = merged.unwrap_or_default();
    progress(report.bytes_read);
    Ok(report)
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
type Csv = CsvSink<Box<dyn LineOut + Send>>;

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
