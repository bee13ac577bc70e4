//! The detection engine: packets in (from a file or an interface, in capture order), alerts
//! out. The packet clock drives everything (flow timeouts, update intervals, rate limits), so a
//! capture replays as it ran live; a live reader also calls [`Engine::tick`] when no packet
//! comes, to end idle flows and score what is waiting.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use mqtt_ids_capture::{Packet, Transport};
use mqtt_ids_features::sets::flows::FlowRows;
use mqtt_ids_features::{FrameOuts, Labeler, Pass, PassParts, PassStats, SetKind};
use mqtt_ids_flows::{FlowConfig, FlowMode};
use mqtt_ids_learn::Matrix;
use mqtt_ids_mqtt::TrackerConfig;

use crate::alert::{AlertConfig, AlertCounts, AlertKind, AlertWriter};
use crate::memo::ScoreCache;
use crate::model::LoadedModel;
use crate::observer::Observer;
use crate::sink::{FlowOut, RowCtx, Rows, SetSink};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct DetectConfig {
    /// How TCP connections are recognised as MQTT.
    pub tracker: TrackerConfig,
    /// The online flow definition (timeouts) and the flow table's cap.
    pub flows: FlowConfig,
    /// Interim rows of flows still running, every this long (packet clock); `None`: only when
    /// flows end.
    pub update_ns: Option<i64>,
    /// Interim `session` rows of connections still open, every this long (packet clock);
    /// `None`: only when connections end.
    pub session_update_ns: Option<i64>,
    /// Rows scored together.
    pub batch_rows: usize,
    /// Rows waiting at most this long (wall clock) before they are scored, when the input is
    /// slower than a batch (live capture).
    pub max_delay: Duration,
    /// Alerts.
    pub alerts: AlertConfig,
    /// Rows whose class probabilities each model remembers ([`ScoreCache`]; 0: none).
    pub score_cache: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            tracker: TrackerConfig::default(),
            flows: FlowConfig {
                mode: FlowMode::Timeout {
                    idle_ns: 60_000_000_000,
                    active_ns: Some(300_000_000_000),
                },
                ..FlowConfig::default()
            },
            update_ns: Some(10_000_000_000),
            session_update_ns: Some(DEFAULT_SESSION_UPDATE_NS),
            batch_rows: 1024,
            max_delay: Duration::from_millis(50),
            alerts: AlertConfig::default(),
            score_cache: 1 << 16,
        }
    }
}

/// Default interval of interim `session` rows: 10 s of packet time (as flows' `update_ns`), so
/// a connection that stays open (SlowITe, a flood) is scored while it lasts. Every open
/// connection gets a row per interval, quiet ones too (their age grows): on the 1 M-packet
/// benchmark capture, where 11,017 connections (SlowITe's among them) stay open until the
/// 15-minute idle timeout, 1 s made 8.9 M session rows (docs/performance.md).
pub const DEFAULT_SESSION_UPDATE_NS: i64 = 10_000_000_000;

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Packets seen.
    pub packets: u64,
    /// Rows scored, per model (in the order given).
    pub rows_scored: Vec<(String, u64)>,
    /// Rows classified as an attack with enough probability, per model (before the rate limit).
    pub detections: Vec<(String, u64)>,
    /// Alerts.
    pub alerts: AlertCounts,
    /// Cells a model's encoding refused (the missing value was used).
    pub refused_cells: u64,
    /// Findings that could not be tied to a packet (end of input) or overflowed.
    pub unattributed_findings: u64,
    /// Tracker, flow table, mqttset and context/session counters (the caps' drops among them).
    pub pass: PassStats,
    /// Per model: rows answered by the score cache, rows computed, times the cache was full.
    pub score_cache: Vec<(String, u64, u64, u64)>,
}

/// The streaming detector.
pub struct Engine<W: Write> {
    models: Vec<LoadedModel>,
    pass: Pass,
    packet: Option<SetSink>,
    uniflow: Option<SetSink>,
    biflow: Option<SetSink>,
    mqttset: Option<SetSink>,
    context: Option<SetSink>,
    session: Option<SetSink>,
    observer: Observer,
    alerts: AlertWriter<W>,
    labels: Labeler,
    text: String,
    batch_rows: usize,
    max_delay: Duration,
    oldest_pending: Option<Instant>,
    packets: u64,
    detections: Vec<u64>,
    finished_pass: Option<PassStats>,
    tap: Option<Tap>,
    caches: Vec<ScoreCache>,
}

/// Sees every scored row: model index, row context, the record, the class probabilities.
pub type Tap = Box<dyn FnMut(usize, &RowCtx, &[f32], &[f32])>;

impl<W: Write> Engine<W> {
    /// An engine running `models` (any number, any mix of feature sets), alerts to `out`.
    pub fn new(models: Vec<LoadedModel>, config: DetectConfig, out: W) -> Result<Self, String> {
        if models.is_empty() {
            return Err("no model given".into());
        }
        let of = |set: SetKind| -> Vec<usize> {
            (0..models.len())
                .filter(|&i| models[i].set == set)
                .collect()
        };
        let sink = |set: SetKind| {
            let which = of(set);
            (!which.is_empty()).then(|| SetSink::new(&models, &which, config.batch_rows))
        };
        let (packet, uniflow, biflow, mqttset, context, session) = (
            sink(SetKind::Packet),
            sink(SetKind::Uniflow),
            sink(SetKind::Biflow),
            sink(SetKind::Mqttset),
            sink(SetKind::Context),
            sink(SetKind::Session),
        );
        let parts = PassParts {
            packet: packet.is_some(),
            mqttset: mqttset.is_some(),
            flows: uniflow.is_some() || biflow.is_some(),
            context: context.is_some() || session.is_some(),
            mqtt: true,
        };
        let mut pass = Pass::new(&config.tracker, config.flows, parts);
        if let Some(table) = pass.flow_table() {
            table.set_update_interval(config.update_ns);
        }
        if let Some(set) = pass.context_set() {
            // Interim rows only for session models (context models read the state per packet).
            set.set_update_interval(config.session_update_ns.filter(|_| session.is_some()));
        }
        let n = models.len();
        let caches = models
            .iter()
            .map(|m| {
                ScoreCache::new(
                    &m.file.model,
                    m.file.feature_names.len(),
                    config.score_cache,
                )
            })
            .collect();
        Ok(Engine {
            caches,
            observer: Observer::new(&config.alerts.findings),
            alerts: AlertWriter::new(out, config.alerts),
            models,
            pass,
            packet,
            uniflow,
            biflow,
            mqttset,
            context,
            session,
            labels: Labeler::default(),
            text: String::with_capacity(64),
            batch_rows: config.batch_rows.max(1),
            max_delay: config.max_delay,
            oldest_pending: None,
            packets: 0,
            detections: vec![0; n],
            finished_pass: None,
            tap: None,
        })
    }

    /// Shows every scored row to `tap` (tests, debugging: the records the models saw).
    pub fn set_tap(&mut self, tap: Tap) {
        self.tap = Some(tap);
    }

    /// The models.
    pub fn models(&self) -> &[LoadedModel] {
        &self.models
    }

    /// Alerts so far.
    pub fn alert_counts(&self) -> AlertCounts {
        self.alerts.counts()
    }

    /// Packets so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// One decoded packet.
    pub fn on_packet(&mut self, packet: &Packet<'_>) -> io::Result<()> {
        self.packets += 1;
        let ctx = packet_ctx(packet);
        self.observer.current = Some(ctx);
        let models = &self.models[..];
        if let Some(s) = self.packet.as_mut() {
            s.ctx = ctx;
        }
        if let Some(s) = self.mqttset.as_mut() {
            s.ctx = ctx;
        }
        if let Some(s) = self.context.as_mut() {
            s.ctx = ctx;
        }
        let mut packet_rows = self.packet.as_mut().map(|sink| Rows { sink, models });
        let mut mqttset_rows = self.mqttset.as_mut().map(|sink| Rows { sink, models });
        let mut context_rows = self.context.as_mut().map(|sink| Rows { sink, models });
        let mut session_rows = self.session.as_mut().map(|sink| Rows { sink, models });
        let mut uni_rows = self.uniflow.as_mut().map(|sink| Rows { sink, models });
        let mut bi_rows = self.biflow.as_mut().map(|sink| Rows { sink, models });
        let mut flow_out = FlowOut {
            rows: FlowRows::with_buffer(
                uni_rows.as_mut(),
                bi_rows.as_mut(),
                &self.labels,
                std::mem::take(&mut self.text),
            ),
        };
        let out = FrameOuts {
            packet: packet_rows.as_mut(),
            mqttset: mqttset_rows.as_mut(),
            context: context_rows.as_mut(),
            session: session_rows.as_mut(),
        };
        let result =
            self.pass
                .on_packet(packet, &self.labels, out, &mut flow_out, &mut self.observer);
        self.text = flow_out.rows.into_buffer();
        self.observer.current = None;
        result?;
        self.after_input(ctx.ts_ns)
    }

    /// Moves the packet clock to `now_ns` without a packet (live capture, quiet interface):
    /// flows idle or active past their timeouts end and are scored, connections due a
    /// `session` row (ended, or at their update interval) are scored, and rows waiting longer
    /// than the maximum delay are scored.
    pub fn tick(&mut self, now_ns: i64) -> io::Result<()> {
        let models = &self.models[..];
        let mut uni_rows = self.uniflow.as_mut().map(|sink| Rows { sink, models });
        let mut bi_rows = self.biflow.as_mut().map(|sink| Rows { sink, models });
        let mut session_rows = self.session.as_mut().map(|sink| Rows { sink, models });
        let mut flow_out = FlowOut {
            rows: FlowRows::with_buffer(
                uni_rows.as_mut(),
                bi_rows.as_mut(),
                &self.labels,
                std::mem::take(&mut self.text),
            ),
        };
        let result = self
            .pass
            .advance(now_ns, &mut flow_out, session_rows.as_mut(), &self.labels);
        self.text = flow_out.rows.into_buffer();
        result?;
        self.after_input(now_ns)?;
        if self
            .oldest_pending
            .is_some_and(|t| t.elapsed() >= self.max_delay)
        {
            self.score_all()?;
        }
        Ok(())
    }

    /// Flushes the alert output (live capture: alerts reach their reader as they are written).
    pub fn flush_output(&mut self) -> io::Result<()> {
        self.alerts.flush()
    }

    /// Scores every waiting row now and flushes the alert output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.score_all()?;
        self.alerts.flush()
    }

    /// Ends the input: open connections and flows are finished and scored; returns the
    /// summary and the alert output.
    pub fn finish(mut self) -> io::Result<(Summary, W)> {
        let models = &self.models[..];
        let mut uni_rows = self.uniflow.as_mut().map(|sink| Rows { sink, models });
        let mut bi_rows = self.biflow.as_mut().map(|sink| Rows { sink, models });
        let mut session_rows = self.session.as_mut().map(|sink| Rows { sink, models });
        let mut flow_out = FlowOut {
            rows: FlowRows::with_buffer(
                uni_rows.as_mut(),
                bi_rows.as_mut(),
                &self.labels,
                std::mem::take(&mut self.text),
            ),
        };
        let stats = self.pass.finish(
            &mut flow_out,
            session_rows.as_mut(),
            &self.labels,
            &mut self.observer,
        )?;
        drop(flow_out);
        self.finished_pass = Some(stats);
        self.score_all()?;
        self.alerts.flush()?;
        let summary = self.summary();
        Ok((summary, self.alerts.into_inner()))
    }

    /// Counters so far.
    pub fn summary(&self) -> Summary {
        let sinks = self.sinks();
        let mut scored = vec![0u64; self.models.len()];
        let mut refused = 0;
        for s in sinks.into_iter().flatten() {
            refused += s.refused;
            for b in &s.batches {
                scored[b.model] += b.scored;
            }
        }
        Summary {
            packets: self.packets,
            rows_scored: self
                .models
                .iter()
                .zip(&scored)
                .map(|(m, &n)| (m.name.clone(), n))
                .collect(),
            detections: self
                .models
                .iter()
                .zip(&self.detections)
                .map(|(m, &n)| (m.name.clone(), n))
                .collect(),
            alerts: self.alerts.counts(),
            refused_cells: refused,
            unattributed_findings: self.observer.unattributed_findings,
            pass: self.finished_pass.unwrap_or_else(|| self.pass.stats()),
            score_cache: self
                .models
                .iter()
                .zip(&self.caches)
                .map(|(m, c)| (m.name.clone(), c.hits, c.misses, c.clears))
                .collect(),
        }
    }

    /// Every set's sink (`None` where no model reads the set).
    fn sinks(&self) -> [&Option<SetSink>; 6] {
        [
            &self.packet,
            &self.uniflow,
            &self.biflow,
            &self.mqttset,
            &self.context,
            &self.session,
        ]
    }

    /// After a packet or a tick: finding alerts, then full batches.
    fn after_input(&mut self, _now_ns: i64) -> io::Result<()> {
        let pending = std::mem::take(&mut self.observer.pending);
        for &(kind, ctx) in &pending {
            let alert = AlertKind::Finding(kind);
            if let Some(suppressed) = self.alerts.admit(&ctx, &alert) {
                let conn = self.observer.conn(&ctx);
                self.alerts.write(&ctx, &alert, suppressed, conn)?;
            }
        }
        self.observer.pending = pending;
        self.observer.pending.clear();
        let waiting = self
            .sinks()
            .into_iter()
            .flatten()
            .map(SetSink::pending)
            .max()
            .unwrap_or(0);
        if waiting >= self.batch_rows {
            self.score_all()?;
        } else if waiting > 0 && self.oldest_pending.is_none() {
            self.oldest_pending = Some(Instant::now());
        }
        Ok(())
    }

    /// Scores every waiting row of every model.
    fn score_all(&mut self) -> io::Result<()> {
        self.oldest_pending = None;
        let Engine {
            models,
            packet,
            uniflow,
            biflow,
            mqttset,
            context,
            session,
            observer,
            alerts,
            detections,
            tap,
            caches,
            ..
        } = self;
        for sink in [packet, uniflow, biflow, mqttset, context, session]
            .into_iter()
            .flatten()
        {
            for batch in &mut sink.batches {
                let n = batch.ctx.len();
                if n == 0 {
                    continue;
                }
                let model = &models[batch.model];
                let records = Matrix::new(n, batch.n_features, std::mem::take(&mut batch.data))
                    .map_err(|e| io::Error::other(e.to_string()))?;
                let cache = &mut caches[batch.model];
                let proba = cache
                    .predict(&model.file.model, &records)
                    .map_err(io::Error::other)?;
                for (i, ctx) in batch.ctx.iter().enumerate() {
                    let p = proba.row(i);
                    if let Some(tap) = tap.as_mut() {
                        tap(batch.model, ctx, records.row(i), p);
                    }
                    let (class, &prob) = p
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .unwrap_or((0, &0.0));
                    if model.benign.get(class).copied().unwrap_or(true) || prob < model.threshold {
                        continue;
                    }
                    detections[batch.model] += 1;
                    let class_name = model.file.classes[class].as_str();
                    let probe = AlertKind::Model {
                        model: &model.name,
                        set: model.set.name(),
                        class: class_name,
                        probability: prob,
                        top: Vec::new(),
                    };
                    let Some(suppressed) = alerts.admit(ctx, &probe) else {
                        continue;
                    };
                    let top = model
                        .top_contributions(
                            records.row(i),
                            class,
                            alerts.config().top_features,
                            cache,
                        )
                        .into_iter()
                        .map(|(j, v, c)| (model.file.feature_names[j].as_str(), v, c))
                        .collect();
                    let alert = AlertKind::Model {
                        model: &model.name,
                        set: model.set.name(),
                        class: class_name,
                        probability: prob,
                        top,
                    };
                    alerts.write(ctx, &alert, suppressed, observer.conn(ctx))?;
                }
                batch.scored += n as u64;
                batch.data = records.into_vec();
                batch.data.clear();
                batch.ctx.clear();
            }
        }
        Ok(())
    }
}

/// The context of a packet row: its 5-tuple and time.
fn packet_ctx(packet: &Packet<'_>) -> RowCtx {
    let mut ctx = RowCtx {
        ts_ns: packet.frame.ts_ns,
        ..RowCtx::default()
    };
    if let Some(ip) = packet.ip {
        ctx.src = ip.src;
        ctx.dst = ip.dst;
        ctx.proto = ip.protocol;
    }
    match packet.transport {
        Transport::Tcp {
            src_port, dst_port, ..
        }
        | Transport::Udp {
            src_port, dst_port, ..
        } => {
            ctx.src_port = src_port;
            ctx.dst_port = dst_port;
        }
        _ => {}
    }
    ctx
}

/// Feeds every packet of `reader` to `engine`; `progress` gets the input bytes read now and
/// then. Returns the input fault that stopped reading, if any (everything before it was fed).
pub fn feed_reader<W: Write>(
    engine: &mut Engine<W>,
    reader: &mut mqtt_ids_capture::AnyReader,
    progress: &mut dyn FnMut(u64),
) -> io::Result<Option<mqtt_ids_capture::ReadError>> {
    let mut last = 0u64;
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => return Ok(Some(e)),
        };
        engine.on_packet(&mqtt_ids_capture::decode(frame))?;
        let read = reader.bytes_read();
        if read - last >= 1 << 20 {
            last = read;
            progress(read);
        }
    }
    progress(reader.bytes_read());
    Ok(None)
}
