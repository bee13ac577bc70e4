//! The per-packet machinery of one pass, shared by `extract` ([`crate::extract::extract`]) and
//! online detection: the MQTT tracker feeding the per-packet sets (`packet`, `mqttset`) and the
//! connection state machine of `context` and `session` ([`ContextSet`]), and the flow table
//! feeding the flow sets. The caller reads and decodes packets and owns the sinks, so the same
//! rows reach a file or a classifier.

use std::io;

use mqtt_ids_capture::Packet;
use mqtt_ids_flows::{FlowConfig, FlowSink, FlowStats, FlowTable};
use mqtt_ids_mqtt::{FindingEvent, MessageEvent, Tracker, TrackerConfig, TrackerStats, Visitor};

use crate::label::Labeler;
use crate::sets::context::{ContextConfig, ContextSet, ContextStats, SessionOut};
use crate::sets::mqttset::{MqttsetSet, MqttsetStats};
use crate::sets::packet::PacketSet;
use crate::sets::FrameSet;
use crate::sink::RowSink;

/// Which parts of the machinery a pass runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassParts {
    /// `packet` rows.
    pub packet: bool,
    /// `mqttset` rows.
    pub mqttset: bool,
    /// The flow table (`uniflow`, `biflow` rows).
    pub flows: bool,
    /// The connection state machine (`context`, `session` rows).
    pub context: bool,
    /// The MQTT tracker even when no per-packet set needs it (for an observer's sake).
    pub mqtt: bool,
}

/// A [`Visitor`] that ignores everything (extract has no observer).
pub struct Ignore;

impl Visitor for Ignore {
    fn on_message(&mut self, _event: &MessageEvent<'_>) {}
}

/// Fans MQTT messages out to the per-packet sets and the observer.
struct Fanout<'a, V: Visitor> {
    packet: Option<&'a mut PacketSet>,
    mqttset: Option<&'a mut MqttsetSet>,
    context: Option<&'a mut ContextSet>,
    observer: &'a mut V,
}

impl<V: Visitor> Visitor for Fanout<'_, V> {
    fn on_message(&mut self, event: &MessageEvent<'_>) {
        if let Some(set) = self.packet.as_deref_mut() {
            set.on_message(event);
        }
        if let Some(set) = self.mqttset.as_deref_mut() {
            set.on_message(event);
        }
        if let Some(set) = self.context.as_deref_mut() {
            set.on_message(event);
        }
        self.observer.on_message(event);
    }

    fn on_finding(&mut self, event: &FindingEvent) {
        if let Some(set) = self.context.as_deref_mut() {
            set.on_finding(event);
        }
        self.observer.on_finding(event);
    }
}

/// Counters of a finished pass.
#[derive(Clone, Copy, Debug, Default)]
pub struct PassStats {
    /// MQTT tracker counters (zero when it did not run).
    pub mqtt: TrackerStats,
    /// Flow table counters (zero when it did not run).
    pub flows: FlowStats,
    /// The mqttset set's counters, when it ran.
    pub mqttset: Option<MqttsetStats>,
    /// The context/session state machine's counters, when it ran.
    pub context: Option<ContextStats>,
}

/// The state of one pass over packets.
pub struct Pass {
    tracker: Option<Tracker>,
    packet: Option<PacketSet>,
    mqttset: Option<MqttsetSet>,
    context: Option<ContextSet>,
    flows: Option<FlowTable>,
    last_number: u64,
    last_ts: i64,
}

impl Pass {
    /// A pass running `parts`, with the tracker and flow table configured as `tracker` and
    /// `flows` say (the connection state machine takes the tracker's MQTT ports and its own
    /// defaults: [`ContextConfig`]).
    pub fn new(tracker: &TrackerConfig, flows: FlowConfig, parts: PassParts) -> Pass {
        let needs_mqtt = parts.packet || parts.mqttset || parts.context || parts.mqtt;
        Pass {
            tracker: needs_mqtt.then(|| Tracker::new(tracker.clone())),
            packet: parts.packet.then(PacketSet::new),
            mqttset: parts.mqttset.then(MqttsetSet::new),
            context: parts.context.then(|| {
                ContextSet::new(ContextConfig {
                    mqtt_ports: tracker.ports.clone(),
                    ..ContextConfig::default()
                })
            }),
            flows: parts.flows.then(|| FlowTable::new(flows)),
            last_number: 0,
            last_ts: 0,
        }
    }

    /// The flow table, when the pass runs one.
    pub fn flow_table(&mut self) -> Option<&mut FlowTable> {
        self.flows.as_mut()
    }

    /// The connection state machine of `context` and `session`, when the pass runs it.
    pub fn context_set(&mut self) -> Option<&mut ContextSet> {
        self.context.as_mut()
    }

    /// One decoded packet: MQTT messages and findings to the per-packet sets, the connection
    /// state machine and `observer`, then the packet's `packet`, `mqttset` and `context` rows
    /// (with the `session` rows of connections that ended or reached an update interval), then
    /// the flow table (ended flows to `flow_out`). Returns whether the tracker took the packet as
    /// MQTT. Errors are the sinks'.
    pub fn on_packet<P: RowSink, M: RowSink, C: RowSink, S: RowSink, F: FlowSink, V: Visitor>(
        &mut self,
        packet: &Packet<'_>,
        labels: &Labeler,
        out: FrameOuts<'_, P, M, C, S>,
        flow_out: &mut F,
        observer: &mut V,
    ) -> io::Result<bool> {
        (self.last_number, self.last_ts) = (packet.frame.number, packet.frame.ts_ns);
        let mut mqtt = false;
        if let Some(tracker) = self.tracker.as_mut() {
            let mut fanout = Fanout {
                packet: self.packet.as_mut(),
                mqttset: self.mqttset.as_mut(),
                context: self.context.as_mut(),
                observer,
            };
            mqtt = tracker.on_packet(packet, &mut fanout);
            if let Some(set) = self.packet.as_mut() {
                match out.packet {
                    Some(out) => set.end_packet(packet, mqtt, labels, out)?,
                    None => set.end_packet(packet, mqtt, labels, &mut Discard)?,
                }
            }
            if let Some(set) = self.mqttset.as_mut() {
                match out.mqttset {
                    Some(out) => set.end_packet(packet, mqtt, labels, out)?,
                    None => set.end_packet(packet, mqtt, labels, &mut Discard)?,
                }
            }
            if let Some(set) = self.context.as_mut() {
                let mut session = SessionOut {
                    sink: out.session,
                    labels,
                };
                set.end_packet(packet, mqtt, labels, out.context, &mut session)?;
            }
        }
        if let Some(table) = self.flows.as_mut() {
            table.on_packet(packet, flow_out);
        }
        Ok(mqtt)
    }

    /// Moves the packet clock of the flow table and the connection state machine to `now_ns`
    /// (a live reader's timer when no packet comes): flows past their timeouts end into
    /// `flow_out`; connections past theirs, or due an update, write `session` rows to
    /// `session_out`. Errors are the session sink's.
    pub fn advance<F: FlowSink, S: RowSink>(
        &mut self,
        now_ns: i64,
        flow_out: &mut F,
        session_out: Option<&mut S>,
        labels: &Labeler,
    ) -> io::Result<()> {
        if let Some(table) = self.flows.as_mut() {
            table.advance(now_ns, flow_out);
        }
        if let Some(set) = self.context.as_mut() {
            let mut session = SessionOut {
                sink: session_out,
                labels,
            };
            set.advance(now_ns, &mut session)?;
        }
        Ok(())
    }

    /// Ends the pass: open MQTT connections are finished (their last messages and findings go
    /// to `observer` only: they have no packet of their own left), held flows go to `flow_out`,
    /// connections still held write their final `session` rows to `session_out`. Errors are the
    /// session sink's.
    pub fn finish<F: FlowSink, S: RowSink, V: Visitor>(
        &mut self,
        flow_out: &mut F,
        session_out: Option<&mut S>,
        labels: &Labeler,
        observer: &mut V,
    ) -> io::Result<PassStats> {
        let mut stats = PassStats {
            mqttset: self.mqttset.as_ref().map(MqttsetSet::stats),
            ..PassStats::default()
        };
        if let Some(tracker) = self.tracker.as_mut() {
            tracker.finish(self.last_number, self.last_ts, observer);
            stats.mqtt = tracker.stats();
        }
        if let Some(table) = self.flows.as_mut() {
            table.finish(flow_out);
            stats.flows = table.stats();
        }
        if let Some(set) = self.context.as_mut() {
            let mut session = SessionOut {
                sink: session_out,
                labels,
            };
            set.finish(&mut session)?;
            stats.context = Some(set.stats());
        }
        Ok(stats)
    }

    /// Counters so far (the flow table's and the tracker's as they stand; a live reader's
    /// periodic report).
    pub fn stats(&self) -> PassStats {
        PassStats {
            mqtt: self
                .tracker
                .as_ref()
                .map(Tracker::stats)
                .unwrap_or_default(),
            flows: self
                .flows
                .as_ref()
                .map(FlowTable::stats)
                .unwrap_or_default(),
            mqttset: self.mqttset.as_ref().map(MqttsetSet::stats),
            context: self.context.as_ref().map(ContextSet::stats),
        }
    }
}

/// The per-packet outputs of [`Pass::on_packet`]; `None` for sets whose rows nobody wants (a set
/// the pass runs still keeps its state).
pub struct FrameOuts<'a, P, M, C, S> {
    /// `packet` rows.
    pub packet: Option<&'a mut P>,
    /// `mqttset` rows.
    pub mqttset: Option<&'a mut M>,
    /// `context` rows.
    pub context: Option<&'a mut C>,
    /// `session` rows written while the packet is handled (connections that ended or reached
    /// an update interval).
    pub session: Option<&'a mut S>,
}

/// A sink that drops rows (a set whose rows nobody asked for still runs for its state).
struct Discard;

impl RowSink for Discard {
    fn null(&mut self) {}
    fn nulls(&mut self, _n: usize) {}
    fn uint(&mut self, _v: u64) {}
    fn int(&mut self, _v: i64) {}
    fn float(&mut self, _v: f64) {}
    fn str(&mut self, _v: &str) {}
    fn bytes(&mut self, _v: &[u8]) {}
    fn end_row(&mut self) -> io::Result<()> {
        Ok(())
    }
}
